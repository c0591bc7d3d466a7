//! What the Slack adapter registers with Slack and what Slack must grant it,
//! in one place: the tables here are what the handlers dispatch on
//! (`events.rs`, `http.rs`) and what `itsm-bot slack manifest` prints, so
//! the app manifest cannot drift from the code.
//!
//! The manifest is JSON: Slack's "create from manifest" accepts JSON as well
//! as YAML, JSON is what its manifest API (`apps.manifest.create`) takes,
//! and `serde_json` is already in the tree where no maintained YAML
//! serializer is.

use serde_json::{json, Value};

/// A slash command the adapter registers.
#[derive(Debug, Clone, Copy)]
pub struct SlashCommand {
    /// The command as typed, with its slash.
    pub command: &'static str,
    /// What Slack shows beside it.
    pub description: &'static str,
    /// The argument hint Slack shows while typing.
    pub usage_hint: &'static str,
}

/// The slash commands: the SPEC's `/incident`, `/change`, `/problem`,
/// `/itsm`, `/request` (service requests) and `/kb`. A command Slack sends that is not here is refused.
pub const SLASH_COMMANDS: &[SlashCommand] = &[
    SlashCommand {
        command: "/incident",
        description: "Report or work an incident",
        usage_hint: "[title] [P1-P4] | INC-n ack",
    },
    SlashCommand {
        command: "/itsm",
        description: "Service desk queries and help",
        usage_hint: "help | open | mine",
    },
    SlashCommand {
        command: "/problem",
        description: "Problem management",
        usage_hint: "[title] | PRB-n show",
    },
    SlashCommand {
        command: "/change",
        description: "Change requests",
        usage_hint: "[title] | CHG-n show",
    },
    SlashCommand {
        command: "/request",
        description: "Ask for something from the service catalog",
        usage_hint: "[item field:value …] | REQ-n show",
    },
    SlashCommand {
        command: "/kb",
        description: "Knowledge base: articles and search",
        usage_hint: "search <words> | [title] | KB-n show",
    },
];

/// A message shortcut (the "⋯ → More message shortcuts" menu).
#[derive(Debug, Clone, Copy)]
pub struct MessageShortcut {
    /// The id Slack sends back with the interaction.
    pub callback_id: &'static str,
    /// The menu entry.
    pub name: &'static str,
    /// What Slack shows under it.
    pub description: &'static str,
}

/// The message shortcuts; an interaction for any other callback id is
/// ignored.
pub const MESSAGE_SHORTCUTS: &[MessageShortcut] = &[MessageShortcut {
    callback_id: "create_incident",
    name: "Create incident",
    description: "Report this message as an incident",
}];

/// The Events API events the adapter subscribes to and handles
/// (`SlackAdapter::on_push`), with the scope each needs: messages in public
/// and private channels (intake channels, thread replies) and reactions
/// (the create reaction).
pub const BOT_EVENTS: &[(&str, &str)] = &[
    ("message.channels", "channels:history"),
    ("message.groups", "groups:history"),
    ("reaction_added", "reactions:read"),
];

/// Every Slack Web API method the adapter calls, with the bot scope it
/// needs (`None`: no scope). A test reads the adapter's source for
/// `session.<method>(` calls and fails on one missing here, so a new call
/// cannot go out without its scope in the manifest.
///
/// `chat.postMessage` to a user id posts in the app's direct messages with
/// that user (the satisfaction survey), which needs `chat:write` only; the
/// bot never opens a conversation itself, so it asks for no `im:write`.
/// `apps.connections.open` (Socket Mode, and `check-config --connect`) is
/// called with the app-level token, whose scope `connections:write` is
/// granted when that token is made, not in the manifest.
pub const WEB_API_METHODS: &[(&str, Option<&str>)] = &[
    ("apps.connections.open", None),
    ("auth.test", None),
    ("chat.postMessage", Some("chat:write")),
    ("chat.update", Some("chat:write")),
    ("conversations.history", Some("channels:history")),
    ("conversations.history", Some("groups:history")),
    ("conversations.replies", Some("channels:history")),
    ("conversations.replies", Some("groups:history")),
    ("users.info", Some("users:read")),
    ("views.open", None),
    ("views.update", None),
];

/// The scope slash commands and shortcuts need.
const COMMANDS_SCOPE: &str = "commands";

/// The HTTP-mode routes (see `http.rs`), relative to the bot's public URL.
pub const COMMANDS_PATH: &str = "/slack/commands";
/// Interactivity (buttons, forms, shortcuts).
pub const INTERACTIONS_PATH: &str = "/slack/interactions";
/// The Events API.
pub const EVENTS_PATH: &str = "/slack/events";

/// Whether `command` (as Slack sends it, e.g. `/incident`) is registered.
pub fn is_registered_command(command: &str) -> bool {
    SLASH_COMMANDS.iter().any(|c| c.command == command.trim())
}

/// Whether the adapter subscribes to the Events API event `event` (e.g.
/// `reaction_added`, `message.channels`).
pub fn is_subscribed(event: &str) -> bool {
    BOT_EVENTS.iter().any(|(name, _)| *name == event)
}

/// Whether a message event from a conversation of `channel_type`
/// (`channel`, `group`, `im`, `mpim`) is one the manifest subscribes to.
/// A message without a channel type (Slack always sends one) is taken.
pub fn takes_message_from(channel_type: Option<&str>) -> bool {
    let Some(channel_type) = channel_type else {
        return true;
    };
    let event = match channel_type {
        "channel" => "message.channels",
        "group" => "message.groups",
        "im" => "message.im",
        "mpim" => "message.mpim",
        _ => return false,
    };
    is_subscribed(event)
}

/// Whether `callback_id` is a registered message shortcut.
pub fn is_registered_shortcut(callback_id: &str) -> bool {
    MESSAGE_SHORTCUTS
        .iter()
        .any(|s| s.callback_id == callback_id)
}

/// The bot scopes the manifest asks for: exactly what the commands, the
/// events and the Web API calls above need, sorted.
pub fn bot_scopes() -> Vec<&'static str> {
    let mut scopes: Vec<&'static str> = std::iter::once(COMMANDS_SCOPE)
        .chain(BOT_EVENTS.iter().map(|(_, scope)| *scope))
        .chain(WEB_API_METHODS.iter().filter_map(|(_, scope)| *scope))
        .collect();
    scopes.sort_unstable();
    scopes.dedup();
    scopes
}

/// Why `--http` was refused.
#[derive(Debug, thiserror::Error)]
#[error("`{url}` is not a public base URL ({why}); give the https address Slack reaches the bot at, e.g. https://itsm.example.org")]
pub struct ManifestUrlError {
    url: String,
    why: String,
}

/// The app manifest: Socket Mode when `http_base` is `None`, else HTTP mode
/// with every request URL under `http_base` (e.g. `https://itsm.example.org`).
pub fn manifest(http_base: Option<&str>) -> Result<Value, ManifestUrlError> {
    let base = http_base.map(base_url).transpose()?;
    let at = |path: &str| base.as_ref().map(|base| format!("{base}{path}"));
    let commands: Vec<Value> = SLASH_COMMANDS
        .iter()
        .map(|c| {
            let mut command = json!({
                "command": c.command,
                "description": c.description,
                "usage_hint": c.usage_hint,
                // Mentions arrive as <@U…> ids, which `assign @user` needs.
                "should_escape": true,
            });
            if let (Some(url), Some(map)) = (at(COMMANDS_PATH), command.as_object_mut()) {
                map.insert("url".into(), Value::String(url));
            }
            command
        })
        .collect();
    let shortcuts: Vec<Value> = MESSAGE_SHORTCUTS
        .iter()
        .map(|s| {
            json!({
                "name": s.name,
                "type": "message",
                "callback_id": s.callback_id,
                "description": s.description,
            })
        })
        .collect();
    let events: Vec<&str> = BOT_EVENTS.iter().map(|(event, _)| *event).collect();
    let mut event_subscriptions = json!({ "bot_events": events });
    let mut interactivity = json!({ "is_enabled": true });
    if let (Some(events_url), Some(interactions_url)) = (at(EVENTS_PATH), at(INTERACTIONS_PATH)) {
        if let Some(map) = event_subscriptions.as_object_mut() {
            map.insert("request_url".into(), Value::String(events_url));
        }
        if let Some(map) = interactivity.as_object_mut() {
            map.insert("request_url".into(), Value::String(interactions_url));
        }
    }
    Ok(json!({
        "_metadata": { "major_version": 1, "minor_version": 1 },
        "display_information": {
            "name": "itsm-bot",
            "description": "IT service management: incidents, problems and changes from chat",
        },
        "features": {
            "bot_user": { "display_name": "itsm-bot", "always_online": true },
            "slash_commands": commands,
            "shortcuts": shortcuts,
        },
        "oauth_config": { "scopes": { "bot": bot_scopes() } },
        "settings": {
            "event_subscriptions": event_subscriptions,
            "interactivity": interactivity,
            "org_deploy_enabled": false,
            "socket_mode_enabled": base.is_none(),
            "token_rotation_enabled": false,
        },
    }))
}

/// `url` as an absolute http(s) base without a trailing slash, query or
/// fragment.
fn base_url(url: &str) -> Result<String, ManifestUrlError> {
    let refuse = |why: &str| ManifestUrlError {
        url: url.to_string(),
        why: why.to_string(),
    };
    let parsed = url::Url::parse(url.trim()).map_err(|err| refuse(&err.to_string()))?;
    // Slack sends requests to https URLs only.
    if parsed.scheme() != "https" || parsed.host_str().is_none() {
        return Err(refuse(
            "Slack sends requests only to an https URL with a host",
        ));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(refuse("it must have no query or fragment"));
    }
    Ok(parsed.as_str().trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(value: &Value) -> Vec<String> {
        value
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn the_manifest_lists_what_the_adapter_registers_and_handles() {
        let manifest = manifest(None).unwrap();
        let commands: Vec<&str> = manifest["features"]["slash_commands"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["command"].as_str())
            .collect();
        // The SPEC's commands, each of which the engine's grammar takes.
        assert_eq!(
            commands,
            [
                "/incident",
                "/itsm",
                "/problem",
                "/change",
                "/request",
                "/kb"
            ]
        );
        for command in &commands {
            assert!(is_registered_command(command));
        }
        assert!(!is_registered_command("/other"));
        let events = strings(&manifest["settings"]["event_subscriptions"]["bot_events"]);
        assert_eq!(
            events,
            ["message.channels", "message.groups", "reaction_added"]
        );
        let scopes = strings(&manifest["oauth_config"]["scopes"]["bot"]);
        assert_eq!(
            scopes,
            [
                "channels:history",
                "chat:write",
                "commands",
                "groups:history",
                "reactions:read",
                "users:read"
            ]
        );
        assert!(!scopes.iter().any(|s| s == "im:write"));
        assert_eq!(manifest["settings"]["socket_mode_enabled"], true);
        assert!(manifest["settings"]["interactivity"]
            .get("request_url")
            .is_none());
        // The handlers take exactly the subscribed kinds of message.
        assert!(takes_message_from(Some("channel")) && takes_message_from(Some("group")));
        assert!(!takes_message_from(Some("im")) && !takes_message_from(Some("mpim")));
        assert!(is_subscribed("reaction_added"));
        let shortcut = &manifest["features"]["shortcuts"][0];
        assert!(is_registered_shortcut(
            shortcut["callback_id"].as_str().unwrap()
        ));
    }

    #[test]
    fn every_web_api_call_in_the_adapter_has_its_scope_listed() {
        // The adapter's calls are `session.<method>(`, e.g.
        // `session.chat_post_message(` for chat.postMessage.
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/chat/slack");
        let mut called = std::collections::BTreeSet::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.ends_with("manifest.rs") {
                continue;
            }
            let source = std::fs::read_to_string(path).unwrap();
            // `session` may be on the line before `.method(`.
            let joined: String = source.split_whitespace().collect::<Vec<_>>().join("");
            for (start, _) in joined.match_indices("session.") {
                let rest = &joined[start + "session.".len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if rest[name.len()..].starts_with('(') {
                    called.insert(name);
                }
            }
        }
        assert!(called.contains("chat_post_message"), "{called:?}");
        let listed: Vec<String> = WEB_API_METHODS
            .iter()
            .map(|(method, _)| {
                // chat.postMessage → chat_post_message
                let mut snake = String::new();
                for c in method.chars() {
                    match c {
                        '.' => snake.push('_'),
                        c if c.is_ascii_uppercase() => {
                            snake.push('_');
                            snake.push(c.to_ascii_lowercase());
                        }
                        c => snake.push(c),
                    }
                }
                snake
            })
            .collect();
        for method in &called {
            assert!(
                listed.contains(method),
                "the adapter calls `{method}`, which WEB_API_METHODS does not list with its scope"
            );
        }
    }

    #[test]
    fn http_mode_points_every_request_url_at_the_routes() {
        let manifest = manifest(Some("https://itsm.example.org/")).unwrap();
        assert_eq!(manifest["settings"]["socket_mode_enabled"], false);
        assert_eq!(
            manifest["settings"]["event_subscriptions"]["request_url"],
            "https://itsm.example.org/slack/events"
        );
        assert_eq!(
            manifest["settings"]["interactivity"]["request_url"],
            "https://itsm.example.org/slack/interactions"
        );
        for command in manifest["features"]["slash_commands"].as_array().unwrap() {
            assert_eq!(command["url"], "https://itsm.example.org/slack/commands");
        }
        assert!(super::manifest(Some("itsm.example.org")).is_err());
        assert!(super::manifest(Some("http://itsm.example.org")).is_err());
        assert!(super::manifest(Some("https://itsm.example.org/?x=1")).is_err());
    }
}

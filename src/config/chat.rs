//! `[shell]`, `[slack]` and `[discord]`: the chat adapters.

use std::path::PathBuf;

use serde::Deserialize;

use super::{invalid, ConfigError, DurationSetting, Secret};

/// `[shell]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShellConfig {
    /// Whether `serve` runs the shell adapter when standard input is a terminal.
    pub enabled: bool,
    /// The channel shell lines are said in unless `--channel` is given.
    pub channel: String,
}

/// How the Slack adapter connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SlackMode {
    /// Socket Mode: an outbound WebSocket, no public URL needed.
    Socket,
    /// HTTP: Slack POSTs to `/slack/…` on the bot's HTTP server.
    Http,
}

/// `[slack]`. The adapter runs when a bot token is configured.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    pub mode: SlackMode,
    /// Web API base URL, without a trailing slash.
    pub api_url: String,
    /// Bot token (`xoxb-…`); set it with ITSM__SLACK__BOT_TOKEN or a file.
    pub bot_token: Option<Secret>,
    pub bot_token_file: Option<PathBuf>,
    /// App-level token (`xapp-…`) for Socket Mode.
    pub app_token: Option<Secret>,
    pub app_token_file: Option<PathBuf>,
    /// Signing secret for HTTP mode.
    pub signing_secret: Option<Secret>,
    pub signing_secret_file: Option<PathBuf>,
    /// Channel ids whose top-level messages become incidents.
    #[serde(default)]
    pub intake_channels: Vec<String>,
    /// Reaction name (without colons) that turns any message into an incident.
    pub create_reaction: String,
    /// Socket Mode connections kept open.
    pub socket_connections: u32,
    /// How long a slash command may run before Slack is answered "working on
    /// it" and the result follows through `response_url` (Slack allows 3 s).
    pub reply_within: DurationSetting,
}

impl SlackConfig {
    /// Whether the Slack adapter runs.
    pub fn enabled(&self) -> bool {
        self.bot_token.is_some()
    }
}

/// `[discord]`. The adapter runs when a bot token is configured.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscordConfig {
    /// REST base URL (the gateway URL comes from its `/gateway` answer).
    pub api_url: String,
    /// Bot token; set it with ITSM__DISCORD__TOKEN or a file.
    pub token: Option<Secret>,
    pub token_file: Option<PathBuf>,
    /// The application's id (developer portal, General Information), for
    /// `itsm-bot discord invite-url`; the adapter itself learns it from
    /// Discord.
    #[serde(default)]
    pub application_id: Option<u64>,
    /// Guilds to register commands in (fast); empty = register globally.
    #[serde(default)]
    pub guild_ids: Vec<u64>,
    /// Channel ids whose messages become incidents.
    #[serde(default)]
    pub intake_channels: Vec<String>,
    /// The emoji that turns any message into an incident.
    pub create_reaction: String,
    /// Whether each incident gets a thread under its card.
    pub incident_threads: bool,
    /// Only one replica holds the gateway connection (a lease in the
    /// database); when it dies another connects within this many seconds.
    pub failover_seconds: u64,
    /// How long a command, button or form may run before the interaction
    /// is deferred and its answer follows as an edit (Discord allows 3 s).
    pub reply_within: DurationSetting,
}

/// Discord's limit for a first answer to an interaction, in milliseconds.
const DISCORD_ANSWER_LIMIT_MS: i64 = 3_000;

impl DiscordConfig {
    /// How long to wait for the engine before deferring an interaction.
    pub fn reply_within(&self) -> std::time::Duration {
        self.reply_within
            .0
            .to_std()
            .unwrap_or(std::time::Duration::from_secs(2))
    }

    /// Whether the Discord adapter runs.
    pub fn enabled(&self) -> bool {
        self.token.is_some()
    }
}

impl ShellConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.channel.trim().is_empty() {
            return Err(invalid("shell.channel", "must not be empty"));
        }
        Ok(())
    }
}

impl SlackConfig {
    /// Checks the section; HTTP mode needs the HTTP server (`http_enabled`).
    pub(super) fn validate(&self, http_enabled: bool) -> Result<(), ConfigError> {
        if !(self.api_url.starts_with("http://") || self.api_url.starts_with("https://"))
            || self.api_url.ends_with('/')
        {
            return Err(invalid("slack.api_url", format!("`{}` must be an http(s) URL without a trailing slash, e.g. https://slack.com/api", self.api_url)));
        }
        if self.enabled() {
            match self.mode {
                SlackMode::Socket if self.app_token.is_none() => {
                    return Err(invalid("slack.app_token", "Socket Mode needs an app-level token: set ITSM__SLACK__APP_TOKEN or slack.app_token_file"));
                }
                SlackMode::Http if self.signing_secret.is_none() => {
                    return Err(invalid("slack.signing_secret", "HTTP mode needs the signing secret: set ITSM__SLACK__SIGNING_SECRET or slack.signing_secret_file"));
                }
                SlackMode::Http if !http_enabled => {
                    return Err(invalid(
                        "http.enabled",
                        "Slack HTTP mode needs the HTTP server",
                    ));
                }
                _ => {}
            }
        }
        if self.socket_connections == 0 {
            return Err(invalid("slack.socket_connections", "must be at least 1"));
        }
        if self.create_reaction.trim().is_empty() || self.create_reaction.contains(':') {
            return Err(invalid(
                "slack.create_reaction",
                "write the reaction's name without colons, e.g. `ticket`",
            ));
        }
        Ok(())
    }
}

impl DiscordConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if !(self.api_url.starts_with("http://") || self.api_url.starts_with("https://")) {
            return Err(invalid(
                "discord.api_url",
                format!(
                    "`{}` must be an http(s) URL, e.g. https://discord.com",
                    self.api_url
                ),
            ));
        }
        if self.create_reaction.trim().is_empty() {
            return Err(invalid(
                "discord.create_reaction",
                "must name an emoji, e.g. 🎫",
            ));
        }
        if self.failover_seconds == 0 {
            return Err(invalid(
                "discord.failover_seconds",
                "must be at least 1 (seconds until a standby replica takes over the gateway)",
            ));
        }
        let limit = chrono::Duration::milliseconds(DISCORD_ANSWER_LIMIT_MS);
        if self.reply_within.0 <= chrono::Duration::zero() || self.reply_within.0 >= limit {
            return Err(invalid(
                "discord.reply_within",
                "must be more than 0 and less than 3s (Discord's limit for answering an interaction), e.g. 2s",
            ));
        }
        if self.application_id == Some(0) {
            return Err(invalid(
                "discord.application_id",
                "is the Application ID from the developer portal's General Information page, a non-zero number",
            ));
        }
        if self.guild_ids.contains(&0) {
            return Err(invalid(
                "discord.guild_ids",
                "guild ids are non-zero snowflakes",
            ));
        }
        Ok(())
    }
}

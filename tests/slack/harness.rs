use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use hmac::{Hmac, Mac};
use itsm_bot::app::App;
use itsm_bot::chat::slack::{routes, SlackAdapter};
use itsm_bot::clock::SystemClock;
use itsm_bot::config::Config;
use itsm_bot::http::{router, HttpState};
use itsm_bot::lifecycle::{Shutdown, ShutdownTrigger};
use itsm_bot::store::Store;
use serde_json::{json, Value};
use sha2::Sha256;
use sqlx::PgPool;
use tower::ServiceExt;

use crate::fake_slack::FakeSlack;

pub const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
pub const ENGINEER: &str = "U0ENG0001";
pub const STAFF: &str = "U0STAFF01";
pub const CHANNEL: &str = "C0HELPDESK";
pub const INTAKE: &str = "C0INTAKE1";
pub const WAIT: Duration = Duration::from_secs(10);

/// A bot with its Slack adapter running against a fake Slack.
pub struct Bot {
    pub fake: FakeSlack,
    pub engine: itsm_bot::commands::Engine,
    pub router: Router,
    pub pool: PgPool,
    trigger: ShutdownTrigger,
}

impl Drop for Bot {
    fn drop(&mut self) {
        self.trigger.trigger();
        // The fake enforces Slack's documented limits; the outbox paces
        // itself to stay under them.
        if !std::thread::panicking() {
            assert_eq!(
                self.fake.rate_limited(),
                0,
                "the bot went over Slack's rate limits"
            );
        }
    }
}

impl Bot {
    pub async fn start(pool: PgPool, mode: &str) -> Bot {
        Bot::start_with(pool, mode, &[]).await
    }

    /// Like [`Bot::start`], with `extra` environment settings on top (roles,
    /// the CAB channel, ...).
    pub async fn start_with(pool: PgPool, mode: &str, extra: &[(&str, String)]) -> Bot {
        Bot::start_on(pool.clone(), pool, mode, extra).await
    }

    /// Like [`Bot::start_with`], with the bot's engine on `engine_pool`
    /// (e.g. through a relay that can cut it off) while the test reads the
    /// database through `pool`.
    pub async fn start_on(
        pool: PgPool,
        engine_pool: PgPool,
        mode: &str,
        extra: &[(&str, String)],
    ) -> Bot {
        let fake = FakeSlack::start().await;
        let mut vars = vec![
            ("ITSM__SLACK__MODE", mode.to_string()),
            ("ITSM__SLACK__API_URL", fake.api_url()),
            ("ITSM__SLACK__BOT_TOKEN", "xoxb-test-bot-token".to_string()),
            ("ITSM__SLACK__APP_TOKEN", "xapp-test-app-token".to_string()),
            ("ITSM__SLACK__SIGNING_SECRET", SECRET.to_string()),
            ("ITSM__SLACK__SOCKET_CONNECTIONS", "1".to_string()),
            ("ITSM__SLACK__INTAKE_CHANNELS", format!("[\"{INTAKE}\"]")),
            (
                "ITSM__ROLES__ENGINEER",
                format!("[\"shell:*\", \"slack:{ENGINEER}\"]"),
            ),
            ("ITSM__SLACK__REPLY_WITHIN", "1s".to_string()),
        ];
        vars.extend(extra.iter().cloned());
        let config =
            Config::load_with_env(None, vars.iter().map(|(k, v)| (k.to_string(), v.clone())))
                .unwrap();
        let app = App::with_store(
            config.clone(),
            Store::from_pool(engine_pool),
            std::sync::Arc::new(SystemClock),
        )
        .await
        .unwrap();
        let adapter = SlackAdapter::new(
            app.engine.clone(),
            &config.slack,
            itsm_bot::proxy::ProxySettings::new(config.http.proxy.as_ref()),
        )
        .unwrap();
        let (trigger, shutdown) = Shutdown::new();
        tokio::spawn(adapter.clone().run(shutdown));
        let router = router(HttpState::new(app.engine.clone())).merge(routes(adapter));
        Bot {
            fake,
            engine: app.engine.clone(),
            router,
            pool,
            trigger,
        }
    }

    /// POSTs `body` to `path` signed as Slack signs it, `age` seconds ago.
    pub async fn post_signed(
        &self,
        path: &str,
        content_type: &str,
        body: &str,
        age: i64,
    ) -> (StatusCode, String) {
        let timestamp = now() - age;
        let signature = sign(timestamp, body);
        self.post(path, content_type, body, Some((timestamp, signature)))
            .await
    }

    pub async fn post(
        &self,
        path: &str,
        content_type: &str,
        body: &str,
        signed: Option<(i64, String)>,
    ) -> (StatusCode, String) {
        let mut request = Request::post(path).header("content-type", content_type);
        if let Some((timestamp, signature)) = signed {
            request = request
                .header("x-slack-request-timestamp", timestamp.to_string())
                .header("x-slack-signature", signature);
        }
        self.send(request, body).await
    }

    /// POSTs an Alertmanager delivery to `/hooks/alertmanager` with the
    /// hooks bearer `token`.
    pub async fn alertmanager(&self, token: &str, body: &str) -> (StatusCode, String) {
        let request = Request::post("/hooks/alertmanager")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {token}"));
        self.send(request, body).await
    }

    async fn send(
        &self,
        request: axum::http::request::Builder,
        body: &str,
    ) -> (StatusCode, String) {
        let response = self
            .router
            .clone()
            .oneshot(request.body(Body::from(body.to_string())).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    /// A signed slash command from `user` in `channel`.
    pub async fn slash(
        &self,
        user: &str,
        command: &str,
        text: &str,
        trigger: &str,
    ) -> (StatusCode, String) {
        let body = command_form(
            user,
            CHANNEL,
            command,
            text,
            trigger,
            &self.fake.response_url(trigger),
        );
        self.post_signed(
            "/slack/commands",
            "application/x-www-form-urlencoded",
            &body,
            0,
        )
        .await
    }

    /// A signed interaction (`payload` form field).
    pub async fn interact(&self, payload: &Value) -> (StatusCode, String) {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("payload", &payload.to_string())
            .finish();
        self.post_signed(
            "/slack/interactions",
            "application/x-www-form-urlencoded",
            &body,
            0,
        )
        .await
    }

    /// A click by `user` on the button `action` (with `value`, a ticket
    /// reference) of the message `ts` in `channel`; its response_url is
    /// recorded under `id` and its trigger is `trigger-<id>`.
    pub async fn click(
        &self,
        user: &str,
        channel: &str,
        ts: &str,
        action: &str,
        value: &str,
        id: &str,
    ) {
        let payload = block_action(
            user,
            channel,
            ts,
            action,
            value,
            &format!("trigger-{id}"),
            &self.fake.response_url(id),
        );
        let (status, body) = self.interact(&payload).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    /// A signed Events API callback.
    pub async fn event(&self, event_id: &str, event: Value) -> (StatusCode, String) {
        let body = event_callback(event_id, event).to_string();
        self.post_signed("/slack/events", "application/json", &body, 0)
            .await
    }

    /// Waits until the outbox holds nothing left to send, failing after
    /// `limit` (a bound for a broken bot, not a timing test).
    pub async fn wait_outbox_drained(&self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while self
            .count("SELECT count(*) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL")
            .await
            > 0
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the outbox did not drain within {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(&self.pool).await.unwrap()
    }

    pub async fn status_of(&self, number: i64) -> String {
        sqlx::query_scalar("SELECT status FROM tickets WHERE kind = 'incident' AND number = $1")
            .bind(number)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    pub async fn timeline(&self, number: i64) -> Vec<(String, Option<String>)> {
        sqlx::query_as(
            "SELECT e.action, e.body FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id
             WHERE t.kind = 'incident' AND t.number = $1 ORDER BY e.id",
        )
        .bind(number)
        .fetch_all(&self.pool)
        .await
        .unwrap()
    }
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn sign(timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("v0:{timestamp}:{body}").as_bytes());
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("v0={hex}")
}

/// A slash command as Slack sends it (application/x-www-form-urlencoded).
pub fn command_form(
    user: &str,
    channel: &str,
    command: &str,
    text: &str,
    trigger: &str,
    response_url: &str,
) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("token", "gIkuvaNzQIHg97ATvDxqgjtO")
        .append_pair("team_id", "T0001")
        .append_pair("team_domain", "example")
        .append_pair("enterprise_id", "E0001")
        .append_pair("enterprise_name", "Globular Construct Inc")
        .append_pair("channel_id", channel)
        .append_pair("channel_name", "helpdesk")
        .append_pair("user_id", user)
        .append_pair("user_name", "someone")
        .append_pair("command", command)
        .append_pair("text", text)
        .append_pair("response_url", response_url)
        .append_pair("trigger_id", trigger)
        .append_pair("api_app_id", "A0001")
        .finish()
}

/// The slash command's JSON as a Socket Mode envelope carries it.
pub fn command_payload(
    user: &str,
    command: &str,
    text: &str,
    trigger: &str,
    response_url: &str,
) -> Value {
    json!({
        "token": "gIkuvaNzQIHg97ATvDxqgjtO", "team_id": "T0001", "team_domain": "example",
        "channel_id": CHANNEL, "channel_name": "helpdesk", "user_id": user, "user_name": "someone",
        "command": command, "text": text, "api_app_id": "A0001", "is_enterprise_install": "false",
        "response_url": response_url, "trigger_id": trigger
    })
}

/// A `block_actions` payload for a click on button `action_id`/`value`.
pub fn block_action(
    user: &str,
    channel: &str,
    message_ts: &str,
    action_id: &str,
    value: &str,
    trigger: &str,
    response_url: &str,
) -> Value {
    json!({
        "type": "block_actions",
        "team": { "id": "T0001", "domain": "example" },
        "user": { "id": user, "username": "someone", "team_id": "T0001" },
        "api_app_id": "A0001",
        "token": "gIkuvaNzQIHg97ATvDxqgjtO",
        "container": { "type": "message", "message_ts": message_ts, "channel_id": channel, "is_ephemeral": false },
        "trigger_id": trigger,
        "channel": { "id": channel, "name": "helpdesk" },
        "message": { "type": "message", "ts": message_ts, "text": "incident", "user": "UBOT", "bot_id": "BBOT" },
        "response_url": response_url,
        "actions": [{
            "type": "button", "action_id": action_id, "block_id": "b1", "value": value,
            "text": { "type": "plain_text", "text": "button" }, "action_ts": "1764000000.000900"
        }]
    })
}

/// A `block_actions` payload for picking `value` in the static select
/// `action_id` of the open modal `view` (as the fake keeps it: see
/// `FakeSlack::views`). Slack sends the whole view, its state so far,
/// and no response_url.
pub fn view_select(user: &str, view: &Value, action_id: &str, value: &str) -> Value {
    json!({
        "type": "block_actions",
        "team": { "id": "T0001", "domain": "example" },
        "user": { "id": user, "username": "someone", "team_id": "T0001" },
        "api_app_id": "A0001",
        "token": "gIkuvaNzQIHg97ATvDxqgjtO",
        "container": { "type": "view", "view_id": view["id"] },
        "trigger_id": "12466734323.1395872399",
        "view": view,
        "actions": [{
            "type": "static_select", "action_id": action_id, "block_id": action_id,
            "selected_option": { "text": { "type": "plain_text", "text": value }, "value": value },
            "action_ts": "1764000000.000901"
        }]
    })
}

/// A `view_submission` payload of the form `callback_id` with `values`
/// (block id = action id = field name).
pub fn view_submission(user: &str, callback_id: &str, metadata: &str, values: Value) -> Value {
    json!({
        "type": "view_submission",
        "team": { "id": "T0001", "domain": "example" },
        "user": { "id": user, "username": "someone", "team_id": "T0001" },
        "api_app_id": "A0001",
        "token": "gIkuvaNzQIHg97ATvDxqgjtO",
        "trigger_id": "12466734323.1395872398",
        "view": {
            "id": "VNHU13V36", "team_id": "T0001", "type": "modal",
            "title": { "type": "plain_text", "text": "Report an incident" },
            "blocks": [], "private_metadata": metadata, "callback_id": callback_id,
            "state": { "values": values },
            "hash": format!("156663117.cd33ad1f{}", now()), "app_id": "A0001", "bot_id": "BBOT"
        }
    })
}

/// A text input's value in a view's state.
pub fn text_value(field: &str, value: &str) -> (String, Value) {
    (
        field.to_string(),
        json!({ field: { "type": "plain_text_input", "value": value } }),
    )
}

/// A static select's value in a view's state.
pub fn select_value(field: &str, value: &str) -> (String, Value) {
    (
        field.to_string(),
        json!({ field: { "type": "static_select", "selected_option": { "text": { "type": "plain_text", "text": value }, "value": value } } }),
    )
}

/// A date picker's value in a view's state, under the block and action id `id`.
pub fn date_value(id: &str, date: &str) -> (String, Value) {
    (
        id.to_string(),
        json!({ id: { "type": "datepicker", "selected_date": date } }),
    )
}

/// An Events API `event_callback` envelope.
pub fn event_callback(event_id: &str, event: Value) -> Value {
    json!({
        "token": "XXYYZZ", "team_id": "T0001", "api_app_id": "A0001",
        "event": event, "type": "event_callback", "event_id": event_id,
        "event_time": now(), "authorizations": [{ "team_id": "T0001", "user_id": "UBOT", "is_bot": true }]
    })
}

/// The action ids of the buttons in a posted message's blocks.
pub fn button_ids(message: &Value) -> Vec<String> {
    message["blocks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|block| block["type"] == "actions")
        .flat_map(|block| block["elements"].as_array().cloned().unwrap_or_default())
        .filter_map(|element| element["action_id"].as_str().map(str::to_string))
        .collect()
}

//! The smallest fake Slack Web API the bot needs in HTTP mode: it answers
//! `auth.test`, accepts the cards the outbox posts and updates, and counts
//! calls. Slash command replies travel in the HTTP response body, so this
//! only keeps the bot's delivery side busy the way real Slack would.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::any;
use axum::{Json, Router};
use serde_json::{json, Value};

/// A running fake Slack on 127.0.0.1.
pub struct FakeSlack {
    pub port: u16,
    calls: Arc<AtomicU64>,
    server: tokio::task::JoinHandle<()>,
}

impl FakeSlack {
    /// Starts it on a free port.
    pub async fn start() -> anyhow::Result<FakeSlack> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let calls = Arc::new(AtomicU64::new(0));
        let app = Router::new()
            .route("/api/{method}", any(api_call))
            .with_state(calls.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(FakeSlack {
            port,
            calls,
            server,
        })
    }

    /// The base URL to give the bot as `slack.api_url`.
    pub fn api_url(&self) -> String {
        format!("http://127.0.0.1:{}/api", self.port)
    }

    /// Web API calls answered so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }
}

impl Drop for FakeSlack {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn api_call(State(calls): State<Arc<AtomicU64>>, Path(method): Path<String>) -> Json<Value> {
    let n = calls.fetch_add(1, Ordering::Relaxed) + 1;
    let ts = format!("1764000000.{n:06}");
    Json(match method.as_str() {
        "auth.test" => json!({
            "ok": true, "url": "https://bench.slack.invalid/", "team": "Bench",
            "user": "itsm-bot", "team_id": "T0BENCH", "user_id": "UBOT", "bot_id": "BBOT",
        }),
        "chat.postMessage" | "chat.update" => {
            json!({"ok": true, "channel": "C0BENCH", "ts": ts, "message": {"ts": ts}})
        }
        "chat.postEphemeral" => json!({"ok": true, "message_ts": ts}),
        "chat.getPermalink" => json!({
            "ok": true, "channel": "C0BENCH",
            "permalink": "https://bench.slack.invalid/archives/C0BENCH/p1",
        }),
        "users.info" => json!({
            "ok": true,
            "user": {"id": "U0BENCH", "name": "bench", "profile": {"display_name": "bench"}},
        }),
        _ => json!({"ok": true}),
    })
}

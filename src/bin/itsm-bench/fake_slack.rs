//! The smallest fake Slack Web API the bot needs in HTTP mode: it answers
//! `auth.test`, accepts the cards the outbox posts and updates, and counts
//! calls. Slash command replies travel in the HTTP response body, so this
//! only keeps the bot's delivery side busy the way real Slack would —
//! including Slack's documented rate limits ([`LIMITS`]): a call over them
//! answers 429 with `Retry-After`, and is counted
//! ([`FakeSlack::rate_limited`]) so a run can report the 429s it caused.
//! Started with [`FakeSlack::start_journaled`], it also keeps what each
//! channel was shown: every accepted post with when it arrived, and each
//! message as last posted or updated.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde_json::{json, Value};

/// The limits enforced, from Slack's rate-limit documentation: method,
/// one call per `every` after a burst of `burst`, and whether the limit
/// counts per channel (else per workspace). `chat.postMessage`: about one
/// message per second per channel, short bursts allowed; `chat.update`:
/// Tier 3, 50+ per minute; `chat.postEphemeral` and `users.info`: Tier 4,
/// 100+ per minute. The same figures as the test suite's fake Slack.
const LIMITS: &[(&str, Duration, u32, bool)] = &[
    ("chat.postMessage", Duration::from_secs(1), 3, true),
    ("chat.update", Duration::from_millis(1200), 10, false),
    ("chat.postEphemeral", Duration::from_millis(600), 20, false),
    ("users.info", Duration::from_millis(600), 20, false),
];

/// A running fake Slack on 127.0.0.1.
pub struct FakeSlack {
    pub port: u16,
    state: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

struct Shared {
    calls: AtomicU64,
    rate_limited: AtomicU64,
    /// Per method: whether it counts per channel, and its limiter.
    limiters: HashMap<&'static str, (bool, DefaultKeyedRateLimiter<String>)>,
    /// What the channels were shown, when journaling.
    journal: Option<Mutex<Journal>>,
}

/// What a journaling fake saw accepted.
#[derive(Debug, Default, Clone)]
pub struct Journal {
    /// Every accepted `chat.postMessage`: when, to which channel, its body.
    pub posts: Vec<Post>,
    /// Each message by (channel, ts): the body of its latest post or update.
    pub messages: HashMap<(String, String), String>,
}

/// One accepted `chat.postMessage`.
#[derive(Debug, Clone)]
pub struct Post {
    pub at: Instant,
    pub channel: String,
    pub body: String,
}

impl FakeSlack {
    /// Starts it on a free port.
    pub async fn start() -> anyhow::Result<FakeSlack> {
        FakeSlack::start_with(false).await
    }

    /// Starts it on a free port, keeping a [`Journal`] of what the
    /// channels were shown.
    pub async fn start_journaled() -> anyhow::Result<FakeSlack> {
        FakeSlack::start_with(true).await
    }

    async fn start_with(journaled: bool) -> anyhow::Result<FakeSlack> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let mut limiters = HashMap::new();
        for (method, every, burst, per_channel) in LIMITS {
            let quota = Quota::with_period(*every)
                .ok_or_else(|| anyhow::anyhow!("a zero period for {method}"))?
                .allow_burst(NonZeroU32::new(*burst).unwrap_or(NonZeroU32::MIN));
            limiters.insert(*method, (*per_channel, RateLimiter::keyed(quota)));
        }
        let state = Arc::new(Shared {
            calls: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            limiters,
            journal: journaled.then(|| Mutex::new(Journal::default())),
        });
        let app = Router::new()
            .route("/api/{method}", any(api_call))
            .with_state(state.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(FakeSlack {
            port,
            state,
            server,
        })
    }

    /// The base URL to give the bot as `slack.api_url`.
    pub fn api_url(&self) -> String {
        format!("http://127.0.0.1:{}/api", self.port)
    }

    /// Web API calls answered so far (429s included).
    pub fn calls(&self) -> u64 {
        self.state.calls.load(Ordering::Relaxed)
    }

    /// Calls answered 429 for going over [`LIMITS`].
    pub fn rate_limited(&self) -> u64 {
        self.state.rate_limited.load(Ordering::Relaxed)
    }

    /// What the channels were shown so far (empty unless journaled).
    pub fn journal(&self) -> Journal {
        self.state
            .journal
            .as_ref()
            .and_then(|journal| journal.lock().ok().map(|j| j.clone()))
            .unwrap_or_default()
    }
}

impl Drop for FakeSlack {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The `name` parameter of a JSON or form body.
fn param_of(body: &[u8], name: &str) -> String {
    if let Ok(value) = serde_json::from_slice::<Value>(body) {
        return value[name].as_str().unwrap_or_default().to_string();
    }
    url::form_urlencoded::parse(body)
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
}

async fn api_call(
    State(state): State<Arc<Shared>>,
    Path(method): Path<String>,
    body: Bytes,
) -> Response {
    let n = state.calls.fetch_add(1, Ordering::Relaxed) + 1;
    let channel = param_of(&body, "channel");
    if let Some((per_channel, limiter)) = state.limiters.get(method.as_str()) {
        let key = if *per_channel {
            channel.clone()
        } else {
            String::new()
        };
        if let Err(not_until) = limiter.check_key(&key) {
            state.rate_limited.fetch_add(1, Ordering::Relaxed);
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let secs = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, secs.to_string())],
                Json(json!({"ok": false, "error": "ratelimited"})),
            )
                .into_response();
        }
    }
    let channel = if channel.is_empty() {
        "C0BENCH".to_string()
    } else {
        channel
    };
    let ts = format!("1764000000.{n:06}");
    if let Some(journal) = &state.journal {
        if let Ok(mut journal) = journal.lock() {
            let shown = String::from_utf8_lossy(&body).into_owned();
            match method.as_str() {
                "chat.postMessage" => {
                    journal.posts.push(Post {
                        at: Instant::now(),
                        channel: channel.clone(),
                        body: shown.clone(),
                    });
                    journal
                        .messages
                        .insert((channel.clone(), ts.clone()), shown);
                }
                "chat.update" => {
                    let updated = param_of(&body, "ts");
                    journal.messages.insert((channel.clone(), updated), shown);
                }
                _ => {}
            }
        }
    }
    Json(match method.as_str() {
        "auth.test" => json!({
            "ok": true, "url": "https://bench.slack.invalid/", "team": "Bench",
            "user": "itsm-bot", "team_id": "T0BENCH", "user_id": "UBOT", "bot_id": "BBOT",
        }),
        "chat.postMessage" | "chat.update" => {
            json!({"ok": true, "channel": channel, "ts": ts, "message": {"ts": ts}})
        }
        "chat.postEphemeral" => json!({"ok": true, "message_ts": ts}),
        "chat.getPermalink" => json!({
            "ok": true, "channel": channel,
            "permalink": format!("https://bench.slack.invalid/archives/{channel}/p1"),
        }),
        "users.info" => json!({
            "ok": true,
            "user": {"id": "U0BENCH", "name": "bench", "profile": {"display_name": "bench"}},
        }),
        _ => json!({"ok": true}),
    })
    .into_response()
}

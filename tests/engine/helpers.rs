use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, TimeZone, Utc};
use itsm_bot::app::App;
use itsm_bot::clock::ManualClock;
use itsm_bot::commands::reply::{Outcome, Reply};
use itsm_bot::commands::Engine;
use itsm_bot::commands::Inbound;
use itsm_bot::config::Config;
use itsm_bot::domain::UserId;
use itsm_bot::http::{router, HttpState};
use itsm_bot::store::Store;
use serde_json::Value;
use sqlx::PgPool;
use tower::ServiceExt;

/// A service desk on a fresh database, with a clock the test controls.
pub struct Desk {
    pub engine: Engine,
    pub clock: Arc<ManualClock>,
    pub pool: PgPool,
}

/// The instant the tests were written against: Wednesday 2026-11-25 09:00
/// UTC. Dates in the tests' text are written relative to it and moved with
/// [`dated`].
const WRITTEN_AT: (i32, u32, u32) = (2026, 11, 25);

/// How many whole weeks this run moves every test's start (and every date
/// the tests write) away from [`WRITTEN_AT`]: `ITSM_TEST_SHIFT_WEEKS`, 0 when
/// unset. `.ci/run` runs the engine suite again a year ahead and a year back,
/// so a test that mixes the injected clock with the database's `now()` or
/// the machine's date fails at once, whatever today is. Whole weeks keep the
/// weekday and the time of day, so business-hours tests still mean what
/// they say.
pub fn shift_weeks() -> i64 {
    match std::env::var("ITSM_TEST_SHIFT_WEEKS") {
        Err(_) => 0,
        Ok(text) => text.trim().parse().unwrap_or_else(|_| {
            panic!("ITSM_TEST_SHIFT_WEEKS must be a whole number of weeks, like 52 or -52, not {text:?}")
        }),
    }
}

/// The instant every test starts at: [`WRITTEN_AT`] at 09:00 UTC, moved by
/// [`shift_weeks`].
pub fn start() -> DateTime<Utc> {
    let (year, month, day) = WRITTEN_AT;
    Utc.with_ymd_and_hms(year, month, day, 9, 0, 0).unwrap()
        + chrono::Duration::weeks(shift_weeks())
}

/// `text` with every calendar date in it (`YYYY-MM-DD`, years 2000 and
/// later, also when a time follows as in `2026-11-25T09:00`) moved by this run's [`shift_weeks`]: commands, configuration and
/// expected replies are written against 2026-11-25 and read the same on any
/// run. Alertmanager's "no end" date (`0001-01-01`) is left alone.
pub fn dated(text: &str) -> String {
    let weeks = shift_weeks();
    if weeks == 0 {
        return text.to_string();
    }
    static DATE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let date = DATE.get_or_init(|| regex::Regex::new(r"\b2\d{3}-\d{2}-\d{2}").unwrap());
    date.replace_all(text, |found: &regex::Captures| {
        // A test may write a date that does not exist, to see it refused:
        // that one stays as written.
        match chrono::NaiveDate::parse_from_str(&found[0], "%Y-%m-%d") {
            Ok(written) => (written + chrono::Duration::weeks(weeks))
                .format("%Y-%m-%d")
                .to_string(),
            Err(_) => found[0].to_string(),
        }
    })
    .into_owned()
}

/// Writes a configuration file whose dates (handoffs, freeze windows) are
/// moved like every other date of the run, see [`dated`].
pub fn write_dated(path: &std::path::Path, text: impl AsRef<str>) -> std::io::Result<()> {
    std::fs::write(path, dated(text.as_ref()))
}

/// `instant`, written against 2026-11-25, moved by this run's
/// [`shift_weeks`].
pub fn moved(instant: DateTime<Utc>) -> DateTime<Utc> {
    instant + chrono::Duration::weeks(shift_weeks())
}

impl Desk {
    pub async fn new(pool: PgPool) -> Desk {
        Self::with_config(pool, Config::defaults().unwrap()).await
    }

    pub async fn with_config(pool: PgPool, config: Config) -> Desk {
        let clock = Arc::new(ManualClock::new(start()));
        let app = App::with_store(config, Store::from_pool(pool.clone()), clock.clone())
            .await
            .unwrap();
        Desk {
            engine: app.engine,
            clock,
            pool,
        }
    }

    /// `who` (a shell user name, or platform:id) says `text` in #ops.
    /// Sends `method path` through the bot's real HTTP router, with `token`
    /// as the bearer token and `body` as JSON when given; the status and
    /// the answer (JSON, or the text as a JSON string).
    pub async fn http(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (StatusCode, Value) {
        let authorization = token.map(|token| format!("Bearer {token}"));
        self.http_authorized(method, path, authorization.as_deref(), body)
            .await
    }

    /// Like [`Desk::http`], with `authorization` as the whole
    /// `Authorization` header (to try other spellings and schemes).
    pub async fn http_authorized(
        &self,
        method: &str,
        path: &str,
        authorization: Option<&str>,
        body: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        let request = request
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .unwrap();
        let response = router(HttpState::new(self.engine.clone()))
            .oneshot(request)
            .await
            .unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 22)
            .await
            .unwrap();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, value)
    }

    pub async fn say(&self, who: &str, text: &str) -> Reply {
        self.engine.handle(&inbound(who, text)).await
    }

    /// Says `text` and expects it done; returns the reply's text.
    pub async fn ok(&self, who: &str, text: &str) -> String {
        let reply = self.say(who, text).await;
        let plain = reply.message.plain_text();
        assert_eq!(reply.outcome, Outcome::Done, "{who}: {text}\n{plain}");
        plain
    }

    /// Says `text` and expects it refused, with nothing changed; returns the reason.
    pub async fn refused(&self, who: &str, text: &str) -> String {
        let before = self.snapshot().await;
        let reply = self.say(who, text).await;
        let plain = reply.message.plain_text();
        assert_eq!(reply.outcome, Outcome::Refused, "{who}: {text}\n{plain}");
        assert_eq!(
            self.snapshot().await,
            before,
            "a refused command changed the database: {text}"
        );
        plain
    }

    /// A fingerprint of everything a command could change.
    pub async fn snapshot(&self) -> Vec<Option<String>> {
        snapshot(&self.pool).await
    }
}

/// A chat line from `who` in #ops.
pub fn inbound(who: &str, text: &str) -> Inbound {
    let user: UserId = if who.contains(':') {
        who.parse().unwrap()
    } else {
        format!("shell:{who}").parse().unwrap()
    };
    Inbound::new(user, "ops", text)
}

/// A fingerprint of the tables commands write to.
pub async fn snapshot(pool: &PgPool) -> Vec<Option<String>> {
    let mut out = Vec::new();
    for table in [
        "tickets",
        "incidents",
        "ticket_events",
        "processed_inbound",
        "services",
        "role_grants",
        "changes",
        "change_approvals",
        "requests",
        "request_approvals",
        "runbook_runs",
        "outbound_calls",
        "kb_articles",
        "ticket_followers",
    ] {
        let query = format!("SELECT md5(string_agg(row_to_json(t)::text, ',' ORDER BY row_to_json(t)::text)) FROM {table} t");
        let digest: Option<String> = sqlx::query_scalar(&query).fetch_one(pool).await.unwrap();
        out.push(digest);
    }
    out
}

/// The actions on INC-`number`'s timeline, oldest first.
pub async fn timeline_actions(pool: &PgPool, number: i64) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT e.action FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id
         WHERE t.kind = 'incident' AND t.number = $1 ORDER BY e.id",
    )
    .bind(number)
    .fetch_all(pool)
    .await
    .unwrap()
}

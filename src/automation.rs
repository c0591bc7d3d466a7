//! Delivery of outbound calls (`outbound_calls`): rule webhooks and runbook
//! runs. Rows are written in the transaction of the event or approval that
//! causes them; this worker leases one in a committed transaction, sends it
//! with no connection held, and records the answer in a new transaction
//! (with the timeline, metrics and the run's change) — like the outbox.
//!
//! Secrets never touch the database or a log: `secret_env` and `${NAME}`
//! references in header values name environment variables, read here, per
//! call. Errors name the variable, never its value.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use http_body_util::BodyExt;

use crate::commands::execute::runbooks::CallReport;
use crate::commands::notice::Posted;
use crate::commands::Engine;
use crate::domain::automation::runbook::expand_env;
use crate::lifecycle::Shutdown;
use crate::queue::{self, DoneOf, Queue, SendError, Tuning, Worker, SEND_TIMEOUT};
// Rule webhooks and runbooks are signed like the paging hook, under the
// same header, so a receiver verifies both one way.
use crate::store::automation::Call;
use crate::store::{self, StoreError};
use crate::webhook::SIGNATURE_HEADER;

/// The header naming the event (`incident.created`, `runbook.provision-vm`).
pub const EVENT_HEADER: &str = "x-itsm-event";
/// The header carrying the call's id: the same on every retry, so a
/// receiver can drop a repeat.
pub const DELIVERY_HEADER: &str = "x-itsm-delivery";

/// How much of an answer is read (to find a link in it).
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Why the worker could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("outbound calls: cannot load TLS roots: {0}")]
    Tls(#[from] std::io::Error),
}

/// Reads an environment variable (a secret) by name.
pub type EnvLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The outbound-call queue (`outbound_calls`) for the shared [`Worker`].
pub struct CallQueue {
    engine: Engine,
    client: crate::webhook::OutboundClient,
    env: EnvLookup,
}

/// How a call that was answered with success went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    status: i32,
    link: Option<String>,
}

/// Why a call failed, with the answer's status when there was one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}")]
pub struct CallFailure {
    status: Option<i32>,
    error: SendError,
}

impl From<SendError> for CallFailure {
    fn from(error: SendError) -> Self {
        CallFailure {
            status: None,
            error,
        }
    }
}

impl AsRef<SendError> for CallFailure {
    fn as_ref(&self) -> &SendError {
        &self.error
    }
}

impl queue::Job for Call {
    fn id(&self) -> i64 {
        self.id
    }

    fn attempts(&self) -> i32 {
        self.attempts
    }

    fn max_attempts(&self) -> Option<i32> {
        Some(self.max_attempts)
    }
}

impl Queue for CallQueue {
    type Job = Call;
    type Sent = Answer;
    type Error = CallFailure;
    type Recorded = Posted;

    fn name(&self) -> String {
        "outbound calls".into()
    }

    fn tuning(&self) -> Tuning {
        // One call at a time: rules fire in the order they are configured,
        // and receivers see their webhooks in that order.
        Tuning { lanes: 1, batch: 1 }
    }

    async fn claim(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: i64,
    ) -> Result<queue::Claim<Call>, StoreError> {
        let mut conn = self.engine.store().acquire().await?;
        let jobs = store::automation::claim(&mut conn, now, until, limit).await?;
        Ok(queue::Claim {
            claimed: jobs.len(),
            jobs,
        })
    }

    async fn send(&self, call: &Call) -> Result<Answer, CallFailure> {
        let failed = |reason: String, status: Option<i32>, after: Option<Option<Duration>>| {
            let error = match after {
                Some(after) => SendError::Retry { reason, after },
                None => SendError::Permanent(reason),
            };
            CallFailure { status, error }
        };
        let request = self
            .request(call)
            .map_err(|error| failed(error, None, None))?;
        let response = match tokio::time::timeout(SEND_TIMEOUT, self.client.request(request)).await
        {
            Err(_) => return Err(failed("timed out".into(), None, Some(None))),
            Ok(Err(err)) => return Err(failed(format!("request failed: {err}"), None, Some(None))),
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        let after = queue::retry_after(response.headers(), Utc::now());
        let location = response
            .headers()
            .get(axum::http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = read_bounded(response.into_body()).await;
        let code = i32::from(status.as_u16());
        if status.is_success() {
            Ok(Answer {
                status: code,
                link: location.or_else(|| link_in(&body)),
            })
        } else {
            let temporary = code == 429 || status.is_server_error();
            Err(failed(
                format!("answered {status}"),
                Some(code),
                temporary.then_some(after),
            ))
        }
    }

    async fn record(&self, done: &[&DoneOf<'_, Self>]) -> Result<Vec<Posted>, StoreError> {
        let mut posted = Vec::new();
        for done in done {
            let report = match &done.result {
                Ok(answer) => CallReport {
                    ok: true,
                    status: Some(answer.status),
                    error: None,
                    link: answer.link.clone(),
                    retry_at: None,
                },
                Err(failure) => CallReport {
                    ok: false,
                    status: failure.status,
                    error: Some(failure.error.reason().to_string()),
                    link: None,
                    retry_at: done.retry_at,
                },
            };
            posted.extend(self.engine.record_call(done.job, &report).await?);
        }
        Ok(posted)
    }
}

impl CallQueue {
    /// The HTTP request for `call`, with secrets read from the environment.
    fn request(&self, call: &Call) -> Result<axum::http::Request<String>, String> {
        let mut builder = axum::http::Request::builder()
            .method(call.method.as_str())
            .uri(&call.url)
            .header("content-type", "application/json")
            .header(
                "user-agent",
                concat!("itsm-bot/", env!("CARGO_PKG_VERSION")),
            )
            .header(EVENT_HEADER, &call.event)
            .header(DELIVERY_HEADER, call.id.to_string());
        for (name, value) in call.headers.0.iter() {
            let value = expand_env(value, |var| (self.env)(var)).map_err(|var| {
                format!("environment variable {var} (for header {name}) is not set")
            })?;
            builder = builder.header(name.as_str(), value);
        }
        if let Some(var) = &call.secret_env {
            let secret = (self.env)(var).filter(|s| !s.is_empty()).ok_or_else(|| {
                format!("environment variable {var} (the signing secret) is not set")
            })?;
            builder = builder.header(SIGNATURE_HEADER, signature(&secret, call.body.as_bytes()));
        }
        builder
            .body(call.body.clone())
            .map_err(|err| format!("cannot build the request: {err}"))
    }
}

/// Sends queued calls.
pub struct CallWorker(Worker<CallQueue>);

impl CallWorker {
    /// A worker for `engine`, reading secrets from the process environment.
    pub fn new(engine: &Engine) -> Result<Self, CallError> {
        Self::with_env(engine, Arc::new(|name: &str| std::env::var(name).ok()))
    }

    /// A worker reading secrets through `env` (tests give their own).
    pub fn with_env(engine: &Engine, env: EnvLookup) -> Result<Self, CallError> {
        let client = crate::webhook::https_client(crate::proxy::ProxySettings::new(
            engine.config().http.proxy.as_ref(),
        ))?;
        let queue = CallQueue {
            engine: engine.clone(),
            client,
            env,
        };
        Ok(CallWorker(Worker::for_engine(queue, engine)))
    }

    /// Delivers until the last step of shutdown, then once more.
    pub async fn run(self, mut shutdown: Shutdown) {
        self.0.run(async move { shutdown.wait_final().await }).await;
    }

    /// Sends every due call; returns what the results posted to shell
    /// channels (for `itsm-bot say`).
    pub async fn drain(&self) -> Result<Vec<Posted>, StoreError> {
        Ok(self.0.drain().await?.recorded)
    }
}

/// `sha256=<hex HMAC-SHA256 of body>` keyed with `secret`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    crate::webhook::signature(secret, body).unwrap_or_default()
}

async fn read_bounded(body: hyper::body::Incoming) -> String {
    let limited = http_body_util::Limited::new(body, MAX_ANSWER_BYTES);
    match limited.collect().await {
        Ok(collected) => String::from_utf8_lossy(&collected.to_bytes()).into_owned(),
        Err(_) => String::new(),
    }
}

/// A link to what the call started, from a JSON answer: AWX answers
/// `{"url": …}`, GitLab `{"web_url": …}`, GitHub `{"html_url": …}`.
fn link_in(body: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(body).ok()?;
    ["html_url", "web_url", "url", "link"]
        .iter()
        .find_map(|key| value.get(key)?.as_str().map(str::to_string))
        .filter(|link| link.len() <= 500)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_come_from_the_usual_fields() {
        assert_eq!(
            link_in(r#"{"id": 4, "url": "/api/v2/jobs/4/"}"#).as_deref(),
            Some("/api/v2/jobs/4/")
        );
        assert_eq!(
            link_in(r#"{"web_url": "https://ci/p/1", "url": "x"}"#).as_deref(),
            Some("https://ci/p/1")
        );
        assert_eq!(link_in("not json"), None);
    }
}

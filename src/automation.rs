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

use http_body_util::BodyExt;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use tokio::sync::Notify;

use crate::app::Shutdown;
use crate::commands::execute::runbooks::CallReport;
use crate::commands::Engine;
use crate::domain::automation::runbook::expand_env;
// Rule webhooks and runbooks are signed like the paging hook, under the
// same header, so a receiver verifies both one way.
use crate::paging::SIGNATURE_HEADER;
use crate::scheduler::Posted;
use crate::store::automation::Call;
use crate::store::{self, StoreError};

/// The header naming the event (`incident.created`, `runbook.provision-vm`).
pub const EVENT_HEADER: &str = "x-itsm-event";
/// The header carrying the call's id: the same on every retry, so a
/// receiver can drop a repeat.
pub const DELIVERY_HEADER: &str = "x-itsm-delivery";

/// How long one request may take before it counts as a temporary failure.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How much of an answer is read (to find a link in it).
const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// How often the worker looks for due calls when nothing woke it.
const POLL: Duration = Duration::from_secs(1);
/// How long a claimed call is this worker's: longer than a request may take.
const LEASE: chrono::Duration = chrono::Duration::seconds(30);

/// Why the worker could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("outbound calls: cannot load TLS roots: {0}")]
    Tls(#[from] std::io::Error),
}

/// Reads an environment variable (a secret) by name.
pub type EnvLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Sends queued calls.
pub struct CallWorker {
    engine: Engine,
    signal: Arc<Notify>,
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, String>,
    env: EnvLookup,
}

impl CallWorker {
    /// A worker for `engine`, reading secrets from the process environment.
    pub fn new(engine: &Engine) -> Result<Self, CallError> {
        Self::with_env(engine, Arc::new(|name: &str| std::env::var(name).ok()))
    }

    /// A worker reading secrets through `env` (tests give their own).
    pub fn with_env(engine: &Engine, env: EnvLookup) -> Result<Self, CallError> {
        let client = crate::paging::https_client()?;
        Ok(CallWorker {
            engine: engine.clone(),
            signal: engine.outbox_signal(),
            client,
            env,
        })
    }

    /// Delivers until the last step of shutdown, then once more.
    pub async fn run(self, mut shutdown: Shutdown) {
        loop {
            let notified = self.signal.notified();
            if let Err(err) = self.drain().await {
                tracing::warn!(error = %err, "outbound calls paused");
            }
            tokio::select! {
                () = notified => {}
                () = tokio::time::sleep(POLL) => {}
                () = shutdown.wait_final() => break,
            }
        }
        if let Err(err) = self.drain().await {
            tracing::warn!(error = %err, "outbound calls flush at shutdown failed");
        }
    }

    /// Sends every due call; returns what the results posted to shell
    /// channels (for `itsm-bot say`).
    pub async fn drain(&self) -> Result<Vec<Posted>, StoreError> {
        let mut posted = Vec::new();
        while let Some(more) = self.deliver_one().await? {
            posted.extend(more);
        }
        Ok(posted)
    }

    /// Claims, sends and records one due call; None when none is due.
    pub async fn deliver_one(&self) -> Result<Option<Vec<Posted>>, StoreError> {
        let now = self.engine.clock().now();
        let claimed = {
            let mut conn = self.engine.store().pool().acquire().await?;
            store::automation::claim(&mut conn, now, now + LEASE).await?
        };
        let Some(call) = claimed else {
            return Ok(None);
        };
        let report = self.send(&call).await;
        if !report.ok {
            tracing::warn!(
                call = call.id,
                source = %call.source,
                name = %call.name,
                status = ?report.status,
                error = report.error.as_deref().unwrap_or(""),
                retry = report.retry_at.is_some(),
                "outbound call failed"
            );
        }
        // The answer is recorded even if the database blinks meanwhile: the
        // call must not be sent again because its result was lost.
        let mut wait = Duration::from_millis(200);
        loop {
            match self.engine.record_call(&call, &report).await {
                Ok(posted) => return Ok(Some(posted)),
                Err(StoreError::Unavailable(err)) if wait < Duration::from_secs(20) => {
                    tracing::warn!(error = %err, "recording an outbound call waits for the database");
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// Sends `call` once and says how it went.
    async fn send(&self, call: &Call) -> CallReport {
        let failed = |error: String, status: Option<i32>, temporary: bool| {
            let retry_at = (temporary && call.attempts + 1 < call.max_attempts)
                .then(|| self.engine.clock().now() + crate::paging::backoff(call.attempts));
            CallReport {
                ok: false,
                status,
                error: Some(error),
                link: None,
                retry_at,
            }
        };
        let request = match self.request(call) {
            Ok(request) => request,
            Err(error) => return failed(error, None, false),
        };
        let response =
            match tokio::time::timeout(REQUEST_TIMEOUT, self.client.request(request)).await {
                Err(_) => return failed("timed out".into(), None, true),
                Ok(Err(err)) => return failed(format!("request failed: {err}"), None, true),
                Ok(Ok(response)) => response,
            };
        let status = response.status();
        let location = response
            .headers()
            .get(axum::http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = read_bounded(response.into_body()).await;
        let code = i32::from(status.as_u16());
        if status.is_success() {
            CallReport {
                ok: true,
                status: Some(code),
                error: None,
                link: location.or_else(|| link_in(&body)),
                retry_at: None,
            }
        } else {
            let temporary = code == 429 || status.is_server_error();
            failed(format!("answered {status}"), Some(code), temporary)
        }
    }

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

/// `sha256=<hex HMAC-SHA256 of body>` keyed with `secret`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    crate::paging::signature(secret, body).unwrap_or_default()
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

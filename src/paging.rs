//! The outbound paging hook (`[oncall.paging]`): every page, escalation
//! step, acknowledgement and resolution of a paged incident is also sent to
//! a paging service as a PagerDuty Events API v2 event, deduplicated by the
//! incident's reference (`INC-7`).
//!
//! Events are durable: [`trigger`] and [`follow`] write a `page_hooks` row
//! in the transaction of the change they report (for escalation steps, the
//! one that claims the step in the `page_steps` ledger), so a step is
//! reported exactly when it is taken, once. [`PagingWorker`] delivers the
//! rows with retry: 2xx is done, 429/5xx and network errors are tried again
//! with backoff, any other answer parks the row.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use serde_json::{json, Value};
use sha2::Sha256;
use sqlx::PgConnection;
use tokio::sync::Notify;

use crate::app::Shutdown;
use crate::clock::Clock;
use crate::config::{Config, PagingConfig, Secret};
use crate::domain::incident::Incident;
use crate::domain::oncall::PageStep;
use crate::domain::Priority;
use crate::store::{self, Store, StoreError};

/// The header carrying `sha256=<hex HMAC-SHA256 of the body>` on signed
/// outbound calls: paging events when `hmac_secret` is set, rule webhooks
/// and runbooks when they name a `secret_env`.
pub const SIGNATURE_HEADER: &str = "x-itsm-signature";

/// How long one request may take before it counts as a temporary failure.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the worker looks for due events when nothing woke it.
const POLL: Duration = Duration::from_secs(1);
/// How long a claimed event is this worker's: longer than a request may
/// take, so no other replica sends it meanwhile.
const LEASE: chrono::Duration = chrono::Duration::seconds(30);

/// Why the hook could not be set up or an event not delivered.
#[derive(Debug, thiserror::Error)]
pub enum PagingError {
    /// The TLS roots could not be loaded.
    #[error("paging hook: cannot load TLS roots: {0}")]
    Tls(#[from] std::io::Error),
    /// Worth trying again: a 429 or 5xx answer, a timeout, no connection.
    #[error("temporary failure: {0}")]
    Retry(String),
    /// Will not work however often it is tried (a 4xx answer, a bad body).
    #[error("permanent failure: {0}")]
    Permanent(String),
}

/// The PagerDuty severity of a priority.
pub fn severity(priority: Priority) -> &'static str {
    match priority {
        Priority::P1 => "critical",
        Priority::P2 => "error",
        Priority::P3 => "warning",
        Priority::P4 => "info",
    }
}

/// The `trigger` event for `step` of `incident`'s page, without the routing
/// key (a secret, added when sending).
pub fn trigger_event(incident: &Incident, on_call: &str, step: PageStep) -> Value {
    let reference = incident.reference().to_string();
    let service = incident.service.as_deref().unwrap_or("");
    json!({
        "event_action": "trigger",
        "dedup_key": reference,
        "payload": {
            "summary": format!("{reference} {} {} ({service})", incident.priority, incident.title),
            "source": "itsm-bot",
            "severity": severity(incident.priority),
            "component": service,
            "custom_details": {"on_call": on_call, "step": step.number()},
        },
    })
}

/// An `acknowledge` or `resolve` event for `incident`'s page.
pub fn follow_event(incident: &Incident, event_action: &str) -> Value {
    json!({
        "event_action": event_action,
        "dedup_key": incident.reference().to_string(),
    })
}

/// Queues the `trigger` for `step` of `incident`'s page, paging `on_call`,
/// when the hook is configured. Call it in the transaction that takes the
/// step.
pub async fn trigger(
    conn: &mut PgConnection,
    config: &Config,
    incident: &Incident,
    on_call: &str,
    step: PageStep,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    if config.oncall.paging.is_none() {
        return Ok(());
    }
    let body = trigger_event(incident, on_call, step).to_string();
    store::paging::enqueue(conn, incident.id, "trigger", &body, at).await
}

/// Queues `acknowledge` when `after` is the first acknowledgement of a
/// paged incident, and `resolve` when it resolves (or closes) one, when the
/// hook is configured. Call it in the transaction that changes the incident.
pub async fn follow(
    conn: &mut PgConnection,
    config: &Config,
    before: &Incident,
    after: &Incident,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    if config.oncall.paging.is_none() {
        return Ok(());
    }
    let action = if before.status.is_open() && !after.status.is_open() {
        "resolve"
    } else if before.acknowledged_at.is_none() && after.acknowledged_at.is_some() {
        "acknowledge"
    } else {
        return Ok(());
    };
    // Incidents never paged have nothing at the paging service to follow.
    if !store::paging::was_paged(conn, after.id).await? {
        return Ok(());
    }
    let body = follow_event(after, action).to_string();
    store::paging::enqueue(conn, after.id, action, &body, at).await
}

/// `sha256=<hex HMAC-SHA256 of body>` keyed with `secret`.
pub fn signature(secret: &str, body: &[u8]) -> Result<String, PagingError> {
    // HMAC takes keys of any length; the error exists only for the trait.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .map_err(|_| PagingError::Permanent("unusable hmac_secret".into()))?;
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut out = String::with_capacity(7 + digest.len() * 2);
    out.push_str("sha256=");
    for byte in digest {
        out.push_str(&format!("{byte:02x}"));
    }
    Ok(out)
}

/// An HTTP(S) client for outbound calls (the paging hook, rule webhooks,
/// runbooks). Plain HTTP as well as HTTPS, so tests can point it at a local
/// fake.
pub(crate) fn https_client(
) -> Result<Client<hyper_rustls::HttpsConnector<HttpConnector>, String>, std::io::Error> {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()?
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(hyper_util::rt::TokioExecutor::new()).build(https))
}

/// The hook's endpoint and credentials, and an HTTP(S) client for it.
#[derive(Clone)]
pub struct Hook {
    url: String,
    routing_key: Secret,
    hmac_secret: Option<Secret>,
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, String>,
}

impl std::fmt::Debug for Hook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL is not a secret; the key and the HMAC secret are.
        f.debug_struct("Hook")
            .field("url", &self.url)
            .field("signed", &self.hmac_secret.is_some())
            .finish_non_exhaustive()
    }
}

impl Hook {
    /// The hook configured by `config` (validated when it was loaded).
    pub fn new(config: &PagingConfig) -> Result<Self, PagingError> {
        let routing_key = config
            .routing_key
            .clone()
            .ok_or_else(|| PagingError::Permanent("oncall.paging.routing_key is unset".into()))?;
        let client = https_client()?;
        Ok(Hook {
            url: config.url.clone(),
            routing_key,
            hmac_secret: config.hmac_secret.clone(),
            client,
        })
    }

    /// POSTs `event` (a queued body) with the routing key added.
    pub async fn send(&self, event: &str) -> Result<(), PagingError> {
        let mut value: Value = serde_json::from_str(event)
            .map_err(|err| PagingError::Permanent(format!("queued event is not JSON: {err}")))?;
        let Some(object) = value.as_object_mut() else {
            return Err(PagingError::Permanent(
                "queued event is not a JSON object".into(),
            ));
        };
        object.insert(
            "routing_key".into(),
            Value::String(self.routing_key.expose().to_string()),
        );
        let body = value.to_string();
        let mut request = axum::http::Request::builder()
            .method("POST")
            .uri(&self.url)
            .header("content-type", "application/json")
            .header(
                "user-agent",
                concat!("itsm-bot/", env!("CARGO_PKG_VERSION")),
            );
        if let Some(secret) = &self.hmac_secret {
            request = request.header(
                SIGNATURE_HEADER,
                signature(secret.expose(), body.as_bytes())?,
            );
        }
        let request = request
            .body(body)
            .map_err(|err| PagingError::Permanent(format!("bad request: {err}")))?;
        let response = tokio::time::timeout(REQUEST_TIMEOUT, self.client.request(request))
            .await
            .map_err(|_| PagingError::Retry("timed out".into()))?
            .map_err(|err| PagingError::Retry(format!("request failed: {err}")))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else if status.as_u16() == 429 || status.is_server_error() {
            Err(PagingError::Retry(format!("answered {status}")))
        } else {
            Err(PagingError::Permanent(format!("answered {status}")))
        }
    }
}

/// Delivers queued paging-hook events.
pub struct PagingWorker {
    store: Store,
    clock: Arc<dyn Clock>,
    signal: Arc<Notify>,
    hook: Hook,
    max_attempts: i32,
}

impl PagingWorker {
    /// A worker for `engine`'s hook; `None` when `[oncall.paging]` is unset.
    pub fn new(engine: &crate::commands::Engine) -> Result<Option<Self>, PagingError> {
        let Some(paging) = &engine.config().oncall.paging else {
            return Ok(None);
        };
        Ok(Some(PagingWorker {
            store: engine.store().clone(),
            clock: engine.clock(),
            // Whatever queues an event also wakes the outbox workers.
            signal: engine.outbox_signal(),
            hook: Hook::new(paging)?,
            max_attempts: engine.config().outbox.max_attempts,
        }))
    }

    /// Delivers until the last step of shutdown, then once more.
    pub async fn run(self, mut shutdown: Shutdown) {
        loop {
            let notified = self.signal.notified();
            if let Err(err) = self.drain().await {
                tracing::warn!(error = %err, "paging hook delivery paused");
            }
            tokio::select! {
                () = notified => {}
                () = tokio::time::sleep(POLL) => {}
                () = shutdown.wait_final() => break,
            }
        }
        if let Err(err) = self.drain().await {
            tracing::warn!(error = %err, "paging hook flush at shutdown failed");
        }
    }

    /// Delivers every due event; returns how many it handled.
    pub async fn drain(&self) -> Result<usize, StoreError> {
        let mut handled = 0;
        while self.deliver_one().await? {
            handled += 1;
        }
        Ok(handled)
    }

    /// Claims, sends and records one due event; false when none is due.
    /// The lease is committed before sending, so another replica does not
    /// send the same event while this one waits for an answer.
    pub async fn deliver_one(&self) -> Result<bool, StoreError> {
        let now = self.clock.now();
        let claimed = {
            let mut conn = self.store.pool().acquire().await?;
            store::paging::claim(&mut conn, now, now + LEASE).await?
        };
        let Some(event) = claimed else {
            return Ok(false);
        };
        // No connection is held while the paging service answers.
        let result = self.hook.send(&event.body).await;
        let now = self.clock.now();
        let mut conn = self.store.pool().acquire().await?;
        match result {
            Ok(()) => store::paging::mark_sent(&mut conn, event.id, now).await?,
            Err(err) => {
                let retry_at = match &err {
                    PagingError::Retry(_) if event.attempts + 1 < self.max_attempts => {
                        Some(now + backoff(event.attempts))
                    }
                    _ => None,
                };
                tracing::warn!(
                    error = %err,
                    event = %event.event_action,
                    attempts = event.attempts + 1,
                    parked = retry_at.is_none(),
                    "paging hook delivery failed"
                );
                store::paging::mark_failed(&mut conn, event.id, &err.to_string(), retry_at, now)
                    .await?;
            }
        }
        Ok(true)
    }
}

/// Exponential backoff: 1 s, 2 s, 4 s … up to 5 minutes.
pub(crate) fn backoff(attempts: i32) -> chrono::Duration {
    let seconds = 2_i64.saturating_pow(attempts.clamp(0, 9) as u32).min(300);
    chrono::Duration::seconds(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hex_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?").ok(),
            Some(
                "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
                    .to_string()
            )
        );
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(0), chrono::Duration::seconds(1));
        assert_eq!(backoff(3), chrono::Duration::seconds(8));
        assert_eq!(backoff(50), chrono::Duration::seconds(300));
    }
}

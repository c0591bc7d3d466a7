//! The outbound paging hook (`[oncall.paging]`): every page, escalation
//! step, acknowledgement and resolution of a paged incident is also sent to
//! a paging service as a PagerDuty Events API v2 event, deduplicated by the
//! incident's reference (`INC-7`).
//!
//! Events are durable: the engine ([`crate::commands::paging`]) writes a
//! `page_hooks` row in the transaction of the change it reports (for
//! escalation steps, the one that claims the step in the `page_steps`
//! ledger), so a step is reported exactly when it is taken, once. This
//! module is the worker: [`PagingWorker`] delivers the
//! rows with retry: 2xx is done, 429/5xx and network errors are tried again
//! with backoff, any other answer parks the row.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::config::{PagingConfig, Secret};
use crate::lifecycle::Shutdown;
use crate::proxy::ProxySettings;
use crate::queue::{self, DoneOf, Queue, SendError, Worker, SEND_TIMEOUT};
use crate::store::paging::HookEvent;
use crate::store::queue::Queue as StoreQueue;
use crate::store::{self, Store, StoreError};
use crate::webhook::{https_client, signature, OutboundClient, SIGNATURE_HEADER};

/// Why the hook could not be set up or an event not delivered.
#[derive(Debug, thiserror::Error)]
pub enum PagingError {
    /// The TLS roots could not be loaded.
    #[error("paging hook: cannot load TLS roots: {0}")]
    Tls(#[from] std::io::Error),
    /// The event was not delivered: worth trying again (a 429 or 5xx
    /// answer, a timeout, no connection) or not (a 4xx answer, a bad body).
    #[error(transparent)]
    Send(#[from] SendError),
}

fn permanent(reason: impl Into<String>) -> PagingError {
    PagingError::Send(SendError::Permanent(reason.into()))
}

/// The hook's endpoint and credentials, and an HTTP(S) client for it.
#[derive(Clone)]
pub struct Hook {
    url: String,
    routing_key: Secret,
    hmac_secret: Option<Secret>,
    client: OutboundClient,
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
    pub fn new(config: &PagingConfig, proxy: ProxySettings) -> Result<Self, PagingError> {
        let routing_key = config
            .routing_key
            .clone()
            .ok_or_else(|| permanent("oncall.paging.routing_key is unset"))?;
        let client = https_client(proxy)?;
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
            .map_err(|err| permanent(format!("queued event is not JSON: {err}")))?;
        let Some(object) = value.as_object_mut() else {
            return Err(permanent("queued event is not a JSON object"));
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
            .map_err(|err| permanent(format!("bad request: {err}")))?;
        let response = tokio::time::timeout(SEND_TIMEOUT, self.client.request(request))
            .await
            .map_err(|_| SendError::retry("timed out"))?
            .map_err(|err| SendError::retry(format!("request failed: {err}")))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else if status.as_u16() == 429 || status.is_server_error() {
            Err(SendError::Retry {
                reason: format!("answered {status}"),
                after: queue::retry_after(response.headers(), Utc::now()),
            }
            .into())
        } else {
            Err(permanent(format!("answered {status}")))
        }
    }
}

/// The paging hook's queue (`page_hooks`) for the shared [`Worker`].
pub struct HookQueue {
    store: Store,
    hook: Hook,
}

impl queue::Job for HookEvent {
    fn id(&self) -> i64 {
        self.id
    }

    fn attempts(&self) -> i32 {
        self.attempts
    }
}

impl Queue for HookQueue {
    type Job = HookEvent;
    type Sent = ();
    type Error = SendError;
    type Recorded = ();

    fn name(&self) -> String {
        "paging hook".into()
    }

    async fn claim(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: i64,
    ) -> Result<queue::Claim<HookEvent>, StoreError> {
        let mut conn = self.store.acquire().await?;
        let jobs = store::paging::claim(&mut conn, now, until, limit).await?;
        Ok(queue::Claim {
            claimed: jobs.len(),
            jobs,
        })
    }

    async fn send(&self, event: &HookEvent) -> Result<(), SendError> {
        self.hook.send(&event.body).await.map_err(|err| match err {
            PagingError::Send(err) => err,
            other => SendError::Permanent(other.to_string()),
        })
    }

    async fn record(&self, done: &[&DoneOf<'_, Self>]) -> Result<Vec<()>, StoreError> {
        let mut conn = self.store.acquire().await?;
        let (sent, failed): (Vec<&&DoneOf<'_, Self>>, Vec<_>) =
            done.iter().partition(|d| d.result.is_ok());
        if let Some(first) = sent.first() {
            let ids: Vec<i64> = sent.iter().map(|d| d.job.id).collect();
            store::queue::mark_sent(&mut conn, StoreQueue::Paging, &ids, first.at).await?;
        }
        for done in failed {
            if let Err(err) = &done.result {
                store::queue::mark_failed(
                    &mut conn,
                    StoreQueue::Paging,
                    done.job.id,
                    &err.to_string(),
                    done.retry_at,
                    done.at,
                )
                .await?;
            }
        }
        Ok(Vec::new())
    }
}

/// Delivers queued paging-hook events.
pub struct PagingWorker(Worker<HookQueue>);

impl PagingWorker {
    /// A worker for `engine`'s hook; `None` when `[oncall.paging]` is unset.
    pub fn new(engine: &crate::commands::Engine) -> Result<Option<Self>, PagingError> {
        let Some(paging) = &engine.config().oncall.paging else {
            return Ok(None);
        };
        let queue = HookQueue {
            store: engine.store().clone(),
            hook: Hook::new(
                paging,
                ProxySettings::new(engine.config().http.proxy.as_ref()),
            )?,
        };
        Ok(Some(PagingWorker(Worker::for_engine(queue, engine))))
    }

    /// Delivers until the last step of shutdown, then once more.
    pub async fn run(self, mut shutdown: Shutdown) {
        self.0.run(async move { shutdown.wait_final().await }).await;
    }

    /// Delivers every due event; returns how many it handled.
    pub async fn drain(&self) -> Result<usize, StoreError> {
        Ok(self.0.drain().await?.handled)
    }
}

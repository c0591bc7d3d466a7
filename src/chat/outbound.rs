//! Delivering the outbox: ticket cards (posted once, then edited in place)
//! and satisfaction surveys. The worker is the same for every platform; a
//! [`Deliver`] implementation renders and sends for one platform.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::app::Shutdown;
use crate::clock::Clock;
use crate::commands::reply::Message;
use crate::commands::show;
use crate::config::Config;
use crate::domain::change::Change;
use crate::domain::incident::Incident;
use crate::domain::{Platform, UserId};
use crate::store::messages::PostedMessage;
use crate::store::outbox::{OutboxItem, OutboxKind};
use crate::store::{self, Store, StoreError};

/// Why a delivery failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Worth trying again (rate limits, 5xx, timeouts), after `after` if the
    /// platform said so.
    #[error("temporary failure: {reason}")]
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    /// Will not work however often it is tried (bad channel, revoked token).
    #[error("permanent failure: {0}")]
    Permanent(String),
}

/// Sends rendered messages to one platform.
pub trait Deliver: Send + Sync + 'static {
    /// The platform this delivers to.
    fn platform(&self) -> Platform;

    /// Posts a ticket's card in `channel` (in `thread` when given) and says
    /// where it landed.
    fn post_card(
        &self,
        channel: &str,
        thread: Option<&str>,
        card: &Message,
    ) -> impl Future<Output = Result<PostedMessage, DeliveryError>> + Send;

    /// Replaces a posted card with `card`.
    fn update_card(
        &self,
        posted: &PostedMessage,
        card: &Message,
    ) -> impl Future<Output = Result<(), DeliveryError>> + Send;

    /// Sends `survey` to `reporter` directly.
    fn send_survey(
        &self,
        reporter: &UserId,
        survey: &Message,
    ) -> impl Future<Output = Result<(), DeliveryError>> + Send;

    /// Posts a notice (an SLA warning, a digest) in `channel`, in `thread`
    /// when given.
    fn post_notice(
        &self,
        channel: &str,
        thread: Option<&str>,
        notice: &Message,
    ) -> impl Future<Output = Result<(), DeliveryError>> + Send;
}

/// Attempts before a row is parked as failed.
const MAX_ATTEMPTS: i32 = 8;
/// How often the worker looks for due rows when nothing woke it.
const POLL: Duration = Duration::from_secs(1);

/// Claims outbox rows for one platform and delivers them.
pub struct OutboxWorker<D> {
    store: Store,
    deliver: Arc<D>,
    clock: Arc<dyn Clock>,
    signal: Arc<Notify>,
    /// The SLA policy (incident cards) and the CAB channel (change cards).
    config: Arc<Config>,
}

impl<D: Deliver> OutboxWorker<D> {
    /// A worker delivering through `deliver`, woken by `signal`.
    pub fn new(
        store: Store,
        deliver: Arc<D>,
        clock: Arc<dyn Clock>,
        signal: Arc<Notify>,
        config: Arc<Config>,
    ) -> Self {
        OutboxWorker {
            store,
            deliver,
            clock,
            signal,
            config,
        }
    }

    /// Delivers until the last step of shutdown ([`Shutdown::wait_final`]),
    /// then delivers what is due one last time and returns. It keeps
    /// delivering while in-flight commands finish, so their cards go out
    /// before the process exits; the caller bounds the final flush (a
    /// platform that hangs is abandoned, and its rows stay for the next
    /// replica).
    pub async fn run(self, mut shutdown: Shutdown) {
        let platform = self.deliver.platform();
        loop {
            let notified = self.signal.notified();
            match self.drain().await {
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!(error = %err, %platform, "outbox delivery paused")
                }
            }
            tokio::select! {
                () = notified => {}
                () = tokio::time::sleep(POLL) => {}
                () = shutdown.wait_final() => break,
            }
        }
        match self.drain().await {
            Ok(flushed) => tracing::info!(%platform, flushed, "outbox flushed at shutdown"),
            Err(err) => tracing::warn!(error = %err, %platform, "outbox flush at shutdown failed"),
        }
    }

    /// Delivers every due row; returns how many rows it handled.
    pub async fn drain(&self) -> Result<usize, StoreError> {
        let mut handled = 0;
        while self.deliver_one().await? {
            handled += 1;
        }
        Ok(handled)
    }

    /// Claims and delivers one due row. The claim, the delivery's record and
    /// the row's new state commit together: a crash mid-way leaves the row
    /// to be delivered again, so at most this one message is repeated.
    pub async fn deliver_one(&self) -> Result<bool, StoreError> {
        let platform = self.deliver.platform();
        let mut tx = self.store.begin().await?;
        let now = self.clock.now();
        let Some(item) = store::outbox::claim(&mut tx, platform, now).await? else {
            return Ok(false);
        };
        if let (OutboxKind::TicketMessage, Some(ticket_id)) = (item.kind, item.ticket_id) {
            // One worker at a time handles a ticket's card, so two replicas
            // never both post it.
            store::outbox::lock_ticket(&mut tx, ticket_id).await?;
        }
        let covered = store::outbox::coalescible(&mut tx, platform, &item).await?;
        let result = match (item.kind, item.ticket_id) {
            (OutboxKind::Notice, _) => self.deliver_notice(&item).await,
            (_, Some(ticket_id)) => match store::incidents::get_by_id(&mut tx, ticket_id).await? {
                Some(incident) => self.deliver_item(&mut tx, &item, &incident).await,
                None => match store::changes::get_by_id(&mut tx, ticket_id).await? {
                    Some(change) => self.deliver_change(&mut tx, &item, &change).await,
                    None => Err(DeliveryError::Permanent(format!(
                        "ticket {ticket_id} has no card to deliver"
                    ))),
                },
            },
            (_, None) => Err(DeliveryError::Permanent(
                "a card or survey without a ticket".into(),
            )),
        };
        let now = self.clock.now();
        let recorded = match &result {
            Ok(()) => store::outbox::mark_sent(&mut tx, &covered, now).await,
            Err(err) => {
                let retry_at = self.retry_at(&item, err, now);
                store::outbox::mark_failed(&mut tx, &item, &err.to_string(), retry_at, now).await
            }
        };
        if let Err(err) = &result {
            tracing::warn!(error = %err, %platform, outbox_id = item.id, attempts = item.attempts + 1, "delivery failed");
        }
        match recorded {
            Ok(()) => tx.commit().await?,
            Err(store_err) => {
                // The transaction is unusable (recording the delivery broke
                // a constraint, or the database went away). Count the
                // attempt in a fresh one, so the row backs off and is
                // parked in the end instead of being re-sent every second.
                drop(tx);
                tracing::warn!(error = %store_err, outbox_id = item.id, "could not record a delivery");
                let failure = DeliveryError::Retry {
                    reason: store_err.to_string(),
                    after: None,
                };
                let retry_at = self.retry_at(&item, &failure, now);
                let mut retry = self.store.begin().await?;
                store::outbox::mark_failed(&mut retry, &item, &failure.to_string(), retry_at, now)
                    .await?;
                retry.commit().await?;
            }
        }
        Ok(true)
    }

    /// When to try a failed row again, or `None` to park it.
    fn retry_at(
        &self,
        item: &OutboxItem,
        err: &DeliveryError,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Option<chrono::DateTime<chrono::Utc>> {
        match err {
            DeliveryError::Retry { after, .. } if item.attempts + 1 < MAX_ATTEMPTS => {
                let wait = after.unwrap_or_else(|| backoff(item.attempts));
                Some(
                    now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::seconds(60)),
                )
            }
            _ => None,
        }
    }

    async fn deliver_notice(&self, item: &OutboxItem) -> Result<(), DeliveryError> {
        let (Some(channel), Some(body)) = (&item.channel, &item.body) else {
            return Err(DeliveryError::Permanent(
                "a notice without a channel or text".into(),
            ));
        };
        self.deliver
            .post_notice(
                channel,
                item.thread.as_deref(),
                // Notices keep their blocks as JSON; older plain-text rows
                // still deliver as a paragraph.
                &serde_json::from_str::<Message>(body)
                    .unwrap_or_else(|_| Message::text(body.clone())),
            )
            .await
    }

    async fn deliver_item(
        &self,
        conn: &mut sqlx::PgConnection,
        item: &OutboxItem,
        incident: &Incident,
    ) -> Result<(), DeliveryError> {
        let unavailable = |err: StoreError| DeliveryError::Retry {
            reason: err.to_string(),
            after: None,
        };
        match item.kind {
            OutboxKind::TicketMessage => {
                let pauses = store::sla::pauses(conn, incident.id)
                    .await
                    .map_err(unavailable)?;
                let clocks = self
                    .config
                    .sla_policy
                    .clocks(incident, &pauses, self.clock.now());
                let card = show::incident_message(incident, &clocks);
                let origin = &incident.origin;
                self.post_or_update(
                    conn,
                    incident.id,
                    (&origin.channel, origin.thread.as_deref()),
                    &card,
                )
                .await
            }
            OutboxKind::Survey => {
                self.deliver
                    .send_survey(&incident.reporter, &show::survey_message(incident))
                    .await
            }
            OutboxKind::Notice => self.deliver_notice(item).await,
        }
    }
}

impl<D: Deliver> OutboxWorker<D> {
    /// Posts a ticket's card in `home` the first time, then edits it in place.
    async fn post_or_update(
        &self,
        conn: &mut sqlx::PgConnection,
        ticket_id: i64,
        home: (&str, Option<&str>),
        card: &Message,
    ) -> Result<(), DeliveryError> {
        let platform = self.deliver.platform();
        let unavailable = |err: StoreError| DeliveryError::Retry {
            reason: err.to_string(),
            after: None,
        };
        let posted = match store::messages::find(conn, ticket_id, platform)
            .await
            .map_err(unavailable)?
        {
            Some(posted) => {
                self.deliver.update_card(&posted, card).await?;
                posted
            }
            None => self.deliver.post_card(home.0, home.1, card).await?,
        };
        let now = self.clock.now();
        store::messages::record(conn, ticket_id, platform, &posted, now)
            .await
            .map_err(unavailable)
    }

    /// A change's CAB card: posted in `change.cab_channel` (or, without one,
    /// where the change was drafted) and edited as approvals arrive.
    async fn deliver_change(
        &self,
        conn: &mut sqlx::PgConnection,
        item: &OutboxItem,
        change: &Change,
    ) -> Result<(), DeliveryError> {
        if item.kind != OutboxKind::TicketMessage {
            return Err(DeliveryError::Permanent(format!(
                "{} has no survey",
                change.reference()
            )));
        }
        let platform = self.deliver.platform();
        let settings = &self.config.change;
        let home = match &settings.cab_channel {
            Some(cab) if cab.platform == platform => (cab.channel.as_str(), None),
            _ if change.origin.platform == platform => (
                change.origin.channel.as_str(),
                change.origin.thread.as_deref(),
            ),
            _ => {
                return Err(DeliveryError::Permanent(format!(
                    "{} has no channel on {platform}",
                    change.reference()
                )))
            }
        };
        let flags: Vec<String> = store::timeline::list(conn, change.id)
            .await
            .map_err(|err| DeliveryError::Retry {
                reason: err.to_string(),
                after: None,
            })?
            .into_iter()
            .filter(|event| event.action == crate::domain::timeline::EventAction::Flagged)
            .filter_map(|event| event.body)
            .collect();
        let card = crate::commands::change_view::change_message(change, &settings.rules, &flags);
        self.post_or_update(conn, change.id, home, &card).await
    }
}

/// Exponential backoff with jitter: about 1 s, 2 s, 4 s … up to 5 minutes.
fn backoff(attempts: i32) -> Duration {
    let base = 2_u64.saturating_pow(attempts.clamp(0, 9) as u32).min(300);
    let jitter = u64::from(
        std::process::id()
            ^ std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos()),
    ) % 1000;
    Duration::from_secs(base) + Duration::from_millis(jitter)
}

//! Delivering the outbox: ticket cards (posted once, then edited in place)
//! and satisfaction surveys. The worker is the same for every platform; a
//! [`Deliver`] implementation renders and sends for one platform.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::clock::Clock;
use crate::commands::reply::Message;
use crate::commands::show;
use crate::config::Config;
use crate::domain::{Platform, UserId};
use crate::lifecycle::Shutdown;
use crate::store::incidents::CardSource;
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

/// How often the worker looks for due rows when nothing woke it.
const POLL: Duration = Duration::from_secs(1);
/// How long a claimed row is this worker's: long enough to ride out a
/// database restart between sending and recording, short enough that a row
/// whose worker died mid-send goes out again soon.
const LEASE: chrono::Duration = chrono::Duration::seconds(30);
/// How often a worker tries again to record a delivery while the database
/// is away.
const RECORD_RETRY: Duration = Duration::from_millis(500);

/// Delivery lanes per platform in one process. Every claim and record
/// commits, and a commit waits for the disk to flush the WAL; lanes side by
/// side share flushes, and one lane's slow send does not hold up the rest.
/// The claim keeps them (and replicas) apart.
const LANES: usize = 2;
/// Rows one claim takes at most. A batch is sent side by side, so this also
/// bounds one lane's requests in flight.
const BATCH: i64 = 16;

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
    pub async fn run(self, shutdown: Shutdown) {
        let mut lanes = tokio::task::JoinSet::new();
        let worker = Arc::new(self);
        for _ in 0..LANES {
            let lane = worker.clone();
            let stop = shutdown.clone();
            lanes.spawn(async move { lane.run_lane(stop).await });
        }
        while lanes.join_next().await.is_some() {}
    }

    /// One lane: delivers until the last step of shutdown, then what is due
    /// one last time.
    async fn run_lane(&self, mut shutdown: Shutdown) {
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
        loop {
            match self.deliver_batch().await? {
                0 => return Ok(handled),
                batch => handled += batch,
            }
        }
    }

    /// Claims up to [`BATCH`] due rows, sends them side by side and records
    /// the results; returns how many rows it claimed (0: none was due).
    ///
    /// The claim is a lease committed *before* anything is sent, and the
    /// results are recorded after. So a database that goes away while a
    /// message is in flight cannot hand the row to another replica to send
    /// again: the lease keeps it, and this worker keeps trying to record
    /// what it sent until the database is back (up to the lease). Only a
    /// worker that dies between sending and recording leaves its rows to be
    /// sent again when the lease runs out. A batch shares one claim and one
    /// record: each commit waits for a WAL flush, so a burst of reports is
    /// carded at a few commits per batch instead of two per card.
    pub async fn deliver_batch(&self) -> Result<usize, StoreError> {
        let platform = self.deliver.platform();
        let Some(claim) = self.claim_batch().await? else {
            return Ok(0);
        };
        let results =
            futures_util::future::join_all(claim.leased.iter().map(|leased| async move {
                match &leased.job {
                    Ok(job) => self.send(job).await,
                    Err(err) => Err(err.clone()),
                }
            }))
            .await;
        let done: Vec<Done<'_>> = claim
            .leased
            .iter()
            .zip(results)
            .map(|(leased, result)| {
                if let Err(err) = &result {
                    tracing::warn!(error = %err, %platform, outbox_id = leased.item.id, attempts = leased.item.attempts + 1, "delivery failed");
                }
                Done {
                    item: &leased.item,
                    covered: &leased.covered,
                    job: leased.job.as_ref().ok(),
                    result,
                }
            })
            .collect();
        self.record_sent(&done).await?;
        for done in done.iter().filter(|done| done.result.is_err()) {
            self.record(done).await?;
        }
        Ok(claim.claimed)
    }

    /// Claims up to [`BATCH`] due rows, leases what no other worker holds
    /// and renders it, in one transaction; `None` when nothing is due.
    async fn claim_batch(&self) -> Result<Option<Claim>, StoreError> {
        let platform = self.deliver.platform();
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let items = store::outbox::claim(&mut tx, platform, now, BATCH).await?;
        if items.is_empty() {
            return Ok(None);
        }
        // One row per card leads; the card's other waiting rows are covered
        // by its lease.
        let mut leads: Vec<(i64, &OutboxItem)> = Vec::new();
        let mut others = Vec::new();
        for item in &items {
            match (item.kind, item.ticket_id) {
                (OutboxKind::TicketMessage, Some(ticket)) => {
                    if !leads.iter().any(|(led, _)| *led == ticket) {
                        leads.push((ticket, item));
                    }
                }
                _ => others.push(item.id),
            }
        }
        let tickets: Vec<i64> = leads.iter().map(|(ticket, _)| *ticket).collect();
        let locked = store::outbox::try_lock_tickets(&mut tx, &tickets).await?;
        let cards: Vec<(i64, i64)> = leads
            .iter()
            .filter(|(ticket, _)| locked.contains(ticket))
            .map(|(ticket, item)| (*ticket, item.id))
            .collect();
        let leases =
            store::outbox::lease_batch(&mut tx, platform, &cards, &others, now, now + LEASE)
                .await?;
        // Cards another worker holds are left out: its record covers the
        // changes their rows stand for, or leaves them due.
        let mut batch: Vec<(&OutboxItem, Vec<i64>)> = leads
            .iter()
            .filter_map(|(ticket, item)| {
                let (_, covered) = leases.iter().find(|(leased, _)| leased == ticket)?;
                Some((*item, covered.clone()))
            })
            .collect();
        batch.extend(
            items
                .iter()
                .filter(|item| others.contains(&item.id))
                .map(|item| (item, vec![item.id])),
        );
        let rendered: Vec<i64> = batch
            .iter()
            .filter_map(|(item, _)| item.ticket_id)
            .collect();
        let sources = store::incidents::card_sources(&mut tx, &rendered, platform).await?;
        let mut leased = Vec::with_capacity(batch.len());
        for (item, covered) in batch {
            let source = item
                .ticket_id
                .and_then(|id| sources.iter().find(|source| source.incident.id == id));
            let job = self.prepare(&mut tx, item, source).await?;
            leased.push(Leased {
                item: item.clone(),
                covered,
                job,
            });
        }
        tx.commit().await?;
        Ok(Some(Claim {
            claimed: items.len(),
            leased,
        }))
    }

    /// Reads what the row needs and renders it, under the claim; an
    /// incident's `source` is read for the whole batch beforehand.
    async fn prepare(
        &self,
        conn: &mut sqlx::PgConnection,
        item: &OutboxItem,
        source: Option<&CardSource>,
    ) -> Result<Result<Job, DeliveryError>, StoreError> {
        let platform = self.deliver.platform();
        let Some(ticket_id) = item.ticket_id.filter(|_| item.kind != OutboxKind::Notice) else {
            return Ok(match (item.kind, &item.channel, &item.body) {
                (OutboxKind::Notice, Some(channel), Some(body)) => Ok(Job::Notice {
                    channel: channel.clone(),
                    thread: item.thread.clone(),
                    // Notices keep their blocks as JSON; older plain-text rows
                    // still deliver as a paragraph.
                    notice: serde_json::from_str::<Message>(body)
                        .unwrap_or_else(|_| Message::text(body.clone())),
                }),
                (OutboxKind::Notice, _, _) => Err(DeliveryError::Permanent(
                    "a notice without a channel or text".into(),
                )),
                _ => Err(DeliveryError::Permanent(
                    "a card or survey without a ticket".into(),
                )),
            });
        };
        if let Some(source) = source {
            let incident = &source.incident;
            if item.kind == OutboxKind::Survey {
                return Ok(Ok(Job::Survey {
                    reporter: incident.reporter.clone(),
                    survey: show::survey_message(incident),
                }));
            }
            let clocks = self
                .config
                .sla_policy
                .clocks(incident, &source.pauses, self.clock.now());
            return Ok(Ok(Job::Card {
                ticket_id,
                posted: source.posted.clone(),
                home: (
                    incident.origin.channel.clone(),
                    incident.origin.thread.clone(),
                ),
                card: show::incident_message(incident, &clocks),
            }));
        }
        if let Some(change) = store::changes::get_by_id(conn, ticket_id).await? {
            let posted = store::messages::find(conn, ticket_id, platform).await?;
            if item.kind != OutboxKind::TicketMessage {
                return Ok(Err(DeliveryError::Permanent(format!(
                    "{} has no survey",
                    change.reference()
                ))));
            }
            let flags: Vec<String> = store::timeline::list(conn, change.id)
                .await?
                .into_iter()
                .filter(|event| event.action == crate::domain::timeline::EventAction::Flagged)
                .filter_map(|event| event.body)
                .collect();
            let settings = &self.config.change;
            let card =
                crate::commands::change_view::change_message(&change, &settings.rules, &flags);
            // The CAB card goes to the CAB channel, or without one (or on
            // another platform) where the change was drafted.
            let home = match &settings.cab_channel {
                Some(cab) if cab.platform == platform => (cab.channel.clone(), None),
                _ if change.origin.platform == platform => {
                    (change.origin.channel.clone(), change.origin.thread.clone())
                }
                _ => {
                    return Ok(Err(DeliveryError::Permanent(format!(
                        "{} has no channel on {platform}",
                        change.reference()
                    ))))
                }
            };
            return Ok(Ok(Job::Card {
                ticket_id,
                posted,
                home,
                card,
            }));
        }
        Ok(Err(DeliveryError::Permanent(format!(
            "ticket {ticket_id} has no card to deliver"
        ))))
    }

    /// Sends a prepared job; a card says where it landed.
    async fn send(&self, job: &Job) -> Result<Option<PostedMessage>, DeliveryError> {
        match job {
            Job::Card {
                posted: Some(posted),
                card,
                ..
            } => {
                self.deliver.update_card(posted, card).await?;
                Ok(Some(posted.clone()))
            }
            Job::Card {
                posted: None,
                home,
                card,
                ..
            } => self
                .deliver
                .post_card(&home.0, home.1.as_deref(), card)
                .await
                .map(Some),
            Job::Survey { reporter, survey } => self
                .deliver
                .send_survey(reporter, survey)
                .await
                .map(|()| None),
            Job::Notice {
                channel,
                thread,
                notice,
            } => self
                .deliver
                .post_notice(channel, thread.as_deref(), notice)
                .await
                .map(|()| None),
        }
    }

    /// Records every sent row of a batch in one statement. Should that
    /// statement break a constraint, each sent row is recorded on its own,
    /// so one bad row does not hold the others back.
    async fn record_sent(&self, done: &[Done<'_>]) -> Result<(), StoreError> {
        let sent: Vec<&Done<'_>> = done.iter().filter(|done| done.result.is_ok()).collect();
        if sent.is_empty() {
            return Ok(());
        }
        match self.until_recorded(|| self.mark_sent(&sent)).await {
            Err(StoreError::Unavailable(err)) => Err(StoreError::Unavailable(err)),
            Err(err) if sent.len() > 1 => {
                tracing::warn!(error = %err, rows = sent.len(), "could not record a batch of deliveries; recording them one by one");
                for done in sent {
                    self.record(done).await?;
                }
                Ok(())
            }
            Err(_) => self.record(sent[0]).await,
            Ok(()) => Ok(()),
        }
    }

    /// Records one sent or failed row.
    async fn record(&self, done: &Done<'_>) -> Result<(), StoreError> {
        let store_err = match self.until_recorded(|| self.record_once(done)).await {
            Ok(()) => return Ok(()),
            Err(StoreError::Unavailable(err)) => return Err(StoreError::Unavailable(err)),
            Err(store_err) => store_err,
        };
        // Recording broke a constraint: count the attempt in a fresh
        // transaction, so the row backs off and is parked in the end
        // instead of being re-sent every second.
        tracing::warn!(error = %store_err, outbox_id = done.item.id, "could not record a delivery");
        let failure = DeliveryError::Retry {
            reason: store_err.to_string(),
            after: None,
        };
        let now = self.clock.now();
        let retry_at = self.retry_at(done.item, &failure, now);
        let mut retry = self.store.begin().await?;
        store::outbox::mark_failed(&mut retry, done.item, &failure.to_string(), retry_at, now)
            .await?;
        store::outbox::release(&mut retry, done.covered).await?;
        retry.commit().await?;
        Ok(())
    }

    /// Runs `record` until it works, fails for a reason other than the
    /// database being away, or the lease runs out: the messages went out,
    /// and saying so is what stops them going out again.
    async fn until_recorded<F, Fut>(&self, record: F) -> Result<(), StoreError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<(), StoreError>>,
    {
        let platform = self.deliver.platform();
        // Wall time, not the injected clock: this bounds real waiting.
        let give_up = std::time::Instant::now() + LEASE.to_std().unwrap_or(POLL);
        loop {
            match record().await {
                Err(StoreError::Unavailable(err)) if std::time::Instant::now() < give_up => {
                    tracing::warn!(error = %err, %platform, "could not record a delivery yet; retrying");
                    tokio::time::sleep(RECORD_RETRY).await;
                }
                attempt => return attempt,
            }
        }
    }

    /// Marks `sent` rows sent and records where their cards landed, in one
    /// statement: no transaction to open and commit.
    async fn mark_sent(&self, sent: &[&Done<'_>]) -> Result<(), StoreError> {
        let ids: Vec<i64> = sent
            .iter()
            .flat_map(|done| done.covered.iter().copied())
            .collect();
        let cards: Vec<(i64, &PostedMessage)> =
            sent.iter().filter_map(|done| done.card()).collect();
        let mut conn = self.store.acquire().await?;
        store::outbox::mark_sent(
            &mut conn,
            &ids,
            self.deliver.platform(),
            &cards,
            self.clock.now(),
        )
        .await
    }

    async fn record_once(&self, done: &Done<'_>) -> Result<(), StoreError> {
        let err = match &done.result {
            Ok(_) => return self.mark_sent(&[done]).await,
            Err(err) => err,
        };
        let now = self.clock.now();
        let retry_at = self.retry_at(done.item, err, now);
        let mut tx = self.store.begin().await?;
        store::outbox::mark_failed(&mut tx, done.item, &err.to_string(), retry_at, now).await?;
        store::outbox::release(&mut tx, done.covered).await?;
        tx.commit().await?;
        Ok(())
    }

    /// When to try a failed row again, or `None` to park it.
    fn retry_at(
        &self,
        item: &OutboxItem,
        err: &DeliveryError,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Option<chrono::DateTime<chrono::Utc>> {
        match err {
            DeliveryError::Retry { after, .. }
                if item.attempts + 1 < self.config.outbox.max_attempts =>
            {
                let wait = after.unwrap_or_else(|| backoff(item.attempts));
                Some(
                    now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::seconds(60)),
                )
            }
            _ => None,
        }
    }
}

/// What a claimed row asks to send, read and rendered under the claim.
enum Job {
    /// A ticket's card: edited in place when `posted`, else posted in `home`
    /// (channel, thread).
    Card {
        ticket_id: i64,
        posted: Option<PostedMessage>,
        home: (String, Option<String>),
        card: Message,
    },
    Survey {
        reporter: UserId,
        survey: Message,
    },
    Notice {
        channel: String,
        thread: Option<String>,
        notice: Message,
    },
}

/// What one claim took: how many rows, and those it leased, rendered.
struct Claim {
    /// Rows claimed, leased or not (a card another worker holds is not).
    claimed: usize,
    leased: Vec<Leased>,
}

/// A leased row, the rows its send stands for, and what to send.
struct Leased {
    item: OutboxItem,
    covered: Vec<i64>,
    job: Result<Job, DeliveryError>,
}

/// A claimed row after its send: what it covered and how it went.
struct Done<'a> {
    item: &'a OutboxItem,
    /// The rows the send stands for (a card's coalesced updates).
    covered: &'a [i64],
    job: Option<&'a Job>,
    result: Result<Option<PostedMessage>, DeliveryError>,
}

impl Done<'_> {
    /// The ticket and message of a card that was posted or edited.
    fn card(&self) -> Option<(i64, &PostedMessage)> {
        match (&self.result, self.job) {
            (Ok(Some(posted)), Some(Job::Card { ticket_id, .. })) => Some((*ticket_id, posted)),
            _ => None,
        }
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

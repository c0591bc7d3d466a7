//! Delivering the outbox: ticket cards (posted once, then edited in place)
//! and satisfaction surveys. The worker is the same for every platform; a
//! [`Deliver`] implementation renders and sends for one platform.

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use crate::clock::Clock;
use crate::commands::reply::Message;
use crate::commands::view;
use crate::config::Config;
use crate::domain::pace::Pace;
use crate::domain::{Platform, UserId};
use crate::lifecycle::Shutdown;
use crate::metrics::Metrics;
use crate::queue::{self, DoneOf, Queue, Tuning, Worker};
use crate::store::incidents::CardSource;
use crate::store::messages::PostedMessage;
use crate::store::outbox::{OutboxItem, OutboxKind};
use crate::store::queue::Queue as StoreQueue;
use crate::store::{self, Store, StoreError};

/// Why a delivery failed: the queue's [`SendError`], under the name the
/// adapters know it by.
pub use crate::queue::SendError as DeliveryError;

/// What one send does, as far as the platform's rate limits care.
#[derive(Debug, Clone, Copy)]
pub enum Sending<'a> {
    /// A new message in `channel` (in `thread` when given): a card or a
    /// notice.
    Post {
        channel: &'a str,
        thread: Option<&'a str>,
    },
    /// An edit of a message in `channel`.
    Edit { channel: &'a str },
    /// A direct message to `user` (a survey).
    Direct { user: &'a UserId },
}

/// Sends rendered messages to one platform.
pub trait Deliver: Send + Sync + 'static {
    /// The platform this delivers to.
    fn platform(&self) -> Platform;

    /// The pace `sending` must keep to stay under the platform's documented
    /// limits, or `None` when it need not be paced. The outbox takes every
    /// send from its key's budget in the database, so replicas share it.
    fn pace(&self, sending: Sending<'_>) -> Option<Pace> {
        let _ = sending;
        None
    }

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

    /// Sends `message` to `person` directly (a satisfaction survey, an
    /// approver's Approve / Reject, a requester told of a step).
    fn send_direct(
        &self,
        person: &UserId,
        message: &Message,
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

/// Delivery lanes per platform in one process. Every claim and record
/// commits, and a commit waits for the disk to flush the WAL; lanes side by
/// side share flushes, and one lane's slow send does not hold up the rest.
/// The claim keeps them (and replicas) apart.
const LANES: usize = 2;
/// Rows one claim takes at most. A batch is sent side by side, so this also
/// bounds one lane's requests in flight.
const BATCH: i64 = 16;

/// The outbox of one platform, for the shared [`Worker`]: what it adds to
/// the queue is coalescing (one send per card, covering every waiting
/// update of it) and rendering under the claim.
pub struct OutboxQueue<D> {
    store: Store,
    deliver: Arc<D>,
    clock: Arc<dyn Clock>,
    /// The SLA policy (incident cards) and the CAB channel (change cards).
    config: Arc<Config>,
    /// 429s received and rows coalesced.
    metrics: Metrics,
}

/// Claims outbox rows for one platform and delivers them.
pub struct OutboxWorker<D>(Worker<OutboxQueue<D>>);

impl<D: Deliver> OutboxWorker<D> {
    /// A worker delivering through `deliver`, woken by `signal`, counting in
    /// `metrics`.
    pub fn new(
        store: Store,
        deliver: Arc<D>,
        clock: Arc<dyn Clock>,
        signal: Arc<Notify>,
        config: Arc<Config>,
        metrics: Metrics,
    ) -> Self {
        let max_attempts = config.outbox.max_attempts;
        let queue = OutboxQueue {
            store,
            deliver,
            clock: clock.clone(),
            config,
            metrics,
        };
        OutboxWorker(Worker::new(queue, clock, signal, max_attempts))
    }

    /// Delivers until the last step of shutdown ([`Shutdown::wait_final`]),
    /// then delivers what is due one last time and returns. It keeps
    /// delivering while in-flight commands finish, so their cards go out
    /// before the process exits; the caller bounds the final flush (a
    /// platform that hangs is abandoned, and its rows stay for the next
    /// replica).
    pub async fn run(self, mut shutdown: Shutdown) {
        self.0.run(async move { shutdown.wait_final().await }).await;
    }

    /// Delivers every due row; returns how many rows it handled.
    pub async fn drain(&self) -> Result<usize, StoreError> {
        Ok(self.0.drain().await?.handled)
    }
}

impl queue::Job for Leased {
    fn id(&self) -> i64 {
        self.item.id
    }

    fn attempts(&self) -> i32 {
        self.item.attempts
    }
}

impl<D: Deliver> Queue for OutboxQueue<D> {
    type Job = Leased;
    type Sent = Option<PostedMessage>;
    type Error = DeliveryError;
    type Recorded = ();

    fn name(&self) -> String {
        format!("outbox ({})", self.deliver.platform())
    }

    fn tuning(&self) -> Tuning {
        Tuning {
            lanes: LANES,
            batch: BATCH,
        }
    }

    async fn claim(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: i64,
    ) -> Result<queue::Claim<Leased>, StoreError> {
        Ok(self
            .claim_batch(now, until, limit)
            .await?
            .unwrap_or(queue::Claim {
                claimed: 0,
                jobs: Vec::new(),
            }))
    }

    async fn send(&self, leased: &Leased) -> Result<Option<PostedMessage>, DeliveryError> {
        match &leased.job {
            Ok(job) => self.send_job(job).await,
            Err(err) => Err(err.clone()),
        }
    }

    /// Sent rows are recorded in one statement (no transaction to open and
    /// commit), with where their cards landed; a failed row is counted and
    /// the updates its send stood for are given back, together.
    async fn record(&self, done: &[&DoneOf<'_, Self>]) -> Result<Vec<()>, StoreError> {
        let platform = self.deliver.platform();
        let sent: Vec<&&DoneOf<'_, Self>> = done.iter().filter(|d| d.result.is_ok()).collect();
        if let Some(first) = sent.first() {
            let ids: Vec<i64> = sent
                .iter()
                .flat_map(|done| done.job.covered.iter().copied())
                .collect();
            let cards: Vec<(i64, &PostedMessage)> =
                sent.iter().filter_map(|done| card(done)).collect();
            let mut conn = self.store.acquire().await?;
            store::outbox::mark_sent(&mut conn, &ids, platform, &cards, first.at).await?;
            for done in &sent {
                if let (Ok(Some(posted)), Ok(Job::Summary { summary, .. })) =
                    (&done.result, &done.job.job)
                {
                    store::outbox::summary_posted(&mut conn, *summary, posted).await?;
                }
            }
            let folded = sent
                .iter()
                .filter(|done| matches!(done.job.job, Ok(Job::Card { .. })))
                .map(|done| done.job.covered.len().saturating_sub(1))
                .sum::<usize>();
            self.metrics
                .coalesced(platform.as_str(), "edit", folded as u64);
        }
        for done in done {
            let Err(err) = &done.result else { continue };
            if matches!(err, DeliveryError::RateLimited { .. }) {
                self.metrics.rate_limited(platform.as_str());
            }
            let mut tx = self.store.begin().await?;
            let item = &done.job.item;
            store::queue::mark_failed(
                &mut tx,
                StoreQueue::Outbox,
                item.id,
                &err.to_string(),
                done.retry_at,
                done.at,
            )
            .await?;
            store::queue::release(&mut tx, StoreQueue::Outbox, &done.job.covered).await?;
            tx.commit().await?;
        }
        Ok(Vec::new())
    }
}

impl<D: Deliver> OutboxQueue<D> {
    /// Claims up to `limit` due rows, leases what no other worker holds
    /// until `until` and renders it, in one transaction; `None` when nothing
    /// is due.
    async fn claim_batch(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Option<queue::Claim<Leased>>, StoreError> {
        let platform = self.deliver.platform();
        let mut tx = self.store.begin().await?;
        let items = store::outbox::claim(&mut tx, platform, now, limit).await?;
        if items.is_empty() {
            return Ok(None);
        }
        // One row per card leads; the card's other waiting rows are covered
        // by its lease.
        let mut leads: Vec<(i64, &OutboxItem)> = Vec::new();
        // Likewise one row per summary; its other rows in the batch ride
        // along.
        let mut summaries: Vec<(i64, &OutboxItem, Vec<i64>)> = Vec::new();
        let mut others = Vec::new();
        for item in &items {
            match (item.kind, item.ticket_id, item.summary_id) {
                (OutboxKind::TicketMessage, Some(ticket), _) => {
                    if !leads.iter().any(|(led, _)| *led == ticket) {
                        leads.push((ticket, item));
                    }
                }
                (OutboxKind::Summary, _, Some(summary)) => {
                    match summaries.iter_mut().find(|(led, _, _)| *led == summary) {
                        Some((_, _, covered)) => covered.push(item.id),
                        None => summaries.push((summary, item, vec![item.id])),
                    }
                }
                _ => others.push(item.id),
            }
        }
        let ids: Vec<i64> = summaries.iter().map(|(summary, _, _)| *summary).collect();
        let free = store::outbox::try_lock_summaries(&mut tx, &ids, now).await?;
        // A summary another worker sends is left to it.
        summaries.retain(|(summary, _, _)| free.contains(summary));
        others.extend(
            summaries
                .iter()
                .flat_map(|(_, _, covered)| covered.iter().copied()),
        );
        let tickets: Vec<i64> = leads.iter().map(|(ticket, _)| *ticket).collect();
        let locked = store::outbox::try_lock_tickets(&mut tx, &tickets).await?;
        let cards: Vec<(i64, i64)> = leads
            .iter()
            .filter(|(ticket, _)| locked.contains(ticket))
            .map(|(ticket, item)| (*ticket, item.id))
            .collect();
        let leases =
            store::outbox::lease_batch(&mut tx, platform, &cards, &others, now, until).await?;
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
                .filter(|item| others.contains(&item.id) && item.kind != OutboxKind::Summary)
                .map(|item| (item, vec![item.id])),
        );
        batch.extend(
            summaries
                .iter()
                .map(|(_, item, covered)| (*item, covered.clone())),
        );
        // Cards whose channel is known (an incident's is written when it
        // opens) are folded into summaries before anything is read to
        // render them: through a storm nearly every card is, and reading
        // and rendering each one first was a third of a claim's time.
        let known: Vec<Candidate<'_>> = batch
            .iter()
            .filter(|(item, _)| item.kind == OutboxKind::TicketMessage)
            .filter_map(|(item, covered)| {
                Some(Candidate {
                    ticket: item.ticket_id?,
                    channel: item.channel.as_deref(),
                    rows: covered,
                })
            })
            .collect();
        let folded = self.coalesce(&mut tx, &known, now).await?;
        let batch: Vec<(&OutboxItem, Vec<i64>)> = batch
            .into_iter()
            .filter(|(_, covered)| !any_folded(covered, &folded))
            .collect();
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
        let leased = self.coalesce_rendered(&mut tx, leased, now).await?;
        let leased = self.pace(&mut tx, leased, now).await?;
        tx.commit().await?;
        Ok(Some(queue::Claim {
            claimed: items.len(),
            jobs: leased,
        }))
    }

    /// Folds the new cards of rendered jobs whose channel was not known
    /// before rendering (an older row, or a change's or request's card)
    /// as [`coalesce`](Self::coalesce) does, after noting their channel on
    /// their rows. Returns the jobs still to send.
    async fn coalesce_rendered(
        &self,
        conn: &mut sqlx::PgConnection,
        leased: Vec<Leased>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Leased>, StoreError> {
        let posts: Vec<Candidate<'_>> = leased
            .iter()
            .filter(|leased| leased.item.channel.is_none())
            .filter_map(|leased| match &leased.job {
                Ok(Job::Card {
                    ticket_id,
                    posted: None,
                    home,
                    ..
                }) => Some(Candidate {
                    ticket: *ticket_id,
                    channel: Some(home.0.as_str()),
                    rows: &leased.covered,
                }),
                _ => None,
            })
            .collect();
        if posts.is_empty() {
            return Ok(leased);
        }
        let noted: Vec<(i64, &str)> = posts
            .iter()
            .flat_map(|post| {
                let rows = post.rows;
                post.channel
                    .into_iter()
                    .flat_map(move |channel| rows.iter().map(move |id| (*id, channel)))
            })
            .collect();
        store::outbox::note_channels(conn, &noted).await?;
        let folded = self.coalesce(conn, &posts, now).await?;
        Ok(leased
            .into_iter()
            .filter(|leased| !any_folded(&leased.covered, &folded))
            .collect())
    }

    /// Lists new cards in their channel's summary post instead of posting
    /// them, where posting them one by one would take longer than
    /// `outbox.coalesce_after` at the platform's pace (or the channel's
    /// summary is still open from such a backlog); and folds a change of a
    /// ticket already listed in a summary into an edit of that summary.
    /// A card whose ticket has been posted on its own is left alone.
    /// Returns the rows folded.
    async fn coalesce(
        &self,
        conn: &mut sqlx::PgConnection,
        cards: &[Candidate<'_>],
        now: DateTime<Utc>,
    ) -> Result<Vec<i64>, StoreError> {
        if cards.is_empty() {
            return Ok(Vec::new());
        }
        let platform = self.deliver.platform();
        let tickets: Vec<i64> = cards.iter().map(|card| card.ticket).collect();
        let listed = store::outbox::summaries_of(conn, platform, &tickets).await?;
        // One fold (and one queued edit) per summary for the whole claim:
        // in a storm most jobs of a claim are changes of tickets the same
        // summary lists, and a statement pair per job held the claim's
        // transaction (and its card locks) for as many round trips.
        let mut folded: Vec<i64> = Vec::new();
        let mut folds: Vec<(i64, &str, Vec<i64>)> = Vec::new();
        for card in cards {
            let Some((_, summary, channel)) = listed.iter().find(|(t, _, _)| *t == card.ticket)
            else {
                continue;
            };
            match folds.iter_mut().find(|(s, _, _)| s == summary) {
                Some((_, _, ids)) => ids.extend(card.rows),
                None => folds.push((*summary, channel.as_str(), card.rows.to_vec())),
            }
        }
        for (summary, channel, ids) in &folds {
            store::outbox::fold_into_summary(conn, platform, ids, *summary, channel, now).await?;
            self.metrics
                .coalesced(platform.as_str(), "summary", ids.len() as u64);
            folded.extend(ids);
        }
        let after = self.config.outbox.coalesce_after();
        let mut channels: Vec<&str> = cards
            .iter()
            .filter(|card| !any_folded(card.rows, &folded))
            .filter_map(|card| card.channel)
            .collect();
        channels.sort_unstable();
        channels.dedup();
        for channel in channels {
            let pace = self.deliver.pace(Sending::Post {
                channel,
                thread: None,
            });
            let open = store::outbox::open_summary(conn, platform, channel, now, after).await?;
            let storm = match (&open, &pace) {
                (Some(_), _) => true,
                (None, Some(pace)) => {
                    let backlog = store::outbox::post_backlog(conn, platform, channel).await?;
                    pace.drain_time(u32::try_from(backlog).unwrap_or(u32::MAX)) > after
                }
                (None, None) => false,
            };
            if !storm {
                continue;
            }
            let mine: Vec<i64> = cards
                .iter()
                .filter(|card| card.channel == Some(channel))
                .filter(|card| !any_folded(card.rows, &folded))
                .flat_map(|card| card.rows.iter().copied())
                .collect();
            let (summary, taken) =
                store::outbox::summarize(conn, platform, channel, &mine, now).await?;
            let joined = taken.len() as u64;
            if joined > 0 {
                tracing::info!(
                    platform = %platform,
                    channel,
                    summary,
                    joined,
                    "a channel's backlog of cards is listed in one summary post"
                );
            }
            self.metrics.coalesced(platform.as_str(), "summary", joined);
            folded.extend(taken);
        }
        Ok(folded)
    }

    /// Keeps the jobs whose pace allows a send now and gives the others
    /// back until their key's next turn, in the claim's transaction: the
    /// pace rows are locked until it commits, so a claim in another
    /// replica waits for this one's sends to be counted. Jobs keep their
    /// order, so a channel's posts go out oldest first.
    async fn pace(
        &self,
        conn: &mut sqlx::PgConnection,
        leased: Vec<Leased>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Leased>, StoreError> {
        let paces: Vec<Option<Pace>> = leased
            .iter()
            .map(|leased| {
                let sending = leased.job.as_ref().ok()?.sending();
                self.deliver.pace(sending)
            })
            .collect();
        let mut wanted: Vec<(&Pace, u32)> = Vec::new();
        for pace in paces.iter().flatten() {
            match wanted.iter_mut().find(|(p, _)| p.key == pace.key) {
                Some((_, count)) => *count += 1,
                None => wanted.push((pace, 1)),
            }
        }
        if wanted.is_empty() {
            return Ok(leased);
        }
        let platform = self.deliver.platform();
        let taken = store::outbox::take_pace(conn, platform, &wanted, now).await?;
        let mut budget: Vec<(&str, u32, DateTime<Utc>)> = wanted
            .iter()
            .zip(&taken)
            .map(|((pace, _), (granted, next))| (pace.key.as_str(), *granted, *next))
            .collect();
        let mut kept = Vec::with_capacity(leased.len());
        for (leased, pace) in leased.into_iter().zip(&paces) {
            let Some(pace) = pace else {
                kept.push(leased);
                continue;
            };
            let Some((_, left, next)) = budget.iter_mut().find(|(key, _, _)| *key == pace.key)
            else {
                kept.push(leased);
                continue;
            };
            if *left > 0 {
                *left -= 1;
                kept.push(leased);
            } else {
                let channel = match &leased.job {
                    Ok(Job::Card { .. }) => leased.job.as_ref().ok().and_then(Job::channel),
                    _ => None,
                };
                store::outbox::defer(conn, &leased.covered, *next, channel).await?;
            }
        }
        Ok(kept)
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
        if let (OutboxKind::Summary, Some(summary)) = (item.kind, item.summary_id) {
            let shown = view::summary::SHOWN as i64;
            let Some(post) = store::outbox::summary_post(conn, summary, shown).await? else {
                return Ok(Err(DeliveryError::Permanent(format!(
                    "summary {summary} is gone"
                ))));
            };
            let first: Vec<view::summary::SummaryLine> = post
                .tickets
                .into_iter()
                .map(
                    |(reference, title, priority, status)| view::summary::SummaryLine {
                        reference,
                        title,
                        priority,
                        status,
                    },
                )
                .collect();
            let list = view::summary::SummaryList {
                first,
                listed: usize::try_from(post.listed).unwrap_or(0),
                incidents_only: post.listed_incidents == post.listed,
            };
            return Ok(Ok(Job::Summary {
                summary,
                channel: post.channel,
                posted: post.posted,
                message: view::summary::summary_message(&list),
            }));
        }
        let addressed = matches!(item.kind, OutboxKind::Notice | OutboxKind::Direct);
        let Some(ticket_id) = item.ticket_id.filter(|_| !addressed) else {
            return Ok(match (item.kind, &item.channel, &item.body) {
                (OutboxKind::Direct, Some(person), Some(body)) => {
                    match UserId::new(platform, person) {
                        Ok(to) => Ok(Job::Direct {
                            to,
                            message: serde_json::from_str::<Message>(body)
                                .unwrap_or_else(|_| Message::text(body.clone())),
                        }),
                        Err(err) => Err(DeliveryError::Permanent(format!(
                            "a direct message to `{person}`: {err}"
                        ))),
                    }
                }
                (OutboxKind::Notice, Some(channel), Some(body)) => Ok(Job::Notice {
                    channel: channel.clone(),
                    thread: item.thread.clone(),
                    // Notices keep their blocks as JSON; older plain-text rows
                    // still deliver as a paragraph.
                    notice: serde_json::from_str::<Message>(body)
                        .unwrap_or_else(|_| Message::text(body.clone())),
                }),
                (OutboxKind::Notice | OutboxKind::Direct, _, _) => Err(DeliveryError::Permanent(
                    "a notice or direct message without a channel or text".into(),
                )),
                _ => Err(DeliveryError::Permanent(
                    "a card or survey without a ticket".into(),
                )),
            });
        };
        if let Some(source) = source {
            let incident = &source.incident;
            if item.kind == OutboxKind::Survey {
                return Ok(Ok(Job::Direct {
                    to: incident.reporter.clone(),
                    message: view::incident::survey_message(incident),
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
                card: view::incident::incident_message(
                    incident,
                    &clocks,
                    source.alerts.as_ref(),
                    self.config.locale.zone(),
                ),
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
            let card = view::change::cab_card(conn, &self.config.change, &change).await?;
            let Some(home) = view::change::cab_card_home(&self.config.change, &change, platform)
            else {
                return Ok(Err(DeliveryError::Permanent(format!(
                    "{} has no channel on {platform}",
                    change.reference()
                ))));
            };
            return Ok(Ok(Job::Card {
                ticket_id,
                posted,
                home,
                card,
            }));
        }
        if let Some(request) = store::requests::get_by_id(conn, ticket_id).await? {
            if item.kind == OutboxKind::Survey {
                return Ok(Ok(Job::Direct {
                    to: request.requester.clone(),
                    message: view::request::survey_message(&request),
                }));
            }
            // Posted in the team's channel (or where it was asked); edited
            // in place after that.
            let item = self.config.requests.item(&request.item);
            let posted = store::messages::find(conn, ticket_id, platform).await?;
            let home = view::request::card_home(&request, item, platform);
            let Some(home) = home.or_else(|| {
                posted
                    .as_ref()
                    .map(|p| (p.channel.clone(), Some(p.thread.clone())))
            }) else {
                return Ok(Err(DeliveryError::Permanent(format!(
                    "{} has no channel on {platform}",
                    request.reference()
                ))));
            };
            let now = self.clock.now();
            let events = store::timeline::list(conn, ticket_id).await?;
            let card = view::request::team_card(
                &request,
                item,
                view::request::clock_of(&self.config.requests, &request, &events, now),
                self.config.locale.zone(),
                now,
            );
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
    async fn send_job(&self, job: &Job) -> Result<Option<PostedMessage>, DeliveryError> {
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
            Job::Summary {
                posted: Some(posted),
                message,
                ..
            } => {
                self.deliver.update_card(posted, message).await?;
                Ok(Some(posted.clone()))
            }
            Job::Summary {
                posted: None,
                channel,
                message,
                ..
            } => self
                .deliver
                .post_card(channel, None, message)
                .await
                .map(Some),
            Job::Direct { to, message } => {
                self.deliver.send_direct(to, message).await.map(|()| None)
            }
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
    /// A channel's summary post: edited in place when `posted`, else
    /// posted in `channel`.
    Summary {
        summary: i64,
        channel: String,
        posted: Option<PostedMessage>,
        message: Message,
    },
    /// A message to one person: a survey, or a direct message row.
    Direct { to: UserId, message: Message },
    Notice {
        channel: String,
        thread: Option<String>,
        notice: Message,
    },
}

impl Job {
    /// What sending it does, for pacing.
    fn sending(&self) -> Sending<'_> {
        match self {
            Job::Card {
                posted: Some(posted),
                ..
            } => Sending::Edit {
                channel: &posted.channel,
            },
            Job::Card {
                posted: None, home, ..
            } => Sending::Post {
                channel: &home.0,
                thread: home.1.as_deref(),
            },
            Job::Summary {
                posted: Some(posted),
                ..
            } => Sending::Edit {
                channel: &posted.channel,
            },
            Job::Summary { channel, .. } => Sending::Post {
                channel,
                thread: None,
            },
            Job::Direct { to, .. } => Sending::Direct { user: to },
            Job::Notice {
                channel, thread, ..
            } => Sending::Post {
                channel,
                thread: thread.as_deref(),
            },
        }
    }

    /// The channel a card goes to (its message's, or its home).
    fn channel(&self) -> Option<&str> {
        match self {
            Job::Card {
                posted: Some(posted),
                ..
            } => Some(&posted.channel),
            Job::Card { home, .. } => Some(&home.0),
            _ => None,
        }
    }
}

/// Whether any of a job's `rows` were folded into a summary (a job's rows
/// are folded all together or not at all).
fn any_folded(rows: &[i64], folded: &[i64]) -> bool {
    rows.iter().any(|id| folded.contains(id))
}

/// A card row a claim may fold into a summary: its ticket, its channel
/// when known, and the rows its send would cover.
struct Candidate<'a> {
    ticket: i64,
    channel: Option<&'a str>,
    rows: &'a [i64],
}

/// A leased row, the rows its send stands for, and what to send.
pub struct Leased {
    item: OutboxItem,
    covered: Vec<i64>,
    job: Result<Job, DeliveryError>,
}

/// The ticket and message of a card that was posted or edited.
fn card<'a>(
    done: &'a queue::Done<'_, Leased, Option<PostedMessage>, DeliveryError>,
) -> Option<(i64, &'a PostedMessage)> {
    match (&done.result, &done.job.job) {
        (Ok(Some(posted)), Ok(Job::Card { ticket_id, .. })) => Some((*ticket_id, posted)),
        _ => None,
    }
}

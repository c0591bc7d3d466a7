//! One durable work queue, for everything the bot owes the outside world:
//! chat posts (the outbox), paging-hook events and automation calls.
//!
//! Each kind of row is written in the transaction of the change that owes
//! it, and a [`Worker`] delivers it the same way whatever it is:
//!
//! 1. **claim** a batch of due rows (`FOR UPDATE SKIP LOCKED`) and **lease**
//!    them, committed before anything is sent, so another worker or replica
//!    does not send them too while this one waits for an answer;
//! 2. **send** the batch side by side, holding no database connection;
//! 3. **record** each result: sent, or failed and tried again after
//!    [`backoff`] (with jitter, never sooner than a `Retry-After`), or parked
//!    once a permanent failure or the last of `outbox.max_attempts` says
//!    trying again is pointless. Recording is retried while the database is
//!    away, up to the lease: what went out must be recorded, or it goes out
//!    again.
//!
//! A [`Queue`] says what is particular to its rows: which rows one claim may
//! take together, how to send one, what a sent row records. The SQL all
//! queues share is in [`crate::store::queue`].

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{watch, Notify};

use crate::clock::Clock;
use crate::store::StoreError;

/// How often a worker looks for due rows when nothing woke it.
pub const POLL: Duration = Duration::from_secs(1);
/// How long a claimed row is its worker's: longer than a send may take
/// ([`SEND_TIMEOUT`]), long enough to ride out a database restart between
/// sending and recording, short enough that a row whose worker died
/// mid-send goes out again soon.
pub const LEASE: chrono::Duration = chrono::Duration::seconds(30);
/// How long one outbound request may take before it counts as a temporary
/// failure.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a worker tries again to record a result while the database is
/// away.
const RECORD_RETRY: Duration = Duration::from_millis(500);
/// The longest backoff between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// The most jitter added to a wait.
const MAX_JITTER: Duration = Duration::from_secs(1);

/// Why a send failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth trying again (rate limits, 5xx, timeouts, no connection), after
    /// `after` if the other side said so (`Retry-After`).
    #[error("temporary failure: {reason}")]
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    /// Will not work however often it is tried (bad channel, revoked token,
    /// a 4xx answer).
    #[error("permanent failure: {0}")]
    Permanent(String),
    /// The other side answered 429: tried again after `after` (its
    /// `Retry-After`) or the backoff. Counted apart, because the outbox
    /// paces itself so as never to earn one.
    #[error("rate limited: {reason}")]
    RateLimited {
        reason: String,
        after: Option<Duration>,
    },
}

impl SendError {
    /// A temporary failure with no `Retry-After`.
    pub fn retry(reason: impl Into<String>) -> Self {
        SendError::Retry {
            reason: reason.into(),
            after: None,
        }
    }

    /// What went wrong, without the "temporary failure" prefix.
    pub fn reason(&self) -> &str {
        match self {
            SendError::Retry { reason, .. }
            | SendError::RateLimited { reason, .. }
            | SendError::Permanent(reason) => reason,
        }
    }
}

/// The wait a `Retry-After` header asks for: delay-seconds, or an HTTP date
/// (read against `now`). `None` when absent or unreadable.
pub fn retry_after(headers: &axum::http::HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let value = headers
        .get(axum::http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    // IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") is RFC 2822 with GMT.
    let at = DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        (at.with_timezone(&Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

/// Exponential backoff with jitter after `attempts` failed attempts: about
/// 1 s, 2 s, 4 s … up to 5 minutes. The jitter (up to a quarter of the
/// wait, at most 1 s) keeps rows that failed together — a platform outage,
/// a burst of 429s — from all coming back in the same instant.
pub fn backoff(attempts: i32) -> Duration {
    let exponent = u32::try_from(attempts.clamp(0, 9)).unwrap_or(0);
    let base = Duration::from_secs(2_u64.saturating_pow(exponent)).min(MAX_BACKOFF);
    base + jitter(base)
}

/// A random wait in `[0, min(wait / 4, 1 s))`.
fn jitter(wait: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let bound = u64::try_from((wait / 4).min(MAX_JITTER).as_millis()).unwrap_or(0);
    if bound == 0 {
        return Duration::ZERO;
    }
    // A fresh `RandomState` is randomly keyed: random enough to spread
    // retries, with no extra dependency.
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    Duration::from_millis(random % bound)
}

/// When to try again after `err` ended attempt number `attempts + 1` of at
/// most `max_attempts`, or `None` to park the row. A `Retry-After` is
/// honoured as the least wait.
pub fn retry_at(
    err: &SendError,
    attempts: i32,
    max_attempts: i32,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    match err {
        SendError::Retry { after, .. } | SendError::RateLimited { after, .. }
            if attempts + 1 < max_attempts =>
        {
            let wait = match after {
                Some(after) => *after + jitter(*after),
                None => backoff(attempts),
            };
            Some(now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::seconds(300)))
        }
        _ => None,
    }
}

/// A leased row, ready to send.
pub trait Job: Send + Sync {
    /// The row's id (for logs).
    fn id(&self) -> i64;
    /// Attempts made before this one.
    fn attempts(&self) -> i32;
    /// The row's own limit on attempts, when it has one (a runbook call gets
    /// one); otherwise the worker's (`outbox.max_attempts`).
    fn max_attempts(&self) -> Option<i32> {
        None
    }
}

/// What one claim took.
#[derive(Debug)]
pub struct Claim<J> {
    /// Rows the claim found due, leased or not: 0 means the queue is empty
    /// for now. (The outbox finds card rows another worker holds and leaves
    /// them to it.)
    pub claimed: usize,
    /// The rows leased to this worker.
    pub jobs: Vec<J>,
}

/// A sent job and how it went, for [`Queue::record`].
#[derive(Debug)]
pub struct Done<'a, J, S, E> {
    pub job: &'a J,
    pub result: Result<S, E>,
    /// When a failed job is tried again; `None` for a sent or parked one.
    pub retry_at: Option<DateTime<Utc>>,
    /// When the result came in.
    pub at: DateTime<Utc>,
}

impl<J, S, E> Done<'_, J, S, E> {
    /// Whether the failed job is parked (not tried again).
    pub fn parked(&self) -> bool {
        self.result.is_err() && self.retry_at.is_none()
    }
}

/// The [`Done`] of queue `Q`.
pub type DoneOf<'a, Q> = Done<'a, <Q as Queue>::Job, <Q as Queue>::Sent, <Q as Queue>::Error>;

/// How a queue is worked.
#[derive(Debug, Clone, Copy)]
pub struct Tuning {
    /// Workers side by side in one process. Each claim and record commits,
    /// and a commit waits for the WAL flush: lanes share flushes, and one
    /// lane's slow send does not hold up the others.
    pub lanes: usize,
    /// Rows one claim takes at most; also one lane's sends in flight.
    pub batch: i64,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            lanes: 1,
            batch: 16,
        }
    }
}

/// One kind of durable work: what is particular to its rows.
pub trait Queue: Send + Sync + 'static {
    /// A leased row, with what sending it needs.
    type Job: Job;
    /// What a successful send says (where a card landed, an answer's link).
    type Sent: Send + Sync;
    /// Why a send failed; [`SendError`] says whether to try again.
    type Error: AsRef<SendError> + From<SendError> + std::fmt::Display + Send + Sync;
    /// What recording a result hands back (posts for the shell).
    type Recorded: Send;

    /// The name in logs: `outbox (slack)`, `paging hook`, `outbound calls`.
    fn name(&self) -> String;

    /// Lanes and batch size.
    fn tuning(&self) -> Tuning {
        Tuning::default()
    }

    /// Claims up to `limit` due rows and leases them until `until`, and
    /// commits before returning.
    fn claim(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: i64,
    ) -> impl Future<Output = Result<Claim<Self::Job>, StoreError>> + Send;

    /// Sends one job, holding no database connection.
    fn send(&self, job: &Self::Job)
        -> impl Future<Output = Result<Self::Sent, Self::Error>> + Send;

    /// Records the results in `done` (sent or failed, with `retry_at`
    /// decided) and ends their leases. The worker calls it with all sent
    /// jobs of a batch at once and with each failure alone; it retries it
    /// while the database is away, and if recording breaks a constraint it
    /// records each job alone and then as a failed attempt, so a row that
    /// cannot be recorded backs off and is parked in the end instead of
    /// being sent again every second.
    fn record(
        &self,
        done: &[&DoneOf<'_, Self>],
    ) -> impl Future<Output = Result<Vec<Self::Recorded>, StoreError>> + Send;
}

/// What a drain did.
#[derive(Debug)]
pub struct Drained<R> {
    /// Rows claimed (sent, failed, or found leased elsewhere).
    pub handled: usize,
    /// What recording handed back.
    pub recorded: Vec<R>,
}

/// Delivers the rows of one queue.
pub struct Worker<Q> {
    queue: Q,
    clock: Arc<dyn Clock>,
    signal: Arc<Notify>,
    max_attempts: i32,
}

impl<Q: Queue> Worker<Q> {
    /// A worker for `queue`, woken by `signal`, parking rows after
    /// `max_attempts` (`outbox.max_attempts`) unless a row says otherwise.
    pub fn new(queue: Q, clock: Arc<dyn Clock>, signal: Arc<Notify>, max_attempts: i32) -> Self {
        Worker {
            queue,
            clock,
            signal,
            max_attempts,
        }
    }

    /// A worker for `queue` on `engine`'s clock, woken by whatever queues
    /// work (the engine's signal), parking rows after `outbox.max_attempts`.
    pub fn for_engine(queue: Q, engine: &crate::commands::Engine) -> Self {
        Self::new(
            queue,
            engine.clock(),
            engine.outbox_signal(),
            engine.config().outbox.max_attempts,
        )
    }

    /// Delivers until `stop` completes (the last step of shutdown), then
    /// delivers what is due one last time and returns. It keeps delivering
    /// while in-flight commands finish, so what they owe goes out before the
    /// process exits; the caller bounds the final flush (an endpoint that
    /// hangs is abandoned, and its rows stay for the next replica).
    pub async fn run(self, stop: impl Future<Output = ()> + Send) {
        let (stopping, stopped) = watch::channel(false);
        let lanes = self.queue.tuning().lanes.max(1);
        let worker = Arc::new(self);
        let mut running = tokio::task::JoinSet::new();
        for _ in 0..lanes {
            let lane = worker.clone();
            let stopped = stopped.clone();
            running.spawn(async move { lane.run_lane(stopped).await });
        }
        stop.await;
        // Every lane holds a receiver: the send reaches them all.
        let _ = stopping.send(true);
        while running.join_next().await.is_some() {}
    }

    /// One lane: delivers until told to stop, then what is due once more.
    async fn run_lane(&self, mut stopped: watch::Receiver<bool>) {
        let name = self.queue.name();
        loop {
            let notified = self.signal.notified();
            if let Err(err) = self.drain().await {
                tracing::warn!(error = %err, queue = %name, "delivery paused");
            }
            tokio::select! {
                () = notified => {}
                () = tokio::time::sleep(POLL) => {}
                _ = stopped.wait_for(|stop| *stop) => break,
            }
        }
        match self.drain().await {
            Ok(flushed) => {
                tracing::info!(queue = %name, flushed = flushed.handled, "flushed at shutdown")
            }
            Err(err) => tracing::warn!(error = %err, queue = %name, "flush at shutdown failed"),
        }
    }

    /// Delivers every due row.
    pub async fn drain(&self) -> Result<Drained<Q::Recorded>, StoreError> {
        let mut drained = Drained {
            handled: 0,
            recorded: Vec::new(),
        };
        loop {
            match self.deliver_batch().await? {
                None => return Ok(drained),
                Some(batch) => {
                    drained.handled += batch.handled;
                    drained.recorded.extend(batch.recorded);
                }
            }
        }
    }

    /// Claims one batch, sends it side by side and records the results;
    /// `None` when nothing was due.
    ///
    /// The lease is committed *before* anything is sent and the results are
    /// recorded after. So a database that goes away while a request is in
    /// flight cannot hand the row to another replica to send again: the
    /// lease keeps it, and this worker keeps trying to record what it sent
    /// until the database is back (up to the lease). Only a worker that
    /// dies between sending and recording leaves its rows to be sent again
    /// when the lease runs out. The sent rows of a batch share one record:
    /// each commit waits for a WAL flush.
    pub async fn deliver_batch(&self) -> Result<Option<Drained<Q::Recorded>>, StoreError> {
        let now = self.clock.now();
        let claim = self
            .queue
            .claim(now, now + LEASE, self.queue.tuning().batch.max(1))
            .await?;
        if claim.claimed == 0 {
            return Ok(None);
        }
        let results =
            futures_util::future::join_all(claim.jobs.iter().map(|job| self.queue.send(job))).await;
        let at = self.clock.now();
        let done: Vec<DoneOf<'_, Q>> = claim
            .jobs
            .iter()
            .zip(results)
            .map(|(job, result)| self.done(job, result, at))
            .collect();
        let mut recorded = Vec::new();
        let sent: Vec<&DoneOf<'_, Q>> = done.iter().filter(|d| d.result.is_ok()).collect();
        recorded.extend(self.record_batch(&sent).await?);
        for failed in done.iter().filter(|d| d.result.is_err()) {
            recorded.extend(self.record_one(failed).await?);
        }
        Ok(Some(Drained {
            handled: claim.claimed,
            recorded,
        }))
    }

    /// `result` of `job` at `at`, with when to try again decided (and a
    /// failure logged).
    fn done<'a>(
        &self,
        job: &'a Q::Job,
        result: Result<Q::Sent, Q::Error>,
        at: DateTime<Utc>,
    ) -> DoneOf<'a, Q> {
        let retry_at = match &result {
            Ok(_) => None,
            Err(err) => {
                let max = job.max_attempts().unwrap_or(self.max_attempts);
                let retry_at = retry_at(err.as_ref(), job.attempts(), max, at);
                tracing::warn!(
                    error = %err,
                    queue = %self.queue.name(),
                    id = job.id(),
                    attempts = job.attempts() + 1,
                    parked = retry_at.is_none(),
                    "delivery failed"
                );
                retry_at
            }
        };
        Done {
            job,
            result,
            retry_at,
            at,
        }
    }

    /// Records the sent jobs of a batch together. Should that break a
    /// constraint, each is recorded alone, so one bad row does not hold the
    /// others back.
    async fn record_batch(&self, sent: &[&DoneOf<'_, Q>]) -> Result<Vec<Q::Recorded>, StoreError> {
        match sent {
            [] => Ok(Vec::new()),
            [one] => self.record_one(one).await,
            _ => match self.until_recorded(sent).await {
                Err(StoreError::Unavailable(err)) => Err(StoreError::Unavailable(err)),
                Err(err) => {
                    tracing::warn!(error = %err, queue = %self.queue.name(), rows = sent.len(), "could not record a batch; recording its rows one by one");
                    let mut recorded = Vec::new();
                    for done in sent {
                        recorded.extend(self.record_one(done).await?);
                    }
                    Ok(recorded)
                }
                Ok(recorded) => Ok(recorded),
            },
        }
    }

    /// Records one job. Should that break a constraint, the attempt is
    /// recorded as a temporary failure instead, so the row backs off and is
    /// parked in the end instead of being sent again every second.
    async fn record_one(&self, done: &DoneOf<'_, Q>) -> Result<Vec<Q::Recorded>, StoreError> {
        let store_err = match self.until_recorded(&[done]).await {
            Err(StoreError::Unavailable(err)) => return Err(StoreError::Unavailable(err)),
            Err(err) => err,
            Ok(recorded) => return Ok(recorded),
        };
        tracing::warn!(error = %store_err, queue = %self.queue.name(), id = done.job.id(), "could not record a result");
        let failed = self.done(
            done.job,
            Err(SendError::retry(store_err.to_string()).into()),
            self.clock.now(),
        );
        self.queue.record(&[&failed]).await
    }

    /// Runs `record` until it works, fails for a reason other than the
    /// database being away, or the lease runs out: the rows went out, and
    /// saying so is what stops them going out again.
    async fn until_recorded(
        &self,
        done: &[&DoneOf<'_, Q>],
    ) -> Result<Vec<Q::Recorded>, StoreError> {
        // Wall time, not the injected clock: this bounds real waiting.
        let give_up = std::time::Instant::now() + LEASE.to_std().unwrap_or(POLL);
        loop {
            match self.queue.record(done).await {
                Err(StoreError::Unavailable(err)) if std::time::Instant::now() < give_up => {
                    tracing::warn!(error = %err, queue = %self.queue.name(), "could not record a result yet; retrying");
                    tokio::time::sleep(RECORD_RETRY).await;
                }
                attempt => return attempt,
            }
        }
    }
}

impl AsRef<SendError> for SendError {
    fn as_ref(&self) -> &SendError {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap_or_default()
    }

    #[test]
    fn backoff_grows_is_capped_and_its_jitter_bounded() {
        for _ in 0..200 {
            for (attempts, base) in [(0, 1), (1, 2), (3, 8), (8, 256), (9, 300), (50, 300)] {
                let wait = backoff(attempts);
                let base = Duration::from_secs(base);
                assert!(wait >= base, "{attempts}: {wait:?}");
                let jitter = (base / 4).min(MAX_JITTER);
                assert!(
                    wait < base + jitter.max(Duration::from_millis(1)),
                    "{attempts}: {wait:?}"
                );
            }
        }
        assert_eq!(backoff(-3).as_secs(), 1);
    }

    #[test]
    fn jitter_spreads_retries() {
        let waits: std::collections::HashSet<Duration> = (0..50).map(|_| backoff(6)).collect();
        assert!(waits.len() > 1, "{waits:?}");
    }

    #[test]
    fn retry_after_is_the_least_wait() {
        let err = SendError::Retry {
            reason: "429".into(),
            after: Some(Duration::from_secs(30)),
        };
        for _ in 0..100 {
            let again = retry_at(&err, 0, 5, at(0)).unwrap_or_default();
            assert!(again >= at(30) && again < at(31), "{again}");
        }
        // Without one, the backoff decides.
        let again = retry_at(&SendError::retry("503"), 3, 5, at(0)).unwrap_or_default();
        assert!(again >= at(8) && again < at(10), "{again}");
    }

    #[test]
    fn the_last_attempt_and_permanent_failures_park() {
        let temporary = SendError::retry("timed out");
        assert!(retry_at(&temporary, 0, 2, at(0)).is_some());
        assert_eq!(retry_at(&temporary, 1, 2, at(0)), None);
        assert_eq!(retry_at(&temporary, 0, 1, at(0)), None);
        let permanent = SendError::Permanent("channel_not_found".into());
        assert_eq!(retry_at(&permanent, 0, 5, at(0)), None);
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut headers = axum::http::HeaderMap::new();
        assert_eq!(retry_after(&headers, at(0)), None);
        headers.insert("retry-after", axum::http::HeaderValue::from_static("120"));
        assert_eq!(retry_after(&headers, at(0)), Some(Duration::from_secs(120)));
        // 2027-01-15T08:00:00Z is 1_800_000_000.
        headers.insert(
            "retry-after",
            axum::http::HeaderValue::from_static("Fri, 15 Jan 2027 08:00:10 GMT"),
        );
        assert_eq!(retry_after(&headers, at(0)), Some(Duration::from_secs(10)));
        assert_eq!(retry_after(&headers, at(60)), Some(Duration::ZERO));
        headers.insert("retry-after", axum::http::HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers, at(0)), None);
    }
}

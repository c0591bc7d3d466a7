//! SLA state: pauses, the clock rows (each clock's outcome and the
//! checkpoint it posts next), the notification ledger, and scheduled job
//! runs.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::StoreError;
use crate::domain::sla::{Checkpoint, ClockState, ClockView, Pause, SlaClock};

/// The pauses of a ticket's resolve clock, oldest first.
pub async fn pauses(conn: &mut PgConnection, ticket_id: i64) -> Result<Vec<Pause>, StoreError> {
    let rows: Vec<(DateTime<Utc>, Option<DateTime<Utc>>)> = sqlx::query_as(
        "SELECT started_at, ended_at FROM sla_pauses WHERE ticket_id = $1 ORDER BY started_at",
    )
    .bind(ticket_id)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(start, end)| Pause { start, end })
        .collect())
}

/// Starts a pause at `at` (a no-op when one is already open).
pub async fn open_pause(
    conn: &mut PgConnection,
    ticket_id: i64,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO sla_pauses (ticket_id, started_at)
         SELECT $1, $2 WHERE NOT EXISTS (SELECT 1 FROM sla_pauses WHERE ticket_id = $1 AND ended_at IS NULL)
         ON CONFLICT DO NOTHING",
    )
    .bind(ticket_id)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Ends the open pause, if any, at `at`.
pub async fn close_pause(
    conn: &mut PgConnection,
    ticket_id: i64,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE sla_pauses SET ended_at = greatest($2, started_at) WHERE ticket_id = $1 AND ended_at IS NULL")
        .bind(ticket_id)
        .bind(at)
        .execute(conn)
        .await?;
    Ok(())
}

/// Records each clock's current standing for reports and what the sweep
/// posts next for it, in one statement: of `schedule` (every threshold
/// crossing of the running clocks, from [`SlaPolicy::checkpoints`]) each
/// clock's row stands for the earliest one not in the ledger yet; a clock
/// with none left (stopped, paused, or everything posted) stands for
/// nothing.
///
/// [`SlaPolicy::checkpoints`]: crate::domain::sla::SlaPolicy::checkpoints
pub async fn record_clocks(
    conn: &mut PgConnection,
    ticket_id: i64,
    views: &[ClockView],
    schedule: &[Checkpoint],
) -> Result<(), StoreError> {
    let columns = OutcomeColumns::of(views, &[]);
    let schedule = CheckpointColumns::of(schedule);
    sqlx::query(
        "WITH next AS (
            SELECT DISTINCT ON (w.clock) w.clock, w.threshold, w.due_at
              FROM UNNEST($9::text[], $10::smallint[], $11::timestamptz[]) AS w(clock, threshold, due_at)
             WHERE NOT EXISTS (SELECT 1 FROM sla_notifications n
                                WHERE n.ticket_id = $1 AND n.clock = w.clock AND n.threshold = w.threshold)
             ORDER BY w.clock, w.threshold
         )
         INSERT INTO sla_outcomes (ticket_id, clock, target_seconds, due_at, stopped_at, met, margin_seconds,
                                   counted, next_threshold, next_due_at, priority, duplicate)
         SELECT $1, o.clock, o.target_seconds, o.due_at, o.stopped_at, o.met, o.margin_seconds, o.counted,
                next.threshold, next.due_at, t.priority, i.duplicate_of IS NOT NULL
           FROM tickets t JOIN incidents i ON i.ticket_id = t.id,
                UNNEST($2::text[], $3::bigint[], $4::timestamptz[], $5::timestamptz[], $6::bool[],
                       $7::bigint[], $8::bool[])
                AS o(clock, target_seconds, due_at, stopped_at, met, margin_seconds, counted)
           LEFT JOIN next ON next.clock = o.clock
          WHERE t.id = $1
         ON CONFLICT (ticket_id, clock) DO UPDATE SET
            target_seconds = EXCLUDED.target_seconds, due_at = EXCLUDED.due_at,
            stopped_at = EXCLUDED.stopped_at, met = EXCLUDED.met, margin_seconds = EXCLUDED.margin_seconds,
            counted = EXCLUDED.counted, next_threshold = EXCLUDED.next_threshold,
            next_due_at = EXCLUDED.next_due_at",
    )
    .bind(ticket_id)
    .bind(&columns.clocks)
    .bind(&columns.targets)
    .bind(&columns.dues)
    .bind(&columns.stops)
    .bind(&columns.mets)
    .bind(&columns.margins)
    .bind(&columns.counted)
    .bind(&schedule.clocks)
    .bind(&schedule.thresholds)
    .bind(&schedule.dues)
    .execute(conn)
    .await?;
    Ok(())
}

/// Checkpoints as the column arrays `UNNEST` takes, so one statement writes
/// them all.
#[derive(Default)]
pub(super) struct CheckpointColumns {
    pub clocks: Vec<&'static str>,
    pub thresholds: Vec<i16>,
    pub dues: Vec<DateTime<Utc>>,
}

impl CheckpointColumns {
    pub fn of(checkpoints: &[Checkpoint]) -> Self {
        let mut columns = CheckpointColumns::default();
        for checkpoint in checkpoints {
            columns.clocks.push(checkpoint.clock.as_str());
            columns.thresholds.push(i16::from(checkpoint.threshold));
            columns.dues.push(checkpoint.due_at);
        }
        columns
    }
}

/// Clock rows (outcome and next checkpoint) as the column arrays `UNNEST`
/// takes.
#[derive(Default)]
pub(super) struct OutcomeColumns {
    pub clocks: Vec<&'static str>,
    pub targets: Vec<i64>,
    pub dues: Vec<Option<DateTime<Utc>>>,
    pub stops: Vec<Option<DateTime<Utc>>>,
    pub mets: Vec<Option<bool>>,
    pub margins: Vec<Option<i64>>,
    /// False for a clock that ended without a verdict.
    pub counted: Vec<bool>,
    /// The threshold the clock's row stands for, and its instant.
    pub next_thresholds: Vec<Option<i16>>,
    pub next_dues: Vec<Option<DateTime<Utc>>>,
}

impl OutcomeColumns {
    /// `views`, each with the first of `next` on its clock.
    pub fn of(views: &[ClockView], next: &[Checkpoint]) -> Self {
        let mut columns = OutcomeColumns::default();
        columns.extend(views, next);
        columns
    }

    /// Adds `views` after those already held, each with the first of
    /// `next` on its clock.
    pub fn extend(&mut self, views: &[ClockView], next: &[Checkpoint]) {
        for view in views {
            let (met, margin) = match &view.state {
                ClockState::Met { margin } => (Some(true), Some(margin.num_seconds())),
                ClockState::Breached { by, .. } => (Some(false), Some(-by.num_seconds())),
                ClockState::Running { .. } | ClockState::Paused | ClockState::NotCounted => {
                    (None, None)
                }
            };
            let upcoming = next.iter().find(|c| c.clock == view.clock);
            self.counted
                .push(!matches!(view.state, ClockState::NotCounted));
            self.clocks.push(view.clock.as_str());
            self.targets.push(view.target.num_seconds());
            self.dues.push(view.due_at);
            self.stops.push(view.stopped_at);
            self.mets.push(met);
            self.margins.push(margin);
            self.next_thresholds
                .push(upcoming.map(|c| i16::from(c.threshold)));
            self.next_dues.push(upcoming.map(|c| c.due_at));
        }
    }
}

/// Marks a running clock breached (the sweep saw it pass its target).
pub async fn record_breach(
    conn: &mut PgConnection,
    ticket_id: i64,
    clock: SlaClock,
    due_at: DateTime<Utc>,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE sla_outcomes SET met = false, margin_seconds = -extract(epoch FROM ($4 - $3))::bigint
         WHERE ticket_id = $1 AND clock = $2 AND stopped_at IS NULL",
    )
    .bind(ticket_id)
    .bind(clock.as_str())
    .bind(due_at)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// A crossing a sweep posts: a clock row it claimed, or a later threshold
/// of the same clock that was due too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueCheckpoint {
    pub ticket_id: i64,
    pub clock: SlaClock,
    pub threshold: u8,
    pub due_at: DateTime<Utc>,
}

impl DueCheckpoint {
    /// The crossing as the domain sees it.
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            clock: self.clock,
            threshold: self.threshold,
            due_at: self.due_at,
        }
    }

    /// `checkpoint` of ticket `ticket_id`.
    pub fn of(ticket_id: i64, checkpoint: Checkpoint) -> Self {
        DueCheckpoint {
            ticket_id,
            clock: checkpoint.clock,
            threshold: checkpoint.threshold,
            due_at: checkpoint.due_at,
        }
    }
}

/// Claims up to `limit` clock rows whose checkpoint is due at `at` (see
/// [`Checkpoint::is_due`]), earliest first, locking them until the
/// transaction ends; other sweepers skip the rows this one has locked. The
/// caller moves every claimed row on with [`advance`] before committing;
/// should the transaction roll back, the rows are due again.
pub async fn claim_due(
    conn: &mut PgConnection,
    at: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<DueCheckpoint>, StoreError> {
    let rows: Vec<(i64, String, i16, DateTime<Utc>)> = sqlx::query_as(
        "SELECT ticket_id, clock, next_threshold, next_due_at FROM sla_outcomes
          WHERE next_due_at <= $1 AND (next_threshold < 100 OR next_due_at < $1)
          ORDER BY next_due_at, ticket_id, clock
          LIMIT $2 FOR UPDATE SKIP LOCKED",
    )
    .bind(at)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|(ticket_id, clock, threshold, due_at)| {
            Ok(DueCheckpoint {
                ticket_id,
                clock: SlaClock::parse(&clock)
                    .ok_or_else(|| StoreError::Corrupt(format!("unknown clock `{clock}`")))?,
                threshold: u8::try_from(threshold)
                    .map_err(|_| StoreError::Corrupt("bad threshold".into()))?,
                due_at,
            })
        })
        .collect()
}

/// Moves claimed clock rows on, in one statement: each `(ticket, clock)`
/// to the checkpoint it stands for next, or to nothing.
pub async fn advance(
    conn: &mut PgConnection,
    moves: &[(i64, SlaClock, Option<Checkpoint>)],
) -> Result<(), StoreError> {
    if moves.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = moves.iter().map(|m| m.0).collect();
    let clocks: Vec<&str> = moves.iter().map(|m| m.1.as_str()).collect();
    let thresholds: Vec<Option<i16>> = moves
        .iter()
        .map(|m| m.2.map(|c| i16::from(c.threshold)))
        .collect();
    let dues: Vec<Option<DateTime<Utc>>> = moves.iter().map(|m| m.2.map(|c| c.due_at)).collect();
    sqlx::query(
        "UPDATE sla_outcomes o SET next_threshold = m.threshold, next_due_at = m.due_at
           FROM UNNEST($1::bigint[], $2::text[], $3::smallint[], $4::timestamptz[])
                AS m(ticket_id, clock, threshold, due_at)
          WHERE o.ticket_id = m.ticket_id AND o.clock = m.clock",
    )
    .bind(&ids)
    .bind(&clocks)
    .bind(&thresholds)
    .bind(&dues)
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes the ledger entry for a crossing; false when it was posted before.
pub async fn record_notification(
    conn: &mut PgConnection,
    due: &DueCheckpoint,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO sla_notifications (ticket_id, clock, threshold, due_at, posted_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(due.ticket_id)
    .bind(due.clock.as_str())
    .bind(i16::from(due.threshold))
    .bind(due.due_at)
    .bind(at)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// Claims the run of `job` scheduled for `scheduled_for`; false when
/// another replica (or an earlier start) already ran it.
pub async fn claim_job_run(
    conn: &mut PgConnection,
    job: &str,
    scheduled_for: DateTime<Utc>,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO job_runs (job, scheduled_for, started_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(job)
    .bind(scheduled_for)
    .bind(at)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// Whether `job` has exactly one recorded run (the caller's, just claimed):
/// how a once-per-period job tells it is the period's first.
pub async fn first_claim(conn: &mut PgConnection, job: &str) -> Result<bool, StoreError> {
    let runs: i64 = sqlx::query_scalar("SELECT count(*) FROM job_runs WHERE job = $1")
        .bind(job)
        .fetch_one(conn)
        .await?;
    Ok(runs == 1)
}

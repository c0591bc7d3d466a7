//! SLA state: pauses, checkpoints, the notification ledger, outcomes, and
//! scheduled job runs.

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

/// Replaces a ticket's checkpoints with `checkpoints`, in one statement.
pub async fn replace_checkpoints(
    conn: &mut PgConnection,
    ticket_id: i64,
    checkpoints: &[Checkpoint],
) -> Result<(), StoreError> {
    let columns = CheckpointColumns::of(checkpoints);
    sqlx::query(
        "WITH wanted AS (
            SELECT * FROM UNNEST($2::text[], $3::smallint[], $4::timestamptz[]) AS w(clock, threshold, due_at)
         ), stale AS (
            DELETE FROM sla_checkpoints c WHERE c.ticket_id = $1
               AND NOT EXISTS (SELECT 1 FROM wanted w WHERE w.clock = c.clock AND w.threshold = c.threshold)
         )
         INSERT INTO sla_checkpoints (ticket_id, clock, threshold, due_at)
         SELECT $1, clock, threshold, due_at FROM wanted
         ON CONFLICT (ticket_id, clock, threshold) DO UPDATE SET due_at = EXCLUDED.due_at
         WHERE sla_checkpoints.due_at IS DISTINCT FROM EXCLUDED.due_at",
    )
    .bind(ticket_id)
    .bind(&columns.clocks)
    .bind(&columns.thresholds)
    .bind(&columns.dues)
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
        columns.extend(checkpoints);
        columns
    }

    /// Adds `checkpoints` after those already held.
    pub fn extend(&mut self, checkpoints: &[Checkpoint]) {
        for checkpoint in checkpoints {
            self.clocks.push(checkpoint.clock.as_str());
            self.thresholds.push(i16::from(checkpoint.threshold));
            self.dues.push(checkpoint.due_at);
        }
    }
}

/// Records each clock's current standing for reports, in one statement.
pub async fn record_outcomes(
    conn: &mut PgConnection,
    ticket_id: i64,
    views: &[ClockView],
) -> Result<(), StoreError> {
    let columns = OutcomeColumns::of(views);
    sqlx::query(
        "INSERT INTO sla_outcomes (ticket_id, clock, target_seconds, due_at, stopped_at, met, margin_seconds, counted)
         SELECT $1, * FROM UNNEST($2::text[], $3::bigint[], $4::timestamptz[], $5::timestamptz[], $6::bool[], $7::bigint[], $8::bool[])
         ON CONFLICT (ticket_id, clock) DO UPDATE SET
            target_seconds = EXCLUDED.target_seconds, due_at = EXCLUDED.due_at,
            stopped_at = EXCLUDED.stopped_at, met = EXCLUDED.met, margin_seconds = EXCLUDED.margin_seconds,
            counted = EXCLUDED.counted",
    )
    .bind(ticket_id)
    .bind(&columns.clocks)
    .bind(&columns.targets)
    .bind(&columns.dues)
    .bind(&columns.stops)
    .bind(&columns.mets)
    .bind(&columns.margins)
    .bind(&columns.counted)
    .execute(conn)
    .await?;
    Ok(())
}

/// Clock outcomes as the column arrays `UNNEST` takes.
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
}

impl OutcomeColumns {
    pub fn of(views: &[ClockView]) -> Self {
        let mut columns = OutcomeColumns::default();
        columns.extend(views);
        columns
    }

    /// Adds `views` after those already held.
    pub fn extend(&mut self, views: &[ClockView]) {
        for view in views {
            let (met, margin) = match &view.state {
                ClockState::Met { margin } => (Some(true), Some(margin.num_seconds())),
                ClockState::Breached { by, .. } => (Some(false), Some(-by.num_seconds())),
                ClockState::Running { .. } | ClockState::Paused | ClockState::NotCounted => {
                    (None, None)
                }
            };
            self.counted
                .push(!matches!(view.state, ClockState::NotCounted));
            self.clocks.push(view.clock.as_str());
            self.targets.push(view.target.num_seconds());
            self.dues.push(view.due_at);
            self.stops.push(view.stopped_at);
            self.mets.push(met);
            self.margins.push(margin);
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

/// A checkpoint claimed by a sweep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueCheckpoint {
    pub ticket_id: i64,
    pub clock: SlaClock,
    pub threshold: u8,
    pub due_at: DateTime<Utc>,
}

/// Claims up to `limit` checkpoints due at `at` by deleting them, earliest
/// first (a breach only once `at` is past its due instant: a clock that
/// stops at its due instant is met, so the breach waits for the next sweep); other sweepers skip the rows this one has locked. Should the
/// transaction roll back, the checkpoints are due again.
///
/// Claiming and deleting are one statement: every claimed checkpoint is
/// spent whatever the sweep then decides (posted, already posted, incident
/// closed), and a separate delete per checkpoint was a round trip each.
pub async fn claim_due(
    conn: &mut PgConnection,
    at: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<DueCheckpoint>, StoreError> {
    let rows: Vec<(i64, String, i16, DateTime<Utc>)> = sqlx::query_as(
        "DELETE FROM sla_checkpoints
          WHERE (ticket_id, clock, threshold) IN (
                SELECT ticket_id, clock, threshold FROM sla_checkpoints
                 WHERE due_at <= $1 AND (threshold < 100 OR due_at < $1)
                 ORDER BY due_at, ticket_id, clock, threshold
                 LIMIT $2 FOR UPDATE SKIP LOCKED)
         RETURNING ticket_id, clock, threshold, due_at",
    )
    .bind(at)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    let mut due = rows
        .into_iter()
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
        .collect::<Result<Vec<_>, StoreError>>()?;
    // RETURNING has no order: announce in the order they fell due.
    due.sort_by(|a, b| {
        (a.due_at, a.ticket_id, a.clock.as_str(), a.threshold).cmp(&(
            b.due_at,
            b.ticket_id,
            b.clock.as_str(),
            b.threshold,
        ))
    });
    Ok(due)
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

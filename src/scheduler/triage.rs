//! The `triage_training` job: brings the triage model up to date with the
//! incidents resolved since it last ran, a batch per transaction. Claimed
//! once per scheduled run in `job_runs` (one replica does it), and every
//! batch holds the model's training mark, so two trainers never count an
//! incident twice even when runs overlap.

use chrono::{DateTime, Duration, Utc};

use crate::commands::Engine;
use crate::store::{self, StoreError};

/// When the job runs (cron, seconds first): every five minutes. Training
/// reads only the incidents resolved since the last run, a few rows.
pub const SCHEDULE: &str = "0 */5 * * * *";

/// Incidents added per transaction: a first run over a long history
/// (a million incidents) takes many short transactions, never one long one.
pub const BATCH: i64 = 20_000;

/// Incidents resolved this recently are left for the next run: a command
/// that resolved one may not have committed yet, and the mark must never
/// move past an incident training has not seen.
pub const SETTLE: Duration = Duration::seconds(10);

/// What one run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Trained {
    /// Incidents added to the model by this run.
    pub added: i64,
    /// Incidents the model has learnt from in all.
    pub total: i64,
    /// False when another replica had the run or the mark.
    pub ran: bool,
}

/// Runs the job scheduled for `scheduled_for`, as of `now`: claims the run
/// (`None` claim: a replica did it already) and trains to the present.
pub async fn run(
    engine: &Engine,
    scheduled_for: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Trained, StoreError> {
    let mut tx = engine.store().begin().await?;
    if !store::sla::claim_job_run(&mut tx, "triage_training", scheduled_for, now).await? {
        return Ok(Trained::default());
    }
    tx.commit().await?;
    train(engine, now).await
}

/// Adds every incident resolved before `now` (less [`SETTLE`]) that the
/// model has not learnt from, [`BATCH`] per transaction. Safe on several
/// replicas at once: one trains, the others find the mark taken and stop.
pub async fn train(engine: &Engine, now: DateTime<Utc>) -> Result<Trained, StoreError> {
    let mut trained = Trained::default();
    loop {
        let mut tx = engine.store().begin().await?;
        let Some(mark) = store::triage::lock_mark(&mut tx).await? else {
            return Ok(trained);
        };
        let added = store::triage::train_batch(&mut tx, mark, now - SETTLE, BATCH, now).await?;
        tx.commit().await?;
        trained.ran = true;
        trained.added += added;
        trained.total = mark.incidents + added;
        if added < BATCH {
            return Ok(trained);
        }
        // Give the replicas' commands a turn between batches.
        tokio::task::yield_now().await;
    }
}

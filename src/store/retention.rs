//! Deleting old bookkeeping rows (`[retention]`). Each statement deletes at
//! most one batch, so no statement holds locks or bloats the WAL for long,
//! and the caller loops. Only rows nothing reads any more are named here:
//! handled-delivery ids, delivered queue rows and scheduler claims. Tickets,
//! timelines and everything reports read are never deleted.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::StoreError;

/// A kind of row the retention job may delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prunable {
    /// `processed_inbound`: ids of handled chat deliveries, by `processed_at`.
    ProcessedInbound,
    /// `outbox` rows delivered (`sent_at`); parked rows stay.
    DeliveredPosts,
    /// `outbound_calls` rows delivered (`sent_at`); parked rows stay.
    DeliveredCalls,
    /// `page_hooks` rows delivered (`sent_at`); parked rows stay.
    DeliveredPages,
    /// `job_runs`: claims of scheduled runs, by `started_at`.
    JobRuns,
}

impl Prunable {
    /// Every kind, in the order the job prunes them.
    pub const ALL: [Prunable; 5] = [
        Prunable::ProcessedInbound,
        Prunable::DeliveredPosts,
        Prunable::DeliveredCalls,
        Prunable::DeliveredPages,
        Prunable::JobRuns,
    ];

    /// The name used in logs and the metric's `kind` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Prunable::ProcessedInbound => "processed_inbound",
            Prunable::DeliveredPosts => "delivered_posts",
            Prunable::DeliveredCalls => "delivered_calls",
            Prunable::DeliveredPages => "delivered_pages",
            Prunable::JobRuns => "job_runs",
        }
    }

    /// One batch's statement: `$1` the cut-off, `$2` the batch size. The
    /// queue tables are walked by id (their primary key): ids grow with
    /// time, so the old delivered rows are the first ones found and no
    /// index on `sent_at` is needed. `processed_inbound` has an index on
    /// `processed_at`; `job_runs` is a few rows a day.
    fn statement(self) -> &'static str {
        match self {
            Prunable::ProcessedInbound => {
                "DELETE FROM processed_inbound WHERE ctid = ANY(ARRAY(
                     SELECT ctid FROM processed_inbound WHERE processed_at < $1 LIMIT $2))"
            }
            Prunable::DeliveredPosts => {
                "DELETE FROM outbox WHERE id = ANY(ARRAY(
                     SELECT id FROM outbox WHERE sent_at < $1 ORDER BY id LIMIT $2))"
            }
            Prunable::DeliveredCalls => {
                "DELETE FROM outbound_calls WHERE id = ANY(ARRAY(
                     SELECT id FROM outbound_calls WHERE sent_at < $1 ORDER BY id LIMIT $2))"
            }
            Prunable::DeliveredPages => {
                "DELETE FROM page_hooks WHERE id = ANY(ARRAY(
                     SELECT id FROM page_hooks WHERE sent_at < $1 ORDER BY id LIMIT $2))"
            }
            Prunable::JobRuns => {
                "DELETE FROM job_runs WHERE ctid = ANY(ARRAY(
                     SELECT ctid FROM job_runs WHERE started_at < $1 LIMIT $2))"
            }
        }
    }
}

/// Deletes at most `batch` rows of `kind` older than `cutoff`; returns how
/// many went. Fewer than `batch` means none is left.
pub async fn prune_batch(
    conn: &mut PgConnection,
    kind: Prunable,
    cutoff: DateTime<Utc>,
    batch: i64,
) -> Result<u64, StoreError> {
    let done = sqlx::query(kind.statement())
        .bind(cutoff)
        .bind(batch)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

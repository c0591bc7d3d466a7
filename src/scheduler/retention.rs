//! The `retention` job: deletes bookkeeping rows older than `[retention]`
//! allows, a batch per statement, so a first run over years of rows never
//! holds a long lock or a long transaction. Several replicas may run it at
//! once: a row deleted by one is simply not found by the other.

use chrono::{DateTime, Duration, Utc};

use crate::config::RetentionConfig;
use crate::metrics::Metrics;
use crate::store::retention::{prune_batch, Prunable};
use crate::store::{Store, StoreError};

/// Rows deleted per statement: small enough that each statement takes
/// milliseconds and its locks are gone before anyone notices.
pub const BATCH: i64 = 1000;

/// Rows deleted by one run, by kind.
pub type Pruned = Vec<(Prunable, u64)>;

/// How many days `config` keeps rows of `kind`.
pub fn days(config: &RetentionConfig, kind: Prunable) -> i64 {
    match kind {
        Prunable::ProcessedInbound => config.processed_inbound_days,
        Prunable::DeliveredPosts => config.delivered_posts_days,
        // Paging-hook events are outbound calls too, under one key.
        Prunable::DeliveredCalls | Prunable::DeliveredPages => config.delivered_calls_days,
        Prunable::JobRuns => config.job_runs_days,
    }
}

/// Deletes every row older than its retention as of `now`, `batch` rows
/// per statement, each statement its own transaction.
pub async fn prune(
    store: &Store,
    config: &RetentionConfig,
    now: DateTime<Utc>,
    batch: i64,
    metrics: Option<&Metrics>,
) -> Result<Pruned, StoreError> {
    let mut pruned = Vec::new();
    for kind in Prunable::ALL {
        let cutoff = now - Duration::days(days(config, kind));
        let mut total = 0;
        loop {
            let mut conn = store.acquire().await?;
            let deleted = prune_batch(&mut conn, kind, cutoff, batch).await?;
            drop(conn);
            total += deleted;
            if let Some(metrics) = metrics {
                metrics.retention_deleted(kind.as_str(), deleted);
            }
            if deleted < u64::try_from(batch).unwrap_or(0) {
                break;
            }
            // Give the replicas' commands a turn between batches.
            tokio::task::yield_now().await;
        }
        pruned.push((kind, total));
    }
    Ok(pruned)
}

//! Leases held by one replica at a time (`leases`): claimed and renewed
//! with one conditional upsert, expired by the database's clock.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::StoreError;

/// Who holds a lease and until when, as the database sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseHolder {
    /// The holder's id.
    pub holder: String,
    /// When its claim lapses unless renewed (database clock).
    pub expires_at: DateTime<Utc>,
}

/// Claims lease `name` for `holder`, or renews it when `holder` already has
/// it, for `ttl` from now on the database's clock. Returns the new expiry,
/// or `None` when another holder's claim has not expired yet.
///
/// One statement does both, so there is no window between "is it free?"
/// and "take it" in which two replicas could both win.
pub async fn claim(
    pool: &PgPool,
    name: &str,
    holder: &str,
    ttl: Duration,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let expires_at: Option<DateTime<Utc>> = sqlx::query_scalar(
        "INSERT INTO leases (name, holder, acquired_at, expires_at)
         VALUES ($1, $2, clock_timestamp(), clock_timestamp() + make_interval(secs => $3))
         ON CONFLICT (name) DO UPDATE
            SET holder = EXCLUDED.holder,
                acquired_at = CASE WHEN leases.holder = EXCLUDED.holder
                                   THEN leases.acquired_at ELSE EXCLUDED.acquired_at END,
                expires_at = EXCLUDED.expires_at
          WHERE leases.expires_at < clock_timestamp() OR leases.holder = EXCLUDED.holder
         RETURNING expires_at",
    )
    .bind(name)
    .bind(holder)
    .bind(ttl.as_secs_f64())
    .fetch_optional(pool)
    .await?;
    Ok(expires_at)
}

/// Gives lease `name` back if `holder` has it, so a standby can claim it at
/// once instead of waiting for it to expire. Returns whether it was held.
pub async fn release(pool: &PgPool, name: &str, holder: &str) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
        .bind(name)
        .bind(holder)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// The current, unexpired holder of lease `name`, if any.
pub async fn current(pool: &PgPool, name: &str) -> Result<Option<LeaseHolder>, StoreError> {
    let row: Option<(String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT holder, expires_at FROM leases WHERE name = $1 AND expires_at > clock_timestamp()",
    )
    .bind(name)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(holder, expires_at)| LeaseHolder { holder, expires_at }))
}

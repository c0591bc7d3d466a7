//! Inbound events already handled (`processed_inbound`), for idempotency.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::StoreError;
use crate::domain::Platform;

/// The reply given the first time this event was handled, if it was.
pub async fn previous_reply(
    conn: &mut PgConnection,
    platform: Platform,
    event_id: &str,
) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT reply FROM processed_inbound WHERE platform = $1 AND event_id = $2",
    )
    .bind(platform.as_str())
    .bind(event_id)
    .fetch_optional(conn)
    .await?)
}

/// Records an event as handled; false when another worker recorded it first
/// (the caller then rolls back its own effect).
pub async fn record(
    conn: &mut PgConnection,
    platform: Platform,
    event_id: &str,
    at: DateTime<Utc>,
    reply: &str,
) -> Result<bool, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO processed_inbound (platform, event_id, processed_at, reply)
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(platform.as_str())
    .bind(event_id)
    .bind(at)
    .bind(reply)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

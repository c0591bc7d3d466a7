//! Inbound events already handled (`processed_inbound`), for idempotency.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::StoreError;
use crate::domain::Platform;

/// How an event was handled the first time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// The reply given then, as stored.
    Reply(String),
    /// It opened ticket `id` in one statement that stored no reply; the
    /// reply is rebuilt from the ticket.
    Opened(i64),
}

/// How this event was handled the first time, if it was.
pub async fn previous(
    conn: &mut PgConnection,
    platform: Platform,
    event_id: &str,
) -> Result<Option<Handled>, StoreError> {
    let row: Option<(Option<String>, Option<i64>)> = sqlx::query_as(
        "SELECT reply, ticket_id FROM processed_inbound WHERE platform = $1 AND event_id = $2",
    )
    .bind(platform.as_str())
    .bind(event_id)
    .fetch_optional(conn)
    .await?;
    match row {
        None => Ok(None),
        Some((Some(reply), _)) => Ok(Some(Handled::Reply(reply))),
        Some((None, Some(ticket))) => Ok(Some(Handled::Opened(ticket))),
        Some((None, None)) => Err(StoreError::Corrupt(format!(
            "processed_inbound {platform}/{event_id} has neither reply nor ticket"
        ))),
    }
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

/// Stores the reply of an event its opening statement already claimed
/// (when the command did more than open the incident, the reply is more
/// than can be rebuilt from it).
pub async fn set_reply(
    conn: &mut PgConnection,
    platform: Platform,
    event_id: &str,
    reply: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE processed_inbound SET reply = $3 WHERE platform = $1 AND event_id = $2")
        .bind(platform.as_str())
        .bind(event_id)
        .bind(reply)
        .execute(conn)
        .await?;
    Ok(())
}

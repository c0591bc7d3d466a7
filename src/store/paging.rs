//! The paging-hook queue (`page_hooks`): events owed to the outbound
//! paging hook, written with the change they report and delivered by
//! the paging worker.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::StoreError;

/// One claimed hook event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookEvent {
    pub id: i64,
    pub ticket_id: i64,
    /// `trigger`, `acknowledge` or `resolve`.
    pub event_action: String,
    /// The event without its routing key (added when sending).
    pub body: String,
    pub attempts: i32,
}

/// Queues `body` (an `event_action` event about `ticket_id`) for the hook.
pub async fn enqueue(
    conn: &mut PgConnection,
    ticket_id: i64,
    event_action: &str,
    body: &str,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO page_hooks (ticket_id, event_action, body, created_at, not_before)
         VALUES ($1, $2, $3, $4, $4)",
    )
    .bind(ticket_id)
    .bind(event_action)
    .bind(body)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether incident `ticket_id` was ever paged: only those have an event
/// at the paging service to acknowledge or resolve.
pub async fn was_paged(conn: &mut PgConnection, ticket_id: i64) -> Result<bool, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pages WHERE ticket_id = $1)")
            .bind(ticket_id)
            .fetch_one(conn)
            .await?,
    )
}

/// Claims up to `limit` of the oldest due events and leases them until
/// `until`, so no other worker sends them while this one does. Events of
/// one incident go out in order: one whose incident has an earlier event
/// still waiting is skipped, so an `acknowledge` never overtakes the
/// `trigger` it acknowledges (and one batch holds at most one event of an
/// incident).
pub async fn claim(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<HookEvent>, StoreError> {
    let rows: Vec<(i64, i64, String, String, i32)> = super::queue::claim(
        conn,
        super::queue::Queue::Paging,
        "id, ticket_id, event_action, body, attempts",
        "NOT EXISTS (SELECT 1 FROM page_hooks e
                      WHERE e.ticket_id = q.ticket_id AND e.id < q.id
                        AND e.sent_at IS NULL AND e.failed_at IS NULL)",
        now,
        until,
        limit,
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, ticket_id, event_action, body, attempts)| HookEvent {
            id,
            ticket_id,
            event_action,
            body,
            attempts,
        })
        .collect())
}

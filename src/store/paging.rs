//! The paging-hook queue (`page_hooks`): events owed to the outbound
//! paging hook, written with the change they report and delivered by
//! [`crate::paging::PagingWorker`].

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

/// Claims the oldest due event and leases it until `until`, so no other
/// worker sends it while this one does. Events of one incident go out in
/// order: one whose incident has an earlier event still waiting is skipped,
/// so an `acknowledge` never overtakes the `trigger` it acknowledges.
pub async fn claim(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Option<HookEvent>, StoreError> {
    let row: Option<(i64, i64, String, String, i32)> = sqlx::query_as(
        "UPDATE page_hooks SET claimed_until = $2
         WHERE id = (
             SELECT id FROM page_hooks h
              WHERE sent_at IS NULL AND failed_at IS NULL AND not_before <= $1
                AND (claimed_until IS NULL OR claimed_until <= $1)
                AND NOT EXISTS (SELECT 1 FROM page_hooks e
                                 WHERE e.ticket_id = h.ticket_id AND e.id < h.id
                                   AND e.sent_at IS NULL AND e.failed_at IS NULL)
              ORDER BY not_before, id
              LIMIT 1
              FOR UPDATE SKIP LOCKED)
         RETURNING id, ticket_id, event_action, body, attempts",
    )
    .bind(now)
    .bind(until)
    .fetch_optional(conn)
    .await?;
    Ok(
        row.map(|(id, ticket_id, event_action, body, attempts)| HookEvent {
            id,
            ticket_id,
            event_action,
            body,
            attempts,
        }),
    )
}

/// Marks event `id` delivered.
pub async fn mark_sent(
    conn: &mut PgConnection,
    id: i64,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE page_hooks SET sent_at = $2, claimed_until = NULL WHERE id = $1")
        .bind(id)
        .bind(at)
        .execute(conn)
        .await?;
    Ok(())
}

/// Records a failed attempt: tried again from `retry_at`, or parked.
pub async fn mark_failed(
    conn: &mut PgConnection,
    id: i64,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE page_hooks SET attempts = attempts + 1, last_error = $2, claimed_until = NULL,
                not_before = COALESCE($3, not_before),
                failed_at = CASE WHEN $3 IS NULL THEN $4 END
         WHERE id = $1",
    )
    .bind(id)
    .bind(error)
    .bind(retry_at)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

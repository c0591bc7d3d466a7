//! On-call overrides, pages and the ledger of their escalation steps.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::StoreError;
use crate::domain::oncall::{Override, PageStep};
use crate::domain::UserId;

/// Stores an override of `rotation`.
pub async fn add_override(
    conn: &mut PgConnection,
    rotation: &str,
    entry: &Override,
    by: &UserId,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO oncall_overrides (rotation, member, starts_at, ends_at, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(rotation)
    .bind(entry.member.to_string())
    .bind(entry.start)
    .bind(entry.end)
    .bind(by.to_string())
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The overrides of `rotation` that have not ended by `at`, oldest first
/// (a later one wins where they overlap).
pub async fn overrides(
    conn: &mut PgConnection,
    rotation: &str,
    at: DateTime<Utc>,
) -> Result<Vec<Override>, StoreError> {
    let rows: Vec<(String, DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
        "SELECT member, starts_at, ends_at FROM oncall_overrides
          WHERE rotation = $1 AND ends_at > $2 ORDER BY id",
    )
    .bind(rotation)
    .bind(at)
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|(member, start, end)| {
            Ok(Override {
                member: member
                    .parse()
                    .map_err(|e: crate::domain::user::UserIdError| {
                        StoreError::Corrupt(format!("override of {rotation}: {e}"))
                    })?,
                start,
                end,
            })
        })
        .collect()
}

/// Records that incident `ticket_id` paged `paged` from `rotation`, with
/// step 0 of its ledger.
pub async fn record_page(
    conn: &mut PgConnection,
    ticket_id: i64,
    rotation: &str,
    paged: &UserId,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO pages (ticket_id, rotation, paged, paged_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT DO NOTHING",
    )
    .bind(ticket_id)
    .bind(rotation)
    .bind(paged.to_string())
    .bind(at)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 1 {
        claim_step(conn, ticket_id, PageStep::OnCall, &paged.to_string(), at).await?;
    }
    Ok(inserted == 1)
}

/// Claims escalation `step` of incident `ticket_id`'s page; false when it
/// was taken before (by this or another replica).
pub async fn claim_step(
    conn: &mut PgConnection,
    ticket_id: i64,
    step: PageStep,
    target: &str,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO page_steps (ticket_id, step, target, posted_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT DO NOTHING",
    )
    .bind(ticket_id)
    .bind(step.number())
    .bind(target)
    .bind(at)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// A page that may still escalate.
#[derive(Debug, Clone)]
pub struct OpenPage {
    pub ticket_id: i64,
    pub rotation: String,
    pub paged: String,
    pub paged_at: DateTime<Utc>,
    /// The last step taken.
    pub done: PageStep,
}

/// Pages of open, unacknowledged incidents whose last step is not the last
/// one, locked so that concurrent sweeps take turns.
pub async fn open_pages(conn: &mut PgConnection) -> Result<Vec<OpenPage>, StoreError> {
    let rows: Vec<(i64, String, String, DateTime<Utc>, i16)> = sqlx::query_as(
        "SELECT p.ticket_id, p.rotation, p.paged, p.paged_at,
                (SELECT max(step) FROM page_steps s WHERE s.ticket_id = p.ticket_id)
           FROM pages p
           JOIN tickets t ON t.id = p.ticket_id
           JOIN incidents i ON i.ticket_id = p.ticket_id
          WHERE t.status IN ('new', 'on_hold') AND i.acknowledged_at IS NULL
            AND (SELECT max(step) FROM page_steps s WHERE s.ticket_id = p.ticket_id) < 2
          ORDER BY p.paged_at
            FOR UPDATE OF p SKIP LOCKED",
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(ticket_id, rotation, paged, paged_at, step)| {
            Some(OpenPage {
                ticket_id,
                rotation,
                paged,
                paged_at,
                done: PageStep::from_number(step)?,
            })
        })
        .collect())
}

/// The steps taken for incident `ticket_id`'s page: (step, target).
pub async fn steps(
    conn: &mut PgConnection,
    ticket_id: i64,
) -> Result<Vec<(i16, String)>, StoreError> {
    Ok(
        sqlx::query_as("SELECT step, target FROM page_steps WHERE ticket_id = $1 ORDER BY step")
            .bind(ticket_id)
            .fetch_all(conn)
            .await?,
    )
}

//! Satisfaction scores (`satisfaction`).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::StoreError;
use crate::domain::UserId;

/// Stores a score unless the ticket already has one; returns the score that
/// stands (the earlier one when there was one) and whether this one was new.
pub async fn record_once(
    conn: &mut PgConnection,
    ticket_id: i64,
    score: u8,
    respondent: &UserId,
    at: DateTime<Utc>,
) -> Result<(i16, bool), StoreError> {
    let inserted: Option<i16> = sqlx::query_scalar(
        "INSERT INTO satisfaction (ticket_id, score, respondent, answered_at)
         VALUES ($1, $2, $3, $4) ON CONFLICT (ticket_id) DO NOTHING RETURNING score",
    )
    .bind(ticket_id)
    .bind(i16::from(score))
    .bind(respondent.to_string())
    .bind(at)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(score) = inserted {
        return Ok((score, true));
    }
    let existing: i16 = sqlx::query_scalar("SELECT score FROM satisfaction WHERE ticket_id = $1")
        .bind(ticket_id)
        .fetch_one(conn)
        .await?;
    Ok((existing, false))
}

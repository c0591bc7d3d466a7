//! Monitoring alerts and the incidents they opened (`alerts`).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::StoreError;
use crate::domain::alert::{AlertSource, AlertStatus};

/// The incident an alert is tied to, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertLink {
    /// The incident's ticket id.
    pub ticket_id: i64,
    /// Whether the alert was last seen firing or resolved.
    pub status: AlertStatus,
}

/// Serialises every transaction that handles one of `keys` (source,
/// fingerprint) until it ends. Locks are taken in sorted order so two
/// deliveries naming the same alerts in a different order cannot deadlock.
pub async fn lock_fingerprints(
    conn: &mut PgConnection,
    keys: &[(AlertSource, &str)],
) -> Result<(), StoreError> {
    let mut names: Vec<String> = keys
        .iter()
        .map(|(source, fingerprint)| format!("alert:{}:{fingerprint}", source.as_str()))
        .collect();
    names.sort();
    names.dedup();
    // Advisory locks are keyed by a 64-bit number; a hash collision only
    // makes two unrelated alerts wait for each other. One statement per lock
    // keeps the order ours (PostgreSQL may evaluate a set's locks in any order).
    for name in &names {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(name)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// The incident alert `fingerprint` from `source` is tied to, if any.
pub async fn find(
    conn: &mut PgConnection,
    source: AlertSource,
    fingerprint: &str,
) -> Result<Option<AlertLink>, StoreError> {
    let row: Option<(i64, String)> = sqlx::query_as(
        "SELECT ticket_id, status FROM alerts WHERE source = $1 AND fingerprint = $2",
    )
    .bind(source.as_str())
    .bind(fingerprint)
    .fetch_optional(conn)
    .await?;
    row.map(|(ticket_id, status)| {
        Ok(AlertLink {
            ticket_id,
            status: status.parse().map_err(StoreError::Corrupt)?,
        })
    })
    .transpose()
}

/// Ties a firing alert to a newly opened incident: a new row, or the row of
/// an earlier episode of the same alert moved to the new incident.
pub async fn link(
    conn: &mut PgConnection,
    source: AlertSource,
    fingerprint: &str,
    ticket_id: i64,
    existed: bool,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    // A plain INSERT for a new alert (no ON CONFLICT): if another delivery
    // got there first despite the lock, the primary key refuses this one
    // rather than leaving two incidents for one alert.
    let statement = if existed {
        "UPDATE alerts SET ticket_id = $3, status = 'firing', opened_at = $4, updated_at = $4
         WHERE source = $1 AND fingerprint = $2"
    } else {
        "INSERT INTO alerts (source, fingerprint, ticket_id, status, opened_at, updated_at)
         VALUES ($1, $2, $3, 'firing', $4, $4)"
    };
    sqlx::query(statement)
        .bind(source.as_str())
        .bind(fingerprint)
        .bind(ticket_id)
        .bind(at)
        .execute(conn)
        .await?;
    Ok(())
}

/// Records that the alert was seen `status` at `at`.
pub async fn set_status(
    conn: &mut PgConnection,
    source: AlertSource,
    fingerprint: &str,
    status: AlertStatus,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE alerts SET status = $3, updated_at = $4 WHERE source = $1 AND fingerprint = $2",
    )
    .bind(source.as_str())
    .bind(fingerprint)
    .bind(status.as_str())
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

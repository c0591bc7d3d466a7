//! Monitoring alerts and the incidents they opened (`alerts`).

use std::collections::HashMap;

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
    // makes two unrelated alerts wait for each other. The locks are taken
    // in the array's (sorted) order: a function scan of `unnest` yields its
    // elements in order and the projection takes each lock as its row
    // passes, with nothing in the plan to reorder them.
    sqlx::query(
        "SELECT count(pg_advisory_xact_lock(hashtextextended(name, 0)))
         FROM unnest($1::text[]) AS name",
    )
    .bind(&names)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The incidents every alert of `fingerprints` from `source` is tied to, by
/// fingerprint; alerts never seen are absent.
pub async fn find_all(
    conn: &mut PgConnection,
    source: AlertSource,
    fingerprints: &[&str],
) -> Result<HashMap<String, AlertLink>, StoreError> {
    let rows: Vec<(String, i64, String)> = sqlx::query_as(
        // One primary-key lookup per fingerprint. Written as `fingerprint =
        // ANY($2)`, a statement prepared while `alerts` was small kept a
        // plan reading every alert of the source (by auto_explain: 9 ms at
        // 12,000 alerts); the fenced lateral lookup cannot become that.
        "SELECT a.fingerprint, a.ticket_id, a.status
         FROM unnest($2::text[]) AS f(fingerprint)
         CROSS JOIN LATERAL (
            SELECT fingerprint, ticket_id, status FROM alerts
            WHERE source = $1 AND fingerprint = f.fingerprint
            OFFSET 0
         ) a",
    )
    .bind(source.as_str())
    .bind(fingerprints)
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|(fingerprint, ticket_id, status)| {
            Ok((
                fingerprint,
                AlertLink {
                    ticket_id,
                    status: status.parse().map_err(StoreError::Corrupt)?,
                },
            ))
        })
        .collect()
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

/// A firing alert to tie to its newly opened incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewLink<'a> {
    pub fingerprint: &'a str,
    pub ticket_id: i64,
    /// Whether the alert has a row from an earlier episode to move.
    pub existed: bool,
}

/// [`link`] for many alerts of `source` in one statement.
pub async fn link_all(
    conn: &mut PgConnection,
    source: AlertSource,
    links: &[NewLink<'_>],
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    if links.is_empty() {
        return Ok(());
    }
    let fingerprints: Vec<&str> = links.iter().map(|l| l.fingerprint).collect();
    let tickets: Vec<i64> = links.iter().map(|l| l.ticket_id).collect();
    let existed: Vec<bool> = links.iter().map(|l| l.existed).collect();
    // As in `link`: new alerts get a plain INSERT, so a row another
    // delivery wrote despite the lock fails this one on the primary key.
    sqlx::query(
        "WITH wanted AS (
            SELECT * FROM UNNEST($3::text[], $4::bigint[], $5::bool[]) AS l(fingerprint, ticket_id, existed)
         ), moved AS (
            UPDATE alerts a SET ticket_id = w.ticket_id, status = 'firing', opened_at = $2, updated_at = $2
            FROM wanted w
            WHERE w.existed AND a.source = $1 AND a.fingerprint = w.fingerprint
         )
         INSERT INTO alerts (source, fingerprint, ticket_id, status, opened_at, updated_at)
         SELECT $1, fingerprint, ticket_id, 'firing', $2, $2 FROM wanted WHERE NOT existed",
    )
    .bind(source.as_str())
    .bind(at)
    .bind(&fingerprints)
    .bind(&tickets)
    .bind(&existed)
    .execute(conn)
    .await?;
    Ok(())
}

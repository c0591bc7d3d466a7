//! The error-budget warning ledger (`budget_warnings`): one row per service
//! and threshold announced, so each crossing is posted once whichever
//! replica gets there first, until the budget recovers below it.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::StoreError;

/// Every announced warning as `(service id, threshold)`. The table holds at
/// most a row per service and threshold, so this is read whole.
pub async fn warned(conn: &mut PgConnection) -> Result<Vec<(i64, u32)>, StoreError> {
    let rows: Vec<(i64, i16)> = sqlx::query_as("SELECT service_id, threshold FROM budget_warnings")
        .fetch_all(conn)
        .await?;
    rows.into_iter()
        .map(|(service, threshold)| {
            u32::try_from(threshold)
                .map(|threshold| (service, threshold))
                .map_err(|_| {
                    StoreError::Corrupt(format!(
                        "budget warning of service {service}: threshold {threshold}"
                    ))
                })
        })
        .collect()
}

/// Claims warning `threshold` of `service_id`; false when it was posted
/// before and the budget has not recovered since.
pub async fn claim(
    conn: &mut PgConnection,
    service_id: i64,
    threshold: u32,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let threshold = i16::try_from(threshold)
        .map_err(|_| StoreError::Corrupt(format!("budget threshold {threshold}")))?;
    let inserted = sqlx::query(
        "INSERT INTO budget_warnings (service_id, threshold, posted_at) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING",
    )
    .bind(service_id)
    .bind(threshold)
    .bind(at)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// Forgets warnings `thresholds` of `service_id`, so their next crossing is
/// announced again.
pub async fn rearm(
    conn: &mut PgConnection,
    service_id: i64,
    thresholds: &[u32],
) -> Result<(), StoreError> {
    let thresholds: Vec<i16> = thresholds
        .iter()
        .map(|t| {
            i16::try_from(*t).map_err(|_| StoreError::Corrupt(format!("budget threshold {t}")))
        })
        .collect::<Result<_, _>>()?;
    sqlx::query("DELETE FROM budget_warnings WHERE service_id = $1 AND threshold = ANY($2)")
        .bind(service_id)
        .bind(thresholds)
        .execute(conn)
        .await?;
    Ok(())
}

//! What people set for themselves: their time zone.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use sqlx::PgConnection;

use super::StoreError;
use crate::domain::UserId;

/// The zone `user` set with `/itsm timezone`, if any. A zone name this
/// build no longer knows counts as none rather than failing the command.
pub async fn time_zone(conn: &mut PgConnection, user: &UserId) -> Result<Option<Tz>, StoreError> {
    let name: Option<String> =
        sqlx::query_scalar("SELECT time_zone FROM person_time_zones WHERE user_id = $1")
            .bind(user.to_string())
            .fetch_optional(&mut *conn)
            .await?;
    Ok(name.and_then(|name| name.parse().ok()))
}

/// Sets `user`'s zone.
pub async fn set_time_zone(
    conn: &mut PgConnection,
    user: &UserId,
    zone: Tz,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO person_time_zones (user_id, time_zone, set_at) VALUES ($1, $2, $3)
         ON CONFLICT (user_id) DO UPDATE SET time_zone = EXCLUDED.time_zone, set_at = EXCLUDED.set_at",
    )
    .bind(user.to_string())
    .bind(zone.name())
    .bind(at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Forgets `user`'s zone; returns whether they had one.
pub async fn clear_time_zone(conn: &mut PgConnection, user: &UserId) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM person_time_zones WHERE user_id = $1")
        .bind(user.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

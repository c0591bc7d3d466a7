//! Roles granted from chat (`role_grants`).

use sqlx::PgConnection;

use super::StoreError;
use crate::domain::{Role, UserId};

/// The roles stored for `user`.
pub async fn stored_roles(conn: &mut PgConnection, user: &UserId) -> Result<Vec<Role>, StoreError> {
    let names: Vec<String> = sqlx::query_scalar("SELECT role FROM role_grants WHERE user_id = $1")
        .bind(user.to_string())
        .fetch_all(conn)
        .await?;
    names
        .into_iter()
        .map(|name| {
            name.parse()
                .map_err(|e: crate::domain::roles::RoleError| StoreError::Corrupt(e.to_string()))
        })
        .collect()
}

/// Stores `role` for `user`; false when it was already stored.
pub async fn grant(
    conn: &mut PgConnection,
    user: &UserId,
    role: Role,
    granted_by: &UserId,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<bool, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO role_grants (user_id, role, granted_by, granted_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (user_id, role) DO NOTHING",
    )
    .bind(user.to_string())
    .bind(role.as_str())
    .bind(granted_by.to_string())
    .bind(at)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// Removes a stored grant; false when there was none.
pub async fn revoke(
    conn: &mut PgConnection,
    user: &UserId,
    role: Role,
) -> Result<bool, StoreError> {
    let deleted = sqlx::query("DELETE FROM role_grants WHERE user_id = $1 AND role = $2")
        .bind(user.to_string())
        .bind(role.as_str())
        .execute(conn)
        .await?
        .rows_affected();
    Ok(deleted == 1)
}

/// The people granted `role` from chat.
pub async fn holders(conn: &mut PgConnection, role: Role) -> Result<Vec<String>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT user_id FROM role_grants WHERE role = $1 ORDER BY user_id")
            .bind(role.as_str())
            .fetch_all(conn)
            .await?,
    )
}

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

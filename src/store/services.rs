//! The service catalog (`services`).

use sqlx::{PgConnection, PgPool};

use super::StoreError;
use crate::config::ServiceConfig;

/// Inserts or updates the services named in config. Services that config no
/// longer names stay, since tickets may point at them.
pub async fn sync_catalog(pool: &PgPool, services: &[ServiceConfig]) -> Result<(), StoreError> {
    if services.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = services.iter().map(|s| s.name.as_str()).collect();
    let descriptions: Vec<&str> = services.iter().map(|s| s.description.as_str()).collect();
    let owners: Vec<Option<String>> = services
        .iter()
        .map(|s| s.owner.as_ref().map(ToString::to_string))
        .collect();
    sqlx::query(
        "INSERT INTO services (name, description, owner)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[])
         ON CONFLICT (name) DO UPDATE
            SET description = EXCLUDED.description, owner = EXCLUDED.owner, updated_at = now()
          WHERE (services.description, services.owner) IS DISTINCT FROM (EXCLUDED.description, EXCLUDED.owner)",
    )
    .bind(&names)
    .bind(&descriptions)
    .bind(&owners)
    .execute(pool)
    .await?;
    Ok(())
}

/// The id of the service called `name`.
pub async fn find_id(conn: &mut PgConnection, name: &str) -> Result<Option<i64>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT id FROM services WHERE name = $1")
            .bind(name)
            .fetch_optional(conn)
            .await?,
    )
}

/// Every service name, alphabetically.
pub async fn names(conn: &mut PgConnection) -> Result<Vec<String>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT name FROM services ORDER BY name")
            .fetch_all(conn)
            .await?,
    )
}

/// The owner of the service called `name`, if it has one.
pub async fn owner_of(conn: &mut PgConnection, name: &str) -> Result<Option<String>, StoreError> {
    Ok(
        sqlx::query_scalar::<_, Option<String>>("SELECT owner FROM services WHERE name = $1")
            .bind(name)
            .fetch_optional(conn)
            .await?
            .flatten(),
    )
}

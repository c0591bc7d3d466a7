//! Starting on a database whose schema is current skips the migrator; any
//! other state still reaches it and gets its answer. (Each refusal has a
//! test, and so a database, of its own: sqlx's migrator returns its errors
//! without releasing its advisory lock.)

use itsm_bot::store::{Store, StoreError};
use sqlx::migrate::MigrateError;
use sqlx::PgPool;

/// A store over `pool` after the latest applied migration was changed by
/// `change` (an assignment to a `_sqlx_migrations` column).
async fn with_latest_migration(pool: PgPool, change: &str) -> Store {
    let store = Store::from_pool(pool.clone());
    store.migrate().await.unwrap();
    assert!(store.ready().await.unwrap());
    sqlx::query(&format!(
        "UPDATE _sqlx_migrations SET {change}
          WHERE version = (SELECT max(version) FROM _sqlx_migrations)"
    ))
    .execute(&pool)
    .await
    .unwrap();
    store
}

#[sqlx::test]
async fn a_migration_changed_since_it_was_applied_is_refused(pool: PgPool) {
    let store = with_latest_migration(pool, "checksum = '\\x00'").await;
    let err = store.migrate().await.unwrap_err();
    assert!(
        matches!(err, StoreError::Migrate(MigrateError::VersionMismatch(_))),
        "{err:?}"
    );
}

#[sqlx::test]
async fn a_failed_migration_is_refused_as_dirty(pool: PgPool) {
    let store = with_latest_migration(pool, "success = false").await;
    let err = store.migrate().await.unwrap_err();
    assert!(
        matches!(err, StoreError::Migrate(MigrateError::Dirty(_))),
        "{err:?}"
    );
}

#[sqlx::test]
async fn a_schema_newer_than_the_binary_is_refused_naming_both_versions(pool: PgPool) {
    let store = Store::from_pool(pool.clone());
    store.migrate().await.unwrap();
    let binary = itsm_bot::store::schema_version();
    let future = binary + 1;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, execution_time)
         VALUES ($1, 'from a newer release', now(), true, '\\x00', 1)",
    )
    .bind(future)
    .execute(&pool)
    .await
    .unwrap();
    let err = store.migrate().await.unwrap_err();
    assert!(
        matches!(err, StoreError::SchemaNewer { database, binary: b } if database == future && b == binary),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&future.to_string()) && text.contains(&binary.to_string()),
        "{text}"
    );
    assert!(
        text.contains("upgrade itsm-bot") && text.contains("restore the backup"),
        "{text}"
    );
}

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

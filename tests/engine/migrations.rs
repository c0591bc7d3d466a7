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

/// Migration 20261205000070 moves each clock's earliest checkpoint that was
/// not posted yet from `sla_checkpoints` onto its `sla_outcomes` row, and
/// leaves a clock with everything posted standing for nothing.
#[sqlx::test(migrations = false)]
async fn sla_clock_rows_keep_the_earliest_unposted_checkpoint(pool: PgPool) {
    const CLOCK_ROWS: i64 = 20261205000070;
    let mut before = sqlx::migrate::Migrator::new(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/migrations"
    )))
    .await
    .unwrap();
    before.migrations = std::borrow::Cow::Owned(
        before
            .migrations
            .iter()
            .filter(|m| m.version < CLOCK_ROWS)
            .cloned()
            .collect(),
    );
    before.run(&pool).await.unwrap();
    sqlx::raw_sql(
        "INSERT INTO tickets (id, kind, number, title, status, priority, reporter, origin_platform,
                              origin_channel, created_at, updated_at)
         VALUES (1, 'incident', 1, 'a', 'new', 1, 'shell:a', 'shell', 'ops', now(), now()),
                (2, 'incident', 2, 'b', 'new', 1, 'shell:a', 'shell', 'ops', now(), now());
         INSERT INTO sla_outcomes (ticket_id, clock, target_seconds, due_at)
         VALUES (1, 'respond', 900, now()), (1, 'resolve', 9000, now()),
                (2, 'respond', 900, now()), (2, 'resolve', 9000, now());
         INSERT INTO sla_checkpoints (ticket_id, clock, threshold, due_at)
         VALUES (1, 'respond', 75, '2026-01-01 10:00Z'), (1, 'respond', 90, '2026-01-01 10:01Z'),
                (1, 'respond', 100, '2026-01-01 10:02Z'), (1, 'resolve', 75, '2026-01-01 11:00Z'),
                (1, 'resolve', 90, '2026-01-01 11:01Z'), (1, 'resolve', 100, '2026-01-01 11:02Z'),
                (2, 'respond', 100, '2026-01-01 12:00Z');
         INSERT INTO sla_notifications (ticket_id, clock, threshold, due_at, posted_at)
         VALUES (1, 'respond', 75, '2026-01-01 10:00Z', now()),
                (1, 'respond', 90, '2026-01-01 10:01Z', now()),
                (1, 'resolve', 75, '2026-01-01 11:00Z', now());",
    )
    .execute(&pool)
    .await
    .unwrap();
    Store::from_pool(pool.clone()).migrate().await.unwrap();
    let rows: Vec<(i64, String, Option<i16>, Option<String>)> = sqlx::query_as(
        "SELECT ticket_id, clock, next_threshold, to_char(next_due_at AT TIME ZONE 'UTC', 'HH24:MI')
           FROM sla_outcomes ORDER BY ticket_id, clock",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let expected = [
        (1, "resolve", Some(90), Some("11:01")),
        (1, "respond", Some(100), Some("10:02")),
        (2, "resolve", None, None),
        (2, "respond", Some(100), Some("12:00")),
    ]
    .map(|(id, clock, threshold, due)| (id, clock.to_string(), threshold, due.map(str::to_string)));
    assert_eq!(rows, expected);
    let gone: Option<String> = sqlx::query_scalar("SELECT to_regclass('sla_checkpoints')::text")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(gone, None);
}

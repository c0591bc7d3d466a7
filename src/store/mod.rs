//! All SQL lives here: the connection pool, migrations and one module per
//! table group. Functions take a `&mut PgConnection` so the caller decides
//! the transaction: every change to a ticket commits together with its
//! timeline events.

pub mod alert_delivery;
pub mod alerts;
mod approvals;
pub mod automation;
pub mod budgets;
pub mod changes;
pub mod dashboard;
pub mod duplicates;
pub mod inbound;
pub mod incidents;
pub mod kb;
pub mod leases;
pub mod listing;
pub mod messages;
pub mod oncall;
pub mod opening;
pub mod outbox;
pub mod paging;
pub mod people;
pub mod postmortems;
pub mod probe;
pub mod problems;
pub mod queue;
pub mod reports;
pub mod requests;
pub mod retention;
pub mod roles;
pub mod satisfaction;
pub mod search;
pub mod services;
pub mod sla;
pub mod timeline;
pub mod triage;

use std::time::Duration;

use sqlx::migrate::{MigrateDatabase, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Row, Transaction};

use crate::config::{redact_url, DatabaseConfig};

/// The migrations in `migrations/`, built into the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// A pooled connection idle for this long is pinged before it is used
/// again; one used more recently is taken as it is.
const PING_IDLE_AFTER: Duration = Duration::from_secs(1);

/// A database transaction.
pub type Tx = Transaction<'static, Postgres>;

/// What went wrong talking to the database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached right now; trying again later may work.
    #[error("the database is unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// The database refused a statement.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// A unique constraint refused the row (named by the constraint).
    #[error("conflicts with an existing row ({0})")]
    Conflict(String),
    /// A stored row does not make sense (a bad status, a bad user id).
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    /// Applying migrations failed.
    #[error("could not apply migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database has migrations this binary does not know: a newer
    /// release migrated it, and this older one must not write to it.
    #[error(
        "the database schema is at version {database}, newer than the version {binary} this itsm-bot {release} knows; \
         upgrade itsm-bot to the release that applied migration {database} (or later), \
         or restore the backup taken before that upgrade (docs/operations.md, \"Upgrades and rollback\")",
        release = env!("CARGO_PKG_VERSION")
    )]
    SchemaNewer {
        /// The newest migration applied to the database.
        database: i64,
        /// The newest migration built into this binary.
        binary: i64,
    },
}

/// The schema version this binary needs: its newest built-in migration.
pub fn schema_version() -> i64 {
    MIGRATOR
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .map(|m| m.version)
        .max()
        .unwrap_or(0)
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        if is_unavailable(&err) {
            StoreError::Unavailable(err)
        } else if let Some(constraint) = err
            .as_database_error()
            .filter(|db| db.code().as_deref() == Some("23505"))
            .and_then(|db| db.constraint().map(str::to_string))
        {
            StoreError::Conflict(constraint)
        } else {
            StoreError::Database(err)
        }
    }
}

/// Whether an error means "cannot reach the database" rather than "the
/// database said no": connection failures, pool timeouts, and the server
/// shutting down or starting up (SQLSTATE classes 08 and 57P).
fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|code| code.starts_with("08") || code.starts_with("57P")),
        _ => false,
    }
}

/// The bot's handle on PostgreSQL.
#[derive(Debug, Clone)]
pub struct Store {
    pool: PgPool,
}

/// The session settings of every connection the bot opens, sent in the
/// startup packet (no round trip). `itsm-bench` gives its raw-SQL
/// baselines the same, so both sides are planned alike.
///
/// No JIT compilation. The bot's statements are short (a command, an
/// index range of due work), and the few aggregates (digest figures,
/// reports) sit near PostgreSQL's default `jit_above_cost`: over a million
/// tickets the digest's figures were estimated at about 90,000, and when an
/// estimate crossed 100,000, compiling added 330 ms to a query that runs in
/// 90 ms on a 2-core machine.
///
/// Random reads priced as what they are for the bot: index lookups into
/// tables it keeps reading, cached (PostgreSQL's default 4 prices a read
/// from a spinning disk). At the default, run 7's figures joined a day's
/// 16,000 SLA clocks to their tickets by hashing all million tickets
/// (418 ms) rather than by 16,000 primary-key lookups (85 ms; BENCHMARKS
/// run 7).
pub const SESSION_SETTINGS: [(&str, &str); 2] = [("jit", "off"), ("random_page_cost", "1.1")];

impl Store {
    /// Wraps an existing pool (tests get one per test from `#[sqlx::test]`).
    pub fn from_pool(pool: PgPool) -> Self {
        Store { pool }
    }

    /// Creates the database if it does not exist, connects, and applies
    /// pending migrations.
    pub async fn open(config: &DatabaseConfig) -> Result<Self, StoreError> {
        let options: PgConnectOptions = config
            .url
            .parse::<PgConnectOptions>()?
            .options(SESSION_SETTINGS);
        let pool_options = PgPoolOptions::new()
            .max_connections(config.max_connections)
            // sqlx pings every idle connection before handing it out: a
            // round trip per acquire, four of them in one `say`, and one per
            // command under load, for connections used a moment ago. Only a
            // connection that has sat idle for a while is worth checking.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= PING_IDLE_AFTER {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
            .acquire_timeout(
                config
                    .acquire_timeout
                    .0
                    .to_std()
                    .unwrap_or(Duration::from_secs(5)),
            );
        // Connect first and create the database only when it is missing:
        // checking beforehand costs a second connection (to the
        // maintenance database) on every start, and every start but the
        // first finds the database there. `say` and `serve` start faster.
        let pool = match pool_options.clone().connect_with(options.clone()).await {
            Ok(pool) => pool,
            Err(err) if is_missing_database(&err) => {
                ensure_database(&config.url).await?;
                pool_options.connect_with(options).await?
            }
            Err(err) => return Err(err.into()),
        };
        let store = Store { pool };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies pending migrations. sqlx holds an advisory lock meanwhile, so
    /// replicas starting together are safe.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        if self.schema_is_current().await? {
            return Ok(());
        }
        self.refuse_newer_schema().await?;
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// Whether every built-in migration is applied, successfully and with
    /// its checksum, and no other: then running the migrator would change
    /// nothing. Every start asks (`say` too), and this is one statement
    /// where the migrator's own check is a dozen round trips (the advisory
    /// lock, the table check, the dirty and applied lists, the unlock).
    /// Anything else (a fresh database, a pending, failed, changed or
    /// unknown migration) is left to the migrator, which applies or
    /// reports it as before.
    async fn schema_is_current(&self) -> Result<bool, StoreError> {
        // Unprepared, so the check is one round trip, not a prepare and an
        // execute.
        let rows = match sqlx::raw_sql("SELECT version, checksum, success FROM _sqlx_migrations")
            .fetch_all(&self.pool)
            .await
        {
            Ok(rows) => rows,
            Err(err) if is_undefined_table(&err) => return Ok(false),
            Err(err) => return Err(err.into()),
        };
        let mut applied = std::collections::HashMap::with_capacity(rows.len());
        for row in rows {
            let version: i64 = row.try_get(0)?;
            let checksum: Vec<u8> = row.try_get(1)?;
            let success: bool = row.try_get(2)?;
            applied.insert(version, (checksum, success));
        }
        Ok(migrations_match(&applied))
    }

    /// Refuses a database a newer release has migrated. Migrations are
    /// forward-only; an older binary would read columns it does not know
    /// about and could write rows the newer code misreads, and sqlx's own
    /// refusal ("migration N was previously applied but is missing") does
    /// not say what to do.
    async fn refuse_newer_schema(&self) -> Result<(), StoreError> {
        // Only reached when the schema is not current (a fresh database, an
        // upgrade, a newer schema), so one more round trip costs nothing.
        let newest: Option<i64> =
            match sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(&self.pool)
                .await
            {
                Ok(newest) => newest,
                Err(err) if is_undefined_table(&err) => None,
                Err(err) => return Err(err.into()),
            };
        let binary = schema_version();
        match newest {
            Some(database) if database > binary => {
                Err(StoreError::SchemaNewer { database, binary })
            }
            _ => Ok(()),
        }
    }

    /// The connection pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// A pooled connection, for work that is one statement and needs no
    /// transaction around it.
    pub async fn acquire(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>, StoreError> {
        Ok(self.pool.acquire().await?)
    }

    /// A connection only if one is idle now and nobody is waiting for
    /// one: for work that may run beside a command's own, and otherwise
    /// runs after it on the command's connection. (Waiting for a second
    /// connection while holding one could starve the pool.) Unlike
    /// [`Store::acquire`], it does not ping a connection that has sat idle:
    /// after a database restart it may be broken, so a caller must be ready
    /// to do the work again on its own connection.
    pub fn try_acquire(&self) -> Option<sqlx::pool::PoolConnection<sqlx::Postgres>> {
        self.pool.try_acquire()
    }

    /// Starts a transaction.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(self.pool.begin().await?)
    }

    /// Checks that the database answers and its schema is current.
    pub async fn ready(&self) -> Result<bool, StoreError> {
        let applied: i64 =
            sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
                .fetch_one(&self.pool)
                .await?;
        Ok(applied >= MIGRATOR.iter().count() as i64)
    }

    /// Closes every connection, waiting for those in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Whether `applied` (version → checksum, success) is exactly the built-in
/// migrations, each applied successfully with the same checksum.
fn migrations_match(applied: &std::collections::HashMap<i64, (Vec<u8>, bool)>) -> bool {
    let mut expected = 0;
    for migration in MIGRATOR.iter() {
        if migration.migration_type.is_down_migration() {
            continue;
        }
        expected += 1;
        let current = applied
            .get(&migration.version)
            .is_some_and(|(checksum, success)| {
                *success && checksum.as_slice() == migration.checksum.as_ref()
            });
        if !current {
            return false;
        }
    }
    applied.len() == expected
}

/// Whether a statement failed because its table does not exist (SQLSTATE
/// 42P01, undefined_table): a database no migration has run in.
fn is_undefined_table(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .and_then(|db| db.code())
        .is_some_and(|code| code == "42P01")
}

/// Whether connecting failed because the database does not exist
/// (SQLSTATE 3D000, invalid_catalog_name).
fn is_missing_database(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .and_then(|db| db.code())
        .is_some_and(|code| code == "3D000")
}

/// Creates the database named in `url` if it does not exist yet.
pub async fn ensure_database(url: &str) -> Result<(), StoreError> {
    if Postgres::database_exists(url).await? {
        return Ok(());
    }
    tracing::info!(database = %redact_url(url), "creating database");
    if let Err(err) = Postgres::create_database(url).await {
        // Another replica may have created it a moment ago.
        if !Postgres::database_exists(url).await? {
            return Err(err.into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// The built-in migrations as a database that has applied them all
    /// records them.
    fn all_applied() -> HashMap<i64, (Vec<u8>, bool)> {
        MIGRATOR
            .iter()
            .filter(|m| !m.migration_type.is_down_migration())
            .map(|m| (m.version, (m.checksum.to_vec(), true)))
            .collect()
    }

    #[test]
    fn only_exactly_the_built_in_migrations_skip_the_migrator() {
        assert!(migrations_match(&all_applied()));
        let last = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);

        let mut pending = all_applied();
        pending.remove(&last);
        assert!(!migrations_match(&pending), "a pending migration");

        let mut failed = all_applied();
        failed
            .entry(last)
            .and_modify(|(_, success)| *success = false);
        assert!(!migrations_match(&failed), "a failed (dirty) migration");

        let mut changed = all_applied();
        changed
            .entry(last)
            .and_modify(|(checksum, _)| checksum[0] ^= 1);
        assert!(!migrations_match(&changed), "a migration edited since");

        let mut newer = all_applied();
        newer.insert(last + 1, (vec![0; 48], true));
        assert!(!migrations_match(&newer), "one this binary does not know");

        assert!(!migrations_match(&HashMap::new()), "a fresh database");
    }
}

//! All SQL lives here: the connection pool, migrations and one module per
//! table group. Functions take a `&mut PgConnection` so the caller decides
//! the transaction: every change to a ticket commits together with its
//! timeline events.

pub mod alerts;
pub mod automation;
pub mod budgets;
pub mod changes;
pub mod dashboard;
pub mod inbound;
pub mod incidents;
pub mod leases;
pub mod listing;
pub mod messages;
pub mod oncall;
pub mod outbox;
pub mod paging;
pub mod postmortems;
pub mod problems;
pub mod reports;
pub mod roles;
pub mod satisfaction;
pub mod services;
pub mod sla;
pub mod timeline;

use std::time::Duration;

use sqlx::migrate::{MigrateDatabase, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};

use crate::config::{redact_url, DatabaseConfig};

/// The migrations in `migrations/`, built into the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

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

impl Store {
    /// Wraps an existing pool (tests get one per test from `#[sqlx::test]`).
    pub fn from_pool(pool: PgPool) -> Self {
        Store { pool }
    }

    /// Creates the database if it does not exist, connects, and applies
    /// pending migrations.
    pub async fn open(config: &DatabaseConfig) -> Result<Self, StoreError> {
        // No JIT compilation in the bot's sessions. Its statements are short
        // (a command, an index range of due work), and the few aggregates
        // (digest figures, reports) sit near PostgreSQL's default
        // `jit_above_cost`: over a million tickets the digest's figures
        // cost about 90,000, and when an estimate crossed 100,000 compiling
        // took 330 ms of a 115 ms query on a 2-core machine. Set in the
        // startup packet, so it costs no round trip.
        let options: PgConnectOptions = config
            .url
            .parse::<PgConnectOptions>()?
            .options([("jit", "off")]);
        let pool_options = PgPoolOptions::new()
            .max_connections(config.max_connections)
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
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// The connection pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
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

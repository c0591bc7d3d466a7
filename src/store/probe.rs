//! One look at the database for `itsm-bot check-config --connect`: can the
//! bot reach it (TLS included), and are its migrations applied?

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{Connection, Row};

use super::{is_missing_database, is_undefined_table, StoreError, MIGRATOR};

/// What the database's schema looks like to this binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaState {
    /// The server answers but the database does not exist yet.
    MissingDatabase,
    /// Every migration this binary has is applied.
    Current {
        /// How many.
        applied: usize,
    },
    /// Migrations this binary has that the database lacks.
    Pending {
        /// Their descriptions, oldest first.
        pending: Vec<String>,
    },
    /// The database has migrations this binary does not know: it was
    /// migrated by a newer release.
    Newer {
        /// How many unknown versions.
        unknown: usize,
    },
}

/// Connects once to `url` (within `timeout`) and compares its applied
/// migrations with this binary's. Errors carry sqlx's message, which never
/// holds the password.
pub async fn probe(url: &str, timeout: Duration) -> Result<SchemaState, StoreError> {
    let options: PgConnectOptions = url.parse()?;
    let connecting = PgConnection::connect_with(&options);
    let mut conn = match tokio::time::timeout(timeout, connecting).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(err)) if is_missing_database(&err) => return Ok(SchemaState::MissingDatabase),
        Ok(Err(err)) => return Err(StoreError::Unavailable(err)),
        Err(_) => {
            return Err(StoreError::Unavailable(sqlx::Error::Io(
                std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no answer within {}s", timeout.as_secs()),
                ),
            )))
        }
    };
    let rows = sqlx::query("SELECT version FROM _sqlx_migrations WHERE success")
        .fetch_all(&mut conn)
        .await;
    let applied: Vec<i64> = match rows {
        Ok(rows) => rows
            .iter()
            .map(|row| row.try_get::<i64, _>(0))
            .collect::<Result<_, _>>()?,
        Err(err) if is_undefined_table(&err) => Vec::new(),
        Err(err) => return Err(err.into()),
    };
    let _ = conn.close().await;
    let known: Vec<_> = MIGRATOR
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .collect();
    let unknown = applied
        .iter()
        .filter(|v| !known.iter().any(|m| m.version == **v))
        .count();
    if unknown > 0 {
        return Ok(SchemaState::Newer { unknown });
    }
    let pending: Vec<String> = known
        .iter()
        .filter(|m| !applied.contains(&m.version))
        .map(|m| format!("{}_{}", m.version, m.description.replace(' ', "_")))
        .collect();
    Ok(if pending.is_empty() {
        SchemaState::Current {
            applied: applied.len(),
        }
    } else {
        SchemaState::Pending { pending }
    })
}

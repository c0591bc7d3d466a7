//! What the durable work queues have in common: the outbox (chat posts),
//! `page_hooks` (paging-hook events) and `outbound_calls` (rule webhooks
//! and runbooks) share one life cycle, kept in the same columns of each
//! table — `not_before`, `claimed_until`, `attempts`, `last_error`,
//! `sent_at`, `failed_at` — so one set of statements moves a row of any of
//! them. What differs (which rows a claim may take together, what a sent
//! row records) stays in each table's own module.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::PgConnection;

use super::StoreError;

/// One of the queue tables. The table name comes from this closed set, never
/// from outside input, so formatting it into a statement is safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Queue {
    /// `outbox`: posts and card edits owed to chat platforms.
    Outbox,
    /// `page_hooks`: events owed to the paging hook.
    Paging,
    /// `outbound_calls`: rule webhooks and runbook calls.
    Calls,
}

impl Queue {
    /// Every queue, in the order `/itsm outbox` lists them.
    pub const ALL: [Queue; 3] = [Queue::Outbox, Queue::Paging, Queue::Calls];

    fn table(self) -> &'static str {
        match self {
            Queue::Outbox => "outbox",
            Queue::Paging => "page_hooks",
            Queue::Calls => "outbound_calls",
        }
    }

    /// The short name used in logs, metrics labels and row references
    /// (`post`, `page`, `call`).
    pub fn as_str(self) -> &'static str {
        match self {
            Queue::Outbox => "post",
            Queue::Paging => "page",
            Queue::Calls => "call",
        }
    }

    /// The queue named `text` (see [`Queue::as_str`]).
    pub fn parse(text: &str) -> Option<Self> {
        Queue::ALL.into_iter().find(|q| q.as_str() == text)
    }
}

impl std::fmt::Display for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The condition a row must meet to be claimed at `$1`: neither sent nor
/// parked, due, and not leased to a live worker. For the claims each table
/// writes itself (the outbox's coalescing claim).
pub const DUE: &str = "sent_at IS NULL AND failed_at IS NULL AND not_before <= $1
   AND (claimed_until IS NULL OR claimed_until <= $1)";

/// Claims up to `limit` of the oldest due rows of `queue` that also meet
/// `filter` (an SQL condition on the row, aliased `q`; `"true"` for none),
/// and leases them until `until`, in one statement: `SKIP LOCKED` keeps
/// workers side by side (and replicas) from taking the same row, and the
/// lease, once committed, keeps it this worker's while it sends with no
/// connection held. Returns `columns` of each leased row.
pub async fn claim<R>(
    conn: &mut PgConnection,
    queue: Queue,
    columns: &'static str,
    filter: &'static str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<R>, StoreError>
where
    R: for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin,
{
    let table = queue.table();
    let sql = format!(
        "UPDATE {table} SET claimed_until = $2
         WHERE id IN (
             SELECT id FROM {table} q
              WHERE {DUE} AND ({filter})
              ORDER BY not_before, id
              LIMIT $3
              FOR UPDATE SKIP LOCKED)
         RETURNING {columns}"
    );
    Ok(sqlx::query_as(&sql)
        .bind(now)
        .bind(until)
        .bind(limit)
        .fetch_all(conn)
        .await?)
}

/// Marks rows `ids` of `queue` sent at `at`, ending their lease.
pub async fn mark_sent(
    conn: &mut PgConnection,
    queue: Queue,
    ids: &[i64],
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let table = queue.table();
    sqlx::query(&format!(
        "UPDATE {table} SET sent_at = $2, claimed_until = NULL WHERE id = ANY($1) AND sent_at IS NULL"
    ))
    .bind(ids)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a failed attempt at row `id` of `queue`: tried again from
/// `retry_at`, or parked as failed at `at` when `retry_at` is `None`.
pub async fn mark_failed(
    conn: &mut PgConnection,
    queue: Queue,
    id: i64,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let table = queue.table();
    sqlx::query(&format!(
        "UPDATE {table} SET attempts = attempts + 1, last_error = $2, claimed_until = NULL,
                not_before = COALESCE($3, not_before),
                failed_at = CASE WHEN $3 IS NULL THEN $4 END
         WHERE id = $1"
    ))
    .bind(id)
    .bind(error)
    .bind(retry_at)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Gives leased rows of `queue` back without sending them.
pub async fn release(conn: &mut PgConnection, queue: Queue, ids: &[i64]) -> Result<(), StoreError> {
    let table = queue.table();
    sqlx::query(&format!(
        "UPDATE {table} SET claimed_until = NULL WHERE id = ANY($1) AND sent_at IS NULL"
    ))
    .bind(ids)
    .execute(conn)
    .await?;
    Ok(())
}

/// How many rows of one queue wait and how many are parked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Counts {
    pub queue: Queue,
    /// Neither sent nor parked (due now or later, leased or not).
    pub pending: i64,
    /// Parked after their last attempt failed.
    pub parked: i64,
    /// Seconds since the oldest pending row was queued (0 with none): a
    /// queue that does not drain shows here before anyone complains.
    pub oldest_pending_seconds: f64,
}

/// Waiting and parked rows of every queue, in one statement.
pub async fn counts(conn: &mut PgConnection) -> Result<Vec<Counts>, StoreError> {
    let parts: Vec<String> = Queue::ALL
        .iter()
        .map(|queue| {
            format!(
                "SELECT '{name}', count(*) FILTER (WHERE failed_at IS NULL),
                        count(*) FILTER (WHERE failed_at IS NOT NULL),
                        coalesce(extract(epoch FROM now() - min(created_at)
                                 FILTER (WHERE failed_at IS NULL))::float8, 0)
                 FROM {table} WHERE sent_at IS NULL",
                name = queue.as_str(),
                table = queue.table()
            )
        })
        .collect();
    let rows: Vec<(String, i64, i64, f64)> = sqlx::query_as(&parts.join(" UNION ALL "))
        .fetch_all(conn)
        .await?;
    rows.into_iter()
        .map(|(name, pending, parked, oldest)| {
            let queue = Queue::parse(&name)
                .ok_or_else(|| StoreError::Corrupt(format!("unknown queue `{name}`")))?;
            Ok(Counts {
                queue,
                pending,
                parked,
                // A clock behind the database's can make a fresh row look
                // queued in the future.
                oldest_pending_seconds: oldest.max(0.0),
            })
        })
        .collect()
}

/// A row parked after its last attempt failed, in any queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParkedRow {
    pub queue: Queue,
    pub id: i64,
    /// What the row is: `slack ticket_message`, `trigger`, `rule notify`.
    pub what: String,
    /// `INC-3`, `CHG-1`, …, when the row is about a ticket.
    pub ticket: Option<String>,
    /// A notice's channel.
    pub channel: Option<String>,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub failed_at: DateTime<Utc>,
}

/// The most recently parked rows of every queue, at most `limit`.
pub async fn parked(conn: &mut PgConnection, limit: i64) -> Result<Vec<ParkedRow>, StoreError> {
    type Row = (
        String,
        i64,
        String,
        Option<String>,
        Option<String>,
        i32,
        Option<String>,
        DateTime<Utc>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT p.queue, p.id, p.what,
                CASE t.kind WHEN 'incident' THEN 'INC-' WHEN 'problem' THEN 'PRB-' WHEN 'change' THEN 'CHG-' END || t.number,
                p.channel, p.attempts, p.last_error, p.failed_at
         FROM (
             SELECT 'post' AS queue, id, platform || ' ' || kind AS what, ticket_id, channel,
                    attempts, last_error, failed_at
             FROM outbox WHERE sent_at IS NULL AND failed_at IS NOT NULL
             UNION ALL
             SELECT 'page', id, 'paging ' || event_action, ticket_id, NULL,
                    attempts, last_error, failed_at
             FROM page_hooks WHERE sent_at IS NULL AND failed_at IS NOT NULL
             UNION ALL
             SELECT 'call', id, source || ' ' || name, ticket_id, NULL,
                    attempts, last_error, failed_at
             FROM outbound_calls WHERE sent_at IS NULL AND failed_at IS NOT NULL
         ) p LEFT JOIN tickets t ON t.id = p.ticket_id
         ORDER BY p.failed_at DESC, p.id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(
            |(queue, id, what, ticket, channel, attempts, last_error, failed_at)| {
                Ok(ParkedRow {
                    queue: Queue::parse(&queue)
                        .ok_or_else(|| StoreError::Corrupt(format!("unknown queue `{queue}`")))?,
                    id,
                    what,
                    ticket,
                    channel,
                    attempts,
                    last_error,
                    failed_at,
                })
            },
        )
        .collect()
}

/// Puts parked rows of `queue` back with a fresh set of attempts: the ones
/// in `ids`, or every parked row of it when `ids` is empty. Returns how
/// many. Runbook calls are never put back: a runbook is not idempotent
/// (it gets one attempt), and its run has been reported as failed; it is
/// asked for again with `/runbook`.
pub async fn retry_parked(
    conn: &mut PgConnection,
    queue: Queue,
    ids: &[i64],
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let table = queue.table();
    let only = match queue {
        Queue::Calls => "AND source <> 'runbook'",
        Queue::Outbox | Queue::Paging => "",
    };
    Ok(sqlx::query(&format!(
        "UPDATE {table} SET failed_at = NULL, attempts = 0, not_before = $2
         WHERE sent_at IS NULL AND failed_at IS NOT NULL {only}
           AND (cardinality($1::bigint[]) = 0 OR id = ANY($1))"
    ))
    .bind(ids)
    .bind(now)
    .execute(conn)
    .await?
    .rows_affected())
}

/// How many rows of every queue are due at `now` and neither sent nor
/// parked: what a stopping replica leaves for the others (or its next
/// start). Due is judged by the engine's clock, the one `not_before` was
/// written with, not the database's.
pub async fn pending(pool: &sqlx::PgPool, now: DateTime<Utc>) -> Result<i64, StoreError> {
    let parts: Vec<String> = Queue::ALL
        .iter()
        .map(|queue| {
            format!(
                "(SELECT count(*) FROM {table}
                  WHERE sent_at IS NULL AND failed_at IS NULL AND not_before <= $1)",
                table = queue.table()
            )
        })
        .collect();
    Ok(sqlx::query_scalar(&format!("SELECT {}", parts.join(" + ")))
        .bind(now)
        .fetch_one(pool)
        .await?)
}

//! Automation's rows: outbound calls (`outbound_calls`), runbook runs
//! (`runbook_runs`) and the rule counts `/itsm rules` shows.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::StoreError;

/// A call to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCall<'a> {
    /// `rule` or `runbook`.
    pub source: &'a str,
    /// The rule's or runbook's name.
    pub name: &'a str,
    /// The `X-Itsm-Event` header.
    pub event: &'a str,
    pub ticket_id: i64,
    pub run_id: Option<i64>,
    pub method: &'a str,
    pub url: &'a str,
    /// Header values as configured: `${NAME}` references unexpanded.
    pub headers: &'a BTreeMap<String, String>,
    pub body: &'a str,
    pub secret_env: Option<&'a str>,
    pub max_attempts: i32,
}

/// A claimed call.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Call {
    pub id: i64,
    pub source: String,
    pub name: String,
    pub event: String,
    pub ticket_id: i64,
    pub run_id: Option<i64>,
    pub method: String,
    pub url: String,
    pub headers: sqlx::types::Json<BTreeMap<String, String>>,
    pub body: String,
    pub secret_env: Option<String>,
    pub max_attempts: i32,
    pub attempts: i32,
}

/// Queues a call, due at once.
pub async fn enqueue(
    conn: &mut PgConnection,
    call: &NewCall<'_>,
    at: DateTime<Utc>,
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO outbound_calls (source, name, event, ticket_id, run_id, method, url,
                                     headers, body, secret_env, max_attempts, created_at, not_before)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)
         RETURNING id",
    )
    .bind(call.source)
    .bind(call.name)
    .bind(call.event)
    .bind(call.ticket_id)
    .bind(call.run_id)
    .bind(call.method)
    .bind(call.url)
    .bind(sqlx::types::Json(call.headers))
    .bind(call.body)
    .bind(call.secret_env)
    .bind(call.max_attempts)
    .bind(at)
    .fetch_one(conn)
    .await?)
}

/// Claims up to `limit` of the oldest due calls and leases them until
/// `until` (committed by the caller before sending), so no other worker
/// sends them meanwhile.
pub async fn claim(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Call>, StoreError> {
    super::queue::claim(
        conn,
        super::queue::Queue::Calls,
        "id, source, name, event, ticket_id, run_id, method, url, headers, body,
         secret_env, max_attempts, attempts",
        "true",
        now,
        until,
        limit,
    )
    .await
}

/// Records an answer: `sent` when it succeeded; otherwise tried again from
/// `retry_at`, or given up (`retry_at` = None).
pub async fn record(
    conn: &mut PgConnection,
    id: i64,
    outcome: &CallOutcome,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    use super::queue::{self, Queue};
    // The row's life cycle is the queue's; the answer's status is the
    // call's own.
    let (status, sent) = match outcome {
        CallOutcome::Sent { status } => {
            queue::mark_sent(&mut *conn, Queue::Calls, &[id], at).await?;
            (Some(*status), true)
        }
        CallOutcome::Failed {
            status,
            error,
            retry_at,
        } => {
            queue::mark_failed(&mut *conn, Queue::Calls, id, error, *retry_at, at).await?;
            (*status, false)
        }
    };
    sqlx::query(
        "UPDATE outbound_calls SET http_status = $2,
                attempts = attempts + CASE WHEN $3 THEN 1 ELSE 0 END,
                last_error = CASE WHEN $3 THEN NULL ELSE last_error END
         WHERE id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(sent)
    .execute(conn)
    .await?;
    Ok(())
}

/// How one attempt at a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallOutcome {
    Sent {
        status: i32,
    },
    Failed {
        status: Option<i32>,
        error: String,
        retry_at: Option<DateTime<Utc>>,
    },
}

/// Whether any call waits to be sent (the partial index answers it).
pub async fn has_pending(conn: &mut PgConnection) -> Result<bool, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM outbound_calls WHERE sent_at IS NULL AND failed_at IS NULL)",
    )
    .fetch_one(conn)
    .await?)
}

/// A runbook run to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRun<'a> {
    pub runbook: &'a str,
    pub params: &'a BTreeMap<String, serde_json::Value>,
    pub requested_by: &'a str,
    pub incident_id: Option<i64>,
    pub change_id: Option<i64>,
    /// The service request whose approval runs it.
    pub request_id: Option<i64>,
    pub platform: &'a str,
    pub channel: &'a str,
    pub thread: Option<&'a str>,
    /// `awaiting_approval` or `queued`.
    pub status: &'a str,
}

/// A stored runbook run.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Run {
    pub id: i64,
    pub runbook: String,
    pub params: sqlx::types::Json<BTreeMap<String, serde_json::Value>>,
    pub requested_by: String,
    pub incident_id: Option<i64>,
    pub change_id: Option<i64>,
    pub request_id: Option<i64>,
    pub platform: String,
    pub channel: String,
    pub thread: Option<String>,
    pub status: String,
}

const SELECT_RUN: &str = "SELECT id, runbook, params, requested_by, incident_id, change_id,
                                 request_id, platform, channel, thread, status FROM runbook_runs";

/// Records a run; returns its id.
pub async fn insert_run(
    conn: &mut PgConnection,
    run: &NewRun<'_>,
    at: DateTime<Utc>,
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO runbook_runs (runbook, params, requested_by, incident_id, change_id,
                                   platform, channel, thread, status, created_at, request_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         RETURNING id",
    )
    .bind(run.runbook)
    .bind(sqlx::types::Json(run.params))
    .bind(run.requested_by)
    .bind(run.incident_id)
    .bind(run.change_id)
    .bind(run.platform)
    .bind(run.channel)
    .bind(run.thread)
    .bind(run.status)
    .bind(at)
    .bind(run.request_id)
    .fetch_one(conn)
    .await?)
}

/// The run waiting on change `change_id`, locked.
pub async fn run_of_change(
    conn: &mut PgConnection,
    change_id: i64,
) -> Result<Option<Run>, StoreError> {
    Ok(
        sqlx::query_as(&format!("{SELECT_RUN} WHERE change_id = $1 FOR UPDATE"))
            .bind(change_id)
            .fetch_optional(conn)
            .await?,
    )
}

/// Run `id`.
pub async fn run(conn: &mut PgConnection, id: i64) -> Result<Option<Run>, StoreError> {
    Ok(sqlx::query_as(&format!("{SELECT_RUN} WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?)
}

/// Moves run `id` to `status`, with the answer's status and link when it
/// finished.
pub async fn set_run_status(
    conn: &mut PgConnection,
    id: i64,
    status: &str,
    http_status: Option<i32>,
    link: Option<&str>,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE runbook_runs SET status = $2, http_status = COALESCE($3, http_status),
                link = COALESCE($4, link),
                finished_at = CASE WHEN $2 IN ('succeeded', 'failed', 'rejected') THEN $5 END
         WHERE id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(http_status)
    .bind(link)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// One rule's record: how often it fired and failed, and when last.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RuleCount {
    pub rule: String,
    pub fired: i64,
    pub failed: i64,
    pub last_at: Option<DateTime<Utc>>,
}

/// Firings and failures per rule, from the timeline.
pub async fn rule_counts(conn: &mut PgConnection) -> Result<Vec<RuleCount>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT to_value AS rule,
                count(*) FILTER (WHERE action = 'rule_fired') AS fired,
                count(*) FILTER (WHERE action = 'rule_failed') AS failed,
                max(at) AS last_at
         FROM ticket_events
         WHERE action IN ('rule_fired', 'rule_failed') AND to_value IS NOT NULL
         GROUP BY to_value",
    )
    .fetch_all(conn)
    .await?)
}

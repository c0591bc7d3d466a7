//! Service requests: a `tickets` row of kind `request`, its `requests` row
//! and its approvals.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::StoreError;
use crate::domain::incident::Origin;
use crate::domain::request::{Approval, NewRequest, RequestStatus, ServiceRequest};
use crate::domain::UserId;

const SELECT_REQUEST: &str = "
SELECT t.id, t.number, t.title, t.description, t.status, t.reporter, t.assignee,
       t.origin_platform, t.origin_channel, t.origin_thread, t.origin_message,
       t.created_at, t.updated_at,
       r.item, r.field_names, r.field_values, r.tasks_done, r.status_before_hold, r.reason,
       r.outcome, r.approved_at, r.fulfilled_at
FROM tickets t
JOIN requests r ON r.ticket_id = t.id";

#[derive(sqlx::FromRow)]
struct RequestRow {
    id: i64,
    number: i64,
    title: String,
    description: String,
    status: String,
    reporter: String,
    assignee: Option<String>,
    origin_platform: String,
    origin_channel: String,
    origin_thread: Option<String>,
    origin_message: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    item: String,
    field_names: Vec<String>,
    field_values: Vec<String>,
    tasks_done: Vec<i32>,
    status_before_hold: Option<String>,
    reason: Option<String>,
    outcome: Option<String>,
    approved_at: Option<DateTime<Utc>>,
    fulfilled_at: Option<DateTime<Utc>>,
}

impl RequestRow {
    fn into_request(self, approvals: Vec<Approval>) -> Result<ServiceRequest, StoreError> {
        let number = self.number;
        let corrupt = |what: &str| StoreError::Corrupt(format!("REQ-{number}: {what}"));
        let user = |text: &str| text.parse::<UserId>().map_err(|e| corrupt(&e.to_string()));
        Ok(ServiceRequest {
            id: self.id,
            number,
            status: self.status.parse().map_err(|e: String| corrupt(&e))?,
            status_before_hold: self
                .status_before_hold
                .as_deref()
                .map(|s| s.parse::<RequestStatus>().map_err(|e| corrupt(&e)))
                .transpose()?,
            requester: user(&self.reporter)?,
            assignee: self.assignee.as_deref().map(user).transpose()?,
            origin: Origin {
                platform: self
                    .origin_platform
                    .parse()
                    .map_err(|_| corrupt("bad origin platform"))?,
                channel: self.origin_channel,
                thread: self.origin_thread,
                message: self.origin_message,
            },
            item: self.item,
            title: self.title,
            description: self.description,
            fields: self
                .field_names
                .into_iter()
                .zip(self.field_values)
                .collect(),
            tasks_done: self
                .tasks_done
                .into_iter()
                .map(|t| u32::try_from(t).map_err(|_| corrupt("negative task")))
                .collect::<Result<_, _>>()?,
            approvals,
            reason: self.reason,
            outcome: self.outcome,
            created_at: self.created_at,
            updated_at: self.updated_at,
            approved_at: self.approved_at,
            fulfilled_at: self.fulfilled_at,
        })
    }
}

/// The approvals of ticket `ticket_id`.
async fn approvals(conn: &mut PgConnection, ticket_id: i64) -> Result<Vec<Approval>, StoreError> {
    super::approvals::of(conn, super::approvals::Approvals::Request, ticket_id).await
}

async fn with_approvals(
    conn: &mut PgConnection,
    rows: Vec<RequestRow>,
) -> Result<Vec<ServiceRequest>, StoreError> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let approvals = approvals(conn, row.id).await?;
        out.push(row.into_request(approvals)?);
    }
    Ok(out)
}

async fn fetch(
    conn: &mut PgConnection,
    condition: &str,
    value: i64,
) -> Result<Option<ServiceRequest>, StoreError> {
    let query = format!("{SELECT_REQUEST} WHERE t.kind = 'request' AND {condition}");
    let row: Option<RequestRow> = sqlx::query_as(&query)
        .bind(value)
        .fetch_optional(&mut *conn)
        .await?;
    match row {
        Some(row) => {
            let approvals = approvals(conn, row.id).await?;
            row.into_request(approvals).map(Some)
        }
        None => Ok(None),
    }
}

/// Stores a new request, numbered from the request sequence, and returns it.
pub async fn insert(
    conn: &mut PgConnection,
    new: &NewRequest,
    at: DateTime<Utc>,
) -> Result<ServiceRequest, StoreError> {
    let names: Vec<&String> = new.fields.keys().collect();
    let values: Vec<&String> = new.fields.values().collect();
    let approved_at = (new.status == RequestStatus::Approved).then_some(at);
    let (id, number): (i64, i64) = sqlx::query_as(
        "WITH ticket AS (
            INSERT INTO tickets (kind, number, title, description, status, reporter,
                                 origin_platform, origin_channel, origin_thread, origin_message,
                                 created_at, updated_at)
            VALUES ('request', nextval('request_number_seq'), $1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
            RETURNING id, number
         ), details AS (
            INSERT INTO requests (ticket_id, item, field_names, field_values, approved_at)
            SELECT id, $10, $11, $12, $13 FROM ticket
         )
         SELECT id, number FROM ticket",
    )
    .bind(&new.title)
    .bind(&new.description)
    .bind(new.status.as_str())
    .bind(new.requester.to_string())
    .bind(new.origin.platform.as_str())
    .bind(&new.origin.channel)
    .bind(&new.origin.thread)
    .bind(&new.origin.message)
    .bind(at)
    .bind(&new.item)
    .bind(&names)
    .bind(&values)
    .bind(approved_at)
    .fetch_one(conn)
    .await?;
    Ok(ServiceRequest {
        id,
        number,
        item: new.item.clone(),
        title: new.title.clone(),
        description: new.description.clone(),
        status: new.status,
        requester: new.requester.clone(),
        assignee: None,
        fields: new.fields.clone(),
        approvals: Vec::new(),
        tasks_done: Vec::new(),
        status_before_hold: None,
        reason: None,
        outcome: None,
        origin: new.origin.clone(),
        created_at: at,
        updated_at: at,
        approved_at,
        fulfilled_at: None,
    })
}

/// Reads request `number` and locks it until the transaction ends, so two
/// approvals of one request are counted one after the other.
pub async fn lock(
    conn: &mut PgConnection,
    number: i64,
) -> Result<Option<ServiceRequest>, StoreError> {
    fetch(conn, "t.number = $1 FOR UPDATE OF t, r", number).await
}

/// Reads request `number`.
pub async fn get(
    conn: &mut PgConnection,
    number: i64,
) -> Result<Option<ServiceRequest>, StoreError> {
    fetch(conn, "t.number = $1", number).await
}

/// Reads the request stored as ticket `id`.
pub async fn get_by_id(
    conn: &mut PgConnection,
    id: i64,
) -> Result<Option<ServiceRequest>, StoreError> {
    fetch(conn, "t.id = $1", id).await
}

/// Sets the instant request `ticket_id`'s fulfilment clock is due, which
/// the figures judge it against; `None` clears it (not started, or paused
/// with time left).
pub async fn set_fulfil_due(
    conn: &mut PgConnection,
    ticket_id: i64,
    due: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE requests SET fulfil_due_at = $2 WHERE ticket_id = $1")
        .bind(ticket_id)
        .bind(due)
        .execute(conn)
        .await?;
    Ok(())
}

/// Ends request `ticket_id`'s fulfilment clock unfulfilled at `at`
/// (cancelled, rejected): a clock already due before `at` stays, as it was
/// breached; one not yet due is never judged.
pub async fn drop_fulfil_due(
    conn: &mut PgConnection,
    ticket_id: i64,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE requests SET fulfil_due_at = NULL WHERE ticket_id = $1 AND fulfil_due_at >= $2",
    )
    .bind(ticket_id)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes a request's changeable fields back, and the approvals it gained.
pub async fn update(
    conn: &mut PgConnection,
    before: &ServiceRequest,
    request: &ServiceRequest,
) -> Result<(), StoreError> {
    let tasks: Vec<i32> = request
        .tasks_done
        .iter()
        .map(|t| i32::try_from(*t).unwrap_or(i32::MAX))
        .collect();
    sqlx::query(
        "WITH ticket AS (
            UPDATE tickets SET status = $2, assignee = $3, updated_at = $4
            WHERE id = $1 RETURNING id
         )
         UPDATE requests SET tasks_done = $5, status_before_hold = $6, reason = $7, outcome = $8,
                approved_at = $9, fulfilled_at = $10
         WHERE ticket_id = (SELECT id FROM ticket)",
    )
    .bind(request.id)
    .bind(request.status.as_str())
    .bind(request.assignee.as_ref().map(ToString::to_string))
    .bind(request.updated_at)
    .bind(&tasks)
    .bind(request.status_before_hold.map(RequestStatus::as_str))
    .bind(&request.reason)
    .bind(&request.outcome)
    .bind(request.approved_at)
    .bind(request.fulfilled_at)
    .execute(&mut *conn)
    .await?;
    for approval in request.approvals.iter().skip(before.approvals.len()) {
        sqlx::query(
            "INSERT INTO request_approvals (ticket_id, approver, at, comment) VALUES ($1, $2, $3, $4)",
        )
        .bind(request.id)
        .bind(approval.approver.to_string())
        .bind(approval.at)
        .bind(&approval.comment)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Which requests `/itsm requests` lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Open requests `user` asked for or took.
    Mine(UserId),
    /// Approved, in progress or on hold: the team's work.
    Queue,
    /// Awaiting approval.
    Approvals,
}

/// Up to `limit` open requests of `selection`, oldest first.
pub async fn open(
    conn: &mut PgConnection,
    selection: &Selection,
    limit: i64,
) -> Result<Vec<ServiceRequest>, StoreError> {
    let (condition, user) = match selection {
        Selection::Mine(user) => (
            "t.status IN ('awaiting_approval', 'approved', 'in_progress', 'on_hold')
             AND (t.reporter = $1 OR t.assignee = $1)",
            Some(user.to_string()),
        ),
        Selection::Queue => (
            "t.status IN ('approved', 'in_progress', 'on_hold') AND $1::text IS NULL",
            None,
        ),
        Selection::Approvals => ("t.status = 'awaiting_approval' AND $1::text IS NULL", None),
    };
    let query = format!(
        "{SELECT_REQUEST} WHERE t.kind = 'request' AND {condition} ORDER BY t.created_at, t.id LIMIT $2"
    );
    let rows: Vec<RequestRow> = sqlx::query_as(&query)
        .bind(user)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
    with_approvals(conn, rows).await
}

/// One page of requests matching `filter` (and `item`, when given), newest
/// first, with the number of all that match.
pub async fn list(
    conn: &mut PgConnection,
    filter: &super::listing::TicketFilter,
    item: Option<&str>,
    page: super::listing::Page,
) -> Result<(Vec<ServiceRequest>, i64), StoreError> {
    use super::listing::{bind, CONDITION, ORDER_AND_PAGE};
    // `services s` is joined only for the shared condition; requests have no service.
    let query = format!(
        "{SELECT_REQUEST} LEFT JOIN services s ON s.id = t.service_id
         WHERE t.kind = 'request' AND {CONDITION} AND ($8::text IS NULL OR r.item = $8) {ORDER_AND_PAGE}"
    );
    let rows: Vec<RequestRow> = bind(sqlx::query_as(&query), filter, page)
        .bind(item)
        .fetch_all(&mut *conn)
        .await?;
    let requests = with_approvals(conn, rows).await?;
    let count_query = format!(
        "SELECT count(*) FROM tickets t JOIN requests r ON r.ticket_id = t.id
         LEFT JOIN services s ON s.id = t.service_id
         WHERE t.kind = 'request' AND {CONDITION} AND ($6::text IS NULL OR r.item = $6)"
    );
    let (total,): (i64,) = sqlx::query_as(&count_query)
        .bind(&filter.statuses)
        .bind(filter.priority.map(crate::domain::Priority::as_i16))
        .bind(&filter.service)
        .bind(filter.created_from)
        .bind(filter.created_before)
        .bind(item)
        .fetch_one(conn)
        .await?;
    Ok((requests, total))
}

/// Requests awaiting approval since before `asked_before` that have not
/// had both reminders yet, oldest first (at most `limit`).
pub async fn reminder_candidates(
    conn: &mut PgConnection,
    asked_before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<ServiceRequest>, StoreError> {
    let query = format!(
        "{SELECT_REQUEST}
         WHERE t.kind = 'request' AND t.status = 'awaiting_approval' AND t.created_at <= $1
           AND (SELECT count(*) FROM request_reminders m WHERE m.ticket_id = t.id) < 2
         ORDER BY t.created_at, t.id LIMIT $2"
    );
    let rows: Vec<RequestRow> = sqlx::query_as(&query)
        .bind(asked_before)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
    with_approvals(conn, rows).await
}

/// Claims reminder `kind` (`approvers` or `team`) of request `ticket_id`;
/// false when it was posted before (by this or another replica).
pub async fn claim_reminder(
    conn: &mut PgConnection,
    ticket_id: i64,
    kind: &str,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO request_reminders (ticket_id, kind, posted_at) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING",
    )
    .bind(ticket_id)
    .bind(kind)
    .bind(at)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// Approved and in-progress requests (their fulfilment clocks run), oldest
/// approval first, that have not had their breach alert (at most `limit`).
pub async fn running_clocks(
    conn: &mut PgConnection,
    limit: i64,
) -> Result<Vec<ServiceRequest>, StoreError> {
    let query = format!(
        "{SELECT_REQUEST}
         WHERE t.kind = 'request' AND t.status IN ('approved', 'in_progress')
           AND r.approved_at IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM request_clock_alerts a WHERE a.ticket_id = t.id AND a.threshold = 100)
         ORDER BY r.approved_at, t.id LIMIT $1"
    );
    let rows: Vec<RequestRow> = sqlx::query_as(&query)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
    with_approvals(conn, rows).await
}

/// Claims the fulfilment clock alert at `threshold` percent of request
/// `ticket_id`; false when it was posted before.
pub async fn claim_clock_alert(
    conn: &mut PgConnection,
    ticket_id: i64,
    threshold: u8,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO request_clock_alerts (ticket_id, threshold, posted_at) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING",
    )
    .bind(ticket_id)
    .bind(i16::from(threshold))
    .bind(at)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

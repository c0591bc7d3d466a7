//! Change requests: a `tickets` row of kind `change`, its `changes` row and
//! its CAB approvals.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::StoreError;
use crate::domain::change::{Approval, Change, ChangeStatus, NewChange, Window};
use crate::domain::incident::Origin;
use crate::domain::{TicketRef, UserId};

const SELECT_CHANGE: &str = "
SELECT t.id, t.number, t.title, t.description, t.status, t.reporter, t.assignee,
       t.origin_platform, t.origin_channel, t.origin_thread, t.origin_message,
       t.created_at, t.updated_at, s.name AS service,
       c.change_type, c.standard, c.plan, c.test_plan, c.rollback_plan, c.window_start,
       c.window_end, c.impact, c.likelihood, c.risk, c.rejection, c.outcome,
       c.submitted_at, c.approved_at, c.started_at, c.finished_at, c.planned_outage
FROM tickets t
JOIN changes c ON c.ticket_id = t.id
LEFT JOIN services s ON s.id = t.service_id";

#[derive(sqlx::FromRow)]
struct ChangeRow {
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
    service: Option<String>,
    change_type: String,
    standard: Option<String>,
    plan: Option<String>,
    test_plan: Option<String>,
    rollback_plan: Option<String>,
    window_start: Option<DateTime<Utc>>,
    window_end: Option<DateTime<Utc>>,
    impact: String,
    likelihood: String,
    risk: String,
    rejection: Option<String>,
    outcome: Option<String>,
    submitted_at: Option<DateTime<Utc>>,
    approved_at: Option<DateTime<Utc>>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    planned_outage: bool,
}

impl ChangeRow {
    fn into_change(self, approvals: Vec<Approval>) -> Result<Change, StoreError> {
        let number = self.number;
        let corrupt = |what: &str| StoreError::Corrupt(format!("CHG-{number}: {what}"));
        let user = |text: &str| text.parse::<UserId>().map_err(|e| corrupt(&e.to_string()));
        let window = match (self.window_start, self.window_end) {
            (Some(start), Some(end)) => {
                Some(Window::new(start, end - start).map_err(|e| corrupt(&e.to_string()))?)
            }
            _ => None,
        };
        Ok(Change {
            id: self.id,
            number,
            status: self.status.parse().map_err(|e: String| corrupt(&e))?,
            change_type: self.change_type.parse().map_err(|e: String| corrupt(&e))?,
            impact: self.impact.parse().map_err(|_| corrupt("bad impact"))?,
            likelihood: self
                .likelihood
                .parse()
                .map_err(|_| corrupt("bad likelihood"))?,
            risk: self.risk.parse().map_err(|e: String| corrupt(&e))?,
            requester: user(&self.reporter)?,
            implementer: self.assignee.as_deref().map(user).transpose()?,
            origin: Origin {
                platform: self
                    .origin_platform
                    .parse()
                    .map_err(|_| corrupt("bad origin platform"))?,
                channel: self.origin_channel,
                thread: self.origin_thread,
                message: self.origin_message,
            },
            title: self.title,
            description: self.description,
            standard: self.standard,
            service: self.service,
            plan: self.plan,
            test_plan: self.test_plan,
            rollback_plan: self.rollback_plan,
            window,
            approvals,
            planned_outage: self.planned_outage,
            rejection: self.rejection,
            outcome: self.outcome,
            created_at: self.created_at,
            updated_at: self.updated_at,
            submitted_at: self.submitted_at,
            approved_at: self.approved_at,
            started_at: self.started_at,
            finished_at: self.finished_at,
        })
    }
}

/// The approvals of ticket `ticket_id`.
async fn approvals(conn: &mut PgConnection, ticket_id: i64) -> Result<Vec<Approval>, StoreError> {
    super::approvals::of(conn, super::approvals::Approvals::Change, ticket_id).await
}

async fn fetch(
    conn: &mut PgConnection,
    condition: &str,
    value: i64,
) -> Result<Option<Change>, StoreError> {
    let query = format!("{SELECT_CHANGE} WHERE t.kind = 'change' AND {condition}");
    let row: Option<ChangeRow> = sqlx::query_as(&query)
        .bind(value)
        .fetch_optional(&mut *conn)
        .await?;
    match row {
        Some(row) => {
            let approvals = approvals(conn, row.id).await?;
            row.into_change(approvals).map(Some)
        }
        None => Ok(None),
    }
}

/// Stores a new draft, numbered from the change sequence, and returns it.
pub async fn insert(
    conn: &mut PgConnection,
    new: &NewChange,
    service_id: Option<i64>,
    at: DateTime<Utc>,
) -> Result<Change, StoreError> {
    let (id, number): (i64, i64) = sqlx::query_as(
        "WITH ticket AS (
            INSERT INTO tickets (kind, number, title, description, status, service_id, reporter,
                                 origin_platform, origin_channel, origin_thread, origin_message,
                                 created_at, updated_at)
            VALUES ('change', nextval('change_number_seq'), $1, $2, 'draft', $3, $4, $5, $6, $7, $8, $9, $9)
            RETURNING id, number
         ), details AS (
            INSERT INTO changes (ticket_id, change_type, standard, plan, test_plan, rollback_plan,
                                 impact, likelihood, risk)
            SELECT id, $10, $11, $12, $13, $14, $15, $16, $17 FROM ticket
         )
         SELECT id, number FROM ticket",
    )
    .bind(&new.title)
    .bind(&new.description)
    .bind(service_id)
    .bind(new.requester.to_string())
    .bind(new.origin.platform.as_str())
    .bind(&new.origin.channel)
    .bind(&new.origin.thread)
    .bind(&new.origin.message)
    .bind(at)
    .bind(new.change_type.as_str())
    .bind(&new.standard)
    .bind(&new.plan)
    .bind(&new.test_plan)
    .bind(&new.rollback_plan)
    .bind(new.impact.as_str())
    .bind(new.likelihood.as_str())
    .bind(new.risk.as_str())
    .fetch_one(conn)
    .await?;
    Ok(Change {
        id,
        number,
        title: new.title.clone(),
        description: new.description.clone(),
        change_type: new.change_type,
        standard: new.standard.clone(),
        status: ChangeStatus::Draft,
        service: new.service.clone(),
        requester: new.requester.clone(),
        implementer: None,
        plan: new.plan.clone(),
        test_plan: new.test_plan.clone(),
        rollback_plan: new.rollback_plan.clone(),
        window: None,
        impact: new.impact,
        likelihood: new.likelihood,
        risk: new.risk,
        approvals: Vec::new(),
        planned_outage: false,
        rejection: None,
        outcome: None,
        origin: new.origin.clone(),
        created_at: at,
        updated_at: at,
        submitted_at: None,
        approved_at: None,
        started_at: None,
        finished_at: None,
    })
}

/// Reads change `number` and locks it until the transaction ends, so
/// concurrent approvals of one change are counted one after the other.
pub async fn lock(conn: &mut PgConnection, number: i64) -> Result<Option<Change>, StoreError> {
    fetch(conn, "t.number = $1 FOR UPDATE OF t, c", number).await
}

/// Reads change `number`.
pub async fn get(conn: &mut PgConnection, number: i64) -> Result<Option<Change>, StoreError> {
    fetch(conn, "t.number = $1", number).await
}

/// Reads the change stored as ticket `id`.
pub async fn get_by_id(conn: &mut PgConnection, id: i64) -> Result<Option<Change>, StoreError> {
    fetch(conn, "t.id = $1", id).await
}

/// Writes a change's changeable fields back, and the approvals it gained.
pub async fn update(
    conn: &mut PgConnection,
    before: &Change,
    change: &Change,
) -> Result<(), StoreError> {
    sqlx::query(
        "WITH ticket AS (
            UPDATE tickets SET status = $2, assignee = $3, description = $4, updated_at = $5
            WHERE id = $1 RETURNING id
         )
         UPDATE changes SET plan = $6, test_plan = $7, rollback_plan = $8, window_start = $9,
                window_end = $10, impact = $11, likelihood = $12, risk = $13, rejection = $14,
                outcome = $15, submitted_at = $16, approved_at = $17, started_at = $18,
                finished_at = $19, planned_outage = $20
         WHERE ticket_id = (SELECT id FROM ticket)",
    )
    .bind(change.id)
    .bind(change.status.as_str())
    .bind(change.implementer.as_ref().map(ToString::to_string))
    .bind(&change.description)
    .bind(change.updated_at)
    .bind(&change.plan)
    .bind(&change.test_plan)
    .bind(&change.rollback_plan)
    .bind(change.window.map(|w| w.start))
    .bind(change.window.map(|w| w.end()))
    .bind(change.impact.as_str())
    .bind(change.likelihood.as_str())
    .bind(change.risk.as_str())
    .bind(&change.rejection)
    .bind(&change.outcome)
    .bind(change.submitted_at)
    .bind(change.approved_at)
    .bind(change.started_at)
    .bind(change.finished_at)
    .bind(change.planned_outage)
    .execute(&mut *conn)
    .await?;
    for approval in change.approvals.iter().skip(before.approvals.len()) {
        sqlx::query(
            "INSERT INTO change_approvals (ticket_id, approver, at, comment) VALUES ($1, $2, $3, $4)",
        )
        .bind(change.id)
        .bind(approval.approver.to_string())
        .bind(approval.at)
        .bind(&approval.comment)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Approved or in-progress changes on `service` (other than `except`) whose
/// windows overlap `window`.
pub async fn overlapping(
    conn: &mut PgConnection,
    service: &str,
    window: &Window,
    except: i64,
) -> Result<Vec<TicketRef>, StoreError> {
    let numbers: Vec<i64> = sqlx::query_scalar(
        "SELECT t.number FROM tickets t
         JOIN changes c ON c.ticket_id = t.id
         JOIN services s ON s.id = t.service_id
         WHERE t.kind = 'change' AND t.status IN ('approved', 'in_progress')
           AND s.name = $1 AND t.id <> $2
           AND c.window_start < $4 AND c.window_end > $3
         ORDER BY c.window_start, t.number",
    )
    .bind(service)
    .bind(except)
    .bind(window.start)
    .bind(window.end())
    .fetch_all(conn)
    .await?;
    Ok(numbers
        .into_iter()
        .map(|number| TicketRef {
            kind: crate::domain::TicketKind::Change,
            number,
        })
        .collect())
}

/// Open changes with a window that overlaps `[from, to)`, earliest first
/// (at most `limit`).
pub async fn scheduled(
    conn: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Change>, StoreError> {
    scheduled_as_of(conn, from, to, None, limit).await
}

/// [`scheduled`] as the schedule stood at `as_of`: changes that have since
/// finished (or been rejected or cancelled) after `as_of` were still on it
/// then. `None` reads the schedule as it stands.
pub async fn scheduled_as_of(
    conn: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    as_of: Option<DateTime<Utc>>,
    limit: i64,
) -> Result<Vec<Change>, StoreError> {
    let query = format!(
        "{SELECT_CHANGE} WHERE t.kind = 'change'
           AND (t.status IN ('draft', 'submitted', 'approved', 'in_progress')
                OR ($4::timestamptz IS NOT NULL AND c.finished_at >= $4 AND t.created_at < $4))
           AND c.window_start < $2 AND c.window_end > $1
         ORDER BY c.window_start, t.number LIMIT $3"
    );
    let rows: Vec<ChangeRow> = sqlx::query_as(&query)
        .bind(from)
        .bind(to)
        .bind(limit)
        .bind(as_of)
        .fetch_all(&mut *conn)
        .await?;
    let mut changes = Vec::with_capacity(rows.len());
    for row in rows {
        let approvals = approvals(conn, row.id).await?;
        changes.push(row.into_change(approvals)?);
    }
    Ok(changes)
}

/// Which reminder the scheduler owes a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReminderKind {
    /// The window opens within a day.
    Before24h,
    /// The window opens within the hour.
    Before1h,
    /// The window ended while the change is still in progress.
    Overrun,
}

impl ReminderKind {
    fn as_str(self) -> &'static str {
        match self {
            ReminderKind::Before24h => "before_24h",
            ReminderKind::Before1h => "before_1h",
            ReminderKind::Overrun => "overrun",
        }
    }
}

/// Changes that may owe a reminder at `at`: approved ones whose window opens
/// within a day, and running ones whose window has ended.
pub async fn reminder_candidates(
    conn: &mut PgConnection,
    at: DateTime<Utc>,
) -> Result<Vec<Change>, StoreError> {
    let query = format!(
        "{SELECT_CHANGE} WHERE t.kind = 'change' AND (
            (t.status = 'approved' AND c.window_start > $1 AND c.window_start <= $1 + interval '24 hours')
         OR (t.status = 'in_progress' AND c.window_end <= $1))
         ORDER BY c.window_start, t.number"
    );
    let rows: Vec<ChangeRow> = sqlx::query_as(&query)
        .bind(at)
        .fetch_all(&mut *conn)
        .await?;
    rows.into_iter()
        .map(|row| row.into_change(Vec::new()))
        .collect()
}

/// Claims reminder `kind` of `change`'s current window; false when it was
/// posted before (by this or another replica).
pub async fn claim_reminder(
    conn: &mut PgConnection,
    change: &Change,
    kind: ReminderKind,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let Some(window) = change.window else {
        return Ok(false);
    };
    let inserted = sqlx::query(
        "INSERT INTO change_reminders (ticket_id, kind, window_start, posted_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT DO NOTHING",
    )
    .bind(change.id)
    .bind(kind.as_str())
    .bind(window.start)
    .bind(at)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// One page of changes matching `filter`, newest first, with the number of all that match.
pub async fn list(
    conn: &mut PgConnection,
    filter: &super::listing::TicketFilter,
    page: super::listing::Page,
) -> Result<(Vec<Change>, i64), StoreError> {
    use super::listing::{bind, count, CONDITION, ORDER_AND_PAGE};
    let query = format!("{SELECT_CHANGE} WHERE t.kind = 'change' AND {CONDITION} {ORDER_AND_PAGE}");
    let rows: Vec<ChangeRow> = bind(sqlx::query_as(&query), filter, page)
        .fetch_all(&mut *conn)
        .await?;
    let mut changes = Vec::with_capacity(rows.len());
    for row in rows {
        let approvals = approvals(conn, row.id).await?;
        changes.push(row.into_change(approvals)?);
    }
    Ok((changes, count(conn, "change", filter).await?))
}

/// The windows of changes that declared a planned outage and were approved
/// (or carried out), by service id, reaching past `from`.
pub async fn planned_outage_windows(
    conn: &mut PgConnection,
    from: DateTime<Utc>,
) -> Result<Vec<(i64, DateTime<Utc>, DateTime<Utc>)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT t.service_id, c.window_start, c.window_end
           FROM changes c JOIN tickets t ON t.id = c.ticket_id
          WHERE c.planned_outage AND t.service_id IS NOT NULL
            AND t.status IN ('approved', 'in_progress', 'completed', 'failed', 'rolled_back')
            AND c.window_end > $1",
    )
    .bind(from)
    .fetch_all(conn)
    .await?)
}

//! Post-incident reviews (`postmortems`), their action items
//! (`action_items`) and the review reminders already posted
//! (`postmortem_reminders`).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;

use super::StoreError;
use crate::domain::postmortem::{ActionItem, Section, SlaResult};
use crate::domain::report::ActionFigures;
use crate::domain::{TicketKind, TicketRef, UserId};

/// A stored review: who started it and the sections people set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReview {
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub sections: BTreeMap<String, String>,
}

/// The review of incident ticket `incident_id`, if one was started.
pub async fn get(
    conn: &mut PgConnection,
    incident_id: i64,
) -> Result<Option<StoredReview>, StoreError> {
    let row: Option<(DateTime<Utc>, String, String)> = sqlx::query_as(
        "SELECT created_at, created_by, sections::text FROM postmortems WHERE incident_id = $1",
    )
    .bind(incident_id)
    .fetch_optional(conn)
    .await?;
    row.map(|(created_at, created_by, sections)| {
        let sections = serde_json::from_str(&sections)
            .map_err(|e| StoreError::Corrupt(format!("review of ticket {incident_id}: {e}")))?;
        Ok(StoredReview {
            created_at,
            created_by,
            sections,
        })
    })
    .transpose()
}

/// Starts the review of `incident_id`; `false` when one exists already
/// (someone else started it a moment ago).
pub async fn create(
    conn: &mut PgConnection,
    incident_id: i64,
    by: &UserId,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO postmortems (incident_id, created_at, created_by, updated_at)
         VALUES ($1, $2, $3, $2) ON CONFLICT DO NOTHING",
    )
    .bind(incident_id)
    .bind(at)
    .bind(by.to_string())
    .execute(conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// Sets one section's text; `false` when the incident has no review.
pub async fn set_section(
    conn: &mut PgConnection,
    incident_id: i64,
    section: Section,
    text: &str,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let updated = sqlx::query(
        "UPDATE postmortems SET sections = jsonb_set(sections, ARRAY[$2::text], to_jsonb($3::text)),
                updated_at = $4
          WHERE incident_id = $1",
    )
    .bind(incident_id)
    .bind(section.as_str())
    .bind(text)
    .bind(at)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(updated == 1)
}

/// The SLA results recorded for ticket `ticket_id`, respond first.
pub async fn sla_results(
    conn: &mut PgConnection,
    ticket_id: i64,
) -> Result<Vec<SlaResult>, StoreError> {
    let rows: Vec<(String, i64, Option<bool>, Option<i64>)> = sqlx::query_as(
        "SELECT clock, target_seconds, met, margin_seconds FROM sla_outcomes
          WHERE ticket_id = $1 ORDER BY clock = 'resolve', clock",
    )
    .bind(ticket_id)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(clock, target, met, margin)| SlaResult::new(&clock, target, met, margin))
        .collect())
}

type ActionRow = (
    i64,
    i64,
    String,
    Option<String>,
    Option<NaiveDate>,
    Option<DateTime<Utc>>,
    Option<String>,
    Option<i64>,
);

/// An action item with its incident's number and, when it was raised as a
/// problem or change, that ticket's kind and number. The columns are named
/// so the query can stand as a subquery.
const SELECT_ACTION: &str = "SELECT a.id, t.number AS incident_number, a.text, a.owner, a.due,
        a.done_at, r.kind AS raised_kind, r.number AS raised_number
   FROM action_items a JOIN tickets t ON t.id = a.incident_id
   LEFT JOIN tickets r ON r.id = a.raised_as";

fn action(row: ActionRow) -> Result<ActionItem, StoreError> {
    let (id, number, text, owner, due, done_at, raised_kind, raised_number) = row;
    let corrupt = |what: String| StoreError::Corrupt(format!("action item #{id}: {what}"));
    let owner = owner
        .map(|o| o.parse::<UserId>())
        .transpose()
        .map_err(|e| corrupt(e.to_string()))?;
    let raised_as = match (raised_kind.as_deref(), raised_number) {
        (None, _) | (_, None) => None,
        (Some(kind), Some(number)) => {
            let kind = [TicketKind::Problem, TicketKind::Change]
                .into_iter()
                .find(|k| k.as_str() == kind)
                .ok_or_else(|| corrupt(format!("raised as a ticket of kind `{kind}`")))?;
            Some(TicketRef { kind, number })
        }
    };
    Ok(ActionItem {
        id,
        incident: format!("INC-{number}"),
        text,
        owner,
        due,
        done_at,
        raised_as,
    })
}

/// Records an action item on incident ticket `incident_id`; returns its id.
pub async fn add_action(
    conn: &mut PgConnection,
    incident_id: i64,
    text: &str,
    owner: Option<&UserId>,
    due: Option<NaiveDate>,
    by: &UserId,
    at: DateTime<Utc>,
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO action_items (incident_id, text, owner, due, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(incident_id)
    .bind(text)
    .bind(owner.map(ToString::to_string))
    .bind(due)
    .bind(by.to_string())
    .bind(at)
    .fetch_one(conn)
    .await?)
}

/// The action items of incident ticket `incident_id`, oldest first.
pub async fn actions_of(
    conn: &mut PgConnection,
    incident_id: i64,
) -> Result<Vec<ActionItem>, StoreError> {
    let rows: Vec<ActionRow> = sqlx::query_as(&format!(
        "{SELECT_ACTION} WHERE a.incident_id = $1 ORDER BY a.id"
    ))
    .bind(incident_id)
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(action).collect()
}

/// Open action items (of `owner` when given), soonest due first, at most
/// `limit`, with the number of all that match.
pub async fn open_actions(
    conn: &mut PgConnection,
    owner: Option<&UserId>,
    limit: i64,
) -> Result<(Vec<ActionItem>, i64), StoreError> {
    let owner = owner.map(ToString::to_string);
    let rows: Vec<ActionRow> = sqlx::query_as(&format!(
        "{SELECT_ACTION} WHERE a.done_at IS NULL AND ($1::text IS NULL OR a.owner = $1)
          ORDER BY a.due NULLS LAST, a.id LIMIT $2"
    ))
    .bind(&owner)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    let total: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM action_items WHERE done_at IS NULL AND ($1::text IS NULL OR owner = $1)",
    )
    .bind(&owner)
    .fetch_one(conn)
    .await?;
    Ok((
        rows.into_iter().map(action).collect::<Result<_, _>>()?,
        total,
    ))
}

/// Action item `id` locked for update, with its incident's ticket id.
pub async fn lock_action(
    conn: &mut PgConnection,
    id: i64,
) -> Result<Option<(ActionItem, i64)>, StoreError> {
    let incident_id: Option<i64> =
        sqlx::query_scalar("SELECT incident_id FROM action_items WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    let Some(incident_id) = incident_id else {
        return Ok(None);
    };
    let row: ActionRow = sqlx::query_as(&format!("{SELECT_ACTION} WHERE a.id = $1"))
        .bind(id)
        .fetch_one(conn)
        .await?;
    Ok(Some((action(row)?, incident_id)))
}

/// Records that action item `id` was raised as ticket `ticket_id` (a
/// problem or a change); the item stays open.
pub async fn mark_raised(
    conn: &mut PgConnection,
    id: i64,
    ticket_id: i64,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE action_items SET raised_as = $2 WHERE id = $1")
        .bind(id)
        .bind(ticket_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Action items as they stood at `at`, judged on `today` (the day `at`
/// falls on where the report is read): how many were open (agreed before
/// `at` and not done by then), how many overdue (due before `today`), and
/// the `limit` longest overdue.
///
/// One query: the counts and the listed items come back together (one row
/// per listed item, or a single row of counts when none is overdue).
pub async fn action_figures(
    conn: &mut PgConnection,
    at: DateTime<Utc>,
    today: NaiveDate,
    limit: i64,
) -> Result<ActionFigures, StoreError> {
    type Row = (
        i64,
        i64,
        Option<i64>,
        Option<i64>,
        Option<String>,
        Option<String>,
        Option<NaiveDate>,
        Option<DateTime<Utc>>,
        Option<String>,
        Option<i64>,
    );
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "WITH counts AS (
            SELECT count(*) AS open, count(*) FILTER (WHERE due < $1) AS overdue
              FROM action_items WHERE created_at < $3 AND (done_at IS NULL OR done_at >= $3)
         )
         SELECT c.open, c.overdue, o.id, o.incident_number, o.text, o.owner, o.due,
                o.done_at, o.raised_kind, o.raised_number
           FROM counts c
           LEFT JOIN LATERAL (
               {SELECT_ACTION} WHERE a.created_at < $3 AND (a.done_at IS NULL OR a.done_at >= $3)
                  AND a.due < $1
                ORDER BY a.due, a.id LIMIT $2
           ) o ON true
          ORDER BY o.due, o.id"
    ))
    .bind(today)
    .bind(limit)
    .bind(at)
    .fetch_all(conn)
    .await?;
    let (open, overdue) = rows.first().map_or((0, 0), |row| (row.0, row.1));
    let mut overdue_items = Vec::with_capacity(rows.len());
    for row in rows {
        // The single row of counts when nothing is overdue has no item.
        let (Some(id), Some(number), Some(text)) = (row.2, row.3, row.4) else {
            continue;
        };
        // Done after `at` is still open as of `at`.
        let done_at = row.7.filter(|done| *done < at);
        overdue_items.push(action((
            id, number, text, row.5, row.6, done_at, row.8, row.9,
        ))?);
    }
    Ok(ActionFigures {
        today,
        open,
        overdue,
        overdue_items,
    })
}

/// Marks action item `id` done by `by` at `at`.
pub async fn mark_done(
    conn: &mut PgConnection,
    id: i64,
    by: &UserId,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE action_items SET done_at = $2, done_by = $3 WHERE id = $1")
        .bind(id)
        .bind(at)
        .bind(by.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// Notes that resolved incident `incident_id` may be owed a review
/// reminder from `from` on (a lower bound; the sweep refines it).
pub async fn schedule_reminder(
    conn: &mut PgConnection,
    incident_id: i64,
    from: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO review_reminders_due (incident_id, due_at) VALUES ($1, $2)
         ON CONFLICT (incident_id) DO UPDATE SET due_at = EXCLUDED.due_at",
    )
    .bind(incident_id)
    .bind(from)
    .execute(conn)
    .await?;
    Ok(())
}

/// Up to `limit` incidents whose reminder row is due at `at`, locked so
/// another replica's sweep skips them.
pub async fn due_reminders(
    conn: &mut PgConnection,
    at: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<i64>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT incident_id FROM review_reminders_due WHERE due_at <= $1
          ORDER BY due_at, incident_id LIMIT $2 FOR UPDATE SKIP LOCKED",
    )
    .bind(at)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// Moves incident `incident_id`'s reminder row to `due_at`, or drops it
/// (`None`) when no reminder is owed any more.
pub async fn reschedule_reminder(
    conn: &mut PgConnection,
    incident_id: i64,
    due_at: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    match due_at {
        Some(due_at) => {
            sqlx::query("UPDATE review_reminders_due SET due_at = $2 WHERE incident_id = $1")
                .bind(incident_id)
                .bind(due_at)
                .execute(conn)
                .await?
        }
        None => {
            sqlx::query("DELETE FROM review_reminders_due WHERE incident_id = $1")
                .bind(incident_id)
                .execute(conn)
                .await?
        }
    };
    Ok(())
}

/// Whether incident `incident_id` has a review.
pub async fn has_review(conn: &mut PgConnection, incident_id: i64) -> Result<bool, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM postmortems WHERE incident_id = $1)")
            .bind(incident_id)
            .fetch_one(conn)
            .await?,
    )
}

/// Claims the review reminder of incident ticket `incident_id`; `false` when
/// another run (or replica) posted it already.
pub async fn claim_reminder(
    conn: &mut PgConnection,
    incident_id: i64,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO postmortem_reminders (incident_id, posted_at) VALUES ($1, $2)
         ON CONFLICT DO NOTHING",
    )
    .bind(incident_id)
    .bind(at)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

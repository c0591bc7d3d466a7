//! Series and lists for the managers' dashboard. Days are UTC calendar
//! days; every count uses the same conditions as [`super::reports::figures`]
//! so the per-day series add up to the period's figures.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;

use super::StoreError;
use crate::domain::dashboard::Downtime;
use crate::domain::Priority;

/// One UTC day of the window.
#[derive(Debug, Clone, PartialEq)]
pub struct Day {
    pub date: NaiveDate,
    pub opened: i64,
    pub resolved: i64,
    /// Mean seconds to acknowledge, over incidents acknowledged that day.
    pub mtta_seconds: Option<f64>,
    /// Mean seconds to resolve, over incidents resolved that day.
    pub mttr_seconds: Option<f64>,
}

/// Every UTC day that overlaps `[from, to)`, with what happened in the
/// part of it inside the window.
pub async fn days(
    conn: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<Day>, StoreError> {
    type Row = (NaiveDate, i64, i64, Option<f64>, Option<f64>);
    let rows: Vec<Row> = sqlx::query_as(
        "WITH days AS (
            SELECT d::date AS day
              FROM generate_series(date_trunc('day', $1 AT TIME ZONE 'UTC'),
                                   ($2 - interval '1 microsecond') AT TIME ZONE 'UTC',
                                   interval '1 day') AS d
        ),
        opened AS (
            SELECT (created_at AT TIME ZONE 'UTC')::date AS day, count(*) AS n
              FROM tickets
             WHERE kind = 'incident' AND created_at >= $1 AND created_at < $2
             GROUP BY 1
        ),
        acked AS (
            SELECT (i.acknowledged_at AT TIME ZONE 'UTC')::date AS day,
                   avg(extract(epoch FROM i.acknowledged_at - t.created_at))::float8 AS mean
              FROM incidents i JOIN tickets t ON t.id = i.ticket_id
             WHERE i.acknowledged_at >= $1 AND i.acknowledged_at < $2
             GROUP BY 1
        ),
        resolved AS (
            SELECT (i.resolved_at AT TIME ZONE 'UTC')::date AS day, count(*) AS n,
                   avg(extract(epoch FROM i.resolved_at - t.created_at))::float8 AS mean
              FROM incidents i JOIN tickets t ON t.id = i.ticket_id
             WHERE i.resolved_at >= $1 AND i.resolved_at < $2
             GROUP BY 1
        )
        SELECT days.day, COALESCE(opened.n, 0), COALESCE(resolved.n, 0), acked.mean, resolved.mean
          FROM days
          LEFT JOIN opened USING (day)
          LEFT JOIN acked USING (day)
          LEFT JOIN resolved USING (day)
         ORDER BY days.day",
    )
    .bind(from)
    .bind(to)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(date, opened, resolved, mtta_seconds, mttr_seconds)| Day {
            date,
            opened,
            resolved,
            mtta_seconds,
            mttr_seconds,
        })
        .collect())
}

/// SLA clocks that stopped in `[from, to)` per priority P1–P4, as
/// `(met, total)`, counted like the period's compliance figure.
pub async fn compliance_by_priority(
    conn: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<[(i64, i64); 4], StoreError> {
    let rows: Vec<(i16, i64, i64)> = sqlx::query_as(
        "SELECT t.priority, count(*) FILTER (WHERE o.met), count(*)
           FROM sla_outcomes o JOIN tickets t ON t.id = o.ticket_id
          WHERE o.stopped_at >= $1 AND o.stopped_at < $2 AND o.met IS NOT NULL
            AND t.priority IS NOT NULL
          GROUP BY t.priority",
    )
    .bind(from)
    .bind(to)
    .fetch_all(conn)
    .await?;
    let mut out = [(0, 0); 4];
    for (priority, met, total) in rows {
        if let Some(p) = Priority::from_i16(priority) {
            out[usize::try_from(p.as_i16() - 1).unwrap_or(0)] = (met, total);
        }
    }
    Ok(out)
}

/// How many satisfaction answers in `[from, to)` gave each score 1–5.
pub async fn csat_scores(
    conn: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<[i64; 5], StoreError> {
    let rows: Vec<(i16, i64)> = sqlx::query_as(
        "SELECT score, count(*) FROM satisfaction
          WHERE answered_at >= $1 AND answered_at < $2
          GROUP BY score",
    )
    .bind(from)
    .bind(to)
    .fetch_all(conn)
    .await?;
    let mut out = [0; 5];
    for (score, count) in rows {
        if let Some(slot) = usize::try_from(score - 1).ok().and_then(|i| out.get_mut(i)) {
            *slot = count;
        }
    }
    Ok(out)
}

/// The downtime of each service that overlaps `[from, to)`, by service
/// name: the incidents marked as outages (`/incident INC-n outage`), from
/// the outage start to its end (or the resolution), open-ended while down.
/// The same spans the service catalog and the error budgets count.
pub async fn downtime_from_outages(
    conn: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<(String, Downtime)>, StoreError> {
    let names: Vec<(i64, String)> = sqlx::query_as("SELECT id, name FROM services")
        .fetch_all(&mut *conn)
        .await?;
    Ok(super::services::outages_since(conn, from)
        .await?
        .into_iter()
        .filter(|(_, outage)| outage.start < to)
        .filter_map(|(id, outage)| {
            let name = names.iter().find(|(i, _)| *i == id)?.1.clone();
            Some((name, outage))
        })
        .collect())
}

/// An open P1 or P2 incident, for the dashboard's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenIncident {
    pub reference: String,
    pub priority: Priority,
    pub title: String,
    pub status: String,
    pub service: Option<String>,
    pub assignee: Option<String>,
    pub opened: DateTime<Utc>,
}

/// Open P1 and P2 incidents, P1 first, oldest first within a priority.
pub async fn open_urgent(conn: &mut PgConnection) -> Result<Vec<OpenIncident>, StoreError> {
    type Row = (
        i64,
        i16,
        String,
        String,
        Option<String>,
        Option<String>,
        DateTime<Utc>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT t.number, t.priority, t.title, t.status, s.name, t.assignee, t.created_at
           FROM tickets t LEFT JOIN services s ON s.id = t.service_id
          WHERE t.kind = 'incident' AND t.priority IN (1, 2)
            AND t.status IN ('new', 'acknowledged', 'on_hold')
          ORDER BY t.priority, t.created_at, t.id",
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(
            |(number, priority, title, status, service, assignee, opened)| {
                Some(OpenIncident {
                    reference: format!("INC-{number}"),
                    priority: Priority::from_i16(priority)?,
                    title,
                    status,
                    service,
                    assignee,
                    opened,
                })
            },
        )
        .collect())
}

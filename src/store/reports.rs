//! The figures of reports, digests, the dashboard and the API: one query
//! counts every figure of [`Figures`] for a run of consecutive spans (a
//! report's one span, or the dashboard's days), so a day's figures always
//! add up to the week's; and the state of the desk at an instant.

use chrono::{DateTime, Duration, Utc};
use sqlx::PgConnection;

use super::StoreError;
use crate::domain::report::{ChangeFigures, Figures, OpenItem, ProblemFigures, RequestFigures};
use crate::domain::Priority;

/// The figures of each span `[bounds[i], bounds[i + 1])`, with clocks
/// judged breached only once their due instant is before `now`. `bounds`
/// must ascend; fewer than two bounds give no spans.
///
/// Every figure's definition is the predicate of one CTE below, and the
/// doc comments of [`Figures`] say it in words.
pub async fn figures(
    conn: &mut PgConnection,
    bounds: &[DateTime<Utc>],
    now: DateTime<Utc>,
) -> Result<Vec<Figures>, StoreError> {
    if bounds.len() < 2 {
        return Ok(Vec::new());
    }
    type Row = (
        i32,
        i64,
        i64,
        i64,
        i64,
        Option<f64>,
        Option<f64>,
        Vec<i64>,
        Vec<i64>,
        Vec<i64>,
        Vec<i64>,
    );
    // `width_bucket(t, bounds)` numbers the span `t` falls in from 1; each
    // CTE reads one table through the index on its time column. The outer
    // bounds are parameters of their own ($3, $4), not read from the
    // array: the planner then knows how few rows a day holds. Read from a
    // CTE, a day's range was estimated at a ninth of every incident, and
    // the plan hashed all of `tickets` (a million rows, 1.3 s) to join
    // 11,000 responses to their tickets.
    let (Some(&lo), Some(&hi)) = (bounds.first(), bounds.last()) else {
        return Ok(Vec::new());
    };
    let rows: Vec<Row> = sqlx::query_as(
        "WITH b AS (SELECT $1::timestamptz[] AS bounds),
         opened AS (
            SELECT width_bucket(t.created_at, b.bounds) AS k, count(*) AS n
              FROM tickets t JOIN incidents i ON i.ticket_id = t.id, b
             WHERE t.kind = 'incident' AND t.created_at >= $3 AND t.created_at < $4
               AND i.duplicate_of IS NULL
             GROUP BY 1),
         responded AS (
            SELECT width_bucket(i.responded_at, b.bounds) AS k, count(*) AS n,
                   avg(extract(epoch FROM i.responded_at - t.created_at))::float8 AS mean
              FROM incidents i JOIN tickets t ON t.id = i.ticket_id, b
             WHERE i.responded_at >= $3 AND i.responded_at < $4
               AND i.duplicate_of IS NULL
             GROUP BY 1),
         resolved AS (
            SELECT width_bucket(i.resolved_at, b.bounds) AS k,
                   count(*) FILTER (WHERE NOT i.resolved_by_monitoring) AS people,
                   count(*) FILTER (WHERE i.resolved_by_monitoring) AS monitoring,
                   avg(extract(epoch FROM i.resolved_at - t.created_at))
                       FILTER (WHERE NOT i.resolved_by_monitoring)::float8 AS mean
              FROM incidents i JOIN tickets t ON t.id = i.ticket_id, b
             WHERE i.resolved_at >= $3 AND i.resolved_at < $4
               AND i.duplicate_of IS NULL
             GROUP BY 1),
         judged AS (
            -- A clock row carries its incident's priority and duplicate
            -- mark (kept by triggers), so a day's clocks are read alone.
            SELECT width_bucket(o.stopped_at, b.bounds) AS k, o.priority, true AS met
              FROM sla_outcomes o, b
             WHERE o.counted AND NOT o.duplicate AND o.stopped_at >= $3 AND o.stopped_at < $4
               AND o.stopped_at <= o.due_at
            UNION ALL
            SELECT width_bucket(o.due_at, b.bounds), o.priority, false
              FROM sla_outcomes o, b
             WHERE o.counted AND NOT o.duplicate AND o.due_at >= $3 AND o.due_at < $4 AND o.due_at < $2
               AND (o.stopped_at IS NULL OR o.stopped_at > o.due_at)),
         sla AS (
            SELECT k,
                   ARRAY[count(*) FILTER (WHERE met AND priority = 1), count(*) FILTER (WHERE met AND priority = 2),
                         count(*) FILTER (WHERE met AND priority = 3), count(*) FILTER (WHERE met AND priority = 4)] AS met,
                   ARRAY[count(*) FILTER (WHERE NOT met AND priority = 1), count(*) FILTER (WHERE NOT met AND priority = 2),
                         count(*) FILTER (WHERE NOT met AND priority = 3), count(*) FILTER (WHERE NOT met AND priority = 4)] AS breached
              FROM judged GROUP BY k),
         csat AS (
            SELECT width_bucket(s.answered_at, b.bounds) AS k,
                   ARRAY[count(*) FILTER (WHERE s.score = 1), count(*) FILTER (WHERE s.score = 2),
                         count(*) FILTER (WHERE s.score = 3), count(*) FILTER (WHERE s.score = 4),
                         count(*) FILTER (WHERE s.score = 5)] AS scores
              FROM satisfaction s JOIN tickets t ON t.id = s.ticket_id, b
             WHERE s.answered_at >= $3 AND s.answered_at < $4 AND t.kind = 'incident'
             GROUP BY 1),
         requests_csat AS (
            SELECT width_bucket(s.answered_at, b.bounds) AS k, count(*) AS n, sum(s.score) AS total
              FROM satisfaction s JOIN tickets t ON t.id = s.ticket_id, b
             WHERE s.answered_at >= $3 AND s.answered_at < $4 AND t.kind = 'request'
             GROUP BY 1),
         changes_finished AS (
            SELECT width_bucket(c.finished_at, b.bounds) AS k,
                   count(*) FILTER (WHERE t.status = 'completed') AS completed,
                   count(*) FILTER (WHERE t.status = 'failed') AS failed,
                   count(*) FILTER (WHERE t.status = 'rolled_back') AS rolled_back,
                   count(*) FILTER (WHERE t.status = 'cancelled') AS cancelled,
                   count(*) FILTER (WHERE t.status = 'rejected') AS rejected
              FROM changes c JOIN tickets t ON t.id = c.ticket_id, b
             WHERE c.finished_at >= $3 AND c.finished_at < $4
             GROUP BY 1),
         changes_submitted AS (
            SELECT width_bucket(c.submitted_at, b.bounds) AS k, count(*) AS n,
                   count(*) FILTER (WHERE c.change_type = 'emergency') AS emergency
              FROM changes c, b
             WHERE c.submitted_at >= $3 AND c.submitted_at < $4
             GROUP BY 1),
         changes_approved AS (
            SELECT width_bucket(c.approved_at, b.bounds) AS k, count(*) AS n,
                   avg(extract(epoch FROM c.approved_at - c.submitted_at))::float8 AS lead
              FROM changes c, b
             WHERE c.approved_at >= $3 AND c.approved_at < $4
               AND c.change_type <> 'standard' AND c.submitted_at IS NOT NULL
             GROUP BY 1),
         problems_opened AS (
            SELECT width_bucket(t.created_at, b.bounds) AS k, count(*) AS n
              FROM tickets t, b
             WHERE t.kind = 'problem' AND t.created_at >= $3 AND t.created_at < $4
             GROUP BY 1),
         linked AS (
            SELECT width_bucket(l.linked_at, b.bounds) AS k, count(DISTINCT l.incident_id) AS n
              FROM problem_incidents l, b
             WHERE l.linked_at >= $3 AND l.linked_at < $4
             GROUP BY 1),
         requests_opened AS (
            SELECT width_bucket(t.created_at, b.bounds) AS k, count(*) AS n
              FROM tickets t, b
             WHERE t.kind = 'request' AND t.created_at >= $3 AND t.created_at < $4
             GROUP BY 1),
         requests_fulfilled AS (
            SELECT width_bucket(r.fulfilled_at, b.bounds) AS k, count(*) AS n,
                   avg(extract(epoch FROM r.fulfilled_at - t.created_at))::float8 AS mean
              FROM requests r JOIN tickets t ON t.id = r.ticket_id, b
             WHERE r.fulfilled_at >= $3 AND r.fulfilled_at < $4
             GROUP BY 1),
         requests_approved AS (
            SELECT width_bucket(r.approved_at, b.bounds) AS k, count(*) AS n,
                   avg(extract(epoch FROM r.approved_at - t.created_at))::float8 AS mean
              FROM requests r JOIN tickets t ON t.id = r.ticket_id, b
             WHERE r.approved_at >= $3 AND r.approved_at < $4
               AND EXISTS (SELECT 1 FROM request_approvals a WHERE a.ticket_id = r.ticket_id)
             GROUP BY 1),
         requests_judged AS (
            SELECT width_bucket(r.fulfilled_at, b.bounds) AS k, true AS met
              FROM requests r, b
             WHERE r.fulfilled_at >= $3 AND r.fulfilled_at < $4
               AND r.fulfilled_at <= r.fulfil_due_at
            UNION ALL
            SELECT width_bucket(r.fulfil_due_at, b.bounds), false
              FROM requests r, b
             WHERE r.fulfil_due_at >= $3 AND r.fulfil_due_at < $4 AND r.fulfil_due_at < $2
               AND (r.fulfilled_at IS NULL OR r.fulfilled_at > r.fulfil_due_at)),
         requests_sla AS (
            SELECT k, count(*) FILTER (WHERE met) AS met, count(*) FILTER (WHERE NOT met) AS missed
              FROM requests_judged GROUP BY k)
         SELECT k::int4,
                COALESCE(opened.n, 0), COALESCE(resolved.people, 0), COALESCE(resolved.monitoring, 0),
                COALESCE(responded.n, 0), responded.mean, resolved.mean,
                COALESCE(sla.met, ARRAY[0, 0, 0, 0]::int8[]),
                COALESCE(sla.breached, ARRAY[0, 0, 0, 0]::int8[]),
                COALESCE(csat.scores, ARRAY[0, 0, 0, 0, 0]::int8[]),
                ARRAY[COALESCE(cf.completed, 0), COALESCE(cf.failed, 0), COALESCE(cf.rolled_back, 0),
                      COALESCE(cf.cancelled, 0), COALESCE(cf.rejected, 0),
                      COALESCE(cs.n, 0), COALESCE(cs.emergency, 0), COALESCE(ca.n, 0),
                      COALESCE(round(ca.lead)::int8, -1),
                      COALESCE(po.n, 0), COALESCE(linked.n, 0),
                      COALESCE(ro.n, 0), COALESCE(rf.n, 0), COALESCE(round(rf.mean)::int8, -1),
                      COALESCE(ra.n, 0), COALESCE(round(ra.mean)::int8, -1),
                      COALESCE(rs.met, 0), COALESCE(rs.missed, 0),
                      COALESCE(rc.n, 0), COALESCE(rc.total, 0)]
           FROM b, generate_series(1, cardinality(b.bounds) - 1) AS k
           LEFT JOIN opened USING (k) LEFT JOIN responded USING (k) LEFT JOIN resolved USING (k)
           LEFT JOIN sla USING (k) LEFT JOIN csat USING (k)
           LEFT JOIN changes_finished cf USING (k) LEFT JOIN changes_submitted cs USING (k)
           LEFT JOIN changes_approved ca USING (k) LEFT JOIN problems_opened po USING (k)
           LEFT JOIN linked USING (k) LEFT JOIN requests_opened ro USING (k)
           LEFT JOIN requests_fulfilled rf USING (k) LEFT JOIN requests_approved ra USING (k)
           LEFT JOIN requests_sla rs USING (k) LEFT JOIN requests_csat rc USING (k)
          ORDER BY k",
    )
    .bind(bounds)
    .bind(now)
    .bind(lo)
    .bind(hi)
    .fetch_all(conn)
    .await?;
    let seconds = |s: Option<f64>| s.map(|s| Duration::seconds(s.round() as i64));
    let four = |v: &[i64]| -> [i64; 4] { std::array::from_fn(|i| v.get(i).copied().unwrap_or(0)) };
    Ok(rows
        .into_iter()
        .map(|row| {
            let met = four(&row.7);
            let breached = four(&row.8);
            let c = &row.10;
            let at = |i: usize| c.get(i).copied().unwrap_or(0);
            Figures {
                opened: row.1,
                resolved: row.2,
                resolved_by_monitoring: row.3,
                responded: row.4,
                mtta: seconds(row.5),
                mttr: seconds(row.6),
                sla_met: met.iter().sum(),
                breaches: breached.iter().sum(),
                sla_by_priority: std::array::from_fn(|i| (met[i], breached[i])),
                csat_scores: std::array::from_fn(|i| row.9.get(i).copied().unwrap_or(0)),
                changes: ChangeFigures {
                    completed: at(0),
                    failed: at(1),
                    rolled_back: at(2),
                    cancelled: at(3),
                    rejected: at(4),
                    submitted: at(5),
                    emergency: at(6),
                    approved: at(7),
                    lead_time: (at(8) >= 0 && at(7) > 0).then(|| Duration::seconds(at(8))),
                },
                problems: ProblemFigures {
                    opened: at(9),
                    incidents_linked: at(10),
                },
                requests: RequestFigures {
                    opened: at(11),
                    fulfilled: at(12),
                    time_to_fulfil: (at(13) >= 0 && at(12) > 0).then(|| Duration::seconds(at(13))),
                    approved: at(14),
                    approval_time: (at(15) >= 0 && at(14) > 0).then(|| Duration::seconds(at(15))),
                    fulfil_met: at(16),
                    fulfil_missed: at(17),
                    csat_answers: at(18),
                    csat_average: (at(18) > 0).then(|| at(19) as f64 / at(18) as f64),
                },
            }
        })
        .collect())
}

/// The incidents open at `$1` (`t`, with `i` their incident rows): reported
/// before it and, of their resolutions and reopenings before it, the last
/// was not a resolution. Only incidents open now or resolved since `$1` can
/// have been open then, and only for those the timeline is read.
const OPEN_AT: &str = "FROM tickets t JOIN incidents i ON i.ticket_id = t.id
    WHERE t.kind = 'incident' AND t.created_at < $1
    AND (t.status IN ('new', 'acknowledged', 'on_hold') OR i.resolved_at >= $1)
    AND (SELECT e.action FROM ticket_events e
          WHERE e.ticket_id = t.id AND e.at < $1 AND e.action IN ('resolved', 'reopened')
          ORDER BY e.at DESC, e.id DESC LIMIT 1) IS DISTINCT FROM 'resolved'";

/// Incidents open now (`t`): what [`OPEN_AT`] says of an instant not yet
/// past, read from the status alone (the timeline adds nothing about the
/// present), and from the open-incidents index alone: joined to their
/// incident rows as [`OPEN_AT`] is, counting 50,000 open incidents by
/// priority took 47 ms, nearly all of it in the join.
const OPEN_NOW: &str = "FROM tickets t
    WHERE t.kind = 'incident' AND t.created_at < $1
    AND t.status IN ('new', 'acknowledged', 'on_hold')";

/// The `FROM … WHERE …` of the incidents open at `at`.
fn open_incidents_at(at: DateTime<Utc>, now: DateTime<Utc>) -> &'static str {
    if at >= now {
        OPEN_NOW
    } else {
        OPEN_AT
    }
}

/// Incidents open at `at` per priority, P1 first.
pub async fn open_by_priority(
    conn: &mut PgConnection,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<[i64; 4], StoreError> {
    let rows: Vec<(i16, i64)> = sqlx::query_as(&format!(
        "SELECT t.priority, count(*) {} GROUP BY t.priority",
        open_incidents_at(at, now)
    ))
    .bind(at)
    .fetch_all(conn)
    .await?;
    let mut counts = [0; 4];
    for (priority, count) in rows {
        if let Some(p) = Priority::from_i16(priority) {
            counts[usize::try_from(p.as_i16() - 1).unwrap_or(0)] = count;
        }
    }
    Ok(counts)
}

/// The `limit` oldest incidents open at `at`.
pub async fn oldest_open(
    conn: &mut PgConnection,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<OpenItem>, StoreError> {
    let rows: Vec<(i64, i16, String, DateTime<Utc>)> = sqlx::query_as(&format!(
        "SELECT t.number, t.priority, t.title, t.created_at {}
          ORDER BY t.created_at, t.id LIMIT $2",
        open_incidents_at(at, now)
    ))
    .bind(at)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(number, priority, title, opened)| {
            Some(OpenItem {
                reference: format!("INC-{number}"),
                priority: Priority::from_i16(priority)?,
                title,
                opened,
            })
        })
        .collect())
}

/// Problems that were known errors at `at`: the last status they reached
/// before it was `known_error`.
pub async fn known_errors_at(
    conn: &mut PgConnection,
    at: DateTime<Utc>,
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM tickets t
          WHERE t.kind = 'problem' AND t.created_at < $1
            AND (SELECT e.action FROM ticket_events e
                  WHERE e.ticket_id = t.id AND e.at < $1
                    AND e.action IN ('investigating', 'known_error', 'resolved', 'closed')
                  ORDER BY e.at DESC, e.id DESC LIMIT 1) = 'known_error'",
    )
    .bind(at)
    .fetch_one(conn)
    .await?)
}

/// Open tickets by kind and priority (`P1`…, or `none`), for metrics.
pub async fn open_tickets(
    conn: &mut PgConnection,
) -> Result<Vec<(String, String, i64)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT kind, COALESCE('P' || priority::text, 'none'), count(*)
         FROM tickets
         WHERE status NOT IN ('resolved', 'closed', 'completed', 'failed', 'rolled_back', 'rejected', 'cancelled')
           -- Articles are not work waiting for anyone.
           AND kind <> 'kb'
         GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .fetch_all(conn)
    .await?)
}

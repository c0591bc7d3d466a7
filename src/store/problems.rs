//! Problems: a `tickets` row of kind `problem` plus its `problems` row, the
//! incidents linked to it (`problem_incidents`), and full-text search.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::StoreError;
use crate::domain::incident::Origin;
use crate::domain::problem::{NewProblem, Problem, ProblemStatus};
use crate::domain::{TicketKind, TicketRef, UserId};

const SELECT_PROBLEM: &str = "
SELECT t.id, t.number, t.title, t.description, t.status, t.reporter,
       t.origin_platform, t.origin_channel, t.origin_thread, t.origin_message,
       t.created_at, t.updated_at, s.name AS service,
       p.root_cause, p.workaround, p.resolution, c.number AS fix_number,
       p.known_error_at, p.resolved_at, p.closed_at
FROM tickets t
JOIN problems p ON p.ticket_id = t.id
LEFT JOIN services s ON s.id = t.service_id
LEFT JOIN tickets c ON c.id = p.fix_change_id";

#[derive(sqlx::FromRow)]
struct ProblemRow {
    id: i64,
    number: i64,
    title: String,
    description: String,
    status: String,
    reporter: String,
    origin_platform: String,
    origin_channel: String,
    origin_thread: Option<String>,
    origin_message: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    service: Option<String>,
    root_cause: Option<String>,
    workaround: Option<String>,
    resolution: Option<String>,
    fix_number: Option<i64>,
    known_error_at: Option<DateTime<Utc>>,
    resolved_at: Option<DateTime<Utc>>,
    closed_at: Option<DateTime<Utc>>,
}

impl TryFrom<ProblemRow> for Problem {
    type Error = StoreError;

    fn try_from(row: ProblemRow) -> Result<Self, Self::Error> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("PRB-{}: {what}", row.number));
        Ok(Problem {
            id: row.id,
            number: row.number,
            status: row.status.parse().map_err(|e: String| corrupt(&e))?,
            reporter: row
                .reporter
                .parse::<UserId>()
                .map_err(|e| corrupt(&e.to_string()))?,
            origin: Origin {
                platform: row
                    .origin_platform
                    .parse()
                    .map_err(|_| corrupt("bad origin platform"))?,
                channel: row.origin_channel,
                thread: row.origin_thread,
                message: row.origin_message,
            },
            title: row.title,
            description: row.description,
            service: row.service,
            root_cause: row.root_cause,
            workaround: row.workaround,
            fix_change: row.fix_number.map(|number| TicketRef {
                kind: TicketKind::Change,
                number,
            }),
            resolution: row.resolution,
            created_at: row.created_at,
            updated_at: row.updated_at,
            known_error_at: row.known_error_at,
            resolved_at: row.resolved_at,
            closed_at: row.closed_at,
        })
    }
}

fn problems(rows: Vec<ProblemRow>) -> Result<Vec<Problem>, StoreError> {
    rows.into_iter().map(Problem::try_from).collect()
}

/// Stores a new problem, numbered from the problem sequence, and returns it.
pub async fn insert(
    conn: &mut PgConnection,
    new: &NewProblem,
    service_id: Option<i64>,
    at: DateTime<Utc>,
) -> Result<Problem, StoreError> {
    let (id, number): (i64, i64) = sqlx::query_as(
        "WITH ticket AS (
            INSERT INTO tickets (kind, number, title, description, status, service_id,
                                 reporter, origin_platform, origin_channel, origin_thread,
                                 origin_message, created_at, updated_at)
            VALUES ('problem', nextval('problem_number_seq'), $1, $2, 'new', $3,
                    $4, $5, $6, $7, $8, $9, $9)
            RETURNING id, number, title
         ), details AS (
            INSERT INTO problems (ticket_id, title)
            SELECT id, title FROM ticket
         )
         SELECT id, number FROM ticket",
    )
    .bind(new.title.as_str())
    .bind(&new.description)
    .bind(service_id)
    .bind(new.reporter.to_string())
    .bind(new.origin.platform.as_str())
    .bind(&new.origin.channel)
    .bind(&new.origin.thread)
    .bind(&new.origin.message)
    .bind(at)
    .fetch_one(conn)
    .await?;
    Ok(Problem {
        id,
        number,
        title: new.title.to_string(),
        description: new.description.clone(),
        status: ProblemStatus::New,
        service: new.service.clone(),
        reporter: new.reporter.clone(),
        origin: new.origin.clone(),
        root_cause: None,
        workaround: None,
        fix_change: None,
        resolution: None,
        created_at: at,
        updated_at: at,
        known_error_at: None,
        resolved_at: None,
        closed_at: None,
    })
}

/// Reads problem `number` and locks it until the transaction ends, so
/// concurrent changes to one problem happen one after the other.
pub async fn lock(conn: &mut PgConnection, number: i64) -> Result<Option<Problem>, StoreError> {
    let query =
        format!("{SELECT_PROBLEM} WHERE t.kind = 'problem' AND t.number = $1 FOR UPDATE OF t, p");
    let row: Option<ProblemRow> = sqlx::query_as(&query)
        .bind(number)
        .fetch_optional(conn)
        .await?;
    row.map(Problem::try_from).transpose()
}

/// Reads problem `number`.
pub async fn get(conn: &mut PgConnection, number: i64) -> Result<Option<Problem>, StoreError> {
    let query = format!("{SELECT_PROBLEM} WHERE t.kind = 'problem' AND t.number = $1");
    let row: Option<ProblemRow> = sqlx::query_as(&query)
        .bind(number)
        .fetch_optional(conn)
        .await?;
    row.map(Problem::try_from).transpose()
}

/// Writes a problem's changeable fields back. The fix is stored by the
/// change's ticket id; the caller has checked that the change exists.
pub async fn update(conn: &mut PgConnection, problem: &Problem) -> Result<(), StoreError> {
    sqlx::query(
        "WITH ticket AS (
            UPDATE tickets SET status = $2, updated_at = $3
            WHERE id = $1 RETURNING id
         )
         UPDATE problems SET root_cause = $4, workaround = $5, resolution = $6,
                fix_change_id = (SELECT id FROM tickets WHERE kind = 'change' AND number = $7),
                known_error_at = $8, resolved_at = $9, closed_at = $10
         WHERE ticket_id = (SELECT id FROM ticket)",
    )
    .bind(problem.id)
    .bind(problem.status.as_str())
    .bind(problem.updated_at)
    .bind(&problem.root_cause)
    .bind(&problem.workaround)
    .bind(&problem.resolution)
    .bind(problem.fix_change.map(|c| c.number))
    .bind(problem.known_error_at)
    .bind(problem.resolved_at)
    .bind(problem.closed_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// A change request as a problem shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeSummary {
    pub reference: TicketRef,
    pub title: String,
    pub status: String,
}

/// Change `number`, if it exists.
pub async fn change(
    conn: &mut PgConnection,
    number: i64,
) -> Result<Option<ChangeSummary>, StoreError> {
    let row: Option<(String, String)> =
        sqlx::query_as("SELECT title, status FROM tickets WHERE kind = 'change' AND number = $1")
            .bind(number)
            .fetch_optional(conn)
            .await?;
    Ok(row.map(|(title, status)| ChangeSummary {
        reference: TicketRef {
            kind: TicketKind::Change,
            number,
        },
        title,
        status,
    }))
}

/// Links incident ticket `incident_id` to problem ticket `problem_id`;
/// `false` if they were linked already.
pub async fn link(
    conn: &mut PgConnection,
    problem_id: i64,
    incident_id: i64,
    by: &UserId,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO problem_incidents (problem_id, incident_id, linked_at, linked_by)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT DO NOTHING",
    )
    .bind(problem_id)
    .bind(incident_id)
    .bind(at)
    .bind(by.to_string())
    .execute(conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// The numbers of the incidents linked to problem ticket `problem_id`, in
/// the order they were linked.
pub async fn linked_incidents(
    conn: &mut PgConnection,
    problem_id: i64,
) -> Result<Vec<i64>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT t.number FROM problem_incidents l JOIN tickets t ON t.id = l.incident_id
         WHERE l.problem_id = $1 ORDER BY l.linked_at, t.number",
    )
    .bind(problem_id)
    .fetch_all(conn)
    .await?)
}

/// The problems incident ticket `incident_id` is linked to, in the order
/// they were linked (a post-incident review shows their root causes).
pub async fn linked_to_incident(
    conn: &mut PgConnection,
    incident_id: i64,
) -> Result<Vec<Problem>, StoreError> {
    let query = format!(
        "{SELECT_PROBLEM} JOIN problem_incidents l ON l.problem_id = t.id
         WHERE l.incident_id = $1 ORDER BY l.linked_at, t.number"
    );
    let rows: Vec<ProblemRow> = sqlx::query_as(&query)
        .bind(incident_id)
        .fetch_all(conn)
        .await?;
    problems(rows)
}

/// Problems matching `words` (web-search syntax: all words, `"a phrase"`,
/// `or`, `-not`) in their title, root cause or workaround: known errors
/// first, then by relevance.
pub async fn search(
    conn: &mut PgConnection,
    words: &str,
    limit: i64,
) -> Result<Vec<Problem>, StoreError> {
    let query = format!(
        "{SELECT_PROBLEM}, websearch_to_tsquery('english', $1) AS q
         WHERE t.kind = 'problem' AND p.search @@ q
         ORDER BY t.status = 'known_error' DESC, t.status IN ('resolved', 'closed'),
                  ts_rank(p.search, q) DESC, t.number DESC
         LIMIT $2"
    );
    let rows: Vec<ProblemRow> = sqlx::query_as(&query)
        .bind(words)
        .bind(limit)
        .fetch_all(conn)
        .await?;
    problems(rows)
}

/// The known-error search as a subquery over the statement's parameters
/// `title`, `min_shared` and `limit` (e.g. `"$1"`), so a statement that
/// opens an incident can search in the same round trip. Its rows are
/// `number, title, workaround, rank` (1 = best).
pub(super) fn known_errors_matching(title: &str, min_shared: &str, limit: &str) -> String {
    // plainto_tsquery strips operators and stop words; turning its ANDs
    // into ORs lets the GIN index find every problem with any of the words,
    // and the overlap count then keeps those with enough of them.
    format!(
        "SELECT t.number, t.title, p.workaround,
                row_number() OVER (ORDER BY overlap.shared DESC, ts_rank(p.search, wanted.q) DESC, t.number DESC) AS rank
         FROM tickets t
         JOIN problems p ON p.ticket_id = t.id,
            LATERAL (SELECT replace(plainto_tsquery('english', {title}::text)::text, '&', '|')::tsquery AS q,
                            tsvector_to_array(to_tsvector('english', {title}::text)) AS words) AS wanted,
            LATERAL (SELECT count(*) AS shared FROM unnest(tsvector_to_array(p.search)) AS w
                     WHERE w = ANY(wanted.words)) AS overlap
         WHERE t.kind = 'problem' AND t.status = 'known_error' AND p.search @@ wanted.q
           AND overlap.shared >= {min_shared}
         ORDER BY rank
         LIMIT {limit}"
    )
}

/// One page of problems matching `filter`, newest first, with the number of all that match.
pub async fn list(
    conn: &mut PgConnection,
    filter: &super::listing::TicketFilter,
    page: super::listing::Page,
) -> Result<(Vec<Problem>, i64), StoreError> {
    use super::listing::{bind, count, CONDITION, ORDER_AND_PAGE};
    let query =
        format!("{SELECT_PROBLEM} WHERE t.kind = 'problem' AND {CONDITION} {ORDER_AND_PAGE}");
    let rows: Vec<ProblemRow> = bind(sqlx::query_as(&query), filter, page)
        .fetch_all(&mut *conn)
        .await?;
    let items = problems(rows)?;
    Ok((items, count(conn, "problem", filter).await?))
}

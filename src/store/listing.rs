//! Filtered, paged lists of tickets of any kind, for the API. Every kind
//! filters on the shared `tickets` columns, so the condition is written once.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgArguments;
use sqlx::query::QueryAs;
use sqlx::Postgres;

use crate::domain::Priority;

/// Which tickets to list. Empty fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TicketFilter {
    /// Any of these statuses (as stored, e.g. `in_progress`).
    pub statuses: Vec<String>,
    pub priority: Option<Priority>,
    pub service: Option<String>,
    /// Created at or after.
    pub created_from: Option<DateTime<Utc>>,
    /// Created before.
    pub created_before: Option<DateTime<Utc>>,
}

/// One page of a list: 1-based page number and its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub number: i64,
    pub size: i64,
}

impl Page {
    fn offset(&self) -> i64 {
        (self.number.max(1) - 1).saturating_mul(self.size)
    }
}

/// The condition on `tickets t` (and `services s`) for a filter, with
/// parameters `$1`–`$5`; `$6` and `$7` are the page's limit and offset.
pub(super) const CONDITION: &str = "(cardinality($1::text[]) = 0 OR t.status = ANY($1))
    AND ($2::smallint IS NULL OR t.priority = $2)
    AND ($3::text IS NULL OR s.name = $3)
    AND ($4::timestamptz IS NULL OR t.created_at >= $4)
    AND ($5::timestamptz IS NULL OR t.created_at < $5)";

/// Newest first, then the page.
pub(super) const ORDER_AND_PAGE: &str = "ORDER BY t.created_at DESC, t.id DESC LIMIT $6 OFFSET $7";

/// Binds a filter and page to a query written with [`CONDITION`] and [`ORDER_AND_PAGE`].
pub(super) fn bind<'q, O>(
    query: QueryAs<'q, Postgres, O, PgArguments>,
    filter: &'q TicketFilter,
    page: Page,
) -> QueryAs<'q, Postgres, O, PgArguments> {
    query
        .bind(&filter.statuses)
        .bind(filter.priority.map(Priority::as_i16))
        .bind(&filter.service)
        .bind(filter.created_from)
        .bind(filter.created_before)
        .bind(page.size)
        .bind(page.offset())
}

/// How many tickets of `kind` match `filter`.
pub(super) async fn count(
    conn: &mut sqlx::PgConnection,
    kind: &str,
    filter: &TicketFilter,
) -> Result<i64, super::StoreError> {
    let query = format!(
        "SELECT count(*) FROM tickets t LEFT JOIN services s ON s.id = t.service_id
         WHERE t.kind = '{kind}' AND {CONDITION}"
    );
    let (total,): (i64,) = sqlx::query_as(&query)
        .bind(&filter.statuses)
        .bind(filter.priority.map(Priority::as_i16))
        .bind(&filter.service)
        .bind(filter.created_from)
        .bind(filter.created_before)
        .fetch_one(conn)
        .await?;
    Ok(total)
}

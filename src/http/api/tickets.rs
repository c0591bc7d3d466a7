//! Listing and fetching tickets, once for every kind: a [`TicketApi`] says
//! what differs per kind (its statuses, its store queries, its JSON shape),
//! and [`list`] and [`get`] do the rest the same way for all of them.

use std::collections::BTreeMap;
use std::future::Future;

use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use super::{caller, connection, ApiError, ChangeDto, EventDto, IncidentDto, PageOf, ProblemDto};
use super::{HttpState, WithTimeline};
use crate::domain::change::{Change, ChangeStatus};
use crate::domain::incident::{Incident, IncidentStatus};
use crate::domain::problem::{Problem, ProblemStatus};
use crate::domain::{Priority, TicketKind, TicketRef};
use crate::http::export::{self, Format};
use crate::store::listing::{Page, TicketFilter};
use crate::store::{self, StoreError};
use axum::response::Response;

/// Items per page unless `per_page` says otherwise, and the most it may say.
const DEFAULT_PER_PAGE: i64 = 50;
const MAX_PER_PAGE: i64 = 200;

/// A kind of ticket the API lists and fetches: what differs per kind.
pub(super) trait TicketApi {
    /// The kind, for references (`INC-`, `CHG-`, `PRB-`).
    const KIND: TicketKind;
    /// The statuses a `status` filter accepts, as a refusal lists them.
    const STATUS_NAMES: &'static str;
    /// The ticket as the store reads it.
    type Ticket: Send;
    /// The ticket as the API shows it.
    type Dto: Serialize + for<'a> From<&'a Self::Ticket>;

    /// Whether `status` is one of this kind's statuses.
    fn valid_status(status: &str) -> bool;
    /// The ticket's row id, for its timeline.
    fn id(ticket: &Self::Ticket) -> i64;
    /// One page of tickets matching `filter`, newest first, and how many
    /// match in all.
    fn list(
        conn: &mut PgConnection,
        filter: &TicketFilter,
        page: Page,
    ) -> impl Future<Output = Result<(Vec<Self::Ticket>, i64), StoreError>> + Send;
    /// The ticket numbered `number`, if there is one.
    fn get(
        conn: &mut PgConnection,
        number: i64,
    ) -> impl Future<Output = Result<Option<Self::Ticket>, StoreError>> + Send;
}

/// Incidents, `/api/v1/incidents`.
pub(super) struct Incidents;

impl TicketApi for Incidents {
    const KIND: TicketKind = TicketKind::Incident;
    const STATUS_NAMES: &'static str = "new, acknowledged, on_hold, resolved or closed";
    type Ticket = Incident;
    type Dto = IncidentDto;

    fn valid_status(status: &str) -> bool {
        status.parse::<IncidentStatus>().is_ok()
    }

    fn id(ticket: &Incident) -> i64 {
        ticket.id
    }

    async fn list(
        conn: &mut PgConnection,
        filter: &TicketFilter,
        page: Page,
    ) -> Result<(Vec<Incident>, i64), StoreError> {
        store::incidents::list(conn, filter, page).await
    }

    async fn get(conn: &mut PgConnection, number: i64) -> Result<Option<Incident>, StoreError> {
        store::incidents::get(conn, number).await
    }
}

/// Problems, `/api/v1/problems`.
pub(super) struct Problems;

impl TicketApi for Problems {
    const KIND: TicketKind = TicketKind::Problem;
    const STATUS_NAMES: &'static str = "new, investigating, known_error, resolved or closed";
    type Ticket = Problem;
    type Dto = ProblemDto;

    fn valid_status(status: &str) -> bool {
        status.parse::<ProblemStatus>().is_ok()
    }

    fn id(ticket: &Problem) -> i64 {
        ticket.id
    }

    async fn list(
        conn: &mut PgConnection,
        filter: &TicketFilter,
        page: Page,
    ) -> Result<(Vec<Problem>, i64), StoreError> {
        store::problems::list(conn, filter, page).await
    }

    async fn get(conn: &mut PgConnection, number: i64) -> Result<Option<Problem>, StoreError> {
        store::problems::get(conn, number).await
    }
}

/// Changes, `/api/v1/changes`.
pub(super) struct Changes;

impl TicketApi for Changes {
    const KIND: TicketKind = TicketKind::Change;
    const STATUS_NAMES: &'static str = "draft, submitted, approved, rejected, in_progress, completed, failed, rolled_back or cancelled";
    type Ticket = Change;
    type Dto = ChangeDto;

    fn valid_status(status: &str) -> bool {
        status.parse::<ChangeStatus>().is_ok()
    }

    fn id(ticket: &Change) -> i64 {
        ticket.id
    }

    async fn list(
        conn: &mut PgConnection,
        filter: &TicketFilter,
        page: Page,
    ) -> Result<(Vec<Change>, i64), StoreError> {
        store::changes::list(conn, filter, page).await
    }

    async fn get(conn: &mut PgConnection, number: i64) -> Result<Option<Change>, StoreError> {
        store::changes::get(conn, number).await
    }
}

/// `GET /api/v1/<kind>`: one page of tickets of kind `K`, filtered by the
/// query.
pub(super) async fn list<K: TicketApi>(
    state: &HttpState,
    headers: &HeaderMap,
    query: &[(String, String)],
) -> Result<Response, ApiError> {
    caller(state, headers)?;
    let mut query = query.to_vec();
    let format = Format::take(headers, &mut query)?;
    let (filter, page) = filter_of(&query, K::valid_status, K::STATUS_NAMES)?;
    let mut conn = connection(state).await?;
    let (items, total) = K::list(&mut conn, &filter, page).await?;
    Ok(export::list(
        format,
        &PageOf {
            items: items.iter().map(K::Dto::from).collect::<Vec<K::Dto>>(),
            page: page.number,
            per_page: page.size,
            total,
        },
    )?)
}

/// `GET /api/v1/<kind>/{reference}`: one ticket of kind `K` with its
/// timeline.
pub(super) async fn get<K: TicketApi>(
    state: &HttpState,
    headers: &HeaderMap,
    reference: &str,
) -> Result<Json<WithTimeline<K::Dto>>, ApiError> {
    caller(state, headers)?;
    let reference = reference_of(reference, K::KIND)?;
    let mut conn = connection(state).await?;
    let ticket = K::get(&mut conn, reference.number)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("there is no {reference}")))?;
    let timeline = store::timeline::list(&mut conn, K::id(&ticket)).await?;
    Ok(Json(WithTimeline {
        ticket: K::Dto::from(&ticket),
        timeline: timeline.iter().map(EventDto::from).collect(),
    }))
}

/// Reads `key=value` pairs into a filter and a page, refusing unknown keys
/// and bad values with a message that says what would work.
pub(super) fn filter_of(
    query: &[(String, String)],
    statuses: fn(&str) -> bool,
    status_names: &str,
) -> Result<(TicketFilter, Page), ApiError> {
    let mut filter = TicketFilter::default();
    let mut page = Page {
        number: 1,
        size: DEFAULT_PER_PAGE,
    };
    let mut seen = BTreeMap::new();
    for (key, value) in query {
        if seen.insert(key.as_str(), ()).is_some() {
            return Err(ApiError::bad_request(format!("`{key}` is given twice")));
        }
        match key.as_str() {
            "status" => {
                for status in value.split(',').map(str::trim) {
                    if !statuses(status) {
                        return Err(ApiError::bad_request(format!(
                            "`{status}` is not a status; use {status_names} (comma-separated)"
                        )));
                    }
                    filter.statuses.push(status.to_string());
                }
            }
            "priority" => {
                filter.priority = Some(value.parse::<Priority>().map_err(|err| ApiError::bad_request(err.to_string()))?);
            }
            "service" => filter.service = Some(value.to_ascii_lowercase()),
            "created_from" => filter.created_from = Some(instant("created_from", value)?),
            "created_before" => filter.created_before = Some(instant("created_before", value)?),
            "page" => page.number = positive("page", value, i64::MAX)?,
            "per_page" => page.size = positive("per_page", value, MAX_PER_PAGE)?,
            other => {
                return Err(ApiError::bad_request(format!(
                    "`{other}` is not a filter; use status, priority, service, created_from, created_before, page, per_page"
                )))
            }
        }
    }
    if let (Some(from), Some(before)) = (filter.created_from, filter.created_before) {
        if before <= from {
            return Err(ApiError::bad_request(
                "created_before must be after created_from",
            ));
        }
    }
    Ok((filter, page))
}

fn instant(key: &str, value: &str) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(at) = DateTime::parse_from_rfc3339(value) {
        return Ok(at.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|at| at.and_utc())
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "{key}: `{value}` is not a date (2026-11-25) or an RFC 3339 instant (2026-11-25T09:00:00Z)"
            ))
        })
}

/// The page `query` asks for, for lists with no filters: only `page` and
/// `per_page` are understood.
pub(super) fn page_of(query: &[(String, String)]) -> Result<Page, ApiError> {
    let mut page = Page {
        number: 1,
        size: DEFAULT_PER_PAGE,
    };
    let mut seen = BTreeMap::new();
    for (key, value) in query {
        if seen.insert(key.as_str(), ()).is_some() {
            return Err(ApiError::bad_request(format!("`{key}` is given twice")));
        }
        match key.as_str() {
            "page" => page.number = positive("page", value, i64::MAX)?,
            "per_page" => page.size = positive("per_page", value, MAX_PER_PAGE)?,
            other => {
                return Err(ApiError::bad_request(format!(
                    "`{other}` is not understood here; use page, per_page"
                )))
            }
        }
    }
    Ok(page)
}

fn positive(key: &str, value: &str, max: i64) -> Result<i64, ApiError> {
    value
        .parse::<i64>()
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| {
            ApiError::bad_request(format!("{key} must be a whole number from 1 to {max}"))
        })
}

/// Parses `text` as a reference of `kind`; another kind is not found.
pub(super) fn reference_of(text: &str, kind: TicketKind) -> Result<TicketRef, ApiError> {
    match text.parse::<TicketRef>() {
        Ok(reference) if reference.kind == kind => Ok(reference),
        Ok(reference) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "{reference} is not a{} {}",
                if kind == TicketKind::Incident {
                    "n"
                } else {
                    ""
                },
                kind.as_str()
            ),
        )),
        Err(err) => Err(ApiError::bad_request(err.to_string())),
    }
}

//! The REST API, `/api/v1/…`: tickets of every kind (filtered and paged,
//! or one with its timeline), creating incidents, and the digest's figures.
//! Every route but the OpenAPI document needs a bearer token from
//! `[[api.tokens]]`; errors are `{"error": …}` with the fitting status.

mod dto;

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use utoipa::OpenApi;

pub use dto::*;

use super::HttpState;
use crate::commands::command::IncidentReport;
use crate::commands::reply::Outcome;
use crate::commands::{Command, Request};
use crate::config::ApiAccess;
use crate::domain::change::ChangeStatus;
use crate::domain::incident::IncidentStatus;
use crate::domain::problem::ProblemStatus;
use crate::domain::report::Period;
use crate::domain::{FreeText, Level, Platform, Priority, TicketKind, TicketRef, Title, UserId};
use crate::store::listing::{Page, TicketFilter};
use crate::store::{self, StoreError};

/// Items per page unless `per_page` says otherwise, and the most it may say.
const DEFAULT_PER_PAGE: i64 = 50;
const MAX_PER_PAGE: i64 = 200;

/// The API's routes, to be merged into the bot's router.
pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi))
        .route(
            "/api/v1/incidents",
            get(list_incidents).post(create_incident),
        )
        .route("/api/v1/incidents/{reference}", get(get_incident))
        .route(
            "/api/v1/incidents/{reference}/postmortem",
            get(get_postmortem),
        )
        .route("/api/v1/problems", get(list_problems))
        .route("/api/v1/problems/{reference}", get(get_problem))
        .route("/api/v1/changes", get(list_changes))
        .route("/api/v1/changes/{reference}", get(get_change))
        .route("/api/v1/reports/{period}", get(report))
}

/// The OpenAPI document, generated from the handlers and types below.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "itsm-bot API",
        description = "Incidents, problems, changes and service desk figures."
    ),
    paths(
        list_incidents,
        get_incident,
        get_postmortem,
        create_incident,
        list_problems,
        get_problem,
        list_changes,
        get_change,
        report
    ),
    components(schemas(
        ErrorBody,
        IncidentDto,
        ProblemDto,
        ChangeDto,
        ApprovalDto,
        EventDto,
        NewIncidentDto,
        ReportDto,
        ActionItemsDto,
        ActionItemDto
    )),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// An answer other than success.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(_) => {
                tracing::warn!(error = %err, "API: database unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the service desk database is unavailable; try again shortly",
                )
            }
            other => {
                tracing::error!(error = %other, "API request failed");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error; it was logged",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(ErrorBody {
                error: self.message,
            }),
        )
            .into_response()
    }
}

/// Who called, by their token.
struct Caller {
    name: String,
    access: ApiAccess,
}

fn caller(state: &HttpState, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let unauthorized = |message: &str| ApiError::new(StatusCode::UNAUTHORIZED, message);
    let tokens = &state.engine.config().api.tokens;
    if tokens.is_empty() {
        return Err(unauthorized(
            "the API has no tokens configured; add [[api.tokens]] to the configuration",
        ));
    }
    let presented = super::auth::bearer(headers)
        .ok_or_else(|| unauthorized("send `Authorization: Bearer <token>`"))?;
    let token = super::auth::find(presented, tokens, |token| token.token.as_ref())
        .ok_or_else(|| unauthorized("the token is not valid"))?;
    Ok(Caller {
        name: token.name.clone(),
        access: token.access,
    })
}

/// Reads `key=value` pairs into a filter and a page, refusing unknown keys
/// and bad values with a message that says what would work.
fn filter_of(
    query: &[(String, String)],
    statuses: &dyn Fn(&str) -> bool,
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

fn positive(key: &str, value: &str, max: i64) -> Result<i64, ApiError> {
    value
        .parse::<i64>()
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| {
            ApiError::bad_request(format!("{key} must be a whole number from 1 to {max}"))
        })
}

fn reference_of(text: &str, kind: TicketKind) -> Result<TicketRef, ApiError> {
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

async fn connection(
    state: &HttpState,
) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>, ApiError> {
    Ok(state
        .store()
        .pool()
        .acquire()
        .await
        .map_err(StoreError::from)?)
}

/// List incidents.
#[utoipa::path(
    get,
    path = "/api/v1/incidents",
    params(
        ("status" = Option<String>, Query, description = "new, acknowledged, on_hold, resolved, closed; comma-separated"),
        ("priority" = Option<String>, Query, description = "P1 … P4"),
        ("service" = Option<String>, Query, description = "service name"),
        ("created_from" = Option<String>, Query, description = "date or RFC 3339 instant, inclusive"),
        ("created_before" = Option<String>, Query, description = "date or RFC 3339 instant, exclusive"),
        ("page" = Option<i64>, Query, description = "1-based page"),
        ("per_page" = Option<i64>, Query, description = "items per page, 1 to 200 (default 50)")
    ),
    responses(
        (status = 200, description = "One page of incidents, newest first", body = PageOf<IncidentDto>),
        (status = 400, description = "A bad filter", body = ErrorBody),
        (status = 401, description = "No or a wrong token", body = ErrorBody)
    )
)]
async fn list_incidents(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Json<PageOf<IncidentDto>>, ApiError> {
    caller(&state, &headers)?;
    let valid = |s: &str| s.parse::<IncidentStatus>().is_ok();
    let (filter, page) = filter_of(
        &query,
        &valid,
        "new, acknowledged, on_hold, resolved or closed",
    )?;
    let mut conn = connection(&state).await?;
    let (items, total) = store::incidents::list(&mut conn, &filter, page).await?;
    Ok(Json(PageOf {
        items: items.iter().map(IncidentDto::from).collect(),
        page: page.number,
        per_page: page.size,
        total,
    }))
}

/// Fetch one incident with its timeline.
#[utoipa::path(
    get,
    path = "/api/v1/incidents/{reference}",
    params(("reference" = String, Path, description = "INC-<n>")),
    responses(
        (status = 200, description = "The incident and its timeline", body = WithTimeline<IncidentDto>),
        (status = 404, description = "No such incident", body = ErrorBody)
    )
)]
async fn get_incident(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Path(reference): Path<String>,
) -> Result<Json<WithTimeline<IncidentDto>>, ApiError> {
    caller(&state, &headers)?;
    let reference = reference_of(&reference, TicketKind::Incident)?;
    let mut conn = connection(&state).await?;
    let incident = store::incidents::get(&mut conn, reference.number)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("there is no {reference}")))?;
    let timeline = store::timeline::list(&mut conn, incident.id).await?;
    Ok(Json(WithTimeline {
        ticket: IncidentDto::from(&incident),
        timeline: timeline.iter().map(EventDto::from).collect(),
    }))
}

/// An incident's post-incident review, as Markdown.
#[utoipa::path(
    get,
    path = "/api/v1/incidents/{reference}/postmortem",
    params(("reference" = String, Path, description = "INC-<n>")),
    responses(
        (status = 200, description = "The review as it stands, rendered from the records and the edited sections", body = String, content_type = "text/markdown"),
        (status = 404, description = "No such incident, or no review started", body = ErrorBody)
    )
)]
async fn get_postmortem(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Path(reference): Path<String>,
) -> Result<Response, ApiError> {
    caller(&state, &headers)?;
    let reference = reference_of(&reference, TicketKind::Incident)?;
    let markdown = state
        .engine
        .postmortem_markdown(reference)
        .await
        .map_err(|err| match err {
            crate::commands::execute::postmortem::ReviewError::Store(err) => ApiError::from(err),
            other => {
                tracing::error!(error = %other, "API: review rendering failed");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, other.to_string())
            }
        })?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                format!("{reference} has no post-incident review (or does not exist)"),
            )
        })?;
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/markdown; charset=utf-8",
        )],
        markdown,
    )
        .into_response())
}

/// Report an incident (a read-write token).
#[utoipa::path(
    post,
    path = "/api/v1/incidents",
    request_body = NewIncidentDto,
    responses(
        (status = 201, description = "The new incident", body = IncidentDto),
        (status = 400, description = "A bad field, or the engine refused it", body = ErrorBody),
        (status = 401, description = "No or a wrong token (checked before the body is read)", body = ErrorBody),
        (status = 403, description = "A read-only token", body = ErrorBody),
        (status = 413, description = "A body over http.max_body_bytes", body = ErrorBody)
    )
)]
async fn create_incident(
    State(state): State<HttpState>,
    request: axum::extract::Request,
) -> Result<(StatusCode, Json<IncidentDto>), ApiError> {
    // The token first: a stranger's body is never read.
    let caller = caller(&state, request.headers())?;
    if caller.access != ApiAccess::Write {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("the token `{}` is read-only", caller.name),
        ));
    }
    let body = super::read_body(&state, request)
        .await
        .map_err(|err| ApiError::new(err.status(), err.to_string()))?;
    let new: NewIncidentDto = serde_json::from_slice(&body)
        .map_err(|err| ApiError::bad_request(format!("the body is not a new incident: {err}")))?;
    let report = report_of(new)?;
    let actor = UserId::new(Platform::Shell, &format!("api.{}", caller.name))
        .map_err(|err| ApiError::bad_request(err.to_string()))?;
    let reply = state
        .engine
        .execute(&Request::new(actor, "api"), Command::ReportIncident(report))
        .await;
    match (reply.outcome, reply.ticket) {
        (Outcome::Done, Some(reference)) => {
            let mut conn = connection(&state).await?;
            let incident = store::incidents::get(&mut conn, reference.number)
                .await?
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "the new incident vanished",
                    )
                })?;
            Ok((StatusCode::CREATED, Json(IncidentDto::from(&incident))))
        }
        (Outcome::Unavailable, _) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            reply.message.plain_text(),
        )),
        _ => Err(ApiError::bad_request(reply.message.plain_text())),
    }
}

fn report_of(new: NewIncidentDto) -> Result<IncidentReport, ApiError> {
    let bad = |field: &str, err: String| ApiError::bad_request(format!("{field}: {err}"));
    let level = |field: &str, value: Option<String>| {
        value
            .map(|v| {
                v.parse::<Level>()
                    .map_err(|err| bad(field, err.to_string()))
            })
            .transpose()
    };
    let service = match new.service {
        Some(name) => {
            let name = name.to_ascii_lowercase();
            if !crate::domain::service::valid_name(&name) {
                return Err(bad("service", format!("`{name}` is not a service name")));
            }
            Some(name)
        }
        None => None,
    };
    Ok(IncidentReport {
        title: Title::parse(&new.title).map_err(|err| bad("title", err.to_string()))?,
        description: new
            .description
            .filter(|d| !d.trim().is_empty())
            .map(|d| {
                FreeText::parse("description", &d)
                    .map_err(|err| bad("description", err.to_string()))
            })
            .transpose()?,
        priority: new
            .priority
            .map(|p| {
                p.parse::<Priority>()
                    .map_err(|err| bad("priority", err.to_string()))
            })
            .transpose()?,
        impact: level("impact", new.impact)?,
        urgency: level("urgency", new.urgency)?,
        service,
    })
}

/// List problems.
#[utoipa::path(
    get,
    path = "/api/v1/problems",
    params(
        ("status" = Option<String>, Query, description = "new, investigating, known_error, resolved, closed; comma-separated"),
        ("service" = Option<String>, Query, description = "service name"),
        ("created_from" = Option<String>, Query, description = "date or RFC 3339 instant, inclusive"),
        ("created_before" = Option<String>, Query, description = "date or RFC 3339 instant, exclusive"),
        ("page" = Option<i64>, Query, description = "1-based page"),
        ("per_page" = Option<i64>, Query, description = "items per page, 1 to 200 (default 50)")
    ),
    responses(
        (status = 200, description = "One page of problems, newest first", body = PageOf<ProblemDto>),
        (status = 400, description = "A bad filter", body = ErrorBody)
    )
)]
async fn list_problems(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Json<PageOf<ProblemDto>>, ApiError> {
    caller(&state, &headers)?;
    let valid = |s: &str| s.parse::<ProblemStatus>().is_ok();
    let (filter, page) = filter_of(
        &query,
        &valid,
        "new, investigating, known_error, resolved or closed",
    )?;
    let mut conn = connection(&state).await?;
    let (items, total) = store::problems::list(&mut conn, &filter, page).await?;
    Ok(Json(PageOf {
        items: items.iter().map(ProblemDto::from).collect(),
        page: page.number,
        per_page: page.size,
        total,
    }))
}

/// Fetch one problem with its timeline.
#[utoipa::path(
    get,
    path = "/api/v1/problems/{reference}",
    params(("reference" = String, Path, description = "PRB-<n>")),
    responses(
        (status = 200, description = "The problem and its timeline", body = WithTimeline<ProblemDto>),
        (status = 404, description = "No such problem", body = ErrorBody)
    )
)]
async fn get_problem(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Path(reference): Path<String>,
) -> Result<Json<WithTimeline<ProblemDto>>, ApiError> {
    caller(&state, &headers)?;
    let reference = reference_of(&reference, TicketKind::Problem)?;
    let mut conn = connection(&state).await?;
    let problem = store::problems::get(&mut conn, reference.number)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("there is no {reference}")))?;
    let timeline = store::timeline::list(&mut conn, problem.id).await?;
    Ok(Json(WithTimeline {
        ticket: ProblemDto::from(&problem),
        timeline: timeline.iter().map(EventDto::from).collect(),
    }))
}

/// List changes.
#[utoipa::path(
    get,
    path = "/api/v1/changes",
    params(
        ("status" = Option<String>, Query, description = "draft, submitted, approved, rejected, in_progress, completed, failed, rolled_back, cancelled; comma-separated"),
        ("service" = Option<String>, Query, description = "service name"),
        ("created_from" = Option<String>, Query, description = "date or RFC 3339 instant, inclusive"),
        ("created_before" = Option<String>, Query, description = "date or RFC 3339 instant, exclusive"),
        ("page" = Option<i64>, Query, description = "1-based page"),
        ("per_page" = Option<i64>, Query, description = "items per page, 1 to 200 (default 50)")
    ),
    responses(
        (status = 200, description = "One page of changes, newest first", body = PageOf<ChangeDto>),
        (status = 400, description = "A bad filter", body = ErrorBody)
    )
)]
async fn list_changes(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Json<PageOf<ChangeDto>>, ApiError> {
    caller(&state, &headers)?;
    let valid = |s: &str| s.parse::<ChangeStatus>().is_ok();
    let (filter, page) = filter_of(
        &query,
        &valid,
        "draft, submitted, approved, rejected, in_progress, completed, failed, rolled_back or cancelled",
    )?;
    let mut conn = connection(&state).await?;
    let (items, total) = store::changes::list(&mut conn, &filter, page).await?;
    Ok(Json(PageOf {
        items: items.iter().map(ChangeDto::from).collect(),
        page: page.number,
        per_page: page.size,
        total,
    }))
}

/// Fetch one change with its approvals and timeline.
#[utoipa::path(
    get,
    path = "/api/v1/changes/{reference}",
    params(("reference" = String, Path, description = "CHG-<n>")),
    responses(
        (status = 200, description = "The change and its timeline", body = WithTimeline<ChangeDto>),
        (status = 404, description = "No such change", body = ErrorBody)
    )
)]
async fn get_change(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Path(reference): Path<String>,
) -> Result<Json<WithTimeline<ChangeDto>>, ApiError> {
    caller(&state, &headers)?;
    let reference = reference_of(&reference, TicketKind::Change)?;
    let mut conn = connection(&state).await?;
    let change = store::changes::get(&mut conn, reference.number)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("there is no {reference}")))?;
    let timeline = store::timeline::list(&mut conn, change.id).await?;
    Ok(Json(WithTimeline {
        ticket: ChangeDto::from(&change),
        timeline: timeline.iter().map(EventDto::from).collect(),
    }))
}

/// The digest's figures for the day, week or month ending now.
#[utoipa::path(
    get,
    path = "/api/v1/reports/{period}",
    params(("period" = String, Path, description = "day, week or month")),
    responses(
        (status = 200, description = "The period's figures", body = ReportDto),
        (status = 404, description = "Not a period", body = ErrorBody)
    )
)]
async fn report(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Path(period): Path<String>,
) -> Result<Json<ReportDto>, ApiError> {
    caller(&state, &headers)?;
    let period = match period.as_str() {
        "day" => Period::Day,
        "week" => Period::Week,
        "month" => Period::Month,
        other => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!("`{other}` is not a report; use day, week or month"),
            ))
        }
    };
    let mut conn = connection(&state).await?;
    let report = crate::commands::period_report::report_with(
        &mut conn,
        period,
        state.engine.clock().now(),
        state.engine.config().digest.time_zone.0,
    )
    .await?;
    Ok(Json(ReportDto::from(&report)))
}

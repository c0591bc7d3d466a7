//! The REST API, `/api/v1/…`: tickets of every kind (filtered and paged,
//! or one with its timeline), creating incidents, and the digest's figures.
//! Every route but the OpenAPI document needs a bearer token from
//! `[[api.tokens]]`; errors are `{"error": …}` with the fitting status.

mod alerts;
mod dto;
mod kb;
mod requests;
mod tickets;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use utoipa::OpenApi;

pub use dto::*;
pub use kb::{ArticleDto, CreatedIncidentDto, HitDto, SuggestionsDto};

use super::export;
use super::HttpState;
use crate::commands::command::IncidentIntake;
use crate::commands::reply::Outcome;
use crate::commands::{Command, Request};
use crate::config::ApiAccess;
use crate::domain::report::{Period, Span};
use crate::domain::{FreeText, Level, Platform, Priority, TicketKind, Title, UserId};
use crate::store::{self, StoreError};

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
        .route(
            "/api/v1/incidents/{reference}/alerts",
            get(alerts::list_alerts),
        )
        .route("/api/v1/problems", get(list_problems))
        .route("/api/v1/problems/{reference}", get(get_problem))
        .route("/api/v1/changes", get(list_changes))
        .route("/api/v1/changes/{reference}", get(get_change))
        .route(
            "/api/v1/requests",
            get(requests::list_requests).post(requests::create_request),
        )
        .route("/api/v1/requests/{reference}", get(requests::get_request))
        .route("/api/v1/reports/{period}", get(report))
        .route("/api/v1/kb", get(kb::list_articles))
        .route("/api/v1/kb/{reference}", get(kb::get_article))
        .route("/api/v1/search", get(kb::search))
}

/// The OpenAPI document, generated from the handlers and types below.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "itsm-bot API",
        description = "Incidents, problems, changes, service requests, knowledge-base articles, search and service desk figures."
    ),
    paths(
        list_incidents,
        get_incident,
        get_postmortem,
        alerts::list_alerts,
        create_incident,
        list_problems,
        get_problem,
        list_changes,
        get_change,
        requests::list_requests,
        requests::get_request,
        requests::create_request,
        report,
        kb::list_articles,
        kb::get_article,
        kb::search
    ),
    components(schemas(
        ErrorBody,
        IncidentDto,
        ProblemDto,
        ChangeDto,
        ApprovalDto,
        RequestDto,
        NewRequestDto,
        EventDto,
        NewIncidentDto,
        ReportDto,
        FiguresDto,
        ActionItemsDto,
        ActionItemDto,
        ArticleDto,
        HitDto,
        SuggestionsDto,
        CreatedIncidentDto,
        alerts::AlertDto
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

    /// A failure of ours: logged, answered without details.
    fn internal(detail: String) -> Self {
        tracing::error!(error = %detail, "API request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error; it was logged",
        )
    }
}

impl From<export::ExportError> for ApiError {
    fn from(err: export::ExportError) -> Self {
        match err {
            export::ExportError::UnknownFormat(_) => ApiError::bad_request(err.to_string()),
            export::ExportError::Write(detail) => ApiError::internal(detail),
        }
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
) -> Result<Response, ApiError> {
    tickets::list::<tickets::Incidents>(&state, &headers, &query).await
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
    tickets::get::<tickets::Incidents>(&state, &headers, &reference).await
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
    let reference = tickets::reference_of(&reference, TicketKind::Incident)?;
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
        (status = 201, description = "The new incident, with the articles, known errors, look-alike open incidents and triage it was offered", body = CreatedIncidentDto),
        (status = 400, description = "A bad field, or the engine refused it", body = ErrorBody),
        (status = 401, description = "No or a wrong token (checked before the body is read)", body = ErrorBody),
        (status = 403, description = "A read-only token", body = ErrorBody),
        (status = 413, description = "A body over http.max_body_bytes", body = ErrorBody)
    )
)]
async fn create_incident(
    State(state): State<HttpState>,
    request: axum::extract::Request,
) -> Result<(StatusCode, Json<CreatedIncidentDto>), ApiError> {
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
        .execute(&Request::new(actor, "api"), Command::OpenIncident(report))
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
            let suggested = state
                .engine
                .suggestions_for(reference)
                .await?
                .unwrap_or_default();
            Ok((
                StatusCode::CREATED,
                Json(CreatedIncidentDto {
                    incident: IncidentDto::from(&incident),
                    suggestions: SuggestionsDto::from(&suggested),
                }),
            ))
        }
        (Outcome::Unavailable, _) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            reply.message.plain_text(),
        )),
        _ => Err(ApiError::bad_request(reply.message.plain_text())),
    }
}

fn report_of(new: NewIncidentDto) -> Result<IncidentIntake, ApiError> {
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
    Ok(IncidentIntake {
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
) -> Result<Response, ApiError> {
    tickets::list::<tickets::Problems>(&state, &headers, &query).await
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
    tickets::get::<tickets::Problems>(&state, &headers, &reference).await
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
) -> Result<Response, ApiError> {
    tickets::list::<tickets::Changes>(&state, &headers, &query).await
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
    tickets::get::<tickets::Changes>(&state, &headers, &reference).await
}

/// A report: the figures of a calendar day, ISO week or month
/// (`?period=2026-11-30`, `2026-W48`, `2026-11`) as of its end, or of the
/// rolling 24 hours, 7 or 30 days ending now when no period is named.
#[utoipa::path(
    get,
    path = "/api/v1/reports/{period}",
    params(
        ("period" = String, Path, description = "day, week or month"),
        ("period" = Option<String>, Query, description = "the calendar period: 2026-11-30 (day), 2026-W48 or a date (week), 2026-11 or a date (month); absent: rolling, ending now"),
        ("format" = Option<String>, Query, description = "json (default) or csv; or send Accept: text/csv")
    ),
    responses(
        (status = 200, description = "The period's figures", body = ReportDto),
        (status = 400, description = "Not a calendar period", body = ErrorBody),
        (status = 404, description = "Not a period", body = ErrorBody)
    )
)]
async fn report(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Path(period): Path<String>,
    Query(mut query): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    caller(&state, &headers)?;
    let format = export::Format::take(&headers, &mut query)?;
    let period = Period::parse(&period).map_err(|_| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("`{period}` is not a report; use day, week or month"),
        )
    })?;
    let mut date = None;
    for (key, value) in &query {
        match key.as_str() {
            "period" if date.is_none() => {
                date = Some(period.parse_date(value).map_err(|err| ApiError::bad_request(err.to_string()))?)
            }
            "period" => return Err(ApiError::bad_request("`period` is given twice")),
            other => {
                return Err(ApiError::bad_request(format!(
                    "`{other}` is not a parameter of a report; use period=… (e.g. period=2026-11) and format=csv"
                )))
            }
        }
    }
    let now = state.engine.clock().now();
    let span = Span::of(period, date, now, state.engine.config().report_zone());
    let mut conn = connection(&state).await?;
    let report = crate::commands::period_report::report_with(&mut conn, span, now).await?;
    Ok(export::report(format, &ReportDto::from(&report))?)
}

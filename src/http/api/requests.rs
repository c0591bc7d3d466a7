//! Service requests over the API: `GET /api/v1/requests[?status=&item=]`,
//! `GET /api/v1/requests/{ref}`, `POST /api/v1/requests` (write token).

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use sqlx::PgConnection;

use super::tickets::{filter_of, TicketApi};
use super::ErrorBody;
use super::HttpState;
use super::{caller, connection, ApiError, NewRequestDto, PageOf, RequestDto, WithTimeline};
use crate::commands::command::RequestIntake;
use crate::commands::reply::Outcome;
use crate::commands::{Command, Request};
use crate::config::ApiAccess;
use crate::domain::request::{RequestStatus, ServiceRequest};
use crate::domain::{FreeText, Platform, TicketKind, UserId};
use crate::http::export::{self, Format};
use crate::store::listing::{Page, TicketFilter};
use crate::store::{self, StoreError};

/// Service requests, `/api/v1/requests`.
pub(super) struct Requests;

impl TicketApi for Requests {
    const KIND: TicketKind = TicketKind::Request;
    const STATUS_NAMES: &'static str = "awaiting_approval, approved, in_progress, on_hold, fulfilled, closed, rejected or cancelled";
    type Ticket = ServiceRequest;
    type Dto = RequestDto;

    fn valid_status(status: &str) -> bool {
        status.parse::<RequestStatus>().is_ok()
    }

    fn id(ticket: &ServiceRequest) -> i64 {
        ticket.id
    }

    async fn list(
        conn: &mut PgConnection,
        filter: &TicketFilter,
        page: Page,
    ) -> Result<(Vec<ServiceRequest>, i64), StoreError> {
        store::requests::list(conn, filter, None, page).await
    }

    async fn get(
        conn: &mut PgConnection,
        number: i64,
    ) -> Result<Option<ServiceRequest>, StoreError> {
        store::requests::get(conn, number).await
    }
}

/// List service requests.
#[utoipa::path(
    get,
    path = "/api/v1/requests",
    params(
        ("status" = Option<String>, Query, description = "awaiting_approval, approved, in_progress, on_hold, fulfilled, closed, rejected, cancelled; comma-separated"),
        ("item" = Option<String>, Query, description = "catalog item name"),
        ("created_from" = Option<String>, Query, description = "date or RFC 3339 instant, inclusive"),
        ("created_before" = Option<String>, Query, description = "date or RFC 3339 instant, exclusive"),
        ("page" = Option<i64>, Query, description = "1-based page"),
        ("per_page" = Option<i64>, Query, description = "items per page, 1 to 200 (default 50)"),
        ("format" = Option<String>, Query, description = "json (default) or csv; or send Accept: text/csv")
    ),
    responses(
        (status = 200, description = "One page of requests, newest first", body = PageOf<RequestDto>),
        (status = 400, description = "A bad filter", body = ErrorBody),
        (status = 401, description = "No or a wrong token", body = ErrorBody)
    )
)]
pub(super) async fn list_requests(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    caller(&state, &headers)?;
    let mut query = query;
    let format = Format::take(&headers, &mut query)?;
    // `item` is the one filter only requests have; the rest are shared.
    let mut item = None;
    let mut rest = Vec::with_capacity(query.len());
    for (key, value) in query {
        if key == "item" {
            if item.replace(value.to_ascii_lowercase()).is_some() {
                return Err(ApiError::bad_request("`item` is given twice"));
            }
        } else {
            rest.push((key, value));
        }
    }
    let (filter, page) = filter_of(&rest, Requests::valid_status, Requests::STATUS_NAMES)?;
    let mut conn = connection(&state).await?;
    let (items, total) = store::requests::list(&mut conn, &filter, item.as_deref(), page).await?;
    Ok(export::list(
        format,
        &PageOf {
            items: items.iter().map(RequestDto::from).collect::<Vec<_>>(),
            page: page.number,
            per_page: page.size,
            total,
        },
    )?)
}

/// Fetch one service request with its timeline.
#[utoipa::path(
    get,
    path = "/api/v1/requests/{reference}",
    params(("reference" = String, Path, description = "REQ-<n>")),
    responses(
        (status = 200, description = "The request and its timeline", body = WithTimeline<RequestDto>),
        (status = 404, description = "No such request", body = ErrorBody)
    )
)]
pub(super) async fn get_request(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Path(reference): Path<String>,
) -> Result<Json<WithTimeline<RequestDto>>, ApiError> {
    super::tickets::get::<Requests>(&state, &headers, &reference).await
}

/// Ask for a catalog item, as the token (`shell:api.<token name>`): the
/// same checks as `/request <item> field:value …` in chat.
#[utoipa::path(
    post,
    path = "/api/v1/requests",
    request_body = NewRequestDto,
    responses(
        (status = 201, description = "The new request", body = RequestDto),
        (status = 400, description = "A bad field, or the engine refused it (unknown item, missing field, value outside its choices)", body = ErrorBody),
        (status = 401, description = "No or a wrong token (checked before the body is read)", body = ErrorBody),
        (status = 403, description = "A read-only token", body = ErrorBody)
    )
)]
pub(super) async fn create_request(
    State(state): State<HttpState>,
    request: axum::extract::Request,
) -> Result<(StatusCode, Json<RequestDto>), ApiError> {
    // The token first: a stranger's body is never read.
    let caller = caller(&state, request.headers())?;
    if caller.access != ApiAccess::Write {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("the token `{}` is read-only", caller.name),
        ));
    }
    let body = crate::http::read_body(&state, request)
        .await
        .map_err(|err| ApiError::new(err.status(), err.to_string()))?;
    let new: NewRequestDto = serde_json::from_slice(&body)
        .map_err(|err| ApiError::bad_request(format!("the body is not a new request: {err}")))?;
    let details = new
        .details
        .filter(|d| !d.trim().is_empty())
        .map(|d| {
            FreeText::parse("details", &d)
                .map_err(|err| ApiError::bad_request(format!("details: {err}")))
        })
        .transpose()?;
    let intake = RequestIntake {
        item: new.item.to_ascii_lowercase(),
        fields: new
            .fields
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect(),
        details,
    };
    let actor = UserId::new(Platform::Shell, &format!("api.{}", caller.name))
        .map_err(|err| ApiError::bad_request(err.to_string()))?;
    let reply = state
        .engine
        .execute(&Request::new(actor, "api"), Command::OpenRequest(intake))
        .await;
    match (reply.outcome, reply.ticket) {
        (Outcome::Done, Some(reference)) => {
            let mut conn = connection(&state).await?;
            let created = store::requests::get(&mut conn, reference.number)
                .await?
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "the new request vanished",
                    )
                })?;
            Ok((StatusCode::CREATED, Json(RequestDto::from(&created))))
        }
        (Outcome::Unavailable, _) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            reply.message.plain_text(),
        )),
        _ => Err(ApiError::bad_request(reply.message.plain_text())),
    }
}

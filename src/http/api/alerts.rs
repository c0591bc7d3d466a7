//! `GET /api/v1/incidents/{reference}/alerts`: every alert behind an
//! incident — a group's, or a storm's hundreds — which its card and `show`
//! only begin to list.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{caller, connection, tickets, ApiError, ErrorBody, PageOf};
use crate::domain::TicketKind;
use crate::http::export::{self, Format};
use crate::http::HttpState;
use crate::store::{self, alerts::AlertRow};

/// One monitoring alert tied to an incident.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AlertDto {
    /// `alertmanager` or `grafana`.
    pub source: String,
    pub fingerprint: String,
    /// Its title (summary, else alertname) when it was tied to the incident.
    pub name: Option<String>,
    /// `firing` or `resolved`, as last seen.
    pub status: String,
    /// When it was tied to the incident.
    pub attached_at: String,
    /// When a delivery last named it.
    pub updated_at: String,
}

impl From<&AlertRow> for AlertDto {
    fn from(row: &AlertRow) -> Self {
        let time = |at: chrono::DateTime<chrono::Utc>| {
            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        };
        AlertDto {
            source: row.source.clone(),
            fingerprint: row.fingerprint.clone(),
            name: row.name.clone(),
            status: row.status.clone(),
            attached_at: time(row.opened_at),
            updated_at: time(row.updated_at),
        }
    }
}

/// The alerts behind an incident, in the order they came.
#[utoipa::path(
    get,
    path = "/api/v1/incidents/{reference}/alerts",
    params(
        ("reference" = String, Path, description = "INC-<n>"),
        ("page" = Option<i64>, Query, description = "1-based page"),
        ("per_page" = Option<i64>, Query, description = "items per page, 1 to 200 (default 50)"),
        ("format" = Option<String>, Query, description = "json (default) or csv; or send Accept: text/csv")
    ),
    responses(
        (status = 200, description = "One page of the incident's alerts", body = PageOf<AlertDto>),
        (status = 400, description = "A bad reference or page", body = ErrorBody),
        (status = 401, description = "No or a wrong token", body = ErrorBody),
        (status = 404, description = "No such incident", body = ErrorBody)
    )
)]
pub(super) async fn list_alerts(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Path(reference): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    caller(&state, &headers)?;
    let mut query = query;
    let format = Format::take(&headers, &mut query)?;
    let page = tickets::page_of(&query)?;
    let reference = tickets::reference_of(&reference, TicketKind::Incident)?;
    let mut conn = connection(&state).await?;
    let incident = store::incidents::get(&mut conn, reference.number)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("there is no {reference}")))?;
    let (rows, total) = store::alerts::list_of_ticket(
        &mut conn,
        incident.id,
        page.size,
        (page.number - 1).saturating_mul(page.size),
    )
    .await?;
    Ok(export::list(
        format,
        &PageOf {
            items: rows.iter().map(AlertDto::from).collect::<Vec<_>>(),
            page: page.number,
            per_page: page.size,
            total,
        },
    )?)
}

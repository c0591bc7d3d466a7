//! Alert webhooks: `POST /hooks/alertmanager` and `POST /hooks/grafana`.
//!
//! Each request is checked in this order: the hooks are enabled (a token is
//! configured), the bearer token matches, and only then is the body read
//! (within `http.max_body_bytes`) and parsed as a payload. Only
//! then do its alerts, as platform-free [`Alert`] values, reach the engine,
//! which records the whole delivery in one transaction.

mod alertmanager;
mod grafana;

use std::collections::BTreeMap;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::{DateTime, Datelike, Utc};
use serde::Deserialize;
use serde_json::json;

use super::{read_body, BodyError, HttpState};
use crate::commands::execute::alerts::{AlertAction, AlertError, AlertOutcome};
use crate::domain::alert::{Alert, AlertSource, AlertStatus, Fingerprint};
use crate::store::StoreError;

/// The webhook routes.
pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/hooks/alertmanager", post(alertmanager))
        .route("/hooks/grafana", post(grafana))
}

/// Why a webhook request was turned away. Each becomes a status code and a
/// `{"error": "…"}` body; nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error(
        "alert webhooks are disabled: set ITSM__HOOKS__TOKEN (or hooks.token_file) to turn them on"
    )]
    Disabled,
    #[error("missing bearer token: send `Authorization: Bearer <hooks token>`")]
    MissingToken,
    #[error("invalid bearer token")]
    WrongToken,
    #[error("{0}")]
    BadPayload(#[from] PayloadError),
    #[error("{0}")]
    Body(#[from] BodyError),
    #[error("the delivery carries {count} alerts, more than the {limit} allowed (hooks.max_alerts_per_delivery); send smaller groups (Alertmanager: max_alerts in the webhook_config) or raise the limit")]
    TooManyAlerts { count: usize, limit: usize },
    #[error("the database is unavailable; deliver the alerts again in a moment")]
    Unavailable,
    #[error("{0}; deliver the alerts again")]
    Conflict(String),
    #[error("the alerts could not be recorded")]
    Internal,
}

/// What is wrong with a payload, in words the sender can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PayloadError(pub String);

impl IntoResponse for HookError {
    fn into_response(self) -> Response {
        let status = match &self {
            HookError::Disabled => StatusCode::NOT_FOUND,
            HookError::MissingToken | HookError::WrongToken => StatusCode::UNAUTHORIZED,
            HookError::BadPayload(_) => StatusCode::BAD_REQUEST,
            HookError::Body(err) => err.status(),
            HookError::TooManyAlerts { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            HookError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            HookError::Conflict(_) => StatusCode::CONFLICT,
            HookError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let body = Json(json!({ "error": self.to_string() }));
        if status == StatusCode::UNAUTHORIZED {
            return (status, [(header::WWW_AUTHENTICATE, "Bearer")], body).into_response();
        }
        (status, body).into_response()
    }
}

/// One alert as both Alertmanager and Grafana send it. Grafana adds links
/// and values; fields the bot does not read are ignored.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireAlert {
    status: AlertStatusWire,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    starts_at: Option<DateTime<Utc>>,
    ends_at: Option<DateTime<Utc>>,
    #[serde(rename = "generatorURL", default)]
    generator_url: Option<String>,
    fingerprint: String,
    #[serde(rename = "dashboardURL", default)]
    dashboard_url: Option<String>,
    #[serde(rename = "panelURL", default)]
    panel_url: Option<String>,
    #[serde(rename = "silenceURL", default)]
    silence_url: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum AlertStatusWire {
    Firing,
    Resolved,
}

/// The wire alerts, sent in the notification group `group`, as [`Alert`]
/// values, or the first one's problem.
fn convert(wire: Vec<WireAlert>, group: Option<&str>) -> Result<Vec<Alert>, PayloadError> {
    // Stored as text: the characters PostgreSQL or a card cannot hold go.
    let group = group
        .map(crate::domain::alert::clean)
        .filter(|g| !g.trim().is_empty());
    wire.into_iter()
        .enumerate()
        .map(|(index, alert)| {
            let fingerprint = Fingerprint::parse(alert.fingerprint.trim())
                .map_err(|err| PayloadError(format!("alerts[{index}].fingerprint: {err}")))?;
            let links = [
                ("Source", alert.generator_url),
                ("Dashboard", alert.dashboard_url),
                ("Panel", alert.panel_url),
                ("Silence", alert.silence_url),
            ]
            .into_iter()
            .filter_map(|(name, url)| {
                let url = url?.trim().to_string();
                (!url.is_empty()).then(|| (name.to_string(), url))
            })
            .collect();
            Ok(Alert {
                fingerprint,
                status: match alert.status {
                    AlertStatusWire::Firing => AlertStatus::Firing,
                    AlertStatusWire::Resolved => AlertStatus::Resolved,
                },
                labels: alert.labels,
                annotations: alert.annotations,
                starts_at: alert.starts_at.filter(is_set),
                ends_at: alert.ends_at.filter(is_set),
                links,
                sender_group: group.clone(),
            })
        })
        .collect()
}

/// Monitoring systems send `0001-01-01T00:00:00Z` for "not yet".
fn is_set(at: &DateTime<Utc>) -> bool {
    at.year() > 1
}

async fn alertmanager(
    State(state): State<HttpState>,
    request: Request,
) -> Result<Response, HookError> {
    authorize(&state, request.headers())?;
    let body = read_body(&state, request).await?;
    let payload: alertmanager::Payload = parse(&body, "Alertmanager")?;
    let (alerts, truncated) = alertmanager::alerts(payload)?;
    deliver(&state, AlertSource::Alertmanager, &alerts, truncated).await
}

async fn grafana(State(state): State<HttpState>, request: Request) -> Result<Response, HookError> {
    authorize(&state, request.headers())?;
    let body = read_body(&state, request).await?;
    let payload: grafana::Payload = parse(&body, "Grafana")?;
    let (alerts, truncated) = grafana::alerts(payload)?;
    deliver(&state, AlertSource::Grafana, &alerts, truncated).await
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8], product: &str) -> Result<T, HookError> {
    serde_json::from_slice(body)
        .map_err(|err| PayloadError(format!("invalid {product} webhook payload: {err}")).into())
}

/// Checks the request's bearer token against `hooks.token`.
fn authorize(state: &HttpState, headers: &HeaderMap) -> Result<(), HookError> {
    let Some(expected) = &state.engine.config().hooks.token else {
        return Err(HookError::Disabled);
    };
    let given = super::auth::bearer(headers).ok_or(HookError::MissingToken)?;
    if !super::auth::matches(given, expected) {
        // Never the token itself, not even the wrong one: it may be a
        // mistyped real one.
        tracing::warn!("alert webhook refused: wrong bearer token");
        return Err(HookError::WrongToken);
    }
    Ok(())
}

async fn deliver(
    state: &HttpState,
    source: AlertSource,
    alerts: &[Alert],
    truncated: u64,
) -> Result<Response, HookError> {
    let limit = state.engine.config().hooks.max_alerts_per_delivery;
    if alerts.len() > limit {
        tracing::warn!(%source, alerts = alerts.len(), limit, "alert webhook delivery refused: too many alerts");
        return Err(HookError::TooManyAlerts {
            count: alerts.len(),
            limit,
        });
    }
    if truncated > 0 {
        // The sender left alerts out (its max_alerts); they arrive with the
        // next notification of the group.
        tracing::warn!(%source, truncated, "alert webhook delivery was truncated by the sender");
    }
    let outcome = match state.engine.receive_alerts(source, alerts).await {
        Ok(outcome) => outcome,
        Err(AlertError::Store(StoreError::Unavailable(err))) => {
            tracing::warn!(error = %err, %source, "database unavailable for alerts");
            return Err(HookError::Unavailable);
        }
        Err(AlertError::Store(StoreError::Conflict(constraint))) => {
            tracing::warn!(%constraint, %source, "concurrent alert delivery conflicted");
            return Err(HookError::Conflict(
                "another delivery of the same alert was recorded at the same moment".into(),
            ));
        }
        Err(AlertError::Refused {
            fingerprint,
            reason,
        }) => {
            tracing::warn!(%fingerprint, %reason, %source, "alert refused by its incident");
            return Err(HookError::Conflict(format!(
                "alert {fingerprint}: {reason}"
            )));
        }
        Err(AlertError::Store(err)) => {
            tracing::error!(error = %err, %source, "alerts could not be recorded");
            return Err(HookError::Internal);
        }
    };
    tracing::info!(%source, alerts = alerts.len(), "alert webhook delivery recorded");
    for result in &outcome.incidents {
        state
            .engine
            .metrics()
            .alert(source.as_str(), result.action.as_str());
    }
    offer_suggestions(state, &outcome).await;
    let mut body = json!(outcome);
    if truncated > 0 {
        body["truncated_alerts"] = json!(truncated);
    }
    Ok((StatusCode::OK, Json(body)).into_response())
}

/// Offers the incidents this delivery opened what the desk already knows,
/// under their cards: a few per delivery and none in a storm (the engine
/// bounds it). A courtesy after the delivery is recorded: a failure is
/// logged, and the delivery stands.
async fn offer_suggestions(state: &HttpState, outcome: &AlertOutcome) {
    let opened: Vec<_> = outcome
        .incidents
        .iter()
        .filter(|result| result.action == AlertAction::Opened)
        .filter_map(|result| result.incident)
        .collect();
    if let Err(err) = state.engine.suggest_for_alert_incidents(&opened).await {
        tracing::warn!(error = %err, "suggestions for alert incidents failed");
    }
}

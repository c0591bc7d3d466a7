//! The public status page: `GET /status.json` and `GET /status` (HTML).
//!
//! Only public services are listed, each with its status, its availability
//! over 30 and 90 days, and the public updates (`/incident INC-n public
//! <text>`) of its ongoing and recently resolved incidents. Nothing else
//! of a ticket is shown: not its title, notes, people or timeline, which
//! may hold internal details.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::json;

use super::HttpState;
use crate::commands::service_status::service_views;
use crate::domain::availability::{self, show_percent};
use crate::domain::service::ServiceStatus;
use crate::store::{self, StoreError};

/// How long a resolved incident's public updates stay on the page.
const RESOLVED_SHOWN_DAYS: i64 = 7;

/// The page's template, escaped as HTML.
pub(crate) const TEMPLATE: &str = include_str!("status.html");

/// The status page routes (no token: the page is public).
pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/status.json", get(status_json))
        .route("/status", get(status_html))
}

/// Serializes an instant as RFC 3339 to the second (`2026-11-25T09:00:00Z`):
/// the clock's fractions of a second are noise to a status page's readers.
fn rfc3339_secs<S: serde::Serializer>(at: &DateTime<Utc>, out: S) -> Result<S::Ok, S::Error> {
    out.serialize_str(&at.to_rfc3339_opts(SecondsFormat::Secs, true))
}

/// The whole page.
#[derive(Debug, Serialize)]
pub struct StatusPage {
    #[serde(serialize_with = "rfc3339_secs")]
    pub generated_at: DateTime<Utc>,
    /// `generated_at` as people read it.
    pub generated_at_text: String,
    pub services: Vec<PublicService>,
}

/// One public service.
#[derive(Debug, Serialize)]
pub struct PublicService {
    pub name: String,
    pub description: String,
    pub status: ServiceStatus,
    /// Percent, over the rolling 30 and 90 days.
    pub availability_30d: f64,
    pub availability_90d: f64,
    pub target: f64,
    pub availability_30d_text: String,
    pub availability_90d_text: String,
    pub target_text: String,
    pub incidents: Vec<PublicIncident>,
    /// Availability per UTC day over the last 90 days, oldest first.
    pub days: Vec<DayView>,
}

/// One day of a service's availability.
#[derive(Debug, Serialize)]
pub struct DayView {
    pub date: chrono::NaiveDate,
    pub availability: f64,
    /// `up` (100%), `dip` (met the target) or `down`, for the page's bars.
    pub level: &'static str,
}

/// An incident as the public sees it: since when, whether it is ongoing,
/// and its public updates. No internal reference: ticket numbers would tell
/// outsiders how many incidents the desk handles.
#[derive(Debug, Serialize)]
pub struct PublicIncident {
    /// Its first public update.
    #[serde(serialize_with = "rfc3339_secs")]
    pub since: DateTime<Utc>,
    pub since_text: String,
    /// `ongoing` or `resolved`.
    pub state: &'static str,
    pub updates: Vec<PublicUpdateView>,
}

/// One public update.
#[derive(Debug, Serialize)]
pub struct PublicUpdateView {
    #[serde(serialize_with = "rfc3339_secs")]
    pub at: DateTime<Utc>,
    /// `at` as people read it.
    pub at_text: String,
    pub text: String,
}

/// Builds the page as of `at`.
pub async fn page(state: &HttpState, at: DateTime<Utc>) -> Result<StatusPage, StoreError> {
    let zone = state.engine.zone();
    let shown = |at: DateTime<Utc>| crate::domain::moment::plain(at, zone);
    let mut conn = state.store().pool().acquire().await?;
    let views = service_views(&mut conn, at).await?;
    let from90 = at - Duration::days(90);
    let outages = store::services::outages_since(&mut conn, from90).await?;
    let updates =
        store::services::public_updates(&mut conn, at - Duration::days(RESOLVED_SHOWN_DAYS))
            .await?;
    let services = views
        .into_iter()
        .filter(|view| view.entry.public)
        .map(|view| {
            let mine: Vec<_> = outages
                .iter()
                .filter(|(id, _)| *id == view.entry.id)
                .map(|(_, outage)| *outage)
                .collect();
            let ninety = availability::Availability::new(
                view.entry.availability_target,
                availability::downtime(&mine, from90, at),
                from90,
                at,
            );
            let mut incidents: BTreeMap<i64, PublicIncident> = BTreeMap::new();
            for update in updates.iter().filter(|u| u.service == view.entry.name) {
                let incident = incidents
                    .entry(update.number)
                    .or_insert_with(|| PublicIncident {
                        since: update.at,
                        since_text: shown(update.at),
                        state: if matches!(update.status.as_str(), "resolved" | "closed") {
                            "resolved"
                        } else {
                            "ongoing"
                        },
                        updates: Vec::new(),
                    });
                if update.at < incident.since {
                    incident.since = update.at;
                    incident.since_text = shown(update.at);
                }
                incident.updates.push(PublicUpdateView {
                    at: update.at,
                    at_text: shown(update.at),
                    text: update.body.clone(),
                });
            }
            let target = view.entry.availability_target;
            let days = availability::daily(&mine, at, 90)
                .into_iter()
                .map(|(date, percent)| DayView {
                    date,
                    availability: round3(percent),
                    level: if percent >= 100.0 {
                        "up"
                    } else if percent >= target {
                        "dip"
                    } else {
                        "down"
                    },
                })
                .collect();
            PublicService {
                days,
                name: view.entry.name.clone(),
                description: view.entry.description.clone(),
                status: view.status,
                availability_30d: round3(view.availability.percent),
                availability_90d: round3(ninety.percent),
                target: view.entry.availability_target,
                availability_30d_text: show_percent(view.availability.percent),
                availability_90d_text: show_percent(ninety.percent),
                target_text: show_percent(view.entry.availability_target),
                // Newest incident first.
                incidents: incidents.into_values().rev().collect(),
            }
        })
        .collect();
    Ok(StatusPage {
        generated_at: at,
        generated_at_text: shown(at),
        services,
    })
}

fn round3(percent: f64) -> f64 {
    (percent * 1000.0).round() / 1000.0
}

fn unavailable(err: &StoreError) -> Response {
    tracing::warn!(error = %err, "status page unavailable");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({ "error": "the status page is unavailable: the database did not answer" })),
    )
        .into_response()
}

async fn status_json(State(state): State<HttpState>) -> Response {
    match page(&state, state.engine.clock().now()).await {
        Ok(page) => Json(page).into_response(),
        Err(err) => unavailable(&err),
    }
}

async fn status_html(State(state): State<HttpState>) -> Response {
    let page = match page(&state, state.engine.clock().now()).await {
        Ok(page) => page,
        Err(err) => return unavailable(&err),
    };
    let mut env = minijinja::Environment::new();
    // The `.html` name turns on HTML escaping of every value.
    let rendered = env
        .add_template("status.html", TEMPLATE)
        .and_then(|()| env.get_template("status.html"))
        .and_then(|template| template.render(minijinja::value::Serde(&page)));
    match rendered {
        Ok(html) => ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "status page template failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the status page could not be rendered",
            )
                .into_response()
        }
    }
}

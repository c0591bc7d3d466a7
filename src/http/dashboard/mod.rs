//! The managers' dashboard: `GET /` (server-rendered HTML with SVG charts)
//! and `GET /dashboard.json` (the same numbers), behind `http.dashboard_token`
//! when it is set.

mod auth;
pub mod charts;
pub mod view;

use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{middleware, Json, Router};
use serde::Serialize;
use serde_json::json;

use super::HttpState;
use crate::domain::dashboard::{Window, WindowError};
use crate::domain::duration::format_duration;
use crate::domain::report::mean;
use crate::store::StoreError;
use view::Dashboard;

/// The page template, built into the binary.
pub(crate) const TEMPLATE: &str = include_str!("../../../templates/dashboard.html");

/// Why the dashboard could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    #[error(transparent)]
    Window(#[from] WindowError),
    #[error(transparent)]
    Span(#[from] crate::domain::report::SpanError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Chart(#[from] charts::ChartError),
    #[error("could not render the dashboard template: {0}")]
    Template(#[from] minijinja::Error),
}

impl DashboardError {
    fn status(&self) -> StatusCode {
        match self {
            DashboardError::Window(_) | DashboardError::Span(_) => StatusCode::BAD_REQUEST,
            DashboardError::Store(StoreError::Unavailable(_)) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the reader is told: the refusal itself for bad input, a short
    /// line otherwise (details go to the log).
    fn public_message(&self) -> String {
        match self {
            DashboardError::Window(err) => err.to_string(),
            DashboardError::Span(err) => err.to_string(),
            DashboardError::Store(StoreError::Unavailable(_)) => {
                "the service desk database is unavailable, please try again in a moment".into()
            }
            _ => "the dashboard could not be drawn; the server log has the details".into(),
        }
    }

    fn log(&self) {
        if !matches!(self, DashboardError::Window(_) | DashboardError::Span(_)) {
            tracing::warn!(error = %self, "dashboard failed");
        }
    }
}

/// The dashboard's routes, guarded by the token when one is configured.
pub fn routes(state: HttpState) -> Router<HttpState> {
    Router::new()
        .route("/", get(page))
        .route("/dashboard.json", get(data))
        .route("/dashboard.csv", get(csv))
        .route_layer(middleware::from_fn_with_state(state, auth::require_token))
}

/// The window a raw query string asks for.
fn window(query: Option<&str>) -> Result<Window, WindowError> {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    Window::from_query(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

async fn gather(state: &HttpState, query: Option<&str>) -> Result<Dashboard, DashboardError> {
    let window = window(query)?;
    view::collect(&state.engine, window).await
}

/// `GET /dashboard.json`
async fn data(State(state): State<HttpState>, RawQuery(query): RawQuery) -> Response {
    match gather(&state, query.as_deref()).await {
        Ok(dashboard) => Json(dashboard).into_response(),
        Err(err) => {
            err.log();
            (err.status(), Json(json!({ "error": err.public_message() }))).into_response()
        }
    }
}

/// `GET /dashboard.csv`: the same numbers, one row per figure, for a
/// spreadsheet (the page links to it).
async fn csv(State(state): State<HttpState>, RawQuery(query): RawQuery) -> Response {
    match gather(&state, query.as_deref()).await {
        Ok(dashboard) => super::export::report(super::export::Format::Csv, &dashboard)
            .unwrap_or_else(|err| {
                tracing::warn!(error = %err, "dashboard CSV failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Json(json!({ "error": "the CSV could not be written; the server log has the details" })),
                )
                    .into_response()
            }),
        Err(err) => {
            err.log();
            (err.status(), Json(json!({ "error": err.public_message() }))).into_response()
        }
    }
}

/// `GET /`
async fn page(State(state): State<HttpState>, RawQuery(query): RawQuery) -> Response {
    let rendered = match gather(&state, query.as_deref()).await {
        Ok(dashboard) => render(&dashboard),
        Err(err) => Err(err),
    };
    match rendered {
        Ok(html) => Html(html).into_response(),
        Err(err) => {
            err.log();
            (
                err.status(),
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                format!("{}\n", err.public_message()),
            )
                .into_response()
        }
    }
}

/// The template's context: the numbers, their display text and the charts.
#[derive(Serialize)]
struct Page<'a> {
    data: &'a Dashboard,
    heading: String,
    range: String,
    /// The query of this view, for its CSV link.
    csv_query: String,
    selected: &'a str,
    from_date: String,
    to_date: String,
    text: Texts,
    charts: Charts,
    availability: Vec<AvailabilityText>,
    open_urgent: Vec<UrgentRow<'a>>,
    generated: String,
}

/// A row of the open P1/P2 list, with its times written for people.
#[derive(Serialize)]
struct UrgentRow<'a> {
    reference: &'a str,
    priority: &'a str,
    title: &'a str,
    status: String,
    service: Option<&'a str>,
    assignee: Option<&'a str>,
    opened: String,
}

#[derive(Serialize)]
struct Texts {
    opened: String,
    resolved: String,
    mtta: String,
    mttr: String,
    compliance: String,
    breaches: String,
    csat: String,
    csat_answers: String,
    open_total: String,
    open_breakdown: String,
    requests: RequestTexts,
}

/// The service request figures as written on the page.
#[derive(Serialize)]
struct RequestTexts {
    time_to_fulfil: String,
    approval_time: String,
    compliance: String,
}

#[derive(Serialize)]
struct Charts {
    volume: String,
    trend: String,
    compliance: String,
    csat: String,
    availability: String,
}

#[derive(Serialize)]
struct AvailabilityText {
    service: String,
    percent: String,
    target: String,
    downtime: String,
    met: bool,
}

/// The query string that asks for `dashboard`'s span again.
fn csv_query(dashboard: &Dashboard) -> String {
    match (dashboard.period, dashboard.rolling) {
        (Some(period), true) => format!("period={period}"),
        _ => {
            let zone: chrono_tz::Tz = dashboard.time_zone.parse().unwrap_or(chrono_tz::Tz::UTC);
            let last = (dashboard.to - chrono::Duration::seconds(1)).with_timezone(&zone);
            format!(
                "from={}&to={}",
                dashboard.from.with_timezone(&zone).format("%Y-%m-%d"),
                last.format("%Y-%m-%d")
            )
        }
    }
}

/// Renders the page of `dashboard`.
pub fn render(dashboard: &Dashboard) -> Result<String, DashboardError> {
    let f = &dashboard.figures;
    let seconds = |s: Option<i64>| s.map(chrono::Duration::seconds);
    let open_total: i64 = dashboard.open_by_priority.iter().sum();
    let [p1, p2, p3, p4] = dashboard.open_by_priority;
    let zone: chrono_tz::Tz = dashboard.time_zone.parse().unwrap_or(chrono_tz::Tz::UTC);
    let from_local = dashboard.from.with_timezone(&zone);
    let last = (dashboard.to - chrono::Duration::seconds(1)).with_timezone(&zone);
    let local = |at: chrono::DateTime<chrono::Utc>| {
        at.with_timezone(&zone)
            .format("%Y-%m-%d %H:%M %Z")
            .to_string()
    };
    let page = Page {
        data: dashboard,
        heading: match (dashboard.period, dashboard.rolling) {
            (Some("day"), true) => "Last 24 hours (rolling)".to_string(),
            (Some("week"), true) => "Last 7 days (rolling)".to_string(),
            (Some("month"), true) => "Last 30 days (rolling)".to_string(),
            _ => format!(
                "{} to {}",
                from_local.format("%Y-%m-%d"),
                last.format("%Y-%m-%d")
            ),
        },
        range: dashboard.label.clone(),
        csv_query: csv_query(dashboard),
        selected: dashboard.period.unwrap_or("range"),
        from_date: from_local.format("%Y-%m-%d").to_string(),
        to_date: last.format("%Y-%m-%d").to_string(),
        text: Texts {
            opened: f.opened.to_string(),
            resolved: f.resolved.to_string(),
            mtta: mean(seconds(f.mtta_seconds)),
            mttr: mean(seconds(f.mttr_seconds)),
            compliance: f.sla_compliance.map_or_else(
                || "—".to_string(),
                |c| format!("{c:.0}% ({}/{})", f.sla_met, f.sla_total),
            ),
            breaches: f.breaches.to_string(),
            csat: f
                .csat_average
                .map_or_else(|| "—".to_string(), |a| format!("{a:.1}/5")),
            csat_answers: match f.csat_answers {
                0 => String::new(),
                1 => "1 answer".to_string(),
                n => format!("{n} answers"),
            },
            open_total: open_total.to_string(),
            open_breakdown: format!("P1 {p1} · P2 {p2} · P3 {p3} · P4 {p4}"),
            requests: RequestTexts {
                time_to_fulfil: mean(seconds(f.requests.time_to_fulfil_seconds)),
                approval_time: mean(seconds(f.requests.approval_time_seconds)),
                compliance: f.requests.fulfil_compliance.map_or_else(
                    || "—".to_string(),
                    |c| {
                        format!(
                            "{c:.0}% ({}/{})",
                            f.requests.fulfil_met,
                            f.requests.fulfil_met + f.requests.fulfil_missed
                        )
                    },
                ),
            },
        },
        charts: Charts {
            volume: charts::volume(&dashboard.days)?,
            trend: charts::trend(&dashboard.days)?,
            compliance: charts::compliance(&dashboard.sla_by_priority)?,
            csat: charts::csat(&dashboard.csat_scores)?,
            availability: charts::availability(&dashboard.availability)?,
        },
        availability: dashboard
            .availability
            .iter()
            .map(|a| AvailabilityText {
                service: a.service.clone(),
                percent: format!("{:.3}%", a.availability_percent),
                target: format!("{}%", a.target_percent),
                downtime: if a.downtime_seconds < 60 {
                    format!("{}s", a.downtime_seconds)
                } else {
                    format_duration(chrono::Duration::minutes(a.downtime_seconds / 60))
                },
                met: a.met,
            })
            .collect(),
        open_urgent: dashboard
            .open_urgent
            .iter()
            .map(|i| UrgentRow {
                reference: &i.reference,
                priority: &i.priority,
                title: &i.title,
                status: i.status.replace('_', " "),
                service: i.service.as_deref(),
                assignee: i.assignee.as_deref(),
                opened: local(i.opened),
            })
            .collect(),
        generated: local(dashboard.generated_at),
    };
    let mut env = minijinja::Environment::new();
    env.add_template("dashboard.html", TEMPLATE)?;
    Ok(env
        .get_template("dashboard.html")?
        .render(minijinja::value::Serde(&page))?)
}

//! The numbers the dashboard shows, gathered once and served both as the
//! page and as `/dashboard.json`, so the two cannot disagree.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::DashboardError;
use crate::commands::period_report;
use crate::commands::Engine;
use crate::domain::dashboard::Window;
use crate::http::api::FiguresDto;
use crate::store;

/// Everything on the dashboard.
#[derive(Debug, Clone, Serialize)]
pub struct Dashboard {
    /// `day`, `week` or `month` (rolling, ending now); absent for a range
    /// of calendar days.
    pub period: Option<&'static str>,
    /// Whether the span is a rolling window rather than calendar days.
    pub rolling: bool,
    /// The span in words, with its zone.
    pub label: String,
    /// The IANA zone the calendar days are read in.
    pub time_zone: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// The instant "open" is read at: `to`, or now while the span runs.
    pub as_of: DateTime<Utc>,
    pub generated_at: DateTime<Utc>,
    /// The period's figures, in the API's shape (`/api/v1/reports`).
    pub figures: FiguresDto,
    /// Incidents open at `as_of`, per priority P1–P4.
    pub open_by_priority: [i64; 4],
    pub days: Vec<DayView>,
    pub sla_by_priority: Vec<ComplianceView>,
    /// Satisfaction answers per score 1–5.
    pub csat_scores: [i64; 5],
    pub availability: Vec<AvailabilityView>,
    /// Open P1 and P2 incidents, P1 first.
    pub open_urgent: Vec<OpenView>,
}

/// One calendar day of the span (in its zone): the same figures as the
/// span's, over the part of the day inside it.
#[derive(Debug, Clone, Serialize)]
pub struct DayView {
    pub date: NaiveDate,
    pub opened: i64,
    pub resolved: i64,
    pub resolved_by_monitoring: i64,
    pub mtta_seconds: Option<i64>,
    pub mttr_seconds: Option<i64>,
    pub sla_met: i64,
    pub breaches: i64,
}

/// SLA compliance of one priority.
#[derive(Debug, Clone, Serialize)]
pub struct ComplianceView {
    pub priority: String,
    pub met: i64,
    pub total: i64,
    pub percent: Option<f64>,
}

/// One service's availability: the same as the API's report shows.
pub type AvailabilityView = crate::http::api::ReportAvailabilityDto;

/// An open P1/P2 incident.
#[derive(Debug, Clone, Serialize)]
pub struct OpenView {
    pub reference: String,
    pub priority: String,
    pub title: String,
    pub status: String,
    pub service: Option<String>,
    pub assignee: Option<String>,
    pub opened: DateTime<Utc>,
}

/// Gathers the dashboard of `window` as of the engine's clock, on one
/// connection. Its figures are the report of the same span (the digest's
/// and `/api/v1/reports`' function), and its daily series come from the
/// same query over the span's calendar days, so the days add up to it.
pub async fn collect(engine: &Engine, window: Window) -> Result<Dashboard, DashboardError> {
    let now = engine.clock().now();
    let span = window.span(now, engine.config().report_zone())?;
    let mut conn = engine
        .store()
        .pool()
        .acquire()
        .await
        .map_err(store::StoreError::from)?;
    let report = period_report::report_with(&mut conn, span, now).await?;
    let buckets = span.day_buckets();
    let mut bounds: Vec<DateTime<Utc>> = buckets.iter().map(|(_, from, _)| *from).collect();
    bounds.extend(buckets.last().map(|(_, _, to)| *to));
    let days = store::reports::figures(&mut conn, &bounds, now)
        .await?
        .iter()
        .zip(&buckets)
        .map(|(f, (date, _, _))| DayView {
            date: *date,
            opened: f.opened,
            resolved: f.resolved,
            resolved_by_monitoring: f.resolved_by_monitoring,
            mtta_seconds: f.mtta.map(|d| d.num_seconds()),
            mttr_seconds: f.mttr.map(|d| d.num_seconds()),
            sla_met: f.sla_met,
            breaches: f.breaches,
        })
        .collect();
    let figures = &report.figures;
    let sla_by_priority = figures
        .sla_by_priority
        .iter()
        .enumerate()
        .map(|(i, &(met, breached))| ComplianceView {
            priority: format!("P{}", i + 1),
            met,
            total: met + breached,
            percent: (met + breached > 0).then(|| 100.0 * met as f64 / (met + breached) as f64),
        })
        .collect();
    let availability = report
        .availability
        .iter()
        .map(AvailabilityView::from)
        .collect();
    let open_urgent = store::dashboard::open_urgent(&mut conn)
        .await?
        .into_iter()
        .map(|i| OpenView {
            reference: i.reference,
            priority: i.priority.to_string(),
            title: i.title,
            status: i.status,
            service: i.service,
            assignee: i.assignee,
            opened: i.opened,
        })
        .collect();
    Ok(Dashboard {
        period: window.period().map(|p| p.as_str()),
        rolling: span.is_rolling(),
        label: span.label(),
        time_zone: span.zone.name().to_string(),
        from: span.from,
        to: span.to,
        as_of: report.state.at,
        generated_at: now,
        figures: FiguresDto::from(figures),
        open_by_priority: report.state.open_by_priority,
        days,
        sla_by_priority,
        csat_scores: figures.csat_scores,
        availability,
        open_urgent,
    })
}

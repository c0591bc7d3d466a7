//! The numbers the dashboard shows, gathered once and served both as the
//! page and as `/dashboard.json`, so the two cannot disagree.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::commands::period_report;
use crate::commands::Engine;
use crate::domain::dashboard::{availability, Downtime, Window};
use crate::http::api::FiguresDto;
use crate::store::{self, StoreError};

/// Everything on the dashboard.
#[derive(Debug, Clone, Serialize)]
pub struct Dashboard {
    /// `day`, `week` or `month`; absent for a date range.
    pub period: Option<&'static str>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub generated_at: DateTime<Utc>,
    /// The period's figures, in the API's shape (`/api/v1/reports`).
    pub figures: FiguresDto,
    /// Open incidents now, per priority P1–P4.
    pub open_by_priority: [i64; 4],
    pub days: Vec<DayView>,
    pub sla_by_priority: Vec<ComplianceView>,
    /// Satisfaction answers per score 1–5.
    pub csat_scores: [i64; 5],
    pub availability: Vec<AvailabilityView>,
    /// Open P1 and P2 incidents, P1 first.
    pub open_urgent: Vec<OpenView>,
}

/// One UTC day.
#[derive(Debug, Clone, Serialize)]
pub struct DayView {
    pub date: NaiveDate,
    pub opened: i64,
    pub resolved: i64,
    pub mtta_seconds: Option<i64>,
    pub mttr_seconds: Option<i64>,
}

/// SLA compliance of one priority.
#[derive(Debug, Clone, Serialize)]
pub struct ComplianceView {
    pub priority: String,
    pub met: i64,
    pub total: i64,
    pub percent: Option<f64>,
}

/// One service's availability.
#[derive(Debug, Clone, Serialize)]
pub struct AvailabilityView {
    pub service: String,
    pub target_percent: f64,
    pub availability_percent: f64,
    pub downtime_seconds: i64,
    pub met: bool,
}

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
/// connection.
pub async fn collect(engine: &Engine, window: Window) -> Result<Dashboard, StoreError> {
    let now = engine.clock().now();
    let mut conn = engine.store().pool().acquire().await?;
    // A named period takes its figures from the digest's report, the same
    // function behind `/api/v1/reports/{period}`, so the numbers match.
    let (from, to, figures, open_by_priority) = match window.period() {
        Some(period) => {
            let time_zone = engine.config().digest.time_zone.0;
            let report = period_report::report_with(&mut conn, period, now, time_zone).await?;
            (
                report.from,
                report.to,
                report.figures,
                report.open_by_priority,
            )
        }
        None => {
            let (from, to) = window.bounds(now);
            let figures = store::reports::figures(&mut conn, from, to).await?;
            let open = store::reports::open_by_priority(&mut conn).await?;
            (from, to, figures, open)
        }
    };
    let days = store::dashboard::days(&mut conn, from, to)
        .await?
        .into_iter()
        .map(|d| DayView {
            date: d.date,
            opened: d.opened,
            resolved: d.resolved,
            mtta_seconds: d.mtta_seconds.map(|s| s.round() as i64),
            mttr_seconds: d.mttr_seconds.map(|s| s.round() as i64),
        })
        .collect();
    let sla_by_priority = store::dashboard::compliance_by_priority(&mut conn, from, to)
        .await?
        .iter()
        .enumerate()
        .map(|(i, &(met, total))| ComplianceView {
            priority: format!("P{}", i + 1),
            met,
            total,
            percent: (total > 0).then(|| 100.0 * met as f64 / total as f64),
        })
        .collect();
    let csat_scores = store::dashboard::csat_scores(&mut conn, from, to).await?;
    let downtime = store::dashboard::downtime_from_outages(&mut conn, from, to).await?;
    let availability = engine
        .config()
        .services
        .iter()
        .map(|service| {
            let spans: Vec<Downtime> = downtime
                .iter()
                .filter(|(name, _)| *name == service.name)
                .map(|(_, span)| *span)
                .collect();
            let a = availability(service.availability_target, from, to, now, &spans);
            AvailabilityView {
                service: service.name.clone(),
                target_percent: a.target,
                availability_percent: a.percent,
                downtime_seconds: a.downtime.num_seconds(),
                met: a.met,
            }
        })
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
        from,
        to,
        generated_at: now,
        figures: FiguresDto::from(&figures),
        open_by_priority,
        days,
        sla_by_priority,
        csat_scores,
        availability,
        open_urgent,
    })
}

//! Period reports (a day, week or month of figures, as of the period's
//! end): one platform-free report the engine answers `/itsm report` with,
//! and the digests and the API read. Rendering it for each platform is the
//! adapters' job.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;

use crate::commands::reply::{Block, Message};
use crate::commands::Engine;
use crate::domain::availability::{self, Availability};
use crate::domain::report::{
    mean, with_trend, Period, Report, ServiceAvailability, Snapshot, Span, OVERDUE_LISTED,
};
use crate::store::{self, StoreError};

/// Open incidents listed by name in a report.
const OLDEST: i64 = 5;

/// The report of `span`, with the span before it for the trend, as of
/// the span's end (or now, while it is not over).
pub async fn report(engine: &Engine, span: Span) -> Result<Report, StoreError> {
    let mut conn = engine.store().pool().acquire().await?;
    report_with(&mut conn, span, engine.clock().now()).await
}

/// [`report`] on a connection the caller holds, at `now`.
pub async fn report_with(
    conn: &mut sqlx::PgConnection,
    span: Span,
    now: DateTime<Utc>,
) -> Result<Report, StoreError> {
    let previous = span.previous();
    // One query for both spans: the previous one ends where this starts.
    let mut figures =
        store::reports::figures(conn, &[previous.from, span.from, span.to], now).await?;
    let current = figures.pop().unwrap_or_default();
    let previous = figures.pop();
    let at = span.as_of(now);
    Ok(Report {
        span,
        figures: current,
        previous,
        state: snapshot(conn, at, now, span.zone).await?,
        availability: availability_over(conn, span, at).await?,
        upcoming_changes: store::changes::scheduled_as_of(
            conn,
            span.to,
            span.to + Duration::hours(24),
            (at < now).then_some(at),
            10,
        )
        .await?,
    })
}

/// The state of the desk at `at`, judged on the day `at` falls on in
/// `zone`.
pub async fn snapshot(
    conn: &mut sqlx::PgConnection,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
    zone: Tz,
) -> Result<Snapshot, StoreError> {
    // An action item due on a day is overdue once that day is over where
    // the report is read: the digest of the 4th in Berlin (as of midnight
    // starting the 5th) counts items due on the 4th or before, whatever the
    // hour in UTC.
    let today = at.with_timezone(&zone).date_naive();
    Ok(Snapshot {
        at,
        open_by_priority: store::reports::open_by_priority(conn, at, now).await?,
        oldest_open: store::reports::oldest_open(conn, at, now, OLDEST).await?,
        known_errors_open: store::reports::known_errors_at(conn, at).await?,
        actions: store::postmortems::action_figures(conn, at, today, OVERDUE_LISTED).await?,
    })
}

/// Every catalog service's availability over `span` (measured up to `at`)
/// and over the rolling 30 days ending at `at`, its error budget's period.
/// The same outages (planned windows cut out) the catalog and the budget
/// warnings count.
pub async fn availability_over(
    conn: &mut sqlx::PgConnection,
    span: Span,
    at: DateTime<Utc>,
) -> Result<Vec<ServiceAvailability>, StoreError> {
    let (budget_from, _) = availability::period_ending(at);
    let catalog = store::services::catalog(conn).await?;
    let outages = store::services::outages_since(conn, budget_from.min(span.from)).await?;
    Ok(catalog
        .into_iter()
        .map(|entry| {
            let mine: Vec<_> = outages
                .iter()
                .filter(|(id, _)| *id == entry.id)
                .map(|(_, outage)| *outage)
                .collect();
            let measured_to = span.to.min(at).max(span.from);
            ServiceAvailability {
                span: Availability::new(
                    entry.availability_target,
                    availability::downtime(&mine, span.from, measured_to),
                    span.from,
                    measured_to,
                ),
                budget: availability::rolling(&mine, entry.availability_target, at),
                service: entry.name,
            }
        })
        .collect())
}

/// The rolling window of `period` ending at `end`, in the report zone, as
/// of `end` (or the engine's now, if later).
pub async fn rolling(
    engine: &Engine,
    period: Period,
    end: DateTime<Utc>,
) -> Result<Report, StoreError> {
    rolling_in(engine, period, end, zone(engine)).await
}

/// [`rolling`] read in `zone`.
pub async fn rolling_in(
    engine: &Engine,
    period: Period,
    end: DateTime<Utc>,
    zone: Tz,
) -> Result<Report, StoreError> {
    let mut conn = engine.store().pool().acquire().await?;
    let now = engine.clock().now().max(end);
    report_with(&mut conn, Span::rolling(period, end, zone), now).await
}

/// The daily digest of calendar date `date` in `zone`, as of that day's end.
pub async fn for_date(engine: &Engine, date: NaiveDate, zone: Tz) -> Result<Report, StoreError> {
    report(engine, Span::calendar(Period::Day, date, zone)).await
}

/// The time zone reports are read in by default: `digest.time_zone`,
/// else `[locale] time_zone`.
pub fn zone(engine: &Engine) -> Tz {
    engine.config().report_zone()
}

/// A report as a message.
pub fn message(report: &Report) -> Message {
    let f = &report.figures;
    let p = report.previous.as_ref();
    let state = &report.state;
    let zone = report.span.zone;
    let local = |at: DateTime<Utc>| crate::domain::moment::plain(at, zone);
    let heading = match report.span.period() {
        Some(Period::Day) => "Daily digest",
        Some(Period::Week) => "Weekly report",
        Some(Period::Month) => "Monthly report",
        None => "Report",
    };
    let compliance = f.compliance().map_or_else(
        || "—".to_string(),
        |c| format!("{c:.0}% ({} met of {})", f.sla_met, f.sla_total()),
    );
    let answers = f.csat_answers();
    let csat = f.csat_average().map_or_else(
        || "—".to_string(),
        |a| format!("{a:.1}/5 ({})", plural(answers, "answer", "answers")),
    );
    let open_total: i64 = state.open_by_priority.iter().sum();
    let open = format!(
        "{open_total} (P1 {} · P2 {} · P3 {} · P4 {})",
        state.open_by_priority[0],
        state.open_by_priority[1],
        state.open_by_priority[2],
        state.open_by_priority[3]
    );
    let resolved = if f.resolved_by_monitoring > 0 {
        format!(
            "{} + {} by monitoring",
            with_trend(f.resolved, p.map(|p| p.resolved)),
            f.resolved_by_monitoring
        )
    } else {
        with_trend(f.resolved, p.map(|p| p.resolved))
    };
    let mut message = Message::default()
        .with(Block::Header(format!("{heading}: {}", report.span.label())))
        .with(Block::Fields(vec![
            ("Opened".into(), with_trend(f.opened, p.map(|p| p.opened))),
            ("Resolved".into(), resolved),
            (format!("Open at {}", local(state.at)), open),
            ("MTTA".into(), mean(f.mtta)),
            ("MTTR".into(), mean(f.mttr)),
            ("SLA compliance".into(), compliance),
            (
                "Breaches".into(),
                with_trend(f.breaches, p.map(|p| p.breaches)),
            ),
            ("CSAT".into(), csat),
            ("Action items".into(), action_count(report)),
        ]));
    if report.span.period() != Some(Period::Day) {
        message = message.with(Block::Fields(change_and_problem_fields(report)));
    } else if let Some(line) = request_line(&f.requests) {
        // The daily digest leaves changes and problems to the weekly
        // report, but requests are a desk's daily work.
        message = message.with(Block::Fields(vec![line]));
    }
    if !state.oldest_open.is_empty() {
        message = message.with(Block::List {
            title: Some("Oldest open".into()),
            items: state
                .oldest_open
                .iter()
                .map(|item| {
                    format!(
                        "{} {} — {} (open since {})",
                        item.reference,
                        item.priority,
                        item.title,
                        local(item.opened)
                    )
                })
                .collect(),
        });
    }
    let actions = &state.actions;
    if !actions.overdue_items.is_empty() {
        let mut items: Vec<String> = actions
            .overdue_items
            .iter()
            .map(|item| format!("{} · {}", item.line(actions.today), item.incident))
            .collect();
        let more = actions.overdue_not_listed();
        if more > 0 {
            items.push(format!("… and {more} more (`/itsm actions`)"));
        }
        message = message.with(Block::List {
            title: Some(format!("Overdue action items ({})", actions.overdue)),
            items,
        });
    }
    if !report.availability.is_empty() {
        message = message.with(Block::List {
            title: Some("Availability (error budget over the rolling 30 days)".into()),
            items: report
                .availability
                .iter()
                .map(|a| {
                    format!(
                        "{}: {:.2}% (target {}%, {}) · {:.0}% of the error budget spent",
                        a.service,
                        a.span.percent,
                        a.span.target,
                        if a.span.meets_target() {
                            "met"
                        } else {
                            "missed"
                        },
                        a.budget.budget_spent()
                    )
                })
                .collect(),
        });
    }
    if report.upcoming_changes.is_empty() {
        message.with(Block::Context(format!(
            "No changes scheduled in the 24 hours after {}.",
            local(report.span.to)
        )))
    } else {
        message.with(Block::List {
            title: Some(format!(
                "Changes in the 24 hours after {}",
                local(report.span.to)
            )),
            items: report
                .upcoming_changes
                .iter()
                .map(|c| crate::commands::view::change::change_line(c, zone))
                .collect(),
        })
    }
}

/// The weekly and monthly reports' change and problem figures.
fn change_and_problem_fields(report: &Report) -> Vec<(String, String)> {
    let c = &report.figures.changes;
    let percent = |v: Option<f64>| v.map_or_else(|| "—".to_string(), |v| format!("{v:.0}%"));
    vec![
        (
            "Changes finished".into(),
            format!(
                "{} completed · {} failed · {} rolled back · {} cancelled · {} rejected",
                c.completed, c.failed, c.rolled_back, c.cancelled, c.rejected
            ),
        ),
        ("Change success rate".into(), percent(c.success_rate())),
        (
            "Emergency changes".into(),
            format!(
                "{} of {} submitted",
                percent(c.emergency_share()),
                c.submitted
            ),
        ),
        ("Lead time to approval".into(), mean(c.lead_time)),
        (
            "Problems".into(),
            format!(
                "{} opened · {} known errors open · {} incidents linked",
                report.figures.problems.opened,
                report.state.known_errors_open,
                report.figures.problems.incidents_linked
            ),
        ),
    ]
    .into_iter()
    .chain(request_line(&report.figures.requests))
    .collect()
}

/// Service requests, when any was asked, approved or fulfilled in the span
/// (a desk without a catalog sees no line).
fn request_line(r: &crate::domain::report::RequestFigures) -> Option<(String, String)> {
    if r.opened == 0 && r.fulfilled == 0 && r.approved == 0 && r.fulfil_missed == 0 {
        return None;
    }
    let compliance = match r.compliance() {
        Some(percent) => format!(
            "{percent:.0}% ({} met of {})",
            r.fulfil_met,
            r.fulfil_met + r.fulfil_missed
        ),
        None => "—".to_string(),
    };
    let csat = r.csat_average.map_or_else(String::new, |a| {
        format!(
            " · CSAT {a:.1}/5 ({})",
            plural(r.csat_answers, "answer", "answers")
        )
    });
    Some((
        "Service requests".into(),
        format!(
            "{} opened · {} fulfilled (mean time to fulfil {}) · {} approved (mean approval time {}) · fulfilment SLA {compliance}{csat}",
            r.opened,
            r.fulfilled,
            mean(r.time_to_fulfil),
            r.approved,
            mean(r.approval_time)
        ),
    ))
}

/// `1 answer`, `2 answers`.
fn plural(n: i64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

/// `3 open, 1 overdue` (or `none open`).
fn action_count(report: &Report) -> String {
    let actions = &report.state.actions;
    match (actions.open, actions.overdue) {
        (0, _) => "none open".to_string(),
        (open, 0) => format!("{open} open"),
        (open, overdue) => format!("{open} open, {overdue} overdue"),
    }
}

//! Period reports (a day, week or month of figures, as of the period's
//! end): one platform-free report the engine answers `/itsm report` with,
//! and the digests and the API read. Rendering it for each platform is the
//! adapters' job.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use crate::commands::reply::{Block, Message};
use crate::commands::Engine;
use crate::domain::report::{mean, with_trend, Period, Report, OVERDUE_LISTED};
use crate::store::{self, StoreError};

/// Open incidents listed by name in a report.
const OLDEST: i64 = 5;

/// The report of `period` ending at `end`, with the previous period for the
/// trend, judging overdue action items by the day in the default digest
/// time zone (`digest.time_zone`).
pub async fn report(
    engine: &Engine,
    period: Period,
    end: DateTime<Utc>,
) -> Result<Report, StoreError> {
    report_in(engine, period, end, engine.config().digest.time_zone.0).await
}

/// [`report`] for a channel with its own time zone.
pub async fn report_in(
    engine: &Engine,
    period: Period,
    end: DateTime<Utc>,
    time_zone: Tz,
) -> Result<Report, StoreError> {
    let mut conn = engine.store().pool().acquire().await?;
    report_with(&mut conn, period, end, time_zone).await
}

/// [`report_in`] on a connection the caller holds.
pub async fn report_with(
    conn: &mut sqlx::PgConnection,
    period: Period,
    end: DateTime<Utc>,
    time_zone: Tz,
) -> Result<Report, StoreError> {
    let (from, to) = period.ending_at(end);
    // An action item due on a day is overdue once that day is over where
    // the report is read: a digest posted at 09:00 on the 5th in Berlin
    // counts items due on the 4th, whatever the hour in UTC.
    let today = to.with_timezone(&time_zone).date_naive();
    let figures = store::reports::figures(conn, from, to).await?;
    let previous = match period {
        Period::Day => None,
        Period::Week | Period::Month => {
            let (before, _) = period.ending_at(from);
            Some(store::reports::figures(conn, before, from).await?)
        }
    };
    Ok(Report {
        period,
        from,
        to,
        figures,
        previous,
        open_by_priority: store::reports::open_by_priority(conn).await?,
        oldest_open: store::reports::oldest_open(conn, OLDEST).await?,
        availability: availability_at(conn, to).await?,
        upcoming_changes: store::changes::scheduled(conn, to, to + chrono::Duration::hours(24), 10)
            .await?,
        actions: store::postmortems::action_figures(conn, today, OVERDUE_LISTED).await?,
    })
}

/// Every catalog service's availability over the 30 days ending at `at`.
async fn availability_at(
    conn: &mut sqlx::PgConnection,
    at: DateTime<Utc>,
) -> Result<Vec<(String, crate::domain::availability::Availability)>, StoreError> {
    Ok(crate::commands::service_status::availabilities(conn, at)
        .await?
        .into_iter()
        .map(|(entry, availability)| (entry.name, availability))
        .collect())
}

/// The daily digest of calendar date `date` in `time_zone`: the 24 hours
/// that end at the start of the next day.
pub async fn for_date(
    engine: &Engine,
    date: NaiveDate,
    time_zone: Tz,
) -> Result<Report, StoreError> {
    let next = date.succ_opt().unwrap_or(date);
    let end = time_zone
        .from_local_datetime(&next.and_hms_opt(0, 0, 0).unwrap_or_default())
        .earliest()
        .map_or_else(Utc::now, |at| at.with_timezone(&Utc));
    report_in(engine, Period::Day, end, time_zone).await
}

/// A report as a message.
pub fn message(report: &Report) -> Message {
    let f = &report.figures;
    let p = report.previous.as_ref();
    let heading = match report.period {
        Period::Day => "Daily digest",
        Period::Week => "Weekly report",
        Period::Month => "Monthly report",
    };
    let compliance = f.compliance().map_or_else(
        || "—".to_string(),
        |c| format!("{c:.0}% ({}/{})", f.sla_met, f.sla_total),
    );
    let csat = f.csat_average.map_or_else(
        || "—".to_string(),
        |a| format!("{a:.1}/5 ({} answers)", f.csat_answers),
    );
    let open_total: i64 = report.open_by_priority.iter().sum();
    let open = format!(
        "{open_total} (P1 {} · P2 {} · P3 {} · P4 {})",
        report.open_by_priority[0],
        report.open_by_priority[1],
        report.open_by_priority[2],
        report.open_by_priority[3]
    );
    let mut message = Message::default()
        .with(Block::Header(format!(
            "{heading}: {} – {}",
            report.from.format("%Y-%m-%d %H:%M"),
            report.to.format("%Y-%m-%d %H:%M UTC")
        )))
        .with(Block::Fields(vec![
            ("Opened".into(), with_trend(f.opened, p.map(|p| p.opened))),
            (
                "Resolved".into(),
                with_trend(f.resolved, p.map(|p| p.resolved)),
            ),
            ("Still open".into(), open),
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
    if !report.oldest_open.is_empty() {
        message = message.with(Block::List {
            title: Some("Oldest open".into()),
            items: report
                .oldest_open
                .iter()
                .map(|item| {
                    format!(
                        "{} {} — {} (open since {})",
                        item.reference,
                        item.priority,
                        item.title,
                        item.opened.format("%Y-%m-%d %H:%M UTC")
                    )
                })
                .collect(),
        });
    }
    let actions = &report.actions;
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
            title: Some("Availability, last 30 days".into()),
            items: report
                .availability
                .iter()
                .map(|(service, a)| {
                    format!(
                        "{service}: {:.2}% (target {}%, {}, {:.0}% of the error budget spent)",
                        a.percent,
                        a.target,
                        if a.meets_target() { "met" } else { "missed" },
                        a.budget_spent()
                    )
                })
                .collect(),
        });
    }
    if report.upcoming_changes.is_empty() {
        message.with(Block::Context(
            "No changes scheduled in the next 24 hours.".into(),
        ))
    } else {
        message.with(Block::List {
            title: Some("Changes in the next 24 hours".into()),
            items: report
                .upcoming_changes
                .iter()
                .map(crate::commands::view::change::change_line)
                .collect(),
        })
    }
}

/// `3 open, 1 overdue` (or `none open`).
fn action_count(report: &Report) -> String {
    let actions = &report.actions;
    match (actions.open, actions.overdue) {
        (0, _) => "none open".to_string(),
        (open, 0) => format!("{open} open"),
        (open, overdue) => format!("{open} open, {overdue} overdue"),
    }
}

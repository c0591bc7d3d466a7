//! Service desk figures over a period, for digests and reports.

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::duration::format_duration;
use super::postmortem::ActionItem;
use super::priority::Priority;

/// Most overdue action items a report lists by name; the rest are counted.
pub const OVERDUE_LISTED: i64 = 10;

/// The length of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day,
    Week,
    Month,
}

impl Period {
    /// The period's name in commands and headings.
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
        }
    }

    /// The period ending at `end`: 24 hours, 7 days, or 30 days.
    pub fn ending_at(self, end: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        let length = match self {
            Period::Day => Duration::days(1),
            Period::Week => Duration::days(7),
            Period::Month => Duration::days(30),
        };
        (end - length, end)
    }
}

/// An open incident named in a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenItem {
    pub reference: String,
    pub priority: Priority,
    pub title: String,
    pub opened: DateTime<Utc>,
}

/// What happened in one period.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Figures {
    pub opened: i64,
    pub resolved: i64,
    /// Mean time to acknowledge, over incidents acknowledged in the period.
    pub mtta: Option<Duration>,
    /// Mean time to resolve, over incidents resolved in the period.
    pub mttr: Option<Duration>,
    /// SLA clocks that stopped in the period, and how many of them in time.
    pub sla_met: i64,
    pub sla_total: i64,
    /// Breaches posted in the period.
    pub breaches: i64,
    pub csat_average: Option<f64>,
    pub csat_answers: i64,
}

impl Figures {
    /// SLA compliance in percent, when any clock stopped.
    pub fn compliance(&self) -> Option<f64> {
        (self.sla_total > 0).then(|| 100.0 * self.sla_met as f64 / self.sla_total as f64)
    }
}

/// Action items from post-incident reviews as they stand when a report is
/// made: not figures of the period, since an item agreed months ago and
/// still open matters as much as one agreed yesterday.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionFigures {
    /// The day "overdue" is judged on, in the report's time zone: an item
    /// is overdue when it is open and its due date is before this day.
    pub today: NaiveDate,
    /// Open action items (raised ones included: they are open until done).
    pub open: i64,
    /// How many of them are overdue.
    pub overdue: i64,
    /// The overdue ones, longest overdue first, at most [`OVERDUE_LISTED`].
    pub overdue_items: Vec<ActionItem>,
}

impl ActionFigures {
    /// Overdue items left out of [`ActionFigures::overdue_items`].
    pub fn overdue_not_listed(&self) -> i64 {
        (self.overdue - self.overdue_items.len() as i64).max(0)
    }
}

/// A report: the period's figures, what is open now, and the previous
/// period's figures for the trend.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub period: Period,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub figures: Figures,
    pub previous: Option<Figures>,
    /// Open incidents now, per priority P1–P4.
    pub open_by_priority: [i64; 4],
    /// The oldest open incidents, oldest first.
    pub oldest_open: Vec<OpenItem>,
    /// Each service's availability over the 30 days ending with the period,
    /// against its target.
    pub availability: Vec<(String, super::availability::Availability)>,
    /// Changes whose window opens or runs in the 24 hours after the period.
    pub upcoming_changes: Vec<super::change::Change>,
    /// Open and overdue action items now.
    pub actions: ActionFigures,
}

/// `12` → `12 (+3)` against the previous value.
pub fn with_trend(now: i64, before: Option<i64>) -> String {
    match before {
        Some(before) if now >= before => format!("{now} (+{})", now - before),
        Some(before) => format!("{now} (−{})", before - now),
        None => now.to_string(),
    }
}

/// A duration figure, or "—" when there was nothing to measure.
pub fn mean(duration: Option<Duration>) -> String {
    duration.map_or_else(
        || "—".to_string(),
        |d| {
            if d < Duration::minutes(1) {
                format!("{}s", d.num_seconds())
            } else {
                format_duration(Duration::minutes(d.num_minutes()))
            }
        },
    )
}

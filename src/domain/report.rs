//! Service desk figures over a period, for digests and reports.

use chrono::{DateTime, Duration, NaiveDate, Utc};

pub mod span;

pub use span::{Span, SpanError, SpanKind, MAX_RANGE_DAYS};

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

/// What happened in one span of time. Each figure is defined once, here,
/// and counted by one query (`store::figures`); `docs/figures.md` says the
/// same in words for managers.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Figures {
    /// Incidents opened (reported) in the span.
    pub opened: i64,
    /// Incidents whose latest resolution falls in the span and that a
    /// person responded to (see [`Figures::resolved_by_monitoring`]).
    pub resolved: i64,
    /// Incidents resolved in the span by their monitoring source (an alert's
    /// recovery) before any person responded: counted here, and in no
    /// other figure — not in MTTR, not in SLA compliance.
    pub resolved_by_monitoring: i64,
    /// Incidents a person first responded to in the span (acknowledged,
    /// assigned, re-prioritised, noted, put on hold or resolved).
    pub responded: i64,
    /// Mean time from report to a person's first response, over
    /// [`Figures::responded`].
    pub mtta: Option<Duration>,
    /// Mean time from report to resolution, over [`Figures::resolved`].
    pub mttr: Option<Duration>,
    /// SLA clocks judged met in the span: stopped at or before their due
    /// instant, judged when they stopped.
    pub sla_met: i64,
    /// SLA clocks judged breached in the span: not stopped by their due
    /// instant, judged at that instant (when the breach alert is due).
    pub breaches: i64,
    /// [`Figures::sla_met`] and [`Figures::breaches`] per priority P1–P4,
    /// as `(met, breached)`.
    pub sla_by_priority: [(i64, i64); 4],
    /// Satisfaction answers given in the span about incidents, per score
    /// 1–5 (requests have their own, [`RequestFigures::csat_answers`]).
    pub csat_scores: [i64; 5],
    pub changes: ChangeFigures,
    pub problems: ProblemFigures,
    pub requests: RequestFigures,
}

/// Change enablement in a span (ITIL's own measures).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChangeFigures {
    /// Changes that finished in the span, by how: each change counts once,
    /// under the status it has now, at the instant it finished.
    pub completed: i64,
    pub failed: i64,
    pub rolled_back: i64,
    pub cancelled: i64,
    pub rejected: i64,
    /// Changes submitted for approval in the span, and how many of them
    /// were emergency changes.
    pub submitted: i64,
    pub emergency: i64,
    /// Normal and emergency changes approved in the span (standard changes
    /// are approved on submit and left out), and their mean lead time from
    /// submission to approval.
    pub approved: i64,
    pub lead_time: Option<Duration>,
}

impl ChangeFigures {
    /// Percent of the changes that were carried out which succeeded:
    /// completed / (completed + failed + rolled back).
    pub fn success_rate(&self) -> Option<f64> {
        let done = self.completed + self.failed + self.rolled_back;
        (done > 0).then(|| 100.0 * self.completed as f64 / done as f64)
    }

    /// Percent of the submitted changes that were emergency changes.
    pub fn emergency_share(&self) -> Option<f64> {
        (self.submitted > 0).then(|| 100.0 * self.emergency as f64 / self.submitted as f64)
    }
}

/// Problem management in a span.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProblemFigures {
    /// Problems opened in the span.
    pub opened: i64,
    /// Incidents linked to a problem in the span (each incident once).
    pub incidents_linked: i64,
}

/// Service request fulfilment in a span.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RequestFigures {
    /// Requests asked for in the span.
    pub opened: i64,
    /// Requests fulfilled in the span (each once, at its fulfilment), and
    /// their mean time from ask to fulfilment, wall-clock.
    pub fulfilled: i64,
    pub time_to_fulfil: Option<Duration>,
    /// Requests approved in the span that needed approval (items without
    /// approvers start approved and are left out), and their mean time
    /// from ask to approval, wall-clock.
    pub approved: i64,
    pub approval_time: Option<Duration>,
    /// Fulfilment clocks judged met in the span: requests fulfilled in it
    /// at or before their clock's due instant (`fulfil_within` in business
    /// time from approval, paused on hold), judged at fulfilment.
    pub fulfil_met: i64,
    /// Fulfilment clocks judged missed in the span: due in it (and before
    /// now) and not fulfilled by then, judged at the due instant, whether
    /// fulfilled later or not at all.
    pub fulfil_missed: i64,
    /// Satisfaction answers given in the span to the survey sent after a
    /// fulfilment, and their mean score (1–5). The incident CSAT of
    /// [`Figures::csat_scores`] leaves them out.
    pub csat_answers: i64,
    pub csat_average: Option<f64>,
}

impl RequestFigures {
    /// Fulfilment SLA compliance in percent, met / (met + missed), when
    /// any clock was judged.
    pub fn compliance(&self) -> Option<f64> {
        let total = self.fulfil_met + self.fulfil_missed;
        (total > 0).then(|| 100.0 * self.fulfil_met as f64 / total as f64)
    }
}

impl Figures {
    /// SLA clocks judged in the span: met and breached.
    pub fn sla_total(&self) -> i64 {
        self.sla_met + self.breaches
    }

    /// SLA compliance in percent, when any clock was judged.
    pub fn compliance(&self) -> Option<f64> {
        let total = self.sla_total();
        (total > 0).then(|| 100.0 * self.sla_met as f64 / total as f64)
    }

    /// Satisfaction answers in the span.
    pub fn csat_answers(&self) -> i64 {
        self.csat_scores.iter().sum()
    }

    /// The mean satisfaction score, 1 to 5, when anyone answered.
    pub fn csat_average(&self) -> Option<f64> {
        let answers = self.csat_answers();
        let total: i64 = (1..)
            .zip(self.csat_scores.iter())
            .map(|(score, n)| score * n)
            .sum();
        (answers > 0).then(|| total as f64 / answers as f64)
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

/// The state of the desk at one instant: what a report says "still
/// open", "known errors" and "overdue" about, as of the end of its span.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub at: DateTime<Utc>,
    /// Incidents open at `at`, per priority P1–P4 (the priority they have
    /// now).
    pub open_by_priority: [i64; 4],
    /// The oldest incidents open at `at`, oldest first.
    pub oldest_open: Vec<OpenItem>,
    /// Problems that were known errors at `at`.
    pub known_errors_open: i64,
    /// Open and overdue action items at `at`.
    pub actions: ActionFigures,
}

/// A report: the span's figures, the previous span's for the trend, the
/// state at the span's end, availability and what comes next.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub span: span::Span,
    pub figures: Figures,
    pub previous: Option<Figures>,
    pub state: Snapshot,
    /// Each service's availability over the span, and its error budget over
    /// the 30 days (rolling) ending with the span.
    pub availability: Vec<ServiceAvailability>,
    /// Changes whose window opens or runs in the 24 hours after the span.
    pub upcoming_changes: Vec<super::change::Change>,
}

/// One service's availability in a report.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceAvailability {
    pub service: String,
    /// Over the report's span, measured up to the report's "as of".
    pub span: super::availability::Availability,
    /// Over the rolling 30 days ending at the report's "as of": the error
    /// budget's period.
    pub budget: super::availability::Availability,
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

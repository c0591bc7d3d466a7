//! Post-incident reviews: the sections people may edit, the review as the
//! template sees it, action items, and when a review is overdue.
//!
//! Pure: the engine gathers the records, [`Review::build`] turns them into
//! what the Markdown template renders.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;

use super::availability::Outage;
use super::calendar::BusinessCalendar;
use super::duration::format_duration;
use super::incident::Incident;
use super::priority::Priority;
use super::problem::Problem;
use super::reference::{TicketKind, TicketRef};
use super::timeline::Event;
use super::user::UserId;

/// A part of the review that people write (or correct) with
/// `/incident INC-n postmortem set <section> <text>`. The timeline, the
/// SLA results and the action items are not sections: they come from the
/// records, so they are changed by working the records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Section {
    Summary,
    Impact,
    RootCause,
    Workaround,
    WentWell,
    WentWrong,
    Lessons,
}

impl Section {
    /// Every section, in the order the review shows them.
    pub const ALL: [Section; 7] = [
        Section::Summary,
        Section::Impact,
        Section::RootCause,
        Section::Workaround,
        Section::WentWell,
        Section::WentWrong,
        Section::Lessons,
    ];

    /// The name used in commands, storage and the template.
    pub fn as_str(self) -> &'static str {
        match self {
            Section::Summary => "summary",
            Section::Impact => "impact",
            Section::RootCause => "root_cause",
            Section::Workaround => "workaround",
            Section::WentWell => "went_well",
            Section::WentWrong => "went_wrong",
            Section::Lessons => "lessons",
        }
    }

    /// The section names, for refusals and help: `summary, impact, …`.
    pub fn names() -> String {
        Self::ALL
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl FromStr for Section {
    type Err = PostmortemError;

    /// Reads a section name; `root-cause` and `rca` are accepted for
    /// `root_cause`, as people type them.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let wanted = text.trim().to_ascii_lowercase().replace('-', "_");
        let wanted = match wanted.as_str() {
            "rca" | "rootcause" => "root_cause",
            "lessons_learned" => "lessons",
            other => other,
        };
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == wanted)
            .ok_or_else(|| PostmortemError::UnknownSection(text.to_string()))
    }
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a review or action item input was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PostmortemError {
    #[error("`{0}` is not a section of a review; the sections are {sections}", sections = Section::names())]
    UnknownSection(String),
    #[error("`{0}` is not a date; write due:YYYY-MM-DD, e.g. due:2026-12-04")]
    BadDue(String),
    #[error("action item #{id} was already done on {on}")]
    AlreadyDone { id: i64, on: String },
    #[error("action item #{id} was already raised as {raised_as}")]
    AlreadyRaised { id: i64, raised_as: TicketRef },
}

/// Reads the date of `due:<YYYY-MM-DD>`.
pub fn parse_due(text: &str) -> Result<NaiveDate, PostmortemError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| PostmortemError::BadDue(text.into()))
}

/// Outage minutes: the time the incident was marked as an outage of its
/// service (`/incident INC-n outage`), overlapping spans counted once, up
/// to `until` for a span still open. `None` when it was never an outage.
pub fn outage_minutes(outages: &[Outage], until: DateTime<Utc>) -> Option<i64> {
    let first = outages.iter().map(|o| o.start).min()?;
    Some(
        super::availability::downtime(outages, first, until.max(first))
            .num_minutes()
            .max(0),
    )
}

/// An action item agreed in a review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionItem {
    pub id: i64,
    /// The incident it follows up, `INC-<n>`.
    pub incident: String,
    pub text: String,
    pub owner: Option<UserId>,
    pub due: Option<NaiveDate>,
    pub done_at: Option<DateTime<Utc>>,
    /// The problem or change it was raised as, if any. Raising it does not
    /// close it: the item stays open until someone marks it done.
    pub raised_as: Option<TicketRef>,
}

/// What an action item can become with `/itsm action <id> problem|change`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RaiseAs {
    /// A problem, linked to the item's incident.
    Problem,
    /// A draft normal change, on the incident's service.
    Change,
}

impl RaiseAs {
    /// The kind of ticket it becomes.
    pub fn kind(self) -> TicketKind {
        match self {
            RaiseAs::Problem => TicketKind::Problem,
            RaiseAs::Change => TicketKind::Change,
        }
    }

    /// The word in commands: `problem` or `change`.
    pub fn as_str(self) -> &'static str {
        match self {
            RaiseAs::Problem => "problem",
            RaiseAs::Change => "change",
        }
    }
}

impl ActionItem {
    /// Open and past its due date on `today`.
    pub fn overdue(&self, today: NaiveDate) -> bool {
        self.done_at.is_none() && self.due.is_some_and(|due| due < today)
    }

    /// Whether it may be raised as a problem or a change: only an open item,
    /// and only once, so one follow-up does not become two tickets.
    /// `zone` is the one a refusal names the time in.
    pub fn check_raise(&self, zone: chrono_tz::Tz) -> Result<(), PostmortemError> {
        if let Some(done_at) = self.done_at {
            return Err(PostmortemError::AlreadyDone {
                id: self.id,
                on: super::moment::stamp(done_at, zone),
            });
        }
        if let Some(raised_as) = self.raised_as {
            return Err(PostmortemError::AlreadyRaised {
                id: self.id,
                raised_as,
            });
        }
        Ok(())
    }

    /// The description of the ticket it is raised as: where the work comes
    /// from, and the owner and due date the review agreed, since a problem or
    /// change has no place of its own for them.
    pub fn raised_description(&self) -> String {
        let mut text = format!(
            "Raised from action item #{} of the review of {}.",
            self.id, self.incident
        );
        if let Some(owner) = &self.owner {
            text.push_str(&format!(" Owner: {owner}."));
        }
        if let Some(due) = self.due {
            text.push_str(&format!(" Due: {due}."));
        }
        text
    }

    /// One line: `#4 Add VPN capacity alert — shell:bob, due 2026-12-04 (overdue)`.
    pub fn line(&self, today: NaiveDate) -> String {
        let mut parts = Vec::new();
        if let Some(owner) = &self.owner {
            parts.push(owner.to_string());
        }
        if let Some(due) = self.due {
            parts.push(format!("due {due}"));
        }
        if let Some(raised_as) = self.raised_as {
            parts.push(format!("raised as {raised_as}"));
        }
        let detail = if parts.is_empty() {
            String::new()
        } else {
            format!(" — {}", parts.join(", "))
        };
        let state = if self.done_at.is_some() {
            " (done)"
        } else if self.overdue(today) {
            " (overdue)"
        } else {
            ""
        };
        format!("#{} {}{detail}{state}", self.id, self.text)
    }
}

/// One SLA clock's result as recorded in `sla_outcomes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlaResult {
    /// `respond` or `resolve`.
    pub clock: String,
    /// The target, e.g. `4h`.
    pub target: String,
    /// `met (1h20m to spare)`, `breached by 35m` or `running`.
    pub result: String,
}

impl SlaResult {
    /// A result from the stored columns.
    pub fn new(clock: &str, target_seconds: i64, met: Option<bool>, margin: Option<i64>) -> Self {
        let result = match (met, margin) {
            (Some(true), Some(m)) => {
                format!("met ({} to spare)", format_duration(Duration::seconds(m)))
            }
            (Some(true), None) => "met".to_string(),
            (Some(false), Some(m)) => {
                format!("breached by {}", format_duration(Duration::seconds(-m)))
            }
            (Some(false), None) => "breached".to_string(),
            (None, _) => "running".to_string(),
        };
        SlaResult {
            clock: clock.to_string(),
            target: format_duration(Duration::seconds(target_seconds)),
            result,
        }
    }
}

/// A change linked as a problem's fix, as the review lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeLine {
    pub reference: String,
    pub title: String,
    pub status: String,
    /// The problem it fixes.
    pub fixes: String,
}

/// What the review template renders. Every field is plain text ready to
/// print; the template decides only the layout.
#[derive(Debug, Clone, Serialize)]
pub struct Review {
    pub reference: String,
    pub title: String,
    pub priority: String,
    pub status: String,
    pub service: Option<String>,
    pub reported_at: String,
    pub resolved_at: Option<String>,
    /// Report to resolve, e.g. `1h30m`; `None` while it is unresolved.
    pub duration: Option<String>,
    pub outage_minutes: Option<i64>,
    /// How the outage minutes were counted, printed beside them.
    pub outage_rule: &'static str,
    pub sla: Vec<SlaResult>,
    pub people: Vec<String>,
    pub timeline: Vec<TimelineLine>,
    pub problems: Vec<ProblemLine>,
    pub changes: Vec<ChangeLine>,
    pub actions: Vec<String>,
    /// Every section's text: what people set, else what the records say.
    pub sections: BTreeMap<String, String>,
    /// The sections people edited, so the template can mark the rest as drafts.
    pub edited: Vec<String>,
}

/// One timeline event in the review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimelineLine {
    pub at: String,
    pub actor: String,
    pub what: String,
}

/// A problem linked to the incident, as the review shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProblemLine {
    pub reference: String,
    pub title: String,
    pub status: String,
    pub root_cause: Option<String>,
    pub workaround: Option<String>,
}

/// Everything a review is built from.
#[derive(Debug, Clone, Copy)]
pub struct ReviewInput<'a> {
    pub incident: &'a Incident,
    pub events: &'a [Event],
    pub sla: &'a [SlaResult],
    pub problems: &'a [Problem],
    pub changes: &'a [ChangeLine],
    pub actions: &'a [ActionItem],
    /// The sections people set, by name.
    pub edited: &'a BTreeMap<String, String>,
    pub today: NaiveDate,
    /// The spans the incident was marked as an outage.
    pub outages: &'a [Outage],
    pub now: DateTime<Utc>,
    /// The zone the review's times are written in (the team's).
    pub zone: chrono_tz::Tz,
}

impl Review {
    /// The review of `input.incident`, its generated sections filled from
    /// the records and overridden by the ones people set.
    pub fn build(input: ReviewInput<'_>) -> Review {
        let incident = input.incident;
        let duration = incident
            .resolved_at
            .map(|resolved| format_duration(resolved - incident.created_at));
        let outage_minutes =
            outage_minutes(input.outages, incident.resolved_at.unwrap_or(input.now));
        let mut people: Vec<String> = input.events.iter().map(|e| e.actor.to_string()).collect();
        people.extend(incident.assignee.iter().map(ToString::to_string));
        people.sort();
        people.dedup();
        let problems: Vec<ProblemLine> = input
            .problems
            .iter()
            .map(|p| ProblemLine {
                reference: p.reference().to_string(),
                title: p.title.clone(),
                status: p.status.to_string(),
                root_cause: p.root_cause.clone(),
                workaround: p.workaround.clone(),
            })
            .collect();
        let mut sections = BTreeMap::new();
        for section in Section::ALL {
            let generated = generated_section(
                section,
                incident,
                &problems,
                duration.as_deref(),
                outage_minutes,
            );
            let text = input
                .edited
                .get(section.as_str())
                .cloned()
                .unwrap_or(generated);
            sections.insert(section.as_str().to_string(), text);
        }
        Review {
            reference: incident.reference().to_string(),
            title: incident.title.clone(),
            priority: incident.priority.to_string(),
            status: incident.status.to_string(),
            service: incident.service.clone(),
            reported_at: super::moment::plain(incident.created_at, input.zone),
            resolved_at: incident
                .resolved_at
                .map(|at| super::moment::plain(at, input.zone)),
            duration,
            outage_minutes,
            outage_rule: "the time it was marked as an outage of its service",
            sla: input.sla.to_vec(),
            people,
            timeline: input
                .events
                .iter()
                .map(|e| TimelineLine {
                    at: super::moment::plain(e.at, input.zone),
                    actor: e.actor.to_string(),
                    what: e.describe(),
                })
                .collect(),
            problems,
            changes: input.changes.to_vec(),
            actions: input.actions.iter().map(|a| a.line(input.today)).collect(),
            sections,
            edited: input.edited.keys().cloned().collect(),
        }
    }
}

/// What a section says before anyone edits it.
fn generated_section(
    section: Section,
    incident: &Incident,
    problems: &[ProblemLine],
    duration: Option<&str>,
    outage_minutes: Option<i64>,
) -> String {
    let joined = |pick: &dyn Fn(&ProblemLine) -> Option<&String>| {
        let found: Vec<String> = problems
            .iter()
            .filter_map(|p| pick(p).map(|text| format!("{text} ({})", p.reference)))
            .collect();
        found.join("\n\n")
    };
    let text = match section {
        Section::Summary => {
            let mut text = format!(
                "{} ({}{}).",
                incident.title,
                incident.priority,
                incident
                    .service
                    .as_ref()
                    .map(|s| format!(", service {s}"))
                    .unwrap_or_default()
            );
            if !incident.description.is_empty() {
                text.push_str(&format!("\n\n{}", incident.description));
            }
            if let Some(resolution) = &incident.resolution {
                text.push_str(&format!("\n\nResolution: {resolution}"));
            }
            text
        }
        // The incident's length and the service's downtime are different
        // figures (docs/figures.md): say which is which.
        Section::Impact => {
            let down = outage_minutes.map_or_else(
                || " It was not marked as an outage, so it counts no downtime.".to_string(),
                |m| {
                    format!(
                        " The service was down for {} of it (marked as an outage; this is what availability counts).",
                        format_duration(Duration::minutes(m))
                    )
                },
            );
            match (&incident.service, duration) {
                (Some(service), Some(d)) => {
                    format!("Service {service}: the incident lasted {d} from report to resolution.{down}")
                }
                (None, Some(d)) => {
                    format!(
                        "The incident lasted {d} from report to resolution; no service was named."
                    )
                }
                (_, None) => "Still unresolved.".to_string(),
            }
        }
        Section::RootCause => joined(&|p| p.root_cause.as_ref()),
        Section::Workaround => joined(&|p| p.workaround.as_ref()),
        Section::WentWell | Section::WentWrong | Section::Lessons => String::new(),
    };
    if text.is_empty() {
        format!(
            "_Not written yet: `/incident {} postmortem set {section} <text>`._",
            incident.reference()
        )
    } else {
        text
    }
}

/// When a P1/P2 incident resolved at `resolved_at` is owed a review: the
/// same wall-clock time `days` working days later in `calendar` (so a
/// Friday-afternoon resolve is due on Tuesday afternoon). Lower priorities
/// owe none.
pub fn review_due(
    priority: Priority,
    resolved_at: DateTime<Utc>,
    calendar: &BusinessCalendar,
    days: u32,
) -> Option<DateTime<Utc>> {
    if !matches!(priority, Priority::P1 | Priority::P2) {
        return None;
    }
    let mut at = resolved_at;
    let mut counted = 0;
    // A calendar always has a working day a week ahead, but holidays may
    // block more: give up after a year rather than loop forever.
    for _ in 0..366 {
        if counted == days {
            return Some(at);
        }
        at += Duration::days(1);
        let local = at.with_timezone(&calendar.time_zone()).date_naive();
        if calendar.is_working_day(local) {
            counted += 1;
        }
    }
    (counted == days).then_some(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn sections_parse_by_name_and_refuse_others_listing_them() {
        assert_eq!("root-cause".parse::<Section>(), Ok(Section::RootCause));
        assert_eq!("Lessons".parse::<Section>(), Ok(Section::Lessons));
        let err = "timeline".parse::<Section>().unwrap_err().to_string();
        assert!(err.contains("summary, impact, root_cause"), "{err}");
    }

    #[test]
    fn a_review_is_due_two_working_days_after_resolve() {
        let office = BusinessCalendar::office_utc();
        // Friday 2026-11-27 15:00 → Tuesday 2026-12-01 15:00.
        let friday = Utc.with_ymd_and_hms(2026, 11, 27, 15, 0, 0).unwrap();
        assert_eq!(
            review_due(Priority::P1, friday, &office, 2),
            Some(Utc.with_ymd_and_hms(2026, 12, 1, 15, 0, 0).unwrap())
        );
        assert_eq!(review_due(Priority::P3, friday, &office, 2), None);
    }

    #[test]
    fn action_items_show_owner_due_and_overdue() {
        let item = ActionItem {
            id: 4,
            incident: "INC-1".into(),
            text: "Alert on VPN capacity".into(),
            owner: Some("shell:bob".parse().unwrap()),
            due: NaiveDate::from_ymd_opt(2026, 12, 4),
            done_at: None,
            raised_as: None,
        };
        let today = NaiveDate::from_ymd_opt(2026, 12, 5).unwrap();
        assert_eq!(
            item.line(today),
            "#4 Alert on VPN capacity — shell:bob, due 2026-12-04 (overdue)"
        );
        assert!(parse_due("2026-13-01").is_err());
    }

    #[test]
    fn an_action_item_is_raised_once_and_only_while_open() {
        let mut item = ActionItem {
            id: 4,
            incident: "INC-1".into(),
            text: "Alert on VPN capacity".into(),
            owner: Some("shell:bob".parse().unwrap()),
            due: NaiveDate::from_ymd_opt(2026, 12, 4),
            done_at: None,
            raised_as: None,
        };
        assert_eq!(item.check_raise(chrono_tz::Tz::UTC), Ok(()));
        assert_eq!(
            item.raised_description(),
            "Raised from action item #4 of the review of INC-1. Owner: shell:bob. Due: 2026-12-04."
        );
        let problem: TicketRef = "PRB-2".parse().unwrap();
        item.raised_as = Some(problem);
        assert_eq!(
            item.check_raise(chrono_tz::Tz::UTC)
                .unwrap_err()
                .to_string(),
            "action item #4 was already raised as PRB-2"
        );
        let today = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        assert_eq!(
            item.line(today),
            "#4 Alert on VPN capacity — shell:bob, due 2026-12-04, raised as PRB-2"
        );
        item.raised_as = None;
        item.done_at = Some(Utc.with_ymd_and_hms(2026, 12, 2, 10, 0, 0).unwrap());
        assert!(matches!(
            item.check_raise(chrono_tz::Tz::UTC),
            Err(PostmortemError::AlreadyDone { id: 4, .. })
        ));
    }
}

//! How tickets look in replies.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::commands::reply::{Block, Message};
use crate::domain::alert::{AlertTally, ALERTS_ON_CARD};
use crate::domain::incident::Incident;
use crate::domain::moment;
use crate::domain::sla::{ClockView, SlaClock};
use crate::domain::timeline::Event;
use crate::domain::UserId;

/// An instant as shown in a chat message: a stamp each platform writes
/// out in its reader's zone, `zone` (the team's) where it cannot.
pub fn when(at: DateTime<Utc>, zone: Tz) -> String {
    moment::stamp(at, zone)
}

/// One timeline entry: `2026-11-25 09:00 UTC  Alertmanager  created …`,
/// the actor as people read it.
pub fn timeline_line(event: &Event, zone: Tz) -> String {
    format!(
        "{}  {}  {}",
        when(event.at, zone),
        event.actor.display_name(),
        event.describe()
    )
}

/// One line for lists: `INC-3 P1 acknowledged — VPN down (shell:bob)`.
pub fn incident_line(incident: &Incident, zone: Tz) -> String {
    let assignee = incident
        .assignee
        .as_ref()
        .map_or_else(|| "unassigned".to_string(), UserId::display_name);
    format!(
        "{} {} {} — {} ({}, opened {})",
        incident.reference(),
        incident.priority,
        incident.status,
        incident.title,
        assignee,
        when(incident.created_at, zone)
    )
}

/// The fields that sum an incident up.
pub fn incident_fields(incident: &Incident) -> Block {
    let mut fields = vec![
        ("Priority".to_string(), incident.priority.to_string()),
        ("Status".to_string(), incident.status.to_string()),
    ];
    if let Some(service) = &incident.service {
        fields.push(("Service".to_string(), service.clone()));
    }
    if let Some(assignee) = &incident.assignee {
        fields.push(("Assignee".to_string(), assignee.display_name()));
    }
    Block::Fields(fields)
}

/// The incident's free text: description, hold reason, resolution.
fn incident_texts(incident: &Incident) -> Vec<Block> {
    let mut texts = Vec::new();
    if !incident.description.is_empty() {
        texts.push(Block::Text(incident.description.clone()));
    }
    if let Some(reason) = &incident.hold_reason {
        texts.push(Block::Text(format!("On hold: {reason}")));
    }
    if let Some(resolution) = &incident.resolution {
        texts.push(Block::Text(format!("Resolution: {resolution}")));
    }
    texts
}

/// What a card or `show` says of the alerts behind an incident: the counts,
/// the first alerts by name and, when there are more, where the rest are.
pub fn alerts_block(incident: &Incident, tally: &AlertTally, shown: usize) -> Option<Block> {
    if tally.total() <= 1 {
        // One alert is the incident itself: its title and description say it.
        return None;
    }
    let mut items: Vec<String> = tally
        .first
        .iter()
        .take(shown)
        .map(|(name, status)| format!("{name} ({status})"))
        .collect();
    let listed = i64::try_from(items.len()).unwrap_or(i64::MAX);
    if tally.total() > listed {
        items.push(format!(
            "… and {} more: `/incident {} show`, or GET /api/v1/incidents/{}/alerts",
            tally.total() - listed,
            incident.reference(),
            incident.reference()
        ));
    }
    Some(Block::List {
        title: Some(format!(
            "Alerts: {} firing, {} resolved",
            tally.firing, tally.resolved
        )),
        items,
    })
}

/// The card that shows an incident in a channel, with the buttons that
/// fit its status; an incident opened by a group of alerts lists them.
/// Every change re-renders it in place.
pub fn incident_message(
    incident: &Incident,
    clocks: &[ClockView],
    alerts: Option<&AlertTally>,
    zone: Tz,
) -> Message {
    use crate::commands::buttons::{Button, ButtonAction, ButtonStyle};
    use crate::domain::incident::IncidentStatus;
    let reference = incident.reference();
    let mut fields = vec![
        ("Priority".to_string(), incident.priority.to_string()),
        ("Status".to_string(), incident.status.to_string()),
        (
            "Assignee".to_string(),
            incident
                .assignee
                .as_ref()
                .map_or_else(|| "unassigned".to_string(), UserId::display_name),
        ),
    ];
    if let Some(service) = &incident.service {
        fields.push(("Service".to_string(), service.clone()));
    }
    let mut message = Message::default()
        .with(Block::Header(format!("{reference} · {}", incident.title)))
        .with(Block::Fields(fields));
    message.blocks.extend(incident_texts(incident));
    if let Some(block) = alerts.and_then(|tally| alerts_block(incident, tally, ALERTS_ON_CARD)) {
        message = message.with(block);
    }
    if incident.status.is_open() && !clocks.is_empty() {
        message = message.with(Block::Text(format!(
            "SLA: {}",
            clock_lines(clocks, zone).join(" · ")
        )));
    }
    message = message.with(Block::Context(format!(
        "Reported by {} · opened {}",
        incident.reporter.display_name(),
        when(incident.created_at, zone)
    )));
    let button = |label: &str, action, style| Button {
        label: label.to_string(),
        action,
        style,
    };
    let buttons = match incident.status {
        IncidentStatus::New => vec![
            button(
                "Acknowledge",
                ButtonAction::Acknowledge(reference),
                ButtonStyle::Primary,
            ),
            button(
                "Assign to me",
                ButtonAction::AssignToMe(reference),
                ButtonStyle::Default,
            ),
            button(
                "Resolve",
                ButtonAction::Resolve(reference),
                ButtonStyle::Default,
            ),
        ],
        IncidentStatus::Acknowledged | IncidentStatus::OnHold => vec![
            button(
                "Assign to me",
                ButtonAction::AssignToMe(reference),
                ButtonStyle::Default,
            ),
            button(
                "Resolve",
                ButtonAction::Resolve(reference),
                ButtonStyle::Primary,
            ),
        ],
        IncidentStatus::Resolved | IncidentStatus::Closed => Vec::new(),
    };
    if !buttons.is_empty() {
        message = message.with(Block::Actions(buttons));
    }
    message
}

/// The satisfaction survey sent to a reporter after resolve.
pub fn survey_message(incident: &Incident) -> Message {
    use crate::commands::buttons::{Button, ButtonAction, ButtonStyle};
    let reference = incident.reference();
    Message::default()
        .with(Block::Text(format!(
            "{reference} ({}) was resolved: {}. How happy are you with how it was handled? 1 is poor, 5 is excellent.",
            incident.title,
            incident.resolution.as_deref().unwrap_or("no resolution given")
        )))
        .with(Block::Actions(
            (1..=5)
                .map(|score| Button {
                    label: score.to_string(),
                    action: ButtonAction::Rate(reference, score),
                    style: ButtonStyle::Default,
                })
                .collect(),
        ))
}

/// The SLA policy as `/itsm sla` shows it.
pub fn sla_policy(policy: &crate::domain::sla::SlaPolicy) -> Message {
    use crate::domain::calendar::Hours;
    use crate::domain::duration::format_duration;
    use crate::domain::Priority;
    let items = Priority::ALL
        .iter()
        .filter_map(|priority| {
            let target = policy.target(*priority)?;
            Some(match &target.hours {
                Hours::AroundTheClock => format!(
                    "{priority}: respond within {}, resolve within {}, around the clock",
                    format_duration(target.respond),
                    format_duration(target.resolve)
                ),
                Hours::Business(calendar) => format!(
                    "{priority}: respond within {}, resolve within {} ({})",
                    business_time(target.respond),
                    business_time(target.resolve),
                    calendar.describe()
                ),
            })
        })
        .collect();
    let warn: Vec<String> = policy.warn_at().iter().map(|p| format!("{p}%")).collect();
    Message::default()
        .with(Block::List {
            title: Some("SLA targets".to_string()),
            items,
        })
        .with(Block::Context(format!(
            "Warnings at {} of a target, then a breach alert. Time on hold does not count towards resolving.",
            warn.join(" and ")
        )))
}

/// Working time as people count it: `24 business hours`, `1 business
/// hour`, `30 business minutes`, `1h30m of business hours`. Not in days: a
/// day of business hours is not a calendar day.
fn business_time(amount: chrono::Duration) -> String {
    let minutes = amount.num_minutes();
    let plural = |n: i64, unit: &str| {
        if n == 1 {
            format!("1 business {unit}")
        } else {
            format!("{n} business {unit}s")
        }
    };
    if amount == chrono::Duration::minutes(minutes) && minutes % 60 == 0 {
        plural(minutes / 60, "hour")
    } else if amount == chrono::Duration::minutes(minutes) && minutes < 60 {
        plural(minutes, "minute")
    } else {
        format!(
            "{} of business hours",
            crate::domain::duration::format_duration(amount)
        )
    }
}

/// "Respond by … · resolve by …" for a new incident.
pub fn due_line(clocks: &[ClockView], zone: Tz) -> String {
    let parts: Vec<String> = clocks
        .iter()
        .filter_map(|clock| {
            let verb = match clock.clock {
                SlaClock::Respond => "Respond by",
                SlaClock::Resolve => "resolve by",
            };
            clock
                .due_at
                .map(|due| format!("{verb} {}", when(due, zone)))
        })
        .collect();
    if parts.is_empty() {
        "No SLA clocks running.".to_string()
    } else {
        parts.join(" · ")
    }
}

/// One line per SLA clock: "response (15m): due … (40% used)".
pub fn clock_lines(clocks: &[ClockView], zone: Tz) -> Vec<String> {
    clocks
        .iter()
        .map(|clock| {
            format!(
                "{} ({}): {}",
                clock.clock.noun(),
                crate::domain::duration::format_duration(clock.target),
                clock.describe(zone)
            )
        })
        .collect()
}

/// The whole ticket with its SLA clocks and timeline.
pub fn incident_card(
    incident: &Incident,
    events: &[Event],
    clocks: &[ClockView],
    alerts: Option<&AlertTally>,
    zone: Tz,
) -> Message {
    let mut details = vec![
        (
            "Impact / urgency".to_string(),
            format!("{} / {}", incident.impact, incident.urgency),
        ),
        ("Reporter".to_string(), incident.reporter.display_name()),
        (
            "Reported in".to_string(),
            format!("{} #{}", incident.origin.platform, incident.origin.channel),
        ),
        ("Opened".to_string(), when(incident.created_at, zone)),
    ];
    let optional = [
        ("Acknowledged", incident.acknowledged_at),
        ("Resolved", incident.resolved_at),
        ("Closed", incident.closed_at),
    ];
    details.extend(
        optional
            .into_iter()
            .filter_map(|(label, at)| at.map(|at| (label.to_string(), when(at, zone)))),
    );
    let mut message = Message::default()
        .with(Block::Header(format!(
            "{} · {}",
            incident.reference(),
            incident.title
        )))
        .with(incident_fields(incident))
        .with(Block::Fields(details));
    message.blocks.extend(incident_texts(incident));
    if let Some(block) = alerts.and_then(|tally| alerts_block(incident, tally, tally.first.len())) {
        message = message.with(block);
    }
    if !clocks.is_empty() {
        message = message.with(Block::List {
            title: Some("SLA".to_string()),
            items: clock_lines(clocks, zone),
        });
    }
    message.with(Block::List {
        title: Some(format!("Timeline ({} events)", events.len())),
        items: events.iter().map(|e| timeline_line(e, zone)).collect(),
    })
}

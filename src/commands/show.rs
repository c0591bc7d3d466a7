//! How tickets look in replies.

use chrono::{DateTime, Utc};

use super::reply::{Block, Message};
use crate::domain::incident::Incident;
use crate::domain::timeline::Event;

/// An instant as shown to people.
pub fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// One line for lists: `INC-3 P1 acknowledged — VPN down (shell:bob)`.
pub fn incident_line(incident: &Incident) -> String {
    let assignee = incident
        .assignee
        .as_ref()
        .map_or_else(|| "unassigned".to_string(), ToString::to_string);
    format!(
        "{} {} {} — {} ({}, opened {})",
        incident.reference(),
        incident.priority,
        incident.status,
        incident.title,
        assignee,
        when(incident.created_at)
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
        fields.push(("Assignee".to_string(), assignee.to_string()));
    }
    Block::Fields(fields)
}

/// The card that shows an incident in a channel, with the buttons that
/// fit its status. Every change re-renders it in place.
pub fn incident_message(incident: &Incident) -> Message {
    use super::actions::{Button, ButtonAction, ButtonStyle};
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
                .map_or_else(|| "unassigned".to_string(), ToString::to_string),
        ),
    ];
    if let Some(service) = &incident.service {
        fields.push(("Service".to_string(), service.clone()));
    }
    let mut message = Message::default()
        .with(Block::Header(format!("{reference} · {}", incident.title)))
        .with(Block::Fields(fields));
    if !incident.description.is_empty() {
        message = message.with(Block::Text(incident.description.clone()));
    }
    if let Some(reason) = &incident.hold_reason {
        message = message.with(Block::Text(format!("On hold: {reason}")));
    }
    if let Some(resolution) = &incident.resolution {
        message = message.with(Block::Text(format!("Resolution: {resolution}")));
    }
    message = message.with(Block::Context(format!(
        "Reported by {} · opened {}",
        incident.reporter,
        when(incident.created_at)
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
    use super::actions::{Button, ButtonAction, ButtonStyle};
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

/// The whole ticket with its timeline.
pub fn incident_card(incident: &Incident, events: &[Event]) -> Message {
    let mut details = vec![
        (
            "Impact / urgency".to_string(),
            format!("{} / {}", incident.impact, incident.urgency),
        ),
        ("Reporter".to_string(), incident.reporter.to_string()),
        (
            "Reported in".to_string(),
            format!("{} #{}", incident.origin.platform, incident.origin.channel),
        ),
        ("Opened".to_string(), when(incident.created_at)),
    ];
    let optional = [
        ("Acknowledged", incident.acknowledged_at),
        ("Resolved", incident.resolved_at),
        ("Closed", incident.closed_at),
    ];
    details.extend(
        optional
            .into_iter()
            .filter_map(|(label, at)| at.map(|at| (label.to_string(), when(at)))),
    );
    let mut message = Message::default()
        .with(Block::Header(format!(
            "{} · {}",
            incident.reference(),
            incident.title
        )))
        .with(incident_fields(incident))
        .with(Block::Fields(details));
    if !incident.description.is_empty() {
        message = message.with(Block::Text(incident.description.clone()));
    }
    if let Some(reason) = &incident.hold_reason {
        message = message.with(Block::Text(format!("On hold: {reason}")));
    }
    if let Some(resolution) = &incident.resolution {
        message = message.with(Block::Text(format!("Resolution: {resolution}")));
    }
    message.with(Block::List {
        title: Some(format!("Timeline ({} events)", events.len())),
        items: events
            .iter()
            .map(|event| format!("{}  {}  {}", when(event.at), event.actor, event.describe()))
            .collect(),
    })
}

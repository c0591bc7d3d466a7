//! How service requests look: the catalog, list lines, the card posted to
//! the team's channel, and the whole record for `/request REQ-n show`.

use chrono_tz::Tz;

use super::incident::{timeline_line, when};
use crate::commands::reply::{Block, Message};
use crate::config::RequestsConfig;
use crate::domain::duration::format_duration;
use crate::domain::request::{
    fulfil_clock, holds_of, CatalogItem, FulfilClock, RequestStatus, ServiceRequest,
};
use crate::domain::timeline::Event;

/// The catalog for `/request`: each item with its form.
pub fn catalog(items: &[CatalogItem]) -> Message {
    if items.is_empty() {
        return Message::text(
            "The service catalog is empty: an admin adds items under `[[requests.catalog]]` in the configuration.",
        );
    }
    let mut message = Message::default().with(Block::Header("Service catalog".into()));
    message = message.with(Block::List {
        title: None,
        items: items
            .iter()
            .map(|item| {
                let description = if item.description.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", item.description)
                };
                let approval = if item.approval.is_empty() {
                    "no approval".to_string()
                } else {
                    format!("approved by {}", item.approvers())
                };
                format!(
                    "`{}` {}{description} · {approval} · `{}`",
                    item.name,
                    item.title,
                    item.usage()
                )
            })
            .collect(),
    });
    message.with(Block::Context(
        "Values with spaces are quoted: `reason:\"new starter\"`; words that are not fields are kept as details.".into(),
    ))
}

/// One line for lists: `REQ-3 awaiting_approval · laptop — New or replacement laptop (shell:eve)`.
pub fn request_line(request: &ServiceRequest, item: Option<&CatalogItem>) -> String {
    let progress = match item {
        Some(item) if !item.tasks.is_empty() && request.status == RequestStatus::InProgress => {
            format!(" · {}/{} tasks", request.tasks_done.len(), item.tasks.len())
        }
        _ => String::new(),
    };
    let taker = request
        .assignee
        .as_ref()
        .map(|a| format!(", taken by {}", a.display_name()))
        .unwrap_or_default();
    format!(
        "{} {} · {}{progress} — {} (for {}{taker})",
        request.reference(),
        request.status,
        request.item,
        request.title,
        request.requester.display_name()
    )
}

/// The fulfilment clock of `request` at `now`, when its item has
/// `fulfil_within`; `events` is its timeline (for the holds).
pub fn clock_of(
    settings: &RequestsConfig,
    request: &ServiceRequest,
    events: &[Event],
    now: chrono::DateTime<chrono::Utc>,
) -> Option<FulfilClock> {
    let item = settings.item(&request.item)?;
    let within = item.fulfil_within?;
    Some(fulfil_clock(
        request.approved_at,
        request.fulfilled_at,
        within,
        &settings.hours(item),
        &holds_of(events),
        now,
    ))
}

/// The clock as a card field.
fn clock_text(clock: FulfilClock, zone: Tz, now: chrono::DateTime<chrono::Utc>) -> String {
    match clock {
        FulfilClock::NotStarted => "starts at approval".into(),
        FulfilClock::Due(due) if due <= now => format!("⚠️ overdue since {}", when(due, zone)),
        FulfilClock::Due(due) => format!("by {}", when(due, zone)),
        FulfilClock::Paused { left } => format!(
            "paused on hold, {} of business time left",
            format_duration(left.max(chrono::Duration::zero()))
        ),
        FulfilClock::Stopped { met: true, .. } => "met".into(),
        FulfilClock::Stopped { met: false, .. } => "missed".into(),
    }
}

/// The request's fields, approvals and tasks: the card and `show` share it.
/// `clock` is its fulfilment clock at `now`, when its item has one.
pub fn request_message(
    request: &ServiceRequest,
    item: Option<&CatalogItem>,
    clock: Option<FulfilClock>,
    zone: Tz,
    now: chrono::DateTime<chrono::Utc>,
) -> Message {
    let mut fields = vec![
        ("Status".to_string(), request.status.to_string()),
        ("Item".to_string(), request.item.clone()),
        ("Requested by".to_string(), request.requester.display_name()),
        ("Asked".to_string(), when(request.created_at, zone)),
    ];
    if let Some(assignee) = &request.assignee {
        fields.push(("Taken by".into(), assignee.display_name()));
    }
    if let Some(clock) = clock {
        fields.push(("Fulfil".into(), clock_text(clock, zone, now)));
    }
    for (name, value) in &request.fields {
        fields.push((name.clone(), value.clone()));
    }
    let mut message = Message::default()
        .with(Block::Header(format!(
            "{} · {}",
            request.reference(),
            request.title
        )))
        .with(Block::Fields(fields));
    if !request.description.is_empty() {
        message = message.with(Block::Text(request.description.clone()));
    }
    if let Some(item) = item {
        if !item.approval.is_empty() {
            let mut lines: Vec<String> = request
                .approvals
                .iter()
                .map(|a| {
                    let comment = a
                        .comment
                        .as_deref()
                        .map(|c| format!(": {c}"))
                        .unwrap_or_default();
                    format!(
                        "✅ {}  {}{comment}",
                        when(a.at, zone),
                        a.approver.display_name()
                    )
                })
                .collect();
            if request.status == RequestStatus::AwaitingApproval {
                lines.push(format!(
                    "{} of {} needed, from {}",
                    request.approvals.len(),
                    item.approvals_needed,
                    item.approvers()
                ));
            }
            message = message.with(Block::List {
                title: Some("Approval".into()),
                items: lines,
            });
        }
        if !item.tasks.is_empty() {
            message = message.with(Block::List {
                title: Some("Tasks".into()),
                items: item
                    .tasks
                    .iter()
                    .enumerate()
                    .map(|(i, task)| {
                        let done = request.tasks_done.contains(&(i as u32 + 1));
                        format!("{} {}. {task}", if done { "☑" } else { "☐" }, i + 1)
                    })
                    .collect(),
            });
        }
    }
    if let Some(reason) = &request.reason {
        if matches!(
            request.status,
            RequestStatus::Rejected | RequestStatus::Cancelled | RequestStatus::OnHold
        ) {
            message = message.with(Block::Text(format!("Why: {reason}")));
        }
    }
    if let Some(outcome) = &request.outcome {
        message = message.with(Block::Text(format!("Fulfilled: {outcome}")));
    }
    message.with(Block::Context(next_step(request)))
}

/// What happens next, as the commands that do it.
fn next_step(request: &ServiceRequest) -> String {
    let reference = request.reference();
    match request.status {
        RequestStatus::AwaitingApproval => format!(
            "Approvers: `/request {reference} approve [comment]` or `/request {reference} reject <reason>`."
        ),
        RequestStatus::Approved => format!("Team: `/request {reference} take`."),
        RequestStatus::InProgress => format!(
            "Team: `/request {reference} task <k> done`, then `/request {reference} fulfil [note]`."
        ),
        RequestStatus::OnHold => format!("`/request {reference} resume` when the answer is in."),
        RequestStatus::Fulfilled => format!("`/request {reference} close` once all is well."),
        RequestStatus::Closed | RequestStatus::Rejected | RequestStatus::Cancelled => {
            "Closed.".into()
        }
    }
}

/// The whole request with its timeline, for `show`.
pub fn request_card(
    settings: &RequestsConfig,
    request: &ServiceRequest,
    events: &[Event],
    zone: Tz,
    now: chrono::DateTime<chrono::Utc>,
) -> Message {
    let item = settings.item(&request.item);
    let clock = clock_of(settings, request, events, now);
    request_message(request, item, clock, zone, now).with(Block::List {
        title: Some(format!("Timeline ({} events)", events.len())),
        items: events.iter().map(|e| timeline_line(e, zone)).collect(),
    })
}

//! How service requests look: the catalog, list lines, the card posted to
//! the team's channel, and the whole record for `/request REQ-n show`.

use chrono_tz::Tz;

use super::incident::{timeline_line, when};
use crate::commands::buttons::{Button, ButtonAction, ButtonStyle};
use crate::commands::reply::{Block, Message};
use crate::config::RequestsConfig;
use crate::domain::channel::ChannelRef;
use crate::domain::duration::format_business;
use crate::domain::request::RequestAction;
use crate::domain::request::{
    fulfil_clock, holds_of, CatalogItem, FulfilClock, RequestStatus, ServiceRequest,
};
use crate::domain::timeline::Event;
use crate::domain::{Platform, UserId};

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
fn clock_text(
    clock: FulfilClock,
    day: chrono::Duration,
    zone: Tz,
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    match clock {
        FulfilClock::NotStarted => "starts at approval".into(),
        FulfilClock::Due(due) if due <= now => format!("⚠️ overdue since {}", when(due, zone)),
        FulfilClock::Due(due) => format!("by {}", when(due, zone)),
        FulfilClock::Paused { left } => format!(
            "paused on hold, {} of business time left",
            format_business(left.max(chrono::Duration::zero()), day)
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
        let day = item.map_or(chrono::Duration::hours(8), |item| item.business_day);
        fields.push(("Fulfil".into(), clock_text(clock, day, zone, now)));
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

/// The team's channel of `item`, when it names one on a platform the bot
/// posts to (`channel`, else `requests.channel`; a shell channel has no
/// card to edit, so it counts as none).
fn team_channel(item: Option<&CatalogItem>) -> Option<&ChannelRef> {
    item.and_then(|item| item.channel.as_ref())
        .filter(|c| matches!(c.platform, Platform::Slack | Platform::Discord))
}

/// The platform where `request`'s card lives: its team's channel's, else
/// the one it was asked on.
pub fn card_platform(request: &ServiceRequest, item: Option<&CatalogItem>) -> Platform {
    team_channel(item).map_or(request.origin.platform, |c| c.platform)
}

/// Where `request`'s card goes on `platform` (channel, thread): the team's
/// channel, or without one where it was asked; `None` when it has no place
/// there.
pub fn card_home(
    request: &ServiceRequest,
    item: Option<&CatalogItem>,
    platform: Platform,
) -> Option<(String, Option<String>)> {
    match team_channel(item) {
        Some(team) if team.platform == platform => Some((team.channel.clone(), None)),
        Some(_) => None,
        None if request.origin.platform == platform => Some((
            request.origin.channel.clone(),
            request.origin.thread.clone(),
        )),
        None => None,
    }
}

/// The card in the team's channel: the request with the team's buttons,
/// Take while approved and Done for the next task left while in progress.
/// Approvers get their buttons by direct message ([`approval_message`]).
pub fn team_card(
    request: &ServiceRequest,
    item: Option<&CatalogItem>,
    clock: Option<FulfilClock>,
    zone: Tz,
    now: chrono::DateTime<chrono::Utc>,
) -> Message {
    let message = request_message(request, item, clock, zone, now);
    let reference = request.reference();
    let button = match (request.status, item) {
        (RequestStatus::Approved, _) => Some(Button {
            label: "Take".into(),
            action: ButtonAction::Take(reference),
            style: ButtonStyle::Primary,
        }),
        (RequestStatus::InProgress, Some(item)) => (1..=item.tasks.len() as u32)
            .zip(item.tasks.iter())
            .find(|(k, _)| !request.tasks_done.contains(k))
            .map(|(k, task)| Button {
                label: format!("Done: {k}. {task}").chars().take(75).collect(),
                action: ButtonAction::TaskDone(reference, k),
                style: ButtonStyle::Default,
            }),
        _ => None,
    };
    match button {
        Some(button) => message.with(Block::Actions(vec![button])),
        None => message,
    }
}

/// What each approver is sent directly: the request, and Approve / Reject
/// buttons (Reject asks for the reason in a form).
pub fn approval_message(request: &ServiceRequest, item: &CatalogItem, zone: Tz) -> Message {
    let reference = request.reference();
    let mut fields = vec![
        ("Requested by".to_string(), request.requester.display_name()),
        ("Asked".to_string(), when(request.created_at, zone)),
    ];
    fields.extend(request.fields.iter().map(|(k, v)| (k.clone(), v.clone())));
    let mut message = Message::default()
        .with(Block::Header(format!(
            "Approval asked: {reference} · {}",
            request.title
        )))
        .with(Block::Fields(fields));
    if !request.description.is_empty() {
        message = message.with(Block::Text(request.description.clone()));
    }
    message
        .with(Block::Text(format!(
            "You are an approver of `{}` requests ({} needed, from {}).",
            item.name,
            item.approvals_needed,
            item.approvers()
        )))
        .with(Block::Actions(vec![
            Button {
                label: "Approve".into(),
                action: ButtonAction::Approve(reference),
                style: ButtonStyle::Primary,
            },
            Button {
                label: "Reject".into(),
                action: ButtonAction::Reject(reference),
                style: ButtonStyle::Danger,
            },
        ]))
        .with(Block::Context(format!(
            "Or type `/request {reference} approve [comment]` · `/request {reference} reject <reason>`."
        )))
}

/// The requester's satisfaction survey after fulfilment: 1–5 buttons, as
/// after an incident's resolution.
pub fn survey_message(request: &ServiceRequest) -> Message {
    let reference = request.reference();
    Message::default()
        .with(Block::Text(format!(
            "{reference} ({}) was fulfilled{}. How happy are you with how it was handled? 1 is poor, 5 is excellent.",
            request.title,
            request
                .outcome
                .as_deref()
                .map(|o| format!(": {o}"))
                .unwrap_or_default()
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
        .with(Block::Context(format!("Or type `/request {reference} rate <1-5>`.")))
}

/// Where the requester hears of each step: in the thread of the message
/// they asked with (or the thread they asked in), else by direct message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequesterHome {
    Thread { channel: ChannelRef, thread: String },
    Direct(UserId),
}

/// Where `request`'s requester hears of its steps.
pub fn requester_home(request: &ServiceRequest) -> RequesterHome {
    match request
        .origin
        .thread
        .as_ref()
        .or(request.origin.message.as_ref())
    {
        Some(thread) => RequesterHome::Thread {
            channel: ChannelRef {
                platform: request.origin.platform,
                channel: request.origin.channel.clone(),
            },
            thread: thread.clone(),
        },
        None => RequesterHome::Direct(request.requester.clone()),
    }
}

/// What the requester is told when `action` by `actor` moved `request`
/// (as it is after it), or `None` when it is nothing they need to hear
/// (a note, a partial approval, their own doing).
pub fn step_notice(
    request: &ServiceRequest,
    before: RequestStatus,
    action: &RequestAction,
    actor: &UserId,
    item: Option<&CatalogItem>,
) -> Option<Message> {
    let reference = request.reference();
    let by = actor.display_name();
    let runbook = matches!(
        action,
        RequestAction::RunbookDone { .. } | RequestAction::RunbookFailed { .. }
    );
    if actor == &request.requester && !runbook {
        return None;
    }
    let left = |item: Option<&CatalogItem>| {
        item.map(|item| request.remaining_tasks(item))
            .unwrap_or_default()
    };
    let text = match action {
        RequestAction::Approve(_)
            if before == RequestStatus::AwaitingApproval
                && request.status != RequestStatus::AwaitingApproval =>
        {
            format!("✅ {reference} ({}) is approved; the team takes it next.", request.title)
        }
        RequestAction::Reject(reason) => {
            format!("❌ {reference} ({}) was rejected by {by}: {reason}", request.title)
        }
        RequestAction::Take => format!("🛠️ {by} took {reference} ({}).", request.title),
        RequestAction::TaskDone(k) => {
            let task = item
                .and_then(|item| item.tasks.get(*k as usize - 1))
                .map(|t| format!(" ({t})"))
                .unwrap_or_default();
            let left = left(item);
            if left.is_empty() {
                format!("☑ {reference}: task {k}{task} done; every task is done.")
            } else {
                format!("☑ {reference}: task {k}{task} done; left: {}.", left.join(", "))
            }
        }
        RequestAction::Fulfil(note) => format!(
            "🎉 {reference} ({}) is fulfilled{}.",
            request.title,
            note.as_ref().map(|n| format!(": {n}")).unwrap_or_default()
        ),
        RequestAction::Cancel(why) => {
            format!("{reference} ({}) was cancelled by {by}: {why}", request.title)
        }
        RequestAction::Hold(why) => format!(
            "⏸️ {reference} waits on you: {why}. Answer here or to {by}; they resume it."
        ),
        RequestAction::Resume => format!("▶️ {reference} is moving again ({}).", request.status),
        RequestAction::RunbookDone { runbook, answer } => format!(
            "🤖 {reference}: `{runbook}` answered: {answer}. It is {}.",
            request.status
        ),
        RequestAction::RunbookFailed { runbook, error } => format!(
            "⚠️ {reference}: `{runbook}` failed ({error}); the team is told and finishes it by hand."
        ),
        RequestAction::Approve(_) | RequestAction::Note(_) | RequestAction::Close => return None,
    };
    Some(Message::text(text).with(Block::Context(format!(
        "`/request {reference} show` has the whole record."
    ))))
}

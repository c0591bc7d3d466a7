//! How change requests look: list lines, the CAB card with its buttons, and
//! the whole record for `/change CHG-n show`.

use super::incident::when;
use crate::commands::buttons::{Button, ButtonAction, ButtonStyle};
use crate::commands::reply::{Block, Message};
use crate::config::ChangeConfig;
use crate::domain::change::{Change, ChangeRules, ChangeStatus, RiskBasis};
use crate::domain::timeline::{Event, EventAction};
use crate::domain::Platform;
use crate::store::{self, StoreError};

/// The CAB card of `change` as it stands: the record, its flags (freeze,
/// overlap) and the buttons its state allows.
pub async fn cab_card(
    conn: &mut sqlx::PgConnection,
    settings: &ChangeConfig,
    change: &Change,
) -> Result<Message, StoreError> {
    let flags: Vec<String> = store::timeline::list(conn, change.id)
        .await?
        .into_iter()
        .filter(|event| event.action == EventAction::Flagged)
        .filter_map(|event| event.body)
        .collect();
    Ok(change_message(change, &settings.rules, &flags))
}

/// Where `change`'s CAB card goes on `platform` (channel, thread): the CAB
/// channel, or without one (or with one on another platform) where the
/// change was drafted; `None` when it has no place there.
pub fn cab_card_home(
    settings: &ChangeConfig,
    change: &Change,
    platform: Platform,
) -> Option<(String, Option<String>)> {
    match &settings.cab_channel {
        Some(cab) if cab.platform == platform => Some((cab.channel.clone(), None)),
        _ if change.origin.platform == platform => {
            Some((change.origin.channel.clone(), change.origin.thread.clone()))
        }
        _ => None,
    }
}

/// One line for lists: `CHG-3 approved normal · vpn · 2026-12-01 22:00 UTC for 2h — Upgrade firmware`.
pub fn change_line(change: &Change, zone: chrono_tz::Tz) -> String {
    let window = change
        .window
        .as_ref()
        .map_or_else(|| "no window".to_string(), |w| w.stamped(zone));
    let service = change
        .service
        .as_deref()
        .map(|s| format!(" · {s}"))
        .unwrap_or_default();
    let implementer = change
        .implementer
        .as_ref()
        .map(|i| format!(" ({})", i.display_name()))
        .unwrap_or_default();
    format!(
        "{} {} {}{service} · {window} — {}{implementer}",
        change.reference(),
        change.status,
        change.change_type,
        change.title
    )
}

/// The fields that sum a change up.
pub fn change_fields(change: &Change, rules: &ChangeRules) -> Block {
    let mut fields = vec![
        ("Status".to_string(), change.status.to_string()),
        ("Type".to_string(), change.change_type.to_string()),
        ("Risk".to_string(), risk_with_reason(change, rules)),
        (
            "Window".to_string(),
            change
                .window
                .as_ref()
                .map_or_else(|| "not set".to_string(), |w| w.stamped(rules.time_zone)),
        ),
    ];
    if let Some(service) = &change.service {
        fields.push(("Service".to_string(), service.clone()));
    }
    fields.push(("Requester".to_string(), change.requester.display_name()));
    if let Some(implementer) = &change.implementer {
        fields.push(("Implementer".to_string(), implementer.display_name()));
    }
    if change.change_type != crate::domain::change::ChangeType::Standard {
        fields.push(("Approvals".to_string(), approvals_summary(change, rules)));
    }
    Block::Fields(fields)
}

/// The risk with the reason it has it: `medium (impact medium, likelihood
/// medium)` from the matrix, ``low (standard change `restart-vpn`:
/// pre-approved)``, or `high (set by hand; the matrix gives medium for
/// impact medium, likelihood medium)`.
pub fn risk_with_reason(change: &Change, rules: &ChangeRules) -> String {
    let assessed = format!("impact {}, likelihood {}", change.impact, change.likelihood);
    let reason = match change.risk_basis(&rules.risk_matrix) {
        RiskBasis::Matrix => assessed,
        RiskBasis::Standard(name) => format!("standard change `{name}`: pre-approved"),
        RiskBasis::Runbook(name) => format!("standard change by the `{name}` runbook"),
        RiskBasis::Stated { matrix } => {
            format!("set by hand; the matrix gives {matrix} for {assessed}")
        }
    };
    format!("{} ({reason})", change.risk)
}

/// `1 of 2: shell:carol`.
pub fn approvals_summary(change: &Change, rules: &ChangeRules) -> String {
    let names: Vec<String> = change
        .approvals
        .iter()
        .map(|a| a.approver.display_name())
        .collect();
    let count = format!(
        "{} of {}",
        change.approvals.len(),
        change.approvals_needed(rules)
    );
    if names.is_empty() {
        count
    } else {
        format!("{count}: {}", names.join(", "))
    }
}

/// The plans and outcome, each a paragraph.
fn change_texts(change: &Change) -> Vec<Block> {
    let mut texts = Vec::new();
    if !change.description.is_empty() {
        texts.push(Block::Text(change.description.clone()));
    }
    let plans = [
        ("Plan", &change.plan),
        ("Test plan", &change.test_plan),
        ("Rollback plan", &change.rollback_plan),
    ];
    for (label, text) in plans {
        texts.push(Block::Text(format!(
            "{label}: {}",
            text.as_deref().unwrap_or("not set")
        )));
    }
    if let Some(reason) = &change.rejection {
        texts.push(Block::Text(format!("Rejected: {reason}")));
    }
    if let Some(outcome) = &change.outcome {
        let label = match change.status {
            ChangeStatus::Completed => "Review",
            ChangeStatus::Failed => "Failure",
            ChangeStatus::RolledBack => "Rollback",
            _ => "Outcome",
        };
        texts.push(Block::Text(format!("{label}: {outcome}")));
    }
    texts
}

/// The card that asks the CAB for a decision and shows the change as it
/// moves; every change re-renders it in place. `flags` are guard warnings
/// (freeze, overlaps) the approvers should see.
pub fn change_message(change: &Change, rules: &ChangeRules, flags: &[String]) -> Message {
    let reference = change.reference();
    let mut message = Message::default()
        .with(Block::Header(format!("{reference} · {}", change.title)))
        .with(change_fields(change, rules));
    message.blocks.extend(change_texts(change));
    for flag in flags {
        message = message.with(Block::Text(format!("⚠️ {flag}")));
    }
    let ask = match change.status {
        ChangeStatus::Submitted => {
            let role = change.approver_role();
            message = message.with(Block::Context(format!(
                "Waiting for {} more approval(s) from {role}. The requester cannot approve. `/change {reference} approve [comment]` or `reject <reason>`.",
                change
                    .approvals_needed(rules)
                    .saturating_sub(change.approvals.len() as u32)
            )));
            true
        }
        _ => {
            message = message.with(Block::Context(format!(
                "Requested by {} · drafted {}",
                change.requester.display_name(),
                when(change.created_at, rules.time_zone)
            )));
            false
        }
    };
    if ask {
        message = message.with(Block::Actions(vec![
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
        ]));
    }
    message
}

/// The whole change with its approvals and timeline, for `show`.
pub fn change_card(change: &Change, rules: &ChangeRules, events: &[Event]) -> Message {
    let mut message = Message::default()
        .with(Block::Header(format!(
            "{} · {}",
            change.reference(),
            change.title
        )))
        .with(change_fields(change, rules));
    if let Some(runbook) = change.runbook() {
        message = message.with(Block::Context(format!(
            "Standard change made by a run of the `{runbook}` runbook."
        )));
    } else if let Some(standard) = &change.standard {
        message = message.with(Block::Context(format!(
            "Standard change `{standard}` from the catalog."
        )));
    }
    message.blocks.extend(change_texts(change));
    if !change.approvals.is_empty() {
        message = message.with(Block::List {
            title: Some("Approvals".to_string()),
            items: change
                .approvals
                .iter()
                .map(|a| {
                    let comment = a
                        .comment
                        .as_deref()
                        .map(|c| format!(": {c}"))
                        .unwrap_or_default();
                    format!(
                        "{}  {}{comment}",
                        when(a.at, rules.time_zone),
                        a.approver.display_name()
                    )
                })
                .collect(),
        });
    }
    message.with(Block::List {
        title: Some(format!("Timeline ({} events)", events.len())),
        items: events
            .iter()
            .map(|e| super::incident::timeline_line(e, rules.time_zone))
            .collect(),
    })
}

//! The sweep: posts every SLA warning and breach that has come due, every
//! change reminder, on-call escalation and error-budget warning, once.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::commands::execute::rules;
use crate::commands::notice::{post, Posted};
use crate::commands::reply::{Block, Message};
use crate::commands::Engine;
use crate::domain::automation::Trigger;
use crate::domain::channel::ChannelRef;
use crate::domain::duration::format_duration;
use crate::domain::incident::Incident;
use crate::domain::sla::{ClockState, Pause, SlaClock};
use crate::store::sla::DueCheckpoint;
use crate::store::{self, StoreError};

/// Clock rows claimed per transaction.
const BATCH: i64 = 500;

/// Posts every threshold crossing due at `at` that was not posted before,
/// and returns what it posted. Safe to run on several replicas at once.
pub async fn sweep(engine: &Engine, at: DateTime<Utc>) -> Result<Vec<Posted>, StoreError> {
    let mut posted = Vec::new();
    loop {
        let mut tx = engine.store().begin().await?;
        let claimed = store::sla::claim_due(&mut tx, at, BATCH).await?;
        if claimed.is_empty() {
            break;
        }
        // Each claimed row's crossings due now (its own, and any later one
        // a late sweep also missed), and where the row goes next.
        let mut due = Vec::new();
        let mut moves = Vec::new();
        let mut incidents = HashMap::new();
        for row in &claimed {
            let Some(incident) = store::incidents::get_by_id(&mut tx, row.ticket_id).await? else {
                moves.push((row.ticket_id, row.clock, None));
                continue;
            };
            let pauses = store::sla::pauses(&mut tx, incident.id).await?;
            let (now_due, next) =
                engine
                    .sla_policy()
                    .advance(&incident, &pauses, row.checkpoint(), at);
            due.extend(
                now_due
                    .into_iter()
                    .map(|c| DueCheckpoint::of(row.ticket_id, c)),
            );
            moves.push((row.ticket_id, row.clock, next));
            incidents.insert(incident.id, (incident, pauses));
        }
        // Announced in the order they fell due.
        due.sort_by(|a, b| {
            (a.due_at, a.ticket_id, a.clock.as_str(), a.threshold).cmp(&(
                b.due_at,
                b.ticket_id,
                b.clock.as_str(),
                b.threshold,
            ))
        });
        for checkpoint in &due {
            let Some((incident, pauses)) = incidents.get(&checkpoint.ticket_id) else {
                continue;
            };
            // Warnings are for running clocks of open incidents; a breach is
            // announced whenever the clock is breached, even when it stopped
            // (late) before this sweep saw it: every breach a report counts
            // was announced.
            let state = engine
                .sla_policy()
                .clocks(incident, pauses, at)
                .into_iter()
                .find(|view| view.clock == checkpoint.clock)
                .map(|view| view.state);
            let wanted = if checkpoint.threshold >= 100 {
                matches!(state, Some(ClockState::Breached { .. }))
            } else {
                // A sweep that runs late (the bot was down) still posts the
                // warnings it missed, in order, before the breach.
                incident.status.is_open()
                    && matches!(
                        state,
                        Some(
                            ClockState::Running { .. }
                                | ClockState::Breached { stopped: false, .. }
                        )
                    )
            };
            if !wanted || !store::sla::record_notification(&mut tx, checkpoint, at).await? {
                continue;
            }
            engine
                .metrics()
                .sla_notification(checkpoint.threshold >= 100, checkpoint.clock.as_str());
            if checkpoint.threshold >= 100 {
                store::sla::record_breach(
                    &mut tx,
                    incident.id,
                    checkpoint.clock,
                    checkpoint.due_at,
                    at,
                )
                .await?;
            }
            posted.extend(announce(engine, &mut tx, incident, pauses, checkpoint, at).await?);
            let trigger = if checkpoint.threshold >= 100 {
                Trigger::SlaBreach
            } else {
                Trigger::SlaWarning
            };
            let mut facts = rules::incident_facts(trigger, incident, None, at);
            facts.detail = Some(format!(
                "{} {}%",
                checkpoint.clock.as_str(),
                checkpoint.threshold
            ));
            posted.extend(engine.fire_rules(&mut tx, &facts).await?.posted);
        }
        store::sla::advance(&mut tx, &moves).await?;
        tx.commit().await?;
    }
    if !posted.is_empty() {
        engine.outbox_signal().notify_waiters();
    }
    posted.extend(super::change_reminders::remind(engine, at).await?);
    posted.extend(super::escalation::escalate(engine, at).await?);
    posted.extend(super::budget::warn(engine, at).await?);
    posted.extend(super::review_reminders::remind(engine, at).await?);
    posted.extend(super::request_reminders::remind(engine, at).await?);
    posted.extend(super::request_clocks::warn(engine, at).await?);
    Ok(posted)
}

/// Writes the warning or breach to the incident's channel (in its thread)
/// and to the escalation channel.
async fn announce(
    engine: &Engine,
    conn: &mut sqlx::PgConnection,
    incident: &Incident,
    pauses: &[Pause],
    checkpoint: &DueCheckpoint,
    at: DateTime<Utc>,
) -> Result<Vec<Posted>, StoreError> {
    let policy = engine.sla_policy();
    let view = policy
        .clocks(incident, pauses, at)
        .into_iter()
        .find(|view| view.clock == checkpoint.clock);
    let target = view
        .as_ref()
        .map(|v| format_duration(v.target))
        .unwrap_or_default();
    let due = view
        .as_ref()
        .and_then(|v| v.due_at)
        .map(|d| crate::domain::moment::stamp(d, engine.zone()))
        .unwrap_or_else(|| "—".into());
    let who = match (&incident.assignee, &incident.service) {
        (Some(assignee), _) => Block::Mention {
            label: "Assignee:".into(),
            user: assignee.to_string(),
        },
        (None, Some(service)) => match store::services::owner_of(conn, service).await? {
            Some(owner) => Block::Mention {
                label: "Unassigned; service owner:".into(),
                user: owner,
            },
            None => Block::Context("Unassigned.".into()),
        },
        (None, None) => Block::Context("Unassigned.".into()),
    };
    let reference = incident.reference();
    let noun = checkpoint.clock.noun();
    let text = if checkpoint.threshold >= 100 {
        let late = match view.as_ref().map(|v| (&v.state, v.stopped_at)) {
            Some((ClockState::Breached { by, stopped: true }, Some(_))) => {
                format!(" It stopped {} late.", format_duration(*by))
            }
            _ => String::new(),
        };
        format!(
            "🚨 {reference} ({}) {} breached its {target} {noun} target (due {due}).{late}",
            incident.priority, incident.title
        )
    } else {
        let verb = match checkpoint.clock {
            SlaClock::Respond => "respond",
            SlaClock::Resolve => "resolve",
        };
        format!(
            "⚠️ {reference} ({}) {}: {}% of the {target} {noun} target used; {verb} by {due}.",
            incident.priority, incident.title, checkpoint.threshold
        )
    };
    let message = Message::text(text).with(who);
    // A sweep "as if at" a later instant still posts now.
    let queued_at = engine.clock().now();
    let mut posted = Vec::new();
    let origin = ChannelRef {
        platform: incident.origin.platform,
        channel: incident.origin.channel.clone(),
    };
    let thread = match store::messages::find(conn, incident.id, incident.origin.platform).await? {
        Some(card) => Some(card.thread),
        None => incident.origin.thread.clone(),
    };
    posted.push(
        post(
            conn,
            &origin,
            thread.as_deref(),
            &message,
            Some(incident.id),
            queued_at,
        )
        .await?,
    );
    if let Some(escalation) = &engine.config().sla.escalation_channel {
        if escalation != &origin {
            posted.push(
                post(
                    conn,
                    escalation,
                    None,
                    &message,
                    Some(incident.id),
                    queued_at,
                )
                .await?,
            );
        }
    }
    Ok(posted)
}

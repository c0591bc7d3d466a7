//! Approver reminders: a service request awaiting approval for
//! `requests.remind_approvers_after` (business time of its item's calendar)
//! reminds its approvers once where it was asked; after twice that, the
//! team is told once, in its channel (the item's `channel`, else
//! `requests.channel`) when it has one. Each reminder is claimed in `request_reminders`, so
//! several replicas post it once.

use chrono::{DateTime, Utc};

use crate::commands::notice::{post, Posted};
use crate::commands::reply::{Block, Message};
use crate::commands::Engine;
use crate::domain::channel::ChannelRef;
use crate::domain::duration::format_duration;
use crate::domain::request::{Approver, ServiceRequest};
use crate::store::{self, StoreError};

/// How many candidates one sweep reads.
const BATCH: i64 = 500;

/// Posts every approver reminder due at `at` not posted before.
pub async fn remind(engine: &Engine, at: DateTime<Utc>) -> Result<Vec<Posted>, StoreError> {
    let settings = &engine.config().requests;
    if settings.items.is_empty() {
        return Ok(Vec::new());
    }
    let after = settings.remind_approvers_after.0;
    let queued_at = engine.clock().now();
    let mut tx = engine.store().begin().await?;
    // Business time never runs faster than the wall clock, so requests
    // asked less than `after` ago cannot be due.
    let Some(asked_before) = at.checked_sub_signed(after) else {
        return Ok(Vec::new());
    };
    let twice = after.checked_mul(2).unwrap_or(after);
    let candidates = store::requests::reminder_candidates(&mut tx, asked_before, BATCH).await?;
    let mut posted = Vec::new();
    for request in candidates {
        let Some(item) = settings.item(&request.item) else {
            continue;
        };
        let waited = settings.hours(item).elapsed(request.created_at, at);
        let kind = if waited >= twice {
            // The approvers' reminder goes first when both are due.
            if store::requests::claim_reminder(&mut tx, request.id, "approvers", at).await? {
                "approvers"
            } else if store::requests::claim_reminder(&mut tx, request.id, "team", at).await? {
                "team"
            } else {
                continue;
            }
        } else if waited >= after {
            if !store::requests::claim_reminder(&mut tx, request.id, "approvers", at).await? {
                continue;
            }
            "approvers"
        } else {
            continue;
        };
        // The team's reminder goes to the team's channel when the item has
        // one; the approvers' where the request was asked.
        let (channel, thread) = match (&item.channel, kind) {
            (Some(team), "team") => (team.clone(), None),
            _ => (
                ChannelRef {
                    platform: request.origin.platform,
                    channel: request.origin.channel.clone(),
                },
                request.origin.thread.as_deref(),
            ),
        };
        let message = reminder(engine, &request, item, kind, waited);
        posted.push(
            post(
                &mut tx,
                &channel,
                thread,
                &message,
                Some(request.id),
                queued_at,
            )
            .await?,
        );
    }
    tx.commit().await?;
    if !posted.is_empty() {
        engine.outbox_signal().notify_waiters();
    }
    Ok(posted)
}

fn reminder(
    engine: &Engine,
    request: &ServiceRequest,
    item: &crate::domain::request::CatalogItem,
    kind: &str,
    waited: chrono::Duration,
) -> Message {
    let reference = request.reference();
    let text = match kind {
        "approvers" => format!(
            "⏰ {reference} ({}) for {} has waited {} of business time for approval. Approvers ({}): `/request {reference} approve` or `reject <reason>`.",
            request.title,
            request.requester.display_name(),
            format_duration(waited),
            item.approvers()
        ),
        _ => format!(
            "⏰ {reference} ({}) still awaits approval after {} of business time, and its approvers ({}) were reminded. Team ({}): chase them, or the requester can `cancel <why>`.",
            request.title,
            format_duration(waited),
            item.approvers(),
            item.team
        ),
    };
    let mut message = Message::text(text);
    if kind == "approvers" {
        for approver in &item.approval {
            if let Approver::User(user) = approver {
                message = message.with(Block::Mention {
                    label: "Approver".into(),
                    user: user.to_string(),
                });
            }
        }
    }
    message.with(Block::Context(format!(
        "Asked {}.",
        crate::domain::moment::stamp(request.created_at, engine.zone())
    )))
}

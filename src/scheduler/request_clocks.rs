//! Fulfilment clock warnings: a request whose item has `fulfil_within`
//! gets a warning at each `sla.warn_at` fraction of it (business time of
//! its calendar, from approval, not counting holds) and a breach alert at
//! 100%, posted in the team's channel (in the card's thread) when the item
//! has one, else where it was asked, each once across replicas
//! (`request_clock_alerts`). When several are due at once only the highest
//! is posted.

use chrono::{DateTime, Utc};

use crate::commands::notice::{post, Posted};
use crate::commands::reply::{Block, Message};
use crate::commands::Engine;
use crate::domain::channel::ChannelRef;
use crate::domain::request::{fulfil_counted, holds_of, threshold_reached};
use crate::store::{self, StoreError};

/// How many running clocks one sweep reads.
const BATCH: i64 = 500;

/// Posts every fulfilment warning and breach due at `at` not posted before.
pub async fn warn(engine: &Engine, at: DateTime<Utc>) -> Result<Vec<Posted>, StoreError> {
    let settings = &engine.config().requests;
    if settings.items.iter().all(|i| i.fulfil_within.is_none()) {
        return Ok(Vec::new());
    }
    let thresholds: Vec<u8> = engine
        .sla_policy()
        .warn_at()
        .iter()
        .copied()
        .chain([100])
        .collect();
    let queued_at = engine.clock().now();
    let mut tx = engine.store().begin().await?;
    let mut posted = Vec::new();
    for request in store::requests::running_clocks(&mut tx, BATCH).await? {
        let (Some(item), Some(start)) = (settings.item(&request.item), request.approved_at) else {
            continue;
        };
        let Some(within) = item.fulfil_within else {
            continue;
        };
        let events = store::timeline::list(&mut tx, request.id).await?;
        let counted = fulfil_counted(start, &settings.hours(item), &holds_of(&events), at);
        let Some(reached) = threshold_reached(counted, within, &thresholds) else {
            continue;
        };
        // Claim every threshold up to the one reached; post the highest new one.
        let mut newest = None;
        for threshold in thresholds.iter().copied().filter(|t| *t <= reached) {
            if store::requests::claim_clock_alert(&mut tx, request.id, threshold, at).await? {
                newest = Some(threshold);
            }
        }
        let Some(threshold) = newest else {
            continue;
        };
        let reference = request.reference();
        let text = if threshold >= 100 {
            format!(
                "🚨 {reference} ({}) for {} missed its fulfilment target of {} of business time.",
                request.title,
                request.requester.display_name(),
                crate::domain::duration::format_business(within, item.business_day)
            )
        } else {
            format!(
                "⏳ {reference} ({}) has used {threshold}% of its fulfilment target of {}.",
                request.title,
                crate::domain::duration::format_business(within, item.business_day)
            )
        };
        let mut message = Message::text(text);
        if let Some(assignee) = &request.assignee {
            message = message.with(Block::Mention {
                label: "Taken by".into(),
                user: assignee.to_string(),
            });
        } else {
            message = message.with(Block::Context(format!(
                "No one has taken it: the team ({}) takes it with `/request {reference} take`.",
                item.team
            )));
        }
        // The team's channel when the item has one, in the thread of the
        // request's card there; else where the request was asked.
        let (channel, thread) = match &item.channel {
            Some(team) => {
                let card = store::messages::find(&mut tx, request.id, team.platform).await?;
                (
                    team.clone(),
                    card.filter(|c| c.channel == team.channel).map(|c| c.thread),
                )
            }
            None => (
                ChannelRef {
                    platform: request.origin.platform,
                    channel: request.origin.channel.clone(),
                },
                request.origin.thread.clone(),
            ),
        };
        posted.push(
            post(
                &mut tx,
                &channel,
                thread.as_deref(),
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

//! Error-budget warnings: when a service has spent 50% and then 100% of the
//! error budget of its availability target over the rolling 30 days, its
//! channel is told, once per crossing (the `budget_warnings` ledger; a
//! warning is re-armed when the budget recovers below its threshold).
//!
//! Planned outages (change windows) are not excluded: only incidents marked
//! as outages count, and a planned window is not one unless someone marks it.

use chrono::{DateTime, Utc};

use super::{post, Posted};
use crate::commands::execute::services::{notice_channel, service_views};
use crate::commands::reply::{Block, Message};
use crate::commands::Engine;
use crate::domain::availability::show_percent;
use crate::domain::duration::format_duration;
use crate::store::{self, StoreError};

/// Posts every error-budget warning due at `at`, and returns what it posted.
pub async fn warn(engine: &Engine, at: DateTime<Utc>) -> Result<Vec<Posted>, StoreError> {
    let mut tx = engine.store().begin().await?;
    let mut posted = Vec::new();
    let queued_at = engine.clock().now();
    for view in service_views(&mut tx, at).await? {
        let a = view.availability;
        let spent = a.budget_spent();
        store::services::rearm_budget_warnings(&mut tx, view.entry.id, spent).await?;
        let mut newly = Vec::new();
        for threshold in a.crossed_thresholds() {
            if store::services::claim_budget_warning(&mut tx, view.entry.id, threshold, at).await? {
                newly.push(threshold);
            }
        }
        let Some(highest) = newly.iter().max() else {
            continue;
        };
        let text = format!(
            "{} {}: {highest}% of the error budget is spent ({:.0}%: {} of {} over 30 days). Availability {} against a target of {}.",
            if *highest >= 100 { "🚨" } else { "⚠️" },
            view.entry.name,
            spent,
            format_duration(a.downtime),
            format_duration(a.budget),
            show_percent(a.percent),
            show_percent(a.target)
        );
        let mut message = Message::text(text);
        if let Some(owner) = &view.entry.owner {
            message = message.with(Block::Mention {
                label: "Service owner:".into(),
                user: owner.to_string(),
            });
        }
        let channel = notice_channel(engine.config(), &view.entry);
        posted.push(post(&mut tx, &channel, None, &message, None, queued_at).await?);
    }
    tx.commit().await?;
    if !posted.is_empty() {
        engine.outbox_signal().notify_waiters();
    }
    Ok(posted)
}

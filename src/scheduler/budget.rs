//! Error-budget warnings: when a service has spent 50% and then 100% of the
//! error budget of its availability target over the rolling 30 days, its
//! channel is told, once per crossing (the `budget_warnings` ledger; a
//! warning is re-armed when the budget recovers below its threshold).
//!
//! Planned outages (change windows) are not excluded: only incidents marked
//! as outages count, and a planned window is not one unless someone marks it.

use chrono::{DateTime, Utc};
use sqlx::Connection;

use crate::commands::notice::{post, Posted};
use crate::commands::reply::{Block, Message};
use crate::commands::service_status::{availability_of, notice_channel};
use crate::commands::Engine;
use crate::domain::availability::{self, show_percent, Availability, BudgetWarnings};
use crate::domain::duration::format_duration;
use crate::domain::service::CatalogEntry;
use crate::store::{self, StoreError};

/// Posts every error-budget warning due at `at`, and returns what it posted.
///
/// This runs every minute, so what it reads is bounded: the outages that
/// reach into the 30 days (by index) and the warnings already announced.
/// Only when there is downtime or an announced warning is the catalog read,
/// and only when a warning is to be claimed or re-armed is a transaction
/// opened; the claim, not the read, keeps replicas from posting twice.
pub async fn warn(engine: &Engine, at: DateTime<Utc>) -> Result<Vec<Posted>, StoreError> {
    let mut conn = engine.store().pool().acquire().await?;
    let (from, _) = availability::period_ending(at);
    let outages = store::services::outages_since(&mut conn, from).await?;
    let warned = store::budgets::warned(&mut conn).await?;
    // No downtime in the period: no service has spent any budget, and with
    // nothing announced there is nothing to re-arm either. Nearly every
    // minute ends here.
    if outages.is_empty() && warned.is_empty() {
        return Ok(Vec::new());
    }
    let due: Vec<(CatalogEntry, Availability, BudgetWarnings)> =
        store::services::catalog(&mut conn)
            .await?
            .into_iter()
            .filter_map(|entry| {
                let a = availability_of(&entry, &outages, at);
                let announced: Vec<u32> = warned
                    .iter()
                    .filter(|(service, _)| *service == entry.id)
                    .map(|(_, threshold)| *threshold)
                    .collect();
                let changes = a.budget_warnings(&announced);
                (!changes.is_empty()).then_some((entry, a, changes))
            })
            .collect();
    if due.is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = conn.begin().await?;
    let mut posted = Vec::new();
    let queued_at = engine.clock().now();
    for (entry, a, changes) in due {
        if !changes.rearm.is_empty() {
            store::budgets::rearm(&mut tx, entry.id, &changes.rearm).await?;
        }
        let mut newly = Vec::new();
        for threshold in changes.claim {
            if store::budgets::claim(&mut tx, entry.id, threshold, at).await? {
                newly.push(threshold);
            }
        }
        let Some(highest) = newly.iter().max() else {
            continue;
        };
        let text = format!(
            "{} {}: {highest}% of the error budget is spent ({:.0}%: {} of {} over 30 days). Availability {} against a target of {}.",
            if *highest >= 100 { "🚨" } else { "⚠️" },
            entry.name,
            a.budget_spent(),
            format_duration(a.downtime),
            format_duration(a.budget),
            show_percent(a.percent),
            show_percent(a.target)
        );
        let mut message = Message::text(text);
        if let Some(owner) = &entry.owner {
            message = message.with(Block::Mention {
                label: "Service owner:".into(),
                user: owner.to_string(),
            });
        }
        let channel = notice_channel(engine.config(), &entry);
        posted.push(post(&mut tx, &channel, None, &message, None, queued_at).await?);
    }
    tx.commit().await?;
    if !posted.is_empty() {
        engine.outbox_signal().notify_waiters();
    }
    Ok(posted)
}

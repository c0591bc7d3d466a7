//! On-call escalation: a page nobody acknowledged within the rotation's
//! `escalate_after` goes to the next member, and after twice that to the
//! service's channel and owner. Each step is taken once (the `page_steps`
//! ledger), whichever replica gets there first; acknowledging the incident
//! stops the escalation.

use chrono::{DateTime, Utc};

use crate::commands::notice::{post, Posted};
use crate::commands::reply::{Block, Message};
use crate::commands::service_status::{notice_channel, oncall_actor};
use crate::commands::Engine;
use crate::domain::duration::format_duration;
use crate::domain::oncall::{due_step, PageStep};
use crate::domain::timeline::{EventAction, NewEvent};
use crate::domain::UserId;
use crate::store::{self, StoreError};

/// Takes every escalation step due at `at`, and returns what it posted.
pub async fn escalate(engine: &Engine, at: DateTime<Utc>) -> Result<Vec<Posted>, StoreError> {
    let mut tx = engine.store().begin().await?;
    let mut posted = Vec::new();
    // Posted "as if at" a later instant is still queued now.
    let queued_at = engine.clock().now();
    let actor = oncall_actor().map_err(|err| StoreError::Corrupt(err.to_string()))?;
    for page in store::oncall::open_pages(&mut tx).await? {
        let Some(rotation) = engine.config().rotation(&page.rotation) else {
            continue;
        };
        let Some(step) = due_step(page.paged_at, page.done, rotation.escalate_after, at) else {
            continue;
        };
        let Some(incident) = store::incidents::get_by_id(&mut tx, page.ticket_id).await? else {
            continue;
        };
        let entry = match &incident.service {
            Some(service) => store::services::entry(&mut tx, service).await?,
            None => None,
        };
        let Some(entry) = entry else {
            continue;
        };
        let paged: UserId = page
            .paged
            .parse()
            .map_err(|e: crate::domain::user::UserIdError| StoreError::Corrupt(e.to_string()))?;
        let reference = incident.reference();
        let waited = format_duration(at - page.paged_at);
        let (target, message) = match step {
            PageStep::OnCall => continue,
            PageStep::NextMember => {
                let next = rotation.after(&paged, at);
                let message = Message::text(format!(
                    "📟 Escalated: {reference} ({}) on {}: {} — {paged} has not acknowledged it in {waited}. `/incident {reference} ack` to take it.",
                    incident.priority, entry.name, incident.title
                ))
                .with(Block::Mention {
                    label: "Paging (next on call):".into(),
                    user: next.to_string(),
                });
                (next.to_string(), message)
            }
            PageStep::Channel => {
                let mut message = Message::text(format!(
                    "🚨 {reference} ({}) on {}: {} has not been acknowledged in {waited} by {} on call. Can anyone take it? `/incident {reference} ack`",
                    incident.priority, entry.name, incident.title, rotation.name
                ));
                if let Some(owner) = &entry.owner {
                    message = message.with(Block::Mention {
                        label: "Service owner:".into(),
                        user: owner.to_string(),
                    });
                }
                let channel = notice_channel(engine.config(), &entry);
                (channel.to_string(), message)
            }
        };
        if !store::oncall::claim_step(&mut tx, page.ticket_id, step, &target, at).await? {
            continue;
        }
        // In the step's transaction: the hook hears of each step once. Like
        // the posts, it is due now even when sweeping "as if at" later.
        let config = engine.config();
        crate::commands::paging::trigger(&mut tx, config, &incident, &target, step, queued_at)
            .await?;
        let event = NewEvent::new(EventAction::Escalated).change(Some(page.paged.clone()), target);
        store::timeline::append(&mut tx, incident.id, &actor, at, &[event]).await?;
        let channel = notice_channel(engine.config(), &entry);
        posted.push(
            post(
                &mut tx,
                &channel,
                None,
                &message,
                Some(incident.id),
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

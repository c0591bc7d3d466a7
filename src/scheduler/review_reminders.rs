//! Review reminders: a P1 or P2 incident still without a post-incident
//! review `postmortem.remind_after_days` working days after it was resolved
//! gets one reminder in its thread, whichever replica gets there first (the
//! `postmortem_reminders` ledger).

use chrono::{DateTime, Duration, Utc};

use super::{post, Posted};
use crate::commands::reply::{Block, Message};
use crate::commands::Engine;
use crate::domain::calendar::{BusinessCalendar, Hours};
use crate::domain::channel::ChannelRef;
use crate::domain::incident::Incident;
use crate::domain::postmortem::review_due;
use crate::store::{self, StoreError};

/// Incidents resolved longer ago than this are not reminded: turning the
/// feature on must not flood every old thread.
const LOOK_BACK_DAYS: i64 = 30;

/// Posts every review reminder due at `at` that was not posted before, and
/// returns what it posted.
pub async fn remind(engine: &Engine, at: DateTime<Utc>) -> Result<Vec<Posted>, StoreError> {
    let days = engine.config().postmortem.remind_after_days;
    if days == 0 {
        return Ok(Vec::new());
    }
    let mut tx = engine.store().begin().await?;
    let mut posted = Vec::new();
    // A reminder "as if at" a later instant is still queued now.
    let queued_at = engine.clock().now();
    let since = at - Duration::days(LOOK_BACK_DAYS);
    // N working days are at least N calendar days.
    let until = at - Duration::days(i64::from(days));
    for number in store::postmortems::reminder_candidates(&mut tx, since, until).await? {
        let Some(incident) = store::incidents::get(&mut tx, number).await? else {
            continue;
        };
        let Some(resolved_at) = incident.resolved_at else {
            continue;
        };
        let calendar = calendar_for(engine, &incident);
        let Some(due) = review_due(incident.priority, resolved_at, &calendar, days) else {
            continue;
        };
        if due > at || !store::postmortems::claim_reminder(&mut tx, incident.id, at).await? {
            continue;
        }
        let origin = ChannelRef {
            platform: incident.origin.platform,
            channel: incident.origin.channel.clone(),
        };
        let thread =
            match store::messages::find(&mut tx, incident.id, incident.origin.platform).await? {
                Some(card) => Some(card.thread),
                None => incident.origin.thread.clone(),
            };
        posted.push(
            post(
                &mut tx,
                &origin,
                thread.as_deref(),
                &reminder(&incident, days),
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

/// The working days of the incident's SLA calendar; around-the-clock
/// policies still count reviews in office days (Monday to Friday), since
/// people, not pagers, write them.
fn calendar_for(engine: &Engine, incident: &Incident) -> BusinessCalendar {
    match engine
        .sla_policy()
        .target(incident.priority)
        .map(|t| &t.hours)
    {
        Some(Hours::Business(calendar)) => calendar.clone(),
        _ => BusinessCalendar::office_utc(),
    }
}

fn reminder(incident: &Incident, days: u32) -> Message {
    let reference = incident.reference();
    let text = format!(
        "📝 {reference} ({}) {} was resolved {days} working days ago and has no post-incident review yet. Start it with `/incident {reference} postmortem`.",
        incident.priority, incident.title
    );
    let message = Message::text(text);
    match &incident.assignee {
        Some(assignee) => message.with(Block::Mention {
            label: "Assignee:".into(),
            user: assignee.to_string(),
        }),
        None => message,
    }
}

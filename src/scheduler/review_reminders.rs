//! Review reminders: a P1 or P2 incident still without a post-incident
//! review `postmortem.remind_after_days` working days after it was resolved
//! gets one reminder in its thread, whichever replica gets there first (the
//! `postmortem_reminders` ledger).

use chrono::{DateTime, Duration, Utc};

use crate::commands::notice::{post, Posted};
use crate::commands::reply::{Block, Message};
use crate::commands::Engine;
use crate::domain::calendar::{BusinessCalendar, Hours};
use crate::domain::channel::ChannelRef;
use crate::domain::incident::Incident;
use crate::domain::postmortem::review_due;
use crate::domain::Priority;
use crate::store::{self, StoreError};

/// Incidents resolved longer ago than this are not reminded: turning the
/// feature on must not flood every old thread.
const LOOK_BACK_DAYS: i64 = 30;

/// How many due rows one transaction handles.
const BATCH: i64 = 500;

/// Posts every review reminder due at `at` that was not posted before, and
/// returns what it posted. Only rows whose lower-bound time has come are
/// read (by index); each is then posted, moved to its real due date, or
/// dropped when no reminder is owed any more.
pub async fn remind(engine: &Engine, at: DateTime<Utc>) -> Result<Vec<Posted>, StoreError> {
    let days = engine.config().postmortem.remind_after_days;
    if days == 0 {
        return Ok(Vec::new());
    }
    let mut posted = Vec::new();
    // A reminder "as if at" a later instant is still queued now.
    let queued_at = engine.clock().now();
    let oldest = at - Duration::days(LOOK_BACK_DAYS);
    loop {
        let mut tx = engine.store().begin().await?;
        let due = store::postmortems::due_reminders(&mut tx, at, BATCH).await?;
        if due.is_empty() {
            break;
        }
        for incident_id in due {
            let incident = store::incidents::get_by_id(&mut tx, incident_id).await?;
            let owed = match &incident {
                Some(incident)
                    if incident.priority <= Priority::P2 && !incident.status.is_open() =>
                {
                    incident.resolved_at.filter(|resolved| *resolved >= oldest)
                }
                _ => None,
            };
            let (Some(incident), Some(resolved_at)) = (incident, owed) else {
                store::postmortems::reschedule_reminder(&mut tx, incident_id, None).await?;
                continue;
            };
            if store::postmortems::has_review(&mut tx, incident.id).await? {
                store::postmortems::reschedule_reminder(&mut tx, incident.id, None).await?;
                continue;
            }
            let calendar = calendar_for(engine, &incident);
            let real = review_due(incident.priority, resolved_at, &calendar, days);
            if let Some(real) = real.filter(|real| *real > at) {
                store::postmortems::reschedule_reminder(&mut tx, incident.id, Some(real)).await?;
                continue;
            }
            store::postmortems::reschedule_reminder(&mut tx, incident.id, None).await?;
            if real.is_none()
                || !store::postmortems::claim_reminder(&mut tx, incident.id, at).await?
            {
                continue;
            }
            let origin = ChannelRef {
                platform: incident.origin.platform,
                channel: incident.origin.channel.clone(),
            };
            let thread = match store::messages::find(&mut tx, incident.id, incident.origin.platform)
                .await?
            {
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
    }
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

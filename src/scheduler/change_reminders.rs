//! Change reminders: the implementer is reminded a day and an hour before
//! the window opens, and a change still in progress after its window ends
//! is flagged. Each is posted once per change and window, whichever replica
//! gets there first.

use chrono::{DateTime, Duration, Utc};

use crate::commands::notice::{post, Posted};
use crate::commands::reply::{Block, Message};
use crate::commands::Engine;
use crate::domain::change::{Change, ChangeStatus};
use crate::domain::channel::ChannelRef;
use crate::domain::moment;
use crate::store::changes::ReminderKind;
use crate::store::{self, StoreError};

/// Posts every change reminder due at `at` that was not posted before, and
/// returns what it posted.
pub async fn remind(engine: &Engine, at: DateTime<Utc>) -> Result<Vec<Posted>, StoreError> {
    let mut tx = engine.store().begin().await?;
    let mut posted = Vec::new();
    // A reminder "as if at" a later instant is still queued now.
    let queued_at = engine.clock().now();
    for change in store::changes::reminder_candidates(&mut tx, at).await? {
        let Some(kind) = due_kind(&change, at) else {
            continue;
        };
        if !store::changes::claim_reminder(&mut tx, &change, kind, at).await? {
            continue;
        }
        let message = reminder(&change, kind, engine.config().change.rules.time_zone);
        let origin = ChannelRef {
            platform: change.origin.platform,
            channel: change.origin.channel.clone(),
        };
        posted.push(
            post(
                &mut tx,
                &origin,
                change.origin.thread.as_deref(),
                &message,
                Some(change.id),
                queued_at,
            )
            .await?,
        );
        if let (ReminderKind::Overrun, Some(cab)) = (kind, &engine.config().change.cab_channel) {
            if cab != &origin {
                posted.push(post(&mut tx, cab, None, &message, Some(change.id), queued_at).await?);
            }
        }
    }
    tx.commit().await?;
    if !posted.is_empty() {
        engine.outbox_signal().notify_waiters();
    }
    Ok(posted)
}

/// Which reminder `change` is owed at `at`, if any. A change approved less
/// than an hour before its window gets only the one-hour reminder.
fn due_kind(change: &Change, at: DateTime<Utc>) -> Option<ReminderKind> {
    let window = change.window?;
    match change.status {
        ChangeStatus::InProgress if window.end() <= at => Some(ReminderKind::Overrun),
        ChangeStatus::Approved if window.start > at => {
            let until = window.start - at;
            if until <= Duration::hours(1) {
                Some(ReminderKind::Before1h)
            } else if until <= Duration::hours(24) {
                Some(ReminderKind::Before24h)
            } else {
                None
            }
        }
        _ => None,
    }
}

fn reminder(change: &Change, kind: ReminderKind, zone: chrono_tz::Tz) -> Message {
    let reference = change.reference();
    let window = change.window.map(|w| w.stamped(zone)).unwrap_or_default();
    let text = match kind {
        ReminderKind::Before24h => format!(
            "⏰ {reference} ({}) starts within a day: window {window}. Check the plan and the rollback; `/change {reference} start` when it opens.",
            change.title
        ),
        ReminderKind::Before1h => format!(
            "⏰ {reference} ({}) starts within the hour: window {window}. `/change {reference} start` when it opens.",
            change.title
        ),
        ReminderKind::Overrun => format!(
            "⚠️ {reference} ({}) is still in progress, but its window ended at {}. Finish it with `/change {reference} complete [review]`, `fail <what happened>` or `rolled-back`.",
            change.title,
            change
                .window
                .map(|w| moment::stamp(w.end(), zone))
                .unwrap_or_default()
        ),
    };
    let who = change.implementer.as_ref().unwrap_or(&change.requester);
    let label = if change.implementer.is_some() {
        "Implementer:"
    } else {
        "Requester (no implementer set):"
    };
    Message::text(text).with(Block::Mention {
        label: label.into(),
        user: who.to_string(),
    })
}

//! Notices: messages the engine sends to a channel on its own, not as the
//! reply to a command (SLA warnings, digests, reminders, pages, rule posts).
//! Chat platforms get them through the outbox; the scheduler and the
//! executor both queue them here.

use chrono::{DateTime, Utc};

use crate::commands::reply::Message;
use crate::domain::channel::ChannelRef;
use crate::store::{self, StoreError};

/// A notice the engine queued (or, for shell channels, printed): a warning,
/// digest, reminder, page or rule post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    pub channel: ChannelRef,
    pub text: String,
}

/// Queues `text` for `channel` (chat platforms get it through the outbox;
/// shell channels only in the returned list, since no one is listening).
pub(crate) async fn post(
    conn: &mut sqlx::PgConnection,
    channel: &ChannelRef,
    thread: Option<&str>,
    message: &Message,
    ticket_id: Option<i64>,
    at: DateTime<Utc>,
) -> Result<Posted, StoreError> {
    if channel.platform != crate::domain::Platform::Shell {
        // The message keeps its blocks in the outbox, so each platform
        // renders it natively when it is delivered.
        let body =
            serde_json::to_string(message).map_err(|err| StoreError::Corrupt(err.to_string()))?;
        store::outbox::enqueue_notice(
            conn,
            channel.platform,
            &channel.channel,
            thread,
            &body,
            ticket_id,
            at,
        )
        .await?;
    }
    Ok(Posted {
        channel: channel.clone(),
        text: message.plain_text(),
    })
}

/// Queues `message` for `person` directly (chat platforms get it through
/// the outbox; shell users only in the returned list, printed where a
/// notice would be).
pub(crate) async fn direct(
    conn: &mut sqlx::PgConnection,
    person: &crate::domain::UserId,
    message: &Message,
    ticket_id: Option<i64>,
    at: DateTime<Utc>,
) -> Result<Posted, StoreError> {
    let platform = person.platform();
    if platform != crate::domain::Platform::Shell {
        let body =
            serde_json::to_string(message).map_err(|err| StoreError::Corrupt(err.to_string()))?;
        store::outbox::enqueue_direct(conn, platform, person.id(), &body, ticket_id, at).await?;
    }
    Ok(Posted {
        channel: ChannelRef {
            platform,
            channel: format!("@{}", person.id()),
        },
        text: message.plain_text(),
    })
}

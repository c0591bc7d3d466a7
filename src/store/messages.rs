//! Messages the bot posted for tickets (`ticket_messages`).

use sqlx::PgConnection;

use super::StoreError;
use crate::domain::Platform;

/// Where a ticket's card lives on a platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostedMessage {
    pub channel: String,
    pub message_id: String,
    /// The thread conversation about the ticket happens in.
    pub thread: String,
}

/// The card of `ticket_id` on `platform`, if it has been posted.
pub async fn find(
    conn: &mut PgConnection,
    ticket_id: i64,
    platform: Platform,
) -> Result<Option<PostedMessage>, StoreError> {
    let row: Option<(String, String, String)> = sqlx::query_as(
        "SELECT channel, message_id, thread FROM ticket_messages WHERE ticket_id = $1 AND platform = $2",
    )
    .bind(ticket_id)
    .bind(platform.as_str())
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(channel, message_id, thread)| PostedMessage {
        channel,
        message_id,
        thread,
    }))
}

/// The incident whose conversation happens in `thread` of `channel` (any
/// channel when `channel` is empty: Discord threads are channels with ids
/// of their own), if any: the thread of its card, or the message it was reported from (known
/// from the moment it is reported, before the card is posted).
pub async fn incident_in_thread(
    conn: &mut PgConnection,
    platform: Platform,
    channel: &str,
    thread: &str,
) -> Result<Option<i64>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT number FROM (
            SELECT t.number, m.posted_at AS at FROM ticket_messages m JOIN tickets t ON t.id = m.ticket_id
             WHERE m.platform = $1 AND ($2 = '' OR m.channel = $2) AND m.thread = $3 AND t.kind = 'incident'
            UNION ALL
            SELECT number, created_at FROM tickets
             WHERE kind = 'incident' AND origin_platform = $1 AND ($2 = '' OR origin_channel = $2) AND origin_message = $3
         ) AS found ORDER BY at DESC LIMIT 1",
    )
    .bind(platform.as_str())
    .bind(channel)
    .bind(thread)
    .fetch_optional(conn)
    .await?)
}

/// Platforms on which `ticket_id` has a card.
pub async fn platforms_of(
    conn: &mut PgConnection,
    ticket_id: i64,
) -> Result<Vec<Platform>, StoreError> {
    let names: Vec<String> =
        sqlx::query_scalar("SELECT platform FROM ticket_messages WHERE ticket_id = $1")
            .bind(ticket_id)
            .fetch_all(conn)
            .await?;
    names
        .iter()
        .map(|name| {
            name.parse()
                .map_err(|e: crate::domain::user::UserIdError| StoreError::Corrupt(e.to_string()))
        })
        .collect()
}

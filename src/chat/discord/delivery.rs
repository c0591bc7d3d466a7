//! Sending the outbox to Discord: cards as embeds with buttons (edited in
//! place, each with a thread), surveys by direct message, notices.

use std::sync::Arc;
use std::time::Duration;

use serenity::all::{
    AutoArchiveDuration, ChannelId, CreateMessage, CreateThread, EditMessage, Http, MessageId,
    UserId as DiscordUser,
};

use super::render::render;
use crate::chat::outbound::{Deliver, DeliveryError, Sending};
use crate::commands::reply::{Block, Message};
use crate::domain::pace::Pace;
use crate::domain::{Platform, UserId};
use crate::store::messages::PostedMessage;

/// Creating messages in a channel: Discord commonly allows 5 per 5 seconds
/// (a fixed window). The outbox sends one per 1.2 s, so no window of 5 s
/// holds more than 5 even when answers come back unevenly.
const POST_EVERY: Duration = Duration::from_millis(1200);
/// Edits count against the global limit of 50 requests per second: the
/// outbox keeps edits to 40 a second after a burst of 10.
const EDIT_EVERY: Duration = Duration::from_millis(25);
const EDIT_BURST: u32 = 10;

/// Delivers outbox rows through Discord's REST API.
pub struct DiscordDelivery {
    http: Arc<Http>,
    threads: bool,
}

impl DiscordDelivery {
    pub(super) fn new(http: Arc<Http>, threads: bool) -> Self {
        DiscordDelivery { http, threads }
    }
}

fn channel(id: &str) -> Result<ChannelId, DeliveryError> {
    id.parse::<u64>()
        .ok()
        .filter(|id| *id != 0)
        .map(ChannelId::new)
        .ok_or_else(|| DeliveryError::Permanent(format!("`{id}` is not a Discord channel id")))
}

/// Sorts serenity's failures into "try again later" and "give up".
fn classify(err: serenity::Error) -> DeliveryError {
    if let serenity::Error::Http(http) = &err {
        if let Some(status) = http.status_code() {
            // serenity keeps no headers of a failed answer: with its own
            // rate limiter off (see `super::http`), Retry-After is unknown
            // here, and a second is what a channel's bucket needs at most.
            if status.as_u16() == 429 {
                return DeliveryError::RateLimited {
                    reason: "Discord answered 429".into(),
                    after: Some(Duration::from_secs(1)),
                };
            }
            if status.is_server_error() {
                return DeliveryError::Retry {
                    reason: format!("Discord answered {status}"),
                    after: Some(Duration::from_secs(1)),
                };
            }
            if status.is_client_error() {
                return DeliveryError::Permanent(format!("Discord refused: {status}"));
            }
        }
    }
    DeliveryError::Retry {
        reason: err.to_string(),
        after: None,
    }
}

fn create(message: &Message) -> CreateMessage {
    let rendered = render(message);
    let mut create = CreateMessage::new()
        .embed(rendered.embed)
        .components(rendered.rows);
    if let Some(content) = rendered.content {
        create = create.content(content);
    }
    create
}

fn title_of(message: &Message) -> String {
    message
        .blocks
        .iter()
        .find_map(|block| match block {
            Block::Header(text) => Some(text.chars().take(90).collect()),
            _ => None,
        })
        .unwrap_or_else(|| "Incident".to_string())
}

impl Deliver for DiscordDelivery {
    fn platform(&self) -> Platform {
        Platform::Discord
    }

    fn pace(&self, sending: Sending<'_>) -> Option<Pace> {
        Some(match sending {
            // A card is posted in its channel; a notice for a thread is
            // counted with its channel too (one budget, never over).
            Sending::Post { channel, .. } => {
                Pace::new(format!("messages:{channel}"), POST_EVERY, 1)
            }
            Sending::Direct { user } => {
                Pace::new(format!("messages:dm:{}", user.id()), POST_EVERY, 1)
            }
            Sending::Edit { .. } => Pace::new("edits", EDIT_EVERY, EDIT_BURST),
        })
    }

    async fn post_card(
        &self,
        channel_id: &str,
        thread: Option<&str>,
        card: &Message,
    ) -> Result<PostedMessage, DeliveryError> {
        let target = channel(channel_id)?;
        let posted = target
            .send_message(&self.http, create(card))
            .await
            .map_err(classify)?;
        let thread = match thread {
            Some(thread) => thread.to_string(),
            None if self.threads => {
                let created = target
                    .create_thread_from_message(
                        &self.http,
                        posted.id,
                        CreateThread::new(title_of(card))
                            .auto_archive_duration(AutoArchiveDuration::OneWeek),
                    )
                    .await;
                match created {
                    Ok(thread) => thread.id.get().to_string(),
                    Err(err) => {
                        // The card is out; a missing thread only means replies
                        // in the channel are not taken as notes.
                        tracing::warn!(error = %err, "could not open the incident's thread");
                        posted.id.get().to_string()
                    }
                }
            }
            None => posted.id.get().to_string(),
        };
        Ok(PostedMessage {
            channel: target.get().to_string(),
            message_id: posted.id.get().to_string(),
            thread,
        })
    }

    async fn update_card(
        &self,
        posted: &PostedMessage,
        card: &Message,
    ) -> Result<(), DeliveryError> {
        let target = channel(&posted.channel)?;
        let id = posted
            .message_id
            .parse::<u64>()
            .ok()
            .filter(|id| *id != 0)
            .map(MessageId::new)
            .ok_or_else(|| DeliveryError::Permanent("bad Discord message id".into()))?;
        let rendered = render(card);
        // Content carries the pings; a reassignment must replace the old one.
        let edit = EditMessage::new()
            .content(rendered.content.unwrap_or_default())
            .embed(rendered.embed)
            .components(rendered.rows);
        target
            .edit_message(&self.http, id, edit)
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn send_direct(&self, reporter: &UserId, survey: &Message) -> Result<(), DeliveryError> {
        let Some(id) = reporter.id().parse::<u64>().ok().filter(|id| *id != 0) else {
            return Err(DeliveryError::Permanent(format!(
                "{reporter} is not a Discord user"
            )));
        };
        let dm = DiscordUser::new(id)
            .create_dm_channel(&self.http)
            .await
            .map_err(classify)?;
        dm.id
            .send_message(&self.http, create(survey))
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn post_notice(
        &self,
        channel_id: &str,
        thread: Option<&str>,
        notice: &Message,
    ) -> Result<(), DeliveryError> {
        // On Discord a thread is a channel of its own. An incident without
        // a thread (threads off, or it could not be opened) has its card's
        // message id there instead: the notice then goes to the channel.
        if let Some(thread) = thread.filter(|thread| *thread != channel_id) {
            match channel(thread)?
                .send_message(&self.http, create(notice))
                .await
            {
                Ok(_) => return Ok(()),
                Err(serenity::Error::Http(http))
                    if http.status_code().map(|s| s.as_u16()) == Some(404) => {}
                Err(err) => return Err(classify(err)),
            }
        }
        channel(channel_id)?
            .send_message(&self.http, create(notice))
            .await
            .map_err(classify)?;
        Ok(())
    }
}

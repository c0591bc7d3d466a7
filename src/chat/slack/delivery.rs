//! Sending the outbox to Slack: cards with `chat.postMessage` and
//! `chat.update`, surveys as direct messages.

use std::sync::Arc;
use std::time::Duration;

use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;

use super::blocks::render;
use super::people::People;
use crate::chat::outbound::{Deliver, DeliveryError, Sending};
use crate::commands::reply::Message;
use crate::domain::pace::Pace;
use crate::domain::{Platform, UserId};
use crate::store::messages::PostedMessage;

/// `chat.postMessage`: Slack allows about one message per second per
/// channel, with short bursts. The outbox keeps a little under that (a
/// burst of 2, then one per 1.1 s), so that sends that arrive closer
/// together than they were claimed still fit.
const POST_EVERY: Duration = Duration::from_millis(1100);
const POST_BURST: u32 = 2;
/// `chat.update` is Tier 3, 50+ calls per minute for the workspace: 46 a
/// minute after a burst of 5.
const UPDATE_EVERY: Duration = Duration::from_millis(1300);
const UPDATE_BURST: u32 = 5;

/// Delivers outbox rows through the Slack Web API.
pub struct SlackDelivery {
    client: Arc<super::SlackApiClient>,
    token: SlackApiToken,
    people: People,
}

impl SlackDelivery {
    pub(super) fn new(
        client: Arc<super::SlackApiClient>,
        token: SlackApiToken,
        people: People,
    ) -> Self {
        SlackDelivery {
            client,
            token,
            people,
        }
    }
}

/// Sorts Slack's failures into "try again later" and "give up".
fn classify(err: SlackClientError) -> DeliveryError {
    match err {
        SlackClientError::RateLimitError(limit) => DeliveryError::RateLimited {
            reason: "Slack answered 429".into(),
            after: limit.retry_after.or(Some(Duration::from_secs(1))),
        },
        SlackClientError::ApiError(api) => {
            let code = api.code.clone();
            if code == "ratelimited" {
                return DeliveryError::RateLimited {
                    reason: "Slack said ratelimited".into(),
                    after: Some(Duration::from_secs(1)),
                };
            }
            if matches!(
                code.as_str(),
                "internal_error" | "service_unavailable" | "fatal_error" | "request_timeout"
            ) {
                DeliveryError::Retry {
                    reason: format!("Slack said {code}"),
                    after: None,
                }
            } else {
                DeliveryError::Permanent(format!("Slack refused: {code}"))
            }
        }
        SlackClientError::HttpError(http)
            if http.status_code.is_client_error() && http.status_code.as_u16() != 408 =>
        {
            DeliveryError::Permanent(format!("Slack answered HTTP {}", http.status_code))
        }
        other => DeliveryError::Retry {
            reason: other.to_string(),
            after: None,
        },
    }
}

impl Deliver for SlackDelivery {
    fn platform(&self) -> Platform {
        Platform::Slack
    }

    fn pace(&self, sending: Sending<'_>) -> Option<Pace> {
        Some(match sending {
            Sending::Post { channel, .. } => Pace::new(
                format!("chat.postMessage:{channel}"),
                POST_EVERY,
                POST_BURST,
            ),
            // A direct message is posted to the user's id.
            Sending::Direct { user } => Pace::new(
                format!("chat.postMessage:{}", user.id()),
                POST_EVERY,
                POST_BURST,
            ),
            Sending::Edit { .. } => Pace::new("chat.update", UPDATE_EVERY, UPDATE_BURST),
        })
    }

    async fn post_card(
        &self,
        channel: &str,
        thread: Option<&str>,
        card: &Message,
    ) -> Result<PostedMessage, DeliveryError> {
        let content = render(card, &self.people).await;
        let request = SlackApiChatPostMessageRequest::new(channel.into(), content)
            .opt_thread_ts(thread.map(Into::into));
        let session = self.client.open_session(&self.token);
        let posted = session
            .chat_post_message(&request)
            .await
            .map_err(classify)?;
        let ts = posted.ts.0.clone();
        Ok(PostedMessage {
            channel: posted.channel.0.clone(),
            thread: thread.map_or_else(|| ts.clone(), str::to_string),
            message_id: ts,
        })
    }

    async fn update_card(
        &self,
        posted: &PostedMessage,
        card: &Message,
    ) -> Result<(), DeliveryError> {
        let content = render(card, &self.people).await;
        let request = SlackApiChatUpdateRequest::new(
            posted.channel.as_str().into(),
            content,
            posted.message_id.as_str().into(),
        );
        let session = self.client.open_session(&self.token);
        session.chat_update(&request).await.map_err(classify)?;
        Ok(())
    }

    async fn send_direct(&self, reporter: &UserId, survey: &Message) -> Result<(), DeliveryError> {
        if reporter.platform() != Platform::Slack {
            return Err(DeliveryError::Permanent(format!(
                "{reporter} is not a Slack user"
            )));
        }
        let content = render(survey, &self.people).await;
        // Posting to a user id lands in the bot's direct messages with them.
        let request = SlackApiChatPostMessageRequest::new(reporter.id().into(), content);
        let session = self.client.open_session(&self.token);
        session
            .chat_post_message(&request)
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn post_notice(
        &self,
        channel: &str,
        thread: Option<&str>,
        notice: &Message,
    ) -> Result<(), DeliveryError> {
        let content = render(notice, &self.people).await;
        let request = SlackApiChatPostMessageRequest::new(channel.into(), content)
            .opt_thread_ts(thread.map(Into::into));
        let session = self.client.open_session(&self.token);
        session
            .chat_post_message(&request)
            .await
            .map_err(classify)?;
        Ok(())
    }
}

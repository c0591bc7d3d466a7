//! The engine's input: one chat message, whatever platform it came from.
//! The adapters build it; the engine reads it.

use crate::domain::{Platform, UserId};

/// A chat message addressed to the bot, free of platform details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    pub platform: Platform,
    pub user: UserId,
    pub channel: String,
    /// The thread the message was posted in, if any.
    pub thread: Option<String>,
    /// The platform's id of the message itself, if it has one.
    pub message: Option<String>,
    /// The platform's id of this delivery, for idempotency.
    pub event_id: Option<String>,
    pub text: String,
}

impl Inbound {
    /// A message from `user` in `channel` with no thread or ids.
    pub fn new(user: UserId, channel: impl Into<String>, text: impl Into<String>) -> Self {
        Inbound {
            platform: user.platform(),
            user,
            channel: channel.into(),
            thread: None,
            message: None,
            event_id: None,
            text: text.into(),
        }
    }
}

//! Platform-free replies. Adapters render them: Block Kit for Slack, embeds
//! for Discord, plain text for the shell (see [`Message::plain_text`]).

use crate::domain::moment::{self, Reader};
use crate::domain::TicketRef;

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It was done (or answered).
    Done,
    /// It was refused; nothing changed.
    Refused,
    /// The database could not be reached or failed; nothing changed.
    Unavailable,
}

/// Who sees the reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// Everyone in the channel.
    Channel,
    /// Only the person who sent the command, where the platform allows.
    Ephemeral,
}

/// One block of a message. Serializable so notices can wait in the outbox
/// and still be rendered natively by each platform.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Block {
    /// A heading line.
    Header(String),
    /// A paragraph.
    Text(String),
    /// Label/value pairs shown side by side.
    Fields(Vec<(String, String)>),
    /// A list with an optional title.
    List {
        title: Option<String>,
        items: Vec<String>,
    },
    /// Small print under the rest.
    Context(String),
    /// Someone the bot calls on (`slack:U…`, `shell:bob`): platforms that can
    /// notify people mention them. Only the bot writes these, never user text.
    Mention { label: String, user: String },
    /// Buttons. Platforms without buttons leave them out.
    Actions(Vec<super::buttons::Button>),
}

/// A message made of blocks.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Message {
    pub blocks: Vec<Block>,
}

impl Message {
    /// A message of one paragraph.
    pub fn text(text: impl Into<String>) -> Self {
        Message {
            blocks: vec![Block::Text(text.into())],
        }
    }

    /// Adds a block.
    pub fn with(mut self, block: Block) -> Self {
        self.blocks.push(block);
        self
    }

    /// The message as plain text, times in the team's zone: for platforms'
    /// fallback text, API errors and logs.
    pub fn plain_text(&self) -> String {
        self.plain_text_for(Reader::Team)
    }

    /// The message as plain text for `reader` (the shell passes the person's
    /// zone).
    pub fn plain_text_for(&self, reader: Reader) -> String {
        moment::render(&self.text_with_stamps(), reader)
    }

    /// The blocks as lines, time stamps still in them.
    fn text_with_stamps(&self) -> String {
        let mut out: Vec<String> = Vec::new();
        for block in &self.blocks {
            match block {
                Block::Mention { label, user } => out.push(format!("{label} {user}")),
                Block::Header(text) | Block::Text(text) | Block::Context(text) => {
                    out.push(text.clone())
                }
                Block::Fields(fields) => out.push(
                    fields
                        .iter()
                        .map(|(label, value)| format!("{label}: {value}"))
                        .collect::<Vec<_>>()
                        .join(" · "),
                ),
                Block::Actions(_) => {}
                Block::List { title, items } => {
                    if let Some(title) = title {
                        out.push(title.clone());
                    }
                    out.extend(items.iter().map(|item| format!("  {item}")));
                }
            }
        }
        out.join("\n")
    }
}

/// The answer to one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub outcome: Outcome,
    pub visibility: Visibility,
    pub message: Message,
    /// The ticket the command created or changed, if any.
    pub ticket: Option<TicketRef>,
    /// For a refusal: the form field it is about, if one (see
    /// [`super::Refusal::field`]).
    pub field: Option<String>,
}

impl Reply {
    /// A reply to a command that was carried out, seen by the channel.
    pub fn done(message: Message) -> Self {
        Reply {
            outcome: Outcome::Done,
            visibility: Visibility::Channel,
            message,
            ticket: None,
            field: None,
        }
    }

    /// An answer to a question, seen only by the person who asked.
    pub fn answer(message: Message) -> Self {
        Reply {
            visibility: Visibility::Ephemeral,
            ..Reply::done(message)
        }
    }

    /// A refusal, seen only by the person who asked.
    pub fn refused(refusal: &super::Refusal) -> Self {
        let mut message = Message::text(refusal.reason.clone());
        if let Some(hint) = &refusal.hint {
            message = message.with(Block::Context(hint.clone()));
        }
        Reply {
            outcome: Outcome::Refused,
            visibility: Visibility::Ephemeral,
            message,
            ticket: None,
            field: refusal.field.clone(),
        }
    }

    /// The answer while the database cannot be reached.
    pub fn unavailable() -> Self {
        Reply {
            outcome: Outcome::Unavailable,
            visibility: Visibility::Ephemeral,
            message: Message::text(
                "The service desk database is unavailable, please try again in a moment. Nothing was changed.",
            ),
            ticket: None,
            field: None,
        }
    }

    /// The answer when something failed on the bot's side.
    pub fn failed() -> Self {
        Reply {
            message: Message::text(
                "Something went wrong on the service desk's side and nothing was changed; the error was logged. Please try again.",
            ),
            ..Reply::unavailable()
        }
    }

    /// Shows the reply only to the person who asked (the channel sees the
    /// ticket's card instead).
    pub fn privately(mut self) -> Self {
        self.visibility = Visibility::Ephemeral;
        self
    }

    /// Names the ticket this reply is about.
    pub fn about(mut self, reference: TicketRef) -> Self {
        self.ticket = Some(reference);
        self
    }
}

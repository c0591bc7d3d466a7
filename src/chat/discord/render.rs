//! Platform-free messages → Discord embeds and buttons.

use serenity::all::{
    ButtonStyle as DiscordStyle, Colour, CreateActionRow, CreateButton, CreateEmbed,
    CreateEmbedFooter,
};

use crate::commands::buttons::{ButtonAction, ButtonStyle};
use crate::commands::reply::{Block, Message};
use crate::domain::moment::{self, Reader};

/// Discord's limits: embed title 256, description 4096, field value 1024,
/// 25 fields, 5 buttons per row.
const TITLE_LIMIT: usize = 256;
const DESCRIPTION_LIMIT: usize = 4_000;
const FIELD_LIMIT: usize = 1_000;

fn truncate(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_string();
    }
    let mut out: String = text.chars().take(limit.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Keeps `@everyone`, `@here` and role pings in user text from notifying;
/// then writes the bot's time stamps as Discord timestamps, which each
/// reader sees in their own zone.
fn defuse(text: &str) -> String {
    let defused = text
        .replace("@everyone", "@\u{200B}everyone")
        .replace("@here", "@\u{200B}here")
        .replace("<@", "<@\u{200B}");
    moment::render(&defused, Reader::Discord)
}

/// [`defuse`] for the places Discord shows as plain text (embed titles and
/// footers format no timestamps): times in the team's zone.
fn defuse_plain(text: &str) -> String {
    defuse(&moment::render(text, Reader::Team))
}

/// The embed colour of a priority, read from the message's Priority field.
fn colour(message: &Message) -> Colour {
    let priority = message.blocks.iter().find_map(|block| match block {
        Block::Fields(fields) => fields
            .iter()
            .find(|(label, _)| label == "Priority")
            .map(|(_, v)| v.clone()),
        _ => None,
    });
    match priority.as_deref() {
        Some("P1") => Colour::from_rgb(0xE7, 0x4C, 0x3C),
        Some("P2") => Colour::from_rgb(0xE6, 0x7E, 0x22),
        Some("P3") => Colour::from_rgb(0xF1, 0xC4, 0x0F),
        Some("P4") => Colour::from_rgb(0x34, 0x98, 0xDB),
        _ => Colour::from_rgb(0x95, 0xA5, 0xA6),
    }
}

/// A custom id carrying a button action: `itsm:ack|INC-1`.
pub fn custom_id(action: &ButtonAction) -> String {
    let (id, value) = action.encode();
    format!("{id}|{value}")
}

/// Reads a custom id written by [`custom_id`].
pub fn button_action(custom_id: &str) -> Option<ButtonAction> {
    let (id, value) = custom_id.split_once('|')?;
    ButtonAction::decode(id, value)
}

/// The pieces of a Discord message: content (for pings), one embed, rows of buttons.
pub struct Rendered {
    pub content: Option<String>,
    pub embed: CreateEmbed,
    pub rows: Vec<CreateActionRow>,
}

/// Renders `message` as an embed with buttons.
pub fn render(message: &Message) -> Rendered {
    let mut embed = CreateEmbed::new().colour(colour(message));
    let mut description = String::new();
    let mut footer: Vec<String> = Vec::new();
    let mut pings = Vec::new();
    let mut rows = Vec::new();
    let mut fields = 0;
    for block in &message.blocks {
        match block {
            Block::Header(text) => embed = embed.title(truncate(&defuse_plain(text), TITLE_LIMIT)),
            Block::Text(text) => {
                description.push_str(&defuse(text));
                description.push('\n');
            }
            Block::Fields(pairs) => {
                for (label, value) in pairs {
                    if fields < 25 {
                        embed = embed.field(
                            truncate(label, 256),
                            truncate(&defuse(value), FIELD_LIMIT),
                            true,
                        );
                        fields += 1;
                    }
                }
            }
            Block::List { title, items } => {
                if let Some(title) = title {
                    description.push_str(&format!("**{}**\n", defuse(title)));
                }
                for item in items {
                    description.push_str(&format!("• {}\n", defuse(item)));
                }
            }
            Block::Context(text) => footer.push(defuse_plain(text)),
            Block::Mention { label, user } => match user.strip_prefix("discord:") {
                Some(id) if id.chars().all(|c| c.is_ascii_digit()) => {
                    pings.push(format!("{} <@{id}>", defuse(label)))
                }
                _ => footer.push(format!("{} {}", defuse_plain(label), defuse_plain(user))),
            },
            Block::Actions(buttons) => {
                let row: Vec<CreateButton> = buttons
                    .iter()
                    .take(5)
                    .map(|button| {
                        let style = match button.style {
                            ButtonStyle::Primary => DiscordStyle::Primary,
                            ButtonStyle::Danger => DiscordStyle::Danger,
                            ButtonStyle::Default => DiscordStyle::Secondary,
                        };
                        CreateButton::new(custom_id(&button.action))
                            .label(button.label.clone())
                            .style(style)
                    })
                    .collect();
                if rows.len() < 5 && !row.is_empty() {
                    rows.push(CreateActionRow::Buttons(row));
                }
            }
        }
    }
    if !description.trim().is_empty() {
        embed = embed.description(truncate(description.trim_end(), DESCRIPTION_LIMIT));
    }
    if !footer.is_empty() {
        embed = embed.footer(CreateEmbedFooter::new(truncate(&footer.join(" · "), 2_000)));
    }
    Rendered {
        content: (!pings.is_empty()).then(|| pings.join(" ")),
        embed,
        rows,
    }
}

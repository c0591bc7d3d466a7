//! Platform-free messages → Block Kit, and the bot's modals.

use slack_morphism::prelude::*;

use crate::commands::buttons::{Button, ButtonStyle, Prompt};
use crate::commands::reply::{Block, Message};
use crate::domain::moment::{self, Reader};

use super::people::People;

/// Callback id of the incident form.
pub const REPORT_FORM: &str = "itsm:report";

/// Block and action ids of the forms' fields (the same string for both).
pub mod field {
    pub const TITLE: &str = "title";
    pub const DESCRIPTION: &str = "description";
    pub const IMPACT: &str = "impact";
    pub const URGENCY: &str = "urgency";
    pub const SERVICE: &str = "service";
}

/// Slack's limits: section text 3,000 characters, header 150, fallback text 4,000.
const SECTION_LIMIT: usize = 3_000;
const HEADER_LIMIT: usize = 150;
const FALLBACK_LIMIT: usize = 4_000;

/// Escapes the three characters mrkdwn treats as control characters, so a
/// title like `<!channel>` cannot ping everyone; then writes the bot's time
/// stamps as Slack date tokens, which each reader sees in their own zone.
/// Only the bot writes stamps (people cannot type their marks), so the
/// tokens are the only `<…>` that survive.
pub fn escape(text: &str) -> String {
    let escaped = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    moment::render(&escaped, Reader::Slack)
}

fn truncate(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_string();
    }
    let mut out: String = text.chars().take(limit.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A message's blocks and fallback text, with Slack user ids shown as names.
pub async fn render(message: &Message, people: &People) -> SlackMessageContent {
    let mut blocks: Vec<SlackBlock> = Vec::new();
    for block in &message.blocks {
        match block {
            Block::Header(text) => {
                // A header is plain text: Slack formats no tokens there.
                let text = moment::render(&people.humanize(text).await, Reader::Team);
                blocks.push(SlackHeaderBlock::new(truncate(&text, HEADER_LIMIT).into()).into());
            }
            Block::Text(text) => {
                let text = escape(&people.humanize(text).await);
                blocks.push(
                    SlackSectionBlock::new()
                        .with_text(md!("{}", truncate(&text, SECTION_LIMIT)))
                        .into(),
                );
            }
            Block::Fields(fields) => {
                let mut texts = Vec::new();
                for (label, value) in fields.iter().take(10) {
                    let value = escape(&people.humanize(value).await);
                    texts.push(md!("*{}*\n{}", escape(label), truncate(&value, 1_900)));
                }
                blocks.push(SlackSectionBlock::new().with_fields(texts).into());
            }
            Block::List { title, items } => {
                let mut text = title
                    .as_ref()
                    .map(|t| format!("*{}*\n", escape(t)))
                    .unwrap_or_default();
                for item in items {
                    text.push_str(&format!("• {}\n", escape(&people.humanize(item).await)));
                }
                blocks.push(
                    SlackSectionBlock::new()
                        .with_text(md!("{}", truncate(text.trim_end(), SECTION_LIMIT)))
                        .into(),
                );
            }
            Block::Context(text) => {
                let text = escape(&people.humanize(text).await);
                blocks.push(
                    SlackContextBlock::new(vec![md!("{}", truncate(&text, SECTION_LIMIT))]).into(),
                );
            }
            Block::Mention { label, user } => {
                // A Slack user is pinged; anyone else is named.
                let who = match user.strip_prefix("slack:") {
                    Some(id) if id.chars().all(|c| c.is_ascii_alphanumeric()) => format!("<@{id}>"),
                    _ => escape(&people.humanize(user).await),
                };
                blocks.push(SlackContextBlock::new(vec![md!("{} {}", escape(label), who)]).into());
            }
            Block::Actions(buttons) => {
                blocks.push(SlackActionsBlock::new(buttons.iter().map(button).collect()).into());
            }
        }
    }
    // The fallback text is what notifications show, and Slack parses it
    // for `<!channel>` too, so it is escaped like the blocks.
    let fallback = truncate(
        &escape(&people.humanize(&message.plain_text()).await),
        FALLBACK_LIMIT,
    );
    SlackMessageContent::new()
        .with_text(fallback)
        .with_blocks(blocks)
}

fn button(button: &Button) -> SlackActionBlockElement {
    let (action_id, value) = button.action.encode();
    let element = SlackBlockButtonElement::new(button.label.as_str().into())
        .with_action_id(action_id.into())
        .with_value(value);
    match button.style {
        ButtonStyle::Primary => element.with_style(SlackBlockButtonStyle::Primary),
        ButtonStyle::Danger => element.with_style(SlackBlockButtonStyle::Danger),
        ButtonStyle::Default => element,
    }
    .into()
}

fn level_select(action: &str) -> SlackInputBlockElement {
    let option =
        |label: &str, value: &str| SlackBlockChoiceItem::new(label.into(), value.to_string());
    SlackBlockStaticSelectElement::new()
        .with_action_id(action.into())
        .with_options(vec![
            option("High", "high"),
            option("Medium", "medium"),
            option("Low", "low"),
        ])
        .with_initial_option(option("Medium", "medium"))
        .into()
}

/// The incident form. `channel` (where `/incident` was typed) travels in
/// the view's private metadata, since a submission does not say.
pub fn report_form(channel: &str, services: &[String]) -> SlackView {
    let mut blocks: Vec<SlackBlock> = vec![
        SlackInputBlock::new(
            "What is broken?".into(),
            SlackBlockPlainTextInputElement::new()
                .with_action_id(field::TITLE.into())
                .with_max_length(200)
                .into(),
        )
        .with_block_id(field::TITLE.into())
        .into(),
        SlackInputBlock::new(
            "Details".into(),
            SlackBlockPlainTextInputElement::new()
                .with_action_id(field::DESCRIPTION.into())
                .with_multiline(true)
                .with_max_length(4000)
                .into(),
        )
        .with_block_id(field::DESCRIPTION.into())
        .with_optional(true)
        .into(),
        SlackInputBlock::new("Impact".into(), level_select(field::IMPACT))
            .with_block_id(field::IMPACT.into())
            .into(),
        SlackInputBlock::new("Urgency".into(), level_select(field::URGENCY))
            .with_block_id(field::URGENCY.into())
            .into(),
    ];
    if !services.is_empty() {
        let options = services
            .iter()
            .take(100)
            .map(|name| SlackBlockChoiceItem::new(name.as_str().into(), name.clone()))
            .collect();
        blocks.push(
            SlackInputBlock::new(
                "Service".into(),
                SlackBlockStaticSelectElement::new()
                    .with_action_id(field::SERVICE.into())
                    .with_options(options)
                    .into(),
            )
            .with_block_id(field::SERVICE.into())
            .with_optional(true)
            .into(),
        );
    }
    SlackView::Modal(
        SlackModalView::new("Report an incident".into(), blocks)
            .with_callback_id(REPORT_FORM.into())
            .with_private_metadata(channel.to_string())
            .with_submit("Report".into())
            .with_close("Cancel".into()),
    )
}

/// A one-field form whose answer completes a command (see [`Prompt`]);
/// the ticket travels in the private metadata.
pub fn prompt_form(prompt: Prompt) -> SlackView {
    SlackView::Modal(
        SlackModalView::new(
            prompt.title().as_str().into(),
            vec![SlackInputBlock::new(
                prompt.label().into(),
                SlackBlockPlainTextInputElement::new()
                    .with_action_id(prompt.field().into())
                    .with_multiline(true)
                    .with_max_length(4000)
                    .into(),
            )
            .with_block_id(prompt.field().into())
            .into()],
        )
        .with_callback_id(prompt.form_id().into())
        .with_private_metadata(prompt.reference().to_string())
        .with_submit(prompt.submit().into())
        .with_close("Cancel".into()),
    )
}

/// A form's answer shown in its place: `text` under `title`, with a Close
/// button. A slow form is replaced by "Working on it…" at once and by its
/// answer (or the outage text) once the engine is done.
pub fn notice_view(title: &str, text: &str) -> SlackView {
    SlackView::Modal(
        SlackModalView::new(
            truncate(title, 24).as_str().into(),
            vec![SlackSectionBlock::new()
                .with_text(md!(truncate(&escape(text), SECTION_LIMIT)))
                .into()],
        )
        .with_close("Close".into()),
    )
}

//! Platform-free messages → Block Kit, and the bot's modals.

use slack_morphism::prelude::*;

use crate::commands::buttons::{Button, ButtonStyle, Prompt};
use crate::commands::reply::{Block, Message};
use crate::domain::moment::{self, Reader};
use crate::domain::request::{CatalogItem, FieldKind, FieldSpec, MAX_FIELD_CHARS};

use super::people::People;

/// Callback id of the incident form.
pub const REPORT_FORM: &str = "itsm:report";

/// Callback id of the service request form.
pub const REQUEST_FORM: &str = "itsm:request";

/// Action id of the request form's item picker; picking an item shows its
/// fields (`views.update`).
pub const REQUEST_ITEM: &str = "itsm:request_item";

/// Action id of the "Fill in the form" button on a `/request <item> …`
/// refused for a field; its value is the request as typed
/// ([`crate::commands::RequestIntake::to_text`]).
pub const REQUEST_FILL: &str = "itsm:request_fill";

/// Slack's limit on a button's value.
const BUTTON_VALUE_LIMIT: usize = 2_000;

/// The "Fill in the form" button under a refused `/request <item> …`:
/// it opens the item's form holding `typed`. `None` when `typed` is
/// longer than a button can carry (the reply still says what to type).
pub fn fill_in_button(typed: &str) -> Option<SlackBlock> {
    if typed.chars().count() > BUTTON_VALUE_LIMIT {
        return None;
    }
    let button = SlackBlockButtonElement::new("Fill in the form".into())
        .with_action_id(REQUEST_FILL.into())
        .with_value(typed.to_string())
        .with_style(SlackBlockButtonStyle::Primary);
    Some(
        SlackActionsBlock::new(vec![button.into()])
            .with_block_id(REQUEST_FILL.into())
            .into(),
    )
}

/// Block and action id of the request form's details (free text).
pub const REQUEST_DETAILS: &str = "request:details";

/// The block and action id of a catalog item's field in the request form.
/// The prefix keeps a field called `details` apart from the details box.
pub fn request_field(name: &str) -> String {
    format!("field:{name}")
}

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

/// The request form's private metadata: the channel `/request` was typed
/// in (a submission does not say) and the item picked, `C…|laptop`.
pub fn request_metadata(channel: &str, item: Option<&str>) -> String {
    format!("{channel}|{}", item.unwrap_or_default())
}

/// Reads [`request_metadata`] back: the channel and the item, if picked.
pub fn read_request_metadata(metadata: &str) -> (&str, Option<&str>) {
    let (channel, item) = metadata.split_once('|').unwrap_or((metadata, ""));
    (channel, Some(item).filter(|i| !i.is_empty()))
}

/// Slack's limits on a select: 100 options, 75 characters of text each.
const SELECT_OPTIONS: usize = 100;
const OPTION_TEXT: usize = 75;

fn choice(label: &str, value: &str) -> SlackBlockChoiceItem<SlackBlockPlainTextOnly> {
    SlackBlockChoiceItem::new(
        truncate(label, OPTION_TEXT).as_str().into(),
        value.to_string(),
    )
}

/// The service request form. Without `picked` it offers the catalog to
/// pick from; with it, the item's fields as inputs (required ones not
/// optional, so Slack asks for them), filled with `given` (field, value)
/// and `details` when the form completes a command that was typed.
pub fn request_form(
    channel: &str,
    catalog: &[CatalogItem],
    picked: Option<&CatalogItem>,
    given: &[(String, String)],
    details: Option<&str>,
) -> SlackView {
    let options: Vec<_> = catalog
        .iter()
        .take(SELECT_OPTIONS)
        .map(|item| choice(&format!("{} ({})", item.title, item.name), &item.name))
        .collect();
    let mut picker = SlackBlockStaticSelectElement::new()
        .with_action_id(REQUEST_ITEM.into())
        .with_placeholder("Pick what you need".into())
        .with_options(options);
    if let Some(item) = picked {
        picker = picker.with_initial_option(choice(
            &format!("{} ({})", item.title, item.name),
            &item.name,
        ));
    }
    let mut blocks: Vec<SlackBlock> = vec![SlackActionsBlock::new(vec![picker.into()])
        .with_block_id(REQUEST_ITEM.into())
        .into()];
    let mut view = SlackModalView::new("Service request".into(), Vec::new())
        .with_callback_id(REQUEST_FORM.into())
        .with_private_metadata(request_metadata(channel, picked.map(|i| i.name.as_str())))
        .with_close("Cancel".into());
    let Some(item) = picked else {
        view.blocks = blocks;
        return SlackView::Modal(view);
    };
    if !item.description.is_empty() {
        blocks.push(
            SlackContextBlock::new(vec![md!(
                "{}",
                truncate(&escape(&item.description), SECTION_LIMIT)
            )])
            .into(),
        );
    }
    for field in &item.fields {
        let value = given
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(&field.name))
            .map(|(_, value)| value.as_str());
        blocks.push(field_input(field, value).into());
    }
    let mut details_input = SlackBlockPlainTextInputElement::new()
        .with_action_id(REQUEST_DETAILS.into())
        .with_multiline(true)
        .with_max_length(4000);
    if let Some(details) = details.filter(|d| !d.trim().is_empty()) {
        details_input = details_input.with_initial_value(details.to_string());
    }
    blocks.push(
        SlackInputBlock::new("Details".into(), details_input.into())
            .with_block_id(REQUEST_DETAILS.into())
            .with_optional(true)
            .into(),
    );
    view.blocks = blocks;
    SlackView::Modal(view.with_submit("Ask".into()))
}

/// One field of a catalog item as a form input, holding `value` when it
/// is one the input can show.
fn field_input(field: &FieldSpec, value: Option<&str>) -> SlackInputBlock {
    let id = request_field(&field.name);
    let element: SlackInputBlockElement = match &field.kind {
        FieldKind::Text => {
            let mut input = SlackBlockPlainTextInputElement::new()
                .with_action_id(id.as_str().into())
                .with_max_length(MAX_FIELD_CHARS as u64);
            if let Some(value) = value {
                input = input.with_initial_value(value.chars().take(MAX_FIELD_CHARS).collect());
            }
            input.into()
        }
        FieldKind::Choice(words) => {
            let mut select = SlackBlockStaticSelectElement::new()
                .with_action_id(id.as_str().into())
                .with_options(
                    words
                        .iter()
                        .take(SELECT_OPTIONS)
                        .map(|w| choice(w, w))
                        .collect(),
                );
            // Only one of the choices can be shown as chosen; anything
            // else typed is left for the person to pick again.
            if let Some(word) = value.and_then(|v| words.iter().find(|w| w.eq_ignore_ascii_case(v)))
            {
                select = select.with_initial_option(choice(word, word));
            }
            select.into()
        }
        FieldKind::Date => {
            let mut picker = SlackBlockDatePickerElement::new().with_action_id(id.as_str().into());
            if let Some(date) =
                value.filter(|v| chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok())
            {
                picker = picker.with_initial_date(date.to_string());
            }
            picker.into()
        }
        FieldKind::User => {
            let mut select = SlackBlockUsersSelectElement::new().with_action_id(id.as_str().into());
            if let Some(user) = value.and_then(slack_user_of) {
                select = select.with_initial_user(user);
            }
            select.into()
        }
    };
    SlackInputBlock::new(truncate(&field.name, 2000).as_str().into(), element)
        .with_block_id(id.as_str().into())
        .with_hint(field.kind.describe().as_str().into())
        .with_optional(!field.required)
}

/// The Slack user id in a typed person (`<@U…>`, `slack:U…`), for a
/// users select.
fn slack_user_of(value: &str) -> Option<String> {
    let id = value
        .strip_prefix("<@")
        .and_then(|v| v.strip_suffix('>'))
        .map(|v| v.split('|').next().unwrap_or_default())
        .or_else(|| value.strip_prefix("slack:"))?;
    (!id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric())).then(|| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::request::Team;
    use crate::domain::roles::Role;

    fn laptop() -> CatalogItem {
        let field = |name: &str, kind: FieldKind, required: bool| FieldSpec {
            name: name.into(),
            kind,
            required,
        };
        CatalogItem {
            name: "laptop".into(),
            title: "New or replacement laptop".into(),
            description: String::new(),
            fields: vec![
                field(
                    "model",
                    FieldKind::Choice(vec!["13-inch".into(), "15-inch".into()]),
                    true,
                ),
                field("start", FieldKind::Date, false),
                field("for", FieldKind::User, false),
            ],
            approval: Vec::new(),
            approvals_needed: 1,
            team: Team::Role(Role::Engineer),
            tasks: Vec::new(),
            fulfil_within: None,
            business_day: chrono::Duration::hours(8),
            calendar: None,
            runbook: None,
            channel: None,
        }
    }

    #[test]
    fn a_filled_form_shows_what_its_inputs_can_hold() {
        let item = laptop();
        let given = [
            ("model".to_string(), "15-INCH".to_string()),
            ("start".to_string(), "24.12.2026".to_string()),
            ("for".to_string(), "<@U0SAM0001>".to_string()),
        ];
        let view = request_form("C1", std::slice::from_ref(&item), Some(&item), &given, None);
        let json = serde_json::to_value(&view).unwrap();
        let block = |id: &str| {
            json["blocks"]
                .as_array()
                .unwrap()
                .iter()
                .find(|b| b["block_id"] == id)
                .cloned()
                .unwrap()
        };
        assert_eq!(
            block("field:model")["element"]["initial_option"]["value"],
            "15-inch"
        );
        // Not a date the picker can show: left for the person to pick.
        assert!(block("field:start")["element"]["initial_date"].is_null());
        assert_eq!(block("field:for")["element"]["initial_user"], "U0SAM0001");
        assert_eq!(json["private_metadata"], "C1|laptop");
        assert_eq!(read_request_metadata("C1|laptop"), ("C1", Some("laptop")));
        assert_eq!(read_request_metadata("C1|"), ("C1", None));
    }
}

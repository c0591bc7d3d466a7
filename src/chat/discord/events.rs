//! Gateway events → engine commands: interactions (commands, buttons,
//! forms, autocomplete), intake messages, thread replies and reactions.

use std::future::Future;

use serenity::all::{
    ActionRowComponent, AutocompleteChoice, CommandInteraction, CommandType, ComponentInteraction,
    ComponentInteractionDataKind, Context, CreateActionRow, CreateAutocompleteResponse,
    CreateButton, CreateInputText, CreateInteractionResponse, CreateInteractionResponseFollowup,
    CreateInteractionResponseMessage, CreateModal, CreateSelectMenu, CreateSelectMenuKind,
    CreateSelectMenuOption, EditInteractionResponse, EventHandler, GuildId, InputTextStyle,
    Interaction, Message, ModalInteraction, Reaction, ReactionType, Ready, ResolvedTarget,
};

use super::commands::{definitions, invocation, Invocation};
use super::render::{button_action, render};
use super::DiscordAdapter;
use crate::commands::buttons::{Click, Prompt};
use crate::commands::reply::{Outcome, Reply, Visibility};
use crate::commands::{
    parse, Command, IncidentIntake, ParseContext, Refusal, Request, RequestIntake,
};
use crate::domain::request::{CatalogItem, FieldSpec, MAX_FIELD_CHARS};
use crate::domain::{FreeText, Platform, Priority, Title, UserId};

const REPORT_FORM: &str = "itsm:report";

/// The custom id of the catalog's select menu (`/request` alone).
const REQUEST_ITEM: &str = "itsm:request_item";

/// The custom id of the "Fill in the form" button under a `/request <item>
/// …` refused for a field: `itsm:request_fill|laptop reason:"new starter"`,
/// the request as typed ([`RequestIntake::to_text`]).
const REQUEST_FILL: &str = "itsm:request_fill";

/// Discord's limit on a custom id.
const CUSTOM_ID_LIMIT: usize = 100;

/// The custom id of an item's form: `itsm:request|laptop`.
const REQUEST_FORM: &str = "itsm:request";

/// The custom id of the request form's details input; a catalog field
/// has its own name as custom id, so this one cannot be a field's.
const REQUEST_DETAILS: &str = "request:details";

/// Discord's limits: 5 inputs in a modal, 25 options in a select menu,
/// 45 characters in a modal title or an input label, 100 in an option,
/// a placeholder or a description.
const MODAL_INPUTS: usize = 5;
const SELECT_OPTIONS: usize = 25;
const LABEL_LIMIT: usize = 45;
const OPTION_LIMIT: usize = 100;

/// serenity's event handler for the adapter.
pub struct Handler {
    adapter: DiscordAdapter,
}

impl Handler {
    pub fn new(adapter: DiscordAdapter) -> Self {
        Handler { adapter }
    }
}

fn person(id: serenity::all::UserId) -> Option<UserId> {
    UserId::new(Platform::Discord, &id.get().to_string()).ok()
}

fn sentence(text: &str) -> String {
    crate::commands::refusal::sentence(text)
}

#[serenity::async_trait]
impl EventHandler for Handler {
    /// Registers the commands; safe to repeat, since every re-identify
    /// brings a new READY.
    async fn ready(&self, ctx: Context, ready: Ready) {
        tracing::info!(bot = %ready.user.id, "connected to Discord");
        let commands = definitions();
        let config = &self.adapter.inner.config;
        let result = if config.guild_ids.is_empty() {
            serenity::all::Command::set_global_commands(&ctx.http, commands)
                .await
                .map(|_| ())
        } else {
            let mut result = Ok(());
            for guild in config.guild_ids.iter().copied().filter(|id| *id != 0) {
                if let Err(err) = GuildId::new(guild)
                    .set_commands(&ctx.http, commands.clone())
                    .await
                {
                    result = Err(err);
                }
            }
            result
        };
        if let Err(err) = result {
            tracing::warn!(error = %err, "registering Discord commands failed");
        }
    }

    async fn interaction_create(&self, ctx: Context, interaction: Interaction) {
        let _busy = self.adapter.busy();
        let adapter = &self.adapter;
        let result = match interaction {
            Interaction::Command(command) if command.data.kind == CommandType::Message => {
                adapter.on_context_menu(&ctx, &command).await
            }
            Interaction::Command(command) => adapter.on_command(&ctx, &command).await,
            Interaction::Autocomplete(command) => adapter.on_autocomplete(&ctx, &command).await,
            Interaction::Component(component) => adapter.on_button(&ctx, &component).await,
            Interaction::Modal(modal) => adapter.on_form(&ctx, &modal).await,
            _ => Ok(()),
        };
        if let Err(err) = result {
            tracing::warn!(error = %err, "answering a Discord interaction failed");
        }
    }

    async fn message(&self, _ctx: Context, message: Message) {
        let _busy = self.adapter.busy();
        self.adapter.on_message(&message).await;
    }

    async fn reaction_add(&self, ctx: Context, reaction: Reaction) {
        let _busy = self.adapter.busy();
        self.adapter.on_reaction(&ctx, &reaction).await;
    }
}

/// Whether `reply` is for the person alone: refusals, outages and private
/// replies are.
fn is_private(reply: &Reply) -> bool {
    reply.outcome != Outcome::Done || reply.visibility == Visibility::Ephemeral
}

/// An interaction response showing `reply`; refusals and private replies
/// are ephemeral.
fn respond(reply: &Reply) -> CreateInteractionResponse {
    let rendered = render(&reply.message);
    let mut message = CreateInteractionResponseMessage::new()
        .embed(rendered.embed)
        .components(rendered.rows)
        .ephemeral(is_private(reply));
    if let Some(content) = rendered.content {
        message = message.content(content);
    }
    CreateInteractionResponse::Message(message)
}

/// `reply` as an edit of a deferred interaction's original response.
fn edit(reply: &Reply) -> EditInteractionResponse {
    let rendered = render(&reply.message);
    let mut edit = EditInteractionResponse::new()
        .embed(rendered.embed)
        .components(rendered.rows);
    if let Some(content) = rendered.content {
        edit = edit.content(content);
    }
    edit
}

/// `reply` as a follow-up message that only the person sees.
fn private_followup(reply: &Reply) -> CreateInteractionResponseFollowup {
    let rendered = render(&reply.message);
    let mut followup = CreateInteractionResponseFollowup::new()
        .embed(rendered.embed)
        .components(rendered.rows)
        .ephemeral(true);
    if let Some(content) = rendered.content {
        followup = followup.content(content);
    }
    followup
}

/// A deferred answer: Discord shows "itsm-bot is thinking…" until the
/// original response is edited; `ephemeral` when only the person sees it.
fn deferred(ephemeral: bool) -> CreateInteractionResponse {
    CreateInteractionResponse::Defer(CreateInteractionResponseMessage::new().ephemeral(ephemeral))
}

/// The engine's answer to an interaction, and whether Discord was told to
/// wait for it first.
enum Answer {
    /// Ready within `discord.reply_within`: answer the interaction with it.
    InTime(Reply),
    /// Not ready in time: the interaction was deferred, so the answer
    /// edits the original response (or follows it).
    Late(Reply),
}

impl DiscordAdapter {
    /// Waits for `work` (the engine running a command) for
    /// `discord.reply_within`. When it is not done by then, `defer` is sent
    /// so Discord does not give up on the interaction (it allows 3 s), and
    /// the work runs on to its end: a slow or unreachable database still
    /// gets its answer, or the outage text, to the person.
    async fn within_limit(
        &self,
        work: impl Future<Output = Reply>,
        defer: impl Future<Output = serenity::Result<()>>,
    ) -> Answer {
        tokio::pin!(work);
        match tokio::time::timeout(self.inner.config.reply_within(), &mut work).await {
            Ok(reply) => Answer::InTime(reply),
            Err(_) => {
                if let Err(err) = defer.await {
                    tracing::warn!(error = %err, "deferring a Discord interaction failed");
                }
                Answer::Late(work.await)
            }
        }
    }

    /// Shows a late `reply` in place of a deferred response that everyone
    /// in the channel sees: an edit when the reply is public; otherwise the
    /// "thinking…" message goes and the reply follows for the person alone.
    async fn answer_deferred(
        &self,
        ctx: &Context,
        token: &str,
        reply: &Reply,
    ) -> serenity::Result<()> {
        if is_private(reply) {
            if let Err(err) = ctx.http.delete_original_interaction_response(token).await {
                tracing::debug!(error = %err, "removing the deferred Discord response failed");
            }
            ctx.http
                .create_followup_message(token, &private_followup(reply), Vec::new())
                .await
                .map(|_| ())
        } else {
            ctx.http
                .edit_original_interaction_response(token, &edit(reply), Vec::new())
                .await
                .map(|_| ())
        }
    }

    fn request(
        &self,
        user: UserId,
        channel: serenity::all::ChannelId,
        interaction_id: u64,
    ) -> Request {
        let mut request = Request::new(user, channel.get().to_string());
        request.event_id = Some(format!("interaction:{interaction_id}"));
        request
    }

    async fn on_command(
        &self,
        ctx: &Context,
        command: &CommandInteraction,
    ) -> serenity::Result<()> {
        let Some(user) = person(command.user.id) else {
            return Ok(());
        };
        let request = self.request(user.clone(), command.channel_id, command.id.get());
        let parsed = match invocation(command) {
            Invocation::ReportForm => {
                return command.create_response(&ctx.http, report_form()).await
            }
            Invocation::ResolveForm(ticket) => {
                let Ok(reference) = ticket.parse() else {
                    return Ok(());
                };
                return command
                    .create_response(&ctx.http, prompt_form(Prompt::Resolution(reference)))
                    .await;
            }
            Invocation::Report {
                title,
                priority,
                service,
                description,
            } => report(&title, priority.as_deref(), service, description.as_deref()),
            Invocation::Refused(why) => Err(Refusal::new(why)),
            Invocation::Line(name, text) => parse(
                &name,
                &text,
                ParseContext {
                    platform: Platform::Discord,
                    actor: &user,
                },
            ),
        };
        if let Ok(Command::RequestCatalog) = parsed {
            return command
                .create_response(&ctx.http, self.request_picker())
                .await;
        }
        // A request refused for a field offers its form, holding what was
        // typed, when that fits in a button's custom id; the reply says
        // what to type either way.
        let fill = match &parsed {
            Ok(Command::OpenRequest(intake)) => {
                Some(format!("{REQUEST_FILL}|{}", intake.to_text()))
                    .filter(|id| id.chars().count() <= CUSTOM_ID_LIMIT)
            }
            _ => None,
        };
        let answer = match parsed {
            Ok(parsed) => {
                let work = self.inner.engine.execute(&request, parsed);
                let defer = command.create_response(&ctx.http, deferred(false));
                self.within_limit(work, defer).await
            }
            Err(refusal) => Answer::InTime(Reply::refused(&refusal)),
        };
        match answer {
            Answer::InTime(reply) => {
                let fill =
                    fill.filter(|_| reply.outcome == Outcome::Refused && reply.field.is_some());
                let response = match (respond(&reply), fill) {
                    (CreateInteractionResponse::Message(message), Some(id)) => {
                        let button = CreateButton::new(id)
                            .label("Fill in the form")
                            .style(serenity::all::ButtonStyle::Primary);
                        CreateInteractionResponse::Message(
                            message.components(vec![CreateActionRow::Buttons(vec![button])]),
                        )
                    }
                    (response, _) => response,
                };
                command.create_response(&ctx.http, response).await
            }
            Answer::Late(reply) => self.answer_deferred(ctx, &command.token, &reply).await,
        }
    }

    /// `/request` alone: the catalog, for the person alone, with a select
    /// menu of its items; picking one opens the item's form.
    fn request_picker(&self) -> CreateInteractionResponse {
        let catalog = &self.inner.engine.config().requests.items;
        let reply = Reply::answer(crate::commands::view::request::catalog(catalog));
        let CreateInteractionResponse::Message(mut message) = respond(&reply) else {
            return respond(&reply);
        };
        if catalog.is_empty() {
            return CreateInteractionResponse::Message(message);
        }
        let options = catalog
            .iter()
            .take(SELECT_OPTIONS)
            .map(|item| {
                let mut option =
                    CreateSelectMenuOption::new(clip(&item.title, OPTION_LIMIT), &item.name);
                if !item.description.is_empty() {
                    option = option.description(clip(&item.description, OPTION_LIMIT));
                }
                option
            })
            .collect();
        let menu = CreateSelectMenu::new(REQUEST_ITEM, CreateSelectMenuKind::String { options })
            .placeholder("Pick what you need: its form opens");
        let mut notes = Vec::new();
        if catalog.len() > SELECT_OPTIONS {
            notes.push(format!(
                "The menu holds the first {SELECT_OPTIONS} items; ask for the others with `/request <item> field:value …`."
            ));
        }
        let long: Vec<String> = catalog
            .iter()
            .filter(|item| form_fields(item).len() < item.fields.len())
            .map(|item| format!("`{}`", item.name))
            .collect();
        if !long.is_empty() {
            notes.push(format!(
                "A Discord form holds {MODAL_INPUTS} inputs: the forms of {} ask the first {MODAL_INPUTS} fields (required ones first); to give the others, type `/request <item> field:value …` instead.",
                long.join(", ")
            ));
        }
        if !notes.is_empty() {
            message = message.content(notes.join("\n"));
        }
        CreateInteractionResponse::Message(
            message
                .components(vec![CreateActionRow::SelectMenu(menu)])
                .ephemeral(true),
        )
    }

    async fn on_autocomplete(
        &self,
        ctx: &Context,
        command: &CommandInteraction,
    ) -> serenity::Result<()> {
        let typed = command
            .data
            .autocomplete()
            .map(|option| option.value.to_lowercase())
            .unwrap_or_default();
        let names = self.inner.engine.service_names().await.unwrap_or_default();
        let choices: Vec<AutocompleteChoice> = names
            .into_iter()
            .filter(|name| name.to_lowercase().contains(&typed))
            .take(25)
            .map(|name| AutocompleteChoice::new(name.chars().take(100).collect::<String>(), name))
            .collect();
        command
            .create_response(
                &ctx.http,
                CreateInteractionResponse::Autocomplete(
                    CreateAutocompleteResponse::new().set_choices(choices),
                ),
            )
            .await
    }

    async fn on_button(
        &self,
        ctx: &Context,
        component: &ComponentInteraction,
    ) -> serenity::Result<()> {
        if component.data.custom_id == REQUEST_ITEM {
            let picked = match &component.data.kind {
                ComponentInteractionDataKind::StringSelect { values } => values.first(),
                _ => None,
            };
            let catalog = &self.inner.engine.config().requests.items;
            let response = match picked.and_then(|name| catalog.iter().find(|i| &i.name == name)) {
                Some(item) => request_form(item, &[], None),
                None => respond(&Reply::refused(
                    &Refusal::new("That item is no longer in the service catalog.")
                        .hint("`/request` shows the catalog as it is now."),
                )),
            };
            return component.create_response(&ctx.http, response).await;
        }
        if let Some(typed) = component
            .data
            .custom_id
            .strip_prefix(REQUEST_FILL)
            .and_then(|rest| rest.strip_prefix('|'))
        {
            return self.open_filled_form(ctx, component, typed).await;
        }
        let (Some(user), Some(action)) = (
            person(component.user.id),
            button_action(&component.data.custom_id),
        ) else {
            return Ok(());
        };
        match action.click(&user) {
            Click::Ask(prompt) => {
                component
                    .create_response(&ctx.http, prompt_form(prompt))
                    .await
            }
            Click::Run(command) => {
                let request = self.request(user, component.channel_id, component.id.get());
                let work = self.inner.engine.execute(&request, command);
                // A deferred update: the card stays as it is for now.
                let defer =
                    component.create_response(&ctx.http, CreateInteractionResponse::Acknowledge);
                let answer = self.within_limit(work, defer).await;
                // A click that worked shows in the card, which the outbox
                // edits; refusals and thanks go to the clicker alone.
                let worth_saying =
                    |reply: &Reply| reply.outcome != Outcome::Done || action.answers_clicker();
                match answer {
                    Answer::InTime(reply) if worth_saying(&reply) => {
                        component
                            .create_response(&ctx.http, respond(&reply.privately()))
                            .await
                    }
                    Answer::InTime(_) => {
                        component
                            .create_response(&ctx.http, CreateInteractionResponse::Acknowledge)
                            .await
                    }
                    Answer::Late(reply) if worth_saying(&reply) => component
                        .create_followup(&ctx.http, private_followup(&reply))
                        .await
                        .map(|_| ()),
                    Answer::Late(_) => Ok(()),
                }
            }
        }
    }

    /// "Fill in the form" under a refused `/request <item> …`: the item's
    /// form, holding what was typed (`typed`, read as the command reads it).
    async fn open_filled_form(
        &self,
        ctx: &Context,
        component: &ComponentInteraction,
        typed: &str,
    ) -> serenity::Result<()> {
        let Some(user) = person(component.user.id) else {
            return Ok(());
        };
        let parsed = parse(
            "/request",
            typed,
            ParseContext {
                platform: Platform::Discord,
                actor: &user,
            },
        );
        let requests = &self.inner.engine.config().requests;
        let response = match parsed {
            Ok(Command::OpenRequest(intake)) => match requests.item(&intake.item) {
                Some(item) => request_form(
                    item,
                    &intake.fields,
                    intake.details.as_ref().map(ToString::to_string),
                ),
                None => respond(&Reply::refused(
                    &Refusal::new(format!(
                        "`{}` is no longer in the service catalog.",
                        intake.item
                    ))
                    .hint("`/request` shows the catalog as it is now."),
                )),
            },
            _ => return Ok(()),
        };
        component.create_response(&ctx.http, response).await
    }

    async fn on_form(&self, ctx: &Context, modal: &ModalInteraction) -> serenity::Result<()> {
        let Some(user) = person(modal.user.id) else {
            return Ok(());
        };
        let field = |id: &str| {
            modal
                .data
                .components
                .iter()
                .flat_map(|row| row.components.iter())
                .find_map(|component| match component {
                    ActionRowComponent::InputText(input) if input.custom_id == id => {
                        input.value.clone()
                    }
                    _ => None,
                })
        };
        let request = self.request(user, modal.channel_id, modal.id.get());
        let (form, ticket) = modal
            .data
            .custom_id
            .split_once('|')
            .unwrap_or((modal.data.custom_id.as_str(), ""));
        let command = match form {
            REPORT_FORM => report(
                &field("title").unwrap_or_default(),
                None,
                None,
                field("description").as_deref(),
            ),
            // The same command as `/request <item> field:value … [details]`:
            // the engine checks the values, and a refusal names the field
            // and what it takes.
            REQUEST_FORM => {
                let fields = self
                    .inner
                    .engine
                    .config()
                    .requests
                    .item(ticket)
                    .map(|item| item.form_values(|name| field(name)))
                    .unwrap_or_default();
                RequestIntake::from_form(ticket, fields, field(REQUEST_DETAILS).as_deref())
                    .map(Command::OpenRequest)
            }
            _ => match Prompt::decode(form, ticket) {
                Some(prompt) => prompt.command(&field(prompt.field()).unwrap_or_default()),
                None => return Ok(()),
            },
        };
        let answer = match command {
            Ok(command) => {
                let work = self.inner.engine.execute(&request, command);
                let defer = modal.create_response(&ctx.http, deferred(true));
                self.within_limit(work, defer).await
            }
            Err(refusal) => Answer::InTime(Reply::refused(&refusal)),
        };
        match answer {
            Answer::InTime(reply) => {
                modal
                    .create_response(&ctx.http, respond(&reply.privately()))
                    .await
            }
            Answer::Late(reply) => modal
                .edit_response(&ctx.http, edit(&reply.privately()))
                .await
                .map(|_| ()),
        }
    }

    async fn on_context_menu(
        &self,
        ctx: &Context,
        command: &CommandInteraction,
    ) -> serenity::Result<()> {
        let Some(user) = person(command.user.id) else {
            return Ok(());
        };
        let Some(ResolvedTarget::Message(message)) = command.data.target() else {
            return Ok(());
        };
        let answer = if message.author.bot {
            Answer::InTime(Reply::refused(&Refusal::new(
                "That is the bot's own message; work its incident with its buttons.",
            )))
        } else {
            let work = self.report_from_message(
                user,
                message,
                Some(format!("interaction:{}", command.id.get())),
            );
            let defer = command.create_response(&ctx.http, deferred(true));
            self.within_limit(work, defer).await
        };
        match answer {
            Answer::InTime(reply) => {
                command
                    .create_response(&ctx.http, respond(&reply.privately()))
                    .await
            }
            Answer::Late(reply) => command
                .edit_response(&ctx.http, edit(&reply.privately()))
                .await
                .map(|_| ()),
        }
    }

    async fn on_message(&self, message: &Message) {
        if message.author.bot || message.content.trim().is_empty() {
            return;
        }
        let Some(user) = person(message.author.id) else {
            return;
        };
        let channel = message.channel_id.get().to_string();
        // A reply in an incident's thread is a note on it.
        if let Ok(note) = FreeText::parse("note", &message.content) {
            let mut request = Request::new(user.clone(), "");
            request.thread = Some(channel.clone());
            request.event_id = Some(format!("message:{}", message.id.get()));
            let reply = self
                .inner
                .engine
                .execute(&request, Command::ThreadReply(note))
                .await;
            if reply.outcome == Outcome::Done {
                return;
            }
        }
        if self
            .inner
            .config
            .intake_channels
            .iter()
            .any(|c| c == &channel)
        {
            let reply = self
                .report_from_message(user, message, Some(format!("message:{}", message.id.get())))
                .await;
            if reply.outcome != Outcome::Done {
                tracing::debug!(reply = %reply.message.plain_text(), "intake message not reported");
            }
        }
    }

    async fn on_reaction(&self, ctx: &Context, reaction: &Reaction) {
        let ReactionType::Unicode(emoji) = &reaction.emoji else {
            return;
        };
        if emoji != &self.inner.config.create_reaction {
            return;
        }
        let Some(user) = reaction.user_id.and_then(person) else {
            return;
        };
        let message = match reaction
            .channel_id
            .message(&ctx.http, reaction.message_id)
            .await
        {
            Ok(message) => message,
            Err(err) => {
                tracing::warn!(error = %err, "could not read the reacted-to message");
                return;
            }
        };
        if message.author.bot {
            return;
        }
        let event = format!("reaction:{}:{}", reaction.message_id.get(), user);
        self.report_from_message(user, &message, Some(event)).await;
    }

    /// Reports an incident from a chat message: its first line is the
    /// title; the message is quoted and linked.
    async fn report_from_message(
        &self,
        reporter: UserId,
        message: &Message,
        event_id: Option<String>,
    ) -> Reply {
        let guild = message
            .guild_id
            .map_or_else(|| "@me".to_string(), |g| g.get().to_string());
        let link = format!(
            "https://discord.com/channels/{guild}/{}/{}",
            message.channel_id.get(),
            message.id.get()
        );
        let author = format!("discord:{}", message.author.id.get());
        let report = match IncidentIntake::from_chat_message(&message.content, Some(&author), &link)
        {
            Ok(report) => report,
            Err(refusal) => return Reply::refused(&refusal),
        };
        let mut request = Request::new(reporter, message.channel_id.get().to_string());
        request.message = Some(message.id.get().to_string());
        request.event_id = event_id;
        self.inner
            .engine
            .execute(&request, Command::OpenIncident(report))
            .await
    }
}

/// A report from `/incident create`'s typed options or the form.
fn report(
    title: &str,
    priority: Option<&str>,
    service: Option<String>,
    description: Option<&str>,
) -> Result<Command, Refusal> {
    let title = Title::parse(title).map_err(|err| Refusal::new(sentence(&err.to_string())))?;
    let priority = priority
        .map(str::parse::<Priority>)
        .transpose()
        .map_err(|err| Refusal::new(sentence(&err.to_string())))?;
    let description = match description.map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(
            FreeText::parse("description", text)
                .map_err(|err| Refusal::new(sentence(&err.to_string())))?,
        ),
    };
    Ok(Command::OpenIncident(IncidentIntake {
        title,
        description,
        priority,
        impact: None,
        urgency: None,
        service: service.map(|s| s.to_lowercase()),
    }))
}

fn report_form() -> CreateInteractionResponse {
    CreateInteractionResponse::Modal(
        CreateModal::new(REPORT_FORM, "Report an incident").components(vec![
            CreateActionRow::InputText(
                CreateInputText::new(InputTextStyle::Short, "What is broken?", "title")
                    .max_length(200),
            ),
            CreateActionRow::InputText(
                CreateInputText::new(InputTextStyle::Paragraph, "Details", "description")
                    .required(false)
                    .max_length(4000),
            ),
        ]),
    )
}

fn clip(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_string();
    }
    let mut out: String = text.chars().take(limit.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The fields of `item` its Discord form asks: all of them when they fit,
/// else the first [`MODAL_INPUTS`], required ones first. Discord cannot
/// answer a form's submission with another form, so a second form would
/// need a button in between and the first form's values kept somewhere
/// meanwhile; a catalog item rarely has more than five fields, so the rest
/// are given by typing `/request <item> field:value …` (the catalog says
/// so), and a required one left out is asked for, as when typed.
fn form_fields(item: &CatalogItem) -> Vec<&FieldSpec> {
    let mut fields: Vec<&FieldSpec> = item.fields.iter().filter(|f| f.required).collect();
    fields.extend(item.fields.iter().filter(|f| !f.required));
    fields.truncate(MODAL_INPUTS);
    fields
}

/// The form of catalog item `item`: a text input per field (see
/// [`form_fields`]) holding `given` (field, value), and the details
/// (holding `details`) when there is room for them.
fn request_form(
    item: &CatalogItem,
    given: &[(String, String)],
    details: Option<String>,
) -> CreateInteractionResponse {
    let value_of = |name: &str| {
        given
            .iter()
            .find(|(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.clone())
    };
    let fields = form_fields(item);
    let mut rows: Vec<CreateActionRow> = fields
        .iter()
        .map(|field| {
            let mut input = CreateInputText::new(
                InputTextStyle::Short,
                clip(&field.name, LABEL_LIMIT),
                field.name.clone(),
            )
            .placeholder(clip(&field.kind.describe(), OPTION_LIMIT))
            .required(field.required)
            .max_length(MAX_FIELD_CHARS as u16);
            if let Some(value) = value_of(&field.name) {
                input = input.value(value.chars().take(MAX_FIELD_CHARS).collect::<String>());
            }
            CreateActionRow::InputText(input)
        })
        .collect();
    if rows.len() < MODAL_INPUTS {
        let mut input = CreateInputText::new(InputTextStyle::Paragraph, "Details", REQUEST_DETAILS)
            .required(false)
            .max_length(4000);
        if let Some(details) = details {
            input = input.value(details);
        }
        rows.push(CreateActionRow::InputText(input));
    }
    CreateInteractionResponse::Modal(
        CreateModal::new(
            format!("{REQUEST_FORM}|{}", item.name),
            clip(&item.title, LABEL_LIMIT),
        )
        .components(rows),
    )
}

/// A one-field form whose answer completes a command (see [`Prompt`]).
fn prompt_form(prompt: Prompt) -> CreateInteractionResponse {
    CreateInteractionResponse::Modal(
        CreateModal::new(
            format!("{}|{}", prompt.form_id(), prompt.reference()),
            prompt.title(),
        )
        .components(vec![CreateActionRow::InputText(
            CreateInputText::new(InputTextStyle::Paragraph, prompt.label(), prompt.field())
                .max_length(4000),
        )]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::request::{FieldKind, Team};
    use crate::domain::roles::Role;

    fn item(fields: &[(&str, bool)]) -> CatalogItem {
        CatalogItem {
            name: "onboarding".into(),
            title: "Everything a new starter needs".into(),
            description: String::new(),
            fields: fields
                .iter()
                .map(|(name, required)| FieldSpec {
                    name: (*name).into(),
                    kind: FieldKind::Text,
                    required: *required,
                })
                .collect(),
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
    fn a_form_holds_five_fields_required_first() {
        let long = item(&[
            ("desk", false),
            ("name", true),
            ("phone", false),
            ("laptop", false),
            ("start", true),
            ("team", true),
            ("notes", false),
        ]);
        let names: Vec<&str> = form_fields(&long).iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["name", "start", "team", "desk", "phone"]);
        let short = item(&[("name", true), ("notes", false)]);
        assert_eq!(
            form_fields(&short).len(),
            2,
            "all of them, with room for details"
        );
    }
}

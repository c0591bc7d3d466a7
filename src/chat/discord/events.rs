//! Gateway events → engine commands: interactions (commands, buttons,
//! forms, autocomplete), intake messages, thread replies and reactions.

use std::future::Future;

use serenity::all::{
    ActionRowComponent, AutocompleteChoice, CommandInteraction, CommandType, ComponentInteraction,
    Context, CreateActionRow, CreateAutocompleteResponse, CreateInputText,
    CreateInteractionResponse, CreateInteractionResponseFollowup, CreateInteractionResponseMessage,
    CreateModal, EditInteractionResponse, EventHandler, GuildId, InputTextStyle, Interaction,
    Message, ModalInteraction, Reaction, ReactionType, Ready, ResolvedTarget,
};

use super::commands::{definitions, invocation, Invocation};
use super::render::{button_action, render};
use super::DiscordAdapter;
use crate::commands::buttons::{Click, Prompt};
use crate::commands::reply::{Outcome, Reply, Visibility};
use crate::commands::{parse, Command, IncidentIntake, ParseContext, Refusal, Request};
use crate::domain::{FreeText, Platform, Priority, Title, UserId};

const REPORT_FORM: &str = "itsm:report";

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
        let answer = match parsed {
            Ok(parsed) => {
                let work = self.inner.engine.execute(&request, parsed);
                let defer = command.create_response(&ctx.http, deferred(false));
                self.within_limit(work, defer).await
            }
            Err(refusal) => Answer::InTime(Reply::refused(&refusal)),
        };
        match answer {
            Answer::InTime(reply) => command.create_response(&ctx.http, respond(&reply)).await,
            Answer::Late(reply) => self.answer_deferred(ctx, &command.token, &reply).await,
        }
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

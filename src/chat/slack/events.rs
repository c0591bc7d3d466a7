//! Slack's slash commands, interactions and events → engine commands.
//! Shared by HTTP mode and Socket Mode.

use std::time::Duration;

use slack_morphism::prelude::*;
use tokio::task::JoinHandle;

use super::blocks::{self, field, REPORT_FORM, REQUEST_FORM};
use super::{manifest, SlackAdapter};
use crate::commands::buttons::{ButtonAction, Click, Prompt};
use crate::commands::reply::{Block, Message, Outcome, Reply, Visibility};
use crate::commands::{parse, Command, IncidentIntake, ParseContext, Request, RequestIntake};
use crate::domain::{FreeText, Level, Platform, Title, UserId};

/// What a failed handling means for Slack: answer with an error status so
/// Slack (or the Socket Mode listener) delivers the event again.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Redeliver(pub String);

fn slack_user(id: &SlackUserId) -> Option<UserId> {
    UserId::new(Platform::Slack, &id.0).ok()
}

fn request(user: UserId, channel: &str) -> Request {
    Request::new(user, channel)
}

impl SlackAdapter {
    /// The reply to a slash command: within Slack's time limit, or "working
    /// on it" with the result following through `response_url`.
    pub async fn on_command(&self, event: SlackCommandEvent) -> SlackCommandEventResponse {
        let busy = self.busy();
        let Some(user) = slack_user(&event.user_id) else {
            return ephemeral(Message::text("Your Slack user id could not be read."));
        };
        let text = event.text.clone().unwrap_or_default();
        let command = event.command.0.clone();
        // Only what the manifest registers (manifest::SLASH_COMMANDS).
        if !manifest::is_registered_command(&command) {
            return ephemeral(Message::text(format!(
                "`{command}` is not one of this bot's commands; try `/itsm help`."
            )));
        }
        if text.trim().is_empty() && matches!(command.trim_start_matches('/'), "incident") {
            return self.open_report_form(&event).await;
        }
        if text.trim().is_empty() && matches!(command.trim_start_matches('/'), "request") {
            return self.open_request_form(&event, &user).await;
        }
        let ctx = ParseContext {
            platform: Platform::Slack,
            actor: &user,
        };
        let parsed = match parse(&command, &text, ctx) {
            Ok(Command::OpenIncidentForm) => return self.open_report_form(&event).await,
            Ok(Command::RequestCatalog) => return self.open_request_form(&event, &user).await,
            Ok(parsed) => parsed,
            Err(refusal) => return respond(&Reply::refused(&refusal), self).await,
        };
        // A request refused for a field offers its form, holding what was typed.
        let typed = match &parsed {
            Command::OpenRequest(intake) => Some(intake.to_text()),
            _ => None,
        };
        let mut request = request(user, &event.channel_id.0);
        if parsed.types_a_local_time() {
            // The person's Slack profile zone is their default for typed times.
            request.time_zone = self.inner.people.time_zone(&event.user_id.0).await;
        }
        // A slash command has no event id; its trigger id is unique per invocation.
        request.event_id = Some(format!("command:{}", event.trigger_id.0));
        match self.run_within_limit(request, parsed).await {
            Ok(reply) => {
                let mut response = respond(&reply, self).await;
                let button = typed
                    .filter(|_| reply.outcome == Outcome::Refused && reply.field.is_some())
                    .and_then(|typed| blocks::fill_in_button(&typed));
                if let Some(button) = button {
                    response
                        .content
                        .blocks
                        .get_or_insert_with(Vec::new)
                        .push(button);
                }
                response
            }
            Err(work) => {
                let adapter = self.clone();
                let response_url = event.response_url.clone();
                tokio::spawn(async move {
                    // Still in flight until the result is posted: shutdown
                    // waits for it.
                    let _busy = busy;
                    let reply = finish(work).await;
                    adapter.post_to_response_url(&response_url, &reply).await;
                });
                ephemeral(Message::text("Working on it…"))
            }
        }
    }

    /// Runs `command` on a task of its own and waits for its reply up to
    /// `slack.reply_within`. When it is still running then, the task is
    /// handed back: the caller answers Slack at once (Slack allows 3 s)
    /// and delivers the reply later, through `response_url` or
    /// `views.update`.
    async fn run_within_limit(
        &self,
        request: Request,
        command: Command,
    ) -> Result<Reply, JoinHandle<Reply>> {
        let engine = self.inner.engine.clone();
        let mut work = tokio::spawn(async move { engine.execute(&request, command).await });
        let limit = self
            .inner
            .config
            .reply_within
            .0
            .to_std()
            .unwrap_or(Duration::from_secs(2));
        match tokio::time::timeout(limit, &mut work).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(join)) => {
                tracing::error!(error = %join, "Slack command task failed");
                Ok(Reply::failed())
            }
            Err(_) => Err(work),
        }
    }

    async fn open_report_form(&self, event: &SlackCommandEvent) -> SlackCommandEventResponse {
        let services = self.inner.engine.service_names().await.unwrap_or_default();
        let view = blocks::report_form(&event.channel_id.0, &services);
        if self.open_view(event.trigger_id.clone(), view).await {
            SlackCommandEventResponse::new(SlackMessageContent::new())
        } else {
            ephemeral(Message::text(
                "The incident form could not be opened. Report with `/incident <what is broken> [P1-P4]` instead.",
            ))
        }
    }

    /// `/request` alone: the catalog as a form to pick an item from. With
    /// an empty catalog, or when the form cannot be opened, the catalog
    /// as text, which says how to ask by typing.
    async fn open_request_form(
        &self,
        event: &SlackCommandEvent,
        user: &UserId,
    ) -> SlackCommandEventResponse {
        let catalog = &self.inner.engine.config().requests.items;
        let as_text = || async {
            let request = request(user.clone(), &event.channel_id.0);
            let reply = self
                .inner
                .engine
                .execute(&request, Command::RequestCatalog)
                .await;
            respond(&reply, self).await
        };
        if catalog.is_empty() {
            return as_text().await;
        }
        let view = blocks::request_form(&event.channel_id.0, catalog, None, &[], None);
        if self.open_view(event.trigger_id.clone(), view).await {
            SlackCommandEventResponse::new(SlackMessageContent::new())
        } else {
            as_text().await
        }
    }

    /// An item picked in the request form: the form shows its fields.
    async fn show_request_item(
        &self,
        event: &SlackInteractionBlockActionsEvent,
        action: &SlackInteractionActionInfo,
    ) {
        let SlackInteractionActionContainer::View(container) = &event.container else {
            return;
        };
        let metadata = match &event.view {
            Some(SlackView::Modal(modal)) => modal.private_metadata.clone().unwrap_or_default(),
            _ => String::new(),
        };
        let (channel, _) = blocks::read_request_metadata(&metadata);
        let requests = &self.inner.engine.config().requests;
        let picked = action
            .selected_option
            .as_ref()
            .and_then(|option| requests.item(&option.value));
        let view = blocks::request_form(channel, &requests.items, picked, &[], None);
        let session = self.inner.client.open_session(&self.inner.bot_token);
        let update = SlackApiViewsUpdateRequest::new(view).with_view_id(container.view_id.clone());
        if let Err(err) = session.views_update(&update).await {
            tracing::warn!(error = %err, "views.update failed");
        }
    }

    /// "Fill in the form" under a refused `/request <item> …`: the item's
    /// form, holding what was typed (`typed`, read as the command reads it).
    async fn open_filled_form(
        &self,
        event: &SlackInteractionBlockActionsEvent,
        user: &UserId,
        channel: &str,
        typed: &str,
    ) {
        let ctx = ParseContext {
            platform: Platform::Slack,
            actor: user,
        };
        let Ok(Command::OpenRequest(intake)) = parse("/request", typed, ctx) else {
            return;
        };
        let requests = &self.inner.engine.config().requests;
        let picked = requests.item(&intake.item);
        let details = intake.details.as_ref().map(ToString::to_string);
        let view = blocks::request_form(
            channel,
            &requests.items,
            picked,
            &intake.fields,
            details.as_deref(),
        );
        self.open_view(event.trigger_id.clone(), view).await;
    }

    /// Opens `view` as a modal for the click or command of `trigger`
    /// (`views.open`); whether Slack took it (a failure is logged).
    async fn open_view(&self, trigger: SlackTriggerId, view: SlackView) -> bool {
        let session = self.inner.client.open_session(&self.inner.bot_token);
        match session
            .views_open(&SlackApiViewsOpenRequest::new(trigger, view))
            .await
        {
            Ok(_) => true,
            Err(err) => {
                tracing::warn!(error = %err, "views.open failed");
                false
            }
        }
    }

    /// Posts `reply` to a slash command's or action's `response_url`.
    pub async fn post_to_response_url(&self, url: &SlackResponseUrl, reply: &Reply) {
        let content = blocks::render(&reply.message, &self.inner.people).await;
        let mut body = serde_json::to_value(&content).unwrap_or_default();
        if let Some(object) = body.as_object_mut() {
            let kind = match reply.visibility {
                Visibility::Channel => "in_channel",
                Visibility::Ephemeral => "ephemeral",
            };
            object.insert("response_type".into(), kind.into());
            object.insert("replace_original".into(), false.into());
        }
        let span = tracing::Span::none();
        let context = SlackClientApiCallContext {
            rate_control_params: None,
            token: None,
            tracing_span: &span,
            is_sensitive_url: true,
        };
        let sent: ClientResult<SlackApiPostWebhookMessageResponse> = self
            .inner
            .client
            .http_api
            .connector
            .http_post_uri(url.0.clone(), &body, context)
            .await;
        if let Err(err) = sent {
            tracing::warn!(error = %err, "posting to response_url failed");
        }
    }

    /// Handles a button click, form submission or message shortcut. The
    /// answer is what Slack expects back (form errors, or nothing).
    pub async fn on_interaction(
        &self,
        event: SlackInteractionEvent,
    ) -> Result<SlackInteractionResponse, Redeliver> {
        let _busy = self.busy();
        match event {
            SlackInteractionEvent::BlockActions(actions) => {
                self.on_block_actions(actions).await;
                Ok(SlackInteractionResponse::Empty)
            }
            SlackInteractionEvent::ViewSubmission(submission) => {
                Ok(self.on_view_submission(submission).await)
            }
            SlackInteractionEvent::MessageAction(action) => {
                self.on_message_action(action).await?;
                Ok(SlackInteractionResponse::Empty)
            }
            _ => Ok(SlackInteractionResponse::Empty),
        }
    }

    async fn on_block_actions(&self, event: SlackInteractionBlockActionsEvent) {
        let Some(user) = event.user.as_ref().and_then(|u| slack_user(&u.id)) else {
            return;
        };
        let channel = event
            .channel
            .as_ref()
            .map(|c| c.id.0.clone())
            .or_else(|| match &event.container {
                SlackInteractionActionContainer::Message(m) => {
                    m.channel_id.as_ref().map(|c| c.0.clone())
                }
                _ => None,
            })
            .unwrap_or_default();
        for action in event.actions.iter().flatten() {
            if action.action_id.0 == blocks::REQUEST_ITEM {
                self.show_request_item(&event, action).await;
                continue;
            }
            if action.action_id.0 == blocks::REQUEST_FILL {
                let typed = action.value.as_deref().unwrap_or_default();
                self.open_filled_form(&event, &user, &channel, typed).await;
                continue;
            }
            let Some(button) = ButtonAction::decode(
                &action.action_id.0,
                action.value.as_deref().unwrap_or_default(),
            ) else {
                continue;
            };
            match button.click(&user) {
                Click::Ask(prompt) => {
                    let view = blocks::prompt_form(prompt);
                    self.open_view(event.trigger_id.clone(), view).await;
                }
                Click::Run(command) => {
                    let mut request = request(user.clone(), &channel);
                    request.event_id = Some(format!(
                        "action:{}:{}",
                        event.trigger_id.0, action.action_id.0
                    ));
                    // Successful clicks show in the card, which the outbox
                    // updates; refusals, outages and thanks go to the
                    // clicker alone.
                    let worth_saying = move |reply: &Reply| {
                        reply.outcome != Outcome::Done || button.answers_clicker()
                    };
                    match self.run_within_limit(request, command).await {
                        Ok(reply) => {
                            if let (true, Some(url)) = (worth_saying(&reply), &event.response_url) {
                                self.post_to_response_url(url, &reply.privately()).await;
                            }
                        }
                        Err(work) => {
                            // Slack is answered now; the reply follows.
                            let adapter = self.clone();
                            let response_url = event.response_url.clone();
                            let busy = self.busy();
                            tokio::spawn(async move {
                                let _busy = busy;
                                let reply = finish(work).await;
                                if let (true, Some(url)) = (worth_saying(&reply), &response_url) {
                                    adapter.post_to_response_url(url, &reply.privately()).await;
                                }
                            });
                        }
                    }
                }
            }
        }
    }

    async fn on_view_submission(
        &self,
        event: SlackInteractionViewSubmissionEvent,
    ) -> SlackInteractionResponse {
        let SlackView::Modal(modal) = &event.view.view else {
            return SlackInteractionResponse::Empty;
        };
        let Some(user) = slack_user(&event.user.id) else {
            return SlackInteractionResponse::Empty;
        };
        let values = FormValues(event.view.state_params.state.as_ref());
        let callback = modal
            .callback_id
            .as_ref()
            .map(|c| c.0.as_str())
            .unwrap_or_default();
        let metadata = modal.private_metadata.clone().unwrap_or_default();
        let channel = match callback {
            REQUEST_FORM => blocks::read_request_metadata(&metadata).0,
            _ => metadata.as_str(),
        };
        let mut request = request(user, channel);
        request.event_id = Some(format!(
            "view:{}:{}",
            event.view.state_params.id.0, event.view.state_params.hash
        ));
        let (command, error_field) = match callback {
            REPORT_FORM => match report_from_form(&values) {
                Ok(report) => (Command::OpenIncident(report), field::TITLE),
                Err(errors) => return form_errors(errors),
            },
            REQUEST_FORM => {
                let Some(name) = blocks::read_request_metadata(&metadata).1 else {
                    // Slack offers no submit before an item is picked.
                    return SlackInteractionResponse::Empty;
                };
                let view_id = event.view.state_params.id.clone();
                return self
                    .submit_request_form(request, view_id, name, &values)
                    .await;
            }
            _ => {
                let Some(prompt) = Prompt::decode(callback, &metadata) else {
                    return SlackInteractionResponse::Empty;
                };
                match prompt.command(values.text(prompt.field()).unwrap_or_default()) {
                    Ok(command) => (command, prompt.field()),
                    Err(refusal) => return form_errors(vec![(prompt.field(), refusal.reason)]),
                }
            }
        };
        let title = FORM_ANSWER_TITLE;
        let view_id = event.view.state_params.id.clone();
        match self.run_within_limit(request, command).await {
            Ok(reply) => match reply.outcome {
                Outcome::Done => SlackInteractionResponse::Empty,
                Outcome::Refused | Outcome::Unavailable => {
                    form_errors(vec![(error_field, reply.message.plain_text())])
                }
            },
            Err(work) => self.answer_in_form_later(view_id, title, work),
        }
    }

    /// A submitted request form: the same command as `/request <item>
    /// field:value … [details]`, so the engine checks the values as it
    /// checks typed ones. A refusal is shown on the field it is about
    /// (else on the details box) and nothing is written; a request asked
    /// shows its reply in the form's place.
    async fn submit_request_form(
        &self,
        request: Request,
        view_id: SlackViewId,
        name: &str,
        values: &FormValues<'_>,
    ) -> SlackInteractionResponse {
        let requests = &self.inner.engine.config().requests;
        let fields = requests
            .item(name)
            .map(|item| item.form_values(|field| values.any(&blocks::request_field(field))))
            .unwrap_or_default();
        let intake =
            match RequestIntake::from_form(name, fields, values.text(blocks::REQUEST_DETAILS)) {
                Ok(intake) => intake,
                Err(refusal) => {
                    return text_errors(vec![(blocks::REQUEST_DETAILS.to_string(), refusal.reason)])
                }
            };
        let title = FORM_ANSWER_TITLE;
        let on_item = |field: &str| {
            requests
                .item(name)
                .is_some_and(|i| i.field(field).is_some())
        };
        let on_field = |reply: &Reply| match (&reply.field, reply.message.blocks.first()) {
            // The reason says what the field takes; the hint (the typed
            // form of the command) would only distract in a form.
            (Some(field), Some(Block::Text(reason))) if on_item(field) => {
                text_errors(vec![(blocks::request_field(field), reason.clone())])
            }
            _ => text_errors(vec![(
                blocks::REQUEST_DETAILS.to_string(),
                reply.message.plain_text(),
            )]),
        };
        match self
            .run_within_limit(request, Command::OpenRequest(intake))
            .await
        {
            Ok(reply) => match reply.outcome {
                Outcome::Done => {
                    SlackViewSubmissionResponse::Update(SlackViewSubmissionUpdateResponse::new(
                        blocks::notice_view(title, &reply.message.plain_text()),
                    ))
                    .into()
                }
                Outcome::Refused | Outcome::Unavailable => on_field(&reply),
            },
            // The answer names any field it refuses.
            Err(work) => self.answer_in_form_later(view_id, title, work),
        }
    }

    /// A form's answer that is not ready within Slack's 3 s: Slack would
    /// close the form with an error, so it says "working on it" in its
    /// place now and shows the answer there once `work` is done.
    fn answer_in_form_later(
        &self,
        view_id: SlackViewId,
        title: &'static str,
        work: JoinHandle<Reply>,
    ) -> SlackInteractionResponse {
        let adapter = self.clone();
        let busy = self.busy();
        tokio::spawn(async move {
            let _busy = busy;
            let reply = finish(work).await;
            adapter
                .show_in_form(&view_id, title, &reply.message.plain_text())
                .await;
        });
        SlackViewSubmissionResponse::Update(SlackViewSubmissionUpdateResponse::new(
            blocks::notice_view(title, "Working on it…"),
        ))
        .into()
    }

    /// Replaces the form `view_id` with `text` (`views.update`).
    async fn show_in_form(&self, view_id: &SlackViewId, title: &str, text: &str) {
        let session = self.inner.client.open_session(&self.inner.bot_token);
        let update = SlackApiViewsUpdateRequest::new(blocks::notice_view(title, text))
            .with_view_id(view_id.clone());
        if let Err(err) = session.views_update(&update).await {
            tracing::warn!(error = %err, "views.update failed");
        }
    }

    async fn on_message_action(
        &self,
        event: SlackInteractionMessageActionEvent,
    ) -> Result<(), Redeliver> {
        // Only the shortcuts the manifest registers (manifest::MESSAGE_SHORTCUTS).
        if !manifest::is_registered_shortcut(&event.callback_id.0) {
            tracing::debug!(callback_id = %event.callback_id.0, "unknown message shortcut ignored");
            return Ok(());
        }
        let Some(user) = slack_user(&event.user.id) else {
            return Ok(());
        };
        let (Some(channel), Some(message)) = (event.channel.as_ref(), event.message.as_ref())
        else {
            return Ok(());
        };
        let text = message.content.text.clone().unwrap_or_default();
        let author = message.sender.user.as_ref().map(|u| u.0.clone());
        if message.sender.bot_id.is_some() || self.is_bot(author.as_deref()) {
            let refusal = crate::commands::Refusal::new("That is the bot's own message; work its incident with the buttons or `/incident INC-n …`.");
            self.post_to_response_url(&event.response_url, &Reply::refused(&refusal))
                .await;
            return Ok(());
        }
        let reply = self
            .report_from_message(
                user,
                &channel.id.0,
                &message.origin.ts.0,
                author.as_deref(),
                &text,
                None,
            )
            .await;
        self.post_to_response_url(&event.response_url, &reply.privately())
            .await;
        Ok(())
    }

    /// Handles an Events API event: intake messages, thread replies,
    /// reactions. An error asks Slack to deliver it again.
    pub async fn on_push(&self, event: SlackPushEventCallback) -> Result<(), Redeliver> {
        let _busy = self.busy();
        let event_id = event.event_id.0.clone();
        match event.event {
            // Only what the manifest subscribes to (manifest::BOT_EVENTS).
            SlackEventCallbackBody::Message(message)
                if manifest::takes_message_from(
                    message.origin.channel_type.as_ref().map(|t| t.0.as_str()),
                ) =>
            {
                self.on_message(message, event_id).await
            }
            SlackEventCallbackBody::ReactionAdded(reaction)
                if manifest::is_subscribed("reaction_added") =>
            {
                self.on_reaction(reaction, event_id).await
            }
            _ => Ok(()),
        }
    }

    async fn on_message(
        &self,
        message: SlackMessageEvent,
        event_id: String,
    ) -> Result<(), Redeliver> {
        // Messages with a file or sent to the channel from a thread are
        // still people talking; edits, deletions, joins and bots are not.
        let human = matches!(
            message.subtype,
            None | Some(SlackMessageEventType::FileShare | SlackMessageEventType::ThreadBroadcast)
        );
        if !human || message.sender.bot_id.is_some() {
            return Ok(());
        }
        let Some(sender) = message.sender.user.as_ref() else {
            return Ok(());
        };
        if self.inner.bot_user.get() == Some(sender) {
            return Ok(());
        }
        let (Some(user), Some(channel)) = (slack_user(sender), message.origin.channel.as_ref())
        else {
            return Ok(());
        };
        let text = message
            .content
            .as_ref()
            .and_then(|c| c.text.clone())
            .unwrap_or_default();
        if text.trim().is_empty() {
            return Ok(());
        }
        let ts = message.origin.ts.0.clone();
        match message.origin.thread_ts.as_ref().map(|t| t.0.clone()) {
            Some(thread) if thread != ts => {
                let Ok(note) = FreeText::parse("note", &text) else {
                    return Ok(());
                };
                let mut request = request(user, &channel.0);
                request.thread = Some(thread);
                request.event_id = Some(format!("event:{event_id}"));
                let reply = self
                    .inner
                    .engine
                    .execute(&request, Command::ThreadReply(note))
                    .await;
                unavailable_is_retry(&reply)
            }
            _ if self
                .inner
                .config
                .intake_channels
                .iter()
                .any(|c| c == &channel.0) =>
            {
                let reply = self
                    .report_from_message(
                        user.clone(),
                        &channel.0,
                        &ts,
                        Some(user.id()),
                        &text,
                        Some(event_id),
                    )
                    .await;
                unavailable_is_retry(&reply)
            }
            _ => Ok(()),
        }
    }

    async fn on_reaction(
        &self,
        reaction: SlackReactionAddedEvent,
        event_id: String,
    ) -> Result<(), Redeliver> {
        if reaction.reaction.0 != self.inner.config.create_reaction {
            return Ok(());
        }
        let SlackReactionsItem::Message(item) = &reaction.item else {
            return Ok(());
        };
        let (Some(user), Some(channel)) =
            (slack_user(&reaction.user), item.origin.channel.as_ref())
        else {
            return Ok(());
        };
        let ts = item.origin.ts.clone();
        let Some((author, text)) = self.fetch_message(channel, &ts).await? else {
            return Ok(());
        };
        if self.is_bot(author.as_deref()) {
            // A reaction on the bot's own card is about that incident.
            return Ok(());
        }
        let reply = self
            .report_from_message(
                user,
                &channel.0,
                &ts.0,
                author.as_deref(),
                &text,
                Some(event_id),
            )
            .await;
        if reply.outcome == Outcome::Refused {
            tracing::debug!(reply = %reply.message.plain_text(), "reaction did not report an incident");
        }
        unavailable_is_retry(&reply)
    }

    /// Whether `user` is this bot.
    fn is_bot(&self, user: Option<&str>) -> bool {
        match (user, self.inner.bot_user.get()) {
            (Some(user), Some(bot)) => user == bot.0,
            _ => false,
        }
    }

    /// The author and text of message `ts` in `channel`.
    async fn fetch_message(
        &self,
        channel: &SlackChannelId,
        ts: &SlackTs,
    ) -> Result<Option<(Option<String>, String)>, Redeliver> {
        let session = self.inner.client.open_session(&self.inner.bot_token);
        let history = session
            .conversations_history(
                &SlackApiConversationsHistoryRequest::new()
                    .with_channel(channel.clone())
                    .with_latest(ts.clone())
                    .with_inclusive(true)
                    .with_limit(1),
            )
            .await
            .map_err(|err| Redeliver(format!("conversations.history failed: {err}")))?;
        let mut found = history.messages.into_iter().find(|m| &m.origin.ts == ts);
        if found.is_none() {
            // A reply inside a thread is not in the channel's history.
            let replies = session
                .conversations_replies(&SlackApiConversationsRepliesRequest::new(
                    channel.clone(),
                    ts.clone(),
                ))
                .await
                .map_err(|err| Redeliver(format!("conversations.replies failed: {err}")))?;
            found = replies.messages.into_iter().find(|m| &m.origin.ts == ts);
        }
        Ok(found.map(|m| {
            (
                m.sender.user.map(|u| u.0),
                m.content.text.unwrap_or_default(),
            )
        }))
    }

    /// Reports an incident from a chat message: the first line becomes the
    /// title, the message is quoted and linked in the description.
    async fn report_from_message(
        &self,
        reporter: UserId,
        channel: &str,
        ts: &str,
        author: Option<&str>,
        text: &str,
        event_id: Option<String>,
    ) -> Reply {
        let link = format!(
            "https://slack.com/archives/{channel}/p{}",
            ts.replace('.', "")
        );
        let author = author.map(|a| format!("slack:{a}"));
        let report = match IncidentIntake::from_chat_message(text, author.as_deref(), &link) {
            Ok(report) => report,
            Err(refusal) => return Reply::refused(&refusal),
        };
        let mut request = request(reporter, channel);
        request.thread = Some(ts.to_string());
        request.message = Some(ts.to_string());
        request.event_id = event_id.map(|id| format!("event:{id}"));
        self.inner
            .engine
            .execute(&request, Command::OpenIncident(report))
            .await
    }
}

/// The title of a form's answer shown in its place.
const FORM_ANSWER_TITLE: &str = "Service desk";

/// The reply of a command task that outlived Slack's time limit.
async fn finish(work: JoinHandle<Reply>) -> Reply {
    match work.await {
        Ok(reply) => reply,
        Err(join) => {
            tracing::error!(error = %join, "Slack command task failed");
            Reply::failed()
        }
    }
}

fn unavailable_is_retry(reply: &Reply) -> Result<(), Redeliver> {
    if reply.outcome == Outcome::Unavailable {
        Err(Redeliver(reply.message.plain_text()))
    } else {
        Ok(())
    }
}

fn sentence(text: &str) -> String {
    crate::commands::refusal::sentence(text)
}

/// A slash command's answer: refusals and private replies are ephemeral.
async fn respond(reply: &Reply, adapter: &SlackAdapter) -> SlackCommandEventResponse {
    let content = blocks::render(&reply.message, &adapter.inner.people).await;
    let kind = match reply.visibility {
        Visibility::Channel => SlackMessageResponseType::InChannel,
        Visibility::Ephemeral => SlackMessageResponseType::Ephemeral,
    };
    SlackCommandEventResponse::new(content).with_response_type(kind)
}

fn ephemeral(message: Message) -> SlackCommandEventResponse {
    SlackCommandEventResponse::new(SlackMessageContent::new().with_text(message.plain_text()))
        .with_response_type(SlackMessageResponseType::Ephemeral)
}

/// The values typed into a form.
struct FormValues<'a>(Option<&'a SlackViewState>);

impl FormValues<'_> {
    fn get(&self, id: &str) -> Option<&SlackViewStateValue> {
        self.0?.values.get(&id.into())?.get(&id.into())
    }

    fn text(&self, id: &str) -> Option<&str> {
        self.get(id)?.value.as_deref()
    }

    /// Whatever the input `id` holds, as the text command would take it:
    /// typed text, the option, the date, or the person as a mention.
    fn any(&self, id: &str) -> Option<String> {
        let value = self.get(id)?;
        value
            .value
            .clone()
            .or_else(|| value.selected_option.as_ref().map(|o| o.value.clone()))
            .or_else(|| value.selected_date.clone())
            .or_else(|| value.selected_user.as_ref().map(|u| format!("<@{}>", u.0)))
    }

    fn selected(&self, id: &str) -> Option<&str> {
        self.get(id)?
            .selected_option
            .as_ref()
            .map(|o| o.value.as_str())
    }
}

fn report_from_form(
    values: &FormValues<'_>,
) -> Result<IncidentIntake, Vec<(&'static str, String)>> {
    let mut errors = Vec::new();
    let title = Title::parse(values.text(field::TITLE).unwrap_or_default())
        .map_err(|err| errors.push((field::TITLE, sentence(&err.to_string()))))
        .ok();
    let description = match values.text(field::DESCRIPTION).map(str::trim) {
        None | Some("") => None,
        Some(text) => FreeText::parse("description", text)
            .map_err(|err| errors.push((field::DESCRIPTION, sentence(&err.to_string()))))
            .ok(),
    };
    let mut level = |id: &'static str| match values.selected(id) {
        None => None,
        Some(value) => value
            .parse::<Level>()
            .map_err(|err| errors.push((id, sentence(&err.to_string()))))
            .ok(),
    };
    let impact = level(field::IMPACT);
    let urgency = level(field::URGENCY);
    let service = values.selected(field::SERVICE).map(str::to_string);
    match (title, errors.is_empty()) {
        (Some(title), true) => Ok(IncidentIntake {
            title,
            description,
            priority: None,
            impact,
            urgency,
            service,
        }),
        _ => Err(errors),
    }
}

fn form_errors(errors: Vec<(&'static str, String)>) -> SlackInteractionResponse {
    text_errors(
        errors
            .into_iter()
            .map(|(field, message)| (field.to_string(), message))
            .collect(),
    )
}

/// `response_action: errors`: each message shown under its block.
fn text_errors(errors: Vec<(String, String)>) -> SlackInteractionResponse {
    let map = errors.into_iter().collect();
    SlackViewSubmissionResponse::Errors(SlackViewSubmissionErrorsResponse::new(map)).into()
}

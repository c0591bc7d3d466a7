//! Service requests in the engine: the catalog, asking, working and
//! listing requests, the card in the team's channel, and the item's
//! runbook run on approval.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::{delivers_to, Engine, ExecError, Request, LIST_LIMIT};
use crate::commands::command::{RequestCommand, RequestIntake, RequestList};
use crate::commands::notice;
use crate::commands::refusal::{sentence, Refusal};
use crate::commands::reply::{Block, Message, Reply};
use crate::commands::view;
use crate::commands::view::request::RequesterHome;
use crate::config::runbook_context;
use crate::domain::incident::Origin;
use crate::domain::request::{
    check_fields, closest, fulfil_due, holds_of, ApplyContext, Approver, CatalogItem, NewRequest,
    RequestAction, RequestStatus, ServiceRequest, Team,
};
use crate::domain::timeline::{EventAction, NewEvent};
use crate::domain::{TicketRef, UserId};
use crate::store::automation::NewRun;
use crate::store::outbox::OutboxKind;
use crate::store::requests::Selection;
use crate::store::{self, StoreError};

fn no_such_request(reference: TicketRef) -> Refusal {
    Refusal::new(format!("There is no {reference}."))
        .hint("`/itsm requests` lists yours; `/itsm requests queue` the team's.")
}

impl Engine {
    /// `/request`: the catalog.
    pub(super) fn request_catalog(&self) -> Reply {
        Reply::answer(view::request::catalog(&self.config.requests.items)).privately()
    }

    /// The catalog item called `name`, or a refusal listing the catalog
    /// with the nearest name.
    fn catalog_item(&self, name: &str) -> Result<&CatalogItem, Refusal> {
        let items = &self.config.requests.items;
        if let Some(item) = self.config.requests.item(name) {
            return Ok(item);
        }
        let names: Vec<String> = items.iter().map(|i| format!("`{}`", i.name)).collect();
        let hint = match (closest(items, name), names.is_empty()) {
            (_, true) => {
                "The service catalog is empty: an admin adds items under `[[requests.catalog]]`."
                    .to_string()
            }
            (Some(near), _) => format!(
                "Did you mean `{}`? `{}`. The catalog: {}.",
                near.name,
                near.usage(),
                names.join(", ")
            ),
            (None, false) => format!(
                "The catalog: {}; `/request` shows each with its fields.",
                names.join(", ")
            ),
        };
        Err(Refusal::new(format!("`{name}` is not in the service catalog.")).hint(hint))
    }

    /// `/request <item> field:value … [details]`: a new request.
    pub(super) async fn open_request(
        &self,
        conn: &mut PgConnection,
        request: &Request,
        intake: RequestIntake,
    ) -> Result<Reply, ExecError> {
        let item = self.catalog_item(&intake.item)?;
        let fields = check_fields(
            item,
            &intake.fields,
            request.actor.platform(),
            &request.actor,
        )
        .map_err(|err| {
            Refusal::new(sentence(&err.to_string()))
                .hint(format!("The form: `{}`.", item.usage()))
                .on_field(Some(err.field()))
        })?;
        let new = NewRequest::new(
            item,
            request.actor.clone(),
            fields,
            intake.details.as_ref(),
            Origin {
                platform: request.actor.platform(),
                channel: request.channel.clone(),
                thread: request.thread.clone(),
                message: request.message.clone(),
            },
        );
        let now = self.clock.now();
        let created = store::requests::insert(conn, &new, now).await?;
        let values = created
            .fields
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ");
        let mut events = vec![NewEvent::new(EventAction::Created)
            .change(None, created.status.as_str())
            .body(
                format!("{} · {}", item.name, values)
                    .trim_end_matches(" · ")
                    .to_string(),
            )];
        if created.status == RequestStatus::Approved {
            events.push(NewEvent::new(EventAction::Approved).body("no approval needed"));
        }
        store::timeline::append(conn, created.id, &request.actor, now, &events).await?;
        self.record_fulfil_due(conn, &created, now).await?;
        self.sync_request_cards(conn, &created, now).await?;
        let reference = created.reference();
        let mut message = Message::default().with(Block::Header(format!(
            "{reference} asked: {}",
            created.title
        )));
        if created.status == RequestStatus::AwaitingApproval {
            message = message.with(Block::Text(format!(
                "It awaits {} from {}.",
                plural(item.approvals_needed, "approval"),
                item.approvers()
            )));
            message
                .blocks
                .extend(self.approver_mentions(conn, item).await?);
            if self.ask_approvers(conn, item, &created, now).await? > 0 {
                message = message.with(Block::Context(
                    "Each approver was sent it with Approve / Reject buttons.".into(),
                ));
            }
        } else {
            message = message.with(Block::Text(format!(
                "No approval needed: it is with the team ({}).",
                item.team
            )));
        }
        let runbook_line = if created.status == RequestStatus::Approved {
            self.run_request_runbook(conn, request, item, &created, now)
                .await?
        } else {
            None
        };
        if let Some(line) = runbook_line {
            message = message.with(Block::Text(line));
        }
        let message = message.with(Block::Context(format!(
            "`/request {reference} show` follows it; `/request {reference} cancel <why>` withdraws it."
        )));
        Ok(Reply::done(message).about(reference))
    }

    /// The approvers of `item` one by one: the people listed and the
    /// holders of the roles listed.
    async fn approver_people(
        &self,
        conn: &mut PgConnection,
        item: &CatalogItem,
    ) -> Result<Vec<String>, StoreError> {
        let mut people = Vec::new();
        for approver in &item.approval {
            match approver {
                Approver::User(user) => people.push(user.to_string()),
                Approver::Role(role) => people.extend(self.holders_of(conn, *role).await?),
            }
        }
        people.sort();
        people.dedup();
        Ok(people)
    }

    /// Mentions of the approvers named one by one, so chat notifies them.
    async fn approver_mentions(
        &self,
        conn: &mut PgConnection,
        item: &CatalogItem,
    ) -> Result<Vec<Block>, StoreError> {
        Ok(self
            .approver_people(conn, item)
            .await?
            .into_iter()
            .map(|user| Block::Mention {
                label: "Approver".into(),
                user,
            })
            .collect())
    }

    /// Sends each approver of `request` (but its requester) the request
    /// with Approve / Reject buttons, by direct message on the platforms
    /// the bot posts to. How many were sent.
    async fn ask_approvers(
        &self,
        conn: &mut PgConnection,
        item: &CatalogItem,
        request: &ServiceRequest,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let message = view::request::approval_message(request, item, self.zone());
        let mut sent = 0;
        for person in self.approver_people(conn, item).await? {
            let Ok(person) = person.parse::<UserId>() else {
                continue;
            };
            if person == request.requester || !delivers_to(person.platform()) {
                continue;
            }
            notice::direct(conn, &person, &message, Some(request.id), now).await?;
            sent += 1;
        }
        Ok(sent)
    }

    /// Tells the requester of a step, where they asked (the thread of
    /// their message) or by direct message; nothing for the shell, whose
    /// requester sees the reply, or for steps they need not hear.
    async fn tell_requester(
        &self,
        conn: &mut PgConnection,
        request: &ServiceRequest,
        before: RequestStatus,
        action: &RequestAction,
        actor: &UserId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if !delivers_to(request.origin.platform) {
            return Ok(());
        }
        let item = self.config.requests.item(&request.item);
        let Some(message) = view::request::step_notice(request, before, action, actor, item) else {
            return Ok(());
        };
        match view::request::requester_home(request) {
            RequesterHome::Thread { channel, thread } => {
                notice::post(
                    conn,
                    &channel,
                    Some(&thread),
                    &message,
                    Some(request.id),
                    now,
                )
                .await?;
            }
            RequesterHome::Direct(person) => {
                notice::direct(conn, &person, &message, Some(request.id), now).await?;
            }
        }
        Ok(())
    }

    /// Whether `actor` is in `item`'s team: holds its role, or is a member
    /// of its rotation.
    async fn in_team(
        &self,
        conn: &mut PgConnection,
        actor: &UserId,
        item: &CatalogItem,
    ) -> Result<bool, StoreError> {
        Ok(match &item.team {
            Team::Role(role) => self.roles_of(conn, actor).await?.allows(*role),
            Team::Rotation(name) => self
                .config
                .oncall
                .rotations
                .iter()
                .any(|r| &r.name == name && r.members.contains(actor)),
        })
    }

    /// `/request REQ-n …`.
    pub(super) async fn work_request(
        &self,
        conn: &mut PgConnection,
        request: &Request,
        reference: TicketRef,
        command: RequestCommand,
    ) -> Result<Reply, ExecError> {
        let action = match command {
            RequestCommand::Show => {
                let found = store::requests::get(conn, reference.number)
                    .await?
                    .ok_or_else(|| no_such_request(reference))?;
                let events = store::timeline::list(conn, found.id).await?;
                return Ok(Reply::answer(view::request::request_card(
                    &self.config.requests,
                    &found,
                    &events,
                    self.zone(),
                    self.clock.now(),
                ))
                .about(reference));
            }
            RequestCommand::Rate(score) => {
                return self.rate_request(conn, request, reference, score).await;
            }
            RequestCommand::Act(action) => action,
        };
        if matches!(
            action,
            RequestAction::RunbookDone { .. } | RequestAction::RunbookFailed { .. }
        ) {
            return Err(
                Refusal::new("Only the runbook's answer records its outcome.")
                    .hint(format!(
                        "`/request {reference} note <text>` adds what you know."
                    ))
                    .into(),
            );
        }
        let before = store::requests::lock(conn, reference.number)
            .await?
            .ok_or_else(|| no_such_request(reference))?;
        let item = self.config.requests.item(&before.item).ok_or_else(|| {
            Refusal::new(format!(
                "{reference} is for `{}`, which is no longer in the service catalog.",
                before.item
            ))
            .hint(
                "An admin can put the item back under `[[requests.catalog]]`; `show` still works.",
            )
        })?;
        let roles = self.roles_of(conn, &request.actor).await?;
        let in_team = self.in_team(conn, &request.actor, item).await?;
        let now = self.clock.now();
        let ctx = ApplyContext {
            actor: &request.actor,
            roles: &roles,
            in_team,
            item,
            now,
        };
        let applied = before
            .apply(&action, &ctx)
            .map_err(|err| Refusal::new(sentence(&err.to_string())))?;
        let after = &applied.request;
        store::requests::update(conn, &before, after).await?;
        store::timeline::append(conn, after.id, &request.actor, now, &applied.events).await?;
        self.record_fulfil_due(conn, after, now).await?;
        self.sync_request_cards(conn, after, now).await?;
        self.tell_requester(conn, after, before.status, &action, &request.actor, now)
            .await?;
        self.ask_rating(conn, before.status, after, now).await?;
        let became_approved =
            before.status != RequestStatus::Approved && after.status == RequestStatus::Approved;
        let runbook_line = if became_approved {
            self.run_request_runbook(conn, request, item, after, now)
                .await?
        } else {
            None
        };
        let text = match &action {
            RequestAction::Approve(_) if became_approved => format!(
                "{reference} approved. The team ({}) takes it with `/request {reference} take`.",
                item.team
            ),
            RequestAction::Approve(_) => format!(
                "You approved {reference}; it still awaits approval ({} of {}).",
                after.approvals.len(),
                item.approvals_needed
            ),
            RequestAction::Reject(reason) => format!("{reference} rejected: {reason}."),
            RequestAction::Take => {
                let remaining = after.remaining_tasks(item);
                if remaining.is_empty() {
                    format!("You took {reference}. `/request {reference} fulfil [note]` when done.")
                } else {
                    format!(
                        "You took {reference}. Tasks: {}; `/request {reference} task <k> done` marks each.",
                        remaining.join(", ")
                    )
                }
            }
            RequestAction::TaskDone(task) => {
                let remaining = after.remaining_tasks(item);
                if remaining.is_empty() {
                    format!("{reference}: task {task} done; every task is done, `/request {reference} fulfil [note]` fulfils it.")
                } else {
                    format!(
                        "{reference}: task {task} done; left: {}.",
                        remaining.join(", ")
                    )
                }
            }
            RequestAction::Note(_) => format!("Note added to {reference}."),
            RequestAction::Fulfil(_) => format!(
                "{reference} fulfilled. {} hears it.",
                after.requester.display_name()
            ),
            RequestAction::Cancel(why) => format!("{reference} cancelled: {why}."),
            RequestAction::Hold(why) => format!(
                "{reference} is on hold, waiting on the requester: {why}. `/request {reference} resume` when the answer is in."
            ),
            RequestAction::Resume => format!("{reference} resumed: {}.", after.status),
            RequestAction::Close => format!("{reference} closed."),
            RequestAction::RunbookDone { .. } | RequestAction::RunbookFailed { .. } => {
                format!("{reference}: {}.", after.status)
            }
        };
        let mut message = Message::text(text);
        if matches!(action, RequestAction::Fulfil(_)) {
            message = message
                .with(Block::Mention {
                    label: "Requester".into(),
                    user: after.requester.to_string(),
                })
                .with(Block::Context(format!(
                    "{} is asked to rate it: `/request {reference} rate <1-5>`.",
                    after.requester.display_name()
                )));
        }
        if let Some(line) = runbook_line {
            message = message.with(Block::Text(line));
        }
        let message = message.with(Block::Context(view::request::request_line(
            after,
            Some(item),
        )));
        Ok(Reply::done(message).about(reference))
    }

    /// Runs `item`'s runbook for `request` once it is approved, with its
    /// fields as the parameters: a run owned by the request and one signed
    /// call, sent by the outbound worker. The line to add to the reply, or
    /// `None` when the item has no runbook.
    async fn run_request_runbook(
        &self,
        conn: &mut PgConnection,
        asked: &Request,
        item: &CatalogItem,
        request: &ServiceRequest,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, ExecError> {
        let Some(name) = &item.runbook else {
            return Ok(None);
        };
        // Config loading checked the runbook exists and the fields supply
        // its parameters; a value may still be of the wrong type for it.
        let runbook = self.config.automation.runbook(name).ok_or_else(|| {
            StoreError::Corrupt(format!("runbook `{name}` of item `{}` is gone", item.name))
        })?;
        let args: Vec<String> = runbook
            .params
            .keys()
            .filter_map(|param| {
                request
                    .fields
                    .get(param)
                    .map(|value| format!("{param}={value}"))
            })
            .collect();
        let params = runbook.bind(&args).map_err(|err| {
            Refusal::new(format!(
                "{} cannot run `{name}`: {}",
                request.reference(),
                sentence(&err.to_string())
            ))
            .hint("Nothing was done; an admin aligns the item's fields with the runbook's parameters.")
        })?;
        let reference = request.reference().to_string();
        let context = runbook_context(
            runbook,
            &params,
            Some(&reference),
            &request.requester.to_string(),
        );
        let body = match &runbook.request.body {
            Some(template) => template.render_json(&context).map_err(|err| {
                Refusal::new(format!(
                    "The `{name}` runbook's body template failed: {err}."
                ))
            })?,
            None => serde_json::to_string(&context).unwrap_or_default(),
        };
        let run_id = store::automation::insert_run(
            conn,
            &NewRun {
                runbook: &runbook.name,
                params: &params,
                requested_by: &request.requester.to_string(),
                incident_id: None,
                change_id: None,
                request_id: Some(request.id),
                platform: asked.actor.platform().as_str(),
                channel: &asked.channel,
                thread: asked.thread.as_deref(),
                status: "queued",
            },
            now,
        )
        .await?;
        let summary = format!(
            "{} {} with {}",
            runbook.request.method.as_str(),
            runbook.request.url,
            args.join(" ")
        );
        let requested = NewEvent::new(EventAction::RunbookRequested)
            .change(None, runbook.name.clone())
            .body(summary.clone());
        store::timeline::append(conn, request.id, &asked.actor, now, &[requested]).await?;
        self.queue_runbook_call(conn, runbook, run_id, request.id, &body, now)
            .await?;
        Ok(Some(format!(
            "Running `{name}` (run {run_id}): {summary}. The answer goes on {reference}'s timeline and here."
        )))
    }

    /// The item's runbook answered: the request moves on through its own
    /// lifecycle rules, as the runbook.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn finish_run_request(
        &self,
        conn: &mut PgConnection,
        request_id: i64,
        runbook: &str,
        ok: bool,
        line: &str,
        actor: &UserId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let Some(number) = store::requests::get_by_id(conn, request_id)
            .await?
            .map(|r| r.number)
        else {
            return Ok(());
        };
        let Some(before) = store::requests::lock(conn, number).await? else {
            return Ok(());
        };
        let Some(item) = self.config.requests.item(&before.item) else {
            return Ok(());
        };
        let action = if ok {
            RequestAction::RunbookDone {
                runbook: runbook.to_string(),
                answer: line.to_string(),
            }
        } else {
            RequestAction::RunbookFailed {
                runbook: runbook.to_string(),
                error: line.to_string(),
            }
        };
        let roles = self.roles_of(conn, actor).await?;
        let ctx = ApplyContext {
            actor,
            roles: &roles,
            in_team: false,
            item,
            now,
        };
        match before.apply(&action, &ctx) {
            Ok(applied) => {
                store::requests::update(conn, &before, &applied.request).await?;
                store::timeline::append(conn, before.id, actor, now, &applied.events).await?;
                self.record_fulfil_due(conn, &applied.request, now).await?;
                self.sync_request_cards(conn, &applied.request, now).await?;
                self.tell_requester(conn, &applied.request, before.status, &action, actor, now)
                    .await?;
                self.ask_rating(conn, before.status, &applied.request, now)
                    .await?;
            }
            Err(err) => {
                tracing::warn!(request = %before.reference(), error = %err, "request could not move on after its runbook");
            }
        }
        Ok(())
    }

    /// Queues the request's card: posted in the team's channel (the item's
    /// `channel`, else `requests.channel`; without one, where it was
    /// asked), then edited in place on every change.
    pub(super) async fn sync_request_cards(
        &self,
        conn: &mut PgConnection,
        request: &ServiceRequest,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut platforms = store::messages::platforms_of(conn, request.id).await?;
        platforms.push(view::request::card_platform(
            request,
            self.config.requests.item(&request.item),
        ));
        platforms.sort();
        platforms.dedup();
        let mut queued = false;
        for platform in platforms.into_iter().filter(|p| delivers_to(*p)) {
            store::outbox::enqueue(conn, platform, OutboxKind::TicketMessage, request.id, now)
                .await?;
            queued = true;
        }
        Ok(queued)
    }

    /// Keeps the instant `request`'s fulfilment clock is due, which the
    /// figures judge it against, up to date with its timeline (appended
    /// already): set at approval, moved by holds, dropped when it ends
    /// unfulfilled before it was due.
    async fn record_fulfil_due(
        &self,
        conn: &mut PgConnection,
        request: &ServiceRequest,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let settings = &self.config.requests;
        let Some((item, within)) = settings
            .item(&request.item)
            .and_then(|item| Some((item, item.fulfil_within?)))
        else {
            return Ok(());
        };
        match request.status {
            RequestStatus::Cancelled | RequestStatus::Rejected => {
                store::requests::drop_fulfil_due(conn, request.id, now).await
            }
            RequestStatus::Fulfilled | RequestStatus::Closed => Ok(()),
            _ => {
                let events = store::timeline::list(conn, request.id).await?;
                let due = fulfil_due(
                    request.approved_at,
                    within,
                    &settings.hours(item),
                    &holds_of(&events),
                );
                store::requests::set_fulfil_due(conn, request.id, due).await
            }
        }
    }

    /// Asks the requester to rate a request that just became fulfilled,
    /// by direct message with 1–5 buttons (the incident survey's way).
    async fn ask_rating(
        &self,
        conn: &mut PgConnection,
        before: RequestStatus,
        after: &ServiceRequest,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let platform = after.requester.platform();
        if before == RequestStatus::Fulfilled
            || after.status != RequestStatus::Fulfilled
            || !delivers_to(platform)
        {
            return Ok(());
        }
        store::outbox::enqueue(conn, platform, OutboxKind::Survey, after.id, now).await
    }

    /// `/request REQ-n rate <1-5>`: the requester's satisfaction score,
    /// once, after fulfilment; counted in the request figures.
    async fn rate_request(
        &self,
        conn: &mut PgConnection,
        request: &Request,
        reference: TicketRef,
        score: u8,
    ) -> Result<Reply, ExecError> {
        let found = store::requests::get(conn, reference.number)
            .await?
            .ok_or_else(|| no_such_request(reference))?;
        if found.requester != request.actor {
            return Err(Refusal::new(format!(
                "Only the requester of {reference} ({}) can rate how it was fulfilled.",
                found.requester.display_name()
            ))
            .into());
        }
        if !matches!(
            found.status,
            RequestStatus::Fulfilled | RequestStatus::Closed
        ) {
            return Err(Refusal::new(format!(
                "{reference} is {}; rate it once it is fulfilled.",
                found.status
            ))
            .into());
        }
        self.record_rating(conn, found.id, reference, score, &request.actor)
            .await
    }

    /// `/itsm requests [mine|queue|approvals]`.
    pub(super) async fn list_requests(
        &self,
        conn: &mut PgConnection,
        request: &Request,
        list: RequestList,
    ) -> Result<Reply, ExecError> {
        let (selection, title) = match list {
            RequestList::Mine => (Selection::Mine(request.actor.clone()), "Your open requests"),
            RequestList::Queue => (Selection::Queue, "Requests for the team"),
            RequestList::Approvals => (Selection::Approvals, "Requests awaiting approval"),
        };
        let found = store::requests::open(conn, &selection, LIST_LIMIT).await?;
        if found.is_empty() {
            return Ok(Reply::answer(Message::text(format!("{title}: none."))));
        }
        Ok(Reply::answer(
            Message::default().with(Block::List {
                title: Some(format!("{title} ({})", found.len())),
                items: found
                    .iter()
                    .map(|r| view::request::request_line(r, self.config.requests.item(&r.item)))
                    .collect(),
            }),
        ))
    }
}

fn plural(count: u32, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

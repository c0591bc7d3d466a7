//! The executor: runs a [`Command`] against the domain rules and the store,
//! in one transaction, and answers with a [`Reply`].

use std::sync::Arc;

use sqlx::PgConnection;
use tokio::sync::Notify;

use super::command::{Command, IncidentCommand, IncidentReport, QueryCommand};
use super::help::help;
use super::parse::{parse_line, ParseContext};
use super::refusal::Refusal;
use super::reply::{Block, Message, Outcome, Reply};
use super::show;
use crate::clock::Clock;
use crate::commands::Inbound;
use crate::config::Config;
use crate::domain::automation::Trigger;
use crate::domain::incident::Incident;
use crate::domain::incident::{IncidentAction, LifecycleRules, NewIncident, Origin};
use crate::domain::problem::{MAX_HINTS, MIN_SHARED_WORDS};
use crate::domain::roles::RoleSet;
use crate::domain::service::nearest_names;
use crate::domain::timeline::{EventAction, NewEvent};
use crate::domain::{Platform, Role, RoleBook, TicketRef, UserId};
use crate::store::inbound::Handled;
use crate::store::incidents::OpenFilter;
use crate::store::opening::{KnownErrorSearch, Opened, Opening};
use crate::store::outbox::OutboxKind;
use crate::store::{self, Store, StoreError};

pub mod alerts;
mod change;
pub mod postmortem;
mod problem;
mod roles;
pub(crate) mod rules;
pub mod runbooks;
pub mod services;

/// Most incidents listed in one reply.
const LIST_LIMIT: i64 = 25;

/// Who asked, and where: everything about a command except the command.
#[derive(Debug, Clone)]
pub struct Request {
    pub actor: UserId,
    pub channel: String,
    pub thread: Option<String>,
    pub message: Option<String>,
    /// The platform's id for this delivery; a second delivery with the same
    /// id changes nothing and gets the first reply again.
    pub event_id: Option<String>,
}

impl Request {
    /// A request from `actor` in `channel`.
    pub fn new(actor: UserId, channel: impl Into<String>) -> Self {
        Request {
            actor,
            channel: channel.into(),
            thread: None,
            message: None,
            event_id: None,
        }
    }

    fn from_inbound(inbound: &Inbound) -> Self {
        Request {
            actor: inbound.user.clone(),
            channel: inbound.channel.clone(),
            thread: inbound.thread.clone(),
            message: inbound.message.clone(),
            event_id: inbound.event_id.clone(),
        }
    }
}

/// Why a command did not complete.
#[derive(Debug, thiserror::Error)]
enum ExecError {
    #[error("{0}")]
    Refused(Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<Refusal> for ExecError {
    fn from(refusal: Refusal) -> Self {
        ExecError::Refused(refusal)
    }
}

/// The rule events a change from `before` to `after` raises: a new
/// priority, a new status.
pub(crate) fn incident_change_facts(
    before: &Incident,
    after: &Incident,
    at: chrono::DateTime<chrono::Utc>,
) -> Vec<crate::domain::automation::EventFacts> {
    let mut facts = Vec::new();
    if before.priority != after.priority {
        facts.push(rules::incident_facts(
            Trigger::IncidentPriorityChanged,
            after,
            Some((before.priority.to_string(), after.priority.to_string())),
            at,
        ));
    }
    if before.status != after.status {
        facts.push(rules::incident_facts(
            Trigger::IncidentStatusChanged,
            after,
            Some((before.status.to_string(), after.status.to_string())),
            at,
        ));
    }
    facts
}

/// Runs commands. Cheap to clone; share one per process.
#[derive(Debug, Clone)]
pub struct Engine {
    store: Store,
    config: Arc<Config>,
    roles: RoleBook,
    lifecycle: LifecycleRules,
    clock: Arc<dyn Clock>,
    /// Wakes the outbox workers after a command queued something.
    outbox_signal: Arc<Notify>,
    metrics: crate::metrics::Metrics,
    /// Commands per person per minute, when limited.
    limiter: Option<Arc<governor::DefaultKeyedRateLimiter<UserId>>>,
}

impl Engine {
    /// An engine over `store` with `config`, telling time by `clock`.
    pub fn new(store: Store, config: Arc<Config>, clock: Arc<dyn Clock>) -> Self {
        let limiter = std::num::NonZeroU32::new(config.limits.commands_per_minute)
            .map(|n| Arc::new(governor::RateLimiter::keyed(governor::Quota::per_minute(n))));
        Engine {
            limiter,
            roles: config.roles.book(),
            lifecycle: config.incident.lifecycle(),
            store,
            config,
            clock,
            outbox_signal: Arc::new(Notify::new()),
            metrics: crate::metrics::Metrics::new(),
        }
    }

    /// The metrics every part of the bot counts into.
    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.metrics
    }

    /// The configuration this engine runs with.
    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    /// The SLA policy.
    pub fn sla_policy(&self) -> &crate::domain::sla::SlaPolicy {
        &self.config.sla_policy
    }

    /// The names in the service catalog, for forms.
    pub async fn service_names(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self.store.pool().acquire().await?;
        store::services::names(&mut conn).await
    }

    /// Notified whenever a command has queued outbound messages.
    pub fn outbox_signal(&self) -> Arc<Notify> {
        self.outbox_signal.clone()
    }

    /// The clock this engine tells time by.
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    /// The store this engine writes to.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Parses and runs one chat line.
    pub async fn handle(&self, inbound: &Inbound) -> Reply {
        let ctx = ParseContext {
            platform: inbound.platform,
            actor: &inbound.user,
        };
        match parse_line(&inbound.text, ctx) {
            Ok(command) => self.execute(&Request::from_inbound(inbound), command).await,
            Err(refusal) => Reply::refused(&refusal),
        }
    }

    /// Runs `command` for `request` in one transaction: it commits only when
    /// the command succeeds, so a refused or failed command changes nothing.
    pub async fn execute(&self, request: &Request, command: Command) -> Reply {
        let started = std::time::Instant::now();
        let name = command.name();
        let reply = match self.slow_down(&request.actor) {
            Some(refusal) => Reply::refused(&refusal),
            None => self.execute_timed(request, command).await,
        };
        let outcome = match reply.outcome {
            Outcome::Done => "done",
            Outcome::Refused => "refused",
            Outcome::Unavailable => "unavailable",
        };
        self.metrics.command(
            request.actor.platform().as_str(),
            name,
            outcome,
            started.elapsed(),
        );
        reply
    }

    /// A refusal when `actor` has used up their commands for now.
    fn slow_down(&self, actor: &UserId) -> Option<Refusal> {
        let limiter = self.limiter.as_ref()?;
        let wait = limiter.check_key(actor).err()?;
        // Forget people who have been quiet, so the map stays small.
        if limiter.len() > 10_000 {
            limiter.retain_recent();
        }
        let seconds = wait
            .wait_time_from(governor::clock::Clock::now(
                &governor::clock::DefaultClock::default(),
            ))
            .as_secs()
            .max(1);
        Some(
            Refusal::new(format!(
                "Slow down: you have sent more than {} commands in a minute. Nothing was done; try again in {seconds}s.",
                self.config.limits.commands_per_minute
            ))
            .hint("The limit is `limits.commands_per_minute` in the configuration."),
        )
    }

    async fn execute_timed(&self, request: &Request, command: Command) -> Reply {
        let platform = request.actor.platform();
        match self.run_once(request, command).await {
            Ok(reply) => reply,
            Err(ExecError::Refused(refusal)) => Reply::refused(&refusal),
            Err(ExecError::Store(StoreError::Unavailable(err))) => {
                tracing::warn!(error = %err, %platform, "database unavailable");
                Reply::unavailable()
            }
            Err(ExecError::Store(err)) => {
                tracing::error!(error = %err, %platform, "command failed");
                Reply::failed()
            }
        }
    }

    async fn run_once(&self, request: &Request, command: Command) -> Result<Reply, ExecError> {
        if let Command::ReportIncident(report) = command {
            return self.report(request, report).await;
        }
        let platform = request.actor.platform();
        let mut tx = self.store.begin().await?;
        if let Some(event_id) = &request.event_id {
            if let Some(previous) = store::inbound::previous(&mut tx, platform, event_id).await? {
                return self.replay(&mut tx, previous).await;
            }
        }
        let reply = self.run(&mut tx, request, command).await?;
        if reply.outcome != Outcome::Done {
            return Ok(reply);
        }
        if let Some(event_id) = &request.event_id {
            let text = store_reply(&reply);
            let now = self.clock.now();
            if !store::inbound::record(&mut tx, platform, event_id, now, &text).await? {
                // Another worker handled the same delivery a moment ago: keep
                // its effect, drop ours.
                tx.rollback().await.map_err(StoreError::from)?;
                let mut conn = self.store.acquire().await?;
                return match store::inbound::previous(&mut conn, platform, event_id).await? {
                    Some(previous) => self.replay(&mut conn, previous).await,
                    None => Ok(stored_reply(&text)),
                };
            }
        }
        tx.commit().await.map_err(StoreError::from)?;
        self.outbox_signal.notify_waiters();
        Ok(reply)
    }

    async fn run(
        &self,
        conn: &mut PgConnection,
        request: &Request,
        command: Command,
    ) -> Result<Reply, ExecError> {
        match command {
            // `run_once` sends reports to `report`, which decides whether
            // they need a transaction; this arm serves callers that have one.
            Command::ReportIncident(report) => self.report_incident(conn, request, report).await,
            Command::OpenIncidentForm => Err(Refusal::new("This chat has no forms.")
                .hint("Report with `/incident <what is broken> [P1-P4] [service:<name>]`, e.g. `/incident VPN down in Berlin office P2`.")
                .into()),
            Command::Incident(reference, IncidentCommand::Show) => self.show_incident(conn, reference).await,
            Command::Incident(reference, IncidentCommand::Rate(score)) => {
                self.rate_incident(conn, request, reference, score).await
            }
            Command::ThreadReply(text) => {
                let platform = request.actor.platform();
                let thread = request.thread.as_deref().ok_or_else(|| Refusal::new("This message is not in a thread."))?;
                let number = store::messages::incident_in_thread(conn, platform, &request.channel, thread)
                    .await?
                    .ok_or_else(|| Refusal::new("This thread does not belong to an incident."))?;
                self.act_on_incident(conn, request, TicketRef::incident(number), IncidentAction::Note(text))
                    .await
            }
            Command::Incident(reference, IncidentCommand::Act(action)) => {
                self.act_on_incident(conn, request, reference, action).await
            }
            Command::Incident(reference, IncidentCommand::Postmortem) => {
                self.postmortem(conn, request, reference).await
            }
            Command::Incident(reference, IncidentCommand::PostmortemSet(section, text)) => {
                self.postmortem_set(conn, request, reference, section, text).await
            }
            Command::Incident(reference, IncidentCommand::AddAction(draft)) => {
                self.add_action(conn, request, reference, draft).await
            }
            Command::Incident(incident, IncidentCommand::LinkProblem(problem)) => {
                self.link_problem_from_incident(conn, request, incident, problem).await
            }
            Command::Incident(reference, IncidentCommand::Outage(since)) => {
                self.mark_outage(conn, request, reference, since).await
            }
            Command::Incident(reference, IncidentCommand::Public(text)) => {
                self.public_update(conn, request, reference, text).await
            }
            Command::Query(query) => self.query(conn, request, query).await,
            Command::RecordProblem(draft) => self.record_problem(conn, request, draft).await,
            Command::Problem(reference, command) => self.work_problem(conn, request, reference, command).await,
            Command::SearchProblems(words) => self.search_problems(conn, request, &words).await,
            Command::DraftChange(draft) => self.draft_change(conn, request, draft).await,
            Command::Change(reference, command) => self.work_change(conn, request, reference, command).await,
        }
    }

    async fn roles_of(
        &self,
        conn: &mut PgConnection,
        user: &UserId,
    ) -> Result<RoleSet, StoreError> {
        let stored = store::roles::stored_roles(conn, user).await?;
        Ok(self.roles.roles_of(user, &stored))
    }

    /// Checks that `actor` holds `role` for `doing`, then locks incident
    /// `reference` until the transaction ends, refusing an unknown one.
    async fn lock_incident_for(
        &self,
        conn: &mut PgConnection,
        actor: &UserId,
        role: Role,
        doing: &str,
        reference: TicketRef,
    ) -> Result<Incident, ExecError> {
        self.require(conn, actor, role, doing).await?;
        Ok(store::incidents::lock(conn, reference.number)
            .await?
            .ok_or_else(|| no_such(reference))?)
    }

    async fn require(
        &self,
        conn: &mut PgConnection,
        user: &UserId,
        role: Role,
        doing: &str,
    ) -> Result<(), ExecError> {
        if self.roles_of(conn, user).await?.allows(role) {
            return Ok(());
        }
        Err(Refusal::new(format!(
            "Only someone with the {role} role can {doing}; you ({user}) do not have it."
        ))
        .hint(format!(
            "Ask an admin to grant it (`[roles] {role}` in the configuration)."
        ))
        .into())
    }

    /// Reports an incident. Opening it is one statement, run without a
    /// transaction around it unless something else must commit with it:
    /// paging the on-call person, or automation rules on new incidents.
    async fn report(&self, request: &Request, report: IncidentReport) -> Result<Reply, ExecError> {
        if self.opens_alone(&report) {
            let mut conn = self.store.acquire().await?;
            let reply = self.report_incident(&mut conn, request, report).await?;
            self.outbox_signal.notify_waiters();
            return Ok(reply);
        }
        let mut tx = self.store.begin().await?;
        let reply = self.report_incident(&mut tx, request, report).await?;
        if reply.outcome != Outcome::Done {
            return Ok(reply);
        }
        if let Some(event_id) = &request.event_id {
            // Pages and rule effects cannot be rebuilt from the incident:
            // keep the reply itself for a redelivery.
            let platform = request.actor.platform();
            store::inbound::set_reply(&mut tx, platform, event_id, &store_reply(&reply)).await?;
        }
        tx.commit().await.map_err(StoreError::from)?;
        self.outbox_signal.notify_waiters();
        Ok(reply)
    }

    /// Whether opening `report` writes nothing but the opening statement.
    fn opens_alone(&self, report: &IncidentReport) -> bool {
        let (priority, ..) = self.priority_of(report);
        let rules_on_new = self
            .config
            .automation
            .compiled_rules
            .iter()
            .any(|rule| rule.on == Trigger::IncidentCreated);
        !rules_on_new && !services::pages_when_opened(priority, report.service.as_deref())
    }

    /// The report's priority, impact and urgency: as given, else from the
    /// configured defaults and the priority matrix.
    fn priority_of(
        &self,
        report: &IncidentReport,
    ) -> (
        crate::domain::Priority,
        crate::domain::priority::Level,
        crate::domain::priority::Level,
    ) {
        let settings = &self.config.incident;
        let impact = report.impact.unwrap_or(settings.default_impact);
        let urgency = report.urgency.unwrap_or(settings.default_urgency);
        let priority = report
            .priority
            .unwrap_or_else(|| settings.priority_matrix.priority(impact, urgency));
        (priority, impact, urgency)
    }

    async fn report_incident(
        &self,
        conn: &mut PgConnection,
        request: &Request,
        report: IncidentReport,
    ) -> Result<Reply, ExecError> {
        let service_id = match &report.service {
            Some(name) => Some(self.find_service(conn, name).await?),
            None => None,
        };
        let platform = request.actor.platform();
        if let Some(message) = &request.message {
            if let Some(number) =
                store::incidents::reported_from(conn, platform, &request.channel, message).await?
            {
                return Err(Refusal::new(format!(
                    "This message was already reported as INC-{number}."
                ))
                .hint(format!("`/incident INC-{number} show` shows it."))
                .into());
            }
        }
        let (priority, impact, urgency) = self.priority_of(&report);
        let new = NewIncident {
            title: report.title,
            description: report
                .description
                .map(|d| d.into_string())
                .unwrap_or_default(),
            priority,
            impact,
            urgency,
            service: report.service,
            reporter: request.actor.clone(),
            origin: Origin {
                platform,
                channel: request.channel.clone(),
                thread: request.thread.clone(),
                message: request.message.clone(),
            },
        };
        let now = self.clock.now();
        let policy = self.sla_policy();
        // The policy reads no id or number, so a new incident's clocks are
        // known before the database numbers it.
        let unnumbered = new.opened(0, 0, now);
        let checkpoints = policy.checkpoints(&unnumbered, &[]);
        let clocks = policy.clocks(&unnumbered, &[], now);
        let cards: Vec<Platform> = [platform].into_iter().filter(|p| delivers_to(*p)).collect();
        let events = [new.created_event()];
        let opening = Opening {
            incident: &new,
            service_id,
            at: now,
            actor: &request.actor,
            events: &events,
            checkpoints: &checkpoints,
            outcomes: &clocks,
            cards: &cards,
            delivery: request.event_id.as_deref().map(|id| (platform, id)),
            known_errors: Some(KnownErrorSearch {
                title: new.title.as_str(),
                min_shared: MIN_SHARED_WORDS,
                limit: MAX_HINTS,
            }),
        };
        let (id, number, known_errors) = match store::opening::open(conn, &opening).await {
            Ok(Opened::New {
                id,
                number,
                known_errors,
            }) => (id, number, known_errors),
            Ok(Opened::AlreadyHandled) => return self.replay_delivery(conn, request).await,
            Err(StoreError::Conflict(constraint)) if constraint == "tickets_by_origin_message" => {
                // Someone reported the same message a moment ago.
                return Err(
                    Refusal::new("This message was already reported a moment ago.")
                        .hint("`/itsm open` lists it.")
                        .into(),
                );
            }
            Err(err) => return Err(err.into()),
        };
        let incident = new.opened(id, number, now);
        let paged = self.page_on_call(conn, &incident, now).await?;
        let facts = rules::incident_facts(Trigger::IncidentCreated, &incident, None, now);
        let fired = self.fire_rules(conn, &facts).await?;
        Ok(self.reported_reply(&incident, &clocks, paged.as_ref(), &known_errors, fired))
    }

    /// The reply to a report: what was opened, its priority and SLA, whom it
    /// paged, the known errors it may be, what the rules did.
    fn reported_reply(
        &self,
        incident: &Incident,
        clocks: &[crate::domain::sla::ClockView],
        paged: Option<&UserId>,
        known_errors: &[crate::domain::problem::KnownErrorMatch],
        fired: rules::Fired,
    ) -> Reply {
        let matrix = &self.config.incident.priority_matrix;
        // Said whenever it holds, not only when the priority was left out,
        // so a redelivery's reply rebuilt from the incident reads the same.
        let derived = if matrix.priority(incident.impact, incident.urgency) == incident.priority {
            format!(
                "Priority {} from impact {} × urgency {}. ",
                incident.priority, incident.impact, incident.urgency
            )
        } else {
            String::new()
        };
        let mut message = Message::default()
            .with(Block::Header(format!(
                "{} reported: {}",
                incident.reference(),
                incident.title
            )))
            .with(show::incident_fields(incident))
            .with(Block::Text(show::due_line(clocks)))
            .with(Block::Context(format!(
                "{derived}Engineers: `/incident {} ack` to take it.",
                incident.reference()
            )));
        if let Some(paged) = paged {
            message.blocks.push(Block::Mention {
                label: "Paged (on call):".into(),
                user: paged.to_string(),
            });
        }
        message.blocks.extend(problem::known_error_blocks(
            incident.reference(),
            known_errors,
        ));
        let reply = fired.annotate(Reply::done(message).about(incident.reference()));
        if delivers_to(incident.origin.platform) {
            reply.privately()
        } else {
            reply
        }
    }

    /// The first reply to this request's delivery, which was handled before.
    async fn replay_delivery(
        &self,
        conn: &mut PgConnection,
        request: &Request,
    ) -> Result<Reply, ExecError> {
        let platform = request.actor.platform();
        let event_id = request.event_id.as_deref().unwrap_or_default();
        let handled = store::inbound::previous(conn, platform, event_id)
            .await?
            .ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "delivery {platform}/{event_id} was claimed, yet no claim is stored"
                ))
            })?;
        self.replay(conn, handled).await
    }

    /// The reply a delivery got the first time: as stored, or rebuilt from
    /// the incident it opened.
    async fn replay(&self, conn: &mut PgConnection, handled: Handled) -> Result<Reply, ExecError> {
        let ticket_id = match handled {
            Handled::Reply(stored) => return Ok(stored_reply(&stored)),
            Handled::Opened(ticket_id) => ticket_id,
        };
        let incident = store::incidents::get_by_id(conn, ticket_id)
            .await?
            .ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "a delivery opened ticket {ticket_id}, which is gone"
                ))
            })?;
        let clocks = self
            .sla_policy()
            .clocks(&incident, &[], incident.created_at);
        let known_errors =
            store::problems::known_errors_like(conn, &incident.title, MIN_SHARED_WORDS, MAX_HINTS)
                .await?;
        Ok(self.reported_reply(
            &incident,
            &clocks,
            None,
            &known_errors,
            rules::Fired::default(),
        ))
    }

    /// Brings the incident's SLA state up to date after a change: pauses
    /// for holds and the time between a resolve and a reopen, the
    /// checkpoints the sweep will post, and each clock's outcome.
    async fn sync_sla(
        &self,
        conn: &mut PgConnection,
        incident: &Incident,
        change: Option<(&Incident, &IncidentAction)>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError> {
        match change {
            Some((_, IncidentAction::Hold(_))) => {
                store::sla::open_pause(conn, incident.id, now).await?
            }
            Some((_, IncidentAction::Resume | IncidentAction::Resolve(_))) => {
                store::sla::close_pause(conn, incident.id, now).await?
            }
            Some((before, IncidentAction::Reopen(_))) => {
                // The time it spent resolved does not count against it.
                if let Some(resolved_at) = before.resolved_at {
                    store::sla::open_pause(conn, incident.id, resolved_at).await?;
                    store::sla::close_pause(conn, incident.id, now).await?;
                }
            }
            _ => {}
        }
        let policy = self.sla_policy();
        if let Some((before, _)) = change {
            if !crate::domain::sla::SlaPolicy::moved_by(before, incident) {
                return Ok(());
            }
        }
        // A new incident has no pauses yet; skip the read.
        let pauses = match change {
            None => Vec::new(),
            Some(_) => store::sla::pauses(conn, incident.id).await?,
        };
        let checkpoints = if incident.status.is_open() {
            policy.checkpoints(incident, &pauses)
        } else {
            Vec::new()
        };
        store::sla::replace_checkpoints(conn, incident.id, &checkpoints).await?;
        let clocks = policy.clocks(incident, &pauses, now);
        store::sla::record_outcomes(conn, incident.id, &clocks).await?;
        Ok(())
    }

    /// Queues an update of the incident's card on every platform that shows
    /// it (or should: the one it was reported on). True when any was queued.
    async fn sync_cards(
        &self,
        conn: &mut PgConnection,
        incident: &Incident,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, StoreError> {
        store::outbox::enqueue_cards(
            conn,
            incident.id,
            incident.origin.platform,
            &CARD_PLATFORMS,
            now,
        )
        .await
    }

    async fn rate_incident(
        &self,
        conn: &mut PgConnection,
        request: &Request,
        reference: TicketRef,
        score: u8,
    ) -> Result<Reply, ExecError> {
        let incident = store::incidents::get(conn, reference.number)
            .await?
            .ok_or_else(|| no_such(reference))?;
        if incident.reporter != request.actor {
            return Err(Refusal::new(format!(
                "Only the reporter of {reference} ({}) can rate how it was handled.",
                incident.reporter
            ))
            .into());
        }
        if incident.status.is_open() {
            return Err(Refusal::new(format!(
                "{reference} is still {}; rate it once it is resolved.",
                incident.status
            ))
            .into());
        }
        let now = self.clock.now();
        let (standing, new) =
            store::satisfaction::record_once(conn, incident.id, score, &request.actor, now).await?;
        if !new {
            return Ok(Reply::answer(Message::text(format!(
                "You already rated {reference} {standing}/5; that score stands. Thank you!"
            )))
            .about(reference));
        }
        let event = NewEvent::new(EventAction::Rated).change(None, format!("{score}/5"));
        store::timeline::append(conn, incident.id, &request.actor, now, &[event]).await?;
        Ok(Reply::answer(Message::text(format!(
            "Thank you! You rated {reference} {score}/5."
        )))
        .about(reference))
    }

    async fn find_service(&self, conn: &mut PgConnection, name: &str) -> Result<i64, ExecError> {
        if let Some(id) = store::services::find_id(conn, name).await? {
            return Ok(id);
        }
        let names = store::services::names(conn).await?;
        let nearest = nearest_names(name, names.iter().map(String::as_str));
        let hint = if nearest.is_empty() {
            format!(
                "Services in the catalog: {}.",
                if names.is_empty() {
                    "none yet".to_string()
                } else {
                    names.join(", ")
                }
            )
        } else {
            format!(
                "Did you mean {}?",
                nearest
                    .iter()
                    .map(|n| format!("`service:{n}`"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            )
        };
        Err(
            Refusal::new(format!("There is no service `{name}` in the catalog."))
                .hint(hint)
                .into(),
        )
    }

    async fn show_incident(
        &self,
        conn: &mut PgConnection,
        reference: TicketRef,
    ) -> Result<Reply, ExecError> {
        let incident = store::incidents::get(conn, reference.number)
            .await?
            .ok_or_else(|| no_such(reference))?;
        let events = store::timeline::list(conn, incident.id).await?;
        let pauses = store::sla::pauses(conn, incident.id).await?;
        let clocks = self
            .sla_policy()
            .clocks(&incident, &pauses, self.clock.now());
        Ok(Reply::answer(show::incident_card(&incident, &events, &clocks)).about(reference))
    }

    /// Applies `action` to the locked `incident` as `actor` with no role
    /// check, for the bot's own actors (a monitoring system, a rule), which
    /// config or a token authorises: stored, on the timeline, the paging
    /// hook, outages, SLA state and the cards kept in step. The inner error
    /// is the lifecycle's refusal.
    pub(super) async fn act_unchecked(
        &self,
        conn: &mut PgConnection,
        actor: &UserId,
        incident: &Incident,
        action: &IncidentAction,
    ) -> Result<Result<Incident, crate::domain::incident::IncidentError>, StoreError> {
        let now = self.clock.now();
        let applied = match incident.apply(action, actor, now, &self.lifecycle) {
            Ok(applied) => applied,
            Err(err) => return Ok(Err(err)),
        };
        store::incidents::update(conn, &applied.incident).await?;
        store::timeline::append(conn, incident.id, actor, now, &applied.events).await?;
        crate::commands::paging::follow(conn, &self.config, incident, &applied.incident, now)
            .await?;
        if matches!(action, IncidentAction::Resolve(_)) {
            store::services::end_outage(conn, incident.id, now).await?;
            postmortem::schedule_review_reminder(self, conn, &applied.incident).await?;
        }
        self.sync_sla(conn, &applied.incident, Some((incident, action)), now)
            .await?;
        self.sync_cards(conn, &applied.incident, now).await?;
        Ok(Ok(applied.incident))
    }

    async fn act_on_incident(
        &self,
        conn: &mut PgConnection,
        request: &Request,
        reference: TicketRef,
        action: IncidentAction,
    ) -> Result<Reply, ExecError> {
        let incident = store::incidents::lock(conn, reference.number)
            .await?
            .ok_or_else(|| no_such(reference))?;
        let own = incident.reporter == request.actor;
        let reporter_may = matches!(action, IncidentAction::Note(_))
            || (own && matches!(action, IncidentAction::Reopen(_)));
        if !reporter_may {
            let doing = format!("`{}` an incident", action.verb());
            self.require(conn, &request.actor, Role::Engineer, &doing)
                .await?;
        }
        let now = self.clock.now();
        let applied = incident
            .apply(&action, &request.actor, now, &self.lifecycle)
            .map_err(Refusal::from)?;
        store::incidents::update(conn, &applied.incident).await?;
        store::timeline::append(conn, incident.id, &request.actor, now, &applied.events).await?;
        crate::commands::paging::follow(conn, &self.config, &incident, &applied.incident, now)
            .await?;
        if matches!(action, IncidentAction::Resolve(_)) {
            // Resolved: the service is up again.
            store::services::end_outage(conn, incident.id, now).await?;
            postmortem::schedule_review_reminder(self, conn, &applied.incident).await?;
        }
        self.sync_sla(conn, &applied.incident, Some((&incident, &action)), now)
            .await?;
        let carded = self.sync_cards(conn, &applied.incident, now).await?;
        // Raised to P1/P2: page as if it had been reported so (once).
        let paged = if matches!(action, IncidentAction::SetPriority(_)) {
            self.page_on_call(conn, &applied.incident, now).await?
        } else {
            None
        };
        let reporter_platform = applied.incident.reporter.platform();
        if matches!(action, IncidentAction::Resolve(_)) && delivers_to(reporter_platform) {
            store::outbox::enqueue(
                conn,
                reporter_platform,
                OutboxKind::Survey,
                incident.id,
                now,
            )
            .await?;
        }
        let after = &applied.incident;
        let text = match &action {
            IncidentAction::Acknowledge => format!("{reference} acknowledged by {}.", request.actor),
            IncidentAction::Assign(user) => format!(
                "{reference} assigned to {user}{}.",
                incident.assignee.as_ref().map(|was| format!(" (was {was})")).unwrap_or_default()
            ),
            IncidentAction::SetPriority(priority) => format!("{reference} priority {} → {priority}.", incident.priority),
            IncidentAction::Note(_) => format!("Note added to {reference}."),
            IncidentAction::Hold(reason) => format!(
                "{reference} is on hold: {reason}. `/incident {reference} resume` takes it off hold."
            ),
            IncidentAction::Resume => format!("{reference} resumed; it is {} again.", after.status),
            IncidentAction::Resolve(resolution) => format!("{reference} resolved: {resolution}."),
            IncidentAction::Close => format!("{reference} closed."),
            IncidentAction::Reopen(why) => format!("{reference} reopened ({}): {why}.", after.status),
        };
        let mut message = Message::text(text).with(Block::Context(show::incident_line(after)));
        if let Some(paged) = paged {
            message.blocks.push(Block::Mention {
                label: "Paged (on call):".into(),
                user: paged.to_string(),
            });
        }
        let mut reply = Reply::done(message).about(reference);
        for facts in incident_change_facts(&incident, after, now) {
            reply = self.fire_rules(conn, &facts).await?.annotate(reply);
        }
        Ok(if carded { reply.privately() } else { reply })
    }

    async fn query(
        &self,
        conn: &mut PgConnection,
        request: &Request,
        query: QueryCommand,
    ) -> Result<Reply, ExecError> {
        let message = match query {
            QueryCommand::Help(topic) => help(topic.as_deref())?,
            QueryCommand::Grant(user, role) => return self.grant(conn, request, user, role).await,
            QueryCommand::Revoke(user, role) => {
                return self.revoke(conn, request, user, role).await
            }
            QueryCommand::Changes(range) => {
                return self.change_schedule(conn, request, range).await
            }
            QueryCommand::Outbox => return self.outbox_status(conn, request).await,
            QueryCommand::Actions { mine } => return self.list_actions(conn, request, mine).await,
            QueryCommand::ActionDone(id) => return self.action_done(conn, request, id).await,
            QueryCommand::Rules => {
                self.require_automation_reader(conn, &request.actor).await?;
                return self.list_rules(conn).await;
            }
            QueryCommand::Runbooks => return self.list_runbooks(conn, request).await,
            QueryCommand::Run {
                runbook,
                incident,
                args,
            } => {
                return self
                    .run_runbook(conn, request, &runbook, incident, &args)
                    .await
            }
            QueryCommand::RaiseAction(id, raise_as) => {
                return self.raise_action(conn, request, id, raise_as).await
            }
            QueryCommand::OutboxRetry(ids) => return self.outbox_retry(conn, request, ids).await,
            QueryCommand::Services => return self.list_services(conn).await,
            QueryCommand::Service(name) => return self.show_service(conn, &name).await,
            QueryCommand::Oncall(target) => return self.show_oncall(conn, target).await,
            QueryCommand::OncallOverride(wanted) => {
                return self.override_oncall(conn, request, wanted).await
            }
            QueryCommand::Sla => show::sla_policy(self.sla_policy()),
            QueryCommand::Report(period) => {
                let roles = self.roles_of(conn, &request.actor).await?;
                if !(roles.allows(Role::Manager) || roles.allows(Role::Engineer)) {
                    return Err(Refusal::new(format!(
                        "Only someone with the manager or engineer role can read reports; you ({}) have neither.",
                        request.actor
                    ))
                    .into());
                }
                let report = crate::commands::period_report::report_with(
                    conn,
                    period,
                    self.clock.now(),
                    self.config.digest.time_zone.0,
                )
                .await?;
                crate::commands::period_report::message(&report)
            }
            QueryCommand::Whoami => {
                let roles = self.roles_of(conn, &request.actor).await?;
                let names: Vec<&str> = roles.iter().map(Role::as_str).collect();
                Message::text(format!("You are {}.", request.actor))
                    .with(Block::Fields(vec![("Roles".into(), names.join(", "))]))
            }
            QueryCommand::Open(priorities) => {
                let filter = OpenFilter {
                    priorities: priorities.clone(),
                    ..OpenFilter::default()
                };
                let (incidents, total) =
                    store::incidents::list_open(conn, &filter, LIST_LIMIT).await?;
                let which = if priorities.is_empty() {
                    String::new()
                } else {
                    format!(
                        " {}",
                        priorities
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join("/")
                    )
                };
                list_message(&format!("Open{which} incidents"), &incidents, total)
            }
            QueryCommand::Mine => {
                let assigned = OpenFilter {
                    assignee: Some(request.actor.clone()),
                    ..OpenFilter::default()
                };
                let reported = OpenFilter {
                    reporter: Some(request.actor.clone()),
                    ..OpenFilter::default()
                };
                let (assigned, assigned_total) =
                    store::incidents::list_open(conn, &assigned, LIST_LIMIT).await?;
                let (reported, reported_total) =
                    store::incidents::list_open(conn, &reported, LIST_LIMIT).await?;
                let mut message = list_message("Assigned to you", &assigned, assigned_total);
                message
                    .blocks
                    .extend(list_message("Reported by you", &reported, reported_total).blocks);
                message
            }
        };
        Ok(Reply::answer(message))
    }
}

/// A reply as remembered for redeliveries: who saw it, its blocks, its ticket.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredReply {
    ephemeral: bool,
    message: Message,
    ticket: Option<TicketRef>,
}

fn store_reply(reply: &Reply) -> String {
    let stored = StoredReply {
        ephemeral: reply.visibility == crate::commands::reply::Visibility::Ephemeral,
        message: reply.message.clone(),
        ticket: reply.ticket,
    };
    serde_json::to_string(&stored).unwrap_or_else(|_| reply.message.plain_text())
}

/// The first delivery's reply, as it was (older rows hold plain text).
fn stored_reply(stored: &str) -> Reply {
    match serde_json::from_str::<StoredReply>(stored) {
        Ok(stored) => {
            let reply = Reply::done(stored.message);
            let reply = if stored.ephemeral {
                reply.privately()
            } else {
                reply
            };
            match stored.ticket {
                Some(ticket) => reply.about(ticket),
                None => reply,
            }
        }
        Err(_) => Reply::done(Message::text(stored)),
    }
}

/// The platforms [`delivers_to`] holds for.
const CARD_PLATFORMS: [Platform; 2] = [Platform::Slack, Platform::Discord];

/// Whether the bot owes `platform` cards and surveys. Every process writes
/// them to the outbox, whether or not it runs that platform's adapter: a
/// change made with `itsm-bot say` still reaches the Slack card.
fn delivers_to(platform: Platform) -> bool {
    matches!(platform, Platform::Slack | Platform::Discord)
}

fn no_such(reference: TicketRef) -> Refusal {
    Refusal::new(format!("There is no {reference}.")).hint("`/itsm open` lists the open incidents.")
}

fn list_message(
    title: &str,
    incidents: &[crate::domain::incident::Incident],
    total: i64,
) -> Message {
    if incidents.is_empty() {
        return Message::text(format!("{title}: none."));
    }
    let mut items: Vec<String> = incidents.iter().map(show::incident_line).collect();
    let shown = incidents.len() as i64;
    if total > shown {
        items.push(format!("… and {} more", total - shown));
    }
    Message::default().with(Block::List {
        title: Some(format!("{title} ({total})")),
        items,
    })
}

//! The executor: the [`Engine`] and its pipeline. A chat line is parsed
//! into a [`Command`], run against the domain rules and the store in one
//! transaction (with the permission checks every handler shares), and
//! answered with a [`Reply`]; a redelivered event gets its first reply again.
//!
//! The handlers live in files of their own: incidents in `incident.rs`, the
//! `/itsm` queries in `queries.rs`, problems, changes, postmortems, alerts,
//! services, roles, rules and runbooks in theirs.

use std::sync::Arc;

use sqlx::PgConnection;
use tokio::sync::Notify;

use super::command::{Command, IncidentCommand};
use super::parse::{parse_line, ParseContext};
use super::refusal::Refusal;
use super::reply::{Message, Outcome, Reply};
use crate::clock::Clock;
use crate::commands::Inbound;
use crate::config::Config;
use crate::domain::incident::{IncidentAction, LifecycleRules};
use crate::domain::roles::RoleSet;
use crate::domain::{Platform, Role, RoleBook, TicketRef, UserId};
use crate::store::inbound::Handled;
use crate::store::{self, Store, StoreError};

pub mod alerts;
mod change;
mod incident;
pub mod kb;
mod people;
pub mod postmortem;
mod problem;
mod queries;
mod request;
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
    /// The zone the person's platform profile names (Slack's `tz`), if the
    /// adapter looked it up: their default for typed times.
    pub time_zone: Option<chrono_tz::Tz>,
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
            time_zone: None,
        }
    }

    fn from_inbound(inbound: &Inbound) -> Self {
        Request {
            actor: inbound.user.clone(),
            channel: inbound.channel.clone(),
            thread: inbound.thread.clone(),
            message: inbound.message.clone(),
            event_id: inbound.event_id.clone(),
            time_zone: None,
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

/// The refusal for an incident that does not exist; every practice that
/// links to incidents answers with it.
pub(super) fn no_such(reference: TicketRef) -> Refusal {
    Refusal::new(format!("There is no {reference}.")).hint("`/itsm open` lists the open incidents.")
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

    /// The team's time zone (`[locale] time_zone`): the zone every time in
    /// a message falls back to where a platform cannot show each reader
    /// their own.
    pub fn zone(&self) -> chrono_tz::Tz {
        self.config.locale.zone()
    }

    /// `at` for a reply or a notice: a stamp each platform shows in its
    /// reader's zone (see [`crate::domain::moment`]).
    pub(super) fn stamp(&self, at: chrono::DateTime<chrono::Utc>) -> String {
        crate::domain::moment::stamp(at, self.zone())
    }

    /// `at` for text that is stored (timeline entries): in the team's zone.
    pub(super) fn plain_time(&self, at: chrono::DateTime<chrono::Utc>) -> String {
        crate::domain::moment::plain(at, self.zone())
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
        if let Command::OpenIncident(report) = command {
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
            Command::OpenIncident(report) => self
                .report_incident(conn, request, report)
                .await
                .map(|(reply, _)| reply),
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
            Command::Incident(reference, IncidentCommand::AcceptSuggestion) => {
                self.accept_suggestion(conn, request, reference).await
            }
            Command::Incident(reference, IncidentCommand::DuplicateOf(target)) => {
                self.mark_duplicate(conn, request, reference, target).await
            }
            Command::DraftArticle(title) => self.draft_article(conn, request, title).await,
            Command::Article(reference, command) => self.work_article(conn, request, reference, command).await,
            Command::ArticleFrom(source) => self.article_from(conn, request, source).await,
            Command::SearchArticles(words) => self.search_articles(conn, request, words.as_deref()).await,
            Command::Search(words) => self.search_everything(conn, request, &words).await,
            Command::RequestCatalog => Ok(self.request_catalog()),
            Command::OpenRequest(intake) => self.open_request(conn, request, intake).await,
            Command::Request(reference, command) => self.work_request(conn, request, reference, command).await,
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
        let suggested = self.suggest(conn, &incident).await?;
        Ok(self.reported_reply(
            &incident,
            &clocks,
            None,
            &suggested,
            rules::Fired::default(),
        ))
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

//! Incident handling in the engine: opening an incident from a new-incident
//! request (`/incident <what is broken> …`), showing, rating and acting on
//! incidents (ack, assign, priority, hold, resolve, …), and keeping their SLA
//! state and chat cards in step with every change.

use sqlx::PgConnection;

use super::{delivers_to, no_such, rules, store_reply, Engine, ExecError, Request, CARD_PLATFORMS};
use super::{postmortem, problem, services};
use crate::commands::command::IncidentIntake;
use crate::commands::refusal::Refusal;
use crate::commands::reply::{Block, Message, Outcome, Reply};
use crate::commands::view;
use crate::domain::automation::Trigger;
use crate::domain::incident::{Incident, IncidentAction, NewIncident, Origin};
use crate::domain::timeline::{EventAction, NewEvent};

/// `show` lists this many of an incident's alerts; the API has them all.
const ALERTS_IN_SHOW: i64 = 50;
use crate::domain::{Platform, Role, TicketRef, UserId};
use crate::store::opening::{Opened, Opening};
use crate::store::outbox::OutboxKind;
use crate::store::{self, StoreError};

/// The rule events a change from `before` to `after` raises: a new
/// priority, a new status.
pub(super) fn incident_change_facts(
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

impl Engine {
    /// Checks that `actor` holds `role` for `doing`, then locks incident
    /// `reference` until the transaction ends, refusing an unknown one.
    pub(super) async fn lock_incident_for(
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

    /// Reports an incident. Opening it is one statement, run without a
    /// transaction around it unless something else must commit with it:
    /// paging the on-call person, or automation rules on new incidents.
    pub(super) async fn report(
        &self,
        request: &Request,
        report: IncidentIntake,
    ) -> Result<Reply, ExecError> {
        if self.opens_alone(&report) {
            let mut conn = self.store.acquire().await?;
            let (reply, cards_due) = self.report_incident(&mut conn, request, report).await?;
            // A card waiting for its storm's next fold is not due: waking
            // the outbox for it would cost a claim that finds nothing.
            if cards_due {
                self.outbox_signal.notify_waiters();
            }
            return Ok(reply);
        }
        let mut tx = self.store.begin().await?;
        let (reply, _) = self.report_incident(&mut tx, request, report).await?;
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
    fn opens_alone(&self, report: &IncidentIntake) -> bool {
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
        report: &IncidentIntake,
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

    /// Opens the incident `report` asks for and builds the reply; says too
    /// whether the opening queued a card that is due now.
    pub(super) async fn report_incident(
        &self,
        conn: &mut PgConnection,
        request: &Request,
        report: IncidentIntake,
    ) -> Result<(Reply, bool), ExecError> {
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
        let checkpoints = policy.next_checkpoints(&unnumbered, &[]);
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
            // Known errors are found with the articles after opening
            // (`suggest`): with the synonyms, and left out where their
            // article is published.
            known_errors: None,
        };
        // The suggestions need nothing the opening writes: they are read
        // beside it on a second connection when one is idle, so the reply
        // waits for the longer of the two rather than for both (BENCHMARKS
        // run 10). Inside a transaction they are read after, on its
        // connection. Read beside it, they may or may not see the new
        // ticket committed; its id is drawn first so they leave it out
        // either way, and the newest incidents they weigh are the same
        // others whichever way the race goes.
        let in_transaction = sqlx::Connection::is_in_transaction(conn);
        let spare = if in_transaction {
            None
        } else {
            self.store.try_acquire()
        };
        let (opened, early) = match spare {
            Some(mut spare) => {
                let id = store::opening::reserve_ticket_id(conn).await?;
                let reading = new.opened(id, 0, now);
                let (opened, suggested) = tokio::join!(
                    store::opening::open(conn, &opening, Some(id)),
                    self.suggest(&mut spare, &reading),
                );
                (opened, Some(suggested))
            }
            None => (store::opening::open(conn, &opening, None).await, None),
        };
        let (id, number, cards_due) = match opened {
            Ok(Opened::New {
                id,
                number,
                cards_due,
                ..
            }) => (id, number, cards_due),
            Ok(Opened::AlreadyHandled) => {
                return Ok((self.replay_delivery(conn, request).await?, false))
            }
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
        // Suggestions are a courtesy. When the incident opened alone, it is
        // committed by now: if their reads failed, the report stands and is
        // answered as done, without them. Inside a transaction a failure
        // must fail the command instead (the transaction is spoiled, and
        // PostgreSQL answers a COMMIT of a spoiled transaction by rolling it
        // back).
        //
        // When the reads beside it failed, they are read again here: the
        // idle connection was not checked before it was taken (a database
        // restart leaves idle ones broken), and this one has just worked.
        let early = early.and_then(|suggested| {
            suggested
                .inspect_err(|err| tracing::debug!(error = %err, "suggestions read beside the opening failed; reading them again"))
                .ok()
        });
        let suggested = match early {
            Some(suggested) => Ok(suggested),
            None => self.suggest(conn, &incident).await,
        };
        let suggested = match suggested {
            Ok(suggested) => suggested,
            Err(err) if in_transaction => return Err(err.into()),
            Err(err) => {
                tracing::warn!(error = %err, incident = %incident.reference(), "suggestions for a new report failed");
                super::kb::Suggested::default()
            }
        };
        Ok((
            self.reported_reply(&incident, &clocks, paged.as_ref(), &suggested, fired),
            cards_due,
        ))
    }

    /// The reply to a report: what was opened, its priority and SLA, whom it
    /// paged, the known errors it may be, what the rules did.
    pub(super) fn reported_reply(
        &self,
        incident: &Incident,
        clocks: &[crate::domain::sla::ClockView],
        paged: Option<&UserId>,
        suggested: &super::kb::Suggested,
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
            .with(view::incident::incident_fields(incident))
            .with(Block::Text(view::incident::due_line(clocks, self.zone())))
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
        // Published articles, then known errors (MAX_SUGGESTIONS of them
        // together, as `suggest` found them), then open incidents that look
        // alike.
        let mut suggestion_blocks = self.suggestion_blocks(incident.reference(), suggested);
        let alike_blocks = suggestion_blocks.split_off(suggested.articles.len());
        message.blocks.extend(suggestion_blocks);
        message.blocks.extend(problem::known_error_blocks(
            incident.reference(),
            &suggested.known_errors,
        ));
        message.blocks.extend(alike_blocks);
        let reply = fired.annotate(Reply::done(message).about(incident.reference()));
        if delivers_to(incident.origin.platform) {
            reply.privately()
        } else {
            reply
        }
    }

    /// Brings the incident's SLA state up to date after a change: pauses
    /// for holds and the time between a resolve and a reopen, and each
    /// clock's row: its outcome and the checkpoint the sweep posts next.
    pub(super) async fn sync_sla(
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
        let clocks = policy.clocks(incident, &pauses, now);
        store::sla::record_clocks(conn, incident.id, &clocks, &checkpoints).await?;
        Ok(())
    }

    /// Queues an update of the incident's card on every platform that shows
    /// it (or should: the one it was reported on). True when any was queued.
    pub(super) async fn sync_cards(
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

    pub(super) async fn rate_incident(
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
                incident.reporter.display_name()
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
        self.record_rating(conn, incident.id, reference, score, &request.actor)
            .await
    }

    /// Records `actor`'s rating of ticket `ticket_id` once (a second one
    /// leaves the first standing) with its timeline event, and thanks them:
    /// incidents and service requests are rated the same way.
    pub(super) async fn record_rating(
        &self,
        conn: &mut PgConnection,
        ticket_id: i64,
        reference: TicketRef,
        score: u8,
        actor: &UserId,
    ) -> Result<Reply, ExecError> {
        let now = self.clock.now();
        let (standing, new) =
            store::satisfaction::record_once(conn, ticket_id, score, actor, now).await?;
        if !new {
            return Ok(Reply::answer(Message::text(format!(
                "You already rated {reference} {standing}/5; that score stands. Thank you!"
            )))
            .about(reference));
        }
        let event = NewEvent::new(EventAction::Rated).change(None, format!("{score}/5"));
        store::timeline::append(conn, ticket_id, actor, now, &[event]).await?;
        Ok(Reply::answer(Message::text(format!(
            "Thank you! You rated {reference} {score}/5."
        )))
        .about(reference))
    }

    pub(super) async fn show_incident(
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
        let alerts = store::alerts::of_tickets(conn, &[incident.id], ALERTS_IN_SHOW).await?;
        Ok(Reply::answer(view::incident::incident_card(
            &incident,
            &events,
            &clocks,
            alerts.get(&incident.id),
            self.zone(),
        ))
        .about(reference))
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
            // No reply names them here (monitoring, rules): the notices do.
            self.tell_followers(conn, &applied.incident, &mut Message::default())
                .await?;
        }
        self.sync_sla(conn, &applied.incident, Some((incident, action)), now)
            .await?;
        self.sync_cards(conn, &applied.incident, now).await?;
        Ok(Ok(applied.incident))
    }

    pub(super) async fn act_on_incident(
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
        let mut told = Message::default();
        if matches!(action, IncidentAction::Resolve(_)) {
            self.tell_followers(conn, &applied.incident, &mut told)
                .await?;
        }
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
                incident.assignee.as_ref().map(|was| format!(" (was {})", was.display_name())).unwrap_or_default()
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
        let mut message = Message::text(text).with(Block::Context(view::incident::incident_line(
            after,
            self.zone(),
        )));
        if let Some(paged) = paged {
            message.blocks.push(Block::Mention {
                label: "Paged (on call):".into(),
                user: paged.to_string(),
            });
        }
        message.blocks.extend(told.blocks);
        let mut reply = Reply::done(message).about(reference);
        for facts in incident_change_facts(&incident, after, now) {
            reply = self.fire_rules(conn, &facts).await?.annotate(reply);
        }
        Ok(if carded { reply.privately() } else { reply })
    }
}

//! Automation rules in the engine: run in the transaction of the event that
//! triggers them, so a rule acts exactly once per event (the event and the
//! rule's effects commit together or not at all; outbound webhooks are
//! queued rows delivered with retry). Each rule runs in a savepoint: one
//! that fails is rolled back alone, written on the ticket's timeline and
//! counted, and the command that triggered it goes on.

use sqlx::{Connection, PgConnection};

use super::{Engine, ExecError};
use crate::commands::notice::{post, Posted};
use crate::commands::refusal::Refusal;
use crate::commands::reply::{Block, Message, Reply};
use crate::domain::automation::{EventFacts, Rule, RuleAction, Trigger};
use crate::domain::incident::{Incident, IncidentAction};
use crate::domain::problem::ProblemAction;
use crate::domain::timeline::{EventAction, NewEvent};
use crate::domain::{FreeText, Platform, Role, TicketKind, UserId};
use crate::store::automation::NewCall;
use crate::store::{self, StoreError};

/// What the rules did for one event.
#[derive(Debug, Default)]
pub struct Fired {
    /// Posts to shell channels (chat ones went to the outbox).
    pub posted: Vec<Posted>,
    /// One line per rule that ran: `vpn-p1: posted to network; webhook queued`.
    pub lines: Vec<String>,
}

impl Fired {
    /// Adds what the rules did to a command's reply, so the person who
    /// triggered them sees it.
    pub fn annotate(&self, reply: Reply) -> Reply {
        if self.lines.is_empty() {
            return reply;
        }
        let mut reply = reply;
        reply.message.blocks.push(Block::Context(format!(
            "⚙ Automation: {}",
            self.lines.join(" · ")
        )));
        reply
    }
}

/// The user a rule's changes are recorded under: `shell:rule.<name>`.
pub fn rule_actor(rule: &str) -> Result<UserId, crate::domain::user::UserIdError> {
    UserId::new(Platform::Shell, &format!("rule.{rule}"))
}

impl Engine {
    /// Runs every rule matching `facts` in the caller's transaction. Fails
    /// only when the database does; a rule's own failure is recorded.
    pub(crate) async fn fire_rules(
        &self,
        conn: &mut PgConnection,
        facts: &EventFacts,
    ) -> Result<Fired, StoreError> {
        let mut fired = Fired::default();
        let rules = &self.config.automation.compiled_rules;
        for rule in rules.iter().filter(|rule| rule.matches(facts)) {
            let actor =
                rule_actor(&rule.name).map_err(|err| StoreError::Corrupt(err.to_string()))?;
            let mut savepoint = conn.begin().await?;
            let outcome = self
                .run_rule(&mut savepoint, rule, facts, &actor, &mut fired.posted)
                .await;
            let now = self.clock.now();
            match outcome {
                Ok(done) => {
                    savepoint.commit().await?;
                    let summary = done.join("; ");
                    let event = NewEvent::new(EventAction::RuleFired)
                        .change(Some(facts.trigger.to_string()), rule.name.clone())
                        .body(summary.clone());
                    store::timeline::append(conn, facts.ticket_id, &actor, now, &[event]).await?;
                    self.metrics.rule_run(&rule.name, true);
                    fired.lines.push(format!("{}: {summary}", rule.name));
                }
                Err(ExecError::Store(err @ StoreError::Unavailable(_))) => return Err(err),
                Err(err) => {
                    savepoint.rollback().await?;
                    let why = match &err {
                        ExecError::Refused(refusal) => refusal.to_string(),
                        ExecError::Store(store) => store.to_string(),
                    };
                    tracing::warn!(rule = %rule.name, ticket = %facts.reference, error = %why, "automation rule failed");
                    let event = NewEvent::new(EventAction::RuleFailed)
                        .change(Some(facts.trigger.to_string()), rule.name.clone())
                        .body(why.clone());
                    store::timeline::append(conn, facts.ticket_id, &actor, now, &[event]).await?;
                    self.metrics.rule_run(&rule.name, false);
                    fired.lines.push(format!("{} failed: {why}", rule.name));
                }
            }
        }
        Ok(fired)
    }

    /// Does `rule`'s actions in order; the first that fails fails the rule.
    async fn run_rule(
        &self,
        conn: &mut PgConnection,
        rule: &Rule,
        facts: &EventFacts,
        actor: &UserId,
        posted: &mut Vec<Posted>,
    ) -> Result<Vec<String>, ExecError> {
        let context = facts.context(&rule.name);
        let render_failed =
            |what: &str, err: crate::domain::automation::template::TemplateError| {
                ExecError::from(Refusal::new(format!("the {what} template failed: {err}")))
            };
        let now = self.clock.now();
        let mut done = Vec::new();
        for action in &rule.actions {
            match action {
                RuleAction::Post { channel, text } => {
                    let text = match text {
                        Some(template) => template
                            .render(&context)
                            .map_err(|err| render_failed("post", err))?,
                        None => facts.headline(&rule.name),
                    };
                    posted.push(
                        post(
                            conn,
                            channel,
                            None,
                            &Message::text(text),
                            Some(facts.ticket_id),
                            now,
                        )
                        .await?,
                    );
                    done.push(format!("posted to {channel}"));
                }
                RuleAction::MentionOncall => {
                    let incident = self.rule_incident(conn, facts).await?;
                    done.push(self.mention_on_call(conn, &incident, rule, posted).await?);
                }
                RuleAction::Assign(user) => {
                    let incident = self.rule_incident(conn, facts).await?;
                    if incident.assignee.as_ref() == Some(user) {
                        done.push(format!("already assigned to {user}"));
                    } else {
                        self.rule_acts(
                            conn,
                            actor,
                            &incident,
                            IncidentAction::Assign(user.clone()),
                        )
                        .await?;
                        done.push(format!("assigned to {user}"));
                    }
                }
                RuleAction::SetPriority(priority) => {
                    let incident = self.rule_incident(conn, facts).await?;
                    if incident.priority == *priority {
                        done.push(format!("already {priority}"));
                    } else {
                        let after = self
                            .rule_acts(
                                conn,
                                actor,
                                &incident,
                                IncidentAction::SetPriority(*priority),
                            )
                            .await?;
                        // Raised to P1/P2: page as a person raising it would.
                        self.page_on_call(conn, &after, now).await?;
                        done.push(format!("priority {} → {priority}", incident.priority));
                    }
                }
                RuleAction::Note(template) => {
                    let text = template
                        .render(&context)
                        .map_err(|err| render_failed("note", err))?;
                    let text = FreeText::parse("note", &text)
                        .map_err(|err| Refusal::new(format!("the note is not usable: {err}")))?;
                    let event = NewEvent::new(EventAction::Note).body(text.as_str());
                    store::timeline::append(conn, facts.ticket_id, actor, now, &[event]).await?;
                    done.push("added a note".into());
                }
                RuleAction::LinkProblem(problem_ref) => {
                    let incident = self.rule_incident(conn, facts).await?;
                    let problem = store::problems::lock(conn, problem_ref.number)
                        .await?
                        .ok_or_else(|| Refusal::new(format!("there is no {problem_ref}")))?;
                    if store::problems::link(conn, problem.id, incident.id, actor, now).await? {
                        let applied = problem
                            .apply(&ProblemAction::Link(vec![incident.reference()]), now)
                            .map_err(Refusal::from)?;
                        store::problems::update(conn, &applied.problem).await?;
                        store::timeline::append(conn, problem.id, actor, now, &applied.events)
                            .await?;
                        let event = NewEvent::new(EventAction::Linked)
                            .change(None, problem_ref.to_string());
                        store::timeline::append(conn, incident.id, actor, now, &[event]).await?;
                        done.push(format!("linked to {problem_ref}"));
                    } else {
                        done.push(format!("already linked to {problem_ref}"));
                    }
                }
                RuleAction::Webhook {
                    url,
                    secret_env,
                    body,
                } => {
                    let body = match body {
                        Some(template) => template
                            .render_json(&context)
                            .map_err(|err| render_failed("webhook body", err))?,
                        None => context.to_string(),
                    };
                    let headers = std::collections::BTreeMap::new();
                    store::automation::enqueue(
                        conn,
                        &NewCall {
                            source: "rule",
                            name: &rule.name,
                            event: facts.trigger.as_str(),
                            ticket_id: facts.ticket_id,
                            run_id: None,
                            method: "POST",
                            url,
                            headers: &headers,
                            body: &body,
                            secret_env: secret_env.as_deref(),
                            max_attempts: self.config.outbox.max_attempts,
                        },
                        now,
                    )
                    .await?;
                    done.push(format!("webhook {url} queued"));
                }
            }
        }
        Ok(done)
    }

    /// The incident an incident-event rule acts on, locked.
    async fn rule_incident(
        &self,
        conn: &mut PgConnection,
        facts: &EventFacts,
    ) -> Result<Incident, ExecError> {
        if facts.reference.kind != TicketKind::Incident {
            return Err(Refusal::new(format!("{} is not an incident", facts.reference)).into());
        }
        Ok(store::incidents::lock(conn, facts.reference.number)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("{} vanished", facts.reference)))?)
    }

    async fn rule_acts(
        &self,
        conn: &mut PgConnection,
        actor: &UserId,
        incident: &Incident,
        action: IncidentAction,
    ) -> Result<Incident, ExecError> {
        Ok(self
            .act_unchecked(conn, actor, incident, &action)
            .await?
            .map_err(Refusal::from)?)
    }

    /// Mentions whoever is on call for the incident's service in its
    /// thread.
    async fn mention_on_call(
        &self,
        conn: &mut PgConnection,
        incident: &Incident,
        rule: &Rule,
        posted: &mut Vec<Posted>,
    ) -> Result<String, ExecError> {
        let now = self.clock.now();
        let service = incident.service.as_deref().ok_or_else(|| {
            Refusal::new(format!(
                "{} has no service, so no on-call",
                incident.reference()
            ))
        })?;
        let (_, rotation, _, member) = self
            .on_call_for(conn, service, now)
            .await?
            .ok_or_else(|| Refusal::new(format!("service {service} has no on-call rotation")))?;
        let message = Message::text(format!(
            "⚙ Rule {}: {} ({}) {} on {service}.",
            rule.name,
            incident.reference(),
            incident.priority,
            incident.title
        ))
        .with(Block::Mention {
            label: format!("On call for {rotation}:"),
            user: member.to_string(),
        });
        posted.push(self.post_to_thread(conn, incident, &message, now).await?);
        Ok(format!("mentioned {member} (on call)"))
    }

    /// `/itsm rules`: the rules, what they do, and how often they fired.
    pub(super) async fn list_rules(&self, conn: &mut PgConnection) -> Result<Reply, ExecError> {
        let rules = &self.config.automation.compiled_rules;
        if rules.is_empty() {
            return Ok(Reply::answer(Message::text(
                "No automation rules. Add `[[automation.rules]]` to the config file; `itsm-bot check-config` checks them.",
            )));
        }
        let counts = store::automation::rule_counts(conn).await?;
        let mut message =
            Message::default().with(Block::Header(format!("Automation rules ({})", rules.len())));
        for rule in rules {
            let count = counts.iter().find(|c| c.rule == rule.name);
            let record = match count {
                Some(c) => format!(
                    "fired {} time(s), {} failure(s), last {}",
                    c.fired,
                    c.failed,
                    c.last_at
                        .map(|at| self.stamp(at))
                        .unwrap_or_else(|| "never".into())
                ),
                None => "never fired".into(),
            };
            let actions: Vec<String> = rule.actions.iter().map(RuleAction::describe).collect();
            message.blocks.push(Block::Text(format!(
                "*{}* · on {} when {} → {} ({record})",
                rule.name,
                rule.on,
                rule.when.describe(),
                actions.join(", ")
            )));
        }
        Ok(Reply::answer(message))
    }

    /// Whether `actor` may see automation settings: engineers and managers.
    pub(super) async fn require_automation_reader(
        &self,
        conn: &mut PgConnection,
        actor: &UserId,
    ) -> Result<(), ExecError> {
        let roles = self.roles_of(conn, actor).await?;
        if roles.allows(Role::Engineer) || roles.allows(Role::Manager) || roles.allows(Role::Admin)
        {
            Ok(())
        } else {
            Err(Refusal::new(format!(
                "Only someone with the engineer, manager or admin role can read the automation settings; you ({actor}) have none of them."
            ))
            .into())
        }
    }
}

/// What a rule sees of an event on `incident` (as it is after the event);
/// `change` is the value before and after, for priority and status changes.
pub(crate) fn incident_facts(
    trigger: Trigger,
    incident: &Incident,
    change: Option<(String, String)>,
    at: chrono::DateTime<chrono::Utc>,
) -> EventFacts {
    let (from, to) = change.map_or((None, None), |(from, to)| (Some(from), Some(to)));
    EventFacts {
        trigger,
        ticket_id: incident.id,
        reference: incident.reference(),
        title: incident.title.clone(),
        description: incident.description.clone(),
        service: incident.service.clone(),
        priority: Some(incident.priority),
        status: incident.status.to_string(),
        from,
        to,
        labels: std::collections::BTreeMap::new(),
        detail: None,
        at,
    }
}

/// What a rule sees of an event on `change` (as it is after the event).
pub(crate) fn change_facts(
    trigger: Trigger,
    change: &crate::domain::change::Change,
    at: chrono::DateTime<chrono::Utc>,
) -> EventFacts {
    EventFacts {
        trigger,
        ticket_id: change.id,
        reference: change.reference(),
        title: change.title.clone(),
        description: change.description.clone(),
        service: change.service.clone(),
        priority: None,
        status: change.status.to_string(),
        from: None,
        to: None,
        labels: std::collections::BTreeMap::new(),
        detail: change.outcome.clone(),
        at,
    }
}

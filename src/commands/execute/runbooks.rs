//! Runbooks in the engine: `/itsm runbooks`, `/itsm run`, the approval that
//! releases a waiting run, and recording what the endpoint answered.
//!
//! A run is always on a ticket's timeline: the incident it was run for, or
//! else a standard change (`standard = "runbook:<name>"`), so runs outside
//! incidents appear in the change schedule. A runbook that needs approval
//! always gets such a change, submitted to the CAB; approving it queues the
//! call. The call itself is a row in `outbound_calls`, sent once (a
//! provisioning job is not safe to repeat) by the outbound worker.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use sqlx::PgConnection;

use super::{Engine, ExecError, Request};
use crate::commands::notice::{post, Posted};
use crate::commands::refusal::{sentence, Refusal};
use crate::commands::reply::{Block, Message, Reply};
use crate::config::runbook_context;
use crate::domain::automation::Runbook;
use crate::domain::change::{
    ApplyContext, Change, ChangeAction, ChangeStatus, ChangeType, NewChange, Window, RUNBOOK_PREFIX,
};
use crate::domain::channel::ChannelRef;
use crate::domain::incident::{Incident, Origin};
use crate::domain::service::nearest_names;
use crate::domain::timeline::{EventAction, NewEvent};
use crate::domain::{FreeText, Platform, TicketRef, UserId};
use crate::store::automation::{Call, CallOutcome, NewCall, NewRun, Run};
use crate::store::{self, StoreError};

/// How long the change window of a runbook's run lasts.
const RUN_WINDOW: i64 = 60;

/// The user a runbook's results are recorded under: `shell:runbook.<name>`.
pub fn runbook_actor(runbook: &str) -> Result<UserId, crate::domain::user::UserIdError> {
    UserId::new(Platform::Shell, &format!("runbook.{runbook}"))
}

fn describe_params(params: &BTreeMap<String, serde_json::Value>) -> String {
    if params.is_empty() {
        return "no parameters".into();
    }
    params
        .iter()
        .map(|(name, value)| match value {
            serde_json::Value::String(text) => format!("{name}={text}"),
            other => format!("{name}={other}"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// How a finished call reads on a timeline and in chat.
pub struct CallReport {
    pub ok: bool,
    pub status: Option<i32>,
    pub error: Option<String>,
    pub link: Option<String>,
    /// When it will be tried again, if it will.
    pub retry_at: Option<DateTime<Utc>>,
}

impl Engine {
    /// `/itsm runbooks`: what can be run, by whom, with which parameters.
    pub(super) async fn list_runbooks(
        &self,
        conn: &mut PgConnection,
        request: &Request,
    ) -> Result<Reply, ExecError> {
        self.require_automation_reader(conn, &request.actor).await?;
        let runbooks = &self.config.automation.compiled_runbooks;
        if runbooks.is_empty() {
            return Ok(Reply::answer(Message::text(
                "No runbooks. Add `[[automation.runbooks]]` to the config file; `itsm-bot check-config` checks them.",
            )));
        }
        let mut message =
            Message::default().with(Block::Header(format!("Runbooks ({})", runbooks.len())));
        for runbook in runbooks {
            message.blocks.push(Block::Text(format!(
                "*{}* · {} · role {}{} · `/itsm run {} {}`",
                runbook.name,
                if runbook.description.is_empty() {
                    "(no description)"
                } else {
                    &runbook.description
                },
                runbook.role,
                if runbook.approval {
                    " · needs CAB approval"
                } else {
                    ""
                },
                runbook.name,
                runbook.usage()
            )));
        }
        Ok(Reply::answer(message))
    }

    /// `/itsm run <runbook> [INC-n] key=value…`.
    pub(super) async fn run_runbook(
        &self,
        conn: &mut PgConnection,
        request: &Request,
        name: &str,
        incident: Option<TicketRef>,
        args: &[String],
    ) -> Result<Reply, ExecError> {
        let runbook = self.config.automation.runbook(name).ok_or_else(|| {
            let names: Vec<&str> = self
                .config
                .automation
                .compiled_runbooks
                .iter()
                .map(|r| r.name.as_str())
                .collect();
            let nearest = nearest_names(name, names.iter().copied());
            let hint = match (nearest.first(), names.is_empty()) {
                (Some(near), _) => format!("Did you mean `{near}`? `/itsm runbooks` lists them."),
                (None, true) => "No runbooks are configured.".to_string(),
                (None, false) => format!("Runbooks: {}.", names.join(", ")),
            };
            Refusal::new(format!("There is no runbook `{name}`.")).hint(hint)
        })?;
        self.require(
            conn,
            &request.actor,
            runbook.role,
            &format!("run the `{}` runbook", runbook.name),
        )
        .await?;
        let params = runbook.bind(args).map_err(|err| {
            Refusal::new(sentence(&err.to_string())).hint(format!(
                "Usage: `/itsm run {} [INC-n] {}`",
                runbook.name,
                runbook.usage()
            ))
        })?;
        let incident = match incident {
            Some(reference) => Some(
                store::incidents::get(conn, reference.number)
                    .await?
                    .ok_or_else(|| super::no_such(reference))?,
            ),
            None => None,
        };
        let incident_ref = incident.as_ref().map(|i| i.reference().to_string());
        let context = runbook_context(
            runbook,
            &params,
            incident_ref.as_deref(),
            &request.actor.to_string(),
        );
        let body = match &runbook.request.body {
            Some(template) => template.render_json(&context).map_err(|err| {
                Refusal::new(format!(
                    "The `{}` runbook's body template failed: {err}.",
                    runbook.name
                ))
            })?,
            None => serde_json::to_string(&context).unwrap_or_default(),
        };
        let now = self.clock.now();
        let summary = format!(
            "{} {} with {}",
            runbook.request.method.as_str(),
            runbook.request.url,
            describe_params(&params)
        );
        let change = if runbook.approval || incident.is_none() {
            Some(
                self.runbook_change(conn, request, runbook, &params, incident.as_ref(), now)
                    .await?,
            )
        } else {
            None
        };
        let status = if runbook.approval {
            "awaiting_approval"
        } else {
            "queued"
        };
        let run_id = store::automation::insert_run(
            conn,
            &NewRun {
                runbook: &runbook.name,
                params: &params,
                requested_by: &request.actor.to_string(),
                incident_id: incident.as_ref().map(|i| i.id),
                change_id: change.as_ref().map(|c| c.id),
                request_id: None,
                platform: request.actor.platform().as_str(),
                channel: &request.channel,
                thread: request.thread.as_deref(),
                status,
            },
            now,
        )
        .await?;
        let requested = NewEvent::new(EventAction::RunbookRequested)
            .change(None, runbook.name.clone())
            .body(summary.clone());
        for ticket in [
            incident.as_ref().map(|i| i.id),
            change.as_ref().map(|c| c.id),
        ]
        .into_iter()
        .flatten()
        {
            store::timeline::append(
                conn,
                ticket,
                &request.actor,
                now,
                std::slice::from_ref(&requested),
            )
            .await?;
        }
        let on = match (&incident, &change) {
            (Some(incident), _) => incident.reference().to_string(),
            (None, Some(change)) => change.reference().to_string(),
            (None, None) => String::new(),
        };
        if runbook.approval {
            let change = change
                .as_ref()
                .map(|c| c.reference().to_string())
                .unwrap_or_default();
            let holders = self.holders_of(conn, crate::domain::Role::Cab).await?;
            let who = if holders.is_empty() {
                "no one has the cab role yet".to_string()
            } else {
                holders.join(", ")
            };
            let message = Message::text(format!(
                "`{}` needs approval: {change} (a standard change) awaits one approval from cab ({who}). It runs when approved.",
                runbook.name
            ))
            .with(Block::Context(summary));
            return Ok(Reply::done(message));
        }
        let ticket_id = incident
            .as_ref()
            .map(|i| i.id)
            .or(change.as_ref().map(|c| c.id))
            .ok_or_else(|| StoreError::Corrupt("a run without a ticket".into()))?;
        self.queue_runbook_call(conn, runbook, run_id, ticket_id, &body, now)
            .await?;
        let message = Message::text(format!(
            "Running `{}` (run {run_id}) on {on}: {summary}. The answer goes on {on}'s timeline and here.",
            runbook.name
        ));
        Ok(Reply::done(message))
    }

    pub(super) async fn queue_runbook_call(
        &self,
        conn: &mut PgConnection,
        runbook: &Runbook,
        run_id: i64,
        ticket_id: i64,
        body: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let event = format!("runbook.{}", runbook.name);
        store::automation::enqueue(
            conn,
            &NewCall {
                source: "runbook",
                name: &runbook.name,
                event: &event,
                ticket_id,
                run_id: Some(run_id),
                method: runbook.request.method.as_str(),
                url: &runbook.request.url,
                headers: &runbook.request.headers,
                body,
                secret_env: runbook.request.secret_env.as_deref(),
                // Provisioning is not safe to repeat: one attempt, and the
                // result (or the failure) is reported.
                max_attempts: 1,
            },
            now,
        )
        .await?;
        self.outbox_signal.notify_waiters();
        Ok(())
    }

    /// The standard change that records a run outside an incident or asks
    /// the CAB for approval: submitted (awaiting approval) or approved.
    async fn runbook_change(
        &self,
        conn: &mut PgConnection,
        request: &Request,
        runbook: &Runbook,
        params: &BTreeMap<String, serde_json::Value>,
        incident: Option<&Incident>,
        now: DateTime<Utc>,
    ) -> Result<Change, ExecError> {
        let settings = &self.config.change;
        let title = format!("Run {} ({})", runbook.name, describe_params(params));
        let title: String = title
            .chars()
            .take(crate::domain::text::MAX_TITLE_CHARS)
            .collect();
        let service = incident.and_then(|i| i.service.clone());
        let service_id = match &service {
            Some(name) => store::services::find_id(conn, name).await?,
            None => None,
        };
        let new = NewChange {
            title,
            description: runbook.description.clone(),
            change_type: ChangeType::Standard,
            standard: Some(format!("{RUNBOOK_PREFIX}{}", runbook.name)),
            service,
            requester: request.actor.clone(),
            plan: Some(format!(
                "{} {} with {}",
                runbook.request.method.as_str(),
                runbook.request.url,
                describe_params(params)
            )),
            test_plan: Some("The endpoint answers with success (2xx).".into()),
            rollback_plan: Some(format!(
                "Undo through the system behind the `{}` runbook.",
                runbook.name
            )),
            impact: settings.default_impact,
            likelihood: settings.default_likelihood,
            risk: crate::domain::change::Risk::Low,
            origin: Origin {
                platform: request.actor.platform(),
                channel: request.channel.clone(),
                thread: request.thread.clone(),
                message: None,
            },
        };
        let draft = store::changes::insert(conn, &new, service_id, now).await?;
        let window = Window::new(now, Duration::minutes(RUN_WINDOW))
            .map_err(|err| Refusal::new(sentence(&err.to_string())))?;
        let mut change = draft.clone();
        change.window = Some(window);
        change.status = ChangeStatus::Submitted;
        change.submitted_at = Some(now);
        let mut events = vec![
            NewEvent::new(EventAction::Created)
                .body(format!("standard change · low risk · {}", change.title)),
            NewEvent::new(EventAction::Scheduled)
                .change(None, window.describe(self.config.change.rules.time_zone)),
            NewEvent::new(EventAction::Submitted).change(
                Some(ChangeStatus::Draft.to_string()),
                ChangeStatus::Submitted.to_string(),
            ),
        ];
        if !runbook.approval {
            change.status = ChangeStatus::Approved;
            change.approved_at = Some(now);
            events.push(
                NewEvent::new(EventAction::Approved)
                    .change(
                        Some(ChangeStatus::Submitted.to_string()),
                        ChangeStatus::Approved.to_string(),
                    )
                    .body(format!(
                        "pre-approved standard change (runbook {})",
                        runbook.name
                    )),
            );
        }
        store::changes::update(conn, &draft, &change).await?;
        store::timeline::append(conn, change.id, &request.actor, now, &events).await?;
        if runbook.approval {
            // The CAB sees it with Approve / Reject, like any change.
            self.sync_change_cards(conn, &change, now).await?;
        }
        Ok(change)
    }

    /// After a decision on a runbook's change: approval queues the call,
    /// rejection cancels the run. Returns a line for the reply.
    pub(super) async fn runbook_change_decided(
        &self,
        conn: &mut PgConnection,
        before: &Change,
        after: &Change,
    ) -> Result<Option<String>, ExecError> {
        if before.status != ChangeStatus::Submitted || before.status == after.status {
            return Ok(None);
        }
        let Some(run) = store::automation::run_of_change(conn, after.id).await? else {
            return Ok(None);
        };
        if run.status != "awaiting_approval" {
            return Ok(None);
        }
        let now = self.clock.now();
        match after.status {
            ChangeStatus::Approved => {
                let Some(runbook) = self.config.automation.runbook(&run.runbook) else {
                    store::automation::set_run_status(conn, run.id, "failed", None, None, now)
                        .await?;
                    return Ok(Some(format!(
                        "The `{}` runbook is no longer configured; nothing was run.",
                        run.runbook
                    )));
                };
                let incident_ref = match run.incident_id {
                    Some(id) => store::incidents::get_by_id(conn, id)
                        .await?
                        .map(|i| i.reference().to_string()),
                    None => None,
                };
                let context = runbook_context(
                    runbook,
                    &run.params.0,
                    incident_ref.as_deref(),
                    &run.requested_by,
                );
                let body = match &runbook.request.body {
                    Some(template) => template.render_json(&context).map_err(|err| {
                        Refusal::new(format!(
                            "The `{}` runbook's body template failed: {err}.",
                            runbook.name
                        ))
                    })?,
                    None => serde_json::to_string(&context).unwrap_or_default(),
                };
                store::automation::set_run_status(conn, run.id, "queued", None, None, now).await?;
                self.queue_runbook_call(conn, runbook, run.id, after.id, &body, now)
                    .await?;
                Ok(Some(format!(
                    "Runbook `{}` queued: it runs now.",
                    run.runbook
                )))
            }
            ChangeStatus::Rejected | ChangeStatus::Cancelled => {
                store::automation::set_run_status(conn, run.id, "rejected", None, None, now)
                    .await?;
                Ok(Some(format!("Runbook `{}` will not run.", run.runbook)))
            }
            _ => Ok(None),
        }
    }

    /// Records how an attempt at `call` ended, in one transaction: the row,
    /// the ticket's timeline, the metrics, and for a runbook its run, its
    /// change and a post where it was asked for. Returns shell posts.
    pub async fn record_call(
        &self,
        call: &Call,
        report: &CallReport,
    ) -> Result<Vec<Posted>, StoreError> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let outcome = if report.ok {
            CallOutcome::Sent {
                status: report.status.unwrap_or(200),
            }
        } else {
            CallOutcome::Failed {
                status: report.status,
                error: report.error.clone().unwrap_or_else(|| "failed".into()),
                retry_at: report.retry_at,
            }
        };
        store::automation::record(&mut tx, call.id, &outcome, now).await?;
        let metric = match (report.ok, report.retry_at) {
            (true, _) => "ok",
            (false, Some(_)) => "retry",
            (false, None) => "failed",
        };
        self.metrics.outbound_call(&call.source, metric);
        let answer = match (report.status, &report.error) {
            (Some(status), None) => format!("answered {status}"),
            (Some(status), Some(error)) => format!("answered {status} ({error})"),
            (None, Some(error)) => error.clone(),
            (None, None) => "no answer".into(),
        };
        let mut line = format!("{} {} {answer}", call.method, call.url);
        if let Some(link) = &report.link {
            line.push_str(&format!(" · {link}"));
        }
        if !report.ok {
            match report.retry_at {
                Some(at) => line.push_str(&format!(
                    "; attempt {} of {}, trying again at {}",
                    call.attempts + 1,
                    call.max_attempts,
                    at.with_timezone(&self.zone()).format("%H:%M:%S %Z")
                )),
                None => line.push_str(&format!("; gave up after {} attempt(s)", call.attempts + 1)),
            }
        }
        let (actor, subject) = if call.source == "runbook" {
            (runbook_actor(&call.name), format!("runbook {}", call.name))
        } else {
            (
                super::rules::rule_actor(&call.name),
                format!("rule {}", call.name),
            )
        };
        let actor = actor.map_err(|err| StoreError::Corrupt(err.to_string()))?;
        let action = if report.ok {
            EventAction::CallSucceeded
        } else {
            EventAction::CallFailed
        };
        let event = NewEvent::new(action)
            .change(None, subject.clone())
            .body(line.clone());
        let mut posted = Vec::new();
        let run = match call.run_id {
            Some(id) => store::automation::run(&mut tx, id).await?,
            None => None,
        };
        let mut tickets = vec![call.ticket_id];
        if let Some(run) = &run {
            tickets.extend(
                run.incident_id
                    .iter()
                    .chain(run.change_id.iter())
                    .chain(run.request_id.iter()),
            );
        }
        tickets.sort_unstable();
        tickets.dedup();
        for ticket in &tickets {
            store::timeline::append(&mut tx, *ticket, &actor, now, std::slice::from_ref(&event))
                .await?;
        }
        if !report.ok && report.retry_at.is_none() && call.source == "rule" {
            // A rule whose webhook gave up counts as a failed run of the rule.
            let failed = NewEvent::new(EventAction::RuleFailed)
                .change(Some(call.event.clone()), call.name.clone())
                .body(format!("webhook {line}"));
            store::timeline::append(&mut tx, call.ticket_id, &actor, now, &[failed]).await?;
            self.metrics.rule_run(&call.name, false);
        }
        if let Some(run) = run.filter(|_| report.ok || report.retry_at.is_none()) {
            posted.extend(
                self.finish_run(&mut tx, &run, report, &actor, &subject, &line, now)
                    .await?,
            );
        }
        tx.commit().await?;
        self.outbox_signal.notify_waiters();
        Ok(posted)
    }

    /// A run's call has finished: the run, its change and a post where it
    /// was asked for.
    #[allow(clippy::too_many_arguments)]
    async fn finish_run(
        &self,
        conn: &mut PgConnection,
        run: &Run,
        report: &CallReport,
        actor: &UserId,
        subject: &str,
        line: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Posted>, StoreError> {
        let status = if report.ok { "succeeded" } else { "failed" };
        store::automation::set_run_status(
            conn,
            run.id,
            status,
            report.status,
            report.link.as_deref(),
            now,
        )
        .await?;
        if let Some(change_id) = run.change_id {
            self.finish_run_change(conn, change_id, report.ok, line, actor, now)
                .await?;
        }
        if let Some(request_id) = run.request_id {
            self.finish_run_request(conn, request_id, &run.runbook, report.ok, line, actor, now)
                .await?;
        }
        let Ok(platform) = run.platform.parse::<Platform>() else {
            return Ok(Vec::new());
        };
        let channel = ChannelRef {
            platform,
            channel: run.channel.clone(),
        };
        let icon = if report.ok { "✅" } else { "❌" };
        let message = Message::text(format!(
            "{icon} {subject} (run {}, asked by {}): {line}",
            run.id, run.requested_by
        ));
        Ok(vec![
            post(
                conn,
                &channel,
                run.thread.as_deref(),
                &message,
                Some(
                    run.incident_id
                        .or(run.change_id)
                        .or(run.request_id)
                        .unwrap_or_default(),
                ),
                now,
            )
            .await?,
        ])
    }

    /// Moves a run's change through start to completed or failed, as the
    /// runbook, through the change lifecycle's own rules.
    async fn finish_run_change(
        &self,
        conn: &mut PgConnection,
        change_id: i64,
        ok: bool,
        line: &str,
        actor: &UserId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let Some(number) = store::changes::get_by_id(conn, change_id)
            .await?
            .map(|c| c.number)
        else {
            return Ok(());
        };
        let Some(mut change) = store::changes::lock(conn, number).await? else {
            return Ok(());
        };
        let text = FreeText::parse("outcome", line)
            .or_else(|_| FreeText::parse("outcome", "the runbook's call finished"))
            .map_err(|err| StoreError::Corrupt(err.to_string()))?;
        let finish = if ok {
            ChangeAction::Complete(Some(text))
        } else {
            ChangeAction::Fail(text)
        };
        let rules = &self.config.change.rules;
        for action in [ChangeAction::Start { confirmed: true }, finish] {
            let ctx = ApplyContext {
                actor,
                now,
                rules,
                overlapping: &[],
            };
            match change.apply(&action, &ctx) {
                Ok(applied) => {
                    store::changes::update(conn, &change, &applied.change).await?;
                    store::timeline::append(conn, change.id, actor, now, &applied.events).await?;
                    change = applied.change;
                }
                Err(err) => {
                    tracing::warn!(change = %change.reference(), error = %err, "runbook change could not move on");
                    break;
                }
            }
        }
        self.sync_change_cards(conn, &change, now).await?;
        Ok(())
    }
}

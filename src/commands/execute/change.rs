//! Change enablement in the engine: drafting, working and listing changes,
//! and asking the CAB.

use chrono::{Duration, TimeZone, Utc};
use sqlx::PgConnection;

use super::{delivers_to, rules, Engine, ExecError, Request, LIST_LIMIT};
use crate::commands::command::{ChangeCommand, ChangeDraft, ScheduleRange};
use crate::commands::refusal::{sentence, Refusal};
use crate::commands::reply::{Block, Message, Reply};
use crate::commands::view;
use crate::domain::automation::Trigger;
use crate::domain::change::{
    ApplyContext, Change, ChangeAction, ChangeStatus, ChangeType, NewChange, StartTime, Window,
};
use crate::domain::incident::Origin;
use crate::domain::timeline::{EventAction, NewEvent};
use crate::domain::{Role, TicketRef};
use crate::store::outbox::OutboxKind;
use crate::store::{self, StoreError};

fn no_such_change(reference: TicketRef) -> Refusal {
    Refusal::new(format!("There is no {reference}."))
        .hint("`/itsm changes` lists the scheduled changes.")
}

impl Engine {
    /// `/change <title> …`: a new draft.
    pub(super) async fn draft_change(
        &self,
        conn: &mut PgConnection,
        request: &Request,
        draft: ChangeDraft,
    ) -> Result<Reply, ExecError> {
        let change = self.create_change(conn, request, draft, None).await?;
        let reference = change.reference();
        let mut message = Message::default().with(Block::Header(format!(
            "{reference} drafted: {}",
            change.title
        )));
        message.blocks.extend(self.draft_details(&change));
        Ok(Reply::done(message).about(reference))
    }

    /// Drafts a change with its created event, requested by the actor, for
    /// whoever may draft changes: `/change <title>` and an action item
    /// raised as a change. `description` says where it came from, when the
    /// draft does not name a standard change that brings its own.
    pub(super) async fn create_change(
        &self,
        conn: &mut PgConnection,
        request: &Request,
        draft: ChangeDraft,
        description: Option<String>,
    ) -> Result<Change, ExecError> {
        self.require(conn, &request.actor, Role::Engineer, "draft a change")
            .await?;
        let settings = &self.config.change;
        let change_type = draft.change_type.unwrap_or(ChangeType::Normal);
        let entry = match (change_type, &draft.standard) {
            (ChangeType::Standard, Some(name)) => Some(
                settings
                    .standard(name)
                    .ok_or_else(|| unknown_standard(self, Some(name)))?,
            ),
            (ChangeType::Standard, None) => return Err(unknown_standard(self, None).into()),
            _ => None,
        };
        let service = draft
            .service
            .clone()
            .or_else(|| entry.and_then(|e| e.service.clone()));
        let service_id = match &service {
            Some(name) => Some(self.find_service(conn, name).await?),
            None => None,
        };
        let impact = draft.impact.unwrap_or(settings.default_impact);
        let likelihood = draft.likelihood.unwrap_or(settings.default_likelihood);
        let risk = draft
            .risk
            .or_else(|| entry.and_then(|e| e.risk))
            .unwrap_or_else(|| settings.rules.risk_matrix.risk(impact, likelihood));
        let new = NewChange {
            title: draft.title.to_string(),
            description: entry
                .map(|e| e.description.clone())
                .or(description)
                .unwrap_or_default(),
            change_type,
            standard: entry.map(|e| e.name.clone()),
            service,
            requester: request.actor.clone(),
            plan: entry.and_then(|e| e.plan.clone()),
            test_plan: entry.and_then(|e| e.test_plan.clone()),
            rollback_plan: entry.and_then(|e| e.rollback_plan.clone()),
            impact,
            likelihood,
            risk,
            origin: Origin {
                platform: request.actor.platform(),
                channel: request.channel.clone(),
                thread: request.thread.clone(),
                message: None,
            },
        };
        let now = self.clock.now();
        let change = store::changes::insert(conn, &new, service_id, now).await?;
        let created = NewEvent::new(EventAction::Created).body(format!(
            "{} change · {} risk · {}",
            change.change_type, change.risk, change.title
        ));
        store::timeline::append(conn, change.id, &request.actor, now, &[created]).await?;
        Ok(change)
    }

    /// What the reply to a new draft shows under its heading: its fields
    /// and what it needs next.
    pub(super) fn draft_details(&self, change: &Change) -> Vec<Block> {
        let settings = &self.config.change;
        let reference = change.reference();
        let missing = change.missing_for_submit();
        let next = if missing.is_empty() {
            format!("Next: `/change {reference} window <start> <duration>` if needed, then `/change {reference} submit`.")
        } else {
            format!(
                "Before `/change {reference} submit`, set: {}.",
                missing
                    .iter()
                    .map(|(_, command)| format!("`{command}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        vec![
            view::change::change_fields(change, &settings.rules),
            Block::Context(next),
        ]
    }

    /// `/change CHG-n …`.
    pub(super) async fn work_change(
        &self,
        conn: &mut PgConnection,
        request: &Request,
        reference: TicketRef,
        command: ChangeCommand,
    ) -> Result<Reply, ExecError> {
        match command {
            ChangeCommand::Show => {
                let change = store::changes::get(conn, reference.number)
                    .await?
                    .ok_or_else(|| no_such_change(reference))?;
                let events = store::timeline::list(conn, change.id).await?;
                Ok(Reply::answer(view::change::change_card(
                    &change,
                    &self.config.change.rules,
                    &events,
                ))
                .about(reference))
            }
            ChangeCommand::Act(action) => {
                self.act_on_change(conn, request, reference, action).await
            }
        }
    }

    async fn act_on_change(
        &self,
        conn: &mut PgConnection,
        request: &Request,
        reference: TicketRef,
        action: ChangeAction,
    ) -> Result<Reply, ExecError> {
        let change = store::changes::lock(conn, reference.number)
            .await?
            .ok_or_else(|| no_such_change(reference))?;
        let rules = &self.config.change.rules;
        match &action {
            ChangeAction::Note(_) => {}
            // The requester hears why they cannot decide, whatever their roles.
            decision
                if decision.is_decision()
                    && change.requester == request.actor
                    && change.status == ChangeStatus::Submitted => {}
            // Standard changes are pre-approved, except a runbook's that asks for approval.
            decision
                if decision.is_decision()
                    && (change.change_type != ChangeType::Standard
                        || change.runbook().is_some()) =>
            {
                let role = change.approver_role();
                let doing = format!("{} {} changes", decision.verb(), change.change_type);
                self.require(conn, &request.actor, role, &doing).await?;
            }
            other => {
                let doing = format!("`{}` a change", other.verb());
                self.require(conn, &request.actor, Role::Engineer, &doing)
                    .await?;
            }
        }
        // A start typed without an offset is read in the person's zone (the
        // one they set, else their profile's, else `change.time_zone`), so
        // the domain only ever sees an instant.
        let action = match action {
            ChangeAction::Schedule(start @ StartTime::Local(_), duration) => {
                let zone = self.typing_zone(conn, request, rules.time_zone).await?;
                let at = start
                    .resolve(zone)
                    .map_err(|err| Refusal::new(sentence(&err.to_string())))?;
                ChangeAction::Schedule(StartTime::Fixed(at), duration)
            }
            other => other,
        };
        let now = self.clock.now();
        let overlapping = self.overlapping(conn, &change, &action).await?;
        let ctx = ApplyContext {
            actor: &request.actor,
            now,
            rules,
            overlapping: &overlapping,
        };
        let applied = change
            .apply(&action, &ctx)
            .map_err(|err| Refusal::new(sentence(&err.to_string())))?;
        let after = &applied.change;
        store::changes::update(conn, &change, after).await?;
        store::timeline::append(conn, change.id, &request.actor, now, &applied.events).await?;
        let carded = self.sync_change_cards(conn, after, now).await?;
        let became = |status: ChangeStatus| change.status != status && after.status == status;
        let mut fired = Vec::new();
        if became(ChangeStatus::Approved) {
            let facts = rules::change_facts(Trigger::ChangeApproved, after, now);
            fired.push(self.fire_rules(conn, &facts).await?);
        }
        if became(ChangeStatus::Completed) {
            let facts = rules::change_facts(Trigger::ChangeCompleted, after, now);
            fired.push(self.fire_rules(conn, &facts).await?);
        }
        let runbook_line = if after.runbook().is_some() {
            self.runbook_change_decided(conn, &change, after).await?
        } else {
            None
        };
        let text = match &action {
            ChangeAction::Describe(_) => format!("{reference}: description set."),
            ChangeAction::Plan(kind, _) => format!("{reference}: {} set.", kind.noun()),
            ChangeAction::Schedule(..) => format!(
                "{reference}: window {}.",
                after
                    .window
                    .as_ref()
                    .map_or_else(String::new, |w| w.stamped(self.config.change.rules.time_zone))
            ),
            ChangeAction::Assess { .. } | ChangeAction::SetRisk(_) => {
                format!("{reference}: risk {}.", after.risk)
            }
            ChangeAction::Implementer(user) => format!("{reference} will be implemented by {user}."),
            ChangeAction::Note(_) => format!("Note added to {reference}."),
            ChangeAction::PlannedOutage => format!(
                "{reference} declares a planned outage: once approved, downtime of {} in its window does not count against availability.",
                after.service.as_deref().unwrap_or("its service")
            ),
            ChangeAction::Submit if after.status == ChangeStatus::Approved => format!(
                "{reference} submitted and approved: a standard change is pre-approved. `/change {reference} start` when the window opens."
            ),
            ChangeAction::Submit => {
                let role = after.approver_role();
                let holders = self.holders_of(conn, role).await?;
                let who = if holders.is_empty() {
                    format!("no one has the {role} role yet; an admin can grant it with `/itsm grant @user {role}`")
                } else {
                    holders.join(", ")
                };
                let asked = match &self.config.change.cab_channel {
                    Some(channel) => format!(" Asked in {channel}."),
                    None => String::new(),
                };
                format!(
                    "{reference} submitted for approval: it needs {} from {role} ({who}).{asked}",
                    plural(after.approvals_needed(rules), "approval")
                )
            }
            ChangeAction::Approve(_) if after.status == ChangeStatus::Approved => format!(
                "{reference} approved ({}). `/change {reference} start` when the window opens.",
                view::change::approvals_summary(after, rules)
            ),
            ChangeAction::Approve(_) => format!(
                "You approved {reference}; it is still submitted ({}).",
                view::change::approvals_summary(after, rules)
            ),
            ChangeAction::Reject(reason) => format!("{reference} rejected: {reason}."),
            ChangeAction::Start { .. } => format!("{reference} is in progress."),
            ChangeAction::Complete(note) => match note {
                Some(note) => format!("{reference} completed. Review: {note}."),
                None => format!(
                    "{reference} completed. Add the post-implementation review with `/change {reference} note <review>`."
                ),
            },
            ChangeAction::Fail(what) => format!("{reference} failed: {what}."),
            ChangeAction::RolledBack(_) => format!("{reference} rolled back."),
            ChangeAction::Cancel(_) => format!("{reference} cancelled."),
        };
        let mut message = Message::text(text);
        for flag in &applied.flags {
            message = message.with(Block::Text(format!("⚠️ {flag}")));
        }
        if let Some(line) = runbook_line {
            message = message.with(Block::Text(line));
        }
        let message = message.with(Block::Context(view::change::change_line(
            after,
            self.config.change.rules.time_zone,
        )));
        let mut reply = Reply::done(message).about(reference);
        for fired in &fired {
            reply = fired.annotate(reply);
        }
        // A CAB decision made from the card shows on the card.
        Ok(if carded && action.is_decision() {
            reply.privately()
        } else {
            reply
        })
    }

    /// Approved or in-progress changes on the same service whose window
    /// overlaps the one this action sets (or submits).
    async fn overlapping(
        &self,
        conn: &mut PgConnection,
        change: &Change,
        action: &ChangeAction,
    ) -> Result<Vec<TicketRef>, StoreError> {
        let window = match action {
            ChangeAction::Schedule(start, duration) => start
                .resolve(self.config.change.rules.time_zone)
                .ok()
                .and_then(|start| Window::new(start, *duration).ok()),
            ChangeAction::Submit => change.window,
            _ => None,
        };
        match (window, &change.service) {
            (Some(window), Some(service)) => {
                store::changes::overlapping(conn, service, &window, change.id).await
            }
            _ => Ok(Vec::new()),
        }
    }

    /// Queues the change's CAB card: posted in `change.cab_channel` (or
    /// where it was drafted) once the change is submitted, then edited in
    /// place on every change. True when
    /// a card was queued.
    pub(super) async fn sync_change_cards(
        &self,
        conn: &mut PgConnection,
        change: &Change,
        now: chrono::DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut platforms = store::messages::platforms_of(conn, change.id).await?;
        if change.status != ChangeStatus::Draft {
            // Without a CAB channel the card is posted where the change was drafted.
            platforms.push(match &self.config.change.cab_channel {
                Some(channel) => channel.platform,
                None => change.origin.platform,
            });
        }
        platforms.sort();
        platforms.dedup();
        let mut queued = false;
        for platform in platforms.into_iter().filter(|p| delivers_to(*p)) {
            store::outbox::enqueue(conn, platform, OutboxKind::TicketMessage, change.id, now)
                .await?;
            queued = true;
        }
        Ok(queued)
    }

    /// Who holds `role` by name: exact grants in config and from chat.
    pub(super) async fn holders_of(
        &self,
        conn: &mut PgConnection,
        role: Role,
    ) -> Result<Vec<String>, StoreError> {
        let mut holders = self.roles.named_holders(role);
        holders.extend(store::roles::holders(conn, role).await?);
        holders.sort();
        holders.dedup();
        Ok(holders)
    }

    /// `/itsm changes [today|week]`.
    pub(super) async fn change_schedule(
        &self,
        conn: &mut PgConnection,
        _request: &Request,
        range: ScheduleRange,
    ) -> Result<Reply, ExecError> {
        let now = self.clock.now();
        let zone = self.config.change.rules.time_zone;
        let (from, to, title) = match range {
            ScheduleRange::Today => {
                let today = now.with_timezone(&zone).date_naive();
                let midnight = |date: chrono::NaiveDate| {
                    date.and_hms_opt(0, 0, 0)
                        .and_then(|local| zone.from_local_datetime(&local).earliest())
                        .map(|at| at.with_timezone(&Utc))
                };
                let start = midnight(today).unwrap_or(now);
                let end = today
                    .succ_opt()
                    .and_then(midnight)
                    .unwrap_or(now + Duration::days(1));
                (start, end, format!("Changes today ({today}, {zone})"))
            }
            ScheduleRange::Week => (
                now,
                now + Duration::days(7),
                "Changes in the next 7 days".to_string(),
            ),
            ScheduleRange::Upcoming => (
                now,
                now + Duration::days(366),
                "Upcoming and running changes".to_string(),
            ),
        };
        let changes = store::changes::scheduled(conn, from, to, LIST_LIMIT).await?;
        if changes.is_empty() {
            return Ok(Reply::answer(Message::text(format!("{title}: none."))));
        }
        Ok(Reply::answer(
            Message::default().with(Block::List {
                title: Some(format!("{title} ({})", changes.len())),
                items: changes
                    .iter()
                    .map(|c| view::change::change_line(c, self.config.change.rules.time_zone))
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

fn unknown_standard(engine: &Engine, name: Option<&String>) -> Refusal {
    let names: Vec<String> = engine
        .config
        .change
        .standard_catalog
        .iter()
        .map(|entry| format!("`standard:{}`", entry.name))
        .collect();
    let reason = match name {
        Some(name) => format!("There is no standard change `{name}` in the catalog."),
        None => "A standard change follows an entry of the standard catalog; name it with `standard:<name>`.".to_string(),
    };
    let hint = if names.is_empty() {
        "The catalog is empty (`[[change.standard_catalog]]` in the configuration); draft a normal change instead.".to_string()
    } else {
        format!("Entries: {}.", names.join(", "))
    };
    Refusal::new(reason).hint(hint)
}

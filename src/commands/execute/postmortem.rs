//! Post-incident reviews in the engine: starting one from what the bot
//! knows, editing its sections, action items, and the Markdown the chat and
//! the API show.
//!
//! A review stores only the sections people set; everything else (impact,
//! timeline, SLA, problems, changes, action items, and the sections nobody
//! edited) is rendered from the records each time. So showing it again
//! always gives the current picture without losing anyone's words.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::no_such;
use super::{Engine, ExecError, Request};
use crate::commands::command::{ActionDraft, ChangeDraft, ProblemDraft};
use crate::commands::refusal::{sentence, Refusal};
use crate::commands::reply::{Block, Message, Reply};
use crate::domain::change::ChangeType;
use crate::domain::channel::ChannelRef;
use crate::domain::incident::Incident;
use crate::domain::postmortem::{
    ActionItem, ChangeLine, PostmortemError, RaiseAs, Review, ReviewInput, Section,
};
use crate::domain::review_template::{render_markdown, DEFAULT_TEMPLATE};
use crate::domain::text::summarize_title;
use crate::domain::timeline::{EventAction, NewEvent};
use crate::domain::{FreeText, Role, TicketRef};
use crate::store::{self, StoreError};

/// Most action items one `/itsm actions` lists.
const ACTIONS_LIMIT: i64 = 25;

/// Why a review could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A replacement template failed while rendering (its syntax was
    /// checked at start, but it may name fields that do not exist).
    #[error("the review template failed: {0}")]
    Template(#[from] minijinja::Error),
}

/// Notes, in the transaction that resolves `incident`, when its review
/// reminder may first be due: N working days are at least N calendar days.
pub(crate) async fn schedule_review_reminder(
    engine: &Engine,
    conn: &mut sqlx::PgConnection,
    incident: &Incident,
) -> Result<(), StoreError> {
    let days = engine.config().postmortem.remind_after_days;
    let Some(resolved_at) = incident.resolved_at else {
        return Ok(());
    };
    if days == 0 || incident.priority > crate::domain::Priority::P2 {
        return Ok(());
    }
    store::postmortems::schedule_reminder(
        conn,
        incident.id,
        resolved_at + chrono::Duration::days(i64::from(days)),
    )
    .await
}

/// The review as a chat message: one text block per `## ` section, so a
/// platform's per-block limit (Slack's 3,000 characters) cuts at most one
/// long section (usually the timeline), not the whole review.
fn review_message(markdown: &str) -> Message {
    let mut message = Message::default();
    let mut chunk = String::new();
    for line in markdown.lines() {
        if line.starts_with("## ") && !chunk.trim().is_empty() {
            message = message.with(Block::Text(chunk.trim().to_string()));
            chunk.clear();
        }
        chunk.push_str(line);
        chunk.push('\n');
    }
    if !chunk.trim().is_empty() {
        message = message.with(Block::Text(chunk.trim().to_string()));
    }
    message
}

impl From<ReviewError> for ExecError {
    fn from(err: ReviewError) -> Self {
        match err {
            ReviewError::Store(err) => ExecError::Store(err),
            ReviewError::Template(err) => ExecError::Refused(
                Refusal::new(format!("The review template failed: {err}."))
                    .hint("Fix the file named by `postmortem.template_file`, or remove the key to use the built-in template."),
            ),
        }
    }
}

impl Engine {
    /// The review of `reference` as Markdown, or `None` when none was
    /// started (or there is no such incident). The REST API serves this.
    pub async fn postmortem_markdown(
        &self,
        reference: TicketRef,
    ) -> Result<Option<String>, ReviewError> {
        let mut conn = self
            .store()
            .pool()
            .acquire()
            .await
            .map_err(StoreError::from)?;
        let Some(incident) = store::incidents::get(&mut conn, reference.number).await? else {
            return Ok(None);
        };
        if store::postmortems::get(&mut conn, incident.id)
            .await?
            .is_none()
        {
            return Ok(None);
        }
        Ok(Some(self.render_review(&mut conn, &incident).await?))
    }

    /// Gathers the records of `incident` and renders its review.
    async fn render_review(
        &self,
        conn: &mut PgConnection,
        incident: &Incident,
    ) -> Result<String, ReviewError> {
        let edited = store::postmortems::get(conn, incident.id)
            .await?
            .map(|review| review.sections)
            .unwrap_or_default();
        let events = store::timeline::list(conn, incident.id).await?;
        let sla = store::postmortems::sla_results(conn, incident.id).await?;
        let problems = store::problems::linked_to_incident(conn, incident.id).await?;
        let mut changes = Vec::new();
        for problem in &problems {
            let Some(fix) = problem.fix_change else {
                continue;
            };
            if let Some(change) = store::problems::change(conn, fix.number).await? {
                changes.push(ChangeLine {
                    reference: change.reference.to_string(),
                    title: change.title,
                    status: change.status,
                    fixes: problem.reference().to_string(),
                });
            }
        }
        let actions = store::postmortems::actions_of(conn, incident.id).await?;
        let outages = store::services::outages_of_ticket(conn, incident.id).await?;
        let review = Review::build(ReviewInput {
            incident,
            events: &events,
            sla: &sla,
            problems: &problems,
            changes: &changes,
            actions: &actions,
            edited: &edited,
            today: self.clock.now().date_naive(),
            outages: &outages,
            now: self.clock.now(),
            zone: self.zone(),
        });
        let template = self
            .config
            .postmortem
            .template
            .as_deref()
            .unwrap_or(DEFAULT_TEMPLATE);
        Ok(render_markdown(template, &review)?)
    }

    /// `/incident INC-n postmortem`: starts the review of a resolved
    /// incident and posts it to the incident's thread, or shows the review
    /// as it stands now.
    pub(super) async fn postmortem(
        &self,
        conn: &mut PgConnection,
        request: &Request,
        reference: TicketRef,
    ) -> Result<Reply, ExecError> {
        let incident = self
            .lock_incident_for(
                conn,
                &request.actor,
                Role::Engineer,
                "write post-incident reviews",
                reference,
            )
            .await?;
        let now = self.clock.now();
        if store::postmortems::get(conn, incident.id).await?.is_some() {
            let markdown = self.render_review(conn, &incident).await?;
            return Ok(Reply::answer(review_message(&markdown).with(Block::Context(format!(
                "Edit a section with `/incident {reference} postmortem set <section> <text>` ({}); the timeline, SLA and action items follow the records.",
                Section::names()
            ))))
            .about(reference));
        }
        if incident.status.is_open() {
            return Err(Refusal::new(format!(
                "{reference} is still {}; its review starts once it is resolved.",
                incident.status
            ))
            .hint(format!(
                "Resolve it first: `/incident {reference} resolve <resolution>`."
            ))
            .into());
        }
        store::postmortems::create(conn, incident.id, &request.actor, now).await?;
        store::timeline::append(
            conn,
            incident.id,
            &request.actor,
            now,
            &[NewEvent::new(EventAction::ReviewCreated)],
        )
        .await?;
        let markdown = self.render_review(conn, &incident).await?;
        let message = review_message(&markdown).with(Block::Context(format!(
            "Review of {reference} started by {}. Edit a section with `/incident {reference} postmortem set <section> <text>` ({}); add follow-ups with `/incident {reference} action <text> [@owner] [due:YYYY-MM-DD]`.",
            request.actor,
            Section::names()
        )));
        self.post_to_thread(conn, &incident, &message, now).await?;
        Ok(Reply::done(message).about(reference))
    }

    /// `/incident INC-n postmortem set <section> <text>`.
    pub(super) async fn postmortem_set(
        &self,
        conn: &mut PgConnection,
        request: &Request,
        reference: TicketRef,
        section: Section,
        text: FreeText,
    ) -> Result<Reply, ExecError> {
        let incident = self
            .lock_incident_for(
                conn,
                &request.actor,
                Role::Engineer,
                "edit post-incident reviews",
                reference,
            )
            .await?;
        let now = self.clock.now();
        if !store::postmortems::set_section(conn, incident.id, section, text.as_str(), now).await? {
            return Err(Refusal::new(format!("{reference} has no review yet."))
                .hint(format!(
                    "Start it with `/incident {reference} postmortem`, then edit its sections."
                ))
                .into());
        }
        let event = NewEvent::new(EventAction::ReviewEdited)
            .change(None, section.as_str())
            .body(text.as_str());
        store::timeline::append(conn, incident.id, &request.actor, now, &[event]).await?;
        Ok(Reply::done(Message::text(format!(
            "The {section} of {reference}'s review is set. `/incident {reference} postmortem` shows the whole review."
        )))
        .about(reference))
    }

    /// `/incident INC-n action <text> [@owner] [due:YYYY-MM-DD]`.
    pub(super) async fn add_action(
        &self,
        conn: &mut PgConnection,
        request: &Request,
        reference: TicketRef,
        draft: ActionDraft,
    ) -> Result<Reply, ExecError> {
        self.require(conn, &request.actor, Role::Engineer, "record action items")
            .await?;
        let incident = store::incidents::lock(conn, reference.number)
            .await?
            .ok_or_else(|| no_such(reference))?;
        let now = self.clock.now();
        if let Some(due) = draft.due.filter(|due| *due < now.date_naive()) {
            return Err(
                Refusal::new(format!("The due date {due} has already passed."))
                    .hint(format!(
                        "Give today or a later date, e.g. `due:{}`.",
                        (now + chrono::Duration::days(7)).format("%Y-%m-%d")
                    ))
                    .into(),
            );
        }
        let id = store::postmortems::add_action(
            conn,
            incident.id,
            draft.text.as_str(),
            draft.owner.as_ref(),
            draft.due,
            &request.actor,
            now,
        )
        .await?;
        let event = NewEvent::new(EventAction::ActionAdded)
            .change(None, format!("#{id}"))
            .body(draft.text.as_str());
        store::timeline::append(conn, incident.id, &request.actor, now, &[event]).await?;
        let mut detail = Vec::new();
        if let Some(owner) = &draft.owner {
            detail.push(format!("owner {owner}"));
        }
        if let Some(due) = draft.due {
            detail.push(format!("due {due}"));
        }
        let detail = if detail.is_empty() {
            String::new()
        } else {
            format!(" ({})", detail.join(", "))
        };
        Ok(Reply::done(
            Message::text(format!(
                "Action item #{id} recorded for {reference}{detail}: {}",
                draft.text.as_str()
            ))
            .with(Block::Context(format!(
                "`/itsm action {id} done` when it is done; `/itsm actions` lists the open ones."
            ))),
        )
        .about(reference))
    }

    /// `/itsm actions [mine]`.
    pub(super) async fn list_actions(
        &self,
        conn: &mut PgConnection,
        request: &Request,
        mine: bool,
    ) -> Result<Reply, ExecError> {
        let owner = mine.then_some(&request.actor);
        let (items, total) = store::postmortems::open_actions(conn, owner, ACTIONS_LIMIT).await?;
        let title = if mine {
            "Your open action items"
        } else {
            "Open action items"
        };
        if items.is_empty() {
            return Ok(Reply::answer(Message::text(format!("{title}: none."))));
        }
        let today = self.clock.now().date_naive();
        let mut lines: Vec<String> = items
            .iter()
            .map(|item| format!("{} · {}", item.line(today), item.incident))
            .collect();
        let shown = items.len() as i64;
        if total > shown {
            lines.push(format!("… and {} more", total - shown));
        }
        Ok(Reply::answer(Message::default().with(Block::List {
            title: Some(format!("{title} ({total})")),
            items: lines,
        })))
    }

    /// `/itsm action <id> done`: by an engineer or the item's owner.
    pub(super) async fn action_done(
        &self,
        conn: &mut PgConnection,
        request: &Request,
        id: i64,
    ) -> Result<Reply, ExecError> {
        let (item, incident_id) = store::postmortems::lock_action(conn, id)
            .await?
            .ok_or_else(|| no_such_action(id))?;
        if item.owner.as_ref() != Some(&request.actor) {
            self.require(
                conn,
                &request.actor,
                Role::Engineer,
                "mark someone else's action items done",
            )
            .await?;
        }
        if let Some(done_at) = item.done_at {
            return Err(Refusal::new(format!(
                "Action item #{id} was already done on {}.",
                self.stamp(done_at)
            ))
            .hint("`/itsm actions` lists the open ones.")
            .into());
        }
        let now = self.clock.now();
        store::postmortems::mark_done(conn, id, &request.actor, now).await?;
        let event = NewEvent::new(EventAction::ActionDone)
            .change(None, format!("#{id}"))
            .body(item.text.as_str());
        store::timeline::append(conn, incident_id, &request.actor, now, &[event]).await?;
        Ok(Reply::done(Message::text(format!(
            "Action item #{id} of {} is done: {}",
            item.incident, item.text
        ))))
    }

    /// `/itsm action <id> problem|change`: raises an open action item as a
    /// new problem, linked to the item's incident, or as a draft normal
    /// change on the incident's service, requested by the actor.
    ///
    /// The item records the new ticket and stays open until someone marks
    /// it done: the owner and due date the review agreed still stand, and
    /// the digest keeps counting it, so the follow-up is not lost in a
    /// ticket queue nobody watches. It is raised once; a second ticket for
    /// the same follow-up would split its history.
    pub(super) async fn raise_action(
        &self,
        conn: &mut PgConnection,
        request: &Request,
        id: i64,
        raise_as: RaiseAs,
    ) -> Result<Reply, ExecError> {
        // The role of recording a problem or drafting a change, asked first
        // so that someone without it is told so before anything about the
        // item (creating the ticket asks again, as it always does).
        let doing = match raise_as {
            RaiseAs::Problem => "record problems",
            RaiseAs::Change => "draft a change",
        };
        self.require(conn, &request.actor, Role::Engineer, doing)
            .await?;
        let (item, incident_id) = store::postmortems::lock_action(conn, id)
            .await?
            .ok_or_else(|| no_such_action(id))?;
        item.check_raise(self.zone())
            .map_err(|err| raise_refusal(&item, &err))?;
        let incident = store::incidents::get_by_id(conn, incident_id)
            .await?
            .ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "action item #{id} follows up ticket {incident_id}, which is not an incident"
                ))
            })?;
        // A problem or change title is one line of at most 200 characters;
        // the item's full text stays on the item.
        let title = summarize_title(&item.text).map_err(Refusal::from)?;
        // The incident's service, as long as the catalog still has it: a
        // service removed since should not block the follow-up.
        let service = match &incident.service {
            Some(name) if store::services::find_id(conn, name).await?.is_some() => {
                Some(name.clone())
            }
            _ => None,
        };
        let (ticket_id, reference, details) = match raise_as {
            RaiseAs::Problem => {
                let draft = ProblemDraft {
                    title,
                    description: FreeText::parse("description", &item.raised_description()).ok(),
                    service,
                };
                let problem = self.create_problem(conn, request, draft).await?;
                let reference = problem.reference();
                self.link(conn, request, reference, &[incident.reference()])
                    .await?;
                let details = vec![
                    super::problem::problem_fields(&problem),
                    Block::Context(format!(
                        "{reference} is linked to {}. Record what you learn with `/problem {reference} rca <root cause>` and `workaround <text>`.",
                        incident.reference()
                    )),
                ];
                (problem.id, reference, details)
            }
            RaiseAs::Change => {
                let draft = ChangeDraft {
                    title,
                    change_type: Some(ChangeType::Normal),
                    standard: None,
                    risk: None,
                    impact: None,
                    likelihood: None,
                    service,
                };
                let change = self
                    .create_change(conn, request, draft, Some(item.raised_description()))
                    .await?;
                (change.id, change.reference(), self.draft_details(&change))
            }
        };
        store::postmortems::mark_raised(conn, id, ticket_id).await?;
        let now = self.clock.now();
        let event = NewEvent::new(EventAction::ActionRaised)
            .change(Some(format!("#{id}")), reference.to_string())
            .body(item.text.as_str());
        store::timeline::append(conn, incident.id, &request.actor, now, &[event]).await?;
        let mut message = Message::text(format!(
            "Action item #{id} of {} raised as {reference}: {}",
            item.incident, item.text
        ));
        message.blocks.extend(details);
        message.blocks.push(Block::Context(format!(
            "The action item stays open, showing {reference}, until `/itsm action {id} done`."
        )));
        Ok(Reply::done(message).about(reference))
    }

    /// Queues `message` for the incident's thread: under its card where the
    /// bot posted one, else in the thread it was reported from.
    pub(crate) async fn post_to_thread(
        &self,
        conn: &mut PgConnection,
        incident: &Incident,
        message: &Message,
        at: DateTime<Utc>,
    ) -> Result<crate::commands::notice::Posted, StoreError> {
        let origin = ChannelRef {
            platform: incident.origin.platform,
            channel: incident.origin.channel.clone(),
        };
        let thread =
            match store::messages::find(conn, incident.id, incident.origin.platform).await? {
                Some(card) => Some(card.thread),
                None => incident.origin.thread.clone(),
            };
        crate::commands::notice::post(
            conn,
            &origin,
            thread.as_deref(),
            message,
            Some(incident.id),
            at,
        )
        .await
    }
}

fn no_such_action(id: i64) -> Refusal {
    Refusal::new(format!("There is no action item #{id}."))
        .hint("`/itsm actions` lists the open ones with their ids.")
}

/// Why `item` cannot be raised, and what to do instead.
fn raise_refusal(item: &ActionItem, err: &PostmortemError) -> Refusal {
    let refusal = Refusal::new(format!(
        "{} Nothing was raised.",
        sentence(&err.to_string())
    ));
    match err {
        PostmortemError::AlreadyRaised { raised_as, .. } => refusal.hint(format!(
            "Work it there: `{} {raised_as} show`. `/itsm action {} done` closes the item when the work is done.",
            raised_as.kind.command(),
            item.id
        )),
        PostmortemError::AlreadyDone { .. } => refusal.hint(format!(
            "Agree a new follow-up with `/incident {} action <text>` if more is needed.",
            item.incident
        )),
        _ => refusal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_review_becomes_one_block_per_section() {
        let message =
            review_message("# Review\n\n| a |\n\n## Summary\n\nText\n\n## Timeline\n\n| x |\n");
        assert_eq!(
            message.blocks,
            vec![
                Block::Text("# Review\n\n| a |".into()),
                Block::Text("## Summary\n\nText".into()),
                Block::Text("## Timeline\n\n| x |".into()),
            ]
        );
    }
}

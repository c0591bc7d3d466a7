//! Problem management in the engine: recording problems, linking the
//! incidents they cause, the known-error database and its suggestions on
//! new incidents.

use sqlx::PgConnection;

use super::no_such;
use super::{Engine, ExecError, Request};
use crate::commands::buttons::{Button, ButtonAction, ButtonStyle};
use crate::commands::command::{ProblemCommand, ProblemDraft};
use crate::commands::refusal::Refusal;
use crate::commands::reply::{Block, Message, Reply};
use crate::commands::view;
use crate::domain::incident::{Incident, IncidentAction, Origin};
use crate::domain::problem::{KnownErrorMatch, NewProblem, Problem, ProblemAction};
use crate::domain::timeline::{Event, EventAction, NewEvent};
use crate::domain::{FreeText, Role, TicketRef};
use crate::store::{self, problems::ChangeSummary};

/// Most problems listed by one search.
const SEARCH_LIMIT: i64 = 10;

impl Engine {
    /// `/problem <title>`.
    pub(super) async fn record_problem(
        &self,
        conn: &mut PgConnection,
        request: &Request,
        draft: ProblemDraft,
    ) -> Result<Reply, ExecError> {
        let problem = self.create_problem(conn, request, draft).await?;
        let reference = problem.reference();
        let message = Message::default()
            .with(Block::Header(format!(
                "{reference} recorded: {}",
                problem.title
            )))
            .with(problem_fields(&problem))
            .with(Block::Context(format!(
                "Link the incidents it causes with `/problem {reference} link INC-n…`; record what you learn with `rca <root cause>` and `workaround <text>`."
            )));
        Ok(Reply::done(message).about(reference))
    }

    /// Records a new problem with its created event, for whoever may record
    /// problems: `/problem <title>` and an action item raised as a problem.
    pub(super) async fn create_problem(
        &self,
        conn: &mut PgConnection,
        request: &Request,
        draft: ProblemDraft,
    ) -> Result<Problem, ExecError> {
        self.require(conn, &request.actor, Role::Engineer, "record problems")
            .await?;
        let service_id = match &draft.service {
            Some(name) => Some(self.find_service(conn, name).await?),
            None => None,
        };
        let new = NewProblem {
            title: draft.title,
            description: draft
                .description
                .map(FreeText::into_string)
                .unwrap_or_default(),
            service: draft.service,
            reporter: request.actor.clone(),
            origin: Origin {
                platform: request.actor.platform(),
                channel: request.channel.clone(),
                thread: request.thread.clone(),
                message: request.message.clone(),
            },
        };
        let now = self.clock.now();
        let problem = store::problems::insert(conn, &new, service_id, now).await?;
        store::timeline::append(
            conn,
            problem.id,
            &request.actor,
            now,
            &[new.created_event()],
        )
        .await?;
        Ok(problem)
    }

    /// `/problem PRB-n …`.
    pub(super) async fn work_problem(
        &self,
        conn: &mut PgConnection,
        request: &Request,
        reference: TicketRef,
        command: ProblemCommand,
    ) -> Result<Reply, ExecError> {
        match command {
            ProblemCommand::Show => self.show_problem(conn, reference).await,
            ProblemCommand::ResolveIncidents => {
                self.resolve_problem_incidents(conn, request, reference)
                    .await
            }
            ProblemCommand::Act(action) => {
                self.act_on_problem(conn, request, reference, action).await
            }
        }
    }

    async fn act_on_problem(
        &self,
        conn: &mut PgConnection,
        request: &Request,
        reference: TicketRef,
        action: ProblemAction,
    ) -> Result<Reply, ExecError> {
        if let ProblemAction::Link(incidents) = &action {
            let problem = self.link(conn, request, reference, incidents).await?;
            let listed = join(incidents.iter().map(ToString::to_string));
            let message = Message::text(format!("{listed} linked to {reference}."))
                .with(Block::Context(problem_line(&problem)));
            return Ok(Reply::done(message).about(reference));
        }
        let doing = format!("`{}` a problem", action.verb());
        self.require(conn, &request.actor, Role::Engineer, &doing)
            .await?;
        let problem = store::problems::lock(conn, reference.number)
            .await?
            .ok_or_else(|| no_such_problem(reference))?;
        let fix = match &action {
            ProblemAction::Fix(change) => Some(
                store::problems::change(conn, change.number)
                    .await?
                    .ok_or_else(|| {
                        Refusal::new(format!("There is no {change}."))
                            .hint("`fix` names an existing change request; draft one with `/change <what changes>` first.")
                    })?,
            ),
            _ => None,
        };
        let now = self.clock.now();
        let applied = problem.apply(&action, now).map_err(Refusal::from)?;
        store::problems::update(conn, &applied.problem).await?;
        store::timeline::append(conn, problem.id, &request.actor, now, &applied.events).await?;
        let after = &applied.problem;
        let mut message = Message::text(match &action {
            ProblemAction::RootCause(text) => format!("Root cause of {reference} recorded: {text}"),
            ProblemAction::Workaround(text) => format!("Workaround for {reference} recorded: {text}"),
            ProblemAction::KnownError => format!(
                "{reference} is a known error: new incidents that look like it will be offered its workaround."
            ),
            ProblemAction::Fix(_) => match &fix {
                Some(change) => format!("{reference} will be fixed by {}.", change_line(change)),
                None => format!("{reference} fix recorded."),
            },
            ProblemAction::Resolve(text) => match text {
                Some(text) => format!("{reference} resolved: {text}"),
                None => format!("{reference} resolved."),
            },
            ProblemAction::Close => format!("{reference} closed."),
            ProblemAction::Note(_) => format!("Note added to {reference}."),
            // Handled above, with the incidents' side of the link.
            ProblemAction::Link(incidents) => format!(
                "{} linked to {reference}.",
                join(incidents.iter().map(ToString::to_string))
            ),
        });
        if matches!(action, ProblemAction::Resolve(_)) {
            let open = self.linked_incidents(conn, after).await?;
            let open: Vec<&Incident> = open.iter().filter(|i| i.status.is_open()).collect();
            if !open.is_empty() {
                message = message
                    .with(Block::List {
                        title: Some(format!("Linked incidents still open ({})", open.len())),
                        items: open
                            .iter()
                            .map(|i| view::incident::incident_line(i, self.zone()))
                            .collect(),
                    })
                    .with(Block::Context(format!(
                        "`/problem {reference} resolve-incidents` resolves them all, naming {reference}."
                    )))
                    .with(Block::Actions(vec![Button {
                        label: format!("Resolve {} incidents", open.len()),
                        action: ButtonAction::ResolveProblemIncidents(reference),
                        style: ButtonStyle::Primary,
                    }]));
            }
        }
        Ok(Reply::done(message.with(Block::Context(problem_line(after)))).about(reference))
    }

    /// Links `incidents` to problem `reference`, on both timelines; refuses
    /// the whole command if any incident is missing or linked already.
    pub(super) async fn link(
        &self,
        conn: &mut PgConnection,
        request: &Request,
        reference: TicketRef,
        incidents: &[TicketRef],
    ) -> Result<Problem, ExecError> {
        self.require(
            conn,
            &request.actor,
            Role::Engineer,
            "link incidents to problems",
        )
        .await?;
        let problem = store::problems::lock(conn, reference.number)
            .await?
            .ok_or_else(|| no_such_problem(reference))?;
        let now = self.clock.now();
        let applied = problem
            .apply(&ProblemAction::Link(incidents.to_vec()), now)
            .map_err(Refusal::from)?;
        for incident_ref in incidents {
            let incident = store::incidents::get(conn, incident_ref.number)
                .await?
                .ok_or_else(|| no_such(*incident_ref))?;
            if !store::problems::link(conn, problem.id, incident.id, &request.actor, now).await? {
                return Err(Refusal::new(format!(
                    "{incident_ref} is already linked to {reference}; nothing changed."
                ))
                .hint(format!("`/problem {reference} show` lists its incidents."))
                .into());
            }
            let event = NewEvent::new(EventAction::Linked).change(None, reference.to_string());
            store::timeline::append(conn, incident.id, &request.actor, now, &[event]).await?;
        }
        store::problems::update(conn, &applied.problem).await?;
        store::timeline::append(conn, problem.id, &request.actor, now, &applied.events).await?;
        Ok(applied.problem)
    }

    async fn show_problem(
        &self,
        conn: &mut PgConnection,
        reference: TicketRef,
    ) -> Result<Reply, ExecError> {
        let problem = store::problems::get(conn, reference.number)
            .await?
            .ok_or_else(|| no_such_problem(reference))?;
        let incidents = self.linked_incidents(conn, &problem).await?;
        let fix = match problem.fix_change {
            Some(change) => store::problems::change(conn, change.number).await?,
            None => None,
        };
        let events = store::timeline::list(conn, problem.id).await?;
        Ok(Reply::answer(problem_card(
            &problem,
            &incidents,
            fix.as_ref(),
            &events,
            self.zone(),
        ))
        .about(reference))
    }

    async fn linked_incidents(
        &self,
        conn: &mut PgConnection,
        problem: &Problem,
    ) -> Result<Vec<Incident>, ExecError> {
        let mut incidents = Vec::new();
        for number in store::problems::linked_incidents(conn, problem.id).await? {
            if let Some(incident) = store::incidents::get(conn, number).await? {
                incidents.push(incident);
            }
        }
        Ok(incidents)
    }

    /// `/problem PRB-n resolve-incidents`: resolves each still-open linked
    /// incident the way `/incident INC-m resolve` would, naming the problem.
    async fn resolve_problem_incidents(
        &self,
        conn: &mut PgConnection,
        request: &Request,
        reference: TicketRef,
    ) -> Result<Reply, ExecError> {
        self.require(
            conn,
            &request.actor,
            Role::Engineer,
            "resolve a problem's incidents",
        )
        .await?;
        let problem = store::problems::lock(conn, reference.number)
            .await?
            .ok_or_else(|| no_such_problem(reference))?;
        if problem.status.is_open() {
            return Err(Refusal::new(format!(
                "{reference} is {}; its incidents are resolved with it once the problem itself is resolved.",
                problem.status
            ))
            .hint(format!("Resolve it first with `/problem {reference} resolve [how]`."))
            .into());
        }
        let open: Vec<Incident> = self
            .linked_incidents(conn, &problem)
            .await?
            .into_iter()
            .filter(|incident| incident.status.is_open())
            .collect();
        if open.is_empty() {
            return Err(Refusal::new(format!(
                "No incident linked to {reference} is still open; nothing to resolve."
            ))
            .hint(format!("`/problem {reference} show` lists its incidents."))
            .into());
        }
        let resolution = FreeText::parse(
            "resolution",
            &format!("Resolved with problem {reference}: {}", problem.title),
        )
        .map_err(Refusal::from)?;
        for incident in &open {
            // The same path as `/incident INC-m resolve`: SLA clocks,
            // cards and the reporter's survey follow as usual.
            self.act_on_incident(
                conn,
                request,
                incident.reference(),
                IncidentAction::Resolve(resolution.clone()),
            )
            .await?;
        }
        let message = Message::default()
            .with(Block::List {
                title: Some(format!(
                    "Resolved {} incident{} linked to {reference}",
                    open.len(),
                    if open.len() == 1 { "" } else { "s" }
                )),
                items: open
                    .iter()
                    .map(|incident| {
                        format!(
                            "{} {} — {}",
                            incident.reference(),
                            incident.priority,
                            incident.title
                        )
                    })
                    .collect(),
            })
            .with(Block::Context(format!("Resolution: {resolution}")));
        Ok(Reply::done(message).about(reference))
    }

    /// `/problem search <words>`.
    pub(super) async fn search_problems(
        &self,
        conn: &mut PgConnection,
        _request: &Request,
        words: &str,
    ) -> Result<Reply, ExecError> {
        let found = store::problems::search(conn, words, SEARCH_LIMIT).await?;
        if found.is_empty() {
            return Ok(Reply::answer(
                Message::text(format!("No problem mentions “{words}”."))
                    .with(Block::Context("Search looks at titles, root causes and workarounds; try fewer or other words.".into())),
            ));
        }
        let items = found
            .iter()
            .map(|problem| match (&problem.workaround, problem.status) {
                (Some(workaround), crate::domain::problem::ProblemStatus::KnownError) => {
                    format!("{} Workaround: {workaround}", problem_line(problem))
                }
                _ => problem_line(problem),
            })
            .collect();
        let more = if found.len() as i64 == SEARCH_LIMIT {
            " (the best matches)"
        } else {
            ""
        };
        Ok(Reply::answer(Message::default().with(Block::List {
            title: Some(format!("Problems matching “{words}”{more}")),
            items,
        })))
    }

    /// `/incident INC-m problem PRB-n`.
    pub(super) async fn link_problem_from_incident(
        &self,
        conn: &mut PgConnection,
        request: &Request,
        incident: TicketRef,
        problem: TicketRef,
    ) -> Result<Reply, ExecError> {
        let linked = self.link(conn, request, problem, &[incident]).await?;
        let mut message = Message::text(format!(
            "{incident} linked to problem {problem}: {}.",
            linked.title
        ));
        if let (Some(workaround), crate::domain::problem::ProblemStatus::KnownError) =
            (&linked.workaround, linked.status)
        {
            message = message.with(Block::Text(format!("Workaround: {workaround}")));
        }
        Ok(Reply::done(message.with(Block::Context(problem_line(&linked)))).about(incident))
    }
}

/// Known errors that match new incident `incident`'s title, as blocks for the
/// report's reply (with their workarounds); empty when none match.
pub(super) fn known_error_blocks(incident: TicketRef, matches: &[KnownErrorMatch]) -> Vec<Block> {
    let Some(first) = matches.first() else {
        return Vec::new();
    };
    let mut blocks: Vec<Block> = matches
        .iter()
        .map(|problem| {
            Block::Text(format!(
                "Known error {} may match: {}. Workaround: {}",
                problem.reference(),
                problem.title,
                problem.workaround.as_deref().unwrap_or("none recorded")
            ))
        })
        .collect();
    blocks.push(Block::Context(format!(
        "If it is the same cause, link them: `/incident {incident} problem {}`.",
        first.reference()
    )));
    blocks
}

fn no_such_problem(reference: TicketRef) -> Refusal {
    Refusal::new(format!("There is no {reference}."))
        .hint("`/problem search <words>` finds problems by their title, root cause or workaround.")
}

fn join(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

/// One line for lists: `PRB-2 known_error — VPN drops connections (service vpn)`.
fn problem_line(problem: &Problem) -> String {
    let service = problem
        .service
        .as_ref()
        .map(|s| format!(" (service {s})"))
        .unwrap_or_default();
    format!(
        "{} {} — {}{service}",
        problem.reference(),
        problem.status,
        problem.title
    )
}

fn change_line(change: &ChangeSummary) -> String {
    format!("{} {} — {}", change.reference, change.status, change.title)
}

/// A problem's status and service.
pub(super) fn problem_fields(problem: &Problem) -> Block {
    let mut fields = vec![("Status".to_string(), problem.status.to_string())];
    if let Some(service) = &problem.service {
        fields.push(("Service".to_string(), service.clone()));
    }
    Block::Fields(fields)
}

/// Everything about a problem: its fields, root cause, workaround, fix,
/// linked incidents and timeline.
fn problem_card(
    problem: &Problem,
    incidents: &[Incident],
    fix: Option<&ChangeSummary>,
    events: &[Event],
    zone: chrono_tz::Tz,
) -> Message {
    let mut details = vec![
        ("Recorded by".to_string(), problem.reporter.display_name()),
        (
            "Opened".to_string(),
            view::incident::when(problem.created_at, zone),
        ),
    ];
    let optional = [
        ("Known error since", problem.known_error_at),
        ("Resolved", problem.resolved_at),
        ("Closed", problem.closed_at),
    ];
    details.extend(optional.into_iter().filter_map(|(label, at)| {
        at.map(|at| (label.to_string(), view::incident::when(at, zone)))
    }));
    let mut message = Message::default()
        .with(Block::Header(format!(
            "{} · {}",
            problem.reference(),
            problem.title
        )))
        .with(problem_fields(problem))
        .with(Block::Fields(details));
    if !problem.description.is_empty() {
        message = message.with(Block::Text(problem.description.clone()));
    }
    let texts = [
        ("Root cause", problem.root_cause.as_deref()),
        ("Workaround", problem.workaround.as_deref()),
    ];
    for (label, text) in texts {
        message = message.with(Block::Text(format!(
            "{label}: {}",
            text.unwrap_or("not recorded yet")
        )));
    }
    if let Some(resolution) = &problem.resolution {
        message = message.with(Block::Text(format!("Resolution: {resolution}")));
    }
    message = message.with(Block::Text(format!(
        "Fix: {}",
        fix.map_or_else(|| "no change named yet".to_string(), change_line)
    )));
    let open = incidents.iter().filter(|i| i.status.is_open()).count();
    message = message.with(Block::List {
        title: Some(format!(
            "Linked incidents ({}, {open} open)",
            incidents.len()
        )),
        items: incidents
            .iter()
            .map(|i| view::incident::incident_line(i, zone))
            .collect(),
    });
    message.with(Block::List {
        title: Some(format!("Timeline ({} events)", events.len())),
        items: events
            .iter()
            .map(|e| view::incident::timeline_line(e, zone))
            .collect(),
    })
}

//! The command language as values.

use crate::domain::incident::IncidentAction;
use crate::domain::{FreeText, Level, Priority, TicketRef, Title};

/// Everything a person can ask of the bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Open a new incident from what was reported.
    OpenIncident(IncidentIntake),
    /// Open the incident form where the platform has one.
    OpenIncidentForm,
    /// Work or show an existing incident.
    Incident(TicketRef, IncidentCommand),
    /// A reply in a chat thread: a note on the incident discussed there, if any.
    ThreadReply(FreeText),
    /// Ask something of the service desk.
    Query(QueryCommand),
    /// Open a problem record.
    RecordProblem(ProblemDraft),
    /// Work or show an existing problem.
    Problem(TicketRef, ProblemCommand),
    /// `/problem search <words>`: search the known-error database.
    SearchProblems(String),
    /// Draft a change request.
    DraftChange(ChangeDraft),
    /// Work or show an existing change.
    Change(TicketRef, ChangeCommand),
    /// `/kb <title>`: draft a knowledge-base article.
    DraftArticle(Title),
    /// `/kb KB-n …`: work or show an article.
    Article(TicketRef, ArticleCommand),
    /// `/kb from INC-n | PRB-n`: draft an article from a resolution or a
    /// known error's workaround.
    ArticleFrom(TicketRef),
    /// `/kb search <words>` (the words as typed; the engine checks them
    /// with the configured synonyms), or `/kb` alone: the latest articles.
    SearchArticles(Option<String>),
    /// `/itsm search <words> [kind:…] [status:open]`: every kind of ticket
    /// and the knowledge base.
    Search(String),
    /// `/request`: the service catalog (a form where the platform has one).
    RequestCatalog,
    /// `/request <item> field:value … [details]`: ask for a catalog item.
    OpenRequest(RequestIntake),
    /// Work or show an existing service request.
    Request(TicketRef, RequestCommand),
}

impl Command {
    /// Whether the command carries a time typed without an offset, which
    /// is read in the person's zone: adapters look up a profile's zone only
    /// for these, so no other command waits on the lookup.
    pub fn types_a_local_time(&self) -> bool {
        use crate::domain::change::{ChangeAction, StartTime};
        let local = |start: &StartTime| matches!(start, StartTime::Local(_));
        match self {
            Command::Change(_, ChangeCommand::Act(ChangeAction::Schedule(start, _))) => {
                local(start)
            }
            Command::Incident(_, IncidentCommand::Outage(Some(start))) => local(start),
            Command::Query(QueryCommand::OncallOverride(wanted)) => local(&wanted.start),
            _ => false,
        }
    }

    /// A short, stable name for metrics: `incident.create`, `change.approve`, `query.open`.
    pub fn name(&self) -> &'static str {
        use crate::domain::change::ChangeAction as C;
        use crate::domain::incident::IncidentAction as I;
        use crate::domain::postmortem::RaiseAs;
        use crate::domain::request::RequestAction as R;
        match self {
            Command::OpenIncident(_) => "incident.create",
            Command::OpenIncidentForm => "incident.form",
            Command::ThreadReply(_) => "incident.thread_reply",
            Command::Incident(_, command) => match command {
                IncidentCommand::Show => "incident.show",
                IncidentCommand::Rate(_) => "incident.rate",
                IncidentCommand::LinkProblem(_) => "incident.problem",
                IncidentCommand::Outage(_) => "incident.outage",
                IncidentCommand::Public(_) => "incident.public",
                IncidentCommand::Postmortem => "incident.postmortem",
                IncidentCommand::PostmortemSet(..) => "incident.postmortem_set",
                IncidentCommand::AddAction(_) => "incident.action",
                IncidentCommand::DuplicateOf(_) => "incident.duplicate",
                IncidentCommand::AcceptSuggestion => "incident.accept_suggestion",
                IncidentCommand::Act(action) => match action {
                    I::Acknowledge => "incident.ack",
                    I::Assign(_) => "incident.assign",
                    I::SetPriority(_) => "incident.priority",
                    I::Note(_) => "incident.note",
                    I::Hold(_) => "incident.hold",
                    I::Resume => "incident.resume",
                    I::Resolve(_) => "incident.resolve",
                    I::Close => "incident.close",
                    I::Reopen(_) => "incident.reopen",
                },
            },
            Command::RecordProblem(_) => "problem.create",
            Command::Problem(_, ProblemCommand::Show) => "problem.show",
            Command::Problem(_, ProblemCommand::ResolveIncidents) => "problem.resolve_incidents",
            Command::Problem(_, ProblemCommand::Act(_)) => "problem.act",
            Command::SearchProblems(_) => "problem.search",
            Command::DraftChange(_) => "change.create",
            Command::Change(_, ChangeCommand::Show) => "change.show",
            Command::DraftArticle(_) => "kb.create",
            Command::Article(_, ArticleCommand::Show) => "kb.show",
            Command::Article(_, ArticleCommand::Act(action)) => match action {
                crate::domain::kb::ArticleAction::Body(_) => "kb.body",
                crate::domain::kb::ArticleAction::Publish => "kb.publish",
                crate::domain::kb::ArticleAction::Retire => "kb.retire",
            },
            Command::ArticleFrom(_) => "kb.from",
            Command::SearchArticles(_) => "kb.search",
            Command::Search(_) => "query.search",
            Command::Change(_, ChangeCommand::Act(action)) => match action {
                C::Submit => "change.submit",
                C::Approve(_) => "change.approve",
                C::Reject(_) => "change.reject",
                C::Start { .. } => "change.start",
                C::Complete(_) | C::Fail(_) | C::RolledBack(_) => "change.finish",
                C::Cancel(_) => "change.cancel",
                _ => "change.edit",
            },
            Command::RequestCatalog => "request.catalog",
            Command::OpenRequest(_) => "request.create",
            Command::Request(_, RequestCommand::Show) => "request.show",
            Command::Request(_, RequestCommand::Rate(_)) => "request.rate",
            Command::Request(_, RequestCommand::Act(action)) => match action {
                R::Approve(_) => "request.approve",
                R::Reject(_) => "request.reject",
                R::Take => "request.take",
                R::TaskDone(_) => "request.task",
                R::Fulfil(_) => "request.fulfil",
                R::Cancel(_) => "request.cancel",
                _ => "request.edit",
            },
            Command::Query(query) => match query {
                QueryCommand::Help(_) => "query.help",
                QueryCommand::Mine => "query.mine",
                QueryCommand::Open(_) => "query.open",
                QueryCommand::Whoami => "query.whoami",
                QueryCommand::TimeZone(None) => "query.timezone",
                QueryCommand::TimeZone(Some(_)) => "person.timezone",
                QueryCommand::Sla => "query.sla",
                QueryCommand::Report(..) => "query.report",
                QueryCommand::Changes(_) => "query.changes",
                QueryCommand::Requests(_) => "query.requests",
                QueryCommand::Grant(..) => "roles.grant",
                QueryCommand::Revoke(..) => "roles.revoke",
                QueryCommand::Outbox => "outbox.show",
                QueryCommand::OutboxRetry(_) => "outbox.retry",
                QueryCommand::Services => "services.list",
                QueryCommand::Service(_) => "services.show",
                QueryCommand::Oncall(_) => "oncall.show",
                QueryCommand::OncallOverride(_) => "oncall.override",
                QueryCommand::Actions { .. } => "query.actions",
                QueryCommand::ActionDone(_) => "action.done",
                QueryCommand::Rules => "query.rules",
                QueryCommand::Runbooks => "query.runbooks",
                QueryCommand::Run { .. } => "runbook.run",
                QueryCommand::RaiseAction(_, RaiseAs::Problem) => "action.problem",
                QueryCommand::RaiseAction(_, RaiseAs::Change) => "action.change",
            },
        }
    }
}

/// A new problem as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProblemDraft {
    pub title: Title,
    /// The lines after the title, if any.
    pub description: Option<FreeText>,
    pub service: Option<String>,
}

/// What to do with an existing problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProblemCommand {
    /// A lifecycle action.
    Act(crate::domain::problem::ProblemAction),
    /// Print the problem with its links and timeline.
    Show,
    /// Resolve every still-open incident linked to the problem.
    ResolveIncidents,
}

/// A new change request as drafted, before the engine fills in the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeDraft {
    pub title: Title,
    pub change_type: Option<crate::domain::change::ChangeType>,
    /// A `[[change.standard_catalog]]` entry this change follows.
    pub standard: Option<String>,
    pub risk: Option<crate::domain::change::Risk>,
    pub impact: Option<Level>,
    pub likelihood: Option<Level>,
    pub service: Option<String>,
}

/// What to do with an existing knowledge-base article.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArticleCommand {
    /// A lifecycle action.
    Act(crate::domain::kb::ArticleAction),
    /// Print the article.
    Show,
}

/// A service request as asked for, before the engine checks it against
/// the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestIntake {
    /// The catalog item's name, lower-cased.
    pub item: String,
    /// `field:value` pairs as typed (field names lower-cased).
    pub fields: Vec<(String, String)>,
    /// The words that are not fields.
    pub details: Option<FreeText>,
}

impl RequestIntake {
    /// A request from a chat form: the item picked, each field's value as
    /// entered, and the details typed. Blank values are left out (an
    /// optional field left empty is not given, a required one is then
    /// missing); the engine checks the rest exactly as it checks
    /// `/request <item> field:value`, so a form and the text command
    /// accept and refuse the same values.
    pub fn from_form(
        item: &str,
        fields: impl IntoIterator<Item = (String, String)>,
        details: Option<&str>,
    ) -> Result<Self, super::Refusal> {
        let fields = fields
            .into_iter()
            .filter(|(_, value)| !value.trim().is_empty())
            .map(|(name, value)| (name.to_ascii_lowercase(), value.trim().to_string()))
            .collect();
        let details =
            match details.map(str::trim) {
                None | Some("") => None,
                Some(text) => Some(FreeText::parse("details", text).map_err(|err| {
                    super::Refusal::new(super::refusal::sentence(&err.to_string()))
                })?),
            };
        Ok(RequestIntake {
            item: item.to_ascii_lowercase(),
            fields,
            details,
        })
    }

    /// The text after `/request` that asks for this, as `parse` reads it
    /// back: `laptop reason:"new starter" for Sam`. Buttons that carry what
    /// was typed (a form to complete it) carry this.
    pub fn to_text(&self) -> String {
        let mut parts = vec![self.item.clone()];
        for (name, value) in &self.fields {
            if value.contains(char::is_whitespace) || value.starts_with('"') {
                parts.push(format!("{name}:\"{}\"", value.replace('"', "'")));
            } else {
                parts.push(format!("{name}:{value}"));
            }
        }
        if let Some(details) = &self.details {
            parts.push(details.to_string());
        }
        parts.join(" ")
    }
}

/// What to do with an existing service request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestCommand {
    /// A lifecycle action.
    Act(crate::domain::request::RequestAction),
    /// Print the request with its fields, tasks and timeline.
    Show,
    /// The requester's satisfaction score (1–5) once it is fulfilled.
    Rate(u8),
}

/// Which requests `/itsm requests` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestList {
    /// Open requests I asked for or took.
    Mine,
    /// Approved, in progress or on hold: the team's work.
    Queue,
    /// Awaiting approval.
    Approvals,
}

/// What to do with an existing change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeCommand {
    /// A lifecycle action.
    Act(crate::domain::change::ChangeAction),
    /// Print the change with its approvals and timeline.
    Show,
}

/// A new incident as someone reported it (a command, a form, an intake
/// message, a reaction, the API), before the engine fills in the defaults.
/// "Intake", not "report": a report is a period's figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentIntake {
    pub title: Title,
    pub description: Option<FreeText>,
    pub priority: Option<Priority>,
    pub impact: Option<Level>,
    pub urgency: Option<Level>,
    pub service: Option<String>,
}

impl IncidentIntake {
    /// A report of a chat message (an intake message, a ticket reaction, a
    /// "Create incident" shortcut): its first line is the title; the
    /// message is quoted, shortened to fit, with its author and a link.
    pub fn from_chat_message(
        text: &str,
        author: Option<&str>,
        link: &str,
    ) -> Result<Self, super::Refusal> {
        let title = crate::domain::text::summarize_title(text)
            .map_err(|err| super::Refusal::new(super::refusal::sentence(&err.to_string())))?;
        let short: String = text.chars().take(3_000).collect();
        let mut quoted: String = short.lines().map(|line| format!("> {line}\n")).collect();
        if short.len() < text.len() {
            quoted.push_str("> …\n");
        }
        let by = author.map(|a| format!(" by {a}")).unwrap_or_default();
        let description = FreeText::parse(
            "description",
            &format!("{quoted}Reported from a message{by}: {link}"),
        )
        .ok();
        Ok(IncidentIntake {
            title,
            description,
            priority: None,
            impact: None,
            urgency: None,
            service: None,
        })
    }
}

/// What to do with an existing incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IncidentCommand {
    /// A lifecycle action.
    Act(IncidentAction),
    /// Print the ticket with its timeline.
    Show,
    /// The reporter's satisfaction score, 1–5.
    Rate(u8),
    /// Link the incident to a problem (`/incident INC-m problem PRB-n`).
    LinkProblem(TicketRef),
    /// `/incident INC-n outage [since <time>]`: count it as downtime of its
    /// service from `since` (default: when it was reported) until resolved.
    Outage(Option<crate::domain::change::StartTime>),
    /// `/incident INC-n public <text>`: an update for the status page.
    Public(FreeText),
    /// `/incident INC-n postmortem`: start the post-incident review, or
    /// show it as it stands.
    Postmortem,
    /// `/incident INC-n postmortem set <section> <text>`.
    PostmortemSet(crate::domain::postmortem::Section, FreeText),
    /// `/incident INC-n action <text> [@owner] [due:YYYY-MM-DD]`.
    AddAction(ActionDraft),
    /// `/incident INC-n duplicate-of INC-m`: close n as a duplicate of m;
    /// n's reporter follows m.
    DuplicateOf(TicketRef),
    /// `/incident INC-n accept-suggestion`: apply the triage suggestion
    /// (service and priority).
    AcceptSuggestion,
}

/// A new action item as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionDraft {
    pub text: FreeText,
    pub owner: Option<crate::domain::UserId>,
    pub due: Option<chrono::NaiveDate>,
}

/// What `/itsm timezone` is asked to do with a person's zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZoneChoice {
    /// Use this zone.
    Set(chrono_tz::Tz),
    /// Forget it: follow the platform profile, then the team's zone.
    Reset,
}

/// Questions that change nothing (and the few settings a person changes
/// for themselves).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryCommand {
    /// `/itsm help [topic]`
    Help(Option<String>),
    /// `/itsm mine`: open incidents assigned to or reported by me.
    Mine,
    /// `/itsm open [P1…]`: open incidents, optionally of some priorities.
    Open(Vec<Priority>),
    /// `/itsm whoami`: my user id and roles.
    Whoami,
    /// `/itsm timezone [<IANA zone> | reset]`: show, set or forget my own
    /// time zone.
    TimeZone(Option<ZoneChoice>),
    /// `/itsm sla`: the SLA policies.
    Sla,
    /// `/itsm report [day|week|month]`: the figures of a period.
    /// `/itsm report [day|week|month] [date]`: the calendar period
    /// containing the date, or the rolling window ending now.
    Report(crate::domain::report::Period, Option<chrono::NaiveDate>),
    /// `/itsm changes [today|week]`: the change schedule.
    Changes(ScheduleRange),
    /// `/itsm requests [mine|queue|approvals]`: open service requests.
    Requests(RequestList),
    /// `/itsm grant @user role` (admins only).
    Grant(crate::domain::UserId, crate::domain::Role),
    /// `/itsm revoke @user role` (admins only).
    Revoke(crate::domain::UserId, crate::domain::Role),
    /// `/itsm outbox` (admins): what waits to be sent (posts, paging
    /// events, outbound calls), and what was parked.
    Outbox,
    /// `/itsm outbox retry [id…]` (admins): queue parked rows again, each
    /// named by its queue and id.
    OutboxRetry(Vec<(crate::store::queue::Queue, i64)>),
    /// `/itsm services`: the catalog with each service's status.
    Services,
    /// `/itsm service <name>`: one service in detail.
    Service(String),
    /// `/itsm oncall [service|rotation]`: who is on call now and next.
    Oncall(Option<String>),
    /// `/itsm oncall override @user <start> <duration> [rotation]`.
    OncallOverride(OverrideRequest),
    /// `/itsm actions [mine]`: open action items, overdue ones marked.
    Actions { mine: bool },
    /// `/itsm action <id> done`.
    ActionDone(i64),
    /// `/itsm rules`: the automation rules and how often they fired.
    Rules,
    /// `/itsm runbooks`: what can be run, by whom.
    Runbooks,
    /// `/itsm run <runbook> [INC-n] key=value…`.
    Run {
        runbook: String,
        incident: Option<TicketRef>,
        args: Vec<String>,
    },
    /// `/itsm action <id> problem|change`: raise the action item as a new
    /// problem or a draft change; the item records it and stays open.
    RaiseAction(i64, crate::domain::postmortem::RaiseAs),
}

/// `/itsm oncall override`: who covers which stretch, of which rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverrideRequest {
    pub member: crate::domain::UserId,
    pub start: crate::domain::change::StartTime,
    pub duration: chrono::Duration,
    /// The rotation, when the person is not in exactly one.
    pub rotation: Option<String>,
}

/// Which part of the change schedule to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleRange {
    /// Windows that overlap today (in the change time zone).
    Today,
    /// Windows that overlap the next seven days.
    Week,
    /// Every upcoming and running window.
    Upcoming,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chat_message_becomes_a_report_that_fits() {
        let report = IncidentIntake::from_chat_message(
            "VPN down\nsince 9am",
            Some("slack:U1"),
            "https://x/1",
        )
        .unwrap();
        assert_eq!(report.title.as_str(), "VPN down");
        let description = report.description.unwrap();
        assert!(description
            .as_str()
            .starts_with("> VPN down\n> since 9am\n"));
        assert!(description
            .as_str()
            .ends_with("Reported from a message by slack:U1: https://x/1"));

        let long = "word ".repeat(900);
        let report = IncidentIntake::from_chat_message(&long, None, "https://x/2").unwrap();
        let description = report
            .description
            .expect("a long message is shortened, not dropped");
        assert!(
            description.as_str().contains("> …") && description.as_str().ends_with("https://x/2")
        );
        assert!(IncidentIntake::from_chat_message("   ", None, "https://x/3").is_err());
    }
}

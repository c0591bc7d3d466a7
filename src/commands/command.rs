//! The command language as values.

use crate::domain::incident::IncidentAction;
use crate::domain::{FreeText, Level, Priority, TicketRef, Title};

/// Everything a person can ask of the bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Report a new incident.
    ReportIncident(IncidentReport),
    /// Open the incident form where the platform has one.
    OpenIncidentForm,
    /// Work or show an existing incident.
    Incident(TicketRef, IncidentCommand),
    /// A reply in a chat thread: a note on the incident discussed there, if any.
    ThreadReply(FreeText),
    /// Ask something of the service desk.
    Query(QueryCommand),
}

/// A new incident as reported, before the engine fills in the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentReport {
    pub title: Title,
    pub description: Option<FreeText>,
    pub priority: Option<Priority>,
    pub impact: Option<Level>,
    pub urgency: Option<Level>,
    pub service: Option<String>,
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
}

/// Questions that change nothing.
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
    /// `/itsm sla`: the SLA policies.
    Sla,
    /// `/itsm report [day|week|month]`: the figures of a period.
    Report(crate::domain::report::Period),
}

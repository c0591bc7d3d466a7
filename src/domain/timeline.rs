//! The append-only timeline: every change to a ticket, who made it and when.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use super::user::UserId;

/// What happened to a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventAction {
    Created,
    Acknowledged,
    Assigned,
    PriorityChanged,
    Note,
    Held,
    Resumed,
    Resolved,
    Closed,
    Reopened,
    Rated,
    Submitted,
    ApprovalGiven,
    Approved,
    Rejected,
    Started,
    Completed,
    Failed,
    RolledBack,
    Cancelled,
    Planned,
    Scheduled,
    Assessed,
    Flagged,
    Reminded,
    Linked,
    Investigating,
    RootCause,
    Workaround,
    KnownError,
    FixLinked,
    Outage,
    PublicUpdate,
    Paged,
    Escalated,
    /// A post-incident review was started.
    ReviewCreated,
    /// A section of the post-incident review was edited.
    ReviewEdited,
    /// An action item was agreed.
    ActionAdded,
    /// An action item was done.
    ActionDone,
    /// An automation rule acted on the ticket (`to` names the rule).
    RuleFired,
    /// An automation rule failed (`to` names the rule).
    RuleFailed,
    /// Someone asked for a runbook to run (`to` names it).
    RunbookRequested,
    /// An outbound call (a rule's webhook, a runbook) was answered with success.
    CallSucceeded,
    /// An outbound call failed (tried again, or given up).
    CallFailed,
    /// An action item was raised as a problem or a change.
    ActionRaised,
    /// A knowledge article's body was written or rewritten.
    Edited,
    /// A knowledge article was published.
    Published,
    /// A knowledge article was retired.
    Retired,
    /// An incident was closed as a duplicate of another (`to` names it), or
    /// took in a duplicate (`to` names the duplicate).
    Duplicate,
    /// A triage suggestion was accepted (`to` names what was set).
    Triaged,
    /// A service request's fulfilment task was done (`to` names it).
    TaskDone,
    /// A service request was fulfilled.
    Fulfilled,
}

impl EventAction {
    const ALL: [EventAction; 52] = [
        EventAction::Created,
        EventAction::Acknowledged,
        EventAction::Assigned,
        EventAction::PriorityChanged,
        EventAction::Note,
        EventAction::Held,
        EventAction::Resumed,
        EventAction::Resolved,
        EventAction::Closed,
        EventAction::Reopened,
        EventAction::Rated,
        EventAction::Submitted,
        EventAction::ApprovalGiven,
        EventAction::Approved,
        EventAction::Rejected,
        EventAction::Started,
        EventAction::Completed,
        EventAction::Failed,
        EventAction::RolledBack,
        EventAction::Cancelled,
        EventAction::Planned,
        EventAction::Scheduled,
        EventAction::Assessed,
        EventAction::Flagged,
        EventAction::Reminded,
        EventAction::Linked,
        EventAction::Investigating,
        EventAction::RootCause,
        EventAction::Workaround,
        EventAction::KnownError,
        EventAction::FixLinked,
        EventAction::Outage,
        EventAction::PublicUpdate,
        EventAction::Paged,
        EventAction::Escalated,
        EventAction::ReviewCreated,
        EventAction::ReviewEdited,
        EventAction::ActionAdded,
        EventAction::ActionDone,
        EventAction::RuleFired,
        EventAction::RuleFailed,
        EventAction::RunbookRequested,
        EventAction::CallSucceeded,
        EventAction::CallFailed,
        EventAction::ActionRaised,
        EventAction::Edited,
        EventAction::Published,
        EventAction::Retired,
        EventAction::Duplicate,
        EventAction::Triaged,
        EventAction::TaskDone,
        EventAction::Fulfilled,
    ];

    /// The name stored in `ticket_events.action`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventAction::Created => "created",
            EventAction::Acknowledged => "acknowledged",
            EventAction::Assigned => "assigned",
            EventAction::PriorityChanged => "priority_changed",
            EventAction::Note => "note",
            EventAction::Held => "held",
            EventAction::Resumed => "resumed",
            EventAction::Resolved => "resolved",
            EventAction::Closed => "closed",
            EventAction::Reopened => "reopened",
            EventAction::Rated => "rated",
            EventAction::Submitted => "submitted",
            EventAction::ApprovalGiven => "approval",
            EventAction::Approved => "approved",
            EventAction::Rejected => "rejected",
            EventAction::Started => "started",
            EventAction::Completed => "completed",
            EventAction::Failed => "failed",
            EventAction::RolledBack => "rolled_back",
            EventAction::Cancelled => "cancelled",
            EventAction::Planned => "planned",
            EventAction::Scheduled => "scheduled",
            EventAction::Assessed => "assessed",
            EventAction::Flagged => "flagged",
            EventAction::Reminded => "reminded",
            EventAction::Linked => "linked",
            EventAction::Investigating => "investigating",
            EventAction::RootCause => "root_cause",
            EventAction::Workaround => "workaround",
            EventAction::KnownError => "known_error",
            EventAction::FixLinked => "fix_linked",
            EventAction::Outage => "outage",
            EventAction::PublicUpdate => "public_update",
            EventAction::Paged => "paged",
            EventAction::Escalated => "escalated",
            EventAction::ReviewCreated => "review_created",
            EventAction::ReviewEdited => "review_edited",
            EventAction::ActionAdded => "action_added",
            EventAction::ActionDone => "action_done",
            EventAction::RuleFired => "rule_fired",
            EventAction::RuleFailed => "rule_failed",
            EventAction::RunbookRequested => "runbook_requested",
            EventAction::CallSucceeded => "call_succeeded",
            EventAction::CallFailed => "call_failed",
            EventAction::ActionRaised => "action_raised",
            EventAction::Edited => "edited",
            EventAction::Published => "published",
            EventAction::Retired => "retired",
            EventAction::Duplicate => "duplicate",
            EventAction::Triaged => "triaged",
            EventAction::TaskDone => "task_done",
            EventAction::Fulfilled => "fulfilled",
        }
    }
}

impl FromStr for EventAction {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|action| action.as_str() == text)
            .ok_or_else(|| format!("unknown timeline action `{text}`"))
    }
}

impl fmt::Display for EventAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event about to be written: the store adds the ticket, actor and time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub action: EventAction,
    pub from: Option<String>,
    pub to: Option<String>,
    pub body: Option<String>,
}

impl NewEvent {
    /// An event with nothing but its action.
    pub fn new(action: EventAction) -> Self {
        NewEvent {
            action,
            from: None,
            to: None,
            body: None,
        }
    }

    /// Records a change of a value.
    pub fn change(mut self, from: Option<String>, to: impl Into<String>) -> Self {
        self.from = from;
        self.to = Some(to.into());
        self
    }

    /// Adds the text that came with the event (a note, a reason, a resolution).
    pub fn body(mut self, body: impl Into<String>) -> Self {
        self.body = Some(body.into());
        self
    }
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: UserId,
    pub action: EventAction,
    pub from: Option<String>,
    pub to: Option<String>,
    pub body: Option<String>,
}

impl Event {
    /// One line describing the event, without its time and actor.
    pub fn describe(&self) -> String {
        let change = match (&self.from, &self.to) {
            (Some(from), Some(to)) => format!(" {from} → {to}"),
            (None, Some(to)) => format!(" {to}"),
            _ => String::new(),
        };
        let body = self
            .body
            .as_deref()
            .map(|body| format!(": {body}"))
            .unwrap_or_default();
        let verb = match self.action {
            EventAction::PriorityChanged => "priority",
            EventAction::Note => "note",
            EventAction::ReviewCreated => "review started",
            EventAction::ReviewEdited => "review section",
            EventAction::ActionAdded => "action item",
            EventAction::ActionDone => "action item done",
            EventAction::RuleFired => "rule",
            EventAction::RuleFailed => "rule failed",
            EventAction::RunbookRequested => "runbook",
            EventAction::CallSucceeded => "call",
            EventAction::CallFailed => "call failed",
            EventAction::ActionRaised => "action item raised",
            EventAction::TaskDone => "task done",
            other => other.as_str(),
        };
        format!("{verb}{change}{body}")
    }
}

//! Service requests (ITIL 4 service request management): a person asks for
//! something from the catalog (`[[requests.catalog]]`), approvers approve
//! it, the team fulfils it task by task.
//!
//! Lifecycle: `awaiting_approval → approved → in_progress → fulfilled →
//! closed`, `rejected` from `awaiting_approval`, `cancelled` from any open
//! state, and `on_hold` (waiting on the requester) from `approved` or
//! `in_progress`, back with `resume`. An item without approvers starts
//! `approved`.
//!
//! Tasks may be done in any order: the catalog lists them in the usual
//! order, but a team often does two at once (ordering while imaging a
//! spare) or one outside the bot, and refusing `task 3 done` because task
//! 2 was not recorded yet would make people record things that did not
//! happen. `fulfil` needs every task done, so nothing is skipped.
//!
//! Pure: [`ServiceRequest::apply`] returns the next state and the timeline
//! events; the engine stores them and checks the roles it can only know
//! from the database in [`ApplyContext`].

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::incident::Origin;
use super::reference::{TicketKind, TicketRef};
use super::roles::{Role, RoleSet};
use super::text::FreeText;
use super::timeline::{EventAction, NewEvent};
use super::user::{Platform, UserId};

/// The longest field value accepted.
pub const MAX_FIELD_CHARS: usize = 200;

/// The kind of a catalog item's field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldKind {
    /// Free text on one line.
    Text,
    /// One of these words.
    Choice(Vec<String>),
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// A person: `@name`, `me` or `platform:id`.
    User,
}

impl FieldKind {
    /// What a value of this kind looks like, for messages.
    pub fn describe(&self) -> String {
        match self {
            FieldKind::Text => "text".into(),
            FieldKind::Choice(words) => format!("one of {}", words.join(", ")),
            FieldKind::Date => "a date YYYY-MM-DD".into(),
            FieldKind::User => "a person (@name, me or platform:id)".into(),
        }
    }

    /// A value that would work, for examples.
    pub fn example(&self) -> String {
        match self {
            FieldKind::Text => "\"some text\"".into(),
            FieldKind::Choice(words) => words.first().cloned().unwrap_or_default(),
            FieldKind::Date => "2026-12-24".into(),
            FieldKind::User => "me".into(),
        }
    }
}

/// One field of a catalog item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSpec {
    pub name: String,
    pub kind: FieldKind,
    pub required: bool,
}

/// Who may approve an item's requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Approver {
    /// This person.
    User(UserId),
    /// Anyone with this role (`"role:manager"`).
    Role(Role),
}

impl fmt::Display for Approver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Approver::User(user) => write!(f, "{user}"),
            Approver::Role(role) => write!(f, "role:{role}"),
        }
    }
}

/// Who fulfils an item's requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Team {
    /// Anyone with this role (default `role:engineer`).
    Role(Role),
    /// The members of this on-call rotation.
    Rotation(String),
}

impl fmt::Display for Team {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Team::Role(role) => write!(f, "role:{role}"),
            Team::Rotation(name) => write!(f, "{name}"),
        }
    }
}

/// One `[[requests.catalog]]` entry, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogItem {
    /// The word after `/request`.
    pub name: String,
    pub title: String,
    pub description: String,
    pub fields: Vec<FieldSpec>,
    /// Empty: no approval, requests start approved.
    pub approval: Vec<Approver>,
    /// Distinct approvers a request needs.
    pub approvals_needed: u32,
    pub team: Team,
    /// The fulfilment steps, in their usual order.
    pub tasks: Vec<String>,
    /// Business time from approval to fulfilment, in counted hours (`3d`
    /// in config is three working days of [`CatalogItem::business_day`]).
    pub fulfil_within: Option<Duration>,
    /// The length of a working day in the item's calendar, for writing
    /// business time in days.
    pub business_day: Duration,
    /// The business calendar `fulfil_within` counts in.
    pub calendar: Option<String>,
    /// The runbook run on approval, with the fields as parameters.
    pub runbook: Option<String>,
    /// The team's channel, where the item's request cards are posted
    /// (`channel`, else `requests.channel`); `None`: where it was asked.
    pub channel: Option<super::channel::ChannelRef>,
}

impl CatalogItem {
    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<&FieldSpec> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// A submitted form's values of the item's fields, in the item's
    /// order: each field `value_of` gives a value for (a form left empty
    /// gives none). Both chat forms read their submissions through this.
    pub fn form_values(
        &self,
        mut value_of: impl FnMut(&str) -> Option<String>,
    ) -> Vec<(String, String)> {
        self.fields
            .iter()
            .filter_map(|f| Some((f.name.clone(), value_of(&f.name)?)))
            .collect()
    }

    /// The item's form as one line: `/request laptop model:<13-inch|15-inch> [reason:<text>]`.
    pub fn usage(&self) -> String {
        let mut parts = vec![format!("/request {}", self.name)];
        for field in &self.fields {
            let value = match &field.kind {
                FieldKind::Choice(words) => words.join("|"),
                FieldKind::Text => "text".into(),
                FieldKind::Date => "YYYY-MM-DD".into(),
                FieldKind::User => "@user".into(),
            };
            if field.required {
                parts.push(format!("{}:<{value}>", field.name));
            } else {
                parts.push(format!("[{}:<{value}>]", field.name));
            }
        }
        parts.push("[details]".into());
        parts.join(" ")
    }

    /// Whether `actor` (with `roles`) is one of the listed approvers.
    pub fn may_approve(&self, actor: &UserId, roles: &RoleSet) -> bool {
        self.approval.iter().any(|approver| match approver {
            Approver::User(user) => user == actor,
            Approver::Role(role) => roles.allows(*role),
        })
    }

    /// The approvers as a list for messages.
    pub fn approvers(&self) -> String {
        self.approval
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Where a request is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestStatus {
    AwaitingApproval,
    Approved,
    InProgress,
    OnHold,
    Fulfilled,
    Closed,
    Rejected,
    Cancelled,
}

impl RequestStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [RequestStatus; 8] = [
        RequestStatus::AwaitingApproval,
        RequestStatus::Approved,
        RequestStatus::InProgress,
        RequestStatus::OnHold,
        RequestStatus::Fulfilled,
        RequestStatus::Closed,
        RequestStatus::Rejected,
        RequestStatus::Cancelled,
    ];

    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::AwaitingApproval => "awaiting_approval",
            RequestStatus::Approved => "approved",
            RequestStatus::InProgress => "in_progress",
            RequestStatus::OnHold => "on_hold",
            RequestStatus::Fulfilled => "fulfilled",
            RequestStatus::Closed => "closed",
            RequestStatus::Rejected => "rejected",
            RequestStatus::Cancelled => "cancelled",
        }
    }

    /// Whether the request can still move towards fulfilment.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            RequestStatus::AwaitingApproval
                | RequestStatus::Approved
                | RequestStatus::InProgress
                | RequestStatus::OnHold
        )
    }
}

impl FromStr for RequestStatus {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| {
                format!(
                    "`{text}` is not a request status; use one of {}",
                    Self::ALL.map(RequestStatus::as_str).join(", ")
                )
            })
    }
}

impl fmt::Display for RequestStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

pub use super::approval::Approval;

/// A service request as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRequest {
    pub id: i64,
    pub number: i64,
    /// The catalog item's name.
    pub item: String,
    pub title: String,
    /// The free text the requester added.
    pub description: String,
    pub status: RequestStatus,
    pub requester: UserId,
    /// Who took it.
    pub assignee: Option<UserId>,
    /// Field name → value, as validated.
    pub fields: BTreeMap<String, String>,
    pub approvals: Vec<Approval>,
    /// Done tasks, by their 1-based number.
    pub tasks_done: Vec<u32>,
    /// Where `resume` goes back to.
    pub status_before_hold: Option<RequestStatus>,
    /// Why it was rejected, cancelled or put on hold.
    pub reason: Option<String>,
    /// The fulfilment note (or the runbook's answer).
    pub outcome: Option<String>,
    pub origin: Origin,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub approved_at: Option<DateTime<Utc>>,
    pub fulfilled_at: Option<DateTime<Utc>>,
}

/// A request about to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRequest {
    pub item: String,
    pub title: String,
    pub description: String,
    pub status: RequestStatus,
    pub requester: UserId,
    pub fields: BTreeMap<String, String>,
    pub origin: Origin,
}

impl NewRequest {
    /// A request for `item` with checked `fields`: awaiting approval, or
    /// approved when the item names no approvers.
    pub fn new(
        item: &CatalogItem,
        requester: UserId,
        fields: BTreeMap<String, String>,
        description: Option<&FreeText>,
        origin: Origin,
    ) -> Self {
        NewRequest {
            item: item.name.clone(),
            title: item.title.clone(),
            description: description.map(|d| d.to_string()).unwrap_or_default(),
            status: if item.approval.is_empty() {
                RequestStatus::Approved
            } else {
                RequestStatus::AwaitingApproval
            },
            requester,
            fields,
            origin,
        }
    }
}

/// What a person (or the runbook's answer) does to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestAction {
    Approve(Option<FreeText>),
    Reject(FreeText),
    Take,
    /// `task <k> done`, 1-based.
    TaskDone(u32),
    Note(FreeText),
    Fulfil(Option<FreeText>),
    Cancel(FreeText),
    Hold(FreeText),
    Resume,
    Close,
    /// The item's runbook answered with success (`runbook`, `answer`).
    RunbookDone {
        runbook: String,
        answer: String,
    },
    /// The item's runbook failed.
    RunbookFailed {
        runbook: String,
        error: String,
    },
}

impl RequestAction {
    /// The verb people type.
    pub fn verb(&self) -> &'static str {
        match self {
            RequestAction::Approve(_) => "approve",
            RequestAction::Reject(_) => "reject",
            RequestAction::Take => "take",
            RequestAction::TaskDone(_) => "task",
            RequestAction::Note(_) => "note",
            RequestAction::Fulfil(_) => "fulfil",
            RequestAction::Cancel(_) => "cancel",
            RequestAction::Hold(_) => "hold",
            RequestAction::Resume => "resume",
            RequestAction::Close => "close",
            RequestAction::RunbookDone { .. } | RequestAction::RunbookFailed { .. } => "runbook",
        }
    }
}

/// What the engine knows about the actor when applying an action.
#[derive(Debug, Clone)]
pub struct ApplyContext<'a> {
    pub actor: &'a UserId,
    pub roles: &'a RoleSet,
    /// Whether the actor is in the item's team (its role, or its rotation).
    pub in_team: bool,
    pub item: &'a CatalogItem,
    pub now: DateTime<Utc>,
}

/// Why an action was refused. The text says what would work instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("{reference} is {status}, so it cannot be {attempted}; {hint}")]
    IllegalTransition {
        reference: TicketRef,
        status: RequestStatus,
        attempted: &'static str,
        hint: String,
    },
    #[error("{reference} is your own request; a requester never approves their own (approvers: {approvers})")]
    OwnApproval {
        reference: TicketRef,
        approvers: String,
    },
    #[error("you are not an approver of `{item}` requests (approvers: {approvers})")]
    NotApprover { item: String, approvers: String },
    #[error(
        "you already approved {reference}; it needs approvals from {needed} different approvers"
    )]
    AlreadyApproved { reference: TicketRef, needed: u32 },
    #[error("only the `{item}` team ({team}) can {doing}; ask one of them")]
    NotTeam {
        item: String,
        team: String,
        doing: &'static str,
    },
    #[error("only the requester or the `{item}` team ({team}) can {doing} {reference}")]
    NotRequesterOrTeam {
        reference: TicketRef,
        item: String,
        team: String,
        doing: &'static str,
    },
    #[error("{reference} has {count} tasks; `task <k> done` takes a number from 1 to {count}")]
    NoSuchTask { reference: TicketRef, count: usize },
    #[error("task {task} of {reference} ({name}) is already done")]
    TaskAlreadyDone {
        reference: TicketRef,
        task: u32,
        name: String,
    },
    #[error("{reference} still has tasks to do: {}; mark each with `/request {reference} task <k> done`", .remaining.join(", "))]
    TasksRemaining {
        reference: TicketRef,
        remaining: Vec<String>,
    },
}

/// Why the values given for an item's fields are refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    #[error("`{item}` has no field `{field}`; its fields are {known}")]
    Unknown {
        item: String,
        field: String,
        known: String,
    },
    #[error("`{item}` needs {}; for example `{example}`", .missing.join(" and "))]
    Missing {
        item: String,
        /// Each missing field with what it takes: `model (one of …)`.
        missing: Vec<String>,
        /// The first missing field's name.
        first: String,
        example: String,
    },
    #[error("`{value}` is not a valid {field}: it must be {expected}")]
    BadValue {
        field: String,
        value: String,
        expected: String,
    },
    #[error("`{field}` is given twice; give it once")]
    Twice { field: String },
}

impl FieldError {
    /// The field the error is about, so a form shows it there.
    pub fn field(&self) -> &str {
        match self {
            FieldError::Unknown { field, .. }
            | FieldError::BadValue { field, .. }
            | FieldError::Twice { field } => field,
            FieldError::Missing { first, .. } => first,
        }
    }
}

/// The result of a legal action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub request: ServiceRequest,
    pub events: Vec<NewEvent>,
}

/// Checks `given` (field, value) pairs against `item`: every field known,
/// every required one present, each value of its kind. Returns the values
/// as stored (choices as the catalog spells them, people as `platform:id`).
pub fn check_fields(
    item: &CatalogItem,
    given: &[(String, String)],
    platform: Platform,
    actor: &UserId,
) -> Result<BTreeMap<String, String>, FieldError> {
    let mut values = BTreeMap::new();
    for (name, value) in given {
        let name_lower = name.to_ascii_lowercase();
        let Some(spec) = item.field(&name_lower) else {
            return Err(FieldError::Unknown {
                item: item.name.clone(),
                field: name.clone(),
                known: known_fields(item),
            });
        };
        let checked = check_value(spec, value, platform, actor)?;
        if values.insert(spec.name.clone(), checked).is_some() {
            return Err(FieldError::Twice {
                field: spec.name.clone(),
            });
        }
    }
    let missing_fields: Vec<&FieldSpec> = item
        .fields
        .iter()
        .filter(|f| f.required && !values.contains_key(&f.name))
        .collect();
    if let Some(first) = missing_fields.first() {
        let missing = missing_fields
            .iter()
            .map(|f| format!("{} ({})", f.name, f.kind.describe()))
            .collect();
        // The example keeps what was given, so it can be copied and
        // completed rather than typed again; nothing missing is guessed.
        let example = std::iter::once(format!("/request {}", item.name))
            .chain(item.fields.iter().filter_map(|f| {
                match given
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case(&f.name))
                {
                    Some((_, value)) if value.contains(char::is_whitespace) => {
                        Some(format!("{}:\"{value}\"", f.name))
                    }
                    Some((_, value)) => Some(format!("{}:{value}", f.name)),
                    None if f.required => Some(format!("{}:{}", f.name, f.kind.example())),
                    None => None,
                }
            }))
            .collect::<Vec<_>>()
            .join(" ");
        return Err(FieldError::Missing {
            item: item.name.clone(),
            missing,
            first: first.name.clone(),
            example,
        });
    }
    Ok(values)
}

fn known_fields(item: &CatalogItem) -> String {
    if item.fields.is_empty() {
        return "none: add details as free text".into();
    }
    item.fields
        .iter()
        .map(|f| format!("{} ({})", f.name, f.kind.describe()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn check_value(
    spec: &FieldSpec,
    value: &str,
    platform: Platform,
    actor: &UserId,
) -> Result<String, FieldError> {
    let bad = || FieldError::BadValue {
        field: spec.name.clone(),
        value: value.chars().take(40).collect(),
        expected: spec.kind.describe(),
    };
    let value = value.trim();
    if value.is_empty()
        || value.chars().count() > MAX_FIELD_CHARS
        || value.chars().any(char::is_control)
    {
        return Err(FieldError::BadValue {
            field: spec.name.clone(),
            value: value.chars().take(40).collect(),
            expected: format!(
                "{}, 1 to {MAX_FIELD_CHARS} characters on one line",
                spec.kind.describe()
            ),
        });
    }
    match &spec.kind {
        FieldKind::Text => Ok(value.to_string()),
        FieldKind::Choice(words) => words
            .iter()
            .find(|w| w.eq_ignore_ascii_case(value))
            .cloned()
            .ok_or_else(bad),
        FieldKind::Date => NaiveDate::parse_from_str(value, "%Y-%m-%d")
            .map(|d| d.to_string())
            .map_err(|_| bad()),
        FieldKind::User => UserId::from_mention(value, platform, actor)
            .map(|u| u.to_string())
            .map_err(|_| bad()),
    }
}

impl ServiceRequest {
    /// This request's reference, `REQ-<n>`.
    pub fn reference(&self) -> TicketRef {
        TicketRef {
            kind: TicketKind::Request,
            number: self.number,
        }
    }

    /// The item's tasks not done yet, as `k. name`.
    pub fn remaining_tasks(&self, item: &CatalogItem) -> Vec<String> {
        item.tasks
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.tasks_done.contains(&(*i as u32 + 1)))
            .map(|(i, name)| format!("{}. {name}", i + 1))
            .collect()
    }

    /// Applies `action` in `ctx`, or says why not. Pure: the caller stores
    /// the result.
    pub fn apply(
        &self,
        action: &RequestAction,
        ctx: &ApplyContext<'_>,
    ) -> Result<Applied, RequestError> {
        use RequestStatus::*;
        let mut next = self.clone();
        next.updated_at = ctx.now;
        let mut events = Vec::new();
        let reference = self.reference();
        let illegal = |attempted: &'static str, hint: &str| RequestError::IllegalTransition {
            reference,
            status: self.status,
            attempted,
            hint: hint.to_string(),
        };
        let team = |doing: &'static str| -> Result<(), RequestError> {
            if ctx.in_team {
                Ok(())
            } else {
                Err(RequestError::NotTeam {
                    item: ctx.item.name.clone(),
                    team: ctx.item.team.to_string(),
                    doing,
                })
            }
        };
        let requester_or_team = |doing: &'static str| -> Result<(), RequestError> {
            if ctx.in_team || ctx.actor == &self.requester {
                Ok(())
            } else {
                Err(RequestError::NotRequesterOrTeam {
                    reference,
                    item: ctx.item.name.clone(),
                    team: ctx.item.team.to_string(),
                    doing,
                })
            }
        };
        match action {
            RequestAction::Approve(comment) => {
                if self.status != AwaitingApproval {
                    return Err(illegal(
                        "approved",
                        "only a request awaiting approval is approved",
                    ));
                }
                if ctx.actor == &self.requester {
                    return Err(RequestError::OwnApproval {
                        reference,
                        approvers: ctx.item.approvers(),
                    });
                }
                if !ctx.item.may_approve(ctx.actor, ctx.roles) {
                    return Err(RequestError::NotApprover {
                        item: ctx.item.name.clone(),
                        approvers: ctx.item.approvers(),
                    });
                }
                if self.approvals.iter().any(|a| &a.approver == ctx.actor) {
                    return Err(RequestError::AlreadyApproved {
                        reference,
                        needed: ctx.item.approvals_needed,
                    });
                }
                next.approvals.push(Approval {
                    approver: ctx.actor.clone(),
                    at: ctx.now,
                    comment: comment.as_ref().map(ToString::to_string),
                });
                let mut given = NewEvent::new(EventAction::ApprovalGiven).change(
                    None,
                    format!("{}/{}", next.approvals.len(), ctx.item.approvals_needed),
                );
                if let Some(comment) = comment {
                    given = given.body(comment.as_str());
                }
                events.push(given);
                if next.approvals.len() as u32 >= ctx.item.approvals_needed {
                    next.status = Approved;
                    next.approved_at = Some(ctx.now);
                    events.push(
                        NewEvent::new(EventAction::Approved)
                            .change(Some(self.status.to_string()), Approved.as_str()),
                    );
                }
            }
            RequestAction::Reject(reason) => {
                if self.status != AwaitingApproval {
                    return Err(illegal("rejected", "only a request awaiting approval is rejected; `cancel <why>` stops an approved one"));
                }
                if ctx.actor == &self.requester {
                    return Err(RequestError::OwnApproval {
                        reference,
                        approvers: ctx.item.approvers(),
                    });
                }
                if !ctx.item.may_approve(ctx.actor, ctx.roles) {
                    return Err(RequestError::NotApprover {
                        item: ctx.item.name.clone(),
                        approvers: ctx.item.approvers(),
                    });
                }
                next.status = Rejected;
                next.reason = Some(reason.to_string());
                events.push(
                    NewEvent::new(EventAction::Rejected)
                        .change(Some(self.status.to_string()), Rejected.as_str())
                        .body(reason.as_str()),
                );
            }
            RequestAction::Take => {
                team("take a request")?;
                match self.status {
                    Approved | InProgress => {}
                    AwaitingApproval => return Err(illegal("taken", "it is taken once approved")),
                    OnHold => return Err(illegal("taken", "`resume` it first")),
                    _ => return Err(illegal("taken", "it is no longer open")),
                }
                if self.status == InProgress && self.assignee.as_ref() == Some(ctx.actor) {
                    return Err(illegal("taken again", "you already have it"));
                }
                next.assignee = Some(ctx.actor.clone());
                events.push(NewEvent::new(EventAction::Assigned).change(
                    self.assignee.as_ref().map(ToString::to_string),
                    ctx.actor.to_string(),
                ));
                if self.status == Approved {
                    next.status = InProgress;
                    events.push(
                        NewEvent::new(EventAction::Started)
                            .change(Some(Approved.to_string()), InProgress.as_str()),
                    );
                }
            }
            RequestAction::TaskDone(task) => {
                team("mark tasks done")?;
                if self.status != InProgress {
                    return Err(illegal(
                        "worked on",
                        match self.status {
                            Approved => "`take` it first",
                            OnHold => "`resume` it first",
                            AwaitingApproval => "it needs approval first",
                            _ => "it is no longer open",
                        },
                    ));
                }
                let count = ctx.item.tasks.len();
                let Some(name) = (*task as usize)
                    .checked_sub(1)
                    .and_then(|i| ctx.item.tasks.get(i))
                else {
                    return Err(RequestError::NoSuchTask { reference, count });
                };
                if self.tasks_done.contains(task) {
                    return Err(RequestError::TaskAlreadyDone {
                        reference,
                        task: *task,
                        name: name.clone(),
                    });
                }
                next.tasks_done.push(*task);
                next.tasks_done.sort_unstable();
                events.push(
                    NewEvent::new(EventAction::TaskDone).change(None, format!("{task}. {name}")),
                );
            }
            RequestAction::Note(text) => {
                if !self.status.is_open() && self.status != Fulfilled {
                    return Err(illegal("noted", "it is closed"));
                }
                events.push(NewEvent::new(EventAction::Note).body(text.as_str()));
            }
            RequestAction::Fulfil(note) => {
                team("fulfil a request")?;
                if self.status != InProgress {
                    return Err(illegal(
                        "fulfilled",
                        match self.status {
                            Approved => "`take` it first",
                            OnHold => "`resume` it first",
                            AwaitingApproval => "it needs approval first",
                            _ => "it is no longer open",
                        },
                    ));
                }
                let remaining = self.remaining_tasks(ctx.item);
                if !remaining.is_empty() {
                    return Err(RequestError::TasksRemaining {
                        reference,
                        remaining,
                    });
                }
                self.fulfil(
                    &mut next,
                    &mut events,
                    ctx.now,
                    note.as_ref().map(FreeText::as_str),
                );
            }
            RequestAction::Cancel(why) => {
                requester_or_team("cancel")?;
                if !self.status.is_open() {
                    return Err(illegal("cancelled", "it is no longer open"));
                }
                next.status = Cancelled;
                next.reason = Some(why.to_string());
                events.push(
                    NewEvent::new(EventAction::Cancelled)
                        .change(Some(self.status.to_string()), Cancelled.as_str())
                        .body(why.as_str()),
                );
            }
            RequestAction::Hold(why) => {
                team("put a request on hold")?;
                if !matches!(self.status, Approved | InProgress) {
                    return Err(illegal(
                        "put on hold",
                        "only an approved or in-progress request waits on its requester",
                    ));
                }
                next.status_before_hold = Some(self.status);
                next.status = OnHold;
                next.reason = Some(why.to_string());
                events.push(
                    NewEvent::new(EventAction::Held)
                        .change(Some(self.status.to_string()), OnHold.as_str())
                        .body(why.as_str()),
                );
            }
            RequestAction::Resume => {
                requester_or_team("resume")?;
                if self.status != OnHold {
                    return Err(illegal("resumed", "only a request on hold is resumed"));
                }
                let back = self.status_before_hold.unwrap_or(Approved);
                next.status = back;
                next.status_before_hold = None;
                events.push(
                    NewEvent::new(EventAction::Resumed)
                        .change(Some(OnHold.to_string()), back.as_str()),
                );
            }
            RequestAction::Close => {
                requester_or_team("close")?;
                if self.status != Fulfilled {
                    return Err(illegal(
                        "closed",
                        "only a fulfilled request is closed; `cancel <why>` stops an open one",
                    ));
                }
                next.status = Closed;
                events.push(
                    NewEvent::new(EventAction::Closed)
                        .change(Some(Fulfilled.to_string()), Closed.as_str()),
                );
            }
            // The call itself is on the timeline already (the outbound
            // worker records every call); these only move the request.
            RequestAction::RunbookDone { answer, .. } => match self.status {
                // The runbook did the work; tasks, if any, stay for people.
                Approved | InProgress if self.remaining_tasks(ctx.item).is_empty() => {
                    self.fulfil(&mut next, &mut events, ctx.now, Some(answer));
                }
                Approved => self.start(&mut next, &mut events),
                // Cancelled or on hold while the call ran: the state stays.
                _ => {}
            },
            RequestAction::RunbookFailed { .. } => {
                // In progress, so the team sees it is theirs to finish.
                if self.status == Approved {
                    self.start(&mut next, &mut events);
                }
            }
        }
        Ok(Applied {
            request: next,
            events,
        })
    }

    fn start(&self, next: &mut ServiceRequest, events: &mut Vec<NewEvent>) {
        next.status = RequestStatus::InProgress;
        events.push(NewEvent::new(EventAction::Started).change(
            Some(self.status.to_string()),
            RequestStatus::InProgress.as_str(),
        ));
    }

    fn fulfil(
        &self,
        next: &mut ServiceRequest,
        events: &mut Vec<NewEvent>,
        now: DateTime<Utc>,
        note: Option<&str>,
    ) {
        next.status = RequestStatus::Fulfilled;
        next.fulfilled_at = Some(now);
        next.outcome = note.map(str::to_string);
        let mut event = NewEvent::new(EventAction::Fulfilled).change(
            Some(self.status.to_string()),
            RequestStatus::Fulfilled.as_str(),
        );
        if let Some(note) = note {
            event = event.body(note);
        }
        events.push(event);
    }
}

/// Where a request's fulfilment clock stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FulfilClock {
    /// Not started: awaiting approval (the clock starts at approval).
    NotStarted,
    /// Running: due at this instant.
    Due(DateTime<Utc>),
    /// Paused: on hold, waiting on the requester, with this much counted
    /// time left.
    Paused { left: Duration },
    /// Fulfilled at `at`, on time or not.
    Stopped { at: DateTime<Utc>, met: bool },
}

/// The fulfilment clock of a request approved at `approved_at` (if yet),
/// counted in `hours` for `within`, paused for every hold in `holds`
/// (start, end; `None` while still on hold), as it stands at `now` or at
/// fulfilment. Pure: the holds come from the request's timeline.
pub fn fulfil_clock(
    approved_at: Option<DateTime<Utc>>,
    fulfilled_at: Option<DateTime<Utc>>,
    within: Duration,
    hours: &super::calendar::Hours,
    holds: &[(DateTime<Utc>, Option<DateTime<Utc>>)],
    now: DateTime<Utc>,
) -> FulfilClock {
    let Some(start) = approved_at else {
        return FulfilClock::NotStarted;
    };
    let paused: Duration = holds
        .iter()
        .filter(|(from, _)| *from >= start)
        .map(|(from, to)| hours.elapsed(*from, to.unwrap_or(now)))
        .fold(Duration::zero(), |sum, d| sum + d);
    let due = hours.add(start, within + paused);
    if let Some(at) = fulfilled_at {
        return FulfilClock::Stopped { at, met: at <= due };
    }
    if holds
        .iter()
        .any(|(from, to)| *from >= start && to.is_none())
    {
        let counted = hours.elapsed(start, now) - paused;
        return FulfilClock::Paused {
            left: within - counted,
        };
    }
    FulfilClock::Due(due)
}

/// The instant the fulfilment clock of a request approved at `approved_at`
/// is due, as the figures judge it: `within` counted in `hours` from
/// approval, moved on by every hold that ended; `None` before approval and
/// while a hold pauses it with time left. A clock held only after its due
/// instant passed stays due then: it was already breached.
pub fn fulfil_due(
    approved_at: Option<DateTime<Utc>>,
    within: Duration,
    hours: &super::calendar::Hours,
    holds: &[(DateTime<Utc>, Option<DateTime<Utc>>)],
) -> Option<DateTime<Utc>> {
    let start = approved_at?;
    let held: Duration = holds
        .iter()
        .filter_map(|(from, to)| Some((*from, (*to)?)))
        .filter(|(from, _)| *from >= start)
        .map(|(from, to)| hours.elapsed(from, to))
        .fold(Duration::zero(), |sum, d| sum + d);
    let due = hours.add(start, within + held);
    let open_hold = holds
        .iter()
        .find(|(from, to)| *from >= start && to.is_none());
    match open_hold {
        Some((from, _)) if due > *from => None,
        _ => Some(due),
    }
}

/// Business time counted on a fulfilment clock started at `start`, by
/// `now`, less the time on hold.
pub fn fulfil_counted(
    start: DateTime<Utc>,
    hours: &super::calendar::Hours,
    holds: &[(DateTime<Utc>, Option<DateTime<Utc>>)],
    now: DateTime<Utc>,
) -> Duration {
    let paused = holds
        .iter()
        .filter(|(from, _)| *from >= start)
        .map(|(from, to)| hours.elapsed(*from, to.unwrap_or(now).min(now)))
        .fold(Duration::zero(), |sum, d| sum + d);
    hours.elapsed(start, now) - paused
}

/// The highest of `thresholds` (percent, ascending, 100 = breach) that
/// `counted` of `within` has reached, if any.
pub fn threshold_reached(counted: Duration, within: Duration, thresholds: &[u8]) -> Option<u8> {
    let within = within.num_seconds();
    if within <= 0 {
        return None;
    }
    let used = counted.num_seconds().saturating_mul(100);
    thresholds
        .iter()
        .copied()
        .filter(|t| used >= within.saturating_mul(i64::from(*t)))
        .max()
}

/// The holds of a request from its timeline's held and resumed events, in
/// order: (held at, resumed at).
pub fn holds_of(events: &[super::timeline::Event]) -> Vec<(DateTime<Utc>, Option<DateTime<Utc>>)> {
    let mut holds: Vec<(DateTime<Utc>, Option<DateTime<Utc>>)> = Vec::new();
    for event in events {
        match event.action {
            EventAction::Held => holds.push((event.at, None)),
            EventAction::Resumed => {
                if let Some(last) = holds.last_mut().filter(|h| h.1.is_none()) {
                    last.1 = Some(event.at);
                }
            }
            _ => {}
        }
    }
    holds
}

/// The catalog item closest to `word` by edit distance, for a did-you-mean.
pub fn closest<'a>(catalog: &'a [CatalogItem], word: &str) -> Option<&'a CatalogItem> {
    let word = word.to_ascii_lowercase();
    catalog
        .iter()
        .map(|item| (edit_distance(&item.name, &word), item))
        .filter(|(distance, item)| *distance <= (item.name.len() / 2).max(2))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, item)| item)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = if ca == *cb {
                previous
            } else {
                1 + previous.min(row[j]).min(row[j + 1])
            };
            previous = current;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests;

//! Change requests and their lifecycle:
//! `draft → submitted → approved | rejected`,
//! `approved → in_progress → completed | failed | rolled_back`,
//! `failed → rolled_back` (a failed change is then rolled back),
//! `cancelled` from any open state.
//!
//! The rules that need no database live here: what `submit` requires, who
//! may approve, how many approvals make a change approved, freeze periods,
//! and starting before the window. The engine supplies what the database
//! knows (overlapping changes) in an [`ApplyContext`].

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

use super::incident::Origin;
use super::priority::Level;
use super::reference::TicketRef;
use super::roles::Role;
use super::text::FreeText;
use super::timeline::NewEvent;
use super::user::UserId;

mod apply;
mod window;

pub use window::{Freeze, StartTime, Window, WindowError};

/// Standard changes are pre-approved; normal ones go to the CAB; emergency
/// ones need one emergency CAB approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeType {
    Standard,
    Normal,
    Emergency,
}

impl ChangeType {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeType::Standard => "standard",
            ChangeType::Normal => "normal",
            ChangeType::Emergency => "emergency",
        }
    }
}

impl FromStr for ChangeType {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "standard" => Ok(ChangeType::Standard),
            "normal" => Ok(ChangeType::Normal),
            "emergency" => Ok(ChangeType::Emergency),
            _ => Err(format!(
                "`{text}` is not a change type; use standard, normal or emergency"
            )),
        }
    }
}

impl fmt::Display for ChangeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How risky a change is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Risk {
    Low,
    Medium,
    High,
}

impl Risk {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Risk::Low => "low",
            Risk::Medium => "medium",
            Risk::High => "high",
        }
    }
}

impl FromStr for Risk {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "l" | "low" => Ok(Risk::Low),
            "m" | "med" | "medium" => Ok(Risk::Medium),
            "h" | "high" => Ok(Risk::High),
            _ => Err(format!("`{text}` is not a risk; use low, medium or high")),
        }
    }
}

impl fmt::Display for Risk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Risk {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// One row of the risk matrix: the risk for each likelihood at one impact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LikelihoodRow {
    pub high: Risk,
    pub medium: Risk,
    pub low: Risk,
}

/// The impact × likelihood → risk matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskMatrix {
    pub high: LikelihoodRow,
    pub medium: LikelihoodRow,
    pub low: LikelihoodRow,
}

impl RiskMatrix {
    /// The risk of a change with this impact and likelihood.
    pub fn risk(&self, impact: Level, likelihood: Level) -> Risk {
        let row = match impact {
            Level::High => &self.high,
            Level::Medium => &self.medium,
            Level::Low => &self.low,
        };
        match likelihood {
            Level::High => row.high,
            Level::Medium => row.medium,
            Level::Low => row.low,
        }
    }
}

impl Default for RiskMatrix {
    /// high impact is high risk unless unlikely; low impact is low risk
    /// unless likely; the middle is medium.
    fn default() -> Self {
        use Risk::*;
        RiskMatrix {
            high: LikelihoodRow {
                high: High,
                medium: High,
                low: Medium,
            },
            medium: LikelihoodRow {
                high: High,
                medium: Medium,
                low: Low,
            },
            low: LikelihoodRow {
                high: Medium,
                medium: Low,
                low: Low,
            },
        }
    }
}

/// Why a change has the risk it has, so that what is shown beside the risk
/// is its reason. A change's risk comes from the risk matrix (its impact
/// and likelihood), from the standard change it follows (standard changes
/// are pre-approved because their risk is known and low), or from a person
/// who set it with `risk:` or `risk <level>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RiskBasis<'a> {
    /// The matrix gives this risk for the change's impact and likelihood.
    Matrix,
    /// A standard change from the catalog entry `name`, pre-approved.
    Standard(&'a str),
    /// A standard change a run of the runbook `name` made.
    Runbook(&'a str),
    /// Set by a person; the matrix would give `matrix`.
    Stated { matrix: Risk },
}

/// Where a change is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeStatus {
    Draft,
    Submitted,
    Approved,
    Rejected,
    InProgress,
    Completed,
    Failed,
    RolledBack,
    Cancelled,
}

impl ChangeStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [ChangeStatus; 9] = [
        ChangeStatus::Draft,
        ChangeStatus::Submitted,
        ChangeStatus::Approved,
        ChangeStatus::Rejected,
        ChangeStatus::InProgress,
        ChangeStatus::Completed,
        ChangeStatus::Failed,
        ChangeStatus::RolledBack,
        ChangeStatus::Cancelled,
    ];

    /// The name stored in the database and shown to people.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeStatus::Draft => "draft",
            ChangeStatus::Submitted => "submitted",
            ChangeStatus::Approved => "approved",
            ChangeStatus::Rejected => "rejected",
            ChangeStatus::InProgress => "in_progress",
            ChangeStatus::Completed => "completed",
            ChangeStatus::Failed => "failed",
            ChangeStatus::RolledBack => "rolled_back",
            ChangeStatus::Cancelled => "cancelled",
        }
    }

    /// Whether the change can still move.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            ChangeStatus::Draft
                | ChangeStatus::Submitted
                | ChangeStatus::Approved
                | ChangeStatus::InProgress
        )
    }
}

impl FromStr for ChangeStatus {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
            .ok_or_else(|| format!("unknown change status `{text}`"))
    }
}

impl fmt::Display for ChangeStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

pub use super::approval::Approval;

/// How a standard change made by a runbook run names its runbook in
/// `standard`: `runbook:provision-vm`.
pub const RUNBOOK_PREFIX: &str = "runbook:";

/// A change request as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub id: i64,
    pub number: i64,
    pub title: String,
    pub description: String,
    pub change_type: ChangeType,
    /// The `[[change.standard_catalog]]` entry a standard change follows.
    pub standard: Option<String>,
    pub status: ChangeStatus,
    pub service: Option<String>,
    pub requester: UserId,
    pub implementer: Option<UserId>,
    pub plan: Option<String>,
    pub test_plan: Option<String>,
    pub rollback_plan: Option<String>,
    pub window: Option<Window>,
    pub impact: Level,
    pub likelihood: Level,
    pub risk: Risk,
    pub approvals: Vec<Approval>,
    /// The window takes the service down on purpose; downtime in it does
    /// not count against availability.
    pub planned_outage: bool,
    pub rejection: Option<String>,
    /// What happened: the post-implementation review note, the failure, the rollback.
    pub outcome: Option<String>,
    pub origin: Origin,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub approved_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// A change about to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewChange {
    pub title: String,
    pub description: String,
    pub change_type: ChangeType,
    pub standard: Option<String>,
    pub service: Option<String>,
    pub requester: UserId,
    pub plan: Option<String>,
    pub test_plan: Option<String>,
    pub rollback_plan: Option<String>,
    pub impact: Level,
    pub likelihood: Level,
    pub risk: Risk,
    pub origin: Origin,
}

/// Which of the three plans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanKind {
    Implementation,
    Test,
    Rollback,
}

impl PlanKind {
    /// The verb that sets it and the field it names on the timeline.
    pub fn verb(self) -> &'static str {
        match self {
            PlanKind::Implementation => "plan",
            PlanKind::Test => "test",
            PlanKind::Rollback => "rollback",
        }
    }

    /// How people call it.
    pub fn noun(self) -> &'static str {
        match self {
            PlanKind::Implementation => "implementation plan",
            PlanKind::Test => "test plan",
            PlanKind::Rollback => "rollback plan",
        }
    }
}

/// What a person wants done to a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeAction {
    Describe(FreeText),
    Plan(PlanKind, FreeText),
    /// `window <start> <duration>`, the start as typed.
    Schedule(StartTime, Duration),
    Assess {
        impact: Level,
        likelihood: Level,
    },
    SetRisk(Risk),
    Implementer(UserId),
    /// `outage`: the window takes the service down on purpose.
    PlannedOutage,
    Note(FreeText),
    Submit,
    Approve(Option<FreeText>),
    Reject(FreeText),
    /// `start`; `start now` confirms a start before the window opens.
    Start {
        confirmed: bool,
    },
    Complete(Option<FreeText>),
    Fail(FreeText),
    RolledBack(Option<FreeText>),
    Cancel(Option<FreeText>),
}

impl ChangeAction {
    /// The verb people type for this action.
    pub fn verb(&self) -> &'static str {
        match self {
            ChangeAction::Describe(_) => "describe",
            ChangeAction::Plan(kind, _) => kind.verb(),
            ChangeAction::Schedule(..) => "window",
            ChangeAction::Assess { .. } => "assess",
            ChangeAction::SetRisk(_) => "risk",
            ChangeAction::Implementer(_) => "implementer",
            ChangeAction::PlannedOutage => "outage",
            ChangeAction::Note(_) => "note",
            ChangeAction::Submit => "submit",
            ChangeAction::Approve(_) => "approve",
            ChangeAction::Reject(_) => "reject",
            ChangeAction::Start { .. } => "start",
            ChangeAction::Complete(_) => "complete",
            ChangeAction::Fail(_) => "fail",
            ChangeAction::RolledBack(_) => "rolled-back",
            ChangeAction::Cancel(_) => "cancel",
        }
    }

    /// Whether this is a CAB decision (approve or reject).
    pub fn is_decision(&self) -> bool {
        matches!(self, ChangeAction::Approve(_) | ChangeAction::Reject(_))
    }
}

/// What a freeze or overlap does to a window, per config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GuardMode {
    /// Say so on the change and to approvers, but go ahead.
    Flag,
    /// Refuse.
    Refuse,
}

/// What `start` does before the window opens, per config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EarlyStart {
    /// Refuse until `start now` confirms it.
    Confirm,
    /// Refuse.
    Refuse,
}

/// The rules of the lifecycle that come from config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRules {
    /// Approvals a normal change needs.
    pub required_approvals: u32,
    /// The zone `YYYY-MM-DDTHH:MM` starts are read in.
    pub time_zone: Tz,
    pub freezes: Vec<Freeze>,
    pub early_start: EarlyStart,
    /// What a window overlapping another change on the same service does.
    pub overlap: GuardMode,
    pub risk_matrix: RiskMatrix,
}

impl Default for ChangeRules {
    fn default() -> Self {
        ChangeRules {
            required_approvals: 2,
            time_zone: Tz::UTC,
            freezes: Vec::new(),
            early_start: EarlyStart::Confirm,
            overlap: GuardMode::Flag,
            risk_matrix: RiskMatrix::default(),
        }
    }
}

/// What the engine knows beyond the change itself when applying an action.
#[derive(Debug, Clone)]
pub struct ApplyContext<'a> {
    pub actor: &'a UserId,
    pub now: DateTime<Utc>,
    pub rules: &'a ChangeRules,
    /// Approved or in-progress changes on the same service whose windows
    /// overlap this change's (or the new) window.
    pub overlapping: &'a [TicketRef],
}

/// Why an action was refused. The text says what would work instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeError {
    #[error("{reference} is {status}, so it cannot be {attempted}; {hint}")]
    IllegalTransition {
        reference: TicketRef,
        status: ChangeStatus,
        attempted: &'static str,
        hint: String,
    },
    #[error("{reference} cannot be submitted yet: it has no {}; set {} first", .missing.join(", "), .commands.join(", "))]
    Incomplete {
        reference: TicketRef,
        missing: Vec<&'static str>,
        commands: Vec<String>,
    },
    #[error("{reference} was requested by you; a requester never approves their own change, another CAB member has to")]
    OwnApproval { reference: TicketRef },
    #[error(
        "you already approved {reference}; it needs approvals from {needed} different CAB members"
    )]
    AlreadyApproved { reference: TicketRef, needed: u32 },
    #[error("{reference} is a standard change: it is approved when it is submitted, with no CAB decision")]
    StandardNeedsNoDecision { reference: TicketRef },
    #[error("{0}")]
    Window(#[from] WindowError),
    #[error("{reference}'s window {window} falls in the `{freeze}` freeze ({period}); only emergency changes may be carried out then. Choose a window outside it")]
    Frozen {
        reference: TicketRef,
        window: String,
        freeze: String,
        period: String,
    },
    #[error("{reference}'s window overlaps {} on the same service; choose another window", .others.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))]
    Overlap {
        reference: TicketRef,
        others: Vec<TicketRef>,
    },
    #[error(
        "{reference}'s window opens at {opens} ({until} from now); `{command}` starts it anyway"
    )]
    EarlyStartNeedsConfirmation {
        reference: TicketRef,
        opens: String,
        until: String,
        command: String,
    },
    #[error("{reference}'s window opens at {opens}; it cannot be started before then")]
    EarlyStartRefused { reference: TicketRef, opens: String },
    #[error("{reference} is already {what}")]
    Unchanged { reference: TicketRef, what: String },
}

/// The result of a legal action: the change's new state, the events that
/// record it, and warnings for the requester and the approvers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub change: Change,
    pub events: Vec<NewEvent>,
    /// Guard warnings (freeze for an emergency change, overlaps), also on
    /// the timeline as `flagged` events.
    pub flags: Vec<String>,
}

/// An instant as change messages and timelines show it: in `zone` (the
/// change zone), labelled with its abbreviation.
pub fn show_time(at: DateTime<Utc>, zone: Tz) -> String {
    super::moment::plain(at, zone)
}

impl Change {
    /// This change's reference, `CHG-<n>`.
    pub fn reference(&self) -> TicketRef {
        TicketRef {
            kind: super::reference::TicketKind::Change,
            number: self.number,
        }
    }

    /// The role whose members decide on this change.
    pub fn approver_role(&self) -> Role {
        match self.change_type {
            ChangeType::Emergency => Role::EmergencyCab,
            ChangeType::Standard | ChangeType::Normal => Role::Cab,
        }
    }

    /// The runbook this change runs, when it is a runbook's run that asked
    /// for approval (`standard = "runbook:<name>"`).
    pub fn runbook(&self) -> Option<&str> {
        match self.change_type {
            ChangeType::Standard => self.standard.as_deref()?.strip_prefix(RUNBOOK_PREFIX),
            _ => None,
        }
    }

    /// Why the change has its risk, judged against `matrix`: when the
    /// matrix gives the same risk for its impact and likelihood, the matrix;
    /// otherwise the standard change or runbook it follows, or a person.
    pub fn risk_basis(&self, matrix: &RiskMatrix) -> RiskBasis<'_> {
        let from_matrix = matrix.risk(self.impact, self.likelihood);
        if self.risk == from_matrix {
            return RiskBasis::Matrix;
        }
        if let Some(runbook) = self.runbook() {
            return RiskBasis::Runbook(runbook);
        }
        match (self.change_type, self.standard.as_deref()) {
            (ChangeType::Standard, Some(name)) => RiskBasis::Standard(name),
            _ => RiskBasis::Stated {
                matrix: from_matrix,
            },
        }
    }

    /// Approvals this change needs before it is approved.
    pub fn approvals_needed(&self, rules: &ChangeRules) -> u32 {
        match self.change_type {
            // A runbook that asks for approval asks one CAB member.
            ChangeType::Standard if self.runbook().is_some() => 1,
            ChangeType::Standard => 0,
            ChangeType::Normal => rules.required_approvals.max(1),
            ChangeType::Emergency => 1,
        }
    }

    /// What `submit` still needs, as (noun, command) pairs.
    pub fn missing_for_submit(&self) -> Vec<(&'static str, &'static str)> {
        let mut missing = Vec::new();
        if self.plan.is_none() {
            missing.push(("implementation plan", "plan <text>"));
        }
        if self.test_plan.is_none() {
            missing.push(("test plan", "test <text>"));
        }
        if self.rollback_plan.is_none() {
            missing.push(("rollback plan", "rollback <text>"));
        }
        if self.window.is_none() {
            missing.push(("window", "window <start> <duration>"));
        }
        missing
    }
}

/// Parses a start as typed: `YYYY-MM-DDTHH:MM` (local to the change time
/// zone) or RFC 3339 with an offset.
pub fn parse_start(text: &str) -> Result<StartTime, WindowError> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(StartTime::Fixed(at.with_timezone(&Utc)));
    }
    // `2026-12-01T22:00Z`, `…22:00+01:00`: RFC 3339 but for the seconds,
    // as people type it.
    if let (Some(minutes), Some(offset)) = (text.get(..16), text.get(16..)) {
        if offset.starts_with(['Z', 'z', '+', '-']) {
            if let Ok(at) = DateTime::parse_from_rfc3339(&format!("{minutes}:00{offset}")) {
                return Ok(StartTime::Fixed(at.with_timezone(&Utc)));
            }
        }
    }
    for format in ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(local) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(StartTime::Local(local));
        }
    }
    Err(WindowError::BadStart(text.to_string()))
}

#[cfg(test)]
mod tests;

//! Change requests and their lifecycle:
//! `draft → submitted → approved | rejected`,
//! `approved → in_progress → completed | failed | rolled_back`,
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

use super::duration::format_duration;
use super::incident::Origin;
use super::priority::Level;
use super::reference::TicketRef;
use super::roles::Role;
use super::text::FreeText;
use super::timeline::{EventAction, NewEvent};
use super::user::UserId;

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

/// One CAB member's approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    pub approver: UserId,
    pub at: DateTime<Utc>,
    pub comment: Option<String>,
}

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

/// An instant as shown in change messages.
pub fn show_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
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

    /// The freezes `window` falls in.
    fn freezes_hit<'r>(&self, window: &Window, rules: &'r ChangeRules) -> Vec<&'r Freeze> {
        rules
            .freezes
            .iter()
            .filter(|freeze| freeze.overlaps(window))
            .collect()
    }

    /// Applies the window guards: freezes (refused unless emergency) and
    /// overlaps (flagged or refused per config). Returns the flags.
    fn guard_window(
        &self,
        window: &Window,
        ctx: &ApplyContext<'_>,
    ) -> Result<Vec<String>, ChangeError> {
        let reference = self.reference();
        let mut flags = Vec::new();
        for freeze in self.freezes_hit(window, ctx.rules) {
            if self.change_type == ChangeType::Emergency {
                flags.push(format!(
                    "Emergency change in the `{}` freeze ({}).",
                    freeze.name,
                    freeze.describe()
                ));
            } else {
                return Err(ChangeError::Frozen {
                    reference,
                    window: window.describe(),
                    freeze: freeze.name.clone(),
                    period: freeze.describe(),
                });
            }
        }
        if !ctx.overlapping.is_empty() {
            if ctx.rules.overlap == GuardMode::Refuse && self.change_type != ChangeType::Emergency {
                return Err(ChangeError::Overlap {
                    reference,
                    others: ctx.overlapping.to_vec(),
                });
            }
            flags.push(format!(
                "Window overlaps {} on {}.",
                ctx.overlapping
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                self.service.as_deref().unwrap_or("the same service")
            ));
        }
        Ok(flags)
    }

    /// Applies `action` in `ctx`, or says why it is not allowed. Pure: the
    /// caller stores the result. Role checks are the caller's; this checks
    /// what depends on the change (own approval, repeated approval, …).
    pub fn apply(
        &self,
        action: &ChangeAction,
        ctx: &ApplyContext<'_>,
    ) -> Result<Applied, ChangeError> {
        use ChangeStatus::*;
        let reference = self.reference();
        let mut next = self.clone();
        next.updated_at = ctx.now;
        let mut events = Vec::new();
        let mut flags = Vec::new();
        let illegal = |attempted: &'static str, hint: String| ChangeError::IllegalTransition {
            reference,
            status: self.status,
            attempted,
            hint,
        };
        let draft_only = |attempted: &'static str| {
            if self.status == Draft {
                Ok(())
            } else {
                Err(illegal(
                    attempted,
                    "only a draft can be edited; cancel it and draft a new change if the plans must change".into(),
                ))
            }
        };
        match action {
            ChangeAction::Describe(text) => {
                draft_only("edited")?;
                next.description = text.to_string();
                events.push(
                    NewEvent::new(EventAction::Planned)
                        .change(None, "description")
                        .body(text.as_str()),
                );
            }
            ChangeAction::Plan(kind, text) => {
                draft_only("edited")?;
                let slot = match kind {
                    PlanKind::Implementation => &mut next.plan,
                    PlanKind::Test => &mut next.test_plan,
                    PlanKind::Rollback => &mut next.rollback_plan,
                };
                *slot = Some(text.to_string());
                events.push(
                    NewEvent::new(EventAction::Planned)
                        .change(None, kind.noun())
                        .body(text.as_str()),
                );
            }
            ChangeAction::Schedule(start, duration) => {
                draft_only("rescheduled")?;
                let window = Window::new(start.resolve(ctx.rules.time_zone)?, *duration)?;
                if window.end() <= ctx.now {
                    return Err(WindowError::Ended {
                        window: window.describe(),
                    }
                    .into());
                }
                flags = self.guard_window(&window, ctx)?;
                next.window = Some(window);
                events.push(NewEvent::new(EventAction::Scheduled).change(
                    self.window.as_ref().map(Window::describe),
                    window.describe(),
                ));
            }
            ChangeAction::Assess { impact, likelihood } => {
                draft_only("reassessed")?;
                next.impact = *impact;
                next.likelihood = *likelihood;
                next.risk = ctx.rules.risk_matrix.risk(*impact, *likelihood);
                events.push(NewEvent::new(EventAction::Assessed).change(
                    Some(self.risk.to_string()),
                    format!("{} (impact {impact} × likelihood {likelihood})", next.risk),
                ));
            }
            ChangeAction::SetRisk(risk) => {
                draft_only("reassessed")?;
                if *risk == self.risk {
                    return Err(ChangeError::Unchanged {
                        reference,
                        what: format!("{risk} risk"),
                    });
                }
                next.risk = *risk;
                events.push(
                    NewEvent::new(EventAction::Assessed)
                        .change(Some(self.risk.to_string()), risk.to_string()),
                );
            }
            ChangeAction::Implementer(user) => {
                if !self.status.is_open() {
                    return Err(illegal("reassigned", "it is finished".into()));
                }
                if self.implementer.as_ref() == Some(user) {
                    return Err(ChangeError::Unchanged {
                        reference,
                        what: format!("implemented by {user}"),
                    });
                }
                next.implementer = Some(user.clone());
                events.push(NewEvent::new(EventAction::Assigned).change(
                    self.implementer.as_ref().map(ToString::to_string),
                    user.to_string(),
                ));
            }
            ChangeAction::PlannedOutage => {
                draft_only("edited")?;
                if self.planned_outage {
                    return Err(ChangeError::Unchanged {
                        reference,
                        what: "a planned outage".into(),
                    });
                }
                next.planned_outage = true;
                events.push(
                    NewEvent::new(EventAction::Planned)
                        .change(None, "planned outage")
                        .body("the window takes the service down; downtime in it is not counted"),
                );
            }
            ChangeAction::Note(text) => {
                events.push(NewEvent::new(EventAction::Note).body(text.as_str()));
            }
            ChangeAction::Submit => {
                if self.status != Draft {
                    return Err(illegal("submitted", "only a draft can be submitted".into()));
                }
                let missing = self.missing_for_submit();
                if !missing.is_empty() {
                    return Err(ChangeError::Incomplete {
                        reference,
                        missing: missing.iter().map(|(noun, _)| *noun).collect(),
                        commands: missing
                            .iter()
                            .map(|(_, command)| format!("`/change {reference} {command}`"))
                            .collect(),
                    });
                }
                if let Some(window) = &self.window {
                    if window.end() <= ctx.now {
                        return Err(WindowError::Ended {
                            window: window.describe(),
                        }
                        .into());
                    }
                    flags = self.guard_window(window, ctx)?;
                }
                next.status = Submitted;
                next.submitted_at = Some(ctx.now);
                events.push(
                    NewEvent::new(EventAction::Submitted)
                        .change(Some(Draft.to_string()), Submitted.to_string()),
                );
                if self.change_type == ChangeType::Standard {
                    next.status = Approved;
                    next.approved_at = Some(ctx.now);
                    let entry = self.standard.as_deref().unwrap_or("the catalog");
                    events.push(
                        NewEvent::new(EventAction::Approved)
                            .change(Some(Submitted.to_string()), Approved.to_string())
                            .body(format!("pre-approved standard change ({entry})")),
                    );
                }
            }
            ChangeAction::Approve(comment) => {
                self.check_decision(ctx, "approved")?;
                if self.approvals.iter().any(|a| &a.approver == ctx.actor) {
                    return Err(ChangeError::AlreadyApproved {
                        reference,
                        needed: self.approvals_needed(ctx.rules),
                    });
                }
                next.approvals.push(Approval {
                    approver: ctx.actor.clone(),
                    at: ctx.now,
                    comment: comment.as_ref().map(ToString::to_string),
                });
                let needed = self.approvals_needed(ctx.rules);
                let have = next.approvals.len() as u32;
                let mut approval = NewEvent::new(EventAction::ApprovalGiven)
                    .change(None, format!("{have} of {needed}"));
                if let Some(comment) = comment {
                    approval = approval.body(comment.as_str());
                }
                events.push(approval);
                if have >= needed {
                    next.status = Approved;
                    next.approved_at = Some(ctx.now);
                    events.push(
                        NewEvent::new(EventAction::Approved)
                            .change(Some(Submitted.to_string()), Approved.to_string()),
                    );
                }
            }
            ChangeAction::Reject(reason) => {
                self.check_decision(ctx, "rejected")?;
                next.status = Rejected;
                next.rejection = Some(reason.to_string());
                next.finished_at = Some(ctx.now);
                events.push(
                    NewEvent::new(EventAction::Rejected)
                        .change(Some(Submitted.to_string()), Rejected.to_string())
                        .body(reason.as_str()),
                );
            }
            ChangeAction::Start { confirmed } => {
                if self.status != Approved {
                    let hint = match self.status {
                        Draft => "submit it and have it approved first".to_string(),
                        Submitted => format!(
                            "it still needs {} more approval(s)",
                            self.approvals_needed(ctx.rules)
                                .saturating_sub(self.approvals.len() as u32)
                        ),
                        InProgress => "it is already under way".to_string(),
                        _ => "it is finished".to_string(),
                    };
                    return Err(illegal("started", hint));
                }
                let mut started = NewEvent::new(EventAction::Started)
                    .change(Some(Approved.to_string()), InProgress.to_string());
                if let Some(window) = &self.window {
                    if ctx.now < window.start {
                        match (ctx.rules.early_start, confirmed) {
                            (EarlyStart::Refuse, _) => {
                                return Err(ChangeError::EarlyStartRefused {
                                    reference,
                                    opens: show_time(window.start),
                                })
                            }
                            (EarlyStart::Confirm, false) => {
                                return Err(ChangeError::EarlyStartNeedsConfirmation {
                                    reference,
                                    opens: show_time(window.start),
                                    until: format_duration(Duration::minutes(
                                        (window.start - ctx.now).num_minutes().max(1),
                                    )),
                                    command: format!("/change {reference} start now"),
                                })
                            }
                            (EarlyStart::Confirm, true) => {
                                let flag = format!(
                                    "Started {} before its window opens ({}).",
                                    format_duration(Duration::minutes(
                                        (window.start - ctx.now).num_minutes().max(1)
                                    )),
                                    show_time(window.start)
                                );
                                started = started.body(flag.clone());
                                flags.push(flag);
                            }
                        }
                    } else if ctx.now >= window.end() {
                        let flag = format!(
                            "Started after its window ended ({}).",
                            show_time(window.end())
                        );
                        started = started.body(flag.clone());
                        flags.push(flag);
                    }
                }
                next.status = InProgress;
                next.started_at = Some(ctx.now);
                events.push(started);
            }
            ChangeAction::Complete(note) | ChangeAction::RolledBack(note) => {
                let (status, action, verb) = match action {
                    ChangeAction::Complete(_) => (Completed, EventAction::Completed, "completed"),
                    _ => (RolledBack, EventAction::RolledBack, "rolled back"),
                };
                self.finish(
                    &mut next,
                    &mut events,
                    status,
                    action,
                    verb,
                    note.as_ref().map(FreeText::as_str),
                    ctx,
                )?;
            }
            ChangeAction::Fail(what) => {
                self.finish(
                    &mut next,
                    &mut events,
                    Failed,
                    EventAction::Failed,
                    "failed",
                    Some(what.as_str()),
                    ctx,
                )?;
            }
            ChangeAction::Cancel(why) => {
                if !self.status.is_open() {
                    return Err(illegal("cancelled", "it is already finished".into()));
                }
                next.status = Cancelled;
                next.finished_at = Some(ctx.now);
                let mut event = NewEvent::new(EventAction::Cancelled)
                    .change(Some(self.status.to_string()), Cancelled.to_string());
                if let Some(why) = why {
                    event = event.body(why.as_str());
                    next.outcome = Some(why.to_string());
                }
                events.push(event);
            }
        }
        for flag in &flags {
            if !matches!(action, ChangeAction::Start { .. }) {
                events.push(NewEvent::new(EventAction::Flagged).body(flag.clone()));
            }
        }
        Ok(Applied {
            change: next,
            events,
            flags,
        })
    }

    fn check_decision(
        &self,
        ctx: &ApplyContext<'_>,
        attempted: &'static str,
    ) -> Result<(), ChangeError> {
        let reference = self.reference();
        if self.change_type == ChangeType::Standard && self.runbook().is_none() {
            return Err(ChangeError::StandardNeedsNoDecision { reference });
        }
        if self.status != ChangeStatus::Submitted {
            let hint = match self.status {
                ChangeStatus::Draft => {
                    format!("it has to be submitted first (`/change {reference} submit`)")
                }
                _ => "the decision has been made".to_string(),
            };
            return Err(ChangeError::IllegalTransition {
                reference,
                status: self.status,
                attempted,
                hint,
            });
        }
        if &self.requester == ctx.actor {
            return Err(ChangeError::OwnApproval { reference });
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn finish(
        &self,
        next: &mut Change,
        events: &mut Vec<NewEvent>,
        status: ChangeStatus,
        action: EventAction,
        verb: &'static str,
        note: Option<&str>,
        ctx: &ApplyContext<'_>,
    ) -> Result<(), ChangeError> {
        if self.status != ChangeStatus::InProgress {
            let hint = match self.status {
                ChangeStatus::Approved => {
                    format!("start it first (`/change {} start`)", self.reference())
                }
                _ => "only a change in progress can be finished".to_string(),
            };
            return Err(ChangeError::IllegalTransition {
                reference: self.reference(),
                status: self.status,
                attempted: verb,
                hint,
            });
        }
        next.status = status;
        next.finished_at = Some(ctx.now);
        let mut event =
            NewEvent::new(action).change(Some(self.status.to_string()), status.to_string());
        if let Some(note) = note {
            next.outcome = Some(note.to_string());
            event = event.body(note);
        }
        events.push(event);
        Ok(())
    }
}

/// Parses a start as typed: `YYYY-MM-DDTHH:MM` (local to the change time
/// zone) or RFC 3339 with an offset.
pub fn parse_start(text: &str) -> Result<StartTime, WindowError> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(StartTime::Fixed(at.with_timezone(&Utc)));
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

//! The API's JSON shapes. They are the contract with outside scripts: field
//! names stay stable even when the domain types behind them change.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::change::Change;
use crate::domain::incident::Incident;
use crate::domain::postmortem::ActionItem;
use crate::domain::problem::Problem;
use crate::domain::report::{ActionFigures, Figures, Report};
use crate::domain::timeline::Event;

fn time(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn time_opt(at: Option<chrono::DateTime<chrono::Utc>>) -> Option<String> {
    at.map(time)
}

/// An error answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// What was wrong, and what would work.
    pub error: String,
}

/// An incident.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IncidentDto {
    /// `INC-<n>`.
    pub reference: String,
    pub title: String,
    pub description: String,
    /// `new`, `acknowledged`, `on_hold`, `resolved` or `closed`.
    pub status: String,
    /// `P1` … `P4`.
    pub priority: String,
    pub impact: String,
    pub urgency: String,
    pub service: Option<String>,
    /// `platform:id`.
    pub reporter: String,
    pub assignee: Option<String>,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub updated_at: String,
    pub acknowledged_at: Option<String>,
    pub resolved_at: Option<String>,
    pub closed_at: Option<String>,
    pub resolution: Option<String>,
}

impl From<&Incident> for IncidentDto {
    fn from(incident: &Incident) -> Self {
        IncidentDto {
            reference: incident.reference().to_string(),
            title: incident.title.clone(),
            description: incident.description.clone(),
            status: incident.status.to_string(),
            priority: incident.priority.to_string(),
            impact: incident.impact.to_string(),
            urgency: incident.urgency.to_string(),
            service: incident.service.clone(),
            reporter: incident.reporter.to_string(),
            assignee: incident.assignee.as_ref().map(ToString::to_string),
            created_at: time(incident.created_at),
            updated_at: time(incident.updated_at),
            acknowledged_at: time_opt(incident.acknowledged_at),
            resolved_at: time_opt(incident.resolved_at),
            closed_at: time_opt(incident.closed_at),
            resolution: incident.resolution.clone(),
        }
    }
}

/// A problem.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ProblemDto {
    /// `PRB-<n>`.
    pub reference: String,
    pub title: String,
    pub description: String,
    /// `new`, `investigating`, `known_error`, `resolved` or `closed`.
    pub status: String,
    pub service: Option<String>,
    pub reporter: String,
    pub root_cause: Option<String>,
    pub workaround: Option<String>,
    /// `CHG-<n>` of the change that removes the cause.
    pub fix_change: Option<String>,
    pub resolution: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub known_error_at: Option<String>,
    pub resolved_at: Option<String>,
    pub closed_at: Option<String>,
}

impl From<&Problem> for ProblemDto {
    fn from(problem: &Problem) -> Self {
        ProblemDto {
            reference: format!("PRB-{}", problem.number),
            title: problem.title.clone(),
            description: problem.description.clone(),
            status: problem.status.to_string(),
            service: problem.service.clone(),
            reporter: problem.reporter.to_string(),
            root_cause: problem.root_cause.clone(),
            workaround: problem.workaround.clone(),
            fix_change: problem.fix_change.map(|r| r.to_string()),
            resolution: problem.resolution.clone(),
            created_at: time(problem.created_at),
            updated_at: time(problem.updated_at),
            known_error_at: time_opt(problem.known_error_at),
            resolved_at: time_opt(problem.resolved_at),
            closed_at: time_opt(problem.closed_at),
        }
    }
}

/// One CAB approval.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApprovalDto {
    pub approver: String,
    pub at: String,
    pub comment: Option<String>,
}

/// A change request.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ChangeDto {
    /// `CHG-<n>`.
    pub reference: String,
    pub title: String,
    pub description: String,
    /// `standard`, `normal` or `emergency`.
    pub change_type: String,
    /// `draft`, `submitted`, `approved`, `rejected`, `in_progress`,
    /// `completed`, `failed`, `rolled_back` or `cancelled`.
    pub status: String,
    pub service: Option<String>,
    pub requester: String,
    pub implementer: Option<String>,
    pub risk: String,
    pub impact: String,
    pub likelihood: String,
    pub plan: Option<String>,
    pub test_plan: Option<String>,
    pub rollback_plan: Option<String>,
    pub window_start: Option<String>,
    pub window_end: Option<String>,
    pub approvals: Vec<ApprovalDto>,
    pub rejection: Option<String>,
    pub outcome: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Change> for ChangeDto {
    fn from(change: &Change) -> Self {
        ChangeDto {
            reference: change.reference().to_string(),
            title: change.title.clone(),
            description: change.description.clone(),
            change_type: change.change_type.to_string(),
            status: change.status.to_string(),
            service: change.service.clone(),
            requester: change.requester.to_string(),
            implementer: change.implementer.as_ref().map(ToString::to_string),
            risk: change.risk.to_string(),
            impact: change.impact.to_string(),
            likelihood: change.likelihood.to_string(),
            plan: change.plan.clone(),
            test_plan: change.test_plan.clone(),
            rollback_plan: change.rollback_plan.clone(),
            window_start: change.window.map(|w| time(w.start)),
            window_end: change.window.map(|w| time(w.end())),
            approvals: change
                .approvals
                .iter()
                .map(|a| ApprovalDto {
                    approver: a.approver.to_string(),
                    at: time(a.at),
                    comment: a.comment.clone(),
                })
                .collect(),
            rejection: change.rejection.clone(),
            outcome: change.outcome.clone(),
            created_at: time(change.created_at),
            updated_at: time(change.updated_at),
        }
    }
}

/// One entry of a ticket's timeline.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EventDto {
    pub at: String,
    pub actor: String,
    /// e.g. `created`, `acknowledged`, `note`, `approved`.
    pub action: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub body: Option<String>,
}

impl From<&Event> for EventDto {
    fn from(event: &Event) -> Self {
        EventDto {
            at: time(event.at),
            actor: event.actor.to_string(),
            action: event.action.to_string(),
            from: event.from.clone(),
            to: event.to.clone(),
            body: event.body.clone(),
        }
    }
}

/// A ticket with its timeline.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WithTimeline<T> {
    #[serde(flatten)]
    pub ticket: T,
    pub timeline: Vec<EventDto>,
}

/// One page of a list.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PageOf<T> {
    pub items: Vec<T>,
    /// 1-based.
    pub page: i64,
    pub per_page: i64,
    /// Matching items on all pages.
    pub total: i64,
}

/// A new incident.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewIncidentDto {
    /// What is broken, up to 200 characters.
    pub title: String,
    pub description: Option<String>,
    /// `P1` … `P4`; from impact × urgency when absent.
    pub priority: Option<String>,
    /// `high`, `medium` or `low`.
    pub impact: Option<String>,
    pub urgency: Option<String>,
    /// A service from the catalog.
    pub service: Option<String>,
}

/// A span's figures, as served by `/api/v1/reports/{period}`
/// ([`ReportDto`]) and as `figures` in `/dashboard.json`, so a script
/// reads them the same way from both. Each is defined once, in
/// `docs/figures.md` and the domain's `Figures`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FiguresDto {
    /// Incidents opened in the span.
    pub opened: i64,
    /// Incidents resolved in the span that a person responded to.
    pub resolved: i64,
    /// Incidents resolved in the span by their monitoring source before
    /// any person responded; in no other figure.
    pub resolved_by_monitoring: i64,
    /// Incidents a person first responded to in the span.
    pub responded: i64,
    /// Mean time from report to a person's first response, in seconds,
    /// over `responded`.
    pub mtta_seconds: Option<i64>,
    /// Mean time from report to resolution, in seconds, over `resolved`.
    pub mttr_seconds: Option<i64>,
    /// SLA clocks judged met in the span (stopped at or before their due
    /// instant).
    pub sla_met: i64,
    /// SLA clocks judged in the span: `sla_met + breaches`.
    pub sla_total: i64,
    /// Percent (0–100) of SLA clocks met, `sla_met / sla_total`; absent
    /// when none was judged in the span.
    pub sla_compliance: Option<f64>,
    /// SLA clocks judged breached in the span (not stopped by their due
    /// instant, which falls in the span); each was announced.
    pub breaches: i64,
    /// Mean satisfaction score, 1 to 5, when anyone answered.
    pub csat_average: Option<f64>,
    /// Satisfaction answers in the span.
    pub csat_answers: i64,
    pub changes: ChangeFiguresDto,
    pub problems: ProblemFiguresDto,
    pub requests: RequestFiguresDto,
}

/// Service request fulfilment in a span.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RequestFiguresDto {
    /// Requests asked for in the span.
    pub opened: i64,
    /// Requests fulfilled in the span, and their mean time from ask to
    /// fulfilment in seconds.
    pub fulfilled: i64,
    pub time_to_fulfil_seconds: Option<i64>,
    /// Requests that needed approval approved in the span, and their mean
    /// time from ask to approval in seconds.
    pub approved: i64,
    pub approval_time_seconds: Option<i64>,
    /// Fulfilment clocks judged met and missed in the span, and the
    /// fulfilment SLA compliance in percent, met / (met + missed).
    pub fulfil_met: i64,
    pub fulfil_missed: i64,
    pub fulfil_compliance: Option<f64>,
    /// Satisfaction answers after fulfilment given in the span, and their
    /// mean score (1–5).
    pub csat_answers: i64,
    pub csat_average: Option<f64>,
}

/// Change enablement in a span.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChangeFiguresDto {
    /// Changes that finished in the span, under the status they have now.
    pub completed: i64,
    pub failed: i64,
    pub rolled_back: i64,
    pub cancelled: i64,
    pub rejected: i64,
    /// Percent completed of completed + failed + rolled back.
    pub success_rate: Option<f64>,
    /// Changes submitted in the span, and how many were emergencies.
    pub submitted: i64,
    pub emergency: i64,
    pub emergency_share: Option<f64>,
    /// Normal and emergency changes approved in the span, and their mean
    /// lead time from submission to approval in seconds.
    pub approved: i64,
    pub lead_time_seconds: Option<i64>,
}

/// Problem management in a span.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProblemFiguresDto {
    pub opened: i64,
    /// Incidents linked to a problem in the span.
    pub incidents_linked: i64,
}

impl From<&Figures> for FiguresDto {
    fn from(figures: &Figures) -> Self {
        let c = &figures.changes;
        FiguresDto {
            opened: figures.opened,
            resolved: figures.resolved,
            resolved_by_monitoring: figures.resolved_by_monitoring,
            responded: figures.responded,
            mtta_seconds: figures.mtta.map(|d| d.num_seconds()),
            mttr_seconds: figures.mttr.map(|d| d.num_seconds()),
            sla_met: figures.sla_met,
            sla_total: figures.sla_total(),
            sla_compliance: figures.compliance(),
            breaches: figures.breaches,
            csat_average: figures.csat_average(),
            csat_answers: figures.csat_answers(),
            changes: ChangeFiguresDto {
                completed: c.completed,
                failed: c.failed,
                rolled_back: c.rolled_back,
                cancelled: c.cancelled,
                rejected: c.rejected,
                success_rate: c.success_rate(),
                submitted: c.submitted,
                emergency: c.emergency,
                emergency_share: c.emergency_share(),
                approved: c.approved,
                lead_time_seconds: c.lead_time.map(|d| d.num_seconds()),
            },
            problems: ProblemFiguresDto {
                opened: figures.problems.opened,
                incidents_linked: figures.problems.incidents_linked,
            },
            requests: RequestFiguresDto {
                opened: figures.requests.opened,
                fulfilled: figures.requests.fulfilled,
                time_to_fulfil_seconds: figures.requests.time_to_fulfil.map(|d| d.num_seconds()),
                approved: figures.requests.approved,
                approval_time_seconds: figures.requests.approval_time.map(|d| d.num_seconds()),
                fulfil_met: figures.requests.fulfil_met,
                fulfil_missed: figures.requests.fulfil_missed,
                fulfil_compliance: figures.requests.compliance(),
                csat_answers: figures.requests.csat_answers,
                csat_average: figures.requests.csat_average,
            },
        }
    }
}

/// A report: a span's figures, as in the digest, and the state at its end.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReportDto {
    /// `day`, `week` or `month`.
    pub period: String,
    /// The calendar period (`2026-11-30`, `2026-W48`, `2026-11`); absent
    /// for a rolling window.
    pub name: Option<String>,
    /// Whether the span is a rolling window ending at `to` rather than a
    /// calendar period.
    pub rolling: bool,
    /// The span in words, with its time zone.
    pub label: String,
    /// The IANA zone calendar days are read in.
    pub time_zone: String,
    pub from: String,
    pub to: String,
    /// The instant the state below is read at: `to`, or now while the span
    /// is not over.
    pub as_of: String,
    /// The span's figures, inline.
    #[serde(flatten)]
    pub figures: FiguresDto,
    /// The span before, for the trend.
    pub previous: Option<FiguresDto>,
    /// Incidents open at `as_of`, P1 to P4.
    pub open_by_priority: [i64; 4],
    /// Problems that were known errors at `as_of`.
    pub known_errors_open: i64,
    /// Action items as they stood at `as_of`.
    pub action_items: ActionItemsDto,
    /// Each service's availability over the span, and its error budget
    /// spent over the rolling 30 days ending at `as_of`.
    pub availability: Vec<ReportAvailabilityDto>,
}

/// One service's availability in a report (the API's and the dashboard's).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReportAvailabilityDto {
    pub service: String,
    pub target_percent: f64,
    /// Over the span, measured up to `as_of`.
    pub availability_percent: f64,
    pub downtime_seconds: i64,
    pub met: bool,
    /// Percent of the error budget spent over the rolling 30 days.
    pub budget_spent_percent: f64,
}

/// Open and overdue action items, as a report shows them.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ActionItemsDto {
    /// The day overdue is judged on (`YYYY-MM-DD`, in the digest time zone):
    /// an open item due before it is overdue.
    pub as_of: String,
    /// Open action items, those raised as a problem or change included.
    pub open: i64,
    /// Open items past their due date.
    pub overdue: i64,
    /// The overdue items, longest overdue first, at most 10; `overdue`
    /// counts them all.
    pub overdue_items: Vec<ActionItemDto>,
}

/// One action item.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ActionItemDto {
    pub id: i64,
    /// The incident it follows up, `INC-<n>`.
    pub incident: String,
    pub text: String,
    /// `platform:id`.
    pub owner: Option<String>,
    /// `YYYY-MM-DD`.
    pub due: Option<String>,
    /// The problem or change it was raised as, `PRB-<n>` or `CHG-<n>`.
    pub raised_as: Option<String>,
}

impl From<&ActionItem> for ActionItemDto {
    fn from(item: &ActionItem) -> Self {
        ActionItemDto {
            id: item.id,
            incident: item.incident.clone(),
            text: item.text.clone(),
            owner: item.owner.as_ref().map(ToString::to_string),
            due: item.due.map(|due| due.to_string()),
            raised_as: item.raised_as.map(|r| r.to_string()),
        }
    }
}

impl From<&ActionFigures> for ActionItemsDto {
    fn from(actions: &ActionFigures) -> Self {
        ActionItemsDto {
            as_of: actions.today.to_string(),
            open: actions.open,
            overdue: actions.overdue,
            overdue_items: actions
                .overdue_items
                .iter()
                .map(ActionItemDto::from)
                .collect(),
        }
    }
}

impl From<&Report> for ReportDto {
    fn from(report: &Report) -> Self {
        let span = &report.span;
        ReportDto {
            period: span.period().map_or("range", |p| p.as_str()).to_string(),
            name: span.name(),
            rolling: span.is_rolling(),
            label: span.label(),
            time_zone: span.zone.name().to_string(),
            from: time(span.from),
            to: time(span.to),
            as_of: time(report.state.at),
            figures: FiguresDto::from(&report.figures),
            previous: report.previous.as_ref().map(FiguresDto::from),
            open_by_priority: report.state.open_by_priority,
            known_errors_open: report.state.known_errors_open,
            action_items: ActionItemsDto::from(&report.state.actions),
            availability: report
                .availability
                .iter()
                .map(ReportAvailabilityDto::from)
                .collect(),
        }
    }
}

impl From<&crate::domain::report::ServiceAvailability> for ReportAvailabilityDto {
    fn from(a: &crate::domain::report::ServiceAvailability) -> Self {
        ReportAvailabilityDto {
            service: a.service.clone(),
            target_percent: a.span.target,
            availability_percent: a.span.percent,
            downtime_seconds: a.span.downtime.num_seconds(),
            met: a.span.meets_target(),
            budget_spent_percent: a.budget.budget_spent(),
        }
    }
}

/// A service request.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RequestDto {
    /// `REQ-<n>`.
    pub reference: String,
    /// The `[[requests.catalog]]` item.
    pub item: String,
    pub title: String,
    /// The requester's details.
    pub description: String,
    /// `awaiting_approval`, `approved`, `in_progress`, `on_hold`,
    /// `fulfilled`, `closed`, `rejected` or `cancelled`.
    pub status: String,
    pub requester: String,
    /// Who took it.
    pub assignee: Option<String>,
    /// Field name → value.
    pub fields: std::collections::BTreeMap<String, String>,
    /// The 1-based numbers of the tasks done.
    pub tasks_done: Vec<u32>,
    pub approvals: Vec<ApprovalDto>,
    /// Why it was rejected, cancelled or put on hold.
    pub reason: Option<String>,
    /// The fulfilment note or the runbook's answer.
    pub outcome: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub approved_at: Option<String>,
    pub fulfilled_at: Option<String>,
}

impl From<&crate::domain::request::ServiceRequest> for RequestDto {
    fn from(request: &crate::domain::request::ServiceRequest) -> Self {
        RequestDto {
            reference: request.reference().to_string(),
            item: request.item.clone(),
            title: request.title.clone(),
            description: request.description.clone(),
            status: request.status.to_string(),
            requester: request.requester.to_string(),
            assignee: request.assignee.as_ref().map(ToString::to_string),
            fields: request.fields.clone(),
            tasks_done: request.tasks_done.clone(),
            approvals: request
                .approvals
                .iter()
                .map(|a| ApprovalDto {
                    approver: a.approver.to_string(),
                    at: time(a.at),
                    comment: a.comment.clone(),
                })
                .collect(),
            reason: request.reason.clone(),
            outcome: request.outcome.clone(),
            created_at: time(request.created_at),
            updated_at: time(request.updated_at),
            approved_at: time_opt(request.approved_at),
            fulfilled_at: time_opt(request.fulfilled_at),
        }
    }
}

/// A new service request, as `POST /api/v1/requests` takes it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRequestDto {
    /// The catalog item's name, e.g. `laptop`.
    pub item: String,
    /// Field name → value, checked against the item's fields.
    #[serde(default)]
    pub fields: std::collections::BTreeMap<String, String>,
    /// Free text.
    pub details: Option<String>,
}

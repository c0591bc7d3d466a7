//! Incidents and their lifecycle:
//! `new → acknowledged → resolved → closed`, `on_hold` (from `new` or
//! `acknowledged`, back with `resume`), `reopen` from `resolved`, and from
//! `closed` within a grace period.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};

use super::duration::format_duration;
use super::priority::{Level, Priority};
use super::reference::TicketRef;
use super::text::{FreeText, Title};
use super::timeline::{EventAction, NewEvent};
use super::user::UserId;

/// Where an incident is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IncidentStatus {
    New,
    Acknowledged,
    OnHold,
    Resolved,
    Closed,
}

impl IncidentStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [IncidentStatus; 5] = [
        IncidentStatus::New,
        IncidentStatus::Acknowledged,
        IncidentStatus::OnHold,
        IncidentStatus::Resolved,
        IncidentStatus::Closed,
    ];

    /// The name stored in the database and shown to people.
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentStatus::New => "new",
            IncidentStatus::Acknowledged => "acknowledged",
            IncidentStatus::OnHold => "on_hold",
            IncidentStatus::Resolved => "resolved",
            IncidentStatus::Closed => "closed",
        }
    }

    /// Whether someone still has to work on it.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            IncidentStatus::New | IncidentStatus::Acknowledged | IncidentStatus::OnHold
        )
    }
}

impl FromStr for IncidentStatus {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
            .ok_or_else(|| format!("unknown incident status `{text}`"))
    }
}

impl fmt::Display for IncidentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a ticket was reported: the platform, channel and thread its
/// messages go back to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub platform: super::user::Platform,
    pub channel: String,
    pub thread: Option<String>,
    pub message: Option<String>,
}

/// An incident as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    pub id: i64,
    pub number: i64,
    pub title: String,
    pub description: String,
    pub priority: Priority,
    pub impact: Level,
    pub urgency: Level,
    pub status: IncidentStatus,
    /// The status to return to on `resume`.
    pub status_before_hold: Option<IncidentStatus>,
    pub hold_reason: Option<String>,
    pub service: Option<String>,
    pub reporter: UserId,
    pub assignee: Option<UserId>,
    pub origin: Origin,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub acknowledged_by: Option<UserId>,
    /// A person's first response (acknowledge, assign, re-prioritise, note,
    /// hold or resolve while open): when the response clock stopped. A
    /// reopen does not clear it; monitoring and automation never set it.
    pub responded_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// Whether the latest resolution came from the monitoring source (an
    /// alert's recovery) before any person responded: such an incident is
    /// counted apart, and its SLA clocks end without a verdict.
    pub resolved_by_monitoring: bool,
    pub resolution: Option<String>,
    pub closed_at: Option<DateTime<Utc>>,
}

/// What a person wants done to an incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IncidentAction {
    Acknowledge,
    Assign(UserId),
    SetPriority(Priority),
    Note(FreeText),
    Hold(FreeText),
    Resume,
    Resolve(FreeText),
    Close,
    Reopen(FreeText),
}

impl IncidentAction {
    /// Whether a person doing this to an open incident has responded to it.
    pub fn is_response(&self) -> bool {
        !matches!(self, IncidentAction::Close | IncidentAction::Reopen(_))
    }

    /// The verb people type for this action.
    pub fn verb(&self) -> &'static str {
        match self {
            IncidentAction::Acknowledge => "ack",
            IncidentAction::Assign(_) => "assign",
            IncidentAction::SetPriority(_) => "priority",
            IncidentAction::Note(_) => "note",
            IncidentAction::Hold(_) => "hold",
            IncidentAction::Resume => "resume",
            IncidentAction::Resolve(_) => "resolve",
            IncidentAction::Close => "close",
            IncidentAction::Reopen(_) => "reopen",
        }
    }
}

/// Rules of the lifecycle that come from config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleRules {
    /// How long after closing an incident may still be reopened.
    pub reopen_grace: Duration,
}

/// Why an action was refused. The text says what would work instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IncidentError {
    #[error("{reference} is already acknowledged (by {by})")]
    AlreadyAcknowledged { reference: TicketRef, by: String },
    #[error("{reference} is already assigned to {assignee}")]
    AlreadyAssigned {
        reference: TicketRef,
        assignee: UserId,
    },
    #[error("{reference} is already {priority}")]
    SamePriority {
        reference: TicketRef,
        priority: Priority,
    },
    #[error("{reference} is {status}, so it cannot be {attempted}; {hint}")]
    IllegalTransition {
        reference: TicketRef,
        status: IncidentStatus,
        attempted: &'static str,
        hint: String,
    },
    #[error("{reference} was closed {ago} ago, longer than the {grace} in which it can be reopened; report a new incident instead")]
    ReopenGraceExpired {
        reference: TicketRef,
        ago: String,
        grace: String,
    },
}

/// The result of a legal action: the incident's new state and the events
/// that record it on the timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub incident: Incident,
    pub events: Vec<NewEvent>,
}

impl Incident {
    /// This incident's reference, `INC-<n>`.
    pub fn reference(&self) -> TicketRef {
        TicketRef::incident(self.number)
    }

    /// Applies `action` by `actor` at `now`, or says why it is not allowed.
    /// Pure: the caller stores the result.
    pub fn apply(
        &self,
        action: &IncidentAction,
        actor: &UserId,
        now: DateTime<Utc>,
        rules: &LifecycleRules,
    ) -> Result<Applied, IncidentError> {
        use IncidentStatus::*;
        let reference = self.reference();
        let mut next = self.clone();
        next.updated_at = now;
        let illegal = |attempted: &'static str, hint: String| IncidentError::IllegalTransition {
            reference,
            status: self.status,
            attempted,
            hint,
        };
        let status_event = |to: IncidentStatus, action: EventAction| {
            NewEvent::new(action).change(Some(self.status.to_string()), to.to_string())
        };
        // A person's action on an open incident is a response; what a
        // monitoring source or an automation rule does is not.
        if actor.is_person() && self.status.is_open() && action.is_response() {
            next.responded_at = self.responded_at.or(Some(now));
        }
        let events = match action {
            IncidentAction::Acknowledge => match self.status {
                New => {
                    next.status = Acknowledged;
                    next.acknowledged_at = Some(now);
                    next.acknowledged_by = Some(actor.clone());
                    vec![status_event(Acknowledged, EventAction::Acknowledged)]
                }
                Acknowledged => {
                    return Err(IncidentError::AlreadyAcknowledged {
                        reference,
                        by: self
                            .acknowledged_by
                            .as_ref()
                            .map_or_else(|| "someone".to_string(), UserId::to_string),
                    })
                }
                OnHold => {
                    return Err(illegal(
                        "acknowledged",
                        format!("resume it first with `/incident {reference} resume`"),
                    ))
                }
                Resolved | Closed => {
                    return Err(illegal(
                        "acknowledged",
                        format!("reopen it with `/incident {reference} reopen <why>` if the problem is back"),
                    ))
                }
            },
            IncidentAction::Assign(assignee) => {
                self.require_open("assigned", &illegal)?;
                if self.assignee.as_ref() == Some(assignee) {
                    return Err(IncidentError::AlreadyAssigned {
                        reference,
                        assignee: assignee.clone(),
                    });
                }
                next.assignee = Some(assignee.clone());
                vec![NewEvent::new(EventAction::Assigned)
                    .change(self.assignee.as_ref().map(UserId::to_string), assignee.to_string())]
            }
            IncidentAction::SetPriority(priority) => {
                self.require_open("re-prioritised", &illegal)?;
                if self.priority == *priority {
                    return Err(IncidentError::SamePriority {
                        reference,
                        priority: *priority,
                    });
                }
                next.priority = *priority;
                vec![NewEvent::new(EventAction::PriorityChanged)
                    .change(Some(self.priority.to_string()), priority.to_string())]
            }
            IncidentAction::Note(text) => {
                if self.status == Closed {
                    return Err(illegal(
                        "noted",
                        format!("closed incidents are read-only; reopen it first with `/incident {reference} reopen <why>`"),
                    ));
                }
                vec![NewEvent::new(EventAction::Note).body(text.as_str())]
            }
            IncidentAction::Hold(reason) => match self.status {
                New | Acknowledged => {
                    next.status = OnHold;
                    next.status_before_hold = Some(self.status);
                    next.hold_reason = Some(reason.to_string());
                    vec![status_event(OnHold, EventAction::Held).body(reason.as_str())]
                }
                OnHold => {
                    return Err(illegal(
                        "put on hold again",
                        format!("it is already waiting ({}); `/incident {reference} resume` takes it off hold",
                            self.hold_reason.as_deref().unwrap_or("no reason given")),
                    ))
                }
                Resolved | Closed => {
                    return Err(illegal(
                        "put on hold",
                        "only open incidents can wait".to_string(),
                    ))
                }
            },
            IncidentAction::Resume => {
                if self.status != OnHold {
                    return Err(illegal(
                        "resumed",
                        "only an incident on hold can be resumed".to_string(),
                    ));
                }
                let back = self.status_before_hold.unwrap_or(if self.acknowledged_at.is_some() {
                    Acknowledged
                } else {
                    New
                });
                next.status = back;
                next.status_before_hold = None;
                next.hold_reason = None;
                vec![status_event(back, EventAction::Resumed)]
            }
            IncidentAction::Resolve(resolution) => match self.status {
                New | Acknowledged | OnHold => {
                    next.status = Resolved;
                    next.status_before_hold = None;
                    next.hold_reason = None;
                    next.resolved_at = Some(now);
                    next.resolved_by_monitoring = next.responded_at.is_none();
                    next.resolution = Some(resolution.to_string());
                    vec![status_event(Resolved, EventAction::Resolved).body(resolution.as_str())]
                }
                Resolved | Closed => {
                    return Err(illegal(
                        "resolved again",
                        format!("add a note with `/incident {reference} note <text>` or reopen it with `/incident {reference} reopen <why>`"),
                    ))
                }
            },
            IncidentAction::Close => match self.status {
                Resolved => {
                    next.status = Closed;
                    next.closed_at = Some(now);
                    vec![status_event(Closed, EventAction::Closed)]
                }
                Closed => return Err(illegal("closed again", "nothing left to do".to_string())),
                New | Acknowledged | OnHold => {
                    return Err(illegal(
                        "closed",
                        format!("resolve it first with `/incident {reference} resolve <resolution>`"),
                    ))
                }
            },
            IncidentAction::Reopen(why) => {
                match self.status {
                    Resolved => {}
                    Closed => {
                        let closed_at = self.closed_at.unwrap_or(self.updated_at);
                        let ago = now - closed_at;
                        if ago > rules.reopen_grace {
                            return Err(IncidentError::ReopenGraceExpired {
                                reference,
                                ago: format_duration(ago),
                                grace: format_duration(rules.reopen_grace),
                            });
                        }
                    }
                    New | Acknowledged | OnHold => {
                        return Err(illegal(
                            "reopened",
                            "it is still open".to_string(),
                        ))
                    }
                }
                let back = if self.acknowledged_at.is_some() {
                    Acknowledged
                } else {
                    New
                };
                next.status = back;
                next.resolved_at = None;
                next.resolved_by_monitoring = false;
                next.resolution = None;
                next.closed_at = None;
                vec![status_event(back, EventAction::Reopened).body(why.as_str())]
            }
        };
        Ok(Applied {
            incident: next,
            events,
        })
    }

    fn require_open(
        &self,
        attempted: &'static str,
        illegal: &dyn Fn(&'static str, String) -> IncidentError,
    ) -> Result<(), IncidentError> {
        if self.status.is_open() {
            Ok(())
        } else {
            Err(illegal(
                attempted,
                format!(
                    "reopen it first with `/incident {} reopen <why>`",
                    self.reference()
                ),
            ))
        }
    }
}

/// A new incident before it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIncident {
    pub title: Title,
    pub description: String,
    pub priority: Priority,
    pub impact: Level,
    pub urgency: Level,
    pub service: Option<String>,
    pub reporter: UserId,
    pub origin: Origin,
}

impl NewIncident {
    /// The timeline's first event.
    pub fn created_event(&self) -> NewEvent {
        NewEvent::new(EventAction::Created).body(format!("{} · {}", self.priority, self.title))
    }

    /// The incident as it stands once stored as ticket `id`, number `number`,
    /// at `at`. The SLA policy reads only its priority, service and times,
    /// so the clocks of a new incident can be worked out before the
    /// database has numbered it.
    pub fn opened(&self, id: i64, number: i64, at: DateTime<Utc>) -> Incident {
        Incident {
            id,
            number,
            title: self.title.to_string(),
            description: self.description.clone(),
            priority: self.priority,
            impact: self.impact,
            urgency: self.urgency,
            status: IncidentStatus::New,
            status_before_hold: None,
            hold_reason: None,
            service: self.service.clone(),
            reporter: self.reporter.clone(),
            assignee: None,
            origin: self.origin.clone(),
            created_at: at,
            updated_at: at,
            acknowledged_at: None,
            acknowledged_by: None,
            responded_at: None,
            resolved_by_monitoring: false,
            resolved_at: None,
            resolution: None,
            closed_at: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::user::Platform;
    use super::*;
    use chrono::TimeZone;

    fn at(minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 9, minute, 0).unwrap()
    }

    fn user(name: &str) -> UserId {
        UserId::new(Platform::Shell, name).unwrap()
    }

    fn rules() -> LifecycleRules {
        LifecycleRules {
            reopen_grace: Duration::days(7),
        }
    }

    fn incident(status: IncidentStatus) -> Incident {
        Incident {
            id: 1,
            number: 1,
            title: "VPN down".into(),
            description: String::new(),
            priority: Priority::P2,
            impact: Level::High,
            urgency: Level::Medium,
            status,
            status_before_hold: (status == IncidentStatus::OnHold)
                .then_some(IncidentStatus::Acknowledged),
            hold_reason: None,
            service: None,
            reporter: user("alice"),
            assignee: None,
            origin: Origin {
                platform: Platform::Shell,
                channel: "general".into(),
                thread: None,
                message: None,
            },
            created_at: at(0),
            updated_at: at(0),
            acknowledged_at: None,
            acknowledged_by: None,
            responded_at: None,
            resolved_by_monitoring: false,
            resolved_at: None,
            resolution: None,
            closed_at: (status == IncidentStatus::Closed).then(|| at(0)),
        }
    }

    fn text(s: &str) -> FreeText {
        FreeText::parse("text", s).unwrap()
    }

    fn actions() -> Vec<IncidentAction> {
        vec![
            IncidentAction::Acknowledge,
            IncidentAction::Assign(user("bob")),
            IncidentAction::SetPriority(Priority::P1),
            IncidentAction::Note(text("n")),
            IncidentAction::Hold(text("waiting for vendor")),
            IncidentAction::Resume,
            IncidentAction::Resolve(text("fixed")),
            IncidentAction::Close,
            IncidentAction::Reopen(text("back again")),
        ]
    }

    /// The whole transition table: (from, verb) → the status after, or refused.
    fn expected(from: IncidentStatus, verb: &str) -> Option<IncidentStatus> {
        use IncidentStatus::*;
        match (from, verb) {
            (New, "ack") => Some(Acknowledged),
            (New | Acknowledged | OnHold, "assign" | "priority" | "note") => Some(from),
            (Resolved, "note") => Some(Resolved),
            (New | Acknowledged, "hold") => Some(OnHold),
            (OnHold, "resume") => Some(Acknowledged),
            (New | Acknowledged | OnHold, "resolve") => Some(Resolved),
            (Resolved, "close") => Some(Closed),
            (Resolved | Closed, "reopen") => Some(New),
            _ => None,
        }
    }

    #[test]
    fn every_transition_is_legal_or_refused_as_the_table_says() {
        for from in IncidentStatus::ALL {
            for action in actions() {
                let result = incident(from).apply(&action, &user("bob"), at(5), &rules());
                match (expected(from, action.verb()), result) {
                    (Some(to), Ok(applied)) => {
                        assert_eq!(applied.incident.status, to, "{from} {}", action.verb());
                        assert_eq!(applied.events.len(), 1);
                        assert_eq!(applied.incident.updated_at, at(5));
                    }
                    (None, Err(_)) => {}
                    (want, got) => {
                        panic!("{from} {}: expected {want:?}, got {got:?}", action.verb())
                    }
                }
            }
        }
    }

    #[test]
    fn acknowledging_records_who_and_when_and_cannot_repeat() {
        let applied = incident(IncidentStatus::New)
            .apply(&IncidentAction::Acknowledge, &user("bob"), at(3), &rules())
            .unwrap();
        assert_eq!(applied.incident.acknowledged_at, Some(at(3)));
        let again = applied
            .incident
            .apply(
                &IncidentAction::Acknowledge,
                &user("carol"),
                at(4),
                &rules(),
            )
            .unwrap_err();
        assert_eq!(
            again.to_string(),
            "INC-1 is already acknowledged (by shell:bob)"
        );
    }

    #[test]
    fn hold_and_resume_return_to_where_it_was() {
        let new = incident(IncidentStatus::New);
        let held = new
            .apply(
                &IncidentAction::Hold(text("user away")),
                &user("bob"),
                at(1),
                &rules(),
            )
            .unwrap()
            .incident;
        assert_eq!(held.hold_reason.as_deref(), Some("user away"));
        let resumed = held
            .apply(&IncidentAction::Resume, &user("bob"), at(2), &rules())
            .unwrap()
            .incident;
        assert_eq!(resumed.status, IncidentStatus::New);
        assert_eq!(resumed.hold_reason, None);
    }

    #[test]
    fn reopening_a_closed_incident_respects_the_grace_period() {
        let closed = incident(IncidentStatus::Closed);
        let late = at(0) + Duration::days(8);
        let err = closed
            .apply(
                &IncidentAction::Reopen(text("again")),
                &user("bob"),
                late,
                &rules(),
            )
            .unwrap_err();
        assert!(
            matches!(err, IncidentError::ReopenGraceExpired { .. }),
            "{err}"
        );
        let reopened = closed
            .apply(
                &IncidentAction::Reopen(text("again")),
                &user("bob"),
                at(30),
                &rules(),
            )
            .unwrap()
            .incident;
        assert_eq!(reopened.closed_at, None);
        assert_eq!(reopened.resolution, None);
    }

    #[test]
    fn no_op_changes_are_refused() {
        let mut inc = incident(IncidentStatus::Acknowledged);
        inc.assignee = Some(user("bob"));
        assert!(matches!(
            inc.apply(
                &IncidentAction::Assign(user("bob")),
                &user("bob"),
                at(1),
                &rules()
            ),
            Err(IncidentError::AlreadyAssigned { .. })
        ));
        assert!(matches!(
            inc.apply(
                &IncidentAction::SetPriority(Priority::P2),
                &user("bob"),
                at(1),
                &rules()
            ),
            Err(IncidentError::SamePriority { .. })
        ));
    }

    #[test]
    fn refusals_say_what_would_work() {
        let err = incident(IncidentStatus::Closed)
            .apply(&IncidentAction::Acknowledge, &user("bob"), at(1), &rules())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "INC-1 is closed, so it cannot be acknowledged; reopen it with `/incident INC-1 reopen <why>` if the problem is back"
        );
    }
}

//! Problems: the causes behind incidents, and their lifecycle
//! `new → investigating → known_error → resolved → closed`. A root cause or
//! a workaround starts the investigation; a problem becomes a known error
//! only once it has a workaround, which is then offered on new incidents
//! that look alike.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use super::incident::Origin;
use super::reference::{TicketKind, TicketRef};
use super::text::{FreeText, Title};
use super::timeline::{EventAction, NewEvent};
use super::user::UserId;

/// How many distinct words a new incident's title must share with a known
/// error before the known error is suggested: one common word ("VPN",
/// "printer") alone would match half the database.
pub const MIN_SHARED_WORDS: i64 = 2;

/// Most known errors suggested on one new incident.
pub const MAX_HINTS: i64 = 3;

/// Where a problem is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProblemStatus {
    New,
    Investigating,
    KnownError,
    Resolved,
    Closed,
}

impl ProblemStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [ProblemStatus; 5] = [
        ProblemStatus::New,
        ProblemStatus::Investigating,
        ProblemStatus::KnownError,
        ProblemStatus::Resolved,
        ProblemStatus::Closed,
    ];

    /// The name stored in the database and shown to people.
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemStatus::New => "new",
            ProblemStatus::Investigating => "investigating",
            ProblemStatus::KnownError => "known_error",
            ProblemStatus::Resolved => "resolved",
            ProblemStatus::Closed => "closed",
        }
    }

    /// Whether someone still has to work on it.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            ProblemStatus::New | ProblemStatus::Investigating | ProblemStatus::KnownError
        )
    }
}

impl FromStr for ProblemStatus {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
            .ok_or_else(|| format!("unknown problem status `{text}`"))
    }
}

impl fmt::Display for ProblemStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A problem as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub id: i64,
    pub number: i64,
    pub title: String,
    pub description: String,
    pub status: ProblemStatus,
    pub service: Option<String>,
    pub reporter: UserId,
    pub origin: Origin,
    pub root_cause: Option<String>,
    pub workaround: Option<String>,
    /// The change that removes the cause.
    pub fix_change: Option<TicketRef>,
    pub resolution: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub known_error_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
}

/// What a person wants done to a problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProblemAction {
    /// Link incidents caused by this problem (the engine checks they exist
    /// and are not linked yet).
    Link(Vec<TicketRef>),
    /// Record (or correct) the root cause.
    RootCause(FreeText),
    /// Record (or correct) the workaround.
    Workaround(FreeText),
    /// Publish it as a known error: the cause is understood and there is a
    /// workaround.
    KnownError,
    /// Name the change that fixes it (the engine checks the change exists).
    Fix(TicketRef),
    /// The cause is removed.
    Resolve(Option<FreeText>),
    Close,
    /// A note on the timeline.
    Note(FreeText),
}

impl ProblemAction {
    /// The verb people type for this action.
    pub fn verb(&self) -> &'static str {
        match self {
            ProblemAction::Link(_) => "link",
            ProblemAction::RootCause(_) => "rca",
            ProblemAction::Workaround(_) => "workaround",
            ProblemAction::KnownError => "known-error",
            ProblemAction::Fix(_) => "fix",
            ProblemAction::Resolve(_) => "resolve",
            ProblemAction::Close => "close",
            ProblemAction::Note(_) => "note",
        }
    }
}

/// Why an action was refused. The text says what would work instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProblemError {
    #[error("{reference} is {status}, so it cannot be {attempted}; {hint}")]
    IllegalTransition {
        reference: TicketRef,
        status: ProblemStatus,
        attempted: &'static str,
        hint: String,
    },
    #[error("{reference} has no workaround yet, and a known error needs one; record it first with `/problem {reference} workaround <text>`")]
    MissingWorkaround { reference: TicketRef },
    #[error("{reference} already has this {what}; nothing changed")]
    Unchanged {
        reference: TicketRef,
        what: &'static str,
    },
    #[error("{given} is not a change; `fix` names the change that removes the cause, e.g. `/problem {reference} fix CHG-4`")]
    NotAChange {
        reference: TicketRef,
        given: TicketRef,
    },
    #[error("{given} is not an incident; `link` takes incidents, e.g. `/problem {reference} link INC-4`")]
    NotAnIncident {
        reference: TicketRef,
        given: TicketRef,
    },
}

/// The result of a legal action: the problem's new state and the events
/// that record it on its timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub problem: Problem,
    pub events: Vec<NewEvent>,
}

impl Problem {
    /// This problem's reference, `PRB-<n>`.
    pub fn reference(&self) -> TicketRef {
        TicketRef {
            kind: TicketKind::Problem,
            number: self.number,
        }
    }

    /// Applies `action` at `now`, or says why it is not allowed. Pure: the
    /// caller stores the result.
    pub fn apply(
        &self,
        action: &ProblemAction,
        now: DateTime<Utc>,
    ) -> Result<Applied, ProblemError> {
        use ProblemStatus::*;
        let reference = self.reference();
        let mut next = self.clone();
        next.updated_at = now;
        let illegal = |attempted: &'static str, hint: String| ProblemError::IllegalTransition {
            reference,
            status: self.status,
            attempted,
            hint,
        };
        let status_event = |to: ProblemStatus, action: EventAction| {
            NewEvent::new(action).change(Some(self.status.to_string()), to.to_string())
        };
        // A closed problem is read-only; a resolved one only takes notes
        // and links, since its cause is gone.
        let when_finished = |attempted: &'static str| {
            match self.status {
            Closed => illegal(
                attempted,
                "closed problems are read-only; record a new problem if the cause is back".to_string(),
            ),
            _ => illegal(
                attempted,
                format!("its cause is removed; add a note with `/problem {reference} note <text>` or record a new problem if it is back"),
            ),
        }
        };
        let events = match action {
            ProblemAction::Link(incidents) => {
                if self.status == Closed {
                    return Err(when_finished("linked"));
                }
                if let Some(other) = incidents.iter().find(|r| r.kind != TicketKind::Incident) {
                    return Err(ProblemError::NotAnIncident {
                        reference,
                        given: *other,
                    });
                }
                incidents
                    .iter()
                    .map(|incident| NewEvent::new(EventAction::Linked).change(None, incident.to_string()))
                    .collect()
            }
            ProblemAction::RootCause(text) | ProblemAction::Workaround(text) => {
                let (slot, what, event, attempted) = match action {
                    ProblemAction::RootCause(_) => (&mut next.root_cause, "root cause", EventAction::RootCause, "given a root cause"),
                    _ => (&mut next.workaround, "workaround", EventAction::Workaround, "given a workaround"),
                };
                if !self.status.is_open() {
                    return Err(when_finished(attempted));
                }
                if slot.as_deref() == Some(text.as_str()) {
                    return Err(ProblemError::Unchanged { reference, what });
                }
                *slot = Some(text.to_string());
                let mut events = Vec::new();
                if self.status == New {
                    next.status = Investigating;
                    events.push(status_event(Investigating, EventAction::Investigating));
                }
                events.push(NewEvent::new(event).body(text.as_str()));
                events
            }
            ProblemAction::KnownError => match self.status {
                New | Investigating => {
                    if self.workaround.is_none() {
                        return Err(ProblemError::MissingWorkaround { reference });
                    }
                    next.status = KnownError;
                    next.known_error_at = Some(now);
                    vec![status_event(KnownError, EventAction::KnownError)]
                }
                KnownError => {
                    return Err(illegal(
                        "made a known error again",
                        format!("update its workaround with `/problem {reference} workaround <text>` if it changed"),
                    ))
                }
                Resolved | Closed => return Err(when_finished("made a known error")),
            },
            ProblemAction::Fix(change) => {
                if change.kind != TicketKind::Change {
                    return Err(ProblemError::NotAChange {
                        reference,
                        given: *change,
                    });
                }
                if !self.status.is_open() {
                    return Err(when_finished("given a fix"));
                }
                if self.fix_change == Some(*change) {
                    return Err(ProblemError::Unchanged {
                        reference,
                        what: "fix",
                    });
                }
                next.fix_change = Some(*change);
                vec![NewEvent::new(EventAction::FixLinked)
                    .change(self.fix_change.map(|c| c.to_string()), change.to_string())]
            }
            ProblemAction::Resolve(text) => {
                if !self.status.is_open() {
                    return Err(illegal(
                        "resolved again",
                        format!("add a note with `/problem {reference} note <text>`"),
                    ));
                }
                next.status = Resolved;
                next.resolved_at = Some(now);
                next.resolution = text.as_ref().map(ToString::to_string);
                let event = status_event(Resolved, EventAction::Resolved);
                vec![match text {
                    Some(text) => event.body(text.as_str()),
                    None => event,
                }]
            }
            ProblemAction::Close => match self.status {
                Resolved => {
                    next.status = Closed;
                    next.closed_at = Some(now);
                    vec![status_event(Closed, EventAction::Closed)]
                }
                Closed => return Err(illegal("closed again", "nothing left to do".to_string())),
                New | Investigating | KnownError => {
                    return Err(illegal(
                        "closed",
                        format!("resolve it first with `/problem {reference} resolve [how]`"),
                    ))
                }
            },
            ProblemAction::Note(text) => {
                if self.status == Closed {
                    return Err(when_finished("noted"));
                }
                vec![NewEvent::new(EventAction::Note).body(text.as_str())]
            }
        };
        Ok(Applied {
            problem: next,
            events,
        })
    }
}

/// A new problem before it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProblem {
    pub title: Title,
    pub description: String,
    pub service: Option<String>,
    pub reporter: UserId,
    pub origin: Origin,
}

impl NewProblem {
    /// The timeline's first event.
    pub fn created_event(&self) -> NewEvent {
        NewEvent::new(EventAction::Created).body(self.title.as_str())
    }
}

/// A known error whose words match a new incident's title: what the report's
/// reply shows so the reporter can try the workaround at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownErrorMatch {
    pub number: i64,
    pub title: String,
    pub workaround: Option<String>,
}

impl KnownErrorMatch {
    /// `PRB-<number>`.
    pub fn reference(&self) -> TicketRef {
        TicketRef {
            kind: TicketKind::Problem,
            number: self.number,
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

    fn text(s: &str) -> FreeText {
        FreeText::parse("text", s).unwrap()
    }

    fn problem(status: ProblemStatus) -> Problem {
        Problem {
            id: 1,
            number: 1,
            title: "VPN drops connections".into(),
            description: String::new(),
            status,
            service: None,
            reporter: UserId::new(Platform::Shell, "alice").unwrap(),
            origin: Origin {
                platform: Platform::Shell,
                channel: "general".into(),
                thread: None,
                message: None,
            },
            root_cause: None,
            workaround: (status != ProblemStatus::New).then(|| "reconnect".to_string()),
            fix_change: None,
            resolution: None,
            created_at: at(0),
            updated_at: at(0),
            known_error_at: None,
            resolved_at: None,
            closed_at: None,
        }
    }

    fn change(number: i64) -> TicketRef {
        TicketRef {
            kind: TicketKind::Change,
            number,
        }
    }

    fn actions() -> Vec<ProblemAction> {
        vec![
            ProblemAction::Link(vec![TicketRef::incident(4)]),
            ProblemAction::RootCause(text("expired certificate")),
            ProblemAction::Workaround(text("reconnect twice")),
            ProblemAction::KnownError,
            ProblemAction::Fix(change(2)),
            ProblemAction::Resolve(None),
            ProblemAction::Close,
            ProblemAction::Note(text("n")),
        ]
    }

    /// The whole transition table: (from, verb) → the status after, or refused.
    fn expected(from: ProblemStatus, verb: &str) -> Option<ProblemStatus> {
        use ProblemStatus::*;
        match (from, verb) {
            (New, "rca" | "workaround") => Some(Investigating),
            (Investigating | KnownError, "rca" | "workaround" | "fix") => Some(from),
            (New, "fix") => Some(New),
            (Investigating, "known-error") => Some(KnownError),
            (New | Investigating | KnownError, "resolve") => Some(Resolved),
            (Resolved, "close") => Some(Closed),
            (New | Investigating | KnownError | Resolved, "link" | "note") => Some(from),
            _ => None,
        }
    }

    #[test]
    fn every_transition_is_legal_or_refused_as_the_table_says() {
        for from in ProblemStatus::ALL {
            for action in actions() {
                let result = problem(from).apply(&action, at(5));
                match (expected(from, action.verb()), result) {
                    (Some(to), Ok(applied)) => {
                        assert_eq!(applied.problem.status, to, "{from} {}", action.verb());
                        assert!(!applied.events.is_empty());
                        assert_eq!(applied.problem.updated_at, at(5));
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
    fn a_root_cause_starts_the_investigation() {
        let applied = problem(ProblemStatus::New)
            .apply(
                &ProblemAction::RootCause(text("expired certificate")),
                at(1),
            )
            .unwrap();
        let actions: Vec<_> = applied.events.iter().map(|e| e.action).collect();
        assert_eq!(
            actions,
            [EventAction::Investigating, EventAction::RootCause]
        );
        assert_eq!(
            applied.problem.root_cause.as_deref(),
            Some("expired certificate")
        );
        let again = applied
            .problem
            .apply(
                &ProblemAction::RootCause(text("expired certificate")),
                at(2),
            )
            .unwrap_err();
        assert!(matches!(again, ProblemError::Unchanged { .. }), "{again}");
    }

    #[test]
    fn a_known_error_needs_a_workaround() {
        let mut investigating = problem(ProblemStatus::Investigating);
        investigating.workaround = None;
        let err = investigating
            .apply(&ProblemAction::KnownError, at(1))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "PRB-1 has no workaround yet, and a known error needs one; record it first with `/problem PRB-1 workaround <text>`"
        );
        let known = problem(ProblemStatus::Investigating)
            .apply(&ProblemAction::KnownError, at(2))
            .unwrap()
            .problem;
        assert_eq!(known.known_error_at, Some(at(2)));
    }

    #[test]
    fn fixes_and_links_take_the_right_kind_of_ticket() {
        let p = problem(ProblemStatus::Investigating);
        assert!(matches!(
            p.apply(&ProblemAction::Fix(TicketRef::incident(2)), at(1)),
            Err(ProblemError::NotAChange { .. })
        ));
        assert!(matches!(
            p.apply(&ProblemAction::Link(vec![change(2)]), at(1)),
            Err(ProblemError::NotAnIncident { .. })
        ));
        let fixed = p.apply(&ProblemAction::Fix(change(2)), at(1)).unwrap();
        assert_eq!(fixed.problem.fix_change, Some(change(2)));
        assert!(matches!(
            fixed.problem.apply(&ProblemAction::Fix(change(2)), at(2)),
            Err(ProblemError::Unchanged { what: "fix", .. })
        ));
    }

    #[test]
    fn refusals_say_what_would_work() {
        let err = problem(ProblemStatus::Investigating)
            .apply(&ProblemAction::Close, at(1))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "PRB-1 is investigating, so it cannot be closed; resolve it first with `/problem PRB-1 resolve [how]`"
        );
    }
}

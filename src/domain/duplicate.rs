//! Duplicate incidents: five people reporting one outage make one incident
//! to work and four that point at it. `/incident INC-n duplicate-of INC-m`
//! closes n (resolved and closed at once, its resolution naming m); n's
//! reporter then follows m and hears when it is resolved.

use chrono::{DateTime, Utc};

use super::incident::{Incident, IncidentStatus};
use super::reference::TicketRef;
use super::timeline::{EventAction, NewEvent};

/// How alike an open incident must be to a report to be offered as the
/// same thing: the cosine of their words, each word weighted by how
/// telling it is (its inverse document frequency over the trained
/// history), 0–1. Two reports of one outage share its telling words (a
/// place, a host, an error) and differ in the common ones ("vpn", "slow",
/// "cannot"), so they score well above this; a report that shares only a
/// service's everyday words with an open incident scores well below.
pub const MIN_ALIKE: f64 = 0.4;

/// An open incident that looks like a new report.
#[derive(Debug, Clone, PartialEq)]
pub struct Alike {
    pub number: i64,
    pub title: String,
    pub service: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Who reported it (`shell:alertmanager` for one opened by an alert).
    pub reporter: String,
    /// How alike, 0–1 (see [`MIN_ALIKE`]).
    pub similarity: f64,
}

/// The look-alikes to offer a report on `service` (given, or the service
/// triage is sure of; `None` when neither): the open incidents at least
/// [`MIN_ALIKE`] alike that are on that service or on none — an outage of
/// the mail service is not a duplicate of a VPN report, whatever words
/// they share — most alike first, at most `limit`.
pub fn offered(mut candidates: Vec<Alike>, service: Option<&str>, limit: usize) -> Vec<Alike> {
    candidates.retain(|alike| {
        alike.similarity >= MIN_ALIKE
            && match (service, alike.service.as_deref()) {
                (Some(report), Some(other)) => report == other,
                _ => true,
            }
    });
    candidates.sort_by(|a, b| {
        b.similarity
            .total_cmp(&a.similarity)
            .then(a.created_at.cmp(&b.created_at))
    });
    candidates.truncate(limit);
    candidates
}

/// Why an incident cannot be closed as a duplicate. The text says what
/// would work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DuplicateError {
    #[error("{reference} cannot be a duplicate of itself; name the other incident that reports the same thing, e.g. `/incident {reference} duplicate-of INC-9`")]
    Itself { reference: TicketRef },
    #[error(
        "{reference} is {status}, so it cannot be closed as a duplicate; only open incidents can"
    )]
    NotOpen {
        reference: TicketRef,
        status: IncidentStatus,
    },
    #[error("{target} is {status}, so nothing is left to follow; if the problem is back, reopen it with `/incident {target} reopen <why>` first, or keep {reference} open")]
    TargetNotOpen {
        reference: TicketRef,
        target: TicketRef,
        status: IncidentStatus,
    },
    #[error("{target} is itself (through duplicates) a duplicate of {reference}, so this would go round in a circle; mark {target} the other way round, or leave both open")]
    Cycle {
        reference: TicketRef,
        target: TicketRef,
    },
}

/// A legal duplicate: the duplicate as closed, and the events for each
/// timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicated {
    pub duplicate: Incident,
    pub duplicate_events: Vec<NewEvent>,
    pub target_events: Vec<NewEvent>,
}

/// Closes `duplicate` as a duplicate of `target` at `now`, or says why not.
/// `target_chain` holds the ticket ids `target` is (through earlier
/// duplicates, e.g. after a reopen) a duplicate of. Pure: the caller stores
/// the result.
pub fn close_as_duplicate(
    duplicate: &Incident,
    target: &Incident,
    target_chain: &[i64],
    now: DateTime<Utc>,
) -> Result<Duplicated, DuplicateError> {
    let reference = duplicate.reference();
    let target_ref = target.reference();
    if duplicate.id == target.id {
        return Err(DuplicateError::Itself { reference });
    }
    if !duplicate.status.is_open() {
        return Err(DuplicateError::NotOpen {
            reference,
            status: duplicate.status,
        });
    }
    if target_chain.contains(&duplicate.id) {
        return Err(DuplicateError::Cycle {
            reference,
            target: target_ref,
        });
    }
    if !target.status.is_open() {
        return Err(DuplicateError::TargetNotOpen {
            reference,
            target: target_ref,
            status: target.status,
        });
    }
    let resolution = format!("Duplicate of {target_ref}");
    let mut next = duplicate.clone();
    next.status = IncidentStatus::Closed;
    next.status_before_hold = None;
    next.hold_reason = None;
    next.updated_at = now;
    next.resolved_at = Some(now);
    next.closed_at = Some(now);
    next.resolution = Some(resolution.clone());
    let duplicate_events = vec![
        NewEvent::new(EventAction::Duplicate).change(None, target_ref.to_string()),
        NewEvent::new(EventAction::Closed)
            .change(
                Some(duplicate.status.to_string()),
                IncidentStatus::Closed.to_string(),
            )
            .body(resolution),
    ];
    let target_events = vec![NewEvent::new(EventAction::Duplicate)
        .change(None, reference.to_string())
        .body(format!("{} follows it now", duplicate.reporter))];
    Ok(Duplicated {
        duplicate: next,
        duplicate_events,
        target_events,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::incident::Origin;
    use crate::domain::{Level, Platform, Priority};

    fn incident(id: i64, status: IncidentStatus) -> Incident {
        let at = DateTime::UNIX_EPOCH;
        Incident {
            id,
            number: id,
            title: "VPN down".into(),
            description: String::new(),
            priority: Priority::P2,
            impact: Level::High,
            urgency: Level::Medium,
            status,
            status_before_hold: None,
            hold_reason: None,
            service: None,
            reporter: "shell:dave".parse().unwrap(),
            assignee: None,
            origin: Origin {
                platform: Platform::Shell,
                channel: "general".into(),
                thread: None,
                message: None,
            },
            created_at: at,
            updated_at: at,
            acknowledged_at: None,
            acknowledged_by: None,
            responded_at: None,
            resolved_at: None,
            resolved_by_monitoring: false,
            resolution: None,
            closed_at: None,
        }
    }

    #[test]
    fn closes_the_duplicate_naming_the_target() {
        let now = Utc::now();
        let done = close_as_duplicate(
            &incident(12, IncidentStatus::New),
            &incident(9, IncidentStatus::Acknowledged),
            &[],
            now,
        )
        .unwrap();
        assert_eq!(done.duplicate.status, IncidentStatus::Closed);
        assert_eq!(
            done.duplicate.resolution.as_deref(),
            Some("Duplicate of INC-9")
        );
        assert_eq!(done.duplicate.closed_at, Some(now));
        assert_eq!(done.duplicate_events[0].to.as_deref(), Some("INC-9"));
        assert_eq!(done.target_events[0].to.as_deref(), Some("INC-12"));
    }

    fn alike(number: i64, service: Option<&str>, similarity: f64) -> Alike {
        Alike {
            number,
            title: format!("INC-{number}"),
            service: service.map(str::to_string),
            created_at: DateTime::UNIX_EPOCH + chrono::Duration::minutes(number),
            reporter: "shell:dave".into(),
            similarity,
        }
    }

    #[test]
    fn offers_the_most_alike_on_the_same_service_or_none() {
        let candidates = vec![
            alike(1, Some("email"), 0.9),
            alike(2, Some("vpn"), 0.6),
            alike(3, None, 0.7),
            alike(4, Some("vpn"), 0.3),
            alike(5, Some("vpn"), 0.7),
        ];
        let numbers = |offered: Vec<Alike>| offered.iter().map(|a| a.number).collect::<Vec<_>>();
        // Ties go to the older incident: it is the one the others repeat.
        assert_eq!(
            numbers(offered(candidates.clone(), Some("vpn"), 5)),
            [3, 5, 2]
        );
        assert_eq!(numbers(offered(candidates.clone(), Some("vpn"), 2)), [3, 5]);
        // No service known: every service, still only the alike enough.
        assert_eq!(numbers(offered(candidates, None, 9)), [1, 3, 5, 2]);
    }

    #[test]
    fn refuses_itself_closed_ones_and_cycles() {
        let now = Utc::now();
        let open = incident(12, IncidentStatus::New);
        assert!(matches!(
            close_as_duplicate(&open, &open, &[], now),
            Err(DuplicateError::Itself { .. })
        ));
        for status in [IncidentStatus::Resolved, IncidentStatus::Closed] {
            let err = close_as_duplicate(&open, &incident(9, status), &[], now).unwrap_err();
            assert!(err.to_string().contains("reopen"), "{err}");
            assert!(matches!(
                close_as_duplicate(&incident(3, status), &open, &[], now),
                Err(DuplicateError::NotOpen { .. })
            ));
        }
        let err = close_as_duplicate(&open, &incident(9, IncidentStatus::New), &[4, 12], now)
            .unwrap_err();
        assert!(matches!(err, DuplicateError::Cycle { .. }), "{err}");
    }
}

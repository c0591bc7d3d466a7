//! A delivery's common cases, handled together: repeats of firing alerts
//! whose incident is open are noted in one statement, and new alerts open
//! their incidents in one statement and are linked in another. Handled
//! alert by alert, a delivery of ten took some fifty round trips, and the
//! round trips were the time. Everything else (recoveries, an alert firing
//! again after it resolved, an alert listed twice, incidents rules react to)
//! goes alert by alert as before.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::{AlertAction, AlertResult};
use crate::commands::execute::Engine;
use crate::domain::alert::{Alert, AlertSource, AlertStatus};
use crate::domain::automation::{Rule, Trigger};
use crate::domain::incident::{Incident, IncidentAction, LifecycleRules};
use crate::domain::timeline::NewEvent;
use crate::domain::{FreeText, UserId};
use crate::store::alert_delivery::Notes;
use crate::store::alerts::{AlertLink, NewLink};
use crate::store::{self, StoreError};

/// How one alert of a delivery is handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Route {
    /// A repeat of a firing alert whose incident is open: noted together
    /// with the delivery's other repeats. Holds the incident as the note
    /// leaves it and the note's events.
    Note {
        incident: Box<Incident>,
        events: Vec<NewEvent>,
    },
    /// A firing alert with no open incident: opened together with the
    /// delivery's other new alerts. `existed` when the alert has a row from
    /// an earlier episode.
    Open { existed: bool },
    /// Anything else: handled on its own.
    OneByOne,
}

/// What routing a delivery reads.
pub(super) struct Delivery<'a> {
    pub source: AlertSource,
    pub actor: &'a UserId,
    pub alerts: &'a [Alert],
    /// The delivery's alerts as stored, by fingerprint.
    pub links: &'a HashMap<String, AlertLink>,
    /// The incidents of those links, locked, by ticket id.
    pub incidents: &'a HashMap<i64, Incident>,
    pub now: DateTime<Utc>,
    pub lifecycle: &'a LifecycleRules,
    /// Whether new alerts may be opened together: not when a rule reacts to
    /// an opening, since rules run alert by alert, between the openings.
    pub open_together: bool,
}

/// Whether `rules` leave new alerts free to be opened together: none of
/// them reacts to an incident being opened or an alert firing.
pub(super) fn may_open_together(rules: &[Rule]) -> bool {
    !rules
        .iter()
        .any(|rule| matches!(rule.on, Trigger::IncidentCreated | Trigger::AlertFired))
}

/// Decides how each alert of `delivery` is handled, in its order.
pub(super) fn routes(delivery: &Delivery<'_>) -> Vec<Route> {
    let mut times_listed: HashMap<&str, usize> = HashMap::new();
    for alert in delivery.alerts {
        *times_listed.entry(alert.fingerprint.as_str()).or_default() += 1;
    }
    let mut routes: Vec<Route> = delivery
        .alerts
        .iter()
        .map(|alert| {
            let fingerprint = alert.fingerprint.as_str();
            // A second mention must see what the first one did.
            if alert.status != AlertStatus::Firing || times_listed[fingerprint] > 1 {
                return Route::OneByOne;
            }
            let Some(link) = delivery.links.get(fingerprint) else {
                return Route::Open { existed: false };
            };
            // A link to no incident is corrupt; alert by alert says so.
            let Some(incident) = delivery.incidents.get(&link.ticket_id) else {
                return Route::OneByOne;
            };
            if !incident.status.is_open() {
                // Resolved or closed: a new episode, a new incident.
                return Route::Open { existed: true };
            }
            if link.status == AlertStatus::Resolved {
                // Firing again after it resolved: rules may react to that.
                return Route::OneByOne;
            }
            note_route(delivery, alert, incident)
        })
        .collect();
    // Alerts handled on their own that fire may open incidents too, and
    // incident numbers follow the alerts' order: then all open one by one.
    let firing_alone = routes
        .iter()
        .zip(delivery.alerts)
        .any(|(route, alert)| *route == Route::OneByOne && alert.status == AlertStatus::Firing);
    if firing_alone || !delivery.open_together {
        for route in &mut routes {
            if matches!(route, Route::Open { .. }) {
                *route = Route::OneByOne;
            }
        }
    }
    routes
}

/// The note a repeat leaves, decided by the incident itself. A note that
/// would change more than `updated_at` (the paging hook and SLA clocks
/// follow other changes), or that is refused, goes alert by alert, which
/// does all of that.
fn note_route(delivery: &Delivery<'_>, alert: &Alert, incident: &Incident) -> Route {
    let text = still_firing(delivery.source, alert.fingerprint.as_str());
    let Ok(text) = FreeText::parse("note", &text) else {
        return Route::OneByOne;
    };
    let Ok(applied) = incident.apply(
        &IncidentAction::Note(text),
        delivery.actor,
        delivery.now,
        delivery.lifecycle,
    ) else {
        return Route::OneByOne;
    };
    let only_touched = Incident {
        updated_at: applied.incident.updated_at,
        ..incident.clone()
    };
    if applied.incident != only_touched {
        return Route::OneByOne;
    }
    Route::Note {
        incident: Box::new(applied.incident),
        events: applied.events,
    }
}

/// The note a repeat of a firing alert leaves on its incident.
pub(super) fn still_firing(source: AlertSource, fingerprint: &str) -> String {
    format!("{} alert {fingerprint} is still firing.", source.product())
}

impl Engine {
    /// Records every [`Route::Note`] of `routes` in one statement and puts
    /// their results in `results`.
    pub(super) async fn note_together(
        &self,
        conn: &mut PgConnection,
        delivery: &Delivery<'_>,
        routes: &[Route],
        results: &mut [Option<AlertResult>],
    ) -> Result<(), StoreError> {
        let mut fingerprints = Vec::new();
        let mut incidents = Vec::new();
        let mut events = Vec::new();
        for ((route, alert), result) in routes.iter().zip(delivery.alerts).zip(results.iter_mut()) {
            let Route::Note {
                incident,
                events: its,
            } = route
            else {
                continue;
            };
            *result = Some(super::result(alert, incident, AlertAction::Noted, None));
            fingerprints.push(alert.fingerprint.as_str());
            incidents.push(incident.as_ref().clone());
            events.push(its.clone());
        }
        if incidents.is_empty() {
            return Ok(());
        }
        let notes = Notes {
            source: delivery.source,
            fingerprints: &fingerprints,
            incidents: &incidents,
            events: &events,
            actor: delivery.actor,
            at: delivery.now,
            card_platforms: &super::super::CARD_PLATFORMS,
        };
        store::alert_delivery::record_notes(conn, &notes).await
    }

    /// Opens the incidents of every [`Route::Open`] of `routes` in one
    /// statement, numbered in the alerts' order, links their alerts in
    /// another, and puts their results in `results`.
    pub(super) async fn open_together(
        &self,
        conn: &mut PgConnection,
        delivery: &Delivery<'_>,
        routes: &[Route],
        services: &HashMap<String, i64>,
        results: &mut [Option<AlertResult>],
    ) -> Result<(), StoreError> {
        let mut opening = Vec::new();
        for ((route, alert), index) in routes.iter().zip(delivery.alerts).zip(0..) {
            if let Route::Open { existed } = route {
                let prepared = self.prepare_opening(
                    delivery.source,
                    delivery.actor,
                    alert,
                    services,
                    delivery.now,
                );
                opening.push((index, alert, *existed, prepared));
            }
        }
        if opening.is_empty() {
            return Ok(());
        }
        let openings: Vec<_> = opening
            .iter()
            .map(|(.., prepared)| prepared.opening(delivery.actor, delivery.now))
            .collect();
        let opened = store::opening::open_all(conn, &openings).await?;
        let mut links = Vec::with_capacity(opened.len());
        for ((index, alert, existed, prepared), (id, number)) in opening.iter().zip(opened) {
            let incident = prepared.new.opened(id, number, delivery.now);
            links.push(NewLink {
                fingerprint: alert.fingerprint.as_str(),
                ticket_id: id,
                existed: *existed,
            });
            results[*index] = Some(super::result(
                alert,
                &incident,
                AlertAction::Opened,
                prepared.note.clone(),
            ));
        }
        store::alerts::link_all(conn, delivery.source, &links, delivery.now).await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::TimeZone;

    use super::*;
    use crate::domain::alert::Fingerprint;
    use crate::domain::incident::{IncidentStatus, Origin};
    use crate::domain::{Level, Platform, Priority};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 9, 30, 0).unwrap()
    }

    fn alert(fingerprint: &str, status: AlertStatus) -> Alert {
        Alert {
            fingerprint: Fingerprint::parse(fingerprint).unwrap(),
            status,
            labels: BTreeMap::from([("alertname".to_string(), "DiskFull".to_string())]),
            annotations: BTreeMap::new(),
            starts_at: None,
            ends_at: None,
            links: Vec::new(),
        }
    }

    fn incident(id: i64, status: IncidentStatus) -> Incident {
        let at = Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap();
        Incident {
            id,
            number: id,
            title: "DiskFull".into(),
            description: String::new(),
            priority: Priority::P3,
            impact: Level::Medium,
            urgency: Level::Medium,
            status,
            status_before_hold: None,
            hold_reason: None,
            service: None,
            reporter: actor(),
            assignee: None,
            origin: Origin {
                platform: Platform::Slack,
                channel: "C1".into(),
                thread: None,
                message: None,
            },
            created_at: at,
            updated_at: at,
            acknowledged_at: None,
            acknowledged_by: None,
            responded_at: None,
            resolved_by_monitoring: false,
            resolved_at: (status == IncidentStatus::Resolved).then_some(at),
            resolution: None,
            closed_at: None,
        }
    }

    fn actor() -> UserId {
        UserId::new(Platform::Shell, "alertmanager").unwrap()
    }

    fn link(ticket_id: i64, status: AlertStatus) -> AlertLink {
        AlertLink { ticket_id, status }
    }

    /// The routes of `alerts`, as words, given what is stored.
    fn route_names(
        alerts: &[Alert],
        links: &[(&str, AlertLink)],
        incidents: &[Incident],
        open_together: bool,
    ) -> Vec<&'static str> {
        let links = links
            .iter()
            .map(|(fingerprint, link)| (fingerprint.to_string(), link.clone()))
            .collect();
        let incidents = incidents.iter().map(|i| (i.id, i.clone())).collect();
        let actor = actor();
        let lifecycle = LifecycleRules {
            reopen_grace: chrono::Duration::days(7),
        };
        let delivery = Delivery {
            source: AlertSource::Alertmanager,
            actor: &actor,
            alerts,
            links: &links,
            incidents: &incidents,
            now: now(),
            lifecycle: &lifecycle,
            open_together,
        };
        routes(&delivery)
            .into_iter()
            .map(|route| match route {
                Route::Note { .. } => "note",
                Route::Open { existed: false } => "open",
                Route::Open { existed: true } => "open again",
                Route::OneByOne => "one by one",
            })
            .collect()
    }

    #[test]
    fn plain_repeats_are_noted_and_new_alerts_opened_together() {
        use AlertStatus::Firing;
        let alerts = [alert("a", Firing), alert("b", Firing), alert("c", Firing)];
        let links = [("a", link(1, Firing)), ("c", link(3, Firing))];
        let incidents = [
            incident(1, IncidentStatus::New),
            incident(3, IncidentStatus::Resolved),
        ];
        assert_eq!(
            route_names(&alerts, &links, &incidents, true),
            ["note", "open", "open again"]
        );
    }

    #[test]
    fn a_note_records_the_repeat_and_changes_only_updated_at() {
        let alerts = [alert("a", AlertStatus::Firing)];
        let links: HashMap<String, AlertLink> =
            HashMap::from([("a".to_string(), link(1, AlertStatus::Firing))]);
        let before = incident(1, IncidentStatus::Acknowledged);
        let incidents = HashMap::from([(1, before.clone())]);
        let actor = actor();
        let lifecycle = LifecycleRules {
            reopen_grace: chrono::Duration::days(7),
        };
        let delivery = Delivery {
            source: AlertSource::Alertmanager,
            actor: &actor,
            alerts: &alerts,
            links: &links,
            incidents: &incidents,
            now: now(),
            lifecycle: &lifecycle,
            open_together: true,
        };
        let routes = routes(&delivery);
        let [Route::Note { incident, events }] = routes.as_slice() else {
            panic!("not a note: {routes:?}");
        };
        assert_eq!(
            **incident,
            Incident {
                updated_at: now(),
                ..before
            }
        );
        assert_eq!(events.len(), 1);
        assert_eq!(
            events[0].body.as_deref(),
            Some("Alertmanager alert a is still firing.")
        );
    }

    #[test]
    fn unusual_alerts_go_one_by_one_and_take_the_openings_with_them() {
        use AlertStatus::{Firing, Resolved};
        // A recovery and a re-fire after a recovery: both alone; the
        // recovery opens nothing, so the new alert is still opened together.
        let alerts = [alert("a", Resolved), alert("b", Firing), alert("c", Firing)];
        let links = [("a", link(1, Firing)), ("c", link(3, Resolved))];
        let incidents = [
            incident(1, IncidentStatus::New),
            incident(3, IncidentStatus::New),
        ];
        assert_eq!(
            route_names(&alerts, &links, &incidents, true),
            ["one by one", "one by one", "one by one"],
            "the re-fire fires alone, so openings follow it one by one"
        );
        assert_eq!(
            route_names(&alerts[..2], &links, &incidents, true),
            ["one by one", "open"]
        );
    }

    #[test]
    fn an_alert_listed_twice_goes_one_by_one_both_times() {
        use AlertStatus::{Firing, Resolved};
        let alerts = [alert("a", Firing), alert("b", Firing), alert("a", Resolved)];
        let links = [("b", link(2, Firing))];
        let incidents = [incident(2, IncidentStatus::New)];
        assert_eq!(
            route_names(&alerts, &links, &incidents, true),
            ["one by one", "note", "one by one"]
        );
    }

    #[test]
    fn rules_on_openings_keep_openings_one_by_one_but_not_notes() {
        use AlertStatus::Firing;
        let alerts = [alert("a", Firing), alert("b", Firing)];
        let links = [("a", link(1, Firing))];
        let incidents = [incident(1, IncidentStatus::OnHold)];
        assert_eq!(
            route_names(&alerts, &links, &incidents, false),
            ["note", "one by one"]
        );
    }

    #[test]
    fn a_link_to_a_missing_incident_goes_one_by_one() {
        let alerts = [alert("a", AlertStatus::Firing)];
        let links = [("a", link(9, AlertStatus::Firing))];
        assert_eq!(route_names(&alerts, &links, &[], true), ["one by one"]);
    }
}

//! A delivery's common cases, handled together: repeats of firing alerts
//! whose incident is open are noted in one statement, and new alerts open
//! their incidents in one statement and are linked (with their groups) in
//! another. Handled alert by alert, a delivery of ten took some fifty round
//! trips, and the round trips were the time. Everything else (recoveries,
//! an alert firing again after it resolved, an alert listed twice,
//! incidents rules react to) goes alert by alert as before.

use std::collections::HashMap;

use sqlx::PgConnection;

use super::grouping::{self, Delivery};
use super::{AlertAction, AlertResult};
use crate::commands::execute::Engine;
use crate::domain::alert::{Alert, AlertSource, AlertStatus, GroupKey};
use crate::domain::automation::{Rule, Trigger};
use crate::domain::incident::{Incident, IncidentAction};
use crate::domain::timeline::NewEvent;
use crate::domain::FreeText;
use crate::store::alert_delivery::Notes;
use crate::store::alerts::NewLink;
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
    /// A firing alert with no open incident, the first of its group (or
    /// storm) in the delivery whose group has none either: opened together
    /// with the delivery's other new alerts. `existed` when the alert has a
    /// row from an earlier episode.
    Open { existed: bool },
    /// A firing alert with no open incident of its own whose group (or
    /// storm) has one stored: attached to it.
    Join { ticket_id: i64, existed: bool },
    /// A firing alert attached to the incident the delivery's alert number
    /// `opener` opens for their group.
    JoinNew { opener: usize, existed: bool },
    /// Anything else: handled on its own.
    OneByOne,
}

/// Whether `rules` leave new alerts free to be opened together: none of
/// them reacts to an incident being opened or an alert firing.
pub(super) fn may_open_together(rules: &[Rule]) -> bool {
    !rules
        .iter()
        .any(|rule| matches!(rule.on, Trigger::IncidentCreated | Trigger::AlertFired))
}

/// Decides how each alert of `delivery` is handled, in its order; `into`
/// holds the group each alert's incident is found or opened under
/// ([`grouping::plan`]).
pub(super) fn routes(delivery: &Delivery<'_>, into: &[GroupKey]) -> Vec<Route> {
    let mut times_listed: HashMap<&str, usize> = HashMap::new();
    for alert in delivery.alerts {
        *times_listed.entry(alert.fingerprint.as_str()).or_default() += 1;
    }
    let mut openers: HashMap<&GroupKey, usize> = HashMap::new();
    let mut routes: Vec<Route> = delivery
        .alerts
        .iter()
        .zip(into)
        .enumerate()
        .map(|(index, (alert, into))| {
            let fingerprint = alert.fingerprint.as_str();
            // A second mention must see what the first one did.
            if alert.status != AlertStatus::Firing || times_listed[fingerprint] > 1 {
                return Route::OneByOne;
            }
            let Some(existed) = grouping::needs_incident(alert, delivery.links, delivery.incidents)
            else {
                let Some(incident) = delivery
                    .links
                    .get(fingerprint)
                    .and_then(|link| delivery.incidents.get(&link.ticket_id))
                else {
                    // A link to no incident is corrupt; alert by alert says so.
                    return Route::OneByOne;
                };
                if delivery.links[fingerprint].status == AlertStatus::Resolved {
                    // Firing again after it resolved: rules may react to that.
                    return Route::OneByOne;
                }
                return note_route(delivery, alert, incident);
            };
            if let Some(ticket_id) = delivery.groups.get(into) {
                if !delivery.incidents.contains_key(ticket_id) {
                    return Route::OneByOne;
                }
                return Route::Join {
                    ticket_id: *ticket_id,
                    existed,
                };
            }
            match openers.get(into) {
                Some(opener) => Route::JoinNew {
                    opener: *opener,
                    existed,
                },
                None => {
                    openers.insert(into, index);
                    Route::Open { existed }
                }
            }
        })
        .collect();
    // Alerts handled on their own that fire may open incidents too, and
    // incident numbers follow the alerts' order: then all open one by one,
    // and the alerts that would join them follow alert by alert.
    let firing_alone = routes
        .iter()
        .zip(delivery.alerts)
        .any(|(route, alert)| *route == Route::OneByOne && alert.status == AlertStatus::Firing);
    if firing_alone || !delivery.open_together {
        for route in &mut routes {
            if matches!(route, Route::Open { .. } | Route::JoinNew { .. }) {
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

/// The note the repeats of several firing alerts of one incident leave.
fn still_firing_many(source: AlertSource, fingerprints: &[&str]) -> String {
    const NAMED: usize = 5;
    let mut list = fingerprints[..fingerprints.len().min(NAMED)].join(", ");
    if fingerprints.len() > NAMED {
        list.push_str(&format!(" and {} more", fingerprints.len() - NAMED));
    }
    format!(
        "{} {} alerts are still firing: {list}.",
        fingerprints.len(),
        source.product()
    )
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
        let mut incidents: Vec<Incident> = Vec::new();
        let mut events: Vec<Vec<NewEvent>> = Vec::new();
        // The repeats of each incident, by its place in `incidents`: a
        // group's incident gets one note for all of its repeats.
        let mut repeated: Vec<Vec<&str>> = Vec::new();
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
            match incidents.iter().position(|known| known.id == incident.id) {
                Some(place) => repeated[place].push(alert.fingerprint.as_str()),
                None => {
                    incidents.push(incident.as_ref().clone());
                    events.push(its.clone());
                    repeated.push(vec![alert.fingerprint.as_str()]);
                }
            }
        }
        for ((incident, its), fingerprints) in incidents.iter_mut().zip(&mut events).zip(&repeated)
        {
            if fingerprints.len() < 2 {
                continue;
            }
            let before = delivery.incidents.get(&incident.id);
            let text = still_firing_many(delivery.source, fingerprints);
            let summary =
                before
                    .zip(FreeText::parse("note", &text).ok())
                    .and_then(|(before, text)| {
                        before
                            .apply(
                                &IncidentAction::Note(text),
                                delivery.actor,
                                delivery.now,
                                delivery.lifecycle,
                            )
                            .ok()
                    });
            // The one repeat's note applied cleanly, so the summary does;
            // should it not, the first repeat's note stands for all.
            if let Some(applied) = summary.filter(|applied| applied.incident == *incident) {
                *its = applied.events;
            }
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
    /// statement, numbered in the alerts' order, links their alerts and
    /// points their groups at them in one more, and puts their results in
    /// `results`. Returns the opened incidents by their alert's place.
    pub(super) async fn open_together(
        &self,
        conn: &mut PgConnection,
        delivery: &Delivery<'_>,
        routes: &[Route],
        into: &[GroupKey],
        services: &HashMap<String, i64>,
        results: &mut [Option<AlertResult>],
    ) -> Result<HashMap<usize, Incident>, StoreError> {
        let mut opening = Vec::new();
        for ((route, alert), index) in routes.iter().zip(delivery.alerts).zip(0..) {
            if let Route::Open { existed } = route {
                let prepared = self.prepare_opening(
                    delivery.source,
                    delivery.actor,
                    alert,
                    &into[index],
                    services,
                    delivery.now,
                );
                opening.push((index, alert, *existed, prepared));
            }
        }
        let mut incidents = HashMap::new();
        if opening.is_empty() {
            return Ok(incidents);
        }
        let openings: Vec<_> = opening
            .iter()
            .map(|(.., prepared)| prepared.opening(delivery.actor, delivery.now))
            .collect();
        let opened = store::opening::open_all(conn, &openings).await?;
        let mut links = Vec::with_capacity(opened.len());
        let mut groups = Vec::with_capacity(opened.len() * 2);
        let names: Vec<String> = opening
            .iter()
            .map(|(_, alert, ..)| alert.title().to_string())
            .collect();
        for (((index, alert, existed, prepared), (id, number)), name) in
            opening.iter().zip(opened).zip(&names)
        {
            let incident = prepared.new.opened(id, number, delivery.now);
            links.push(NewLink {
                fingerprint: alert.fingerprint.as_str(),
                ticket_id: id,
                existed: *existed,
                name,
            });
            groups.extend(super::group_links(&delivery.own[*index], &into[*index], id));
            results[*index] = Some(super::result(
                alert,
                &incident,
                AlertAction::Opened,
                prepared.note.clone(),
            ));
            incidents.insert(*index, incident);
        }
        store::alerts::attach(conn, delivery.source, &links, &groups, delivery.now).await?;
        Ok(incidents)
    }

    /// Attaches the alerts of every [`Route::Join`] and [`Route::JoinNew`]
    /// to their group's incident: one note per incident naming the alerts
    /// that joined it, their rows linked and their groups pointed at it
    /// together.
    pub(super) async fn join_together(
        &self,
        conn: &mut PgConnection,
        delivery: &Delivery<'_>,
        routes: &[Route],
        opened: &HashMap<usize, Incident>,
        results: &mut [Option<AlertResult>],
    ) -> Result<(), super::AlertError> {
        // Each target incident with the places of the alerts joining it, in
        // the order the incidents first come.
        let mut targets: Vec<(Incident, Vec<usize>)> = Vec::new();
        for (index, route) in routes.iter().enumerate() {
            let incident = match route {
                Route::Join { ticket_id, .. } => delivery.incidents.get(ticket_id),
                Route::JoinNew { opener, .. } => opened.get(opener),
                _ => continue,
            };
            let Some(incident) = incident else {
                return Err(StoreError::Corrupt(format!(
                    "alert {} joins an incident the delivery did not lock",
                    delivery.alerts[index].fingerprint
                ))
                .into());
            };
            match targets
                .iter_mut()
                .find(|(known, _)| known.id == incident.id)
            {
                Some((_, joined)) => joined.push(index),
                None => targets.push((incident.clone(), vec![index])),
            }
        }
        if targets.is_empty() {
            return Ok(());
        }
        let names: Vec<String> = delivery
            .alerts
            .iter()
            .map(|alert| alert.title().to_string())
            .collect();
        let mut links = Vec::new();
        let mut groups = Vec::new();
        for (incident, joined) in &targets {
            let alerts: Vec<&Alert> = joined.iter().map(|i| &delivery.alerts[*i]).collect();
            self.tell_other_channels(conn, delivery.source, incident, &alerts)
                .await?;
            let note = super::joined_note(
                delivery.source,
                joined.iter().map(|index| names[*index].as_str()),
                joined.len(),
            );
            let first = &delivery.alerts[joined[0]];
            let noted = self
                .alert_acts(
                    conn,
                    delivery.actor,
                    first,
                    incident,
                    super::note_action(first, &note)?,
                )
                .await?;
            let noted = self
                .raise_for_joined(conn, delivery.actor, &alerts, noted)
                .await?;
            for index in joined {
                let alert = &delivery.alerts[*index];
                let existed = matches!(
                    routes[*index],
                    Route::Join { existed: true, .. } | Route::JoinNew { existed: true, .. }
                );
                links.push(NewLink {
                    fingerprint: alert.fingerprint.as_str(),
                    ticket_id: incident.id,
                    existed,
                    name: &names[*index],
                });
                groups.extend(super::group_links(
                    &delivery.own[*index],
                    &delivery.own[*index],
                    incident.id,
                ));
                self.fire_alert_rules(conn, Trigger::AlertFired, alert, &noted)
                    .await?;
                results[*index] = Some(super::result(alert, &noted, AlertAction::Grouped, None));
            }
        }
        store::alerts::attach(conn, delivery.source, &links, &groups, delivery.now).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::TimeZone;

    use super::*;
    use crate::domain::alert::{Fingerprint, GroupBy};
    use crate::domain::incident::LifecycleRules;
    use crate::domain::incident::{IncidentStatus, Origin};
    use crate::domain::UserId;
    use crate::domain::{Level, Platform, Priority};
    use crate::store::alerts::AlertLink;
    use chrono::{DateTime, Utc};

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
            sender_group: None,
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
    fn grouped_route_names(
        alerts: &[Alert],
        links: &[(&str, AlertLink)],
        incidents: &[Incident],
        groups: &HashMap<GroupKey, i64>,
        grouping: GroupBy,
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
        let own: Vec<GroupKey> = alerts.iter().map(|a| a.group_key(&grouping)).collect();
        let delivery = Delivery {
            source: AlertSource::Alertmanager,
            actor: &actor,
            alerts,
            own: &own,
            links: &links,
            incidents: &incidents,
            groups,
            now: now(),
            lifecycle: &lifecycle,
            open_together,
        };
        routes(&delivery, &own)
            .into_iter()
            .map(|route| match route {
                Route::Note { .. } => "note",
                Route::Open { existed: false } => "open",
                Route::Open { existed: true } => "open again",
                Route::Join { .. } => "join",
                Route::JoinNew { .. } => "join new",
                Route::OneByOne => "one by one",
            })
            .collect()
    }

    fn route_names(
        alerts: &[Alert],
        links: &[(&str, AlertLink)],
        incidents: &[Incident],
        open_together: bool,
    ) -> Vec<&'static str> {
        grouped_route_names(
            alerts,
            links,
            incidents,
            &HashMap::new(),
            GroupBy::Fingerprint,
            open_together,
        )
    }

    #[test]
    fn alerts_of_a_group_join_its_incident_or_the_one_its_first_alert_opens() {
        use AlertStatus::Firing;
        let mut alerts = vec![
            alert("a", Firing),
            alert("b", Firing),
            alert("c", Firing),
            alert("d", Firing),
        ];
        for (alert, group) in alerts.iter_mut().zip(["g1", "g1", "g2", "g2"]) {
            alert.sender_group = Some(group.into());
        }
        let links = [("d", link(3, Firing))];
        let incidents = [
            incident(3, IncidentStatus::Resolved),
            incident(7, IncidentStatus::New),
        ];
        let groups = HashMap::from([(alerts[2].group_key(&GroupBy::SenderGroup), 7)]);
        assert_eq!(
            grouped_route_names(
                &alerts,
                &links,
                &incidents,
                &groups,
                GroupBy::SenderGroup,
                true
            ),
            ["open", "join new", "join", "join"]
        );
        assert_eq!(
            grouped_route_names(
                &alerts,
                &links,
                &incidents,
                &groups,
                GroupBy::SenderGroup,
                false
            ),
            ["one by one", "one by one", "join", "join"],
            "openings one by one take their joiners with them"
        );
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
        let own = [alerts[0].group_key(&GroupBy::Fingerprint)];
        let groups = HashMap::new();
        let delivery = Delivery {
            source: AlertSource::Alertmanager,
            actor: &actor,
            alerts: &alerts,
            own: &own,
            links: &links,
            incidents: &incidents,
            groups: &groups,
            now: now(),
            lifecycle: &lifecycle,
            open_together: true,
        };
        let routes = routes(&delivery, &own);
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

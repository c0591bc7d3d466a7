//! Which incident each alert of a delivery attaches to: the alert's own
//! (open) incident, its group's, a storm's, or a new one. Decided before
//! anything is written, in the delivery's order, from what is stored.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::domain::alert::{Alert, AlertRules, AlertSource, AlertStatus, GroupKey, StormGuard};
use crate::domain::incident::{Incident, LifecycleRules};
use crate::domain::UserId;
use crate::store::alerts::AlertLink;

/// What routing a delivery reads.
pub(super) struct Delivery<'a> {
    pub source: AlertSource,
    pub actor: &'a UserId,
    pub alerts: &'a [Alert],
    /// Each alert's own group, at the same place.
    pub own: &'a [GroupKey],
    /// The delivery's alerts as stored, by fingerprint.
    pub links: &'a HashMap<String, AlertLink>,
    /// The incidents of those links and groups, locked, by ticket id.
    pub incidents: &'a HashMap<i64, Incident>,
    /// The open incidents of the delivery's groups and of live storms.
    pub groups: &'a HashMap<GroupKey, i64>,
    pub now: DateTime<Utc>,
    pub lifecycle: &'a LifecycleRules,
    /// Whether new alerts may be opened together: not when a rule reacts to
    /// an opening, since rules run alert by alert, between the openings.
    pub open_together: bool,
}

/// Whether a firing alert needs an incident other than its own: `None` when
/// it is not firing or its own incident is open (it notes that one), else
/// whether it has a row from an earlier episode.
pub(super) fn needs_incident(
    alert: &Alert,
    links: &HashMap<String, AlertLink>,
    incidents: &HashMap<i64, Incident>,
) -> Option<bool> {
    if alert.status != AlertStatus::Firing {
        return None;
    }
    let Some(link) = links.get(alert.fingerprint.as_str()) else {
        return Some(false);
    };
    match incidents.get(&link.ticket_id) {
        Some(incident) if incident.status.is_open() => None,
        // Ended (or, corrupt, missing: alert by alert says so): a new episode.
        Some(_) => Some(true),
        None => None,
    }
}

/// The group each alert's incident is found or opened under: its own
/// group, or — when it would open an incident and the storm guard says
/// the alerts are storming — the storm's group. An alert listed after
/// another of its group follows that one's decision.
pub(super) fn plan(
    delivery: &Delivery<'_>,
    rules: &AlertRules,
    services: &HashMap<String, i64>,
    storm: &mut StormGuard,
) -> Vec<GroupKey> {
    let mut decided: HashMap<&GroupKey, GroupKey> = HashMap::new();
    delivery
        .alerts
        .iter()
        .zip(delivery.own)
        .map(|(alert, own)| {
            if needs_incident(alert, delivery.links, delivery.incidents).is_none()
                || delivery.groups.contains_key(own)
            {
                return own.clone();
            }
            if let Some(into) = decided.get(own) {
                return into.clone();
            }
            let service = alert.service(rules).and_then(|named| {
                let name = named.to_ascii_lowercase();
                let id = *services.get(&name)?;
                Some((name, id))
            });
            let into = storm
                .place(service.as_ref().map(|(name, id)| (name.as_str(), *id)))
                .unwrap_or_else(|| own.clone());
            decided.insert(own, into.clone());
            into
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::domain::alert::{Fingerprint, GroupBy};
    use crate::domain::{Platform, Priority};

    fn alert(fingerprint: &str, group: &str, service: &str) -> Alert {
        Alert {
            fingerprint: Fingerprint::parse(fingerprint).unwrap(),
            status: AlertStatus::Firing,
            labels: BTreeMap::from([("service".to_string(), service.to_string())]),
            annotations: BTreeMap::new(),
            starts_at: None,
            ends_at: None,
            links: Vec::new(),
            sender_group: Some(group.to_string()),
        }
    }

    fn rules() -> AlertRules {
        AlertRules {
            severity_priorities: BTreeMap::new(),
            default_priority: Priority::P3,
            service_label: "service".into(),
        }
    }

    #[test]
    fn alerts_follow_their_group_and_the_storm_takes_the_overflow() {
        let alerts: Vec<Alert> = [
            ("a", "g1", "vpn"),
            ("b", "g1", "vpn"),
            ("c", "g2", "vpn"),
            ("d", "g3", "vpn"),
            ("e", "g3", "vpn"),
            ("f", "g4", "mail"),
        ]
        .iter()
        .map(|(f, g, s)| alert(f, g, s))
        .collect();
        let own: Vec<GroupKey> = alerts
            .iter()
            .map(|a| a.group_key(&GroupBy::SenderGroup))
            .collect();
        let services = HashMap::from([("vpn".to_string(), 1), ("mail".to_string(), 2)]);
        let mut storm = StormGuard {
            threshold: 2,
            ..StormGuard::default()
        };
        let stored = HashMap::from([(own[5].clone(), 40)]);
        let actor = UserId::new(Platform::Shell, "alertmanager").unwrap();
        let lifecycle = LifecycleRules {
            reopen_grace: chrono::Duration::days(7),
        };
        let (links, incidents) = (HashMap::new(), HashMap::new());
        let delivery = Delivery {
            source: AlertSource::Alertmanager,
            actor: &actor,
            alerts: &alerts,
            own: &own,
            links: &links,
            incidents: &incidents,
            groups: &stored,
            now: chrono::Utc::now(),
            lifecycle: &lifecycle,
            open_together: true,
        };
        let into = plan(&delivery, &rules(), &services, &mut storm);
        let names: Vec<&str> = into.iter().map(GroupKey::as_str).collect();
        assert_eq!(
            names,
            [
                "group:g1",
                "group:g1",
                "group:g2",
                "storm:vpn",
                "storm:vpn",
                "group:g4"
            ],
            "g1 and g2 open, g3 storms, g4 has an open incident"
        );
    }
}

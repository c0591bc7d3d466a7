//! Monitoring alerts in the engine: a firing alert opens an incident, a
//! repeat of it notes that incident, its recovery notes it and (with
//! `hooks.auto_resolve`) resolves it. One delivery, however many alerts it
//! holds, is one transaction.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use super::{rules, Engine};
use crate::domain::alert::{Alert, AlertRules, AlertSource, AlertStatus, GroupKey, StormGuard};
use crate::domain::automation::Trigger;
use crate::domain::channel::ChannelRef;
use crate::domain::incident::{Incident, IncidentAction, IncidentStatus, NewIncident, Origin};
use crate::domain::sla::{Checkpoint, ClockView};
use crate::domain::timeline::{EventAction, NewEvent};
use crate::domain::{FreeText, Platform, TicketRef, UserId};
use crate::store::alerts::{AlertLink, GroupLink, NewLink};
use crate::store::opening::{Opened, Opening};
use crate::store::{self, StoreError};

mod batch;
mod grouping;

use batch::Route;
use grouping::Delivery;

/// What the engine did with one alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertAction {
    /// A new incident was opened for it.
    Opened,
    /// Its incident got a timeline note (a repeat, or a recovery without
    /// auto-resolve).
    Noted,
    /// It joined the open incident of its group (or of a storm), which
    /// notes it.
    Grouped,
    /// Its incident was noted and resolved.
    Resolved,
    /// Nothing to do: a recovery of an alert with no open incident, or one
    /// already recorded.
    Ignored,
}

impl AlertAction {
    /// The name in responses and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertAction::Opened => "opened",
            AlertAction::Noted => "noted",
            AlertAction::Grouped => "grouped",
            AlertAction::Resolved => "resolved",
            AlertAction::Ignored => "ignored",
        }
    }
}

/// One alert's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertResult {
    pub fingerprint: String,
    /// The incident the alert is tied to, if any.
    pub incident: Option<TicketRef>,
    pub action: AlertAction,
    /// Anything the sender should know (an unknown service, why it was ignored).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// What a whole delivery did, alert by alert, in the order received.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AlertOutcome {
    pub incidents: Vec<AlertResult>,
}

/// Why a delivery was not recorded. Nothing of it was written.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An incident refused the change (a person changed it at the same
    /// moment); the sender may deliver again.
    #[error("alert {fingerprint}: {reason}")]
    Refused { fingerprint: String, reason: String },
}

impl AlertError {
    fn refused(alert: &Alert, reason: impl ToString) -> Self {
        AlertError::Refused {
            fingerprint: alert.fingerprint.to_string(),
            reason: reason.to_string(),
        }
    }
}

/// The user alert-made changes are recorded under ([`UserId::monitoring`]).
pub fn alert_actor(source: AlertSource) -> Result<UserId, crate::domain::user::UserIdError> {
    UserId::monitoring(source)
}

impl Engine {
    /// Records one delivery of alerts from `source` in one transaction:
    /// either every alert's effect is stored, or (on an error) none is.
    pub async fn receive_alerts(
        &self,
        source: AlertSource,
        alerts: &[Alert],
    ) -> Result<AlertOutcome, AlertError> {
        let actor = alert_actor(source).map_err(|err| AlertError::Refused {
            fingerprint: String::new(),
            reason: err.to_string(),
        })?;
        let grouping = self.config.hooks.grouping();
        let own: Vec<GroupKey> = alerts.iter().map(|a| a.group_key(&grouping)).collect();
        let mut tx = self.store.begin().await?;
        // Deliveries naming the same alert or group wait for each other
        // here, so the second sees the first one's incident instead of
        // opening another.
        let fingerprints: Vec<&str> = alerts.iter().map(|a| a.fingerprint.as_str()).collect();
        let own_refs: Vec<&GroupKey> = own.iter().collect();
        store::alerts::lock_alerts(&mut tx, source, &fingerprints, &own_refs).await?;
        let links = store::alerts::find_all(&mut tx, source, &fingerprints).await?;
        let mut groups = store::alerts::open_groups(&mut tx, source, &own_refs).await?;
        let mut storm = self
            .storm_guard(&mut tx, source, &actor, alerts, &own, &groups)
            .await?;
        groups.extend(storm.live.iter().map(|(key, id)| (key.clone(), *id)));
        let incidents = self
            .lock_firing_links(&mut tx, alerts, &links, &groups)
            .await?;
        // Only alerts that may open an incident need their services.
        let opening = alerts
            .iter()
            .any(|alert| grouping::needs_incident(alert, &links, &incidents).is_some());
        let services = if opening {
            self.services_named(&mut tx, alerts).await?
        } else {
            HashMap::new()
        };
        let delivery = Delivery {
            source,
            actor: &actor,
            alerts,
            own: &own,
            links: &links,
            incidents: &incidents,
            groups: &groups,
            now: self.clock.now(),
            lifecycle: &self.lifecycle,
            open_together: batch::may_open_together(&self.config.automation.compiled_rules),
        };
        let into = grouping::plan(&delivery, &self.config.hooks.rules(), &services, &mut storm);
        let routes = batch::routes(&delivery, &into);
        let mut results: Vec<Option<AlertResult>> = vec![None; alerts.len()];
        // The routes keep each incident to one of these steps (or to the
        // joins after its opening), so their order does not matter to any
        // incident.
        self.note_together(&mut tx, &delivery, &routes, &mut results)
            .await?;
        let opened = self
            .open_together(&mut tx, &delivery, &routes, &into, &services, &mut results)
            .await?;
        self.join_together(&mut tx, &delivery, &routes, &opened, &mut results)
            .await?;
        let mut known = Known {
            links,
            services,
            groups,
        };
        for (index, (alert, route)) in alerts.iter().zip(&routes).enumerate() {
            if *route != Route::OneByOne {
                continue;
            }
            results[index] = Some(match alert.status {
                AlertStatus::Firing => {
                    let groups = (&own[index], &into[index]);
                    self.alert_fired(&mut tx, source, &actor, alert, groups, &mut known)
                        .await?
                }
                AlertStatus::Resolved => {
                    self.alert_resolved(&mut tx, source, &actor, alert, &mut known)
                        .await?
                }
            });
        }
        let incidents = results
            .into_iter()
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                StoreError::Corrupt("an alert of the delivery was not handled".into())
            })?;
        tx.commit().await.map_err(StoreError::from)?;
        self.outbox_signal.notify_waiters();
        Ok(AlertOutcome { incidents })
    }

    /// The storm guard for a delivery: off (threshold 0) unless some firing
    /// alert may open an incident, else the openings of the window and the
    /// live storms, read under the openings lock so that concurrent
    /// deliveries count each other's.
    async fn storm_guard(
        &self,
        conn: &mut PgConnection,
        source: AlertSource,
        actor: &UserId,
        alerts: &[Alert],
        own: &[GroupKey],
        groups: &HashMap<GroupKey, i64>,
    ) -> Result<StormGuard, StoreError> {
        let hooks = &self.config.hooks;
        let may_open = alerts
            .iter()
            .zip(own)
            .any(|(alert, own)| alert.status == AlertStatus::Firing && !groups.contains_key(own));
        if hooks.storm_threshold == 0 || !may_open {
            return Ok(StormGuard::default());
        }
        store::alerts::lock_openings(conn, source).await?;
        let since = self.clock.now() - hooks.storm_window.0;
        let mut guard = StormGuard {
            threshold: hooks.storm_threshold,
            live: store::alerts::live_storms(conn, source, since)
                .await?
                .into_iter()
                .collect(),
            ..StormGuard::default()
        };
        for (service, count) in
            store::alerts::openings_since(conn, &actor.to_string(), since).await?
        {
            let count = usize::try_from(count).unwrap_or(usize::MAX);
            guard.total = guard.total.saturating_add(count);
            guard.by_service.insert(service, count);
        }
        Ok(guard)
    }

    /// Locks, in one statement, the incidents the delivery's firing alerts
    /// are tied to and those of their groups: whether each is open decides
    /// how its alert is handled.
    async fn lock_firing_links(
        &self,
        conn: &mut PgConnection,
        alerts: &[Alert],
        links: &HashMap<String, AlertLink>,
        groups: &HashMap<GroupKey, i64>,
    ) -> Result<HashMap<i64, Incident>, StoreError> {
        let mut ids: Vec<i64> = alerts
            .iter()
            .filter(|alert| alert.status == AlertStatus::Firing)
            .filter_map(|alert| links.get(alert.fingerprint.as_str()))
            .map(|link| link.ticket_id)
            .chain(groups.values().copied())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let incidents = store::incidents::lock_all_by_id(conn, &ids).await?;
        Ok(incidents.into_iter().map(|i| (i.id, i)).collect())
    }

    /// The ids of the catalog services named by the firing alerts, read in
    /// one statement (none when no alert names one): an alert that opens an
    /// incident gives it its service, and the storm guard counts by service.
    async fn services_named(
        &self,
        conn: &mut PgConnection,
        alerts: &[Alert],
    ) -> Result<HashMap<String, i64>, StoreError> {
        let rules = self.config.hooks.rules();
        let mut names: Vec<String> = alerts
            .iter()
            .filter(|alert| alert.status == AlertStatus::Firing)
            .filter_map(|alert| alert.service(&rules))
            .map(|name| name.to_ascii_lowercase())
            .collect();
        names.sort();
        names.dedup();
        if names.is_empty() {
            return Ok(HashMap::new());
        }
        store::services::find_ids(conn, &names).await
    }

    async fn alert_fired(
        &self,
        conn: &mut PgConnection,
        source: AlertSource,
        actor: &UserId,
        alert: &Alert,
        (own, into): (&GroupKey, &GroupKey),
        known: &mut Known,
    ) -> Result<AlertResult, AlertError> {
        let fingerprint = alert.fingerprint.as_str();
        let link = known.links.get(fingerprint).cloned();
        if let Some(link) = &link {
            let incident = self.lock_linked(conn, link.ticket_id).await?;
            if incident.status.is_open() {
                let note = if link.status == AlertStatus::Resolved {
                    format!("{} alert {fingerprint} is firing again.", source.product())
                } else {
                    batch::still_firing(source, fingerprint)
                };
                self.alert_acts(conn, actor, alert, &incident, note_action(alert, &note)?)
                    .await?;
                store::alerts::set_status(
                    conn,
                    source,
                    fingerprint,
                    AlertStatus::Firing,
                    self.clock.now(),
                )
                .await?;
                known.seen(fingerprint, link.ticket_id, AlertStatus::Firing);
                if link.status == AlertStatus::Resolved {
                    self.fire_alert_rules(conn, Trigger::AlertFired, alert, &incident)
                        .await?;
                }
                return Ok(result(alert, &incident, AlertAction::Noted, None));
            }
            // Its incident was resolved or closed (by a person, or by the
            // recovery): this is a new episode, of its group's incident or
            // of a new one.
        }
        let name = alert.title().to_string();
        let new_link = |ticket_id| NewLink {
            fingerprint,
            ticket_id,
            existed: link.is_some(),
            name: &name,
        };
        let now = self.clock.now();
        if let Some(ticket_id) = known.groups.get(into).copied() {
            let incident = self.lock_linked(conn, ticket_id).await?;
            if incident.status.is_open() {
                let note = joined_note(source, [name.as_str()], 1);
                let noted = self
                    .alert_acts(conn, actor, alert, &incident, note_action(alert, &note)?)
                    .await?;
                let noted = self.raise_for_joined(conn, actor, &[alert], noted).await?;
                let groups = group_links(own, own, ticket_id);
                store::alerts::attach(conn, source, &[new_link(ticket_id)], &groups, now).await?;
                known.seen(fingerprint, ticket_id, AlertStatus::Firing);
                known.groups.insert(own.clone(), ticket_id);
                self.tell_other_channels(conn, source, &noted, &[alert])
                    .await?;
                self.fire_alert_rules(conn, Trigger::AlertFired, alert, &noted)
                    .await?;
                return Ok(result(alert, &noted, AlertAction::Grouped, None));
            }
        }
        let (incident, note) = self
            .open_for_alert(conn, source, actor, alert, into, &known.services)
            .await?;
        let groups = group_links(own, into, incident.id);
        store::alerts::attach(conn, source, &[new_link(incident.id)], &groups, now).await?;
        known.seen(fingerprint, incident.id, AlertStatus::Firing);
        known.groups.insert(own.clone(), incident.id);
        known.groups.insert(into.clone(), incident.id);
        let now = self.clock.now();
        let created = rules::incident_facts(Trigger::IncidentCreated, &incident, None, now);
        self.fire_rules(conn, &created).await?;
        self.fire_alert_rules(conn, Trigger::AlertFired, alert, &incident)
            .await?;
        Ok(result(alert, &incident, AlertAction::Opened, note))
    }

    /// Runs the rules on an alert event about `incident`.
    async fn fire_alert_rules(
        &self,
        conn: &mut PgConnection,
        trigger: Trigger,
        alert: &Alert,
        incident: &Incident,
    ) -> Result<(), StoreError> {
        let mut facts = rules::incident_facts(trigger, incident, None, self.clock.now());
        facts.labels = alert.labels.clone();
        facts.detail = alert.name().map(str::to_string);
        self.fire_rules(conn, &facts).await?;
        Ok(())
    }

    async fn alert_resolved(
        &self,
        conn: &mut PgConnection,
        source: AlertSource,
        actor: &UserId,
        alert: &Alert,
        known: &mut Known,
    ) -> Result<AlertResult, AlertError> {
        let fingerprint = alert.fingerprint.as_str();
        let Some(link) = known.links.get(fingerprint).cloned() else {
            return Ok(ignored(
                alert,
                None,
                "no incident was opened for this alert",
            ));
        };
        let incident = self.lock_linked(conn, link.ticket_id).await?;
        if link.status == AlertStatus::Resolved {
            // A redelivery of the recovery, or a repeat Alertmanager sends
            // until the alert ages out: recorded once is enough.
            return Ok(ignored(
                alert,
                Some(&incident),
                "this recovery was already recorded",
            ));
        }
        let now = self.clock.now();
        store::alerts::set_status(conn, source, fingerprint, AlertStatus::Resolved, now).await?;
        known.seen(fingerprint, link.ticket_id, AlertStatus::Resolved);
        if incident.status == IncidentStatus::Closed {
            return Ok(ignored(
                alert,
                Some(&incident),
                "its incident is already closed",
            ));
        }
        self.fire_alert_rules(conn, Trigger::AlertResolved, alert, &incident)
            .await?;
        let at = self.plain_time(alert.ends_at.unwrap_or(now));
        // A group's incident waits for the last of its alerts.
        let firing = store::alerts::firing_on(conn, incident.id).await?;
        let mut recovered = format!("{} alert {fingerprint} resolved at {at}.", source.product());
        match firing {
            0 => {}
            1 => recovered.push_str(" 1 alert of this incident is still firing."),
            n => recovered.push_str(&format!(" {n} alerts of this incident are still firing.")),
        }
        let incident = self
            .alert_acts(
                conn,
                actor,
                alert,
                &incident,
                note_action(alert, &recovered)?,
            )
            .await?;
        if firing == 0 && self.config.hooks.auto_resolve && incident.status.is_open() {
            known.groups.retain(|_, ticket| *ticket != incident.id);
            let resolution = format!("the {} alert resolved", source.product());
            let resolution = FreeText::parse("resolution", &resolution)
                .map_err(|err| AlertError::refused(alert, err))?;
            let resolved = self
                .alert_acts(
                    conn,
                    actor,
                    alert,
                    &incident,
                    IncidentAction::Resolve(resolution),
                )
                .await?;
            for facts in
                super::incident::incident_change_facts(&incident, &resolved, self.clock.now())
            {
                self.fire_rules(conn, &facts).await?;
            }
            return Ok(result(alert, &resolved, AlertAction::Resolved, None));
        }
        Ok(result(alert, &incident, AlertAction::Noted, None))
    }

    /// Where cards of incidents opened by alerts on `service` (a catalog
    /// name) go: the service's `channel`, else `hooks.channel`.
    fn channel_of_service(&self, service: Option<&str>) -> &ChannelRef {
        service
            .and_then(|name| self.config.services.iter().find(|s| s.name == name))
            .and_then(|s| s.channel.as_ref())
            .unwrap_or(&self.config.hooks.channel)
    }

    /// The channel `alert`'s own incident would have been posted to: its
    /// service's (when the catalog has the service), else `hooks.channel`.
    fn channel_of_alert(&self, alert: &Alert, rules: &AlertRules) -> (&ChannelRef, Option<String>) {
        let service = alert
            .service(rules)
            .map(str::to_ascii_lowercase)
            .filter(|name| self.config.services.iter().any(|s| &s.name == name));
        (self.channel_of_service(service.as_deref()), service)
    }

    /// Tells each channel the `joined` alerts would have posted to, other
    /// than `incident`'s own, once per incident, that they joined it: a
    /// storm of every service (or a group spanning services) keeps its card
    /// in one channel, and the others must not go quiet without a word.
    async fn tell_other_channels(
        &self,
        conn: &mut PgConnection,
        source: AlertSource,
        incident: &Incident,
        joined: &[&Alert],
    ) -> Result<(), StoreError> {
        // Channel → the services whose alerts would have gone there.
        let mut elsewhere: Vec<(ChannelRef, Vec<String>)> = Vec::new();
        // Read once: the rules are rebuilt from the configuration.
        let rules = self.config.hooks.rules();
        for alert in joined {
            let (channel, service) = self.channel_of_alert(alert, &rules);
            if !super::delivers_to(channel.platform)
                || (channel.platform == incident.origin.platform
                    && channel.channel == incident.origin.channel)
            {
                continue;
            }
            let at = match elsewhere.iter().position(|(known, _)| known == channel) {
                Some(at) => at,
                None => {
                    elsewhere.push((channel.clone(), Vec::new()));
                    elsewhere.len() - 1
                }
            };
            if let Some(service) = service {
                if !elsewhere[at].1.contains(&service) {
                    elsewhere[at].1.push(service);
                }
            }
        }
        if elsewhere.is_empty() {
            return Ok(());
        }
        let channels: Vec<ChannelRef> = elsewhere.iter().map(|(c, _)| c.clone()).collect();
        let now = self.clock.now();
        let untold = store::alerts::tell_channels(conn, incident.id, &channels, now).await?;
        for (channel, services) in elsewhere {
            if !untold.contains(&channel) {
                continue;
            }
            let services: Vec<&str> = services.iter().map(String::as_str).collect();
            let body = crate::domain::alert::joined_elsewhere(
                source,
                &services,
                &incident.reference(),
                &incident.title,
            );
            store::outbox::enqueue_notice(
                conn,
                channel.platform,
                &channel.channel,
                None,
                &body,
                Some(incident.id),
                now,
            )
            .await?;
        }
        Ok(())
    }

    /// Raises `incident` to the most urgent priority of the `joined`
    /// alerts when that is more urgent than its own (as the monitoring
    /// system, with the rules on a priority change run); returns it as it
    /// now stands.
    async fn raise_for_joined(
        &self,
        conn: &mut PgConnection,
        actor: &UserId,
        joined: &[&Alert],
        incident: Incident,
    ) -> Result<Incident, AlertError> {
        let rules = self.config.hooks.rules();
        let Some(raised) = crate::domain::alert::raised_priority(
            incident.priority,
            joined.iter().map(|alert| alert.priority(&rules).0),
        ) else {
            return Ok(incident);
        };
        let Some(first) = joined.first() else {
            return Ok(incident);
        };
        let after = self
            .alert_acts(
                conn,
                actor,
                first,
                &incident,
                IncidentAction::SetPriority(raised),
            )
            .await?;
        for facts in super::incident::incident_change_facts(&incident, &after, self.clock.now()) {
            self.fire_rules(conn, &facts).await?;
        }
        Ok(after)
    }

    /// Opens the incident for a firing alert, posted to its service's
    /// channel or `hooks.channel`.
    /// Returns it and, when the alert named a service the catalog does not
    /// have, a note saying so (also on the timeline).
    async fn open_for_alert(
        &self,
        conn: &mut PgConnection,
        source: AlertSource,
        actor: &UserId,
        alert: &Alert,
        into: &GroupKey,
        services: &HashMap<String, i64>,
    ) -> Result<(Incident, Option<String>), AlertError> {
        let now = self.clock.now();
        let prepared = self.prepare_opening(source, actor, alert, into, services, now);
        let opening = prepared.opening(actor, now);
        let Opened::New { id, number, .. } = store::opening::open(conn, &opening, None).await?
        else {
            return Err(StoreError::Corrupt("an alert's incident was not opened".into()).into());
        };
        Ok((prepared.new.opened(id, number, now), prepared.note))
    }

    /// Works out the incident a firing alert opens at `now`, before
    /// anything is stored: the SLA policy reads no id or number, so its
    /// clocks are known before the database numbers the incident.
    fn prepare_opening(
        &self,
        source: AlertSource,
        actor: &UserId,
        alert: &Alert,
        into: &GroupKey,
        services: &HashMap<String, i64>,
        now: DateTime<Utc>,
    ) -> Prepared {
        let hooks = &self.config.hooks;
        let rules = hooks.rules();
        let (priority, _) = alert.priority(&rules);
        let mut note = None;
        let mut service = None;
        let mut service_id = None;
        let storm = into.storm_of();
        // A storm of every service is about none of them.
        let named = match storm {
            Some(None) => None,
            _ => alert.service(&rules),
        };
        if let Some(named) = named {
            // The catalog's names are lower case; labels often are not.
            let name = named.to_ascii_lowercase();
            match services.get(&name) {
                Some(id) => {
                    service = Some(name);
                    service_id = Some(*id);
                }
                // An unknown service must not lose the alert: open the
                // incident without one and say so.
                None => {
                    note = Some(format!(
                        "The alert's `{}` label names `{named}`, which is not in the service catalog; the incident has no service.",
                        rules.service_label
                    ));
                }
            }
        }
        let settings = &self.config.incident;
        let (title, description) = match storm {
            Some(about) => crate::domain::alert::storm_incident(
                source,
                about,
                hooks.storm_threshold,
                hooks.storm_window.0,
            ),
            None => (alert.title(), alert.description(source)),
        };
        let channel = self.channel_of_service(service.as_deref());
        let new = NewIncident {
            title,
            description,
            priority,
            impact: settings.default_impact,
            urgency: settings.default_urgency,
            service,
            reporter: actor.clone(),
            origin: Origin {
                platform: channel.platform,
                channel: channel.channel.clone(),
                thread: None,
                message: None,
            },
        };
        let mut events = vec![new.created_event()];
        if let Some(note) = &note {
            events.push(
                NewEvent::new(EventAction::Note).body(crate::domain::alert::shorten(
                    note,
                    crate::domain::text::MAX_TEXT_CHARS,
                )),
            );
        }
        let policy = self.sla_policy();
        let unnumbered = new.opened(0, 0, now);
        let cards: Vec<Platform> = [new.origin.platform]
            .into_iter()
            .filter(|p| super::delivers_to(*p))
            .collect();
        Prepared {
            checkpoints: policy.next_checkpoints(&unnumbered, &[]),
            outcomes: policy.clocks(&unnumbered, &[], now),
            new,
            service_id,
            note,
            events,
            cards,
        }
    }

    /// The incident an alert is tied to, locked until the transaction ends.
    async fn lock_linked(
        &self,
        conn: &mut PgConnection,
        ticket_id: i64,
    ) -> Result<Incident, AlertError> {
        Ok(store::incidents::lock_by_id(conn, ticket_id)
            .await?
            .ok_or_else(|| {
                StoreError::Corrupt(format!("alert points at missing ticket {ticket_id}"))
            })?)
    }

    /// Applies `action` to the locked `incident` as the monitoring system.
    /// Not `act_on_incident`: that checks the actor's roles, and a monitoring
    /// system holds none; the webhook's token is what authorises it.
    async fn alert_acts(
        &self,
        conn: &mut PgConnection,
        actor: &UserId,
        alert: &Alert,
        incident: &Incident,
        action: IncidentAction,
    ) -> Result<Incident, AlertError> {
        self.act_unchecked(conn, actor, incident, &action)
            .await?
            .map_err(|err| AlertError::refused(alert, err))
    }
}

/// An alert's incident, worked out and waiting to be stored.
struct Prepared {
    new: NewIncident,
    service_id: Option<i64>,
    /// Why the incident has no service, when the alert named an unknown one.
    note: Option<String>,
    events: Vec<NewEvent>,
    checkpoints: Vec<Checkpoint>,
    outcomes: Vec<ClockView>,
    cards: Vec<Platform>,
}

impl Prepared {
    /// The opening that stores it, by `actor` at `at`.
    fn opening<'a>(&'a self, actor: &'a UserId, at: DateTime<Utc>) -> Opening<'a> {
        Opening {
            incident: &self.new,
            service_id: self.service_id,
            at,
            actor,
            events: &self.events,
            checkpoints: &self.checkpoints,
            outcomes: &self.outcomes,
            cards: &self.cards,
            delivery: None,
            known_errors: None,
        }
    }
}

/// The delivery's alerts as stored, kept up to date as the delivery goes
/// (one alert may come twice), the ids of the services they name, and the
/// open incidents of their groups.
struct Known {
    links: HashMap<String, AlertLink>,
    services: HashMap<String, i64>,
    groups: HashMap<GroupKey, i64>,
}

/// The group rows that point an alert's group `own`, and the group `into`
/// it was opened or found under (a storm's), at incident `ticket_id`.
fn group_links<'a>(own: &'a GroupKey, into: &'a GroupKey, ticket_id: i64) -> Vec<GroupLink<'a>> {
    let mut links = vec![GroupLink {
        key: own,
        ticket_id,
        storm: false,
    }];
    if into != own {
        links.push(GroupLink {
            key: into,
            ticket_id,
            storm: into.storm_of().is_some(),
        });
    }
    links
}

/// Alerts named in a note before "and N more".
const NAMED_IN_NOTE: usize = 5;

/// The note an incident gets when `count` alerts, named `names`, join it.
fn joined_note<'a>(
    source: AlertSource,
    names: impl IntoIterator<Item = &'a str>,
    count: usize,
) -> String {
    let named: Vec<&str> = names.into_iter().take(NAMED_IN_NOTE).collect();
    let mut list = named.join(", ");
    if count > named.len() {
        list.push_str(&format!(" and {} more", count - named.len()));
    }
    match count {
        1 => format!("{} alert joined this incident: {list}.", source.product()),
        _ => format!(
            "{count} {} alerts joined this incident: {list}.",
            source.product()
        ),
    }
}

impl Known {
    fn seen(&mut self, fingerprint: &str, ticket_id: i64, status: AlertStatus) {
        self.links
            .insert(fingerprint.to_string(), AlertLink { ticket_id, status });
    }
}

fn note_action(alert: &Alert, text: &str) -> Result<IncidentAction, AlertError> {
    FreeText::parse("note", text)
        .map(IncidentAction::Note)
        .map_err(|err| AlertError::refused(alert, err))
}

fn result(
    alert: &Alert,
    incident: &Incident,
    action: AlertAction,
    note: Option<String>,
) -> AlertResult {
    AlertResult {
        fingerprint: alert.fingerprint.to_string(),
        incident: Some(incident.reference()),
        action,
        note,
    }
}

fn ignored(alert: &Alert, incident: Option<&Incident>, why: &str) -> AlertResult {
    AlertResult {
        fingerprint: alert.fingerprint.to_string(),
        incident: incident.map(Incident::reference),
        action: AlertAction::Ignored,
        note: Some(why.to_string()),
    }
}

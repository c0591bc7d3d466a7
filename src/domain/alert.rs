//! Monitoring alerts, free of any monitoring system's wire format: what an
//! alert says and the incident it should open.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use super::priority::Priority;
use super::text::{summarize_title, Title, MAX_TEXT_CHARS};

/// The monitoring system an alert came from. Fingerprints are unique only
/// within one source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AlertSource {
    Alertmanager,
    Grafana,
}

impl AlertSource {
    /// The name stored in the database and used in the actor's user id.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertSource::Alertmanager => "alertmanager",
            AlertSource::Grafana => "grafana",
        }
    }

    /// The product's name, for people.
    pub fn product(self) -> &'static str {
        match self {
            AlertSource::Alertmanager => "Alertmanager",
            AlertSource::Grafana => "Grafana",
        }
    }
}

/// Alerts a card names before pointing at `show` for the rest.
pub const ALERTS_ON_CARD: usize = 5;

impl fmt::Display for AlertSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether an alert is firing or has resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertStatus {
    Firing,
    Resolved,
}

impl AlertStatus {
    /// The word monitoring systems and the database use.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        }
    }
}

impl FromStr for AlertStatus {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "firing" => Ok(AlertStatus::Firing),
            "resolved" => Ok(AlertStatus::Resolved),
            other => Err(format!(
                "`{other}` is not an alert status; use firing or resolved"
            )),
        }
    }
}

impl fmt::Display for AlertStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Longest fingerprint accepted (Alertmanager's and Grafana's are 16 hex digits).
pub const MAX_FINGERPRINT_CHARS: usize = 200;

/// An alert's identity within its source: the same alert (same labels) keeps
/// its fingerprint from firing to resolved and across repeats.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(String);

/// Why a fingerprint was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FingerprintError {
    #[error("the fingerprint is empty")]
    Empty,
    #[error("the fingerprint is longer than {MAX_FINGERPRINT_CHARS} characters")]
    TooLong,
    #[error(
        "the fingerprint contains characters other than letters, digits, `-`, `_`, `.` and `:`"
    )]
    BadCharacters,
}

impl Fingerprint {
    /// Parses a fingerprint: 1–200 letters, digits, `-`, `_`, `.` or `:`.
    pub fn parse(text: &str) -> Result<Self, FingerprintError> {
        if text.is_empty() {
            return Err(FingerprintError::Empty);
        }
        if text.chars().count() > MAX_FINGERPRINT_CHARS {
            return Err(FingerprintError::TooLong);
        }
        if !text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
        {
            return Err(FingerprintError::BadCharacters);
        }
        Ok(Fingerprint(text.to_string()))
    }

    /// The fingerprint as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One alert from a monitoring system, whatever its wire format.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub fingerprint: Fingerprint,
    pub status: AlertStatus,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub starts_at: Option<DateTime<Utc>>,
    /// When it resolved; monitoring systems send a zero time while firing,
    /// which arrives here as `None`.
    pub ends_at: Option<DateTime<Utc>>,
    /// Links to where the alert can be looked at: ("Source", generatorURL),
    /// ("Dashboard", …), ("Silence", …). Empty URLs are left out.
    pub links: Vec<(String, String)>,
    /// The sender's name for the notification group the alert came in
    /// (Alertmanager's and Grafana's `groupKey`), when it sent one.
    pub sender_group: Option<String>,
}

/// The alerts behind an incident, for its card, `show` and the API.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertTally {
    pub firing: i64,
    pub resolved: i64,
    /// The first alerts tied to it, in the order they came: name (or the
    /// fingerprint when none was stored) and status.
    pub first: Vec<(String, AlertStatus)>,
}

impl AlertTally {
    /// How many alerts in all.
    pub fn total(&self) -> i64 {
        self.firing + self.resolved
    }
}

/// How alerts are grouped into incidents (`hooks.group_by`): the alerts of
/// one group share one open incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupBy {
    /// The sender's notification group (Alertmanager's `groupKey`, routed
    /// by its `group_by`); an alert sent without one is its own group.
    SenderGroup,
    /// Every alert is its own group: one incident per fingerprint.
    Fingerprint,
    /// Alerts with the same values of these labels (a missing label counts
    /// as empty) form a group.
    Labels(Vec<String>),
}

/// The longest group key stored as it is; longer ones are stored as their
/// SHA-256, which names the same group just as well.
const MAX_GROUP_KEY_CHARS: usize = 500;

/// The group an alert belongs to, as stored: the kind of grouping is part of
/// the key, so changing `hooks.group_by` starts new groups instead of mixing
/// them with the old ones.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupKey(String);

impl GroupKey {
    /// The key of the storm group of `service` (or of every service): the
    /// incident the storm guard attaches new alerts to.
    pub fn storm(service: Option<&str>) -> Self {
        GroupKey(format!("storm:{}", service.unwrap_or("*")))
    }

    /// A key as stored.
    pub fn from_stored(text: String) -> Self {
        GroupKey(text)
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn bounded(key: String) -> Self {
        if key.chars().count() <= MAX_GROUP_KEY_CHARS {
            return GroupKey(key);
        }
        use sha2::Digest;
        let digest = sha2::Sha256::digest(key.as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        GroupKey(format!("sha256:{hex}"))
    }
}

/// The storm guard's count of recent openings, kept up to date as a
/// delivery opens incidents: it decides whether a new alert opens an
/// incident of its own or attaches to a storm incident.
#[derive(Debug, Clone, Default)]
pub struct StormGuard {
    /// More than this many openings within the window is a storm; 0 turns
    /// the guard off.
    pub threshold: usize,
    /// Incidents opened by alerts within the window, in all.
    pub total: usize,
    /// The same, per service id (`None`: no service).
    pub by_service: BTreeMap<Option<i64>, usize>,
    /// Storm incidents still live, by their group key.
    pub live: BTreeMap<GroupKey, i64>,
}

impl StormGuard {
    /// Where a firing alert of `service` (name and id) that needs a new
    /// incident goes: `None` to open one of its own (counted), or the storm
    /// group to attach to. A service's own storm comes first, then the storm
    /// of everything.
    pub fn place(&mut self, service: Option<(&str, i64)>) -> Option<GroupKey> {
        if self.threshold == 0 {
            return None;
        }
        if let Some((name, id)) = service {
            let storm = GroupKey::storm(Some(name));
            let opened = self.by_service.get(&Some(id)).copied().unwrap_or(0);
            if self.live.contains_key(&storm) || opened >= self.threshold {
                return Some(storm);
            }
        }
        let storm = GroupKey::storm(None);
        if self.live.contains_key(&storm) || self.total >= self.threshold {
            return Some(storm);
        }
        self.total += 1;
        *self
            .by_service
            .entry(service.map(|(_, id)| id))
            .or_default() += 1;
        None
    }

    /// The storm incident `key` is open from now on (it was just opened).
    pub fn opened(&mut self, key: GroupKey, ticket_id: i64) {
        self.live.insert(key, ticket_id);
    }
}

impl GroupKey {
    /// The service a storm group is about (`None` for the storm of every
    /// service), or `None` when this is not a storm group.
    pub fn storm_of(&self) -> Option<Option<&str>> {
        let service = self.0.strip_prefix("storm:")?;
        Some((service != "*").then_some(service))
    }
}

impl fmt::Display for GroupKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How alerts become incidents: the rules from `[hooks]` that are not about
/// HTTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRules {
    /// `severity` label value (lower case) → priority.
    pub severity_priorities: BTreeMap<String, Priority>,
    /// Priority when the severity label is missing or not in the table.
    pub default_priority: Priority,
    /// The label that names the service.
    pub service_label: String,
}

impl Alert {
    /// The group the alert belongs to under `by`.
    pub fn group_key(&self, by: &GroupBy) -> GroupKey {
        let key = match (by, self.sender_group.as_deref().map(str::trim)) {
            (GroupBy::SenderGroup, Some(group)) if !group.is_empty() => format!("group:{group}"),
            (GroupBy::SenderGroup | GroupBy::Fingerprint, _) => {
                format!("fingerprint:{}", self.fingerprint)
            }
            (GroupBy::Labels(names), _) => {
                // Unit separators keep `a=b,c` and `a=b` + `c=` apart.
                let values: Vec<String> = names
                    .iter()
                    .map(|name| {
                        let value = self.labels.get(name).map_or("", |v| v.trim());
                        format!("{name}={value}")
                    })
                    .collect();
                format!("labels:{}", values.join("\u{1f}"))
            }
        };
        GroupKey::bounded(key)
    }

    /// The alert's name (`alertname` label), if it has one.
    pub fn name(&self) -> Option<&str> {
        non_empty(self.labels.get("alertname"))
    }

    /// The incident's title: the `summary` annotation, else the `alertname`
    /// label, else the fingerprint; made a valid title whatever the
    /// monitoring system sent (control characters dropped, shortened).
    pub fn title(&self) -> Title {
        let candidates = [
            non_empty(self.annotations.get("summary")).map(str::to_string),
            self.name().map(str::to_string),
        ];
        candidates
            .into_iter()
            .flatten()
            .find_map(|text| summarize_title(&clean(&text)).ok())
            .or_else(|| summarize_title(&format!("Alert {}", self.fingerprint)).ok())
            // A fingerprint is plain, non-empty text, so the above always
            // makes a title; a fixed one keeps this total all the same.
            .unwrap_or_else(fallback_title)
    }

    /// The priority its `severity` label maps to, and the severity if the
    /// table knew it.
    pub fn priority(&self, rules: &AlertRules) -> (Priority, Option<String>) {
        let severity = non_empty(self.labels.get("severity")).map(str::to_ascii_lowercase);
        match severity
            .as_ref()
            .and_then(|s| rules.severity_priorities.get(s))
        {
            Some(priority) => (*priority, severity),
            None => (rules.default_priority, None),
        }
    }

    /// The service its service label names, if it has one.
    pub fn service(&self, rules: &AlertRules) -> Option<&str> {
        non_empty(self.labels.get(&rules.service_label))
    }

    /// The incident's description: the `description` annotation, the links
    /// to the source, and the labels, within the description limit.
    pub fn description(&self, source: AlertSource) -> String {
        let mut parts = Vec::new();
        if let Some(description) = non_empty(self.annotations.get("description")) {
            parts.push(description.trim().to_string());
        }
        for (name, url) in &self.links {
            parts.push(format!("{name}: {url}"));
        }
        let labels: Vec<String> = self
            .labels
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect();
        parts.push(format!(
            "{} alert {} · {}",
            source.product(),
            self.fingerprint,
            labels.join(", ")
        ));
        shorten(&clean(&parts.join("\n")), MAX_TEXT_CHARS)
    }
}

/// The title and description of a storm incident about `service` (`None`:
/// every service), opened when more than `threshold` incidents were opened
/// by alerts within `window`.
pub fn storm_incident(
    source: AlertSource,
    service: Option<&str>,
    threshold: usize,
    window: chrono::Duration,
) -> (Title, String) {
    let (title, scope) = match service {
        Some(service) => (format!("Alert storm on {service}"), format!("on {service}")),
        None => ("Alert storm".to_string(), "in all".to_string()),
    };
    let window = crate::domain::duration::format_duration(window);
    let description = format!(
        "More than {threshold} incidents were opened by {} alerts within {window} {scope}: the storm guard attaches every further new alert here instead of opening an incident and posting a card for each. Its alerts are listed on the card, in `show` and in the API; it resolves with its last alert.",
        source.product()
    );
    let title = summarize_title(&title).unwrap_or_else(|_| fallback_title());
    (title, shorten(&description, MAX_TEXT_CHARS))
}

/// The notice a channel gets when alerts that would have posted there
/// (`services`, by their service's channel) join incident `incident`,
/// titled `title`, whose card is in another channel: the channel hears
/// once where its alerts went instead of seeing nothing.
pub fn joined_elsewhere(
    source: AlertSource,
    services: &[&str],
    incident: &crate::domain::TicketRef,
    title: &str,
) -> String {
    let about = match services {
        [] => String::new(),
        [one] => format!(" on {one}"),
        many => format!(" on {}", many.join(", ")),
    };
    shorten(
        &format!(
            "{} alerts{about} are grouped into {incident} “{title}”, whose card is in another channel: further alerts join it there instead of posting here. `/incident {incident} show` lists them.",
            source.product()
        ),
        MAX_TEXT_CHARS,
    )
}

/// The priority an alert-grouping incident at `current` is raised to when
/// alerts of `joining` priorities join it: the most urgent of them, when
/// that is more urgent than the incident. A storm that began with a warning
/// becomes P1 when a critical alert joins it; joining alerts never lower a
/// priority that people or earlier alerts set.
pub fn raised_priority(
    current: Priority,
    joining: impl IntoIterator<Item = Priority>,
) -> Option<Priority> {
    joining.into_iter().min().filter(|most| *most < current)
}

fn non_empty(value: Option<&String>) -> Option<&str> {
    value.map(|v| v.trim()).filter(|v| !v.is_empty())
}

fn fallback_title() -> Title {
    match Title::parse("Monitoring alert") {
        Ok(title) => title,
        Err(_) => unreachable!("a fixed, valid title"),
    }
}

/// Drops characters the text rules refuse (controls other than line breaks
/// and tabs, bidirectional overrides): an alert is not refused for them.
pub fn clean(text: &str) -> String {
    text.chars()
        .filter(|c| {
            !((c.is_control() && *c != '\n' && *c != '\t')
                || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'))
        })
        .collect()
}

/// `text` cut to at most `limit` characters, marked with `…` when cut.
pub fn shorten(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_string();
    }
    let mut out: String = text.chars().take(limit.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(labels: &[(&str, &str)], annotations: &[(&str, &str)]) -> Alert {
        let map = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        Alert {
            fingerprint: Fingerprint::parse("1a30ba71cca2921f").unwrap(),
            status: AlertStatus::Firing,
            labels: map(labels),
            annotations: map(annotations),
            starts_at: None,
            ends_at: None,
            links: vec![("Source".into(), "http://prometheus:9090/graph".into())],
            sender_group: None,
        }
    }

    fn rules() -> AlertRules {
        AlertRules {
            severity_priorities: [("critical".to_string(), Priority::P1)].into(),
            default_priority: Priority::P3,
            service_label: "service".into(),
        }
    }

    #[test]
    fn title_prefers_summary_then_alertname_then_fingerprint() {
        let both = alert(&[("alertname", "VpnDown")], &[("summary", "VPN is down")]);
        assert_eq!(both.title().as_str(), "VPN is down");
        let name = alert(&[("alertname", "VpnDown")], &[("summary", "  ")]);
        assert_eq!(name.title().as_str(), "VpnDown");
        assert_eq!(alert(&[], &[]).title().as_str(), "Alert 1a30ba71cca2921f");
        let odd = alert(&[], &[("summary", "bad\u{0}\u{202E} title\nsecond line")]);
        assert_eq!(odd.title().as_str(), "bad title");
        let long = "x".repeat(500);
        assert!(
            alert(&[], &[("summary", &long)])
                .title()
                .as_str()
                .chars()
                .count()
                <= 200
        );
    }

    #[test]
    fn priority_comes_from_severity_case_insensitively() {
        let critical = alert(&[("severity", "CRITICAL")], &[]);
        assert_eq!(
            critical.priority(&rules()),
            (Priority::P1, Some("critical".into()))
        );
        assert_eq!(
            alert(&[("severity", "meh")], &[]).priority(&rules()).0,
            Priority::P3
        );
        assert_eq!(alert(&[], &[]).priority(&rules()).0, Priority::P3);
    }

    #[test]
    fn description_has_the_text_the_link_and_the_labels() {
        let a = alert(&[("service", "vpn")], &[("description", "Tunnel down")]);
        let text = a.description(AlertSource::Alertmanager);
        assert!(
            text.starts_with("Tunnel down\nSource: http://prometheus:9090/graph\n"),
            "{text}"
        );
        assert!(
            text.contains("Alertmanager alert 1a30ba71cca2921f · service=vpn"),
            "{text}"
        );
        assert_eq!(a.service(&rules()), Some("vpn"));
        let huge = alert(&[], &[("description", &"y".repeat(10_000))]);
        assert_eq!(
            huge.description(AlertSource::Grafana).chars().count(),
            MAX_TEXT_CHARS
        );
    }

    #[test]
    fn group_keys_follow_the_chosen_grouping() {
        let mut a = alert(&[("service", "vpn"), ("alertname", "Down")], &[]);
        assert_eq!(
            a.group_key(&GroupBy::SenderGroup).as_str(),
            "fingerprint:1a30ba71cca2921f",
            "no group sent: the alert is its own group"
        );
        a.sender_group = Some("{}:{alertname=\"Down\"}".into());
        assert_eq!(
            a.group_key(&GroupBy::SenderGroup).as_str(),
            "group:{}:{alertname=\"Down\"}"
        );
        assert_eq!(
            a.group_key(&GroupBy::Fingerprint).as_str(),
            "fingerprint:1a30ba71cca2921f"
        );
        let by = GroupBy::Labels(vec!["service".into(), "zone".into()]);
        assert_eq!(a.group_key(&by).as_str(), "labels:service=vpn\u{1f}zone=");
        a.sender_group = Some("x".repeat(600));
        let long = a.group_key(&GroupBy::SenderGroup);
        assert!(long.as_str().starts_with("sha256:"), "{long}");
        assert_eq!(long, a.group_key(&GroupBy::SenderGroup), "stable");
        assert_eq!(GroupKey::storm(Some("vpn")).as_str(), "storm:vpn");
        assert_eq!(GroupKey::storm(Some("vpn")).storm_of(), Some(Some("vpn")));
        assert_eq!(GroupKey::storm(None).storm_of(), Some(None));
        assert_eq!(a.group_key(&GroupBy::Fingerprint).storm_of(), None);
    }

    #[test]
    fn the_storm_guard_opens_up_to_its_threshold_then_attaches() {
        let mut guard = StormGuard {
            threshold: 2,
            ..StormGuard::default()
        };
        let vpn = Some(("vpn", 1));
        assert_eq!(guard.place(vpn), None);
        assert_eq!(guard.place(vpn), None);
        assert_eq!(guard.place(vpn), Some(GroupKey::storm(Some("vpn"))));
        assert_eq!(
            guard.place(Some(("mail", 2))),
            Some(GroupKey::storm(None)),
            "two openings in all: the rest is one storm"
        );
        assert_eq!(guard.place(None), Some(GroupKey::storm(None)));
        let mut quiet = StormGuard {
            threshold: 2,
            ..StormGuard::default()
        };
        quiet.opened(GroupKey::storm(Some("vpn")), 9);
        assert_eq!(
            quiet.place(vpn),
            Some(GroupKey::storm(Some("vpn"))),
            "a live storm keeps attaching"
        );
        assert_eq!(quiet.place(Some(("mail", 2))), None);
        let mut off = StormGuard::default();
        for _ in 0..100 {
            assert_eq!(off.place(vpn), None);
        }
    }

    #[test]
    fn joining_alerts_only_raise_the_priority() {
        use Priority::{P1, P2, P3, P4};
        assert_eq!(raised_priority(P3, [P4, P1, P2]), Some(P1));
        assert_eq!(raised_priority(P2, [P2, P3]), None);
        assert_eq!(raised_priority(P1, [P4]), None);
        assert_eq!(raised_priority(P4, []), None);
    }

    #[test]
    fn fingerprints_are_short_and_plain() {
        assert!(Fingerprint::parse("c6eadffa33fcdf37").is_ok());
        assert_eq!(Fingerprint::parse(""), Err(FingerprintError::Empty));
        assert_eq!(
            Fingerprint::parse("a b"),
            Err(FingerprintError::BadCharacters)
        );
        assert_eq!(
            Fingerprint::parse(&"a".repeat(201)),
            Err(FingerprintError::TooLong)
        );
    }
}

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

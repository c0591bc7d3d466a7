//! `[hooks]`: monitoring alerts that become incidents.

use std::path::PathBuf;

use serde::Deserialize;

use super::{invalid, ConfigError, DurationSetting, Secret};
use crate::domain::alert::GroupBy;

/// `[hooks]`: monitoring alerts (`POST /hooks/alertmanager`,
/// `/hooks/grafana`) that become incidents. The routes answer only when a
/// token is configured.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HooksConfig {
    /// The bearer token senders must present; set it with ITSM__HOOKS__TOKEN
    /// or a file named by `token_file`.
    pub token: Option<Secret>,
    pub token_file: Option<PathBuf>,
    /// Whether a resolved alert also resolves its incident (a note is added
    /// either way).
    pub auto_resolve: bool,
    /// Where incidents opened by alerts are posted.
    pub channel: crate::domain::channel::ChannelRef,
    /// `severity` label value (lower case) → priority.
    pub severity_priorities: std::collections::BTreeMap<String, crate::domain::Priority>,
    /// Priority when the severity label is missing or not in the table.
    pub default_priority: crate::domain::Priority,
    /// The label whose value names the incident's service.
    pub service_label: String,
    /// The most alerts one delivery may carry; a larger one is refused
    /// with 413 and nothing is recorded.
    pub max_alerts_per_delivery: usize,
    /// How alerts are grouped into incidents: `"alertmanager_group"` (the
    /// sender's `groupKey`), `"fingerprint"`, or a list of label names.
    pub group_by: GroupBySetting,
    /// More than this many incidents opened by alerts within
    /// `storm_window`, on one service or in all, is a storm: further alerts
    /// attach to one storm incident instead of opening their own. 0 turns
    /// the guard off.
    pub storm_threshold: usize,
    /// The window the storm guard counts openings in.
    pub storm_window: DurationSetting,
}

/// `hooks.group_by` as written: a name or a list of labels.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum GroupBySetting {
    /// `"alertmanager_group"` or `"fingerprint"`.
    Named(String),
    /// Label names, e.g. `["service", "alertname"]`.
    Labels(Vec<String>),
}

/// The most labels `hooks.group_by` may list.
const MAX_GROUP_LABELS: usize = 10;

impl GroupBySetting {
    /// The grouping it names, or what is wrong with it.
    pub fn grouping(&self) -> Result<GroupBy, String> {
        const HINT: &str = "use \"alertmanager_group\", \"fingerprint\" or a list of label names such as [\"service\", \"alertname\"]";
        match self {
            GroupBySetting::Named(name) => match name.trim() {
                "alertmanager_group" => Ok(GroupBy::SenderGroup),
                "fingerprint" => Ok(GroupBy::Fingerprint),
                other => Err(format!("`{other}` is not a grouping; {HINT}")),
            },
            GroupBySetting::Labels(labels) => {
                if labels.is_empty() {
                    return Err(format!("the list of labels is empty; {HINT}"));
                }
                if labels.len() > MAX_GROUP_LABELS {
                    return Err(format!(
                        "lists {} labels; group by at most {MAX_GROUP_LABELS}",
                        labels.len()
                    ));
                }
                let mut seen = Vec::new();
                for label in labels {
                    let valid = label
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                    if !valid {
                        return Err(format!(
                            "`{label}` is not a label name (letters, digits and `_`, not starting with a digit)"
                        ));
                    }
                    if seen.contains(&label) {
                        return Err(format!("`{label}` is listed twice"));
                    }
                    seen.push(label);
                }
                Ok(GroupBy::Labels(labels.clone()))
            }
        }
    }
}

impl HooksConfig {
    /// Whether the webhook routes accept deliveries.
    pub fn enabled(&self) -> bool {
        self.token.is_some()
    }

    /// The rules that turn an alert into an incident.
    pub fn rules(&self) -> crate::domain::alert::AlertRules {
        crate::domain::alert::AlertRules {
            severity_priorities: self.severity_priorities.clone(),
            default_priority: self.default_priority,
            service_label: self.service_label.clone(),
        }
    }

    /// How alerts are grouped; a configuration that loaded has a valid one
    /// ([`HooksConfig::validate`]), so a bad one falls back to one incident
    /// per fingerprint rather than failing a delivery.
    pub fn grouping(&self) -> GroupBy {
        self.group_by.grouping().unwrap_or(GroupBy::Fingerprint)
    }
}

impl HooksConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.max_alerts_per_delivery == 0 {
            return Err(invalid(
                "hooks.max_alerts_per_delivery",
                "must be at least 1, e.g. 500",
            ));
        }
        if let Err(err) = self.group_by.grouping() {
            return Err(invalid("hooks.group_by", err));
        }
        if self.storm_window.0 < chrono::Duration::seconds(1)
            || self.storm_window.0 > chrono::Duration::hours(24)
        {
            return Err(invalid(
                "hooks.storm_window",
                "must be between 1s and 24h, e.g. \"1m\"",
            ));
        }
        if self.service_label.trim().is_empty() {
            return Err(invalid(
                "hooks.service_label",
                "must name a label, e.g. `service`",
            ));
        }
        if let Some(key) = self
            .severity_priorities
            .keys()
            .find(|key| key.to_ascii_lowercase() != **key)
        {
            return Err(invalid(
                format!("hooks.severity_priorities.{key}"),
                "write severities in lower case; labels are matched case-insensitively",
            ));
        }
        Ok(())
    }
}

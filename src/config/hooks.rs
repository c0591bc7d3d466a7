//! `[hooks]`: monitoring alerts that become incidents.

use std::path::PathBuf;

use serde::Deserialize;

use super::{invalid, ConfigError, Secret};

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
}

impl HooksConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.max_alerts_per_delivery == 0 {
            return Err(invalid(
                "hooks.max_alerts_per_delivery",
                "must be at least 1, e.g. 500",
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

//! `[change]`: change enablement settings, parsed into [`ChangeRules`] while
//! loading so a bad freeze period stops the bot at start.

use serde::Deserialize;

use super::{ConfigError, TimeZoneSetting};
use crate::domain::change::{
    parse_start, ChangeRules, EarlyStart, Freeze, GuardMode, Risk, RiskMatrix,
};
use crate::domain::channel::ChannelRef;
use crate::domain::Level;

/// `[change]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeConfig {
    /// Approvals from distinct `cab` members a normal change needs.
    pub required_approvals: u32,
    /// Where approvers are asked, with Approve / Reject buttons.
    pub cab_channel: Option<ChannelRef>,
    /// The zone `YYYY-MM-DDTHH:MM` starts and freeze periods are read in;
    /// `[locale] time_zone` when not set.
    #[serde(default)]
    pub time_zone: Option<TimeZoneSetting>,
    /// `start` before the window opens: "confirm" (`start now`) or "refuse".
    pub early_start: EarlyStart,
    /// A window overlapping another approved change on the same service:
    /// "flag" or "refuse".
    pub overlap: GuardMode,
    /// Assumed when a draft names no impact or likelihood.
    pub default_impact: Level,
    pub default_likelihood: Level,
    pub risk_matrix: RiskMatrix,
    #[serde(default)]
    pub freeze_windows: Vec<FreezeConfig>,
    #[serde(default)]
    pub standard_catalog: Vec<StandardChange>,
    /// Built from the rest while loading.
    #[serde(skip)]
    pub rules: ChangeRules,
}

/// One `[[change.freeze_windows]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FreezeConfig {
    pub name: String,
    pub start: String,
    pub end: String,
}

/// One `[[change.standard_catalog]]` entry: a pre-approved, repeatable change
/// with its procedure.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StandardChange {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub service: Option<String>,
    pub plan: Option<String>,
    pub test_plan: Option<String>,
    pub rollback_plan: Option<String>,
    pub risk: Option<Risk>,
}

impl ChangeConfig {
    /// The catalog entry called `name`.
    pub fn standard(&self, name: &str) -> Option<&StandardChange> {
        self.standard_catalog
            .iter()
            .find(|entry| entry.name == name)
    }

    /// Checks the section and builds [`ChangeConfig::rules`]; `locale` is
    /// the team's zone, used when the section names none.
    pub(super) fn build(&mut self, locale: chrono_tz::Tz) -> Result<(), ConfigError> {
        let invalid = |key: String, message: String| ConfigError::Invalid { key, message };
        if self.required_approvals == 0 || self.required_approvals > 20 {
            return Err(invalid(
                "change.required_approvals".into(),
                format!("{} is not between 1 and 20", self.required_approvals),
            ));
        }
        let zone = self.time_zone.map_or(locale, |z| z.0);
        let mut freezes = Vec::new();
        for (index, freeze) in self.freeze_windows.iter().enumerate() {
            let key = |field: &str| format!("change.freeze_windows[{index}].{field}");
            if freeze.name.trim().is_empty() {
                return Err(invalid(key("name"), "must not be empty".into()));
            }
            let instant = |field: &str, text: &str| {
                parse_start(text)
                    .and_then(|start| start.resolve(zone))
                    .map_err(|err| invalid(key(field), err.to_string()))
            };
            let start = instant("start", &freeze.start)?;
            let end = instant("end", &freeze.end)?;
            if end <= start {
                return Err(invalid(
                    key("end"),
                    format!("`{}` is not after the start `{}`", freeze.end, freeze.start),
                ));
            }
            freezes.push(Freeze {
                name: freeze.name.clone(),
                start,
                end,
            });
        }
        let mut seen = std::collections::BTreeSet::new();
        for (index, entry) in self.standard_catalog.iter().enumerate() {
            let key = format!("change.standard_catalog[{index}].name");
            if !crate::domain::service::valid_name(&entry.name) {
                return Err(invalid(
                    key,
                    format!(
                        "`{}` is not a name; use lower-case letters, digits, `-`, `_` or `.`",
                        entry.name
                    ),
                ));
            }
            if !seen.insert(entry.name.as_str()) {
                return Err(invalid(key, format!("`{}` is defined twice", entry.name)));
            }
        }
        self.rules = ChangeRules {
            required_approvals: self.required_approvals,
            time_zone: zone,
            freezes,
            early_start: self.early_start,
            overlap: self.overlap,
            risk_matrix: self.risk_matrix,
        };
        Ok(())
    }
}

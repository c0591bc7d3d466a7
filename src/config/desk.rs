//! `[incident]` and `[roles]`: how incidents are prioritised and reopened,
//! and who may do what.

use serde::Deserialize;

use super::{DurationSetting, UserPatternSetting};
use crate::domain::incident::LifecycleRules;
use crate::domain::roles::{Role, RoleBook};
use crate::domain::{Level, PriorityMatrix};

/// `[incident]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentConfig {
    pub default_impact: Level,
    pub default_urgency: Level,
    pub reopen_grace: DurationSetting,
    pub priority_matrix: PriorityMatrix,
}

impl IncidentConfig {
    /// The lifecycle rules these settings give.
    pub fn lifecycle(&self) -> LifecycleRules {
        LifecycleRules {
            reopen_grace: self.reopen_grace.0,
        }
    }
}

/// `[roles]`: role = list of users (`slack:U024BE7LH`, `shell:*`, `*`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolesConfig {
    #[serde(default)]
    pub reporter: Vec<UserPatternSetting>,
    #[serde(default)]
    pub engineer: Vec<UserPatternSetting>,
    #[serde(default)]
    pub manager: Vec<UserPatternSetting>,
    #[serde(default)]
    pub cab: Vec<UserPatternSetting>,
    #[serde(default)]
    pub emergency_cab: Vec<UserPatternSetting>,
    #[serde(default)]
    pub admin: Vec<UserPatternSetting>,
}

impl RolesConfig {
    /// The grants as a [`RoleBook`].
    pub fn book(&self) -> RoleBook {
        let lists = [
            (Role::Reporter, &self.reporter),
            (Role::Engineer, &self.engineer),
            (Role::Manager, &self.manager),
            (Role::Cab, &self.cab),
            (Role::EmergencyCab, &self.emergency_cab),
            (Role::Admin, &self.admin),
        ];
        RoleBook::new(
            lists
                .into_iter()
                .flat_map(|(role, patterns)| patterns.iter().map(move |p| (role, p.0.clone())))
                .collect(),
        )
    }
}

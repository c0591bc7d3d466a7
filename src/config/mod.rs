//! Configuration: `config/default.toml` (built into the binary), then the
//! file named by `--config`/`ITSM_CONFIG`, then `ITSM__SECTION__KEY`
//! environment variables, then `DATABASE_URL`; each layer overrides the one
//! before it key by key.
//!
//! Every section refuses unknown keys, and every value is parsed into its
//! domain type while loading, so a typo or a bad cron expression stops the
//! bot at start with a message that names the key.

mod automation;
mod change;
mod chat;
mod database;
mod desk;
mod hooks;
mod http;
mod load;
mod operations;
mod postmortem;
mod requests;
mod runtime;
mod search;
mod secret;
mod services;
mod settings;
mod sla;

use std::path::PathBuf;

use serde::Deserialize;

pub use automation::{runbook_context, AutomationConfig};
pub use change::{ChangeConfig, FreezeConfig, StandardChange};
pub use chat::{DiscordConfig, ShellConfig, SlackConfig, SlackMode};
pub use database::{redact_url, DatabaseConfig};
pub use desk::{IncidentConfig, RolesConfig};
pub use hooks::{GroupBySetting, HooksConfig};
pub use http::{ApiAccess, ApiConfig, ApiToken, HttpConfig, LimitsConfig, ProxyUrl};
pub use operations::{LogConfig, RetentionConfig};
pub use postmortem::PostmortemConfig;
pub use requests::{CatalogItemConfig, FieldConfig, RequestsConfig};
pub use runtime::{
    DigestChannel, DigestConfig, LocaleConfig, OutboxConfig, SchedulerConfig, ShutdownConfig,
};
pub use search::{SearchConfig, TriageConfig};
pub use secret::{Secret, MIN_SECRET_BYTES};
pub use services::{OncallConfig, PagingConfig, RotationConfig, ServiceConfig};
pub use settings::{CronSetting, DurationSetting, TimeZoneSetting, UserPatternSetting};
pub use sla::{CalendarConfig, PolicyConfig, PolicyTable, SlaConfig};

/// The committed defaults, built in so the binary runs from any directory.
pub const DEFAULT_TOML: &str = include_str!("../../config/default.toml");

/// Prefix of the environment variables that override config keys.
pub const ENV_PREFIX: &str = "ITSM__";

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("configuration error: {}", load::describe_figment_error(.0))]
    Load(#[from] Box<figment::Error>),
    #[error("configuration error: `{key}`: {message}")]
    Invalid { key: String, message: String },
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub database: DatabaseConfig,
    pub http: HttpConfig,
    pub shell: ShellConfig,
    pub incident: IncidentConfig,
    pub roles: RolesConfig,
    #[serde(default)]
    pub services: Vec<ServiceConfig>,
    #[serde(default)]
    pub oncall: OncallConfig,
    pub scheduler: SchedulerConfig,
    /// `[locale]`: the team's time zone (optional; UTC).
    #[serde(default)]
    pub locale: LocaleConfig,
    pub digest: DigestConfig,
    pub slack: SlackConfig,
    pub discord: DiscordConfig,
    pub shutdown: ShutdownConfig,
    pub sla: SlaConfig,
    pub change: ChangeConfig,
    pub hooks: HooksConfig,
    #[serde(default)]
    pub api: ApiConfig,
    pub limits: LimitsConfig,
    pub outbox: OutboxConfig,
    /// `[postmortem]`: post-incident reviews (optional).
    #[serde(default)]
    pub postmortem: PostmortemConfig,
    /// `[automation]`: rules and runbooks (optional).
    #[serde(default)]
    pub automation: AutomationConfig,
    /// `[requests]`: the service catalog (optional).
    #[serde(default)]
    pub requests: RequestsConfig,
    /// `[retention]`: how long bookkeeping rows are kept (optional).
    #[serde(default)]
    pub retention: RetentionConfig,
    /// `[log]`: the log format (optional; text).
    #[serde(default)]
    pub log: LogConfig,
    /// `[search]`: synonyms for search and suggestions (optional).
    #[serde(default)]
    pub search: SearchConfig,
    /// `[triage]`: suggested service and priority (optional).
    #[serde(default)]
    pub triage: TriageConfig,
    #[serde(default)]
    pub calendars: std::collections::BTreeMap<String, CalendarConfig>,
    /// The SLA policy built from `[sla]` and `[calendars]` while loading.
    #[serde(skip)]
    pub sla_policy: crate::domain::sla::SlaPolicy,
}

impl Config {
    /// Checks every section, each by its own rules, then what ties sections
    /// together.
    fn validate(&self) -> Result<(), ConfigError> {
        self.database.validate()?;
        self.http.validate()?;
        self.shell.validate()?;
        services::validate(&self.services, &self.oncall)?;
        self.outbox.validate()?;
        self.api.validate()?;
        self.slack.validate(self.http.enabled)?;
        self.discord.validate()?;
        self.shutdown.validate()?;
        self.retention.validate()?;
        self.triage.validate()?;
        self.hooks.validate()
    }

    /// The zone reports and digests are read in by default:
    /// `digest.time_zone`, else `[locale] time_zone`.
    pub fn report_zone(&self) -> chrono_tz::Tz {
        self.digest
            .time_zone
            .map_or_else(|| self.locale.zone(), |z| z.0)
    }

    /// The zone of `channel`'s digest: its own, else [`Config::report_zone`].
    pub fn digest_zone(&self, channel: &crate::domain::channel::ChannelRef) -> chrono_tz::Tz {
        self.digest
            .channels
            .iter()
            .find(|c| &c.channel == channel)
            .and_then(|c| c.time_zone)
            .map_or_else(|| self.report_zone(), |z| z.0)
    }

    /// The rotation called `name`, built (config loading checked it).
    pub fn rotation(&self, name: &str) -> Option<crate::domain::oncall::Rotation> {
        self.oncall
            .rotations
            .iter()
            .find(|r| r.name == name)
            .and_then(|r| r.rotation(self.locale.zone()).ok())
    }

    /// The service entry called `name`.
    pub fn service(&self, name: &str) -> Option<&ServiceConfig> {
        self.services.iter().find(|s| s.name == name)
    }
}

/// A configuration error for `key`. Messages say what is wrong and what
/// would work, and never hold a secret's value.
fn invalid(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        message: message.into(),
    }
}

#[cfg(test)]
mod tests;

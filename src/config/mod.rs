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
mod postmortem;
mod secret;
mod settings;
mod sla;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Format, Serialized, Toml};
use figment::Figment;
use serde::Deserialize;

use crate::domain::incident::LifecycleRules;
use crate::domain::roles::{Role, RoleBook};
use crate::domain::{Level, PriorityMatrix};

pub use automation::{runbook_context, AutomationConfig};
pub use change::{ChangeConfig, FreezeConfig, StandardChange};
pub use postmortem::PostmortemConfig;
pub use secret::{Secret, MIN_SECRET_BYTES};
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
    #[error("configuration error: {}", describe_figment_error(.0))]
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
    #[serde(default)]
    pub calendars: std::collections::BTreeMap<String, CalendarConfig>,
    /// The SLA policy built from `[sla]` and `[calendars]` while loading.
    #[serde(skip)]
    pub sla_policy: crate::domain::sla::SlaPolicy,
}

/// `[database]`
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// PostgreSQL URL; may hold a password, so it is never printed whole.
    pub url: String,
    pub max_connections: u32,
    /// How long a command waits for a connection before answering that the
    /// database is unavailable.
    pub acquire_timeout: DurationSetting,
}

impl std::fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &redact_url(&self.url))
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .finish()
    }
}

/// Replaces the password in a URL (`user:pass@` or `?password=`) with `***`
/// so it can be logged.
pub fn redact_url(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return "(unparsable URL)".to_string();
    };
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some("***"));
    }
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(k, v)| {
            let hidden = matches!(k.to_ascii_lowercase().as_str(), "password" | "sslpassword");
            (
                k.into_owned(),
                if hidden {
                    "***".to_string()
                } else {
                    v.into_owned()
                },
            )
        })
        .collect();
    if !pairs.is_empty() {
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

/// `[http]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    pub enabled: bool,
    pub bind: SocketAddr,
    /// The largest request body any route accepts, in bytes.
    pub max_body_bytes: usize,
    /// Shared secret guarding the managers' dashboard (`GET /`); the
    /// dashboard is open when unset. Set it with ITSM__HTTP__DASHBOARD_TOKEN.
    #[serde(default)]
    pub dashboard_token: Option<Secret>,
    /// A file holding the dashboard token (container secrets).
    #[serde(default)]
    pub dashboard_token_file: Option<PathBuf>,
}

/// `[shell]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShellConfig {
    /// Whether `serve` runs the shell adapter when standard input is a terminal.
    pub enabled: bool,
    /// The channel shell lines are said in unless `--channel` is given.
    pub channel: String,
}

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

/// One `[[services]]` entry of the service catalog.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub owner: Option<crate::domain::UserId>,
    /// Availability the service should reach, in percent (default 99.9).
    #[serde(default = "default_availability_target")]
    pub availability_target: f64,
    /// Where pages, escalations and error-budget warnings about it are posted.
    pub channel: Option<crate::domain::channel::ChannelRef>,
    /// A free-form criticality tier, e.g. `1` or `gold`.
    pub tier: Option<String>,
    /// The `[[oncall.rotations]]` entry paged for its P1/P2 incidents.
    pub rotation: Option<String>,
    /// Whether `/status` shows it.
    #[serde(default = "default_public")]
    pub public: bool,
    /// Services it needs to work.
    #[serde(default)]
    pub depends_on: Vec<String>,
}

/// The availability target of a service that names none.
fn default_availability_target() -> f64 {
    99.9
}

fn default_public() -> bool {
    true
}

/// `[oncall]`: who is paged for P1/P2 incidents.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OncallConfig {
    #[serde(default)]
    pub rotations: Vec<RotationConfig>,
    /// The optional outbound paging hook, told of every page, escalation
    /// step, acknowledgement and resolution.
    #[serde(default)]
    pub paging: Option<PagingConfig>,
}

/// `[oncall.paging]`: an outbound paging hook receiving PagerDuty Events
/// API v2 events (`trigger`, `acknowledge`, `resolve`, deduplicated by the
/// incident's reference).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagingConfig {
    /// Where events are POSTed (http or https), e.g.
    /// `https://events.pagerduty.com/v2/enqueue`.
    pub url: String,
    /// The integration key sent as `routing_key`; set it with
    /// ITSM__ONCALL__PAGING__ROUTING_KEY or `routing_key_file`.
    pub routing_key: Option<Secret>,
    pub routing_key_file: Option<PathBuf>,
    /// When set, every request carries `X-Itsm-Signature: sha256=<hex
    /// HMAC-SHA256 of the body>` keyed with it.
    pub hmac_secret: Option<Secret>,
    pub hmac_secret_file: Option<PathBuf>,
}

/// One `[[oncall.rotations]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotationConfig {
    pub name: String,
    /// Who takes shifts, in order.
    pub members: Vec<crate::domain::UserId>,
    /// A shift start of the first member, `YYYY-MM-DDTHH:MM` in `time_zone`.
    pub handoff: String,
    /// Shift length in whole days: `1d`, `1w`.
    pub length: DurationSetting,
    #[serde(default = "default_rotation_zone")]
    pub time_zone: TimeZoneSetting,
    /// An unacknowledged page escalates after this long.
    #[serde(default = "default_escalate_after")]
    pub escalate_after: DurationSetting,
}

fn default_rotation_zone() -> TimeZoneSetting {
    TimeZoneSetting(chrono_tz::UTC)
}

fn default_escalate_after() -> DurationSetting {
    DurationSetting(chrono::Duration::minutes(5))
}

impl RotationConfig {
    /// The rotation as a domain value.
    pub fn rotation(&self) -> Result<crate::domain::oncall::Rotation, String> {
        let handoff = chrono::NaiveDateTime::parse_from_str(&self.handoff, "%Y-%m-%dT%H:%M")
            .map_err(|_| {
                format!(
                    "`{}` is not a handoff time; write `YYYY-MM-DDTHH:MM` in the rotation's time zone, e.g. `2026-11-23T09:00`",
                    self.handoff
                )
            })?;
        crate::domain::oncall::Rotation::new(
            self.name.clone(),
            self.members.clone(),
            handoff,
            self.length.0,
            self.time_zone.0,
            self.escalate_after.0,
        )
        .map_err(|err| err.to_string())
    }
}

/// How the Slack adapter connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SlackMode {
    /// Socket Mode: an outbound WebSocket, no public URL needed.
    Socket,
    /// HTTP: Slack POSTs to `/slack/…` on the bot's HTTP server.
    Http,
}

/// `[slack]`. The adapter runs when a bot token is configured.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    pub mode: SlackMode,
    /// Web API base URL, without a trailing slash.
    pub api_url: String,
    /// Bot token (`xoxb-…`); set it with ITSM__SLACK__BOT_TOKEN or a file.
    pub bot_token: Option<Secret>,
    pub bot_token_file: Option<PathBuf>,
    /// App-level token (`xapp-…`) for Socket Mode.
    pub app_token: Option<Secret>,
    pub app_token_file: Option<PathBuf>,
    /// Signing secret for HTTP mode.
    pub signing_secret: Option<Secret>,
    pub signing_secret_file: Option<PathBuf>,
    /// Channel ids whose top-level messages become incidents.
    #[serde(default)]
    pub intake_channels: Vec<String>,
    /// Reaction name (without colons) that turns any message into an incident.
    pub create_reaction: String,
    /// Socket Mode connections kept open.
    pub socket_connections: u32,
    /// How long a slash command may run before Slack is answered "working on
    /// it" and the result follows through `response_url` (Slack allows 3 s).
    pub reply_within: DurationSetting,
}

impl SlackConfig {
    /// Whether the Slack adapter runs.
    pub fn enabled(&self) -> bool {
        self.bot_token.is_some()
    }
}

/// `[discord]`. The adapter runs when a bot token is configured.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscordConfig {
    /// REST base URL (the gateway URL comes from its `/gateway` answer).
    pub api_url: String,
    /// Bot token; set it with ITSM__DISCORD__TOKEN or a file.
    pub token: Option<Secret>,
    pub token_file: Option<PathBuf>,
    /// Guilds to register commands in (fast); empty = register globally.
    #[serde(default)]
    pub guild_ids: Vec<u64>,
    /// Channel ids whose messages become incidents.
    #[serde(default)]
    pub intake_channels: Vec<String>,
    /// The emoji that turns any message into an incident.
    pub create_reaction: String,
    /// Whether each incident gets a thread under its card.
    pub incident_threads: bool,
    /// Only one replica holds the gateway connection (a lease in the
    /// database); when it dies another connects within this many seconds.
    pub failover_seconds: u64,
}

impl DiscordConfig {
    /// Whether the Discord adapter runs.
    pub fn enabled(&self) -> bool {
        self.token.is_some()
    }
}

/// `[shutdown]`: what happens on SIGTERM/SIGINT.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShutdownConfig {
    /// How long in-flight work and the last outbox flush may take before
    /// the process exits anyway.
    pub grace_seconds: u64,
}

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

/// `[outbox]`: delivering posts to the chat platforms.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxConfig {
    /// Attempts (with backoff) before a post is parked as failed; parked
    /// posts show in `/itsm outbox` and `/metrics`.
    pub max_attempts: i32,
}

/// `[limits]`: protection against floods.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Commands one person may run per minute on one replica; more are
    /// answered "slow down". 0 turns the limit off.
    pub commands_per_minute: u32,
}

/// `[api]`: who may call the REST API.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// Bearer tokens, each named and read-only or read-write. The API
    /// answers 401 to everyone while there are none.
    #[serde(default)]
    pub tokens: Vec<ApiToken>,
}

/// What an API token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiAccess {
    /// GET only.
    Read,
    /// GET, and creating incidents.
    Write,
}

/// One `[[api.tokens]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiToken {
    /// Who holds it; changes made with it are recorded as `shell:api.<name>`.
    pub name: String,
    pub access: ApiAccess,
    /// The token itself; better given through `token_file` or the environment.
    pub token: Option<Secret>,
    pub token_file: Option<PathBuf>,
}

/// `[scheduler]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulerConfig {
    pub enabled: bool,
    /// When the SLA sweep runs (cron, seconds first).
    pub sla_sweep: CronSetting,
}

/// `[digest]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigestConfig {
    /// Default schedule of a channel's digest.
    pub schedule: CronSetting,
    /// Default time zone the schedule is read in.
    pub time_zone: TimeZoneSetting,
    #[serde(default)]
    pub channels: Vec<DigestChannel>,
}

/// One `[[digest.channels]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigestChannel {
    pub channel: crate::domain::channel::ChannelRef,
    pub schedule: Option<CronSetting>,
    pub time_zone: Option<TimeZoneSetting>,
}

impl Config {
    /// Loads the layered configuration from the process environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        Self::load_with_env(file, std::env::vars())
    }

    /// Loads the layered configuration with the environment given as
    /// `vars`, so tests need not touch the process environment.
    pub fn load_with_env(
        file: Option<&Path>,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut figment = Figment::new().merge(Toml::string(DEFAULT_TOML));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError::MissingFile(path.to_path_buf()));
            }
            figment = figment.merge(Toml::file(path));
        }
        let mut database_url = None;
        // Kept for the automation signing secrets (`secret_env`), which are
        // checked once the rules naming them are read.
        let vars: std::collections::BTreeMap<String, String> = vars.into_iter().collect();
        for (key, value) in vars.clone() {
            if key == "DATABASE_URL" {
                database_url = Some(value);
            } else if let Some(rest) = key.strip_prefix(ENV_PREFIX) {
                let path = rest.to_ascii_lowercase().replace("__", ".");
                // A secret is text as given: `0123` or `true` must not
                // become a number or a flag (and fail, or lose a digit).
                let value = if secret::is_secret_key(&path) {
                    figment::value::Value::from(value)
                } else {
                    parse_env_value(&value)
                };
                figment = figment.merge(EnvVar {
                    name: key.clone(),
                    provider: Serialized::default(&path, value),
                });
            }
        }
        if let Some(url) = database_url {
            figment = figment.merge(EnvVar {
                name: "DATABASE_URL".to_string(),
                provider: Serialized::default("database.url", url),
            });
        }
        let mut config: Config = figment.extract().map_err(Box::new)?;
        config.read_secret_files()?;
        config.postmortem.load()?;
        config.sla_policy = sla::build_policy(&config.sla, &config.calendars)?;
        config.change.build()?;
        config.automation.build(&Role::ALL)?;
        config.check_secrets(&vars)?;
        config.validate()?;
        Ok(config)
    }

    /// The built-in defaults alone, for tests and benchmarks.
    pub fn defaults() -> Result<Config, ConfigError> {
        Self::load_with_env(None, std::iter::empty())
    }

    /// Fills secrets from the files named by `*_file` keys.
    fn read_secret_files(&mut self) -> Result<(), ConfigError> {
        let (slack, discord, hooks, http) = (
            &mut self.slack,
            &mut self.discord,
            &mut self.hooks,
            &mut self.http,
        );
        let pairs = [
            (
                "slack.bot_token_file",
                &slack.bot_token_file,
                &mut slack.bot_token,
            ),
            (
                "slack.app_token_file",
                &slack.app_token_file,
                &mut slack.app_token,
            ),
            (
                "slack.signing_secret_file",
                &slack.signing_secret_file,
                &mut slack.signing_secret,
            ),
            (
                "discord.token_file",
                &discord.token_file,
                &mut discord.token,
            ),
            ("hooks.token_file", &hooks.token_file, &mut hooks.token),
            (
                "http.dashboard_token_file",
                &http.dashboard_token_file,
                &mut http.dashboard_token,
            ),
        ];
        for (key, file, secret) in pairs {
            if let Some(path) = file {
                *secret = Some(secret::read(key, path)?);
            }
        }
        if let Some(paging) = &mut self.oncall.paging {
            if let Some(path) = &paging.routing_key_file {
                paging.routing_key = Some(secret::read("oncall.paging.routing_key_file", path)?);
            }
            if let Some(path) = &paging.hmac_secret_file {
                paging.hmac_secret = Some(secret::read("oncall.paging.hmac_secret_file", path)?);
            }
        }
        for (index, token) in self.api.tokens.iter_mut().enumerate() {
            if let Some(path) = &token.token_file {
                token.token = Some(secret::read(
                    &format!("api.tokens[{index}].token_file"),
                    path,
                )?);
            }
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: String| ConfigError::Invalid {
            key: key.to_string(),
            message,
        };
        if self.database.max_connections == 0 {
            return Err(invalid(
                "database.max_connections",
                "must be at least 1".into(),
            ));
        }
        if self.shell.channel.trim().is_empty() {
            return Err(invalid("shell.channel", "must not be empty".into()));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (index, service) in self.services.iter().enumerate() {
            if !crate::domain::service::valid_name(&service.name) {
                return Err(invalid(
                    &format!("services[{index}].name"),
                    format!(
                        "`{}` is not a service name; use lower-case letters, digits, `-`, `_` or `.`, up to 64 characters",
                        service.name
                    ),
                ));
            }
            let target = service.availability_target;
            if !(target > 0.0 && target <= 100.0) {
                return Err(invalid(
                    &format!("services[{index}].availability_target"),
                    format!("`{target}` is not a percentage; give a number above 0 and at most 100, e.g. 99.9"),
                ));
            }
            if !seen.insert(service.name.as_str()) {
                return Err(invalid(
                    &format!("services[{index}].name"),
                    format!("service `{}` is defined twice", service.name),
                ));
            }
        }
        if !(1..=100).contains(&self.outbox.max_attempts) {
            return Err(invalid(
                "outbox.max_attempts",
                format!("{} is not between 1 and 100", self.outbox.max_attempts),
            ));
        }
        self.validate_oncall()?;
        let mut names = std::collections::BTreeSet::new();
        for (index, token) in self.api.tokens.iter().enumerate() {
            let key = |field: &str| format!("api.tokens[{index}].{field}");
            if !crate::domain::service::valid_name(&token.name)
                || !names.insert(token.name.as_str())
            {
                return Err(invalid(
                    &key("name"),
                    format!(
                        "`{}` must be a unique name of lower-case letters, digits, `-`, `_` or `.`",
                        token.name
                    ),
                ));
            }
            // Its length and shape were checked with every other secret.
            if token.token.is_none() {
                return Err(invalid(
                    &key("token"),
                    "set token_file (or token) for every API token".into(),
                ));
            }
        }
        let slack = &self.slack;
        if !(slack.api_url.starts_with("http://") || slack.api_url.starts_with("https://"))
            || slack.api_url.ends_with('/')
        {
            return Err(invalid("slack.api_url", format!("`{}` must be an http(s) URL without a trailing slash, e.g. https://slack.com/api", slack.api_url)));
        }
        if slack.enabled() {
            match slack.mode {
                SlackMode::Socket if slack.app_token.is_none() => {
                    return Err(invalid("slack.app_token", "Socket Mode needs an app-level token: set ITSM__SLACK__APP_TOKEN or slack.app_token_file".into()));
                }
                SlackMode::Http if slack.signing_secret.is_none() => {
                    return Err(invalid("slack.signing_secret", "HTTP mode needs the signing secret: set ITSM__SLACK__SIGNING_SECRET or slack.signing_secret_file".into()));
                }
                SlackMode::Http if !self.http.enabled => {
                    return Err(invalid(
                        "http.enabled",
                        "Slack HTTP mode needs the HTTP server".into(),
                    ));
                }
                _ => {}
            }
        }
        let discord = &self.discord;
        if !(discord.api_url.starts_with("http://") || discord.api_url.starts_with("https://")) {
            return Err(invalid(
                "discord.api_url",
                format!(
                    "`{}` must be an http(s) URL, e.g. https://discord.com",
                    discord.api_url
                ),
            ));
        }
        if discord.create_reaction.trim().is_empty() {
            return Err(invalid(
                "discord.create_reaction",
                "must name an emoji, e.g. 🎫".into(),
            ));
        }
        if discord.failover_seconds == 0 {
            return Err(invalid(
                "discord.failover_seconds",
                "must be at least 1 (seconds until a standby replica takes over the gateway)"
                    .into(),
            ));
        }
        if self.shutdown.grace_seconds == 0 {
            return Err(invalid(
                "shutdown.grace_seconds",
                "must be at least 1 (seconds in-flight work gets at shutdown)".into(),
            ));
        }
        if discord.guild_ids.contains(&0) {
            return Err(invalid(
                "discord.guild_ids",
                "guild ids are non-zero snowflakes".into(),
            ));
        }
        if slack.socket_connections == 0 {
            return Err(invalid(
                "slack.socket_connections",
                "must be at least 1".into(),
            ));
        }
        if slack.create_reaction.trim().is_empty() || slack.create_reaction.contains(':') {
            return Err(invalid(
                "slack.create_reaction",
                "write the reaction's name without colons, e.g. `ticket`".into(),
            ));
        }
        let hooks = &self.hooks;
        if hooks.service_label.trim().is_empty() {
            return Err(invalid(
                "hooks.service_label",
                "must name a label, e.g. `service`".into(),
            ));
        }
        if let Some(key) = hooks
            .severity_priorities
            .keys()
            .find(|key| key.to_ascii_lowercase() != **key)
        {
            return Err(invalid(
                &format!("hooks.severity_priorities.{key}"),
                "write severities in lower case; labels are matched case-insensitively".into(),
            ));
        }
        Ok(())
    }
}

impl Config {
    /// Checks rotations, and the services' rotations and dependencies.
    fn validate_oncall(&self) -> Result<(), ConfigError> {
        let invalid = |key: String, message: String| ConfigError::Invalid { key, message };
        let mut rotations = std::collections::BTreeSet::new();
        for (index, rotation) in self.oncall.rotations.iter().enumerate() {
            let key = |field: &str| format!("oncall.rotations[{index}].{field}");
            if !crate::domain::service::valid_name(&rotation.name)
                || !rotations.insert(rotation.name.as_str())
            {
                return Err(invalid(
                    key("name"),
                    format!(
                        "`{}` must be a unique name of lower-case letters, digits, `-`, `_` or `.`",
                        rotation.name
                    ),
                ));
            }
            if let Err(message) = rotation.rotation() {
                let field = if rotation.members.is_empty() {
                    "members"
                } else if message.contains("handoff") {
                    "handoff"
                } else {
                    "length"
                };
                return Err(invalid(key(field), message));
            }
            if rotation.escalate_after.0 < chrono::Duration::minutes(1) {
                return Err(invalid(
                    key("escalate_after"),
                    "must be at least a minute, e.g. `5m`".into(),
                ));
            }
        }
        if let Some(paging) = &self.oncall.paging {
            let url_ok = url::Url::parse(&paging.url)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
            if !url_ok {
                return Err(invalid(
                    "oncall.paging.url".into(),
                    format!(
                        "`{}` must be an http(s) URL, e.g. https://events.pagerduty.com/v2/enqueue",
                        paging.url
                    ),
                ));
            }
            // The values are secrets: messages say what is wrong, never what they hold.
            if paging
                .routing_key
                .as_ref()
                .is_none_or(|k| k.expose().trim().is_empty())
            {
                return Err(invalid(
                    "oncall.paging.routing_key".into(),
                    "the paging hook needs the integration key: set ITSM__ONCALL__PAGING__ROUTING_KEY or oncall.paging.routing_key_file".into(),
                ));
            }
        }
        let services: std::collections::BTreeSet<&str> =
            self.services.iter().map(|s| s.name.as_str()).collect();
        for (index, service) in self.services.iter().enumerate() {
            if let Some(rotation) = &service.rotation {
                if !rotations.contains(rotation.as_str()) {
                    return Err(invalid(
                        format!("services[{index}].rotation"),
                        format!(
                            "there is no rotation `{rotation}`; define it under [[oncall.rotations]] (defined: {})",
                            if rotations.is_empty() {
                                "none".to_string()
                            } else {
                                rotations.iter().copied().collect::<Vec<_>>().join(", ")
                            }
                        ),
                    ));
                }
            }
            if let Some(missing) = service
                .depends_on
                .iter()
                .find(|d| !services.contains(d.as_str()) || **d == service.name)
            {
                return Err(invalid(
                    format!("services[{index}].depends_on"),
                    format!("`{missing}` is not another service in [[services]]"),
                ));
            }
        }
        Ok(())
    }

    /// The rotation called `name`, built (config loading checked it).
    pub fn rotation(&self, name: &str) -> Option<crate::domain::oncall::Rotation> {
        self.oncall
            .rotations
            .iter()
            .find(|r| r.name == name)
            .and_then(|r| r.rotation().ok())
    }

    /// The service entry called `name`.
    pub fn service(&self, name: &str) -> Option<&ServiceConfig> {
        self.services.iter().find(|s| s.name == name)
    }
}

/// One environment variable as a configuration layer, named in errors.
struct EnvVar<T> {
    name: String,
    provider: Serialized<T>,
}

impl<T: serde::Serialize> figment::Provider for EnvVar<T> {
    fn metadata(&self) -> figment::Metadata {
        figment::Metadata::named(format!("environment variable {}", self.name))
    }

    fn data(
        &self,
    ) -> Result<figment::value::Map<figment::Profile, figment::value::Dict>, figment::Error> {
        self.provider.data()
    }
}

/// Writes figment's errors as "`key`: what is wrong (in which source)",
/// one per line, without figment's internal profile name.
fn describe_figment_error(err: &figment::Error) -> String {
    err.clone()
        .into_iter()
        .map(|err| {
            let key = err.path.join(".");
            let source = err.metadata.as_ref().map(|meta| match &meta.source {
                Some(figment::Source::File(path)) => path.display().to_string(),
                _ if meta.name.starts_with("environment variable") => meta.name.to_string(),
                _ => "config/default.toml".to_string(),
            });
            let kind = match &err.kind {
                figment::error::Kind::Message(message) => message.clone(),
                other => other.to_string(),
            };
            match (key.is_empty(), source) {
                (true, Some(source)) => format!("{kind} (in {source})"),
                (true, None) => kind,
                (false, Some(source)) => format!("`{key}`: {kind} (in {source})"),
                (false, None) => format!("`{key}`: {kind}"),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads an environment variable's value the way figment reads one (`5`,
/// `true`, `[0.75, 0.9]`), falling back to a plain string.
fn parse_env_value(raw: &str) -> figment::value::Value {
    match raw.parse::<figment::value::Value>() {
        Ok(value) => value,
        Err(never) => match never {},
    }
}

#[cfg(test)]
mod tests;

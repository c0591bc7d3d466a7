//! `[shutdown]`, `[outbox]`, `[scheduler]` and `[digest]`: how the running
//! bot stops, delivers its posts, and when its scheduled work runs.

use serde::Deserialize;

use super::{invalid, ConfigError, CronSetting, TimeZoneSetting};

/// `[shutdown]`: what happens on SIGTERM/SIGINT.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShutdownConfig {
    /// How long in-flight work and the last outbox flush may take before
    /// the process exits anyway.
    pub grace_seconds: u64,
}

/// `[outbox]`: delivering posts to the chat platforms.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxConfig {
    /// Attempts (with backoff) before a post is parked as failed; parked
    /// posts show in `/itsm outbox` and `/metrics`.
    pub max_attempts: i32,
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

impl ShutdownConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.grace_seconds == 0 {
            return Err(invalid(
                "shutdown.grace_seconds",
                "must be at least 1 (seconds in-flight work gets at shutdown)",
            ));
        }
        Ok(())
    }
}

impl OutboxConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=100).contains(&self.max_attempts) {
            return Err(invalid(
                "outbox.max_attempts",
                format!("{} is not between 1 and 100", self.max_attempts),
            ));
        }
        Ok(())
    }
}

//! `[shutdown]`, `[outbox]`, `[scheduler]`, `[digest]` and `[locale]`: how
//! the running bot stops, delivers its posts, when its scheduled work runs,
//! and the time zone it speaks in.

use serde::Deserialize;

use super::{invalid, ConfigError, CronSetting, DurationSetting, TimeZoneSetting};

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
    /// When a channel's waiting card posts would take longer than this to
    /// go out at the platform's pace, they are listed in one summary post
    /// (edited as things change) instead of posted one by one.
    #[serde(default = "default_coalesce_after")]
    pub coalesce_after: DurationSetting,
}

fn default_coalesce_after() -> DurationSetting {
    DurationSetting(chrono::Duration::seconds(10))
}

/// `[scheduler]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulerConfig {
    pub enabled: bool,
    /// When the SLA sweep runs (cron, seconds first).
    pub sla_sweep: CronSetting,
}

/// `[locale]`: the team's time zone, which every time shown and typed uses
/// unless a section sets its own (`digest.time_zone`, `change.time_zone`,
/// a calendar's `time_zone`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocaleConfig {
    #[serde(default)]
    pub time_zone: Option<TimeZoneSetting>,
}

impl LocaleConfig {
    /// The team's zone; UTC when none is set.
    pub fn zone(&self) -> chrono_tz::Tz {
        self.time_zone.map_or(chrono_tz::Tz::UTC, |z| z.0)
    }
}

/// `[digest]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigestConfig {
    /// Default schedule of a channel's digest.
    pub schedule: CronSetting,
    /// Default time zone the schedule and the reported days are read in;
    /// `[locale] time_zone` when not set.
    #[serde(default)]
    pub time_zone: Option<TimeZoneSetting>,
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
    /// `outbox.coalesce_after` as a wait.
    pub fn coalesce_after(&self) -> std::time::Duration {
        self.coalesce_after
            .0
            .to_std()
            .unwrap_or(std::time::Duration::from_secs(10))
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=100).contains(&self.max_attempts) {
            return Err(invalid(
                "outbox.max_attempts",
                format!("{} is not between 1 and 100", self.max_attempts),
            ));
        }
        let after = self.coalesce_after.0;
        if after < chrono::Duration::seconds(1) || after > chrono::Duration::hours(1) {
            return Err(invalid(
                "outbox.coalesce_after",
                format!("{:?} is not between 1s and 1h (how long a channel's backlog may take before its cards are summarised)", self.coalesce_after),
            ));
        }
        Ok(())
    }
}

//! `[retention]` and `[log]`: how long bookkeeping rows are kept, and the
//! shape of the log lines. Both are for the people who run the bot.

use serde::Deserialize;

use super::{invalid, ConfigError, CronSetting};
use crate::telemetry::LogFormat;

/// The longest any retention may be (about a hundred years): a larger
/// number is a typo, and would overflow the cut-off instant.
const MAX_DAYS: i64 = 36_500;

/// `job_runs` rows of a week's and a month's report are how the scheduler
/// knows the report already went out (the first claim of the period posts
/// it); they must outlive the longest month, or a report would go out twice.
const MIN_JOB_RUNS_DAYS: i64 = 32;

/// `[retention]`: days after which bookkeeping rows are deleted by the
/// scheduler's `retention` job. Tickets, their timelines and everything a
/// report reads are never deleted.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Whether the scheduler prunes at all.
    pub enabled: bool,
    /// When the pruning job runs (cron, seconds first).
    pub schedule: CronSetting,
    /// Ids of handled chat deliveries (`processed_inbound`), kept so a
    /// redelivered event is answered once; platforms redeliver within
    /// minutes.
    pub processed_inbound_days: i64,
    /// Chat posts delivered (`outbox` rows with `sent_at`). Parked posts
    /// are kept until someone deals with them.
    pub delivered_posts_days: i64,
    /// Outbound calls delivered: rule webhooks and runbook calls
    /// (`outbound_calls`) and paging-hook events (`page_hooks`), with their
    /// bodies. Parked calls are kept.
    pub delivered_calls_days: i64,
    /// Claims of scheduled runs (`job_runs`: digests, weekly and monthly
    /// reports); at least 32.
    pub job_runs_days: i64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            enabled: true,
            // Minute 17 of every hour: small batches often, off the hour
            // when digests and sweeps run.
            schedule: CronSetting::hourly_at_minute_17(),
            processed_inbound_days: 30,
            delivered_posts_days: 14,
            delivered_calls_days: 30,
            job_runs_days: 90,
        }
    }
}

impl RetentionConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        for (key, days, min) in [
            (
                "retention.processed_inbound_days",
                self.processed_inbound_days,
                1,
            ),
            (
                "retention.delivered_posts_days",
                self.delivered_posts_days,
                1,
            ),
            (
                "retention.delivered_calls_days",
                self.delivered_calls_days,
                1,
            ),
            (
                "retention.job_runs_days",
                self.job_runs_days,
                MIN_JOB_RUNS_DAYS,
            ),
        ] {
            if !(min..=MAX_DAYS).contains(&days) {
                let why = if min == MIN_JOB_RUNS_DAYS {
                    " (a month's report is claimed once per month in these rows)"
                } else {
                    ""
                };
                return Err(invalid(
                    key,
                    format!("{days} is not a number of days between {min} and {MAX_DAYS}{why}"),
                ));
            }
        }
        Ok(())
    }
}

/// `[log]`: the shape of the log lines on standard error.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `text` (default) for people, `json` (one object per line) for log
    /// shippers.
    #[serde(default)]
    pub format: LogFormat,
}

//! Config values that are parsed into domain types as they load, so a bad
//! value is reported with the key it came from.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

use crate::domain::duration::{format_duration, parse_duration};
use crate::domain::roles::UserPattern;

/// A cron expression (`sec min hour day-of-month month day-of-week [year]`).
///
/// Day-of-week numbers in the `cron` crate count Sunday as 1; names
/// (`Mon-Fri`) avoid the surprise.
#[derive(Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct CronSetting {
    pub schedule: cron::Schedule,
    pub text: String,
}

impl TryFrom<String> for CronSetting {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        let schedule = cron::Schedule::from_str(&text).map_err(|err| {
            format!("`{text}` is not a cron expression ({err}); write `sec min hour day-of-month month day-of-week`, e.g. `0 0 9 * * Mon-Fri`")
        })?;
        Ok(CronSetting { schedule, text })
    }
}

impl CronSetting {
    /// `0 17 * * * *`: every hour at minute 17.
    pub(super) fn hourly_at_minute_17() -> Self {
        const TEXT: &str = "0 17 * * * *";
        // A constant known to parse: the cron tests cover it, and
        // `retention_defaults_are_valid` in config/tests.rs loads it.
        #[allow(clippy::expect_used)]
        let schedule = cron::Schedule::from_str(TEXT).expect("a valid constant cron expression");
        CronSetting {
            schedule,
            text: TEXT.to_string(),
        }
    }
}

impl fmt::Debug for CronSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.text)
    }
}

/// An IANA time zone name such as `Europe/Berlin`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(try_from = "String")]
pub struct TimeZoneSetting(pub chrono_tz::Tz);

impl TryFrom<String> for TimeZoneSetting {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        chrono_tz::Tz::from_str(&text)
            .map(TimeZoneSetting)
            .map_err(|_| format!("`{text}` is not a time zone; use an IANA name such as `UTC` or `Europe/Berlin`"))
    }
}

/// A duration such as `90m`, `2h`, `1h30m`, `7d`.
#[derive(Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct DurationSetting(pub chrono::Duration);

impl TryFrom<String> for DurationSetting {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        parse_duration(&text)
            .map(DurationSetting)
            .map_err(|err| err.to_string())
    }
}

impl fmt::Debug for DurationSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(self.0))
    }
}

/// Who a role grant applies to: `slack:U024BE7LH`, `shell:*` or `*`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct UserPatternSetting(pub UserPattern);

impl TryFrom<String> for UserPatternSetting {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        UserPattern::from_str(&text)
            .map(UserPatternSetting)
            .map_err(|err| format!("`{text}`: {err}; write platform:id, platform:* or *"))
    }
}

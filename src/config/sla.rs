//! `[sla]` and `[calendars.<name>]`: SLA targets per priority, warning
//! thresholds and business calendars, turned into a domain [`SlaPolicy`].

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveTime};
use serde::Deserialize;

use super::settings::{DurationSetting, TimeZoneSetting};
use super::ConfigError;
use crate::domain::calendar::{parse_weekday, BusinessCalendar, Hours};
use crate::domain::channel::ChannelRef;
use crate::domain::sla::{SlaPolicy, SlaTarget};
use crate::domain::Priority;

/// `[sla]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaConfig {
    /// Fractions of a target at which a warning is posted.
    pub warn_at: Vec<f64>,
    /// Where every warning and breach is also posted (`slack:C…`, or a shell channel).
    pub escalation_channel: Option<ChannelRef>,
    pub policies: PolicyTable,
}

/// `[sla.policies]`: one table per priority.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyTable {
    #[serde(rename = "P1")]
    pub p1: PolicyConfig,
    #[serde(rename = "P2")]
    pub p2: PolicyConfig,
    #[serde(rename = "P3")]
    pub p3: PolicyConfig,
    #[serde(rename = "P4")]
    pub p4: PolicyConfig,
}

/// The targets of one priority.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    pub respond: DurationSetting,
    pub resolve: DurationSetting,
    /// A calendar from `[calendars]`; without one the clocks run around the clock.
    pub calendar: Option<String>,
}

/// `[calendars.<name>]`: business hours.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarConfig {
    /// `[locale] time_zone` when not set.
    #[serde(default)]
    pub time_zone: Option<TimeZoneSetting>,
    pub working_days: Vec<String>,
    /// Opening time, `HH:MM`, local.
    pub opens: String,
    /// Closing time, `HH:MM`, local.
    pub closes: String,
    #[serde(default)]
    pub holidays: Vec<NaiveDate>,
}

fn time(key: &str, text: &str) -> Result<NaiveTime, ConfigError> {
    NaiveTime::parse_from_str(text, "%H:%M").map_err(|_| ConfigError::Invalid {
        key: key.to_string(),
        message: format!("`{text}` is not a time of day; write HH:MM, e.g. 09:00"),
    })
}

/// Builds the business calendars and the SLA policy, naming the key of
/// anything that does not fit.
pub fn build_policy(
    sla: &SlaConfig,
    calendars: &BTreeMap<String, CalendarConfig>,
    locale: chrono_tz::Tz,
) -> Result<SlaPolicy, ConfigError> {
    let built = build_calendars(calendars, locale)?;
    build_targets(sla, &built)
}

/// The business calendars of `[calendars]`, by name, naming the key of
/// anything that does not fit; service requests count in them too.
pub fn build_calendars(
    calendars: &BTreeMap<String, CalendarConfig>,
    locale: chrono_tz::Tz,
) -> Result<BTreeMap<String, BusinessCalendar>, ConfigError> {
    let mut built = BTreeMap::new();
    for (name, calendar) in calendars {
        let key = |field: &str| format!("calendars.{name}.{field}");
        let days = calendar
            .working_days
            .iter()
            .map(|day| {
                parse_weekday(day).map_err(|err| ConfigError::Invalid {
                    key: key("working_days"),
                    message: err.to_string(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let opens = time(&key("opens"), &calendar.opens)?;
        let closes = time(&key("closes"), &calendar.closes)?;
        let business = BusinessCalendar::new(
            calendar.time_zone.map_or(locale, |z| z.0),
            days,
            opens,
            closes,
            calendar.holidays.clone(),
        )
        .map_err(|err| ConfigError::Invalid {
            key: format!("calendars.{name}"),
            message: err.to_string(),
        })?;
        built.insert(name.clone(), business);
    }
    Ok(built)
}

fn build_targets(
    sla: &SlaConfig,
    built: &BTreeMap<String, BusinessCalendar>,
) -> Result<SlaPolicy, ConfigError> {
    let table = &sla.policies;
    let mut targets = BTreeMap::new();
    for (priority, policy) in [
        (Priority::P1, &table.p1),
        (Priority::P2, &table.p2),
        (Priority::P3, &table.p3),
        (Priority::P4, &table.p4),
    ] {
        let hours =
            match &policy.calendar {
                None => Hours::AroundTheClock,
                Some(name) => Hours::Business(built.get(name).cloned().ok_or_else(|| {
                    ConfigError::Invalid {
                        key: format!("sla.policies.{priority}.calendar"),
                        message: format!(
                    "there is no calendar `{name}`; define [calendars.{name}] or use one of: {}",
                    built.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
                    }
                })?),
            };
        if policy.respond.0 > policy.resolve.0 {
            return Err(ConfigError::Invalid {
                key: format!("sla.policies.{priority}"),
                message: "the time to respond is longer than the time to resolve".into(),
            });
        }
        targets.insert(
            priority,
            SlaTarget {
                respond: policy.respond.0,
                resolve: policy.resolve.0,
                hours,
                calendar: policy.calendar.clone(),
            },
        );
    }
    SlaPolicy::new(targets, &sla.warn_at).map_err(|err| ConfigError::Invalid {
        key: "sla.warn_at".into(),
        message: err.to_string(),
    })
}

//! `[[services]]` and `[oncall]`: the service catalog, its rotations and
//! the outbound paging hook.

use std::path::PathBuf;

use serde::Deserialize;

use super::{invalid, ConfigError, DurationSetting, Secret, TimeZoneSetting};

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
    /// `[locale] time_zone` when not set.
    #[serde(default)]
    pub time_zone: Option<TimeZoneSetting>,
    /// An unacknowledged page escalates after this long.
    #[serde(default = "default_escalate_after")]
    pub escalate_after: DurationSetting,
}

fn default_escalate_after() -> DurationSetting {
    DurationSetting(chrono::Duration::minutes(5))
}

impl RotationConfig {
    /// The rotation as a domain value; `locale` is the team's zone, used
    /// when the rotation names none.
    pub fn rotation(
        &self,
        locale: chrono_tz::Tz,
    ) -> Result<crate::domain::oncall::Rotation, String> {
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
            self.time_zone.map_or(locale, |z| z.0),
            self.escalate_after.0,
        )
        .map_err(|err| err.to_string())
    }
}

/// Checks the catalog (names, targets), the rotations, the paging hook, and
/// the services' rotations and dependencies.
pub(super) fn validate(
    services: &[ServiceConfig],
    oncall: &OncallConfig,
) -> Result<(), ConfigError> {
    let mut seen = std::collections::BTreeSet::new();
    for (index, service) in services.iter().enumerate() {
        if !crate::domain::service::valid_name(&service.name) {
            return Err(invalid(
                format!("services[{index}].name"),
                format!(
                    "`{}` is not a service name; use lower-case letters, digits, `-`, `_` or `.`, up to 64 characters",
                    service.name
                ),
            ));
        }
        let target = service.availability_target;
        if !(target > 0.0 && target <= 100.0) {
            return Err(invalid(
                format!("services[{index}].availability_target"),
                format!("`{target}` is not a percentage; give a number above 0 and at most 100, e.g. 99.9"),
            ));
        }
        if !seen.insert(service.name.as_str()) {
            return Err(invalid(
                format!("services[{index}].name"),
                format!("service `{}` is defined twice", service.name),
            ));
        }
    }
    let mut rotations = std::collections::BTreeSet::new();
    for (index, rotation) in oncall.rotations.iter().enumerate() {
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
        if let Err(message) = rotation.rotation(chrono_tz::Tz::UTC) {
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
                "must be at least a minute, e.g. `5m`".to_string(),
            ));
        }
    }
    if let Some(paging) = &oncall.paging {
        let url_ok = url::Url::parse(&paging.url)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
        if !url_ok {
            return Err(invalid(
                "oncall.paging.url".to_string(),
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
                    "oncall.paging.routing_key".to_string(),
                    "the paging hook needs the integration key: set ITSM__ONCALL__PAGING__ROUTING_KEY or oncall.paging.routing_key_file".to_string(),
                ));
        }
    }
    let names: std::collections::BTreeSet<&str> =
        services.iter().map(|s| s.name.as_str()).collect();
    for (index, service) in services.iter().enumerate() {
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
            .find(|d| !names.contains(d.as_str()) || **d == service.name)
        {
            return Err(invalid(
                format!("services[{index}].depends_on"),
                format!("`{missing}` is not another service in [[services]]"),
            ));
        }
    }
    Ok(())
}

//! Grafana alerting's webhook payload (Grafana 9+ unified alerting,
//! `version` "1"): Alertmanager's shape plus Grafana's links and values.

use serde::Deserialize;

use super::{convert, PayloadError, WireAlert};
use crate::domain::alert::Alert;

/// The parts of the payload the bot reads; the rest (`receiver`, `orgId`,
/// `groupLabels`, `commonLabels`, `commonAnnotations`, `externalURL`,
/// `title`, `state`, `message`, the group's `status`) is
/// accepted and ignored: every alert carries its own labels and status.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payload {
    version: Option<String>,
    #[serde(default)]
    truncated_alerts: u64,
    /// The notification group the alerts were sent in; `hooks.group_by =
    /// "alertmanager_group"` opens one incident per group.
    #[serde(default)]
    group_key: Option<String>,
    alerts: Vec<WireAlert>,
}

/// The payload's alerts, or what is wrong with it.
pub fn alerts(payload: Payload) -> Result<(Vec<Alert>, u64), PayloadError> {
    if let Some(version) = payload.version.as_deref().filter(|v| *v != "1") {
        return Err(PayloadError(format!(
            "unsupported Grafana webhook version `{version}`; this endpoint reads version 1 (Grafana 9+ alerting)"
        )));
    }
    Ok((
        convert(payload.alerts, payload.group_key.as_deref())?,
        payload.truncated_alerts,
    ))
}

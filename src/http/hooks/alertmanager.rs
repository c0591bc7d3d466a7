//! Prometheus Alertmanager's webhook payload (`version` "4"), as documented
//! for `webhook_config`: a group of alerts sharing routing labels.

use serde::Deserialize;

use super::{convert, PayloadError, WireAlert};
use crate::domain::alert::Alert;

/// The parts of the payload the bot reads; the rest (`receiver`,
/// `groupLabels`, `commonLabels`, `commonAnnotations`, `externalURL`,
/// the group's `status`) is accepted and ignored: every alert
/// carries its own labels and status.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payload {
    version: String,
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
    if payload.version != "4" {
        return Err(PayloadError(format!(
            "unsupported Alertmanager webhook version `{}`; this endpoint reads version 4",
            payload.version
        )));
    }
    Ok((
        convert(payload.alerts, payload.group_key.as_deref())?,
        payload.truncated_alerts,
    ))
}

//! Paging in the engine: the PagerDuty Events API v2 events that report a
//! page, its escalation steps, its acknowledgement and its resolution,
//! queued in the transaction of the change they report. Delivering them is
//! the paging worker's job.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sqlx::PgConnection;

use crate::config::Config;
use crate::domain::incident::Incident;
use crate::domain::oncall::PageStep;
use crate::domain::Priority;
use crate::store::{self, StoreError};

/// The PagerDuty severity of a priority.
pub fn severity(priority: Priority) -> &'static str {
    match priority {
        Priority::P1 => "critical",
        Priority::P2 => "error",
        Priority::P3 => "warning",
        Priority::P4 => "info",
    }
}

/// The `trigger` event for `step` of `incident`'s page, without the routing
/// key (a secret, added when sending).
pub fn trigger_event(incident: &Incident, on_call: &str, step: PageStep) -> Value {
    let reference = incident.reference().to_string();
    let service = incident.service.as_deref().unwrap_or("");
    json!({
        "event_action": "trigger",
        "dedup_key": reference,
        "payload": {
            "summary": format!("{reference} {} {} ({service})", incident.priority, incident.title),
            "source": "itsm-bot",
            "severity": severity(incident.priority),
            "component": service,
            "custom_details": {"on_call": on_call, "step": step.number()},
        },
    })
}

/// An `acknowledge` or `resolve` event for `incident`'s page.
pub fn follow_event(incident: &Incident, event_action: &str) -> Value {
    json!({
        "event_action": event_action,
        "dedup_key": incident.reference().to_string(),
    })
}

/// Queues the `trigger` for `step` of `incident`'s page, paging `on_call`,
/// when the hook is configured. Call it in the transaction that takes the
/// step.
pub async fn trigger(
    conn: &mut PgConnection,
    config: &Config,
    incident: &Incident,
    on_call: &str,
    step: PageStep,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    if config.oncall.paging.is_none() {
        return Ok(());
    }
    let body = trigger_event(incident, on_call, step).to_string();
    store::paging::enqueue(conn, incident.id, "trigger", &body, at).await
}

/// Queues `acknowledge` when `after` is the first acknowledgement of a
/// paged incident, and `resolve` when it resolves (or closes) one, when the
/// hook is configured. Call it in the transaction that changes the incident.
pub async fn follow(
    conn: &mut PgConnection,
    config: &Config,
    before: &Incident,
    after: &Incident,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    if config.oncall.paging.is_none() {
        return Ok(());
    }
    let action = if before.status.is_open() && !after.status.is_open() {
        "resolve"
    } else if before.acknowledged_at.is_none() && after.acknowledged_at.is_some() {
        "acknowledge"
    } else {
        return Ok(());
    };
    // Incidents never paged have nothing at the paging service to follow.
    if !store::paging::was_paged(conn, after.id).await? {
        return Ok(());
    }
    let body = follow_event(after, action).to_string();
    store::paging::enqueue(conn, after.id, action, &body, at).await
}

//! Automation rules and runbooks, against a real database and a fake
//! webhook receiver on 127.0.0.1 that records what it gets: each trigger
//! and action kind once per event (with three schedulers sweeping), a
//! failing webhook retried, runbook parameters, roles and approval, and
//! signed calls checked by the receiver.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use chrono::Duration;
use hmac::{Hmac, Mac};
use itsm_bot::automation::CallWorker;
use itsm_bot::config::{Config, ConfigError, Secret};
use itsm_bot::scheduler::sweep::sweep;
use serde_json::Value;
use sha2::Sha256;
use sqlx::PgPool;

use crate::helpers::{dated, start, Desk};

const RULE_SECRET: &str = "rule-hmac-secret-7d2a";
const RUNBOOK_SECRET: &str = "runbook-hmac-secret-91fe";
const AWX_TOKEN: &str = "awx-token-5c0ffee";

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    event: Option<String>,
    signature: Option<String>,
    authorization: Option<String>,
    body: String,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }

    /// Whether the signature is HMAC-SHA256 of the body under `secret`.
    fn signed_with(&self, secret: &str) -> bool {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(self.body.as_bytes());
        let hex: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        self.signature.as_deref() == Some(&format!("sha256={hex}"))
    }
}

/// The fake receiver: records requests; answers queued statuses first.
#[derive(Default)]
struct Receiver {
    received: Mutex<Vec<Received>>,
    answers: Mutex<Vec<StatusCode>>,
}

impl Receiver {
    fn all(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

async fn receive(
    State(receiver): State<Arc<Receiver>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, String) {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    receiver.received.lock().unwrap().push(Received {
        path: uri.path().to_string(),
        event: header("x-itsm-event"),
        signature: header("x-itsm-signature"),
        authorization: header("authorization"),
        body,
    });
    let mut answers = receiver.answers.lock().unwrap();
    let status = if answers.is_empty() {
        StatusCode::CREATED
    } else {
        answers.remove(0)
    };
    (
        status,
        r#"{"id": 42, "url": "/api/v2/jobs/42/"}"#.to_string(),
    )
}

async fn receiver() -> (Arc<Receiver>, String) {
    let receiver = Arc::new(Receiver::default());
    let app = Router::new()
        .route("/hook", post(receive))
        .route("/provision", post(receive))
        .with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (receiver, format!("http://{addr}"))
}

/// The vpn service with a rotation, roles (rita is only a reporter), and
/// `automation` appended.
fn config(automation: &str) -> Result<Config, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("automation.toml");
    crate::helpers::write_dated(
        &path,
        format!(
            r#"
[roles]
admin = ["shell:root"]
engineer = ["shell:alice", "shell:bob", "shell:carol", "shell:dave"]
manager = ["shell:mia"]
cab = ["shell:carol", "shell:dave"]

[[services]]
name = "vpn"
owner = "shell:olivia"
channel = "netops"
rotation = "network"

[[services]]
name = "email"
owner = "shell:olivia"
channel = "mail"

[[oncall.rotations]]
name = "network"
members = ["shell:bob", "shell:carol"]
handoff = "2026-11-23T09:00"
length = "1w"
escalate_after = "5m"

{automation}
"#
        ),
    )
    .unwrap();
    Config::load_with_env(Some(&path), std::iter::empty())
}

fn env(name: &str) -> Option<String> {
    match name {
        "ITSM_RULE_SECRET" => Some(RULE_SECRET.into()),
        "ITSM_RUNBOOK_SECRET" => Some(RUNBOOK_SECRET.into()),
        "AWX_TOKEN" => Some(AWX_TOKEN.into()),
        _ => None,
    }
}

fn worker(desk: &Desk) -> CallWorker {
    CallWorker::with_env(&desk.engine, Arc::new(env)).unwrap()
}

/// (action, to_value, body) of every rule and call event on `reference`.
async fn automation_events(pool: &PgPool, reference: &str) -> Vec<(String, String, String)> {
    let (kind, number) = reference.split_once('-').unwrap();
    let kind = match kind {
        "INC" => "incident",
        "CHG" => "change",
        _ => "problem",
    };
    sqlx::query_as(
        "SELECT e.action, coalesce(e.to_value, ''), coalesce(e.body, '')
         FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id
         WHERE t.kind = $1 AND t.number = $2
           AND e.action IN ('rule_fired', 'rule_failed', 'runbook_requested', 'call_succeeded', 'call_failed')
         ORDER BY e.id",
    )
    .bind(kind)
    .bind(number.parse::<i64>().unwrap())
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

#[sqlx::test]
async fn a_p1_on_vpn_posts_to_network_and_calls_the_webhook_once_signed(pool: PgPool) {
    let (receiver, base) = receiver().await;
    let config = config(&format!(
        r#"
[[automation.rules]]
name = "vpn-p1"
on = "incident.created"
when = {{ service = "vpn", priority = ["P1"] }}
do = [
  {{ post = "network" }},
  {{ webhook = "{base}/hook", secret_env = "ITSM_RULE_SECRET" }},
]
"#
    ))
    .unwrap();
    let desk = Desk::with_config(pool.clone(), config).await;
    let worker = worker(&desk);

    let reply = desk
        .ok("alice", "/incident VPN down in Berlin P1 service:vpn")
        .await;
    assert!(reply.contains("vpn-p1: posted to network"), "{reply}");
    desk.ok("alice", "/incident VPN slow P2 service:vpn").await;
    desk.ok("alice", "/incident Mail down P1 service:email")
        .await;
    worker.drain().await.unwrap();
    // Nothing more is due: the call is not sent twice.
    worker.drain().await.unwrap();

    let received = receiver.all();
    assert_eq!(received.len(), 1, "{received:?}");
    let call = &received[0];
    assert_eq!(call.event.as_deref(), Some("incident.created"));
    assert!(call.signed_with(RULE_SECRET), "bad signature: {call:?}");
    let body = call.json();
    assert_eq!(body["incident"]["ref"], "INC-1");
    assert_eq!(body["incident"]["priority"], "P1");
    assert_eq!(body["rule"], "vpn-p1");
    let events = automation_events(&pool, "INC-1").await;
    assert_eq!(
        events.iter().map(|e| e.0.as_str()).collect::<Vec<_>>(),
        ["rule_fired", "call_succeeded"],
        "{events:?}"
    );
    assert!(automation_events(&pool, "INC-2").await.is_empty());

    let rules = desk.ok("mia", "/itsm rules").await;
    assert!(rules.contains("vpn-p1"), "{rules}");
    assert!(rules.contains("fired 1 time(s), 0 failure(s)"), "{rules}");
    let refused = desk.refused("rita", "/itsm rules").await;
    assert!(refused.contains("engineer, manager or admin"), "{refused}");
}

/// One rule per trigger, each adding a note naming itself.
fn every_trigger() -> String {
    let mut rules = String::new();
    for trigger in [
        "incident.created",
        "incident.priority_changed",
        "incident.status_changed",
        "sla.warning",
        "sla.breach",
        "alert.fired",
        "alert.resolved",
        "change.approved",
        "change.completed",
    ] {
        let name = trigger.replace(['.', '_'], "-");
        rules.push_str(&format!(
            r#"
[[automation.rules]]
name = "{name}"
on = "{trigger}"
do = [{{ note = "{{{{ event }}}} on {{{{ ticket.ref }}}}" }}]
"#
        ));
    }
    rules
}

async fn fired(pool: &PgPool) -> Vec<(String, i64)> {
    sqlx::query_as(
        "SELECT to_value, count(*) FROM ticket_events WHERE action = 'rule_fired'
         GROUP BY to_value ORDER BY to_value",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[sqlx::test]
async fn every_trigger_fires_its_rule_once_per_event(pool: PgPool) {
    let mut config = config(&every_trigger()).unwrap();
    config.hooks.token = Some(Secret::new("hooks-token"));
    let desk = Desk::with_config(pool.clone(), config).await;

    desk.ok("alice", "/incident VPN down P1 service:vpn").await;
    desk.ok("alice", "/incident INC-1 priority P2").await;
    desk.ok("alice", "/incident INC-1 ack").await;
    // The response clock is stopped by the ack; a second incident runs
    // into warnings and a breach, swept by three schedulers at once.
    desk.ok("alice", "/incident DNS down P1").await;
    let at = start() + Duration::minutes(16);
    let (a, b, c) = tokio::join!(
        sweep(&desk.engine, at),
        sweep(&desk.engine, at),
        sweep(&desk.engine, at)
    );
    a.unwrap();
    b.unwrap();
    c.unwrap();
    sweep(&desk.engine, at).await.unwrap();

    let alert = |status: &str| {
        dated(&format!(
            r#"{{"version": "4", "status": "{status}", "receiver": "itsm", "alerts": [{{
                "status": "{status}", "fingerprint": "f00d", "labels": {{"alertname": "DiskFull", "severity": "warning"}},
                "annotations": {{"summary": "Disk full on db-1"}}, "startsAt": "2026-11-25T08:55:00Z",
                "endsAt": "0001-01-01T00:00:00Z"}}]}}"#
        ))
    };
    let router = itsm_bot::http::router(itsm_bot::http::HttpState::new(desk.engine.clone()));
    for status in ["firing", "firing", "resolved", "resolved"] {
        use tower::ServiceExt;
        let request = axum::http::Request::post("/hooks/alertmanager")
            .header("content-type", "application/json")
            .header("authorization", "Bearer hooks-token")
            .body(axum::body::Body::from(alert(status)))
            .unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }

    desk.ok("alice", "/change Upgrade VPN gateway service:vpn")
        .await;
    for step in [
        "plan Upgrade the firmware",
        "test Tunnel comes up",
        "rollback Reinstall the old firmware",
        &dated("window 2026-11-26T10:00 1h"),
        "submit",
    ] {
        desk.ok("alice", &format!("/change CHG-1 {step}")).await;
    }
    desk.ok("carol", "/change CHG-1 approve").await;
    desk.ok("dave", "/change CHG-1 approve").await;
    desk.clock
        .set(start() + Duration::days(1) + Duration::hours(1) + Duration::minutes(5));
    desk.ok("alice", "/change CHG-1 start").await;
    desk.ok("alice", "/change CHG-1 complete Went fine").await;

    let counts = fired(&pool).await;
    let get = |name: &str| {
        counts
            .iter()
            .find(|(n, _)| n == name)
            .map_or(0, |(_, c)| *c)
    };
    // INC-1, INC-2 and the alert's INC-3.
    assert_eq!(get("incident-created"), 3, "{counts:?}");
    assert_eq!(get("incident-priority-changed"), 1, "{counts:?}");
    // ack of INC-1, and the alert's auto-resolve of INC-3.
    assert_eq!(get("incident-status-changed"), 2, "{counts:?}");
    // INC-2's response clock: 75% and 90%, then the breach; INC-1 was
    // acknowledged in time.
    assert_eq!(get("sla-warning"), 2, "{counts:?}");
    assert_eq!(get("sla-breach"), 1, "{counts:?}");
    // A repeat of a firing alert and a redelivered recovery fire nothing.
    assert_eq!(get("alert-fired"), 1, "{counts:?}");
    assert_eq!(get("alert-resolved"), 1, "{counts:?}");
    assert_eq!(get("change-approved"), 1, "{counts:?}");
    assert_eq!(get("change-completed"), 1, "{counts:?}");
    let note: String = sqlx::query_scalar(
        "SELECT body FROM ticket_events WHERE action = 'note' AND actor = 'shell:rule.change-completed'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(note, "change.completed on CHG-1");
}

#[sqlx::test]
async fn every_action_kind_acts(pool: PgPool) {
    let (receiver, base) = receiver().await;
    let config = config(&format!(
        r#"
[[automation.rules]]
name = "triage"
on = "incident.created"
when = {{ service = "vpn", text = "tunnel" }}
do = [
  {{ set_priority = "P1" }},
  {{ assign = "@carol" }},
  {{ note = "Triage: {{{{ incident.ref }}}} looks like the known tunnel bug." }},
  {{ link_problem = "PRB-1" }},
  {{ mention_oncall = true }},
  {{ post = "netops", text = "{{{{ incident.ref }}}} is now {{{{ incident.priority }}}}" }},
  {{ webhook = "{base}/hook", body = '{{"text": "{{{{ incident.title }}}}", "ref": "{{{{ incident.ref }}}}"}}' }},
]
"#
    ))
    .unwrap();
    let desk = Desk::with_config(pool.clone(), config).await;
    desk.ok("alice", "/problem VPN tunnels drop under load service:vpn")
        .await;
    let reply = desk
        .ok(
            "alice",
            "/incident VPN tunnel \"Berlin\" flaps P3 service:vpn",
        )
        .await;
    assert!(reply.contains("triage:"), "{reply}");
    let show = desk.ok("alice", "/incident INC-1 show").await;
    assert!(show.contains("P1"), "{show}");
    assert!(show.contains("carol"), "{show}");
    assert!(
        show.contains("Triage: INC-1 looks like the known tunnel bug."),
        "{show}"
    );
    // The rule's steps on the timeline read as the rule, by name.
    assert!(show.contains("UTC  rule triage  "), "{show}");
    assert!(!show.contains("shell:rule.triage"), "{show}");
    let problem = desk.ok("alice", "/problem PRB-1 show").await;
    assert!(problem.contains("INC-1"), "{problem}");
    // Raised to P1 by the rule: the on-call was paged, and mentioned.
    assert_eq!(
        count(&pool, "SELECT count(*) FROM pages").await,
        1,
        "raised to P1, the on-call is paged once"
    );
    let summary = &automation_events(&pool, "INC-1").await[0];
    assert_eq!(summary.0, "rule_fired");
    for part in [
        "priority P3 → P1",
        "assigned to shell:carol",
        "added a note",
        "linked to PRB-1",
        "mentioned shell:bob (on call)",
        "posted to netops",
        "queued",
    ] {
        assert!(summary.2.contains(part), "{part}: {}", summary.2);
    }
    worker(&desk).drain().await.unwrap();
    let received = receiver.all();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].signature, None, "no secret, no signature");
    let body = received[0].json();
    assert_eq!(body["text"], "VPN tunnel \"Berlin\" flaps");
    assert_eq!(body["ref"], "INC-1");
    // Not a tunnel: the rule does not match.
    desk.ok("alice", "/incident VPN slow P3 service:vpn").await;
    assert!(automation_events(&pool, "INC-2").await.is_empty());
}

#[sqlx::test]
async fn a_failing_rule_is_recorded_and_the_command_goes_on(pool: PgPool) {
    let config = config(
        r#"
[[automation.rules]]
name = "link-missing"
on = "incident.created"
do = [{ set_priority = "P1" }, { link_problem = "PRB-9" }]
"#,
    )
    .unwrap();
    let desk = Desk::with_config(pool.clone(), config).await;
    let reply = desk.ok("alice", "/incident Printer jams P4").await;
    assert!(reply.contains("INC-1 reported"), "{reply}");
    assert!(
        reply.contains("link-missing failed: there is no PRB-9"),
        "{reply}"
    );
    // The rule's first action was rolled back with it.
    let show = desk.ok("alice", "/incident INC-1 show").await;
    assert!(show.contains("P4"), "{show}");
    let events = automation_events(&pool, "INC-1").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].0, "rule_failed");
    assert_eq!(events[0].1, "link-missing");
    let metrics = desk
        .engine
        .metrics()
        .render(desk.engine.store())
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"itsm_rule_runs_total{outcome="failed",rule="link-missing"} 1"#),
        "{metrics}"
    );
}

#[sqlx::test]
async fn a_failing_webhook_is_retried_through_the_queue_and_recorded(pool: PgPool) {
    let (receiver, base) = receiver().await;
    receiver.answers.lock().unwrap().extend([
        StatusCode::INTERNAL_SERVER_ERROR,
        StatusCode::SERVICE_UNAVAILABLE,
    ]);
    let config = config(&format!(
        r#"
[[automation.rules]]
name = "notify"
on = "incident.created"
do = [{{ webhook = "{base}/hook", secret_env = "ITSM_RULE_SECRET" }}]
"#
    ))
    .unwrap();
    let desk = Desk::with_config(pool.clone(), config).await;
    let worker = worker(&desk);
    desk.ok("alice", "/incident VPN down P2").await;
    worker.drain().await.unwrap();
    assert_eq!(receiver.all().len(), 1);
    // Not due again until the backoff has passed.
    worker.drain().await.unwrap();
    assert_eq!(receiver.all().len(), 1);
    desk.clock.advance(Duration::seconds(2));
    worker.drain().await.unwrap();
    desk.clock.advance(Duration::seconds(5));
    worker.drain().await.unwrap();
    let received = receiver.all();
    assert_eq!(received.len(), 3);
    assert!(received.iter().all(|r| r.signed_with(RULE_SECRET)));
    assert!(received.iter().all(|r| r.body == received[0].body));
    let actions: Vec<String> = automation_events(&pool, "INC-1")
        .await
        .into_iter()
        .map(|e| e.0)
        .collect();
    assert_eq!(
        actions,
        ["rule_fired", "call_failed", "call_failed", "call_succeeded"]
    );
    let metrics = desk
        .engine
        .metrics()
        .render(desk.engine.store())
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"itsm_outbound_calls_total{outcome="retry",source="rule"} 2"#),
        "{metrics}"
    );
}

/// Webhook calls share the work queue's rules: `outbox.max_attempts` parks
/// a call that keeps failing, admins see it in `/itsm outbox` and queue it
/// again, and the metrics count it with the other queues.
#[sqlx::test]
async fn a_failing_webhook_is_parked_after_max_attempts_and_retried_by_an_admin(pool: PgPool) {
    let (receiver, base) = receiver().await;
    receiver.answers.lock().unwrap().extend([
        StatusCode::SERVICE_UNAVAILABLE,
        StatusCode::SERVICE_UNAVAILABLE,
    ]);
    let config = config(&format!(
        r#"
[outbox]
max_attempts = 2

[[automation.rules]]
name = "notify"
on = "incident.created"
do = [{{ webhook = "{base}/hook", secret_env = "ITSM_RULE_SECRET" }}]
"#
    ))
    .unwrap();
    let desk = Desk::with_config(pool.clone(), config).await;
    let worker = worker(&desk);
    desk.ok("alice", "/incident VPN down P2").await;
    worker.drain().await.unwrap();
    desk.clock.advance(Duration::seconds(2));
    worker.drain().await.unwrap();
    desk.clock.advance(Duration::hours(1));
    worker.drain().await.unwrap();
    assert_eq!(receiver.all().len(), 2, "parked after two attempts");
    let metrics = desk
        .engine
        .metrics()
        .render(desk.engine.store())
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"itsm_queue_rows{queue="call",state="failed"} 1"#),
        "{metrics}"
    );
    let status = desk.ok("root", "/itsm outbox").await;
    assert!(
        status.contains("Outbound calls: 0 call(s) waiting, 1 parked"),
        "{status}"
    );
    assert!(
        status.contains("#call-1 rule notify INC-1") && status.contains("503"),
        "{status}"
    );
    let again = desk.ok("root", "/itsm outbox retry call-1").await;
    assert!(
        again.contains("1 parked webhook call(s) queued again"),
        "{again}"
    );
    worker.drain().await.unwrap();
    assert_eq!(receiver.all().len(), 3);
    let sent: bool = sqlx::query_scalar("SELECT sent_at IS NOT NULL FROM outbound_calls")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(sent);
}

#[sqlx::test]
async fn a_webhook_whose_secret_is_missing_gives_up_naming_the_variable(pool: PgPool) {
    let (receiver, base) = receiver().await;
    let config = config(&format!(
        r#"
[[automation.rules]]
name = "notify"
on = "incident.created"
do = [{{ webhook = "{base}/hook", secret_env = "ITSM_UNSET_SECRET" }}]
"#
    ))
    .unwrap();
    let desk = Desk::with_config(pool.clone(), config).await;
    desk.ok("alice", "/incident VPN down P2").await;
    worker(&desk).drain().await.unwrap();
    assert!(
        receiver.all().is_empty(),
        "an unsigned call must not go out"
    );
    let events = automation_events(&pool, "INC-1").await;
    assert_eq!(events[1].0, "call_failed");
    assert!(events[1].2.contains("ITSM_UNSET_SECRET"), "{events:?}");
    assert_eq!(events[2].0, "rule_failed");
}

fn runbooks(base: &str) -> String {
    format!(
        r#"
[[automation.runbooks]]
name = "provision-vm"
description = "Provision a virtual machine through the CI job"
role = "engineer"
params = {{ size = ["small", "medium", "large"], name = "string" }}
request = {{ method = "POST", url = "{base}/provision", headers = {{ Authorization = "Bearer ${{AWX_TOKEN}}" }}, body = '{{"size": "{{{{ size }}}}", "name": "{{{{ name }}}}", "incident": "{{{{ incident }}}}"}}', secret_env = "ITSM_RUNBOOK_SECRET" }}

[[automation.runbooks]]
name = "resize-db"
description = "Resize the database cluster"
role = "engineer"
params = {{ gb = "integer" }}
request = {{ url = "{base}/provision" }}
approval = true
"#
    )
}

#[sqlx::test]
async fn an_engineer_runs_a_runbook_and_the_call_is_signed_and_recorded(pool: PgPool) {
    let (receiver, base) = receiver().await;
    let desk = Desk::with_config(pool.clone(), config(&runbooks(&base)).unwrap()).await;
    let listing = desk.ok("alice", "/itsm runbooks").await;
    assert!(listing.contains("provision-vm"), "{listing}");
    assert!(
        listing.contains("name=<string> size=<small|medium|large>"),
        "{listing}"
    );

    let reply = desk
        .ok("alice", "/itsm run provision-vm size=small name=web-1")
        .await;
    assert!(reply.contains("Running `provision-vm`"), "{reply}");
    assert!(reply.contains("CHG-1"), "{reply}");
    let posted = worker(&desk).drain().await.unwrap();
    let received = receiver.all();
    assert_eq!(received.len(), 1);
    let call = &received[0];
    assert_eq!(call.path, "/provision");
    assert_eq!(call.event.as_deref(), Some("runbook.provision-vm"));
    assert!(call.signed_with(RUNBOOK_SECRET), "{call:?}");
    assert_eq!(
        call.authorization.as_deref(),
        Some(&*format!("Bearer {AWX_TOKEN}"))
    );
    let body = call.json();
    assert_eq!(body["size"], "small");
    assert_eq!(body["name"], "web-1");
    assert!(
        posted
            .iter()
            .any(|p| p.text.contains("answered 201") && p.text.contains("/api/v2/jobs/42/")),
        "{posted:?}"
    );
    // Recorded as a pre-approved standard change that completed.
    let change = desk.ok("alice", "/change CHG-1 show").await;
    assert!(change.contains("completed"), "{change}");
    let events = automation_events(&pool, "CHG-1").await;
    assert_eq!(events[0].0, "runbook_requested");
    assert_eq!(events[1].0, "call_succeeded");
    assert!(events[1].2.contains("answered 201"), "{events:?}");
    // No secret on any timeline or row.
    let leaked = count(
        &pool,
        &format!(
            "SELECT (SELECT count(*) FROM ticket_events WHERE body LIKE '%{AWX_TOKEN}%' OR body LIKE '%{RUNBOOK_SECRET}%')
                  + (SELECT count(*) FROM outbound_calls WHERE headers::text LIKE '%{AWX_TOKEN}%')"
        ),
    )
    .await;
    assert_eq!(leaked, 0);

    // For an incident: on the incident's timeline, no change needed.
    desk.ok("alice", "/incident Web farm full P2").await;
    desk.ok(
        "alice",
        "/itsm run provision-vm INC-1 size=large name=\"web 2\"",
    )
    .await;
    worker(&desk).drain().await.unwrap();
    let body = receiver.all()[1].json();
    assert_eq!(body["name"], "web 2");
    assert_eq!(body["incident"], "INC-1");
    let events = automation_events(&pool, "INC-1").await;
    assert_eq!(
        events.iter().map(|e| e.0.as_str()).collect::<Vec<_>>(),
        ["runbook_requested", "call_succeeded"]
    );
    assert_eq!(count(&pool, "SELECT count(*) FROM changes").await, 1);
}

#[sqlx::test]
async fn runbook_runs_are_refused_with_the_reason_and_change_nothing(pool: PgPool) {
    let (receiver, base) = receiver().await;
    let desk = Desk::with_config(pool.clone(), config(&runbooks(&base)).unwrap()).await;
    let refused = desk
        .refused("rita", "/itsm run provision-vm size=small name=web-1")
        .await;
    assert!(refused.contains("engineer role"), "{refused}");
    for (line, reason) in [
        (
            "/itsm run provision-vm size=huge name=a",
            "small, medium, large",
        ),
        ("/itsm run provision-vm size=small", "name=<string>"),
        (
            "/itsm run provision-vm size=small name=a colour=red",
            "no parameter `colour`",
        ),
        (
            "/itsm run provision-vm size=small size=large name=a",
            "given twice",
        ),
        (
            "/itsm run provison-vm size=small",
            "Did you mean `provision-vm`",
        ),
        ("/itsm run provision-vm INC-9 size=small name=a", "INC-9"),
        ("/itsm run resize-db gb=lots", "whole number"),
        ("/itsm run", "needs the name of a runbook"),
    ] {
        let refused = desk.refused("alice", line).await;
        assert!(refused.contains(reason), "{line}: {refused}");
    }
    worker(&desk).drain().await.unwrap();
    assert!(receiver.all().is_empty());
    assert_eq!(count(&pool, "SELECT count(*) FROM runbook_runs").await, 0);
}

#[sqlx::test]
async fn a_runbook_that_needs_approval_waits_for_the_cab(pool: PgPool) {
    let (receiver, base) = receiver().await;
    let desk = Desk::with_config(pool.clone(), config(&runbooks(&base)).unwrap()).await;
    let reply = desk.ok("alice", "/itsm run resize-db gb=200").await;
    assert!(reply.contains("CHG-1"), "{reply}");
    assert!(reply.contains("awaits one approval from cab"), "{reply}");
    worker(&desk).drain().await.unwrap();
    assert!(receiver.all().is_empty(), "nothing runs before approval");
    // It is in the change schedule, as a standard change.
    let schedule = desk.ok("alice", "/itsm changes").await;
    assert!(schedule.contains("CHG-1"), "{schedule}");
    // The requester cannot approve their own run; a non-CAB engineer cannot either.
    let refused = desk.say("alice", "/change CHG-1 approve").await;
    assert_eq!(refused.outcome, itsm_bot::commands::reply::Outcome::Refused);
    let refused = desk.say("bob", "/change CHG-1 approve").await;
    assert_eq!(refused.outcome, itsm_bot::commands::reply::Outcome::Refused);
    assert!(
        refused.message.plain_text().contains("cab"),
        "{}",
        refused.message.plain_text()
    );

    let approved = desk.ok("dave", "/change CHG-1 approve").await;
    assert!(
        approved.contains("Runbook `resize-db` queued"),
        "{approved}"
    );
    worker(&desk).drain().await.unwrap();
    let received = receiver.all();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].json()["gb"], 200);
    let change = desk.ok("alice", "/change CHG-1 show").await;
    assert!(change.contains("completed"), "{change}");

    // A rejected run never calls.
    desk.ok("alice", "/itsm run resize-db gb=300").await;
    desk.ok("dave", "/change CHG-2 reject Not during the freeze")
        .await;
    worker(&desk).drain().await.unwrap();
    assert_eq!(receiver.all().len(), 1);
    let status: String =
        sqlx::query_scalar("SELECT status FROM runbook_runs ORDER BY id DESC LIMIT 1")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(status, "rejected");
}

#[test]
fn bad_rules_and_runbooks_are_refused_at_load_naming_the_key() {
    for (toml, key) in [
        (
            "[[automation.rules]]\nname = \"x\"\non = \"incident.opened\"\ndo = [{ post = \"ops\" }]",
            "automation.rules[0].on",
        ),
        (
            "[[automation.rules]]\nname = \"x\"\non = \"change.approved\"\ndo = [{ set_priority = \"P1\" }]",
            "automation.rules[0].do[0]",
        ),
        (
            "[[automation.rules]]\nname = \"x\"\non = \"incident.created\"\ndo = [{ post = \"ops\", webhook = \"http://x\" }]",
            "automation.rules[0].do[0]",
        ),
        (
            "[[automation.rules]]\nname = \"x\"\non = \"incident.created\"\ndo = [{ note = \"{{ incident.titel }}\" }]",
            "automation.rules[0].do[0].note",
        ),
        (
            "[[automation.rules]]\nname = \"x\"\non = \"incident.created\"\nwhen = { labels = { team = \"net\" } }\ndo = [{ post = \"ops\" }]",
            "automation.rules[0].when.labels",
        ),
        (
            "[[automation.rules]]\nname = \"x\"\non = \"incident.created\"\nwhen = { text = \"(unclosed\" }\ndo = [{ post = \"ops\" }]",
            "automation.rules[0].when.text",
        ),
        (
            "[[automation.runbooks]]\nname = \"r\"\nrole = \"wizard\"\nrequest = { url = \"http://x\" }",
            "automation.runbooks[0].role",
        ),
        (
            "[[automation.runbooks]]\nname = \"r\"\nrole = \"engineer\"\nparams = { n = \"float\" }\nrequest = { url = \"http://x\" }",
            "automation.runbooks[0].params.n",
        ),
        (
            "[[automation.runbooks]]\nname = \"r\"\nrole = \"engineer\"\nparams = { n = \"integer\" }\nrequest = { url = \"http://x\", body = '{\"n\": \"{{ m }}\"}' }",
            "automation.runbooks[0].request.body",
        ),
        (
            "[[automation.runbooks]]\nname = \"r\"\nrole = \"engineer\"\nrequest = { url = \"ftp://x\" }",
            "automation.runbooks[0].request.url",
        ),
    ] {
        let err = config(toml).unwrap_err().to_string();
        assert!(err.contains(key), "{toml}\n→ {err}");
    }
}

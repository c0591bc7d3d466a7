//! Service requests (issue 23): from ask to fulfilled, every bad input
//! refused with nothing written, and a catalog item's runbook run on
//! approval against a local receiver that checks the signature.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use hmac::{Hmac, Mac};
use itsm_bot::automation::CallWorker;
use itsm_bot::config::Config;
use sha2::Sha256;
use sqlx::PgPool;

use crate::helpers::Desk;

const RUNBOOK_SECRET: &str = "runbook-hmac-secret-req23";

fn config(base: &str) -> Config {
    config_with_env(base, Vec::new())
}

const READ: &str = "read-token-0123456789";
const WRITE: &str = "write-token-0123456789";

fn config_with_env(base: &str, env: Vec<(String, String)>) -> Config {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("requests.toml");
    crate::helpers::write_dated(
        &path,
        format!(
            r#"
[roles]
engineer = ["shell:alice", "shell:bob"]
manager = ["shell:max"]

[[automation.runbooks]]
name = "provision-vm"
role = "engineer"
params = {{ size = ["small", "medium", "large"], name = "string" }}
request = {{ method = "POST", url = "{base}/provision", body = '{{"size": "{{{{ size }}}}", "name": "{{{{ name }}}}"}}', secret_env = "ITSM_RUNBOOK_SECRET" }}

[[requests.catalog]]
name = "laptop"
title = "New or replacement laptop"
fields = [
  {{ name = "model", kind = "choice", choices = ["13-inch", "15-inch"], required = true }},
  {{ name = "reason", kind = "text" }},
  {{ name = "start", kind = "date" }},
]
approval = ["shell:mia"]
tasks = ["Order", "Image", "Hand over"]
fulfil_within = "3d"
calendar = "office"

[[requests.catalog]]
name = "access"
title = "Access to a system"
fields = [ {{ name = "system", kind = "text", required = true }} ]
approval = ["role:manager", "shell:mia"]
approvals_needed = 2

[[requests.catalog]]
name = "vm"
title = "Virtual machine"
fields = [ {{ name = "size", kind = "choice", choices = ["small", "medium", "large"], required = true }},
           {{ name = "name", kind = "text", required = true }} ]
runbook = "provision-vm"
"#
        ),
    )
    .unwrap();
    Config::load_with_env(Some(&path), env).unwrap()
}

#[sqlx::test]
async fn a_laptop_goes_from_ask_to_fulfilled(pool: PgPool) {
    let desk = Desk::with_config(pool, config("http://127.0.0.1:9")).await;
    let catalog = desk.ok("eve", "/request").await;
    assert!(
        catalog.contains("/request laptop model:<13-inch|15-inch>"),
        "{catalog}"
    );
    let asked = desk
        .ok(
            "alice",
            "/request laptop model:13-inch reason:\"new starter\" for Eve in sales",
        )
        .await;
    assert!(asked.contains("REQ-1 asked"), "{asked}");
    assert!(asked.contains("shell:mia"), "{asked}");
    let waiting = desk.ok("alice", "/request REQ-1 show").await;
    assert!(waiting.contains("Fulfil: starts at approval"), "{waiting}");
    let own = desk.refused("alice", "/request REQ-1 approve").await;
    assert!(own.contains("never approves their own"), "{own}");
    let stranger = desk.refused("bob", "/request REQ-1 approve").await;
    assert!(stranger.contains("(approvers: shell:mia)"), "{stranger}");
    desk.refused("bob", "/request REQ-1 take").await;
    desk.clock.advance(chrono::Duration::hours(1));
    let approved = desk.ok("mia", "/request REQ-1 approve budget ok").await;
    assert!(approved.contains("REQ-1 approved"), "{approved}");
    desk.refused("mia", "/request REQ-1 take").await;
    let taken = desk.ok("bob", "/request REQ-1 take").await;
    assert!(
        taken.contains("1. Order, 2. Image, 3. Hand over"),
        "{taken}"
    );
    let queue = desk.ok("bob", "/itsm requests queue").await;
    assert!(queue.contains("REQ-1 in_progress"), "{queue}");
    desk.ok("bob", "/request REQ-1 task 2 done").await;
    let early = desk.refused("bob", "/request REQ-1 fulfil").await;
    assert!(early.contains("1. Order, 3. Hand over"), "{early}");
    desk.refused("bob", "/request REQ-1 task 2 done").await;
    desk.refused("bob", "/request REQ-1 task 4 done").await;
    desk.ok("bob", "/request REQ-1 task 1 done").await;
    let running = desk.ok("bob", "/request REQ-1 show").await;
    // 3d is three working days of the office calendar (09:00-17:00), 24
    // counted hours: from Wednesday 10:00 to Monday 10:00.
    assert!(
        running.contains(&format!(
            "Fulfil: by {}",
            crate::helpers::dated("2026-11-30 10:00")
        )),
        "{running}"
    );
    desk.ok("bob", "/request REQ-1 hold which colour?").await;
    let paused = desk.ok("bob", "/request REQ-1 show").await;
    assert!(
        paused.contains("Fulfil: paused on hold, 3d of business time left"),
        "{paused}"
    );
    desk.refused("bob", "/request REQ-1 task 3 done").await;
    desk.ok("alice", "/request REQ-1 resume").await;
    let last = desk.ok("bob", "/request REQ-1 task 3 done").await;
    assert!(last.contains("every task is done"), "{last}");
    let done = desk
        .ok("bob", "/request REQ-1 fulfil handed over at the desk")
        .await;
    assert!(done.contains("REQ-1 fulfilled"), "{done}");
    let shown = desk.ok("eve", "/request REQ-1 show").await;
    for expected in [
        "Fulfil: met",
        "fulfilled",
        "new starter",
        "for Eve in sales",
        "☑ 3. Hand over",
        "approval 1/1: budget ok",
        "task done 2. Image",
        "fulfilled in_progress → fulfilled: handed over at the desk",
    ] {
        assert!(shown.contains(expected), "{expected}: {shown}");
    }
    desk.ok("alice", "/request REQ-1 close").await;
    let closed = desk
        .refused("alice", "/request REQ-1 cancel changed my mind")
        .await;
    assert!(closed.contains("closed"), "{closed}");
    assert!(desk.ok("alice", "/itsm requests").await.contains("none"));
    // A rolling report ends now, and its span leaves out its end instant.
    desk.clock.advance(chrono::Duration::minutes(1));
    let report = desk.ok("bob", "/itsm report week").await;
    assert!(
        report.contains("Service requests") && report.contains("1 opened · 1 fulfilled"),
        "{report}"
    );
    assert!(
        report.contains("1 approved (mean approval time 1h"),
        "{report}"
    );
}

#[sqlx::test]
async fn two_distinct_approvers_and_a_rejection(pool: PgPool) {
    let desk = Desk::with_config(pool, config("http://127.0.0.1:9")).await;
    desk.ok("eve", "/request access system:payroll").await;
    let waiting = desk.ok("max", "/itsm requests approvals").await;
    assert!(waiting.contains("REQ-1 awaiting_approval"), "{waiting}");
    let first = desk.ok("max", "/request REQ-1 approve").await;
    assert!(first.contains("1 of 2"), "{first}");
    let again = desk.refused("max", "/request REQ-1 approve").await;
    assert!(again.contains("2 different approvers"), "{again}");
    desk.ok("mia", "/request REQ-1 approve").await;
    desk.ok("eve", "/request access system:crm").await;
    desk.refused("mia", "/request REQ-2 reject").await;
    desk.ok("mia", "/request REQ-2 reject not without a manager")
        .await;
    desk.refused("max", "/request REQ-2 approve").await;
    let mine = desk.ok("eve", "/itsm requests mine").await;
    assert!(
        mine.contains("REQ-1 approved") && !mine.contains("REQ-2"),
        "{mine}"
    );
}

#[sqlx::test]
async fn bad_input_is_refused_with_what_would_work_and_nothing_written(pool: PgPool) {
    let desk = Desk::with_config(pool, config("http://127.0.0.1:9")).await;
    for (text, expected) in [
        ("/request labtop model:13-inch", "Did you mean `laptop`?"),
        ("/request coffee", "The catalog: `laptop`, `access`, `vm`"),
        ("/request laptop", "needs model (one of 13-inch, 15-inch)"),
        ("/request laptop model:17-inch", "one of 13-inch, 15-inch"),
        (
            "/request laptop model:13-inch colour:red",
            "has no field `colour`",
        ),
        (
            "/request laptop model:13-inch start:tomorrow",
            "a date YYYY-MM-DD",
        ),
        (
            "/request laptop model:13-inch reason:\"open",
            "never closed",
        ),
        ("/request REQ-9 show", "There is no REQ-9"),
        ("/request REQ-1 dance", "not something you can do"),
    ] {
        let refused = desk.refused("eve", text).await;
        assert!(refused.contains(expected), "{text}: {refused}");
    }
    desk.ok("eve", "/request laptop model:13-inch").await;
    for (who, text) in [
        ("eve", "/request REQ-1 approve"),
        ("bob", "/request REQ-1 approve"),
        ("bob", "/request REQ-1 fulfil"),
        ("zed", "/request REQ-1 cancel not mine"),
        ("mia", "/request REQ-1 resume"),
        ("mia", "/request REQ-1 close"),
    ] {
        desk.refused(who, text).await;
    }
    desk.ok("eve", "/request REQ-1 cancel bought one myself")
        .await;
    desk.refused("mia", "/request REQ-1 approve").await;
    desk.refused("eve", "/request REQ-1 note too late?").await;
}

#[derive(Default)]
struct Receiver {
    received: Mutex<Vec<(Option<String>, String)>>,
    fail: Mutex<bool>,
}

async fn receive(
    State(receiver): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, String) {
    let signature = headers
        .get("x-itsm-signature")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    receiver.received.lock().unwrap().push((signature, body));
    if *receiver.fail.lock().unwrap() {
        return (StatusCode::INTERNAL_SERVER_ERROR, "out of capacity".into());
    }
    (
        StatusCode::CREATED,
        r#"{"id": 7, "url": "/api/v2/jobs/7/"}"#.to_string(),
    )
}

fn signature_of(body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(RUNBOOK_SECRET.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

#[sqlx::test]
async fn a_vm_request_runs_its_runbook_and_is_fulfilled_from_the_answer(pool: PgPool) {
    let receiver = Arc::new(Receiver::default());
    let app = Router::new()
        .route("/provision", post(receive))
        .with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    let desk = Desk::with_config(pool.clone(), config(&format!("http://{addr}"))).await;
    let env = |name: &str| (name == "ITSM_RUNBOOK_SECRET").then(|| RUNBOOK_SECRET.to_string());
    let worker = CallWorker::with_env(&desk.engine, Arc::new(env)).unwrap();

    let asked = desk.ok("eve", "/request vm size:small name:web-1").await;
    assert!(asked.contains("Running `provision-vm`"), "{asked}");
    worker.drain().await.unwrap();
    {
        let received = receiver.received.lock().unwrap();
        assert_eq!(received.len(), 1);
        let (signature, body) = &received[0];
        assert_eq!(signature.as_deref(), Some(&*signature_of(body)));
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["size"], "small");
        assert_eq!(body["name"], "web-1");
    }
    let shown = desk.ok("eve", "/request REQ-1 show").await;
    assert!(
        shown.contains("Status: fulfilled") || shown.contains("fulfilled"),
        "{shown}"
    );
    assert!(shown.contains("answered 201"), "{shown}");

    *receiver.fail.lock().unwrap() = true;
    desk.ok("eve", "/request vm size:large name:db-1").await;
    worker.drain().await.unwrap();
    let shown = desk.ok("eve", "/request REQ-2 show").await;
    assert!(shown.contains("in_progress"), "{shown}");
    assert!(shown.contains("call failed"), "{shown}");
    let queue = desk.ok("bob", "/itsm requests queue").await;
    assert!(queue.contains("REQ-2 in_progress"), "{queue}");
    desk.ok("bob", "/request REQ-2 fulfil made it by hand")
        .await;
}

#[sqlx::test]
async fn the_api_lists_fetches_and_creates_requests(pool: PgPool) {
    use axum::http::StatusCode;
    let tokens = format!(
        "[{{name=\"reporting\", access=\"read\", token=\"{READ}\"}}, {{name=\"portal\", access=\"write\", token=\"{WRITE}\"}}]"
    );
    let desk = Desk::with_config(
        pool,
        config_with_env(
            "http://127.0.0.1:9",
            vec![("ITSM__API__TOKENS".to_string(), tokens)],
        ),
    )
    .await;
    desk.ok("eve", "/request laptop model:13-inch").await;
    desk.ok("eve", "/request access system:payroll").await;
    let (status, body) = desk
        .http(
            "POST",
            "/api/v1/requests",
            Some(READ),
            Some(r#"{"item": "laptop", "fields": {"model": "15-inch"}}"#),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = desk
        .http(
            "POST",
            "/api/v1/requests",
            Some(WRITE),
            Some(r#"{"item": "laptop", "fields": {"model": "17-inch"}}"#),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("one of 13-inch, 15-inch"),
        "{body}"
    );
    let (status, body) = desk
        .http(
            "POST",
            "/api/v1/requests",
            Some(WRITE),
            Some(r#"{"item": "laptop", "fields": {"model": "15-inch", "reason": "new starter"}, "details": "for Eve"}"#),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["reference"], "REQ-3");
    assert_eq!(body["status"], "awaiting_approval");
    assert_eq!(body["fields"]["reason"], "new starter");
    assert_eq!(body["requester"], "shell:api.portal");

    let (status, body) = desk
        .http("GET", "/api/v1/requests?item=laptop", Some(READ), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["total"], 2, "{body}");
    let (_, body) = desk
        .http(
            "GET",
            "/api/v1/requests?status=awaiting_approval&item=access",
            Some(READ),
            None,
        )
        .await;
    assert_eq!(body["total"], 1, "{body}");
    let (status, body) = desk
        .http("GET", "/api/v1/requests?status=done", Some(READ), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = desk
        .http("GET", "/api/v1/requests/REQ-1", Some(READ), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["item"], "laptop", "{body}");
    assert_eq!(body["timeline"][0]["action"], "created", "{body}");
    let (status, _) = desk
        .http("GET", "/api/v1/requests/REQ-9", Some(READ), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = desk
        .http("GET", "/api/v1/requests/INC-1", Some(READ), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, csv) = desk
        .http("GET", "/api/v1/requests?format=csv", Some(READ), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(csv.as_str().unwrap_or_default().contains("REQ-3"), "{csv}");
}

#[sqlx::test]
async fn approvers_are_reminded_once_after_a_business_day_then_the_team(pool: PgPool) {
    use chrono::Duration;
    use itsm_bot::scheduler::sweep::sweep;
    let desk = Desk::with_config(pool, config("http://127.0.0.1:9")).await;
    // Wednesday 09:00: a business day (office, 09:00-17:00) ends at 17:00.
    desk.ok("eve", "/request laptop model:13-inch").await;
    desk.ok("eve", "/request vm size:small name:web-1").await;
    let start = crate::helpers::start();
    let texts = |posted: Vec<itsm_bot::commands::notice::Posted>| -> Vec<String> {
        posted.into_iter().map(|p| p.text).collect()
    };
    let early = texts(
        sweep(&desk.engine, start + Duration::minutes(479))
            .await
            .unwrap(),
    );
    assert!(early.iter().all(|t| !t.contains("REQ-1")), "{early:?}");
    let due = texts(
        sweep(&desk.engine, start + Duration::hours(8))
            .await
            .unwrap(),
    );
    assert_eq!(
        due.iter().filter(|t| t.contains("REQ-1")).count(),
        1,
        "{due:?}"
    );
    assert!(
        due[0].contains("waited 8h") && due[0].contains("shell:mia"),
        "{due:?}"
    );
    let again = texts(
        sweep(&desk.engine, start + Duration::hours(9))
            .await
            .unwrap(),
    );
    assert!(again.iter().all(|t| !t.contains("REQ-1")), "{again:?}");
    // Thursday 17:00: two business days; the team hears once.
    let team = texts(
        sweep(&desk.engine, start + Duration::hours(32))
            .await
            .unwrap(),
    );
    assert_eq!(team.len(), 1, "{team:?}");
    assert!(team[0].contains("Team (role:engineer)"), "{team:?}");
    let after = texts(
        sweep(&desk.engine, start + Duration::hours(80))
            .await
            .unwrap(),
    );
    assert!(after.is_empty(), "{after:?}");
    // An approved request is not reminded.
    desk.ok("eve", "/request laptop model:15-inch").await;
    desk.ok("mia", "/request REQ-3 approve").await;
    let none = texts(
        sweep(&desk.engine, start + Duration::hours(200))
            .await
            .unwrap(),
    );
    assert!(none.iter().all(|t| !t.contains("⏰")), "{none:?}");
}

#[sqlx::test]
async fn the_fulfilment_clock_warns_once_then_alerts_the_breach_once(pool: PgPool) {
    use chrono::Duration;
    use itsm_bot::scheduler::sweep::sweep;
    let desk = Desk::with_config(pool, config("http://127.0.0.1:9")).await;
    // Approved Wednesday 09:00: 3d is three office days (24 counted
    // hours), 75% of it (18h) is reached on Friday at 11:00.
    desk.ok("eve", "/request laptop model:13-inch").await;
    desk.ok("mia", "/request REQ-1 approve").await;
    let start = crate::helpers::start();
    let texts = |posted: Vec<itsm_bot::commands::notice::Posted>| -> Vec<String> {
        posted.into_iter().map(|p| p.text).collect()
    };
    let before = texts(
        sweep(&desk.engine, start + Duration::days(2) + Duration::hours(1))
            .await
            .unwrap(),
    );
    assert!(before.is_empty(), "{before:?}");
    let warned = texts(
        sweep(&desk.engine, start + Duration::days(2) + Duration::hours(3))
            .await
            .unwrap(),
    );
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(
        warned[0].contains("REQ-1") && warned[0].contains("used 75%"),
        "{warned:?}"
    );
    let again = texts(
        sweep(&desk.engine, start + Duration::days(2) + Duration::hours(4))
            .await
            .unwrap(),
    );
    assert!(again.is_empty(), "{again:?}");
    let breached = texts(
        sweep(&desk.engine, start + Duration::days(60))
            .await
            .unwrap(),
    );
    assert_eq!(
        breached.len(),
        1,
        "only the breach, not the 90% warning: {breached:?}"
    );
    assert!(
        breached[0].contains("missed its fulfilment target"),
        "{breached:?}"
    );
    let after = texts(
        sweep(&desk.engine, start + Duration::days(61))
            .await
            .unwrap(),
    );
    assert!(after.is_empty(), "{after:?}");
    let shown = desk.ok("eve", "/request REQ-1 show").await;
    assert!(
        shown.contains("Fulfil: by"),
        "the clock is judged at now: {shown}"
    );
}

/// Fulfilment SLA compliance (issue 23): a clock is met when the request
/// is fulfilled by its due instant, missed at the due instant otherwise;
/// the report, the API and the dashboard's figures say the same.
#[sqlx::test]
async fn fulfilment_compliance_counts_met_and_missed_clocks(pool: PgPool) {
    use axum::http::StatusCode;
    let tokens = format!("[{{name=\"reporting\", access=\"read\", token=\"{READ}\"}}]");
    let desk = Desk::with_config(
        pool,
        config_with_env(
            "http://127.0.0.1:9",
            vec![("ITSM__API__TOKENS".to_string(), tokens)],
        ),
    )
    .await;
    // Both approved Wednesday 09:00; 3d of office days is due Monday 09:00.
    desk.ok("eve", "/request laptop model:13-inch").await;
    desk.ok("eve", "/request laptop model:15-inch").await;
    desk.ok("mia", "/request REQ-1 approve").await;
    desk.ok("mia", "/request REQ-2 approve").await;
    // One cancelled before it was due is never judged.
    desk.ok("eve", "/request laptop model:15-inch reason:spare")
        .await;
    desk.ok("mia", "/request REQ-3 approve").await;
    desk.ok("eve", "/request REQ-3 cancel found one").await;
    desk.clock.advance(chrono::Duration::hours(1));
    desk.ok("bob", "/request REQ-1 take").await;
    for task in 1..=3 {
        desk.ok("bob", &format!("/request REQ-1 task {task} done"))
            .await;
    }
    let fulfilled = desk.ok("bob", "/request REQ-1 fulfil").await;
    assert!(
        fulfilled.contains("/request REQ-1 rate <1-5>"),
        "{fulfilled}"
    );
    // Only the requester rates, and only once it is fulfilled; once.
    desk.refused("bob", "/request REQ-1 rate 5").await;
    desk.refused("eve", "/request REQ-2 rate 5").await;
    desk.refused("eve", "/request REQ-1 rate 7").await;
    let thanks = desk.ok("eve", "/request REQ-1 rate 4").await;
    assert!(thanks.contains("You rated REQ-1 4/5"), "{thanks}");
    let again = desk.ok("eve", "/request REQ-1 rate 1").await;
    assert!(again.contains("that score stands"), "{again}");
    // Not yet due: nothing missed so far. (A rolling report leaves out
    // its end instant.)
    desk.clock.advance(chrono::Duration::minutes(1));
    let early = desk.ok("bob", "/itsm report week").await;
    assert!(
        early.contains("fulfilment SLA 100% (1 met of 1) · CSAT 4.0/5 (1 answer)"),
        "{early}"
    );
    // The incidents' CSAT leaves request answers out.
    assert!(early.contains("CSAT: —"), "{early}");
    desk.clock.advance(chrono::Duration::days(6));
    let report = desk.ok("bob", "/itsm report week").await;
    assert!(
        report.contains("3 opened · 1 fulfilled")
            && report.contains("fulfilment SLA 50% (1 met of 2)"),
        "{report}"
    );
    let (status, api) = desk
        .http("GET", "/api/v1/reports/week", Some(READ), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{api}");
    let requests = &api["requests"];
    assert_eq!(requests["fulfil_met"], 1, "{api}");
    assert_eq!(requests["fulfil_missed"], 1, "{api}");
    assert_eq!(requests["fulfil_compliance"], 50.0, "{api}");
    assert_eq!(requests["opened"], 3, "{api}");
    assert_eq!(requests["csat_answers"], 1, "{api}");
    assert_eq!(requests["csat_average"], 4.0, "{api}");
    assert_eq!(api["csat_answers"], 0, "{api}");
}

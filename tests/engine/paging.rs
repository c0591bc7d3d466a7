//! The outbound paging hook, against a fake paging service on 127.0.0.1
//! that records what it receives: one `trigger` per escalation step, then
//! `acknowledge` and `resolve`, signed, and retried after a 500.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use chrono::Duration;
use hmac::{Hmac, Mac};
use itsm_bot::config::{Config, ConfigError};
use itsm_bot::paging::PagingWorker;
use itsm_bot::scheduler::sweep::sweep;
use serde_json::Value;
use sha2::Sha256;
use sqlx::PgPool;

use crate::helpers::{start, Desk};

const ROUTING_KEY: &str = "R0UT1NGKEY0123456789";
const HMAC_SECRET: &str = "paging-hmac-secret";

/// What the fake paging service received, and how it answers.
#[derive(Default)]
struct Fake {
    /// (signature header, raw body) of every request, in order.
    received: Mutex<Vec<(Option<String>, String)>>,
    /// Answer this status to the next requests, one each, before 202s.
    answers: Mutex<Vec<StatusCode>>,
    /// `Retry-After` seconds sent with every 429.
    retry_after: Mutex<Option<u64>>,
    hits: AtomicUsize,
}

impl Fake {
    fn bodies(&self) -> Vec<Value> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .map(|(_, body)| serde_json::from_str(body).unwrap())
            .collect()
    }
}

async fn receive(
    State(fake): State<Arc<Fake>>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, HeaderMap) {
    fake.hits.fetch_add(1, Ordering::SeqCst);
    let signature = headers
        .get("x-itsm-signature")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    fake.received.lock().unwrap().push((signature, body));
    let mut answers = fake.answers.lock().unwrap();
    let status = if answers.is_empty() {
        StatusCode::ACCEPTED
    } else {
        answers.remove(0)
    };
    let mut headers = HeaderMap::new();
    if let Some(secs) = *fake.retry_after.lock().unwrap() {
        if status == StatusCode::TOO_MANY_REQUESTS {
            headers.insert("retry-after", secs.into());
        }
    }
    (status, headers)
}

/// Starts the fake; returns it and its URL.
async fn fake_service() -> (Arc<Fake>, String) {
    let fake = Arc::new(Fake::default());
    let app = Router::new()
        .route("/v2/enqueue", post(receive))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (fake, format!("http://{addr}/v2/enqueue"))
}

/// The VPN service and rotation of services.rs, with the hook at `url`; the
/// routing key comes from the environment, as in production.
fn paging_config(url: &str, extra: &str) -> Result<Config, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("paging.toml");
    crate::helpers::write_dated(
        &path,
        format!(
            r#"
[[services]]
name = "vpn"
owner = "shell:olivia"
channel = "netops"
rotation = "network"

[[oncall.rotations]]
name = "network"
members = ["shell:bob", "shell:carol"]
handoff = "2026-11-23T09:00"
length = "1w"
escalate_after = "5m"

[oncall.paging]
url = "{url}"
{extra}
"#
        ),
    )
    .unwrap();
    Config::load_with_env(
        Some(&path),
        [(
            "ITSM__ONCALL__PAGING__ROUTING_KEY".to_string(),
            ROUTING_KEY.to_string(),
        )],
    )
}

async fn desk_with_hook(pool: PgPool) -> (Desk, Arc<Fake>, PagingWorker) {
    let (fake, url) = fake_service().await;
    let config = paging_config(&url, &format!("hmac_secret = \"{HMAC_SECRET}\"")).unwrap();
    let desk = Desk::with_config(pool, config).await;
    let worker = PagingWorker::new(&desk.engine).unwrap().unwrap();
    (desk, fake, worker)
}

fn valid_signature(signature: Option<&str>, body: &str) -> bool {
    let mut mac = Hmac::<Sha256>::new_from_slice(HMAC_SECRET.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    signature == Some(format!("sha256={hex}").as_str())
}

#[sqlx::test]
async fn each_escalation_step_triggers_the_hook_once(pool: PgPool) {
    let (desk, fake, worker) = desk_with_hook(pool).await;
    desk.ok("alice", "/incident VPN down P1 service:vpn").await;
    for minutes in [4, 10, 11, 12, 30] {
        sweep(&desk.engine, start() + Duration::minutes(minutes))
            .await
            .unwrap();
    }
    assert_eq!(worker.drain().await.unwrap(), 3);
    assert_eq!(worker.drain().await.unwrap(), 0, "each step is sent once");

    let bodies = fake.bodies();
    assert_eq!(bodies.len(), 3, "{bodies:#?}");
    for (step, body) in bodies.iter().enumerate() {
        assert_eq!(body["event_action"], "trigger");
        assert_eq!(body["dedup_key"], "INC-1");
        assert_eq!(body["routing_key"], ROUTING_KEY);
        assert_eq!(body["payload"]["summary"], "INC-1 P1 VPN down (vpn)");
        assert_eq!(body["payload"]["source"], "itsm-bot");
        assert_eq!(body["payload"]["severity"], "critical");
        assert_eq!(body["payload"]["component"], "vpn");
        assert_eq!(body["payload"]["custom_details"]["step"], step);
    }
    assert_eq!(
        bodies[0]["payload"]["custom_details"]["on_call"],
        "shell:bob"
    );
    assert_eq!(
        bodies[1]["payload"]["custom_details"]["on_call"],
        "shell:carol"
    );
    for (signature, body) in fake.received.lock().unwrap().iter() {
        assert!(valid_signature(signature.as_deref(), body), "{signature:?}");
    }

    // Resolving a paged incident resolves it at the paging service.
    desk.clock.set(start() + Duration::minutes(40));
    desk.ok("bob", "/incident INC-1 resolve rebooted").await;
    assert_eq!(worker.drain().await.unwrap(), 1);
    let last = fake.bodies().pop().unwrap();
    assert_eq!(last["event_action"], "resolve");
    assert_eq!(last["dedup_key"], "INC-1");
}

#[sqlx::test]
async fn acknowledging_sends_acknowledge_and_stops_triggers(pool: PgPool) {
    let (desk, fake, worker) = desk_with_hook(pool).await;
    desk.ok("alice", "/incident VPN slow P2 service:vpn").await;
    // Not paged (P3): nothing at the paging service to acknowledge.
    desk.ok("alice", "/incident VPN flaky P3 service:vpn").await;
    desk.clock.set(start() + Duration::minutes(3));
    desk.ok("bob", "/incident INC-1 ack").await;
    desk.ok("bob", "/incident INC-2 ack").await;
    sweep(&desk.engine, start() + Duration::minutes(20))
        .await
        .unwrap();
    assert_eq!(worker.drain().await.unwrap(), 2);
    let bodies = fake.bodies();
    let actions: Vec<&str> = bodies
        .iter()
        .map(|b| b["event_action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["trigger", "acknowledge"]);
    assert_eq!(bodies[0]["payload"]["severity"], "error");
    assert_eq!(bodies[1]["dedup_key"], "INC-1");
    assert_eq!(bodies[1]["routing_key"], ROUTING_KEY);
}

#[sqlx::test]
async fn a_500_is_retried_and_a_400_is_parked(pool: PgPool) {
    let (desk, fake, worker) = desk_with_hook(pool).await;
    fake.answers
        .lock()
        .unwrap()
        .extend([StatusCode::INTERNAL_SERVER_ERROR]);
    desk.ok("alice", "/incident VPN down P1 service:vpn").await;
    assert_eq!(worker.drain().await.unwrap(), 1, "tried once");
    assert_eq!(worker.drain().await.unwrap(), 0, "backing off");
    desk.clock.set(start() + Duration::seconds(5));
    assert_eq!(worker.drain().await.unwrap(), 1, "tried again");
    assert_eq!(fake.hits.load(Ordering::SeqCst), 2);
    let bodies = fake.bodies();
    assert_eq!(bodies[0], bodies[1], "the same event both times");
    let (sent, attempts): (bool, i32) =
        sqlx::query_as("SELECT sent_at IS NOT NULL, attempts FROM page_hooks")
            .fetch_one(&desk.pool)
            .await
            .unwrap();
    assert!(sent);
    assert_eq!(attempts, 1);

    // A 400 will not get better by trying again: parked.
    fake.answers.lock().unwrap().push(StatusCode::BAD_REQUEST);
    desk.ok("bob", "/incident INC-1 ack").await;
    assert_eq!(worker.drain().await.unwrap(), 1);
    desk.clock.set(start() + Duration::hours(1));
    assert_eq!(worker.drain().await.unwrap(), 0);
    let parked: i64 =
        sqlx::query_scalar("SELECT count(*) FROM page_hooks WHERE failed_at IS NOT NULL")
            .fetch_one(&desk.pool)
            .await
            .unwrap();
    assert_eq!(parked, 1);
}

/// The paging hook shares the work queue's rules: a `Retry-After` is the
/// least wait, `outbox.max_attempts` parks the event, and admins see it in
/// `/itsm outbox` and queue it again.
#[sqlx::test]
async fn retry_after_is_honoured_and_the_last_attempt_parks(pool: PgPool) {
    let (fake, url) = fake_service().await;
    let extra = "\n[outbox]\nmax_attempts = 2\n\n[roles]\nadmin = [\"shell:root\"]\n";
    let config = paging_config(&url, extra).unwrap();
    let desk = Desk::with_config(pool.clone(), config).await;
    let worker = PagingWorker::new(&desk.engine).unwrap().unwrap();
    *fake.retry_after.lock().unwrap() = Some(7);
    fake.answers.lock().unwrap().extend([
        StatusCode::TOO_MANY_REQUESTS,
        StatusCode::INTERNAL_SERVER_ERROR,
    ]);
    desk.ok("alice", "/incident VPN down P1 service:vpn").await;
    assert_eq!(worker.drain().await.unwrap(), 1, "answered 429");
    // The backoff alone would try again after about a second.
    desk.clock.set(start() + Duration::seconds(5));
    assert_eq!(worker.drain().await.unwrap(), 0, "Retry-After: 7");
    desk.clock.set(start() + Duration::seconds(9));
    assert_eq!(worker.drain().await.unwrap(), 1, "answered 500");
    let (attempts, parked): (i32, bool) =
        sqlx::query_as("SELECT attempts, failed_at IS NOT NULL FROM page_hooks")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((attempts, parked), (2, true));
    desk.clock.set(start() + Duration::hours(1));
    assert_eq!(worker.drain().await.unwrap(), 0, "parked");

    let status = desk.ok("root", "/itsm outbox").await;
    assert!(
        status.contains("Paging hook: 0 event(s) waiting, 1 parked"),
        "{status}"
    );
    assert!(
        status.contains("#page-1 paging trigger INC-1") && status.contains("500"),
        "{status}"
    );
    let again = desk.ok("root", "/itsm outbox retry page-1").await;
    assert!(
        again.contains("1 parked paging event(s) queued again"),
        "{again}"
    );
    assert_eq!(worker.drain().await.unwrap(), 1);
    assert_eq!(fake.hits.load(Ordering::SeqCst), 3);
    let sent: bool = sqlx::query_scalar("SELECT sent_at IS NOT NULL FROM page_hooks")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(sent);
}

#[test]
fn the_hook_is_validated_at_load_without_showing_secrets() {
    let err = paging_config("ftp://pager.example", "").unwrap_err();
    assert!(err.to_string().contains("oncall.paging.url"), "{err}");
    let err = paging_config("https://pager.example/v2/enqueue", "hmac_secret = \"\"").unwrap_err();
    assert!(
        err.to_string().contains("oncall.paging.hmac_secret"),
        "{err}"
    );
    let config = paging_config("https://pager.example/v2/enqueue", "").unwrap();
    let shown = format!("{config:?}");
    assert!(!shown.contains(ROUTING_KEY), "{shown}");

    // Without a routing key the hook refuses to load, naming the key.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-key.toml");
    std::fs::write(&path, "[oncall.paging]\nurl = \"https://pager.example\"\n").unwrap();
    let err = Config::load_with_env(Some(&path), std::iter::empty()).unwrap_err();
    assert!(
        err.to_string().contains("oncall.paging.routing_key"),
        "{err}"
    );
}

/// Two replicas sweeping at the same moment queue each step's trigger once.
#[sqlx::test]
async fn concurrent_sweeps_trigger_once(pool: PgPool) {
    let (desk, fake, worker) = desk_with_hook(pool).await;
    desk.ok("alice", "/incident VPN down P1 service:vpn").await;
    let at = start() + Duration::minutes(6);
    let (a, b) = tokio::join!(sweep(&desk.engine, at), sweep(&desk.engine, at));
    a.unwrap();
    b.unwrap();
    assert_eq!(worker.drain().await.unwrap(), 2);
    let steps: Vec<Value> = fake
        .bodies()
        .iter()
        .map(|b| b["payload"]["custom_details"]["step"].clone())
        .collect();
    assert_eq!(steps, [0, 1]);
}

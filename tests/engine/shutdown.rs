//! Graceful shutdown of `App::serve` with the real HTTP server on a real
//! port: requests in flight when shutdown begins are finished and answered,
//! and nothing answered is lost.

use std::sync::Arc;
use std::time::Duration;

use itsm_bot::app::App;
use itsm_bot::clock::SystemClock;
use itsm_bot::config::Config;
use itsm_bot::lifecycle::Shutdown;
use itsm_bot::store::Store;
use sqlx::PgPool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use crate::helpers::dated;

const TOKEN: &str = "hooks-test-token-4f1c";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn firing(fingerprint: &str) -> String {
    serde_json::json!({
        "version": "4",
        "status": "firing",
        "alerts": [{
            "status": "firing",
            "labels": {"alertname": format!("Alert{fingerprint}"), "severity": "warning"},
            "annotations": {"summary": format!("Alert {fingerprint} firing")},
            "startsAt": &dated("2026-11-25T08:55:00Z"),
            "fingerprint": fingerprint,
        }]
    })
    .to_string()
}

/// POSTs an alert; returns the status line and body, or `None` when the
/// server refused the connection or closed it unanswered.
async fn post_alert(port: u16, fingerprint: &str) -> Option<(String, String)> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    let body = firing(fingerprint);
    let request = format!(
        "POST /hooks/alertmanager HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await.ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    Some((head.lines().next()?.to_string(), body.to_string()))
}

/// Alerts whose handling is held up (the test holds the advisory lock the
/// engine takes per fingerprint) are in flight when shutdown begins. The
/// server stops accepting, lets them finish, answers them, and every
/// answered alert has its incident in the database; `serve` returns well
/// within the grace period.
#[sqlx::test]
async fn requests_in_flight_at_shutdown_finish_and_nothing_answered_is_lost(pool: PgPool) {
    let port = free_port();
    let vars = [
        ("ITSM__HTTP__BIND", format!("127.0.0.1:{port}")),
        ("ITSM__HOOKS__TOKEN", TOKEN.to_string()),
        ("ITSM__SCHEDULER__ENABLED", "false".to_string()),
        ("ITSM__SHUTDOWN__GRACE_SECONDS", "5".to_string()),
    ];
    let config =
        Config::load_with_env(None, vars.iter().map(|(k, v)| (k.to_string(), v.clone()))).unwrap();
    let app = App::with_store(
        config,
        Store::from_pool(pool.clone()),
        Arc::new(SystemClock),
    )
    .await
    .unwrap();
    // `serve` closes its pool as it returns; check the outcome on another.
    let check = PgPool::connect_with(pool.connect_options().as_ref().clone())
        .await
        .unwrap();
    let (trigger, shutdown) = Shutdown::new();
    let serving = tokio::spawn({
        let trigger = trigger.clone();
        async move { app.serve(None, shutdown, trigger).await }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "the server never listened");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Hold up every fingerprint's handling. (Few requests: each waits on a
    // connection of the test's small pool.)
    let fingerprints: Vec<String> = (0..3).map(|i| format!("fp{i:04}")).collect();
    let mut holder = pool.acquire().await.unwrap();
    for fingerprint in &fingerprints {
        sqlx::query("SELECT pg_advisory_lock(hashtextextended($1, 0))")
            .bind(format!("alert:alertmanager:{fingerprint}"))
            .execute(&mut *holder)
            .await
            .unwrap();
    }
    let requests: Vec<_> = fingerprints
        .iter()
        .map(|fingerprint| {
            let fingerprint = fingerprint.clone();
            tokio::spawn(async move { post_alert(port, &fingerprint).await })
        })
        .collect();
    // Every request is waiting on its lock.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
        )
        .fetch_one(&mut *holder)
        .await
        .unwrap();
        if waiting as usize == fingerprints.len() {
            break;
        }
        assert!(Instant::now() < deadline, "{waiting} requests in flight");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let stopping = Instant::now();
    trigger.stop_intake();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // No new connections once shutdown began.
    assert!(
        post_alert(port, "late0001").await.is_none(),
        "a request after shutdown began was served"
    );
    assert!(
        !serving.is_finished(),
        "serve did not wait for in-flight requests"
    );
    for fingerprint in &fingerprints {
        sqlx::query("SELECT pg_advisory_unlock(hashtextextended($1, 0))")
            .bind(format!("alert:alertmanager:{fingerprint}"))
            .execute(&mut *holder)
            .await
            .unwrap();
    }
    drop(holder);

    let mut answered = Vec::new();
    for request in requests {
        let (status, body) = request
            .await
            .unwrap()
            .expect("an in-flight request went unanswered");
        assert!(status.contains(" 200"), "{status}: {body}");
        answered.push(body);
    }
    tokio::time::timeout(Duration::from_secs(5), serving)
        .await
        .expect("serve did not return within the grace period")
        .unwrap()
        .unwrap();
    assert!(stopping.elapsed() < Duration::from_secs(5));
    for (fingerprint, body) in fingerprints.iter().zip(&answered) {
        let incident: Option<i64> = sqlx::query_scalar(
            "SELECT ticket_id FROM alerts WHERE source = 'alertmanager' AND fingerprint = $1",
        )
        .bind(fingerprint)
        .fetch_optional(&check)
        .await
        .unwrap();
        assert!(
            incident.is_some(),
            "{fingerprint} was answered ({body}) but not stored"
        );
    }
    let late: i64 =
        sqlx::query_scalar("SELECT count(*) FROM alerts WHERE fingerprint = 'late0001'")
            .fetch_one(&check)
            .await
            .unwrap();
    assert_eq!(late, 0);
}

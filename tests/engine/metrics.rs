//! `/metrics` scraped through the router and read by a Prometheus text parser.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use itsm_bot::http::{router, HttpState};
use sqlx::PgPool;
use tower::ServiceExt;

use crate::helpers::{start, Desk};

async fn scrape(desk: &Desk) -> prometheus_parse::Scrape {
    let response = router(HttpState::new(desk.engine.clone()))
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let text = String::from_utf8(body.to_vec()).unwrap();
    let lines = text.lines().map(|line| Ok(line.to_string()));
    prometheus_parse::Scrape::parse(lines).unwrap()
}

fn value(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .find(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => f64::NAN,
        })
}

#[sqlx::test]
async fn commands_open_tickets_sla_and_pool_are_counted(pool: PgPool) {
    let desk = Desk::new(pool).await;
    desk.ok("alice", "/incident Core switch down P1").await;
    desk.ok("alice", "/incident Printer jam P4").await;
    desk.ok("alice", "/incident INC-2 ack").await;
    desk.refused("alice", "/incident INC-9 ack").await;
    desk.ok("alice", "/change Replace core switch").await;
    itsm_bot::scheduler::sweep::sweep(&desk.engine, start() + chrono::Duration::minutes(16))
        .await
        .unwrap();

    let scrape = scrape(&desk).await;
    let created = [
        ("platform", "shell"),
        ("command", "incident.create"),
        ("outcome", "done"),
    ];
    assert_eq!(value(&scrape, "itsm_commands_total", &created), Some(2.0));
    let refused = [("command", "incident.ack"), ("outcome", "refused")];
    assert_eq!(value(&scrape, "itsm_commands_total", &refused), Some(1.0));
    let count = value(
        &scrape,
        "itsm_command_duration_seconds_count",
        &[("platform", "shell"), ("command", "incident.ack")],
    );
    assert_eq!(count, Some(2.0), "ack timed twice (one refused)");
    assert_eq!(
        value(
            &scrape,
            "itsm_open_tickets",
            &[("kind", "incident"), ("priority", "P1")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &scrape,
            "itsm_open_tickets",
            &[("kind", "change"), ("priority", "none")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &scrape,
            "itsm_sla_notifications_total",
            &[("kind", "breach"), ("clock", "respond")]
        ),
        Some(1.0),
        "the P1's 15m response target was breached at minute 16"
    );
    assert!(value(&scrape, "itsm_db_pool_connections", &[("state", "max")]).unwrap_or(0.0) >= 1.0);
}

/// Every series deploy/prometheus/rules.yml alerts on is one /metrics
/// serves, so the rules cannot drift from the code; a ready bot says so.
#[sqlx::test]
async fn the_alerting_rules_name_series_the_bot_serves(pool: PgPool) {
    let desk = Desk::new(pool).await;
    desk.ok("alice", "/incident Core switch down P1").await;
    // One failed and one good run, so the scheduler series exist.
    desk.engine.metrics().job_run("sweep", true);
    desk.engine.metrics().job_run("sweep", false);
    let scrape = scrape(&desk).await;
    assert_eq!(value(&scrape, "itsm_ready", &[]), Some(1.0));
    assert_eq!(
        value(
            &scrape,
            "itsm_queue_oldest_pending_seconds",
            &[("queue", "post")]
        ),
        Some(0.0)
    );
    let rules = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/prometheus/rules.yml"
    ))
    .unwrap();
    let names = regex::Regex::new(r"\bitsm_[a-z_]+").unwrap();
    let mut checked = 0;
    for name in names.find_iter(&rules).map(|m| m.as_str()) {
        checked += 1;
        assert!(
            scrape.samples.iter().any(|s| s.metric == name),
            "rules.yml names {name}, which /metrics does not serve"
        );
    }
    assert!(checked >= 5, "{checked}");
}

//! Flood protection: per-person command rate limits and HTTP body limits.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use itsm_bot::config::Config;
use itsm_bot::http::{router, HttpState};
use sqlx::PgPool;
use tower::ServiceExt;

use crate::helpers::Desk;

fn config(vars: &[(&str, &str)]) -> Config {
    Config::load_with_env(
        None,
        vars.iter().map(|(k, v)| (k.to_string(), v.to_string())),
    )
    .unwrap()
}

#[sqlx::test]
async fn a_flood_from_one_person_is_told_to_slow_down(pool: PgPool) {
    let desk = Desk::with_config(pool, config(&[("ITSM__LIMITS__COMMANDS_PER_MINUTE", "3")])).await;
    for n in 1..=3 {
        desk.ok("alice", &format!("/incident Printer {n} jammed"))
            .await;
    }
    let slow = desk.refused("alice", "/incident Printer 4 jammed").await;
    assert!(
        slow.contains("Slow down") && slow.contains("more than 3"),
        "{slow}"
    );
    // Others are not held back by alice.
    desk.ok("bob", "/itsm open").await;
}

#[sqlx::test]
async fn the_limit_can_be_turned_off(pool: PgPool) {
    let desk = Desk::with_config(pool, config(&[("ITSM__LIMITS__COMMANDS_PER_MINUTE", "0")])).await;
    for _ in 0..200 {
        desk.ok("alice", "/itsm whoami").await;
    }
}

#[sqlx::test]
async fn oversized_bodies_are_refused_on_every_route(pool: PgPool) {
    let desk = Desk::with_config(
        pool,
        config(&[
            ("ITSM__HTTP__MAX_BODY_BYTES", "1024"),
            ("ITSM__HOOKS__TOKEN", "hook-token-0123456789"),
        ]),
    )
    .await;
    let big = format!("{{\"title\": \"{}\"}}", "x".repeat(4096));
    for path in ["/api/v1/incidents", "/hooks/alertmanager"] {
        let response = router(HttpState::new(desk.engine.clone()))
            .oneshot(
                Request::post(path)
                    .header("content-type", "application/json")
                    .header("authorization", "Bearer hook-token-0123456789")
                    .body(Body::from(big.clone()))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert!(
            matches!(
                response.status(),
                StatusCode::PAYLOAD_TOO_LARGE | StatusCode::UNAUTHORIZED
            ),
            "{path}: {}",
            response.status()
        );
    }
    let before = desk.snapshot().await;
    let response = router(HttpState::new(desk.engine.clone()))
        .oneshot(
            Request::post("/hooks/alertmanager")
                .header("content-type", "application/json")
                .header("authorization", "Bearer hook-token-0123456789")
                .body(Body::from(big))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(desk.snapshot().await, before);
}

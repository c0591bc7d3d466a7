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

/// A desk whose API and hooks take tokens and bodies up to 1 KiB, and a
/// body over that.
async fn guarded(pool: PgPool) -> (Desk, String) {
    let tokens = "[{name=\"monitor\", access=\"write\", token=\"write-token-0123456789\"}]";
    let desk = Desk::with_config(
        pool,
        config(&[
            ("ITSM__HTTP__MAX_BODY_BYTES", "1024"),
            ("ITSM__HOOKS__TOKEN", "hook-token-0123456789"),
            ("ITSM__API__TOKENS", tokens),
        ]),
    )
    .await;
    let big = format!("{{\"title\": \"{}\"}}", "x".repeat(4096));
    (desk, big)
}

/// Issue 22 (5): a body over `http.max_body_bytes` was answered with axum's
/// plain text "Failed to buffer the request body"; every route answers the
/// documented `{"error": …}`.
#[sqlx::test]
async fn an_oversized_body_is_answered_with_a_json_error(pool: PgPool) {
    let (desk, big) = guarded(pool).await;
    for (path, token) in [
        ("/api/v1/incidents", "write-token-0123456789"),
        ("/hooks/alertmanager", "hook-token-0123456789"),
        ("/hooks/grafana", "hook-token-0123456789"),
    ] {
        let (status, json) = desk.http("POST", path, Some(token), Some(&big)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{path}: {json}");
        let error = json["error"].as_str().unwrap_or_default();
        assert!(
            error.contains("1024 bytes") && error.contains("http.max_body_bytes"),
            "{path}: {json}"
        );
    }
}

/// Issue 22 (5): hooks and the API check the token before they read the
/// body, so a stranger's body is never read: an oversized one gets 401, not
/// 413 (which told the stranger the body had been taken in).
#[sqlx::test]
async fn the_token_is_checked_before_the_body_is_read(pool: PgPool) {
    let (desk, big) = guarded(pool).await;
    for path in ["/api/v1/incidents", "/hooks/alertmanager", "/hooks/grafana"] {
        for token in [None, Some("wrong-token-0123456789")] {
            let (status, json) = desk.http("POST", path, token, Some(&big)).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path} {token:?}: {json}");
        }
    }
}

use axum::body::Body;
use axum::http::{Request, StatusCode};
use itsm_bot::clock::SystemClock;
use itsm_bot::commands::Engine;
use itsm_bot::config::Config;
use itsm_bot::http::{router, HttpState};
use itsm_bot::store::Store;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use tower::ServiceExt;

use crate::helpers::Desk;

async fn get(state: HttpState, path: &str) -> (StatusCode, String) {
    let response = router(state)
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[sqlx::test]
async fn health_and_readiness(pool: PgPool) {
    let state = HttpState::new(Desk::new(pool).await.engine);
    assert_eq!(get(state.clone(), "/healthz").await.0, StatusCode::OK);
    let (status, body) = get(state, "/readyz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn readiness_fails_without_a_database() {
    let pool = PgPoolOptions::new()
        .acquire_timeout(std::time::Duration::from_secs(1))
        .connect_lazy("postgres://postgres@127.0.0.1:1/itsm")
        .unwrap();
    let state = HttpState::new(Engine::new(
        Store::from_pool(pool),
        std::sync::Arc::new(Config::defaults().unwrap()),
        std::sync::Arc::new(SystemClock),
    ));
    assert_eq!(get(state.clone(), "/healthz").await.0, StatusCode::OK);
    let (status, body) = get(state, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("database unavailable"), "{body}");
}

//! The HTTP server: health and readiness, Prometheus metrics, alert
//! webhooks, the REST API and the managers' dashboard; Slack's HTTP mode
//! joins it on the same router.

pub mod api;
pub mod auth;
pub mod dashboard;
pub mod hooks;
pub mod status;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::commands::Engine;
use crate::store::Store;

/// State shared by the handlers: the engine every route works through.
#[derive(Debug, Clone)]
pub struct HttpState {
    pub engine: Engine,
}

impl HttpState {
    /// State for routes served by `engine`.
    pub fn new(engine: Engine) -> Self {
        HttpState { engine }
    }

    /// The store the engine writes to.
    pub fn store(&self) -> &Store {
        self.engine.store()
    }
}

/// The request body limit from `http.max_body_bytes`, for every route
/// (the Slack routes merged in later get it too).
pub fn body_limit(state: &HttpState) -> axum::extract::DefaultBodyLimit {
    axum::extract::DefaultBodyLimit::max(state.engine.config().http.max_body_bytes)
}

/// The bot's routes.
pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(api::routes())
        .merge(hooks::routes())
        .merge(dashboard::routes(state.clone()))
        .merge(status::routes())
        .layer(body_limit(&state))
        .with_state(state)
}

/// Prometheus scrape target.
async fn metrics(State(state): State<HttpState>) -> axum::response::Response {
    match state.engine.metrics().render(state.store()).await {
        Ok(text) => (
            [(
                axum::http::header::CONTENT_TYPE,
                crate::metrics::CONTENT_TYPE,
            )],
            text,
        )
            .into_response(),
        Err(err) => {
            tracing::warn!(error = %err, "metrics unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "error": "metrics unavailable: the database did not answer" })),
            )
                .into_response()
        }
    }
}

/// Liveness: the process answers.
async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// Readiness: the database answers and its schema is current.
async fn readyz(State(state): State<HttpState>) -> impl IntoResponse {
    match state.store().ready().await {
        Ok(true) => (StatusCode::OK, Json(json!({ "status": "ready" }))),
        Ok(false) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "not ready", "reason": "database migrations are not current" })),
        ),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "not ready", "reason": "database unavailable" })),
            )
        }
    }
}

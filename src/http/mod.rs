//! The HTTP server: health and readiness, Prometheus metrics, alert
//! webhooks, the REST API and the managers' dashboard; Slack's HTTP mode
//! joins it on the same router.

pub mod api;
pub mod auth;
pub mod dashboard;
pub mod export;
pub mod hooks;
pub mod status;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
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

/// `routes` with the request body limit from `http.max_body_bytes`, for
/// every route (the Slack routes merged in later get it too). A body over
/// the limit is answered 413 with the documented `{"error": …}` rather than
/// axum's plain-text rejection, whichever extractor hit the limit.
pub fn limit_body<S>(routes: Router<S>, state: &HttpState) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let max = state.engine.config().http.max_body_bytes;
    routes
        .layer(axum::middleware::map_response(
            move |response: Response| async move { json_payload_too_large(response, max) },
        ))
        .layer(axum::extract::DefaultBodyLimit::max(max))
}

/// Turns a 413 that is not JSON yet (an extractor's rejection) into the
/// JSON error every route answers with.
fn json_payload_too_large(response: Response, max: usize) -> Response {
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if response.status() != StatusCode::PAYLOAD_TOO_LARGE || is_json {
        return response;
    }
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        Json(json!({ "error": BodyError::TooLarge(max).to_string() })),
    )
        .into_response()
}

/// Why a request body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// Over `http.max_body_bytes`.
    #[error("the request body is larger than {0} bytes (http.max_body_bytes)")]
    TooLarge(usize),
    /// The connection failed while the body arrived.
    #[error("the request body could not be read")]
    Unreadable,
}

impl BodyError {
    /// The status to answer with.
    pub fn status(&self) -> StatusCode {
        match self {
            BodyError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            BodyError::Unreadable => StatusCode::BAD_REQUEST,
        }
    }
}

/// Reads the body of `request` within `http.max_body_bytes`. Handlers that
/// guard a route with a token call it only after the token checked out, so
/// a stranger's body is never read.
pub async fn read_body(state: &HttpState, request: Request) -> Result<Bytes, BodyError> {
    Bytes::from_request(request, state)
        .await
        .map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                BodyError::TooLarge(state.engine.config().http.max_body_bytes)
            } else {
                BodyError::Unreadable
            }
        })
}

/// The bot's routes.
pub fn router(state: HttpState) -> Router {
    let routes = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(api::routes())
        .merge(hooks::routes())
        .merge(dashboard::routes(state.clone()))
        .merge(status::routes());
    limit_body(routes, &state)
        .layer(axum::middleware::map_response(browser_hardening))
        .with_state(state)
}

/// What a browser may do with our pages: no scripts at all (the dashboard
/// and status page need none), styles only from the pages' own `<style>`
/// blocks, named by their SHA-256 hashes (so an injected `<style>` or
/// `style=` attribute is not applied), images only inline (the charts are
/// inline SVG), forms only back to us, and never inside another site's frame.
pub fn content_security_policy() -> &'static str {
    static POLICY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    POLICY.get_or_init(|| {
        let hashes: Vec<String> = [dashboard::TEMPLATE, status::TEMPLATE]
            .into_iter()
            .flat_map(inline_styles)
            .map(style_hash)
            .collect();
        format!(
            "default-src 'none'; style-src {}; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            hashes.join(" ")
        )
    })
}

/// The text of every `<style>` block in `page`, exactly as served (the
/// templates hold no template syntax inside their style blocks).
pub fn inline_styles(page: &str) -> Vec<&str> {
    let mut styles = Vec::new();
    let mut rest = page;
    while let Some(start) = rest.find("<style>") {
        let after = &rest[start + "<style>".len()..];
        let Some(end) = after.find("</style>") else {
            break;
        };
        styles.push(&after[..end]);
        rest = &after[end..];
    }
    styles
}

/// A CSP source naming one inline style block: `'sha256-<base64>'`.
pub fn style_hash(style: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(style.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// Browser hardening on every answer: the content type is not sniffed,
/// nothing is framed, no referrer leaves, and HTML pages carry the
/// [`content_security_policy`].
async fn browser_hardening(mut response: Response) -> Response {
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/html"));
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::X_FRAME_OPTIONS,
        header::HeaderValue::from_static("DENY"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("no-referrer"),
    );
    if is_html {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            header::HeaderValue::from_static(content_security_policy()),
        );
    }
    response
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

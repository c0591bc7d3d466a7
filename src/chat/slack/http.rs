//! HTTP mode: Slack POSTs slash commands, interactions and events to the
//! bot's HTTP server. Every request's signature and timestamp are checked
//! before anything else; forged, unsigned or stale requests get 401.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use slack_morphism::prelude::*;
use slack_morphism::signature_verifier::SlackEventSignatureVerifier;

use super::{manifest, SlackAdapter};

/// The `/slack/…` routes, for merging into the bot's router.
pub fn routes(adapter: SlackAdapter) -> Router {
    Router::new()
        .route(manifest::COMMANDS_PATH, post(commands))
        .route(manifest::INTERACTIONS_PATH, post(interactions))
        .route(manifest::EVENTS_PATH, post(events))
        .with_state(adapter)
}

fn reject(why: &str) -> Response {
    tracing::warn!(reason = why, "rejected a Slack request");
    (
        StatusCode::UNAUTHORIZED,
        Json(serde_json::json!({ "error": why })),
    )
        .into_response()
}

fn bad_request(why: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(serde_json::json!({ "error": why })),
    )
        .into_response()
}

/// Checks `X-Slack-Signature` over the raw body and the timestamp window.
fn verify(
    adapter: &SlackAdapter,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<String, &'static str> {
    let Some(secret) = adapter.inner.config.signing_secret.as_ref() else {
        return Err("HTTP mode is not configured with a signing secret");
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(signature), Some(timestamp)) = (
        header(SlackEventSignatureVerifier::SLACK_SIGNED_HASH_HEADER),
        header(SlackEventSignatureVerifier::SLACK_SIGNED_TIMESTAMP),
    ) else {
        return Err("missing Slack signature headers");
    };
    let Ok(body) = std::str::from_utf8(body) else {
        return Err("body is not UTF-8");
    };
    let verifier =
        SlackEventSignatureVerifier::new(&SlackSigningSecret::new(secret.expose().into()));
    verifier
        .verify(signature, body, timestamp)
        .map_err(|_| "bad or expired Slack signature")?;
    Ok(body.to_string())
}

fn form(body: &str) -> HashMap<String, String> {
    url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect()
}

async fn commands(
    State(adapter): State<SlackAdapter>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = match verify(&adapter, &headers, &body) {
        Ok(body) => body,
        Err(why) => return reject(why),
    };
    let fields = form(&body);
    let event: SlackCommandEvent =
        match serde_json::to_value(&fields).and_then(serde_json::from_value) {
            Ok(event) => event,
            Err(err) => return bad_request(format!("not a slash command payload: {err}")),
        };
    Json(adapter.on_command(event).await).into_response()
}

async fn interactions(
    State(adapter): State<SlackAdapter>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = match verify(&adapter, &headers, &body) {
        Ok(body) => body,
        Err(why) => return reject(why),
    };
    let Some(payload) = form(&body).remove("payload") else {
        return bad_request("the interaction has no `payload` field".into());
    };
    let event: SlackInteractionEvent = match serde_json::from_str(&payload) {
        Ok(event) => event,
        Err(err) => return bad_request(format!("not an interaction payload: {err}")),
    };
    match adapter.on_interaction(event).await {
        Ok(SlackInteractionResponse::Empty) => StatusCode::OK.into_response(),
        Ok(response) => Json(response).into_response(),
        Err(err) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "error": err.0 })),
        )
            .into_response(),
    }
}

async fn events(State(adapter): State<SlackAdapter>, headers: HeaderMap, body: Bytes) -> Response {
    let body = match verify(&adapter, &headers, &body) {
        Ok(body) => body,
        Err(why) => return reject(why),
    };
    let event: SlackPushEvent = match serde_json::from_str(&body) {
        Ok(event) => event,
        Err(err) => return bad_request(format!("not an Events API payload: {err}")),
    };
    match event {
        SlackPushEvent::UrlVerification(verification) => verification.challenge.into_response(),
        SlackPushEvent::EventCallback(callback) => match adapter.on_push(callback).await {
            Ok(()) => StatusCode::OK.into_response(),
            // A failure status makes Slack retry; the event id keeps the
            // retry from doing anything twice.
            Err(err) => (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({ "error": err.0 })),
            )
                .into_response(),
        },
        _ => StatusCode::OK.into_response(),
    }
}

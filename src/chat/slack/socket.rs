//! Socket Mode: an outbound WebSocket to Slack, no public URL needed.

use std::sync::Arc;

use slack_morphism::prelude::*;

use super::{SlackAdapter, SlackError};
use crate::lifecycle::Shutdown;

/// Runs the Socket Mode listener until shutdown. The library reconnects by
/// itself after `disconnect` frames and dropped sockets.
pub async fn run(adapter: SlackAdapter, mut shutdown: Shutdown) -> Result<(), SlackError> {
    let app_token = adapter
        .inner
        .config
        .app_token
        .as_ref()
        .ok_or(SlackError::NotConfigured(
            "Socket Mode needs an app-level token",
        ))?;
    let app_token = SlackApiToken::new(app_token.expose().into());
    let environment = Arc::new(
        SlackClientEventsListenerEnvironment::new(adapter.inner.client.clone())
            .with_error_handler(on_error)
            .with_user_state(adapter.clone()),
    );
    let callbacks = SlackSocketModeListenerCallbacks::new()
        .with_command_events(on_command)
        .with_interaction_events(on_interaction)
        .with_push_events(on_push);
    let config = SlackClientSocketModeConfig::new()
        .with_max_connections_count(adapter.inner.config.socket_connections)
        .with_reconnect_timeout_in_seconds(5);
    let listener = SlackClientSocketModeListener::new(&config, environment, callbacks);
    listener.listen_for(&app_token).await?;
    listener.start().await;
    tracing::info!("Slack Socket Mode listening");
    shutdown.wait().await;
    listener.shutdown().await;
    Ok(())
}

async fn adapter_of(states: &SlackClientEventsUserState) -> Option<SlackAdapter> {
    states
        .read()
        .await
        .get_user_state::<SlackAdapter>()
        .cloned()
}

async fn on_command(
    event: SlackCommandEvent,
    _client: Arc<super::SlackApiClient>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<SlackCommandEventResponse> {
    let adapter = adapter_of(&states)
        .await
        .ok_or("Slack adapter state missing")?;
    Ok(adapter.on_command(event).await)
}

async fn on_interaction(
    event: SlackInteractionEvent,
    _client: Arc<super::SlackApiClient>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<SlackInteractionResponse> {
    let adapter = adapter_of(&states)
        .await
        .ok_or("Slack adapter state missing")?;
    Ok(adapter.on_interaction(event).await?)
}

async fn on_push(
    event: SlackPushEventCallback,
    _client: Arc<super::SlackApiClient>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    let adapter = adapter_of(&states)
        .await
        .ok_or("Slack adapter state missing")?;
    Ok(adapter.on_push(event).await?)
}

/// Failures leave the envelope unacknowledged (a non-2xx status), so Slack
/// delivers it again; events are idempotent, so that is safe.
fn on_error(
    err: Box<dyn std::error::Error + Send + Sync>,
    _client: Arc<super::SlackApiClient>,
    _states: SlackClientEventsUserState,
) -> HttpStatusCode {
    tracing::warn!(error = %err, "Slack Socket Mode event not handled; leaving it for redelivery");
    HttpStatusCode::INTERNAL_SERVER_ERROR
}

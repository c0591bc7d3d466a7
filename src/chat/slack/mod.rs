//! The Slack adapter, on `slack-morphism`: Socket Mode or HTTP mode in,
//! Block Kit out. It translates Slack's payloads into commands for the
//! engine and renders the engine's messages; no business rule lives here.

mod blocks;
mod delivery;
mod events;
mod http;
pub mod manifest;
mod people;
mod socket;

use std::sync::Arc;

use slack_morphism::prelude::*;

use crate::chat::in_flight::{Busy, InFlight};
use crate::chat::outbound::OutboxWorker;
use crate::commands::Engine;
use crate::config::{SlackConfig, SlackMode};
use crate::lifecycle::Shutdown;
use crate::proxy::{ProxyConnector, ProxySettings};

pub use delivery::SlackDelivery;
pub use http::routes;

/// Why the Slack adapter could not start.
#[derive(Debug, thiserror::Error)]
pub enum SlackError {
    #[error("Slack is not configured: {0}")]
    NotConfigured(&'static str),
    #[error("cannot build the HTTPS connector: {0}")]
    Connector(#[from] std::io::Error),
    #[error("Slack API call failed: {0}")]
    Api(#[from] slack_morphism::errors::SlackClientError),
}

/// The running Slack adapter, shared by its HTTP routes, Socket Mode
/// callbacks and outbox worker.
#[derive(Clone)]
pub struct SlackAdapter {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    client: Arc<SlackApiClient>,
    bot_token: SlackApiToken,
    config: SlackConfig,
    people: people::People,
    /// The bot's own user id, learnt from `auth.test`, to ignore its own messages.
    bot_user: tokio::sync::OnceCell<SlackUserId>,
    /// Commands, interactions and events being handled right now, including
    /// slash commands still running after Slack got "working on it".
    in_flight: InFlight,
}

impl std::fmt::Debug for SlackAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackAdapter")
            .field("mode", &self.inner.config.mode)
            .field("api_url", &self.inner.config.api_url)
            .finish_non_exhaustive()
    }
}

/// The Slack Web API client, over the bot's one outbound connector (TLS,
/// and the outbound proxy when one is configured).
pub type SlackApiClient =
    SlackClient<SlackClientHyperConnector<hyper_rustls::HttpsConnector<ProxyConnector>>>;

/// A Slack Web API client for `api_url`, through `proxy`. The connector
/// speaks plain HTTP as well as HTTPS so tests can point it at a local fake.
pub fn client(api_url: &str, proxy: ProxySettings) -> Result<Arc<SlackApiClient>, SlackError> {
    let https = crate::proxy::https_connector(proxy)?;
    let connector = SlackClientHyperConnector::with_connector(https).with_slack_api_url(api_url);
    Ok(Arc::new(SlackClient::new(connector)))
}

/// What `check-config --connect` learnt from Slack.
#[derive(Debug)]
pub struct SlackIdentity {
    /// The bot user and team the bot token belongs to (`auth.test`).
    pub bot: String,
    /// In Socket Mode: whether the app-level token may open a connection
    /// (`apps.connections.open`), or why not. `None` in HTTP mode.
    pub socket_mode: Option<Result<(), SlackError>>,
}

/// Asks Slack who the bot token belongs to and, in Socket Mode, whether the
/// app-level token is accepted, for `itsm-bot check-config --connect`. The
/// connection URL Socket Mode returns is not used (it expires unused).
pub async fn whoami(
    config: &SlackConfig,
    proxy: ProxySettings,
) -> Result<SlackIdentity, SlackError> {
    let token = config
        .bot_token
        .as_ref()
        .ok_or(SlackError::NotConfigured("no bot token"))?;
    let client = client(&config.api_url, proxy)?;
    let session_token = SlackApiToken::new(token.expose().into());
    let session = client.open_session(&session_token);
    let me = session.auth_test().await?;
    let socket_mode = match (&config.mode, &config.app_token) {
        (SlackMode::Socket, Some(app_token)) => {
            let app_token = SlackApiToken::new(app_token.expose().into());
            let session = client.open_session(&app_token);
            Some(
                session
                    .apps_connections_open(&SlackApiAppsConnectionOpenRequest::new())
                    .await
                    .map(|_| ())
                    .map_err(SlackError::from),
            )
        }
        (SlackMode::Socket, None) => Some(Err(SlackError::NotConfigured(
            "Socket Mode needs an app-level token",
        ))),
        (SlackMode::Http, _) => None,
    };
    Ok(SlackIdentity {
        bot: format!("bot user {} in team {}", me.user_id, me.team_id),
        socket_mode,
    })
}

impl SlackAdapter {
    /// Builds the adapter for `engine` from `config`; its Web API calls go
    /// through `proxy`.
    pub fn new(
        engine: Engine,
        config: &SlackConfig,
        proxy: ProxySettings,
    ) -> Result<Self, SlackError> {
        let token = config
            .bot_token
            .as_ref()
            .ok_or(SlackError::NotConfigured("no bot token"))?;
        let client = client(&config.api_url, proxy)?;
        let bot_token = SlackApiToken::new(token.expose().into());
        Ok(SlackAdapter {
            inner: Arc::new(Inner {
                people: people::People::new(client.clone(), bot_token.clone()),
                engine,
                client,
                bot_token,
                config: config.clone(),
                bot_user: tokio::sync::OnceCell::new(),
                in_flight: InFlight::default(),
            }),
        })
    }

    /// Runs the outbox worker and, in Socket Mode, the listener, until
    /// shutdown.
    pub async fn run(self, shutdown: Shutdown) -> Result<(), SlackError> {
        self.learn_bot_user().await;
        let engine = &self.inner.engine;
        let worker = OutboxWorker::new(
            engine.store().clone(),
            Arc::new(SlackDelivery::new(
                self.inner.client.clone(),
                self.inner.bot_token.clone(),
                self.inner.people.clone(),
            )),
            engine.clock(),
            engine.outbox_signal(),
            engine.config().clone(),
            engine.metrics().clone(),
        );
        // The worker's last flush waits for the app's last step *and* for
        // the commands still being handled here, so their cards go out too.
        let (flush, flush_signal) = Shutdown::new();
        let outbox = tokio::spawn(worker.run(flush_signal));
        let mut final_step = shutdown.clone();
        let result = match self.inner.config.mode {
            SlackMode::Socket => socket::run(self.clone(), shutdown).await,
            SlackMode::Http => {
                let mut shutdown = shutdown;
                shutdown.wait().await;
                Ok(())
            }
        };
        self.inner.in_flight.idle().await;
        final_step.wait_final().await;
        flush.trigger();
        let _ = outbox.await;
        result
    }

    /// Marks a command or event as being handled until the guard is dropped.
    pub(crate) fn busy(&self) -> Busy {
        self.inner.in_flight.start()
    }

    /// Asks Slack who the bot is, so its own messages can be ignored. A
    /// failure is logged, not fatal: messages with a `bot_id` are ignored anyway.
    async fn learn_bot_user(&self) {
        let session = self.inner.client.open_session(&self.inner.bot_token);
        match session.auth_test().await {
            Ok(me) => {
                tracing::info!(bot_user = %me.user_id, team = %me.team_id, "connected to Slack");
                let _ = self.inner.bot_user.set(me.user_id);
            }
            Err(err) => tracing::warn!(error = %err, "Slack auth.test failed"),
        }
    }
}

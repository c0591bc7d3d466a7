//! The Discord adapter, on `serenity`: the gateway in, embeds and buttons
//! out. It maps application commands, buttons and forms onto the shared
//! command language; no business rule lives here.

mod commands;
mod delivery;
mod events;
mod render;

use std::sync::Arc;

use serenity::all::{ClientBuilder, GatewayIntents, Http, HttpBuilder};

use crate::app::Shutdown;
use crate::chat::outbound::OutboxWorker;
use crate::commands::Engine;
use crate::config::DiscordConfig;

pub use delivery::DiscordDelivery;

/// Why the Discord adapter could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum DiscordError {
    #[error("Discord is not configured: {0}")]
    NotConfigured(&'static str),
    #[error("Discord client failed: {0}")]
    Client(Box<serenity::Error>),
}

/// The running Discord adapter.
#[derive(Clone)]
pub struct DiscordAdapter {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    http: Arc<Http>,
    config: DiscordConfig,
}

impl From<serenity::Error> for DiscordError {
    fn from(err: serenity::Error) -> Self {
        DiscordError::Client(Box::new(err))
    }
}

impl std::fmt::Debug for DiscordAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscordAdapter")
            .field("api_url", &self.inner.config.api_url)
            .finish_non_exhaustive()
    }
}

/// The intents the bot needs: guilds, messages (with content, for intake
/// channels and thread replies), reactions and direct messages.
fn intents() -> GatewayIntents {
    GatewayIntents::GUILDS
        | GatewayIntents::GUILD_MESSAGES
        | GatewayIntents::MESSAGE_CONTENT
        | GatewayIntents::GUILD_MESSAGE_REACTIONS
        | GatewayIntents::DIRECT_MESSAGES
}

/// A REST client for `config`. Off discord.com (a local fake), serenity's
/// rate limiter is turned off: it would send its own requests to the real
/// Discord instead of the proxy.
fn http(config: &DiscordConfig, token: &str) -> Http {
    let mut builder = HttpBuilder::new(token);
    if config.api_url.trim_end_matches('/') != "https://discord.com" {
        builder = builder
            .proxy(config.api_url.trim_end_matches('/'))
            .ratelimiter_disabled(true);
    }
    builder.build()
}

impl DiscordAdapter {
    /// Builds the adapter for `engine` from `config`.
    pub fn new(engine: Engine, config: &DiscordConfig) -> Result<Self, DiscordError> {
        let token = config
            .token
            .as_ref()
            .ok_or(DiscordError::NotConfigured("no bot token"))?;
        Ok(DiscordAdapter {
            inner: Arc::new(Inner {
                http: Arc::new(http(config, token.expose())),
                engine,
                config: config.clone(),
            }),
        })
    }

    /// Connects to the gateway and runs the outbox worker until shutdown.
    /// serenity reconnects and resumes by itself after dropped connections.
    pub async fn run(self, mut shutdown: Shutdown) -> Result<(), DiscordError> {
        let token = self
            .inner
            .config
            .token
            .as_ref()
            .ok_or(DiscordError::NotConfigured("no bot token"))?;
        let engine = &self.inner.engine;
        let worker = OutboxWorker::new(
            engine.store().clone(),
            Arc::new(DiscordDelivery::new(
                self.inner.http.clone(),
                self.inner.config.incident_threads,
            )),
            engine.clock(),
            engine.outbox_signal(),
            engine.config().clone(),
        );
        let outbox = tokio::spawn(worker.run(shutdown.clone()));
        let mut client =
            ClientBuilder::new_with_http(http(&self.inner.config, token.expose()), intents())
                .event_handler(events::Handler::new(self.clone()))
                .await?;
        let shards = client.shard_manager.clone();
        let gateway = tokio::spawn(async move { client.start().await });
        tracing::info!("Discord gateway connecting");
        tokio::select! {
            () = shutdown.wait() => {
                shards.shutdown_all().await;
            }
            finished = gateway => {
                // The gateway only ends by itself on a fatal error (a bad
                // token, intents not granted): stop and say so.
                outbox.abort();
                return match finished {
                    Ok(Err(err)) => Err(err.into()),
                    Ok(Ok(())) => Err(DiscordError::NotConfigured("the gateway connection ended")),
                    Err(_) => Err(DiscordError::NotConfigured("the gateway task failed")),
                };
            }
        }
        let _ = outbox.await;
        Ok(())
    }
}

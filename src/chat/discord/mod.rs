//! The Discord adapter, on `serenity`: the gateway in, embeds and buttons
//! out. It maps application commands, buttons and forms onto the shared
//! command language; no business rule lives here.

mod commands;
mod delivery;
mod events;
pub mod invite;
mod render;

use std::sync::Arc;
use std::time::Duration;

use serenity::all::{ClientBuilder, GatewayIntents, Http, HttpBuilder, ShardManager};

use crate::chat::in_flight::{Busy, InFlight};
use crate::chat::outbound::OutboxWorker;
use crate::commands::Engine;
use crate::config::{DiscordConfig, ProxyUrl};
use crate::lease::{Lease, LeaseEnd, LeaseTiming};
use crate::lifecycle::Shutdown;

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
    /// Gateway events being handled right now. serenity runs each in a task
    /// of its own that closing the gateway does not wait for, so shutdown
    /// waits on this count instead.
    in_flight: InFlight,
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
/// Discord instead of the proxy. (serenity's "proxy" is a base URL that
/// replaces discord.com, not an outbound proxy.)
///
/// The outbound proxy: serenity's reqwest client reads `HTTPS_PROXY`,
/// `HTTP_PROXY` and `NO_PROXY` by itself; `http.proxy`, when set, is given
/// to a client built here. The gateway WebSocket connects directly either
/// way: serenity offers no proxy for it.
fn http(config: &DiscordConfig, token: &str, proxy: Option<&ProxyUrl>) -> Http {
    let mut builder = HttpBuilder::new(token);
    if config.api_url.trim_end_matches('/') != "https://discord.com" {
        builder = builder
            .proxy(config.api_url.trim_end_matches('/'))
            .ratelimiter_disabled(true);
    }
    if let Some(client) = proxy.and_then(proxied_client) {
        builder = builder.client(client);
    }
    builder.build()
}

/// A reqwest client through `proxy` (with `NO_PROXY` from the environment),
/// as serenity would build it otherwise (rustls). `None` (and a warning
/// without the URL's credentials) when the URL is unusable, which config
/// validation already refuses.
fn proxied_client(proxy: &ProxyUrl) -> Option<reqwest::Client> {
    let built = reqwest::Proxy::all(proxy.expose().trim()).and_then(|p| {
        reqwest::Client::builder()
            .use_rustls_tls()
            .proxy(p.no_proxy(reqwest::NoProxy::from_env()))
            .build()
    });
    match built {
        Ok(client) => Some(client),
        Err(_) => {
            tracing::warn!(proxy = %proxy.redacted(), "cannot use http.proxy for Discord; connecting directly");
            None
        }
    }
}

/// Who the bot token belongs to (`GET /users/@me`), for `itsm-bot
/// check-config --connect`: the bot's name and id.
pub async fn whoami(
    config: &DiscordConfig,
    proxy: Option<&ProxyUrl>,
) -> Result<String, DiscordError> {
    let token = config
        .token
        .as_ref()
        .ok_or(DiscordError::NotConfigured("no bot token"))?;
    let me = http(config, token.expose(), proxy)
        .get_current_user()
        .await?;
    Ok(format!("{} ({})", me.name, me.id))
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
                http: Arc::new(http(
                    config,
                    token.expose(),
                    engine.config().http.proxy.as_ref(),
                )),
                engine,
                config: config.clone(),
                in_flight: InFlight::default(),
            }),
        })
    }

    /// Runs the outbox worker and, while this replica holds the gateway
    /// lease, the gateway connection, until shutdown. serenity reconnects
    /// and resumes by itself after dropped connections.
    ///
    /// Only one replica may hold the gateway: two connections would each
    /// receive, and answer, every event. The outbox worker runs on every
    /// replica all the same: it only uses REST, and `FOR UPDATE SKIP
    /// LOCKED` already gives each row to one worker, so standbys share the
    /// delivery load and cards keep going out while the gateway changes hands.
    pub async fn run(self, shutdown: Shutdown) -> Result<(), DiscordError> {
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
            engine.metrics().clone(),
        );
        // The worker's last flush waits for the app's last step *and* for
        // the gateway events still being handled here, so their cards go out too.
        let (flush, flush_signal) = Shutdown::new();
        let outbox = tokio::spawn(worker.run(flush_signal));
        let mut final_step = shutdown.clone();
        let lease = Lease::new(
            engine.store().clone(),
            GATEWAY_LEASE,
            LeaseTiming::for_failover(Duration::from_secs(self.inner.config.failover_seconds)),
        );
        let result = self.gateway_while_leased(token, &lease, shutdown).await;
        match result {
            Ok(()) => {
                self.inner.in_flight.idle().await;
                final_step.wait_final().await;
                flush.trigger();
                let _ = outbox.await;
            }
            Err(_) => outbox.abort(),
        }
        result
    }

    /// Marks a gateway event as being handled until the guard is dropped.
    pub(crate) fn busy(&self) -> Busy {
        self.inner.in_flight.start()
    }

    /// Waits for the lease, connects while holding it, disconnects when it
    /// is lost (then waits for it again) and hands it back on shutdown.
    async fn gateway_while_leased(
        &self,
        token: &crate::config::Secret,
        lease: &Lease,
        mut shutdown: Shutdown,
    ) -> Result<(), DiscordError> {
        loop {
            let Some(valid_until) = lease.acquire(&mut shutdown).await else {
                return Ok(());
            };
            // Building the client asks Discord for the gateway URL; a
            // Discord that does not answer must not hold up shutdown.
            let builder = ClientBuilder::new_with_http(
                http(
                    &self.inner.config,
                    token.expose(),
                    self.inner.engine.config().http.proxy.as_ref(),
                ),
                intents(),
            )
            .event_handler(events::Handler::new(self.clone()));
            let client = tokio::select! {
                client = builder => client,
                () = shutdown.wait() => {
                    lease.release().await;
                    return Ok(());
                }
            };
            let mut client = match client {
                Ok(client) => client,
                Err(err) => {
                    lease.release().await;
                    return Err(err.into());
                }
            };
            let shards = client.shard_manager.clone();
            let mut gateway = tokio::spawn(async move { client.start().await });
            tracing::info!(holder = lease.holder(), "Discord gateway connecting");
            let end = tokio::select! {
                end = lease.hold(valid_until, &mut shutdown) => end,
                finished = &mut gateway => {
                    // The gateway only ends by itself on a fatal error (a
                    // bad token, intents not granted): stop and say so, and
                    // let a standby try.
                    lease.release().await;
                    return match finished {
                        Ok(Err(err)) => Err(err.into()),
                        Ok(Ok(())) => Err(DiscordError::NotConfigured("the gateway connection ended")),
                        Err(_) => Err(DiscordError::NotConfigured("the gateway task failed")),
                    };
                }
            };
            stop_gateway(&shards, gateway).await;
            match end {
                LeaseEnd::Stopping => {
                    // Closed first, released second: the standby connects
                    // only once this connection is gone.
                    tracing::info!("Discord gateway closed");
                    lease.release().await;
                    return Ok(());
                }
                LeaseEnd::Lost => {
                    tracing::warn!("Discord gateway closed: the lease was lost; standing by");
                }
            }
        }
    }
}

/// The lease that decides which replica holds the Discord gateway.
pub const GATEWAY_LEASE: &str = "discord-gateway";

/// How long closing the gateway may take before its task is abandoned.
const GATEWAY_STOP: Duration = Duration::from_secs(10);

/// Closes the gateway connection and waits for the client to return.
/// `shutdown_all` does nothing while the shard is still being started, so
/// it is repeated until the client has returned.
async fn stop_gateway(
    shards: &Arc<ShardManager>,
    mut gateway: tokio::task::JoinHandle<serenity::Result<()>>,
) {
    let deadline = tokio::time::Instant::now() + GATEWAY_STOP;
    loop {
        shards.shutdown_all().await;
        if tokio::time::timeout(Duration::from_millis(250), &mut gateway)
            .await
            .is_ok()
        {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            tracing::warn!("the Discord gateway did not close in time; abandoning it");
            gateway.abort();
            return;
        }
    }
}

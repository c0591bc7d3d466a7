//! Startup: opens the store, builds the engine, and runs the adapters and
//! the HTTP server until shutdown.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::chat::discord::DiscordAdapter;
use crate::chat::shell::{self, ShellSession};
use crate::chat::slack::{routes as slack_routes, SlackAdapter};
use crate::clock::{Clock, SystemClock};
use crate::commands::Engine;
use crate::config::{Config, SlackMode};
use crate::http::{router, HttpState};
use crate::store::{self, Store, StoreError};

/// Why the bot could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Slack(#[from] crate::chat::slack::SlackError),
    #[error(transparent)]
    Discord(#[from] crate::chat::discord::DiscordError),
}

/// A signal that tells every task to finish what it is doing and stop.
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

/// The sending side of [`Shutdown`].
#[derive(Debug, Clone)]
pub struct ShutdownTrigger(Arc<watch::Sender<bool>>);

impl Shutdown {
    /// A new signal and its trigger.
    pub fn new() -> (ShutdownTrigger, Shutdown) {
        let (tx, rx) = watch::channel(false);
        (ShutdownTrigger(Arc::new(tx)), Shutdown(rx))
    }

    /// Waits until shutdown is triggered (or the trigger is dropped).
    pub async fn wait(&mut self) {
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}

impl ShutdownTrigger {
    /// Tells every holder of the [`Shutdown`] to stop.
    pub fn trigger(&self) {
        let _ = self.0.send(true);
    }
}

/// The running parts of the bot.
#[derive(Debug, Clone)]
pub struct App {
    pub config: Arc<Config>,
    pub store: Store,
    pub engine: Engine,
}

impl App {
    /// Creates the database if needed, applies migrations, seeds the
    /// service catalog from config and builds the engine.
    pub async fn open(config: Config) -> Result<App, AppError> {
        let store = Store::open(&config.database).await?;
        Self::with_store(config, store, Arc::new(SystemClock)).await
    }

    /// Builds the app over an open store (tests bring their own).
    pub async fn with_store(
        config: Config,
        store: Store,
        clock: Arc<dyn Clock>,
    ) -> Result<App, AppError> {
        store::services::sync_catalog(store.pool(), &config.services).await?;
        let config = Arc::new(config);
        let engine = Engine::new(store.clone(), config.clone(), clock);
        Ok(App {
            config,
            store,
            engine,
        })
    }

    /// Like [`App::open`], but while the database is unreachable keeps
    /// trying until it answers or shutdown is triggered.
    pub async fn open_patiently(
        config: Config,
        shutdown: &mut Shutdown,
    ) -> Result<Option<App>, AppError> {
        let mut delay = Duration::from_millis(500);
        loop {
            match App::open(config.clone()).await {
                Ok(app) => return Ok(Some(app)),
                Err(AppError::Store(StoreError::Unavailable(err))) => {
                    tracing::warn!(error = %err, retry_in = ?delay, "database unavailable at start; retrying");
                }
                Err(other) => return Err(other),
            }
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = shutdown.wait() => return Ok(None),
            }
            delay = (delay * 2).min(Duration::from_secs(10));
        }
    }

    /// Runs the HTTP server and, when standard input is a terminal, the
    /// shell adapter, until `shutdown` fires (or the shell's input ends).
    /// In-flight requests finish before it returns.
    pub async fn serve(
        &self,
        shell_session: Option<ShellSession>,
        shutdown: Shutdown,
        trigger: ShutdownTrigger,
    ) -> Result<(), AppError> {
        let mut tasks = tokio::task::JoinSet::new();
        let slack = if self.config.slack.enabled() {
            let adapter = SlackAdapter::new(self.engine.clone(), &self.config.slack)?;
            let stop = shutdown.clone();
            let runner = adapter.clone();
            tasks.spawn(async move {
                runner.run(stop).await?;
                Ok("Slack adapter")
            });
            Some(adapter)
        } else {
            None
        };
        if self.config.discord.enabled() {
            let adapter = DiscordAdapter::new(self.engine.clone(), &self.config.discord)?;
            let stop = shutdown.clone();
            tasks.spawn(async move {
                adapter.run(stop).await?;
                Ok("Discord adapter")
            });
        }
        if self.config.scheduler.enabled {
            let engine = self.engine.clone();
            let stop = shutdown.clone();
            let sink = shell_session.as_ref().map(|_| {
                let (sink, posts) = tokio::sync::mpsc::unbounded_channel();
                shell::print_posts(posts);
                sink
            });
            tasks.spawn(async move {
                crate::scheduler::run(engine, stop, sink).await;
                Ok("scheduler")
            });
        }
        if self.config.http.enabled {
            let addr = self.config.http.bind;
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| AppError::Bind { addr, source })?;
            tracing::info!(%addr, "HTTP server listening");
            let mut app = router(HttpState::new(self.engine.clone()));
            if let (Some(adapter), SlackMode::Http) = (&slack, self.config.slack.mode) {
                let limit = crate::http::body_limit(&HttpState::new(self.engine.clone()));
                app = app.merge(slack_routes(adapter.clone()).layer(limit));
            }
            let mut stop = shutdown.clone();
            tasks.spawn(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(async move { stop.wait().await })
                    .await
                    .map_err(AppError::from)?;
                Ok("HTTP server")
            });
        }
        if let Some(session) = shell_session {
            let engine = self.engine.clone();
            let stop = shutdown.clone();
            tasks.spawn(async move {
                let input = tokio::io::BufReader::new(tokio::io::stdin());
                shell::run(&engine, &session, input, tokio::io::stdout(), stop).await?;
                Ok("shell")
            });
        }
        let mut stop = shutdown.clone();
        let mut result = Ok(());
        loop {
            tokio::select! {
                () = stop.wait() => break,
                finished = tasks.join_next() => match finished {
                    None => break,
                    Some(Ok(Ok(task))) => {
                        // The shell's input ended (the person at the terminal
                        // is done) or a server stopped by itself.
                        tracing::info!(task, "finished; shutting down");
                        trigger.trigger();
                    }
                    Some(Ok(Err(err))) => {
                        result = Err(err);
                        trigger.trigger();
                    }
                    Some(Err(join)) => {
                        tracing::error!(error = %join, "task failed");
                        trigger.trigger();
                    }
                },
            }
        }
        while let Some(finished) = tasks.join_next().await {
            if let Ok(Err(err)) = finished {
                tracing::warn!(error = %err, "task ended with an error during shutdown");
            }
        }
        self.store.close().await;
        tracing::info!("stopped");
        result
    }
}

/// Whether `serve` should run the shell adapter.
pub fn wants_shell(config: &Config) -> bool {
    config.shell.enabled && std::io::stdin().is_terminal()
}

/// Resolves when SIGINT or SIGTERM arrives.
pub async fn termination_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

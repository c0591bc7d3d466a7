//! Startup: opens the store, builds the engine, and runs the adapters and
//! the HTTP server until shutdown.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use crate::chat::discord::DiscordAdapter;
use crate::chat::shell::{self, ShellSession};
use crate::chat::slack::{routes as slack_routes, SlackAdapter};
use crate::clock::{Clock, SystemClock};
use crate::commands::Engine;
use crate::config::{Config, SlackMode};
use crate::http::{router, HttpState};
use crate::lifecycle::{Shutdown, ShutdownTrigger};
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
    #[error(transparent)]
    Paging(#[from] crate::paging::PagingError),
    #[error(transparent)]
    Calls(#[from] crate::automation::CallError),
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

    /// Runs the HTTP server, the chat adapters, the scheduler and, when
    /// standard input is a terminal, the shell adapter, until `shutdown`
    /// begins (or the shell's input ends), then shuts down gracefully within
    /// `shutdown.grace_seconds`:
    ///
    /// 1. everything stops taking new work: the HTTP server stops accepting,
    ///    Socket Mode and the Discord gateway close, leases are handed back;
    /// 2. in-flight HTTP requests and commands finish;
    /// 3. the outbox workers deliver what is due one last time;
    /// 4. whatever is still running when the grace period ends is abandoned
    ///    and named in the log, so the process never hangs.
    pub async fn serve(
        &self,
        shell_session: Option<ShellSession>,
        shutdown: Shutdown,
        trigger: ShutdownTrigger,
    ) -> Result<(), AppError> {
        let mut tasks = Tasks::default();
        let proxy = crate::proxy::ProxySettings::new(self.config.http.proxy.as_ref());
        if let Some(described) = proxy.describe() {
            // Credentials are replaced by *** in the description.
            tracing::info!(
                proxy = described,
                "outbound HTTP goes through a proxy (NO_PROXY applies)"
            );
        }
        let slack = if self.config.slack.enabled() {
            let adapter =
                SlackAdapter::new(self.engine.clone(), &self.config.slack, proxy.clone())?;
            let stop = shutdown.clone();
            let runner = adapter.clone();
            tasks.spawn("Slack adapter", false, async move {
                runner.run(stop).await?;
                Ok(())
            });
            Some(adapter)
        } else {
            None
        };
        if self.config.discord.enabled() {
            let adapter = DiscordAdapter::new(self.engine.clone(), &self.config.discord)?;
            let stop = shutdown.clone();
            tasks.spawn("Discord adapter", false, async move {
                adapter.run(stop).await?;
                Ok(())
            });
        }
        if let Some(worker) = crate::paging::PagingWorker::new(&self.engine)? {
            let stop = shutdown.clone();
            // Like the outbox workers, it delivers until the final flush.
            tasks.spawn("paging hook", false, async move {
                worker.run(stop).await;
                Ok(())
            });
        }
        {
            let worker = crate::automation::CallWorker::new(&self.engine)?;
            let stop = shutdown.clone();
            tasks.spawn("outbound calls", false, async move {
                worker.run(stop).await;
                Ok(())
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
            tasks.spawn("scheduler", true, async move {
                crate::scheduler::run(engine, stop, sink).await;
                Ok(())
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
                let state = HttpState::new(self.engine.clone());
                app = app.merge(crate::http::limit_body(
                    slack_routes(adapter.clone()),
                    &state,
                ));
            }
            let mut stop = shutdown.clone();
            tasks.spawn("HTTP server", true, async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(async move { stop.wait().await })
                    .await
                    .map_err(AppError::from)?;
                Ok(())
            });
        }
        if let Some(session) = shell_session {
            let engine = self.engine.clone();
            let stop = shutdown.clone();
            tasks.spawn("shell", true, async move {
                let input = tokio::io::BufReader::new(tokio::io::stdin());
                shell::run(&engine, &session, input, tokio::io::stdout(), stop).await?;
                Ok(())
            });
        }
        let mut stop = shutdown.clone();
        let mut result = Ok(());
        while !tasks.is_empty() {
            tokio::select! {
                () = stop.wait() => break,
                finished = tasks.join_next() => {
                    match finished {
                        (task, Ok(())) => {
                            // The shell's input ended (the person at the
                            // terminal is done) or a server stopped by itself.
                            tracing::info!(task, "finished; shutting down");
                        }
                        (task, Err(err)) => {
                            tracing::error!(task, error = %err, "failed; shutting down");
                            result = Err(err);
                        }
                    }
                    trigger.stop_intake();
                }
            }
        }
        trigger.stop_intake();
        let grace = Duration::from_secs(self.config.shutdown.grace_seconds);
        let deadline = tokio::time::Instant::now() + grace;
        tracing::info!(grace = ?grace, "shutting down: finishing in-flight work");
        // In-flight HTTP requests (slash commands, webhooks, API calls) end
        // with the HTTP server; the adapters meanwhile close their
        // connections and keep delivering the outbox.
        tasks.wait_until(deadline, true).await;
        trigger.trigger();
        tasks.wait_until(deadline, false).await;
        let abandoned = tasks.abandon();
        if !abandoned.is_empty() {
            tracing::warn!(
                tasks = ?abandoned,
                grace = ?grace,
                "grace period over; abandoning what is still running"
            );
        }
        let left = deadline
            .saturating_duration_since(tokio::time::Instant::now())
            .max(Duration::from_millis(500));
        match tokio::time::timeout(
            left,
            store::queue::pending(self.store.pool(), self.engine.clock().now()),
        )
        .await
        {
            Ok(Ok(0)) => {}
            Ok(Ok(pending)) => tracing::warn!(
                pending,
                "outbox messages left undelivered; another replica or the next start delivers them"
            ),
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "cannot count undelivered outbox messages")
            }
            Err(_) => tracing::warn!("counting undelivered outbox messages timed out"),
        }
        // Connections still checked out by abandoned work would keep
        // `close` waiting; the process exits after this either way.
        if tokio::time::timeout(left, self.store.close())
            .await
            .is_err()
        {
            tracing::warn!("database connections still in use at exit");
        }
        tracing::info!("stopped");
        result
    }
}

/// The running tasks of [`App::serve`], by name.
#[derive(Default)]
struct Tasks {
    set: tokio::task::JoinSet<Result<(), AppError>>,
    /// Name of each running task, and whether it takes work in (stops at
    /// [`Shutdown::wait`]) rather than delivering it.
    names: std::collections::HashMap<tokio::task::Id, (&'static str, bool)>,
}

impl Tasks {
    fn spawn(
        &mut self,
        name: &'static str,
        intake: bool,
        task: impl std::future::Future<Output = Result<(), AppError>> + Send + 'static,
    ) {
        let handle = self.set.spawn(task);
        self.names.insert(handle.id(), (name, intake));
    }

    fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    /// The next task to end, by name, with its result. Pending forever
    /// when none is left, like an idle branch of a `select!`.
    async fn join_next(&mut self) -> (&'static str, Result<(), AppError>) {
        match self.set.join_next_with_id().await {
            Some(Ok((id, result))) => (self.forget(id), result),
            Some(Err(join)) => {
                let name = self.forget(join.id());
                tracing::error!(task = name, error = %join, "task panicked");
                (name, Ok(()))
            }
            None => std::future::pending().await,
        }
    }

    fn forget(&mut self, id: tokio::task::Id) -> &'static str {
        self.names.remove(&id).map_or("task", |(name, _)| name)
    }

    /// Waits until every task (only the intake tasks, with `intake_only`)
    /// has ended, or `deadline` passes.
    async fn wait_until(&mut self, deadline: tokio::time::Instant, intake_only: bool) {
        loop {
            let waiting = self
                .names
                .values()
                .any(|(_, intake)| *intake || !intake_only);
            if !waiting || self.set.is_empty() {
                return;
            }
            match tokio::time::timeout_at(deadline, self.join_next()).await {
                Ok((task, Ok(()))) => tracing::debug!(task, "stopped"),
                Ok((task, Err(err))) => {
                    tracing::warn!(task, error = %err, "task ended with an error during shutdown")
                }
                Err(_) => return,
            }
        }
    }

    /// Aborts what is still running and names it.
    fn abandon(&mut self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self.names.drain().map(|(_, (name, _))| name).collect();
        names.sort_unstable();
        self.set.abort_all();
        names
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

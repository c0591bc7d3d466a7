#![allow(dead_code)] // Each test binary uses a different subset of the helpers.

//! A database that goes away: a TCP relay in front of the test's
//! PostgreSQL. The bot's pool connects through it; [`DbProxy::stop`] cuts
//! every relayed connection and stops accepting, so new connections are
//! refused and the pool waits out its `acquire_timeout`, as when the
//! database host is down.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

/// A relay to the test database; see the module documentation.
pub struct DbProxy {
    port: u16,
    tasks: Arc<Mutex<Vec<AbortHandle>>>,
}

impl DbProxy {
    /// Relays `127.0.0.1:<port>` to the server `pool` connects to.
    pub async fn start(pool: &PgPool) -> DbProxy {
        let options = pool.connect_options();
        let upstream = format!("{}:{}", options.get_host(), options.get_port());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let tasks: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let relays = tasks.clone();
        let accept = tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                let upstream = upstream.clone();
                let relay = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                relays
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(relay.abort_handle());
            }
        });
        tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(accept.abort_handle());
        DbProxy { port, tasks }
    }

    /// A pool on the same database as `pool`, through the relay, that gives
    /// up on a connection after `acquire_timeout`.
    pub fn pool(&self, pool: &PgPool, acquire_timeout: Duration) -> PgPool {
        let options: PgConnectOptions = (*pool.connect_options()).clone().port(self.port);
        PgPoolOptions::new()
            .max_connections(5)
            .acquire_timeout(acquire_timeout)
            .connect_lazy_with(options)
    }

    /// The database goes away: open connections are cut, new ones refused.
    pub fn stop(&self) {
        for task in self
            .tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            task.abort();
        }
    }
}

impl Drop for DbProxy {
    fn drop(&mut self) {
        self.stop();
    }
}

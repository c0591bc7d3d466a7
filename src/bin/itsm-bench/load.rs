//! A closed-loop load generator: `clients` tasks, each with its own
//! keep-alive connection, send one request after another until the phase's
//! time or request budget runs out. Every latency is kept (the budget bounds
//! the memory), so p50 and p99 are exact.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;

use crate::http::{Connection, Response};

/// How long and how much one phase may run.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub time: Duration,
    pub requests: u64,
}

/// What a phase measured.
#[derive(Debug, Clone)]
pub struct Measured {
    /// Requests answered as expected.
    pub ok: u64,
    pub elapsed: Duration,
    pub p50: Duration,
    pub p99: Duration,
}

impl Measured {
    /// Successful requests per second.
    pub fn per_second(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }
}

/// One request of the load: built from its sequence number, and checked.
pub trait Request: Send + Sync + 'static {
    /// Sends request number `n` on `connection`.
    fn send(
        &self,
        connection: &mut Connection,
        n: u64,
    ) -> impl std::future::Future<Output = anyhow::Result<Response>> + Send;

    /// Whether the answer is the expected success.
    fn check(&self, response: &Response) -> anyhow::Result<()>;
}

/// Runs `clients` closed-loop clients against `port` within `budget`. Any
/// failed request fails the phase: a benchmark of errors measures nothing.
pub async fn run<R: Request>(
    port: u16,
    clients: usize,
    budget: Budget,
    request: Arc<R>,
) -> anyhow::Result<Measured> {
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + budget.time;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let next = next.clone();
        let request = request.clone();
        tasks.spawn(async move {
            let mut connection = Connection::new(port);
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= budget.requests {
                    break;
                }
                let begun = Instant::now();
                let response = request.send(&mut connection, n).await?;
                latencies.push(begun.elapsed());
                request.check(&response)?;
            }
            anyhow::Ok(latencies)
        });
    }
    let mut latencies = Vec::new();
    while let Some(result) = tasks.join_next().await {
        latencies.extend(result??);
    }
    let elapsed = started.elapsed();
    if latencies.is_empty() {
        bail!("no request completed");
    }
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize];
    Ok(Measured {
        ok: latencies.len() as u64,
        elapsed,
        p50: at(0.5),
        p99: at(0.99),
    })
}

//! A lease that one replica holds at a time, for work that must not run
//! twice (the Discord gateway: two connections would receive, and answer,
//! every event twice).
//!
//! Why a lease row with a heartbeat and not a session-level advisory lock:
//! an advisory lock lives on one pooled connection. If that connection
//! breaks quietly (a network partition, a proxy such as PgBouncer in
//! transaction mode) the holder does not notice until it next asks, and the
//! server may keep the lock until TCP keepalive gives up, which can take far
//! longer than the failover time. A row with an expiry bounds both sides by
//! the clock instead: a standby may claim the row once its expiry (on the
//! database's clock) has passed, and the holder stops believing in its claim
//! a safety margin *before* that, counted from before its last renewal was
//! sent, so it has stopped by the time anyone else can start.
//!
//! Timing for a failover time `F`: every attempt (a renewal by the holder,
//! a claim by a standby) is `F/6` apart; a claim lasts `5·F/6`; the holder
//! gives up `2·F/6` before its claim expires, that is after two renewals in
//! a row failed. A holder that dies is replaced after at most `5·F/6` (its
//! last claim) plus `F/6` (the standby's next attempt), within `F`.
//!
//! The margin is what the holder has to close its connection before a
//! standby may open one. One attempt's spacing (`F/6`, the margin before
//! 2026-12-05) was not always enough: the holder notices on its own tick,
//! which a loaded machine runs late, and closing the Discord gateway takes
//! a while; the Discord lease test, which records any overlap, saw one.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use crate::lifecycle::Shutdown;
use crate::store::{self, Store, StoreError};

/// How a lease's claims and renewals are spaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseTiming {
    /// Between two attempts to claim or renew.
    pub every: Duration,
    /// How long a claim lasts on the database's clock.
    pub ttl: Duration,
    /// How long before its claim expires the holder gives up.
    pub margin: Duration,
}

impl LeaseTiming {
    /// The timing that hands the lease over within `failover` of the
    /// holder's death (see the module documentation).
    pub fn for_failover(failover: Duration) -> Self {
        let every = (failover / 6).max(Duration::from_millis(50));
        LeaseTiming {
            every,
            ttl: every * 5,
            margin: every * 2,
        }
    }
}

/// Why [`Lease::hold`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseEnd {
    /// The lease can no longer be counted on: another replica has it, or it
    /// could not be renewed in time. Stop the work now.
    Lost,
    /// Shutdown began; the lease is still held until [`Lease::release`].
    Stopping,
}

/// One replica's handle on a named lease.
#[derive(Debug, Clone)]
pub struct Lease {
    store: Store,
    name: String,
    holder: String,
    timing: LeaseTiming,
}

impl Lease {
    /// A handle on lease `name` with a holder id unique to this handle
    /// (host, process, a counter).
    pub fn new(store: Store, name: impl Into<String>, timing: LeaseTiming) -> Self {
        Lease {
            store,
            name: name.into(),
            holder: holder_id(),
            timing,
        }
    }

    /// The lease's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// This handle's holder id, as stored in the lease row.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// The timing it was made with.
    pub fn timing(&self) -> LeaseTiming {
        self.timing
    }

    /// Claims or renews the lease once. Returns until when (on this
    /// process's monotonic clock) the claim may be counted on, or `None`
    /// when another replica holds it.
    pub async fn try_claim(&self) -> Result<Option<Instant>, StoreError> {
        // Counted from before the request leaves: the database sets the
        // expiry later than that, so this replica always trusts its claim
        // for less time than a standby has to wait.
        let sent = Instant::now();
        let claimed =
            store::leases::claim(self.store.pool(), &self.name, &self.holder, self.timing.ttl)
                .await?;
        Ok(claimed.map(|_| sent + self.timing.ttl.saturating_sub(self.timing.margin)))
    }

    /// Waits until this replica holds the lease, trying every
    /// [`LeaseTiming::every`]. Returns until when the claim may be counted
    /// on, or `None` if shutdown began first.
    pub async fn acquire(&self, shutdown: &mut Shutdown) -> Option<Instant> {
        let mut standing_by = false;
        loop {
            if shutdown.is_triggered() {
                return None;
            }
            match tokio::time::timeout(self.timing.every, self.try_claim()).await {
                Ok(Ok(Some(until))) => {
                    tracing::info!(lease = %self.name, holder = %self.holder, "lease acquired");
                    return Some(until);
                }
                Ok(Ok(None)) => {
                    if !standing_by {
                        standing_by = true;
                        let current = store::leases::current(self.store.pool(), &self.name)
                            .await
                            .ok()
                            .flatten()
                            .map(|held| held.holder);
                        tracing::info!(lease = %self.name, holder = ?current, "another replica holds the lease; standing by");
                    }
                }
                Ok(Err(err)) => {
                    tracing::warn!(lease = %self.name, error = %err, "cannot claim the lease")
                }
                Err(_) => tracing::warn!(lease = %self.name, "claiming the lease timed out"),
            }
            tokio::select! {
                () = tokio::time::sleep(self.timing.every) => {}
                () = shutdown.wait() => return None,
            }
        }
    }

    /// Renews the lease every [`LeaseTiming::every`] while it is held and
    /// returns when it is lost or shutdown begins. `valid_until` is what
    /// [`Lease::try_claim`] or [`Lease::acquire`] returned.
    pub async fn hold(&self, mut valid_until: Instant, shutdown: &mut Shutdown) -> LeaseEnd {
        loop {
            tokio::select! {
                () = tokio::time::sleep(self.timing.every) => {}
                () = shutdown.wait() => return LeaseEnd::Stopping,
            }
            let left = valid_until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                tracing::warn!(lease = %self.name, "lease could not be renewed in time; giving it up");
                return LeaseEnd::Lost;
            }
            // An attempt may not outlast the claim: a database that hangs
            // must not keep this replica working past its lease.
            match tokio::time::timeout(left.min(self.timing.every), self.try_claim()).await {
                Ok(Ok(Some(until))) => valid_until = until,
                Ok(Ok(None)) => {
                    tracing::warn!(lease = %self.name, "another replica took the lease");
                    return LeaseEnd::Lost;
                }
                Ok(Err(err)) => {
                    tracing::warn!(lease = %self.name, error = %err, "cannot renew the lease")
                }
                Err(_) => tracing::warn!(lease = %self.name, "renewing the lease timed out"),
            }
            if Instant::now() >= valid_until {
                tracing::warn!(lease = %self.name, "lease could not be renewed in time; giving it up");
                return LeaseEnd::Lost;
            }
        }
    }

    /// Gives the lease back so a standby takes over at its next attempt
    /// instead of waiting for the claim to expire. Failures are logged: the
    /// claim then simply expires.
    pub async fn release(&self) {
        let released = tokio::time::timeout(
            self.timing.ttl,
            store::leases::release(self.store.pool(), &self.name, &self.holder),
        )
        .await;
        match released {
            Ok(Ok(true)) => tracing::info!(lease = %self.name, "lease released"),
            Ok(Ok(false)) => {}
            Ok(Err(err)) => {
                tracing::warn!(lease = %self.name, error = %err, "cannot release the lease; it will expire")
            }
            Err(_) => {
                tracing::warn!(lease = %self.name, "releasing the lease timed out; it will expire")
            }
        }
    }
}

/// `host:pid:n`: unique per handle, readable in the `leases` table.
fn holder_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|name| name.trim().chars().take(100).collect::<String>())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "unknown-host".into());
    // The start time keeps a restarted process with a reused pid distinct.
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!(
        "{host}:{}:{started:x}:{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

//! Counting chat events that are being handled, so shutdown can wait for
//! them: the platform libraries run each event in a task of its own that
//! closing the connection does not wait for.

use tokio::sync::watch;

/// How many events an adapter is handling right now.
#[derive(Debug, Clone)]
pub struct InFlight(watch::Sender<usize>);

/// One event in flight; dropping it counts the event as done.
#[derive(Debug)]
pub struct Busy(watch::Sender<usize>);

impl Default for InFlight {
    fn default() -> Self {
        InFlight(watch::Sender::new(0))
    }
}

impl InFlight {
    /// Counts one more event until the returned guard is dropped.
    pub fn start(&self) -> Busy {
        self.0.send_modify(|n| *n += 1);
        Busy(self.0.clone())
    }

    /// How many events are in flight.
    pub fn count(&self) -> usize {
        *self.0.borrow()
    }

    /// Waits until no event is in flight.
    pub async fn idle(&self) {
        let mut count = self.0.subscribe();
        let _ = count.wait_for(|n| *n == 0).await;
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

//! Shutdown as a signal every long-running task holds: the adapters, the
//! workers and the scheduler stop on it, and the composition root (`app`)
//! pulls it. It lives below all of them so that none has to import `app`.

use std::sync::Arc;

use tokio::sync::watch;

/// How far shutdown has got. Stages only move forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Running,
    /// Stop taking new work; finish what is in flight.
    Stopping,
    /// In-flight work is done (or abandoned): flush the outbox one last time
    /// and return.
    Finishing,
}

/// A signal that tells every task to finish what it is doing and stop.
///
/// Shutdown has two steps. [`Shutdown::wait`] fires first: stop taking new
/// work (close listeners and gateways, hand back leases) and finish what is
/// in flight. [`Shutdown::wait_final`] fires once that is done: the outbox
/// workers then deliver what is due one last time and return. Dropping every
/// trigger counts as both.
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<Stage>);

/// The sending side of [`Shutdown`].
#[derive(Debug, Clone)]
pub struct ShutdownTrigger(Arc<watch::Sender<Stage>>);

impl Shutdown {
    /// A new signal and its trigger.
    pub fn new() -> (ShutdownTrigger, Shutdown) {
        let (tx, rx) = watch::channel(Stage::Running);
        (ShutdownTrigger(Arc::new(tx)), Shutdown(rx))
    }

    /// Waits until shutdown begins (or the trigger is dropped): stop taking
    /// new work.
    pub async fn wait(&mut self) {
        let _ = self.0.wait_for(|stage| *stage >= Stage::Stopping).await;
    }

    /// Waits until in-flight work is done and only flushing is left (or the
    /// trigger is dropped).
    pub async fn wait_final(&mut self) {
        let _ = self.0.wait_for(|stage| *stage >= Stage::Finishing).await;
    }

    /// Whether shutdown has begun (or the trigger is gone).
    pub fn is_triggered(&self) -> bool {
        *self.0.borrow() >= Stage::Stopping || self.0.has_changed().is_err()
    }
}

impl ShutdownTrigger {
    /// Tells every holder of the [`Shutdown`] to stop at once: both steps
    /// together, for callers that do not wait for in-flight work in between.
    pub fn trigger(&self) {
        self.advance(Stage::Finishing);
    }

    /// Begins a graceful shutdown: stop taking new work and finish what is
    /// in flight. [`ShutdownTrigger::trigger`] follows once that is done.
    pub fn stop_intake(&self) {
        self.advance(Stage::Stopping);
    }

    fn advance(&self, to: Stage) {
        self.0.send_if_modified(|stage| {
            let moved = *stage < to;
            if moved {
                *stage = to;
            }
            moved
        });
    }
}

//! Waking the engine when something changed, instead of waiting for its timer.

use std::sync::Arc;

use tokio::sync::{Notify, watch};

/// A cloneable handle: [`Wakeup::wake`] makes the engine look for work at once.
/// A wake while the engine is busy is remembered, so no change is missed.
///
/// Only the engine awaits a wake (so nothing else can take one from it);
/// others may watch how many there were ([`Wakeup::wakes`],
/// [`Wakeup::wakes_reach`]), which takes nothing.
#[derive(Debug, Clone)]
pub struct Wakeup {
    notify: Arc<Notify>,
    count: Arc<watch::Sender<u64>>,
}

impl Default for Wakeup {
    fn default() -> Self {
        Wakeup {
            notify: Arc::new(Notify::new()),
            count: Arc::new(watch::Sender::new(0)),
        }
    }
}

impl Wakeup {
    /// A new handle.
    pub fn new() -> Self {
        Self::default()
    }

    /// Wakes the engine (or makes its next wait return at once).
    pub fn wake(&self) {
        self.notify.notify_one();
        self.count.send_modify(|c| *c += 1);
    }

    /// Resolves at the next wake (or at once if one is pending): the
    /// engine's, and only the engine's.
    pub(crate) async fn notified(&self) {
        self.notify.notified().await;
    }

    /// How many wakes there were so far.
    pub fn wakes(&self) -> u64 {
        *self.count.borrow()
    }

    /// Resolves once there were `n` wakes in all (at once if there were).
    pub async fn wakes_reach(&self, n: u64) {
        let mut rx = self.count.subscribe();
        // The sender lives as long as `self`: this cannot fail.
        let _ = rx.wait_for(|c| *c >= n).await;
    }
}

//! Waking the engine when something changed, instead of waiting for its timer.

use std::sync::Arc;

use tokio::sync::Notify;

/// A cloneable handle: [`Wakeup::wake`] makes the engine look for work at once.
/// A wake while the engine is busy is remembered, so no change is missed.
#[derive(Debug, Clone, Default)]
pub struct Wakeup(Arc<Notify>);

impl Wakeup {
    /// A new handle.
    pub fn new() -> Self {
        Self::default()
    }
    /// Wakes the engine (or makes its next wait return at once).
    pub fn wake(&self) {
        self.0.notify_one();
    }
    /// Resolves at the next wake (or at once if one is pending).
    pub async fn notified(&self) {
        self.0.notified().await;
    }
}

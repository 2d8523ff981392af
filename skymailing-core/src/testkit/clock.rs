//! A clock that moves only when told to.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use tokio::sync::watch;

use crate::ports::Clock;

/// A manual clock: `now()` is what it was set to; sleepers wake when it is
/// advanced past their deadline.
#[derive(Debug)]
pub struct ManualClock {
    now: watch::Sender<DateTime<Utc>>,
    sleeps: watch::Sender<u64>,
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        ManualClock {
            now: watch::Sender::new(start),
            sleeps: watch::Sender::new(0),
        }
    }
    /// How many times something (the engine, between rounds) began to sleep on
    /// this clock.
    pub fn sleeps_started(&self) -> u64 {
        *self.sleeps.borrow()
    }
    /// Waits until something has begun to sleep on this clock `n` times in
    /// all, or `timeout` passes; returns whether it had. An engine that sleeps
    /// has finished its round: a test that waits for this needs no guessed pause.
    pub async fn wait_for_sleeps(&self, n: u64, timeout: std::time::Duration) -> bool {
        let mut rx = self.sleeps.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|c| *c >= n))
            .await
            .is_ok()
    }
    /// Moves the clock to `t` (it never moves back).
    pub fn set(&self, t: DateTime<Utc>) {
        self.now.send_modify(|now| *now = t.max(*now));
    }
    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        self.now.send_modify(|now| *now += d);
    }
}

#[async_trait]
impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.borrow()
    }
    async fn sleep_until(&self, deadline: DateTime<Utc>) {
        let mut rx = self.now.subscribe();
        self.sleeps.send_modify(|n| *n += 1);
        loop {
            if *rx.borrow_and_update() >= deadline {
                return;
            }
            if rx.changed().await.is_err() {
                return std::future::pending().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn sleepers_wake_when_the_clock_passes_their_deadline() {
        let t0: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        let clock = Arc::new(ManualClock::new(t0));
        let c = clock.clone();
        let sleeper = tokio::spawn(async move { c.sleep_until(t0 + Duration::seconds(10)).await });
        tokio::task::yield_now().await;
        clock.advance(Duration::seconds(5));
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished());
        clock.advance(Duration::seconds(5));
        tokio::time::timeout(std::time::Duration::from_secs(5), sleeper)
            .await
            .unwrap()
            .unwrap();
    }
}

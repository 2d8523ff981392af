//! Retries of transient and connection errors: exponential backoff with jitter.

use std::time::Duration;

use crate::security;

/// When to try a failed send again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; after the last, the delivery fails.
    pub max_attempts: u32,
    /// Delay after the first failed attempt.
    pub base: Duration,
    /// Longest delay.
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base: Duration::from_secs(30),
            max: Duration::from_secs(3600),
        }
    }
}

impl RetryPolicy {
    /// The delay before attempt `attempt + 1`, or `None` when `attempt` was the
    /// last. The delay doubles each time up to `max`, and is drawn at random from
    /// its upper half, so that retries of one batch spread out.
    pub fn delay(&self, attempt: u32) -> Option<chrono::Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let exp = self
            .base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        let full = exp.min(self.max).as_millis() as u64;
        let half = full / 2;
        let jitter = if half == 0 {
            0
        } else {
            security::random_u64() % (half + 1)
        };
        Some(chrono::Duration::milliseconds(
            (full - half + jitter) as i64,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_within_jitter_and_stop_at_the_limit() {
        let p = RetryPolicy {
            max_attempts: 4,
            base: Duration::from_secs(10),
            max: Duration::from_secs(25),
        };
        for _ in 0..100 {
            let d1 = p.delay(1).unwrap().num_milliseconds();
            assert!((5_000..=10_000).contains(&d1), "{d1}");
            let d2 = p.delay(2).unwrap().num_milliseconds();
            assert!((10_000..=20_000).contains(&d2), "{d2}");
            let d3 = p.delay(3).unwrap().num_milliseconds();
            assert!((12_500..=25_000).contains(&d3), "{d3}: capped at max");
        }
        assert_eq!(p.delay(4), None);
    }

    #[test]
    fn jitter_spreads_retries() {
        let p = RetryPolicy::default();
        let delays: std::collections::HashSet<_> = (0..50).map(|_| p.delay(1).unwrap()).collect();
        assert!(delays.len() > 10);
    }
}

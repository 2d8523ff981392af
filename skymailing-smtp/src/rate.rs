//! A global messages-per-second cap around any mailer (governor's GCRA).

use std::num::NonZeroU32;
use std::sync::Arc;

use async_trait::async_trait;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use skymailing_core::ports::{Mailer, OutgoingEmail, SendError};

/// Lets at most `per_second` messages through per second, across every task
/// that shares it; a send over the cap waits its turn (bursts up to one
/// second's worth).
pub struct RateLimited {
    inner: Arc<dyn Mailer>,
    limiter: DefaultDirectRateLimiter,
}

impl RateLimited {
    /// Caps `inner` at `per_second` messages per second.
    pub fn new(inner: Arc<dyn Mailer>, per_second: NonZeroU32) -> Self {
        RateLimited {
            inner,
            limiter: RateLimiter::direct(Quota::per_second(per_second)),
        }
    }
}

#[async_trait]
impl Mailer for RateLimited {
    async fn send(&self, email: &OutgoingEmail) -> Result<String, SendError> {
        self.limiter.until_ready().await;
        self.inner.send(email).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skymailing_core::EmailAddress;
    use skymailing_core::testkit::RecordingMailer;

    #[tokio::test]
    async fn the_cap_spaces_sends_out() {
        let inner = Arc::new(RecordingMailer::new());
        let limited = RateLimited::new(inner.clone(), NonZeroU32::new(20).unwrap());
        let email = OutgoingEmail {
            to: EmailAddress::parse("a@example.com").unwrap(),
            to_name: String::new(),
            from_name: None,
            reply_to: None,
            subject: "s".into(),
            text: "t".into(),
            html: None,
            message_id: "<1@x>".into(),
            unsubscribe_url: None,
            return_path: None,
            feedback_id: None,
        };
        let started = std::time::Instant::now();
        for _ in 0..40 {
            limited.send(&email).await.unwrap();
        }
        // 20 go at once (the burst), the next 20 at 20 per second.
        let took = started.elapsed();
        assert!(took >= std::time::Duration::from_millis(900), "{took:?}");
        assert_eq!(inner.sent().len(), 40);
    }
}

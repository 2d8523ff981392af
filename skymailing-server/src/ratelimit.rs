//! Rate limits on the account endpoints an attacker would hammer: sign-in and
//! password change (password guessing), registration (mail bombing) and
//! password reset. Each counts per client address and, where the request
//! names one, per email, so neither one address nor one target account can be
//! flooded. governor's GCRA keeps the state; stale keys are dropped now and then.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use chrono::DurationRound;
use skymailing_core::ports::AttemptStore;

use crate::error::ApiError;

/// Requests allowed per minute (and in a burst) per key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule(pub NonZeroU32);

impl Rule {
    /// `n` per minute; zero is taken as one.
    pub fn per_minute(n: u32) -> Self {
        Rule(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
    }
}

/// The limits of the account endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Sign-in attempts and password changes, per client address and per email.
    pub login: Rule,
    /// Registrations, per client address and per email.
    pub register: Rule,
    /// Password-reset requests (and confirmations), per client address and per email.
    pub reset: Rule,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            login: Rule::per_minute(10),
            register: Rule::per_minute(5),
            reset: Rule::per_minute(5),
        }
    }
}

impl RateLimits {
    /// The same `n` per minute for every endpoint.
    pub fn uniform(n: u32) -> Self {
        RateLimits {
            login: Rule::per_minute(n),
            register: Rule::per_minute(n),
            reset: Rule::per_minute(n),
        }
    }
}

/// The client's address: through trusted proxies, the one they name (see
/// [`crate::net`]); otherwise the connecting peer.
pub(crate) fn client_ip(req: &poem::Request) -> Option<IpAddr> {
    req.extensions()
        .get::<crate::net::ClientIp>()
        .map(|c| c.0)
        .or_else(|| req.remote_addr().as_socket_addr().map(|a| a.ip()))
}

/// The key an address counts under: an IPv4 address itself, an IPv6 address
/// its /64 (one subscriber's network, where rotating addresses is free).
fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// Which endpoint a request counts against.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Limited {
    Login,
    Register,
    Reset,
}

type Keyed = DefaultKeyedRateLimiter<(u8, String)>;

pub(crate) struct Limiters {
    by_ip: [Keyed; 3],
    by_email: [Keyed; 3],
    checks: AtomicU64,
    rules: [Rule; 3],
    /// Counters in the database, shared by every process on it (PostgreSQL);
    /// without it (SQLite, one process) the limits are kept in this process.
    shared: Option<std::sync::Arc<dyn AttemptStore>>,
}

impl Limiters {
    pub(crate) fn new(limits: &RateLimits) -> Self {
        let quota = |r: Rule| Quota::per_minute(r.0);
        let all = || {
            [
                RateLimiter::keyed(quota(limits.login)),
                RateLimiter::keyed(quota(limits.register)),
                RateLimiter::keyed(quota(limits.reset)),
            ]
        };
        Limiters {
            by_ip: all(),
            by_email: all(),
            checks: AtomicU64::new(0),
            rules: [limits.login, limits.register, limits.reset],
            shared: None,
        }
    }

    /// Keeps the counts in `store`, for every process sharing it.
    pub(crate) fn shared(mut self, store: std::sync::Arc<dyn AttemptStore>) -> Self {
        self.shared = Some(store);
        self
    }

    /// Counts one request; a 429 with the seconds to wait once over the limit.
    /// With shared counters: one-minute windows in the store (a store that
    /// fails falls back to this process's own limits).
    pub(crate) async fn check(
        &self,
        what: Limited,
        ip: Option<IpAddr>,
        email: Option<&str>,
    ) -> Result<(), ApiError> {
        let Some(store) = &self.shared else {
            return self.check_here(what, ip, email);
        };
        let i = what as usize;
        let now = chrono::Utc::now();
        let window = now
            .duration_trunc(chrono::Duration::minutes(1))
            .unwrap_or(now);
        let mut keys = vec![format!(
            "{i}:ip:{}",
            ip.map_or_else(|| "unknown".to_owned(), address_key)
        )];
        if let Some(email) = email {
            keys.push(format!("{i}:email:{}", email.trim().to_lowercase()));
        }
        let limit = self.rules[i].0.get();
        for key in keys {
            match store.count_attempt(&key, window).await {
                Ok(n) if n > limit => {
                    let left = (window + chrono::Duration::minutes(1) - now).num_seconds();
                    return Err(ApiError::rate_limited(u64::try_from(left).unwrap_or(0) + 1));
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "shared rate limits unavailable; limiting in this process");
                    return self.check_here(what, ip, email);
                }
            }
        }
        Ok(())
    }

    /// [`Limiters::check`] with this process's own counters.
    fn check_here(
        &self,
        what: Limited,
        ip: Option<IpAddr>,
        email: Option<&str>,
    ) -> Result<(), ApiError> {
        let i = what as usize;
        if self.checks.fetch_add(1, Ordering::Relaxed) % 1024 == 1023 {
            for l in self.by_ip.iter().chain(&self.by_email) {
                l.retain_recent();
            }
        }
        let ip = ip.map_or_else(|| "unknown".to_owned(), address_key);
        let mut result = self.by_ip[i].check_key(&(i as u8, ip));
        if result.is_ok()
            && let Some(email) = email
        {
            result = self.by_email[i].check_key(&(i as u8, email.trim().to_lowercase()));
        }
        result.map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            ApiError::rate_limited(wait.as_secs() + 1)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn over_the_limit_answers_429_with_retry_after() {
        let l = Limiters::new(&RateLimits::uniform(2));
        let ip = Some("10.0.0.1".parse().unwrap());
        assert!(l.check_here(Limited::Login, ip, Some("a@x.org")).is_ok());
        assert!(l.check_here(Limited::Login, ip, Some("b@x.org")).is_ok());
        match l.check_here(Limited::Login, ip, Some("c@x.org")) {
            Err(ApiError::RateLimited(_, secs)) => assert!((1..=31).contains(&secs), "{secs}"),
            other => panic!("expected 429, got {other:?}"),
        }
        // Another address is not affected, nor another endpoint.
        let other = Some("10.0.0.2".parse().unwrap());
        assert!(l.check_here(Limited::Login, other, Some("d@x.org")).is_ok());
        assert!(l.check_here(Limited::Register, ip, Some("e@x.org")).is_ok());
    }

    #[test]
    fn ipv6_addresses_count_per_64() {
        let l = Limiters::new(&RateLimits::uniform(2));
        for host in ["2001:db8:1:2::1", "2001:db8:1:2:ffff::9"] {
            assert!(
                l.check_here(Limited::Login, Some(host.parse().unwrap()), None)
                    .is_ok()
            );
        }
        let rotated = Some("2001:db8:1:2:abcd::42".parse().unwrap());
        assert!(
            l.check_here(Limited::Login, rotated, None).is_err(),
            "same /64"
        );
        let other = Some("2001:db8:1:3::1".parse().unwrap());
        assert!(
            l.check_here(Limited::Login, other, None).is_ok(),
            "another /64"
        );
    }

    #[test]
    fn one_email_is_limited_across_addresses() {
        let l = Limiters::new(&RateLimits::uniform(2));
        for n in 1..=2 {
            let ip = Some(format!("10.0.0.{n}").parse().unwrap());
            assert!(l.check_here(Limited::Reset, ip, Some("Ann@x.org")).is_ok());
        }
        let ip = Some("10.0.0.9".parse().unwrap());
        assert!(
            l.check_here(Limited::Reset, ip, Some("ann@X.org "))
                .is_err()
        );
    }
}

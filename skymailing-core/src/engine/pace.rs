//! Pacing by recipient domain: optional limits per domain, and an automatic
//! back-off for a domain whose servers answer "too many" (see `docs/delivery.md`).
//!
//! A configured limit is a token bucket in the store, shared by every process
//! sending through the same relay (like the service-wide rate). A back-off is
//! learnt by each worker from its own replies: the domain's pace halves with
//! every throttling reply and doubles back after each quiet spell, until the
//! domain is unpaced again. Deliveries held back by either wait as pending with
//! their attempt not counted, so throttling never uses up a delivery's retries.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::ports::SendError;

/// A cap on sends per second to one recipient domain, for every process
/// sending through the same relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainLimit {
    /// The recipient domain, lower case (`gmail.com`).
    pub domain: String,
    /// Sends per second to it, in all.
    pub per_second: u32,
}

impl DomainLimit {
    /// Parses `gmail.com=20/s,yahoo.com=10/s` (the `/s` is optional). Returns
    /// the first part that does not parse in the error.
    pub fn parse_list(input: &str) -> Result<Vec<DomainLimit>, String> {
        let mut out: Vec<DomainLimit> = Vec::new();
        for part in input.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let bad = || format!("`{part}` is not DOMAIN=N/s (for example gmail.com=20/s)");
            let (domain, rate) = part.split_once('=').ok_or_else(bad)?;
            let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
            let rate = rate.trim();
            let rate = rate.strip_suffix("/s").unwrap_or(rate).trim();
            let per_second: u32 = rate.parse().map_err(|_| bad())?;
            let domain_ok = !domain.is_empty()
                && domain.len() <= 253
                && domain.split('.').all(|l| {
                    !l.is_empty()
                        && l.len() <= 63
                        && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                });
            if !domain_ok || per_second == 0 {
                return Err(bad());
            }
            if out.iter().any(|l| l.domain == domain) {
                return Err(format!("`{domain}` is given twice"));
            }
            out.push(DomainLimit { domain, per_second });
        }
        Ok(out)
    }
}

/// How a domain that answers "too many" is slowed.
#[derive(Debug, Clone, PartialEq)]
pub struct ThrottlePolicy {
    /// The pace after the first throttling reply, in sends per second (half a
    /// configured limit, when the domain has one and it is lower).
    pub first_rate: f64,
    /// Each spell this long without a throttling reply doubles the pace back;
    /// once back above `first_rate`, the domain is unpaced.
    pub recover_after: Duration,
    /// The slowest pace: one send per this long. A domain still throttling at
    /// this pace has its replies counted as ordinary retries, so a domain that
    /// never stops refusing fails its deliveries in the end.
    pub max_gap: Duration,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        ThrottlePolicy {
            first_rate: 8.0,
            recover_after: Duration::from_secs(10),
            max_gap: Duration::from_secs(300),
        }
    }
}

/// Whether a failed send is the recipient's servers asking us to slow down:
/// a 421 (service not available, closing), or a 4xx reply that says "too
/// many", "rate", "throttled", "slow down" or "volume".
pub fn is_throttling(error: &SendError) -> bool {
    let SendError::Transient { reply } = error else {
        return false;
    };
    let reply = reply.trim_start();
    if reply.starts_with("421") {
        return true;
    }
    if !reply.starts_with('4') {
        return false;
    }
    let lower = reply.to_ascii_lowercase();
    [
        "too many",
        "rate limit",
        "ratelimit",
        "rate-limit",
        "throttl",
        "slow down",
        "unexpected volume",
        "temporarily deferred",
    ]
    .iter()
    .any(|w| lower.contains(w))
}

/// Furthest a held-back delivery is put off at once: it is paced again when
/// it comes due, so a backlog follows the domain's recovery instead of
/// keeping the slots of a slower pace.
const HORIZON: chrono::TimeDelta = chrono::TimeDelta::seconds(40);

/// One throttled domain's state.
#[derive(Debug, Clone)]
struct Backoff {
    /// 1 after the first throttling reply; each further one adds one.
    level: u32,
    /// Sends are spaced by this.
    gap: chrono::Duration,
    /// The next send may start then.
    next_free: DateTime<Utc>,
    /// The next slot to hand a held-back delivery (slots already handed out
    /// stay theirs, so deliveries held back come due one per gap, in turn).
    next_wait: DateTime<Utc>,
    /// When the pace last changed (a throttling reply or a recovery step).
    since: DateTime<Utc>,
}

impl Backoff {
    /// Takes the next slot: now, when a send may start, or the next slot
    /// for a held-back delivery.
    fn take(&mut self, now: DateTime<Utc>) -> Pace {
        if self.next_free <= now {
            self.next_free = now + self.gap;
            Pace::Send
        } else {
            let slot = self.next_wait.max(self.next_free);
            self.next_wait = slot + self.gap;
            Pace::Wait(slot.min(now + HORIZON))
        }
    }
}

/// What to do with one claimed delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Pace {
    /// Send it now.
    Send,
    /// Hold it back until then (its domain is backing off).
    Wait(DateTime<Utc>),
}

/// The per-domain back-offs a worker has learnt.
#[derive(Debug, Default)]
pub(crate) struct Backoffs {
    domains: Mutex<HashMap<String, Backoff>>,
}

impl Backoffs {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Backoff>> {
        self.domains
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether any domain is backing off (a quick check before pacing a batch).
    pub(crate) fn any(&self) -> bool {
        !self.lock().is_empty()
    }

    /// Paces `count` deliveries to `domain`, in order: while it backs off,
    /// one send per gap, and the rest held back for the next slots.
    pub(crate) fn pace(&self, domain: &str, count: usize, now: DateTime<Utc>) -> Vec<Pace> {
        let mut domains = self.lock();
        match domains.get_mut(domain) {
            None => vec![Pace::Send; count],
            Some(b) => (0..count).map(|_| b.take(now)).collect(),
        }
    }

    /// Records a throttling reply from `domain` to a send that started at
    /// `started`. Returns when the delivery should be tried again, or `None`
    /// when the domain is already at the slowest pace (the reply then counts
    /// as an ordinary retry).
    pub(crate) fn throttled(
        &self,
        domain: &str,
        policy: &ThrottlePolicy,
        limit: Option<u32>,
        started: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let max_gap = chrono::Duration::from_std(policy.max_gap)
            .unwrap_or(chrono::Duration::seconds(300))
            .max(chrono::Duration::milliseconds(1));
        let mut domains = self.lock();
        match domains.get_mut(domain) {
            None => {
                let first = limit
                    .map(|l| f64::from(l) / 2.0)
                    .unwrap_or(policy.first_rate)
                    .min(policy.first_rate)
                    .max(1e-3);
                let gap = chrono::Duration::microseconds((1e6 / first) as i64).min(max_gap);
                domains.insert(
                    domain.to_owned(),
                    Backoff {
                        level: 1,
                        gap,
                        next_free: now + gap,
                        next_wait: now + gap * 2,
                        since: now,
                    },
                );
                metrics::counter!("skymailing_domain_backoffs_total", "domain" => domain.to_owned())
                    .increment(1);
                metrics::gauge!("skymailing_domain_backoff_level", "domain" => domain.to_owned())
                    .set(1.0);
                tracing::info!(
                    domain,
                    per_second = first,
                    "a domain is throttling: backing off"
                );
                Some(now + gap)
            }
            Some(b) => {
                // Only a send made at the current pace says that pace is
                // still too fast; sends that were in flight when it last
                // changed get the same answer and change nothing.
                if started >= b.since && now - b.since >= b.gap {
                    if b.gap >= max_gap {
                        return None;
                    }
                    b.level += 1;
                    b.gap = (b.gap * 2).min(max_gap);
                    b.since = now;
                    metrics::counter!("skymailing_domain_backoffs_total", "domain" => domain.to_owned())
                        .increment(1);
                    metrics::gauge!("skymailing_domain_backoff_level", "domain" => domain.to_owned())
                        .set(f64::from(b.level));
                    tracing::info!(
                        domain,
                        level = b.level,
                        gap_ms = b.gap.num_milliseconds(),
                        "a domain is still throttling: slower"
                    );
                }
                let slot = b.next_wait.max(b.next_free).max(now + b.gap);
                b.next_wait = slot + b.gap;
                Some(slot.min(now + HORIZON.max(b.gap)))
            }
        }
    }

    /// Records a delivery accepted for `domain`: after each quiet spell the
    /// pace doubles back, and the domain is unpaced once it is back where it began.
    pub(crate) fn accepted(&self, domain: &str, policy: &ThrottlePolicy, now: DateTime<Utc>) {
        let mut domains = self.lock();
        let Some(b) = domains.get_mut(domain) else {
            return;
        };
        let quiet =
            chrono::Duration::from_std(policy.recover_after).unwrap_or(chrono::Duration::MAX);
        if now - b.since < quiet {
            return;
        }
        b.since = now;
        b.gap = b.gap / 2;
        b.level = b.level.saturating_sub(1);
        metrics::gauge!("skymailing_domain_backoff_level", "domain" => domain.to_owned())
            .set(f64::from(b.level));
        if b.level == 0 {
            domains.remove(domain);
            tracing::info!(domain, "a domain stopped throttling: unpaced again");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_800_000_000_000 + ms).unwrap()
    }

    #[test]
    fn limits_parse_with_or_without_the_unit_and_name_the_bad_part() {
        let l = DomainLimit::parse_list("Gmail.com=20/s, yahoo.com=10").unwrap();
        assert_eq!(
            l,
            vec![
                DomainLimit {
                    domain: "gmail.com".into(),
                    per_second: 20
                },
                DomainLimit {
                    domain: "yahoo.com".into(),
                    per_second: 10
                }
            ]
        );
        for bad in [
            "gmail.com",
            "gmail.com=0/s",
            "=5/s",
            "gm ail.com=5",
            "a..b=5",
            "x.com=-1",
            "x.com=5/m",
        ] {
            let e = DomainLimit::parse_list(bad).unwrap_err();
            assert!(e.contains('`'), "{bad}: {e}");
        }
        assert!(
            DomainLimit::parse_list("a.com=1,A.com=2")
                .unwrap_err()
                .contains("twice")
        );
        assert_eq!(DomainLimit::parse_list("").unwrap(), vec![]);
    }

    #[test]
    fn throttling_replies_are_421_or_4xx_saying_so() {
        let t = |r: &str| SendError::Transient { reply: r.into() };
        assert!(is_throttling(&t(
            "421 4.7.0 Try again later, closing connection"
        )));
        assert!(is_throttling(&t("450 4.2.1 Too many messages, slow down")));
        assert!(is_throttling(&t(
            "451 4.7.500 Server busy: rate limit exceeded"
        )));
        assert!(!is_throttling(&t("451 4.7.1 Greylisted, come back later")));
        assert!(!is_throttling(&t("452 4.2.2 Mailbox full")));
        assert!(!is_throttling(&SendError::Permanent {
            reply: "554 too many recipients".into()
        }));
        assert!(!is_throttling(&SendError::Connection {
            detail: "421 refused".into()
        }));
    }

    #[test]
    fn a_throttled_domain_slows_exponentially_and_recovers() {
        let policy = ThrottlePolicy {
            first_rate: 10.0,
            recover_after: Duration::from_secs(10),
            max_gap: Duration::from_millis(800),
        };
        let b = Backoffs::default();
        assert_eq!(b.pace("a.test", 3, at(0)), vec![Pace::Send; 3]);
        // First reply: 10/s; the domain's next send at 100 ms, the held-back
        // delivery after it.
        assert_eq!(
            b.throttled("a.test", &policy, None, at(0), at(0)),
            Some(at(100))
        );
        assert_eq!(b.pace("a.test", 1, at(0)), vec![Pace::Wait(at(200))]);
        // A reply to a send that was in flight before: the same pace, the
        // next slot.
        assert_eq!(
            b.throttled("a.test", &policy, None, at(-5), at(50)),
            Some(at(300))
        );
        assert_eq!(
            b.pace("a.test", 3, at(60)),
            vec![
                Pace::Wait(at(400)),
                Pace::Wait(at(500)),
                Pace::Wait(at(600))
            ]
        );
        // Slots come due one per gap: each held-back delivery is sent in turn.
        assert_eq!(b.pace("a.test", 1, at(100)), vec![Pace::Send]);
        assert_eq!(b.pace("a.test", 1, at(200)), vec![Pace::Send]);
        assert_eq!(b.pace("a.test", 1, at(250)), vec![Pace::Wait(at(700))]);
        // Another domain is not touched.
        assert_eq!(b.pace("b.test", 2, at(200)), vec![Pace::Send; 2]);
        // A send at the new pace still throttled: 5/s, then 2.5/s, then the
        // slowest pace, where a reply counts as a retry.
        assert!(
            b.throttled("a.test", &policy, None, at(300), at(300))
                .is_some()
        );
        assert!(
            b.throttled("a.test", &policy, None, at(600), at(600))
                .is_some()
        );
        assert!(
            b.throttled("a.test", &policy, None, at(1100), at(1100))
                .is_some()
        );
        assert_eq!(
            b.throttled("a.test", &policy, None, at(2000), at(2000)),
            None
        );
        // Quiet spells double the pace back until the domain is unpaced.
        for step in 1..=4 {
            b.accepted("a.test", &policy, at(2000 + step * 10_000));
        }
        assert!(!b.any());
        assert_eq!(b.pace("a.test", 2, at(60_000)), vec![Pace::Send; 2]);
    }

    #[test]
    fn a_configured_limit_starts_the_back_off_at_half_of_it() {
        let b = Backoffs::default();
        let policy = ThrottlePolicy::default();
        assert_eq!(
            b.throttled("a.test", &policy, Some(4), at(0), at(0)),
            Some(at(500))
        );
    }
}

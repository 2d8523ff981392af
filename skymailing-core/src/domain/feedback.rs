//! What comes back after a send: bounces and complaints, the per-owner
//! suppression list they feed, the per-delivery return path (VERP) that
//! names the delivery a bounce is about, and the reason a run paused.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{DeliveryId, DeliveryState, EmailAddress, RunId, UserId};

/// Why an address is suppressed for an owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
#[non_exhaustive]
pub enum SuppressionReason {
    /// The recipient unsubscribed (never lifted by the owner).
    Unsubscribed,
    /// The recipient's system refused the address for good.
    HardBounce,
    /// Three temporary failures within 30 days.
    SoftBounce,
    /// The recipient reported the mail as spam (never lifted by the owner).
    Complaint,
    /// The owner added it.
    Manual,
}

impl SuppressionReason {
    /// The name used in storage and the API.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
    /// Parses a stored reason.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "unsubscribed" => SuppressionReason::Unsubscribed,
            "hard_bounce" => SuppressionReason::HardBounce,
            "soft_bounce" => SuppressionReason::SoftBounce,
            "complaint" => SuppressionReason::Complaint,
            "manual" => SuppressionReason::Manual,
            _ => return None,
        })
    }
    /// Whether the owner may lift it: a manual entry or a bounce may be
    /// lifted (the address was fixed, the mailbox is back); an unsubscribe
    /// or a complaint is the recipient's word and stays.
    pub fn owner_may_lift(self) -> bool {
        matches!(
            self,
            SuppressionReason::Manual
                | SuppressionReason::HardBounce
                | SuppressionReason::SoftBounce
        )
    }
    /// How strong a reason is: a stronger one replaces a weaker one on the
    /// same address (a complaint after a manual entry), never the reverse.
    pub fn rank(self) -> u8 {
        match self {
            SuppressionReason::Manual => 0,
            SuppressionReason::SoftBounce => 1,
            SuppressionReason::HardBounce => 2,
            SuppressionReason::Complaint | SuppressionReason::Unsubscribed => 3,
        }
    }
}

/// One suppressed address of one owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suppression {
    /// Identity.
    pub id: i64,
    /// Whose list.
    pub owner: UserId,
    /// The address.
    pub email: EmailAddress,
    /// Why.
    pub reason: SuppressionReason,
    /// When.
    pub created_at: DateTime<Utc>,
    /// What was reported (the bounce's status and diagnostic), if anything.
    pub detail: Option<String>,
}

/// What a report says happened to a sent message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FeedbackKind {
    /// A permanent failure (5.x.x): the address does not take mail.
    Hard,
    /// A temporary failure or a delay (4.x.x).
    Soft,
    /// The recipient reported the message as spam.
    Complaint,
}

impl FeedbackKind {
    /// The name used in storage and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            FeedbackKind::Hard => "hard",
            FeedbackKind::Soft => "soft",
            FeedbackKind::Complaint => "complaint",
        }
    }
    /// The state a delivery in state `from` takes on this report, if it
    /// changes: a hard bounce marks a sent delivery `bounced`, a complaint a
    /// sent or bounced one `complained`; a soft bounce marks nothing.
    pub fn marks(self, from: DeliveryState) -> Option<DeliveryState> {
        match (self, from) {
            (FeedbackKind::Hard, DeliveryState::Sent) => Some(DeliveryState::Bounced),
            (FeedbackKind::Complaint, DeliveryState::Sent | DeliveryState::Bounced) => {
                Some(DeliveryState::Complained)
            }
            _ => None,
        }
    }

    /// Parses a stored kind.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "hard" => FeedbackKind::Hard,
            "soft" => FeedbackKind::Soft,
            "complaint" => FeedbackKind::Complaint,
            _ => return None,
        })
    }
}

/// How a report arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FeedbackSource {
    /// Mail to the bounce listener.
    Smtp,
    /// The relay's webhook.
    Webhook,
}

impl FeedbackSource {
    /// The name used in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            FeedbackSource::Smtp => "smtp",
            FeedbackSource::Webhook => "webhook",
        }
    }
}

/// What names the delivery a report is about.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeliveryRef {
    /// The token of its return path (`bounces+TOKEN@…`).
    Verp(String),
    /// Its Message-ID, with or without angle brackets.
    MessageId(String),
}

/// A bounce or complaint as an intake parsed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedbackReport {
    /// What happened.
    pub kind: FeedbackKind,
    /// The address the report names, if it names one.
    pub email: Option<EmailAddress>,
    /// The status and diagnostic, one line.
    pub reason: String,
    /// Whatever identifies the delivery (most reliable first).
    pub refs: Vec<DeliveryRef>,
    /// How it arrived.
    pub source: FeedbackSource,
}

/// A delivery a report may be about, as the store has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedbackTarget {
    /// The delivery.
    pub delivery: DeliveryId,
    /// Its run.
    pub run: RunId,
    /// The run's owner.
    pub owner: UserId,
    /// The address it was sent to.
    pub email: EmailAddress,
    /// Its state now.
    pub state: DeliveryState,
    /// The recipient's unsubscribe secret (the key of its VERP token).
    pub unsubscribe_token: String,
    /// The run's Message-ID nonce.
    pub nonce: String,
}

/// A report to record, after the use case matched it (or not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFeedback {
    /// The delivery it is about, when one was identified.
    pub delivery: Option<DeliveryId>,
    /// The owner whose list it affects, when a delivery was identified.
    pub owner: Option<UserId>,
    /// The address.
    pub email: EmailAddress,
    /// What happened.
    pub kind: FeedbackKind,
    /// The status and diagnostic.
    pub reason: String,
    /// How it arrived.
    pub source: FeedbackSource,
    /// Soft bounces of one address (this one included) within
    /// [`SOFT_BOUNCE_WINDOW_DAYS`] that suppress it.
    pub soft_limit: u32,
}

impl NewFeedback {
    /// Whether it counts the address's soft bounces (only a soft bounce of
    /// an identified owner does).
    pub fn counts_soft_bounces(&self) -> bool {
        self.kind == FeedbackKind::Soft && self.owner.is_some()
    }

    /// The suppression it makes for its owner, given the soft bounces of the
    /// address within [`SOFT_BOUNCE_WINDOW_DAYS`] (this one included): a
    /// hard bounce or a complaint at once, soft bounces at `soft_limit`.
    pub fn suppression(&self, soft_bounces: u64) -> Option<SuppressionReason> {
        self.owner?;
        match self.kind {
            FeedbackKind::Hard => Some(SuppressionReason::HardBounce),
            FeedbackKind::Complaint => Some(SuppressionReason::Complaint),
            FeedbackKind::Soft => (soft_bounces >= u64::from(self.soft_limit))
                .then_some(SuppressionReason::SoftBounce),
        }
    }
}

/// Soft bounces within this many days are counted together.
pub const SOFT_BOUNCE_WINDOW_DAYS: i64 = 30;
/// Soft bounces of an address within the window that suppress it.
pub const SOFT_BOUNCE_LIMIT: u32 = 3;

/// What recording a report changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FeedbackApplied {
    /// The delivery's new state, when it changed (`bounced`, `complained`).
    pub marked: Option<DeliveryState>,
    /// The address's suppression afterwards, when the report made or
    /// strengthened one.
    pub suppressed: Option<SuppressionReason>,
    /// Pending deliveries to the address that were suppressed with it.
    pub held_back: u64,
}

/// Why a run paused itself: its failures and bounces passed the limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PauseReason {
    /// Deliveries tried so far (sent, failed, bounced, complained).
    pub attempted: u64,
    /// Failed among them.
    pub failed: u64,
    /// Bounced among them.
    pub bounced: u64,
    /// The limit, in per mille of the attempts (100 = 10 %).
    pub limit_per_mille: u32,
}

impl PauseReason {
    /// The rate that paused it, in whole percent.
    pub fn percent(&self) -> u64 {
        (self.failed + self.bounced) * 100 / self.attempted.max(1)
    }
}

/// When a run pauses itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PausePolicy {
    /// Failures plus bounces above this share of the attempts pause the run,
    /// in per mille (100 = 10 %); 1000 or more never pauses.
    pub limit_per_mille: u32,
    /// Not before this many attempts.
    pub min_attempts: u64,
}

impl Default for PausePolicy {
    fn default() -> Self {
        PausePolicy {
            limit_per_mille: 100,
            min_attempts: 50,
        }
    }
}

impl PausePolicy {
    /// The reason to pause a run with these counts, if they call for it.
    pub fn check(&self, attempted: u64, failed: u64, bounced: u64) -> Option<PauseReason> {
        let bad = failed + bounced;
        let over = attempted >= self.min_attempts.max(1)
            && self.limit_per_mille < 1000
            && bad * 1000 > attempted * u64::from(self.limit_per_mille);
        over.then_some(PauseReason {
            attempted,
            failed,
            bounced,
            limit_per_mille: self.limit_per_mille,
        })
    }
}

/// Hex digits of a VERP token's check value.
const VERP_MAC_LEN: usize = 16;

fn verp_mac(delivery: DeliveryId, key: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"skymailing-verp\0");
    h.update(key.as_bytes());
    h.update(b"\0");
    h.update(delivery.0.to_string().as_bytes());
    let digest = hex::encode(h.finalize());
    digest[..VERP_MAC_LEN].to_owned()
}

/// The token of a delivery's return path: its id and a check value keyed by
/// the recipient's unsubscribe secret, so tokens cannot be made up (and a
/// recipient could at most forge bounces of their own mail).
pub fn verp_token(delivery: DeliveryId, key: &str) -> String {
    format!("{}-{}", delivery.0, verp_mac(delivery, key))
}

/// The delivery a token claims to be, before it is checked.
pub fn verp_delivery(token: &str) -> Option<DeliveryId> {
    let (id, mac) = token.split_once('-')?;
    (mac.len() == VERP_MAC_LEN && mac.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| id.parse().ok().filter(|id: &i64| *id > 0).map(DeliveryId))
        .flatten()
}

/// Whether a token is the one made for this delivery and key (compared in
/// constant time, case-insensitively: some MTAs lower-case local parts).
pub fn verp_matches(token: &str, delivery: DeliveryId, key: &str) -> bool {
    let expected = verp_token(delivery, key);
    let (a, b) = (token.as_bytes(), expected.as_bytes());
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .fold(0u8, |acc, (x, y)| acc | (x.to_ascii_lowercase() ^ y))
            == 0
}

/// The return path of a delivery under a bounce domain.
pub fn verp_address(delivery: DeliveryId, key: &str, domain: &str) -> String {
    format!("bounces+{}@{}", verp_token(delivery, key), domain)
}

/// The token of a `bounces+TOKEN@domain` address, if it is one for `domain`.
pub fn verp_token_of<'a>(address: &'a str, domain: &str) -> Option<&'a str> {
    let address = address.trim().trim_start_matches('<').trim_end_matches('>');
    let (local, at) = address.rsplit_once('@')?;
    if !at.eq_ignore_ascii_case(domain) {
        return None;
    }
    let token = local
        .get(..8)
        .filter(|p| p.eq_ignore_ascii_case("bounces+"))
        .map(|_| &local[8..])?;
    verp_delivery(token).map(|_| token)
}

/// The (run, delivery, nonce) of one of our Message-IDs
/// (`<nonce.run.delivery@domain>`), before it is checked against the store.
pub fn parse_message_id(id: &str) -> Option<(String, RunId, DeliveryId)> {
    let id = id.trim().trim_start_matches('<').trim_end_matches('>');
    let (local, _) = id.rsplit_once('@')?;
    let mut parts = local.rsplitn(3, '.');
    let delivery = parts.next()?.parse().ok()?;
    let run = parts.next()?.parse().ok()?;
    let nonce = parts.next()?;
    (!nonce.is_empty()).then(|| (nonce.to_owned(), RunId(run), DeliveryId(delivery)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verp_tokens_name_their_delivery_and_cannot_be_made_up() {
        let token = verp_token(DeliveryId(42), "secret-a");
        assert_eq!(verp_delivery(&token), Some(DeliveryId(42)));
        assert!(verp_matches(&token, DeliveryId(42), "secret-a"));
        assert!(!verp_matches(&token, DeliveryId(42), "secret-b"));
        assert!(!verp_matches(
            &token.replace("42-", "43-"),
            DeliveryId(43),
            "secret-a"
        ));
        let address = verp_address(DeliveryId(42), "secret-a", "b.example");
        assert_eq!(verp_token_of(&address, "B.example"), Some(token.as_str()));
        assert_eq!(verp_token_of(&address, "other.example"), None);
        assert_eq!(verp_token_of("postmaster@b.example", "b.example"), None);
        assert_eq!(verp_token_of("bounces+x@b.example", "b.example"), None);
        assert_eq!(verp_delivery("0-0123456789abcdef"), None);
    }

    #[test]
    fn message_ids_parse_back() {
        assert_eq!(
            parse_message_id("<ab12.7.99@mail.example>"),
            Some(("ab12".into(), RunId(7), DeliveryId(99)))
        );
        assert_eq!(parse_message_id("<x@y>"), None);
        assert_eq!(parse_message_id("garbage"), None);
    }

    #[test]
    fn a_run_pauses_over_the_limit_and_only_after_the_minimum() {
        let p = PausePolicy::default();
        assert_eq!(p.check(49, 49, 0), None, "not before 50 attempts");
        assert_eq!(p.check(50, 5, 0), None, "10 % is not over 10 %");
        let r = p.check(50, 4, 2).unwrap();
        assert_eq!((r.percent(), r.limit_per_mille), (12, 100));
        let never = PausePolicy {
            limit_per_mille: 1000,
            min_attempts: 1,
        };
        assert_eq!(never.check(10, 10, 0), None);
    }

    #[test]
    fn only_bounces_and_manual_entries_are_lifted_by_the_owner() {
        use SuppressionReason::*;
        for r in [Manual, HardBounce, SoftBounce] {
            assert!(r.owner_may_lift());
        }
        for r in [Unsubscribed, Complaint] {
            assert!(!r.owner_may_lift());
        }
        assert_eq!(
            SuppressionReason::parse(HardBounce.as_str()),
            Some(HardBounce)
        );
    }
}

//! Runs and deliveries: one concrete sending of a mailing at one slot, and one
//! row per recipient of it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    ClientId, DeliveryId, EmailAddress, Language, MailingId, PauseReason, RunId, RunReport, UserId,
};

/// The message and recipients a run froze when it started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunContent {
    /// The mailing, unless it was deleted since.
    pub mailing_id: Option<MailingId>,
    /// The mailing's name at the time.
    pub mailing_name: String,
    /// Subject template.
    pub subject: String,
    /// Text body template.
    pub body_text: String,
    /// HTML body template.
    pub body_html: Option<String>,
    /// Random per-run value that makes Message-IDs globally unique.
    pub nonce: String,
    /// The mailing's owner.
    pub owner: UserId,
    /// The owner's language, for what the service adds to the message (the
    /// unsubscribe footer).
    pub language: Option<Language>,
    /// The sender name and Reply-To frozen when the run started (the
    /// [`Sender::effective`](crate::Sender::effective) ones); unset for runs
    /// started before senders existed: the service's From name, no Reply-To.
    pub sender: crate::Sender,
}

/// One recipient as frozen into a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// The client it came from.
    pub client_id: ClientId,
    /// Address.
    pub email: EmailAddress,
    /// Full name.
    pub name: String,
    /// Secret for the unsubscribe link.
    pub unsubscribe_token: String,
}

/// Counts of a run's deliveries by state, and the most common failure replies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunTotals {
    /// All deliveries.
    pub total: u64,
    /// Waiting to be sent (including waiting for a retry).
    pub pending: u64,
    /// Claimed by a worker.
    pub sending: u64,
    /// Accepted by the relay.
    pub sent: u64,
    /// Given up.
    pub failed: u64,
    /// Stopped by a disable, a block or a delete.
    pub cancelled: u64,
    /// Not sent: the address is suppressed for the owner.
    pub suppressed: u64,
    /// Sent, then bounced.
    pub bounced: u64,
    /// Sent, then reported as spam.
    pub complained: u64,
    /// Failure replies with their counts, most common first.
    pub failures: Vec<(String, u64)>,
    /// Pending deliveries held back for their recipient domain (over its
    /// limit or throttling), by domain, most first.
    pub waiting: Vec<(String, u64)>,
}

impl RunTotals {
    /// Counts `n` more deliveries in `state` (every store totals a run this
    /// way, so the stores cannot disagree on what counts as what).
    pub fn add(&mut self, state: DeliveryState, n: u64) {
        self.total += n;
        match state {
            DeliveryState::Pending => self.pending += n,
            DeliveryState::Sending => self.sending += n,
            DeliveryState::Sent => self.sent += n,
            DeliveryState::Failed => self.failed += n,
            DeliveryState::Cancelled => self.cancelled += n,
            DeliveryState::Suppressed => self.suppressed += n,
            DeliveryState::Bounced => self.bounced += n,
            DeliveryState::Complained => self.complained += n,
        }
    }

    /// Deliveries that reached a final state.
    pub fn done(&self) -> u64 {
        self.attempted() + self.cancelled + self.suppressed
    }

    /// Deliveries tried and answered for good: sent (bounced and complained
    /// ones were sent first) or failed.
    pub fn attempted(&self) -> u64 {
        self.sent + self.failed + self.bounced + self.complained
    }
    /// Whether nothing is left to send.
    pub fn is_complete(&self) -> bool {
        self.pending == 0 && self.sending == 0
    }
    /// Progress in whole percent (100 for an empty run).
    pub fn percent(&self) -> u8 {
        if self.total == 0 {
            return 100;
        }
        u8::try_from(self.done() * 100 / self.total).unwrap_or(100)
    }
    /// What the run is doing now, for its page.
    pub fn activity(&self) -> RunActivity {
        if self.is_complete() {
            RunActivity::Done
        } else if self.sending > 0 {
            RunActivity::Sending
        } else if !self.waiting.is_empty() {
            RunActivity::WaitingForDomains
        } else {
            RunActivity::WaitingForTurn
        }
    }
}

/// What an unfinished run is doing (see [`RunTotals::activity`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, strum::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
#[non_exhaustive]
pub enum RunActivity {
    /// Some of its deliveries are being sent.
    Sending,
    /// Nothing of it is being sent now: its deliveries wait for their turn
    /// (other runs share the send rate) or for a retry.
    WaitingForTurn,
    /// Its remaining deliveries wait for recipient domains that are over
    /// their limit or throttling (listed in [`RunTotals::waiting`]).
    WaitingForDomains,
    /// Nothing is left to send.
    Done,
}

/// A run as shown in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Run {
    /// Identity.
    pub id: RunId,
    /// The mailing, unless it was deleted since.
    pub mailing_id: Option<MailingId>,
    /// The mailing's name when the run started.
    pub mailing_name: String,
    /// The mailing's owner.
    pub owner: UserId,
    /// The scheduled slot this run is for.
    pub slot_at: DateTime<Utc>,
    /// Earlier slots coalesced into this run (the service was down).
    pub skipped_slots: u32,
    /// When it was materialised.
    pub started_at: DateTime<Utc>,
    /// When its last delivery reached a final state.
    pub finished_at: Option<DateTime<Utc>>,
    /// Number of recipients.
    pub recipients: u64,
    /// Sent (final once finished).
    pub sent: u64,
    /// Failed (final once finished).
    pub failed: u64,
    /// Cancelled (final once finished).
    pub cancelled: u64,
    /// Not sent, suppressed (final once finished).
    pub suppressed: u64,
    /// Sent, then bounced (may still grow once finished: late bounces count).
    pub bounced: u64,
    /// Sent, then reported as spam (may still grow once finished).
    pub complained: u64,
    /// Where it stands.
    pub status: RunStatus,
    /// Why it paused itself, while it is paused.
    pub paused: Option<PauseReason>,
    /// The report, once finished; its counts are the run's counts now.
    pub report: Option<RunReport>,
}

/// Where a run stands (DESIGN §5c).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, strum::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
#[non_exhaustive]
pub enum RunStatus {
    /// Deliveries are being sent or wait their turn.
    Sending,
    /// Paused for its failure rate: its pending deliveries are held until its
    /// owner resumes or cancels it.
    Paused,
    /// Everything reached a final state.
    Finished,
    /// Cancelled by its owner or staff; finished with what was sent.
    Cancelled,
}

impl RunStatus {
    /// The status of a run with these marks.
    pub fn of(finished: bool, paused: bool, cancelled: bool) -> RunStatus {
        match (cancelled, finished, paused) {
            (true, _, _) => RunStatus::Cancelled,
            (false, true, _) => RunStatus::Finished,
            (false, false, true) => RunStatus::Paused,
            (false, false, false) => RunStatus::Sending,
        }
    }
}

/// Where a delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DeliveryState {
    /// Waiting for a worker (first try or a retry).
    Pending,
    /// Claimed by a worker under a lease.
    Sending,
    /// Accepted by the relay.
    Sent,
    /// Given up: a permanent error, or retries exhausted.
    Failed,
    /// Stopped before it was sent.
    Cancelled,
    /// Not sent: the address is suppressed for the mailing's owner.
    Suppressed,
    /// Sent, then bounced back by the recipient's system.
    Bounced,
    /// Sent, then reported as spam by the recipient.
    Complained,
}

impl DeliveryState {
    /// The name used in storage and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Sending => "sending",
            DeliveryState::Sent => "sent",
            DeliveryState::Failed => "failed",
            DeliveryState::Cancelled => "cancelled",
            DeliveryState::Suppressed => "suppressed",
            DeliveryState::Bounced => "bounced",
            DeliveryState::Complained => "complained",
        }
    }
    /// Parses a stored state.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => DeliveryState::Pending,
            "sending" => DeliveryState::Sending,
            "sent" => DeliveryState::Sent,
            "failed" => DeliveryState::Failed,
            "cancelled" => DeliveryState::Cancelled,
            "suppressed" => DeliveryState::Suppressed,
            "bounced" => DeliveryState::Bounced,
            "complained" => DeliveryState::Complained,
            _ => return None,
        })
    }
    /// Whether the state is final.
    pub fn is_final(self) -> bool {
        !matches!(self, DeliveryState::Pending | DeliveryState::Sending)
    }
}

/// One recipient of one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    /// Identity.
    pub id: DeliveryId,
    /// The run.
    pub run_id: RunId,
    /// The client it was frozen from, unless deleted since.
    pub client_id: Option<ClientId>,
    /// Address.
    pub email: EmailAddress,
    /// Name.
    pub name: String,
    /// State.
    pub state: DeliveryState,
    /// Claims so far.
    pub attempts: u32,
    /// The relay's last reply (or the connection error).
    pub last_reply: Option<String>,
    /// Not retried before this time.
    pub next_attempt_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// A delivery claimed by a worker, with what it needs to send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedDelivery {
    /// Identity.
    pub id: DeliveryId,
    /// The run (its content is looked up once per run).
    pub run_id: RunId,
    /// Address.
    pub email: EmailAddress,
    /// Name.
    pub name: String,
    /// Unsubscribe secret.
    pub unsubscribe_token: String,
    /// This claim's attempt number: the fencing token for the result.
    pub attempt: u32,
    /// The claim is another worker's to take after this.
    pub lease_until: DateTime<Utc>,
}

impl ClaimedDelivery {
    /// The stable Message-ID of this delivery: the same on every attempt.
    pub fn message_id(&self, content: &RunContent, domain: &str) -> String {
        format!("<{}.{}.{}@{}>", content.nonce, self.run_id, self.id, domain)
    }
}

/// What became of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// Accepted; the reply is kept.
    Sent {
        /// The relay's reply.
        reply: String,
    },
    /// Given up.
    Failed {
        /// The reply or error.
        reply: String,
    },
    /// Back to pending until `at`.
    Retry {
        /// The reply or error.
        reply: String,
        /// Earliest next attempt.
        at: DateTime<Utc>,
    },
    /// Released unsent (graceful shutdown): back to pending, attempt not counted.
    Released,
    /// Held back for its recipient domain (over its limit, or backing off
    /// after a throttling reply): back to pending until `at`, attempt not
    /// counted, and the run shows it waiting for `domain`.
    Deferred {
        /// The throttling reply, if a send was tried (the last reply is kept otherwise).
        reply: Option<String>,
        /// Earliest next attempt.
        at: DateTime<Utc>,
        /// The recipient domain it waits for.
        domain: String,
    },
}

/// The result a worker writes for one claimed delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryResult {
    /// Which delivery.
    pub id: DeliveryId,
    /// The attempt number of the claim; a stale claim's result is refused.
    pub attempt: u32,
    /// What happened.
    pub outcome: DeliveryOutcome,
}

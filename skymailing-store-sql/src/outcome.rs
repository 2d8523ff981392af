//! A delivery's result as the columns it writes.

use chrono::{DateTime, Utc};
use skymailing_core::adapter::DeliveryOutcome;

/// The columns a delivery result sets: its state, the reply kept (`None`
/// keeps the last one), when it is next due (`None` keeps it), how much to
/// take off the attempt count (1 when the attempt does not count), and the
/// recipient domain it waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeRow<'a> {
    /// `sent`, `failed` or `pending`.
    pub state: &'static str,
    /// The reply to keep, if any.
    pub reply: Option<&'a str>,
    /// When it is next due, if that changes.
    pub next_at: Option<DateTime<Utc>>,
    /// 1 when this attempt is not counted (released or held back), else 0.
    pub released: i32,
    /// The recipient domain it is held back for.
    pub waiting_for: Option<&'a str>,
}

impl<'a> OutcomeRow<'a> {
    /// The columns for one outcome.
    pub fn of(outcome: &'a DeliveryOutcome) -> Self {
        let row = |state, reply: Option<&'a str>, next_at, released| OutcomeRow {
            state,
            reply,
            next_at,
            released,
            waiting_for: None,
        };
        match outcome {
            DeliveryOutcome::Sent { reply } => row("sent", Some(reply), None, 0),
            DeliveryOutcome::Failed { reply } => row("failed", Some(reply), None, 0),
            DeliveryOutcome::Retry { reply, at } => row("pending", Some(reply), Some(*at), 0),
            DeliveryOutcome::Released => row("pending", None, None, 1),
            DeliveryOutcome::Deferred { reply, at, domain } => OutcomeRow {
                waiting_for: Some(domain),
                ..row("pending", reply.as_deref(), Some(*at), 1)
            },
        }
    }
}

//! What the engine tells its listeners: runs started, each delivery's
//! outcome once it is recorded, runs finished with their report.
//!
//! Subscribe with [`Engine::subscribe`](super::Engine::subscribe) or
//! [`EngineHandle::subscribe`](super::EngineHandle::subscribe). Events are
//! sent after the store recorded what they say, so a listener that reads the
//! store on an event sees it. A listener that falls more than
//! [`EVENT_BUFFER`] events behind gets one [`EngineEvent::Lagged`] with the
//! number it missed instead of the oldest ones, and goes on from there; the
//! engine never waits for a listener. Events are per process: to await a run
//! another process sends, use [`EngineHandle::wait_run`](super::EngineHandle::wait_run),
//! which asks the store.

use chrono::{DateTime, Utc};
use tokio::sync::broadcast;

use std::collections::HashMap;

use crate::{
    DeliveryId, DeliveryOutcome, DeliveryResult, DeliveryState, MailingId, RunId, RunReport, UserId,
};

/// Events a listener may fall behind by before it gets [`EngineEvent::Lagged`].
pub const EVENT_BUFFER: usize = 4096;

/// Something the engine did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EngineEvent {
    /// A run began: its recipients are frozen and its deliveries queued.
    RunStarted {
        /// The run.
        run: RunId,
        /// Its mailing.
        mailing: Option<MailingId>,
        /// The mailing's owner.
        owner: UserId,
        /// Recipients, suppressed ones included (those not sent to because
        /// their address is suppressed for the owner are counted in the
        /// report of [`EngineEvent::RunFinished`]).
        recipients: u64,
    },
    /// A delivery's attempt was recorded.
    Delivery {
        /// Its run.
        run: RunId,
        /// The delivery.
        delivery: DeliveryId,
        /// The attempt number.
        attempt: u32,
        /// What happened.
        outcome: DeliveryEvent,
    },
    /// A run has nothing left to send, and its report is written.
    RunFinished {
        /// The run.
        run: RunId,
        /// Its report.
        report: RunReport,
    },
    /// A run paused itself: its failures and bounces passed the limit. It
    /// waits for its owner to resume or cancel it.
    RunPaused {
        /// The run.
        run: RunId,
        /// Why.
        reason: crate::PauseReason,
    },
    /// This listener fell behind and missed this many events (the oldest
    /// ones); it goes on with the events after them.
    Lagged {
        /// Events missed.
        missed: u64,
    },
}

/// A recorded delivery attempt's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeliveryEvent {
    /// The relay accepted it.
    Sent {
        /// The relay's reply.
        reply: String,
    },
    /// Given up: a permanent refusal, or retries exhausted.
    Failed {
        /// The last reply.
        reply: String,
    },
    /// A transient failure; it is tried again at `at`.
    Retrying {
        /// The reply.
        reply: String,
        /// The next try.
        at: DateTime<Utc>,
    },
    /// Held back for its recipient domain (a limit, or the domain asked to
    /// slow down); the attempt does not count.
    Waiting {
        /// The domain.
        domain: String,
        /// When it is due again.
        at: DateTime<Utc>,
    },
    /// Not to be tried again: its run stopped meanwhile (the mailing was
    /// disabled or deleted, or its owner blocked).
    Cancelled,
}

impl DeliveryEvent {
    /// The event of a recorded outcome; `None` for a claim handed back
    /// unsent (shutting down), which is no outcome.
    pub(crate) fn of(outcome: &DeliveryOutcome) -> Option<Self> {
        Some(match outcome {
            DeliveryOutcome::Sent { reply } => DeliveryEvent::Sent {
                reply: reply.clone(),
            },
            DeliveryOutcome::Failed { reply } => DeliveryEvent::Failed {
                reply: reply.clone(),
            },
            DeliveryOutcome::Retry { reply, at } => DeliveryEvent::Retrying {
                reply: reply.clone(),
                at: *at,
            },
            DeliveryOutcome::Deferred { at, domain, .. } => DeliveryEvent::Waiting {
                domain: domain.clone(),
                at: *at,
            },
            DeliveryOutcome::Released => return None,
        })
    }
}

/// A subscription to the engine's events.
#[derive(Debug)]
pub struct EngineEvents {
    rx: broadcast::Receiver<EngineEvent>,
}

impl EngineEvents {
    pub(crate) fn new(rx: broadcast::Receiver<EngineEvent>) -> Self {
        EngineEvents { rx }
    }

    /// The next event; [`EngineEvent::Lagged`] if this listener fell behind;
    /// `None` once the engine is gone (dropped).
    pub async fn next(&mut self) -> Option<EngineEvent> {
        match self.rx.recv().await {
            Ok(e) => Some(e),
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                Some(EngineEvent::Lagged { missed })
            }
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }

    /// The next event if one is waiting, without waiting.
    pub fn try_next(&mut self) -> Option<EngineEvent> {
        match self.rx.try_recv() {
            Ok(e) => Some(e),
            Err(broadcast::error::TryRecvError::Lagged(missed)) => {
                Some(EngineEvent::Lagged { missed })
            }
            Err(_) => None,
        }
    }
}

/// The engine's side: sends only when someone listens.
#[derive(Debug)]
pub(crate) struct Events {
    tx: broadcast::Sender<EngineEvent>,
}

impl Events {
    pub(crate) fn new() -> Self {
        Events {
            tx: broadcast::Sender::new(EVENT_BUFFER),
        }
    }

    pub(crate) fn subscribe(&self) -> EngineEvents {
        EngineEvents::new(self.tx.subscribe())
    }

    pub(crate) fn listened(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    pub(crate) fn send(&self, e: EngineEvent) {
        // No listener is no error.
        let _ = self.tx.send(e);
    }

    /// The events of the results the store applied (`runs[i]` is
    /// `results[i]`'s run; `applied` what the store recorded, with the state
    /// each delivery was left in): a stale claim's result, which the store
    /// refused, tells nothing; a retry the store cancelled is `Cancelled`.
    pub(crate) fn recorded(
        &self,
        runs: &[RunId],
        results: &[DeliveryResult],
        applied: &HashMap<DeliveryId, DeliveryState>,
    ) {
        if !self.listened() {
            return;
        }
        for (run, r) in runs.iter().zip(results) {
            let Some(state) = applied.get(&r.id) else {
                continue;
            };
            let outcome = if *state == DeliveryState::Cancelled {
                Some(DeliveryEvent::Cancelled)
            } else {
                DeliveryEvent::of(&r.outcome)
            };
            if let Some(outcome) = outcome {
                self.send(EngineEvent::Delivery {
                    run: *run,
                    delivery: r.id,
                    attempt: r.attempt,
                    outcome,
                });
            }
        }
    }
}

//! What comes back after a send, and the list it feeds.
//!
//! - [`FeedbackService::record`]: one use case for every bounce and
//!   complaint, whichever intake parsed it (the SMTP listener, the webhook):
//!   it finds the delivery the report names (by its return-path token or its
//!   Message-ID, both checked against the store, so neither can be made up),
//!   records the report, marks the delivery, suppresses the address for the
//!   delivery's owner, and pauses the run if its bounces push it over the
//!   limit. The intake authenticates the report; this use case trusts it.
//! - [`SuppressionService`]: the owner's suppression list (and everyone's for
//!   staff): read, add by hand, lift what may be lifted.

use std::sync::Arc;

use super::gate::Gate;
use crate::policy::{Action, Actor, Target, authorize};
use crate::ports::{Clock, DeliveryQueue, SuppressionStore};
use crate::{
    DeliveryRef, EmailAddress, Error, FeedbackApplied, FeedbackReport, FeedbackSource,
    FeedbackTarget, ListQuery, NewFeedback, Page, PausePolicy, Reason, RunStatus,
    SOFT_BOUNCE_LIMIT, Suppression, SuppressionReason, parse_message_id, verp_delivery,
    verp_matches,
};

/// What became of one report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedbackOutcome {
    /// The delivery it was matched to, if any.
    pub target: Option<FeedbackTarget>,
    /// What recording it changed.
    pub applied: FeedbackApplied,
    /// Whether it paused the delivery's run.
    pub paused_run: bool,
}

/// The bounce and complaint intake's use case.
#[derive(Clone)]
pub struct FeedbackService {
    store: Arc<dyn SuppressionStore>,
    queue: Arc<dyn DeliveryQueue>,
    clock: Arc<dyn Clock>,
    pause: PausePolicy,
}

impl FeedbackService {
    pub(crate) fn new(
        store: Arc<dyn SuppressionStore>,
        queue: Arc<dyn DeliveryQueue>,
        clock: Arc<dyn Clock>,
        pause: PausePolicy,
    ) -> Self {
        FeedbackService {
            store,
            queue,
            clock,
            pause,
        }
    }

    /// The delivery a reference names, if the store has it and the
    /// reference's secret part matches.
    async fn resolve(&self, r: &DeliveryRef) -> Result<Option<FeedbackTarget>, Error> {
        Ok(match r {
            DeliveryRef::Verp(token) => match verp_delivery(token) {
                Some(id) => self
                    .store
                    .feedback_target(id)
                    .await?
                    .filter(|t| verp_matches(token, id, &t.unsubscribe_token)),
                None => None,
            },
            DeliveryRef::MessageId(mid) => match parse_message_id(mid) {
                Some((nonce, run, id)) => self
                    .store
                    .feedback_target(id)
                    .await?
                    .filter(|t| t.run == run && t.nonce == nonce),
                None => None,
            },
        })
    }

    /// Records one report (see the module's description). A report with a
    /// return-path token is matched by the token alone; one without, by its
    /// Message-ID. A webhook report that names no delivery we sent is still
    /// recorded for its address, and changes nothing else; an SMTP report to
    /// an unknown return path is dropped. `Invalid("email")` when a report
    /// names neither a delivery nor an address.
    #[tracing::instrument(name = "feedback.record", level = "debug", skip_all, fields(kind = report.kind.as_str()))]
    pub async fn record(&self, report: &FeedbackReport) -> Result<FeedbackOutcome, Error> {
        // A return path's token is the proof a report came back to where we
        // sent from: when a report has one, only it decides (a Message-ID
        // is known to every recipient of the run, so one recipient could
        // otherwise report the others). Without a token (the webhook's
        // relay is authenticated by its signature) the Message-ID decides.
        let has_token = report
            .refs
            .iter()
            .any(|r| matches!(r, DeliveryRef::Verp(_)));
        let mut target = None;
        for r in &report.refs {
            if has_token && !matches!(r, DeliveryRef::Verp(_)) {
                continue;
            }
            if let Some(t) = self.resolve(r).await? {
                target = Some(t);
                break;
            }
        }
        if target.is_none() && report.source == FeedbackSource::Smtp {
            // Mail to a return path that is none of ours (made up, or of a
            // delivery since deleted): nothing to keep from a stranger.
            metrics::counter!("skymailing_feedback_total", "kind" => report.kind.as_str(),
                "matched" => "no")
            .increment(1);
            tracing::info!(
                kind = report.kind.as_str(),
                "a report to an unknown return path; dropped"
            );
            return Ok(FeedbackOutcome {
                target: None,
                applied: FeedbackApplied::default(),
                paused_run: false,
            });
        }
        let email = match (&target, &report.email) {
            (Some(t), _) => t.email.clone(),
            (None, Some(e)) => e.clone(),
            (None, None) => return Err(Error::invalid("email", Reason::Required)),
        };
        let reason: String = report
            .reason
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(500)
            .collect::<String>()
            .trim()
            .to_owned();
        let feedback = NewFeedback {
            delivery: target.as_ref().map(|t| t.delivery),
            owner: target.as_ref().map(|t| t.owner),
            email,
            kind: report.kind,
            reason,
            source: report.source,
            soft_limit: SOFT_BOUNCE_LIMIT,
        };
        let now = self.clock.now();
        let applied = self.store.record_feedback(&feedback, now).await?;
        metrics::counter!("skymailing_feedback_total", "kind" => report.kind.as_str(),
            "matched" => if target.is_some() { "yes" } else { "no" })
        .increment(1);
        let mut paused_run = false;
        if let (Some(t), Some(crate::DeliveryState::Bounced)) = (&target, applied.marked) {
            paused_run = self.pause_if_over(t.run).await?;
        }
        match &target {
            Some(t) => {
                tracing::info!(delivery = %t.delivery, run = %t.run, kind = report.kind.as_str(),
                suppressed = ?applied.suppressed, "feedback recorded")
            }
            None => tracing::info!(
                kind = report.kind.as_str(),
                "feedback for no delivery of ours recorded"
            ),
        }
        Ok(FeedbackOutcome {
            target,
            applied,
            paused_run,
        })
    }

    /// Reports recorded so far, by kind, every process's together (the
    /// feedback metric, read at scrape time).
    #[tracing::instrument(name = "feedback.counts", level = "debug", skip_all)]
    pub async fn counts(&self) -> Result<Vec<(crate::FeedbackKind, u64)>, Error> {
        Ok(self.store.feedback_counts().await?)
    }

    /// Pauses a sending run whose failures and bounces are over the limit.
    async fn pause_if_over(&self, run: crate::RunId) -> Result<bool, Error> {
        let Some(r) = self.queue.run_status(run).await? else {
            return Ok(false);
        };
        if r.status != RunStatus::Sending {
            return Ok(false);
        }
        let t = self.queue.run_totals(run).await?;
        match self.pause.check(t.attempted(), t.failed, t.bounced) {
            Some(reason) => Ok(self.queue.pause_run(run, &reason, self.clock.now()).await?),
            None => Ok(false),
        }
    }
}

/// Whose suppression list to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuppressionScope {
    /// The actor's own.
    Own,
    /// Everyone's (managers and admins).
    All,
}

/// The suppression list's use cases.
#[derive(Clone)]
pub struct SuppressionService {
    gate: Gate,
    store: Arc<dyn SuppressionStore>,
    clock: Arc<dyn Clock>,
}

impl SuppressionService {
    pub(crate) fn new(store: Arc<dyn SuppressionStore>, clock: Arc<dyn Clock>, gate: Gate) -> Self {
        SuppressionService { gate, store, clock }
    }

    /// The actor's suppressions, or everyone's for managers and admins.
    #[tracing::instrument(name = "suppressions.list", level = "debug", skip_all, fields(actor = ?actor))]
    pub async fn list(
        &self,
        actor: Actor,
        scope: SuppressionScope,
        query: &ListQuery,
    ) -> Result<Page<Suppression>, Error> {
        let actor = self.gate.admit(actor).await?;
        let owner = match scope {
            SuppressionScope::Own => {
                Some(authorize(actor, Action::ManageClients, Target::None)?.id)
            }
            SuppressionScope::All => {
                authorize(actor, Action::ViewAllMailings, Target::None)?;
                None
            }
        };
        Ok(self.store.list_suppressions(owner, query).await?)
    }

    /// Suppresses an address by hand (reason `manual`); an address already
    /// suppressed keeps its entry (and its stronger reason).
    #[tracing::instrument(name = "suppressions.add", level = "debug", skip_all, fields(actor = ?actor))]
    pub async fn add(&self, actor: Actor, email: &str) -> Result<Suppression, Error> {
        let actor = self.gate.admit(actor).await?;
        let p = authorize(actor, Action::ManageClients, Target::None)?;
        let email = EmailAddress::parse(email)?;
        Ok(self
            .store
            .suppress(
                p.id,
                &email,
                SuppressionReason::Manual,
                None,
                self.clock.now(),
            )
            .await?)
    }

    /// Lifts one of the actor's suppressions: a manual entry or a bounce.
    /// An unsubscribe or a complaint is the recipient's word:
    /// `Forbidden`. Another owner's entry: `NotFound`.
    #[tracing::instrument(name = "suppressions.lift", level = "debug", skip_all, fields(actor = ?actor))]
    pub async fn lift(&self, actor: Actor, id: i64) -> Result<(), Error> {
        let actor = self.gate.admit(actor).await?;
        let p = authorize(actor, Action::ManageClients, Target::None)?;
        match self.store.lift_suppression(p.id, id).await? {
            Some(true) => Ok(()),
            Some(false) => Err(Error::Forbidden(Reason::SuppressionNotLiftable)),
            None => Err(Error::NotFound),
        }
    }
}

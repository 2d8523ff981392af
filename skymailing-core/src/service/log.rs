//! The log: every signed-in user reads the run reports; recipient addresses are
//! shown only to the mailing's owner, managers and admins.

use std::sync::Arc;

use chrono::Duration;
use serde::Serialize;

use super::gate::Gate;
use crate::engine::Wakeup;
use crate::policy::{Action, Actor, Decision, Target, authorize, decide};
use crate::ports::{Clock, DailyOutcome, DeliveryQueue, RunFilter, RunStore};
use crate::{Delivery, Error, ListQuery, Page, Reason, Run, RunId, RunTotals, redact_addresses};

/// A run with its live progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunDetail {
    /// The run.
    #[serde(flatten)]
    pub run: Run,
    /// Deliveries by state, live while it sends.
    pub totals: RunTotals,
}

/// Log use cases.
#[derive(Clone)]
pub struct LogService {
    gate: Gate,
    runs: Arc<dyn RunStore>,
    queue: Arc<dyn DeliveryQueue>,
    clock: Arc<dyn Clock>,
    wakeup: Wakeup,
}

impl LogService {
    /// Wires the use cases.
    pub(crate) fn new(
        runs: Arc<dyn RunStore>,
        queue: Arc<dyn DeliveryQueue>,
        clock: Arc<dyn Clock>,
        gate: Gate,
        wakeup: Wakeup,
    ) -> Self {
        LogService {
            gate,
            runs,
            queue,
            clock,
            wakeup,
        }
    }

    /// All runs, newest first.
    #[tracing::instrument(name = "logs.list", level = "debug", skip_all, fields(actor = ?actor))]
    pub async fn list(&self, actor: Actor, query: &ListQuery) -> Result<Page<Run>, Error> {
        let actor = self.gate.admit(actor).await?;
        authorize(actor, Action::ListLog, Target::None)?;
        Ok(self.runs.list_runs(RunFilter::default(), query).await?)
    }

    /// One run with its progress. Failure replies name recipients only for
    /// those who may see the run's addresses.
    #[tracing::instrument(name = "logs.run", level = "debug", skip_all, fields(actor = ?actor, id = %id))]
    pub async fn run(&self, actor: Actor, id: RunId) -> Result<RunDetail, Error> {
        let actor = self.gate.admit(actor).await?;
        authorize(actor, Action::ListLog, Target::None)?;
        let run = self.runs.run(id).await?.ok_or(Error::NotFound)?;
        let mut totals = self.queue.run_totals(id).await?;
        if decide(actor, Action::ViewDeliveries, Target::OwnedBy(run.owner)) != Decision::Allow {
            for (reply, _) in &mut totals.failures {
                *reply = redact_addresses(reply);
            }
            // Recipient domains are the owner's business too: only how many wait.
            let waiting: u64 = totals.waiting.iter().map(|(_, n)| n).sum();
            totals.waiting = if waiting > 0 {
                vec![("<domain>".to_owned(), waiting)]
            } else {
                Vec::new()
            };
        }
        Ok(RunDetail { run, totals })
    }

    /// Resumes a run that paused itself: its held deliveries are due again.
    /// The owner, managers and admins; `Conflict(RunNotPaused)` for a run
    /// that is not paused.
    #[tracing::instrument(name = "logs.resume", level = "debug", skip_all, fields(actor = ?actor, id = %id))]
    pub async fn resume(&self, actor: Actor, id: RunId) -> Result<RunDetail, Error> {
        let actor = self.gate.admit(actor).await?;
        let run = self.runs.run(id).await?.ok_or(Error::NotFound)?;
        authorize(actor, Action::ToggleMailing, Target::OwnedBy(run.owner))?;
        if !self.runs.resume_run(id, self.clock.now()).await? {
            return Err(Error::Conflict(Reason::RunNotPaused));
        }
        self.wakeup.wake();
        self.run(actor, id).await
    }

    /// Cancels an unfinished run, sending or paused: its pending deliveries
    /// are cancelled and it finishes as `cancelled` once the sends in flight
    /// are answered. The owner, managers and admins; `Conflict(RunFinished)`
    /// for a finished run.
    #[tracing::instrument(name = "logs.cancel", level = "debug", skip_all, fields(actor = ?actor, id = %id))]
    pub async fn cancel(&self, actor: Actor, id: RunId) -> Result<RunDetail, Error> {
        let actor = self.gate.admit(actor).await?;
        let run = self.runs.run(id).await?.ok_or(Error::NotFound)?;
        authorize(actor, Action::ToggleMailing, Target::OwnedBy(run.owner))?;
        if !self.runs.cancel_run(id, self.clock.now()).await? {
            return Err(Error::Conflict(Reason::RunFinished));
        }
        self.wakeup.wake();
        self.run(actor, id).await
    }

    /// A run's deliveries with addresses: the owner, managers and admins only.
    #[tracing::instrument(name = "logs.deliveries", level = "debug", skip_all, fields(actor = ?actor, id = %id))]
    pub async fn deliveries(
        &self,
        actor: Actor,
        id: RunId,
        query: &ListQuery,
    ) -> Result<Page<Delivery>, Error> {
        let actor = self.gate.admit(actor).await?;
        authorize(actor, Action::ListLog, Target::None)?;
        let run = self.runs.run(id).await?.ok_or(Error::NotFound)?;
        authorize(actor, Action::ViewDeliveries, Target::OwnedBy(run.owner))?;
        Ok(self.runs.run_deliveries(id, query).await?)
    }

    /// Sent and failed deliveries per day over the last `days` days, for the chart.
    #[tracing::instrument(name = "logs.daily", level = "debug", skip_all, fields(actor = ?actor))]
    pub async fn daily(&self, actor: Actor, days: u32) -> Result<Vec<DailyOutcome>, Error> {
        let actor = self.gate.admit(actor).await?;
        authorize(actor, Action::ListLog, Target::None)?;
        let days = days.clamp(1, 366);
        let since = self.clock.now() - Duration::days(i64::from(days));
        Ok(self.runs.daily_outcomes(None, since).await?)
    }
}

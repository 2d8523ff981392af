//! The log: every signed-in user reads the run reports; recipient addresses are
//! shown only to the mailing's owner, managers and admins.

use std::sync::Arc;

use chrono::Duration;
use serde::Serialize;

use super::gate::Gate;
use crate::policy::{Action, Actor, Decision, Target, authorize, decide};
use crate::ports::{Clock, DailyOutcome, DeliveryQueue, RunFilter, RunStore};
use crate::{Delivery, Error, ListQuery, Page, Run, RunId, RunTotals, redact_addresses};

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
}

impl LogService {
    /// Wires the use cases.
    pub(crate) fn new(
        runs: Arc<dyn RunStore>,
        queue: Arc<dyn DeliveryQueue>,
        clock: Arc<dyn Clock>,
        gate: Gate,
    ) -> Self {
        LogService {
            gate,
            runs,
            queue,
            clock,
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

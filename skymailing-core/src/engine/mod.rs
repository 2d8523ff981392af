//! The delivery engine (DESIGN §5), driven only through the ports.
//!
//! One loop does three jobs, each safe to run in any number of processes on one
//! shared store:
//! - **schedule**: for each due mailing, apply one [`Tick`] of its
//!   [`Schedule`] as a [`RunPlan`] (the store freezes recipients and moves the
//!   next run in one transaction; one run per mailing and slot);
//! - **work**: claim a batch of deliveries under a lease, send them with
//!   bounded concurrency, write the results in one call (the attempt number
//!   fences off a worker whose lease expired);
//! - **finish**: turn runs with nothing left to send into reports.
//!
//! Between rounds it sleeps until the store's next due time, the polling
//! interval, or a [`Wakeup`], whichever comes first.

mod retry;
mod wakeup;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use tokio::sync::Notify;

pub use retry::RetryPolicy;
pub use wakeup::Wakeup;

use crate::ports::{Clock, DeliveryQueue, Mailer, NewRun, OutgoingEmail, RunPlan, SendError};
use crate::schedule::{Schedule, Tick};
use crate::{
    ClaimedDelivery, CompiledMessage, DeliveryOutcome, DeliveryResult, Error, Run, RunContent,
    RunId, RunReport, TemplateContext, security,
};

/// How the engine works.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Deliveries claimed at once.
    pub batch_size: u32,
    /// Sends in flight at once, per batch.
    pub concurrency: usize,
    /// Batches worked side by side (each claims its own), so that claiming and
    /// writing results overlap sending. Memory is bounded by
    /// `batch_size × parallel_batches` deliveries.
    pub parallel_batches: usize,
    /// How long a claim is held before another worker may take it over.
    pub lease: Duration,
    /// Longest wait for one send; a send that takes longer counts as a
    /// connection error. A delivery is sent only while its lease has room for a
    /// whole send, so no send outlives its claim.
    pub send_timeout: Duration,
    /// Retries of transient and connection errors.
    pub retry: RetryPolicy,
    /// Longest sleep between rounds when nothing wakes the engine.
    pub poll_interval: Duration,
    /// Public URL of the service, for unsubscribe links.
    pub base_url: String,
    /// Domain part of Message-IDs.
    pub message_id_domain: String,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            batch_size: 500,
            concurrency: 16,
            parallel_batches: 2,
            lease: Duration::from_secs(300),
            send_timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
            poll_interval: Duration::from_secs(5),
            base_url: "http://127.0.0.1:8000".into(),
            message_id_domain: "skymailing.localhost".into(),
        }
    }
}

/// What one round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoundStats {
    /// Runs started.
    pub runs_started: usize,
    /// Deliveries attempted.
    pub attempted: usize,
    /// Runs finished with a report.
    pub runs_finished: usize,
}

/// The engine. Cheap to share; clone the [`Wakeup`] into whatever changes mailings.
pub struct Engine {
    queue: Arc<dyn DeliveryQueue>,
    mailer: Arc<dyn Mailer>,
    clock: Arc<dyn Clock>,
    config: EngineConfig,
    wakeup: Wakeup,
    templates: Mutex<HashMap<RunId, Arc<(RunContent, CompiledMessage)>>>,
    stopping: AtomicBool,
    stop: Notify,
}

/// How many rounds of due mailings one scheduling pass handles at most.
const SCHEDULE_ROUNDS: usize = 20;
/// Compiled runs kept between batches.
const TEMPLATE_CACHE: usize = 64;
/// Time kept in hand after a send's timeout for writing the result before the lease ends.
const LEASE_MARGIN: Duration = Duration::from_secs(10);

impl Engine {
    /// Builds an engine over a delivery queue, a mailer and a clock.
    pub fn new(
        queue: Arc<dyn DeliveryQueue>,
        mailer: Arc<dyn Mailer>,
        clock: Arc<dyn Clock>,
        config: EngineConfig,
        wakeup: Wakeup,
    ) -> Self {
        Engine {
            queue,
            mailer,
            clock,
            config,
            wakeup,
            templates: Mutex::new(HashMap::new()),
            stopping: AtomicBool::new(false),
            stop: Notify::new(),
        }
    }

    /// The wake-up handle: waking it makes a sleeping engine look for work at once.
    pub fn wakeup(&self) -> Wakeup {
        self.wakeup.clone()
    }

    /// Whether the engine was told to stop: it claims nothing more, and its
    /// sends in flight are finishing.
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Starts the runs of every due mailing. Returns the runs started.
    pub async fn schedule_due(&self) -> Result<Vec<Run>, Error> {
        let mut started = Vec::new();
        for _ in 0..SCHEDULE_ROUNDS {
            let now = self.clock.now();
            let due = self.queue.due_mailings(now, 100).await?;
            if due.is_empty() {
                break;
            }
            let mut progressed = false;
            for d in &due {
                let m = &d.mailing;
                let Some(expected) = m.next_run_at else {
                    continue;
                };
                let schedule = Schedule {
                    start: m.start_at,
                    end: m.end_at,
                    periodicity: m.periodicity,
                    tz: d.time_zone,
                };
                let (run, next_run_at) = match schedule.tick(expected, now) {
                    Tick::Run {
                        slot,
                        skipped,
                        next,
                    } => (
                        Some(NewRun {
                            slot_at: slot,
                            skipped_slots: skipped,
                            nonce: security::random_hex(12),
                        }),
                        next,
                    ),
                    Tick::Expire { skipped } => {
                        tracing::info!(mailing = %m.id, skipped, "window closed before the due slot could run");
                        (None, None)
                    }
                    Tick::Wait => (None, schedule.first_after(expected)),
                };
                let plan = RunPlan {
                    mailing_id: m.id,
                    expected_next_run_at: expected,
                    expected_updated_at: m.updated_at,
                    run,
                    next_run_at,
                    now,
                };
                // One mailing's failure must not hold up the others.
                match self.queue.apply_plan(&plan).await {
                    Ok(Some(run)) => {
                        tracing::info!(mailing = %m.id, run = %run.id, recipients = run.recipients, "run started");
                        started.push(run);
                        progressed = true;
                    }
                    Ok(None) => progressed = true,
                    Err(e) => {
                        tracing::warn!(mailing = %m.id, error = %e, "scheduling a mailing failed")
                    }
                }
            }
            if !progressed || due.len() < 100 {
                break;
            }
        }
        Ok(started)
    }

    /// Claims one batch, sends it and records the results. Returns how many
    /// sends were attempted: 0 when nothing was due, or when everything claimed
    /// was handed back (shutting down, or too little lease left).
    pub async fn work_batch(&self) -> Result<usize, Error> {
        let now = self.clock.now();
        let batch = self
            .queue
            .claim_deliveries(now, self.config.lease, self.config.batch_size)
            .await?;
        if batch.is_empty() {
            return Ok(0);
        }
        let contents = self.contents_for(&batch).await?;
        let sends: Vec<_> = batch
            .into_iter()
            .map(|d| {
                let content = contents.get(&d.run_id).cloned();
                async move { self.deliver(&d, content).await }
            })
            .collect();
        let results: Vec<DeliveryResult> = futures::stream::iter(sends)
            .buffer_unordered(self.config.concurrency.max(1))
            .collect()
            .await;
        self.queue
            .complete_deliveries(&results, self.clock.now())
            .await?;
        record_outcomes(&results);
        Ok(results
            .iter()
            .filter(|r| r.outcome != DeliveryOutcome::Released)
            .count())
    }

    async fn contents_for(
        &self,
        batch: &[ClaimedDelivery],
    ) -> Result<HashMap<RunId, Arc<(RunContent, CompiledMessage)>>, Error> {
        let runs: HashSet<RunId> = batch.iter().map(|d| d.run_id).collect();
        let mut out = HashMap::new();
        for run in runs {
            let cached = self
                .templates
                .lock()
                .expect("template cache")
                .get(&run)
                .cloned();
            let entry = match cached {
                Some(e) => e,
                None => {
                    let Some(content) = self.queue.run_content(run).await? else {
                        continue;
                    };
                    let Ok(compiled) = CompiledMessage::compile(&content) else {
                        continue;
                    };
                    let e = Arc::new((content, compiled));
                    let mut cache = self.templates.lock().expect("template cache");
                    if cache.len() >= TEMPLATE_CACHE {
                        cache.clear();
                    }
                    cache.insert(run, e.clone());
                    e
                }
            };
            out.insert(run, entry);
        }
        Ok(out)
    }

    async fn deliver(
        &self,
        d: &ClaimedDelivery,
        content: Option<Arc<(RunContent, CompiledMessage)>>,
    ) -> DeliveryResult {
        let result = |outcome| DeliveryResult {
            id: d.id,
            attempt: d.attempt,
            outcome,
        };
        let Some(content) = content else {
            return result(DeliveryOutcome::Failed {
                reply: "the run's message could not be loaded or compiled".into(),
            });
        };
        if self.stopping.load(Ordering::SeqCst) {
            return result(DeliveryOutcome::Released);
        }
        // Room for a whole send and the write of its result; with a lease shorter
        // than that (a misconfiguration), half the lease.
        let room = (self.config.send_timeout + LEASE_MARGIN).min(self.config.lease / 2);
        let room = chrono::Duration::from_std(room).unwrap_or(chrono::Duration::MAX);
        if self.clock.now() + room > d.lease_until {
            // Not enough lease left to finish a send: hand it back rather than
            // risk another worker sending it too.
            return result(DeliveryOutcome::Released);
        }
        let (snapshot, compiled) = &*content;
        let unsubscribe_url = format!(
            "{}/unsubscribe/{}",
            self.config.base_url.trim_end_matches('/'),
            d.unsubscribe_token
        );
        let rendered = match compiled.render(&TemplateContext {
            name: &d.name,
            email: d.email.as_str(),
            unsubscribe_url: &unsubscribe_url,
        }) {
            Ok(r) => r,
            Err(e) => {
                return result(DeliveryOutcome::Failed {
                    reply: e.to_string(),
                });
            }
        };
        let email = OutgoingEmail {
            to: d.email.clone(),
            to_name: d.name.clone(),
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
            message_id: d.message_id(snapshot, &self.config.message_id_domain),
            unsubscribe_url: Some(unsubscribe_url),
        };
        let sent = tokio::time::timeout(self.config.send_timeout, self.mailer.send(&email))
            .await
            .unwrap_or_else(|_| {
                Err(SendError::Connection {
                    detail: format!("no answer within {} s", self.config.send_timeout.as_secs()),
                })
            });
        let outcome = match sent {
            Ok(reply) => DeliveryOutcome::Sent { reply },
            Err(SendError::Permanent { reply }) => DeliveryOutcome::Failed { reply },
            Err(e @ (SendError::Transient { .. } | SendError::Connection { .. })) => {
                let reply = e.to_string();
                match self.config.retry.delay(d.attempt) {
                    Some(delay) => DeliveryOutcome::Retry {
                        reply,
                        at: self.clock.now() + delay,
                    },
                    None => DeliveryOutcome::Failed { reply },
                }
            }
        };
        result(outcome)
    }

    /// Writes the report of every run with nothing left to send.
    pub async fn finish_runs(&self) -> Result<Vec<RunId>, Error> {
        let mut finished = Vec::new();
        for run in self.queue.runs_to_finish(100).await? {
            let totals = self.queue.run_totals(run.id).await?;
            if !totals.is_complete() {
                continue;
            }
            let report = RunReport::new(&totals, run.skipped_slots);
            if self
                .queue
                .finish_run(run.id, &report, self.clock.now())
                .await?
            {
                tracing::info!(run = %run.id, %report, "run finished");
                let took = (self.clock.now() - run.started_at)
                    .num_milliseconds()
                    .max(0);
                metrics::histogram!("skymailing_run_duration_seconds").record(took as f64 / 1000.0);
                metrics::counter!("skymailing_runs_finished_total").increment(1);
                self.templates
                    .lock()
                    .expect("template cache")
                    .remove(&run.id);
                finished.push(run.id);
            }
        }
        Ok(finished)
    }

    /// One round: schedule, work until nothing is due, finish runs.
    pub async fn round(&self) -> Result<RoundStats, Error> {
        let runs_started = self.schedule_due().await?.len();
        let (attempted, runs_finished) = self.drain().await?;
        Ok(RoundStats {
            runs_started,
            attempted,
            runs_finished,
        })
    }

    /// Works batches until nothing is due (or the engine stops), with
    /// `parallel_batches` batch loops side by side so that one loop's claim and
    /// result writes overlap the other's sends. Returns sends attempted and runs
    /// finished.
    async fn drain(&self) -> Result<(usize, usize), Error> {
        let one_loop = || async {
            let (mut attempted, mut finished) = (0, 0);
            loop {
                let n = self.work_batch().await?;
                attempted += n;
                finished += self.finish_runs().await?.len();
                if n == 0 || self.stopping.load(Ordering::SeqCst) {
                    return Ok::<_, Error>((attempted, finished));
                }
            }
        };
        let loops = futures::future::try_join_all(
            (0..self.config.parallel_batches.max(1)).map(|_| one_loop()),
        )
        .await?;
        Ok(loops
            .into_iter()
            .fold((0, 0), |(a, f), (x, y)| (a + x, f + y)))
    }

    /// Runs until `shutdown` resolves. Then it claims nothing more: sends in
    /// flight finish and are recorded, and the rest of the batch is released
    /// (back to pending, the attempt not counted) for another worker. Store
    /// errors are logged and the round is retried after the polling interval.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        let main = self.main_loop();
        tokio::pin!(main);
        tokio::select! {
            _ = &mut main => {}
            _ = shutdown => {
                self.stopping.store(true, Ordering::SeqCst);
                self.stop.notify_waiters();
                main.await;
            }
        }
        tracing::info!("engine stopped");
    }

    async fn main_loop(&self) {
        while !self.stopping.load(Ordering::SeqCst) {
            let failed = match self.work_until_idle().await {
                Ok(()) => false,
                Err(e) => {
                    tracing::warn!(error = %e, "engine round failed; retrying after the polling interval");
                    true
                }
            };
            if self.stopping.load(Ordering::SeqCst) {
                break;
            }
            let poll = self.clock.now()
                + chrono::Duration::from_std(self.config.poll_interval)
                    .unwrap_or(chrono::Duration::seconds(5));
            let deadline: DateTime<Utc> = match self.queue.next_wakeup().await {
                Ok(Some(t)) if !failed => t.min(poll),
                _ => poll,
            };
            tokio::select! {
                _ = self.stop.notified() => {}
                _ = self.wakeup.notified() => {}
                _ = self.clock.sleep_until(deadline) => {}
            }
        }
    }

    async fn work_until_idle(&self) -> Result<(), Error> {
        self.schedule_due().await?;
        self.drain().await.map(drop)
    }
}

/// Counts delivery attempts by outcome through the `metrics` facade; an
/// application that installs a recorder (the server's Prometheus endpoint)
/// sees them, others pay nothing.
fn record_outcomes(results: &[DeliveryResult]) {
    let (mut sent, mut failed, mut retry, mut released) = (0u64, 0u64, 0u64, 0u64);
    for r in results {
        match r.outcome {
            DeliveryOutcome::Sent { .. } => sent += 1,
            DeliveryOutcome::Failed { .. } => failed += 1,
            DeliveryOutcome::Retry { .. } => retry += 1,
            DeliveryOutcome::Released => released += 1,
        }
    }
    for (outcome, n) in [
        ("sent", sent),
        ("failed", failed),
        ("retry", retry),
        ("released", released),
    ] {
        if n > 0 {
            metrics::counter!("skymailing_deliveries_total", "outcome" => outcome).increment(n);
        }
    }
}

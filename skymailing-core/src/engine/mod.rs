//! The delivery engine (see `docs/delivery.md`), driven only through the ports.
//!
//! One loop does three jobs, each safe to run in any number of processes on one
//! shared store:
//! - **schedule**: for each due mailing, apply one [`Tick`] of its
//!   [`Schedule`] as a [`RunPlan`] (the store freezes recipients and moves the
//!   next run in one transaction; one run per mailing and slot);
//! - **work**: claim a batch of deliveries under a short lease that the worker
//!   renews while it works, send them with bounded concurrency, and write the
//!   results as sends complete, in small group commits (the attempt number
//!   fences off a worker whose lease expired);
//! - **finish**: turn runs with nothing left to send into reports.
//!
//! Between rounds it sleeps until the store's next due time, the polling
//! interval, or a [`Wakeup`], whichever comes first.
//!
//! **Isolation**: each mailing's scheduler step and each delivery runs inside a
//! guard. A panic or a mailing-specific error there is logged with the mailing,
//! counted (`skymailing_engine_errors_total`), and that one mailing is parked:
//! disabled with [`DisabledBy::EngineError`](crate::DisabledBy::EngineError)
//! until someone enables it again. Every other mailing keeps sending.
//! [`Engine::spawn`] runs the engine under a supervisor that restarts it if it
//! ever exits, and reports its health ([`EngineHandle`]).
//!
//! **Pacing**: claims are shared fairly between owners and runs; an optional
//! service-wide rate and per-domain limits are budgets in the store, and a
//! domain that answers "too many" is backed off (see [`ThrottlePolicy`]).
//! Deliveries held back for their domain are deferred without counting an
//! attempt.
//!
//! **Crash safety**: a dead worker's claims are taken over when its lease
//! ends (a lease is short and renewed at a third of its length by the live
//! worker); a result is written within a few tens of milliseconds of its send,
//! so a crash re-sends at most the sends that were in flight (with the same
//! Message-ID). A worker that cannot write results stops starting sends until
//! it can, so an outage of the database never turns claimed work into
//! duplicates.

mod events;
mod handle;
mod pace;
mod retry;
mod wakeup;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::{FutureExt, StreamExt};
use tokio::sync::{Notify, mpsc, watch};

pub use events::{DeliveryEvent, EVENT_BUFFER, EngineEvent, EngineEvents};
pub use handle::{EngineHandle, EngineHealth};

pub use pace::{DomainLimit, ThrottlePolicy, is_throttling};
pub use retry::RetryPolicy;
pub use wakeup::Wakeup;

use crate::links::Links;
use crate::ports::{
    Clock, DeliveryQueue, DueMailing, Mailer, NewRun, OutgoingEmail, RunPlan, SendError,
};
use crate::schedule::{Schedule, Tick};
use crate::{
    ClaimedDelivery, CompiledMessage, DeliveryId, DeliveryOutcome, DeliveryResult, DeliveryState,
    EmailAddress, Error, MailingDraft, MailingId, PausePolicy, Run, RunContent, RunId, RunReport,
    StoreError, TemplateContext, security, verp_address,
};

/// How the engine works.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Deliveries claimed at once.
    pub batch_size: u32,
    /// Sends in flight at once, per batch.
    pub concurrency: usize,
    /// Batches worked side by side (each claims its own), so that claiming
    /// overlaps sending. Memory is bounded by `batch_size × parallel_batches`
    /// deliveries.
    pub parallel_batches: usize,
    /// How long a claim is held before another worker may take it over. The
    /// live worker renews its claims every third of this, so a dead worker's
    /// claims move on within one lease.
    pub lease: Duration,
    /// Longest wait for one send; a send that takes longer counts as a
    /// connection error. A delivery is sent only while its lease has room for a
    /// whole send, so no send outlives its claim: keep it well below `lease`.
    pub send_timeout: Duration,
    /// The relay this engine sends through (its host): the key of the
    /// shared send budgets, so that processes sending through different
    /// relays do not share them.
    pub relay: String,
    /// The service-wide send rate in sends per second, if any: shared by
    /// every process sending through the same relay on this store (see
    /// `DeliveryQueue::take_send_budget`).
    pub send_rate: Option<u32>,
    /// Caps on sends per second to single recipient domains, shared like
    /// the send rate.
    pub domain_limits: Vec<DomainLimit>,
    /// How a recipient domain that answers "too many" is slowed.
    pub throttle: ThrottlePolicy,
    /// Results written together at most (a group commit: whatever finished
    /// while the previous write was under way).
    pub result_group: usize,
    /// How long a write waits for more results to fill its group after the
    /// first arrived (zero, the default: it takes what finished meanwhile
    /// and goes). 5 ms took PostgreSQL's CPU per 1,000 messages from 144 ms
    /// to 123 in bench-delivery, but results reach the store later, so a
    /// run's failures pause it later too (more of a failing run is sent).
    pub result_linger: Duration,
    /// Retries of transient and connection errors.
    pub retry: RetryPolicy,
    /// Longest sleep between rounds when nothing wakes the engine.
    pub poll_interval: Duration,
    /// Domain part of Message-IDs, and the service part of `Feedback-ID`.
    pub message_id_domain: String,
    /// With a bounce domain, each delivery's envelope sender is its own
    /// `bounces+TOKEN@domain` (VERP), so a bounce names its delivery;
    /// without, the transport's From address.
    pub bounce_domain: Option<String>,
    /// When a run pauses itself for its failures and bounces.
    pub pause: PausePolicy,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            batch_size: 500,
            concurrency: 16,
            parallel_batches: 2,
            lease: Duration::from_secs(30),
            send_timeout: Duration::from_secs(15),
            result_group: 64,
            result_linger: Duration::ZERO,
            relay: "default".into(),
            send_rate: None,
            domain_limits: Vec::new(),
            throttle: ThrottlePolicy::default(),
            retry: RetryPolicy::default(),
            poll_interval: Duration::from_secs(5),
            message_id_domain: "skymailing.localhost".into(),
            bounce_domain: None,
            pause: PausePolicy::default(),
        }
    }
}

/// What one round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RoundStats {
    /// Runs started, in order.
    pub started: Vec<RunId>,
    /// Deliveries attempted.
    pub attempted: usize,
    /// Runs finished with a report, in order.
    pub finished: Vec<RunId>,
}

/// The engine. Cheap to share; clone the [`Wakeup`] into whatever changes mailings.
pub struct Engine {
    queue: Arc<dyn DeliveryQueue>,
    mailer: Arc<dyn Mailer>,
    clock: Arc<dyn Clock>,
    links: Arc<dyn Links>,
    config: EngineConfig,
    wakeup: Wakeup,
    templates: Mutex<HashMap<RunId, Arc<(RunContent, CompiledMessage)>>>,
    stopping: AtomicBool,
    /// Whether a [`Engine::run`] is under way.
    running: AtomicBool,
    stop: Notify,
    /// Open while results can be written; closed while the store refuses them.
    writes_ok: watch::Sender<bool>,
    /// When the engine last did something (milliseconds since the epoch, clock time).
    last_progress: AtomicI64,
    /// When the last scheduling pass began (milliseconds since the epoch, clock time).
    last_schedule: AtomicI64,
    /// Recipient domains backing off after throttling replies.
    backoffs: pace::Backoffs,
    /// Per limited domain, the next free place for a delivery held back
    /// over its limit (so that deliveries held back by successive claims
    /// queue up behind each other instead of all coming due at once).
    limit_slots: Mutex<HashMap<String, DateTime<Utc>>>,
    /// Listeners to what the engine does.
    events: events::Events,
    /// Per run, the attempts and failures this engine recorded since the
    /// run was last checked against the pause limit.
    pause_counts: Mutex<HashMap<RunId, (u64, u64)>>,
}

/// A recorded result's run and the result, as the writer takes them.
type Done = (RunId, DeliveryResult);

/// How often a draining engine looks for mailings whose start came.
const DRAIN_SCHEDULE_EVERY: Duration = Duration::from_millis(500);
/// How many rounds of due mailings one scheduling pass handles at most.
const SCHEDULE_ROUNDS: usize = 20;
/// Compiled runs kept between batches.
const TEMPLATE_CACHE: usize = 64;
/// Time kept in hand after a send's timeout for writing its result before the lease ends.
const LEASE_MARGIN: Duration = Duration::from_secs(3);
/// A write of results slower than this closes the gate for new sends until it ends.
const SLOW_WRITE: Duration = Duration::from_secs(1);
/// Runs whose attempts the engine counts for the pause limit at most.
const PAUSE_COUNTS: usize = 1024;
/// Longest pause between two tries to write results while the store refuses them.
const WRITE_RETRY_MAX: Duration = Duration::from_secs(5);

/// One claimed batch as its worker sees it: the lease, renewed while it works,
/// and the claims not yet completed.
struct Lease {
    /// The lease's end, in microseconds since the epoch.
    until: AtomicI64,
    /// Claims still open: id → attempt.
    open: Mutex<HashMap<DeliveryId, u32>>,
}

impl Lease {
    fn until(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(self.until.load(Ordering::SeqCst)).unwrap_or_default()
    }
}

impl Engine {
    /// Builds an engine over a delivery queue, a mailer, a clock and the
    /// links its mail carries (unsubscribe). [`SkyMailing::engine`](crate::SkyMailing::engine)
    /// builds one over the same parts as the use cases.
    pub fn new(
        queue: Arc<dyn DeliveryQueue>,
        mailer: Arc<dyn Mailer>,
        clock: Arc<dyn Clock>,
        links: Arc<dyn Links>,
        config: EngineConfig,
        wakeup: Wakeup,
    ) -> Self {
        let now = clock.now().timestamp_millis();
        Engine {
            queue,
            mailer,
            clock,
            links,
            config,
            wakeup,
            templates: Mutex::new(HashMap::new()),
            stopping: AtomicBool::new(false),
            running: AtomicBool::new(false),
            stop: Notify::new(),
            writes_ok: watch::Sender::new(true),
            last_progress: AtomicI64::new(now),
            last_schedule: AtomicI64::new(now),
            backoffs: pace::Backoffs::default(),
            limit_slots: Mutex::new(HashMap::new()),
            events: events::Events::new(),
            pause_counts: Mutex::new(HashMap::new()),
        }
    }

    /// A subscription to what this engine does from now on (see
    /// [`EngineEvent`]).
    pub fn subscribe(&self) -> EngineEvents {
        self.events.subscribe()
    }

    /// Waits until run `run` has finished — sent by this engine or by any
    /// other process on the same store — and returns it with its report.
    /// [`Error::NotFound`] if there is no such run. Wrap it in a timeout to
    /// bound the wait.
    pub async fn wait_run(&self, run: RunId) -> Result<Run, Error> {
        let mut events = self.subscribe();
        let poll = self.config.poll_interval.min(Duration::from_secs(1));
        loop {
            match self.queue.run_status(run).await? {
                None => return Err(Error::NotFound),
                Some(r) if r.finished_at.is_some() => return Ok(r),
                Some(_) => {}
            }
            // This engine says when it finishes the run; another process's
            // finish is seen at the next look.
            let finished_here = async {
                loop {
                    match events.next().await {
                        Some(EngineEvent::RunFinished { run: r, .. }) if r == run => return,
                        Some(_) => {}
                        None => std::future::pending::<()>().await,
                    }
                }
            };
            tokio::select! {
                () = finished_here => {}
                () = tokio::time::sleep(poll) => {}
            }
        }
    }

    /// The wake-up handle: waking it makes a sleeping engine look for work at once.
    pub fn wakeup(&self) -> Wakeup {
        self.wakeup.clone()
    }

    /// The engine's settings.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Whether a [`Engine::run`] is under way (one at a time).
    pub fn is_running(&self) -> bool {
        self.running.load(Ordering::SeqCst)
    }

    /// Whether the engine was told to stop: it claims nothing more, and its
    /// sends in flight are finishing.
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// When the engine last made progress: a scheduling pass, a claim, or
    /// results written.
    pub fn last_progress(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.last_progress.load(Ordering::SeqCst))
            .unwrap_or_default()
    }

    fn progressed(&self) {
        self.last_progress
            .store(self.clock.now().timestamp_millis(), Ordering::SeqCst);
    }

    /// Whether a scheduling pass is due while the engine drains the queue:
    /// every half second at most (or every polling interval, if shorter), so
    /// that a mailing whose start comes during a long run begins its own run
    /// within about a second, not a whole polling interval later.
    fn schedule_is_due(&self) -> bool {
        let last = self.last_schedule.load(Ordering::SeqCst);
        let every = self.config.poll_interval.min(DRAIN_SCHEDULE_EVERY);
        let every = i64::try_from(every.as_millis()).unwrap_or(i64::MAX);
        self.clock.now().timestamp_millis() - last >= every
    }

    /// Starts the runs of every due mailing. Returns the runs started. A
    /// mailing whose step panics or fails on its own data is parked (see the
    /// module's notes); a failing store ends the pass with its error.
    #[tracing::instrument(name = "engine.schedule", level = "debug", skip_all)]
    pub async fn schedule_due(&self) -> Result<Vec<Run>, Error> {
        self.last_schedule
            .store(self.clock.now().timestamp_millis(), Ordering::SeqCst);
        let mut started = Vec::new();
        for _ in 0..SCHEDULE_ROUNDS {
            let now = self.clock.now();
            let due = self.queue.due_mailings(now, 100).await?;
            self.progressed();
            if due.is_empty() {
                break;
            }
            let mut progressed = false;
            for d in &due {
                let step = AssertUnwindSafe(self.step(d, now)).catch_unwind().await;
                match step {
                    Ok(Ok(Some(run))) => {
                        tracing::info!(mailing = %d.mailing.id, run = %run.id, recipients = run.recipients, "run started");
                        // Told before any other await, so before any of
                        // its deliveries' events.
                        self.events.send(EngineEvent::RunStarted {
                            run: run.id,
                            mailing: run.mailing_id,
                            owner: run.owner,
                            recipients: run.recipients,
                        });
                        started.push(run);
                        progressed = true;
                    }
                    Ok(Ok(None)) => progressed = true,
                    // The store is failing: not this mailing's fault.
                    Ok(Err(Error::Store(StoreError::Backend(e)))) => {
                        tracing::warn!(mailing = %d.mailing.id, error = %e, "scheduling a mailing failed")
                    }
                    Ok(Err(e)) => {
                        self.park(d.mailing.id, "schedule", &e.to_string()).await;
                        progressed = true;
                    }
                    Err(panic) => {
                        self.park(d.mailing.id, "schedule", &panic_message(&*panic))
                            .await;
                        progressed = true;
                    }
                }
            }
            if !progressed || due.len() < 100 {
                break;
            }
        }
        Ok(started)
    }

    /// One mailing's scheduler step.
    #[tracing::instrument(name = "engine.step", level = "debug", skip_all, fields(mailing = %d.mailing.id))]
    async fn step(&self, d: &DueMailing, now: DateTime<Utc>) -> Result<Option<Run>, Error> {
        let m = &d.mailing;
        let Some(expected) = m.next_run_at else {
            return Ok(None);
        };
        let schedule = Schedule {
            start: m.start_at,
            end: m.end_at,
            periodicity: m.periodicity,
            tz: d.time_zone,
        };
        if !schedule.is_valid() {
            // Stored before times were bounded: no slot can be trusted.
            return Err(Error::invalid("start_at", MailingDraft::out_of_range()));
        }
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
                    tags: m.tags.clone(),
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
        Ok(self.queue.apply_plan(&plan).await?)
    }

    /// Parks a mailing the engine could not handle.
    async fn park(&self, mailing: MailingId, step: &'static str, error: &str) {
        tracing::error!(%mailing, step, %error, "the engine parked a mailing it could not handle (disabled: engine_error)");
        metrics::counter!("skymailing_engine_errors_total", "step" => step).increment(1);
        if let Err(e) = self.queue.park_mailing(mailing, self.clock.now()).await {
            tracing::warn!(%mailing, error = %e, "parking the mailing failed; it will be tried again");
        }
    }

    /// Claims one batch, sends it and records the results. Returns how many
    /// sends were attempted: 0 when nothing was due, or when everything claimed
    /// was handed back (shutting down, or too little lease left).
    pub async fn work_batch(&self) -> Result<usize, Error> {
        let (tx, rx) = mpsc::channel(self.config.batch_size.max(1) as usize);
        let (worked, written) = tokio::join!(
            async move {
                let n = self.claim_and_send(&tx).await;
                drop(tx);
                n
            },
            self.write_results(rx)
        );
        written?;
        worked.map(|w| w.attempted)
    }

    /// Claims a batch and sends it, handing each result to `results` as its
    /// send completes; renews the lease while it works.
    #[tracing::instrument(name = "engine.batch", level = "debug", skip_all)]
    async fn claim_and_send(&self, results: &mpsc::Sender<Done>) -> Result<Worked, Error> {
        if self.is_stopping() {
            return Ok(Worked::default());
        }
        let Some(want) = self.send_budget().await? else {
            return Ok(Worked::default());
        };
        let now = self.clock.now();
        let batch = self
            .queue
            .claim_deliveries(now, self.config.lease, want)
            .await?;
        self.progressed();
        let claimed = batch.len();
        // Only pacing by domain limits goes to the store between claim and
        // send; if that fails the claims are handed back.
        let released: Vec<Done> = if self.config.domain_limits.is_empty() {
            Vec::new()
        } else {
            batch
                .iter()
                .map(|d| {
                    let r = DeliveryResult {
                        id: d.id,
                        attempt: d.attempt,
                        outcome: DeliveryOutcome::Released,
                    };
                    (d.run_id, r)
                })
                .collect()
        };
        let (batch, held) = match self.pace_domains(batch, now).await {
            Ok(paced) => paced,
            Err(e) => {
                // Hand the claims back (attempts not counted) rather than
                // leave them to a lease's end.
                for r in released {
                    let _ = results.send(r).await;
                }
                return Err(e);
            }
        };
        if let Some(per_second) = self.config.send_rate {
            let unused = want.saturating_sub(u32::try_from(batch.len()).unwrap_or(want));
            if unused > 0 {
                self.queue
                    .return_send_budget(&self.config.relay, per_second, unused)
                    .await?;
            }
        }
        for r in held {
            // The writer outlives every batch loop: a send cannot fail here.
            let _ = results.send(r).await;
        }
        if batch.is_empty() {
            return Ok(Worked {
                attempted: 0,
                claimed,
            });
        }
        let lease = Lease {
            until: AtomicI64::new(
                batch
                    .iter()
                    .map(|d| d.lease_until)
                    .min()
                    .unwrap_or(now)
                    .timestamp_micros(),
            ),
            open: Mutex::new(batch.iter().map(|d| (d.id, d.attempt)).collect()),
        };
        let sending = batch.len();
        let contents = self.contents_for(&batch).await?;
        let sends = futures::stream::iter(batch.into_iter().map(|d| {
            let content = contents.get(&d.run_id).cloned();
            let lease = &lease;
            async move {
                let result = self.guarded_deliver(&d, content, lease).await;
                lease
                    .open
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&d.id);
                (d.run_id, result)
            }
        }))
        .buffer_unordered(self.config.concurrency.max(1))
        .fold(0usize, |attempted, r| async move {
            // Released and held back unsent: not attempts.
            let counted = usize::from(!matches!(
                r.1.outcome,
                DeliveryOutcome::Released | DeliveryOutcome::Deferred { reply: None, .. }
            ));
            // The writer outlives every batch loop: a send cannot fail here.
            let _ = results.send(r).await;
            attempted + counted
        });
        tokio::pin!(sends);
        let renewals = self.renew(&lease);
        tokio::pin!(renewals);
        let attempted = tokio::select! {
            attempted = &mut sends => attempted,
            // Renewing never ends by itself.
            () = &mut renewals => sends.await,
        };
        // Sends not made (released, or held back for a domain backing off)
        // give their share of the service-wide budget back.
        let unsent = u32::try_from(sending.saturating_sub(attempted)).unwrap_or(0);
        if let Some(per_second) = self.config.send_rate
            && unsent > 0
            && let Err(e) = self
                .queue
                .return_send_budget(&self.config.relay, per_second, unsent)
                .await
        {
            tracing::warn!(error = %e, "giving back unused send budget failed");
        }
        Ok(Worked { attempted, claimed })
    }

    /// Holds back the claimed deliveries whose recipient domain is over its
    /// configured limit (see [`pace`]): returns those to send now, and the
    /// results that put the others back until the limit's budget refills.
    /// (A domain backing off is paced as each send starts.)
    async fn pace_domains(
        &self,
        batch: Vec<ClaimedDelivery>,
        now: DateTime<Utc>,
    ) -> Result<(Vec<ClaimedDelivery>, Vec<Done>), Error> {
        if self.config.domain_limits.is_empty() {
            return Ok((batch, Vec::new()));
        }
        let mut order: Vec<String> = Vec::new();
        let mut by_domain: HashMap<String, Vec<ClaimedDelivery>> = HashMap::new();
        for d in batch {
            let domain = domain_of(&d);
            let list = by_domain.entry(domain.clone()).or_insert_with(|| {
                order.push(domain);
                Vec::new()
            });
            list.push(d);
        }
        let hold = |d: &ClaimedDelivery, at: DateTime<Utc>, domain: &str| {
            let r = DeliveryResult {
                id: d.id,
                attempt: d.attempt,
                outcome: DeliveryOutcome::Deferred {
                    reply: None,
                    at,
                    domain: domain.to_owned(),
                },
            };
            (d.run_id, r)
        };
        let (mut send, mut held) = (Vec::new(), Vec::new());
        for domain in order {
            let mut ready = by_domain.remove(&domain).unwrap_or_default();
            if let Some(limit) = self.limit_of(&domain).filter(|_| !ready.is_empty()) {
                let granted = self
                    .queue
                    .take_send_budget(
                        &format!("{}|{domain}", self.config.relay),
                        limit,
                        u32::try_from(ready.len()).unwrap_or(u32::MAX),
                        now,
                    )
                    .await? as usize;
                // The rest wait for the budget's refill, each in its own
                // place at the limit's pace, behind those held back before.
                let gap = chrono::Duration::microseconds(1_000_000 / i64::from(limit.max(1)));
                let mut slots = self
                    .limit_slots
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                if granted >= ready.len() {
                    // Nothing waits: whatever was held back before is gone
                    // (sent, or its run stopped); start afresh.
                    slots.remove(&domain);
                }
                let slot = slots.entry(domain.clone()).or_insert(now);
                for d in ready.drain(granted.min(ready.len())..) {
                    *slot = (*slot).max(now) + gap;
                    held.push(hold(&d, *slot, &domain));
                }
            }
            send.extend(ready);
        }
        if !held.is_empty() {
            metrics::counter!("skymailing_domain_waits_total").increment(held.len() as u64);
        }
        Ok((send, held))
    }

    /// The configured limit for a recipient domain, if any.
    fn limit_of(&self, domain: &str) -> Option<u32> {
        self.config
            .domain_limits
            .iter()
            .find(|l| l.domain == domain)
            .map(|l| l.per_second)
    }

    /// How many deliveries this batch may claim: the batch size, or under a
    /// service-wide send rate what the shared budget grants, waiting for it
    /// when it is spent. `None` when the engine stops meanwhile.
    async fn send_budget(&self) -> Result<Option<u32>, Error> {
        let Some(per_second) = self.config.send_rate else {
            return Ok(Some(self.config.batch_size));
        };
        let want = self.config.batch_size.min(per_second.max(1));
        let refill = chrono::Duration::milliseconds(i64::from(1000 / per_second.max(1)).max(5));
        loop {
            let granted = self
                .queue
                .take_send_budget(&self.config.relay, per_second, want, self.clock.now())
                .await?;
            if granted > 0 {
                metrics::gauge!("skymailing_send_rate_per_second").set(f64::from(per_second));
                return Ok(Some(granted));
            }
            metrics::counter!("skymailing_send_budget_waits_total").increment(1);
            tokio::select! {
                _ = self.clock.sleep_until(self.clock.now() + refill) => {}
                _ = self.stop.notified() => return Ok(None),
            }
            if self.is_stopping() {
                return Ok(None);
            }
        }
    }

    /// Renews the batch's open claims every third of a lease, for as long as
    /// it is polled. A failed renewal leaves the lease as it was: sends stop
    /// starting when it runs short, and the claims go back when it ends.
    async fn renew(&self, lease: &Lease) {
        let every = self.config.lease / 3;
        let every = chrono::Duration::from_std(every).unwrap_or(chrono::Duration::seconds(10));
        loop {
            self.clock.sleep_until(self.clock.now() + every).await;
            let open: Vec<(DeliveryId, u32)> = lease
                .open
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
                .map(|(id, attempt)| (*id, *attempt))
                .collect();
            if open.is_empty() {
                continue;
            }
            let until = self.clock.now()
                + chrono::Duration::from_std(self.config.lease).unwrap_or(chrono::Duration::MAX);
            match self.queue.renew_leases(&open, until).await {
                Ok(_) => lease
                    .until
                    .store(until.timestamp_micros(), Ordering::SeqCst),
                Err(e) => tracing::warn!(error = %e, "renewing a lease failed"),
            }
        }
    }

    /// Writes results as they arrive: each write takes the results that
    /// finished while the previous one was under way, and those that finish
    /// within `result_linger` of the first (up to `result_group`), so a
    /// result is durable within about one write and the linger of its send,
    /// and busy workers write in groups. While the store
    /// refuses writes, the gate for new sends is closed and the write is tried
    /// again until it goes through (the results wait in memory: at most the
    /// sends that were in flight). Ends when every sender is gone.
    async fn write_results(&self, mut rx: mpsc::Receiver<Done>) -> Result<(), Error> {
        let group = self.config.result_group.max(1);
        let mut runs: Vec<RunId> = Vec::with_capacity(group);
        let mut pending: Vec<DeliveryResult> = Vec::with_capacity(group);
        while let Some((run, first)) = rx.recv().await {
            runs.push(run);
            pending.push(first);
            let deadline = tokio::time::Instant::now() + self.config.result_linger;
            while pending.len() < group {
                let next = match rx.try_recv() {
                    Ok(next) => next,
                    Err(mpsc::error::TryRecvError::Empty)
                        if !self.config.result_linger.is_zero() =>
                    {
                        match tokio::time::timeout_at(deadline, rx.recv()).await {
                            Ok(Some(next)) => next,
                            _ => break,
                        }
                    }
                    Err(_) => break,
                };
                runs.push(next.0);
                pending.push(next.1);
            }
            self.write_group(&runs, &pending).await;
            runs.clear();
            pending.clear();
        }
        Ok(())
    }

    async fn write_group(&self, runs: &[RunId], results: &[DeliveryResult]) {
        let mut pause = Duration::from_millis(100);
        loop {
            let write = self.queue.complete_deliveries(results, self.clock.now());
            tokio::pin!(write);
            // A store that takes this long to answer is as good as gone for
            // now: no new send until it takes the results.
            let written = tokio::select! {
                r = &mut write => r,
                _ = tokio::time::sleep(SLOW_WRITE) => {
                    self.writes_ok.send_if_modified(|ok| std::mem::replace(ok, false));
                    write.await
                }
            };
            match written {
                Ok(applied) => {
                    self.writes_ok
                        .send_if_modified(|ok| !std::mem::replace(ok, true));
                    // What the store took (a stale claim's result is not an
                    // attempt of ours any more), for the metrics and events.
                    let applied: HashMap<_, _> = applied.into_iter().collect();
                    record_outcomes(results.iter().filter(|r| applied.contains_key(&r.id)));
                    self.events.recorded(runs, results, &applied);
                    self.progressed();
                    self.check_pauses(runs, results, &applied).await;
                    return;
                }
                Err(e) => {
                    if self
                        .writes_ok
                        .send_if_modified(|ok| std::mem::replace(ok, false))
                    {
                        tracing::warn!(error = %e, "cannot write results: no new sends until the store takes them");
                    }
                    if self.is_stopping() {
                        // Shutting down with the store gone: these sends will
                        // be sent again once their lease ends (same Message-ID).
                        tracing::error!(results = results.len(), error = %e, "stopping without writing the last results");
                        return;
                    }
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(WRITE_RETRY_MAX);
                }
            }
        }
    }

    /// Pauses the runs whose failures put them over the limit. The engine
    /// counts the attempts and failures it recorded per run; only when its
    /// own counts are over the limit does it read the run's totals (every
    /// worker's results, and the bounces) and pause on those. A run the
    /// totals clear starts counting afresh.
    async fn check_pauses(
        &self,
        runs: &[RunId],
        results: &[DeliveryResult],
        applied: &HashMap<DeliveryId, DeliveryState>,
    ) {
        let mut suspects: Vec<RunId> = Vec::new();
        {
            let mut counts = self
                .pause_counts
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            for (run, r) in runs.iter().zip(results) {
                let failed = match applied.get(&r.id) {
                    Some(DeliveryState::Sent) => false,
                    Some(DeliveryState::Failed) => true,
                    _ => continue,
                };
                if counts.len() >= PAUSE_COUNTS && !counts.contains_key(run) {
                    counts.clear();
                }
                let c = counts.entry(*run).or_default();
                c.0 += 1;
                c.1 += u64::from(failed);
                if failed
                    && self.config.pause.check(c.0, c.1, 0).is_some()
                    && !suspects.contains(run)
                {
                    suspects.push(*run);
                }
            }
            for run in &suspects {
                counts.remove(run);
            }
        }
        for run in suspects {
            let totals = match self.queue.run_totals(run).await {
                Ok(t) => t,
                Err(e) => {
                    tracing::warn!(%run, error = %e, "cannot check the run's failure rate");
                    continue;
                }
            };
            let Some(reason) =
                self.config
                    .pause
                    .check(totals.attempted(), totals.failed, totals.bounced)
            else {
                continue;
            };
            match self.queue.pause_run(run, &reason, self.clock.now()).await {
                Ok(true) => {
                    tracing::warn!(%run, attempted = reason.attempted, failed = reason.failed,
                        bounced = reason.bounced, "run paused: too many failures and bounces");
                    metrics::counter!("skymailing_runs_paused_total").increment(1);
                    self.events.send(EngineEvent::RunPaused { run, reason });
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(%run, error = %e, "cannot pause the run"),
            }
        }
    }

    async fn contents_for(
        &self,
        batch: &[ClaimedDelivery],
    ) -> Result<HashMap<RunId, Arc<(RunContent, CompiledMessage)>>, Error> {
        let runs: HashSet<RunId> = batch.iter().map(|d| d.run_id).collect();
        let mut out = HashMap::new();
        for run in runs {
            let cached = self.template_cache().get(&run).cloned();
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
                    let mut cache = self.template_cache();
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

    fn template_cache(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<RunId, Arc<(RunContent, CompiledMessage)>>> {
        // A panic elsewhere must not make the cache unusable: it holds no
        // invariant a half-done insert could break.
        self.templates
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// [`Engine::deliver`] inside a guard: a panic fails this delivery and
    /// parks its mailing.
    async fn guarded_deliver(
        &self,
        d: &ClaimedDelivery,
        content: Option<Arc<(RunContent, CompiledMessage)>>,
        lease: &Lease,
    ) -> DeliveryResult {
        let mailing = content.as_ref().and_then(|c| c.0.mailing_id);
        match AssertUnwindSafe(self.deliver(d, content, lease))
            .catch_unwind()
            .await
        {
            Ok(r) => r,
            Err(panic) => {
                let message = panic_message(&*panic);
                match mailing {
                    Some(m) => self.park(m, "deliver", &message).await,
                    None => {
                        tracing::error!(run = %d.run_id, error = %message, "a delivery of a deleted mailing failed");
                        metrics::counter!("skymailing_engine_errors_total", "step" => "deliver")
                            .increment(1);
                    }
                }
                DeliveryResult {
                    id: d.id,
                    attempt: d.attempt,
                    outcome: DeliveryOutcome::Failed {
                        reply: "internal error while preparing this message".into(),
                    },
                }
            }
        }
    }

    async fn deliver(
        &self,
        d: &ClaimedDelivery,
        content: Option<Arc<(RunContent, CompiledMessage)>>,
        lease: &Lease,
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
        // No new send while results cannot be written.
        let mut writes_ok = self.writes_ok.subscribe();
        while !*writes_ok.borrow_and_update() && !self.is_stopping() {
            tokio::select! {
                _ = writes_ok.changed() => {}
                _ = self.stop.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
        if self.is_stopping() {
            return result(DeliveryOutcome::Released);
        }
        // Room for a whole send and the write of its result; with a lease shorter
        // than that (a misconfiguration), half the lease.
        let room = (self.config.send_timeout + LEASE_MARGIN).min(self.config.lease / 2);
        let room = chrono::Duration::from_std(room).unwrap_or(chrono::Duration::MAX);
        if self.clock.now() + room > lease.until() {
            // Not enough lease left to finish a send: hand it back rather than
            // risk another worker sending it too.
            return result(DeliveryOutcome::Released);
        }
        // A domain backing off: one send per gap, the others wait their slot.
        let domain = domain_of(d);
        if self.backoffs.any()
            && let [pace::Pace::Wait(at)] = self.backoffs.pace(&domain, 1, self.clock.now())[..]
        {
            metrics::counter!("skymailing_domain_waits_total").increment(1);
            return result(DeliveryOutcome::Deferred {
                reply: None,
                at,
                domain,
            });
        }
        let (snapshot, compiled) = &*content;
        let unsubscribe_url = self.links.unsubscribe(&d.unsubscribe_token);
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
            from_name: snapshot.sender.name.as_ref().map(ToString::to_string),
            reply_to: snapshot.sender.reply_to.clone(),
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
            message_id: d.message_id(snapshot, &self.config.message_id_domain),
            unsubscribe_url: Some(unsubscribe_url),
            return_path: self.config.bounce_domain.as_deref().and_then(|domain| {
                EmailAddress::parse(&verp_address(d.id, &d.unsubscribe_token, domain)).ok()
            }),
            feedback_id: Some(format!(
                "{}:{}:{}",
                snapshot.mailing_id.map_or(0, |m| m.0),
                snapshot.owner,
                self.config.message_id_domain
            )),
        };
        let started = self.clock.now();
        let sent = tokio::time::timeout(self.config.send_timeout, self.mailer.send(&email))
            .await
            .unwrap_or_else(|_| {
                Err(SendError::Connection {
                    detail: format!("no answer within {} s", self.config.send_timeout.as_secs()),
                })
            });
        let now = self.clock.now();
        let outcome = match sent {
            Ok(reply) => {
                if self.backoffs.any() {
                    self.backoffs.accepted(&domain, &self.config.throttle, now);
                }
                DeliveryOutcome::Sent { reply }
            }
            Err(SendError::Permanent { reply }) => DeliveryOutcome::Failed { reply },
            Err(e) => {
                // The domain asks us to slow down: it backs off, and this
                // delivery waits its turn without using up a retry.
                let throttled = if is_throttling(&e) {
                    let limit = self.limit_of(&domain);
                    self.backoffs
                        .throttled(&domain, &self.config.throttle, limit, started, now)
                } else {
                    None
                };
                let reply = e.to_string();
                match (throttled, self.config.retry.delay(d.attempt)) {
                    (Some(at), _) => DeliveryOutcome::Deferred {
                        reply: Some(reply),
                        at,
                        domain,
                    },
                    (None, Some(delay)) => DeliveryOutcome::Retry {
                        reply,
                        at: now + delay,
                    },
                    (None, None) => DeliveryOutcome::Failed { reply },
                }
            }
        };
        result(outcome)
    }

    /// Writes the report of every run with nothing left to send.
    #[tracing::instrument(name = "engine.finish", level = "debug", skip_all)]
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
                self.template_cache().remove(&run.id);
                self.events.send(EngineEvent::RunFinished {
                    run: run.id,
                    report,
                });
                finished.push(run.id);
            }
        }
        Ok(finished)
    }

    /// One round: schedule, work until nothing is due, finish runs. Returns
    /// what it did, run ids included. [`Error::EngineStopped`] once the
    /// engine was stopped (its [`Engine::run`] told to shut down): it does no
    /// work then, rather than claim deliveries only to hand them back.
    pub async fn round(&self) -> Result<RoundStats, Error> {
        if self.is_stopping() {
            return Err(Error::EngineStopped);
        }
        let started = self.schedule_due().await?.iter().map(|r| r.id).collect();
        let (attempted, finished) = self.drain().await?;
        Ok(RoundStats {
            started,
            attempted,
            finished,
        })
    }

    /// Works batches until nothing is due (or the engine stops), with
    /// `parallel_batches` batch loops side by side so that one loop's claim
    /// overlaps the other's sends, and one writer for all their results.
    /// Returns sends attempted and runs finished.
    async fn drain(&self) -> Result<(usize, Vec<RunId>), Error> {
        let (tx, rx) = mpsc::channel(
            (self.config.batch_size.max(1) as usize) * self.config.parallel_batches.max(1),
        );
        let one_loop = |tx: mpsc::Sender<Done>| async move {
            let (mut attempted, mut finished) = (0, Vec::new());
            loop {
                // A long drain must not hold back new mailings: one made now
                // (a wake-up) or one whose start came (checked every half
                // second) starts its run between batches, and fair claiming sends it
                // beside the runs already going.
                if (self.wakeup.notified().now_or_never().is_some() || self.schedule_is_due())
                    && let Err(e) = self.schedule_due().await
                {
                    // Runs already started keep sending meanwhile.
                    tracing::warn!(error = %e, "scheduling failed; sending goes on");
                }
                let worked = self.claim_and_send(&tx).await?;
                attempted += worked.attempted;
                finished.extend(self.finish_runs().await?);
                if worked.claimed == 0 || self.is_stopping() {
                    return Ok::<_, Error>((attempted, finished));
                }
            }
        };
        let loops = futures::future::try_join_all(
            (0..self.config.parallel_batches.max(1)).map(|_| one_loop(tx.clone())),
        );
        drop(tx);
        let (loops, written) = tokio::join!(loops, self.write_results(rx));
        written?;
        let (attempted, mut finished) =
            loops?
                .into_iter()
                .fold((0, Vec::new()), |(a, mut f), (x, y)| {
                    f.extend(y);
                    (a + x, f)
                });
        // The last results were written after the loops looked for finished runs.
        finished.extend(self.finish_runs().await?);
        Ok((attempted, finished))
    }

    /// Runs until `shutdown` resolves. Then it claims nothing more: sends in
    /// flight finish and are recorded, and the rest of the batch is released
    /// (back to pending, the attempt not counted) for another worker. Store
    /// errors are logged and the round is retried after the polling interval.
    /// Prefer [`Engine::spawn`], which also restarts the engine should it fail.
    ///
    /// An engine that was stopped can be run again: `run` starts afresh.
    /// One `run` at a time: a second one while the first is under way (or
    /// still finishing its shutdown) logs an error and returns at once.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        if self.running.swap(true, Ordering::SeqCst) {
            tracing::error!("Engine::run called while the engine is already running; ignored");
            return;
        }
        /// Clears `running` however `run` ends (a panic caught by the supervisor too).
        struct Running<'a>(&'a AtomicBool);
        impl Drop for Running<'_> {
            fn drop(&mut self) {
                self.0.store(false, Ordering::SeqCst);
            }
        }
        let _running = Running(&self.running);
        self.stopping.store(false, Ordering::SeqCst);
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
        while !self.is_stopping() {
            let failed = match self.work_until_idle().await {
                Ok(()) => false,
                Err(e) => {
                    tracing::warn!(error = %e, "engine round failed; retrying after the polling interval");
                    true
                }
            };
            if self.is_stopping() {
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
        if let Err(e) = self.schedule_due().await {
            // A failing scheduling pass must not stop the runs already going.
            tracing::warn!(error = %e, "scheduling failed; sending goes on");
        }
        self.drain().await.map(drop)
    }
}

/// What one batch loop's turn did.
#[derive(Debug, Default, Clone, Copy)]
struct Worked {
    /// Sends attempted.
    attempted: usize,
    /// Deliveries claimed (sent, or held back for their domain).
    claimed: usize,
}

/// A delivery's recipient domain, lower case.
fn domain_of(d: &ClaimedDelivery) -> String {
    d.email.domain().to_ascii_lowercase()
}

/// The text of a caught panic.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        format!("panic: {s}")
    } else if let Some(s) = panic.downcast_ref::<String>() {
        format!("panic: {s}")
    } else {
        "panic".to_owned()
    }
}

/// Counts delivery attempts by outcome through the `metrics` facade; an
/// application that installs a recorder (the server's Prometheus endpoint)
/// sees them, others pay nothing.
fn record_outcomes<'a>(results: impl Iterator<Item = &'a DeliveryResult>) {
    let (mut sent, mut failed, mut retry, mut released, mut deferred) = (0u64, 0, 0, 0, 0);
    for r in results {
        match r.outcome {
            DeliveryOutcome::Sent { .. } => sent += 1,
            DeliveryOutcome::Failed { .. } => failed += 1,
            DeliveryOutcome::Retry { .. } => retry += 1,
            DeliveryOutcome::Released => released += 1,
            DeliveryOutcome::Deferred { .. } => deferred += 1,
        }
    }
    for (outcome, n) in [
        ("sent", sent),
        ("failed", failed),
        ("retry", retry),
        ("released", released),
        ("deferred", deferred),
    ] {
        if n > 0 {
            metrics::counter!("skymailing_deliveries_total", "outcome" => outcome).increment(n);
        }
    }
}

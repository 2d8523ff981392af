//! The engine running under a supervisor: [`Engine::spawn`] returns a handle
//! to ask how the engine is and to shut it down. Should the engine's task ever
//! end without being told to (a panic that escaped every guard, a bug), the
//! supervisor logs why, counts it (`skymailing_engine_restarts_total`) and
//! starts it again after a pause that doubles up to a minute.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{Engine, panic_message};

/// First pause before a restart; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// Longest pause before a restart.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// An engine that ran this long before failing starts again after the first pause.
const HEALTHY_RUN: Duration = Duration::from_secs(60);
/// Polling intervals without progress, while work is due, that make an engine stalled.
const STALL_INTERVALS: u32 = 3;

/// How a spawned engine is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EngineHealth {
    /// Working, or idle with nothing due.
    Running,
    /// Its task ended unexpectedly; it starts again after a pause.
    Restarting {
        /// Why it ended (the panic's message).
        reason: String,
        /// Restarts so far.
        restarts: u64,
    },
    /// Work is due, but the engine has made no progress (no scheduling pass,
    /// no claim, no result written) for three polling intervals: the store is
    /// failing, or the engine is stuck.
    Stalled {
        /// Its last progress.
        since: DateTime<Utc>,
    },
    /// Shut down.
    Stopped,
}

impl EngineHealth {
    /// Whether the engine is doing its job.
    pub fn is_running(&self) -> bool {
        *self == EngineHealth::Running
    }
}

impl std::fmt::Display for EngineHealth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EngineHealth::Running => f.write_str("running"),
            EngineHealth::Restarting { reason, restarts } => {
                write!(f, "down, restarting (restart {restarts}): {reason}")
            }
            EngineHealth::Stalled { since } => {
                write!(f, "stalled: work is due and nothing happened since {since}")
            }
            EngineHealth::Stopped => f.write_str("stopped"),
        }
    }
}

/// A spawned engine. Dropping the handle does not stop the engine; call
/// [`EngineHandle::shutdown`].
pub struct EngineHandle {
    engine: Arc<Engine>,
    stop: watch::Sender<bool>,
    state: Arc<Mutex<EngineHealth>>,
    supervisor: Mutex<Option<JoinHandle<()>>>,
}

impl Engine {
    /// Runs the engine on the tokio runtime under a supervisor (see the
    /// module's notes) until [`EngineHandle::shutdown`].
    pub fn spawn(self: Arc<Self>) -> EngineHandle {
        let (stop, stop_rx) = watch::channel(false);
        let state = Arc::new(Mutex::new(EngineHealth::Running));
        let supervisor = tokio::spawn(supervise(self.clone(), stop_rx, state.clone()));
        EngineHandle {
            engine: self,
            stop,
            state,
            supervisor: Mutex::new(Some(supervisor)),
        }
    }
}

async fn supervise(
    engine: Arc<Engine>,
    stop: watch::Receiver<bool>,
    state: Arc<Mutex<EngineHealth>>,
) {
    let set = |h: EngineHealth| *state.lock().unwrap_or_else(PoisonError::into_inner) = h;
    let mut backoff = FIRST_BACKOFF;
    let mut restarts = 0u64;
    loop {
        if engine.is_running() {
            // Misuse: this engine runs already (another spawn, or its own
            // `run`); a second run would return at once, again and again.
            tracing::error!(
                "this engine is already running (a second spawn or run); the supervisor stops"
            );
            break;
        }
        set(EngineHealth::Running);
        let started = Instant::now();
        let (e, mut rx) = (engine.clone(), stop.clone());
        let task = tokio::spawn(async move {
            e.run(async move {
                let _ = rx.wait_for(|s| *s).await;
            })
            .await
        });
        let reason = match task.await {
            Ok(()) if *stop.borrow() => break,
            Ok(()) => "the engine's loop ended by itself".to_owned(),
            Err(e) if e.is_panic() => panic_message(&*e.into_panic()),
            Err(e) => e.to_string(),
        };
        restarts += 1;
        metrics::counter!("skymailing_engine_restarts_total").increment(1);
        if started.elapsed() > HEALTHY_RUN {
            backoff = FIRST_BACKOFF;
        }
        tracing::error!(%reason, restarts, ?backoff, "the engine stopped unexpectedly; restarting");
        set(EngineHealth::Restarting { reason, restarts });
        let mut rx = stop.clone();
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = rx.wait_for(|s| *s) => break,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
    set(EngineHealth::Stopped);
}

impl EngineHandle {
    /// The engine (for its wake-up handle and settings).
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// How the engine is now. Asks the store whether work is due when the
    /// engine has made no progress for a while.
    pub async fn health(&self) -> EngineHealth {
        let state = self
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if state != EngineHealth::Running {
            return state;
        }
        let engine = &self.engine;
        let now = engine.clock.now();
        let since = engine.last_progress();
        let quiet = chrono::Duration::from_std(engine.config.poll_interval * STALL_INTERVALS)
            .unwrap_or(chrono::Duration::MAX);
        if now - since <= quiet {
            return EngineHealth::Running;
        }
        match engine.queue.next_wakeup().await {
            Ok(Some(due)) if due > now => EngineHealth::Running,
            Ok(None) => EngineHealth::Running,
            // Due, or the store cannot say: no progress is a stall either way.
            _ => EngineHealth::Stalled { since },
        }
    }

    /// A subscription to what the engine does from now on (runs started,
    /// each delivery's recorded outcome, runs finished with their report;
    /// see [`EngineEvent`](super::EngineEvent)).
    pub fn subscribe(&self) -> super::EngineEvents {
        self.engine.subscribe()
    }

    /// Waits until run `run` has finished, whichever process sends it, and
    /// returns it with its report (see [`Engine::wait_run`]).
    pub async fn wait_run(&self, run: crate::RunId) -> Result<crate::Run, crate::Error> {
        self.engine.wait_run(run).await
    }

    /// Tells the engine to stop, without waiting (see [`EngineHandle::shutdown`]).
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }

    /// Tells the engine to stop and waits until it has: sends in flight
    /// finish and are recorded, the rest of their batches is released.
    pub async fn shutdown(&self) {
        self.stop();
        let supervisor = self
            .supervisor
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(task) = supervisor {
            let _ = task.await;
        }
    }
}

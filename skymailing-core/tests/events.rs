//! What an embedding application learns from the engine: events for each
//! run and each recorded delivery outcome, awaiting a run, what a round did,
//! and a stopped engine that says so.

mod common;

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::Duration;
use common::*;
use skymailing_core::engine::{DeliveryEvent, EngineConfig, EngineEvent, EngineEvents};
use skymailing_core::ports::{ClientStore, Clock};
use skymailing_core::testkit::Scripted;
use skymailing_core::*;

const WAIT: StdDuration = StdDuration::from_secs(10);

/// Every event waiting now.
fn drain(events: &mut EngineEvents) -> Vec<EngineEvent> {
    std::iter::from_fn(|| events.try_next()).collect()
}

#[tokio::test]
async fn events_tell_each_run_and_each_recorded_outcome() {
    let w = world_at("2026-05-01T12:00:00Z");
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    let ids = w
        .clients(
            ann,
            &[
                "ok@example.com",
                "gone@example.com",
                "later@example.com",
                "left@example.com",
            ],
        )
        .await;
    // One recipient unsubscribed: suppressed when the run begins.
    let left = w.app.clients.get(ann, ids[3]).await.unwrap();
    w.store
        .set_unsubscribed(&left.unsubscribe_token, Some(w.clock.now()))
        .await
        .unwrap()
        .unwrap();
    w.mailer.script(
        "gone@example.com",
        [Scripted::Permanent("550 5.1.1 user unknown".into())],
    );
    w.mailer.script(
        "later@example.com",
        [Scripted::Transient("451 4.3.0 try later".into())],
    );
    let now = w.clock.now();
    let m = w
        .mailing(ann, &ids, now, now + Duration::days(1), Periodicity::Once)
        .await;

    let mut events = w.engine.subscribe();
    let first = w.engine.round().await.unwrap();
    assert_eq!(first.started.len(), 1, "{first:?}");
    let run = first.started[0];
    assert!(first.finished.is_empty(), "a retry is still due");
    let seen = drain(&mut events);
    assert_eq!(
        seen[0],
        EngineEvent::RunStarted {
            run,
            mailing: Some(m.id),
            owner: m.owner,
            recipients: 4,
        }
    );
    let outcome_of = |email_reply: &str| {
        seen.iter()
            .find_map(|e| match e {
                EngineEvent::Delivery {
                    run: r, outcome, ..
                } if *r == run && format!("{outcome:?}").contains(email_reply) => {
                    Some(outcome.clone())
                }
                _ => None,
            })
            .unwrap_or_else(|| panic!("no event with {email_reply} in {seen:?}"))
    };
    assert!(matches!(outcome_of("250"), DeliveryEvent::Sent { .. }));
    assert!(matches!(outcome_of("550"), DeliveryEvent::Failed { .. }));
    let DeliveryEvent::Retrying { at, .. } = outcome_of("451") else {
        panic!("the transient failure is a retry");
    };
    assert!(at > now, "its next try is later");
    assert_eq!(
        seen.iter()
            .filter(|e| matches!(e, EngineEvent::Delivery { .. }))
            .count(),
        3,
        "one event per recorded attempt: {seen:?}"
    );

    w.clock.set(at);
    let second = w.engine.round().await.unwrap();
    assert_eq!(second.started, Vec::<RunId>::new());
    assert_eq!(
        second.finished,
        vec![run],
        "the round names the run it finished"
    );
    let seen = drain(&mut events);
    assert!(
        matches!(
            &seen[0],
            EngineEvent::Delivery {
                outcome: DeliveryEvent::Sent { .. },
                ..
            }
        ),
        "{seen:?}"
    );
    let EngineEvent::RunFinished { run: r, report } = &seen[1] else {
        panic!("the run's end follows its last delivery: {seen:?}");
    };
    assert_eq!(*r, run);
    assert_eq!((report.sent, report.failed, report.suppressed), (2, 1, 1));
}

#[tokio::test]
async fn a_delivery_held_back_for_its_domain_is_an_event_too() {
    let w = world_with(
        "2026-05-01T12:00:00Z",
        EngineConfig {
            domain_limits: skymailing_core::engine::DomainLimit::parse_list("example.com=1")
                .unwrap(),
            ..engine_config()
        },
    );
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    w.once_to_numbered(ann, 3).await;
    let mut events = w.engine.subscribe();
    w.engine.schedule_due().await.unwrap();
    w.engine.work_batch().await.unwrap();
    let seen = drain(&mut events);
    assert!(
        seen.iter().any(|e| matches!(
            e,
            EngineEvent::Delivery { outcome: DeliveryEvent::Waiting { domain, .. }, .. }
                if domain == "example.com"
        )),
        "{seen:?}"
    );
}

#[tokio::test]
async fn a_listener_that_falls_behind_is_told_how_much_it_missed() {
    let w = world_at("2026-05-01T12:00:00Z");
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    let n = skymailing_core::engine::EVENT_BUFFER + 100;
    w.once_to_numbered(ann, n).await;
    let mut events = w.engine.subscribe();
    w.engine.round().await.unwrap();
    let Some(EngineEvent::Lagged { missed }) = events.next().await else {
        panic!("the first event says what was missed");
    };
    // Run started + n deliveries + run finished, less the buffer kept.
    assert_eq!(
        missed,
        (n + 2 - skymailing_core::engine::EVENT_BUFFER) as u64
    );
    let rest = drain(&mut events);
    assert_eq!(rest.len(), skymailing_core::engine::EVENT_BUFFER);
    assert!(matches!(rest.last(), Some(EngineEvent::RunFinished { .. })));
}

#[tokio::test]
async fn wait_run_returns_the_finished_run_with_its_report() {
    let w = world_at("2026-05-01T12:00:00Z");
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    w.once_to_numbered(ann, 3).await;
    let handle = w.engine.clone().spawn();
    // The run exists once the engine has scheduled it; its id comes from the event.
    let mut events = handle.subscribe();
    let run = loop {
        match tokio::time::timeout(WAIT, events.next()).await.unwrap() {
            Some(EngineEvent::RunStarted { run, .. }) => break run,
            Some(_) => {}
            None => panic!("the engine went away"),
        }
    };
    let finished = tokio::time::timeout(WAIT, handle.wait_run(run))
        .await
        .expect("the run finishes")
        .unwrap();
    assert!(finished.finished_at.is_some());
    assert_eq!(finished.report.unwrap().sent, 3);
    // A finished run is answered at once; an unknown one is not found.
    assert_eq!(handle.wait_run(run).await.unwrap().id, run);
    assert!(matches!(
        handle.wait_run(RunId(999_999)).await,
        Err(Error::NotFound)
    ));
    handle.shutdown().await;
}

#[tokio::test]
async fn wait_run_sees_a_run_another_engine_finishes() {
    let w = world_at("2026-05-01T12:00:00Z");
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    w.once_to_numbered(ann, 2).await;
    // A second engine on the same store: "another process".
    let other = Arc::new(w.app.engine(w.mailer.clone(), engine_config()));
    let run = other.schedule_due().await.unwrap()[0].id;
    let waiting = tokio::spawn({
        let engine = w.engine.clone();
        async move { engine.wait_run(run).await }
    });
    tokio::task::yield_now().await;
    assert!(!waiting.is_finished());
    other.round().await.unwrap();
    let r = tokio::time::timeout(WAIT, waiting)
        .await
        .expect("seen within a polling interval")
        .unwrap()
        .unwrap();
    assert_eq!(r.report.unwrap().sent, 2);
}

#[tokio::test]
async fn a_stopped_engine_says_so_and_runs_again_when_asked() {
    let w = world_at("2026-05-01T12:00:00Z");
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    // Run, then stop.
    w.engine.run(async {}).await;
    w.once_to_numbered(ann, 2).await;
    assert!(
        matches!(w.engine.round().await, Err(Error::EngineStopped)),
        "a stopped engine refuses work instead of releasing it unsent"
    );
    assert!(w.mailer.sent().is_empty());
    // Run again: it starts afresh and sends.
    let engine = w.engine.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        engine
            .run(async {
                stopped.await.ok();
            })
            .await
    });
    assert!(
        w.mailer.wait_for_sent(2, WAIT).await,
        "the second run sends"
    );
    stop.send(()).unwrap();
    tokio::time::timeout(WAIT, task).await.unwrap().unwrap();
}

/// A mailer that answers "try later" only when told to.
struct HeldMailer {
    entered: tokio::sync::Notify,
    release: tokio::sync::Notify,
}

#[async_trait::async_trait]
impl skymailing_core::ports::Mailer for HeldMailer {
    async fn send(
        &self,
        _: &skymailing_core::ports::OutgoingEmail,
    ) -> Result<String, skymailing_core::ports::SendError> {
        self.entered.notify_one();
        self.release.notified().await;
        Err(skymailing_core::ports::SendError::Transient {
            reply: "451 4.3.0 try later".into(),
        })
    }
}

/// What the events say is what the store recorded: a retry whose mailing was
/// disabled while it was being sent is recorded as cancelled, and the event
/// says so (not "retrying").
#[tokio::test]
async fn a_retry_the_store_cancelled_is_told_as_cancelled() {
    let w = world_at("2026-05-01T12:00:00Z");
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    let m = w.once_to_numbered(ann, 1).await;
    let mailer = Arc::new(HeldMailer {
        entered: tokio::sync::Notify::new(),
        release: tokio::sync::Notify::new(),
    });
    let engine = Arc::new(w.app.engine(mailer.clone(), engine_config()));
    let mut events = engine.subscribe();
    let round = tokio::spawn({
        let engine = engine.clone();
        async move { engine.round().await }
    });
    tokio::time::timeout(WAIT, mailer.entered.notified())
        .await
        .expect("the send started");
    w.app.mailings.disable(ann, m.id).await.unwrap();
    mailer.release.notify_one();
    tokio::time::timeout(WAIT, round)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let seen = drain(&mut events);
    let outcomes: Vec<&DeliveryEvent> = seen
        .iter()
        .filter_map(|e| match e {
            EngineEvent::Delivery { outcome, .. } => Some(outcome),
            _ => None,
        })
        .collect();
    assert_eq!(outcomes, vec![&DeliveryEvent::Cancelled], "{seen:?}");
}

/// One `run` at a time: a second one while the first goes on returns at once
/// and leaves the first running (and stoppable).
#[tokio::test]
async fn a_second_run_while_running_returns_at_once() {
    let w = world_at("2026-05-01T12:00:00Z");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let first = tokio::spawn({
        let engine = w.engine.clone();
        async move {
            engine
                .run(async {
                    stopped.await.ok();
                })
                .await
        }
    });
    assert!(
        w.clock.wait_for_sleeps(1, WAIT).await,
        "the first run is idle"
    );
    tokio::time::timeout(WAIT, w.engine.run(std::future::pending()))
        .await
        .expect("the second run returns at once");
    assert!(!first.is_finished(), "the first goes on");
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    w.once_to_numbered(ann, 1).await;
    assert!(w.mailer.wait_for_sent(1, WAIT).await, "and sends");
    stop.send(()).unwrap();
    tokio::time::timeout(WAIT, first).await.unwrap().unwrap();
}

/// Spawning an engine twice does not make the second supervisor restart a
/// run that can never start: it stops, and the first goes on.
#[tokio::test]
async fn a_second_spawn_stops_instead_of_restarting_forever() {
    let w = world_at("2026-05-01T12:00:00Z");
    let first = w.engine.clone().spawn();
    assert!(w.clock.wait_for_sleeps(1, WAIT).await, "the first runs");
    let second = w.engine.clone().spawn();
    let stopped = async {
        while second.health().await != skymailing_core::engine::EngineHealth::Stopped {
            tokio::time::sleep(StdDuration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(WAIT, stopped)
        .await
        .expect("the second supervisor stops");
    assert!(first.health().await.is_running());
    first.shutdown().await;
}

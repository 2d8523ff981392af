//! Engine scenarios on the manual clock (`docs/scheduling.md`, `docs/delivery.md`).

mod common;

use std::time::Duration as StdDuration;

use chrono::Duration;
use common::*;
use skymailing_core::adapter::*;
use skymailing_core::engine::{EngineConfig, EngineHealth};
use skymailing_core::ports::{Clock, DeliveryQueue, MailingStore, RunFilter, RunStore};
use skymailing_core::testkit::Scripted;
use skymailing_core::*;

const WAIT: StdDuration = StdDuration::from_secs(10);

async fn runs(w: &World) -> Vec<Run> {
    let mut r = w
        .store
        .list_runs(RunFilter::default(), &ListQuery::new(1, 200, None).unwrap())
        .await
        .unwrap()
        .items;
    r.reverse();
    r
}

async fn deliveries(w: &World, run: RunId) -> Vec<Delivery> {
    w.store
        .run_deliveries(run, &ListQuery::new(1, 200, None).unwrap())
        .await
        .unwrap()
        .items
}

#[tokio::test]
async fn future_mailing_fires_at_its_start_with_no_action() {
    let w = world_at("2026-05-01T08:00:00Z");
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    let ids = w.clients(ann, &["a@example.com", "b@example.com"]).await;
    let engine = w.engine.clone();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        engine
            .run(async {
                stop_rx.await.ok();
            })
            .await
    });
    assert!(w.clock.wait_for_sleeps(1, WAIT).await, "the engine is idle");

    w.mailing(
        ann,
        &ids,
        t("2026-05-01T09:00:00Z"),
        t("2026-05-02T00:00:00Z"),
        Periodicity::Once,
    )
    .await;
    assert!(
        w.clock.wait_for_sleeps(2, WAIT).await,
        "woken by the new mailing, the engine looked and went back to sleep"
    );
    assert!(w.mailer.sent().is_empty(), "nothing before the start");

    w.clock.set(t("2026-05-01T09:00:00Z"));
    assert!(
        w.mailer.wait_for_sent(2, WAIT).await,
        "sent at the start with no further action"
    );
    let run = &runs(&w).await[0];
    assert_eq!(run.slot_at, t("2026-05-01T09:00:00Z"));

    stop_tx.send(()).unwrap();
    tokio::time::timeout(WAIT, task).await.unwrap().unwrap();
}

#[tokio::test]
async fn mailing_created_inside_its_window_sends_at_once() {
    let w = world_at("2026-05-01T12:00:00Z");
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    let ids = w.clients(ann, &["a@example.com"]).await;
    let engine = w.engine.clone();
    let task = tokio::spawn(async move { engine.run(std::future::pending()).await });
    assert!(
        w.clock.wait_for_sleeps(1, WAIT).await,
        "the engine is asleep"
    );

    let m = w
        .mailing(
            ann,
            &ids,
            t("2026-04-30T09:00:00Z"),
            t("2026-05-10T00:00:00Z"),
            Periodicity::Daily,
        )
        .await;
    assert_eq!(
        m.next_run_at,
        Some(t("2026-05-01T09:00:00Z")),
        "the current slot is due at once"
    );
    assert!(
        w.mailer.wait_for_sent(1, WAIT).await,
        "woken by the change, not the clock"
    );
    let r = &runs(&w).await[0];
    assert_eq!((r.slot_at, r.skipped_slots), (t("2026-05-01T09:00:00Z"), 0));
    let m = w.app.mailings.get(ann, m.id).await.unwrap();
    assert_eq!(m.mailing.next_run_at, Some(t("2026-05-02T09:00:00Z")));
    task.abort();
}

/// Steps the clock to each expected slot and runs one round there.
async fn run_slots(w: &World, slots: &[&str]) -> Vec<chrono::DateTime<chrono::Utc>> {
    for s in slots {
        w.clock.set(t(s));
        w.engine.round().await.unwrap();
    }
    runs(w).await.into_iter().map(|r| r.slot_at).collect()
}

#[tokio::test]
async fn daily_runs_keep_local_time_across_dst() {
    let w = world_at("2026-03-27T00:00:00Z");
    let ann = w.user("ann@example.com", Role::User, "Europe/Berlin").await;
    let ids = w.clients(ann, &["a@example.com"]).await;
    // 09:00 in Berlin: 08:00 UTC in winter, 07:00 UTC from March 29 on.
    w.mailing(
        ann,
        &ids,
        t("2026-03-28T08:00:00Z"),
        t("2026-03-31T00:00:00Z"),
        Periodicity::Daily,
    )
    .await;
    let slots = [
        "2026-03-28T08:00:00Z",
        "2026-03-29T07:00:00Z",
        "2026-03-30T07:00:00Z",
        "2026-04-05T00:00:00Z",
    ];
    let got = run_slots(&w, &slots).await;
    assert_eq!(got, slots[..3].iter().map(|s| t(s)).collect::<Vec<_>>());
    assert_eq!(w.mailer.sent().len(), 3);
}

#[tokio::test]
async fn weekly_runs_land_on_the_same_local_weekday_and_time() {
    let w = world_at("2026-10-01T00:00:00Z");
    let ann = w
        .user("ann@example.com", Role::User, "America/New_York")
        .await;
    let ids = w.clients(ann, &["a@example.com"]).await;
    // Mondays 10:00 New York: 14:00 UTC before Nov 1, 15:00 UTC after.
    w.mailing(
        ann,
        &ids,
        t("2026-10-26T14:00:00Z"),
        t("2026-11-10T00:00:00Z"),
        Periodicity::Weekly,
    )
    .await;
    let got = run_slots(
        &w,
        &[
            "2026-10-26T14:00:00Z",
            "2026-11-02T15:00:00Z",
            "2026-11-09T15:00:00Z",
        ],
    )
    .await;
    assert_eq!(
        got,
        vec![
            t("2026-10-26T14:00:00Z"),
            t("2026-11-02T15:00:00Z"),
            t("2026-11-09T15:00:00Z")
        ]
    );
}

#[tokio::test]
async fn monthly_runs_clamp_to_the_last_day_and_come_back() {
    let w = world_at("2026-01-01T00:00:00Z");
    let ann = w.user("ann@example.com", Role::User, "Europe/Moscow").await;
    let ids = w.clients(ann, &["a@example.com"]).await;
    // The 31st at 12:00 Moscow (09:00 UTC).
    w.mailing(
        ann,
        &ids,
        t("2026-01-31T09:00:00Z"),
        t("2026-04-15T00:00:00Z"),
        Periodicity::Monthly,
    )
    .await;
    let got = run_slots(
        &w,
        &[
            "2026-01-31T09:00:00Z",
            "2026-02-28T09:00:00Z",
            "2026-03-31T09:00:00Z",
            "2026-04-14T00:00:00Z",
        ],
    )
    .await;
    assert_eq!(
        got,
        vec![
            t("2026-01-31T09:00:00Z"),
            t("2026-02-28T09:00:00Z"),
            t("2026-03-31T09:00:00Z")
        ]
    );
}

#[tokio::test]
async fn missed_slots_are_coalesced_into_one_run_with_a_count() {
    let w = world_at("2026-05-01T08:00:00Z");
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    let ids = w.clients(ann, &["a@example.com"]).await;
    w.mailing(
        ann,
        &ids,
        t("2026-05-01T09:00:00Z"),
        t("2026-06-01T00:00:00Z"),
        Periodicity::Daily,
    )
    .await;
    // The service was down from before the first slot until the 4th, 10:00.
    w.clock.set(t("2026-05-04T10:00:00Z"));
    w.engine.round().await.unwrap();
    let r = runs(&w).await;
    assert_eq!(r.len(), 1, "never a burst");
    assert_eq!(
        (r[0].slot_at, r[0].skipped_slots),
        (t("2026-05-04T09:00:00Z"), 3)
    );
    assert_eq!(
        r[0].report.as_ref().map(ToString::to_string).as_deref(),
        Some("Sent 1 of 1 (3 missed slots skipped)")
    );
}

#[tokio::test]
async fn no_run_starts_after_the_end() {
    let w = world_at("2026-05-01T08:00:00Z");
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    let ids = w.clients(ann, &["a@example.com"]).await;
    let m = w
        .mailing(
            ann,
            &ids,
            t("2026-05-01T09:00:00Z"),
            t("2026-05-01T10:00:00Z"),
            Periodicity::Once,
        )
        .await;
    w.clock.set(t("2026-05-01T10:00:00Z"));
    w.engine.round().await.unwrap();
    assert!(runs(&w).await.is_empty());
    let m = w.app.mailings.get(ann, m.id).await.unwrap();
    assert_eq!(
        (m.mailing.next_run_at, m.status),
        (None, MailingStatus::Finished)
    );
}

#[tokio::test]
async fn emails_are_rendered_per_recipient_with_stable_ids_and_unsubscribe_links() {
    let w = world_at("2026-05-01T09:00:00Z");
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    let ids = w.clients(ann, &["a@example.com", "b@example.com"]).await;
    w.mailing(
        ann,
        &ids,
        t("2026-05-01T09:00:00Z"),
        t("2026-05-02T00:00:00Z"),
        Periodicity::Once,
    )
    .await;
    w.engine.round().await.unwrap();
    let a = &w.mailer.sent_to("a@example.com")[0];
    assert_eq!(a.subject, "Hello Name a@example.com");
    assert!(
        a.text.starts_with(
            "Dear Name a@example.com,\nunsubscribe: https://mail.example/unsubscribe/"
        )
    );
    let url = a.unsubscribe_url.clone().unwrap();
    assert!(a.text.ends_with(&url));
    assert!(a.message_id.starts_with('<') && a.message_id.ends_with("@test.example>"));
    let b = &w.mailer.sent_to("b@example.com")[0];
    assert_ne!(a.message_id, b.message_id);
    assert_ne!(a.unsubscribe_url, b.unsubscribe_url);
    // The link works: the recipient is unsubscribed and skipped next time.
    let token = url.rsplit('/').next().unwrap();
    assert!(w.app.clients.unsubscribe(token).await.unwrap().unsubscribed);
}

#[tokio::test]
async fn a_worker_that_dies_mid_batch_loses_nothing_once_its_lease_expires() {
    let w = world_at("2026-05-01T09:00:00Z");
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    let emails: Vec<String> = (0..30).map(|i| format!("c{i}@example.com")).collect();
    let ids = w
        .clients(ann, &emails.iter().map(String::as_str).collect::<Vec<_>>())
        .await;
    w.mailing(
        ann,
        &ids,
        t("2026-05-01T09:00:00Z"),
        t("2026-05-02T00:00:00Z"),
        Periodicity::Once,
    )
    .await;
    w.engine.schedule_due().await.unwrap();
    // A worker claims 20 deliveries and dies without a word.
    let dead = w
        .store
        .claim_deliveries(t("2026-05-01T09:00:00Z"), StdDuration::from_secs(60), 20)
        .await
        .unwrap();
    assert_eq!(dead.len(), 20);
    w.engine.round().await.unwrap();
    assert_eq!(w.mailer.sent().len(), 10, "the leased ones wait");
    w.advance(Duration::seconds(61));
    w.engine.round().await.unwrap();
    assert_eq!(w.mailer.sent().len(), 30, "every recipient once");
    let r = &runs(&w).await[0];
    assert_eq!(
        r.report.as_ref().map(ToString::to_string).as_deref(),
        Some("Sent 30 of 30")
    );
    // The dead worker's late results are fenced off.
    let late: Vec<_> = dead
        .iter()
        .map(|d| DeliveryResult {
            id: d.id,
            attempt: d.attempt,
            outcome: DeliveryOutcome::Failed {
                reply: "late".into(),
            },
        })
        .collect();
    assert_eq!(
        w.store
            .complete_deliveries(&late, w.clock.now())
            .await
            .unwrap()
            .len(),
        0
    );
    assert!(
        deliveries(&w, r.id)
            .await
            .iter()
            .all(|d| d.state == DeliveryState::Sent)
    );
}

#[tokio::test]
async fn transient_failures_retry_with_backoff_then_succeed_with_the_same_message_id() {
    let w = world_at("2026-05-01T09:00:00Z");
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    let ids = w.clients(ann, &["a@example.com", "b@example.com"]).await;
    w.mailer.script(
        "a@example.com",
        [
            Scripted::Transient("451 4.7.1 try later".into()),
            Scripted::Connection("reset".into()),
        ],
    );
    w.mailing(
        ann,
        &ids,
        t("2026-05-01T09:00:00Z"),
        t("2026-05-02T00:00:00Z"),
        Periodicity::Once,
    )
    .await;
    w.engine.round().await.unwrap();
    assert_eq!(w.mailer.sent().len(), 1);
    let run = runs(&w).await[0].clone();
    let a = deliveries(&w, run.id)
        .await
        .into_iter()
        .find(|d| d.email.as_str() == "a@example.com")
        .unwrap();
    assert_eq!(
        (a.state, a.attempts, a.last_reply.as_deref()),
        (DeliveryState::Pending, 1, Some("451 4.7.1 try later"))
    );
    let wait = a.next_attempt_at - t("2026-05-01T09:00:00Z");
    assert!(
        wait >= Duration::seconds(5) && wait <= Duration::seconds(10),
        "backoff with jitter: {wait}"
    );
    assert_eq!(
        w.store.next_wakeup().await.unwrap(),
        Some(a.next_attempt_at)
    );

    w.engine.round().await.unwrap();
    assert_eq!(w.mailer.attempts().len(), 2, "not before its time");
    w.clock.set(a.next_attempt_at);
    w.engine.round().await.unwrap(); // connection error: second retry
    let a2 = deliveries(&w, run.id)
        .await
        .into_iter()
        .find(|d| d.id == a.id)
        .unwrap();
    assert_eq!((a2.state, a2.attempts), (DeliveryState::Pending, 2));
    assert!(
        a2.next_attempt_at - a.next_attempt_at >= Duration::seconds(10),
        "the delay doubles"
    );
    w.clock.set(a2.next_attempt_at);
    w.engine.round().await.unwrap();
    let ids: Vec<_> = w
        .mailer
        .attempts()
        .iter()
        .filter(|(e, _)| e.to.as_str() == "a@example.com")
        .map(|(e, _)| e.message_id.clone())
        .collect();
    assert_eq!(ids.len(), 3);
    assert!(
        ids.iter().all(|i| *i == ids[0]),
        "the same Message-ID on every attempt"
    );
    assert_eq!(
        runs(&w).await[0]
            .report
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("Sent 2 of 2")
    );
}

#[tokio::test]
async fn permanent_failures_fail_at_once_and_are_reported() {
    let w = world_at("2026-05-01T09:00:00Z");
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    let ids = w
        .clients(ann, &["a@example.com", "b@example.com", "c@example.com"])
        .await;
    w.mailer.script(
        "b@example.com",
        [Scripted::Permanent("550 5.1.1 user unknown".into())],
    );
    w.mailer.script(
        "c@example.com",
        [Scripted::Permanent("550 5.1.1 user unknown".into())],
    );
    w.mailing(
        ann,
        &ids,
        t("2026-05-01T09:00:00Z"),
        t("2026-05-02T00:00:00Z"),
        Periodicity::Once,
    )
    .await;
    w.engine.round().await.unwrap();
    let r = &runs(&w).await[0];
    assert_eq!(
        r.report.as_ref().map(ToString::to_string).as_deref(),
        Some("Sent 1 of 3; 2 failed: 550 5.1.1 user unknown ×2")
    );
    assert_eq!((r.sent, r.failed, r.recipients), (1, 2, 3));
    assert_eq!(w.mailer.attempts().len(), 3, "no retry of a 5xx");
}

/// A "too many" reply is the domain asking us to slow down, not a failure of
/// the delivery: it waits its turn (attempt not counted), while a delivery to
/// another domain in the same run is sent at once, and more such replies than
/// `max_attempts` (3 here) still end in the mail being sent.
#[tokio::test]
async fn a_throttling_reply_defers_the_delivery_without_using_a_retry() {
    let w = world_at("2026-05-01T09:00:00Z");
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    let ids = w.clients(ann, &["a@slow.example", "b@fast.example"]).await;
    w.mailer.script(
        "a@slow.example",
        (0..4).map(|_| Scripted::Transient("421 4.7.0 Too many messages, slow down".into())),
    );
    w.mailing(
        ann,
        &ids,
        t("2026-05-01T09:00:00Z"),
        t("2026-05-02T00:00:00Z"),
        Periodicity::Once,
    )
    .await;
    w.engine.round().await.unwrap();
    assert_eq!(
        w.mailer.sent_to("b@fast.example").len(),
        1,
        "the other domain went out"
    );
    let run = runs(&w).await[0].id;
    let a = deliveries(&w, run)
        .await
        .into_iter()
        .find(|d| d.email.as_str() == "a@slow.example")
        .unwrap();
    assert_eq!(
        (a.state, a.attempts),
        (DeliveryState::Pending, 0),
        "held back, its attempt not counted"
    );
    let detail = w.app.logs.run(ann, run).await.unwrap();
    assert_eq!(detail.totals.waiting, vec![("slow.example".to_owned(), 1)]);
    assert_eq!(detail.totals.activity(), RunActivity::WaitingForDomains);
    // Another user reads the log too, but not the owner's recipient domains.
    let bob = w.user("bob@example.com", Role::User, "UTC").await;
    let seen = w.app.logs.run(bob, run).await.unwrap();
    assert_eq!(seen.totals.waiting, vec![("<domain>".to_owned(), 1)]);
    assert_eq!(seen.totals.activity(), RunActivity::WaitingForDomains);
    for _ in 0..10 {
        w.advance(Duration::seconds(30));
        w.engine.round().await.unwrap();
    }
    assert_eq!(
        w.mailer.sent_to("a@slow.example").len(),
        1,
        "sent in the end"
    );
    let a = deliveries(&w, run)
        .await
        .into_iter()
        .find(|d| d.email.as_str() == "a@slow.example")
        .unwrap();
    assert_eq!((a.state, a.attempts), (DeliveryState::Sent, 1));
}

#[tokio::test]
async fn exhausted_retries_fail_with_the_last_reply() {
    let w = world_at("2026-05-01T09:00:00Z");
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    let ids = w.clients(ann, &["a@example.com"]).await;
    w.mailer.script(
        "a@example.com",
        (0..3).map(|i| Scripted::Transient(format!("451 4.3.0 busy {i}"))),
    );
    w.mailing(
        ann,
        &ids,
        t("2026-05-01T09:00:00Z"),
        t("2026-05-02T00:00:00Z"),
        Periodicity::Once,
    )
    .await;
    for _ in 0..3 {
        w.engine.round().await.unwrap();
        w.advance(Duration::minutes(5));
    }
    assert_eq!(w.mailer.attempts().len(), 3, "max_attempts");
    assert_eq!(
        runs(&w).await[0]
            .report
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("Sent 0 of 1; 1 failed: 451 4.3.0 busy 2 ×1")
    );
}

#[tokio::test]
async fn disabling_a_mailing_cancels_its_pending_deliveries() {
    let w = world_with(
        "2026-05-01T09:00:00Z",
        EngineConfig {
            batch_size: 2,
            ..engine_config()
        },
    );
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    let ids = w
        .clients(
            ann,
            &[
                "a@example.com",
                "b@example.com",
                "c@example.com",
                "d@example.com",
                "e@example.com",
            ],
        )
        .await;
    let m = w
        .mailing(
            ann,
            &ids,
            t("2026-05-01T09:00:00Z"),
            t("2026-05-10T00:00:00Z"),
            Periodicity::Daily,
        )
        .await;
    w.engine.schedule_due().await.unwrap();
    w.engine.work_batch().await.unwrap();
    let manager = w.user("boss@example.com", Role::Manager, "UTC").await;
    let off = w.app.mailings.disable(manager, m.id).await.unwrap();
    assert_eq!(off.status, MailingStatus::Disabled);
    w.engine.round().await.unwrap();
    assert_eq!(w.mailer.sent().len(), 2, "nothing more sent");
    assert_eq!(
        runs(&w).await[0]
            .report
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("Sent 2 of 5; 3 cancelled")
    );
    // Disabled mailings do not run their next slots either.
    w.clock.set(t("2026-05-03T12:00:00Z"));
    w.engine.round().await.unwrap();
    assert_eq!(runs(&w).await.len(), 1);
    // The owner cannot undo a manager's disable; a manager can, and the current slot runs.
    assert!(matches!(
        w.app.mailings.enable(ann, m.id).await,
        Err(Error::Forbidden(_))
    ));
    w.app.mailings.enable(manager, m.id).await.unwrap();
    w.engine.round().await.unwrap();
    let r = runs(&w).await;
    assert_eq!((r.len(), r[1].slot_at), (2, t("2026-05-03T09:00:00Z")));
}

#[tokio::test]
async fn blocking_the_owner_stops_the_mailing() {
    let w = world_with(
        "2026-05-01T09:00:00Z",
        EngineConfig {
            batch_size: 1,
            ..engine_config()
        },
    );
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    let ids = w
        .clients(ann, &["a@example.com", "b@example.com", "c@example.com"])
        .await;
    w.mailing(
        ann,
        &ids,
        t("2026-05-01T09:00:00Z"),
        t("2026-05-10T00:00:00Z"),
        Periodicity::Daily,
    )
    .await;
    w.engine.schedule_due().await.unwrap();
    w.engine.work_batch().await.unwrap();
    let manager = w.user("boss@example.com", Role::Manager, "UTC").await;
    let skymailing_core::policy::Actor::User(p) = ann else {
        unreachable!()
    };
    w.app.accounts.block(manager, p.id).await.unwrap();
    w.engine.round().await.unwrap();
    assert_eq!(
        runs(&w).await[0]
            .report
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("Sent 1 of 3; 2 cancelled")
    );
    w.clock.set(t("2026-05-02T09:00:00Z"));
    w.engine.round().await.unwrap();
    assert_eq!(
        runs(&w).await.len(),
        1,
        "a blocked owner's mailings do not run"
    );
    w.app.accounts.unblock(manager, p.id).await.unwrap();
    w.engine.round().await.unwrap();
    assert_eq!(runs(&w).await.len(), 2, "they resume after an unblock");
}

#[tokio::test]
async fn a_run_freezes_its_message_and_recipients() {
    let w = world_with(
        "2026-05-01T09:00:00Z",
        EngineConfig {
            batch_size: 1,
            ..engine_config()
        },
    );
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    let ids = w.clients(ann, &["a@example.com", "b@example.com"]).await;
    let m = w
        .mailing(
            ann,
            &ids,
            t("2026-05-01T09:00:00Z"),
            t("2026-05-02T00:00:00Z"),
            Periodicity::Once,
        )
        .await;
    w.engine.schedule_due().await.unwrap();
    w.engine.work_batch().await.unwrap();
    // Mid-run: the message is edited and a client deleted.
    let d = MessageDraft::parse("Changed", "Changed body", None).unwrap();
    w.app.messages.update(ann, m.message_id, &d).await.unwrap();
    w.app.clients.delete(ann, ids[1]).await.unwrap();
    w.engine.round().await.unwrap();
    let sent = w.mailer.sent();
    assert_eq!(sent.len(), 2, "the deleted client still gets this run");
    assert!(
        sent.iter().all(|e| e.subject.starts_with("Hello ")),
        "no mixed mail"
    );
}

#[tokio::test]
async fn sends_run_with_bounded_concurrency() {
    let w = world_with(
        "2026-05-01T09:00:00Z",
        EngineConfig {
            batch_size: 40,
            concurrency: 5,
            ..engine_config()
        },
    );
    w.mailer.set_delay(Some(StdDuration::from_millis(20)));
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    let emails: Vec<String> = (0..40).map(|i| format!("c{i}@example.com")).collect();
    let ids = w
        .clients(ann, &emails.iter().map(String::as_str).collect::<Vec<_>>())
        .await;
    w.mailing(
        ann,
        &ids,
        t("2026-05-01T09:00:00Z"),
        t("2026-05-02T00:00:00Z"),
        Periodicity::Once,
    )
    .await;
    w.engine.round().await.unwrap();
    assert_eq!(w.mailer.sent().len(), 40);
    assert_eq!(w.mailer.max_in_flight(), 5);
}

#[tokio::test]
async fn graceful_shutdown_finishes_sends_in_flight_and_releases_the_rest() {
    let w = world_with(
        "2026-05-01T09:00:00Z",
        EngineConfig {
            batch_size: 10,
            concurrency: 2,
            parallel_batches: 2,
            ..engine_config()
        },
    );
    w.mailer.hold();
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    let emails: Vec<String> = (0..30).map(|i| format!("c{i}@example.com")).collect();
    let ids = w
        .clients(ann, &emails.iter().map(String::as_str).collect::<Vec<_>>())
        .await;
    w.mailing(
        ann,
        &ids,
        t("2026-05-01T09:00:00Z"),
        t("2026-05-02T00:00:00Z"),
        Periodicity::Once,
    )
    .await;
    let engine = w.engine.clone();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        engine
            .run(async {
                stop_rx.await.ok();
            })
            .await
    });
    assert!(
        w.mailer.wait_for_in_flight(4, WAIT).await,
        "2 batches × 2 sends in flight"
    );
    stop_tx.send(()).unwrap();
    // Only once the engine has taken the stop may the held sends finish:
    // otherwise their batch would go on to send more.
    let stopping = tokio::time::timeout(WAIT, async {
        while !w.engine.is_stopping() {
            tokio::task::yield_now().await;
        }
    });
    stopping.await.expect("the engine takes the stop");
    w.mailer.release();
    tokio::time::timeout(WAIT, task).await.unwrap().unwrap();
    assert_eq!(
        w.mailer.sent().len(),
        4,
        "the sends in flight finished; nothing new started"
    );
    let run = &runs(&w).await[0];
    let ds = deliveries(&w, run.id).await;
    assert_eq!(
        ds.iter().filter(|d| d.state == DeliveryState::Sent).count(),
        4
    );
    let pending: Vec<_> = ds
        .iter()
        .filter(|d| d.state == DeliveryState::Pending)
        .collect();
    assert_eq!(pending.len(), 26, "nothing left leased");
    assert!(
        pending.iter().all(|d| d.attempts == 0),
        "released claims do not count as attempts"
    );
}

/// A mailer that takes ten seconds of the manual clock per send. With
/// `lets_others_run`, it yields while it "waits", so the worker's other tasks
/// (its lease renewal) run; without, the worker's task never pauses, as if
/// it were stuck.
struct SlowClockMailer {
    clock: std::sync::Arc<skymailing_core::testkit::ManualClock>,
    sent: std::sync::Mutex<Vec<String>>,
    lets_others_run: bool,
}

#[async_trait::async_trait]
impl skymailing_core::ports::Mailer for SlowClockMailer {
    async fn send(
        &self,
        email: &skymailing_core::ports::OutgoingEmail,
    ) -> Result<String, skymailing_core::ports::SendError> {
        self.clock.advance(Duration::seconds(10));
        if self.lets_others_run {
            for _ in 0..10 {
                tokio::task::yield_now().await;
            }
        }
        self.sent.lock().unwrap().push(email.to.to_string());
        Ok("250 ok".into())
    }
}

/// A live worker renews its claims as it works, so a batch that takes longer
/// than one lease is still all its own.
#[tokio::test]
async fn a_live_worker_renews_its_lease_through_a_long_batch() {
    let w = world_at("2026-05-01T09:00:00Z");
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    w.once_to_numbered(ann, 10).await;
    let mailer = std::sync::Arc::new(SlowClockMailer {
        clock: w.clock.clone(),
        sent: Default::default(),
        lets_others_run: true,
    });
    let config = EngineConfig {
        batch_size: 10,
        concurrency: 1,
        lease: StdDuration::from_secs(30),
        send_timeout: StdDuration::from_secs(5),
        ..engine_config()
    };
    let engine = w.app.engine(mailer.clone(), config);
    engine.schedule_due().await.unwrap();
    assert_eq!(
        engine.work_batch().await.unwrap(),
        10,
        "100 s of sends under a 30 s lease"
    );
    assert_eq!(mailer.sent.lock().unwrap().len(), 10);
}

#[tokio::test]
async fn a_batch_never_sends_past_its_lease() {
    let w = world_at("2026-05-01T09:00:00Z");
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    w.once_to_numbered(ann, 10).await;
    let mailer = std::sync::Arc::new(SlowClockMailer {
        clock: w.clock.clone(),
        sent: Default::default(),
        lets_others_run: false,
    });
    // Lease 60 s, never renewed (the worker's task never pauses), send timeout
    // 5 s: a send starts only with 8 s of lease left (5 s and 3 s to write).
    let config = EngineConfig {
        batch_size: 10,
        concurrency: 1,
        lease: StdDuration::from_secs(60),
        send_timeout: StdDuration::from_secs(5),
        ..engine_config()
    };
    let engine = w.app.engine(mailer.clone(), config);
    engine.schedule_due().await.unwrap();
    assert_eq!(engine.work_batch().await.unwrap(), 6);
    assert_eq!(
        mailer.sent.lock().unwrap().len(),
        6,
        "sends at 0, 10, 20, 30, 40 and 50 s; none at 60 s"
    );
    let run = &runs(&w).await[0];
    let ds = deliveries(&w, run.id).await;
    assert_eq!(
        ds.iter()
            .filter(|d| d.state == DeliveryState::Pending && d.attempts == 0)
            .count(),
        4,
        "handed back"
    );
    // The next batch takes them.
    assert_eq!(engine.work_batch().await.unwrap(), 4);
    assert_eq!(mailer.sent.lock().unwrap().len(), 10);
}

#[tokio::test]
async fn a_retry_after_the_mailing_was_disabled_is_never_sent() {
    let w = world_at("2026-05-01T09:00:00Z");
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    let ids = w.clients(ann, &["a@example.com", "b@example.com"]).await;
    w.mailer
        .script("a@example.com", [Scripted::Transient("451 later".into())]);
    let m = w
        .mailing(
            ann,
            &ids,
            t("2026-05-01T09:00:00Z"),
            t("2026-05-09T00:00:00Z"),
            Periodicity::Daily,
        )
        .await;
    w.engine.round().await.unwrap();
    w.app.mailings.disable(ann, m.id).await.unwrap();
    w.advance(Duration::hours(1));
    w.engine.round().await.unwrap();
    assert_eq!(w.mailer.sent_to("a@example.com").len(), 0);
    assert_eq!(
        runs(&w).await[0]
            .report
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("Sent 1 of 2; 1 cancelled")
    );
}

#[tokio::test]
async fn the_report_never_shows_an_address() {
    let w = world_at("2026-05-01T09:00:00Z");
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    let bob = w.user("bob@example.com", Role::User, "UTC").await;
    let ids = w.clients(ann, &["gone@example.com"]).await;
    w.mailer.script(
        "gone@example.com",
        [Scripted::Permanent(
            "550 5.1.1 <gone@example.com>: user unknown".into(),
        )],
    );
    w.mailing(
        ann,
        &ids,
        t("2026-05-01T09:00:00Z"),
        t("2026-05-02T00:00:00Z"),
        Periodicity::Once,
    )
    .await;
    w.engine.round().await.unwrap();
    let run = &runs(&w).await[0];
    assert_eq!(
        run.report.as_ref().map(ToString::to_string).as_deref(),
        Some("Sent 0 of 1; 1 failed: 550 5.1.1 <address>: user unknown ×1")
    );
    let seen_by_bob = w.app.logs.run(bob, run.id).await.unwrap();
    assert_eq!(
        seen_by_bob.totals.failures[0].0,
        "550 5.1.1 <address>: user unknown"
    );
    let seen_by_owner = w.app.logs.run(ann, run.id).await.unwrap();
    assert_eq!(
        seen_by_owner.totals.failures[0].0,
        "550 5.1.1 <gone@example.com>: user unknown"
    );
}

/// A mailer that panics for one address (a bug in an adapter, say).
struct PanickyMailer {
    inner: std::sync::Arc<skymailing_core::testkit::RecordingMailer>,
    address: &'static str,
}

#[async_trait::async_trait]
impl skymailing_core::ports::Mailer for PanickyMailer {
    async fn send(
        &self,
        email: &skymailing_core::ports::OutgoingEmail,
    ) -> Result<String, skymailing_core::ports::SendError> {
        if email.to.as_str() == self.address {
            panic!("the adapter broke on {}", self.address);
        }
        self.inner.send(email).await
    }
}

/// The input the issue found: a start in year -262143, stored before times
/// were bounded, with an owner in New York. The engine parks that mailing
/// with the reason `engine_error` and goes on sending everyone else's.
#[tokio::test]
async fn a_mailing_with_impossible_times_is_parked_and_the_rest_keep_sending() {
    let w = world_at("2026-05-01T09:00:00Z");
    let eve = w
        .user("eve@example.com", Role::User, "America/New_York")
        .await;
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    let eve_clients = w.clients(eve, &["x@example.com"]).await;
    let ann_clients = w.clients(ann, &["a@example.com"]).await;
    let msg = w
        .app
        .messages
        .create(eve, &MessageDraft::parse("Hi", "Hello", None).unwrap())
        .await
        .unwrap();
    // What the API accepted before: built around the validating constructor.
    let mut bad = MailingDraft::new(
        "Ancient",
        msg.id,
        eve_clients,
        t("2026-05-01T00:00:00Z"),
        t("2026-06-01T00:00:00Z"),
        Periodicity::Daily,
    )
    .unwrap();
    bad.start_at = "-262143-01-01T00:00:00Z".parse().unwrap();
    let owner = eve.principal().unwrap().id;
    let bad = w
        .store
        .create_mailing(owner, &bad, Some(t("2026-05-01T08:00:00Z")), w.clock.now())
        .await
        .unwrap();
    w.mailing(
        ann,
        &ann_clients,
        t("2026-05-01T09:00:00Z"),
        t("2026-05-02T00:00:00Z"),
        Periodicity::Once,
    )
    .await;
    w.engine.round().await.unwrap();
    assert_eq!(
        w.mailer.sent_to("a@example.com").len(),
        1,
        "Ann's mail went out"
    );
    let parked = w.app.mailings.get(eve, bad.id).await.unwrap().mailing;
    assert_eq!(
        (parked.enabled, parked.disabled_by),
        (false, Some(DisabledBy::EngineError))
    );
    // The engine goes on: another round is fine.
    w.engine.round().await.unwrap();
}

/// A delivery that panics fails alone; its mailing is parked, and another
/// user's mailing in the same batch is sent.
#[tokio::test]
async fn a_panicking_delivery_parks_its_mailing_and_spares_the_others() {
    let w = world_at("2026-05-01T09:00:00Z");
    let eve = w.user("eve@example.com", Role::User, "UTC").await;
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    let eve_clients = w.clients(eve, &["boom@example.com", "y@example.com"]).await;
    let ann_clients = w.clients(ann, &["a@example.com"]).await;
    let window = (t("2026-05-01T09:00:00Z"), t("2026-05-02T00:00:00Z"));
    let bad = w
        .mailing(eve, &eve_clients, window.0, window.1, Periodicity::Once)
        .await;
    w.mailing(ann, &ann_clients, window.0, window.1, Periodicity::Once)
        .await;
    let mailer = std::sync::Arc::new(PanickyMailer {
        inner: w.mailer.clone(),
        address: "boom@example.com",
    });
    let config = EngineConfig {
        concurrency: 1,
        ..engine_config()
    };
    let engine = w.app.engine(mailer, config);
    engine.round().await.unwrap();
    assert_eq!(w.mailer.sent_to("a@example.com").len(), 1);
    let parked = w.app.mailings.get(eve, bad.id).await.unwrap().mailing;
    assert_eq!(parked.disabled_by, Some(DisabledBy::EngineError));
    let eve_run = runs(&w)
        .await
        .into_iter()
        .find(|r| r.mailing_id == Some(bad.id))
        .unwrap();
    let states: Vec<_> = deliveries(&w, eve_run.id)
        .await
        .into_iter()
        .map(|d| (d.email.to_string(), d.state))
        .collect();
    assert!(
        states.contains(&("boom@example.com".into(), DeliveryState::Failed)),
        "{states:?}"
    );
    // Its other recipient was either sent before the panic or cancelled by the park.
    assert!(
        states.iter().all(|(_, s)| s.is_final()),
        "nothing of the parked mailing is left to send: {states:?}"
    );
    // Enabling it again tries again.
    let again = w.app.mailings.enable(eve, bad.id).await.unwrap().mailing;
    assert!(again.enabled);
}

/// A clock whose first sleep panics: the engine's loop dies outside every guard.
struct BrokenOnceClock {
    inner: std::sync::Arc<skymailing_core::testkit::ManualClock>,
    broke: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl Clock for BrokenOnceClock {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.inner.now()
    }
    async fn sleep_until(&self, deadline: chrono::DateTime<chrono::Utc>) {
        if !self.broke.swap(true, std::sync::atomic::Ordering::SeqCst) {
            panic!("a bug outside every guard");
        }
        self.inner.sleep_until(deadline).await
    }
}

/// The supervisor restarts an engine whose task died, says so in its health,
/// and the restarted engine sends.
#[tokio::test]
async fn a_dead_engine_is_restarted_and_says_so_meanwhile() {
    let w = world_at("2026-05-01T09:00:00Z");
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    let ids = w.clients(ann, &["a@example.com"]).await;
    let clock = std::sync::Arc::new(BrokenOnceClock {
        inner: w.clock.clone(),
        broke: Default::default(),
    });
    let engine = std::sync::Arc::new(skymailing_core::engine::Engine::new(
        w.store.clone(),
        w.mailer.clone(),
        clock,
        w.app.links().clone(),
        engine_config(),
        w.app.wakeup(),
    ));
    let handle = engine.spawn();
    let mut seen_restart = false;
    for _ in 0..200 {
        if let EngineHealth::Restarting { restarts, reason } = handle.health().await {
            assert_eq!(restarts, 1);
            assert!(reason.contains("a bug outside every guard"), "{reason}");
            seen_restart = true;
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(5)).await;
    }
    assert!(seen_restart, "the health said the engine was down");
    // After the pause it runs again, and sends.
    w.mailing(
        ann,
        &ids,
        t("2026-05-01T09:00:00Z"),
        t("2026-05-02T00:00:00Z"),
        Periodicity::Once,
    )
    .await;
    assert!(
        w.mailer.wait_for_sent(1, WAIT).await,
        "the restarted engine sent"
    );
    assert_eq!(handle.health().await, EngineHealth::Running);
    handle.shutdown().await;
    assert_eq!(handle.health().await, EngineHealth::Stopped);
}

/// Fair sending: a one-recipient mailing started while another user's big run
/// is sending goes out within about a batch, not after the whole big run.
#[tokio::test]
async fn a_small_run_is_sent_beside_a_big_one_not_behind_it() {
    let w = world_with(
        "2026-05-01T09:00:00Z",
        EngineConfig {
            batch_size: 20,
            concurrency: 2,
            parallel_batches: 2,
            ..engine_config()
        },
    );
    w.mailer.set_delay(Some(StdDuration::from_millis(2)));
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    let bob = w.user("bob@example.com", Role::User, "UTC").await;
    let emails: Vec<String> = (0..400).map(|i| format!("c{i}@example.com")).collect();
    let big = w
        .clients(ann, &emails.iter().map(String::as_str).collect::<Vec<_>>())
        .await;
    let small = w.clients(bob, &["bob-client@example.com"]).await;
    let window = (t("2026-05-01T09:00:00Z"), t("2026-05-02T00:00:00Z"));
    w.mailing(ann, &big, window.0, window.1, Periodicity::Once)
        .await;
    let engine = w.engine.clone();
    let task = tokio::spawn(async move { engine.run(std::future::pending()).await });
    assert!(
        w.mailer.wait_for_sent(40, WAIT).await,
        "the big run is sending"
    );
    // Hold the relay while Bob's mailing is made, so that what counts is the
    // order of claims, not how fast this machine happens to be.
    w.mailer.hold();
    let before = w.mailer.sent().len();
    w.mailing(bob, &small, window.0, window.1, Periodicity::Once)
        .await;
    w.mailer.release();
    assert!(
        w.mailer
            .wait_for_sent_to("bob-client@example.com", 1, WAIT)
            .await
    );
    let position = w
        .mailer
        .sent()
        .iter()
        .position(|e| e.to.as_str() == "bob-client@example.com")
        .unwrap();
    task.abort();
    // What was claimed already (two batches of 20) goes first, and the other
    // batch loop may claim once more before; Bob's run has its share of the
    // next claim: within four batches, where it used to wait for all 400.
    assert!(
        position <= before + 4 * 20,
        "Bob's mail went out after {} more of Ann's (of 400)",
        position - before
    );
}

/// An engine that makes no progress while work is due says it is stalled
/// (here: a relay that stopped answering holds its only send, and the next
/// delivery waits); once it moves again it is running.
#[tokio::test]
async fn an_engine_making_no_progress_while_work_is_due_is_stalled() {
    let w = world_with(
        "2026-05-01T09:00:00Z",
        EngineConfig {
            batch_size: 1,
            concurrency: 1,
            parallel_batches: 1,
            send_timeout: StdDuration::from_secs(3600),
            lease: StdDuration::from_secs(7200),
            ..engine_config()
        },
    );
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    let ids = w.clients(ann, &["a@example.com", "b@example.com"]).await;
    w.mailer.hold();
    w.mailing(
        ann,
        &ids,
        t("2026-05-01T09:00:00Z"),
        t("2026-05-02T00:00:00Z"),
        Periodicity::Once,
    )
    .await;
    let handle = w.engine.clone().spawn();
    assert!(w.mailer.wait_for_in_flight(1, WAIT).await, "one send held");
    assert_eq!(
        handle.health().await,
        EngineHealth::Running,
        "quiet for a moment is fine"
    );
    // Three polling intervals (5 s each) later, with b@ due and nothing done:
    w.clock.advance(Duration::seconds(16));
    assert!(
        matches!(handle.health().await, EngineHealth::Stalled { .. }),
        "{}",
        handle.health().await
    );
    w.mailer.release();
    assert!(w.mailer.wait_for_sent(2, WAIT).await);
    assert_eq!(handle.health().await, EngineHealth::Running);
    handle.shutdown().await;
}

//! What protects the sender: runs that pause themselves when a list goes
//! bad, bounces and complaints fed back through the feedback use case, and
//! the suppression list they feed (`docs/deliverability.md`).

mod common;

use chrono::Duration;
use common::*;
use skymailing_core::engine::EngineEvent;
use skymailing_core::ports::{RunFilter, RunStore};
use skymailing_core::service::SuppressionScope;
use skymailing_core::testkit::Scripted;
use skymailing_core::*;

async fn only_run(w: &World) -> Run {
    let runs = w
        .store
        .list_runs(RunFilter::default(), &ListQuery::new(1, 10, None).unwrap())
        .await
        .unwrap()
        .items;
    assert_eq!(runs.len(), 1);
    runs.into_iter().next().unwrap()
}

/// 30 of 100 addresses are dead: the run pauses once it has seen enough of
/// them, holds the rest through any number of rounds, and sends them only
/// when its owner resumes it.
#[tokio::test]
async fn a_run_with_30_percent_hard_failures_pauses_and_resumes_only_when_asked() {
    let mut config = engine_config();
    config.batch_size = 10;
    config.parallel_batches = 1;
    let w = world_with("2026-05-01T09:00:00Z", config);
    let mut events = w.engine.subscribe();
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    for i in (0..100).filter(|i| i % 10 < 3) {
        w.mailer.script(
            &format!("c{i}@example.com"),
            [Scripted::Permanent("550 5.1.1 user unknown".into())],
        );
    }
    w.once_to_numbered(ann, 100).await;
    w.engine.round().await.unwrap();
    let run = only_run(&w).await;
    assert_eq!(run.status, RunStatus::Paused);
    let why = run.paused.clone().unwrap();
    assert!(why.attempted >= 50 && why.percent() > 10, "{why:?}");
    let tried = w.mailer.attempts().len();
    assert!(tried < 100, "the rest is held: {tried} tried");
    let mut paused_event = false;
    while let Some(e) = events.try_next() {
        paused_event |= matches!(e, EngineEvent::RunPaused { run: r, .. } if r == run.id);
    }
    assert!(paused_event, "listeners hear of it");

    // Never resumed by itself.
    for _ in 0..3 {
        w.advance(Duration::days(1));
        w.engine.round().await.unwrap();
    }
    assert_eq!(w.mailer.attempts().len(), tried);
    assert_eq!(only_run(&w).await.status, RunStatus::Paused);

    // Another user cannot resume it; its owner can.
    let bob = w.user("bob@example.com", Role::User, "UTC").await;
    assert!(matches!(
        w.app.logs.resume(bob, run.id).await,
        Err(Error::NotFound)
    ));
    w.app.logs.resume(ann, run.id).await.unwrap();
    w.engine.round().await.unwrap();
    let run = only_run(&w).await;
    assert_eq!(run.status, RunStatus::Finished, "{run:?}");
    assert_eq!((run.sent, run.failed), (70, 30));
    assert_eq!(w.mailer.attempts().len(), 100);
    assert!(matches!(
        w.app.logs.resume(ann, run.id).await,
        Err(Error::Conflict(Reason::RunNotPaused))
    ));
    assert!(matches!(
        w.app.logs.cancel(ann, run.id).await,
        Err(Error::Conflict(Reason::RunFinished))
    ));
}

/// Cancelling a paused run ends it with what was sent.
#[tokio::test]
async fn a_paused_run_can_be_cancelled() {
    let w = world_at("2026-05-01T09:00:00Z");
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    let manager = w.user("mona@example.com", Role::Manager, "UTC").await;
    w.once_to_numbered(ann, 5).await;
    w.engine.schedule_due().await.unwrap();
    let run = only_run(&w).await;
    // Staff may cancel any run.
    w.app.logs.cancel(manager, run.id).await.unwrap();
    w.engine.round().await.unwrap();
    let run = only_run(&w).await;
    assert_eq!(
        (run.status, run.cancelled, run.sent),
        (RunStatus::Cancelled, 5, 0)
    );
    assert!(w.mailer.attempts().is_empty());
}

fn all() -> ListQuery {
    ListQuery::new(1, 200, None).unwrap()
}

/// A hard bounce names its delivery by the return path's token: the
/// delivery is marked, the address suppressed for its owner only, and the
/// owner's next run records it as suppressed. A made-up token names nothing.
#[tokio::test]
async fn a_bounce_by_return_path_suppresses_the_address_for_its_owner() {
    let mut config = engine_config();
    config.bounce_domain = Some("b.mail.example".into());
    let w = world_with("2026-05-01T09:00:00Z", config);
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    let ids = w.clients(ann, &["x@example.com", "y@example.com"]).await;
    let now = t("2026-05-01T09:00:00Z");
    w.mailing(ann, &ids, now, now + Duration::days(3), Periodicity::Daily)
        .await;
    w.engine.round().await.unwrap();
    let mail = w.mail("x@example.com", 1).await;
    let path = mail.return_path.clone().unwrap();
    assert!(path.as_str().starts_with("bounces+") && path.as_str().ends_with("@b.mail.example"));
    assert!(mail.feedback_id.is_some());
    let token = adapter::verp_token_of(path.as_str(), "b.mail.example").unwrap();

    // A forged token (another delivery's id, a wrong check) matches nothing.
    let forged = FeedbackReport {
        kind: FeedbackKind::Hard,
        email: Some(EmailAddress::parse("y@example.com").unwrap()),
        reason: "550 5.1.1".into(),
        refs: vec![DeliveryRef::Verp(format!(
            "{}-0123456789abcdef",
            token.split('-').next().unwrap()
        ))],
        source: FeedbackSource::Smtp,
    };
    let out = w.app.feedback.record(&forged).await.unwrap();
    assert!(out.target.is_none() && out.applied.suppressed.is_none());
    // Nor does a forged token beside a real Message-ID of another
    // recipient's mail (every recipient of a run sees its nonce).
    let y = w.mail("y@example.com", 1).await;
    let mut forged_arf = forged.clone();
    forged_arf.kind = FeedbackKind::Complaint;
    forged_arf
        .refs
        .push(DeliveryRef::MessageId(y.message_id.clone()));
    let out = w.app.feedback.record(&forged_arf).await.unwrap();
    assert!(out.target.is_none(), "{out:?}");
    // A real token with another delivery's Message-ID: the token decides.
    let mut mixed = forged_arf.clone();
    mixed.kind = FeedbackKind::Soft;
    mixed.refs[0] = DeliveryRef::Verp(token.to_owned());
    let out = w.app.feedback.record(&mixed).await.unwrap();
    assert_eq!(out.target.unwrap().email.as_str(), "x@example.com");

    let report = FeedbackReport {
        kind: FeedbackKind::Hard,
        email: None,
        reason: "failed 5.1.1 user unknown".into(),
        refs: vec![DeliveryRef::Verp(token.to_owned())],
        source: FeedbackSource::Smtp,
    };
    let out = w.app.feedback.record(&report).await.unwrap();
    assert_eq!(out.applied.marked, Some(DeliveryState::Bounced));
    assert_eq!(out.applied.suppressed, Some(SuppressionReason::HardBounce));
    let list = w
        .app
        .suppressions
        .list(ann, SuppressionScope::Own, &all())
        .await
        .unwrap();
    assert_eq!(list.items[0].email.as_str(), "x@example.com");
    let run = only_run(&w).await;
    assert_eq!(
        (run.sent, run.bounced),
        (1, 1),
        "a finished run's counts move"
    );

    // The next day's run skips it, and says why.
    w.advance(Duration::days(1));
    w.engine.round().await.unwrap();
    assert_eq!(w.mailer.sent_to("x@example.com").len(), 1);
    assert_eq!(w.mailer.sent_to("y@example.com").len(), 2);
    let runs = w
        .store
        .list_runs(RunFilter::default(), &all())
        .await
        .unwrap()
        .items;
    let next = &runs[0];
    assert_eq!(next.suppressed, 1);
    assert!(
        next.report
            .as_ref()
            .unwrap()
            .to_string()
            .contains("1 suppressed")
    );

    // The owner may lift a bounce; another user does not even see it.
    let bob = w.user("bob@example.com", Role::User, "UTC").await;
    let entry = list.items[0].id;
    assert!(matches!(
        w.app.suppressions.lift(bob, entry).await,
        Err(Error::NotFound)
    ));
    w.app.suppressions.lift(ann, entry).await.unwrap();
}

/// A complaint (or an unsubscribe) is the recipient's word: the owner
/// cannot lift it; staff read everyone's list but add to none.
#[tokio::test]
async fn the_owner_cannot_lift_a_complaint_or_an_unsubscribe() {
    let w = world_at("2026-05-01T09:00:00Z");
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    w.once_to_numbered(ann, 2).await;
    w.engine.round().await.unwrap();
    let mail = w.mail("c0@example.com", 1).await;
    let complaint = FeedbackReport {
        kind: FeedbackKind::Complaint,
        email: None,
        reason: "complaint: abuse".into(),
        refs: vec![DeliveryRef::MessageId(mail.message_id.clone())],
        source: FeedbackSource::Webhook,
    };
    let out = w.app.feedback.record(&complaint).await.unwrap();
    assert_eq!(out.applied.marked, Some(DeliveryState::Complained));
    let url = w.mail("c1@example.com", 1).await.unsubscribe_url.unwrap();
    let token = url.rsplit('/').next().unwrap().to_owned();
    w.app.clients.unsubscribe(&token).await.unwrap();
    let list = w
        .app
        .suppressions
        .list(ann, SuppressionScope::Own, &all())
        .await
        .unwrap();
    assert_eq!(list.total, 2);
    for entry in &list.items {
        assert!(
            matches!(
                w.app.suppressions.lift(ann, entry.id).await,
                Err(Error::Forbidden(Reason::SuppressionNotLiftable))
            ),
            "{entry:?}"
        );
    }
    let manager = w.user("mona@example.com", Role::Manager, "UTC").await;
    assert_eq!(
        w.app
            .suppressions
            .list(manager, SuppressionScope::All, &all())
            .await
            .unwrap()
            .total,
        2
    );
    assert!(
        w.app
            .suppressions
            .list(ann, SuppressionScope::All, &all())
            .await
            .is_err()
    );
    assert!(
        w.app
            .suppressions
            .add(manager, "z@example.com")
            .await
            .is_err()
    );
}

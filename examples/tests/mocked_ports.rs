//! How a tester swaps in mocked ports: `skymailing-core`'s `mocks` feature
//! gives a `mockall` mock of every port. Here the engine runs over the test
//! kit's in-memory store and manual clock with a mocked `Mailer` that states
//! exactly which emails it expects and what the relay answers.

use std::sync::Arc;

use skymailing_core::chrono;
use skymailing_core::engine::EngineConfig;
use skymailing_core::mockall::predicate::function;
use skymailing_core::policy::Actor;
use skymailing_core::ports::{MockMailer, OutgoingEmail, SendError};
use skymailing_core::testkit::{ManualClock, MemoryStore, active_user};
use skymailing_core::*;

#[tokio::test]
async fn the_engine_sends_what_the_mocked_mailer_expects_and_reports_its_answers() {
    let start: chrono::DateTime<chrono::Utc> = "2026-05-01T09:00:00Z".parse().unwrap();
    let mut mailer = MockMailer::new();
    mailer
        .expect_send()
        .with(function(|e: &OutgoingEmail| {
            e.to.as_str() == "ann@example.com" && e.subject == "Hi Ann"
        }))
        .times(1)
        .returning(|_| Ok("250 queued".into()));
    mailer
        .expect_send()
        .with(function(|e: &OutgoingEmail| {
            e.to.as_str() == "gone@example.com"
        }))
        .times(1)
        .returning(|_| {
            Err(SendError::Permanent {
                reply: "550 no such user".into(),
            })
        });
    let mailer = Arc::new(mailer);

    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(start));
    let app = SkyMailing::builder(store.clone())
        .mailer(mailer.clone())
        .clock(clock)
        .build()
        .unwrap();
    let engine = app.engine(mailer, EngineConfig::default());

    let user = active_user(
        &*store,
        "owner@example.com",
        Role::User,
        TimeZone::UTC,
        start,
    )
    .await;
    let me = Actor::user(user.id, Role::User);
    let ann = app
        .clients
        .create(
            me,
            &ClientDraft::parse("ann@example.com", "Ann", "").unwrap(),
        )
        .await
        .unwrap();
    let gone = app
        .clients
        .create(
            me,
            &ClientDraft::parse("gone@example.com", "Gone", "").unwrap(),
        )
        .await
        .unwrap();
    let msg = app
        .messages
        .create(
            me,
            &MessageDraft::parse("Hi {{ name }}", "Hello", None).unwrap(),
        )
        .await
        .unwrap();
    let d = MailingDraft::new(
        "Test",
        msg.id,
        vec![ann.id, gone.id],
        start,
        start + chrono::Duration::hours(1),
        Periodicity::Once,
    )
    .unwrap();
    app.mailings.create(me, &d).await.unwrap();

    engine.round().await.unwrap();
    let run = app
        .logs
        .list(me, &ListQuery::default())
        .await
        .unwrap()
        .items
        .remove(0);
    assert_eq!(
        run.report.as_ref().map(ToString::to_string).as_deref(),
        Some("Sent 1 of 2; 1 failed: 550 no such user ×1")
    );
    // The mock verifies its expectations (each email exactly once) when dropped.
}

//! Use cases against mocked ports: where a single port matters, a `mockall`
//! mock states exactly what the use case must (and must not) ask of it.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use mockall::predicate::*;
use skymailing_core::engine::Wakeup;
use skymailing_core::policy::Actor;
use skymailing_core::ports::*;
use skymailing_core::service::{AccountService, ClientService, MailingService};
use skymailing_core::testkit::MemoryStore;
use skymailing_core::*;

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn clock(at: &str) -> Arc<MockClock> {
    let mut c = MockClock::new();
    let now = t(at);
    c.expect_now().returning(move || now);
    Arc::new(c)
}

/// A user store that knows one active account (every use case asks who its
/// actor is now).
fn one_user(id: UserId, role: Role, zone: &str) -> MockUserStore {
    let zone = TimeZone::parse(zone).unwrap();
    let mut users = MockUserStore::new();
    users.expect_user().with(eq(id)).returning(move |id| {
        Ok(Some(User {
            id,
            email: EmailAddress::parse("ann@example.com").unwrap(),
            name: DisplayName::parse("Ann").unwrap(),
            time_zone: zone,
            role,
            state: UserState::Active,
            language: None,
            sender: Default::default(),
            created_at: t("2026-01-01T00:00:00Z"),
        }))
    });
    users
}

/// The client use cases over a mocked client store and a mocked user store
/// (the memory store for every other port).
fn client_service(clients: MockClientStore, users: MockUserStore) -> ClientService {
    SkyMailing::builder(Arc::new(MemoryStore::new()))
        .client_store(Arc::new(clients))
        .user_store(Arc::new(users))
        .clock(clock("2026-05-01T09:00:00Z"))
        .build()
        .unwrap()
        .clients
}

#[tokio::test]
async fn client_lookups_are_scoped_to_the_actor() {
    let mut store = MockClientStore::new();
    store
        .expect_client()
        .with(eq(UserId(7)), eq(ClientId(99)))
        .times(1)
        .returning(|_, _| Ok(None));
    let service = client_service(store, one_user(UserId(7), Role::User, "UTC"));
    let err = service
        .get(Actor::user(UserId(7), Role::User), ClientId(99))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound));
}

#[tokio::test]
async fn a_manager_is_refused_before_the_store_is_asked() {
    // No expectations: any call to the store would panic.
    let service = client_service(
        MockClientStore::new(),
        one_user(UserId(1), Role::Manager, "UTC"),
    );
    let d = ClientDraft::parse("x@example.com", "X", "").unwrap();
    let err = service
        .create(Actor::user(UserId(1), Role::Manager), &d)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Forbidden(_)));
}

/// Account mail goes out from a background task (so the answer takes the same
/// time whether or not a mail is sent), where a mock's panic would be lost. So
/// the mailer counts its sends instead, and the test waits for the account
/// mail (`AccountService::wait_for_mail`) before it reads the count.
/// `a_reset_for_a_known_address_is_sent` shows this observation does see a
/// send.
fn counting_mailer() -> (Arc<MockMailer>, Arc<std::sync::atomic::AtomicUsize>) {
    let sends = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = sends.clone();
    let mut mailer = MockMailer::new();
    mailer.expect_send().returning(move |_| {
        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok("250 ok".into())
    });
    (Arc::new(mailer), sends)
}

fn reset_service(
    users: MockUserStore,
    sessions: MockSessionStore,
    mailer: Arc<MockMailer>,
) -> AccountService {
    // The two mocked ports over the memory store for the rest.
    SkyMailing::builder(Arc::new(skymailing_core::testkit::MemoryStore::new()))
        .user_store(Arc::new(users))
        .session_store(Arc::new(sessions))
        .mailer(mailer)
        .clock(clock("2026-05-01T09:00:00Z"))
        .build()
        .unwrap()
        .accounts
}

#[tokio::test]
async fn a_reset_for_an_unknown_address_writes_and_sends_nothing() {
    // The work runs in the background, where a mock's panic is lost: the
    // mocks count their calls instead, and the test reads the counts.
    let looked_up = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let written = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut users = MockUserStore::new();
    let counter = looked_up.clone();
    users.expect_user_by_email().returning(move |_| {
        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(None)
    });
    let mut sessions = MockSessionStore::new();
    let counter = written.clone();
    sessions.expect_create_token().returning(move |_, _, _, _| {
        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    });
    let (mailer, sends) = counting_mailer();
    let service = reset_service(users, sessions, mailer);
    service
        .request_password_reset("nobody@example.com")
        .await
        .unwrap();
    service.wait_for_mail().await;
    let count = |c: &std::sync::atomic::AtomicUsize| c.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        (count(&looked_up), count(&written), count(&sends)),
        (1, 0, 0),
        "looked up once; no link written, nothing sent"
    );
}

#[tokio::test]
async fn a_reset_for_a_known_address_is_sent() {
    let mut users = MockUserStore::new();
    users.expect_user_by_email().times(1).returning(|email| {
        Ok(Some((
            User {
                id: UserId(3),
                email: email.clone(),
                name: DisplayName::parse("Ann").unwrap(),
                time_zone: TimeZone::UTC,
                role: Role::User,
                state: UserState::Active,
                language: None,
                sender: Default::default(),
                created_at: t("2026-01-01T00:00:00Z"),
            },
            Some("hash".to_owned()),
        )))
    });
    let mut sessions = MockSessionStore::new();
    sessions
        .expect_create_token()
        .times(1)
        .returning(|_, _, _, _| Ok(()));
    let (mailer, sends) = counting_mailer();
    let service = reset_service(users, sessions, mailer);
    service
        .request_password_reset("ann@example.com")
        .await
        .unwrap();
    service.wait_for_mail().await;
    assert_eq!(sends.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_store_failure_surfaces_as_a_store_error() {
    let mut store = MockClientStore::new();
    store.expect_list_clients().returning(|_, _| {
        Err(StoreError::backend(std::io::Error::other(
            "connection refused",
        )))
    });
    let service = client_service(store, one_user(UserId(1), Role::User, "UTC"));
    let err = service
        .list(Actor::user(UserId(1), Role::User), &ListQuery::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Store(_)), "{err}");
}

#[tokio::test]
async fn creating_a_mailing_seeds_the_next_run_in_the_owners_zone_and_wakes_the_engine() {
    let users = one_user(UserId(5), Role::User, "Asia/Tokyo");
    let mut mailings = MockMailingStore::new();
    // Daily at 09:00 Tokyo (00:00 UTC), created on May 3 at 12:00 UTC: the
    // current slot is May 3, 00:00 UTC, due at once.
    mailings
        .expect_create_mailing()
        .withf(|owner, _, next, _| *owner == UserId(5) && *next == Some(t("2026-05-03T00:00:00Z")))
        .times(1)
        .returning(|owner, d, next, now| {
            Ok(Mailing {
                id: MailingId(1),
                owner,
                name: d.name.clone(),
                message_id: d.message_id,
                client_ids: d.client_ids.clone(),
                tags: d.tags.clone(),
                start_at: d.start_at,
                end_at: d.end_at,
                periodicity: d.periodicity,
                sender: d.sender.clone(),
                enabled: true,
                disabled_by: None,
                next_run_at: next,
                sending: false,
                owner_blocked: false,
                paused: false,
                created_at: now,
                updated_at: now,
            })
        });
    let app = SkyMailing::builder(Arc::new(MemoryStore::new()))
        .mailing_store(Arc::new(mailings))
        .user_store(Arc::new(users))
        .run_store(Arc::new(MockRunStore::new()))
        .clock(clock("2026-05-03T12:00:00Z"))
        .build()
        .unwrap();
    let (service, wakeup): (MailingService, Wakeup) = (app.mailings.clone(), app.wakeup());
    let d = MailingDraft::new(
        "Daily",
        MessageId(1),
        vec![ClientId(1)],
        t("2026-05-01T00:00:00Z"),
        t("2026-06-01T00:00:00Z"),
        Periodicity::Daily,
    )
    .unwrap();
    let view = service
        .create(Actor::user(UserId(5), Role::User), &d)
        .await
        .unwrap();
    assert_eq!(view.status, MailingStatus::Scheduled);
    assert_eq!(wakeup.wakes(), 1, "the engine was woken");
}

/// The answer to a reset request does no work that depends on the account:
/// when it returns, the store has not even been asked yet, for a known
/// address as for an unknown one (the lookup, the link and the mail follow in
/// the background), so its timing tells nothing.
#[tokio::test]
async fn a_reset_answers_before_looking_the_account_up() {
    for known in [true, false] {
        let asked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = asked.clone();
        let mut users = MockUserStore::new();
        users
            .expect_user_by_email()
            .times(1)
            .returning(move |email| {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Ok(known.then(|| {
                    (
                        User {
                            id: UserId(3),
                            email: email.clone(),
                            name: DisplayName::parse("Ann").unwrap(),
                            time_zone: TimeZone::UTC,
                            role: Role::User,
                            state: UserState::Active,
                            language: None,
                            sender: Default::default(),
                            created_at: t("2026-01-01T00:00:00Z"),
                        },
                        Some("hash".to_owned()),
                    )
                }))
            });
        let mut sessions = MockSessionStore::new();
        sessions
            .expect_create_token()
            .times(usize::from(known))
            .returning(|_, _, _, _| Ok(()));
        let (mailer, _) = counting_mailer();
        let service = reset_service(users, sessions, mailer);
        service
            .request_password_reset("ann@example.com")
            .await
            .unwrap();
        assert_eq!(
            asked.load(std::sync::atomic::Ordering::SeqCst),
            0,
            "known: {known}"
        );
        service.wait_for_mail().await;
        assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 1);
    }
}

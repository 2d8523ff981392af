//! The store conformance suite: one set of behavioural tests that every store
//! adapter runs against itself, so adapters cannot drift apart.
//!
//! Each case is a public `async fn(Arc<dyn Store>)` that panics on failure. An
//! adapter runs them all with [`store_conformance_tests!`], giving the test
//! attribute and an expression that builds a fresh store per test:
//!
//! ```ignore
//! skymailing_core::store_conformance_tests!(#[sqlx::test] async fn (pool: PgPool) { PgStore::from_pool(pool).await });
//! ```
//!
//! Times are fixed instants, not the wall clock, so the cases are repeatable.
//!
//! [`store_conformance_tests!`]: crate::store_conformance_tests

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Duration as Span, Utc};

use crate::domain::*;
use crate::ports::*;
use crate::{StoreConflict, StoreError};

/// Generates one test per conformance case. See the [module docs](self).
#[macro_export]
macro_rules! store_conformance_tests {
    (#[$attr:meta] async fn $args:tt $make:block) => {
        $crate::__conformance_cases!([$attr] $args $make;
            users_email_is_unique,
            users_are_found_and_updated,
            users_list_paginates_and_searches,
            sessions_expire_and_can_be_revoked,
            tokens_are_single_use_and_expire,
            purge_removes_only_expired_sessions_and_tokens,
            clients_are_scoped_to_their_owner,
            client_email_is_unique_per_owner,
            clients_list_paginates_and_searches,
            unsubscribe_links_set_and_clear_the_mark,
            messages_crud_and_in_use_conflict,
            mailing_refuses_foreign_clients_and_unknown_messages,
            mailing_update_replaces_the_client_set,
            mailings_list_by_owner_or_all,
            due_mailings_are_enabled_due_and_of_active_owners,
            plan_freezes_recipients_and_skips_unsubscribed,
            plan_creates_one_run_per_slot,
            plan_with_a_stale_expectation_is_refused,
            plan_without_a_run_moves_the_next_run,
            run_content_survives_message_edits,
            claim_leases_and_fences_stale_results,
            expired_lease_is_claimed_again_with_a_higher_attempt,
            retry_returns_to_pending_until_its_time,
            released_delivery_is_pending_again_without_counting_the_attempt,
            deferred_delivery_waits_for_its_domain_without_counting_the_attempt,
            concurrent_claimers_claim_each_delivery_exactly_once,
            disabling_cancels_pending_deliveries,
            blocking_an_owner_cancels_pending_and_ends_sessions,
            deleting_a_mailing_cancels_pending_and_keeps_runs,
            deleting_a_client_keeps_frozen_deliveries,
            runs_finish_with_totals_and_report,
            runs_list_filters_and_pages,
            next_wakeup_is_the_earliest_due_time,
            mailing_is_sending_while_a_run_is_unfinished,
            blog_posts_publish_count_views_and_pick_at_random,
            stats_count_mailings_running_and_unique_clients,
            daily_outcomes_count_sent_and_failed,
            retry_or_release_of_a_stopped_run_is_cancelled,
            expired_lease_of_a_stopped_run_is_cancelled,
            plan_for_an_owner_no_longer_active_is_refused,
            plan_made_before_an_edit_is_refused,
            unsubscribing_cancels_the_clients_pending_deliveries,
            another_owners_client_is_not_found_even_on_an_email_clash,
            message_users_are_the_owners_of_its_mailings,
            next_wakeup_ignores_what_cannot_run,
            due_mailings_skip_owners_pending_verification,
            a_token_is_consumed_once_under_concurrency,
            sub_second_times_round_trip_exactly,
            search_treats_wildcards_literally,
            smaller_queries_and_filters,
            renewed_leases_hold_until_their_new_end,
            a_new_password_voids_pending_reset_links,
            an_unsubscribe_outlives_the_client,
            claims_share_the_batch_between_owners_and_runs,
            send_budgets_refill_at_their_rate_per_relay,
            a_changed_email_gets_a_new_link_and_old_links_keep_their_address,
            parking_disables_with_engine_error_and_cancels_pending,
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_cases {
    ([$attr:meta] $args:tt $make:block; $($case:ident),* $(,)?) => {
        $(
            #[$attr]
            async fn $case $args {
                let store: ::std::sync::Arc<dyn $crate::ports::Store> = ::std::sync::Arc::new($make);
                $crate::testkit::conformance::$case(store).await;
            }
        )*
    };
}

type S = Arc<dyn Store>;

/// The fixed "now" of the suite.
pub fn t0() -> DateTime<Utc> {
    "2026-03-02T09:00:00Z".parse().unwrap()
}

fn q(page: u32, per_page: u32, search: Option<&str>) -> ListQuery {
    ListQuery::new(page, per_page, search).unwrap()
}

fn all() -> ListQuery {
    q(1, 200, None)
}

/// Creates an active user.
pub async fn user(s: &S, email: &str, role: Role) -> User {
    s.create_user(&NewUser {
        email: EmailAddress::parse(email).unwrap(),
        name: DisplayName::parse(&format!("Name of {email}")).unwrap(),
        time_zone: TimeZone::parse("Europe/Berlin").unwrap(),
        role,
        state: UserState::Active,
        password_hash: "$argon2id$fake".into(),
        created_at: t0(),
    })
    .await
    .unwrap()
}

/// Creates a user who has not verified their address yet.
pub async fn pending_user(s: &S, email: &str) -> User {
    s.create_user(&NewUser {
        email: EmailAddress::parse(email).unwrap(),
        name: DisplayName::parse("New").unwrap(),
        time_zone: TimeZone::UTC,
        role: Role::User,
        state: UserState::PendingVerification,
        password_hash: "x".into(),
        created_at: t0(),
    })
    .await
    .unwrap()
}

/// Creates a client of `owner`.
pub async fn client(s: &S, owner: UserId, email: &str) -> Client {
    let draft = ClientDraft::parse(email, &format!("Client {email}"), "").unwrap();
    s.create_client(owner, &draft, &crate::security::new_token(), t0())
        .await
        .unwrap()
}

/// Creates a message of `owner`.
pub async fn message(s: &S, owner: UserId) -> Message {
    let draft = MessageDraft::parse(
        "Hello {{ name }}",
        "Dear {{ name }}",
        Some("<p>{{ name }}</p>"),
    )
    .unwrap();
    s.create_message(owner, &draft, t0()).await.unwrap()
}

/// Creates an enabled daily mailing of `owner` to `clients`, due at `t0()`.
pub async fn mailing(s: &S, owner: UserId, msg: MessageId, clients: &[ClientId]) -> Mailing {
    let draft = MailingDraft::new(
        "Weekly news",
        msg,
        clients.to_vec(),
        t0(),
        t0() + Span::days(30),
        Periodicity::Daily,
    )
    .unwrap();
    s.create_mailing(owner, &draft, Some(t0()), t0())
        .await
        .unwrap()
}

/// Starts the run of `m`'s next slot; panics if none is created.
pub async fn start_run(s: &S, m: &Mailing) -> Run {
    let slot = m.next_run_at.unwrap();
    s.apply_plan(&RunPlan {
        mailing_id: m.id,
        expected_next_run_at: slot,
        expected_updated_at: m.updated_at,
        run: Some(NewRun {
            slot_at: slot,
            skipped_slots: 0,
            nonce: format!("nonce{}", m.id),
        }),
        next_run_at: Some(slot + Span::days(1)),
        now: slot,
    })
    .await
    .unwrap()
    .expect("a run is created")
}

/// A user with `n` clients, a message, a mailing to all of them and its first run.
pub async fn run_with(s: &S, email: &str, n: usize) -> (User, Mailing, Run) {
    let u = user(s, email, Role::User).await;
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(
            client(
                s,
                u.id,
                &format!("c{i}@{}", EmailAddress::parse(email).unwrap().domain()),
            )
            .await
            .id,
        );
    }
    let msg = message(s, u.id).await;
    let m = mailing(s, u.id, msg.id, &ids).await;
    let r = start_run(s, &m).await;
    (u, m, r)
}

const LEASE: Duration = Duration::from_secs(60);

fn sent(c: &ClaimedDelivery) -> DeliveryResult {
    DeliveryResult {
        id: c.id,
        attempt: c.attempt,
        outcome: DeliveryOutcome::Sent {
            reply: "250 ok".into(),
        },
    }
}

fn failed(c: &ClaimedDelivery, reply: &str) -> DeliveryResult {
    DeliveryResult {
        id: c.id,
        attempt: c.attempt,
        outcome: DeliveryOutcome::Failed {
            reply: reply.into(),
        },
    }
}

async fn states(s: &S, run: RunId) -> HashMap<DeliveryState, usize> {
    let mut m = HashMap::new();
    for d in s.run_deliveries(run, &all()).await.unwrap().items {
        *m.entry(d.state).or_default() += 1;
    }
    m
}

/// A user email is taken once (addresses reach stores lower-cased by `EmailAddress`).
pub async fn users_email_is_unique(s: S) {
    user(&s, "ann@example.com", Role::User).await;
    let dup = s
        .create_user(&NewUser {
            email: EmailAddress::parse("ANN@Example.com").unwrap(),
            name: DisplayName::parse("Other Ann").unwrap(),
            time_zone: TimeZone::UTC,
            role: Role::User,
            state: UserState::PendingVerification,
            password_hash: "x".into(),
            created_at: t0(),
        })
        .await;
    assert!(
        matches!(
            dup,
            Err(StoreError::Conflict(StoreConflict::UserEmailTaken))
        ),
        "{dup:?}"
    );
}

/// Users are found by id and email and their fields change.
pub async fn users_are_found_and_updated(s: S) {
    let u = user(&s, "bob@example.com", Role::User).await;
    assert_eq!(s.user(u.id).await.unwrap().unwrap(), u);
    let (found, hash) = s
        .user_by_email(&EmailAddress::parse("BOB@example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((found.id, hash.as_str()), (u.id, "$argon2id$fake"));
    assert_eq!(u.time_zone.name(), "Europe/Berlin");

    s.set_password_hash(u.id, "$argon2id$new").await.unwrap();
    assert_eq!(
        s.user_by_email(&u.email).await.unwrap().unwrap().1,
        "$argon2id$new"
    );
    let u2 = s.set_user_role(u.id, Role::Manager).await.unwrap().unwrap();
    assert_eq!(u2.role, Role::Manager);
    let u3 = s
        .set_user_state(u.id, UserState::Blocked, t0())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(u3.state, UserState::Blocked);
    let u4 = s
        .update_profile(
            u.id,
            &DisplayName::parse("Robert").unwrap(),
            TimeZone::parse("Asia/Tokyo").unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (u4.name.as_str(), u4.time_zone.name()),
        ("Robert", "Asia/Tokyo")
    );
    assert_eq!(s.user(u.id).await.unwrap().unwrap(), u4);
    assert_eq!(u4.language, None);
    let ru = Language::parse("ru").unwrap();
    let u5 = s
        .set_user_language(u.id, Some(ru.clone()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(u5.language, Some(ru));
    assert_eq!(s.user(u.id).await.unwrap().unwrap(), u5);
    let u6 = s.set_user_language(u.id, None).await.unwrap().unwrap();
    assert_eq!(u6.language, None);
    assert_eq!(s.user(UserId(987_654)).await.unwrap(), None);
    assert_eq!(
        s.set_user_role(UserId(987_654), Role::User).await.unwrap(),
        None
    );
}

/// Users list in id order, a page at a time, filtered by email or name.
pub async fn users_list_paginates_and_searches(s: S) {
    for i in 0..5 {
        user(&s, &format!("u{i}@example.com"), Role::User).await;
    }
    user(&s, "zed@other.org", Role::Manager).await;
    let p = s.list_users(&q(2, 2, None)).await.unwrap();
    assert_eq!((p.total, p.items.len()), (6, 2));
    assert_eq!(p.items[0].email.as_str(), "u2@example.com");
    let found = s.list_users(&q(1, 10, Some("OTHER.org"))).await.unwrap();
    assert_eq!(found.total, 1);
    assert_eq!(found.items[0].email.as_str(), "zed@other.org");
}

/// A session finds its user until it expires or is deleted.
pub async fn sessions_expire_and_can_be_revoked(s: S) {
    let u = user(&s, "ann@example.com", Role::User).await;
    s.create_session(u.id, "h1", t0() + Span::hours(1))
        .await
        .unwrap();
    s.create_session(u.id, "h2", t0() + Span::hours(1))
        .await
        .unwrap();
    s.create_session(u.id, "h3", t0() + Span::hours(1))
        .await
        .unwrap();
    assert_eq!(s.session_user("h1", t0()).await.unwrap().unwrap().id, u.id);
    assert_eq!(
        s.session_user("h1", t0() + Span::hours(1)).await.unwrap(),
        None,
        "expired"
    );
    assert_eq!(s.session_user("nope", t0()).await.unwrap(), None);
    s.delete_session("h1").await.unwrap();
    assert_eq!(s.session_user("h1", t0()).await.unwrap(), None);
    assert_eq!(
        s.delete_user_sessions(u.id, Some("h2".into()))
            .await
            .unwrap(),
        1
    );
    assert!(s.session_user("h2", t0()).await.unwrap().is_some(), "kept");
    assert_eq!(s.session_user("h3", t0()).await.unwrap(), None);
}

/// A token works once, for its purpose, before it expires; a new one replaces the old.
pub async fn tokens_are_single_use_and_expire(s: S) {
    let u = user(&s, "ann@example.com", Role::User).await;
    let exp = t0() + Span::hours(1);
    s.create_token(u.id, TokenPurpose::VerifyEmail, "v1", exp)
        .await
        .unwrap();
    assert_eq!(
        s.consume_token(TokenPurpose::PasswordReset, "v1", t0())
            .await
            .unwrap(),
        None,
        "wrong purpose"
    );
    assert_eq!(
        s.consume_token(TokenPurpose::VerifyEmail, "v1", t0())
            .await
            .unwrap(),
        Some(u.id)
    );
    assert_eq!(
        s.consume_token(TokenPurpose::VerifyEmail, "v1", t0())
            .await
            .unwrap(),
        None,
        "used up"
    );

    s.create_token(u.id, TokenPurpose::PasswordReset, "r1", exp)
        .await
        .unwrap();
    s.create_token(u.id, TokenPurpose::PasswordReset, "r2", exp)
        .await
        .unwrap();
    assert_eq!(
        s.consume_token(TokenPurpose::PasswordReset, "r1", t0())
            .await
            .unwrap(),
        None,
        "replaced"
    );
    assert_eq!(
        s.consume_token(TokenPurpose::PasswordReset, "r2", exp)
            .await
            .unwrap(),
        None,
        "expired"
    );
}

/// Purging removes expired sessions and tokens only.
pub async fn purge_removes_only_expired_sessions_and_tokens(s: S) {
    let u = user(&s, "ann@example.com", Role::User).await;
    s.create_session(u.id, "old", t0() - Span::seconds(1))
        .await
        .unwrap();
    s.create_session(u.id, "live", t0() + Span::hours(1))
        .await
        .unwrap();
    s.create_token(
        u.id,
        TokenPurpose::VerifyEmail,
        "oldt",
        t0() - Span::seconds(1),
    )
    .await
    .unwrap();
    s.create_token(
        u.id,
        TokenPurpose::PasswordReset,
        "livet",
        t0() + Span::hours(1),
    )
    .await
    .unwrap();
    assert_eq!(s.purge_expired(t0()).await.unwrap(), 2);
    assert!(s.session_user("live", t0()).await.unwrap().is_some());
    assert_eq!(
        s.consume_token(TokenPurpose::PasswordReset, "livet", t0())
            .await
            .unwrap(),
        Some(u.id)
    );
}

/// Another owner's client is not found, not updated, not deleted.
pub async fn clients_are_scoped_to_their_owner(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    let bob = user(&s, "bob@example.com", Role::User).await;
    let c = client(&s, ann.id, "x@example.com").await;
    assert_eq!(s.client(ann.id, c.id).await.unwrap().unwrap(), c);
    assert_eq!(s.client(bob.id, c.id).await.unwrap(), None);
    let d = ClientDraft::parse("y@example.com", "Y", "").unwrap();
    assert_eq!(
        s.update_client(bob.id, c.id, &d, "new-token")
            .await
            .unwrap(),
        None
    );
    assert!(!s.delete_client(bob.id, c.id).await.unwrap());
    assert_eq!(s.list_clients(bob.id, &all()).await.unwrap().total, 0);
    let updated = s
        .update_client(ann.id, c.id, &d, "new-token")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (updated.email.as_str(), updated.full_name.as_str()),
        ("y@example.com", "Y")
    );
    assert!(s.delete_client(ann.id, c.id).await.unwrap());
    assert_eq!(s.client(ann.id, c.id).await.unwrap(), None);
}

/// One owner cannot have two clients with one address; two owners can.
pub async fn client_email_is_unique_per_owner(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    let bob = user(&s, "bob@example.com", Role::User).await;
    let c1 = client(&s, ann.id, "x@example.com").await;
    let c2 = client(&s, ann.id, "z@example.com").await;
    client(&s, bob.id, "x@example.com").await;
    let d = ClientDraft::parse("X@EXAMPLE.com", "X", "").unwrap();
    let dup = s.create_client(ann.id, &d, "tok-dup", t0()).await;
    assert!(
        matches!(
            dup,
            Err(StoreError::Conflict(StoreConflict::ClientEmailTaken))
        ),
        "{dup:?}"
    );
    let clash = s.update_client(ann.id, c2.id, &d, "new-token").await;
    assert!(
        matches!(
            clash,
            Err(StoreError::Conflict(StoreConflict::ClientEmailTaken))
        ),
        "{clash:?}"
    );
    // Saving a client with its own address is no clash.
    assert!(
        s.update_client(ann.id, c1.id, &d, "new-token")
            .await
            .unwrap()
            .is_some()
    );
}

/// Clients list by name, a page at a time, filtered by email, name or comment.
pub async fn clients_list_paginates_and_searches(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    for (email, name, comment) in [
        ("d@x.com", "Dora", ""),
        ("a@x.com", "alice", "VIP"),
        ("c@x.com", "Carl", ""),
        ("b@y.com", "Bea", ""),
    ] {
        let d = ClientDraft::parse(email, name, comment).unwrap();
        s.create_client(ann.id, &d, &format!("t-{email}"), t0())
            .await
            .unwrap();
    }
    let p = s.list_clients(ann.id, &q(1, 3, None)).await.unwrap();
    let names: Vec<_> = p.items.iter().map(|c| c.full_name.as_str()).collect();
    assert_eq!((p.total, names), (4, vec!["alice", "Bea", "Carl"]));
    let p2 = s.list_clients(ann.id, &q(2, 3, None)).await.unwrap();
    assert_eq!(p2.items.len(), 1);
    assert_eq!(
        s.list_clients(ann.id, &q(1, 10, Some("y.com")))
            .await
            .unwrap()
            .total,
        1
    );
    assert_eq!(
        s.list_clients(ann.id, &q(1, 10, Some("vip")))
            .await
            .unwrap()
            .total,
        1
    );
    assert_eq!(
        s.list_clients(ann.id, &q(1, 10, Some("DORA")))
            .await
            .unwrap()
            .total,
        1
    );
}

/// A link stands for its (owner, address); unsubscribing marks the client,
/// resubscribing clears the mark.
pub async fn unsubscribe_links_set_and_clear_the_mark(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    let c = client(&s, ann.id, "x@example.com").await;
    let found = s
        .unsubscribe_link(&c.unsubscribe_token)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (found.owner, found.email.clone(), found.unsubscribed_at),
        (ann.id, c.email.clone(), None)
    );
    let u = s
        .set_unsubscribed(&c.unsubscribe_token, Some(t0()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(u.unsubscribed_at, Some(t0()));
    assert_eq!(
        s.client(ann.id, c.id)
            .await
            .unwrap()
            .unwrap()
            .unsubscribed_at,
        Some(t0())
    );
    let back = s
        .set_unsubscribed(&c.unsubscribe_token, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(back.unsubscribed_at, None);
    assert_eq!(
        s.client(ann.id, c.id)
            .await
            .unwrap()
            .unwrap()
            .unsubscribed_at,
        None
    );
    assert_eq!(s.unsubscribe_link("nope").await.unwrap(), None);
    assert_eq!(s.set_unsubscribed("nope", Some(t0())).await.unwrap(), None);
}

/// An unsubscribe belongs to the address, not to the client row: deleting
/// and re-creating the client, or adding the address under another name,
/// finds it unsubscribed, and its next run records it as suppressed.
pub async fn an_unsubscribe_outlives_the_client(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    let bob = user(&s, "bob@example.com", Role::User).await;
    let c = client(&s, ann.id, "x@example.com").await;
    s.set_unsubscribed(&c.unsubscribe_token, Some(t0()))
        .await
        .unwrap();
    assert!(s.delete_client(ann.id, c.id).await.unwrap());
    let again = client(&s, ann.id, "x@example.com").await;
    assert_eq!(
        again.unsubscribed_at,
        Some(t0()),
        "re-created, still unsubscribed"
    );
    // The old link still speaks for the address.
    let link = s
        .unsubscribe_link(&c.unsubscribe_token)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(link.unsubscribed_at, Some(t0()));
    // Another owner's list is another list.
    let bobs = client(&s, bob.id, "x@example.com").await;
    assert_eq!(bobs.unsubscribed_at, None);
    let msg = message(&s, ann.id).await;
    let other = client(&s, ann.id, "y@example.com").await;
    let m = mailing(&s, ann.id, msg.id, &[again.id, other.id]).await;
    let run = start_run(&s, &m).await;
    assert_eq!(
        run.recipients, 2,
        "the suppressed address is recorded, not dropped"
    );
    let states = states(&s, run.id).await;
    assert_eq!(
        (
            states.get(&DeliveryState::Suppressed),
            states.get(&DeliveryState::Pending)
        ),
        (Some(&1), Some(&1))
    );
    let t = s.run_totals(run.id).await.unwrap();
    assert_eq!((t.total, t.suppressed, t.pending), (2, 1, 1));
    // Resubscribing from the old link frees the address again.
    s.set_unsubscribed(&c.unsubscribe_token, None)
        .await
        .unwrap();
    assert_eq!(
        s.client(ann.id, again.id)
            .await
            .unwrap()
            .unwrap()
            .unsubscribed_at,
        None
    );
}

/// A client whose email changes gets a new link; the links sent before keep
/// the address they were sent to, so the new address's recipient is not
/// unsubscribed (or resubscribed) through the old one.
pub async fn a_changed_email_gets_a_new_link_and_old_links_keep_their_address(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    let c = client(&s, ann.id, "old@example.com").await;
    let d = ClientDraft::parse("victim@example.com", "V", "").unwrap();
    let moved = s
        .update_client(ann.id, c.id, &d, "new-token")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(moved.unsubscribe_token, "new-token");
    let new = s.unsubscribe_link("new-token").await.unwrap().unwrap();
    assert_eq!(new.email.as_str(), "victim@example.com");
    let old = s
        .unsubscribe_link(&c.unsubscribe_token)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(old.email.as_str(), "old@example.com");
    // The victim unsubscribes; the old link cannot undo it.
    s.set_unsubscribed("new-token", Some(t0())).await.unwrap();
    s.set_unsubscribed(&c.unsubscribe_token, None)
        .await
        .unwrap();
    assert_eq!(
        s.client(ann.id, c.id)
            .await
            .unwrap()
            .unwrap()
            .unsubscribed_at,
        Some(t0())
    );
    // A name-only edit keeps the link.
    let d = ClientDraft::parse("victim@example.com", "Victim", "").unwrap();
    let renamed = s
        .update_client(ann.id, c.id, &d, "unused")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(renamed.unsubscribe_token, "new-token");
}

/// Messages are created, listed newest first, updated, and not deleted while in use.
pub async fn messages_crud_and_in_use_conflict(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    let m1 = message(&s, ann.id).await;
    let d = MessageDraft::parse("Second", "Body", None).unwrap();
    let m2 = s.create_message(ann.id, &d, t0()).await.unwrap();
    assert_eq!(m2.body_html, None);
    let list = s.list_messages(&all()).await.unwrap();
    assert_eq!(
        list.items.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![m2.id, m1.id]
    );
    assert_eq!(
        s.list_messages(&q(1, 10, Some("second")))
            .await
            .unwrap()
            .total,
        1
    );

    let later = t0() + Span::minutes(5);
    let up = s
        .update_message(
            m2.id,
            &MessageDraft::parse("Changed", "B2", Some("<b>x</b>")).unwrap(),
            later,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (up.subject.as_str(), up.body_html.as_deref(), up.updated_at),
        ("Changed", Some("<b>x</b>"), later)
    );
    assert_eq!(s.message(m2.id).await.unwrap().unwrap(), up);

    let c = client(&s, ann.id, "x@example.com").await;
    mailing(&s, ann.id, m1.id, &[c.id]).await;
    let in_use = s.delete_message(m1.id).await;
    assert!(
        matches!(
            in_use,
            Err(StoreError::Conflict(StoreConflict::MessageInUse))
        ),
        "{in_use:?}"
    );
    assert!(s.message(m1.id).await.unwrap().is_some(), "nothing deleted");
    assert!(s.delete_message(m2.id).await.unwrap());
    assert!(!s.delete_message(m2.id).await.unwrap());
}

/// A mailing may use only its owner's clients and an existing message.
pub async fn mailing_refuses_foreign_clients_and_unknown_messages(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    let bob = user(&s, "bob@example.com", Role::User).await;
    let mine = client(&s, ann.id, "x@example.com").await;
    let theirs = client(&s, bob.id, "y@example.com").await;
    let msg = message(&s, ann.id).await;
    let d = MailingDraft::new(
        "m",
        msg.id,
        vec![mine.id, theirs.id],
        t0(),
        t0() + Span::days(1),
        Periodicity::Once,
    )
    .unwrap();
    let r = s.create_mailing(ann.id, &d, Some(t0()), t0()).await;
    assert!(
        matches!(r, Err(StoreError::Conflict(StoreConflict::UnknownClient))),
        "{r:?}"
    );
    let d = MailingDraft::new(
        "m",
        MessageId(987_654),
        vec![mine.id],
        t0(),
        t0() + Span::days(1),
        Periodicity::Once,
    )
    .unwrap();
    let r = s.create_mailing(ann.id, &d, Some(t0()), t0()).await;
    assert!(
        matches!(r, Err(StoreError::Conflict(StoreConflict::UnknownMessage))),
        "{r:?}"
    );
    assert_eq!(
        s.list_mailings(None, &all()).await.unwrap().total,
        0,
        "nothing half written"
    );
}

/// An update replaces fields and the client set; foreign clients are refused.
pub async fn mailing_update_replaces_the_client_set(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    let bob = user(&s, "bob@example.com", Role::User).await;
    let a = client(&s, ann.id, "a@example.com").await;
    let b = client(&s, ann.id, "b@example.com").await;
    let c = client(&s, ann.id, "c@example.com").await;
    let foreign = client(&s, bob.id, "f@example.com").await;
    let msg = message(&s, ann.id).await;
    let m = mailing(&s, ann.id, msg.id, &[a.id, b.id]).await;
    assert_eq!(m.client_ids, vec![a.id, b.id]);
    assert!(m.enabled && m.disabled_by.is_none());

    let start = t0() + Span::days(2);
    let d = MailingDraft::new(
        "Renamed",
        msg.id,
        vec![c.id, b.id],
        start,
        start + Span::days(7),
        Periodicity::Weekly,
    )
    .unwrap();
    let up = s
        .update_mailing(m.id, &d, Some(start), t0())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(up.client_ids, vec![b.id, c.id]);
    assert_eq!(
        (
            up.name.as_str(),
            up.periodicity,
            up.start_at,
            up.next_run_at
        ),
        ("Renamed", Periodicity::Weekly, start, Some(start))
    );
    assert_eq!(s.mailing(m.id).await.unwrap().unwrap(), up);

    let bad = MailingDraft::new(
        "X",
        msg.id,
        vec![foreign.id],
        start,
        start + Span::days(7),
        Periodicity::Weekly,
    )
    .unwrap();
    let r = s.update_mailing(m.id, &bad, Some(start), t0()).await;
    assert!(
        matches!(r, Err(StoreError::Conflict(StoreConflict::UnknownClient))),
        "{r:?}"
    );
    assert_eq!(s.mailing(m.id).await.unwrap().unwrap(), up, "unchanged");
    assert_eq!(
        s.update_mailing(MailingId(987_654), &d, None, t0())
            .await
            .unwrap(),
        None
    );
}

/// Mailings list newest first, by owner or all, searchable by name.
pub async fn mailings_list_by_owner_or_all(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    let bob = user(&s, "bob@example.com", Role::User).await;
    let ca = client(&s, ann.id, "a@example.com").await;
    let cb = client(&s, bob.id, "b@example.com").await;
    let msg = message(&s, ann.id).await;
    let m1 = mailing(&s, ann.id, msg.id, &[ca.id]).await;
    let m2 = mailing(&s, bob.id, msg.id, &[cb.id]).await;
    let m3 = mailing(&s, ann.id, msg.id, &[ca.id]).await;
    let mine = s.list_mailings(Some(ann.id), &all()).await.unwrap();
    assert_eq!(
        mine.items.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![m3.id, m1.id]
    );
    let every = s.list_mailings(None, &q(1, 2, None)).await.unwrap();
    assert_eq!(
        (every.total, every.items[0].id, every.items[1].id),
        (3, m3.id, m2.id)
    );
    assert_eq!(
        s.list_mailings(None, &q(1, 10, Some("WEEKLY")))
            .await
            .unwrap()
            .total,
        3
    );
    assert_eq!(
        s.list_mailings(None, &q(1, 10, Some("nothing")))
            .await
            .unwrap()
            .total,
        0
    );
}

/// Only enabled mailings of active owners whose next run has come are due.
pub async fn due_mailings_are_enabled_due_and_of_active_owners(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    let bob = user(&s, "bob@example.com", Role::User).await;
    let ca = client(&s, ann.id, "a@example.com").await;
    let cb = client(&s, bob.id, "b@example.com").await;
    let msg = message(&s, ann.id).await;
    let due = mailing(&s, ann.id, msg.id, &[ca.id]).await;
    let future = {
        let d = MailingDraft::new(
            "later",
            msg.id,
            vec![ca.id],
            t0() + Span::hours(1),
            t0() + Span::days(1),
            Periodicity::Once,
        )
        .unwrap();
        s.create_mailing(ann.id, &d, Some(t0() + Span::hours(1)), t0())
            .await
            .unwrap()
    };
    let disabled = mailing(&s, ann.id, msg.id, &[ca.id]).await;
    s.set_mailing_enabled(
        disabled.id,
        false,
        Some(DisabledBy::Owner),
        disabled.next_run_at,
        t0(),
    )
    .await
    .unwrap();
    let finished = {
        let d = MailingDraft::new(
            "done",
            msg.id,
            vec![ca.id],
            t0(),
            t0() + Span::days(1),
            Periodicity::Once,
        )
        .unwrap();
        s.create_mailing(ann.id, &d, None, t0()).await.unwrap()
    };
    mailing(&s, bob.id, msg.id, &[cb.id]).await;
    s.set_user_state(bob.id, UserState::Blocked, t0())
        .await
        .unwrap();

    let found: Vec<_> = s
        .due_mailings(t0(), 100)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.mailing.id)
        .collect();
    assert_eq!(found, vec![due.id]);
    let d = &s.due_mailings(t0(), 100).await.unwrap()[0];
    assert_eq!(d.time_zone.name(), "Europe/Berlin");
    let later: HashSet<_> = s
        .due_mailings(t0() + Span::hours(2), 100)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.mailing.id)
        .collect();
    assert_eq!(later, HashSet::from([due.id, future.id]));
    assert!(!later.contains(&finished.id));
    assert_eq!(
        s.due_mailings(t0() + Span::hours(2), 1)
            .await
            .unwrap()
            .len(),
        1,
        "limit"
    );
}

/// A run freezes the message and the clients, unsubscribed ones as
/// `suppressed`, and moves the next run.
pub async fn plan_freezes_recipients_and_skips_unsubscribed(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    let a = client(&s, ann.id, "a@example.com").await;
    let b = client(&s, ann.id, "b@example.com").await;
    let c = client(&s, ann.id, "c@example.com").await;
    s.set_unsubscribed(&b.unsubscribe_token, Some(t0()))
        .await
        .unwrap();
    let msg = message(&s, ann.id).await;
    let m = mailing(&s, ann.id, msg.id, &[a.id, b.id, c.id]).await;
    let run = s
        .apply_plan(&RunPlan {
            mailing_id: m.id,
            expected_next_run_at: t0(),
            expected_updated_at: m.updated_at,
            run: Some(NewRun {
                slot_at: t0(),
                skipped_slots: 2,
                nonce: "abc".into(),
            }),
            next_run_at: Some(t0() + Span::days(1)),
            now: t0() + Span::seconds(3),
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (run.mailing_id, run.owner, run.slot_at, run.skipped_slots),
        (Some(m.id), ann.id, t0(), 2)
    );
    assert_eq!(
        (run.recipients, run.started_at, run.finished_at),
        (3, t0() + Span::seconds(3), None)
    );
    assert_eq!(run.mailing_name, "Weekly news");
    let ds = s.run_deliveries(run.id, &all()).await.unwrap();
    let suppressed: Vec<_> = ds
        .items
        .iter()
        .filter(|d| d.state == DeliveryState::Suppressed)
        .map(|d| d.email.as_str().to_owned())
        .collect();
    assert_eq!(suppressed, vec!["b@example.com"]);
    let ds = Page {
        items: ds
            .items
            .into_iter()
            .filter(|d| d.state != DeliveryState::Suppressed)
            .collect::<Vec<_>>(),
        ..ds
    };
    let mut emails: Vec<_> = ds
        .items
        .iter()
        .map(|d| d.email.as_str().to_owned())
        .collect();
    emails.sort();
    assert_eq!(emails, vec!["a@example.com", "c@example.com"]);
    for d in &ds.items {
        assert_eq!(
            (d.state, d.attempts, d.last_reply.as_deref()),
            (DeliveryState::Pending, 0, None)
        );
        assert!(d.client_id == Some(a.id) || d.client_id == Some(c.id));
        assert_eq!(d.name, format!("Client {}", d.email));
    }
    assert_eq!(
        s.mailing(m.id).await.unwrap().unwrap().next_run_at,
        Some(t0() + Span::days(1))
    );
    let content = s.run_content(run.id).await.unwrap().unwrap();
    assert_eq!(
        content,
        RunContent {
            mailing_id: Some(m.id),
            mailing_name: "Weekly news".into(),
            subject: msg.subject.clone(),
            body_text: msg.body_text.clone(),
            body_html: msg.body_html.clone(),
            nonce: "abc".into(),
        }
    );
    let claimed = s
        .claim_deliveries(t0() + Span::seconds(3), LEASE, 10)
        .await
        .unwrap();
    let tokens: HashSet<_> = claimed
        .iter()
        .map(|c| c.unsubscribe_token.clone())
        .collect();
    assert_eq!(
        tokens,
        HashSet::from([a.unsubscribe_token.clone(), c.unsubscribe_token.clone()])
    );
}

/// Two plans for the same slot create one run, however they race.
pub async fn plan_creates_one_run_per_slot(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    let a = client(&s, ann.id, "a@example.com").await;
    let msg = message(&s, ann.id).await;
    let m = mailing(&s, ann.id, msg.id, &[a.id]).await;
    let plan = RunPlan {
        mailing_id: m.id,
        expected_next_run_at: t0(),
        expected_updated_at: m.updated_at,
        run: Some(NewRun {
            slot_at: t0(),
            skipped_slots: 0,
            nonce: "n".into(),
        }),
        next_run_at: Some(t0() + Span::days(1)),
        now: t0(),
    };
    let (r1, r2) = tokio::join!(s.apply_plan(&plan), s.apply_plan(&plan));
    let created = [r1.unwrap(), r2.unwrap()].into_iter().flatten().count();
    assert_eq!(created, 1);
    // Re-seeding the same slot later (a re-enable) does not create a second run,
    // but still moves the next run on.
    s.set_mailing_enabled(m.id, true, None, Some(t0()), t0())
        .await
        .unwrap();
    assert_eq!(s.apply_plan(&plan).await.unwrap(), None);
    assert_eq!(
        s.mailing(m.id).await.unwrap().unwrap().next_run_at,
        Some(t0() + Span::days(1))
    );
    assert_eq!(
        s.list_runs(RunFilter::default(), &all())
            .await
            .unwrap()
            .total,
        1
    );
    assert_eq!(
        s.run_totals(
            s.list_runs(RunFilter::default(), &all())
                .await
                .unwrap()
                .items[0]
                .id
        )
        .await
        .unwrap()
        .total,
        1
    );
}

/// A plan made from an old `next_run_at`, or for a disabled mailing, does nothing.
pub async fn plan_with_a_stale_expectation_is_refused(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    let a = client(&s, ann.id, "a@example.com").await;
    let msg = message(&s, ann.id).await;
    let m = mailing(&s, ann.id, msg.id, &[a.id]).await;
    let stale = RunPlan {
        mailing_id: m.id,
        expected_next_run_at: t0() - Span::days(1),
        expected_updated_at: m.updated_at,
        run: Some(NewRun {
            slot_at: t0() - Span::days(1),
            skipped_slots: 0,
            nonce: "n".into(),
        }),
        next_run_at: Some(t0() + Span::days(5)),
        now: t0(),
    };
    assert_eq!(s.apply_plan(&stale).await.unwrap(), None);
    assert_eq!(
        s.mailing(m.id).await.unwrap().unwrap().next_run_at,
        Some(t0()),
        "unchanged"
    );
    s.set_mailing_enabled(m.id, false, Some(DisabledBy::Owner), Some(t0()), t0())
        .await
        .unwrap();
    let fresh = RunPlan {
        expected_next_run_at: t0(),
        expected_updated_at: m.updated_at,
        ..stale.clone()
    };
    assert_eq!(s.apply_plan(&fresh).await.unwrap(), None);
    assert_eq!(
        s.list_runs(RunFilter::default(), &all())
            .await
            .unwrap()
            .total,
        0
    );
    let gone = RunPlan {
        mailing_id: MailingId(987_654),
        ..fresh
    };
    assert_eq!(s.apply_plan(&gone).await.unwrap(), None);
}

/// A plan with no run only moves the next run (an expired window).
pub async fn plan_without_a_run_moves_the_next_run(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    let a = client(&s, ann.id, "a@example.com").await;
    let msg = message(&s, ann.id).await;
    let m = mailing(&s, ann.id, msg.id, &[a.id]).await;
    let plan = RunPlan {
        mailing_id: m.id,
        expected_next_run_at: t0(),
        expected_updated_at: m.updated_at,
        run: None,
        next_run_at: None,
        now: t0(),
    };
    assert_eq!(s.apply_plan(&plan).await.unwrap(), None);
    assert_eq!(s.mailing(m.id).await.unwrap().unwrap().next_run_at, None);
    assert!(
        s.due_mailings(t0() + Span::days(100), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Editing the message after a run started does not change the run's copy.
pub async fn run_content_survives_message_edits(s: S) {
    let (_, m, run) = run_with(&s, "ann@example.com", 1).await;
    let before = s.run_content(run.id).await.unwrap().unwrap();
    s.update_message(
        m.message_id,
        &MessageDraft::parse("New", "New body", None).unwrap(),
        t0(),
    )
    .await
    .unwrap();
    let d = MailingDraft::new(
        "New name",
        m.message_id,
        m.client_ids.clone(),
        m.start_at,
        m.end_at,
        m.periodicity,
    )
    .unwrap();
    s.update_mailing(m.id, &d, m.next_run_at, t0())
        .await
        .unwrap();
    assert_eq!(s.run_content(run.id).await.unwrap().unwrap(), before);
    assert_eq!(
        s.run(run.id).await.unwrap().unwrap().mailing_name,
        "Weekly news"
    );
    assert_eq!(s.run_content(RunId(987_654)).await.unwrap(), None);
}

/// Claiming leases deliveries; a result with the wrong attempt is refused.
pub async fn claim_leases_and_fences_stale_results(s: S) {
    let (_, _, run) = run_with(&s, "ann@example.com", 3).await;
    let c = s.claim_deliveries(t0(), LEASE, 2).await.unwrap();
    assert_eq!(c.len(), 2);
    assert!(c.iter().all(|d| d.attempt == 1 && d.run_id == run.id));
    assert!(c.iter().all(|d| d.lease_until == t0() + Span::seconds(60)));
    let rest = s.claim_deliveries(t0(), LEASE, 10).await.unwrap();
    assert_eq!(rest.len(), 1, "leased ones are not claimed again");
    assert!(
        s.claim_deliveries(t0(), LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(states(&s, run.id).await[&DeliveryState::Sending], 3);

    let stale = DeliveryResult {
        attempt: 7,
        ..sent(&c[0])
    };
    assert_eq!(s.complete_deliveries(&[stale], t0()).await.unwrap(), 0);
    let applied = s
        .complete_deliveries(&[sent(&c[0]), failed(&c[1], "550 no such user")], t0())
        .await
        .unwrap();
    assert_eq!(applied, 2);
    assert_eq!(
        s.complete_deliveries(&[sent(&c[0])], t0()).await.unwrap(),
        0,
        "a final state is final"
    );
    let ds = s.run_deliveries(run.id, &all()).await.unwrap().items;
    let d0 = ds.iter().find(|d| d.id == c[0].id).unwrap();
    assert_eq!(
        (d0.state, d0.attempts, d0.last_reply.as_deref()),
        (DeliveryState::Sent, 1, Some("250 ok"))
    );
    let d1 = ds.iter().find(|d| d.id == c[1].id).unwrap();
    assert_eq!(
        (d1.state, d1.last_reply.as_deref()),
        (DeliveryState::Failed, Some("550 no such user"))
    );
}

/// A claim splits its batch evenly between the owners with due deliveries,
/// and each owner's share between their runs, so a small run is claimed
/// beside a big one; a lone run gets the whole batch.
pub async fn claims_share_the_batch_between_owners_and_runs(s: S) {
    async fn run_of(s: &S, owner: UserId, prefix: &str, n: usize) -> Run {
        let mut ids = Vec::new();
        for i in 0..n {
            ids.push(
                client(s, owner, &format!("{prefix}{i}@example.com"))
                    .await
                    .id,
            );
        }
        let msg = message(s, owner).await;
        let m = mailing(s, owner, msg.id, &ids).await;
        start_run(s, &m).await
    }
    let ann = user(&s, "ann@example.com", Role::User).await;
    let bob = user(&s, "bob@example.com", Role::User).await;
    let big = run_of(&s, ann.id, "a", 20).await;
    let second = run_of(&s, ann.id, "b", 20).await;
    let small = run_of(&s, bob.id, "c", 3).await;
    let per_run = |c: &[ClaimedDelivery]| {
        let mut n: HashMap<RunId, usize> = HashMap::new();
        for d in c {
            *n.entry(d.run_id).or_default() += 1;
        }
        n
    };
    let first = s.claim_deliveries(t0(), LEASE, 8).await.unwrap();
    let n = per_run(&first);
    assert_eq!(
        (n.get(&big.id), n.get(&second.id), n.get(&small.id)),
        (Some(&2), Some(&2), Some(&3)),
        "Bob's run is claimed beside Ann's two, and not more than it has"
    );
    assert!(first.len() <= 8);
    // With Bob's run all claimed, Ann's two runs share the batch.
    let next = s.claim_deliveries(t0(), LEASE, 8).await.unwrap();
    let n = per_run(&next);
    assert_eq!(
        (n.get(&big.id), n.get(&second.id), n.get(&small.id)),
        (Some(&4), Some(&4), None)
    );
    // A lone owner's lone run takes the whole batch.
    let carl = user(&s, "carl@example.com", Role::User).await;
    let done: Vec<DeliveryResult> = first.iter().chain(&next).map(sent).collect();
    s.complete_deliveries(&done, t0()).await.unwrap();
    let rest = s.claim_deliveries(t0(), LEASE, 100).await.unwrap();
    s.complete_deliveries(&rest.iter().map(sent).collect::<Vec<_>>(), t0())
        .await
        .unwrap();
    let lone = run_of(&s, carl.id, "d", 12).await;
    let all = s.claim_deliveries(t0(), LEASE, 10).await.unwrap();
    assert_eq!((all.len(), per_run(&all).get(&lone.id)), (10, Some(&10)));
}

/// The service-wide send budget: a bucket per relay holding one second's
/// worth, refilled at its rate, shared by whoever takes from it.
pub async fn send_budgets_refill_at_their_rate_per_relay(s: S) {
    assert_eq!(
        s.take_send_budget("relay-a", 10, 50, t0()).await.unwrap(),
        10,
        "a full second"
    );
    assert_eq!(
        s.take_send_budget("relay-a", 10, 50, t0()).await.unwrap(),
        0,
        "spent"
    );
    assert_eq!(
        s.take_send_budget("relay-b", 10, 4, t0()).await.unwrap(),
        4,
        "another relay, its own"
    );
    let half = t0() + Span::milliseconds(500);
    assert_eq!(
        s.take_send_budget("relay-a", 10, 50, half).await.unwrap(),
        5,
        "half a second later"
    );
    s.return_send_budget("relay-a", 10, 3).await.unwrap();
    assert_eq!(
        s.take_send_budget("relay-a", 10, 2, half).await.unwrap(),
        2,
        "given back"
    );
    assert_eq!(
        s.take_send_budget("relay-a", 10, 50, half).await.unwrap(),
        1
    );
    let later = t0() + Span::seconds(60);
    assert_eq!(
        s.take_send_budget("relay-a", 10, 50, later).await.unwrap(),
        10,
        "never more than a second's worth"
    );
    // A worker whose clock reading is a little behind (it waited for the
    // row) must not move the bucket's time back: the same 100 ms would be
    // refilled twice.
    let a = later + Span::milliseconds(100);
    assert_eq!(s.take_send_budget("relay-a", 10, 50, a).await.unwrap(), 1);
    let behind = later + Span::milliseconds(50);
    assert_eq!(
        s.take_send_budget("relay-a", 10, 50, behind).await.unwrap(),
        0,
        "no refill from the past"
    );
    assert_eq!(
        s.take_send_budget("relay-a", 10, 50, a + Span::milliseconds(150))
            .await
            .unwrap(),
        1,
        "150 ms after the latest take: one, not two"
    );
}

/// Setting a password voids the account's pending reset links, and nothing else.
pub async fn a_new_password_voids_pending_reset_links(s: S) {
    let u = user(&s, "ann@example.com", Role::User).await;
    let other = user(&s, "bob@example.com", Role::User).await;
    let exp = t0() + Span::hours(1);
    s.create_token(u.id, TokenPurpose::PasswordReset, "reset", exp)
        .await
        .unwrap();
    s.create_token(u.id, TokenPurpose::VerifyEmail, "verify", exp)
        .await
        .unwrap();
    s.create_token(other.id, TokenPurpose::PasswordReset, "bobs", exp)
        .await
        .unwrap();
    s.set_password_hash(u.id, "new hash").await.unwrap();
    assert_eq!(
        s.consume_token(TokenPurpose::PasswordReset, "reset", t0())
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.consume_token(TokenPurpose::VerifyEmail, "verify", t0())
            .await
            .unwrap(),
        Some(u.id)
    );
    assert_eq!(
        s.consume_token(TokenPurpose::PasswordReset, "bobs", t0())
            .await
            .unwrap(),
        Some(other.id)
    );
    let (_, hash) = s.user_by_email(&u.email).await.unwrap().unwrap();
    assert_eq!(hash, "new hash");
}

/// A live worker's renewal moves its lease's end; a claim another worker took
/// over (a higher attempt) is not renewed.
pub async fn renewed_leases_hold_until_their_new_end(s: S) {
    let (_, _, run) = run_with(&s, "ann@example.com", 2).await;
    let c = s.claim_deliveries(t0(), LEASE, 10).await.unwrap();
    assert_eq!(c.len(), 2);
    let later = t0() + Span::seconds(100);
    let renewed = s
        .renew_leases(
            &[(c[0].id, c[0].attempt), (c[1].id, c[1].attempt + 1)],
            later,
        )
        .await
        .unwrap();
    assert_eq!(renewed, 1, "only the claim under its own attempt");
    let at_old_end = s
        .claim_deliveries(t0() + Span::seconds(60), LEASE, 10)
        .await
        .unwrap();
    assert_eq!(
        at_old_end.iter().map(|d| d.id).collect::<Vec<_>>(),
        vec![c[1].id],
        "the unrenewed claim is taken over at its lease's end"
    );
    assert!(
        s.claim_deliveries(t0() + Span::seconds(99), LEASE, 10)
            .await
            .unwrap()
            .is_empty(),
        "the renewed one holds"
    );
    let taken = s.claim_deliveries(later, LEASE, 10).await.unwrap();
    assert_eq!(
        (taken.len(), taken[0].id, taken[0].attempt),
        (1, c[0].id, 2)
    );
    assert_eq!(s.renew_leases(&[], later).await.unwrap(), 0);
    assert_eq!(states(&s, run.id).await[&DeliveryState::Sending], 2);
}

/// The engine parks a mailing it cannot handle: disabled with the reason
/// `engine_error` and its pending deliveries cancelled, once.
pub async fn parking_disables_with_engine_error_and_cancels_pending(s: S) {
    let (_, m, run) = run_with(&s, "ann@example.com", 2).await;
    assert_eq!(
        s.run_content(run.id).await.unwrap().unwrap().mailing_id,
        Some(m.id)
    );
    assert!(s.park_mailing(m.id, t0()).await.unwrap());
    let parked = s.mailing(m.id).await.unwrap().unwrap();
    assert_eq!(
        (parked.enabled, parked.disabled_by),
        (false, Some(DisabledBy::EngineError))
    );
    assert_eq!(states(&s, run.id).await[&DeliveryState::Cancelled], 2);
    assert!(!s.park_mailing(m.id, t0()).await.unwrap(), "once");
    assert!(!s.park_mailing(MailingId(999_999), t0()).await.unwrap());
    // Enabling it again is an ordinary enable.
    let on = s
        .set_mailing_enabled(m.id, true, None, Some(t0()), t0())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((on.enabled, on.disabled_by), (true, None));
}

/// A lease that expires is claimed again; the old worker's result is then refused.
pub async fn expired_lease_is_claimed_again_with_a_higher_attempt(s: S) {
    let (_, _, run) = run_with(&s, "ann@example.com", 1).await;
    let first = s.claim_deliveries(t0(), LEASE, 10).await.unwrap();
    assert_eq!(first.len(), 1);
    assert!(
        s.claim_deliveries(t0() + Span::seconds(59), LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let second = s
        .claim_deliveries(t0() + Span::seconds(60), LEASE, 10)
        .await
        .unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!((second[0].id, second[0].attempt), (first[0].id, 2));
    assert_eq!(
        s.complete_deliveries(&[sent(&first[0])], t0())
            .await
            .unwrap(),
        0,
        "stale worker fenced"
    );
    assert_eq!(
        s.complete_deliveries(&[sent(&second[0])], t0())
            .await
            .unwrap(),
        1
    );
    assert_eq!(states(&s, run.id).await[&DeliveryState::Sent], 1);
}

/// A retry is pending again, but not claimable before its time.
pub async fn retry_returns_to_pending_until_its_time(s: S) {
    let (_, _, run) = run_with(&s, "ann@example.com", 1).await;
    let c = s.claim_deliveries(t0(), LEASE, 10).await.unwrap();
    let at = t0() + Span::minutes(5);
    let r = DeliveryResult {
        id: c[0].id,
        attempt: 1,
        outcome: DeliveryOutcome::Retry {
            reply: "451 try later".into(),
            at,
        },
    };
    assert_eq!(s.complete_deliveries(&[r], t0()).await.unwrap(), 1);
    let d = &s.run_deliveries(run.id, &all()).await.unwrap().items[0];
    assert_eq!(
        (d.state, d.next_attempt_at, d.last_reply.as_deref()),
        (DeliveryState::Pending, at, Some("451 try later"))
    );
    assert!(
        s.claim_deliveries(at - Span::seconds(1), LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(s.next_wakeup().await.unwrap(), Some(at));
    let again = s.claim_deliveries(at, LEASE, 10).await.unwrap();
    assert_eq!(again[0].attempt, 2);
}

/// A released delivery is pending again and its attempt is not counted.
pub async fn released_delivery_is_pending_again_without_counting_the_attempt(s: S) {
    let (_, _, run) = run_with(&s, "ann@example.com", 1).await;
    let c = s.claim_deliveries(t0(), LEASE, 10).await.unwrap();
    let r = DeliveryResult {
        id: c[0].id,
        attempt: 1,
        outcome: DeliveryOutcome::Released,
    };
    assert_eq!(s.complete_deliveries(&[r], t0()).await.unwrap(), 1);
    let d = &s.run_deliveries(run.id, &all()).await.unwrap().items[0];
    assert_eq!((d.state, d.attempts), (DeliveryState::Pending, 0));
    assert_eq!(
        s.claim_deliveries(t0(), LEASE, 10).await.unwrap()[0].attempt,
        1
    );
}

/// A delivery held back for its domain is pending until its time, its
/// attempt not counted, its last reply kept unless a new one is given, and
/// its run shows what it waits for until it is sent.
pub async fn deferred_delivery_waits_for_its_domain_without_counting_the_attempt(s: S) {
    let (_, _, run) = run_with(&s, "ann@example.com", 3).await;
    let c = s.claim_deliveries(t0(), LEASE, 10).await.unwrap();
    assert_eq!(c.len(), 3);
    let at = t0() + Span::seconds(2);
    let defer = |d: &ClaimedDelivery, reply: Option<&str>| DeliveryResult {
        id: d.id,
        attempt: d.attempt,
        outcome: DeliveryOutcome::Deferred {
            reply: reply.map(str::to_owned),
            at,
            domain: "example.com".into(),
        },
    };
    let results = [
        defer(&c[0], Some("421 4.7.0 Too many messages")),
        defer(&c[1], None),
        sent(&c[2]),
    ];
    assert_eq!(s.complete_deliveries(&results, t0()).await.unwrap(), 3);
    let t = s.run_totals(run.id).await.unwrap();
    assert_eq!((t.pending, t.sent), (2, 1));
    assert_eq!(t.waiting, vec![("example.com".to_owned(), 2)]);
    assert_eq!(t.activity(), crate::RunActivity::WaitingForDomains);
    let ds = s.run_deliveries(run.id, &all()).await.unwrap().items;
    let d0 = ds.iter().find(|d| d.id == c[0].id).unwrap();
    assert_eq!(
        (
            d0.state,
            d0.attempts,
            d0.next_attempt_at,
            d0.last_reply.as_deref()
        ),
        (
            DeliveryState::Pending,
            0,
            at,
            Some("421 4.7.0 Too many messages")
        )
    );
    let d1 = ds.iter().find(|d| d.id == c[1].id).unwrap();
    assert_eq!((d1.attempts, d1.last_reply.as_deref()), (0, None));
    assert!(
        s.claim_deliveries(at - Span::seconds(1), LEASE, 10)
            .await
            .unwrap()
            .is_empty(),
        "not before its time"
    );
    let again = s.claim_deliveries(at, LEASE, 10).await.unwrap();
    assert_eq!(
        again.iter().map(|d| d.attempt).collect::<Vec<_>>(),
        vec![1, 1],
        "the held-back attempt was not counted"
    );
    let done: Vec<_> = again.iter().map(sent).collect();
    s.complete_deliveries(&done, at).await.unwrap();
    let t = s.run_totals(run.id).await.unwrap();
    assert_eq!((t.sent, t.waiting.len()), (3, 0));
    assert_eq!(t.activity(), crate::RunActivity::Done);
}

/// N claimers racing over one queue: every delivery is claimed and completed exactly once.
pub async fn concurrent_claimers_claim_each_delivery_exactly_once(s: S) {
    const N: usize = 2_000;
    let (_, _, run) = run_with(&s, "ann@example.com", N).await;
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let batch = s.claim_deliveries(t0(), LEASE, 37).await.unwrap();
                if batch.is_empty() {
                    break;
                }
                let results: Vec<_> = batch.iter().map(sent).collect();
                assert_eq!(
                    s.complete_deliveries(&results, t0()).await.unwrap(),
                    batch.len() as u64
                );
                mine.extend(batch.into_iter().map(|c| c.id));
                tokio::task::yield_now().await;
            }
            mine
        }));
    }
    let mut seen = HashSet::new();
    let mut claims = 0;
    for t in tasks {
        for id in t.await.unwrap() {
            claims += 1;
            seen.insert(id);
        }
    }
    assert_eq!(
        (claims, seen.len()),
        (N, N),
        "each delivery claimed exactly once"
    );
    assert_eq!(s.run_totals(run.id).await.unwrap().sent, N as u64);
}

/// Disabling a mailing cancels its pending deliveries, not those already sending.
pub async fn disabling_cancels_pending_deliveries(s: S) {
    let (_, m, run) = run_with(&s, "ann@example.com", 3).await;
    assert_eq!(s.pending_deliveries().await.unwrap(), 3);
    let c = s.claim_deliveries(t0(), LEASE, 1).await.unwrap();
    assert_eq!(
        s.pending_deliveries().await.unwrap(),
        2,
        "a claimed one is not pending"
    );
    let off = s
        .set_mailing_enabled(m.id, false, Some(DisabledBy::Manager), m.next_run_at, t0())
        .await
        .unwrap()
        .unwrap();
    assert!(!off.enabled);
    assert_eq!(off.disabled_by, Some(DisabledBy::Manager));
    let st = states(&s, run.id).await;
    assert_eq!(
        (st[&DeliveryState::Cancelled], st[&DeliveryState::Sending]),
        (2, 1)
    );
    assert_eq!(s.pending_deliveries().await.unwrap(), 0);
    assert_eq!(
        s.complete_deliveries(&[sent(&c[0])], t0()).await.unwrap(),
        1,
        "in-flight send is still recorded"
    );
    let on = s
        .set_mailing_enabled(m.id, true, None, Some(t0() + Span::days(1)), t0())
        .await
        .unwrap()
        .unwrap();
    assert!(on.enabled && on.disabled_by.is_none());
    assert_eq!(on.next_run_at, Some(t0() + Span::days(1)));
}

/// Blocking an owner ends their sessions and cancels their pending deliveries.
pub async fn blocking_an_owner_cancels_pending_and_ends_sessions(s: S) {
    let (u, _, run) = run_with(&s, "ann@example.com", 2).await;
    let (_, _, other) = run_with(&s, "bob@example.com", 2).await;
    s.create_session(u.id, "sess", t0() + Span::hours(1))
        .await
        .unwrap();
    s.set_user_state(u.id, UserState::Blocked, t0())
        .await
        .unwrap();
    assert_eq!(s.session_user("sess", t0()).await.unwrap(), None);
    assert_eq!(states(&s, run.id).await[&DeliveryState::Cancelled], 2);
    assert_eq!(
        states(&s, other.id).await[&DeliveryState::Pending],
        2,
        "others untouched"
    );
}

/// Deleting a mailing cancels its pending deliveries; its runs stay in the log.
pub async fn deleting_a_mailing_cancels_pending_and_keeps_runs(s: S) {
    let (_, m, run) = run_with(&s, "ann@example.com", 2).await;
    assert!(s.delete_mailing(m.id, t0()).await.unwrap());
    assert!(!s.delete_mailing(m.id, t0()).await.unwrap());
    assert_eq!(s.mailing(m.id).await.unwrap(), None);
    let kept = s.run(run.id).await.unwrap().unwrap();
    assert_eq!(
        (kept.mailing_id, kept.mailing_name.as_str()),
        (None, "Weekly news")
    );
    assert_eq!(states(&s, run.id).await[&DeliveryState::Cancelled], 2);
    // The message is free to delete now.
    assert!(s.delete_message(m.message_id).await.unwrap());
}

/// Deleting a client removes it from mailings but not from runs already started.
pub async fn deleting_a_client_keeps_frozen_deliveries(s: S) {
    let (u, m, run) = run_with(&s, "ann@example.com", 2).await;
    let gone = m.client_ids[0];
    assert!(s.delete_client(u.id, gone).await.unwrap());
    assert_eq!(
        s.mailing(m.id).await.unwrap().unwrap().client_ids,
        vec![m.client_ids[1]]
    );
    let ds = s.run_deliveries(run.id, &all()).await.unwrap().items;
    assert_eq!(ds.len(), 2);
    assert_eq!(ds.iter().filter(|d| d.client_id.is_none()).count(), 1);
    assert_eq!(
        s.claim_deliveries(t0(), LEASE, 10).await.unwrap().len(),
        2,
        "still sent"
    );
}

/// A run with nothing left to send is finished once, with its totals and report.
pub async fn runs_finish_with_totals_and_report(s: S) {
    let (_, _, run) = run_with(&s, "ann@example.com", 5).await;
    assert!(s.runs_to_finish(10).await.unwrap().is_empty());
    let c = s.claim_deliveries(t0(), LEASE, 10).await.unwrap();
    let results = [
        sent(&c[0]),
        sent(&c[1]),
        failed(&c[2], "550 5.1.1 user unknown"),
        failed(&c[3], "550 5.1.1 user unknown"),
        failed(&c[4], "554 rejected"),
    ];
    s.complete_deliveries(&results[..4], t0()).await.unwrap();
    let partial = s.run_totals(run.id).await.unwrap();
    assert_eq!(
        (partial.total, partial.sent, partial.failed, partial.sending),
        (5, 2, 2, 1)
    );
    assert!(
        !s.finish_run(run.id, &RunReport::new(&partial, 0), t0())
            .await
            .unwrap(),
        "not while sending"
    );
    s.complete_deliveries(&results[4..], t0()).await.unwrap();
    let to_finish = s.runs_to_finish(10).await.unwrap();
    assert_eq!(
        to_finish.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![run.id]
    );
    let t = s.run_totals(run.id).await.unwrap();
    assert_eq!(
        t,
        RunTotals {
            total: 5,
            pending: 0,
            sending: 0,
            sent: 2,
            failed: 3,
            cancelled: 0,
            suppressed: 0,
            waiting: vec![],
            failures: vec![
                ("550 5.1.1 user unknown".into(), 2),
                ("554 rejected".into(), 1)
            ],
        }
    );
    let later = t0() + Span::minutes(1);
    let report = RunReport::new(&t, 0);
    assert!(s.finish_run(run.id, &report, later).await.unwrap());
    assert!(!s.finish_run(run.id, &report, later).await.unwrap(), "once");
    let r = s.run(run.id).await.unwrap().unwrap();
    assert_eq!(
        (
            r.finished_at,
            r.sent,
            r.failed,
            r.cancelled,
            r.report.as_ref()
        ),
        (Some(later), 2, 3, 0, Some(&report)),
        "the report reads back as it was written"
    );
    assert!(s.runs_to_finish(10).await.unwrap().is_empty());
}

/// Runs list newest first, filtered by mailing or owner, a page at a time.
pub async fn runs_list_filters_and_pages(s: S) {
    let (ann, m, r1) = run_with(&s, "ann@example.com", 1).await;
    let (bob, _, r2) = run_with(&s, "bob@example.com", 1).await;
    let m = s.mailing(m.id).await.unwrap().unwrap();
    let r3 = start_run(&s, &m).await;
    let ids = |p: Page<Run>| p.items.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.list_runs(RunFilter::default(), &all()).await.unwrap()),
        vec![r3.id, r2.id, r1.id]
    );
    assert_eq!(
        ids(s
            .list_runs(
                RunFilter {
                    mailing: Some(m.id),
                    owner: None
                },
                &all()
            )
            .await
            .unwrap()),
        vec![r3.id, r1.id]
    );
    assert_eq!(
        ids(s
            .list_runs(
                RunFilter {
                    mailing: None,
                    owner: Some(bob.id)
                },
                &all()
            )
            .await
            .unwrap()),
        vec![r2.id]
    );
    let p = s
        .list_runs(
            RunFilter {
                mailing: None,
                owner: Some(ann.id),
            },
            &q(2, 1, None),
        )
        .await
        .unwrap();
    assert_eq!((p.total, ids(p)), (2, vec![r1.id]));
    assert_eq!(s.run(RunId(987_654)).await.unwrap(), None);
    let ds = s.run_deliveries(r1.id, &q(1, 1, None)).await.unwrap();
    assert_eq!((ds.total, ds.items.len()), (1, 1));
}

/// The next wake-up is the earliest of next runs, retries and lease expiries.
pub async fn next_wakeup_is_the_earliest_due_time(s: S) {
    assert_eq!(s.next_wakeup().await.unwrap(), None);
    let ann = user(&s, "ann@example.com", Role::User).await;
    let a = client(&s, ann.id, "a@example.com").await;
    let msg = message(&s, ann.id).await;
    let d = MailingDraft::new(
        "later",
        msg.id,
        vec![a.id],
        t0() + Span::hours(3),
        t0() + Span::days(1),
        Periodicity::Once,
    )
    .unwrap();
    s.create_mailing(ann.id, &d, Some(t0() + Span::hours(3)), t0())
        .await
        .unwrap();
    assert_eq!(s.next_wakeup().await.unwrap(), Some(t0() + Span::hours(3)));
    let m = mailing(&s, ann.id, msg.id, &[a.id]).await;
    start_run(&s, &m).await; // next run of m: t0 + 1 day; one pending delivery due at t0
    assert_eq!(s.next_wakeup().await.unwrap(), Some(t0()));
    s.claim_deliveries(t0(), LEASE, 10).await.unwrap();
    assert_eq!(
        s.next_wakeup().await.unwrap(),
        Some(t0() + Span::seconds(60)),
        "the lease"
    );
}

/// A mailing reports `sending` while a run of it is unfinished.
pub async fn mailing_is_sending_while_a_run_is_unfinished(s: S) {
    let (_, m, run) = run_with(&s, "ann@example.com", 1).await;
    assert!(s.mailing(m.id).await.unwrap().unwrap().sending);
    let c = s.claim_deliveries(t0(), LEASE, 10).await.unwrap();
    s.complete_deliveries(&[sent(&c[0])], t0()).await.unwrap();
    let t = s.run_totals(run.id).await.unwrap();
    s.finish_run(run.id, &RunReport::new(&t, 0), t0())
        .await
        .unwrap();
    assert!(!s.mailing(m.id).await.unwrap().unwrap().sending);
    assert!(!s.list_mailings(None, &all()).await.unwrap().items[0].sending);
}

/// Posts publish, count views when read, list newest first and come at random.
pub async fn blog_posts_publish_count_views_and_pick_at_random(s: S) {
    let draft = s
        .create_post(
            &PostDraft::parse("Draft", "Body", None, false).unwrap(),
            t0(),
        )
        .await
        .unwrap();
    assert_eq!((draft.published, draft.published_at), (false, None));
    let mut published = Vec::new();
    for i in 0..4 {
        let at = t0() + Span::hours(i);
        published.push(
            s.create_post(
                &PostDraft::parse(&format!("Post {i}"), "Body", Some("/img/a.png"), true).unwrap(),
                at,
            )
            .await
            .unwrap(),
        );
    }
    assert_eq!(published[0].published_at, Some(t0()));
    assert_eq!(published[0].image.as_deref(), Some("/img/a.png"));
    assert_eq!(
        s.view_post(draft.id).await.unwrap(),
        None,
        "drafts are not viewed"
    );
    s.view_post(published[0].id).await.unwrap();
    let v = s.view_post(published[0].id).await.unwrap().unwrap();
    assert_eq!(v.views, 2);
    assert_eq!(s.post(published[0].id).await.unwrap().unwrap().views, 2);

    let public = s.list_posts(false, &all()).await.unwrap();
    assert_eq!(
        public
            .items
            .iter()
            .map(|p| p.title.as_str())
            .collect::<Vec<_>>(),
        vec!["Post 3", "Post 2", "Post 1", "Post 0"]
    );
    assert_eq!(s.list_posts(true, &all()).await.unwrap().total, 5);

    let mut seen = HashSet::new();
    for _ in 0..30 {
        let r = s.random_posts(3).await.unwrap();
        assert_eq!(r.len(), 3);
        assert!(r.iter().all(|p| p.published));
        assert_eq!(
            r.iter().map(|p| p.id).collect::<HashSet<_>>().len(),
            3,
            "distinct"
        );
        seen.extend(r.into_iter().map(|p| p.id));
    }
    assert_eq!(seen.len(), 4, "every published post comes up");

    let later = t0() + Span::days(1);
    let up = s
        .update_post(
            draft.id,
            &PostDraft::parse("Now public", "B", None, true).unwrap(),
            later,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!((up.published, up.published_at), (true, Some(later)));
    let again = s
        .update_post(
            draft.id,
            &PostDraft::parse("Now public", "B2", None, true).unwrap(),
            later + Span::days(1),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.published_at, Some(later), "first publication kept");
    assert!(s.delete_post(draft.id).await.unwrap());
    assert_eq!(s.post(draft.id).await.unwrap(), None);
    assert_eq!(
        s.update_post(
            draft.id,
            &PostDraft::parse("x", "y", None, true).unwrap(),
            later
        )
        .await
        .unwrap(),
        None
    );
}

/// Stats count mailings, running mailings and distinct client addresses.
pub async fn stats_count_mailings_running_and_unique_clients(s: S) {
    assert_eq!(s.stats(t0()).await.unwrap(), Stats::default());
    let ann = user(&s, "ann@example.com", Role::User).await;
    let bob = user(&s, "bob@example.com", Role::User).await;
    let a1 = client(&s, ann.id, "same@example.com").await;
    client(&s, bob.id, "same@example.com").await;
    client(&s, bob.id, "other@example.com").await;
    let msg = message(&s, ann.id).await;
    mailing(&s, ann.id, msg.id, &[a1.id]).await; // running: window open at t0
    let future = MailingDraft::new(
        "f",
        msg.id,
        vec![a1.id],
        t0() + Span::days(1),
        t0() + Span::days(2),
        Periodicity::Once,
    )
    .unwrap();
    s.create_mailing(ann.id, &future, Some(t0() + Span::days(1)), t0())
        .await
        .unwrap();
    let stats = s.stats(t0()).await.unwrap();
    assert_eq!(
        stats,
        Stats {
            mailings: 2,
            running_mailings: 1,
            unique_clients: 2
        }
    );
    s.ping().await.unwrap();
}

/// Sent and failed deliveries are counted per day of their outcome.
pub async fn daily_outcomes_count_sent_and_failed(s: S) {
    let (_, _, _run) = run_with(&s, "ann@example.com", 3).await;
    let c = s.claim_deliveries(t0(), LEASE, 10).await.unwrap();
    s.complete_deliveries(&[sent(&c[0])], t0()).await.unwrap();
    let next_day = t0() + Span::days(1);
    s.complete_deliveries(&[sent(&c[1]), failed(&c[2], "550 x")], next_day)
        .await
        .unwrap();
    let days = s.daily_outcomes(None, t0() - Span::days(7)).await.unwrap();
    assert_eq!(
        days,
        vec![
            DailyOutcome {
                day: t0().date_naive(),
                sent: 1,
                failed: 0
            },
            DailyOutcome {
                day: next_day.date_naive(),
                sent: 1,
                failed: 1
            },
        ]
    );
    assert_eq!(s.daily_outcomes(None, next_day).await.unwrap().len(), 1);
}

/// A retry or release of a delivery whose mailing was disabled comes back cancelled.
pub async fn retry_or_release_of_a_stopped_run_is_cancelled(s: S) {
    let (_, m, run) = run_with(&s, "ann@example.com", 2).await;
    let c = s.claim_deliveries(t0(), LEASE, 10).await.unwrap();
    s.set_mailing_enabled(m.id, false, Some(DisabledBy::Owner), m.next_run_at, t0())
        .await
        .unwrap();
    let results = [
        DeliveryResult {
            id: c[0].id,
            attempt: c[0].attempt,
            outcome: DeliveryOutcome::Retry {
                reply: "451 later".into(),
                at: t0(),
            },
        },
        DeliveryResult {
            id: c[1].id,
            attempt: c[1].attempt,
            outcome: DeliveryOutcome::Released,
        },
    ];
    assert_eq!(s.complete_deliveries(&results, t0()).await.unwrap(), 2);
    assert_eq!(states(&s, run.id).await[&DeliveryState::Cancelled], 2);
    assert!(
        s.claim_deliveries(t0() + Span::hours(1), LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.runs_to_finish(10).await.unwrap().len(),
        1,
        "the run can finish"
    );
}

/// A delivery whose lease expires after its owner was blocked is cancelled, not claimed.
pub async fn expired_lease_of_a_stopped_run_is_cancelled(s: S) {
    let (u, _, run) = run_with(&s, "ann@example.com", 2).await;
    s.claim_deliveries(t0(), LEASE, 10).await.unwrap();
    s.set_user_state(u.id, UserState::Blocked, t0())
        .await
        .unwrap();
    assert!(
        s.claim_deliveries(t0() + Span::seconds(61), LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(states(&s, run.id).await[&DeliveryState::Cancelled], 2);
}

/// A plan for a mailing whose owner was blocked in the meantime creates nothing.
pub async fn plan_for_an_owner_no_longer_active_is_refused(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    let a = client(&s, ann.id, "a@example.com").await;
    let msg = message(&s, ann.id).await;
    let m = mailing(&s, ann.id, msg.id, &[a.id]).await;
    s.set_user_state(ann.id, UserState::Blocked, t0())
        .await
        .unwrap();
    let plan = RunPlan {
        mailing_id: m.id,
        expected_next_run_at: t0(),
        expected_updated_at: m.updated_at,
        run: Some(NewRun {
            slot_at: t0(),
            skipped_slots: 0,
            nonce: "n".into(),
        }),
        next_run_at: Some(t0() + Span::days(1)),
        now: t0(),
    };
    assert_eq!(s.apply_plan(&plan).await.unwrap(), None);
    assert_eq!(
        s.list_runs(RunFilter::default(), &all())
            .await
            .unwrap()
            .total,
        0
    );
}

/// A plan made before an edit of the mailing is void, even with the same next run.
pub async fn plan_made_before_an_edit_is_refused(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    let a = client(&s, ann.id, "a@example.com").await;
    let msg = message(&s, ann.id).await;
    let m = mailing(&s, ann.id, msg.id, &[a.id]).await;
    let d = MailingDraft::new(
        "Longer",
        msg.id,
        vec![a.id],
        t0(),
        t0() + Span::days(90),
        Periodicity::Weekly,
    )
    .unwrap();
    let edited = s
        .update_mailing(m.id, &d, Some(t0()), t0() + Span::seconds(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(edited.updated_at, t0() + Span::seconds(1));
    let stale = RunPlan {
        mailing_id: m.id,
        expected_next_run_at: t0(),
        expected_updated_at: m.updated_at,
        run: None,
        next_run_at: None,
        now: t0(),
    };
    assert_eq!(s.apply_plan(&stale).await.unwrap(), None);
    assert_eq!(
        s.mailing(m.id).await.unwrap().unwrap().next_run_at,
        Some(t0()),
        "untouched"
    );
    let fresh = RunPlan {
        expected_updated_at: edited.updated_at,
        ..stale
    };
    s.apply_plan(&fresh).await.unwrap();
    assert_eq!(s.mailing(m.id).await.unwrap().unwrap().next_run_at, None);
    assert_eq!(
        s.mailing(m.id).await.unwrap().unwrap().updated_at,
        edited.updated_at,
        "a plan does not edit"
    );
}

/// Following an unsubscribe link stops that recipient's pending deliveries at once.
pub async fn unsubscribing_cancels_the_clients_pending_deliveries(s: S) {
    let (u, m, run) = run_with(&s, "ann@example.com", 2).await;
    let c = s.client(u.id, m.client_ids[0]).await.unwrap().unwrap();
    s.set_unsubscribed(&c.unsubscribe_token, Some(t0()))
        .await
        .unwrap();
    let ds = s.run_deliveries(run.id, &all()).await.unwrap().items;
    let mine = ds.iter().find(|d| d.client_id == Some(c.id)).unwrap();
    assert_eq!(mine.state, DeliveryState::Cancelled);
    assert_eq!(
        ds.iter()
            .filter(|d| d.state == DeliveryState::Pending)
            .count(),
        1
    );
}

/// Updating another owner's client is "not found", whatever its email clashes with.
pub async fn another_owners_client_is_not_found_even_on_an_email_clash(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    let bob = user(&s, "bob@example.com", Role::User).await;
    let anns = client(&s, ann.id, "x@example.com").await;
    client(&s, bob.id, "y@example.com").await;
    let d = ClientDraft::parse("y@example.com", "Y", "").unwrap();
    assert_eq!(
        s.update_client(bob.id, anns.id, &d, "new-token")
            .await
            .unwrap(),
        None
    );
}

/// A message's users are the distinct owners of the mailings that send it.
pub async fn message_users_are_the_owners_of_its_mailings(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    let bob = user(&s, "bob@example.com", Role::User).await;
    let a = client(&s, ann.id, "a@example.com").await;
    let b = client(&s, bob.id, "b@example.com").await;
    let msg = message(&s, ann.id).await;
    assert!(s.message_users(msg.id).await.unwrap().is_empty());
    mailing(&s, bob.id, msg.id, &[b.id]).await;
    mailing(&s, bob.id, msg.id, &[b.id]).await;
    mailing(&s, ann.id, msg.id, &[a.id]).await;
    let mut users = s.message_users(msg.id).await.unwrap();
    users.sort();
    assert_eq!(users, vec![ann.id, bob.id]);
}

/// Disabled mailings, finished ones and those of inactive owners never wake the engine.
pub async fn next_wakeup_ignores_what_cannot_run(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    let bob = user(&s, "bob@example.com", Role::User).await;
    let a = client(&s, ann.id, "a@example.com").await;
    let b = client(&s, bob.id, "b@example.com").await;
    let msg = message(&s, ann.id).await;
    let off = mailing(&s, ann.id, msg.id, &[a.id]).await;
    s.set_mailing_enabled(
        off.id,
        false,
        Some(DisabledBy::Owner),
        off.next_run_at,
        t0(),
    )
    .await
    .unwrap();
    let done = MailingDraft::new(
        "done",
        msg.id,
        vec![a.id],
        t0(),
        t0() + Span::days(1),
        Periodicity::Once,
    )
    .unwrap();
    s.create_mailing(ann.id, &done, None, t0()).await.unwrap();
    mailing(&s, bob.id, msg.id, &[b.id]).await;
    s.set_user_state(bob.id, UserState::Blocked, t0())
        .await
        .unwrap();
    let pending = pending_user(&s, "new@example.com").await;
    let p = client(&s, pending.id, "p@example.com").await;
    mailing(&s, pending.id, msg.id, &[p.id]).await;
    assert_eq!(s.next_wakeup().await.unwrap(), None);
}

/// A mailing of an owner who has not verified their address is not due.
pub async fn due_mailings_skip_owners_pending_verification(s: S) {
    let pending = pending_user(&s, "new@example.com").await;
    let p = client(&s, pending.id, "p@example.com").await;
    let msg = message(&s, pending.id).await;
    mailing(&s, pending.id, msg.id, &[p.id]).await;
    assert!(
        s.due_mailings(t0() + Span::days(1), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Of many concurrent uses of one token, exactly one succeeds.
pub async fn a_token_is_consumed_once_under_concurrency(s: S) {
    let u = user(&s, "ann@example.com", Role::User).await;
    s.create_token(
        u.id,
        TokenPurpose::PasswordReset,
        "once",
        t0() + Span::hours(1),
    )
    .await
    .unwrap();
    let tries = (0..8).map(|_| {
        let s = s.clone();
        tokio::spawn(async move {
            s.consume_token(TokenPurpose::PasswordReset, "once", t0())
                .await
                .unwrap()
        })
    });
    let mut won = 0;
    for t in tries {
        if t.await.unwrap().is_some() {
            won += 1;
        }
    }
    assert_eq!(won, 1);
}

/// Instants with microseconds survive storage exactly, and schedules match on them.
pub async fn sub_second_times_round_trip_exactly(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    let a = client(&s, ann.id, "a@example.com").await;
    let msg = message(&s, ann.id).await;
    let start = t0() + Span::microseconds(123_456);
    let d = MailingDraft::new(
        "precise",
        msg.id,
        vec![a.id],
        start,
        start + Span::days(3),
        Periodicity::Daily,
    )
    .unwrap();
    let m = s
        .create_mailing(ann.id, &d, Some(start), start)
        .await
        .unwrap();
    let back = s.mailing(m.id).await.unwrap().unwrap();
    assert_eq!(
        (back.start_at, back.next_run_at, back.updated_at),
        (start, Some(start), start)
    );
    let due = s.due_mailings(start, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert!(
        s.due_mailings(start - Span::microseconds(1), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let plan = RunPlan {
        mailing_id: m.id,
        expected_next_run_at: due[0].mailing.next_run_at.unwrap(),
        expected_updated_at: due[0].mailing.updated_at,
        run: Some(NewRun {
            slot_at: start,
            skipped_slots: 0,
            nonce: "n".into(),
        }),
        next_run_at: Some(start + Span::days(1)),
        now: start,
    };
    let run = s
        .apply_plan(&plan)
        .await
        .unwrap()
        .expect("the compare-and-set matches");
    assert_eq!(run.slot_at, start);
    let c = s.claim_deliveries(start, LEASE, 10).await.unwrap();
    assert_eq!(c.len(), 1, "due at its exact time");
}

/// `%`, `_` and `\` in a search match themselves only.
pub async fn search_treats_wildcards_literally(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    for (email, name) in [
        ("a@x.com", "100% real"),
        ("b@x.com", "1000 real"),
        ("c@x.com", "snake_case"),
        ("d@x.com", "snakeXcase"),
        ("e@x.com", "back\\slash"),
    ] {
        let d = ClientDraft::parse(email, name, "").unwrap();
        s.create_client(ann.id, &d, &format!("t-{email}"), t0())
            .await
            .unwrap();
    }
    let hits = |p: Page<Client>| p.items.into_iter().map(|c| c.full_name).collect::<Vec<_>>();
    assert_eq!(
        hits(s.list_clients(ann.id, &q(1, 10, Some("0%"))).await.unwrap()),
        vec!["100% real"]
    );
    assert_eq!(
        hits(
            s.list_clients(ann.id, &q(1, 10, Some("e_c")))
                .await
                .unwrap()
        ),
        vec!["snake_case"]
    );
    assert_eq!(
        hits(
            s.list_clients(ann.id, &q(1, 10, Some("k\\s")))
                .await
                .unwrap()
        ),
        vec!["back\\slash"]
    );
}

/// Smaller behaviours adapters could differ on.
pub async fn smaller_queries_and_filters(s: S) {
    // run_totals of an unknown run is all zeros.
    assert_eq!(
        s.run_totals(RunId(987_654)).await.unwrap(),
        RunTotals::default()
    );
    // delete_user_sessions with nothing kept ends them all.
    let (ann, m, run) = run_with(&s, "ann@example.com", 2).await;
    s.create_session(ann.id, "s1", t0() + Span::hours(1))
        .await
        .unwrap();
    s.create_session(ann.id, "s2", t0() + Span::hours(1))
        .await
        .unwrap();
    assert_eq!(s.delete_user_sessions(ann.id, None).await.unwrap(), 2);
    // Activating a user has no side effects on their deliveries.
    s.set_user_state(ann.id, UserState::Active, t0())
        .await
        .unwrap();
    assert_eq!(states(&s, run.id).await[&DeliveryState::Pending], 2);
    // Users are found by name too; runs and deliveries by their own search.
    assert_eq!(
        s.list_users(&q(1, 10, Some("name of ann")))
            .await
            .unwrap()
            .total,
        1
    );
    assert_eq!(
        s.list_runs(RunFilter::default(), &q(1, 10, Some("weekly")))
            .await
            .unwrap()
            .total,
        1
    );
    assert_eq!(
        s.list_runs(RunFilter::default(), &q(1, 10, Some("monthly")))
            .await
            .unwrap()
            .total,
        0
    );
    let first = s.run_deliveries(run.id, &all()).await.unwrap().items[0]
        .email
        .clone();
    assert_eq!(
        s.run_deliveries(run.id, &q(1, 10, Some(first.as_str())))
            .await
            .unwrap()
            .total,
        1
    );
    // daily_outcomes can be limited to one owner.
    let (bob, _, _) = run_with(&s, "bob@example.org", 1).await;
    let c = s.claim_deliveries(t0(), LEASE, 10).await.unwrap();
    s.complete_deliveries(&c.iter().map(sent).collect::<Vec<_>>(), t0())
        .await
        .unwrap();
    let mine = s
        .daily_outcomes(Some(ann.id), t0() - Span::days(1))
        .await
        .unwrap();
    let bobs = s
        .daily_outcomes(Some(bob.id), t0() - Span::days(1))
        .await
        .unwrap();
    assert_eq!((mine[0].sent, bobs[0].sent), (2, 1));
    // Stats: a disabled mailing is not running, nor one past its end once its
    // last run finished.
    let before = s.stats(t0()).await.unwrap();
    s.set_mailing_enabled(m.id, false, Some(DisabledBy::Owner), m.next_run_at, t0())
        .await
        .unwrap();
    let after = s.stats(t0()).await.unwrap();
    assert_eq!(after.running_mailings + 1, before.running_mailings);
    for r in s.runs_to_finish(10).await.unwrap() {
        let t = s.run_totals(r.id).await.unwrap();
        assert!(
            s.finish_run(r.id, &RunReport::new(&t, 0), t0())
                .await
                .unwrap()
        );
    }
    let late = s.stats(t0() + Span::days(365)).await.unwrap();
    assert_eq!(late.running_mailings, 0, "past their end nothing runs");
}

/// Corrupt rows (written behind the store's back: an unknown role, user
/// state or time zone, an unknown periodicity or delivery state, a time out
/// of range) are errors when read, never a guess — no unknown role read as
/// `user`, no bad zone read as UTC, no bad time read as 1970. Not in the
/// macro: a SQL store's own tests run it with `corrupt(table, column, id,
/// value)`, which writes the value with plain SQL (past any CHECK) and
/// returns whether it could (a column whose type refuses the value is as
/// good as a decoding error).
pub async fn corrupt_rows_are_errors_not_guesses(
    s: S,
    corrupt: impl AsyncFn(&str, &str, i64, &str) -> bool,
) {
    let (u, m, run) = run_with(&s, "ann@example.com", 2).await;
    let ds = s.run_deliveries(run.id, &all()).await.unwrap().items;
    let uid = u.id.0;
    let w = user(&s, "wes@example.com", Role::User).await;
    let wc = client(&s, w.id, "x@example.net").await;
    let wm = message(&s, w.id).await;
    let other = mailing(&s, w.id, wm.id, &[wc.id]).await;
    let mut checked = 0;
    if corrupt("deliveries", "state", ds[0].id.0, "lost").await {
        assert!(
            s.run_deliveries(run.id, &all()).await.is_err(),
            "an unknown delivery state"
        );
        checked += 1;
    }
    if corrupt("users", "time_zone", uid, "Mars/Olympus").await {
        assert!(s.user(u.id).await.is_err(), "an unknown time zone");
        // Scheduling goes on for everyone else: the mailing whose owner's
        // zone is corrupt is left out (and logged), not scheduled in UTC.
        let due = s.due_mailings(t0() + Span::days(2), 10).await.unwrap();
        assert!(due.iter().all(|d| d.mailing.id != m.id), "not guessed");
        assert!(
            due.iter().any(|d| d.mailing.id == other.id),
            "another owner's mailing is still due"
        );
        assert!(corrupt("users", "time_zone", uid, "UTC").await);
        checked += 1;
    }
    if corrupt("users", "state", uid, "gone").await {
        assert!(s.user(u.id).await.is_err(), "an unknown user state");
        assert!(corrupt("users", "state", uid, "active").await);
        checked += 1;
    }
    if corrupt("users", "role", uid, "superuser").await {
        assert!(s.user(u.id).await.is_err(), "an unknown role");
        assert!(s.list_users(&all()).await.is_err());
        assert!(corrupt("users", "role", uid, "user").await);
        checked += 1;
    }
    if corrupt("deliveries", "attempts", ds[1].id.0, "-1").await {
        assert!(
            s.run_deliveries(run.id, &all()).await.is_err(),
            "a negative attempt count"
        );
        checked += 1;
    }
    assert!(s.user(u.id).await.unwrap().is_some(), "restored");
    if corrupt("mailings", "periodicity", m.id.0, "hourly").await {
        assert!(s.mailing(m.id).await.is_err(), "an unknown periodicity");
        assert!(s.list_mailings(None, &all()).await.is_err());
        assert!(corrupt("mailings", "periodicity", m.id.0, "daily").await);
        checked += 1;
    }
    if corrupt("mailings", "start_at", m.id.0, "9223372036854775807").await {
        assert!(s.mailing(m.id).await.is_err(), "a time out of range");
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} corruptions could be written");
}

#[cfg(test)]
mod tests {
    /// The macro's list of cases and the cases in this file agree: a case left
    /// off the list would silently never run against any store.
    #[test]
    fn every_case_is_in_the_macro_and_every_listed_case_exists() {
        let source = include_str!("conformance.rs");
        let mut cases: Vec<&str> = source
            .lines()
            .filter_map(|l| l.strip_prefix("pub async fn "))
            .filter(|l| l.contains("(s: S)"))
            .map(|l| l.split('(').next().unwrap())
            .collect();
        let start = source
            .find("__conformance_cases!([$attr] $args $make;")
            .unwrap();
        let end = start + source[start..].find(");").unwrap();
        let mut listed: Vec<&str> = source[start..end]
            .lines()
            .skip(1)
            .map(|l| l.trim().trim_end_matches(','))
            .filter(|l| !l.is_empty())
            .collect();
        cases.sort_unstable();
        listed.sort_unstable();
        assert_eq!(cases, listed);
    }
}

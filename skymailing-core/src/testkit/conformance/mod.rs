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
//! The cases sit in one module per noun (accounts, clients, messages,
//! mailings, queue, log, blog, stats), as in the stores, plus `rows` for what
//! every row must survive.
//!
//! [`store_conformance_tests!`]: crate::store_conformance_tests

mod accounts;
mod blog;
mod clients;
mod log;
mod mailings;
mod messages;
mod queue;
mod rows;
mod stats;
mod suppressions;

pub use accounts::*;
pub use blog::*;
pub use clients::*;
pub use log::*;
pub use mailings::*;
pub use messages::*;
pub use queue::*;
pub use rows::*;
pub use stats::*;
pub use suppressions::*;

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
            a_user_without_a_password_has_no_hash,
            users_are_found_and_updated,
            users_list_paginates_and_searches,
            sessions_expire_and_can_be_revoked,
            tokens_are_single_use_and_expire,
            purge_removes_only_expired_sessions_and_tokens,
            a_new_password_voids_pending_reset_links,
            blocking_an_owner_cancels_pending_and_ends_sessions,
            a_token_is_consumed_once_under_concurrency,
            clients_are_scoped_to_their_owner,
            client_email_is_unique_per_owner,
            clients_list_paginates_and_searches,
            unsubscribe_links_set_and_clear_the_mark,
            an_unsubscribe_outlives_the_client,
            a_changed_email_gets_a_new_link_and_old_links_keep_their_address,
            deleting_a_client_keeps_frozen_deliveries,
            unsubscribing_cancels_the_clients_pending_deliveries,
            another_owners_client_is_not_found_even_on_an_email_clash,
            clients_sort_naturally_and_filter_by_search_and_tag,
            every_page_and_search_follows_the_whole_list,
            deep_pages_follow_every_change,
            imports_create_and_change_clients_at_once,
            list_totals_follow_creates_imports_and_deletes,
            tag_counts_follow_every_change,
            a_run_reaches_the_clients_tagged_at_its_start,
            messages_crud_and_in_use_conflict,
            message_users_are_the_owners_of_its_mailings,
            run_content_survives_message_edits,
            a_run_freezes_the_effective_sender,
            mailing_refuses_foreign_clients_and_unknown_messages,
            mailing_update_replaces_the_client_set,
            mailings_list_by_owner_or_all,
            disabling_cancels_pending_deliveries,
            deleting_a_mailing_cancels_pending_and_keeps_runs,
            mailing_is_sending_while_a_run_is_unfinished,
            parking_disables_with_engine_error_and_cancels_pending,
            due_mailings_are_enabled_due_and_of_active_owners,
            plan_freezes_recipients_and_skips_unsubscribed,
            plan_creates_one_run_per_slot,
            plan_with_a_stale_expectation_is_refused,
            plan_without_a_run_moves_the_next_run,
            claim_leases_and_fences_stale_results,
            claims_share_the_batch_between_owners_and_runs,
            send_budgets_refill_at_their_rate_per_relay,
            renewed_leases_hold_until_their_new_end,
            expired_lease_is_claimed_again_with_a_higher_attempt,
            retry_returns_to_pending_until_its_time,
            released_delivery_is_pending_again_without_counting_the_attempt,
            deferred_delivery_waits_for_its_domain_without_counting_the_attempt,
            concurrent_claimers_claim_each_delivery_exactly_once,
            next_wakeup_is_the_earliest_due_time,
            next_wakeup_ignores_what_cannot_run,
            retry_or_release_of_a_stopped_run_is_cancelled,
            expired_lease_of_a_stopped_run_is_cancelled,
            due_mailings_skip_owners_pending_verification,
            plan_for_an_owner_no_longer_active_is_refused,
            plan_made_before_an_edit_is_refused,
            runs_finish_with_totals_and_report,
            runs_list_filters_and_pages,
            daily_outcomes_count_sent_and_failed,
            blog_posts_publish_count_views_and_pick_at_random,
            stats_count_mailings_running_and_unique_clients,
            sub_second_times_round_trip_exactly,
            search_treats_wildcards_literally,
            smaller_queries_and_filters,
            bounces_mark_suppress_and_move_finished_counts,
            manual_entries_and_soft_bounces_suppress,
            paused_runs_hold_until_resumed_or_cancelled,
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
        password_hash: Some("$argon2id$fake".into()),
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
        password_hash: Some("x".into()),
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
            tags: m.tags.clone(),
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

#[cfg(test)]
mod tests {
    /// The macro's list of cases and the cases in this file agree: a case left
    /// off the list would silently never run against any store.
    #[test]
    fn every_case_is_in_the_macro_and_every_listed_case_exists() {
        let source = [
            include_str!("mod.rs"),
            include_str!("accounts.rs"),
            include_str!("clients.rs"),
            include_str!("messages.rs"),
            include_str!("mailings.rs"),
            include_str!("queue.rs"),
            include_str!("log.rs"),
            include_str!("blog.rs"),
            include_str!("stats.rs"),
            include_str!("rows.rs"),
            include_str!("suppressions.rs"),
        ]
        .concat();
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

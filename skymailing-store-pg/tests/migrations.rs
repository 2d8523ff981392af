//! Migrations that change stored data: a database written by an older version
//! reads back correctly after upgrading.

use skymailing_core::ports::{ClientStore, DeliveryQueue, MailingStore, RunStore};
use skymailing_core::{ClientId, DisabledBy, FailureCount, MailingId, RunId, RunReport, UserId};
use skymailing_store_pg::{MIGRATOR, PgStore};
use sqlx::PgPool;

/// Reports stored as English sentences (before migration 3) are rebuilt as
/// data from the run's counts and its failed deliveries.
#[sqlx::test(migrations = false)]
async fn english_reports_become_report_data(pool: PgPool) {
    MIGRATOR.run_to(2, &pool).await.unwrap();
    sqlx::raw_sql(
        "INSERT INTO users (email, name, time_zone, role, state, password_hash, created_at) \
           VALUES ('ann@example.com', 'Ann', 'UTC', 'user', 'active', 'x', now()); \
         INSERT INTO runs (owner_id, mailing_name, slot_at, skipped_slots, started_at, finished_at, \
                           recipients, sent, failed, cancelled, report, subject, body_text, nonce) \
           VALUES (1, 'News', now(), 2, now(), now(), 4, 1, 3, 0, \
                   'Sent 1 of 4; 3 failed: 550 no such user ×2, 554 rejected ×1 (2 missed slots skipped)', \
                   's', 'b', 'n'), \
                  (1, 'Unfinished', now(), 0, now(), NULL, 1, 0, 0, 0, NULL, 's', 'b', 'n'); \
         INSERT INTO deliveries (run_id, email, name, unsubscribe_token, state, last_reply, next_attempt_at, updated_at) VALUES \
           (1, 'a@x.org', 'A', 't1', 'sent', '250 ok', now(), now()), \
           (1, 'b@x.org', 'B', 't2', 'failed', '550 no such user', now(), now()), \
           (1, 'c@x.org', 'C', 't3', 'failed', '550 no such user', now(), now()), \
           (1, 'd@x.org', 'D', 't4', 'failed', '554 rejected', now(), now());",
    )
    .execute(&pool)
    .await
    .unwrap();

    let store = PgStore::from_pool(pool)
        .await
        .expect("the rest of the migrations apply");
    let run = store.run(RunId(1)).await.unwrap().unwrap();
    let report = run.report.expect("a finished run keeps its report");
    assert_eq!(
        report,
        RunReport {
            total: 4,
            sent: 1,
            failed: 3,
            cancelled: 0,
            suppressed: 0,
            bounced: 0,
            complained: 0,
            skipped_slots: 2,
            failures: vec![
                FailureCount {
                    reply: "550 no such user".into(),
                    count: 2
                },
                FailureCount {
                    reply: "554 rejected".into(),
                    count: 1
                },
            ],
            more_failures: false,
        }
    );
    assert_eq!(
        report.to_string(),
        "Sent 1 of 4; 3 failed: 550 no such user ×2, 554 rejected ×1 (2 missed slots skipped)"
    );
    let unfinished = store.run(RunId(2)).await.unwrap().unwrap();
    assert_eq!(unfinished.report, None);
}

/// Migration 4 lets the engine park a mailing; mailings written before it
/// (with their clients and runs) are kept as they were.
#[sqlx::test(migrations = false)]
async fn mailings_survive_the_engine_error_migration(pool: PgPool) {
    MIGRATOR.run_to(3, &pool).await.unwrap();
    sqlx::raw_sql(
        "INSERT INTO users (email, name, time_zone, role, state, password_hash, created_at) \
           VALUES ('ann@example.com', 'Ann', 'UTC', 'user', 'active', 'x', now()); \
         INSERT INTO clients (owner_id, email, full_name, unsubscribe_token, created_at) \
           VALUES (1, 'bob@example.com', 'Bob', 'tok', now()); \
         INSERT INTO messages (owner_id, subject, body_text, created_at, updated_at) \
           VALUES (1, 's', 'b', now(), now()); \
         INSERT INTO mailings (owner_id, name, message_id, start_at, end_at, periodicity, enabled, \
                               disabled_by, next_run_at, created_at, updated_at) \
           VALUES (1, 'News', 1, now(), now() + interval '1 day', 'daily', true, NULL, now(), now(), now()); \
         INSERT INTO mailing_clients (mailing_id, client_id) VALUES (1, 1); \
         INSERT INTO runs (mailing_id, owner_id, mailing_name, slot_at, started_at, subject, body_text, nonce) \
           VALUES (1, 1, 'News', now(), now(), 's', 'b', 'n');",
    )
    .execute(&pool)
    .await
    .unwrap();
    let store = PgStore::from_pool(pool)
        .await
        .expect("the rest of the migrations apply");
    survived(&store).await;
}

async fn survived(store: &PgStore) {
    let m = store
        .mailing(MailingId(1))
        .await
        .unwrap()
        .expect("the mailing is kept");
    assert_eq!(
        (m.name.as_str(), m.client_ids.clone(), m.enabled),
        ("News", vec![ClientId(1)], true)
    );
    let run = store.run(RunId(1)).await.unwrap().unwrap();
    assert_eq!(run.mailing_id, Some(MailingId(1)));
    assert!(
        store
            .park_mailing(MailingId(1), chrono::Utc::now())
            .await
            .unwrap()
    );
    let m = store.mailing(MailingId(1)).await.unwrap().unwrap();
    assert_eq!(m.disabled_by, Some(DisabledBy::EngineError));
}

/// Migration 5 turns unsubscribed clients into suppressions of their address
/// and keeps every link handed out, in mail already sent too, working for the
/// address it was sent to.
#[sqlx::test(migrations = false)]
async fn unsubscribes_become_suppressions_and_old_links_keep_working(pool: PgPool) {
    MIGRATOR.run_to(4, &pool).await.unwrap();
    sqlx::raw_sql(
        "INSERT INTO users (email, name, time_zone, role, state, password_hash, created_at) \
           VALUES ('ann@example.com', 'Ann', 'UTC', 'user', 'active', 'x', now()); \
         INSERT INTO clients (owner_id, email, full_name, unsubscribe_token, created_at, unsubscribed_at) \
           VALUES (1, 'gone@example.com', 'G', 'tok-gone', now(), now()), \
                  (1, 'new@example.com', 'N', 'tok-now', now(), NULL), \
                  (1, 'after@example.com', 'A', 'tok-moved', now(), NULL); \
         INSERT INTO runs (mailing_id, owner_id, mailing_name, slot_at, started_at, subject, body_text, nonce) \
           VALUES (NULL, 1, 'News', now(), now(), 's', 'b', 'n'); \
         INSERT INTO deliveries (run_id, client_id, email, name, unsubscribe_token, state, next_attempt_at, updated_at) \
           VALUES (1, 2, 'old@example.com', 'N', 'tok-before-the-change', 'sent', now(), now()), \
                  (1, 3, 'before@example.com', 'A', 'tok-moved', 'sent', now(), now());",
    )
    .execute(&pool)
    .await
    .unwrap();
    let store = PgStore::from_pool(pool)
        .await
        .expect("the rest of the migrations apply");
    let gone = store.unsubscribe_link("tok-gone").await.unwrap().unwrap();
    assert!(gone.unsubscribed_at.is_some());
    let sent = store
        .unsubscribe_link("tok-before-the-change")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        sent.email.as_str(),
        "old@example.com",
        "the address the mail went to"
    );
    assert!(store.unsubscribe_link("tok-now").await.unwrap().is_some());
    // A token that went out to an address the client no longer has stays
    // with that address; the client gets a link of its own.
    let moved = store.unsubscribe_link("tok-moved").await.unwrap().unwrap();
    assert_eq!(moved.email.as_str(), "before@example.com");
    let now_at = store.client(UserId(1), ClientId(3)).await.unwrap().unwrap();
    assert_ne!(now_at.unsubscribe_token, "tok-moved");
    let own = store
        .unsubscribe_link(&now_at.unsubscribe_token)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(own.email.as_str(), "after@example.com");
}

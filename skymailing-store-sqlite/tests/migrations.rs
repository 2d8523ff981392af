//! Migrations that change stored data: a database written by an older version
//! reads back correctly after upgrading.

use skymailing_core::ports::{ClientStore, DeliveryQueue, MailingStore, RunStore};
use skymailing_core::{ClientId, DisabledBy, FailureCount, MailingId, RunId, RunReport, UserId};
use skymailing_store_sqlite::{MIGRATOR, SqliteStore};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};

/// A database file migrated up to `version`, as an older release left it.
async fn database_at(version: i64) -> (tempfile::TempDir, std::path::PathBuf, SqlitePool) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(
            SqliteConnectOptions::new()
                .filename(&path)
                .create_if_missing(true),
        )
        .await
        .unwrap();
    MIGRATOR.run_to(version, &pool).await.unwrap();
    (dir, path, pool)
}

/// Reports stored as English sentences (before migration 3) are rebuilt as
/// data from the run's counts and its failed deliveries.
#[tokio::test]
async fn english_reports_become_report_data() {
    let (_dir, path, pool) = database_at(2).await;
    sqlx::raw_sql(
        "INSERT INTO users (email, name, time_zone, role, state, password_hash, created_at) \
           VALUES ('ann@example.com', 'Ann', 'UTC', 'user', 'active', 'x', 0); \
         INSERT INTO runs (owner_id, mailing_name, slot_at, skipped_slots, started_at, finished_at, \
                           recipients, sent, failed, cancelled, report, subject, body_text, nonce) \
           VALUES (1, 'News', 0, 2, 0, 0, 4, 1, 3, 0, \
                   'Sent 1 of 4; 3 failed: 550 no such user ×2, 554 rejected ×1 (2 missed slots skipped)', \
                   's', 'b', 'n'), \
                  (1, 'Unfinished', 0, 0, 0, NULL, 1, 0, 0, 0, NULL, 's', 'b', 'n'); \
         INSERT INTO deliveries (run_id, email, name, unsubscribe_token, state, last_reply, next_attempt_at, updated_at) VALUES \
           (1, 'a@x.org', 'A', 't1', 'sent', '250 ok', 0, 0), \
           (1, 'b@x.org', 'B', 't2', 'failed', '550 no such user', 0, 0), \
           (1, 'c@x.org', 'C', 't3', 'failed', '550 no such user', 0, 0), \
           (1, 'd@x.org', 'D', 't4', 'failed', '554 rejected', 0, 0);",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;

    let store = SqliteStore::open(&path)
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

/// Migration 4 rebuilds the mailings table so the engine can park a mailing;
/// mailings written before it (with their clients and runs) are kept as they
/// were, and the tables that reference it still do.
#[tokio::test]
async fn mailings_survive_the_engine_error_migration() {
    let (_dir, path, pool) = database_at(3).await;
    sqlx::raw_sql(
        "INSERT INTO users (email, name, time_zone, role, state, password_hash, created_at) \
           VALUES ('ann@example.com', 'Ann', 'UTC', 'user', 'active', 'x', 0); \
         INSERT INTO clients (owner_id, email, full_name, unsubscribe_token, created_at) \
           VALUES (1, 'bob@example.com', 'Bob', 'tok', 0); \
         INSERT INTO messages (owner_id, subject, body_text, created_at, updated_at) \
           VALUES (1, 's', 'b', 0, 0); \
         INSERT INTO mailings (owner_id, name, message_id, start_at, end_at, periodicity, enabled, \
                               disabled_by, next_run_at, created_at, updated_at) \
           VALUES (1, 'News', 1, 0, 86400000000, 'daily', 1, NULL, 0, 0, 0); \
         INSERT INTO mailing_clients (mailing_id, client_id) VALUES (1, 1); \
         INSERT INTO runs (mailing_id, owner_id, mailing_name, slot_at, started_at, subject, body_text, nonce) \
           VALUES (1, 1, 'News', 0, 0, 's', 'b', 'n');",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let store = SqliteStore::open(&path)
        .await
        .expect("the rest of the migrations apply");
    let m = store
        .mailing(MailingId(1))
        .await
        .unwrap()
        .expect("the mailing is kept");
    assert_eq!(
        (m.name.as_str(), m.client_ids.clone(), m.enabled),
        ("News", vec![ClientId(1)], true)
    );
    assert_eq!(
        store.run(RunId(1)).await.unwrap().unwrap().mailing_id,
        Some(MailingId(1))
    );
    assert!(
        store
            .park_mailing(MailingId(1), chrono::Utc::now())
            .await
            .unwrap()
    );
    let m = store.mailing(MailingId(1)).await.unwrap().unwrap();
    assert_eq!(m.disabled_by, Some(DisabledBy::EngineError));
    // The foreign keys still hold: deleting the mailing keeps its run, unlinked.
    assert!(
        store
            .delete_mailing(MailingId(1), chrono::Utc::now())
            .await
            .unwrap()
    );
    assert_eq!(store.run(RunId(1)).await.unwrap().unwrap().mailing_id, None);
    let (violations,): (i64,) = sqlx::query_as("SELECT count(*) FROM pragma_foreign_key_check")
        .fetch_one(store.reader())
        .await
        .unwrap();
    assert_eq!(violations, 0);
}

/// Migration 5 turns unsubscribed clients into suppressions of their address
/// and keeps every link handed out, in mail already sent too, working for the
/// address it was sent to; the rebuilt deliveries table keeps its rows.
#[tokio::test]
async fn unsubscribes_become_suppressions_and_old_links_keep_working() {
    let (_dir, path, pool) = database_at(4).await;
    sqlx::raw_sql(
        "INSERT INTO users (email, name, time_zone, role, state, password_hash, created_at) \
           VALUES ('ann@example.com', 'Ann', 'UTC', 'user', 'active', 'x', 0); \
         INSERT INTO clients (owner_id, email, full_name, unsubscribe_token, created_at, unsubscribed_at) \
           VALUES (1, 'gone@example.com', 'G', 'tok-gone', 0, 5), \
                  (1, 'new@example.com', 'N', 'tok-now', 0, NULL), \
                  (1, 'after@example.com', 'A', 'tok-moved', 0, NULL); \
         INSERT INTO runs (mailing_id, owner_id, mailing_name, slot_at, started_at, subject, body_text, nonce) \
           VALUES (NULL, 1, 'News', 0, 0, 's', 'b', 'n'); \
         INSERT INTO deliveries (run_id, client_id, email, name, unsubscribe_token, state, next_attempt_at, updated_at) \
           VALUES (1, 2, 'old@example.com', 'N', 'tok-before-the-change', 'sent', 0, 0), \
                  (1, 3, 'before@example.com', 'A', 'tok-moved', 'sent', 0, 0);",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let store = SqliteStore::open(&path)
        .await
        .expect("the rest of the migrations apply");
    let gone = store.unsubscribe_link("tok-gone").await.unwrap().unwrap();
    assert_eq!(
        gone.unsubscribed_at,
        chrono::DateTime::from_timestamp_micros(5)
    );
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
    let t = store.run_totals(RunId(1)).await.unwrap();
    assert_eq!((t.total, t.sent), (2, 2), "the deliveries are kept");
}

/// Migration 10 rebuilds the users table (SQLite cannot drop a NOT NULL):
/// every user, every row that refers to one, and the email's uniqueness and
/// lower-case check come through; ids keep counting up.
#[tokio::test]
async fn rebuilding_users_keeps_them_and_what_refers_to_them() {
    use skymailing_core::ports::UserStore;
    let (_dir, path, pool) = database_at(9).await;
    sqlx::raw_sql(
        "INSERT INTO users (email, name, time_zone, role, state, password_hash, created_at, language) \
           VALUES ('ann@example.com', 'Ann', 'Europe/Berlin', 'manager', 'active', '$argon2id$x', 5, 'ru'), \
                  ('bob@example.com', 'Bob', 'UTC', 'user', 'blocked', '$argon2id$y', 6, NULL), \
                  ('gone@example.com', 'Gone', 'UTC', 'user', 'active', '$argon2id$z', 7, NULL); \
         DELETE FROM users WHERE id = 3; \
         INSERT INTO clients (owner_id, email, full_name, comment, unsubscribe_token, created_at) \
           VALUES (2, 'c@example.org', 'C', '', 'tok', 7);",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;

    let store = SqliteStore::open(&path).await.unwrap();
    let (ann, hash) = store
        .user_by_email(&skymailing_core::EmailAddress::parse("ann@example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (ann.id, ann.role, ann.time_zone.name(), hash.as_deref()),
        (
            UserId(1),
            skymailing_core::Role::Manager,
            "Europe/Berlin",
            Some("$argon2id$x")
        )
    );
    assert_eq!(
        ann.language.map(|l| l.as_str().to_owned()).as_deref(),
        Some("ru")
    );
    let c = store.client(UserId(2), ClientId(1)).await.unwrap();
    assert!(c.is_some(), "bob's client still belongs to him");
    let w = store.writer();
    let broken: Vec<(String, i64, String, i64)> = sqlx::query_as("PRAGMA foreign_key_check")
        .fetch_all(w)
        .await
        .unwrap();
    assert!(broken.is_empty(), "{broken:?}");
    let (fk,): (i64,) = sqlx::query_as("PRAGMA foreign_keys")
        .fetch_one(w)
        .await
        .unwrap();
    assert_eq!(fk, 1, "foreign keys are on again");
    // Deleting a user still cascades to its clients.
    sqlx::query("DELETE FROM users WHERE id = 2")
        .execute(w)
        .await
        .unwrap();
    assert!(
        store
            .client(UserId(2), ClientId(1))
            .await
            .unwrap()
            .is_none()
    );
    // The checks and the unique index came through.
    assert!(sqlx::query("INSERT INTO users (email, name, time_zone, role, state, created_at) VALUES ('ANN@x', 'A', 'UTC', 'user', 'active', 0)").execute(w).await.is_err());
    assert!(sqlx::query("INSERT INTO users (email, name, time_zone, role, state, created_at) VALUES ('ann@example.com', 'A', 'UTC', 'user', 'active', 0)").execute(w).await.is_err());
    let (id,): (i64,) = sqlx::query_as("INSERT INTO users (email, name, time_zone, role, state, created_at) VALUES ('new@example.com', 'N', 'UTC', 'user', 'active', 0) RETURNING id")
        .fetch_one(w)
        .await
        .unwrap();
    assert_eq!(id, 4, "ids are not reused, not even a deleted user's");
}

/// Migration 17 indexes the clients already stored for search: a search of
/// three characters or more (through the trigram index) finds them by name,
/// comment, address and tag, and a tag's pages list them.
#[tokio::test]
async fn clients_stored_before_the_search_index_are_found() {
    use skymailing_core::ListQuery;
    let (_dir, path, pool) = database_at(15).await;
    sqlx::raw_sql(
        "INSERT INTO users (email, name, time_zone, role, state, password_hash, created_at) \
           VALUES ('ann@example.com', 'Ann', 'UTC', 'user', 'active', 'x', 0); \
         INSERT INTO clients (owner_id, email, full_name, comment, unsubscribe_token, created_at, tags, sort_key) \
           VALUES (1, 'dora@example.com', 'Dora Quux', 'Met in Berlin', 'tok-1', 0, '|vip|', 'dora quux'), \
                  (1, 'carl@example.com', 'Carl', '', 'tok-2', 0, '', 'carl');",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let store = SqliteStore::open(&path)
        .await
        .expect("the rest of the migrations apply");
    for search in ["QUUX", "in berlin", "dora@ex", "vip", "carl"] {
        let page = store
            .list_clients(UserId(1), &ListQuery::new(1, 50, Some(search)).unwrap())
            .await
            .unwrap();
        assert_eq!(page.total, 1, "{search}");
    }
    let vip = ListQuery::new(1, 50, None)
        .unwrap()
        .with_tag(Some("vip"))
        .unwrap();
    let page = store.list_clients(UserId(1), &vip).await.unwrap();
    assert_eq!(
        page.items
            .iter()
            .map(|c| c.full_name.as_str())
            .collect::<Vec<_>>(),
        ["Dora Quux"]
    );
}

//! Migrations that change stored data: a database written by an older version
//! reads back correctly after upgrading.

use skymailing_core::ports::RunStore;
use skymailing_core::{FailureCount, RunId, RunReport};
use skymailing_store_sqlite::{MIGRATOR, SqliteStore};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

/// Reports stored as English sentences (before migration 3) are rebuilt as
/// data from the run's counts and its failed deliveries.
#[tokio::test]
async fn english_reports_become_report_data() {
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
    MIGRATOR.run_to(2, &pool).await.unwrap();
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

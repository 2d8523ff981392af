//! The core's store conformance suite against SQLite: a fresh database file per test.

use skymailing_store_sqlite::SqliteStore;

skymailing_core::store_conformance_tests!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn () {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = SqliteStore::open(dir.path().join("test.db")).await.expect("the database opens");
        // The directory lives as long as the test process; the store keeps its files open.
        std::mem::forget(dir);
        store
    }
);

/// Rows corrupted behind the store's back (past its CHECK constraints)
/// read as errors, not guesses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_rows_are_errors_not_guesses() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = SqliteStore::open(dir.path().join("test.db"))
        .await
        .expect("the database opens");
    let pool = store.writer().clone();
    skymailing_core::testkit::conformance::corrupt_rows_are_errors_not_guesses(
        std::sync::Arc::new(store),
        async |table: &str, column: &str, id: i64, value: &str| {
            // Past the CHECK constraints, as a careless hand-edit would go.
            let mut c = pool.acquire().await.expect("the writer connection");
            sqlx::query("PRAGMA ignore_check_constraints = ON")
                .execute(&mut *c)
                .await
                .expect("checks off");
            let written = sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE {table} SET {column} = ?1 WHERE id = ?2"
            )))
            .bind(value)
            .bind(id)
            .execute(&mut *c)
            .await
            .inspect_err(|e| eprintln!("{table}.{column} = {value}: refused: {e}"))
            .is_ok();
            sqlx::query("PRAGMA ignore_check_constraints = OFF")
                .execute(&mut *c)
                .await
                .expect("checks on");
            written
        },
    )
    .await;
}

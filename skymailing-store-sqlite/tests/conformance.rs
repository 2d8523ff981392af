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

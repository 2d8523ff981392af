//! The store conformance suite against the test kit's in-memory store.

use skymailing_core::testkit::MemoryStore;

skymailing_core::store_conformance_tests!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn () { MemoryStore::new() }
);

//! The core's store conformance suite against PostgreSQL: a fresh database per
//! test (`#[sqlx::test]`, which needs `DATABASE_URL` to name a superuser).

use skymailing_store_pg::PgStore;
use sqlx::PgPool;

skymailing_core::store_conformance_tests!(
    #[sqlx::test(migrations = false)]
    async fn (pool: PgPool) { PgStore::from_pool(pool).await.expect("migrations apply") }
);

//! The core's store conformance suite against PostgreSQL: a fresh database per
//! test (`#[sqlx::test]`, which needs `DATABASE_URL` to name a superuser).

use skymailing_store_pg::PgStore;
use sqlx::PgPool;

skymailing_core::store_conformance_tests!(
    #[sqlx::test(migrations = false)]
    async fn (pool: PgPool) { PgStore::from_pool(pool).await.expect("migrations apply") }
);

/// Rows corrupted behind the store's back (its CHECK constraints dropped
/// first, as a careless migration might) read as errors, not guesses.
#[sqlx::test(migrations = false)]
async fn corrupt_rows_are_errors_not_guesses(pool: PgPool) {
    let store = PgStore::from_pool(pool.clone())
        .await
        .expect("migrations apply");
    skymailing_core::testkit::conformance::corrupt_rows_are_errors_not_guesses(
        std::sync::Arc::new(store),
        async |table: &str, column: &str, id: i64, value: &str| {
            let drop_checks = format!(
                "DO $$ DECLARE r record; BEGIN \
                   FOR r IN SELECT conname FROM pg_constraint WHERE conrelid = '{table}'::regclass AND contype = 'c' LOOP \
                     EXECUTE format('ALTER TABLE {table} DROP CONSTRAINT %I', r.conname); \
                   END LOOP; END $$"
            );
            sqlx::query(sqlx::AssertSqlSafe(drop_checks))
                .execute(&pool)
                .await
                .expect("CHECK constraints dropped");
            // The text cast to the column's own type, so that a number that
            // is out of range for the domain (a negative count) gets in.
            let (ty,): (String,) = sqlx::query_as(
                "SELECT format_type(atttypid, atttypmod) FROM pg_attribute \
                 WHERE attrelid = $1::regclass AND attname = $2",
            )
            .bind(table)
            .bind(column)
            .fetch_one(&pool)
            .await
            .expect("the column's type");
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE {table} SET {column} = $1::text::{ty} WHERE id = $2"
            )))
            .bind(value)
            .bind(id)
            .execute(&pool)
            .await
            .inspect_err(|e| eprintln!("{table}.{column} = {value}: refused: {e}"))
            .is_ok()
        },
    )
    .await;
}

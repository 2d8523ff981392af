//! Import benchmark: a CSV file of clients (100,000 rows by default, or the
//! first argument) imported into an empty account through the use case
//! (`SkyMailing::clients.import`: read, check against the list, write in one
//! transaction), then the same file again (every row an unchanged update),
//! on SQLite and PostgreSQL. Run it with `scripts/bench-import.sh`; its last
//! line is `import: rows=N sqlite_ms=N sqlite_again_ms=N pg_ms=N pg_again_ms=N`.

use std::sync::Arc;
use std::time::Instant;

use skymailing_core::policy::Actor;
use skymailing_core::ports::Store;
use skymailing_core::*;
use skymailing_store_pg::PgStore;
use skymailing_store_sqlite::SqliteStore;
use sqlx::Connection;

fn csv(rows: usize) -> String {
    let mut s = String::with_capacity(rows * 64 + 64);
    s.push_str("email,full_name,comment,tags\n");
    for i in 0..rows {
        let tag = ["vip", "berlin", "new", "old"][i % 4];
        s.push_str(&format!(
            "client{i}@example.com,Client {i},imported,{tag}\n"
        ));
    }
    s
}

/// Imports the file twice; returns the two times in milliseconds.
async fn measure(store: Arc<dyn Store>, file: &str, rows: usize) -> (u128, u128) {
    let now = chrono::Utc::now();
    let user = skymailing_core::testkit::active_user(
        store.as_ref(),
        "bench@example.com",
        Role::User,
        TimeZone::UTC,
        now,
    )
    .await;
    let app = SkyMailing::builder(store).build().unwrap();
    let actor = Actor::user(user.id, Role::User);
    let t = Instant::now();
    let first = app
        .clients
        .import(actor, file.as_bytes(), false)
        .await
        .unwrap();
    let first_ms = t.elapsed().as_millis();
    assert_eq!(first.created as usize, rows, "{first:?}");
    let t = Instant::now();
    let again = app
        .clients
        .import(actor, file.as_bytes(), false)
        .await
        .unwrap();
    let again_ms = t.elapsed().as_millis();
    assert_eq!((again.created, again.skipped as usize), (0, rows));
    (first_ms, again_ms)
}

#[tokio::main]
async fn main() {
    let rows: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let file = csv(rows);
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(dir.path().join("bench.db"))
        .await
        .unwrap();
    let (s1, s2) = measure(Arc::new(sqlite), &file, rows).await;
    println!(
        "sqlite: {rows} rows ({} KB) imported in {s1} ms ({:.0} rows/s), again unchanged in {s2} ms",
        file.len() / 1024,
        rows as f64 / (s1.max(1) as f64 / 1000.0)
    );

    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
    for q in [
        "DROP DATABASE IF EXISTS skymailing_bench_import WITH (FORCE)",
        "CREATE DATABASE skymailing_bench_import",
    ] {
        sqlx::query(q).execute(&mut admin).await.unwrap();
    }
    let base = url.rsplit_once('/').map_or(url.as_str(), |(b, _)| b);
    let pg = PgStore::connect(&format!("{base}/skymailing_bench_import"))
        .await
        .unwrap();
    let (p1, p2) = measure(Arc::new(pg.clone()), &file, rows).await;
    pg.pool().close().await;
    sqlx::query("DROP DATABASE IF EXISTS skymailing_bench_import WITH (FORCE)")
        .execute(&mut admin)
        .await
        .unwrap();
    println!(
        "pg: {rows} rows imported in {p1} ms ({:.0} rows/s), again unchanged in {p2} ms",
        rows as f64 / (p1.max(1) as f64 / 1000.0)
    );
    println!("import: rows={rows} sqlite_ms={s1} sqlite_again_ms={s2} pg_ms={p1} pg_again_ms={p2}");
}

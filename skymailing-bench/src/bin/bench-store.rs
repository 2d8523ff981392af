//! Store benchmark: for each store, the rate at which 100,000 deliveries are
//! claimed and completed in batches of 500 (the engine's hot path without
//! SMTP), and the time to materialise a 100,000-recipient run (one scheduler
//! step). Run it with `scripts/bench-store.sh`; its last line is
//! `store: pg=N/s sqlite=N/s pg_materialise_100k_ms=N`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use skymailing_core::adapter::*;
use skymailing_core::ports::{NewRun, RunPlan, Store};
use skymailing_core::*;
use skymailing_store_pg::PgStore;
use skymailing_store_sqlite::SqliteStore;
use sqlx::Connection;

/// Recipients of the run (`RECIPIENTS`, default 100,000; the test suite's
/// short run uses a few thousand).
static RECIPIENTS: std::sync::LazyLock<i64> = std::sync::LazyLock::new(|| {
    std::env::var("RECIPIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
});
const BATCH: u32 = 500;

fn t0() -> DateTime<Utc> {
    "2026-05-01T09:00:00Z".parse().unwrap()
}

struct Figures {
    materialise: Duration,
    claimed_per_sec: f64,
    claimers: usize,
}

/// Creates the owner, message and a mailing to `RECIPIENTS` clients that
/// `insert_clients` put in place; returns the mailing.
async fn mailing(store: &dyn Store, owner: UserId, client_ids: Vec<ClientId>) -> Mailing {
    let msg = store
        .create_message(
            owner,
            &MessageDraft::parse("Hello {{ name }}", "Hello", None).unwrap(),
            t0(),
        )
        .await
        .unwrap();
    let d = MailingDraft::new(
        "Bench",
        msg.id,
        client_ids,
        t0(),
        t0() + chrono::Duration::days(1),
        Periodicity::Once,
    )
    .unwrap();
    store
        .create_mailing(owner, &d, Some(t0()), t0())
        .await
        .unwrap()
}

async fn owner(store: &dyn Store) -> UserId {
    skymailing_core::testkit::active_user(
        store,
        "bench@example.com",
        Role::User,
        TimeZone::UTC,
        t0(),
    )
    .await
    .id
}

/// With `MATERIALISE_ONLY=1` (what `scripts/bench-scale.sh` runs), only the
/// run is materialised on PostgreSQL: no claiming, no SQLite. `KEEP_DB=1`
/// then leaves the database `skymailing_bench` in place, to study by hand.
static MATERIALISE_ONLY: std::sync::LazyLock<bool> =
    std::sync::LazyLock::new(|| std::env::var("MATERIALISE_ONLY").is_ok_and(|v| v == "1"));

async fn run(store: Arc<dyn Store>, m: &Mailing, claimers: usize) -> Figures {
    let started = Instant::now();
    let run = store
        .apply_plan(&RunPlan {
            mailing_id: m.id,
            expected_next_run_at: t0(),
            expected_updated_at: m.updated_at,
            run: Some(NewRun {
                slot_at: t0(),
                skipped_slots: 0,
                nonce: "bench".into(),
                tags: Vec::new(),
            }),
            next_run_at: None,
            now: t0(),
        })
        .await
        .unwrap()
        .unwrap();
    let materialise = started.elapsed();
    assert_eq!(run.recipients, *RECIPIENTS as u64);
    if *MATERIALISE_ONLY {
        return Figures {
            materialise,
            claimed_per_sec: 0.0,
            claimers,
        };
    }

    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..claimers {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            loop {
                let batch = s
                    .claim_deliveries(t0(), Duration::from_secs(300), BATCH)
                    .await
                    .unwrap();
                if batch.is_empty() {
                    return n;
                }
                let results: Vec<_> = batch
                    .iter()
                    .map(|c| DeliveryResult {
                        id: c.id,
                        attempt: c.attempt,
                        outcome: DeliveryOutcome::Sent {
                            reply: "250 2.0.0 Ok: queued as 4B2C81A0F3".into(),
                        },
                    })
                    .collect();
                n += s.complete_deliveries(&results, t0()).await.unwrap().len() as u64;
            }
        }));
    }
    let mut done = 0;
    for t in tasks {
        done += t.await.unwrap();
    }
    let elapsed = started.elapsed();
    assert_eq!(done, *RECIPIENTS as u64, "every delivery completed once");
    Figures {
        materialise,
        claimed_per_sec: done as f64 / elapsed.as_secs_f64(),
        claimers,
    }
}

async fn pg(admin_url: &str, claimers: usize) -> Figures {
    // A fresh database of its own.
    let mut admin = sqlx::PgConnection::connect(admin_url)
        .await
        .expect("PostgreSQL (DATABASE_URL) is reachable");
    sqlx::query("DROP DATABASE IF EXISTS skymailing_bench WITH (FORCE)")
        .execute(&mut admin)
        .await
        .unwrap();
    sqlx::query("CREATE DATABASE skymailing_bench")
        .execute(&mut admin)
        .await
        .unwrap();
    let base = admin_url.rsplit_once('/').map_or(admin_url, |(b, _)| b);
    let store = PgStore::connect(&format!("{base}/skymailing_bench"))
        .await
        .unwrap();
    let message = MessageDraft::parse("Hello {{ name }}", "Hello", None).unwrap();
    let m = skymailing_bench::pg_mailing(&store, *RECIPIENTS, &message, t0()).await;
    sqlx::query("ANALYZE").execute(store.pool()).await.unwrap();
    let f = run(Arc::new(store.clone()), &m, claimers).await;
    store.pool().close().await;
    if std::env::var("KEEP_DB").is_ok_and(|v| v == "1") {
        // To look at its plans by hand (psql …/skymailing_bench).
        return f;
    }
    sqlx::query("DROP DATABASE IF EXISTS skymailing_bench WITH (FORCE)")
        .execute(&mut admin)
        .await
        .unwrap();
    f
}

async fn sqlite() -> Figures {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("bench.db"))
        .await
        .unwrap();
    let owner = owner(&store).await;
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?3) \
         INSERT INTO clients (owner_id, email, full_name, unsubscribe_token, created_at) \
         SELECT ?1, 'c' || i || '@example.com', 'Client ' || i, 'tok' || i, ?2 FROM n",
    )
    .bind(owner.0)
    .bind(t0().timestamp_micros())
    .bind(*RECIPIENTS)
    .execute(store.writer())
    .await
    .unwrap();
    let ids: Vec<(i64,)> = sqlx::query_as("SELECT id FROM clients")
        .fetch_all(store.reader())
        .await
        .unwrap();
    let m = mailing(
        &store,
        owner,
        ids.into_iter().map(|(i,)| ClientId(i)).collect(),
    )
    .await;
    run(Arc::new(store), &m, 1).await
}

#[tokio::main]
async fn main() {
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let line = |name: &str, f: &Figures| {
        println!(
            "{name}: materialise {} recipients {:.0} ms; claim+complete {:.0} deliveries/s ({} claimer{}, batches of {BATCH})",
            *RECIPIENTS,
            f.materialise.as_secs_f64() * 1000.0,
            f.claimed_per_sec,
            f.claimers,
            if f.claimers == 1 { "" } else { "s" }
        )
    };
    if *MATERIALISE_ONLY {
        let f = pg(&url, 1).await;
        println!(
            "materialise: recipients={} pg_materialise_ms={:.0}",
            *RECIPIENTS,
            f.materialise.as_secs_f64() * 1000.0
        );
        return;
    }
    let sqlite = sqlite().await;
    line("sqlite", &sqlite);
    let pg1 = pg(&url, 1).await;
    line("pg", &pg1);
    let pg4 = pg(&url, 4).await;
    line("pg", &pg4);
    println!(
        "store: pg={:.0}/s sqlite={:.0}/s pg_materialise_100k_ms={:.0}",
        pg1.claimed_per_sec,
        sqlite.claimed_per_sec,
        pg1.materialise.as_secs_f64() * 1000.0
    );
}

//! Fairness and shared-limit benchmark, with the shipped `skymailing worker`
//! (release build, next to this program in the target folder) on PostgreSQL,
//! sending into a recording SMTP server inside this program:
//!
//! 1. **Lag of a small mailing beside a big one**: user A's BIG-recipient
//!    mailing (default 100,000) sends at a relay limit (`--rate-limit`,
//!    default 200/s); while it sends, user B starts five one-recipient
//!    mailings one after another. Each one's lag is the time from its
//!    scheduled start to its message's arrival.
//! 2. **One send rate for the whole service**: three workers with
//!    `--rate-limit 100` on one database, then one worker alone with the same
//!    limit; each rate is counted over a 10 s window (`WINDOW_SECS`) once
//!    sending is under way.
//!
//! Run it with `scripts/bench-fairness.sh`; the last line is
//! `fairness: small_run_lag_ms_max=N small_run_lag_ms_median=N big_run=N relay_limit=N/s three_workers=N/s one_worker=N/s limit=100/s`.

use std::time::{Duration, Instant};

use chrono::{DateTime, SubsecRound, Utc};
use skymailing_bench::{Proc, wait_for};
use skymailing_core::MessageDraft;
use skymailing_smtp::testing::TestSmtpServer;
use skymailing_store_pg::PgStore;
use sqlx::Connection;

fn worker(db: &str, mail: &str, rate: u32) -> Proc {
    skymailing_bench::worker(db, mail, &[("SKYMAILING_RATE_LIMIT", &rate.to_string())])
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A fresh database named `name`; returns its URL.
async fn fresh_db(admin: &mut sqlx::PgConnection, admin_url: &str, name: &str) -> String {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut *admin)
    .await
    .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut *admin)
        .await
        .unwrap();
    let base = admin_url.rsplit_once('/').map_or(admin_url, |(b, _)| b);
    format!("{base}/{name}")
}

/// Messages received per second over `window`, once `warm_up` arrived.
async fn rate_over(server: &TestSmtpServer, warm_up: usize, window: Duration) -> f64 {
    wait_for(Duration::from_secs(120), async || {
        (server.count() >= warm_up).then_some(())
    })
    .await;
    let (start, before) = (Instant::now(), server.count());
    tokio::time::sleep(window).await;
    (server.count() - before) as f64 / start.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let admin_url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let big: i64 = env_or("BIG", 100_000);
    let relay_limit: u32 = env_or("RELAY_LIMIT", 200);
    let mut admin = sqlx::PgConnection::connect(&admin_url)
        .await
        .expect("PostgreSQL (DATABASE_URL) is reachable");
    let message = MessageDraft::parse("News for {{ name }}", "Hello {{ name }}", None).unwrap();

    // 1. A small mailing beside a big one.
    let db = fresh_db(&mut admin, &admin_url, "skymailing_bench_fairness").await;
    let store = PgStore::connect(&db).await.unwrap();
    let start = (Utc::now() + chrono::Duration::seconds(2)).trunc_subsecs(6);
    skymailing_bench::pg_mailing_to(&store, "a@example.com", big, &["big.test"], &message, start)
        .await;
    sqlx::query("ANALYZE").execute(store.pool()).await.unwrap();
    let relay = TestSmtpServer::start();
    let w = worker(&db, &relay.url(), relay_limit);
    // Under way: a few seconds of the big run's sending.
    wait_for(Duration::from_secs(60), async || {
        (relay.count() >= 3 * relay_limit as usize).then_some(())
    })
    .await;
    let mut lags = Vec::new();
    for i in 0..5 {
        let start: DateTime<Utc> =
            (Utc::now() + chrono::Duration::milliseconds(700)).trunc_subsecs(6);
        let probe = MessageDraft::parse(&format!("Probe {i}"), "Hello", None).unwrap();
        skymailing_bench::pg_mailing_to(
            &store,
            &format!("b{i}@example.com"),
            1,
            &["small.test"],
            &probe,
            start,
        )
        .await;
        let subject = format!("Probe {i}");
        let arrived = wait_for(Duration::from_secs(120), async || {
            relay
                .received()
                .into_iter()
                .find(|r| r.parsed().subject() == Some(subject.as_str()))
                .map(|r| DateTime::<Utc>::from(r.arrived_at))
        })
        .await;
        let lag = (arrived - start).num_milliseconds();
        println!(
            "small run {i}: arrived {lag} ms after its start, beside a {big}-recipient run at {relay_limit}/s ({} of it sent so far)",
            relay.count()
        );
        lags.push(lag);
    }
    drop(w);
    lags.sort_unstable();
    let (lag_max, lag_median) = (lags[lags.len() - 1], lags[lags.len() / 2]);
    store.pool().close().await;

    // 2. One send rate for the whole service.
    const LIMIT: u32 = 100;
    // WINDOW_SECS: the short mode counts over 2 s.
    let window = Duration::from_secs(env_or("WINDOW_SECS", 10));
    let db = fresh_db(&mut admin, &admin_url, "skymailing_bench_shared_rate").await;
    let store = PgStore::connect(&db).await.unwrap();
    let start = Utc::now().trunc_subsecs(6);
    skymailing_bench::pg_mailing_to(
        &store,
        "a@example.com",
        10_000,
        &["rate.test"],
        &message,
        start,
    )
    .await;
    let relay = TestSmtpServer::start();
    let three: Vec<Proc> = (0..3).map(|_| worker(&db, &relay.url(), LIMIT)).collect();
    let three_rate = rate_over(&relay, 2 * LIMIT as usize, window).await;
    drop(three);
    println!("three workers with --rate-limit {LIMIT}: {three_rate:.1} msg/s together");
    let relay = TestSmtpServer::start();
    let one = worker(&db, &relay.url(), LIMIT);
    let one_rate = rate_over(&relay, 2 * LIMIT as usize, window).await;
    drop(one);
    println!("one worker with --rate-limit {LIMIT}: {one_rate:.1} msg/s");
    store.pool().close().await;

    for name in ["skymailing_bench_fairness", "skymailing_bench_shared_rate"] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut admin)
        .await
        .unwrap();
    }
    println!(
        "fairness: small_run_lag_ms_max={lag_max} small_run_lag_ms_median={lag_median} big_run={big} relay_limit={relay_limit}/s three_workers={three_rate:.0}/s one_worker={one_rate:.0}/s limit={LIMIT}/s"
    );
}

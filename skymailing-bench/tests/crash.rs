//! Worker processes on one PostgreSQL, against a real SMTP server: one killed
//! with SIGKILL in the middle of a 20,000-recipient run and replaced, and three
//! sharing a 30,000-recipient run. Each worker is the `worker` binary: the core
//! engine over the PostgreSQL store and the SMTP transport.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::{SubsecRound, Utc};
use skymailing_core::*;
use skymailing_smtp::testing::TestSmtpServer;
use skymailing_store_pg::PgStore;
use sqlx::PgPool;

fn database_url(pool: &PgPool) -> String {
    let o = pool.connect_options();
    format!(
        "postgres://{}@{}:{}/{}",
        o.get_username(),
        o.get_host(),
        o.get_port(),
        o.get_database().unwrap_or("postgres")
    )
}

/// A worker process, killed when dropped (so a failing test leaves none behind).
struct Worker(Child);

impl Worker {
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }

    /// Sends a signal by name (`STOP`, `CONT`).
    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.0.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{name} failed");
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.kill();
    }
}

fn worker(db: &str, smtp: &str, from: &str) -> Worker {
    let child = Command::new(env!("CARGO_BIN_EXE_worker"))
        .env("DATABASE_URL", db)
        .env("SKYMAILING_MAIL_URL", smtp)
        .env("SKYMAILING_FROM", from)
        .env("SKYMAILING_LEASE_SECS", "10")
        .env("SKYMAILING_SEND_TIMEOUT_SECS", "2")
        .env("SKYMAILING_BATCH", "200")
        .env("SKYMAILING_CONCURRENCY", "16")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the worker binary starts");
    Worker(child)
}

/// A mailing to `n` clients, due now.
async fn mailing(store: &PgStore, n: i64) {
    let message = MessageDraft::parse("News for {{ name }}", "Hello {{ name }}", None).unwrap();
    skymailing_bench::pg_mailing(store, n, &message, Utc::now().trunc_subsecs(6)).await;
}

async fn wait_until(what: &str, timeout: Duration, mut done: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + timeout;
    while !done().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The finished run's report, in English.
async fn report(store: &PgStore) -> Option<String> {
    use skymailing_core::ports::{RunFilter, RunStore};
    store
        .list_runs(RunFilter::default(), &ListQuery::default())
        .await
        .unwrap()
        .items
        .first()
        .and_then(|r| r.report.as_ref())
        .map(ToString::to_string)
}

/// Recipient → the Message-IDs it received.
fn by_recipient(server: &TestSmtpServer) -> HashMap<String, Vec<String>> {
    let mut seen: HashMap<String, Vec<String>> = HashMap::new();
    for r in server.received() {
        let id = r
            .parsed()
            .message_id()
            .expect("every message carries a Message-ID")
            .to_owned();
        for to in &r.to {
            seen.entry(to.clone()).or_default().push(id.clone());
        }
    }
    seen
}

#[sqlx::test(migrations = false)]
async fn a_worker_killed_mid_run_loses_nothing_and_resends_only_what_was_in_flight(pool: PgPool) {
    const N: i64 = 20_000;
    let store = PgStore::from_pool(pool.clone()).await.unwrap();
    let server = TestSmtpServer::start();
    mailing(&store, N).await;
    let db = database_url(&pool);

    let mut first = worker(&db, &server.url(), "w1@mail.example");
    // Kill while a batch is claimed: a worker is briefly between batches, and
    // a kill there would test nothing in flight. So the worker is frozen
    // (SIGSTOP) first and looked at; if nothing is claimed at that instant it
    // runs on and is frozen again, and only a frozen worker with deliveries
    // claimed is killed: what is claimed then is what the kill catches.
    wait_until(
        "a quarter of the run",
        Duration::from_secs(120),
        async || server.count() >= N as usize / 4,
    )
    .await;
    let sending = async || -> std::collections::HashSet<String> {
        sqlx::query_scalar("SELECT email FROM deliveries WHERE state = 'sending'")
            .fetch_all(&pool)
            .await
            .unwrap()
            .into_iter()
            .collect()
    };
    let mut in_flight = std::collections::HashSet::new();
    for _ in 0..200 {
        first.signal("STOP");
        in_flight = sending().await;
        if !in_flight.is_empty() {
            break;
        }
        first.signal("CONT");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        !in_flight.is_empty(),
        "in 200 looks the worker never had a batch claimed"
    );
    first.kill(); // SIGKILL: no chance to finish or release anything
    let seen_at_kill = server.count();
    assert!(seen_at_kill < N as usize, "killed mid-run");

    let mut second = worker(&db, &server.url(), "w2@mail.example");
    wait_until("the run to finish", Duration::from_secs(300), async || {
        report(&store).await.is_some()
    })
    .await;
    second.kill();

    let seen = by_recipient(&server);
    assert_eq!(seen.len(), N as usize, "the server saw every recipient");
    let twice: Vec<_> = seen.iter().filter(|(_, ids)| ids.len() > 1).collect();
    for (to, ids) in &twice {
        assert!(
            ids.iter().all(|i| i == &ids[0]),
            "{to} got two different Message-IDs: {ids:?}"
        );
        assert_eq!(ids.len(), 2, "{to} got more than two copies");
    }
    for (to, _) in &twice {
        assert!(
            in_flight.contains(*to),
            "{to} got two copies but was not in flight at the kill"
        );
    }
    assert_eq!(report(&store).await.as_deref(), Some("Sent 20000 of 20000"));
}

#[sqlx::test(migrations = false)]
async fn three_workers_send_one_run_to_every_recipient_exactly_once(pool: PgPool) {
    const N: i64 = 30_000;
    let store = PgStore::from_pool(pool.clone()).await.unwrap();
    let server = TestSmtpServer::start();
    mailing(&store, N).await;
    let db = database_url(&pool);
    let mut workers: Vec<Worker> = (1..=3)
        .map(|i| worker(&db, &server.url(), &format!("w{i}@mail.example")))
        .collect();
    wait_until("the run to finish", Duration::from_secs(300), async || {
        report(&store).await.is_some()
    })
    .await;
    for w in &mut workers {
        w.kill();
    }
    let seen = by_recipient(&server);
    assert_eq!(seen.len(), N as usize, "every recipient");
    assert!(seen.values().all(|ids| ids.len() == 1), "exactly once");
    let mut per_worker: HashMap<String, usize> = HashMap::new();
    for r in server.received() {
        *per_worker.entry(r.from).or_default() += 1;
    }
    assert!(
        per_worker.len() >= 2,
        "the workers shared the run: {per_worker:?}"
    );
    assert_eq!(report(&store).await.as_deref(), Some("Sent 30000 of 30000"));
}

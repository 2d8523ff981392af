//! Fixtures shared by the benchmarks and the worker tests: a mailing to many
//! clients on PostgreSQL, set up with one bulk insert rather than one call per
//! client.

use chrono::{DateTime, Utc};
use skymailing_core::ports::{MailingStore, MessageStore};
use skymailing_core::testkit::active_user;
use skymailing_core::*;
use skymailing_store_pg::PgStore;

/// An active owner with `n` clients (`r1@example.com` …), a message from
/// `message`, and a one-off mailing to all of them starting at `start`.
pub async fn pg_mailing(
    store: &PgStore,
    n: i64,
    message: &MessageDraft,
    start: DateTime<Utc>,
) -> Mailing {
    pg_mailing_to(
        store,
        "owner@example.com",
        n,
        &["example.com"],
        message,
        start,
    )
    .await
}

/// [`pg_mailing`] for a new owner `owner` (an email), with the clients'
/// addresses spread over `domains` in turn (`r1@` the first domain, `r2@` the
/// second, …).
pub async fn pg_mailing_to(
    store: &PgStore,
    owner: &str,
    n: i64,
    domains: &[&str],
    message: &MessageDraft,
    start: DateTime<Utc>,
) -> Mailing {
    let now = Utc::now();
    let owner = active_user(store, owner, Role::User, TimeZone::UTC, now).await;
    sqlx::query(
        "INSERT INTO clients (owner_id, email, full_name, unsubscribe_token, created_at) \
         SELECT $1, 'r' || i || '@' || ($4::text[])[1 + (i - 1) % cardinality($4::text[])], 'Recipient ' || i, md5($1::text || '-' || i::text), $2 \
         FROM generate_series(1, $3) i",
    )
    .bind(owner.id.0)
    .bind(now)
    .bind(n)
    .bind(domains)
    .execute(store.pool())
    .await
    .expect("clients inserted");
    let ids: Vec<(i64,)> = sqlx::query_as("SELECT id FROM clients WHERE owner_id = $1 ORDER BY id")
        .bind(owner.id.0)
        .fetch_all(store.pool())
        .await
        .expect("client ids");
    let msg = store
        .create_message(owner.id, message, now)
        .await
        .expect("message created");
    let draft = MailingDraft::new(
        "Bulk",
        msg.id,
        ids.into_iter().map(|(i,)| ClientId(i)).collect(),
        start,
        start + chrono::Duration::days(1),
        Periodicity::Once,
    )
    .expect("a valid mailing");
    store
        .create_mailing(owner.id, &draft, Some(start), now)
        .await
        .expect("mailing created")
}

/// A child process stopped (by PID, SIGTERM) when dropped.
pub struct Proc(pub std::process::Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .arg(self.0.id().to_string())
            .status();
        let _ = self.0.wait();
    }
}

/// The shipped `skymailing worker` (the release binary next to the running
/// benchmark) on `db`, sending through `mail`, with more settings in `env`.
pub fn worker(db: &str, mail: &str, env: &[(&str, &str)]) -> Proc {
    let exe = std::env::current_exe()
        .expect("the benchmark's own path")
        .with_file_name("skymailing");
    let child = std::process::Command::new(&exe)
        .arg("worker")
        .env("DATABASE_URL", db)
        .env("SKYMAILING_MAIL_URL", mail)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", exe.display()));
    Proc(child)
}

/// Polls `f` every 10 ms until it gives a value; panics after `timeout`.
pub async fn wait_for<T>(timeout: std::time::Duration, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "timed out");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// CPU time a process has used so far (user + system, its own and that of
/// the children it has waited for), from `/proc/<pid>/stat`; zero where that
/// cannot be read.
pub fn cpu_time(pid: u32) -> std::time::Duration {
    stat_times(pid, 0..4)
}

/// CPU time of the children this process has waited for (user + system).
pub fn children_cpu_time() -> std::time::Duration {
    stat_times(std::process::id(), 2..4)
}

/// The sum of the times `fields` (0 utime, 1 stime, 2 cutime, 3 cstime) of
/// `/proc/<pid>/stat`.
fn stat_times(pid: u32, fields: std::ops::Range<usize>) -> std::time::Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name (which may hold spaces) in brackets:
    // state is the 3rd field of the line, utime the 14th … cstime the 17th.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return std::time::Duration::ZERO;
    };
    let ticks: u64 = rest
        .split_whitespace()
        .skip(11 + fields.start)
        .take(fields.len())
        .filter_map(|f| f.parse::<u64>().ok())
        .sum();
    std::time::Duration::from_secs_f64(ticks as f64 / clock_ticks())
}

/// CPU time of every process named `postgres` on this machine (the server
/// and its backends; backends that ended are in the postmaster's children's
/// time). The difference of two readings is what the server spent between
/// them, whoever it served.
pub fn postgres_cpu_time() -> std::time::Duration {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return std::time::Duration::ZERO;
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim_end() == "postgres")
        })
        .map(cpu_time)
        .sum()
}

/// The kernel's clock ticks per second for `/proc` times (`getconf
/// CLK_TCK`; 100 where that is not to be had).
fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// Milliseconds of CPU per 1,000 of `n` things done in `cpu`.
pub fn ms_per_1000(cpu: std::time::Duration, n: i64) -> f64 {
    cpu.as_secs_f64() * 1000.0 * 1000.0 / n.max(1) as f64
}

//! The topology `docs/operations.md` describes, with the real binary: a web
//! process without the engine (`serve --no-worker`) and a separate `worker`,
//! on one PostgreSQL database, sending through a real SMTP server. A mailing
//! created through the web process is sent by the worker (which the store's
//! LISTEN/NOTIFY wakes; the store's own tests show that wake-up).

use std::process::Stdio;
use std::time::Duration;

use skymailing_smtp::testing::TestSmtpServer;
use sqlx::PgPool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The binary with `args`; `from` is the sender address of everything this
/// process sends, so the relay tells which process sent what.
fn skymailing(args: &[&str], db: &str, smtp: &str, from: &str, dir: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_skymailing"))
        .args(args)
        .current_dir(dir)
        .env("DATABASE_URL", db)
        .env("SKYMAILING_MAIL_URL", smtp)
        .env("SKYMAILING_FROM", format!("News <{from}>"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

/// A minimal HTTP/1.0 exchange: the status and the body.
async fn http(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, serde_json::Value) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let req = format!(
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let status = out[9..12].parse().unwrap();
    let json = out
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or(serde_json::Value::Null);
    (status, json)
}

/// Polls `f` every 100 ms until it gives a value (for at most two minutes).
async fn wait_for<T>(what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while std::time::Instant::now() < deadline {
        if let Some(v) = f().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

mod on_pg {
    use super::*;

    /// Sign-in limits hold across processes on one PostgreSQL: three wrong
    /// passwords through one web process and a fourth through another is
    /// refused, where each process alone would still allow it.
    #[sqlx::test(migrations = false)]
    async fn sign_in_limits_are_shared_by_every_process(pool: PgPool) {
        let db = database_url(&pool);
        let smtp = TestSmtpServer::start();
        let dir = tempfile::tempdir().unwrap();
        let mut addrs = Vec::new();
        let mut procs = Vec::new();
        for i in 0..2 {
            let addr = format!("127.0.0.1:{}", free_port());
            procs.push(skymailing(
                &[
                    "serve",
                    "--no-worker",
                    &format!("--bind={addr}"),
                    "--auth-rate-limit",
                    "3",
                ],
                &db,
                &smtp.url(),
                &format!("web{i}@sky.test"),
                dir.path(),
            ));
            addrs.push(addr);
        }
        for addr in &addrs {
            wait_for("the web process", async || {
                tokio::net::TcpStream::connect(addr).await.ok()
            })
            .await;
        }
        let attempt = async |addr: &str| {
            http(
                addr,
                "POST",
                "/api/v1/auth/login",
                None,
                r#"{"email":"ann@example.com","password":"a wrong guess"}"#,
            )
            .await
            .0
        };
        // The counts are per minute: start well inside one.
        let second = chrono::Timelike::second(&chrono::Utc::now());
        if second >= 50 {
            tokio::time::sleep(Duration::from_secs(u64::from(61 - second))).await;
        }
        for addr in [&addrs[0], &addrs[1], &addrs[0]] {
            assert_eq!(attempt(addr).await, 401);
        }
        assert_eq!(
            attempt(&addrs[1]).await,
            429,
            "the fourth try, on another process"
        );
        assert_eq!(attempt(&addrs[0]).await, 429);
    }

    /// Sign-out, a password change and a block made through one process
    /// apply on the very next request to another: a request's session is
    /// always read from the database (only the account it names is reused by
    /// the same request's later use cases).
    #[sqlx::test(migrations = false)]
    async fn sign_out_password_change_and_block_apply_at_once_in_every_process(pool: PgPool) {
        let db = database_url(&pool);
        let smtp = TestSmtpServer::start();
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (
            format!("127.0.0.1:{}", free_port()),
            format!("127.0.0.1:{}", free_port()),
        );
        let _procs: Vec<Child> = [&a, &b]
            .iter()
            .map(|addr| {
                skymailing(
                    &["serve", "--no-worker", &format!("--bind={addr}")],
                    &db,
                    &smtp.url(),
                    "web@sky.test",
                    dir.path(),
                )
            })
            .collect();
        for addr in [&a, &b] {
            wait_for("the web process", async || {
                tokio::net::TcpStream::connect(addr).await.ok()
            })
            .await;
        }
        // Accounts made through the use cases over the same database.
        let store = skymailing_store_pg::PgStore::from_pool(pool.clone())
            .await
            .unwrap();
        let app = skymailing_core::SkyMailing::builder(std::sync::Arc::new(store))
            .build()
            .unwrap();
        app.accounts
            .ensure_admin("root@sky.test", "admin password", "Root")
            .await
            .unwrap();
        let login = async |addr: &str, email: &str, password: &str| {
            let (status, body) = http(
                addr,
                "POST",
                "/api/v1/auth/login",
                None,
                &format!(r#"{{"email":"{email}","password":"{password}"}}"#),
            )
            .await;
            assert_eq!(status, 200, "{body}");
            body["token"].as_str().unwrap().to_owned()
        };
        let root = login(&b, "root@sky.test", "admin password").await;
        let root_actor = app
            .accounts
            .login("root@sky.test", "admin password")
            .await
            .unwrap()
            .actor();
        let ann = app
            .accounts
            .create_user(
                root_actor,
                &skymailing_core::service::NewAccount {
                    email: "ann@example.com",
                    name: "Ann",
                    password: Some("correct horse"),
                    role: skymailing_core::Role::User,
                    time_zone: "UTC",
                },
            )
            .await
            .unwrap();
        let clients = async |addr: &str, token: &str| {
            http(addr, "GET", "/api/v1/clients", Some(token), "")
                .await
                .0
        };
        let (s1, s2, s3) = (
            login(&a, "ann@example.com", "correct horse").await,
            login(&a, "ann@example.com", "correct horse").await,
            login(&a, "ann@example.com", "correct horse").await,
        );
        for t in [&s1, &s2, &s3] {
            assert_eq!(clients(&a, t).await, 200, "each session works on A");
        }
        // Sign-out through B: A refuses that session on the next request.
        assert_eq!(
            http(&b, "POST", "/api/v1/auth/logout", Some(&s3), "")
                .await
                .0,
            204
        );
        assert_eq!(clients(&a, &s3).await, 401, "signed out on B, refused on A");
        assert_eq!(clients(&a, &s2).await, 200, "the others stay");
        // A password change through B ends her other sessions on A at once.
        let changed = http(
            &b,
            "POST",
            "/api/v1/me/password",
            Some(&s1),
            r#"{"current_password":"correct horse","new_password":"battery staple"}"#,
        )
        .await;
        assert_eq!(changed.0, 204, "{}", changed.1);
        assert_eq!(clients(&a, &s2).await, 401, "the password changed on B");
        assert_eq!(
            clients(&a, &s1).await,
            200,
            "the session that changed it stays"
        );
        // A block through B: her last session is refused by A at once.
        let blocked = http(
            &b,
            "POST",
            &format!("/api/v1/users/{}/block", ann.id),
            Some(&root),
            "",
        )
        .await;
        assert_eq!(blocked.0, 200, "{}", blocked.1);
        assert_eq!(clients(&a, &s1).await, 401, "blocked on B, refused on A");
    }

    #[sqlx::test(migrations = false)]
    async fn a_web_process_and_a_separate_worker_share_one_database(pool: PgPool) {
        let db = database_url(&pool);
        let smtp = TestSmtpServer::start();
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let bind = format!("--bind={addr}");
        let _web = skymailing(
            &["serve", "--no-worker", &bind],
            &db,
            &smtp.url(),
            "web@sky.test",
            dir.path(),
        );
        let _worker = skymailing(&["worker"], &db, &smtp.url(), "worker@sky.test", dir.path());
        wait_for("the web process", async || {
            tokio::net::TcpStream::connect(&addr).await.ok()
        })
        .await;

        // Account mail goes out through the relay from the web process.
        let (status, _) = http(
            &addr,
            "POST",
            "/api/v1/auth/register",
            None,
            r#"{"email":"ann@example.com","password":"correct horse","name":"Ann"}"#,
        )
        .await;
        assert_eq!(status, 202);
        let (token, sender) = wait_for("the verification mail", async || {
            smtp.received().into_iter().find_map(|m| {
                let text = String::from_utf8_lossy(&m.data).into_owned();
                let at = text.find("verify?token=")? + 13;
                Some((text[at..at + 64].to_owned(), m.from.clone()))
            })
        })
        .await;
        assert_eq!(
            sender, "web@sky.test",
            "account mail comes from the web process"
        );
        let (status, _) = http(
            &addr,
            "POST",
            "/api/v1/auth/verify",
            None,
            &format!(r#"{{"token":"{token}"}}"#),
        )
        .await;
        assert_eq!(status, 200);
        let (_, login) = http(
            &addr,
            "POST",
            "/api/v1/auth/login",
            None,
            r#"{"email":"ann@example.com","password":"correct horse"}"#,
        )
        .await;
        let t = login["token"].as_str().unwrap().to_owned();
        let t = Some(t.as_str());
        let (_, client) = http(
            &addr,
            "POST",
            "/api/v1/clients",
            t,
            r#"{"email":"bob@client.test","full_name":"Bob","comment":""}"#,
        )
        .await;
        let (_, msg) = http(
            &addr,
            "POST",
            "/api/v1/messages",
            t,
            r#"{"subject":"Scaled out","body_text":"Hi {{ name }}","body_html":null}"#,
        )
        .await;
        // Due in two seconds: nothing but the worker can send it.
        let start = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
        let end = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
        let body = format!(
            r#"{{"name":"News","message_id":{},"client_ids":[{}],"start_at":"{start}","end_at":"{end}","periodicity":"once"}}"#,
            msg["id"], client["id"]
        );
        let (status, mailing) = http(&addr, "POST", "/api/v1/mailings", t, &body).await;
        assert_eq!(status, 201, "{mailing}");

        // Only the worker sends mailings; the mail reaches the relay.
        let sent = wait_for("the mailing at the relay", async || {
            smtp.received()
                .into_iter()
                .find(|m| m.to == ["bob@client.test"])
        })
        .await;
        assert!(String::from_utf8_lossy(&sent.data).contains("Hi Bob"));
        assert_eq!(
            sent.from, "worker@sky.test",
            "the worker sent the mailing, not the web process started with --no-worker"
        );
        // The run's report, written by the worker, reads back through the web process.
        let path = format!("/api/v1/mailings/{}/runs", mailing["id"]);
        let report = wait_for("the run's report", async || {
            let (_, runs) = http(&addr, "GET", &path, t, "").await;
            runs["items"][0]["report"].as_str().map(str::to_owned)
        })
        .await;
        assert_eq!(report, "Sent 1 of 1");
    }
}

/// Worker processes (the shipped `skymailing worker`) killed and shared, on
/// PostgreSQL, against a real SMTP server.
mod workers_on_pg {
    use std::collections::{HashMap, HashSet};

    use chrono::{SubsecRound, Utc};
    use skymailing_core::ports::{RunFilter, RunStore};
    use skymailing_core::{ListQuery, MessageDraft};
    use skymailing_store_pg::PgStore;

    use super::*;

    const LEASE_SECS: u64 = 4;
    const CONCURRENCY: usize = 8;
    const PARALLEL_BATCHES: usize = 2;
    /// Results written together at most (the engine's default group).
    const RESULT_GROUP: usize = 64;

    /// A worker with a short lease; its log goes to the test's output.
    fn worker(db: &str, smtp: &str, from: &str, dir: &std::path::Path) -> Child {
        worker_with(db, smtp, from, dir, &[])
    }

    /// [`worker`] with more settings (environment variables).
    fn worker_with(
        db: &str,
        smtp: &str,
        from: &str,
        dir: &std::path::Path,
        env: &[(&str, &str)],
    ) -> Child {
        Command::new(env!("CARGO_BIN_EXE_skymailing"))
            .arg("worker")
            .envs(env.iter().copied())
            .current_dir(dir)
            .env("DATABASE_URL", db)
            .env("SKYMAILING_MAIL_URL", smtp)
            .env("SKYMAILING_FROM", format!("News <{from}>"))
            .env("SKYMAILING_LEASE_SECS", LEASE_SECS.to_string())
            .env("SKYMAILING_SEND_TIMEOUT_SECS", "1")
            .env("SKYMAILING_BATCH_SIZE", "200")
            .env("SKYMAILING_CONCURRENCY", CONCURRENCY.to_string())
            .env("SKYMAILING_PARALLEL_BATCHES", PARALLEL_BATCHES.to_string())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap()
    }

    fn signal(child: &Child, name: &str) {
        let status = std::process::Command::new("kill")
            .arg(format!("-{name}"))
            .arg(child.id().expect("running").to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name}");
    }

    async fn mailing(store: &PgStore, n: i64) {
        let message = MessageDraft::parse("News for {{ name }}", "Hello {{ name }}", None).unwrap();
        skymailing_bench::pg_mailing(store, n, &message, Utc::now().trunc_subsecs(6)).await;
    }

    /// The finished run's report, in English.
    async fn report(store: &PgStore) -> Option<String> {
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

    async fn sending(pool: &PgPool) -> HashSet<String> {
        sqlx::query_scalar("SELECT email FROM deliveries WHERE state = 'sending'")
            .fetch_all(pool)
            .await
            .unwrap()
            .into_iter()
            .collect()
    }

    /// kill -9 in the middle of a run, then a restart: the restarted worker
    /// takes the dead one's claims over when their lease ends, every recipient
    /// gets the mail, and only what was in flight at the kill is sent twice,
    /// with the same Message-ID. When to kill is decided from what the test
    /// sees (the worker frozen with SIGSTOP and its claims read), never from
    /// a sleep.
    #[sqlx::test(migrations = false)]
    async fn a_worker_killed_mid_run_is_taken_over_within_a_lease_and_resends_only_what_was_in_flight(
        pool: PgPool,
    ) {
        const N: i64 = 6_000;
        let store = PgStore::from_pool(pool.clone()).await.unwrap();
        let server = TestSmtpServer::start();
        mailing(&store, N).await;
        let db = database_url(&pool);
        let dir = tempfile::tempdir().unwrap();

        let mut first = worker(&db, &server.url(), "w1@mail.example", dir.path());
        wait_for("a quarter of the run", async || {
            (server.count() >= N as usize / 4).then_some(())
        })
        .await;
        let mut in_flight = HashSet::new();
        for _ in 0..500 {
            signal(&first, "STOP");
            in_flight = sending(&pool).await;
            if !in_flight.is_empty() {
                break;
            }
            signal(&first, "CONT");
            tokio::task::yield_now().await;
        }
        assert!(
            !in_flight.is_empty(),
            "the worker never held a claim when looked at"
        );
        first.start_kill().unwrap(); // SIGKILL: nothing finished, nothing released
        first.wait().await.unwrap();
        let seen_at_kill = server.count();
        assert!(seen_at_kill < N as usize, "killed mid-run");

        let restarted = std::time::Instant::now();
        let _second = worker(&db, &server.url(), "w2@mail.example", dir.path());
        // Recovery: every delivery the dead worker held is final again.
        let recovered = wait_for("the dead worker's claims to be taken over", async || {
            let left: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM deliveries WHERE email = ANY($1) AND state IN ('pending', 'sending')",
            )
            .bind(in_flight.iter().cloned().collect::<Vec<_>>())
            .fetch_one(&pool)
            .await
            .unwrap();
            (left == 0).then(|| restarted.elapsed())
        })
        .await;
        wait_for("the run to finish", async || report(&store).await).await;

        let seen = by_recipient(&server);
        assert_eq!(seen.len(), N as usize, "the server saw every recipient");
        let twice: Vec<_> = seen.iter().filter(|(_, ids)| ids.len() > 1).collect();
        for (to, ids) in &twice {
            assert!(
                ids.iter().all(|i| i == &ids[0]),
                "{to} got two Message-IDs: {ids:?}"
            );
            assert_eq!(ids.len(), 2, "{to} got more than two copies");
            assert!(
                in_flight.contains(*to),
                "{to} got two copies but was not claimed at the kill"
            );
        }
        // In flight: the sends under way, and the finished ones whose results
        // were being written (at most one group).
        let bound = CONCURRENCY * PARALLEL_BATCHES + RESULT_GROUP;
        eprintln!(
            "crash: recovery_s={:.2} lease_s={LEASE_SECS} duplicates={} claimed_at_kill={} bound={bound}",
            recovered.as_secs_f64(),
            twice.len(),
            in_flight.len()
        );
        assert!(
            twice.len() <= bound,
            "{} duplicates, more than {bound}",
            twice.len()
        );
        assert!(
            recovered <= std::time::Duration::from_secs(2 * LEASE_SECS),
            "recovered after {recovered:?}, more than two leases"
        );
        assert_eq!(report(&store).await.as_deref(), Some("Sent 6000 of 6000"));
    }

    /// `--rate-limit` is one rate for the whole service: three workers with
    /// `--rate-limit 40` send about 40 a second together, not 120.
    #[sqlx::test(migrations = false)]
    async fn three_workers_share_one_send_rate(pool: PgPool) {
        const RATE: usize = 40;
        let store = PgStore::from_pool(pool.clone()).await.unwrap();
        let server = TestSmtpServer::start();
        mailing(&store, 2_000).await;
        let db = database_url(&pool);
        let dir = tempfile::tempdir().unwrap();
        let mut workers = Vec::new();
        for i in 1..=3 {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_skymailing"));
            cmd.arg("worker")
                .current_dir(dir.path())
                .env("DATABASE_URL", &db)
                .env("SKYMAILING_MAIL_URL", server.url())
                .env("SKYMAILING_FROM", format!("News <w{i}@mail.example>"))
                .env("SKYMAILING_RATE_LIMIT", RATE.to_string())
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .kill_on_drop(true);
            workers.push(cmd.spawn().unwrap());
        }
        wait_for("the workers to be sending", async || {
            (server.count() >= RATE).then_some(())
        })
        .await;
        let (start, sent_before) = (std::time::Instant::now(), server.count());
        tokio::time::sleep(Duration::from_secs(5)).await;
        let sent = server.count() - sent_before;
        let secs = start.elapsed().as_secs_f64();
        let mut per_worker: HashMap<String, usize> = HashMap::new();
        for r in server.received() {
            *per_worker.entry(r.from).or_default() += 1;
        }
        eprintln!(
            "shared_rate: workers=3 limit={RATE}/s sent={sent} in {secs:.1} s = {:.1}/s; per worker {per_worker:?}",
            sent as f64 / secs
        );
        // At most the rate over the window, one second's burst, and slack.
        let most = (RATE as f64 * secs * 1.1) as usize + RATE;
        assert!(sent <= most, "{sent} sent in {secs:.1} s: more than {most}");
        assert!(
            per_worker.len() >= 2,
            "the workers shared the work: {per_worker:?}"
        );
    }

    /// When each recipient's message arrived, by recipient domain.
    fn arrivals_by_domain(server: &TestSmtpServer) -> HashMap<String, Vec<std::time::SystemTime>> {
        let mut out: HashMap<String, Vec<std::time::SystemTime>> = HashMap::new();
        for r in server.received() {
            for to in &r.to {
                let domain = to.rsplit_once('@').map_or("", |(_, d)| d).to_owned();
                out.entry(domain).or_default().push(r.arrived_at);
            }
        }
        for times in out.values_mut() {
            times.sort();
        }
        out
    }

    /// The attempts counted for each delivery, most first.
    async fn attempts(pool: &PgPool) -> Vec<i32> {
        sqlx::query_scalar("SELECT attempts FROM deliveries ORDER BY attempts DESC")
            .fetch_all(pool)
            .await
            .unwrap()
    }

    /// A domain that answers "421 too many" is slowed down on its own: the
    /// other domain's mail goes out at full pace, the throttled domain's mail
    /// all arrives in the end, and no delivery used up a retry on a throttling
    /// reply (with the default retries, one would wait 15–30 s and count two
    /// attempts).
    #[sqlx::test(migrations = false)]
    async fn a_throttling_domain_is_slowed_alone_and_its_deliveries_keep_their_retries(
        pool: PgPool,
    ) {
        const PER_DOMAIN: usize = 60;
        const THROTTLE: usize = 10;
        let store = PgStore::from_pool(pool.clone()).await.unwrap();
        let server = TestSmtpServer::start();
        server.throttle_domain("slow.test", THROTTLE);
        let message = MessageDraft::parse("News", "Hello {{ name }}", None).unwrap();
        skymailing_bench::pg_mailing_to(
            &store,
            "owner@example.com",
            2 * PER_DOMAIN as i64,
            &["slow.test", "fast.test"],
            &message,
            Utc::now().trunc_subsecs(6),
        )
        .await;
        let dir = tempfile::tempdir().unwrap();
        let _worker = worker(
            &database_url(&pool),
            &server.url(),
            "w@mail.example",
            dir.path(),
        );
        let report = wait_for("the run to finish", async || report(&store).await).await;
        assert_eq!(report, format!("Sent {0} of {0}", 2 * PER_DOMAIN));
        let arrivals = arrivals_by_domain(&server);
        let (slow, fast) = (&arrivals["slow.test"], &arrivals["fast.test"]);
        assert_eq!((slow.len(), fast.len()), (PER_DOMAIN, PER_DOMAIN));
        let span =
            |t: &[std::time::SystemTime]| t[t.len() - 1].duration_since(t[0]).unwrap_or_default();
        eprintln!(
            "throttled domain: {} '421 too many' replies; slow.test took {:.1} s, fast.test {:.1} s",
            server.throttled(),
            span(slow).as_secs_f64(),
            span(fast).as_secs_f64()
        );
        assert!(server.throttled() > 0, "the relay did throttle");
        // The other domain kept its pace: all of it was in before half of
        // the throttled domain's (which cannot go faster than 10/s).
        assert!(
            fast[PER_DOMAIN - 1] < slow[PER_DOMAIN / 2],
            "fast.test waited behind slow.test"
        );
        // Backing off, not hammering: about one "too many" per delivery
        // from the first burst, few after.
        assert!(
            server.throttled() <= PER_DOMAIN + PER_DOMAIN / 2,
            "{} throttling replies: the domain was not slowed",
            server.throttled()
        );
        assert!(
            attempts(&pool).await.iter().all(|a| *a == 1),
            "a throttling reply used up an attempt: {:?}",
            &attempts(&pool).await[..5]
        );
    }

    /// `--domain-limit` holds for the whole service: two workers limited to
    /// 10/s for one domain send it about 10 a second together, while the
    /// other domain goes at full pace.
    #[sqlx::test(migrations = false)]
    async fn a_domain_limit_is_shared_by_every_worker(pool: PgPool) {
        const PER_DOMAIN: usize = 150;
        const LIMIT: usize = 10;
        let store = PgStore::from_pool(pool.clone()).await.unwrap();
        let server = TestSmtpServer::start();
        let message = MessageDraft::parse("News", "Hello {{ name }}", None).unwrap();
        skymailing_bench::pg_mailing_to(
            &store,
            "owner@example.com",
            2 * PER_DOMAIN as i64,
            &["limited.test", "free.test"],
            &message,
            Utc::now().trunc_subsecs(6),
        )
        .await;
        let dir = tempfile::tempdir().unwrap();
        let db = database_url(&pool);
        let limit = format!("limited.test={LIMIT}/s");
        let env = [("SKYMAILING_DOMAIN_LIMIT", limit.as_str())];
        let _workers = [
            worker_with(&db, &server.url(), "w1@mail.example", dir.path(), &env),
            worker_with(&db, &server.url(), "w2@mail.example", dir.path(), &env),
        ];
        wait_for("the free domain's mail", async || {
            let a = arrivals_by_domain(&server);
            (a.get("free.test").map_or(0, Vec::len) == PER_DOMAIN).then_some(())
        })
        .await;
        let limited_so_far = arrivals_by_domain(&server)
            .get("limited.test")
            .map_or(0, Vec::len);
        assert!(
            limited_so_far < PER_DOMAIN / 2,
            "the limited domain does not hold the other back ({limited_so_far} of it sent)"
        );
        // Measure a window of the limited domain alone.
        let (start, before) = (
            std::time::Instant::now(),
            arrivals_by_domain(&server)["limited.test"].len(),
        );
        tokio::time::sleep(Duration::from_secs(5)).await;
        let secs = start.elapsed().as_secs_f64();
        let sent = arrivals_by_domain(&server)["limited.test"].len() - before;
        eprintln!(
            "domain_limit: workers=2 limit={LIMIT}/s sent={sent} in {secs:.1} s = {:.1}/s",
            sent as f64 / secs
        );
        let most = (LIMIT as f64 * secs * 1.1) as usize + LIMIT;
        assert!(sent <= most, "{sent} sent in {secs:.1} s: more than {most}");
        assert!(sent >= LIMIT, "the limited domain still sends: {sent}");
        let report = wait_for("the run to finish", async || report(&store).await).await;
        assert_eq!(report, format!("Sent {0} of {0}", 2 * PER_DOMAIN));
        assert!(attempts(&pool).await.iter().all(|a| *a == 1));
    }

    /// Three workers share one run: every recipient exactly once.
    #[sqlx::test(migrations = false)]
    async fn three_workers_send_one_run_to_every_recipient_exactly_once(pool: PgPool) {
        const N: i64 = 9_000;
        let store = PgStore::from_pool(pool.clone()).await.unwrap();
        let server = TestSmtpServer::start();
        mailing(&store, N).await;
        let db = database_url(&pool);
        let dir = tempfile::tempdir().unwrap();
        let _workers: Vec<Child> = (1..=3)
            .map(|i| {
                worker(
                    &db,
                    &server.url(),
                    &format!("w{i}@mail.example"),
                    dir.path(),
                )
            })
            .collect();
        wait_for("the run to finish", async || report(&store).await).await;
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
        assert_eq!(report(&store).await.as_deref(), Some("Sent 9000 of 9000"));
    }
}

/// The database going away is an outage, not a loss: a PostgreSQL of the
/// test's own (initdb and pg_ctl, run as the `postgres` user, on a free port
/// and a temporary folder) is stopped for 20 s in the middle of a run sent by
/// the shipped binary, then started again.
mod outage_on_pg {
    use std::collections::HashMap;

    use chrono::{SubsecRound, Utc};
    use skymailing_core::MessageDraft;
    use skymailing_store_pg::PgStore;

    use super::*;

    /// A PostgreSQL server of this test's own, stopped when dropped.
    struct OwnPostgres {
        bin: std::path::PathBuf,
        dir: tempfile::TempDir,
        port: u16,
    }

    impl OwnPostgres {
        fn start() -> OwnPostgres {
            let bin = std::fs::read_dir("/usr/lib/postgresql")
                .expect("PostgreSQL's server binaries under /usr/lib/postgresql")
                .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
                .find(|b| b.join("initdb").exists())
                .expect("initdb");
            let dir = tempfile::tempdir().unwrap();
            let chown = std::process::Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(
                chown.success(),
                "chown the folder to postgres (run as root)"
            );
            let pg = OwnPostgres {
                bin,
                port: free_port(),
                dir,
            };
            pg.as_postgres(
                "initdb",
                &["-A", "trust", "-U", "postgres", "-D", &pg.data()],
            );
            pg.ctl("start");
            pg
        }

        fn data(&self) -> String {
            self.dir.path().join("data").display().to_string()
        }

        fn as_postgres(&self, tool: &str, args: &[&str]) {
            let out = std::process::Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(self.bin.join(tool))
                .args(args)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{tool} {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }

        fn ctl(&self, action: &str) {
            let options = format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1",
                self.port,
                self.dir.path().display()
            );
            let log = self.dir.path().join("log").display().to_string();
            let data = self.data();
            let mut args = vec!["-D", &data, "-l", &log, "-w", "-o", &options];
            args.extend(["-m", "fast"].iter().filter(|_| action == "stop"));
            args.push(action);
            self.as_postgres("pg_ctl", &args);
        }

        fn url(&self) -> String {
            format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
        }
    }

    impl Drop for OwnPostgres {
        fn drop(&mut self) {
            let _ = std::process::Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(self.bin.join("pg_ctl"))
                .args(["-D", &self.data(), "-m", "immediate", "stop"])
                .output();
        }
    }

    async fn status(addr: &str, path: &str) -> u16 {
        match tokio::time::timeout(Duration::from_secs(10), http(addr, "GET", path, None, "")).await
        {
            Ok((status, _)) => status,
            Err(_) => 0,
        }
    }

    #[tokio::test]
    async fn a_database_outage_mid_run_is_an_outage_not_a_loss() {
        const N: usize = 2_000;
        let pg = OwnPostgres::start();
        let store = PgStore::connect(&pg.url()).await.unwrap();
        let message = MessageDraft::parse("News for {{ name }}", "Hello {{ name }}", None).unwrap();
        skymailing_bench::pg_mailing(&store, N as i64, &message, Utc::now().trunc_subsecs(6)).await;
        store.pool().close().await;

        let smtp = TestSmtpServer::start();
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let _server = Command::new(env!("CARGO_BIN_EXE_skymailing"))
            .args(["serve", &format!("--bind={addr}"), "--rate-limit", "100"])
            .current_dir(dir.path())
            .env("DATABASE_URL", pg.url())
            .env("SKYMAILING_MAIL_URL", smtp.url())
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        wait_for("600 sends", async || (smtp.count() >= 600).then_some(())).await;
        pg.ctl("stop");
        let stopped_at = smtp.count();
        // The process lives on and says what is wrong.
        wait_for("/readyz to answer 503", async || {
            (status(&addr, "/readyz").await == 503).then_some(())
        })
        .await;
        assert_eq!(
            status(&addr, "/api/v1/stats").await,
            503,
            "the API answers 503"
        );
        assert_eq!(status(&addr, "/healthz").await, 200, "the process is alive");
        tokio::time::sleep(Duration::from_secs(20)).await;
        let during = smtp.count();
        assert!(during < N, "the run did not finish without its database");

        pg.ctl("start");
        let back = std::time::Instant::now();
        let resumed = wait_for("sending to resume", async || {
            (smtp.count() > during).then(|| back.elapsed())
        })
        .await;
        let recipients = || {
            smtp.received()
                .into_iter()
                .flat_map(|r| r.to)
                .collect::<std::collections::HashSet<_>>()
                .len()
        };
        wait_for("every recipient", async || {
            (recipients() >= N).then_some(())
        })
        .await;
        wait_for("/readyz to answer 200", async || {
            (status(&addr, "/readyz").await == 200).then_some(())
        })
        .await;

        let mut seen: HashMap<String, usize> = HashMap::new();
        for r in smtp.received() {
            for to in r.to {
                *seen.entry(to).or_default() += 1;
            }
        }
        let twice = seen.values().filter(|n| **n > 1).count();
        eprintln!(
            "outage: sent_before_stop={stopped_at} sent_while_down={} resumed_after_s={:.1} duplicates={twice}",
            during - stopped_at,
            resumed.as_secs_f64()
        );
        assert_eq!(seen.len(), N, "every recipient reached");
        assert!(
            twice <= 16,
            "{twice} duplicates, more than the sends in flight"
        );
        assert!(
            resumed < Duration::from_secs(15),
            "resumed after {resumed:?}"
        );
    }
}

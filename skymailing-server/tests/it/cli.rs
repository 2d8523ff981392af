//! The `skymailing` binary as an operator runs it: zero-setup start in an
//! empty folder, graceful shutdown on SIGTERM, `migrate`, `create-admin`, and
//! one clear line with exit code 2 for a wrong option.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

fn skymailing(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_skymailing"));
    cmd.current_dir(dir)
        .env_remove("DATABASE_URL")
        .env_remove("SKYMAILING_MAIL_URL")
        .env_remove("SKYMAILING_BASE_URL")
        .env("RUST_LOG", "warn")
        .kill_on_drop(true);
    cmd
}

async fn http_get(addr: &str, path: &str) -> String {
    http_get_as(addr, addr, path).await
}

/// A GET to `addr` that names `host` in its `Host` header.
async fn http_get_as(addr: &str, host: &str, path: &str) -> String {
    http_get_with(addr, path, &format!("Host: {host}\r\n")).await
}

/// A GET to `addr` with `headers` (each line ending in CRLF).
async fn http_get_with(addr: &str, path: &str, headers: &str) -> String {
    try_get_with(addr, path, headers)
        .await
        .expect("the server answers")
}

/// A GET that may find the connection refused or reset (over a cap).
async fn try_get_with(addr: &str, path: &str, headers: &str) -> std::io::Result<String> {
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(format!("GET {path} HTTP/1.0\r\n{headers}\r\n").as_bytes())
        .await?;
    let mut out = String::new();
    s.read_to_string(&mut out).await?;
    Ok(out)
}

/// A POST of `body` (of `content_type`) with extra header lines; the answer.
async fn http_post(
    addr: &str,
    path: &str,
    headers: &str,
    content_type: &str,
    body: &str,
) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST {path} HTTP/1.0\r\nHost: {addr}\r\n{headers}Content-Type: {content_type}\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).await.unwrap();
    answer
}

#[tokio::test]
async fn serve_starts_with_zero_setup_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (child, addr) = start(dir.path(), &[]).await;
    let addr = addr.as_str();
    assert!(!addr.ends_with(":0"), "the real port is printed: {addr}");

    let ready = http_get(addr, "/readyz").await;
    assert!(
        ready.starts_with("HTTP/1.0 200") || ready.starts_with("HTTP/1.1 200"),
        "{ready}"
    );
    assert!(ready.contains(r#""engine":"running""#), "{ready}");
    // The zero-setup outbox is this machine's, under this machine's names only:
    // a page on another origin that rebinds its name to 127.0.0.1 gets 400.
    assert!(http_get(addr, "/outbox").await.contains(" 200 "));
    let port = addr.rsplit_once(':').unwrap().1;
    let rebound = http_get_as(addr, &format!("rebind.attacker.example:{port}"), "/outbox").await;
    assert!(rebound.contains(" 400 "), "{rebound}");
    for path in ["/", "/api/v1/stats", "/signin"] {
        let r = http_get_as(addr, "rebind.attacker.example", path).await;
        assert!(r.contains(" 400 "), "{path}: {r}");
    }
    let probe = http_get_as(addr, "10.1.2.3", "/healthz").await;
    assert!(
        probe.contains(" 200 "),
        "load balancers probe by address: {probe}"
    );
    assert!(
        http_get_as(addr, &format!("localhost:{port}"), "/outbox")
            .await
            .contains(" 200 ")
    );
    let spec = http_get(addr, "/api/openapi.json").await;
    assert!(spec.contains("\"openapi\": \"3."), "{spec}");
    // The zero-setup defaults: an SQLite file and an outbox folder, here.
    assert!(dir.path().join("skymailing.db").exists());
    assert!(dir.path().join("outbox").is_dir());

    stops_cleanly_on_sigterm(child).await;
}

/// Starts `skymailing serve` on a free port with `args`; its address.
async fn start(dir: &std::path::Path, args: &[&str]) -> (tokio::process::Child, String) {
    let mut all = vec!["--bind", "127.0.0.1:0"];
    all.extend_from_slice(args);
    let (child, url) = spawn_until(dir, &all, "SkyMailing is running at ").await;
    (child, url.strip_prefix("http://").unwrap().to_owned())
}

/// Starts the binary with `args` and waits for the log line that starts with
/// `prefix`; the child and the rest of that line. The log is drained after,
/// so the process never blocks on a full pipe.
async fn spawn_until(
    dir: &std::path::Path,
    args: &[&str],
    prefix: &str,
) -> (tokio::process::Child, String) {
    let (child, rest, _) = spawn_with_log(skymailing(dir), args, prefix).await;
    (child, rest)
}

/// Like `spawn_until` at the default log levels, keeping every later line.
async fn spawn_logged(
    dir: &std::path::Path,
    args: &[&str],
    prefix: &str,
) -> (
    tokio::process::Child,
    String,
    std::sync::Arc<std::sync::Mutex<Vec<String>>>,
) {
    let mut cmd = skymailing(dir);
    cmd.env_remove("RUST_LOG");
    spawn_with_log(cmd, args, prefix).await
}

async fn spawn_with_log(
    mut cmd: Command,
    args: &[&str],
    prefix: &str,
) -> (
    tokio::process::Child,
    String,
    std::sync::Arc<std::sync::Mutex<Vec<String>>>,
) {
    let mut child = cmd.args(args).stderr(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let rest = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(rest) = line.strip_prefix(prefix) {
                return rest.to_owned();
            }
        }
        panic!("the process exited before printing {prefix:?}");
    })
    .await
    .unwrap_or_else(|_| panic!("{prefix:?} is printed"));
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = log.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            keep.lock().unwrap().push(line);
        }
    });
    (child, rest, log)
}

/// Logs written to a pipe carry no colour codes, and probes and progress
/// polls that succeed stay out of the INFO log (other requests do not).
#[tokio::test]
async fn logs_into_a_pipe_have_no_colour_and_no_probe_chatter() {
    let dir = tempfile::tempdir().unwrap();
    let (child, url, log) = spawn_logged(
        dir.path(),
        &["--bind", "127.0.0.1:0"],
        "SkyMailing is running at ",
    )
    .await;
    let addr = url.strip_prefix("http://").unwrap().to_owned();
    for _ in 0..3 {
        http_get(&addr, "/healthz").await;
        http_get(&addr, "/readyz").await;
    }
    let favicon = http_get(&addr, "/favicon.ico").await;
    assert!(
        favicon.contains(" 308 ") && favicon.contains("/static/favicon.svg"),
        "{favicon}"
    );
    assert!(
        http_get(&addr, "/static/favicon.svg")
            .await
            .contains("image/svg+xml")
    );
    http_get(&addr, "/api/v1/stats").await;
    let metrics = http_get(&addr, "/metrics").await;
    assert!(
        metrics.contains("# HELP skymailing_http_requests_total"),
        "{metrics}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    stops_cleanly_on_sigterm(child).await;
    let log = log.lock().unwrap().join("\n");
    assert!(log.contains("/api/v1/stats"), "{log}");
    assert!(
        !log.contains("/healthz") && !log.contains("/readyz"),
        "{log}"
    );
    assert!(!log.contains('\u{1b}'), "colour codes in a pipe: {log}");
}

/// SIGTERM, then the process must end, successfully, within 30 s.
async fn stops_cleanly_on_sigterm(mut child: tokio::process::Child) {
    let pid = child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("stops within 30 s of SIGTERM")
        .unwrap();
    assert!(status.success(), "{status:?}");
}

/// Whether the server has closed `s` (a read ends or fails), waiting at most `within`.
async fn closed_within(s: &mut tokio::net::TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 256];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            // An error page before the close is fine; keep reading to the end.
            Ok(Ok(_)) => continue,
        }
    }
}

/// 40 slow or silent sockets are closed in time, and other requests are
/// served meanwhile: a trickle of bytes does not keep a request alive.
#[tokio::test]
async fn slow_and_silent_clients_are_cut_off_while_others_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr) = start(
        dir.path(),
        &["--idle-timeout-secs", "2", "--header-timeout-secs", "2"],
    )
    .await;
    let mut silent = Vec::new();
    for _ in 0..20 {
        silent.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
    }
    let mut tricklers = Vec::new();
    for _ in 0..20 {
        let s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let (mut r, mut w) = s.into_split();
        tricklers.push(tokio::spawn(async move {
            // Half a request line, then one byte every 300 ms: ever "active".
            if w.write_all(b"GET / HT").await.is_err() {
                return true;
            }
            let started = std::time::Instant::now();
            let mut buf = [0u8; 64];
            while started.elapsed() < Duration::from_secs(15) {
                if let Ok(Ok(0) | Err(_)) =
                    tokio::time::timeout(Duration::from_millis(300), r.read(&mut buf)).await
                {
                    return true;
                }
                if w.write_all(b"T").await.is_err() {
                    return true;
                }
            }
            false
        }));
    }
    // HTTP/2 without TLS is not spoken here: its pings would keep a
    // connection "answered" for ever.
    let mut h2 = tokio::net::TcpStream::connect(&addr).await.unwrap();
    h2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    assert!(
        closed_within(&mut h2, Duration::from_secs(5)).await,
        "h2c is refused"
    );
    // Others are served meanwhile.
    let ok = http_get(&addr, "/healthz").await;
    assert!(ok.contains(" 200 "), "{ok}");
    for s in &mut silent {
        assert!(
            closed_within(s, Duration::from_secs(10)).await,
            "a silent socket stayed open"
        );
    }
    for t in tricklers {
        assert!(t.await.unwrap(), "a trickling socket stayed open");
    }
    assert!(http_get(&addr, "/healthz").await.contains(" 200 "));
    child.start_kill().unwrap();
    child.wait().await.unwrap();
}

/// Past the per-address cap a connection is closed at once; others get in
/// again as soon as places are free.
#[tokio::test]
async fn connections_per_address_are_capped() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr) = start(dir.path(), &["--max-connections-per-ip", "5"]).await;
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
    }
    // Let the server take them all in before the one too many.
    assert!(!closed_within(&mut held[4], Duration::from_millis(300)).await);
    let mut extra = tokio::net::TcpStream::connect(&addr).await.unwrap();
    assert!(
        closed_within(&mut extra, Duration::from_secs(5)).await,
        "the sixth is refused"
    );
    drop(held);
    let mut served = false;
    for _ in 0..50 {
        // Until the server has seen the held sockets close, a try may be refused.
        let host = format!("Host: {addr}\r\n");
        if try_get_with(&addr, "/healthz", &host)
            .await
            .is_ok_and(|r| r.contains(" 200 "))
        {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served, "places are given back");
    child.start_kill().unwrap();
    child.wait().await.unwrap();
}

/// Behind a trusted proxy the forwarded client counts: a request the proxy
/// forwards for a remote client is not "this machine", so the zero-setup
/// outbox is not theirs.
#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_client_counts() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr) = start(dir.path(), &["--trusted-proxies", "127.0.0.1/32"]).await;
    let addr = addr.as_str();
    let host = format!("Host: {addr}\r\n");
    assert!(
        http_get_with(addr, "/outbox", &host)
            .await
            .contains(" 200 "),
        "the proxy's own machine"
    );
    let forwarded = format!("{host}X-Forwarded-For: 203.0.113.5\r\n");
    let r = http_get_with(addr, "/outbox", &forwarded).await;
    assert!(
        r.contains(" 404 "),
        "a remote client through the proxy: {r}"
    );
    child.start_kill().unwrap();
    child.wait().await.unwrap();
}

/// `worker --bind` serves health, readiness and metrics, and nothing else.
#[tokio::test]
async fn a_worker_serves_its_health_on_bind_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (child, url) = spawn_until(
        dir.path(),
        &["worker", "--bind", "127.0.0.1:0"],
        "skymailing worker: health at ",
    )
    .await;
    let addr = url
        .strip_prefix("http://")
        .and_then(|u| u.strip_suffix("/readyz"))
        .unwrap();
    let ready = http_get(addr, "/readyz").await;
    assert!(ready.contains(" 200 "), "{ready}");
    assert!(ready.contains(r#""engine":"running""#), "{ready}");
    assert!(http_get(addr, "/healthz").await.contains(" 200 "));
    assert!(http_get(addr, "/metrics").await.contains(" 200 "));
    let page = http_get(addr, "/").await;
    assert!(page.contains(" 404 "), "no pages on a worker: {page}");
    stops_cleanly_on_sigterm(child).await;
}

async fn fails_with(dir: &std::path::Path, args: &[&str], option: &str) {
    let out = skymailing(dir).args(args).output().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(
        stderr.contains(option),
        "{args:?} should name {option}: {stderr}"
    );
}

#[tokio::test]
async fn a_wrong_option_gives_one_clear_line_and_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fails_with(
        d,
        &[
            "migrate",
            "--database-url",
            "postgres://nobody@127.0.0.1:1/none",
        ],
        "--database-url",
    )
    .await;
    fails_with(
        d,
        &["migrate", "--trusted-proxies", "10.0.0.0/33"],
        "--trusted-proxies",
    )
    .await;
    fails_with(d, &["migrate", "--lease-secs", "1"], "--lease-secs").await;
    fails_with(
        d,
        &["migrate", "--database-url", "mysql://h/db"],
        "--database-url",
    )
    .await;
    fails_with(
        d,
        &["migrate", "--mail-url", "carrier-pigeon://x"],
        "--mail-url",
    )
    .await;
    fails_with(d, &["migrate", "--from", "not a mailbox"], "--from").await;
    fails_with(
        d,
        &["migrate", "--bounce-webhook-secret", "short"],
        "--bounce-webhook-secret",
    )
    .await;
    fails_with(d, &["migrate", "--base-url", "example.com"], "--base-url").await;
    fails_with(d, &["--bind", "somewhere"], "--bind").await;
    fails_with(d, &["--concurrency", "lots"], "--concurrency").await;
    let out = skymailing(d)
        .args([
            "migrate",
            "--database-url",
            "postgres://nobody@127.0.0.1:1/none",
        ])
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    // A URL's password never shows in the message.
    let out = skymailing(d)
        .args([
            "migrate",
            "--mail-url",
            "smtp://ann:s3cret@127.0.0.1:1?tls=bogus",
        ])
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--mail-url") && !stderr.contains("s3cret"),
        "{stderr}"
    );
}

#[tokio::test]
async fn migrate_and_create_admin() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("ops.db").display());
    let out = skymailing(dir.path())
        .args(["migrate", "--database-url", &db])
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    for _ in 0..2 {
        // The second run finds the account and keeps it an admin.
        let out = skymailing(dir.path())
            .args([
                "create-admin",
                "--email",
                "root@example.com",
                "--database-url",
                &db,
            ])
            .env("SKYMAILING_ADMIN_PASSWORD", "a long admin password")
            .stdin(Stdio::null())
            .output()
            .await
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("root@example.com is an admin"));
    }
    let out = skymailing(dir.path())
        .args([
            "create-admin",
            "--email",
            "root@example.com",
            "--database-url",
            &db,
        ])
        .env("SKYMAILING_ADMIN_PASSWORD", "short")
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let store = skymailing_store_sqlite::SqliteStore::open(dir.path().join("ops.db"))
        .await
        .unwrap();
    let app = skymailing_core::SkyMailing::builder(std::sync::Arc::new(store))
        .build()
        .unwrap();
    let session = app
        .accounts
        .login("root@example.com", "a long admin password")
        .await
        .unwrap();
    assert_eq!(session.user.role, skymailing_core::Role::Admin);
}

/// `dkim-keygen` writes the private key (mode 0600, never over an existing
/// file) and prints the record to publish; the server then loads it. A key
/// that does not load, or a signing domain that does not align with the
/// From address, is one line and exit code 2.
#[tokio::test]
async fn dkim_keygen_prints_the_record_and_bad_dkim_settings_stop_the_start() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (algorithm, k) in [("rsa", "rsa"), ("ed25519", "ed25519")] {
        let key = d.join(format!("{algorithm}.pem"));
        let out = skymailing(d)
            .args([
                "dkim-keygen",
                "--domain",
                "Shop.Example",
                "--selector",
                "s2026",
            ])
            .args(["--algorithm", algorithm, "--out"])
            .arg(&key)
            .output()
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains("name:  s2026._domainkey.shop.example"),
            "{stdout}"
        );
        assert!(
            stdout.contains(&format!("value: v=DKIM1; k={k}; p=")),
            "{stdout}"
        );
        let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // The server starts with it (migrate opens everything serve opens).
        let out = skymailing(d)
            .args([
                "migrate",
                "--from",
                "Shop <news@mail.shop.example>",
                "--dkim-key",
            ])
            .arg(&key)
            .args(["--dkim-selector", "s2026", "--dkim-domain", "shop.example"])
            .output()
            .await
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Not over an existing key.
        let again = skymailing(d)
            .args([
                "dkim-keygen",
                "--domain",
                "shop.example",
                "--selector",
                "s2026",
                "--out",
            ])
            .arg(&key)
            .output()
            .await
            .unwrap();
        assert_eq!(again.status.code(), Some(2));
    }
    let key = d.join("rsa.pem");
    let key = key.to_str().unwrap();
    fails_with(
        d,
        &[
            "migrate",
            "--from",
            "news@other.example",
            "--dkim-key",
            key,
            "--dkim-selector",
            "s2026",
            "--dkim-domain",
            "shop.example",
        ],
        "--dkim-domain",
    )
    .await;
    std::fs::write(d.join("junk.pem"), "not a key").unwrap();
    let junk = d.join("junk.pem");
    fails_with(
        d,
        &[
            "migrate",
            "--from",
            "news@shop.example",
            "--dkim-key",
            junk.to_str().unwrap(),
            "--dkim-selector",
            "s2026",
            "--dkim-domain",
            "shop.example",
        ],
        "--dkim-key",
    )
    .await;
    fails_with(
        d,
        &[
            "migrate",
            "--from",
            "news@shop.example",
            "--dkim-key",
            "/nonexistent.pem",
            "--dkim-selector",
            "s2026",
            "--dkim-domain",
            "shop.example",
        ],
        "--dkim-key",
    )
    .await;
}

/// Without `--secret` the pages' CSRF key is kept in the database: a form
/// opened before a restart is still taken after it.
#[tokio::test]
async fn open_forms_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (child, addr) = start(dir.path(), &[]).await;
    let page = http_get(&addr, "/signin").await;
    let cookie = page
        .lines()
        .filter_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))
        })
        .find(|c| c.starts_with("sky_csrf="))
        .and_then(|c| c.split(';').next())
        .expect("the CSRF cookie")
        .to_owned();
    let at = page
        .find("name=\"csrf_token\" value=\"")
        .expect("a CSRF field")
        + 25;
    let token = page[at..at + page[at..].find('"').unwrap()]
        .replace("&#43;", "+")
        .replace("&#47;", "/")
        .replace("&#61;", "=");
    stops_cleanly_on_sigterm(child).await;

    let (child, addr) = start(dir.path(), &[]).await;
    let body = serde_urlencoded::to_string([
        ("email", "nobody@example.com"),
        ("password", "wrong password"),
        ("next", "/"),
        ("csrf_token", token.as_str()),
    ])
    .unwrap();
    let answer = http_post(
        &addr,
        "/signin",
        &format!("Cookie: {cookie}\r\n"),
        "application/x-www-form-urlencoded",
        &body,
    )
    .await;
    let status = answer.lines().next().unwrap_or_default().to_owned();
    assert!(
        !status.contains(" 403 "),
        "the form from before the restart was refused: {answer}"
    );
    assert!(
        status.contains(" 200 ") || status.contains(" 401 "),
        "{answer}"
    );
    stops_cleanly_on_sigterm(child).await;
}

/// `skymailing backup FILE` copies the SQLite database while the server
/// runs; after a clean stop the database file alone holds everything (the
/// write-ahead log is checkpointed into it).
#[tokio::test]
async fn backup_while_serving_and_the_file_alone_after_a_stop() {
    use skymailing_core::ports::UserStore;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (child, addr) = start(d, &[]).await;
    let body = r#"{"email":"ann@example.com","password":"correct horse","name":"Ann"}"#;
    let answer = http_post(&addr, "/api/v1/auth/register", "", "application/json", body).await;
    assert!(answer.contains(" 202 "), "{answer}");

    let out = skymailing(d)
        .args(["backup", "copy.db"])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again = skymailing(d)
        .args(["backup", "copy.db"])
        .output()
        .await
        .unwrap();
    assert_eq!(again.status.code(), Some(2), "never over an existing file");
    stops_cleanly_on_sigterm(child).await;

    let wal = d.join("skymailing.db-wal");
    assert!(
        !wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0,
        "the log was checkpointed into the file"
    );
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::copy(d.join("skymailing.db"), elsewhere.path().join("moved.db")).unwrap();
    for file in [elsewhere.path().join("moved.db"), d.join("copy.db")] {
        let db = skymailing_store_sqlite::SqliteStore::open(&file)
            .await
            .unwrap();
        let ann = skymailing_core::EmailAddress::parse("ann@example.com").unwrap();
        assert!(
            db.user_by_email(&ann).await.unwrap().is_some(),
            "{} holds the account",
            file.display()
        );
    }
}

/// The curl walk-through of `docs/api.md`, pasted as one block into a shell
/// beside the shipped binary, runs to its end: sign-up, verification, an
/// import, a preview and a mailing by tag that reaches both tagged clients.
#[tokio::test]
async fn the_curl_walkthrough_in_the_api_docs_runs_as_written() {
    let missing: Vec<&str> = ["bash", "curl", "jq"]
        .into_iter()
        .filter(|tool| {
            std::process::Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .map_or(true, |o| !o.status.success())
        })
        .collect();
    if !missing.is_empty() {
        assert!(
            std::env::var("CI").is_err(),
            "the API walk-through needs {missing:?} (CI has them)"
        );
        eprintln!("SKIPPED: the API walk-through needs {missing:?}");
        return;
    }
    let doc = include_str!("../../../docs/api.md");
    let section = &doc[doc
        .find("## A worked example with curl")
        .expect("the section")..];
    let at = section.find("```sh\n").expect("a sh block") + 6;
    let script = &section[at..at + section[at..].find("\n```").unwrap()];
    let dir = tempfile::tempdir().unwrap();
    let (child, addr) = start(dir.path(), &[]).await;
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        Command::new("bash")
            .args(["-c", script])
            .current_dir(dir.path())
            .env("API", format!("http://{addr}/api/v1"))
            .output(),
    )
    .await
    .expect("the walk-through ends within a minute")
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the walk-through failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("\"created\":1"), "{stdout}");
    assert!(stdout.contains("Hello Bob!"), "{stdout}");
    assert!(stdout.contains("\"sent\": 2"), "{stdout}");
    stops_cleanly_on_sigterm(child).await;
}

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

async fn wait_for<T>(what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    for _ in 0..300 {
        if let Some(v) = f().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

mod on_pg {
    use super::*;

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

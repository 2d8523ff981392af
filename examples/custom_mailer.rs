//! Plugging in a custom `Mailer`: this one hands each email to an HTTP API as
//! JSON (the way transactional-mail services take them) and maps the answer to
//! SkyMailing's error classes, so retries and reports work as with SMTP:
//! 2xx sent; 4xx (but 429) permanent; 429 and 5xx transient; no answer: a
//! connection error. The example starts a small stand-in for the API itself.
//!
//! `cargo run -p skymailing-examples --example custom_mailer`

use std::sync::Arc;

use skymailing_core::async_trait;
use skymailing_core::chrono::{self, Utc};
use skymailing_core::engine::EngineConfig;
use skymailing_core::policy::Actor;
use skymailing_core::ports::{Mailer, OutgoingEmail, SendError};
use skymailing_core::{ClientDraft, MailingDraft, MessageDraft, Periodicity, SkyMailing};
use skymailing_store_sqlite::SqliteStore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

type AnyError = Box<dyn std::error::Error + Send + Sync>;

/// Posts each email to `http://{addr}/messages`.
struct HttpApiMailer {
    addr: std::net::SocketAddr,
}

#[async_trait]
impl Mailer for HttpApiMailer {
    async fn send(&self, email: &OutgoingEmail) -> Result<String, SendError> {
        let body = serde_json::json!({
            "to": email.to.as_str(), "to_name": email.to_name, "subject": email.subject,
            "text": email.text, "html": email.html, "message_id": email.message_id,
            "unsubscribe_url": email.unsubscribe_url,
        })
        .to_string();
        let request = format!(
            "POST /messages HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        let io = |e: std::io::Error| SendError::Connection {
            detail: e.to_string(),
        };
        let mut stream = TcpStream::connect(self.addr).await.map_err(io)?;
        stream.write_all(request.as_bytes()).await.map_err(io)?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.map_err(io)?;
        let status_line = answer.lines().next().unwrap_or_default().to_owned();
        let code: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        match code {
            200..=299 => Ok(status_line),
            429 | 500..=599 => Err(SendError::Transient { reply: status_line }),
            400..=499 => Err(SendError::Permanent { reply: status_line }),
            _ => Err(SendError::Connection {
                detail: format!("unexpected answer: {status_line}"),
            }),
        }
    }
}

/// A stand-in for the API: accepts every message but those to `nobody@`.
async fn fake_api() -> Result<
    (
        std::net::SocketAddr,
        Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
    ),
    AnyError,
> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let received = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = received.clone();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // Read the head, then the body by Content-Length.
                let (head_end, length) = loop {
                    let n = conn.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf);
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length = text[..end]
                            .lines()
                            .find_map(|l| l.strip_prefix("Content-Length: "))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        break (end + 4, length);
                    }
                };
                while buf.len() < head_end + length {
                    let n = conn.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let json: serde_json::Value =
                    serde_json::from_slice(&buf[head_end..]).unwrap_or_default();
                let status = if json["to"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("nobody@"))
                {
                    "422 Unprocessable Entity"
                } else {
                    log.lock().unwrap().push(json);
                    "202 Accepted"
                };
                let _ = conn
                    .write_all(format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n").as_bytes())
                    .await;
            });
        }
    });
    Ok((addr, received))
}

#[cfg_attr(test, allow(dead_code))]
#[tokio::main]
async fn main() -> Result<(), AnyError> {
    let dir = tempfile::tempdir()?;
    run(dir.path()).await
}

async fn run(dir: &std::path::Path) -> Result<(), AnyError> {
    let (addr, received) = fake_api().await?;
    let mailer = Arc::new(HttpApiMailer { addr });
    let store = Arc::new(SqliteStore::open(dir.join("mailings.db")).await?);
    let app = SkyMailing::builder(store).mailer(mailer.clone()).build()?;
    let engine = app.engine(mailer, EngineConfig::default());

    let owner = app
        .accounts
        .ensure_admin("owner@shop.example", "a long password", "Shop")
        .await?;
    let me = Actor::user(owner.id, owner.role);
    let ann = app
        .clients
        .create(me, &ClientDraft::parse("ann@example.com", "Ann", "")?)
        .await?;
    let nobody = app
        .clients
        .create(me, &ClientDraft::parse("nobody@example.com", "Nobody", "")?)
        .await?;
    let message = app
        .messages
        .create(
            me,
            &MessageDraft::parse("Hi {{ name }}", "Hello {{ name }}", None)?,
        )
        .await?;
    let now = Utc::now();
    let draft = MailingDraft::new(
        "API test",
        message.id,
        vec![ann.id, nobody.id],
        now,
        now + chrono::Duration::hours(1),
        Periodicity::Once,
    )?;
    app.mailings.create(me, &draft).await?;

    // One round does it all here: schedule, send, report.
    engine.round().await?;
    let run = app
        .logs
        .list(me, &Default::default())
        .await?
        .items
        .remove(0);
    println!(
        "report: {}",
        run.report
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default()
    );
    assert_eq!(
        run.report.as_ref().map(ToString::to_string).as_deref(),
        Some("Sent 1 of 2; 1 failed: HTTP/1.1 422 Unprocessable Entity ×1")
    );
    let got = received.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["subject"], "Hi Ann");
    Ok(())
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn example_runs() {
        let dir = tempfile::tempdir().unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(30), super::run(dir.path()))
            .await
            .unwrap()
            .unwrap();
    }
}

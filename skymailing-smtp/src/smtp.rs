//! The SMTP transport: lettre's SMTP client over tokio and rustls, with a
//! connection pool of our own.
//!
//! Why not lettre's pool: lettre writes a message's body and its closing
//! `CRLF.CRLF` in two writes, and its own sockets leave Nagle's algorithm on, so
//! each message waits for the server's delayed ACK (~40 ms) — about 25 messages
//! a second per connection on loopback. Here plain and STARTTLS connections are
//! opened by us with `TCP_NODELAY` and handed to lettre's client
//! (`AsyncSmtpConnection::connect_with_transport`). Implicit TLS (`smtps://`)
//! still uses lettre's own connect.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use lettre::address::Envelope;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use skymailing_core::ports::{Mailer, OutgoingEmail, SendError};
use tokio::sync::Semaphore;

use crate::message::compose;
use crate::{ConfigError, DkimSigner};

/// How to reach the relay.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    /// `smtp://[user:pass@]host[:port][?tls=required|opportunistic|none]` (port
    /// 25; STARTTLS whenever the relay offers it, unverified, by default;
    /// `required` verifies the certificate and insists; `none` never encrypts;
    /// with a password and no `tls`, `required`) or `smtps://[user:pass@]host[:port]`
    /// (port 465, implicit TLS). Credentials are used with AUTH PLAIN or LOGIN,
    /// whichever the relay offers.
    pub url: String,
    /// The From mailbox.
    pub from: Mailbox,
    /// Connections kept open and reused (also the most used at once).
    pub pool_size: u32,
    /// Timeout of connecting and of each SMTP command.
    pub timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tls {
    None,
    Opportunistic,
    Starttls,
    Implicit,
}

#[derive(Clone)]
struct Target {
    host: String,
    port: u16,
    tls: Tls,
    credentials: Option<Credentials>,
}

fn parse_url(raw: &str) -> Result<Target, ConfigError> {
    let bad = |why: &str| ConfigError::Url(raw.to_owned(), why.to_owned());
    let url = url::Url::parse(raw).map_err(|e| bad(&e.to_string()))?;
    let implicit = match url.scheme() {
        "smtp" => false,
        "smtps" => true,
        _ => return Err(ConfigError::Scheme(raw.to_owned())),
    };
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| bad("no host"))?;
    let host = host.trim_matches(['[', ']']).to_owned();
    let mut tls = None;
    for (k, v) in url.query_pairs() {
        match (k.as_ref(), v.as_ref(), implicit) {
            ("tls", "required", false) => tls = Some(Tls::Starttls),
            ("tls", "opportunistic", false) => tls = Some(Tls::Opportunistic),
            ("tls", "none", false) => tls = Some(Tls::None),
            _ => return Err(bad(&format!("unknown parameter {k}={v}"))),
        }
    }
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let credentials = (!url.username().is_empty()).then(|| {
        Credentials::new(
            decode(url.username()),
            decode(url.password().unwrap_or_default()),
        )
    });
    // A password never travels in clear unless the URL says `tls=none`; with
    // no password, mail is still encrypted whenever the relay offers it.
    let tls = match (implicit, tls, &credentials) {
        (true, _, _) => Tls::Implicit,
        (false, Some(tls), _) => tls,
        (false, None, Some(_)) => Tls::Starttls,
        (false, None, None) => Tls::Opportunistic,
    };
    Ok(Target {
        host,
        port: url.port().unwrap_or(if implicit { 465 } else { 25 }),
        tls,
        credentials,
    })
}

/// Idle connections older than this are closed rather than reused.
const MAX_IDLE: Duration = Duration::from_secs(30);

/// Sends through an SMTP relay over a pool of reused connections.
pub struct SmtpMailer {
    target: Target,
    from: Mailbox,
    timeout: Duration,
    hello: ClientId,
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
    slots: Semaphore,
    dkim: Option<Arc<DkimSigner>>,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("host", &self.target.host)
            .field("port", &self.target.port)
            .field("tls", &self.target.tls)
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

impl SmtpMailer {
    /// Checks the URL; no connection is made until the first send.
    pub fn new(config: &SmtpConfig) -> Result<Self, ConfigError> {
        Ok(SmtpMailer {
            target: parse_url(&config.url)?,
            from: config.from.clone(),
            timeout: config.timeout,
            hello: ClientId::default(),
            idle: Mutex::new(Vec::new()),
            slots: Semaphore::new(config.pool_size.max(1) as usize),
            dkim: None,
        })
    }

    /// Signs every message it sends with this DKIM signer.
    pub fn with_dkim(mut self, dkim: Option<Arc<DkimSigner>>) -> Self {
        self.dkim = dkim;
        self
    }

    /// Opens a connection: TCP, greeting, STARTTLS, AUTH — all within the timeout.
    /// A failure here says nothing about the recipient, so it is never
    /// permanent: a 5xx to AUTH (a rotated password, say) is retried like a
    /// dropped connection, while the operator fixes it.
    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let opened = tokio::time::timeout(self.timeout, self.open())
            .await
            .unwrap_or_else(|_| {
                Err(SendError::Connection {
                    detail: format!("no session within {} s", self.timeout.as_secs()),
                })
            });
        opened.map_err(|e| match e {
            SendError::Permanent { reply } => SendError::Connection {
                detail: format!("the relay refused the session: {reply}"),
            },
            other => other,
        })
    }

    async fn open(&self) -> Result<AsyncSmtpConnection, SendError> {
        let t = &self.target;
        let lettre = |e: lettre::transport::smtp::Error| classify(&e);
        let io = |e: std::io::Error| SendError::Connection {
            detail: format!("connecting to {}:{}: {e}", t.host, t.port),
        };
        let tls = || TlsParameters::new(t.host.clone()).map_err(lettre);
        // Opportunistic STARTTLS encrypts without checking the relay's
        // certificate, as MTAs do (many relays, Debian's stock Postfix among
        // them, offer a self-signed one): better than clear text, and only
        // `tls=required` (or implicit TLS) insists on a verified certificate.
        let unverified = || {
            TlsParameters::builder(t.host.clone())
                .dangerous_accept_invalid_certs(true)
                .dangerous_accept_invalid_hostnames(true)
                .build_rustls()
                .map_err(lettre)
        };
        let mut conn = if t.tls == Tls::Implicit {
            AsyncSmtpConnection::connect_tokio1(
                (t.host.as_str(), t.port),
                Some(self.timeout),
                &self.hello,
                Some(tls()?),
                None,
            )
            .await
            .map_err(lettre)?
        } else {
            let stream = tokio::time::timeout(
                self.timeout,
                tokio::net::TcpStream::connect((t.host.as_str(), t.port)),
            )
            .await
            .map_err(|_| {
                io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "timed out",
                ))
            })?
            .map_err(io)?;
            stream.set_nodelay(true).map_err(io)?;
            let mut conn = tokio::time::timeout(
                self.timeout,
                AsyncSmtpConnection::connect_with_transport(Box::new(stream), &self.hello),
            )
            .await
            .map_err(|_| {
                io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "no greeting",
                ))
            })?
            .map_err(lettre)?;
            if t.tls == Tls::Starttls {
                conn.starttls(tls()?, &self.hello).await.map_err(lettre)?;
            } else if t.tls == Tls::Opportunistic && conn.can_starttls() {
                conn.starttls(unverified()?, &self.hello)
                    .await
                    .map_err(lettre)?;
            }
            conn
        };
        if let Some(credentials) = &t.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await
                .map_err(lettre)?;
        }
        Ok(conn)
    }

    async fn checkout(&self) -> Result<AsyncSmtpConnection, SendError> {
        // Relays close idle sessions after a while: an old one is not trusted.
        let idle = self.idle.lock().expect("smtp pool").pop();
        match idle {
            Some((conn, since)) if !conn.has_broken() && since.elapsed() < MAX_IDLE => Ok(conn),
            _ => self.connect().await,
        }
    }

    /// Checks that the relay answers (connect, greeting, NOOP).
    pub async fn check(&self) -> Result<(), SendError> {
        let _slot = self.slots.acquire().await.expect("semaphore open");
        let mut conn = self.checkout().await?;
        if conn.test_connected().await {
            self.idle
                .lock()
                .expect("smtp pool")
                .push((conn, Instant::now()));
            Ok(())
        } else {
            Err(SendError::Connection {
                detail: "the relay did not answer NOOP".into(),
            })
        }
    }
}

/// The relay's words, without lettre's prefix.
fn reply_text(e: &lettre::transport::smtp::Error) -> String {
    let detail = std::error::Error::source(e)
        .map(ToString::to_string)
        .unwrap_or_default();
    match e.status() {
        Some(code) if detail.is_empty() => code.to_string(),
        Some(code) => format!("{code} {detail}"),
        None => e.to_string(),
    }
}

/// 5xx: permanent; 4xx: transient; lettre refusing the message itself (an
/// address needing SMTPUTF8 the relay lacks): permanent; anything else without a
/// reply code (refused or dropped connection, timeout, TLS failure): a
/// connection error, retried.
fn classify(e: &lettre::transport::smtp::Error) -> SendError {
    if e.is_permanent() || e.is_client() {
        SendError::Permanent {
            reply: reply_text(e),
        }
    } else if e.is_transient() {
        SendError::Transient {
            reply: reply_text(e),
        }
    } else {
        SendError::Connection {
            detail: e.to_string(),
        }
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, email: &OutgoingEmail) -> Result<String, SendError> {
        let message = match &self.dkim {
            // RSA signing is what limits a signing worker: made on the
            // blocking pool, so sends in flight are not held up behind it and
            // signing uses every core even on a one-thread runtime
            // (bench-delivery: 474 → 672 msg/s on 2 cores). Ed25519 stays
            // inline (3,774 msg/s inline against 3,117 on the pool).
            Some(dkim) if dkim.algorithm() == crate::DkimAlgorithm::Rsa => {
                let (email, from, dkim) = (email.clone(), self.from.clone(), dkim.clone());
                tokio::task::spawn_blocking(move || compose(&email, &from, Some(&dkim)))
                    .await
                    .map_err(|e| SendError::Permanent {
                        reply: format!("signing the message failed: {e}"),
                    })??
            }
            dkim => compose(email, &self.from, dkim.as_deref())?,
        };
        let raw = message.formatted();
        // Bounces go to the delivery's own return path (VERP), when it has one.
        let envelope = match &email.return_path {
            Some(path) => {
                let sender = path.as_str().parse().map_err(|e| SendError::Permanent {
                    reply: format!("cannot use the return path {path}: {e}"),
                })?;
                Envelope::new(Some(sender), message.envelope().to().to_vec()).map_err(|e| {
                    SendError::Permanent {
                        reply: format!("cannot build the envelope: {e}"),
                    }
                })?
            }
            None => message.envelope().clone(),
        };
        let _slot = self.slots.acquire().await.expect("semaphore open");
        let mut conn = self.checkout().await?;
        let sent = tokio::time::timeout(self.timeout, conn.send(&envelope, &raw)).await;
        match sent {
            Ok(Ok(response)) => {
                self.idle
                    .lock()
                    .expect("smtp pool")
                    .push((conn, Instant::now()));
                let text: Vec<&str> = response.message().collect();
                Ok(format!("{} {}", response.code(), text.join(" "))
                    .trim()
                    .to_owned())
            }
            // lettre closes a connection after any failed command: it is not reused.
            Ok(Err(e)) => Err(classify(&e)),
            Err(_) => Err(SendError::Connection {
                detail: format!("no answer within {} s", self.timeout.as_secs()),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_host_port_tls_and_credentials() {
        let t = parse_url("smtp://relay.example").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.tls, t.credentials.is_none()),
            ("relay.example", 25, Tls::Opportunistic, true)
        );
        let t = parse_url("smtp://user%40x:p%3Ass+w@relay.example:587").unwrap();
        assert_eq!((t.port, t.tls), (587, Tls::Starttls));
        assert_eq!(
            t.credentials.unwrap(),
            Credentials::new("user@x".into(), "p:ss+w".into()),
            "percent-decoded; a plus stays a plus"
        );
        let t = parse_url("smtps://relay.example").unwrap();
        assert_eq!((t.port, t.tls), (465, Tls::Implicit));
        assert_eq!(
            parse_url("smtp://relay.example?tls=opportunistic")
                .unwrap()
                .tls,
            Tls::Opportunistic
        );
        assert!(parse_url("smtp://relay.example?tls=maybe").is_err());
        // With a password, plain text only when asked for.
        assert_eq!(
            parse_url("smtp://u:p@relay.example?tls=none").unwrap().tls,
            Tls::None
        );
        assert!(parse_url("http://relay.example").is_err());
        assert!(parse_url("smtp://").is_err());
    }
}

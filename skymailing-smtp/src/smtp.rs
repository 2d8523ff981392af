//! The SMTP transport: lettre's async pool over tokio and rustls.

use std::time::Duration;

use async_trait::async_trait;
use lettre::message::Mailbox;
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use skymailing_core::ports::{Mailer, OutgoingEmail, SendError};

use crate::{ConfigError, build_message};

/// How to reach the relay.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    /// `smtp://[user:pass@]host[:port][?tls=required|opportunistic]` or
    /// `smtps://[user:pass@]host[:port]` (implicit TLS). Credentials are used
    /// with AUTH PLAIN or LOGIN, whichever the relay offers.
    pub url: String,
    /// The From mailbox.
    pub from: Mailbox,
    /// Connections kept open and reused.
    pub pool_size: u32,
    /// Timeout of each SMTP command (and of connecting).
    pub timeout: Duration,
}

/// Sends through an SMTP relay, reusing up to `pool_size` connections.
#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

impl SmtpMailer {
    /// Builds the transport (no connection is made until the first send).
    pub fn new(config: &SmtpConfig) -> Result<Self, ConfigError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&config.url)?
            .timeout(Some(config.timeout))
            .pool_config(
                PoolConfig::new()
                    .max_size(config.pool_size.max(1))
                    .idle_timeout(Duration::from_secs(60)),
            )
            .build();
        Ok(SmtpMailer {
            transport,
            from: config.from.clone(),
        })
    }

    /// Checks that the relay answers (an SMTP NOOP).
    pub async fn check(&self) -> Result<(), SendError> {
        match self.transport.test_connection().await {
            Ok(true) => Ok(()),
            Ok(false) => Err(SendError::Connection {
                detail: "the relay did not answer NOOP".into(),
            }),
            Err(e) => Err(classify(&e)),
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

/// 5xx: permanent; 4xx: transient; anything without a reply code (refused or
/// dropped connection, timeout, TLS failure): a connection error, retried.
fn classify(e: &lettre::transport::smtp::Error) -> SendError {
    if e.is_permanent() {
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
        let message = build_message(email, &self.from)?;
        match self.transport.send(message).await {
            Ok(response) => {
                let text: Vec<&str> = response.message().collect();
                Ok(format!("{} {}", response.code(), text.join(" "))
                    .trim()
                    .to_owned())
            }
            Err(e) => Err(classify(&e)),
        }
    }
}

//! # skymailing-smtp
//!
//! Mail transports behind core's `Mailer` port:
//!
//! - [`SmtpMailer`]: a pool of SMTP connections (lettre, rustls) configured from
//!   one URL — `smtp://host:25`, `smtp://user:pass@host:587?tls=required`
//!   (STARTTLS), `smtps://user:pass@host:465` (implicit TLS) — with timeouts and
//!   error classification (5xx permanent, 4xx transient, no reply: connection);
//! - [`Outbox`]: the development transport, which writes each message as an
//!   `.eml` file into a folder and lists them back;
//! - [`RateLimited`]: a global messages-per-second cap around any mailer;
//! - [`build_message`]: the MIME message for an email, shared by both transports;
//! - [`DkimSigner`]: DKIM signatures (RSA or Ed25519) on everything either sends.
//!
//! [`mailer_from_url`] picks one from a URL (`outbox:DIR`, `smtp://`, `smtps://`).

mod bounce;
mod dkim;
mod message;
mod outbox;
mod rate;
mod smtp;
#[cfg(feature = "test-server")]
pub mod testing;

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

pub use bounce::{
    LINE_TIMEOUT, MAX_REPORT_BYTES, ReportSink, SESSION_TIMEOUT, parse_report,
    start_bounce_listener,
};
pub use dkim::{DkimAlgorithm, DkimError, DkimSigner, GeneratedKey, SIGNED_HEADERS, generate_key};
pub use lettre::message::Mailbox;
pub use message::build_message;
pub use outbox::{Outbox, OutboxEntry};
pub use rate::RateLimited;
use skymailing_core::ports::Mailer;
pub use smtp::{SmtpConfig, SmtpMailer};

/// A mail URL or sender that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The URL's scheme is none of `outbox:`, `smtp://`, `smtps://`.
    #[error("unsupported mail URL `{0}`: use outbox:DIR, smtp://host:port or smtps://host:port")]
    Scheme(String),
    /// The SMTP URL does not parse.
    #[error("invalid SMTP URL `{0}`: {1}")]
    Url(String, String),
    /// The From address does not parse.
    #[error("invalid From address `{0}`: {1}")]
    From(String, String),
    /// The outbox folder cannot be created.
    #[error("cannot use the outbox folder: {0}")]
    Outbox(#[from] std::io::Error),
}

/// Parses a From mailbox such as `SkyMailing <news@example.com>`.
pub fn parse_from(from: &str) -> Result<Mailbox, ConfigError> {
    from.parse::<Mailbox>()
        .map_err(|e| ConfigError::From(from.to_owned(), e.to_string()))
}

/// Settings shared by every transport a URL can name.
#[derive(Debug, Clone)]
pub struct TransportOptions {
    /// The From mailbox.
    pub from: Mailbox,
    /// SMTP connections kept open.
    pub pool_size: u32,
    /// SMTP command timeout.
    pub timeout: Duration,
    /// Optional global cap, messages per second.
    pub rate_limit: Option<NonZeroU32>,
    /// Signs every message, when set.
    pub dkim: Option<Arc<DkimSigner>>,
}

/// Builds the mailer a URL names: `outbox:DIR` (or `outbox:` for `./outbox`),
/// `smtp://…` or `smtps://…`, wrapped in a [`RateLimited`] if a cap is set.
pub async fn mailer_from_url(
    url: &str,
    options: &TransportOptions,
) -> Result<Arc<dyn Mailer>, ConfigError> {
    let mailer: Arc<dyn Mailer> = if let Some(dir) = url.strip_prefix("outbox:") {
        let dir = if dir.is_empty() { "outbox" } else { dir };
        Arc::new(
            Outbox::open(dir, options.from.clone())
                .await?
                .with_dkim(options.dkim.clone()),
        )
    } else if url.starts_with("smtp://") || url.starts_with("smtps://") {
        Arc::new(
            SmtpMailer::new(&SmtpConfig {
                url: url.to_owned(),
                from: options.from.clone(),
                pool_size: options.pool_size,
                timeout: options.timeout,
            })?
            .with_dkim(options.dkim.clone()),
        )
    } else {
        return Err(ConfigError::Scheme(url.to_owned()));
    };
    Ok(match options.rate_limit {
        Some(per_second) => Arc::new(RateLimited::new(mailer, per_second)),
        None => mailer,
    })
}

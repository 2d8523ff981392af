//! The development transport: each message is written as an `.eml` file into
//! a folder, and can be listed back (the server's outbox page shows them, so a
//! new user can click their own verification link).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use lettre::message::Mailbox;
use skymailing_core::ports::{Mailer, OutgoingEmail, SendError};

use crate::DkimSigner;
use crate::message::compose;

/// A folder of `.eml` files.
#[derive(Debug)]
pub struct Outbox {
    dir: PathBuf,
    from: Mailbox,
    dkim: Option<Arc<DkimSigner>>,
    seq: AtomicU64,
}

/// One message in the outbox, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// File name (`<millis>-<seq>.eml`): the id to read it by.
    pub file: String,
    /// When it was written.
    pub written_at: DateTime<Utc>,
    /// Recipient addresses.
    pub to: Vec<String>,
    /// Decoded subject.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body, if any.
    pub html: Option<String>,
}

impl Outbox {
    /// Opens (creating) the folder.
    pub async fn open(dir: impl AsRef<Path>, from: Mailbox) -> std::io::Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        tokio::fs::create_dir_all(&dir).await?;
        Ok(Outbox {
            dir,
            from,
            dkim: None,
            seq: AtomicU64::new(0),
        })
    }

    /// Signs every message it writes with this DKIM signer.
    pub fn with_dkim(mut self, dkim: Option<Arc<DkimSigner>>) -> Self {
        self.dkim = dkim;
        self
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The newest `limit` messages, newest first.
    pub async fn list(&self, limit: usize) -> std::io::Result<Vec<OutboxEntry>> {
        let mut names = Vec::new();
        let mut dir = tokio::fs::read_dir(&self.dir).await?;
        while let Some(entry) = dir.next_entry().await? {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".eml") {
                names.push(name);
            }
        }
        // Names start with a zero-padded timestamp and sequence: they sort by time.
        names.sort_unstable_by(|a, b| b.cmp(a));
        let mut out = Vec::new();
        for name in names.into_iter().take(limit) {
            if let Some(entry) = self.read(&name).await? {
                out.push(entry);
            }
        }
        Ok(out)
    }

    /// One message by file name (names outside the folder are refused).
    pub async fn read(&self, file: &str) -> std::io::Result<Option<OutboxEntry>> {
        if file.contains(['/', '\\']) || file.starts_with('.') || !file.ends_with(".eml") {
            return Ok(None);
        }
        let raw = match tokio::fs::read(self.dir.join(file)).await {
            Ok(raw) => raw,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(m) = mail_parser::MessageParser::default().parse(&raw) else {
            return Ok(None);
        };
        let millis: i64 = file
            .split('-')
            .next()
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        Ok(Some(OutboxEntry {
            file: file.to_owned(),
            written_at: DateTime::from_timestamp_millis(millis).unwrap_or_default(),
            to: m
                .to()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.address().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            subject: m.subject().unwrap_or_default().to_owned(),
            text: m.body_text(0).map(|t| t.into_owned()).unwrap_or_default(),
            html: m.body_html(0).map(|h| h.into_owned()),
        }))
    }
}

#[async_trait]
impl Mailer for Outbox {
    async fn send(&self, email: &OutgoingEmail) -> Result<String, SendError> {
        let mut raw = compose(email, &self.from, self.dkim.as_deref())?.formatted();
        // What the final MTA would add: the envelope sender, where bounces go.
        if let Some(path) = &email.return_path {
            let mut with = format!("Return-Path: <{path}>\r\n").into_bytes();
            with.append(&mut raw);
            raw = with;
        }
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let name = format!(
            "{:013}-{:06}-{}.eml",
            Utc::now().timestamp_millis(),
            seq % 1_000_000,
            std::process::id()
        );
        // Write then rename, so a reader never sees half a message.
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let io = |e: std::io::Error| SendError::Connection {
            detail: format!("writing to the outbox: {e}"),
        };
        tokio::fs::write(&tmp, &raw).await.map_err(io)?;
        tokio::fs::rename(&tmp, self.dir.join(&name))
            .await
            .map_err(io)?;
        Ok(format!("250 written to the outbox as {name}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skymailing_core::EmailAddress;

    fn email(to: &str, subject: &str) -> OutgoingEmail {
        OutgoingEmail {
            to: EmailAddress::parse(to).unwrap(),
            to_name: "Ann".into(),
            from_name: None,
            reply_to: None,
            subject: subject.into(),
            text: "Follow https://x.example/verify?token=abc".into(),
            html: None,
            message_id: "<1@x.example>".into(),
            unsubscribe_url: None,
            return_path: None,
            feedback_id: None,
        }
    }

    #[tokio::test]
    async fn messages_are_written_and_listed_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(
            dir.path().join("outbox"),
            "SkyMailing <no-reply@x.example>".parse().unwrap(),
        )
        .await
        .unwrap();
        outbox.send(&email("a@example.com", "First")).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let reply = outbox
            .send(&email("b@example.com", "Второе"))
            .await
            .unwrap();
        assert!(reply.starts_with("250 "));
        let list = outbox.list(10).await.unwrap();
        assert_eq!(
            list.iter().map(|e| e.subject.as_str()).collect::<Vec<_>>(),
            vec!["Второе", "First"]
        );
        assert_eq!(list[0].to, vec!["b@example.com"]);
        assert!(list[1].text.contains("token=abc"));
        assert_eq!(outbox.read(&list[1].file).await.unwrap().unwrap(), list[1]);
        assert_eq!(outbox.read("../etc/passwd.eml").await.unwrap(), None);
        assert_eq!(outbox.list(1).await.unwrap().len(), 1);
    }
}

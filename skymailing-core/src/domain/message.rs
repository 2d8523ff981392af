//! Messages: a subject and bodies, shared by all signed-in users; the bodies are
//! templates rendered per recipient.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{MessageId, Templates, UserId, bounded_text, single_line};
use crate::Error;

/// A message as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    /// Identity.
    pub id: MessageId,
    /// Who wrote it (may edit and delete it).
    pub owner: UserId,
    /// Subject template (one line).
    pub subject: String,
    /// Plain-text body template.
    pub body_text: String,
    /// Optional HTML body template (values are HTML-escaped when rendered).
    pub body_html: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// Validated fields of a message to create or update; every template compiles
/// and uses only known placeholders.
///
/// Built only by its validating constructor (`#[non_exhaustive]`); the use
/// cases validate it again (`revalidated`), so a draft whose public fields
/// were changed after it was built is refused like bad input, not stored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MessageDraft {
    /// Subject template.
    pub subject: String,
    /// Text body template.
    pub body_text: String,
    /// HTML body template.
    pub body_html: Option<String>,
}

impl MessageDraft {
    /// Longest body accepted, in characters.
    pub const MAX_BODY: usize = 200_000;

    /// Validates the fields; a template error names the field, line and column.
    ///
    /// ```
    /// use skymailing_core::MessageDraft;
    /// let err = MessageDraft::parse("Hi", "Dear {{ name ", None).unwrap_err();
    /// assert_eq!(err.field(), Some("body_text"));
    /// assert!(err.to_string().contains("line 1"));
    /// ```
    pub fn parse(subject: &str, body_text: &str, body_html: Option<&str>) -> Result<Self, Error> {
        let mut c = crate::Checks::default();
        let subject = c.check(single_line("subject", subject, 250).and_then(|s| {
            Templates::check("subject", &s)?;
            Ok(s)
        }));
        let body_text = c.check(
            bounded_text("body_text", body_text, Self::MAX_BODY, true).and_then(|b| {
                Templates::check("body_text", &b)?;
                Ok(b)
            }),
        );
        let body_html = match body_html.filter(|h| !h.trim().is_empty()) {
            Some(h) => c
                .check(
                    bounded_text("body_html", h, Self::MAX_BODY, true).and_then(|h| {
                        Templates::check("body_html", &h)?;
                        Ok(h)
                    }),
                )
                .map(Some),
            None => Some(None),
        };
        c.finish()?;
        match (subject, body_text, body_html) {
            (Some(subject), Some(body_text), Some(body_html)) => Ok(MessageDraft {
                subject,
                body_text,
                body_html,
            }),
            _ => Err(Error::Internal("a checked field has no value".into())),
        }
    }

    /// The same fields, validated again.
    pub fn revalidated(&self) -> Result<Self, Error> {
        Self::parse(&self.subject, &self.body_text, self.body_html.as_deref())
    }
}

//! Clients: the recipients a user keeps, private to them.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{ClientId, EmailAddress, UserId, bounded_text, single_line};
use crate::Error;

/// A recipient kept by one owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Client {
    /// Identity.
    pub id: ClientId,
    /// The user who keeps this client.
    pub owner: UserId,
    /// Address, unique per owner.
    pub email: EmailAddress,
    /// Full name, used in greetings.
    pub full_name: String,
    /// Free text for the owner.
    pub comment: String,
    /// Set when the recipient followed an unsubscribe link; only they can clear it.
    pub unsubscribed_at: Option<DateTime<Utc>>,
    /// Secret in each email's unsubscribe link; never shown to the owner.
    #[serde(skip)]
    pub unsubscribe_token: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// Validated fields of a client to create or update.
///
/// Built only by its validating constructor (`#[non_exhaustive]`); the use
/// cases validate it again (`revalidated`), so a draft whose public fields
/// were changed after it was built is refused like bad input, not stored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientDraft {
    /// Address.
    pub email: EmailAddress,
    /// Full name (1..=200 characters).
    pub full_name: String,
    /// Comment (up to 2000 characters, may be empty).
    pub comment: String,
}

impl ClientDraft {
    /// Validates raw input; the error names the first bad field.
    pub fn parse(email: &str, full_name: &str, comment: &str) -> Result<Self, Error> {
        Ok(ClientDraft {
            email: EmailAddress::parse(email)?,
            full_name: single_line("full_name", full_name, 200)?,
            comment: bounded_text("comment", comment.trim(), 2000, false)?,
        })
    }

    /// The same fields, validated again.
    pub fn revalidated(&self) -> Result<Self, Error> {
        Self::parse(self.email.as_str(), &self.full_name, &self.comment)
    }
}

/// What an unsubscribe link stands for: one address of one owner's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsubscribeLink {
    /// The list's owner.
    pub owner: UserId,
    /// The address the link was sent to.
    pub email: EmailAddress,
    /// When the address unsubscribed, while it is.
    pub unsubscribed_at: Option<DateTime<Utc>>,
}

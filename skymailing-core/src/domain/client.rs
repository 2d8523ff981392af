//! Clients: the recipients a user keeps, private to them.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{ClientId, EmailAddress, UserId, bounded_text, single_line};
use crate::{Error, Reason};

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
    /// Tags (lowercase, sorted, no duplicates): mailings with one of them
    /// reach this client at each run.
    pub tags: Vec<String>,
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
    /// Tags (see [`parse_tags`]); empty unless set with [`ClientDraft::with_tags`].
    pub tags: Vec<String>,
}

impl ClientDraft {
    /// Validates raw input; the error names the first bad field.
    pub fn parse(email: &str, full_name: &str, comment: &str) -> Result<Self, Error> {
        let mut c = crate::Checks::default();
        let email = c.check(EmailAddress::parse(email));
        let full_name = c.check(single_line("full_name", full_name, 200));
        let comment = c.check(bounded_text("comment", comment.trim(), 2000, false));
        c.finish()?;
        match (email, full_name, comment) {
            (Some(email), Some(full_name), Some(comment)) => Ok(ClientDraft {
                email,
                full_name,
                comment,
                tags: Vec::new(),
            }),
            _ => Err(Error::Internal("a checked field has no value".into())),
        }
    }

    /// Validates every field of a client with its tags, reporting all the
    /// errors at once.
    pub fn parse_all<'a>(
        email: &str,
        full_name: &str,
        comment: &str,
        tags: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, Error> {
        let mut c = crate::Checks::default();
        let draft = c.check(Self::parse(email, full_name, comment));
        let tags = c.check(parse_tags("tags", tags));
        c.finish()?;
        match (draft, tags) {
            (Some(d), Some(tags)) => Ok(ClientDraft { tags, ..d }),
            _ => Err(Error::Internal("a checked field has no value".into())),
        }
    }

    /// The same draft with these tags (see [`parse_tags`]).
    pub fn with_tags<'a>(self, tags: impl IntoIterator<Item = &'a str>) -> Result<Self, Error> {
        Ok(ClientDraft {
            tags: parse_tags("tags", tags)?,
            ..self
        })
    }

    /// The same fields, validated again.
    pub fn revalidated(&self) -> Result<Self, Error> {
        Self::parse(self.email.as_str(), &self.full_name, &self.comment)?
            .with_tags(self.tags.iter().map(String::as_str))
    }
}

/// The most tags one client or one mailing may carry.
pub const MAX_TAGS: usize = 20;
/// The longest tag, in characters.
pub const MAX_TAG_LEN: usize = 50;

/// Validates tags: each is trimmed and lowercased (tags compare
/// case-insensitively), blank ones are dropped, and the rest must be one line
/// of at most [`MAX_TAG_LEN`] characters without `,`, `;` or `|` (which
/// separate tags in forms and files); at most [`MAX_TAGS`]. Sorted, without
/// duplicates.
pub fn parse_tags<'a>(
    field: &'static str,
    tags: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    for raw in tags {
        let tag = raw.trim().to_lowercase();
        if tag.is_empty() {
            continue;
        }
        if tag.chars().count() > MAX_TAG_LEN {
            return Err(Error::invalid(field, Reason::TooLong { max: MAX_TAG_LEN }));
        }
        if tag
            .chars()
            .any(|c| c.is_control() || matches!(c, ',' | ';' | '|'))
        {
            return Err(Error::invalid(field, Reason::BadTag));
        }
        out.push(tag);
    }
    out.sort_unstable();
    out.dedup();
    if out.len() > MAX_TAGS {
        return Err(Error::invalid(field, Reason::TooManyTags { max: MAX_TAGS }));
    }
    Ok(out)
}

/// Splits a line of tags as people type them: `vip, berlin; 2024`.
pub fn split_tags(s: &str) -> impl Iterator<Item = &str> {
    s.split([',', ';'])
}

/// A sort key for natural order: lowercase, with every run of digits written
/// as its length (two digits) then its value without leading zeros, so that
/// comparing keys byte by byte puts "Client 2" before "Client 10" and
/// "client 2" beside "Client 2".
pub fn natural_key(s: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(s.len() + 8);
    let mut chars = s.trim().chars().flat_map(char::to_lowercase).peekable();
    while let Some(c) = chars.next() {
        if !c.is_ascii_digit() {
            out.push(c);
            continue;
        }
        let mut digits = String::from(c);
        while let Some(d) = chars.next_if(char::is_ascii_digit) {
            digits.push(d);
        }
        let value = digits.trim_start_matches('0');
        let value = if value.is_empty() { "0" } else { value };
        let _ = write!(out, "{:02}{value}", value.len().min(99));
    }
    out
}

/// Which of an owner's clients: those whose address, name, comment or tags
/// contain `search`, carrying `tag` (each when given). A mailing form sends
/// "all clients matching" as this, not as a list of ids.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientFilter {
    /// Case-insensitive text to look for.
    pub search: Option<String>,
    /// A tag the clients must carry.
    pub tag: Option<String>,
}

impl ClientFilter {
    /// Validates a filter as a form or the API gives it (blank parts match
    /// everything; the text at most 200 characters).
    pub fn new(search: Option<&str>, tag: Option<&str>) -> Result<Self, Error> {
        let q = crate::ListQuery::new(1, 1, search)?.with_tag(tag)?;
        Ok(ClientFilter {
            search: q.search,
            tag: q.tag,
        })
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

//! Blog posts, public to everyone once published.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{PostId, bounded_text, single_line};
use crate::Error;

/// A blog post.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlogPost {
    /// Identity.
    pub id: PostId,
    /// Title.
    pub title: String,
    /// Body (plain text with paragraphs).
    pub body: String,
    /// Path or URL of an optional image, as stored by the server.
    pub image: Option<String>,
    /// Visible to the public.
    pub published: bool,
    /// Times the post was read.
    pub views: u64,
    /// When it was first published.
    pub published_at: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// Validated fields of a post to create or update.
///
/// Built only by its validating constructor (`#[non_exhaustive]`); the use
/// cases validate it again (`revalidated`), so a draft whose public fields
/// were changed after it was built is refused like bad input, not stored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PostDraft {
    /// Title (1..=200 characters).
    pub title: String,
    /// Body (1..=100,000 characters).
    pub body: String,
    /// Image reference, if any (1..=500 characters, one line).
    pub image: Option<String>,
    /// Publish it.
    pub published: bool,
}

impl PostDraft {
    /// Validates the fields.
    pub fn parse(
        title: &str,
        body: &str,
        image: Option<&str>,
        published: bool,
    ) -> Result<Self, Error> {
        Ok(PostDraft {
            title: single_line("title", title, 200)?,
            body: bounded_text("body", body, 100_000, true)?,
            image: image
                .filter(|i| !i.trim().is_empty())
                .map(|i| single_line("image", i, 500))
                .transpose()?,
            published,
        })
    }

    /// The same fields, validated again.
    pub fn revalidated(&self) -> Result<Self, Error> {
        Self::parse(
            &self.title,
            &self.body,
            self.image.as_deref(),
            self.published,
        )
    }
}

//! The two error types of the core: [`StoreError`], what a store adapter may
//! report, and [`Error`], what a use case reports to its caller. Each variant of
//! [`Error`] is something a caller can act on; the server maps them to HTTP
//! status codes in one place.

use std::borrow::Cow;

/// A uniqueness or reference rule that a store refused to break.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreConflict {
    /// A user with this email (case-insensitively) exists.
    UserEmailTaken,
    /// The owner already has a client with this email.
    ClientEmailTaken,
    /// The message is used by a mailing and cannot be deleted.
    MessageInUse,
    /// A referenced message does not exist.
    UnknownMessage,
    /// A referenced client does not exist or belongs to someone else.
    UnknownClient,
}

/// What a store adapter reports besides success.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A rule of the schema refused the write; nothing was written.
    #[error("conflict: {0:?}")]
    Conflict(StoreConflict),
    /// The database could not be reached or failed; the operation may be retried.
    #[error("store backend: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    /// Wraps any backend error.
    pub fn backend(err: impl std::error::Error + Send + Sync + 'static) -> Self {
        StoreError::Backend(Box::new(err))
    }
}

/// The error of every use case.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The caller must sign in first.
    #[error("sign-in required")]
    Unauthenticated,
    /// The caller is signed in but may not do this.
    #[error("forbidden: {0}")]
    Forbidden(Cow<'static, str>),
    /// No such thing, or it is someone else's private data.
    #[error("not found")]
    NotFound,
    /// Input failed validation; `field` names the offending field.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The field, as named in forms and the JSON API (`email`, `end_at`, ...).
        field: &'static str,
        /// A sentence for the user.
        reason: Cow<'static, str>,
    },
    /// The request conflicts with the current state (a duplicate, a message in use).
    #[error("conflict: {0}")]
    Conflict(Cow<'static, str>),
    /// Email and password do not match an active account.
    #[error("wrong email or password")]
    InvalidCredentials,
    /// The account is blocked; it cannot sign in.
    #[error("this account is blocked")]
    AccountBlocked,
    /// The account's email address has not been verified yet.
    #[error("this account's email address is not verified yet")]
    NotVerified,
    /// A one-time link is unknown, used or expired.
    #[error("this link is invalid or has expired")]
    InvalidToken,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Something that should not happen (a failed hash, a closed channel).
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// An [`Error::Invalid`] for `field`.
    pub fn invalid(field: &'static str, reason: impl Into<Cow<'static, str>>) -> Self {
        Error::Invalid {
            field,
            reason: reason.into(),
        }
    }

    /// An [`Error::Forbidden`] with a reason.
    pub fn forbidden(reason: impl Into<Cow<'static, str>>) -> Self {
        Error::Forbidden(reason.into())
    }

    /// The field named by an [`Error::Invalid`], if this is one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Error::Invalid { field, .. } => Some(field),
            _ => None,
        }
    }
}

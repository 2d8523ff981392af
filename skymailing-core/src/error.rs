//! The error types of the core: [`StoreError`], what a store adapter may
//! report, and [`Error`], what a use case reports to its caller. Each variant of
//! [`Error`] is something a caller can act on; the server maps them to HTTP
//! status codes in one place. What an error tells a person is a [`Reason`]: a
//! code with parameters, English through `Display`, translated by whoever
//! renders it in another language.

use std::fmt;

/// A uniqueness or reference rule that a store refused to break.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
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
#[non_exhaustive]
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

/// Why an input was refused, or an action forbidden or in conflict: a code
/// with parameters. `Display` gives the English sentence (a fragment after the
/// field's name for [`Error::Invalid`]); [`Reason::code`] and
/// [`Reason::params`] let a renderer translate it.
///
/// ```
/// use skymailing_core::Reason;
/// let r = Reason::TooLong { max: 100 };
/// assert_eq!(r.code(), "too_long");
/// assert_eq!(r.to_string(), "is too long (100 characters at most)");
/// assert_eq!(r.params(), vec![("max", "100".to_owned())]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "snake_case")]
#[non_exhaustive]
pub enum Reason {
    /// Nothing was given.
    Required,
    /// More than `max` characters.
    TooLong {
        /// The most accepted.
        max: usize,
    },
    /// Fewer than `min` characters.
    TooShort {
        /// The fewest accepted.
        min: usize,
    },
    /// A line break or another control character in a one-line field.
    NotSingleLine,
    /// A control character in free text.
    ControlCharacters,
    /// Spaces or control characters in an address.
    SpacesInAddress,
    /// Not an email address; `detail` says what is wrong, in English.
    InvalidEmail {
        /// The parser's words.
        detail: String,
    },
    /// A sender name that could pass for an address (`@`, `<`, `>`) or hides
    /// text (invisible formatting characters such as right-to-left marks).
    SenderNameLooksLikeAddress,
    /// Not an IANA time zone.
    UnknownTimeZone,
    /// Not a language code.
    UnknownLanguage,
    /// A page number below 1.
    PageTooSmall,
    /// A number outside `min..=max`.
    OutOfRange {
        /// The smallest accepted.
        min: i64,
        /// The largest accepted.
        max: i64,
    },
    /// Not one of the periodicities.
    UnknownPeriodicity,
    /// Not one of the roles.
    UnknownRole,
    /// Not one of the account states.
    UnknownUserState,
    /// A mailing with no recipient.
    NoClients,
    /// A mailing with more than `max` chosen clients.
    TooManyClients {
        /// The most accepted.
        max: usize,
    },
    /// A tag with a character that separates tags (`,` `;` `|`) or a control character.
    BadTag,
    /// More than `max` tags.
    TooManyTags {
        /// The most accepted.
        max: usize,
    },
    /// A CSV file that cannot be read; `detail` says why, in English.
    CsvUnreadable {
        /// The reader's words.
        detail: String,
    },
    /// A CSV file whose header names no `email` column.
    CsvNoEmailColumn,
    /// A CSV file with more than `max` rows.
    TooManyRows {
        /// The most accepted.
        max: usize,
    },
    /// An end at or before the start.
    EndBeforeStart,
    /// A time outside what schedules accept (see `schedule::EARLIEST`).
    TimeOutOfRange {
        /// The earliest accepted, as a date (`1970-01-01`).
        earliest: String,
        /// The latest accepted, as a date (`2100-01-01`).
        latest: String,
    },
    /// A placeholder a message may not use.
    UnknownPlaceholder {
        /// The placeholder as written.
        name: String,
    },
    /// A template that does not parse.
    TemplateSyntax {
        /// Line of the error, from 1.
        line: usize,
        /// Column of the error, from 1.
        column: usize,
        /// The template engine's words, in English.
        detail: String,
    },
    /// A template that parses but fails when rendered (an unknown filter, a
    /// runaway loop).
    TemplateRender {
        /// The template engine's words, in English.
        detail: String,
    },
    /// A template whose rendering is larger than a mail part may be.
    RenderedTooLarge {
        /// The limit in kilobytes.
        max_kb: usize,
    },
    /// An account with this email exists.
    EmailRegistered,
    /// The owner already has a client with this email.
    ClientEmailTaken,
    /// A mailing uses the message.
    MessageInUse,
    /// The chosen message does not exist.
    NoSuchMessage,
    /// A chosen client is not the owner's.
    NotYourClients,
    /// Other users' mailings send the message.
    MessageUsedByOthers,
    /// The current password given does not match.
    WrongCurrentPassword,
    /// Only `user` and `manager` can be granted.
    RoleNotSettable,
    /// A manager disabled the mailing; its owner cannot enable it.
    DisabledByManager,
    /// The caller's role does not allow the action.
    RoleNotAllowed,
    /// A date and time field is empty or unreadable.
    DateTimeRequired,
    /// A form that could not be read at all.
    FormUnreadable,
    /// An upload that ended early.
    UploadInterrupted,
    /// An image over the size limit.
    ImageTooLarge {
        /// The limit in megabytes.
        max_mb: u32,
    },
    /// A file that is not one of the accepted image types.
    ImageType,
    /// Not an `http://` or `https://` URL with a host.
    NotAUrl,
    /// An unsubscribe or a complaint: the recipient's word, not lifted by the owner.
    SuppressionNotLiftable,
    /// The run is not paused.
    RunNotPaused,
    /// The run has finished already.
    RunFinished,
}

impl Reason {
    /// The stable code, in `snake_case`: `too_long`, `end_before_start`, ...
    pub fn code(&self) -> &'static str {
        self.into()
    }

    /// The parameters a translation may use, by name (`max`, `line`, ...).
    pub fn params(&self) -> Vec<(&'static str, String)> {
        use Reason::*;
        match self {
            TooLong { max }
            | TooManyClients { max }
            | TooManyTags { max }
            | TooManyRows { max } => {
                vec![("max", max.to_string())]
            }
            CsvUnreadable { detail } => vec![("detail", detail.clone())],
            TooShort { min } => vec![("min", min.to_string())],
            InvalidEmail { detail } => vec![("detail", detail.clone())],
            OutOfRange { min, max } => vec![("min", min.to_string()), ("max", max.to_string())],
            UnknownPlaceholder { name } => vec![("name", name.clone())],
            TimeOutOfRange { earliest, latest } => {
                vec![("earliest", earliest.clone()), ("latest", latest.clone())]
            }
            TemplateSyntax {
                line,
                column,
                detail,
            } => vec![
                ("line", line.to_string()),
                ("column", column.to_string()),
                ("detail", detail.clone()),
            ],
            ImageTooLarge { max_mb } => vec![("max_mb", max_mb.to_string())],
            TemplateRender { detail } => vec![("detail", detail.clone())],
            RenderedTooLarge { max_kb } => vec![("max_kb", max_kb.to_string())],
            _ => Vec::new(),
        }
    }

    /// One reason of every kind (with default parameters), for checking that
    /// every code has a translation.
    pub fn every_kind() -> impl Iterator<Item = Reason> {
        <Reason as strum::IntoEnumIterator>::iter()
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Reason::*;
        match self {
            Required => f.write_str("is required"),
            TooLong { max } => write!(f, "is too long ({max} characters at most)"),
            TooShort { min } => write!(f, "must be at least {min} characters long"),
            NotSingleLine => f.write_str("must be a single line without control characters"),
            ControlCharacters => f.write_str("must not contain control characters"),
            SpacesInAddress => f.write_str("must not contain spaces or control characters"),
            InvalidEmail { detail } => write!(f, "is not a valid email address ({detail})"),
            SenderNameLooksLikeAddress => f.write_str(
                "may not contain @, < or > or invisible formatting characters (it stands beside the service's address)",
            ),
            UnknownTimeZone => f.write_str("is not a known IANA time zone (such as Europe/Moscow)"),
            UnknownLanguage => f.write_str("is not a language code (such as en or ru)"),
            PageTooSmall => f.write_str("must be 1 or more"),
            OutOfRange { min, max } => write!(f, "must be between {min} and {max}"),
            UnknownPeriodicity => f.write_str("must be one of once, daily, weekly, monthly"),
            UnknownRole => f.write_str("must be one of user, manager, admin"),
            UnknownUserState => f.write_str("is not a known account state"),
            NoClients => f.write_str("must include at least one client or tag"),
            TooManyClients { max } => {
                write!(f, "may name at most {max} clients")
            }
            BadTag => f.write_str("may not contain , ; | or control characters"),
            TooManyTags { max } => write!(f, "has too many tags ({max} at most)"),
            CsvUnreadable { detail } => write!(f, "is not a readable CSV file ({detail})"),
            CsvNoEmailColumn => {
                f.write_str("must name its columns on the first line, one of them email")
            }
            TooManyRows { max } => write!(f, "has too many rows ({max} at most)"),
            EndBeforeStart => f.write_str("must be after the start"),
            TimeOutOfRange { earliest, latest } => {
                write!(f, "must be between {earliest} and {latest} (UTC)")
            }
            UnknownPlaceholder { name } => write!(
                f,
                "uses an unknown placeholder `{name}` (use name, email or unsubscribe_url)"
            ),
            TemplateSyntax {
                line,
                column,
                detail,
            } => write!(
                f,
                "has a template error at line {line}, column {column}: {detail}"
            ),
            TemplateRender { detail } => write!(f, "cannot be rendered: {detail}"),
            RenderedTooLarge { max_kb } => {
                write!(
                    f,
                    "renders larger than {max_kb} KB, the most one mail part may be"
                )
            }
            EmailRegistered => f.write_str("is already registered"),
            ClientEmailTaken => {
                f.write_str("is taken: you already have a client with this address")
            }
            MessageInUse => {
                f.write_str("this message is used by a mailing; change or delete the mailing first")
            }
            NoSuchMessage => f.write_str("is not one of the messages"),
            NotYourClients => f.write_str("must be your own clients"),
            MessageUsedByOthers => {
                f.write_str("other users' mailings send this message; write a new message instead")
            }
            WrongCurrentPassword => f.write_str("is not your current password"),
            RoleNotSettable => f.write_str("only user or manager can be set here"),
            DisabledByManager => {
                f.write_str("a manager disabled this mailing; only a manager can enable it again")
            }
            RoleNotAllowed => f.write_str("your role does not allow this"),
            DateTimeRequired => f.write_str("must be a date and time"),
            FormUnreadable => f.write_str("could not be read"),
            UploadInterrupted => f.write_str("was interrupted during the upload"),
            ImageTooLarge { max_mb } => write!(f, "is larger than {max_mb} MB"),
            ImageType => f.write_str("must be a PNG, JPEG, GIF or WebP image"),
            NotAUrl => f.write_str("is not an http:// or https:// URL"),
            SuppressionNotLiftable => {
                f.write_str("the recipient unsubscribed or reported spam: only they can undo it")
            }
            RunNotPaused => f.write_str("this run is not paused"),
            RunFinished => f.write_str("this run has finished already"),
        }
    }
}

/// The error of every use case.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The caller must sign in first.
    #[error("sign-in required")]
    Unauthenticated,
    /// The caller is signed in but may not do this.
    #[error("forbidden: {0}")]
    Forbidden(Reason),
    /// No such thing, or it is someone else's private data.
    #[error("not found")]
    NotFound,
    /// Input failed validation; `field` names the offending field.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The field, as named in forms and the JSON API (`email`, `end_at`, ...).
        field: &'static str,
        /// Why.
        reason: Reason,
    },
    /// Several fields failed validation (two or more, in the order of the
    /// form): every error at once, so a form can show them all. One bad
    /// field is always an [`Error::Invalid`].
    #[error("{}", .0.iter().map(|e| format!("invalid {}: {}", e.field, e.reason)).collect::<Vec<_>>().join("; "))]
    InvalidFields(Vec<FieldError>),
    /// The request conflicts with the current state (a message in use).
    #[error("conflict: {0}")]
    Conflict(Reason),
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
    /// The service is at capacity for this work (password hashing); retry in a moment.
    #[error("the service is busy; try again in a moment")]
    Busy,
    /// The engine was stopped: it takes no more work (see `Engine::round`).
    #[error("the delivery engine is stopped")]
    EngineStopped,
    /// The store failed (a conflict never lands here: see the `From<StoreError>`).
    #[error(transparent)]
    Store(StoreError),
    /// The caller did this too often; they may try again after a while.
    #[error("too many requests; try again in {retry_after_secs} s")]
    TooManyRequests {
        /// Seconds until the next attempt is accepted.
        retry_after_secs: u64,
    },
    /// Something that should not happen (a failed hash, a closed channel).
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// An [`Error::Invalid`] for `field`.
    pub fn invalid(field: &'static str, reason: Reason) -> Self {
        Error::Invalid { field, reason }
    }

    /// The field named by an [`Error::Invalid`] (the first of
    /// [`Error::InvalidFields`]), if this is one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Error::Invalid { field, .. } => Some(field),
            Error::InvalidFields(errors) => errors.first().map(|e| e.field),
            _ => None,
        }
    }

    /// The reason of an invalid input (the first one), a refusal or a conflict.
    pub fn reason(&self) -> Option<&Reason> {
        match self {
            Error::Invalid { reason, .. } | Error::Forbidden(reason) | Error::Conflict(reason) => {
                Some(reason)
            }
            Error::InvalidFields(errors) => errors.first().map(|e| &e.reason),
            _ => None,
        }
    }

    /// Every field error of an [`Error::Invalid`] or [`Error::InvalidFields`]
    /// (empty for any other error).
    pub fn field_errors(&self) -> Vec<FieldError> {
        match self {
            Error::Invalid { field, reason } => vec![FieldError {
                field,
                reason: reason.clone(),
            }],
            Error::InvalidFields(errors) => errors.clone(),
            _ => Vec::new(),
        }
    }
}

/// One field's validation error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field, as named in forms and the JSON API.
    pub field: &'static str,
    /// Why.
    pub reason: Reason,
}

/// Gathers the validation errors of several fields, so that input is checked
/// whole and every error is reported at once.
///
/// ```
/// use skymailing_core::{Checks, DisplayName, EmailAddress, Error};
/// let mut c = Checks::default();
/// let name = c.check(DisplayName::parse(""));
/// let email = c.check(EmailAddress::parse("not an address"));
/// assert!(name.is_none() && email.is_none());
/// let Err(Error::InvalidFields(errors)) = c.finish() else { panic!() };
/// assert_eq!(errors.iter().map(|e| e.field).collect::<Vec<_>>(), ["name", "email"]);
/// ```
#[derive(Debug, Default)]
pub struct Checks {
    errors: Vec<FieldError>,
    other: Option<Error>,
}

impl Checks {
    /// The value, or `None` with its error kept.
    pub fn check<T>(&mut self, result: Result<T, Error>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e @ (Error::Invalid { .. } | Error::InvalidFields(_))) => {
                for fe in e.field_errors() {
                    // One error per field: the first found.
                    if !self.errors.iter().any(|x| x.field == fe.field) {
                        self.errors.push(fe);
                    }
                }
                None
            }
            Err(e) => {
                self.other.get_or_insert(e);
                None
            }
        }
    }

    /// Whether an error was kept for `field`.
    pub fn failed(&self, field: &str) -> bool {
        self.errors.iter().any(|e| e.field == field)
    }

    /// Keeps an error for `field` (unless it has one already).
    pub fn fail(&mut self, field: &'static str, reason: Reason) {
        self.check::<()>(Err(Error::invalid(field, reason)));
    }

    /// [`finish`](Self::finish), the errors in the order of `fields` (a
    /// form's order; fields not named go last).
    pub fn finish_in_order(mut self, fields: &[&str]) -> Result<(), Error> {
        self.errors.sort_by_key(|e| {
            fields
                .iter()
                .position(|f| *f == e.field)
                .unwrap_or(fields.len())
        });
        self.finish()
    }

    /// Ok if nothing failed; else the one error, or all of them.
    pub fn finish(mut self) -> Result<(), Error> {
        if let Some(e) = self.other {
            return Err(e);
        }
        match self.errors.len() {
            0 => Ok(()),
            1 => {
                let FieldError { field, reason } = self.errors.remove(0);
                Err(Error::Invalid { field, reason })
            }
            _ => Err(Error::InvalidFields(self.errors)),
        }
    }
}

/// The one mapping from store errors to use-case errors: a conflict becomes the
/// error its user sees (a field's error or a conflict), never an outage.
impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        use StoreConflict::*;
        match e {
            StoreError::Conflict(c) => match c {
                UserEmailTaken => Error::invalid("email", Reason::EmailRegistered),
                ClientEmailTaken => Error::invalid("email", Reason::ClientEmailTaken),
                MessageInUse => Error::Conflict(Reason::MessageInUse),
                UnknownMessage => Error::invalid("message_id", Reason::NoSuchMessage),
                UnknownClient => Error::invalid("client_ids", Reason::NotYourClients),
            },
            other => Error::Store(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_store_conflict_becomes_a_user_error_not_an_outage() {
        use StoreConflict::*;
        for c in [
            UserEmailTaken,
            ClientEmailTaken,
            MessageInUse,
            UnknownMessage,
            UnknownClient,
        ] {
            let e = Error::from(StoreError::Conflict(c));
            assert!(
                matches!(e, Error::Invalid { .. } | Error::Conflict(_)),
                "{c:?} became {e:?}"
            );
        }
        let e = Error::from(StoreError::backend(std::io::Error::other("down")));
        assert!(matches!(e, Error::Store(_)));
    }

    #[test]
    fn reason_codes_are_distinct_snake_case() {
        let codes: Vec<&str> = Reason::every_kind().map(|r| r.code()).collect();
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), codes.len());
        for c in codes {
            assert!(
                c.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_'),
                "{c}"
            );
        }
    }
}

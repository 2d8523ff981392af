//! User accounts.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{DisplayName, EmailAddress, Language, TimeZone, UserId};
use crate::{Error, Reason};

/// What a signed-in user may do beyond their own data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Role {
    /// Keeps their own clients and mailings.
    User,
    /// Oversees: sees all mailings, blocks users, disables mailings; edits nothing.
    Manager,
    /// Everything a user and a manager can, plus roles and the blog.
    Admin,
}

impl Role {
    /// The name used in storage and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Manager => "manager",
            Role::Admin => "admin",
        }
    }
    /// Parses the `role` field.
    pub fn parse(s: &str) -> Result<Self, Error> {
        match s {
            "user" => Ok(Role::User),
            "manager" => Ok(Role::Manager),
            "admin" => Ok(Role::Admin),
            _ => Err(Error::invalid("role", Reason::UnknownRole)),
        }
    }
}

/// Where an account is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum UserState {
    /// Registered; the emailed link has not been followed yet.
    PendingVerification,
    /// May sign in.
    Active,
    /// May not sign in; their mailings do not send.
    Blocked,
}

impl UserState {
    /// The name used in storage and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            UserState::PendingVerification => "pending_verification",
            UserState::Active => "active",
            UserState::Blocked => "blocked",
        }
    }
    /// Parses a stored state.
    pub fn parse(s: &str) -> Result<Self, Error> {
        match s {
            "pending_verification" => Ok(UserState::PendingVerification),
            "active" => Ok(UserState::Active),
            "blocked" => Ok(UserState::Blocked),
            _ => Err(Error::invalid("state", Reason::UnknownUserState)),
        }
    }
}

/// A user account (without its password hash, which only the account use cases read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// Identity.
    pub id: UserId,
    /// Sign-in address, unique case-insensitively.
    pub email: EmailAddress,
    /// Shown in the pages.
    pub name: DisplayName,
    /// Schedules and times are shown and computed in this zone.
    pub time_zone: TimeZone,
    /// What they may do.
    pub role: Role,
    /// Pending, active or blocked.
    pub state: UserState,
    /// The language the user chose for the pages; none: the browser's.
    pub language: Option<Language>,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
}

/// A user to create; the password is already hashed.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Sign-in address.
    pub email: EmailAddress,
    /// Display name.
    pub name: DisplayName,
    /// Time zone.
    pub time_zone: TimeZone,
    /// Initial role.
    pub role: Role,
    /// Initial state.
    pub state: UserState,
    /// PHC string of an argon2id hash; `None` for an account without a
    /// password (its application signs it in; a password can be set later
    /// through a reset link).
    pub password_hash: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// What a one-time emailed token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenPurpose {
    /// Email verification after registration.
    VerifyEmail,
    /// Password reset.
    PasswordReset,
}

impl TokenPurpose {
    /// The name used in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenPurpose::VerifyEmail => "verify_email",
            TokenPurpose::PasswordReset => "password_reset",
        }
    }
}

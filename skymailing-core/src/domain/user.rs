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
    /// How their mailings present themselves: the sender name and Reply-To
    /// (unset: their own name and address; see [`Sender::effective`]).
    pub sender: Sender,
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

/// How mailings present themselves to recipients: the name shown beside the
/// service's From address and the address replies go to. Set on a user (for
/// all their mailings) and on a mailing (overriding the user's); an unset part
/// falls back (see [`Sender::effective`]). The From *address* is always the
/// service's own, so that DKIM and SPF keep holding.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Sender {
    /// The name shown in From (`Ann Smith <no-reply@service>`).
    pub name: Option<DisplayName>,
    /// Where replies go (`Reply-To`).
    pub reply_to: Option<EmailAddress>,
}

impl Sender {
    /// Parses the `sender_name` and `reply_to` fields; an empty (or blank)
    /// field leaves that part unset.
    pub fn parse(name: &str, reply_to: &str) -> Result<Self, Error> {
        let mut c = crate::Checks::default();
        let name = c.check(
            Some(name.trim())
                .filter(|n| !n.is_empty())
                .map(|n| {
                    let name = DisplayName::parse_field("sender_name", n)?;
                    // Beside the service's DKIM-signed address, a name like
                    // "PayPal <security@paypal.com>" or one with a
                    // right-to-left override would pass for another sender.
                    if name.as_str().chars().any(|ch| {
                        matches!(ch, '@' | '<' | '>' | '\u{FF20}' | '\u{FE6B}')
                            || is_format_character(ch)
                    }) {
                        return Err(Error::invalid(
                            "sender_name",
                            Reason::SenderNameLooksLikeAddress,
                        ));
                    }
                    Ok(name)
                })
                .transpose(),
        );
        let reply_to = c.check(
            Some(reply_to.trim())
                .filter(|a| !a.is_empty())
                .map(|a| EmailAddress::parse_field("reply_to", a))
                .transpose(),
        );
        c.finish()?;
        Ok(Sender {
            name: name.flatten(),
            reply_to: reply_to.flatten(),
        })
    }

    /// The sender a mailing's recipients see: each part of the mailing's own
    /// sender, else its owner's setting, else the owner's name and address.
    /// Stores freeze exactly this into a run when it starts (the conformance
    /// suite checks it).
    pub fn effective(mailing: &Sender, owner: &User) -> (DisplayName, EmailAddress) {
        let name = mailing
            .name
            .clone()
            .or_else(|| owner.sender.name.clone())
            .unwrap_or_else(|| owner.name.clone());
        let reply_to = mailing
            .reply_to
            .clone()
            .or_else(|| owner.sender.reply_to.clone())
            .unwrap_or_else(|| owner.email.clone());
        (name, reply_to)
    }
}

/// Unicode's invisible formatting characters (category Cf, the ones that
/// matter here): bidirectional controls, zero-width characters, the BOM.
fn is_format_character(ch: char) -> bool {
    matches!(ch,
        '\u{00AD}' | '\u{061C}' | '\u{180E}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{206F}'
        | '\u{FEFF}'
        | '\u{FFF9}'..='\u{FFFB}')
}

#[cfg(test)]
mod sender_tests {
    use super::*;

    #[test]
    fn a_sender_name_cannot_pass_for_an_address_or_hide_text() {
        for bad in [
            "PayPal <security@paypal.com>",
            "service@paypal.com",
            "Shop \u{202E}moc.lapyap",
            "A\u{200B}nn",
        ] {
            let e = Sender::parse(bad, "").unwrap_err();
            assert_eq!(
                (e.field(), e.reason()),
                (
                    Some("sender_name"),
                    Some(&Reason::SenderNameLooksLikeAddress)
                ),
                "{bad:?}"
            );
        }
        let ok = Sender::parse("Ann's Shop — Берлин", "").unwrap();
        assert_eq!(ok.name.unwrap().as_str(), "Ann's Shop — Берлин");
    }
}

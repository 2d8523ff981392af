//! Typed identifiers: a `ClientId` cannot be passed where a `MailingId` is meant.

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<i64> for $name {
            fn from(v: i64) -> Self {
                Self(v)
            }
        }
    )*};
}

id_type!(
    /// Identifies a user account.
    UserId,
    /// Identifies a client (a recipient) of one owner.
    ClientId,
    /// Identifies a message (subject and bodies).
    MessageId,
    /// Identifies a mailing.
    MailingId,
    /// Identifies one run of a mailing.
    RunId,
    /// Identifies one delivery (run × recipient).
    DeliveryId,
    /// Identifies a blog post.
    PostId,
);

//! Test kit (feature `testkit`): an in-memory store, a recording mailer with
//! scriptable failures, a manual clock, and the store conformance suite that
//! every store adapter runs against itself (see [`store_conformance_tests!`]).
//!
//! [`store_conformance_tests!`]: crate::store_conformance_tests

mod clock;
pub mod conformance;
mod mailer;
mod memory;

pub use clock::ManualClock;
pub use mailer::{RecordingMailer, Scripted};
pub use memory::MemoryStore;

use chrono::{DateTime, Utc};

use crate::ports::UserStore;
use crate::{DisplayName, EmailAddress, NewUser, Role, TimeZone, User, UserState};

/// Creates an active user straight in a store, with no password to hash: the
/// quick way to an actor in tests, examples and benchmarks. Panics on failure.
pub async fn active_user(
    store: &dyn UserStore,
    email: &str,
    role: Role,
    time_zone: TimeZone,
    now: DateTime<Utc>,
) -> User {
    store
        .create_user(&NewUser {
            email: EmailAddress::parse(email).expect("a valid email"),
            name: DisplayName::parse(email.split('@').next().unwrap_or("user"))
                .expect("a valid name"),
            time_zone,
            role,
            state: UserState::Active,
            password_hash: None,
            created_at: now,
        })
        .await
        .expect("the user is created")
}

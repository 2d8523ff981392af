//! What SkyMailing's SQL stores share that is not SQL dialect: how domain
//! values become column values and back. Each store keeps its own queries;
//! the meaning of a row lives here once, so the two stores cannot drift apart.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod codec;
mod columns;
mod error;
mod outcome;
mod query;
pub mod rows;

pub use error::DbError;
pub use outcome::OutcomeRow;
pub use query::{like, limits};

/// The due time of a paused run's held deliveries: far enough to be never,
/// so the claim and the engine's next wake-up pass them by without a join;
/// resuming sets them due again.
pub fn held_until() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(221_845_392_000, 0).expect("9000-01-01 is a valid time")
}

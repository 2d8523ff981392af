//! What SkyMailing's SQL stores share that is not SQL dialect: how domain
//! values become column values and back. Each store keeps its own queries;
//! the meaning of a row lives here once, so the two stores cannot drift apart.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod anchors;
pub mod codec;
mod columns;
mod error;
mod outcome;
pub mod query;
pub mod rows;

pub use error::DbError;
pub use outcome::OutcomeRow;
pub use query::{Window, like, limits, window};

/// How a finished run's `(sent, bounced, complained)` counts move when one
/// of its deliveries goes from `from` to `to` (a late bounce or complaint).
pub fn count_moves(
    from: skymailing_core::DeliveryState,
    to: skymailing_core::DeliveryState,
) -> (i64, i64, i64) {
    use skymailing_core::DeliveryState as S;
    let one = |s: S| {
        (
            i64::from(s == S::Sent),
            i64::from(s == S::Bounced),
            i64::from(s == S::Complained),
        )
    };
    let (a, b) = (one(from), one(to));
    (b.0 - a.0, b.1 - a.1, b.2 - a.2)
}

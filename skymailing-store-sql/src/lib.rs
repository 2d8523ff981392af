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

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

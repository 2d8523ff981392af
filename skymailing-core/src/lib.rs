//! # skymailing-core
//!
//! The heart of SkyMailing: the domain (users, clients, messages, mailings, runs,
//! deliveries, blog posts), the permission rules, the pure scheduling functions,
//! the use cases and the delivery engine. It knows no database, no SMTP library and
//! no web framework: everything outside is reached through the small traits in
//! [`ports`], which the adapter crates implement.
//!
//! The usual way in is [`SkyMailing`], which bundles every use case over one
//! [`ports::Store`], one [`ports::Mailer`] and one [`ports::Clock`], and
//! [`engine::Engine`], which sends due mailings in the background:
//!
//! ```
//! # #[cfg(feature = "testkit")]
//! # async fn demo() -> Result<(), skymailing_core::Error> {
//! use std::sync::Arc;
//! use skymailing_core::{SkyMailing, Config, testkit::{MemoryStore, RecordingMailer, ManualClock}};
//!
//! let store = Arc::new(MemoryStore::new());
//! let mailer = Arc::new(RecordingMailer::new());
//! let clock = Arc::new(ManualClock::new("2026-01-01T09:00:00Z".parse().unwrap()));
//! let app = SkyMailing::builder(store).mailer(mailer).clock(clock).build()?;
//! let stats = app.stats.home().await?;
//! assert_eq!(stats.mailings, 0);
//! # Ok(()) }
//! ```
//!
//! Features: `mocks` exports a `mockall` mock of every port; `testkit` exports an
//! in-memory store, a recording mailer, a manual clock and the store conformance
//! suite that every store adapter runs against itself.

#![warn(missing_docs)]

pub mod domain;
pub mod engine;
mod error;
pub mod links;
pub mod policy;
pub mod ports;
pub mod schedule;
pub mod security;
pub mod service;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;

pub use domain::*;
pub use error::{Error, Reason, StoreConflict, StoreError};
pub use service::{Config, SkyMailing, SkyMailingBuilder};

//! # skymailing-core
//!
//! The heart of SkyMailing: the domain (users, clients, messages, mailings, runs,
//! deliveries, blog posts), the permission rules, the pure scheduling functions,
//! the use cases and the delivery engine. It knows no database, no SMTP library and
//! no web framework: everything outside is reached through the small traits in
//! [`ports`], which the adapter crates implement.
//!
//! The usual way in is [`SkyMailing::builder`], which wires every use case
//! over one [`ports::Store`] (any port can be given on its own), the mailer
//! of account mail, a [`ports::Clock`] and the [`links`] emails carry; and
//! [`engine::Engine`], which sends due mailings in the background and tells
//! its listeners what it did ([`engine::EngineEvent`]). Use cases take an
//! [`policy::Actor`]: get one from a sign-in ([`service::Session::actor`],
//! [`service::AccountService::authenticate`]). The engine needs a tokio
//! runtime. `docs/embedding.md` walks through it all.
//!
//! ```
//! # #[cfg(feature = "testkit")] {
//! use std::sync::Arc;
//! use skymailing_core::engine::EngineConfig;
//! use skymailing_core::testkit::{MemoryStore, RecordingMailer};
//! use skymailing_core::{ClientDraft, MailingDraft, MessageDraft, Periodicity, SkyMailing};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let mailer = Arc::new(RecordingMailer::new());
//! let app = SkyMailing::builder(Arc::new(MemoryStore::new()))
//!     .mailer(mailer.clone())
//!     .base_url("https://mail.example.com")
//!     .build()?;
//! let engine = app.engine(mailer.clone(), EngineConfig::default());
//!
//! app.accounts.ensure_admin("me@example.com", "a long password", "Me").await?;
//! let me = app.accounts.login("me@example.com", "a long password").await?.actor();
//! let ann = app.clients.create(me, &ClientDraft::parse("ann@example.com", "Ann", "")?).await?;
//! let hello = MessageDraft::parse("Hello {{ name }}", "Hi {{ name }}! {{ unsubscribe_url }}", None)?;
//! let message = app.messages.create(me, &hello).await?;
//! let (now, day) = (app.now(), chrono::Duration::days(1));
//! let draft = MailingDraft::new("Hello", message.id, vec![ann.id], now, now + day, Periodicity::Once)?;
//! app.mailings.create(me, &draft).await?;
//!
//! // One round by hand (a program runs `Arc::new(engine).spawn()` instead).
//! let round = engine.round().await?;
//! let run = engine.wait_run(round.finished[0]).await?;
//! assert_eq!(run.report.unwrap().to_string(), "Sent 1 of 1");
//! assert!(mailer.sent()[0].text.contains("https://mail.example.com/unsubscribe/"));
//! # Ok::<(), skymailing_core::Error>(()) }).unwrap();
//! # }
//! ```
//!
//! Features: `mocks` exports a `mockall` mock of every port; `testkit` exports an
//! in-memory store, a recording mailer, a manual clock and the store conformance
//! suite that every store adapter runs against itself.

#![warn(missing_docs)]

mod domain;
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

pub use domain::{
    Audience, ClientFilter, ImportAction, ImportIssue, ImportPlan, ImportPreviewRow, ImportReport,
    MAX_IMPORT_ROWS, MAX_TAG_LEN, MAX_TAGS, MailingInput, ParsedImport, RenderedMessage,
    natural_key, parse_clients_csv, parse_tags, plan_import, split_tags, write_clients_csv,
};
pub use domain::{
    BlogPost, Client, ClientDraft, ClientId, Delivery, DeliveryId, DeliveryRef, DeliveryState,
    DisabledBy, DisplayName, EmailAddress, FailureCount, FeedbackKind, FeedbackReport,
    FeedbackSource, Language, ListQuery, Mailing, MailingDraft, MailingId, MailingStatus, Message,
    MessageDraft, MessageId, PLACEHOLDERS, Page, Password, PausePolicy, PauseReason, Periodicity,
    PostDraft, PostId, ReportLine, Role, Run, RunActivity, RunId, RunReport, RunStatus, RunTotals,
    Sender, Suppression, SuppressionReason, TimeZone, User, UserId, UserState,
};

// Inside the crate every domain name resolves at `crate::`, as before.
#[allow(unused_imports)]
use domain::*;

/// What only adapters need — the types of the store ports' contracts and the
/// message rendering the engine uses — kept out of the crate root so that an
/// application sees only what it uses.
pub mod adapter {
    pub use crate::domain::{
        ClaimedDelivery, CompiledMessage, DeliveryOutcome, DeliveryResult, NewUser, Recipient,
        RenderedMessage, RunContent, TemplateContext, Templates, TokenPurpose, UnsubscribeLink,
        bounded_text, redact_addresses, single_line,
    };
    /// Bounces, complaints and return paths, as stores and intakes handle them.
    pub use crate::domain::{
        FeedbackApplied, FeedbackTarget, NewFeedback, SOFT_BOUNCE_LIMIT, SOFT_BOUNCE_WINDOW_DAYS,
        parse_message_id, verp_address, verp_delivery, verp_matches, verp_token, verp_token_of,
    };

    /// Values read back from a store, which validated them on the way in:
    /// built without validating again. For a store's rows only — never for
    /// input (use `EmailAddress::parse` and the like).
    pub mod stored {
        use crate::{DisplayName, EmailAddress, Language};

        /// An address as stored.
        pub fn email(s: impl Into<String>) -> EmailAddress {
            EmailAddress::from_trusted(s)
        }
        /// A display name as stored.
        pub fn display_name(s: impl Into<String>) -> DisplayName {
            DisplayName::from_trusted(s)
        }
        /// A language as stored.
        pub fn language(s: impl Into<String>) -> Language {
            Language::from_trusted(s)
        }
    }
}
pub use error::{Checks, Error, FieldError, Reason, StoreConflict, StoreError};
pub use service::{Config, SkyMailing, SkyMailingBuilder};

// What an application needs to implement a port or use the API, without
// adding these crates itself (the versions are ours).
pub use async_trait::async_trait;
pub use chrono;
#[cfg(feature = "mocks")]
pub use mockall;

/// What an embedding application uses most, in one import:
/// `use skymailing_core::prelude::*;`.
pub mod prelude {
    pub use crate::engine::{
        DeliveryEvent, Engine, EngineConfig, EngineEvent, EngineEvents, EngineHandle,
    };
    pub use crate::links::{BaseUrlLinks, Links};
    pub use crate::policy::Actor;
    pub use crate::ports::{Mailer, OutgoingEmail, SendError, Store};
    pub use crate::service::{MailingScope, NewAccount, Session};
    pub use crate::{
        ClientDraft, Config, Error, ListQuery, MailingDraft, MessageDraft, Periodicity, PostDraft,
        Reason, Role, Run, RunId, RunReport, SkyMailing, SkyMailingBuilder, async_trait,
    };
}

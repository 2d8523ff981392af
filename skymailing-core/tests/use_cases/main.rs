//! Use cases over the in-memory store: accounts, the permission rules as the
//! services apply them, validation, logs, blog and statistics — one module
//! per noun, as in core's services and the stores.

#[path = "../common/mod.rs"]
mod common;

mod accounts;
mod blog;
mod clients;
mod log;
mod mailings;
mod messages;
mod stats;

use chrono::Duration;
use common::*;
use skymailing_core::policy::Actor;
use skymailing_core::service::{MailingScope, NewAccount};
use skymailing_core::*;

fn id_of(a: Actor) -> UserId {
    a.principal().unwrap().id
}

fn all() -> ListQuery {
    ListQuery::default()
}

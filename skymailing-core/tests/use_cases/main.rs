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
use skymailing_core::service::{ACCOUNT_REUSE, MailingScope, NewAccount};
use skymailing_core::*;

fn id_of(a: Actor) -> UserId {
    a.principal().unwrap().id
}

fn all() -> ListQuery {
    ListQuery::default()
}

/// A draft is built only by its validating constructor; one whose public
/// fields were changed afterwards is refused by the use case like bad input
/// (the field named), and nothing is stored.
#[tokio::test]
async fn drafts_changed_after_validation_are_refused() {
    let w = world_at("2026-05-01T09:00:00Z");
    let admin = w.user("root@example.com", Role::Admin, "UTC").await;
    let ann = w.user("ann@example.com", Role::User, "UTC").await;

    let mut c = ClientDraft::parse("a@example.com", "A", "").unwrap();
    c.full_name = "line\nbreak".into();
    let e = w.app.clients.create(ann, &c).await.unwrap_err();
    assert_eq!(e.field(), Some("full_name"), "{e}");
    assert_eq!(w.app.clients.list(ann, &all()).await.unwrap().total, 0);

    let mut m = MessageDraft::parse("Hi", "Hello {{ name }}", None).unwrap();
    m.body_text = "Hello {{ name ".into();
    let e = w.app.messages.create(ann, &m).await.unwrap_err();
    assert_eq!(e.field(), Some("body_text"), "{e}");
    assert_eq!(w.app.messages.list(ann, &all()).await.unwrap().total, 0);

    let ids = w.clients(ann, &["b@example.com"]).await;
    let msg = w.message(ann).await;
    let now = w.app.now();
    let mut g = MailingDraft::new(
        "M",
        msg,
        ids,
        now,
        now + Duration::days(1),
        Periodicity::Once,
    )
    .unwrap();
    g.end_at = now - Duration::days(1);
    let e = w.app.mailings.create(ann, &g).await.unwrap_err();
    assert_eq!(e.field(), Some("end_at"), "{e}");
    g.end_at = now + Duration::days(1);
    g.client_ids.clear();
    let e = w.app.mailings.create(ann, &g).await.unwrap_err();
    assert_eq!(e.field(), Some("client_ids"), "{e}");

    let mut p = PostDraft::parse("T", "Body", None, true).unwrap();
    p.title = String::new();
    let e = w.app.blog.create(admin, &p).await.unwrap_err();
    assert_eq!(e.field(), Some("title"), "{e}");
}

//! Messages: shared reading, authors' editing, templates.

use super::*;

#[tokio::test]
async fn messages_are_shared_but_edited_only_by_their_author_or_an_admin() {
    let w = world_at("2026-05-01T09:00:00Z");
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    let bob = w.user("bob@example.com", Role::User, "UTC").await;
    let manager = w.user("boss@example.com", Role::Manager, "UTC").await;
    let admin = w.user("root@example.com", Role::Admin, "UTC").await;
    let id = w.message(ann).await;
    let d = MessageDraft::parse("S", "B", None).unwrap();
    for reader in [bob, manager, admin] {
        assert_eq!(w.app.messages.get(reader, id).await.unwrap().id, id);
        assert_eq!(w.app.messages.list(reader, &all()).await.unwrap().total, 1);
    }
    assert!(matches!(
        w.app.messages.update(bob, id, &d).await,
        Err(Error::Forbidden(_))
    ));
    assert!(matches!(
        w.app.messages.update(manager, id, &d).await,
        Err(Error::Forbidden(_))
    ));
    assert!(matches!(
        w.app.messages.delete(bob, id).await,
        Err(Error::Forbidden(_))
    ));
    assert_eq!(
        w.app.messages.update(admin, id, &d).await.unwrap().subject,
        "S"
    );
    assert!(
        w.app.messages.create(manager, &d).await.is_ok(),
        "managers may write messages"
    );
    assert!(matches!(
        w.app.messages.get(Actor::Anonymous, id).await,
        Err(Error::Unauthenticated)
    ));
}

#[tokio::test]
async fn a_message_in_use_cannot_be_deleted() {
    let w = world_at("2026-05-01T09:00:00Z");
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    let ids = w.clients(ann, &["x@example.com"]).await;
    let m = w
        .mailing(
            ann,
            &ids,
            t("2026-06-01T09:00:00Z"),
            t("2026-06-02T09:00:00Z"),
            Periodicity::Once,
        )
        .await;
    let err = w.app.messages.delete(ann, m.message_id).await.unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err}");
    assert!(w.app.messages.get(ann, m.message_id).await.is_ok());
}

#[tokio::test]
async fn a_template_syntax_error_is_refused_with_its_position() {
    let err = MessageDraft::parse("Hi", "Dear {{ name }}\n{% if x %}", None).unwrap_err();
    assert_eq!(err.field(), Some("body_text"));
    assert!(err.to_string().contains("line 2"), "{err}");
    let err = MessageDraft::parse("Hi", "ok", Some("<p>{{ name </p>")).unwrap_err();
    assert_eq!(err.field(), Some("body_html"));
    assert_eq!(
        MessageDraft::parse("", "ok", None).unwrap_err().field(),
        Some("subject")
    );
    assert_eq!(
        MessageDraft::parse("Hi\nthere", "ok", None)
            .unwrap_err()
            .field(),
        Some("subject")
    );
}

#[tokio::test]
async fn a_message_other_users_send_cannot_be_changed_under_them() {
    let w = world_at("2026-05-01T09:00:00Z");
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    let bob = w.user("bob@example.com", Role::User, "UTC").await;
    let msg = w.message(ann).await;
    let bobs = w.clients(bob, &["b@example.com"]).await;
    let d = MailingDraft::new(
        "Bob's",
        msg,
        bobs,
        t("2026-06-01T09:00:00Z"),
        t("2026-06-02T09:00:00Z"),
        Periodicity::Once,
    )
    .unwrap();
    w.app.mailings.create(bob, &d).await.unwrap();
    let edit = MessageDraft::parse("Changed", "Click evil.example", None).unwrap();
    assert!(matches!(
        w.app.messages.update(ann, msg, &edit).await,
        Err(Error::Conflict(_))
    ));
    // Her own mailings using it do not stop her.
    let own = w.message(ann).await;
    let anns = w.clients(ann, &["a@example.com"]).await;
    let d = MailingDraft::new(
        "Ann's",
        own,
        anns,
        t("2026-06-01T09:00:00Z"),
        t("2026-06-02T09:00:00Z"),
        Periodicity::Once,
    )
    .unwrap();
    w.app.mailings.create(ann, &d).await.unwrap();
    assert!(w.app.messages.update(ann, own, &edit).await.is_ok());
}

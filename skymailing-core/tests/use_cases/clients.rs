//! Clients: privacy, validation and unsubscribing.

use super::*;

#[tokio::test]
async fn clients_are_private_to_their_owner() {
    let w = world_at("2026-05-01T09:00:00Z");
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    let bob = w.user("bob@example.com", Role::User, "UTC").await;
    let admin = w.user("root@example.com", Role::Admin, "UTC").await;
    let id = w.clients(ann, &["x@example.com"]).await[0];
    let d = ClientDraft::parse("y@example.com", "Y", "").unwrap();
    for actor in [bob, admin] {
        assert!(matches!(
            w.app.clients.get(actor, id).await,
            Err(Error::NotFound)
        ));
        assert!(matches!(
            w.app.clients.update(actor, id, &d).await,
            Err(Error::NotFound)
        ));
        assert!(matches!(
            w.app.clients.delete(actor, id).await,
            Err(Error::NotFound)
        ));
        assert_eq!(w.app.clients.list(actor, &all()).await.unwrap().total, 0);
    }
    assert_eq!(
        w.app.clients.get(ann, id).await.unwrap().email.as_str(),
        "x@example.com"
    );
}

#[tokio::test]
async fn manager_cannot_create_clients() {
    let w = world_at("2026-05-01T09:00:00Z");
    let manager = w.user("boss@example.com", Role::Manager, "UTC").await;
    let d = ClientDraft::parse("x@example.com", "X", "").unwrap();
    assert!(matches!(
        w.app.clients.create(manager, &d).await,
        Err(Error::Forbidden(_))
    ));
    assert!(matches!(
        w.app.clients.list(manager, &all()).await,
        Err(Error::Forbidden(_))
    ));
    assert!(matches!(
        w.app.clients.create(Actor::Anonymous, &d).await,
        Err(Error::Unauthenticated)
    ));
}

/// Another user's client is private data: "not found" for a manager too,
/// never "forbidden" (which would say it exists).
#[tokio::test]
async fn a_manager_gets_not_found_for_another_users_client() {
    let w = world_at("2026-05-01T09:00:00Z");
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    let manager = w.user("boss@example.com", Role::Manager, "UTC").await;
    let id = w.clients(ann, &["carl@example.com"]).await[0];
    let d = ClientDraft::parse("x@example.com", "X", "").unwrap();
    for missing in [id, ClientId(9999)] {
        assert!(matches!(
            w.app.clients.get(manager, missing).await,
            Err(Error::NotFound)
        ));
        assert!(matches!(
            w.app.clients.update(manager, missing, &d).await,
            Err(Error::NotFound)
        ));
        assert!(matches!(
            w.app.clients.delete(manager, missing).await,
            Err(Error::NotFound)
        ));
    }
    assert_eq!(
        w.app.clients.get(ann, id).await.unwrap().email.as_str(),
        "carl@example.com",
        "untouched"
    );
}

#[tokio::test]
async fn client_input_errors_name_the_field() {
    let w = world_at("2026-05-01T09:00:00Z");
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    assert_eq!(
        ClientDraft::parse("nope", "X", "").unwrap_err().field(),
        Some("email")
    );
    assert_eq!(
        ClientDraft::parse("x@example.com", "", "")
            .unwrap_err()
            .field(),
        Some("full_name")
    );
    assert_eq!(
        ClientDraft::parse("x@example.com", "X", &"c".repeat(2001))
            .unwrap_err()
            .field(),
        Some("comment")
    );
    assert_eq!(
        ClientDraft::parse("x@example.com", "X\r\nBcc: y", "")
            .unwrap_err()
            .field(),
        Some("full_name")
    );
    w.clients(ann, &["x@example.com"]).await;
    let dup = ClientDraft::parse("X@example.com", "X2", "").unwrap();
    assert_eq!(
        w.app.clients.create(ann, &dup).await.unwrap_err().field(),
        Some("email")
    );
}

#[tokio::test]
async fn only_the_recipient_can_undo_an_unsubscribe() {
    let w = world_at("2026-05-01T09:00:00Z");
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    let id = w.clients(ann, &["x@example.com"]).await[0];
    let token = {
        use skymailing_core::ports::ClientStore;
        w.store
            .client(id_of(ann), id)
            .await
            .unwrap()
            .unwrap()
            .unsubscribe_token
    };
    w.app.clients.unsubscribe(&token).await.unwrap();
    let c = w.app.clients.get(ann, id).await.unwrap();
    assert!(c.unsubscribed_at.is_some(), "the owner sees the state");
    // Editing the client does not clear it.
    w.app
        .clients
        .update(
            ann,
            id,
            &ClientDraft::parse("x@example.com", "New name", "").unwrap(),
        )
        .await
        .unwrap();
    assert!(
        w.app
            .clients
            .get(ann, id)
            .await
            .unwrap()
            .unsubscribed_at
            .is_some()
    );
    assert!(
        !w.app
            .clients
            .resubscribe(&token)
            .await
            .unwrap()
            .unsubscribed
    );
    assert!(
        w.app
            .clients
            .get(ann, id)
            .await
            .unwrap()
            .unsubscribed_at
            .is_none()
    );
    assert!(matches!(
        w.app.clients.unsubscribe("forged").await,
        Err(Error::InvalidToken)
    ));
}

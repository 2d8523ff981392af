//! Use cases over the in-memory store: accounts, the permission rules as the
//! services apply them, validation, logs, blog and statistics.

mod common;

use chrono::Duration;
use common::*;
use skymailing_core::policy::Actor;
use skymailing_core::service::MailingScope;
use skymailing_core::*;

fn id_of(a: Actor) -> UserId {
    a.principal().unwrap().id
}

fn all() -> ListQuery {
    ListQuery::default()
}

// ---- accounts ----

#[tokio::test]
async fn register_verify_and_sign_in() {
    let w = world_at("2026-05-01T09:00:00Z");
    w.app
        .accounts
        .register(
            "New@Example.com",
            "s3cret-pass",
            "Ann",
            Some("Europe/Moscow"),
        )
        .await
        .unwrap();
    assert!(matches!(
        w.app.accounts.login("new@example.com", "s3cret-pass").await,
        Err(Error::NotVerified)
    ));
    let token = w.token("new@example.com", 1).await;
    let link = w.mailer.last_link("new@example.com").unwrap();
    assert!(
        link.starts_with("https://mail.example/verify?token="),
        "{link}"
    );
    let user = w.app.accounts.verify_email(&token).await.unwrap();
    assert_eq!(
        (user.state, user.time_zone.name(), user.role),
        (UserState::Active, "Europe/Moscow", Role::User)
    );
    assert!(
        matches!(
            w.app.accounts.verify_email(&token).await,
            Err(Error::InvalidToken)
        ),
        "single use"
    );

    let session = w
        .app
        .accounts
        .login("NEW@example.com", "s3cret-pass")
        .await
        .unwrap();
    let (actor, me) = w.app.accounts.authenticate(&session.token).await.unwrap();
    assert_eq!(actor, Actor::user(user.id, Role::User));
    assert_eq!(me.unwrap().email.as_str(), "new@example.com");
    w.app.accounts.logout(&session.token).await.unwrap();
    assert_eq!(
        w.app.accounts.authenticate(&session.token).await.unwrap().0,
        Actor::Anonymous
    );
}

#[tokio::test]
async fn verification_links_expire() {
    let w = world_at("2026-05-01T09:00:00Z");
    w.app
        .accounts
        .register("new@example.com", "s3cret-pass", "Ann", None)
        .await
        .unwrap();
    let token = w.token("new@example.com", 1).await;
    w.advance(Duration::days(3));
    assert!(matches!(
        w.app.accounts.verify_email(&token).await,
        Err(Error::InvalidToken)
    ));
}

#[tokio::test]
async fn registering_a_taken_address_looks_the_same_and_sends_a_notice() {
    let w = world_at("2026-05-01T09:00:00Z");
    w.app
        .accounts
        .register("ann@example.com", "s3cret-pass", "Ann", None)
        .await
        .unwrap();
    w.app
        .accounts
        .register("ANN@example.com", "other-pass", "Impostor", None)
        .await
        .unwrap();
    w.mail("ann@example.com", 2).await;
    let mails = w.mailer.sent_to("ann@example.com");
    assert_eq!(mails.len(), 2);
    assert!(mails[1].text.contains("already has one"));
    assert!(
        !mails[1].text.contains("token="),
        "no verification link for the impostor"
    );
}

#[tokio::test]
async fn account_emails_speak_the_accounts_language() {
    let w = world_at("2026-05-01T09:00:00Z");
    w.app
        .accounts
        .register_in(
            "ann@example.com",
            "s3cret-pass",
            "Анна",
            None,
            Some("ru-RU"),
        )
        .await
        .unwrap();
    w.mail("ann@example.com", 1).await;
    let verify = &w.mailer.sent_to("ann@example.com")[0];
    assert!(
        verify.subject.starts_with("Подтвердите"),
        "{}",
        verify.subject
    );
    assert!(verify.text.contains("Здравствуйте, Анна!") && verify.text.contains("/verify?token="));
    let token = w.token("ann@example.com", 1).await;
    let user = w.app.accounts.verify_email(&token).await.unwrap();
    assert_eq!(user.language.as_ref().map(|l| l.as_str()), Some("ru"));
    w.app
        .accounts
        .request_password_reset("ann@example.com")
        .await
        .unwrap();
    w.mail("ann@example.com", 2).await;
    assert!(
        w.mailer.sent_to("ann@example.com")[1]
            .subject
            .starts_with("Сброс пароля")
    );
    // Without a language, or with one we have no texts for: English.
    w.app
        .accounts
        .register_in("bob@example.com", "s3cret-pass", "Bob", None, Some("de"))
        .await
        .unwrap();
    w.mail("bob@example.com", 1).await;
    assert!(
        w.mailer.sent_to("bob@example.com")[0]
            .subject
            .starts_with("Confirm your")
    );
    let bad = w
        .app
        .accounts
        .register_in("eve@example.com", "s3cret-pass", "Eve", None, Some("r2"))
        .await;
    assert_eq!(bad.unwrap_err().field(), Some("language"));
}

#[tokio::test]
async fn registration_validates_each_field() {
    let w = world_at("2026-05-01T09:00:00Z");
    let cases = [
        ("not-an-email", "s3cret-pass", "Ann", None, "email"),
        ("a@example.com", "short", "Ann", None, "password"),
        ("a@example.com", "s3cret-pass", "  ", None, "name"),
        (
            "a@example.com",
            "s3cret-pass",
            "Ann",
            Some("Mars/Olympus"),
            "time_zone",
        ),
    ];
    for (email, pw, name, tz, field) in cases {
        let err = w
            .app
            .accounts
            .register(email, pw, name, tz)
            .await
            .unwrap_err();
        assert_eq!(err.field(), Some(field), "{err}");
    }
    assert!(w.mailer.sent().is_empty(), "nothing written or sent");
}

#[tokio::test]
async fn sign_in_errors_do_not_reveal_accounts() {
    let w = world_at("2026-05-01T09:00:00Z");
    w.app
        .accounts
        .ensure_admin("root@example.com", "admin-pass", "Root")
        .await
        .unwrap();
    assert!(matches!(
        w.app.accounts.login("root@example.com", "wrong-pass").await,
        Err(Error::InvalidCredentials)
    ));
    assert!(matches!(
        w.app
            .accounts
            .login("nobody@example.com", "wrong-pass")
            .await,
        Err(Error::InvalidCredentials)
    ));
    assert!(matches!(
        w.app.accounts.login("garbage", "wrong-pass").await,
        Err(Error::InvalidCredentials)
    ));
    assert!(
        w.app
            .accounts
            .login("root@example.com", "admin-pass")
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_blocked_user_is_signed_out_at_once_and_cannot_sign_in() {
    let w = world_at("2026-05-01T09:00:00Z");
    w.app
        .accounts
        .ensure_admin("boss@example.com", "boss-pass-1", "Boss")
        .await
        .unwrap();
    let admin = w
        .app
        .accounts
        .login("boss@example.com", "boss-pass-1")
        .await
        .unwrap();
    let admin = Actor::user(admin.user.id, Role::Admin);
    w.app
        .accounts
        .register("ann@example.com", "s3cret-pass", "Ann", None)
        .await
        .unwrap();
    let ann = w
        .app
        .accounts
        .verify_email(&w.token("ann@example.com", 1).await)
        .await
        .unwrap();
    let s = w
        .app
        .accounts
        .login("ann@example.com", "s3cret-pass")
        .await
        .unwrap();
    w.app.accounts.block(admin, ann.id).await.unwrap();
    assert_eq!(
        w.app.accounts.authenticate(&s.token).await.unwrap().0,
        Actor::Anonymous
    );
    assert!(matches!(
        w.app.accounts.login("ann@example.com", "s3cret-pass").await,
        Err(Error::AccountBlocked)
    ));
    assert!(matches!(
        w.app.accounts.login("ann@example.com", "wrong-pass!").await,
        Err(Error::InvalidCredentials)
    ));
    w.app.accounts.unblock(admin, ann.id).await.unwrap();
    assert!(
        w.app
            .accounts
            .login("ann@example.com", "s3cret-pass")
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn password_reset_ends_every_session() {
    let w = world_at("2026-05-01T09:00:00Z");
    w.app
        .accounts
        .ensure_admin("ann@example.com", "old-password", "Ann")
        .await
        .unwrap();
    let s1 = w
        .app
        .accounts
        .login("ann@example.com", "old-password")
        .await
        .unwrap();
    w.app
        .accounts
        .request_password_reset("ann@example.com")
        .await
        .unwrap();
    let token = w.token("ann@example.com", 1).await;
    let link = w.mailer.last_link("ann@example.com").unwrap();
    assert!(link.starts_with("https://mail.example/password-reset/confirm?token="));
    assert_eq!(
        w.app
            .accounts
            .complete_password_reset(&token, "short")
            .await
            .unwrap_err()
            .field(),
        Some("password")
    );
    w.app
        .accounts
        .complete_password_reset(&token, "new-password")
        .await
        .unwrap();
    assert!(matches!(
        w.app
            .accounts
            .complete_password_reset(&token, "new-password")
            .await,
        Err(Error::InvalidToken)
    ));
    assert_eq!(
        w.app.accounts.authenticate(&s1.token).await.unwrap().0,
        Actor::Anonymous
    );
    assert!(matches!(
        w.app
            .accounts
            .login("ann@example.com", "old-password")
            .await,
        Err(Error::InvalidCredentials)
    ));
    assert!(
        w.app
            .accounts
            .login("ann@example.com", "new-password")
            .await
            .is_ok()
    );
}

/// A reset link asked for before the password was changed in the profile no
/// longer works: whoever read that mail cannot take the account back.
#[tokio::test]
async fn a_profile_password_change_voids_pending_reset_links() {
    let w = world_at("2026-05-01T09:00:00Z");
    w.app
        .accounts
        .ensure_admin("ann@example.com", "old-password", "Ann")
        .await
        .unwrap();
    let s = w
        .app
        .accounts
        .login("ann@example.com", "old-password")
        .await
        .unwrap();
    w.app
        .accounts
        .request_password_reset("ann@example.com")
        .await
        .unwrap();
    let token = w.token("ann@example.com", 1).await;
    let (actor, _) = w.app.accounts.authenticate(&s.token).await.unwrap();
    w.app
        .accounts
        .change_password(actor, "old-password", "new-password", Some(&s.token))
        .await
        .unwrap();
    assert!(matches!(
        w.app
            .accounts
            .complete_password_reset(&token, "attacker-password")
            .await,
        Err(Error::InvalidToken)
    ));
    assert!(
        w.app
            .accounts
            .login("ann@example.com", "new-password")
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn password_reset_for_an_unknown_address_answers_the_same_and_sends_nothing() {
    let w = world_at("2026-05-01T09:00:00Z");
    w.app
        .accounts
        .request_password_reset("nobody@example.com")
        .await
        .unwrap();
    // Give a background send every chance to happen before looking.
    assert!(
        !w.mailer
            .wait_for_sent(1, std::time::Duration::from_millis(300))
            .await
    );
}

#[tokio::test]
async fn changing_the_password_keeps_this_session_and_ends_the_others() {
    let w = world_at("2026-05-01T09:00:00Z");
    w.app
        .accounts
        .ensure_admin("ann@example.com", "old-password", "Ann")
        .await
        .unwrap();
    let here = w
        .app
        .accounts
        .login("ann@example.com", "old-password")
        .await
        .unwrap();
    let elsewhere = w
        .app
        .accounts
        .login("ann@example.com", "old-password")
        .await
        .unwrap();
    let (actor, _) = w.app.accounts.authenticate(&here.token).await.unwrap();
    let err = w
        .app
        .accounts
        .change_password(actor, "wrong", "new-password", Some(&here.token))
        .await
        .unwrap_err();
    assert_eq!(err.field(), Some("current_password"));
    w.app
        .accounts
        .change_password(actor, "old-password", "new-password", Some(&here.token))
        .await
        .unwrap();
    assert_ne!(
        w.app.accounts.authenticate(&here.token).await.unwrap().0,
        Actor::Anonymous
    );
    assert_eq!(
        w.app
            .accounts
            .authenticate(&elsewhere.token)
            .await
            .unwrap()
            .0,
        Actor::Anonymous
    );
}

#[tokio::test]
async fn profile_changes_name_and_time_zone() {
    let w = world_at("2026-05-01T09:00:00Z");
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    let u = w
        .app
        .accounts
        .update_profile(ann, "Anna K.", "Asia/Tokyo")
        .await
        .unwrap();
    assert_eq!(
        (u.name.as_str(), u.time_zone.name()),
        ("Anna K.", "Asia/Tokyo")
    );
    assert_eq!(
        w.app
            .accounts
            .update_profile(ann, "Anna", "Nowhere/City")
            .await
            .unwrap_err()
            .field(),
        Some("time_zone")
    );
    assert!(matches!(
        w.app.accounts.me(Actor::Anonymous).await,
        Err(Error::Unauthenticated)
    ));
}

#[tokio::test]
async fn roles_are_granted_by_admins_only() {
    let w = world_at("2026-05-01T09:00:00Z");
    let admin = w.user("root@example.com", Role::Admin, "UTC").await;
    let manager = w.user("boss@example.com", Role::Manager, "UTC").await;
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    assert!(matches!(
        w.app
            .accounts
            .set_role(manager, id_of(ann), Role::Manager)
            .await,
        Err(Error::Forbidden(_))
    ));
    assert!(matches!(
        w.app
            .accounts
            .set_role(ann, id_of(ann), Role::Manager)
            .await,
        Err(Error::Forbidden(_))
    ));
    let u = w
        .app
        .accounts
        .set_role(admin, id_of(ann), Role::Manager)
        .await
        .unwrap();
    assert_eq!(u.role, Role::Manager);
    assert_eq!(
        w.app
            .accounts
            .set_role(admin, id_of(ann), Role::Admin)
            .await
            .unwrap_err()
            .field(),
        Some("role")
    );
    assert!(matches!(
        w.app
            .accounts
            .set_role(admin, id_of(admin), Role::User)
            .await,
        Err(Error::Forbidden(_))
    ));
    assert!(matches!(
        w.app
            .accounts
            .set_role(admin, UserId(999_999), Role::User)
            .await,
        Err(Error::NotFound)
    ));
}

#[tokio::test]
async fn managers_list_and_block_users_but_not_admins() {
    let w = world_at("2026-05-01T09:00:00Z");
    let admin = w.user("root@example.com", Role::Admin, "UTC").await;
    let manager = w.user("boss@example.com", Role::Manager, "UTC").await;
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    assert_eq!(
        w.app
            .accounts
            .list_users(manager, &all())
            .await
            .unwrap()
            .total,
        3
    );
    assert!(matches!(
        w.app.accounts.list_users(ann, &all()).await,
        Err(Error::Forbidden(_))
    ));
    assert!(matches!(
        w.app.accounts.block(manager, id_of(admin)).await,
        Err(Error::Forbidden(_))
    ));
    assert!(matches!(
        w.app.accounts.block(ann, id_of(manager)).await,
        Err(Error::Forbidden(_))
    ));
    assert!(matches!(
        w.app.accounts.block(manager, id_of(manager)).await,
        Err(Error::Forbidden(_))
    ));
    assert_eq!(
        w.app
            .accounts
            .block(manager, id_of(ann))
            .await
            .unwrap()
            .state,
        UserState::Blocked
    );
}

#[tokio::test]
async fn create_admin_promotes_an_existing_account() {
    let w = world_at("2026-05-01T09:00:00Z");
    w.app
        .accounts
        .register("ann@example.com", "s3cret-pass", "Ann", None)
        .await
        .unwrap();
    let u = w
        .app
        .accounts
        .ensure_admin("ann@example.com", "admin-pass", "ignored")
        .await
        .unwrap();
    assert_eq!(
        (u.role, u.state, u.name.as_str()),
        (Role::Admin, UserState::Active, "Ann")
    );
    assert!(
        w.app
            .accounts
            .login("ann@example.com", "admin-pass")
            .await
            .is_ok()
    );
}

// ---- clients ----

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

// ---- messages ----

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

// ---- mailings ----

/// Core answers the questions the pages ask before showing a form or a
/// button: who may create, which list a role sees by default, and who may
/// switch a mailing back on once a manager switched it off.
#[tokio::test]
async fn core_answers_who_may_create_toggle_and_see_what() {
    let w = world_at("2026-05-01T09:00:00Z");
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    let manager = w.user("boss@example.com", Role::Manager, "UTC").await;
    let admin = w.user("root@example.com", Role::Admin, "UTC").await;
    assert_eq!(MailingScope::default_for(Role::User), MailingScope::Own);
    assert_eq!(MailingScope::default_for(Role::Manager), MailingScope::All);
    assert_eq!(MailingScope::default_for(Role::Admin), MailingScope::All);
    assert!(w.app.mailings.can_create(ann).is_ok());
    assert!(w.app.clients.can_create(ann).is_ok());
    assert!(matches!(
        w.app.mailings.can_create(manager),
        Err(Error::Forbidden(_))
    ));
    assert!(matches!(
        w.app.clients.can_create(manager),
        Err(Error::Forbidden(_))
    ));
    assert!(matches!(
        w.app.mailings.can_create(Actor::Anonymous),
        Err(Error::Unauthenticated)
    ));
    assert!(w.app.blog.can_write(admin).is_ok());
    assert!(w.app.blog.can_write(manager).is_err());
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
    for actor in [ann, manager, admin] {
        assert!(w.app.mailings.can_toggle(actor, &m), "{actor:?}");
    }
    // Switched off by its owner: the owner may switch it on again.
    let off = w.app.mailings.disable(ann, m.id).await.unwrap().mailing;
    assert!(w.app.mailings.can_toggle(ann, &off));
    w.app.mailings.enable(ann, m.id).await.unwrap();
    // Switched off by a manager: only staff may, and the use case agrees.
    let off = w.app.mailings.disable(manager, m.id).await.unwrap().mailing;
    assert!(!w.app.mailings.can_toggle(ann, &off));
    assert!(matches!(
        w.app.mailings.enable(ann, m.id).await,
        Err(Error::Forbidden(Reason::DisabledByManager))
    ));
    assert!(w.app.mailings.can_toggle(manager, &off));
    assert!(w.app.mailings.can_toggle(admin, &off));
    assert!(
        w.app
            .mailings
            .enable(admin, m.id)
            .await
            .unwrap()
            .mailing
            .enabled
    );
}

#[tokio::test]
async fn mailings_are_private_to_users_and_visible_to_managers() {
    let w = world_at("2026-05-01T09:00:00Z");
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    let bob = w.user("bob@example.com", Role::User, "UTC").await;
    let manager = w.user("boss@example.com", Role::Manager, "UTC").await;
    let admin = w.user("root@example.com", Role::Admin, "UTC").await;
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
    let d = MailingDraft::new(
        "X",
        m.message_id,
        ids.clone(),
        m.start_at,
        m.end_at,
        Periodicity::Once,
    )
    .unwrap();

    assert!(matches!(
        w.app.mailings.get(bob, m.id).await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        w.app.mailings.update(bob, m.id, &d).await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        w.app.mailings.delete(bob, m.id).await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        w.app.mailings.disable(bob, m.id).await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        w.app.mailings.runs(bob, m.id, &all()).await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        w.app.mailings.list(bob, MailingScope::All, &all()).await,
        Err(Error::Forbidden(_))
    ));
    assert_eq!(
        w.app
            .mailings
            .list(bob, MailingScope::Own, &all())
            .await
            .unwrap()
            .total,
        0
    );

    for overseer in [manager, admin] {
        assert_eq!(
            w.app.mailings.get(overseer, m.id).await.unwrap().mailing.id,
            m.id
        );
        assert_eq!(
            w.app
                .mailings
                .list(overseer, MailingScope::All, &all())
                .await
                .unwrap()
                .total,
            1
        );
        assert!(
            matches!(
                w.app.mailings.update(overseer, m.id, &d).await,
                Err(Error::Forbidden(_))
            ),
            "sees, cannot edit"
        );
        assert!(matches!(
            w.app.mailings.delete(overseer, m.id).await,
            Err(Error::Forbidden(_))
        ));
    }
    let off = w.app.mailings.disable(manager, m.id).await.unwrap();
    assert_eq!(
        (off.status, off.mailing.disabled_by),
        (MailingStatus::Disabled, Some(DisabledBy::Manager))
    );
    assert!(matches!(
        w.app.mailings.create(manager, &d).await,
        Err(Error::Forbidden(_))
    ));
}

#[tokio::test]
async fn a_mailing_may_use_only_its_owners_clients() {
    let w = world_at("2026-05-01T09:00:00Z");
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    let bob = w.user("bob@example.com", Role::User, "UTC").await;
    let bobs = w.clients(bob, &["b@example.com"]).await;
    let msg = w.message(ann).await;
    let d = MailingDraft::new(
        "X",
        msg,
        bobs,
        t("2026-06-01T09:00:00Z"),
        t("2026-06-02T09:00:00Z"),
        Periodicity::Once,
    )
    .unwrap();
    assert_eq!(
        w.app.mailings.create(ann, &d).await.unwrap_err().field(),
        Some("client_ids")
    );
    let d = MailingDraft::new(
        "X",
        MessageId(424_242),
        w.clients(ann, &["a@example.com"]).await,
        d.start_at,
        d.end_at,
        Periodicity::Once,
    )
    .unwrap();
    assert_eq!(
        w.app.mailings.create(ann, &d).await.unwrap_err().field(),
        Some("message_id")
    );
    assert_eq!(
        w.app
            .mailings
            .list(ann, MailingScope::Own, &all())
            .await
            .unwrap()
            .total,
        0
    );
}

#[tokio::test]
async fn mailing_input_errors_name_the_field() {
    let s = t("2026-06-01T09:00:00Z");
    let e = |r: Result<MailingDraft, Error>| r.unwrap_err().field();
    assert_eq!(
        e(MailingDraft::new(
            "X",
            MessageId(1),
            vec![ClientId(1)],
            s,
            s,
            Periodicity::Once
        )),
        Some("end_at")
    );
    assert_eq!(
        e(MailingDraft::new(
            "",
            MessageId(1),
            vec![ClientId(1)],
            s,
            s + Duration::days(1),
            Periodicity::Once
        )),
        Some("name")
    );
    assert_eq!(
        e(MailingDraft::new(
            "X",
            MessageId(1),
            vec![],
            s,
            s + Duration::days(1),
            Periodicity::Once
        )),
        Some("client_ids")
    );
    assert_eq!(
        Periodicity::parse("hourly").unwrap_err().field(),
        Some("periodicity")
    );
}

#[tokio::test]
async fn mailing_status_follows_its_life() {
    let w = world_at("2026-05-01T09:00:00Z");
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    let ids = w.clients(ann, &["x@example.com"]).await;
    let m = w
        .mailing(
            ann,
            &ids,
            t("2026-05-02T09:00:00Z"),
            t("2026-05-04T00:00:00Z"),
            Periodicity::Daily,
        )
        .await;
    let status = |w: &World| {
        let app = w.app.clone();
        async move { app.mailings.get(ann, m.id).await.unwrap().status }
    };
    assert_eq!(status(&w).await, MailingStatus::Created);
    w.clock.set(t("2026-05-02T09:00:00Z"));
    w.engine.round().await.unwrap();
    assert_eq!(status(&w).await, MailingStatus::Running);
    w.clock.set(t("2026-05-03T09:00:00Z"));
    w.engine.round().await.unwrap();
    assert_eq!(
        status(&w).await,
        MailingStatus::Finished,
        "last slot sent, none left"
    );
    w.app.mailings.disable(ann, m.id).await.unwrap();
    assert_eq!(status(&w).await, MailingStatus::Disabled);
}

#[tokio::test]
async fn editing_the_schedule_reseeds_the_next_run() {
    let w = world_at("2026-05-01T09:00:00Z");
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    let ids = w.clients(ann, &["x@example.com"]).await;
    let m = w
        .mailing(
            ann,
            &ids,
            t("2026-05-10T09:00:00Z"),
            t("2026-06-01T00:00:00Z"),
            Periodicity::Daily,
        )
        .await;
    assert_eq!(m.next_run_at, Some(t("2026-05-10T09:00:00Z")));
    let renamed = MailingDraft::new(
        "Renamed",
        m.message_id,
        ids.clone(),
        m.start_at,
        m.end_at,
        m.periodicity,
    )
    .unwrap();
    assert_eq!(
        w.app
            .mailings
            .update(ann, m.id, &renamed)
            .await
            .unwrap()
            .mailing
            .next_run_at,
        m.next_run_at
    );
    let earlier = MailingDraft::new(
        "Renamed",
        m.message_id,
        ids,
        t("2026-04-30T12:00:00Z"),
        m.end_at,
        m.periodicity,
    )
    .unwrap();
    let up = w.app.mailings.update(ann, m.id, &earlier).await.unwrap();
    assert_eq!(
        up.mailing.next_run_at,
        Some(t("2026-04-30T12:00:00Z")),
        "current slot due at once"
    );
}

#[tokio::test]
async fn deleting_a_mailing_keeps_its_reports() {
    let w = world_at("2026-05-01T09:00:00Z");
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    let ids = w.clients(ann, &["x@example.com"]).await;
    let m = w
        .mailing(
            ann,
            &ids,
            t("2026-05-01T09:00:00Z"),
            t("2026-05-02T00:00:00Z"),
            Periodicity::Once,
        )
        .await;
    w.engine.round().await.unwrap();
    w.app.mailings.delete(ann, m.id).await.unwrap();
    let log = w.app.logs.list(ann, &all()).await.unwrap();
    assert_eq!(
        log.items[0]
            .report
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("Sent 1 of 1")
    );
    assert!(matches!(
        w.app.mailings.get(ann, m.id).await,
        Err(Error::NotFound)
    ));
}

// ---- logs ----

#[tokio::test]
async fn the_log_is_public_to_users_but_addresses_are_not() {
    let w = world_at("2026-05-01T09:00:00Z");
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    let bob = w.user("bob@example.com", Role::User, "UTC").await;
    let manager = w.user("boss@example.com", Role::Manager, "UTC").await;
    let ids = w.clients(ann, &["x@example.com", "y@example.com"]).await;
    let m = w
        .mailing(
            ann,
            &ids,
            t("2026-05-01T09:00:00Z"),
            t("2026-05-02T00:00:00Z"),
            Periodicity::Once,
        )
        .await;
    w.engine.round().await.unwrap();
    let run = w.app.logs.list(bob, &all()).await.unwrap().items[0].clone();
    assert_eq!(run.mailing_id, Some(m.id));
    let detail = w.app.logs.run(bob, run.id).await.unwrap();
    assert_eq!((detail.totals.sent, detail.totals.percent()), (2, 100));
    assert!(matches!(
        w.app.logs.deliveries(bob, run.id, &all()).await,
        Err(Error::NotFound)
    ));
    assert_eq!(
        w.app
            .logs
            .deliveries(ann, run.id, &all())
            .await
            .unwrap()
            .total,
        2
    );
    assert_eq!(
        w.app
            .logs
            .deliveries(manager, run.id, &all())
            .await
            .unwrap()
            .total,
        2
    );
    assert!(matches!(
        w.app.logs.list(Actor::Anonymous, &all()).await,
        Err(Error::Unauthenticated)
    ));
    let chart = w.app.logs.daily(bob, 30).await.unwrap();
    assert_eq!((chart.len(), chart[0].sent, chart[0].failed), (1, 2, 0));
    assert_eq!(
        w.app.mailings.runs(ann, m.id, &all()).await.unwrap().total,
        1
    );
}

// ---- blog and home page ----

#[tokio::test]
async fn the_blog_is_public_and_written_by_admins() {
    let w = world_at("2026-05-01T09:00:00Z");
    let admin = w.user("root@example.com", Role::Admin, "UTC").await;
    let manager = w.user("boss@example.com", Role::Manager, "UTC").await;
    let d = PostDraft::parse("Hello", "First post", None, true).unwrap();
    assert!(matches!(
        w.app.blog.create(manager, &d).await,
        Err(Error::Forbidden(_))
    ));
    assert!(matches!(
        w.app.blog.create(Actor::Anonymous, &d).await,
        Err(Error::Unauthenticated)
    ));
    let p = w.app.blog.create(admin, &d).await.unwrap();
    let draft = w
        .app
        .blog
        .create(
            admin,
            &PostDraft::parse("Later", "Draft", None, false).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        w.app.blog.read(Actor::Anonymous, p.id).await.unwrap().views,
        1
    );
    assert_eq!(w.app.blog.read(manager, p.id).await.unwrap().views, 2);
    assert!(matches!(
        w.app.blog.read(Actor::Anonymous, draft.id).await,
        Err(Error::NotFound)
    ));
    assert_eq!(w.app.blog.read(admin, draft.id).await.unwrap().views, 0);
    assert_eq!(
        w.app
            .blog
            .list(Actor::Anonymous, &all())
            .await
            .unwrap()
            .total,
        1
    );
    assert_eq!(w.app.blog.list(admin, &all()).await.unwrap().total, 2);
    w.app.blog.delete(admin, p.id).await.unwrap();
    assert!(matches!(
        w.app.blog.read(Actor::Anonymous, p.id).await,
        Err(Error::NotFound)
    ));
}

#[tokio::test]
async fn the_home_page_shows_live_figures_and_three_random_posts() {
    let w = world_at("2026-05-01T09:00:00Z");
    let admin = w.user("root@example.com", Role::Admin, "UTC").await;
    for i in 0..5 {
        w.app
            .blog
            .create(
                admin,
                &PostDraft::parse(&format!("P{i}"), "B", None, true).unwrap(),
            )
            .await
            .unwrap();
    }
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    let bob = w.user("bob@example.com", Role::User, "UTC").await;
    let a = w.clients(ann, &["same@example.com", "a@example.com"]).await;
    w.clients(bob, &["SAME@example.com"]).await;
    w.mailing(
        ann,
        &a,
        t("2026-05-01T09:00:00Z"),
        t("2026-05-05T00:00:00Z"),
        Periodicity::Daily,
    )
    .await;
    w.mailing(
        ann,
        &a,
        t("2026-06-01T09:00:00Z"),
        t("2026-06-05T00:00:00Z"),
        Periodicity::Daily,
    )
    .await;
    let home = w.app.stats.home_page().await.unwrap();
    assert_eq!(
        (
            home.stats.mailings,
            home.stats.running_mailings,
            home.stats.unique_clients
        ),
        (2, 1, 2)
    );
    assert_eq!(home.posts.len(), 3);
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

#[tokio::test]
async fn editing_the_schedule_after_a_run_does_not_send_the_slot_again() {
    let w = world_at("2026-05-01T09:00:00Z");
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    let ids = w.clients(ann, &["x@example.com"]).await;
    let m = w
        .mailing(
            ann,
            &ids,
            t("2026-05-01T09:00:00Z"),
            t("2026-06-01T00:00:00Z"),
            Periodicity::Daily,
        )
        .await;
    w.engine.round().await.unwrap();
    w.clock.set(t("2026-05-01T10:00:00Z"));
    // Moved to 09:30 daily: today's 09:30 slot has passed, tomorrow's is next.
    let d = MailingDraft::new(
        "News",
        m.message_id,
        ids,
        t("2026-05-01T09:30:00Z"),
        m.end_at,
        Periodicity::Daily,
    )
    .unwrap();
    let up = w.app.mailings.update(ann, m.id, &d).await.unwrap();
    assert_eq!(up.mailing.next_run_at, Some(t("2026-05-02T09:30:00Z")));
    w.engine.round().await.unwrap();
    assert_eq!(w.mailer.sent().len(), 1, "one email today");
}

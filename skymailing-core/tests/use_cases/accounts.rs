//! Accounts: registration, verification, sign-in, passwords, profiles, roles and blocking.

use super::*;

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

/// An application's own admin flow creates accounts directly: active at
/// once, with the role given, through the permission table.
#[tokio::test]
async fn admins_create_active_accounts_directly() {
    let w = world_at("2026-05-01T09:00:00Z");
    let admin = w.user("root@example.com", Role::Admin, "UTC").await;
    let manager = w.user("boss@example.com", Role::Manager, "UTC").await;
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    let account = NewAccount {
        email: "Bob@Example.com",
        name: "Bob",
        password: Some("a long enough password"),
        role: Role::Manager,
        time_zone: "Europe/Moscow",
    };
    for who in [manager, ann] {
        assert!(matches!(
            w.app.accounts.create_user(who, &account).await,
            Err(Error::Forbidden(_))
        ));
    }
    assert!(matches!(
        w.app.accounts.create_user(Actor::Anonymous, &account).await,
        Err(Error::Unauthenticated)
    ));
    let bob = w.app.accounts.create_user(admin, &account).await.unwrap();
    assert_eq!(
        (bob.role, bob.state, bob.email.as_str()),
        (Role::Manager, UserState::Active, "bob@example.com")
    );
    assert_eq!(bob.time_zone.name(), "Europe/Moscow");
    // Active at once: no verification mail (account mail goes out in the
    // background: wait for it), and the password signs in.
    w.app.accounts.wait_for_mail().await;
    assert!(w.mailer.sent().is_empty(), "no mail");
    let session = w
        .app
        .accounts
        .login("bob@example.com", "a long enough password")
        .await
        .unwrap();
    assert_eq!(session.user.id, bob.id);

    // Each field is checked, and named.
    for (bad, field) in [
        (
            NewAccount {
                email: "not-an-address",
                ..account
            },
            "email",
        ),
        (
            NewAccount {
                name: " ",
                ..account
            },
            "name",
        ),
        (
            NewAccount {
                password: Some("short"),
                ..account
            },
            "password",
        ),
        (
            NewAccount {
                time_zone: "Mars/Olympus",
                ..account
            },
            "time_zone",
        ),
        (
            NewAccount {
                role: Role::Admin,
                ..account
            },
            "role",
        ),
        (
            NewAccount {
                email: "bob@example.com",
                ..account
            },
            "email",
        ),
    ] {
        let e = w.app.accounts.create_user(admin, &bad).await.unwrap_err();
        assert_eq!(e.field(), Some(field), "{e}");
    }
}

/// An actor built before its account was blocked acts as the account is now:
/// every use case refuses it, whatever it asks — and one demoted in the
/// meantime acts with its new role.
#[tokio::test]
async fn a_blocked_users_actor_is_refused_by_every_use_case() {
    let w = world_at("2026-05-01T09:00:00Z");
    let admin = w.user("root@example.com", Role::Admin, "UTC").await;
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    let client = w.clients(ann, &["c@example.com"]).await[0];
    let now = w.app.now();
    let m = w
        .mailing(
            ann,
            &[client],
            now,
            now + Duration::days(1),
            Periodicity::Once,
        )
        .await;
    let cd = ClientDraft::parse("d@example.com", "D", "").unwrap();
    let md = MessageDraft::parse("Hi", "Hello", None).unwrap();
    let gd = MailingDraft::new(
        "M",
        m.message_id,
        vec![client],
        now,
        now + Duration::days(1),
        Periodicity::Once,
    )
    .unwrap();
    let pd = PostDraft::parse("T", "Body", None, true).unwrap();
    let q = all();
    w.app.accounts.block(admin, id_of(ann)).await.unwrap();

    macro_rules! refused {
        ($($call:expr),* $(,)?) => {$(
            let r = $call.await;
            assert!(matches!(r, Err(Error::AccountBlocked)), "{}: {:?}", stringify!($call), r.err());
        )*};
    }
    let (a, c, s) = (&w.app.accounts, &w.app.clients, &w.app.messages);
    refused!(
        a.me(ann),
        a.update_profile(ann, "Ann", "UTC"),
        a.set_language(ann, "en"),
        a.change_password(ann, "old password", "new password!", None),
        a.list_users(ann, &q),
        a.block(ann, id_of(admin)),
        a.unblock(ann, id_of(admin)),
        a.set_role(ann, id_of(admin), Role::Manager),
        a.create_user(
            ann,
            &NewAccount {
                email: "x@example.com",
                name: "X",
                password: Some("long enough pw"),
                role: Role::User,
                time_zone: "UTC"
            }
        ),
        c.list(ann, &q),
        c.get(ann, client),
        c.create(ann, &cd),
        c.update(ann, client, &cd),
        c.delete(ann, client),
        s.list(ann, &q),
        s.get(ann, m.message_id),
        s.create(ann, &md),
        s.update(ann, m.message_id, &md),
        s.delete(ann, m.message_id),
    );
    let (g, l, b) = (&w.app.mailings, &w.app.logs, &w.app.blog);
    refused!(
        g.list(ann, MailingScope::Own, &q),
        g.get(ann, m.id),
        g.create(ann, &gd),
        g.update(ann, m.id, &gd),
        g.delete(ann, m.id),
        g.disable(ann, m.id),
        g.enable(ann, m.id),
        g.runs(ann, m.id, &q),
        l.list(ann, &q),
        l.run(ann, RunId(1)),
        l.daily(ann, 30),
        b.list(ann, &q),
        b.read(ann, PostId(1)),
        b.get(ann, PostId(1)),
        b.create(ann, &pd),
        b.update(ann, PostId(1), &pd),
        b.delete(ann, PostId(1)),
    );
    // Nothing was changed on the way.
    assert_eq!(w.app.clients.list(admin, &q).await.unwrap().total, 0);
    assert!(
        w.app
            .mailings
            .get(admin, m.id)
            .await
            .unwrap()
            .mailing
            .enabled
    );

    // A manager demoted after their actor was built acts as a user.
    let boss = w.user("boss@example.com", Role::Manager, "UTC").await;
    w.app
        .accounts
        .set_role(admin, id_of(boss), Role::User)
        .await
        .unwrap();
    assert!(matches!(
        w.app.accounts.list_users(boss, &q).await,
        Err(Error::Forbidden(_))
    ));
}

/// An application that signs its users in itself creates them without a
/// password: no password signs them in here (nor does an empty one), the
/// application acts for them with `Actor::user`, and they may set a password
/// later through a reset link.
#[tokio::test]
async fn accounts_without_a_password_cannot_sign_in_with_one() {
    let w = world_at("2026-05-01T09:00:00Z");
    let admin = w.user("root@example.com", Role::Admin, "UTC").await;
    let u = w
        .app
        .accounts
        .create_user(
            admin,
            &NewAccount {
                email: "sso@example.com",
                name: "Sso",
                password: None,
                role: Role::User,
                time_zone: "UTC",
            },
        )
        .await
        .unwrap();
    for tried in ["", "x", "a long enough password", "not a hash: no password"] {
        assert!(matches!(
            w.app.accounts.login("sso@example.com", tried).await,
            Err(Error::InvalidCredentials)
        ));
    }
    // The application acts for them.
    let me = Actor::user(u.id, u.role);
    let c = ClientDraft::parse("c@example.com", "C", "").unwrap();
    w.app.clients.create(me, &c).await.unwrap();
    // A reset link sets a first password.
    w.app
        .accounts
        .request_password_reset("sso@example.com")
        .await
        .unwrap();
    let token = w.token("sso@example.com", 1).await;
    w.app
        .accounts
        .complete_password_reset(&token, "a brand new password")
        .await
        .unwrap();
    w.app
        .accounts
        .login("sso@example.com", "a brand new password")
        .await
        .unwrap();
}

/// An account read to admit an actor serves the next use cases for a
/// moment; a change made through the use cases applies at once, one made
/// behind them (another process on the same database) within
/// `ACCOUNT_REUSE`; a session lookup always reads the store.
#[tokio::test]
async fn accounts_read_for_one_call_serve_the_next_only_briefly() {
    let w = world_at("2026-05-01T09:00:00Z");
    let admin = w.user("root@example.com", Role::Admin, "UTC").await;
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    let Actor::User(p) = ann else { unreachable!() };
    let query = ListQuery::new(1, 10, None).unwrap();
    w.app.clients.list(ann, &query).await.unwrap();
    // Through the use cases: at once.
    w.app.accounts.block(admin, p.id).await.unwrap();
    assert!(matches!(
        w.app.clients.list(ann, &query).await,
        Err(Error::AccountBlocked)
    ));
    w.app.accounts.unblock(admin, p.id).await.unwrap();
    w.app.clients.list(ann, &query).await.unwrap();
    // Behind them (the store written directly, as another process would):
    // within ACCOUNT_REUSE.
    skymailing_core::ports::UserStore::set_user_state(
        &*w.store,
        p.id,
        UserState::Blocked,
        w.app.now(),
    )
    .await
    .unwrap();
    tokio::time::sleep(ACCOUNT_REUSE + std::time::Duration::from_millis(50)).await;
    assert!(matches!(
        w.app.clients.list(ann, &query).await,
        Err(Error::AccountBlocked)
    ));
}

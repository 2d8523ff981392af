//! Conformance cases: Users, sessions and one-time tokens.

use super::*;

/// A user email is taken once (addresses reach stores lower-cased by `EmailAddress`).
pub async fn users_email_is_unique(s: S) {
    user(&s, "ann@example.com", Role::User).await;
    let dup = s
        .create_user(&NewUser {
            email: EmailAddress::parse("ANN@Example.com").unwrap(),
            name: DisplayName::parse("Other Ann").unwrap(),
            time_zone: TimeZone::UTC,
            role: Role::User,
            state: UserState::PendingVerification,
            password_hash: Some("x".into()),
            created_at: t0(),
        })
        .await;
    assert!(
        matches!(
            dup,
            Err(StoreError::Conflict(StoreConflict::UserEmailTaken))
        ),
        "{dup:?}"
    );
}

/// An account without a password is kept as one (no hash, not an empty or
/// made-up one), and a password set later is kept.
pub async fn a_user_without_a_password_has_no_hash(s: S) {
    let u = s
        .create_user(&NewUser {
            email: EmailAddress::parse("app@example.com").unwrap(),
            name: DisplayName::parse("App User").unwrap(),
            time_zone: TimeZone::UTC,
            role: Role::User,
            state: UserState::Active,
            password_hash: None,
            created_at: t0(),
        })
        .await
        .unwrap();
    let (found, hash) = s.user_by_email(&u.email).await.unwrap().unwrap();
    assert_eq!((found.id, hash), (u.id, None));
    s.set_password_hash(u.id, "$argon2id$set-later")
        .await
        .unwrap();
    let (_, hash) = s.user_by_email(&u.email).await.unwrap().unwrap();
    assert_eq!(hash.as_deref(), Some("$argon2id$set-later"));
}

/// Users are found by id and email and their fields change.
pub async fn users_are_found_and_updated(s: S) {
    let u = user(&s, "bob@example.com", Role::User).await;
    assert_eq!(s.user(u.id).await.unwrap().unwrap(), u);
    let (found, hash) = s
        .user_by_email(&EmailAddress::parse("BOB@example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((found.id, hash.as_deref()), (u.id, Some("$argon2id$fake")));
    assert_eq!(u.time_zone.name(), "Europe/Berlin");

    s.set_password_hash(u.id, "$argon2id$new").await.unwrap();
    assert_eq!(
        s.user_by_email(&u.email)
            .await
            .unwrap()
            .unwrap()
            .1
            .as_deref(),
        Some("$argon2id$new")
    );
    let u2 = s.set_user_role(u.id, Role::Manager).await.unwrap().unwrap();
    assert_eq!(u2.role, Role::Manager);
    let u3 = s
        .set_user_state(u.id, UserState::Blocked, t0())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(u3.state, UserState::Blocked);
    let u4 = s
        .update_profile(
            u.id,
            &DisplayName::parse("Robert").unwrap(),
            TimeZone::parse("Asia/Tokyo").unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (u4.name.as_str(), u4.time_zone.name()),
        ("Robert", "Asia/Tokyo")
    );
    assert_eq!(s.user(u.id).await.unwrap().unwrap(), u4);
    assert_eq!(u4.language, None);
    let ru = Language::parse("ru").unwrap();
    let u5 = s
        .set_user_language(u.id, Some(ru.clone()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(u5.language, Some(ru));
    assert_eq!(s.user(u.id).await.unwrap().unwrap(), u5);
    let u6 = s.set_user_language(u.id, None).await.unwrap().unwrap();
    assert_eq!(u6.language, None);
    assert_eq!(s.user(UserId(987_654)).await.unwrap(), None);
    assert_eq!(
        s.set_user_role(UserId(987_654), Role::User).await.unwrap(),
        None
    );
}

/// Users list in id order, a page at a time, filtered by email or name.
pub async fn users_list_paginates_and_searches(s: S) {
    for i in 0..5 {
        user(&s, &format!("u{i}@example.com"), Role::User).await;
    }
    user(&s, "zed@other.org", Role::Manager).await;
    let p = s.list_users(&q(2, 2, None)).await.unwrap();
    assert_eq!((p.total, p.items.len()), (6, 2));
    assert_eq!(p.items[0].email.as_str(), "u2@example.com");
    let found = s.list_users(&q(1, 10, Some("OTHER.org"))).await.unwrap();
    assert_eq!(found.total, 1);
    assert_eq!(found.items[0].email.as_str(), "zed@other.org");
}

/// A session finds its user until it expires or is deleted.
pub async fn sessions_expire_and_can_be_revoked(s: S) {
    let u = user(&s, "ann@example.com", Role::User).await;
    s.create_session(u.id, "h1", t0() + Span::hours(1))
        .await
        .unwrap();
    s.create_session(u.id, "h2", t0() + Span::hours(1))
        .await
        .unwrap();
    s.create_session(u.id, "h3", t0() + Span::hours(1))
        .await
        .unwrap();
    assert_eq!(s.session_user("h1", t0()).await.unwrap().unwrap().id, u.id);
    assert_eq!(
        s.session_user("h1", t0() + Span::hours(1)).await.unwrap(),
        None,
        "expired"
    );
    assert_eq!(s.session_user("nope", t0()).await.unwrap(), None);
    s.delete_session("h1").await.unwrap();
    assert_eq!(s.session_user("h1", t0()).await.unwrap(), None);
    assert_eq!(
        s.delete_user_sessions(u.id, Some("h2".into()))
            .await
            .unwrap(),
        1
    );
    assert!(s.session_user("h2", t0()).await.unwrap().is_some(), "kept");
    assert_eq!(s.session_user("h3", t0()).await.unwrap(), None);
}

/// A token works once, for its purpose, before it expires; a new one replaces the old.
pub async fn tokens_are_single_use_and_expire(s: S) {
    let u = user(&s, "ann@example.com", Role::User).await;
    let exp = t0() + Span::hours(1);
    s.create_token(u.id, TokenPurpose::VerifyEmail, "v1", exp)
        .await
        .unwrap();
    assert_eq!(
        s.consume_token(TokenPurpose::PasswordReset, "v1", t0())
            .await
            .unwrap(),
        None,
        "wrong purpose"
    );
    assert_eq!(
        s.consume_token(TokenPurpose::VerifyEmail, "v1", t0())
            .await
            .unwrap(),
        Some(u.id)
    );
    assert_eq!(
        s.consume_token(TokenPurpose::VerifyEmail, "v1", t0())
            .await
            .unwrap(),
        None,
        "used up"
    );

    s.create_token(u.id, TokenPurpose::PasswordReset, "r1", exp)
        .await
        .unwrap();
    s.create_token(u.id, TokenPurpose::PasswordReset, "r2", exp)
        .await
        .unwrap();
    assert_eq!(
        s.consume_token(TokenPurpose::PasswordReset, "r1", t0())
            .await
            .unwrap(),
        None,
        "replaced"
    );
    assert_eq!(
        s.consume_token(TokenPurpose::PasswordReset, "r2", exp)
            .await
            .unwrap(),
        None,
        "expired"
    );
}

/// Purging removes expired sessions and tokens only.
pub async fn purge_removes_only_expired_sessions_and_tokens(s: S) {
    let u = user(&s, "ann@example.com", Role::User).await;
    s.create_session(u.id, "old", t0() - Span::seconds(1))
        .await
        .unwrap();
    s.create_session(u.id, "live", t0() + Span::hours(1))
        .await
        .unwrap();
    s.create_token(
        u.id,
        TokenPurpose::VerifyEmail,
        "oldt",
        t0() - Span::seconds(1),
    )
    .await
    .unwrap();
    s.create_token(
        u.id,
        TokenPurpose::PasswordReset,
        "livet",
        t0() + Span::hours(1),
    )
    .await
    .unwrap();
    assert_eq!(s.purge_expired(t0()).await.unwrap(), 2);
    assert!(s.session_user("live", t0()).await.unwrap().is_some());
    assert_eq!(
        s.consume_token(TokenPurpose::PasswordReset, "livet", t0())
            .await
            .unwrap(),
        Some(u.id)
    );
}

/// Setting a password voids the account's pending reset links, and nothing else.
pub async fn a_new_password_voids_pending_reset_links(s: S) {
    let u = user(&s, "ann@example.com", Role::User).await;
    let other = user(&s, "bob@example.com", Role::User).await;
    let exp = t0() + Span::hours(1);
    s.create_token(u.id, TokenPurpose::PasswordReset, "reset", exp)
        .await
        .unwrap();
    s.create_token(u.id, TokenPurpose::VerifyEmail, "verify", exp)
        .await
        .unwrap();
    s.create_token(other.id, TokenPurpose::PasswordReset, "bobs", exp)
        .await
        .unwrap();
    s.set_password_hash(u.id, "new hash").await.unwrap();
    assert_eq!(
        s.consume_token(TokenPurpose::PasswordReset, "reset", t0())
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.consume_token(TokenPurpose::VerifyEmail, "verify", t0())
            .await
            .unwrap(),
        Some(u.id)
    );
    assert_eq!(
        s.consume_token(TokenPurpose::PasswordReset, "bobs", t0())
            .await
            .unwrap(),
        Some(other.id)
    );
    let (_, hash) = s.user_by_email(&u.email).await.unwrap().unwrap();
    assert_eq!(hash.as_deref(), Some("new hash"));
}

/// Blocking an owner ends their sessions and cancels their pending deliveries.
pub async fn blocking_an_owner_cancels_pending_and_ends_sessions(s: S) {
    let (u, _, run) = run_with(&s, "ann@example.com", 2).await;
    let (_, _, other) = run_with(&s, "bob@example.com", 2).await;
    s.create_session(u.id, "sess", t0() + Span::hours(1))
        .await
        .unwrap();
    s.set_user_state(u.id, UserState::Blocked, t0())
        .await
        .unwrap();
    assert_eq!(s.session_user("sess", t0()).await.unwrap(), None);
    assert_eq!(states(&s, run.id).await[&DeliveryState::Cancelled], 2);
    assert_eq!(
        states(&s, other.id).await[&DeliveryState::Pending],
        2,
        "others untouched"
    );
}

/// Of many concurrent uses of one token, exactly one succeeds.
pub async fn a_token_is_consumed_once_under_concurrency(s: S) {
    let u = user(&s, "ann@example.com", Role::User).await;
    s.create_token(
        u.id,
        TokenPurpose::PasswordReset,
        "once",
        t0() + Span::hours(1),
    )
    .await
    .unwrap();
    let tries = (0..8).map(|_| {
        let s = s.clone();
        tokio::spawn(async move {
            s.consume_token(TokenPurpose::PasswordReset, "once", t0())
                .await
                .unwrap()
        })
    });
    let mut won = 0;
    for t in tries {
        if t.await.unwrap().is_some() {
            won += 1;
        }
    }
    assert_eq!(won, 1);
}

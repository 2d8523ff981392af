//! Mailings: who sees and changes what, validation, status and schedule.

use super::*;

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
    assert_eq!(status(&w).await, MailingStatus::Scheduled);
    w.clock.set(t("2026-05-02T09:00:00Z"));
    w.engine.round().await.unwrap();
    assert_eq!(
        status(&w).await,
        MailingStatus::Scheduled,
        "sent, the next one due"
    );
    // A blocked owner's mailing says so and shows no next run.
    let root = w.user("root@example.com", Role::Admin, "UTC").await;
    w.app.accounts.block(root, id_of(ann)).await.unwrap();
    let blocked = w.app.mailings.get(root, m.id).await.unwrap().status;
    assert_eq!(blocked, MailingStatus::OwnerBlocked);
    assert!(!blocked.shows_next_run());
    w.app.accounts.unblock(root, id_of(ann)).await.unwrap();
    w.clock.set(t("2026-05-03T09:00:00Z"));
    w.engine.round().await.unwrap();
    assert_eq!(
        status(&w).await,
        MailingStatus::Finished,
        "last slot sent, none left"
    );
    assert!(!MailingStatus::Finished.can_be_disabled());
    w.app.mailings.disable(ann, m.id).await.unwrap();
    assert_eq!(status(&w).await, MailingStatus::Disabled);
    assert!(!MailingStatus::Disabled.shows_next_run());
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

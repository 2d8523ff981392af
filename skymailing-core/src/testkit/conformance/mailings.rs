//! Conformance cases: Mailings, their client sets, disabling and deleting.

use super::*;

/// A mailing may use only its owner's clients and an existing message.
pub async fn mailing_refuses_foreign_clients_and_unknown_messages(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    let bob = user(&s, "bob@example.com", Role::User).await;
    let mine = client(&s, ann.id, "x@example.com").await;
    let theirs = client(&s, bob.id, "y@example.com").await;
    let msg = message(&s, ann.id).await;
    let d = MailingDraft::new(
        "m",
        msg.id,
        vec![mine.id, theirs.id],
        t0(),
        t0() + Span::days(1),
        Periodicity::Once,
    )
    .unwrap();
    let r = s.create_mailing(ann.id, &d, Some(t0()), t0()).await;
    assert!(
        matches!(r, Err(StoreError::Conflict(StoreConflict::UnknownClient))),
        "{r:?}"
    );
    let d = MailingDraft::new(
        "m",
        MessageId(987_654),
        vec![mine.id],
        t0(),
        t0() + Span::days(1),
        Periodicity::Once,
    )
    .unwrap();
    let r = s.create_mailing(ann.id, &d, Some(t0()), t0()).await;
    assert!(
        matches!(r, Err(StoreError::Conflict(StoreConflict::UnknownMessage))),
        "{r:?}"
    );
    assert_eq!(
        s.list_mailings(None, &all()).await.unwrap().total,
        0,
        "nothing half written"
    );
}

/// An update replaces fields and the client set; foreign clients are refused.
pub async fn mailing_update_replaces_the_client_set(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    let bob = user(&s, "bob@example.com", Role::User).await;
    let a = client(&s, ann.id, "a@example.com").await;
    let b = client(&s, ann.id, "b@example.com").await;
    let c = client(&s, ann.id, "c@example.com").await;
    let foreign = client(&s, bob.id, "f@example.com").await;
    let msg = message(&s, ann.id).await;
    let m = mailing(&s, ann.id, msg.id, &[a.id, b.id]).await;
    assert_eq!(m.client_ids, vec![a.id, b.id]);
    assert!(m.enabled && m.disabled_by.is_none());

    let start = t0() + Span::days(2);
    let d = MailingDraft::new(
        "Renamed",
        msg.id,
        vec![c.id, b.id],
        start,
        start + Span::days(7),
        Periodicity::Weekly,
    )
    .unwrap();
    let up = s
        .update_mailing(m.id, &d, Some(start), t0())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(up.client_ids, vec![b.id, c.id]);
    assert_eq!(
        (
            up.name.as_str(),
            up.periodicity,
            up.start_at,
            up.next_run_at
        ),
        ("Renamed", Periodicity::Weekly, start, Some(start))
    );
    assert_eq!(s.mailing(m.id).await.unwrap().unwrap(), up);

    let bad = MailingDraft::new(
        "X",
        msg.id,
        vec![foreign.id],
        start,
        start + Span::days(7),
        Periodicity::Weekly,
    )
    .unwrap();
    let r = s.update_mailing(m.id, &bad, Some(start), t0()).await;
    assert!(
        matches!(r, Err(StoreError::Conflict(StoreConflict::UnknownClient))),
        "{r:?}"
    );
    assert_eq!(s.mailing(m.id).await.unwrap().unwrap(), up, "unchanged");
    assert_eq!(
        s.update_mailing(MailingId(987_654), &d, None, t0())
            .await
            .unwrap(),
        None
    );
}

/// Mailings list newest first, by owner or all, searchable by name.
pub async fn mailings_list_by_owner_or_all(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    let bob = user(&s, "bob@example.com", Role::User).await;
    let ca = client(&s, ann.id, "a@example.com").await;
    let cb = client(&s, bob.id, "b@example.com").await;
    let msg = message(&s, ann.id).await;
    let m1 = mailing(&s, ann.id, msg.id, &[ca.id]).await;
    let m2 = mailing(&s, bob.id, msg.id, &[cb.id]).await;
    let m3 = mailing(&s, ann.id, msg.id, &[ca.id]).await;
    let mine = s.list_mailings(Some(ann.id), &all()).await.unwrap();
    assert_eq!(
        mine.items.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![m3.id, m1.id]
    );
    let every = s.list_mailings(None, &q(1, 2, None)).await.unwrap();
    assert_eq!(
        (every.total, every.items[0].id, every.items[1].id),
        (3, m3.id, m2.id)
    );
    assert_eq!(
        s.list_mailings(None, &q(1, 10, Some("WEEKLY")))
            .await
            .unwrap()
            .total,
        3
    );
    assert_eq!(
        s.list_mailings(None, &q(1, 10, Some("nothing")))
            .await
            .unwrap()
            .total,
        0
    );
}

/// The engine parks a mailing it cannot handle: disabled with the reason
/// `engine_error` and its pending deliveries cancelled, once.
pub async fn parking_disables_with_engine_error_and_cancels_pending(s: S) {
    let (_, m, run) = run_with(&s, "ann@example.com", 2).await;
    assert_eq!(
        s.run_content(run.id).await.unwrap().unwrap().mailing_id,
        Some(m.id)
    );
    assert!(s.park_mailing(m.id, t0()).await.unwrap());
    let parked = s.mailing(m.id).await.unwrap().unwrap();
    assert_eq!(
        (parked.enabled, parked.disabled_by),
        (false, Some(DisabledBy::EngineError))
    );
    assert_eq!(states(&s, run.id).await[&DeliveryState::Cancelled], 2);
    assert!(!s.park_mailing(m.id, t0()).await.unwrap(), "once");
    assert!(!s.park_mailing(MailingId(999_999), t0()).await.unwrap());
    // Enabling it again is an ordinary enable.
    let on = s
        .set_mailing_enabled(m.id, true, None, Some(t0()), t0())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((on.enabled, on.disabled_by), (true, None));
}

/// Disabling a mailing cancels its pending deliveries, not those already sending.
pub async fn disabling_cancels_pending_deliveries(s: S) {
    let (_, m, run) = run_with(&s, "ann@example.com", 3).await;
    assert_eq!(s.pending_deliveries().await.unwrap(), 3);
    let c = s.claim_deliveries(t0(), LEASE, 1).await.unwrap();
    assert_eq!(
        s.pending_deliveries().await.unwrap(),
        2,
        "a claimed one is not pending"
    );
    let off = s
        .set_mailing_enabled(m.id, false, Some(DisabledBy::Manager), m.next_run_at, t0())
        .await
        .unwrap()
        .unwrap();
    assert!(!off.enabled);
    assert_eq!(off.disabled_by, Some(DisabledBy::Manager));
    let st = states(&s, run.id).await;
    assert_eq!(
        (st[&DeliveryState::Cancelled], st[&DeliveryState::Sending]),
        (2, 1)
    );
    assert_eq!(s.pending_deliveries().await.unwrap(), 0);
    assert_eq!(
        s.complete_deliveries(&[sent(&c[0])], t0())
            .await
            .unwrap()
            .len(),
        1,
        "in-flight send is still recorded"
    );
    let on = s
        .set_mailing_enabled(m.id, true, None, Some(t0() + Span::days(1)), t0())
        .await
        .unwrap()
        .unwrap();
    assert!(on.enabled && on.disabled_by.is_none());
    assert_eq!(on.next_run_at, Some(t0() + Span::days(1)));
}

/// Deleting a mailing cancels its pending deliveries; its runs stay in the log.
pub async fn deleting_a_mailing_cancels_pending_and_keeps_runs(s: S) {
    let (_, m, run) = run_with(&s, "ann@example.com", 2).await;
    assert!(s.delete_mailing(m.id, t0()).await.unwrap());
    assert!(!s.delete_mailing(m.id, t0()).await.unwrap());
    assert_eq!(s.mailing(m.id).await.unwrap(), None);
    let kept = s.run(run.id).await.unwrap().unwrap();
    assert_eq!(
        (kept.mailing_id, kept.mailing_name.as_str()),
        (None, "Weekly news")
    );
    assert_eq!(states(&s, run.id).await[&DeliveryState::Cancelled], 2);
    // The message is free to delete now.
    assert!(s.delete_message(m.message_id).await.unwrap());
}

/// A mailing reports `sending` while a run of it is unfinished.
pub async fn mailing_is_sending_while_a_run_is_unfinished(s: S) {
    let (_, m, run) = run_with(&s, "ann@example.com", 1).await;
    assert!(s.mailing(m.id).await.unwrap().unwrap().sending);
    let c = s.claim_deliveries(t0(), LEASE, 10).await.unwrap();
    s.complete_deliveries(&[sent(&c[0])], t0()).await.unwrap();
    let t = s.run_totals(run.id).await.unwrap();
    s.finish_run(run.id, &RunReport::new(&t, 0), t0())
        .await
        .unwrap();
    assert!(!s.mailing(m.id).await.unwrap().unwrap().sending);
    assert!(!s.list_mailings(None, &all()).await.unwrap().items[0].sending);
}

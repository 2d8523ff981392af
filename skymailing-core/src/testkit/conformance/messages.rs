//! Conformance cases: Messages, and what a run keeps of one.

use super::*;

/// Messages are created, listed newest first, updated, and not deleted while in use.
pub async fn messages_crud_and_in_use_conflict(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    let m1 = message(&s, ann.id).await;
    let d = MessageDraft::parse("Second", "Body", None).unwrap();
    let m2 = s.create_message(ann.id, &d, t0()).await.unwrap();
    assert_eq!(m2.body_html, None);
    let list = s.list_messages(&all()).await.unwrap();
    assert_eq!(
        list.items.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![m2.id, m1.id]
    );
    assert_eq!(
        s.list_messages(&q(1, 10, Some("second")))
            .await
            .unwrap()
            .total,
        1
    );

    let later = t0() + Span::minutes(5);
    let up = s
        .update_message(
            m2.id,
            &MessageDraft::parse("Changed", "B2", Some("<b>x</b>")).unwrap(),
            later,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (up.subject.as_str(), up.body_html.as_deref(), up.updated_at),
        ("Changed", Some("<b>x</b>"), later)
    );
    assert_eq!(s.message(m2.id).await.unwrap().unwrap(), up);

    let c = client(&s, ann.id, "x@example.com").await;
    mailing(&s, ann.id, m1.id, &[c.id]).await;
    let in_use = s.delete_message(m1.id).await;
    assert!(
        matches!(
            in_use,
            Err(StoreError::Conflict(StoreConflict::MessageInUse))
        ),
        "{in_use:?}"
    );
    assert!(s.message(m1.id).await.unwrap().is_some(), "nothing deleted");
    assert!(s.delete_message(m2.id).await.unwrap());
    assert!(!s.delete_message(m2.id).await.unwrap());
}

/// Editing the message after a run started does not change the run's copy.
pub async fn run_content_survives_message_edits(s: S) {
    let (_, m, run) = run_with(&s, "ann@example.com", 1).await;
    let before = s.run_content(run.id).await.unwrap().unwrap();
    s.update_message(
        m.message_id,
        &MessageDraft::parse("New", "New body", None).unwrap(),
        t0(),
    )
    .await
    .unwrap();
    let d = MailingDraft::new(
        "New name",
        m.message_id,
        m.client_ids.clone(),
        m.start_at,
        m.end_at,
        m.periodicity,
    )
    .unwrap();
    s.update_mailing(m.id, &d, m.next_run_at, t0())
        .await
        .unwrap();
    assert_eq!(s.run_content(run.id).await.unwrap().unwrap(), before);
    assert_eq!(
        s.run(run.id).await.unwrap().unwrap().mailing_name,
        "Weekly news"
    );
    assert_eq!(s.run_content(RunId(987_654)).await.unwrap(), None);
}

/// Users and mailings keep their sender settings, and a run freezes the
/// effective sender (the mailing's own, else the owner's, else the owner's
/// name and address): later changes leave a started run as it was.
pub async fn a_run_freezes_the_effective_sender(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    let a = client(&s, ann.id, "a@example.com").await;
    let msg = message(&s, ann.id).await;
    // Nothing set: the owner's name and address.
    let m1 = mailing(&s, ann.id, msg.id, &[a.id]).await;
    assert_eq!(m1.sender, Sender::default());
    let r1 = start_run(&s, &m1).await;
    let frozen = |name: &str, reply_to: &str| Sender {
        name: Some(DisplayName::parse(name).unwrap()),
        reply_to: Some(EmailAddress::parse(reply_to).unwrap()),
    };
    assert_eq!(
        s.run_content(r1.id).await.unwrap().unwrap().sender,
        frozen("Name of ann@example.com", "ann@example.com")
    );
    // The owner's setting, part by part.
    let mine = Sender::parse("Ann's Shop", "").unwrap();
    let updated = s.set_sender(ann.id, &mine).await.unwrap().unwrap();
    assert_eq!(updated.sender, mine);
    assert_eq!(s.user(ann.id).await.unwrap().unwrap().sender, mine);
    let m2 = mailing(&s, ann.id, msg.id, &[a.id]).await;
    let r2 = start_run(&s, &m2).await;
    assert_eq!(
        s.run_content(r2.id).await.unwrap().unwrap().sender,
        frozen("Ann's Shop", "ann@example.com")
    );
    // The mailing's own wins, part by part.
    let own = Sender::parse("", "replies@shop.example").unwrap();
    let d = MailingDraft::new(
        "With a Reply-To",
        msg.id,
        vec![a.id],
        t0(),
        t0() + Span::days(30),
        Periodicity::Daily,
    )
    .unwrap()
    .with_sender(own.clone());
    let m3 = s
        .create_mailing(ann.id, &d, Some(t0()), t0())
        .await
        .unwrap();
    assert_eq!(m3.sender, own);
    assert_eq!(s.mailing(m3.id).await.unwrap().unwrap().sender, own);
    let r3 = start_run(&s, &m3).await;
    assert_eq!(
        s.run_content(r3.id).await.unwrap().unwrap().sender,
        frozen("Ann's Shop", "replies@shop.example")
    );
    // An update replaces it; a started run keeps what it froze.
    let both = Sender::parse("Shop News", "news@shop.example").unwrap();
    let m3 = s
        .update_mailing(
            m3.id,
            &d.clone().with_sender(both.clone()),
            m3.next_run_at,
            t0(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m3.sender, both);
    s.set_sender(ann.id, &Sender::default()).await.unwrap();
    assert_eq!(
        s.run_content(r3.id).await.unwrap().unwrap().sender,
        frozen("Ann's Shop", "replies@shop.example")
    );
}

/// A message's users are the distinct owners of the mailings that send it.
pub async fn message_users_are_the_owners_of_its_mailings(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    let bob = user(&s, "bob@example.com", Role::User).await;
    let a = client(&s, ann.id, "a@example.com").await;
    let b = client(&s, bob.id, "b@example.com").await;
    let msg = message(&s, ann.id).await;
    assert!(s.message_users(msg.id).await.unwrap().is_empty());
    mailing(&s, bob.id, msg.id, &[b.id]).await;
    mailing(&s, bob.id, msg.id, &[b.id]).await;
    mailing(&s, ann.id, msg.id, &[a.id]).await;
    let mut users = s.message_users(msg.id).await.unwrap();
    users.sort();
    assert_eq!(users, vec![ann.id, bob.id]);
}

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

//! Conformance cases: The home-page statistics.

use super::*;

/// Mailings, mailings sending now (a run in progress), unique addresses.
pub async fn stats_count_mailings_running_and_unique_clients(s: S) {
    assert_eq!(s.stats(t0()).await.unwrap(), Stats::default());
    let ann = user(&s, "ann@example.com", Role::User).await;
    let bob = user(&s, "bob@example.com", Role::User).await;
    let a1 = client(&s, ann.id, "same@example.com").await;
    client(&s, bob.id, "same@example.com").await;
    client(&s, bob.id, "other@example.com").await;
    let msg = message(&s, ann.id).await;
    let due = mailing(&s, ann.id, msg.id, &[a1.id]).await;
    // "Sending now" means a run in progress: a due mailing is not, yet.
    assert_eq!(s.stats(t0()).await.unwrap().running_mailings, 0);
    start_run(&s, &due).await;
    let future = MailingDraft::new(
        "f",
        msg.id,
        vec![a1.id],
        t0() + Span::days(1),
        t0() + Span::days(2),
        Periodicity::Once,
    )
    .unwrap();
    s.create_mailing(ann.id, &future, Some(t0() + Span::days(1)), t0())
        .await
        .unwrap();
    let stats = s.stats(t0()).await.unwrap();
    assert_eq!(
        stats,
        Stats {
            mailings: 2,
            running_mailings: 1,
            unique_clients: 2
        }
    );
    s.ping().await.unwrap();
}

//! The log: public to users, addresses private.

use super::*;

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

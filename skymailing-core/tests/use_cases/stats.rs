//! The home page's live figures.

use super::*;

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
        (2, 0, 2),
        "'sending now' counts runs in progress: the due mailing has none yet, the other waits"
    );
    assert_eq!(home.posts.len(), 3);
}

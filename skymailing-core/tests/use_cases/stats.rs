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

/// The figures are read once per `home_cache_ttl` (they may lag that much
/// plus one read), in the background; with no cache every call reads them.
#[tokio::test]
async fn the_home_figures_are_reused_for_their_lifetime() {
    let w = world_at("2026-05-01T09:00:00Z");
    let ann = w.user("ann@example.com", Role::User, "UTC").await;
    w.clients(ann, &["a@example.com"]).await;
    assert_eq!(w.app.stats.home().await.unwrap().unique_clients, 1);
    w.clients(ann, &["b@example.com"]).await;
    assert_eq!(
        w.app.stats.home().await.unwrap().unique_clients,
        1,
        "reused within a second"
    );
    assert_eq!(
        w.app.stats.home_page().await.unwrap().stats.unique_clients,
        1
    );
    // Expired: the next visitor is still served the old figures at once
    // while they are read again; the new ones follow.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(w.app.stats.home().await.unwrap().unique_clients, 1);
    let mut fresh = 0;
    for _ in 0..100 {
        fresh = w.app.stats.home().await.unwrap().unique_clients;
        if fresh == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(fresh, 2, "read again in the background");

    // Without the cache: live.
    let app = SkyMailing::builder(w.store.clone())
        .clock(w.clock.clone())
        .config({
            let mut c = Config::default();
            c.home_cache_ttl = std::time::Duration::ZERO;
            c
        })
        .build()
        .unwrap();
    assert_eq!(app.stats.home().await.unwrap().unique_clients, 2);
    w.clients(ann, &["c@example.com"]).await;
    assert_eq!(app.stats.home().await.unwrap().unique_clients, 3);
}

//! The blog: public, written by admins.

use super::*;

#[tokio::test]
async fn the_blog_is_public_and_written_by_admins() {
    let w = world_at("2026-05-01T09:00:00Z");
    let admin = w.user("root@example.com", Role::Admin, "UTC").await;
    let manager = w.user("boss@example.com", Role::Manager, "UTC").await;
    let d = PostDraft::parse("Hello", "First post", None, true).unwrap();
    assert!(matches!(
        w.app.blog.create(manager, &d).await,
        Err(Error::Forbidden(_))
    ));
    assert!(matches!(
        w.app.blog.create(Actor::Anonymous, &d).await,
        Err(Error::Unauthenticated)
    ));
    let p = w.app.blog.create(admin, &d).await.unwrap();
    let draft = w
        .app
        .blog
        .create(
            admin,
            &PostDraft::parse("Later", "Draft", None, false).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        w.app.blog.read(Actor::Anonymous, p.id).await.unwrap().views,
        1
    );
    assert_eq!(w.app.blog.read(manager, p.id).await.unwrap().views, 2);
    assert!(matches!(
        w.app.blog.read(Actor::Anonymous, draft.id).await,
        Err(Error::NotFound)
    ));
    assert_eq!(w.app.blog.read(admin, draft.id).await.unwrap().views, 0);
    assert_eq!(
        w.app
            .blog
            .list(Actor::Anonymous, &all())
            .await
            .unwrap()
            .total,
        1
    );
    assert_eq!(w.app.blog.list(admin, &all()).await.unwrap().total, 2);
    w.app.blog.delete(admin, p.id).await.unwrap();
    assert!(matches!(
        w.app.blog.read(Actor::Anonymous, p.id).await,
        Err(Error::NotFound)
    ));
}

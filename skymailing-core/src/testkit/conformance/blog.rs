//! Conformance cases: Blog posts.

use super::*;

/// Posts publish, count views when read, list newest first and come at random.
pub async fn blog_posts_publish_count_views_and_pick_at_random(s: S) {
    let draft = s
        .create_post(
            &PostDraft::parse("Draft", "Body", None, false).unwrap(),
            t0(),
        )
        .await
        .unwrap();
    assert_eq!((draft.published, draft.published_at), (false, None));
    let mut published = Vec::new();
    for i in 0..4 {
        let at = t0() + Span::hours(i);
        published.push(
            s.create_post(
                &PostDraft::parse(&format!("Post {i}"), "Body", Some("/img/a.png"), true).unwrap(),
                at,
            )
            .await
            .unwrap(),
        );
    }
    assert_eq!(published[0].published_at, Some(t0()));
    assert_eq!(published[0].image.as_deref(), Some("/img/a.png"));
    assert_eq!(
        s.view_post(draft.id).await.unwrap(),
        None,
        "drafts are not viewed"
    );
    s.view_post(published[0].id).await.unwrap();
    let v = s.view_post(published[0].id).await.unwrap().unwrap();
    assert_eq!(v.views, 2);
    assert_eq!(s.post(published[0].id).await.unwrap().unwrap().views, 2);

    let public = s.list_posts(false, &all()).await.unwrap();
    assert_eq!(
        public
            .items
            .iter()
            .map(|p| p.title.as_str())
            .collect::<Vec<_>>(),
        vec!["Post 3", "Post 2", "Post 1", "Post 0"]
    );
    assert_eq!(s.list_posts(true, &all()).await.unwrap().total, 5);

    let mut seen = HashSet::new();
    for _ in 0..30 {
        let r = s.random_posts(3).await.unwrap();
        assert_eq!(r.len(), 3);
        assert!(r.iter().all(|p| p.published));
        assert_eq!(
            r.iter().map(|p| p.id).collect::<HashSet<_>>().len(),
            3,
            "distinct"
        );
        seen.extend(r.into_iter().map(|p| p.id));
    }
    assert_eq!(seen.len(), 4, "every published post comes up");

    let later = t0() + Span::days(1);
    let up = s
        .update_post(
            draft.id,
            &PostDraft::parse("Now public", "B", None, true).unwrap(),
            later,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!((up.published, up.published_at), (true, Some(later)));
    let again = s
        .update_post(
            draft.id,
            &PostDraft::parse("Now public", "B2", None, true).unwrap(),
            later + Span::days(1),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.published_at, Some(later), "first publication kept");
    assert!(s.delete_post(draft.id).await.unwrap());
    assert_eq!(s.post(draft.id).await.unwrap(), None);
    assert_eq!(
        s.update_post(
            draft.id,
            &PostDraft::parse("x", "y", None, true).unwrap(),
            later
        )
        .await
        .unwrap(),
        None
    );
}

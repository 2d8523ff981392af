//! The in-memory store: Blog posts.

use super::*;

#[async_trait]
impl BlogStore for MemoryStore {
    async fn create_post(&self, d: &PostDraft, now: DateTime<Utc>) -> StoreResult<BlogPost> {
        let mut s = self.lock();
        let p = BlogPost {
            id: PostId(s.id()),
            title: d.title.clone(),
            body: d.body.clone(),
            image: d.image.clone(),
            published: d.published,
            views: 0,
            published_at: d.published.then_some(now),
            created_at: now,
        };
        s.posts.insert(p.id, p.clone());
        Ok(p)
    }

    async fn update_post(
        &self,
        id: PostId,
        d: &PostDraft,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<BlogPost>> {
        let mut s = self.lock();
        Ok(s.posts.get_mut(&id).map(|p| {
            p.title = d.title.clone();
            p.body = d.body.clone();
            p.image = d.image.clone();
            p.published = d.published;
            if d.published && p.published_at.is_none() {
                p.published_at = Some(now);
            }
            p.clone()
        }))
    }

    async fn delete_post(&self, id: PostId) -> StoreResult<bool> {
        Ok(self.lock().posts.remove(&id).is_some())
    }

    async fn post(&self, id: PostId) -> StoreResult<Option<BlogPost>> {
        Ok(self.lock().posts.get(&id).cloned())
    }

    async fn view_post(&self, id: PostId) -> StoreResult<Option<BlogPost>> {
        let mut s = self.lock();
        Ok(s.posts.get_mut(&id).filter(|p| p.published).map(|p| {
            p.views += 1;
            p.clone()
        }))
    }

    async fn list_posts(&self, include_drafts: bool, q: &ListQuery) -> StoreResult<Page<BlogPost>> {
        let s = self.lock();
        let mut items: Vec<BlogPost> = s
            .posts
            .values()
            .filter(|p| (include_drafts || p.published) && matches(q, &[&p.title]))
            .cloned()
            .collect();
        items.sort_by(|a, b| b.published_at.cmp(&a.published_at).then(b.id.cmp(&a.id)));
        Ok(page(items, q))
    }

    async fn random_posts(&self, n: u32) -> StoreResult<Vec<BlogPost>> {
        let s = self.lock();
        let mut posts: Vec<BlogPost> = s.posts.values().filter(|p| p.published).cloned().collect();
        // Fisher-Yates with the OS's randomness: no extra dependency for a test store.
        for i in (1..posts.len()).rev() {
            let j = (crate::security::random_u64() % (i as u64 + 1)) as usize;
            posts.swap(i, j);
        }
        posts.truncate(n as usize);
        Ok(posts)
    }
}

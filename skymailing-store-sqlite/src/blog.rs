//! Blog posts.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use skymailing_core::ports::{BlogStore, StoreResult};
use skymailing_core::*;
use skymailing_store_sql::post_columns;

use crate::rows::{PostRow, count, like, limits, ts};
use crate::{SqliteStore, db_err};

#[async_trait]
impl BlogStore for SqliteStore {
    #[tracing::instrument(
        name = "store.create_post",
        level = "debug",
        skip_all,
        fields(store = "sqlite")
    )]
    async fn create_post(&self, d: &PostDraft, now: DateTime<Utc>) -> StoreResult<BlogPost> {
        sqlx::query_as::<_, PostRow>(concat!(
            "INSERT INTO blog_posts (title, body, image, published, published_at, created_at) \
             VALUES (?1, ?2, ?3, ?4, CASE WHEN ?4 THEN ?5 END, ?5) RETURNING ",
            post_columns!()
        ))
        .bind(&d.title)
        .bind(&d.body)
        .bind(&d.image)
        .bind(d.published)
        .bind(ts(now))
        .fetch_one(&self.writer)
        .await
        .map(BlogPost::from)
        .map_err(db_err)
    }

    #[tracing::instrument(
        name = "store.update_post",
        level = "debug",
        skip_all,
        fields(store = "sqlite")
    )]
    async fn update_post(
        &self,
        id: PostId,
        d: &PostDraft,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<BlogPost>> {
        sqlx::query_as::<_, PostRow>(concat!(
            "UPDATE blog_posts SET title = ?2, body = ?3, image = ?4, published = ?5, \
             published_at = COALESCE(published_at, CASE WHEN ?5 THEN ?6 END) WHERE id = ?1 RETURNING ",
            post_columns!()
        ))
        .bind(id.0)
        .bind(&d.title)
        .bind(&d.body)
        .bind(&d.image)
        .bind(d.published)
        .bind(ts(now))
        .fetch_optional(&self.writer)
        .await
        .map(|r| r.map(BlogPost::from))
        .map_err(db_err)
    }

    #[tracing::instrument(
        name = "store.delete_post",
        level = "debug",
        skip_all,
        fields(store = "sqlite")
    )]
    async fn delete_post(&self, id: PostId) -> StoreResult<bool> {
        let r = sqlx::query("DELETE FROM blog_posts WHERE id = ?1")
            .bind(id.0)
            .execute(&self.writer)
            .await
            .map_err(db_err)?;
        Ok(r.rows_affected() == 1)
    }

    #[tracing::instrument(
        name = "store.post",
        level = "debug",
        skip_all,
        fields(store = "sqlite")
    )]
    async fn post(&self, id: PostId) -> StoreResult<Option<BlogPost>> {
        sqlx::query_as::<_, PostRow>(concat!(
            "SELECT ",
            post_columns!(),
            " FROM blog_posts WHERE id = ?1"
        ))
        .bind(id.0)
        .fetch_optional(&self.reader)
        .await
        .map(|r| r.map(BlogPost::from))
        .map_err(db_err)
    }

    #[tracing::instrument(
        name = "store.view_post",
        level = "debug",
        skip_all,
        fields(store = "sqlite")
    )]
    async fn view_post(&self, id: PostId) -> StoreResult<Option<BlogPost>> {
        sqlx::query_as::<_, PostRow>(concat!(
            "UPDATE blog_posts SET views = views + 1 WHERE id = ?1 AND published RETURNING ",
            post_columns!()
        ))
        .bind(id.0)
        .fetch_optional(&self.writer)
        .await
        .map(|r| r.map(BlogPost::from))
        .map_err(db_err)
    }

    #[tracing::instrument(
        name = "store.list_posts",
        level = "debug",
        skip_all,
        fields(store = "sqlite")
    )]
    async fn list_posts(&self, include_drafts: bool, q: &ListQuery) -> StoreResult<Page<BlogPost>> {
        let pattern = like(&q.search);
        let (limit, offset) = limits(q);
        let rows = sqlx::query_as::<_, PostRow>(concat!(
            "SELECT ",
            post_columns!(),
            " FROM blog_posts WHERE (?1 OR published) AND (?2 IS NULL OR lower(title) LIKE ?2 ESCAPE '\\') \
             ORDER BY published_at DESC NULLS LAST, id DESC LIMIT ?3 OFFSET ?4"
        ))
        .bind(include_drafts)
        .bind(&pattern)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        let (total,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM blog_posts WHERE (?1 OR published) AND (?2 IS NULL OR lower(title) LIKE ?2 ESCAPE '\\')",
        )
        .bind(include_drafts)
        .bind(&pattern)
        .fetch_one(&self.reader)
        .await
        .map_err(db_err)?;
        Ok(Page::new(
            rows.into_iter().map(BlogPost::from).collect(),
            count(total),
            q,
        ))
    }

    #[tracing::instrument(
        name = "store.random_posts",
        level = "debug",
        skip_all,
        fields(store = "sqlite")
    )]
    async fn random_posts(&self, n: u32) -> StoreResult<Vec<BlogPost>> {
        sqlx::query_as::<_, PostRow>(concat!(
            "SELECT ",
            post_columns!(),
            " FROM blog_posts WHERE published ORDER BY random() LIMIT ?1"
        ))
        .bind(i64::from(n))
        .fetch_all(&self.reader)
        .await
        .map(|r| r.into_iter().map(BlogPost::from).collect())
        .map_err(db_err)
    }
}

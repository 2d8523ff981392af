//! Clients, messages and blog posts.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use skymailing_core::ports::{BlogStore, ClientStore, MessageStore, StoreResult};
use skymailing_core::*;

use crate::rows::{ClientRow, MessageRow, PostRow, count, like, limits};
use crate::{PgStore, db_err};

macro_rules! client_columns {
    () => {
        "id, owner_id, email, full_name, comment, unsubscribed_at, unsubscribe_token, created_at"
    };
}

#[async_trait]
impl ClientStore for PgStore {
    async fn create_client(
        &self,
        owner: UserId,
        d: &ClientDraft,
        token: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Client> {
        sqlx::query_as::<_, ClientRow>(concat!(
            "INSERT INTO clients (owner_id, email, full_name, comment, unsubscribe_token, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING ",
            client_columns!()
        ))
        .bind(owner.0)
        .bind(d.email.as_str())
        .bind(&d.full_name)
        .bind(&d.comment)
        .bind(token)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map(Client::from)
        .map_err(db_err)
    }

    async fn client(&self, owner: UserId, id: ClientId) -> StoreResult<Option<Client>> {
        sqlx::query_as::<_, ClientRow>(concat!(
            "SELECT ",
            client_columns!(),
            " FROM clients WHERE id = $1 AND owner_id = $2"
        ))
        .bind(id.0)
        .bind(owner.0)
        .fetch_optional(&self.pool)
        .await
        .map(|r| r.map(Client::from))
        .map_err(db_err)
    }

    async fn list_clients(&self, owner: UserId, q: &ListQuery) -> StoreResult<Page<Client>> {
        let pattern = like(&q.search);
        let (limit, offset) = limits(q);
        let rows = sqlx::query_as::<_, ClientRow>(concat!(
            "SELECT ",
            client_columns!(),
            " FROM clients WHERE owner_id = $1 \
              AND ($2::text IS NULL OR email LIKE $2 OR lower(full_name) LIKE $2 OR lower(comment) LIKE $2) \
             ORDER BY lower(full_name), id LIMIT $3 OFFSET $4"
        ))
        .bind(owner.0)
        .bind(&pattern)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        let (total,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM clients WHERE owner_id = $1 \
             AND ($2::text IS NULL OR email LIKE $2 OR lower(full_name) LIKE $2 OR lower(comment) LIKE $2)",
        )
        .bind(owner.0)
        .bind(&pattern)
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(Page::new(
            rows.into_iter().map(Client::from).collect(),
            count(total),
            q,
        ))
    }

    async fn update_client(
        &self,
        owner: UserId,
        id: ClientId,
        d: &ClientDraft,
    ) -> StoreResult<Option<Client>> {
        sqlx::query_as::<_, ClientRow>(concat!(
            "UPDATE clients SET email = $3, full_name = $4, comment = $5 WHERE id = $1 AND owner_id = $2 RETURNING ",
            client_columns!()
        ))
        .bind(id.0)
        .bind(owner.0)
        .bind(d.email.as_str())
        .bind(&d.full_name)
        .bind(&d.comment)
        .fetch_optional(&self.pool)
        .await
        .map(|r| r.map(Client::from))
        .map_err(db_err)
    }

    async fn delete_client(&self, owner: UserId, id: ClientId) -> StoreResult<bool> {
        let r = sqlx::query("DELETE FROM clients WHERE id = $1 AND owner_id = $2")
            .bind(id.0)
            .bind(owner.0)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(r.rows_affected() == 1)
    }

    async fn client_by_unsubscribe_token(&self, token: &str) -> StoreResult<Option<Client>> {
        sqlx::query_as::<_, ClientRow>(concat!(
            "SELECT ",
            client_columns!(),
            " FROM clients WHERE unsubscribe_token = $1"
        ))
        .bind(token)
        .fetch_optional(&self.pool)
        .await
        .map(|r| r.map(Client::from))
        .map_err(db_err)
    }

    async fn set_unsubscribed(
        &self,
        token: &str,
        at: Option<DateTime<Utc>>,
    ) -> StoreResult<Option<Client>> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let client = sqlx::query_as::<_, ClientRow>(concat!(
            "UPDATE clients SET unsubscribed_at = $2 WHERE unsubscribe_token = $1 RETURNING ",
            client_columns!()
        ))
        .bind(token)
        .bind(at)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        if let (Some(c), Some(when)) = (&client, at) {
            sqlx::query("UPDATE deliveries SET state = 'cancelled', updated_at = $2 WHERE client_id = $1 AND state = 'pending'")
                .bind(c.id)
                .bind(when)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(client.map(Client::from))
    }
}

macro_rules! message_columns {
    () => {
        "id, owner_id, subject, body_text, body_html, created_at, updated_at"
    };
}

#[async_trait]
impl MessageStore for PgStore {
    async fn create_message(
        &self,
        owner: UserId,
        d: &MessageDraft,
        now: DateTime<Utc>,
    ) -> StoreResult<Message> {
        sqlx::query_as::<_, MessageRow>(concat!(
            "INSERT INTO messages (owner_id, subject, body_text, body_html, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) RETURNING ",
            message_columns!()
        ))
        .bind(owner.0)
        .bind(&d.subject)
        .bind(&d.body_text)
        .bind(&d.body_html)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map(Message::from)
        .map_err(db_err)
    }

    async fn message(&self, id: MessageId) -> StoreResult<Option<Message>> {
        sqlx::query_as::<_, MessageRow>(concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages WHERE id = $1"
        ))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await
        .map(|r| r.map(Message::from))
        .map_err(db_err)
    }

    async fn list_messages(&self, q: &ListQuery) -> StoreResult<Page<Message>> {
        let pattern = like(&q.search);
        let (limit, offset) = limits(q);
        let rows = sqlx::query_as::<_, MessageRow>(concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages WHERE $1::text IS NULL OR lower(subject) LIKE $1 ORDER BY id DESC LIMIT $2 OFFSET $3"
        ))
        .bind(&pattern)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        let (total,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM messages WHERE $1::text IS NULL OR lower(subject) LIKE $1",
        )
        .bind(&pattern)
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(Page::new(
            rows.into_iter().map(Message::from).collect(),
            count(total),
            q,
        ))
    }

    async fn update_message(
        &self,
        id: MessageId,
        d: &MessageDraft,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Message>> {
        sqlx::query_as::<_, MessageRow>(concat!(
            "UPDATE messages SET subject = $2, body_text = $3, body_html = $4, updated_at = $5 WHERE id = $1 RETURNING ",
            message_columns!()
        ))
        .bind(id.0)
        .bind(&d.subject)
        .bind(&d.body_text)
        .bind(&d.body_html)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map(|r| r.map(Message::from))
        .map_err(db_err)
    }

    async fn delete_message(&self, id: MessageId) -> StoreResult<bool> {
        let r = sqlx::query("DELETE FROM messages WHERE id = $1")
            .bind(id.0)
            .execute(&self.pool)
            .await
            .map_err(|e| match db_err(e) {
                // Deleting, the foreign key of a mailing points at this message.
                StoreError::Conflict(StoreConflict::UnknownMessage) => {
                    StoreError::Conflict(StoreConflict::MessageInUse)
                }
                other => other,
            })?;
        Ok(r.rows_affected() == 1)
    }

    async fn message_users(&self, id: MessageId) -> StoreResult<Vec<UserId>> {
        let rows: Vec<(i64,)> = sqlx::query_as(
            "SELECT DISTINCT owner_id FROM mailings WHERE message_id = $1 ORDER BY 1",
        )
        .bind(id.0)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(rows.into_iter().map(|(u,)| UserId(u)).collect())
    }
}

macro_rules! post_columns {
    () => {
        "id, title, body, image, published, views, published_at, created_at"
    };
}

#[async_trait]
impl BlogStore for PgStore {
    async fn create_post(&self, d: &PostDraft, now: DateTime<Utc>) -> StoreResult<BlogPost> {
        sqlx::query_as::<_, PostRow>(concat!(
            "INSERT INTO blog_posts (title, body, image, published, published_at, created_at) \
             VALUES ($1, $2, $3, $4, CASE WHEN $4 THEN $5::timestamptz END, $5) RETURNING ",
            post_columns!()
        ))
        .bind(&d.title)
        .bind(&d.body)
        .bind(&d.image)
        .bind(d.published)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map(BlogPost::from)
        .map_err(db_err)
    }

    async fn update_post(
        &self,
        id: PostId,
        d: &PostDraft,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<BlogPost>> {
        sqlx::query_as::<_, PostRow>(concat!(
            "UPDATE blog_posts SET title = $2, body = $3, image = $4, published = $5, \
             published_at = COALESCE(published_at, CASE WHEN $5 THEN $6::timestamptz END) WHERE id = $1 RETURNING ",
            post_columns!()
        ))
        .bind(id.0)
        .bind(&d.title)
        .bind(&d.body)
        .bind(&d.image)
        .bind(d.published)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map(|r| r.map(BlogPost::from))
        .map_err(db_err)
    }

    async fn delete_post(&self, id: PostId) -> StoreResult<bool> {
        let r = sqlx::query("DELETE FROM blog_posts WHERE id = $1")
            .bind(id.0)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(r.rows_affected() == 1)
    }

    async fn post(&self, id: PostId) -> StoreResult<Option<BlogPost>> {
        sqlx::query_as::<_, PostRow>(concat!(
            "SELECT ",
            post_columns!(),
            " FROM blog_posts WHERE id = $1"
        ))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await
        .map(|r| r.map(BlogPost::from))
        .map_err(db_err)
    }

    async fn view_post(&self, id: PostId) -> StoreResult<Option<BlogPost>> {
        sqlx::query_as::<_, PostRow>(concat!(
            "UPDATE blog_posts SET views = views + 1 WHERE id = $1 AND published RETURNING ",
            post_columns!()
        ))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await
        .map(|r| r.map(BlogPost::from))
        .map_err(db_err)
    }

    async fn list_posts(&self, include_drafts: bool, q: &ListQuery) -> StoreResult<Page<BlogPost>> {
        let pattern = like(&q.search);
        let (limit, offset) = limits(q);
        let rows = sqlx::query_as::<_, PostRow>(concat!(
            "SELECT ",
            post_columns!(),
            " FROM blog_posts WHERE ($1 OR published) AND ($2::text IS NULL OR lower(title) LIKE $2) \
             ORDER BY published_at DESC NULLS LAST, id DESC LIMIT $3 OFFSET $4"
        ))
        .bind(include_drafts)
        .bind(&pattern)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        let (total,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM blog_posts WHERE ($1 OR published) AND ($2::text IS NULL OR lower(title) LIKE $2)",
        )
        .bind(include_drafts)
        .bind(&pattern)
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(Page::new(
            rows.into_iter().map(BlogPost::from).collect(),
            count(total),
            q,
        ))
    }

    async fn random_posts(&self, n: u32) -> StoreResult<Vec<BlogPost>> {
        sqlx::query_as::<_, PostRow>(concat!(
            "SELECT ",
            post_columns!(),
            " FROM blog_posts WHERE published ORDER BY random() LIMIT $1"
        ))
        .bind(i64::from(n))
        .fetch_all(&self.pool)
        .await
        .map(|r| r.into_iter().map(BlogPost::from).collect())
        .map_err(db_err)
    }
}

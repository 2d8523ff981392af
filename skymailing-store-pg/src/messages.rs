//! Messages, shared by all signed-in users.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use skymailing_core::ports::{MessageStore, StoreResult};
use skymailing_core::*;
use skymailing_store_sql::message_columns;

use crate::rows::{MessageRow, count, like, limits};
use crate::{PgStore, db_err};

#[async_trait]
impl MessageStore for PgStore {
    #[tracing::instrument(
        name = "store.create_message",
        level = "debug",
        skip_all,
        fields(store = "pg")
    )]
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

    #[tracing::instrument(
        name = "store.message",
        level = "debug",
        skip_all,
        fields(store = "pg")
    )]
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

    #[tracing::instrument(
        name = "store.list_messages",
        level = "debug",
        skip_all,
        fields(store = "pg")
    )]
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

    #[tracing::instrument(
        name = "store.update_message",
        level = "debug",
        skip_all,
        fields(store = "pg")
    )]
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

    #[tracing::instrument(
        name = "store.delete_message",
        level = "debug",
        skip_all,
        fields(store = "pg")
    )]
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

    #[tracing::instrument(
        name = "store.message_users",
        level = "debug",
        skip_all,
        fields(store = "pg")
    )]
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

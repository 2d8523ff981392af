//! Mailings with their client sets.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use skymailing_core::ports::{MailingStore, StoreResult};
use skymailing_core::*;
use sqlx::{Sqlite, Transaction};

use crate::rows::{MailingRow, count, like, limits, mailing_columns, ts, ts_opt};
use crate::{SqliteStore, db_err, is_fk};

/// Replaces a mailing's client set with `ids`, all of which must be `owner`'s.
async fn set_clients(
    tx: &mut Transaction<'_, Sqlite>,
    mailing: i64,
    owner: UserId,
    ids: &[ClientId],
) -> StoreResult<()> {
    let ids: Vec<i64> = ids.iter().map(|c| c.0).collect();
    let json = serde_json::to_string(&ids).map_err(StoreError::backend)?;
    sqlx::query("DELETE FROM mailing_clients WHERE mailing_id = ?1")
        .bind(mailing)
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    let inserted = sqlx::query(
        "INSERT INTO mailing_clients (mailing_id, client_id) \
         SELECT ?1, c.id FROM clients c WHERE c.id IN (SELECT value FROM json_each(?2)) AND c.owner_id = ?3",
    )
    .bind(mailing)
    .bind(&json)
    .bind(owner.0)
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    if inserted.rows_affected() != ids.len() as u64 {
        return Err(StoreError::Conflict(StoreConflict::UnknownClient));
    }
    Ok(())
}

async fn fetch(exec: impl sqlx::SqliteExecutor<'_>, id: i64) -> StoreResult<Option<Mailing>> {
    sqlx::query_as::<_, MailingRow>(concat!(
        "SELECT ",
        mailing_columns!(),
        " FROM mailings m WHERE m.id = ?1"
    ))
    .bind(id)
    .fetch_optional(exec)
    .await
    .map(|r| r.map(Mailing::from))
    .map_err(db_err)
}

#[async_trait]
impl MailingStore for SqliteStore {
    #[tracing::instrument(
        name = "store.create_mailing",
        level = "debug",
        skip_all,
        fields(store = "sqlite")
    )]
    async fn create_mailing(
        &self,
        owner: UserId,
        d: &MailingDraft,
        next_run_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> StoreResult<Mailing> {
        let mut tx = self.write_tx().await?;
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO mailings (owner_id, name, message_id, start_at, end_at, periodicity, next_run_at, created_at, updated_at, tags, \
                                   sender_name, reply_to) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, ?10, ?11) RETURNING id",
        )
        .bind(owner.0)
        .bind(&d.name)
        .bind(d.message_id.0)
        .bind(ts(d.start_at))
        .bind(ts(d.end_at))
        .bind(d.periodicity.as_str())
        .bind(ts_opt(next_run_at))
        .bind(ts(now))
        .bind(skymailing_store_sql::codec::encode_tags(&d.tags))
        .bind(skymailing_store_sql::rows::sender_parts(&d.sender).0)
        .bind(skymailing_store_sql::rows::sender_parts(&d.sender).1)
        .fetch_one(&mut *tx)
        .await
        .map_err(message_fk)?;
        set_clients(&mut tx, id, owner, &d.client_ids).await?;
        let m = fetch(&mut *tx, id).await?;
        tx.commit().await.map_err(db_err)?;
        m.ok_or_else(|| StoreError::backend(sqlx::Error::RowNotFound))
    }

    #[tracing::instrument(
        name = "store.mailing",
        level = "debug",
        skip_all,
        fields(store = "sqlite")
    )]
    async fn mailing(&self, id: MailingId) -> StoreResult<Option<Mailing>> {
        fetch(&self.writer, id.0).await
    }

    #[tracing::instrument(
        name = "store.list_mailings",
        level = "debug",
        skip_all,
        fields(store = "sqlite")
    )]
    async fn list_mailings(
        &self,
        owner: Option<UserId>,
        q: &ListQuery,
    ) -> StoreResult<Page<Mailing>> {
        let pattern = like(&q.search);
        let (limit, offset) = limits(q);
        let rows = sqlx::query_as::<_, MailingRow>(concat!(
            "SELECT ",
            mailing_columns!(),
            " FROM mailings m WHERE (?1 IS NULL OR m.owner_id = ?1) AND (?2 IS NULL OR lower(m.name) LIKE ?2 ESCAPE '\\') \
             ORDER BY m.id DESC LIMIT ?3 OFFSET ?4"
        ))
        .bind(owner.map(|o| o.0))
        .bind(&pattern)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        let (total,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM mailings m WHERE (?1 IS NULL OR m.owner_id = ?1) \
             AND (?2 IS NULL OR lower(m.name) LIKE ?2 ESCAPE '\\')",
        )
        .bind(owner.map(|o| o.0))
        .bind(&pattern)
        .fetch_one(&self.reader)
        .await
        .map_err(db_err)?;
        Ok(Page::new(
            rows.into_iter().map(Mailing::from).collect(),
            count(total),
            q,
        ))
    }

    #[tracing::instrument(
        name = "store.update_mailing",
        level = "debug",
        skip_all,
        fields(store = "sqlite")
    )]
    async fn update_mailing(
        &self,
        id: MailingId,
        d: &MailingDraft,
        next_run_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Mailing>> {
        let mut tx = self.write_tx().await?;
        let owner: Option<(i64,)> = sqlx::query_as(
            "UPDATE mailings SET name = ?2, message_id = ?3, start_at = ?4, end_at = ?5, periodicity = ?6, \
             next_run_at = ?7, updated_at = ?8, tags = ?9, sender_name = ?10, reply_to = ?11 \
             WHERE id = ?1 RETURNING owner_id",
        )
        .bind(id.0)
        .bind(&d.name)
        .bind(d.message_id.0)
        .bind(ts(d.start_at))
        .bind(ts(d.end_at))
        .bind(d.periodicity.as_str())
        .bind(ts_opt(next_run_at))
        .bind(ts(now))
        .bind(skymailing_store_sql::codec::encode_tags(&d.tags))
        .bind(skymailing_store_sql::rows::sender_parts(&d.sender).0)
        .bind(skymailing_store_sql::rows::sender_parts(&d.sender).1)
        .fetch_optional(&mut *tx)
        .await
        .map_err(message_fk)?;
        let Some((owner,)) = owner else {
            return Ok(None);
        };
        set_clients(&mut tx, id.0, UserId(owner), &d.client_ids).await?;
        let m = fetch(&mut *tx, id.0).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(m)
    }

    #[tracing::instrument(
        name = "store.set_mailing_enabled",
        level = "debug",
        skip_all,
        fields(store = "sqlite")
    )]
    async fn set_mailing_enabled(
        &self,
        id: MailingId,
        enabled: bool,
        disabled_by: Option<DisabledBy>,
        next_run_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Mailing>> {
        let by = (!enabled).then(|| disabled_by.unwrap_or(DisabledBy::Owner).as_str());
        let mut tx = self.write_tx().await?;
        let r = sqlx::query(
            "UPDATE mailings SET enabled = ?2, disabled_by = ?3, next_run_at = ?4, updated_at = ?5 WHERE id = ?1",
        )
        .bind(id.0)
        .bind(enabled)
        .bind(by)
        .bind(ts_opt(next_run_at))
        .bind(ts(now))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if r.rows_affected() == 0 {
            return Ok(None);
        }
        if !enabled {
            cancel_pending(&mut tx, id.0, now).await?;
        }
        let m = fetch(&mut *tx, id.0).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(m)
    }

    #[tracing::instrument(
        name = "store.delete_mailing",
        level = "debug",
        skip_all,
        fields(store = "sqlite")
    )]
    async fn delete_mailing(&self, id: MailingId, now: DateTime<Utc>) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        cancel_pending(&mut tx, id.0, now).await?;
        let r = sqlx::query("DELETE FROM mailings WHERE id = ?1")
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(r.rows_affected() == 1)
    }
}

pub(crate) async fn cancel_pending(
    tx: &mut Transaction<'_, Sqlite>,
    mailing: i64,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE deliveries SET state = 'cancelled', updated_at = ?2 \
         WHERE state = 'pending' AND run_id IN (SELECT id FROM runs WHERE mailing_id = ?1 AND finished_at IS NULL)",
    )
    .bind(mailing)
    .bind(ts(now))
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// A foreign-key failure writing a mailing: its message does not exist.
fn message_fk(e: sqlx::Error) -> StoreError {
    if is_fk(&e) {
        StoreError::Conflict(StoreConflict::UnknownMessage)
    } else {
        db_err(e)
    }
}

//! The suppression list, and the bounces and complaints that feed it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use skymailing_core::adapter::*;
use skymailing_core::ports::{StoreResult, SuppressionStore};
use skymailing_core::*;
use skymailing_store_sql::suppression_columns;
use sqlx::SqliteConnection;

use crate::rows::{count, like, limits, ts};
use crate::{SqliteStore, db_err};

type SuppressionRow =
    skymailing_store_sql::rows::SuppressionRow<skymailing_store_sql::codec::Micros>;
type TargetRow = skymailing_store_sql::rows::TargetRow;

/// Suppresses (or strengthens) an address for an owner inside a
/// transaction; the owner's pending deliveries to it become `suppressed`.
/// Returns the entry and how many deliveries it held back.
async fn suppress_in(
    tx: &mut SqliteConnection,
    owner: UserId,
    email: &EmailAddress,
    reason: SuppressionReason,
    detail: Option<&str>,
    now: DateTime<Utc>,
) -> StoreResult<(Suppression, u64)> {
    sqlx::query(
        "INSERT INTO suppressions (owner_id, email, reason, detail, created_at) VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (owner_id, email) DO NOTHING",
    )
    .bind(owner.0)
    .bind(email.as_str())
    .bind(reason.as_str())
    .bind(detail)
    .bind(ts(now))
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    let row: SuppressionRow = sqlx::query_as(concat!(
        "SELECT ",
        suppression_columns!(),
        " FROM suppressions WHERE owner_id = ?1 AND email = ?2"
    ))
    .bind(owner.0)
    .bind(email.as_str())
    .fetch_one(&mut *tx)
    .await
    .map_err(db_err)?;
    let mut entry = Suppression::from(row);
    if reason.rank() > entry.reason.rank() {
        sqlx::query("UPDATE suppressions SET reason = ?2, detail = ?3 WHERE id = ?1")
            .bind(entry.id)
            .bind(reason.as_str())
            .bind(detail)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        entry.reason = reason;
        entry.detail = detail.map(str::to_owned);
    }
    let held = sqlx::query(
        "UPDATE deliveries SET state = 'suppressed', last_reply = ?3, waiting_for = NULL, updated_at = ?4 \
         WHERE state = 'pending' AND email = ?2 \
           AND run_id IN (SELECT id FROM runs WHERE owner_id = ?1 AND finished_at IS NULL)",
    )
    .bind(owner.0)
    .bind(email.as_str())
    .bind(entry.reason.as_str())
    .bind(ts(now))
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    Ok((entry, held.rows_affected()))
}

#[async_trait]
impl SuppressionStore for SqliteStore {
    #[tracing::instrument(
        name = "store.list_suppressions",
        level = "debug",
        skip_all,
        fields(store = "sqlite")
    )]
    async fn list_suppressions(
        &self,
        owner: Option<UserId>,
        q: &ListQuery,
    ) -> StoreResult<Page<Suppression>> {
        let pattern = like(&q.search);
        let (limit, offset) = limits(q);
        let rows: Vec<SuppressionRow> = sqlx::query_as(concat!(
            "SELECT ",
            suppression_columns!(),
            " FROM suppressions WHERE (?1 IS NULL OR owner_id = ?1) \
             AND (?2 IS NULL OR email LIKE ?2 ESCAPE '\\') ORDER BY id DESC LIMIT ?3 OFFSET ?4"
        ))
        .bind(owner.map(|o| o.0))
        .bind(&pattern)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        let (total,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM suppressions WHERE (?1 IS NULL OR owner_id = ?1) \
             AND (?2 IS NULL OR email LIKE ?2 ESCAPE '\\')",
        )
        .bind(owner.map(|o| o.0))
        .bind(&pattern)
        .fetch_one(&self.reader)
        .await
        .map_err(db_err)?;
        Ok(Page::new(
            rows.into_iter().map(Suppression::from).collect(),
            count(total),
            q,
        ))
    }

    #[tracing::instrument(
        name = "store.suppress",
        level = "debug",
        skip_all,
        fields(store = "sqlite")
    )]
    async fn suppress(
        &self,
        owner: UserId,
        email: &EmailAddress,
        reason: SuppressionReason,
        detail: Option<String>,
        now: DateTime<Utc>,
    ) -> StoreResult<Suppression> {
        let mut tx = self.write_tx().await?;
        let (entry, _) = suppress_in(&mut tx, owner, email, reason, detail.as_deref(), now).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(entry)
    }

    #[tracing::instrument(
        name = "store.lift_suppression",
        level = "debug",
        skip_all,
        fields(store = "sqlite")
    )]
    async fn lift_suppression(&self, owner: UserId, id: i64) -> StoreResult<Option<bool>> {
        let mut tx = self.write_tx().await?;
        let reason: Option<(String,)> =
            sqlx::query_as("SELECT reason FROM suppressions WHERE id = ?1 AND owner_id = ?2")
                .bind(id)
                .bind(owner.0)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
        let Some((reason,)) = reason else {
            return Ok(None);
        };
        let liftable = SuppressionReason::parse(&reason).is_some_and(|r| r.owner_may_lift());
        if liftable {
            sqlx::query("DELETE FROM suppressions WHERE id = ?1")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(Some(liftable))
    }

    #[tracing::instrument(
        name = "store.feedback_target",
        level = "debug",
        skip_all,
        fields(store = "sqlite")
    )]
    async fn feedback_target(&self, delivery: DeliveryId) -> StoreResult<Option<FeedbackTarget>> {
        sqlx::query_as::<_, TargetRow>(
            "SELECT d.id, d.run_id, r.owner_id, d.email, d.state, d.unsubscribe_token, r.nonce \
             FROM deliveries d JOIN runs r ON r.id = d.run_id WHERE d.id = ?1",
        )
        .bind(delivery.0)
        .fetch_optional(&self.reader)
        .await
        .map(|r| r.map(FeedbackTarget::from))
        .map_err(db_err)
    }

    #[tracing::instrument(
        name = "store.record_feedback",
        level = "debug",
        skip_all,
        fields(store = "sqlite")
    )]
    async fn record_feedback(
        &self,
        f: &NewFeedback,
        now: DateTime<Utc>,
    ) -> StoreResult<FeedbackApplied> {
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO feedback (delivery_id, owner_id, email, kind, reason, source, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .bind(f.delivery.map(|d| d.0))
        .bind(f.owner.map(|o| o.0))
        .bind(f.email.as_str())
        .bind(f.kind.as_str())
        .bind(&f.reason)
        .bind(f.source.as_str())
        .bind(ts(now))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        let mut applied = FeedbackApplied::default();
        if let Some(id) = f.delivery {
            // One writer: nothing changes between this read and the writes.
            let found: Option<(i64, String, bool)> = sqlx::query_as(
                "SELECT d.run_id, d.state, r.finished_at IS NOT NULL FROM deliveries d \
                 JOIN runs r ON r.id = d.run_id WHERE d.id = ?1",
            )
            .bind(id.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
            let found = found.and_then(|(run, state, finished)| {
                let from = DeliveryState::parse(&state)?;
                f.kind.marks(from).map(|to| (run, from, to, finished))
            });
            if let Some((run, from, to, finished)) = found {
                sqlx::query(
                    "UPDATE deliveries SET state = ?2, last_reply = ?3, updated_at = ?4 WHERE id = ?1",
                )
                .bind(id.0)
                .bind(to.as_str())
                .bind(&f.reason)
                .bind(ts(now))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                applied.marked = Some(to);
                if finished {
                    // A finished run's counts follow its deliveries.
                    let (sent, bounced, complained) = skymailing_store_sql::count_moves(from, to);
                    sqlx::query(
                        "UPDATE runs SET sent = sent + ?2, bounced = bounced + ?3, \
                             complained = complained + ?4 WHERE id = ?1",
                    )
                    .bind(run)
                    .bind(sent)
                    .bind(bounced)
                    .bind(complained)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                }
            }
        }
        if let Some(owner) = f.owner {
            let soft = if f.counts_soft_bounces() {
                let (soft,): (i64,) = sqlx::query_as(
                    // Per delivery: a message delayed three times, or a
                    // report sent twice, is one soft bounce.
                    "SELECT count(DISTINCT COALESCE(delivery_id, -id)) FROM feedback WHERE owner_id = ?1 AND email = ?2 \
                     AND kind = 'soft' AND created_at > ?3",
                )
                .bind(owner.0)
                .bind(f.email.as_str())
                .bind(ts(now - chrono::Duration::days(SOFT_BOUNCE_WINDOW_DAYS)))
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
                count(soft)
            } else {
                0
            };
            let reason = f.suppression(soft);
            if let Some(reason) = reason {
                let (entry, held) =
                    suppress_in(&mut tx, owner, &f.email, reason, Some(&f.reason), now).await?;
                applied.suppressed = Some(entry.reason);
                applied.held_back = held;
            }
        }
        tx.commit().await.map_err(db_err)?;
        Ok(applied)
    }

    #[tracing::instrument(
        name = "store.feedback_counts",
        level = "debug",
        skip_all,
        fields(store = "sqlite")
    )]
    async fn feedback_counts(&self) -> StoreResult<Vec<(FeedbackKind, u64)>> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT kind, count(*) FROM feedback GROUP BY kind ORDER BY kind")
                .fetch_all(&self.reader)
                .await
                .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .filter_map(|(k, n)| FeedbackKind::parse(&k).map(|k| (k, count(n))))
            .collect())
    }
}

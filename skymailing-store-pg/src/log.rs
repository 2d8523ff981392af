//! The public log: runs and their deliveries, read back.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use skymailing_core::ports::{DailyOutcome, RunFilter, RunStore, StoreResult};
use skymailing_core::*;

use crate::rows::{DeliveryRow, RunRow, count, like, limits, run_columns};
use crate::{PgStore, db_err};

#[async_trait]
impl RunStore for PgStore {
    #[tracing::instrument(
        name = "store.list_runs",
        level = "debug",
        skip_all,
        fields(store = "pg")
    )]
    async fn list_runs(&self, f: RunFilter, q: &ListQuery) -> StoreResult<Page<Run>> {
        let pattern = like(&q.search);
        let (limit, offset) = limits(q);
        let rows = sqlx::query_as::<_, RunRow>(concat!(
            "SELECT ",
            run_columns!(),
            " FROM runs WHERE ($1::bigint IS NULL OR mailing_id = $1) AND ($2::bigint IS NULL OR owner_id = $2) \
               AND ($3::text IS NULL OR lower(mailing_name) LIKE $3) ORDER BY id DESC LIMIT $4 OFFSET $5"
        ))
        .bind(f.mailing.map(|m| m.0))
        .bind(f.owner.map(|o| o.0))
        .bind(&pattern)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        let (total,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM runs WHERE ($1::bigint IS NULL OR mailing_id = $1) AND ($2::bigint IS NULL OR owner_id = $2) \
             AND ($3::text IS NULL OR lower(mailing_name) LIKE $3)",
        )
        .bind(f.mailing.map(|m| m.0))
        .bind(f.owner.map(|o| o.0))
        .bind(&pattern)
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(Page::new(
            rows.into_iter().map(Run::from).collect(),
            count(total),
            q,
        ))
    }

    #[tracing::instrument(name = "store.run", level = "debug", skip_all, fields(store = "pg"))]
    async fn run(&self, id: RunId) -> StoreResult<Option<Run>> {
        sqlx::query_as::<_, RunRow>(concat!(
            "SELECT ",
            run_columns!(),
            " FROM runs WHERE id = $1"
        ))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await
        .map(|r| r.map(Run::from))
        .map_err(db_err)
    }

    #[tracing::instrument(
        name = "store.resume_run",
        level = "debug",
        skip_all,
        fields(store = "pg")
    )]
    async fn resume_run(&self, run: RunId, now: DateTime<Utc>) -> StoreResult<bool> {
        // Its deliveries kept their due times: they are claimed again at once.
        let resumed = sqlx::query(
            "UPDATE runs SET paused_at = NULL, pause_reason = NULL, resumed_at = $2 \
             WHERE id = $1 AND paused_at IS NOT NULL AND finished_at IS NULL",
        )
        .bind(run.0)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(resumed.rows_affected() == 1)
    }

    #[tracing::instrument(
        name = "store.cancel_run",
        level = "debug",
        skip_all,
        fields(store = "pg")
    )]
    async fn cancel_run(&self, run: RunId, now: DateTime<Utc>) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let cancelled = sqlx::query(
            "UPDATE runs SET cancelled_at = $2, paused_at = NULL, pause_reason = NULL \
             WHERE id = $1 AND finished_at IS NULL AND cancelled_at IS NULL",
        )
        .bind(run.0)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if cancelled.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE deliveries SET state = 'cancelled', waiting_for = NULL, updated_at = $2 \
             WHERE run_id = $1 AND state = 'pending'",
        )
        .bind(run.0)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(true)
    }

    #[tracing::instrument(
        name = "store.run_deliveries",
        level = "debug",
        skip_all,
        fields(store = "pg")
    )]
    async fn run_deliveries(&self, run: RunId, q: &ListQuery) -> StoreResult<Page<Delivery>> {
        let pattern = like(&q.search);
        let (limit, offset) = limits(q);
        let rows = sqlx::query_as::<_, DeliveryRow>(
            "SELECT id, run_id, client_id, email, name, state, attempts, last_reply, next_attempt_at, updated_at \
             FROM deliveries WHERE run_id = $1 AND ($2::text IS NULL OR email LIKE $2 OR lower(name) LIKE $2) \
             ORDER BY id LIMIT $3 OFFSET $4",
        )
        .bind(run.0)
        .bind(&pattern)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        let (total,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM deliveries WHERE run_id = $1 AND ($2::text IS NULL OR email LIKE $2 OR lower(name) LIKE $2)",
        )
        .bind(run.0)
        .bind(&pattern)
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(Page::new(
            rows.into_iter().map(Delivery::from).collect(),
            count(total),
            q,
        ))
    }

    #[tracing::instrument(
        name = "store.daily_outcomes",
        level = "debug",
        skip_all,
        fields(store = "pg")
    )]
    async fn daily_outcomes(
        &self,
        owner: Option<UserId>,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<DailyOutcome>> {
        let rows: Vec<(chrono::NaiveDate, i64, i64)> = sqlx::query_as(
            "SELECT (d.completed_at AT TIME ZONE 'UTC')::date AS day, \
                    count(*) FILTER (WHERE d.state = 'sent'), count(*) FILTER (WHERE d.state = 'failed') \
             FROM deliveries d JOIN runs r ON r.id = d.run_id \
             WHERE d.completed_at >= $1 AND ($2::bigint IS NULL OR r.owner_id = $2) \
             GROUP BY day ORDER BY day",
        )
        .bind(since)
        .bind(owner.map(|o| o.0))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .map(|(day, sent, failed)| DailyOutcome {
                day,
                sent: count(sent),
                failed: count(failed),
            })
            .collect())
    }
}

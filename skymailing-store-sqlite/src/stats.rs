//! The home-page statistics and the readiness probes.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use skymailing_core::ports::{Stats, StatsStore, StoreResult};

use crate::rows::count;
use crate::{SqliteStore, db_err};

/// Replaces a mailing's client set with `ids`, all of which must be `owner`'s.

#[async_trait]
impl StatsStore for SqliteStore {
    #[tracing::instrument(
        name = "store.stats",
        level = "debug",
        skip_all,
        fields(store = "sqlite")
    )]
    async fn stats(&self, _now: DateTime<Utc>) -> StoreResult<Stats> {
        // "Running now" is `MailingStatus::Sending`: enabled, its owner not
        // blocked, a run in progress and not paused.
        let (mailings, running, clients): (i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM mailings), \
                    (SELECT count(*) FROM mailings m WHERE m.enabled \
                        AND NOT EXISTS(SELECT 1 FROM users u WHERE u.id = m.owner_id AND u.state = 'blocked') \
                        AND NOT EXISTS(SELECT 1 FROM runs r WHERE r.mailing_id = m.id AND r.paused_at IS NOT NULL) \
                        AND EXISTS(SELECT 1 FROM runs r WHERE r.mailing_id = m.id AND r.finished_at IS NULL)), \
                    (SELECT count(DISTINCT email) FROM clients)",
        )
        .fetch_one(&self.reader)
        .await
        .map_err(db_err)?;
        Ok(Stats {
            mailings: count(mailings),
            running_mailings: count(running),
            unique_clients: count(clients),
        })
    }

    #[tracing::instrument(
        name = "store.ping",
        level = "debug",
        skip_all,
        fields(store = "sqlite")
    )]
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.reader)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    #[tracing::instrument(
        name = "store.pending_deliveries",
        level = "debug",
        skip_all,
        fields(store = "sqlite")
    )]
    async fn pending_deliveries(&self) -> StoreResult<u64> {
        // Served by the partial index on pending deliveries.
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM deliveries WHERE state = 'pending'")
            .fetch_one(&self.reader)
            .await
            .map_err(db_err)?;
        Ok(n as u64)
    }
}

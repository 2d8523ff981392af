//! The delivery queue (scheduler steps, claiming, results, reports).
//!
//! Claiming is `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED LIMIT n)
//! RETURNING …` in its own short transaction, so no transaction stays open while
//! mail is sent and any number of workers can claim side by side. Results come
//! back as one `UPDATE … FROM unnest(…)` per batch, fenced by attempt number.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use skymailing_core::adapter::*;
use skymailing_core::ports::{DeliveryQueue, DueMailing, RunPlan, StoreResult};
use skymailing_core::*;
use skymailing_store_sql::OutcomeRow;
use skymailing_store_sql::codec::tag_patterns;
use sqlx::types::Json;
use sqlx::{FromRow, Row};

use crate::rows::{AppliedRow, ClaimRow, DueRow, RunRow, count, mailing_columns, run_columns};
use crate::{PgStore, db_err};

#[async_trait]
impl DeliveryQueue for PgStore {
    #[tracing::instrument(
        name = "store.due_mailings",
        level = "debug",
        skip_all,
        fields(store = "pg")
    )]
    async fn due_mailings(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<DueMailing>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            mailing_columns!(),
            ", u.time_zone FROM mailings m JOIN users u ON u.id = m.owner_id \
             WHERE m.enabled AND m.next_run_at <= $1 AND u.state = 'active' \
               AND NOT EXISTS (SELECT 1 FROM runs p WHERE p.mailing_id = m.id AND p.paused_at IS NOT NULL) \
             ORDER BY m.next_run_at, m.id LIMIT $2"
        ))
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        // Row by row: one corrupt mailing or owner (see the strict codecs) is
        // logged and left out, not a failure of every user's scheduling.
        Ok(rows
            .iter()
            .filter_map(|row| match DueRow::from_row(row) {
                Ok(r) => Some(r.into()),
                Err(e) => {
                    let id: Option<i64> = row.try_get("id").ok();
                    tracing::error!(mailing = ?id, error = %e, "a due mailing's stored row does not decode; it is left out");
                    None
                }
            })
            .collect())
    }

    #[tracing::instrument(
        name = "store.apply_plan",
        level = "debug",
        skip_all,
        fields(store = "pg")
    )]
    async fn apply_plan(&self, plan: &RunPlan) -> StoreResult<Option<Run>> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        // Share-lock the owner's row: a block (which updates it, then cancels
        // pending deliveries) waits for this step to commit, so it cancels the
        // deliveries made here too; and a step after a block sees the block.
        sqlx::query("SELECT 1 FROM users WHERE id = (SELECT owner_id FROM mailings WHERE id = $1) FOR SHARE")
            .bind(plan.mailing_id.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        // The row lock orders racing schedulers; the compare on next_run_at makes
        // the loser a no-op.
        let moved = sqlx::query(
            "UPDATE mailings m SET next_run_at = $3 \
             WHERE m.id = $1 AND m.enabled AND m.next_run_at = $2 AND m.updated_at = $4 \
               AND EXISTS (SELECT 1 FROM users u WHERE u.id = m.owner_id AND u.state = 'active')",
        )
        .bind(plan.mailing_id.0)
        .bind(plan.expected_next_run_at)
        .bind(plan.next_run_at)
        .bind(plan.expected_updated_at)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        let Some(new) = plan.run.as_ref().filter(|_| moved.rows_affected() == 1) else {
            tx.commit().await.map_err(db_err)?;
            return Ok(None);
        };
        let run: Option<(i64,)> = sqlx::query_as(
            "INSERT INTO runs (mailing_id, owner_id, mailing_name, slot_at, skipped_slots, started_at, \
                               subject, body_text, body_html, nonce, sender_name, reply_to) \
             SELECT m.id, m.owner_id, m.name, $2, $3, $4, msg.subject, msg.body_text, msg.body_html, $5, \
                    COALESCE(m.sender_name, u.sender_name, u.name), COALESCE(m.reply_to, u.reply_to, u.email) \
             FROM mailings m JOIN messages msg ON msg.id = m.message_id JOIN users u ON u.id = m.owner_id \
             WHERE m.id = $1 \
             ON CONFLICT (mailing_id, slot_at) DO NOTHING RETURNING id",
        )
        .bind(plan.mailing_id.0)
        .bind(new.slot_at)
        .bind(i32::try_from(new.skipped_slots).unwrap_or(i32::MAX))
        .bind(plan.now)
        .bind(&new.nonce)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        let Some((run_id,)) = run else {
            tx.commit().await.map_err(db_err)?;
            return Ok(None);
        };
        // The chosen clients and, at this run, every client of the owner
        // carrying one of the mailing's tags (`$4`, patterns `|tag|`).
        let frozen = sqlx::query(
            "INSERT INTO deliveries (run_id, client_id, email, name, unsubscribe_token, state, last_reply, next_attempt_at, updated_at) \
             SELECT $1, c.id, c.email, c.full_name, c.unsubscribe_token, \
                    CASE WHEN s.reason IS NOT NULL THEN 'suppressed' ELSE 'pending' END, s.reason, $3, $3 \
             FROM clients c \
             LEFT JOIN suppressions s ON s.owner_id = c.owner_id AND s.email = c.email \
             WHERE c.id IN (SELECT mc.client_id FROM mailing_clients mc WHERE mc.mailing_id = $2 \
                            UNION ALL \
                            SELECT c2.id FROM clients c2 \
                            WHERE cardinality($4::text[]) > 0 \
                              AND c2.owner_id = (SELECT owner_id FROM mailings WHERE id = $2) \
                              AND EXISTS (SELECT 1 FROM unnest($4::text[]) t(p) WHERE strpos(c2.tags, t.p) > 0)) \
             ORDER BY c.id",
        )
        .bind(run_id)
        .bind(plan.mailing_id.0)
        .bind(plan.now)
        .bind(tag_patterns(&new.tags))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        let run = sqlx::query_as::<_, RunRow>(concat!(
            "UPDATE runs SET recipients = $2 WHERE id = $1 RETURNING ",
            run_columns!()
        ))
        .bind(run_id)
        .bind(i64::try_from(frozen.rows_affected()).unwrap_or(i64::MAX))
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        // Thousands of new pending rows: the planner learns of them now rather
        // than at autovacuum's next pass (until then it took the run's pending
        // deliveries for none, and each claim sorted all of them: 80 ms a
        // claim at 100,000). In the background, on the run's three columns;
        // a failure only costs plans.
        if frozen.rows_affected() >= crate::ANALYZE_AFTER {
            let pool = self.pool.clone();
            tokio::spawn(async move {
                if let Err(e) = sqlx::query("ANALYZE deliveries (run_id, state, next_attempt_at)")
                    .execute(&pool)
                    .await
                {
                    tracing::warn!(error = %e, "refreshing the deliveries' statistics after a run started failed");
                }
            });
        }
        Ok(Some(run.into()))
    }

    #[tracing::instrument(
        name = "store.claim_deliveries",
        level = "debug",
        skip_all,
        fields(store = "pg")
    )]
    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        let lease_until =
            now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::days(365));
        // Leases that expired go back to pending first (their worker is presumed
        // dead); its late result is then refused, since the delivery is no longer
        // `sending` under its attempt number.
        sqlx::query(
            "UPDATE deliveries d SET lease_until = NULL, waiting_for = NULL, updated_at = $1, \
                 state = CASE WHEN EXISTS (SELECT 1 FROM runs r JOIN mailings m ON m.id = r.mailing_id JOIN users u ON u.id = m.owner_id \
                   WHERE r.id = d.run_id AND m.enabled AND u.state = 'active' AND r.cancelled_at IS NULL) THEN 'pending' ELSE 'cancelled' END \
             WHERE d.id IN (SELECT id FROM deliveries WHERE state = 'sending' AND lease_until <= $1 \
                            FOR UPDATE SKIP LOCKED)",
        )
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        let rows = sqlx::query_as::<_, ClaimRow>(
            // Fair shares: the batch is split evenly between the owners with
            // due deliveries, and each owner's share between their runs, so a
            // small run is claimed beside a big one instead of behind it (and a
            // user with five runs does not get five shares). A lone run gets
            // the whole batch, as before. A run is active when its first due
            // delivery is found by the index, a probe per unfinished run (an
            // EXISTS here became a hash semi-join over every delivery: 40 ms
            // per claim at 100,000 pending).
            "WITH active AS ( \
                 SELECT r.id, r.owner_id, count(*) OVER (PARTITION BY r.owner_id) AS owner_runs \
                 FROM runs r WHERE r.finished_at IS NULL AND r.paused_at IS NULL AND r.cancelled_at IS NULL AND ( \
                     SELECT true FROM deliveries p WHERE p.run_id = r.id AND p.state = 'pending' AND p.next_attempt_at <= $1 \
                     ORDER BY p.next_attempt_at, p.id LIMIT 1)), \
             owners AS (SELECT count(DISTINCT owner_id) AS n FROM active), \
             picked AS ( \
                 SELECT d.id FROM active a CROSS JOIN owners o CROSS JOIN LATERAL ( \
                     SELECT id FROM deliveries \
                     WHERE run_id = a.id AND state = 'pending' AND next_attempt_at <= $1 \
                     ORDER BY next_attempt_at, id \
                     LIMIT ceil($3::float8 / o.n / a.owner_runs)::bigint \
                     FOR UPDATE SKIP LOCKED) d \
                 LIMIT $3) \
             UPDATE deliveries d SET state = 'sending', attempts = d.attempts + 1, lease_until = $2, updated_at = $1 \
             WHERE d.id IN (SELECT id FROM picked) \
             RETURNING d.id, d.run_id, d.email, d.name, d.unsubscribe_token, d.attempts",
        )
        .bind(now)
        .bind(lease_until)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(rows.into_iter().map(|r| r.claimed(lease_until)).collect())
    }

    #[tracing::instrument(
        name = "store.take_send_budget",
        level = "debug",
        skip_all,
        fields(store = "pg")
    )]
    async fn take_send_budget(
        &self,
        relay: &str,
        per_second: u32,
        want: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<u32> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        // The upsert refills the bucket for the time passed and locks its row
        // until the take is written: processes take from it one at a time.
        let (tokens,): (f64,) = sqlx::query_as(
            "INSERT INTO send_budgets (relay, tokens, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (relay) DO UPDATE SET \
                 tokens = least($2::float8, send_budgets.tokens \
                     + $2::float8 * greatest(0, extract(epoch FROM ($3 - send_budgets.updated_at))::float8)), \
                 updated_at = greatest(send_budgets.updated_at, $3) \
             RETURNING tokens",
        )
        .bind(relay)
        .bind(f64::from(per_second))
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        let granted = tokens.floor().min(f64::from(want)).max(0.0);
        if granted > 0.0 {
            sqlx::query("UPDATE send_budgets SET tokens = tokens - $2 WHERE relay = $1")
                .bind(relay)
                .bind(granted)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(granted as u32)
    }

    #[tracing::instrument(
        name = "store.return_send_budget",
        level = "debug",
        skip_all,
        fields(store = "pg")
    )]
    async fn return_send_budget(
        &self,
        relay: &str,
        per_second: u32,
        unused: u32,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE send_budgets SET tokens = least($3::float8, tokens + $2::float8) WHERE relay = $1")
            .bind(relay)
            .bind(f64::from(unused))
            .bind(f64::from(per_second))
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    #[tracing::instrument(
        name = "store.renew_leases",
        level = "debug",
        skip_all,
        fields(store = "pg")
    )]
    async fn renew_leases(
        &self,
        claims: &[(DeliveryId, u32)],
        lease_until: DateTime<Utc>,
    ) -> StoreResult<u64> {
        if claims.is_empty() {
            return Ok(0);
        }
        let ids: Vec<i64> = claims.iter().map(|(id, _)| id.0).collect();
        let attempts: Vec<i32> = claims
            .iter()
            .map(|(_, a)| i32::try_from(*a).unwrap_or(i32::MAX))
            .collect();
        // `lease_until IS NOT NULL` is `state = 'sending'` (a CHECK says so)
        // in a form the planner cannot answer from the index of leased rows:
        // it finds the rows by id. (That index, scanned by bitmap, keeps every
        // lease a run ever took until vacuum: a completion scanning it took
        // 500 ms by the hundredth batch of a big run.)
        let r = sqlx::query(
            "UPDATE deliveries d SET lease_until = $3 \
             FROM unnest($1::bigint[], $2::int[]) AS v(id, attempt) \
             WHERE d.id = v.id AND d.attempts = v.attempt AND d.lease_until IS NOT NULL",
        )
        .bind(&ids)
        .bind(&attempts)
        .bind(lease_until)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(r.rows_affected())
    }

    #[tracing::instrument(
        name = "store.park_mailing",
        level = "debug",
        skip_all,
        fields(store = "pg")
    )]
    async fn park_mailing(&self, mailing: MailingId, now: DateTime<Utc>) -> StoreResult<bool> {
        crate::mailings::park(&self.pool, mailing.0, now).await
    }

    #[tracing::instrument(
        name = "store.complete_deliveries",
        level = "debug",
        skip_all,
        fields(store = "pg")
    )]
    async fn complete_deliveries(
        &self,
        results: &[DeliveryResult],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<(DeliveryId, DeliveryState)>> {
        if results.is_empty() {
            return Ok(Vec::new());
        }
        let n = results.len();
        let (mut ids, mut attempts, mut states, mut replies, mut next_at, mut released) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        let mut waiting_for = Vec::with_capacity(n);
        for r in results {
            ids.push(r.id.0);
            attempts.push(i32::try_from(r.attempt).unwrap_or(i32::MAX));
            let o = OutcomeRow::of(&r.outcome);
            states.push(o.state);
            replies.push(o.reply);
            next_at.push(o.next_at);
            released.push(o.released);
            waiting_for.push(o.waiting_for);
        }
        // Still leased under its attempt (`lease_until IS NOT NULL`: see
        // renew_leases): a late result of an expired lease changes nothing.
        let applied = sqlx::query_as::<_, AppliedRow>(
            "UPDATE deliveries d SET \
                 state = CASE WHEN v.state = 'pending' AND NOT EXISTS (SELECT 1 FROM runs r JOIN mailings m ON m.id = r.mailing_id JOIN users u ON u.id = m.owner_id \
                   WHERE r.id = d.run_id AND m.enabled AND u.state = 'active' AND r.cancelled_at IS NULL) THEN 'cancelled' ELSE v.state END, \
                 last_reply = COALESCE(v.reply, d.last_reply), \
                 next_attempt_at = COALESCE(v.next_at, d.next_attempt_at), \
                 attempts = d.attempts - v.released, \
                 lease_until = NULL, updated_at = $7, waiting_for = v.waiting_for, \
                 completed_at = CASE WHEN v.state IN ('sent', 'failed') THEN $7 END \
             FROM unnest($1::bigint[], $2::int[], $3::text[], $4::text[], $5::timestamptz[], $6::int[], $8::text[]) \
                  AS v(id, attempt, state, reply, next_at, released, waiting_for) \
             WHERE d.id = v.id AND d.attempts = v.attempt AND d.lease_until IS NOT NULL \
             RETURNING d.id, d.state",
        )
        .bind(&ids)
        .bind(&attempts)
        .bind(&states)
        .bind(&replies)
        .bind(&next_at)
        .bind(&released)
        .bind(now)
        .bind(&waiting_for)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(applied.into_iter().map(Into::into).collect())
    }

    #[tracing::instrument(
        name = "store.run_content",
        level = "debug",
        skip_all,
        fields(store = "pg")
    )]
    async fn run_content(&self, run: RunId) -> StoreResult<Option<RunContent>> {
        sqlx::query_as::<_, skymailing_store_sql::rows::RunContentRow>(
            skymailing_store_sql::run_content_query!("$1"),
        )
        .bind(run.0)
        .fetch_optional(&self.pool)
        .await
        .map(|r| r.map(RunContent::from))
        .map_err(db_err)
    }

    #[tracing::instrument(
        name = "store.runs_to_finish",
        level = "debug",
        skip_all,
        fields(store = "pg")
    )]
    async fn runs_to_finish(&self, limit: u32) -> StoreResult<Vec<Run>> {
        // A retry written while its run was being cancelled: cancelled too.
        sqlx::query(
            "UPDATE deliveries SET state = 'cancelled', waiting_for = NULL WHERE state = 'pending' \
             AND run_id IN (SELECT id FROM runs WHERE finished_at IS NULL AND cancelled_at IS NOT NULL)",
        )
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        sqlx::query_as::<_, RunRow>(concat!(
            "SELECT ",
            run_columns!(),
            " FROM runs r WHERE r.finished_at IS NULL AND NOT EXISTS ( \
                 SELECT 1 FROM deliveries d WHERE d.run_id = r.id AND d.state IN ('pending', 'sending')) \
             ORDER BY r.id LIMIT $1"
        ))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map(|r| r.into_iter().map(Run::from).collect())
        .map_err(db_err)
    }

    #[tracing::instrument(
        name = "store.run_totals",
        level = "debug",
        skip_all,
        fields(store = "pg")
    )]
    async fn run_totals(&self, run: RunId) -> StoreResult<RunTotals> {
        totals(&self.pool, run).await
    }

    #[tracing::instrument(
        name = "store.finish_run",
        level = "debug",
        skip_all,
        fields(store = "pg")
    )]
    async fn finish_run(
        &self,
        run: RunId,
        report: &RunReport,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        // The run's row first (a late bounce being recorded holds it too),
        // then the counts as the deliveries are once that bounce committed.
        sqlx::query("SELECT 1 FROM runs WHERE id = $1 FOR UPDATE")
            .bind(run.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let r = sqlx::query(
            "UPDATE runs r SET finished_at = $2, report = $3, paused_at = NULL, pause_reason = NULL, \
                 sent = (SELECT count(*) FROM deliveries WHERE run_id = r.id AND state = 'sent'), \
                 failed = (SELECT count(*) FROM deliveries WHERE run_id = r.id AND state = 'failed'), \
                 cancelled = (SELECT count(*) FROM deliveries WHERE run_id = r.id AND state = 'cancelled'), \
                 suppressed = (SELECT count(*) FROM deliveries WHERE run_id = r.id AND state = 'suppressed'), \
                 bounced = (SELECT count(*) FROM deliveries WHERE run_id = r.id AND state = 'bounced'), \
                 complained = (SELECT count(*) FROM deliveries WHERE run_id = r.id AND state = 'complained') \
             WHERE r.id = $1 AND r.finished_at IS NULL AND NOT EXISTS ( \
                 SELECT 1 FROM deliveries d WHERE d.run_id = r.id AND d.state IN ('pending', 'sending'))",
        )
        .bind(run.0)
        .bind(now)
        .bind(Json(report))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(r.rows_affected() == 1)
    }

    #[tracing::instrument(
        name = "store.pause_run",
        level = "debug",
        skip_all,
        fields(store = "pg")
    )]
    async fn pause_run(
        &self,
        run: RunId,
        reason: &PauseReason,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        // Its pending deliveries stay as they are: the claim and the next
        // wake-up pass paused runs by, whatever is written to them meanwhile.
        let paused = sqlx::query(
            "UPDATE runs SET paused_at = $2, pause_reason = $3 \
             WHERE id = $1 AND finished_at IS NULL AND paused_at IS NULL AND cancelled_at IS NULL \
               AND resumed_at IS NULL",
        )
        .bind(run.0)
        .bind(now)
        .bind(Json(reason))
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(paused.rows_affected() == 1)
    }

    #[tracing::instrument(
        name = "store.run_status",
        level = "debug",
        skip_all,
        fields(store = "pg")
    )]
    async fn run_status(&self, run: RunId) -> StoreResult<Option<Run>> {
        skymailing_core::ports::RunStore::run(self, run).await
    }

    #[tracing::instrument(
        name = "store.next_wakeup",
        level = "debug",
        skip_all,
        fields(store = "pg")
    )]
    async fn next_wakeup(&self) -> StoreResult<Option<DateTime<Utc>>> {
        let (t,): (Option<DateTime<Utc>>,) = sqlx::query_as(
            "SELECT LEAST( \
                (SELECT min(m.next_run_at) FROM mailings m JOIN users u ON u.id = m.owner_id \
                  WHERE m.enabled AND u.state = 'active' \
                    AND NOT EXISTS (SELECT 1 FROM runs p WHERE p.mailing_id = m.id AND p.paused_at IS NOT NULL)), \
                (SELECT min((SELECT min(d.next_attempt_at) FROM deliveries d WHERE d.run_id = r.id AND d.state = 'pending')) \
                   FROM runs r WHERE r.finished_at IS NULL AND r.paused_at IS NULL AND r.cancelled_at IS NULL), \
                (SELECT min(lease_until) FROM deliveries WHERE state = 'sending'))",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(t)
    }
}

async fn totals(exec: impl sqlx::PgExecutor<'_> + Copy, run: RunId) -> StoreResult<RunTotals> {
    let states: Vec<(String, i64)> =
        sqlx::query_as("SELECT state, count(*) FROM deliveries WHERE run_id = $1 GROUP BY state")
            .bind(run.0)
            .fetch_all(exec)
            .await
            .map_err(db_err)?;
    let mut t = RunTotals::default();
    for (state, n) in states {
        // Strictly: an unknown state is a corrupt row, not a state to skip.
        let state = skymailing_store_sql::codec::Parsed::<DeliveryState>::try_from(state)
            .map_err(StoreError::backend)?;
        t.add(state.0, count(n));
    }
    if t.failed > 0 {
        let failures: Vec<(String, i64)> = sqlx::query_as(
            "SELECT COALESCE(last_reply, ''), count(*) AS n FROM deliveries WHERE run_id = $1 AND state = 'failed' \
             GROUP BY 1 ORDER BY n DESC, 1",
        )
        .bind(run.0)
        .fetch_all(exec)
        .await
        .map_err(db_err)?;
        t.failures = failures.into_iter().map(|(r, n)| (r, count(n))).collect();
    }
    if t.pending > 0 {
        let waiting: Vec<(String, i64)> = sqlx::query_as(
            "SELECT waiting_for, count(*) AS n FROM deliveries \
             WHERE run_id = $1 AND state = 'pending' AND waiting_for IS NOT NULL \
             GROUP BY 1 ORDER BY n DESC, 1",
        )
        .bind(run.0)
        .fetch_all(exec)
        .await
        .map_err(db_err)?;
        t.waiting = waiting.into_iter().map(|(d, n)| (d, count(n))).collect();
    }
    Ok(t)
}

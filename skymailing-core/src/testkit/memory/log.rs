//! The in-memory store: The log: runs and deliveries read back.

use super::*;

#[async_trait]
impl RunStore for MemoryStore {
    async fn list_runs(&self, f: RunFilter, q: &ListQuery) -> StoreResult<Page<Run>> {
        let s = self.lock();
        let items = s
            .runs
            .values()
            .rev()
            .map(|r| &r.run)
            .filter(|r| f.mailing.is_none_or(|m| r.mailing_id == Some(m)))
            .filter(|r| f.owner.is_none_or(|o| r.owner == o))
            .filter(|r| matches(q, &[&r.mailing_name]))
            .cloned()
            .collect();
        Ok(page(items, q))
    }

    async fn run(&self, id: RunId) -> StoreResult<Option<Run>> {
        Ok(self.lock().runs.get(&id).map(|r| r.run.clone()))
    }

    async fn resume_run(&self, run: RunId, _now: DateTime<Utc>) -> StoreResult<bool> {
        let mut s = self.lock();
        let Some(r) = s
            .runs
            .get_mut(&run)
            .filter(|r| r.run.status == RunStatus::Paused)
        else {
            return Ok(false);
        };
        r.run.status = RunStatus::Sending;
        r.run.paused = None;
        r.resumed = true;
        Ok(true)
    }

    async fn cancel_run(&self, run: RunId, now: DateTime<Utc>) -> StoreResult<bool> {
        let mut s = self.lock();
        let Some(r) = s
            .runs
            .get_mut(&run)
            .filter(|r| matches!(r.run.status, RunStatus::Sending | RunStatus::Paused))
        else {
            return Ok(false);
        };
        r.run.status = RunStatus::Cancelled;
        r.run.paused = None;
        s.cancel_pending(|r| r.id == run, now);
        Ok(true)
    }

    async fn run_deliveries(&self, run: RunId, q: &ListQuery) -> StoreResult<Page<Delivery>> {
        let s = self.lock();
        let items = s
            .deliveries
            .values()
            .filter(|r| r.d.run_id == run && matches(q, &[r.d.email.as_str(), &r.d.name]))
            .map(|r| r.d.clone())
            .collect();
        Ok(page(items, q))
    }

    async fn daily_outcomes(
        &self,
        owner: Option<UserId>,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<DailyOutcome>> {
        let s = self.lock();
        let mut days: BTreeMap<chrono::NaiveDate, (u64, u64)> = BTreeMap::new();
        for row in s.deliveries.values() {
            let Some(run) = s.runs.get(&row.d.run_id) else {
                continue;
            };
            if owner.is_some_and(|o| run.run.owner != o) || row.d.updated_at < since {
                continue;
            }
            let e = days.entry(row.d.updated_at.date_naive()).or_default();
            match row.d.state {
                DeliveryState::Sent => e.0 += 1,
                DeliveryState::Failed => e.1 += 1,
                _ => {}
            }
        }
        Ok(days
            .into_iter()
            .filter(|(_, (a, b))| a + b > 0)
            .map(|(day, (sent, failed))| DailyOutcome { day, sent, failed })
            .collect())
    }
}

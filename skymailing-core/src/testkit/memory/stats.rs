//! The in-memory store: Statistics and probes.

use super::*;

#[async_trait]
impl StatsStore for MemoryStore {
    async fn stats(&self, now: DateTime<Utc>) -> StoreResult<Stats> {
        let s = self.lock();
        let mut emails: Vec<&str> = s.clients.values().map(|c| c.email.as_str()).collect();
        emails.sort_unstable();
        emails.dedup();
        Ok(Stats {
            mailings: s.mailings.len() as u64,
            running_mailings: s
                .mailings
                .values()
                .filter(|m| s.with_sending((*m).clone()).status(now) == MailingStatus::Sending)
                .count() as u64,
            unique_clients: emails.len() as u64,
        })
    }

    async fn ping(&self) -> StoreResult<()> {
        Ok(())
    }

    async fn pending_deliveries(&self) -> StoreResult<u64> {
        let s = self.lock();
        Ok(s.deliveries
            .values()
            .filter(|r| r.d.state == DeliveryState::Pending)
            .count() as u64)
    }
}

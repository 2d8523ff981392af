//! The in-memory store: Mailings.

use super::*;

fn check_refs(s: &State, owner: UserId, d: &MailingDraft) -> StoreResult<()> {
    if !s.messages.contains_key(&d.message_id) {
        return Err(StoreError::Conflict(StoreConflict::UnknownMessage));
    }
    if !d
        .client_ids
        .iter()
        .all(|id| s.clients.get(id).is_some_and(|c| c.owner == owner))
    {
        return Err(StoreError::Conflict(StoreConflict::UnknownClient));
    }
    Ok(())
}

#[async_trait]
impl MailingStore for MemoryStore {
    async fn create_mailing(
        &self,
        owner: UserId,
        d: &MailingDraft,
        next_run_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> StoreResult<Mailing> {
        let mut s = self.lock();
        check_refs(&s, owner, d)?;
        let m = Mailing {
            id: MailingId(s.id()),
            owner,
            name: d.name.clone(),
            message_id: d.message_id,
            client_ids: d.client_ids.clone(),
            tags: d.tags.clone(),
            start_at: d.start_at,
            end_at: d.end_at,
            periodicity: d.periodicity,
            sender: d.sender.clone(),
            enabled: true,
            disabled_by: None,
            next_run_at,
            sending: false,
            owner_blocked: false,
            paused: false,
            created_at: now,
            updated_at: now,
        };
        s.mailings.insert(m.id, m.clone());
        Ok(m)
    }

    async fn mailing(&self, id: MailingId) -> StoreResult<Option<Mailing>> {
        let s = self.lock();
        Ok(s.mailings.get(&id).cloned().map(|m| s.with_sending(m)))
    }

    async fn list_mailings(
        &self,
        owner: Option<UserId>,
        q: &ListQuery,
    ) -> StoreResult<Page<Mailing>> {
        let s = self.lock();
        let items = s
            .mailings
            .values()
            .rev()
            .filter(|m| owner.is_none_or(|o| m.owner == o) && matches(q, &[&m.name]))
            .cloned()
            .map(|m| s.with_sending(m))
            .collect();
        Ok(page(items, q))
    }

    async fn update_mailing(
        &self,
        id: MailingId,
        d: &MailingDraft,
        next_run_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Mailing>> {
        let mut s = self.lock();
        let Some(owner) = s.mailings.get(&id).map(|m| m.owner) else {
            return Ok(None);
        };
        check_refs(&s, owner, d)?;
        let m = s.mailings.get_mut(&id).expect("checked above");
        m.name = d.name.clone();
        m.message_id = d.message_id;
        m.client_ids = d.client_ids.clone();
        m.tags = d.tags.clone();
        m.start_at = d.start_at;
        m.end_at = d.end_at;
        m.periodicity = d.periodicity;
        m.sender = d.sender.clone();
        m.next_run_at = next_run_at;
        m.updated_at = now;
        let m = m.clone();
        Ok(Some(s.with_sending(m)))
    }

    async fn set_mailing_enabled(
        &self,
        id: MailingId,
        enabled: bool,
        disabled_by: Option<DisabledBy>,
        next_run_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Mailing>> {
        let mut s = self.lock();
        let Some(m) = s.mailings.get_mut(&id) else {
            return Ok(None);
        };
        m.enabled = enabled;
        m.disabled_by = if enabled { None } else { disabled_by };
        m.next_run_at = next_run_at;
        m.updated_at = now;
        let m = m.clone();
        if !enabled {
            s.cancel_pending(|r| r.mailing_id == Some(id), now);
        }
        Ok(Some(s.with_sending(m)))
    }

    async fn delete_mailing(&self, id: MailingId, now: DateTime<Utc>) -> StoreResult<bool> {
        let mut s = self.lock();
        if s.mailings.remove(&id).is_none() {
            return Ok(false);
        }
        s.cancel_pending(|r| r.mailing_id == Some(id), now);
        for r in s.runs.values_mut() {
            if r.run.mailing_id == Some(id) {
                r.run.mailing_id = None;
            }
        }
        Ok(true)
    }
}

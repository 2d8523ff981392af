//! The in-memory store: Clients and their unsubscribe links.

use super::*;

#[async_trait]
impl ClientStore for MemoryStore {
    async fn create_client(
        &self,
        owner: UserId,
        d: &ClientDraft,
        token: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Client> {
        let mut s = self.lock();
        if s.clients
            .values()
            .any(|c| c.owner == owner && c.email == d.email)
        {
            return Err(StoreError::Conflict(StoreConflict::ClientEmailTaken));
        }
        Ok(s.insert_client(owner, d, token, now))
    }

    async fn client(&self, owner: UserId, id: ClientId) -> StoreResult<Option<Client>> {
        Ok(self
            .lock()
            .clients
            .get(&id)
            .filter(|c| c.owner == owner)
            .cloned())
    }

    async fn list_clients(&self, owner: UserId, q: &ListQuery) -> StoreResult<Page<Client>> {
        let items = self
            .lock()
            .sorted_clients(owner, q.search.as_deref(), q.tag.as_deref());
        Ok(page(items, q))
    }

    async fn all_clients(&self, owner: UserId) -> StoreResult<Vec<Client>> {
        Ok(self.lock().sorted_clients(owner, None, None))
    }

    async fn matching_client_ids(
        &self,
        owner: UserId,
        f: &ClientFilter,
    ) -> StoreResult<Vec<ClientId>> {
        let s = self.lock();
        let mut ids: Vec<ClientId> = s
            .sorted_clients(owner, f.search.as_deref(), f.tag.as_deref())
            .into_iter()
            .map(|c| c.id)
            .collect();
        ids.sort_unstable();
        Ok(ids)
    }

    async fn client_tags(&self, owner: UserId) -> StoreResult<Vec<(String, u64)>> {
        let mut tags: std::collections::BTreeMap<String, u64> = Default::default();
        for c in self.lock().clients.values().filter(|c| c.owner == owner) {
            for t in &c.tags {
                *tags.entry(t.clone()).or_default() += 1;
            }
        }
        Ok(tags.into_iter().collect())
    }

    async fn import_clients(
        &self,
        owner: UserId,
        new: &[(ClientDraft, String)],
        changed: &[(ClientId, ClientDraft)],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut s = self.lock();
        let taken = new.iter().any(|(d, _)| {
            s.clients
                .values()
                .any(|c| c.owner == owner && c.email == d.email)
        });
        if taken {
            return Err(StoreError::Conflict(StoreConflict::ClientEmailTaken));
        }
        for (id, d) in changed {
            if let Some(c) = s.clients.get_mut(id).filter(|c| c.owner == owner) {
                c.full_name = d.full_name.clone();
                c.comment = d.comment.clone();
                c.tags = d.tags.clone();
            }
        }
        for (d, token) in new {
            s.insert_client(owner, d, token, now);
        }
        Ok(())
    }

    async fn update_client(
        &self,
        owner: UserId,
        id: ClientId,
        d: &ClientDraft,
        new_token: &str,
    ) -> StoreResult<Option<Client>> {
        let mut s = self.lock();
        if s.clients.get(&id).is_none_or(|c| c.owner != owner) {
            return Ok(None);
        }
        if s.clients
            .values()
            .any(|c| c.owner == owner && c.email == d.email && c.id != id)
        {
            return Err(StoreError::Conflict(StoreConflict::ClientEmailTaken));
        }
        let unsubscribed_at = s.unsubscribed_at(owner, &d.email);
        let Some(c) = s.clients.get_mut(&id) else {
            return Ok(None);
        };
        let new_address = c.email != d.email;
        if new_address {
            c.unsubscribe_token = new_token.to_owned();
            c.unsubscribed_at = unsubscribed_at;
        }
        c.email = d.email.clone();
        c.full_name = d.full_name.clone();
        c.comment = d.comment.clone();
        c.tags = d.tags.clone();
        let c = c.clone();
        if new_address {
            s.links
                .insert(new_token.to_owned(), (owner, d.email.clone()));
        }
        Ok(Some(c))
    }

    async fn delete_client(&self, owner: UserId, id: ClientId) -> StoreResult<bool> {
        let mut s = self.lock();
        if s.clients.get(&id).is_none_or(|c| c.owner != owner) {
            return Ok(false);
        }
        s.clients.remove(&id);
        for m in s.mailings.values_mut() {
            m.client_ids.retain(|c| *c != id);
        }
        for row in s.deliveries.values_mut() {
            if row.d.client_id == Some(id) {
                row.d.client_id = None;
            }
        }
        Ok(true)
    }

    async fn unsubscribe_link(&self, token: &str) -> StoreResult<Option<UnsubscribeLink>> {
        Ok(self.lock().link(token))
    }

    async fn set_unsubscribed(
        &self,
        token: &str,
        at: Option<DateTime<Utc>>,
    ) -> StoreResult<Option<UnsubscribeLink>> {
        let mut s = self.lock();
        let Some((owner, email)) = s.links.get(token).cloned() else {
            return Ok(None);
        };
        let key = (owner, email.clone());
        match at {
            Some(when) => {
                let id = s.id();
                s.suppressions.entry(key).or_insert(SuppressionRow {
                    id,
                    reason: SuppressionReason::Unsubscribed,
                    at: when,
                    detail: None,
                });
                let runs: Vec<RunId> = s
                    .runs
                    .values()
                    .filter(|r| r.run.owner == owner)
                    .map(|r| r.run.id)
                    .collect();
                for row in s.deliveries.values_mut() {
                    if row.d.email == email
                        && row.d.state == DeliveryState::Pending
                        && runs.contains(&row.d.run_id)
                    {
                        row.d.state = DeliveryState::Cancelled;
                        row.d.updated_at = when;
                    }
                }
            }
            None => {
                if s.suppressions
                    .get(&key)
                    .is_some_and(|r| r.reason == SuppressionReason::Unsubscribed)
                {
                    s.suppressions.remove(&key);
                }
            }
        }
        let marked = s.unsubscribed_at(owner, &email);
        for c in s.clients.values_mut() {
            if c.owner == owner && c.email == email {
                c.unsubscribed_at = marked;
            }
        }
        Ok(s.link(token))
    }
}

impl State {
    /// Stores a new client with its unsubscribe link (an address the owner
    /// has unsubscribed stays marked).
    fn insert_client(
        &mut self,
        owner: UserId,
        d: &ClientDraft,
        token: &str,
        now: DateTime<Utc>,
    ) -> Client {
        let c = Client {
            id: ClientId(self.id()),
            owner,
            email: d.email.clone(),
            full_name: d.full_name.clone(),
            comment: d.comment.clone(),
            tags: d.tags.clone(),
            unsubscribed_at: self.unsubscribed_at(owner, &d.email),
            unsubscribe_token: token.to_owned(),
            created_at: now,
        };
        self.links
            .insert(token.to_owned(), (owner, d.email.clone()));
        self.clients.insert(c.id, c.clone());
        c
    }
}

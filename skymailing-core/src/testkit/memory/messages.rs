//! The in-memory store: Messages.

use super::*;

#[async_trait]
impl MessageStore for MemoryStore {
    async fn create_message(
        &self,
        owner: UserId,
        d: &MessageDraft,
        now: DateTime<Utc>,
    ) -> StoreResult<Message> {
        let mut s = self.lock();
        let m = Message {
            id: MessageId(s.id()),
            owner,
            subject: d.subject.clone(),
            body_text: d.body_text.clone(),
            body_html: d.body_html.clone(),
            created_at: now,
            updated_at: now,
        };
        s.messages.insert(m.id, m.clone());
        Ok(m)
    }

    async fn message(&self, id: MessageId) -> StoreResult<Option<Message>> {
        Ok(self.lock().messages.get(&id).cloned())
    }

    async fn list_messages(&self, q: &ListQuery) -> StoreResult<Page<Message>> {
        let s = self.lock();
        let items = s
            .messages
            .values()
            .rev()
            .filter(|m| matches(q, &[&m.subject]))
            .cloned()
            .collect();
        Ok(page(items, q))
    }

    async fn update_message(
        &self,
        id: MessageId,
        d: &MessageDraft,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Message>> {
        let mut s = self.lock();
        Ok(s.messages.get_mut(&id).map(|m| {
            m.subject = d.subject.clone();
            m.body_text = d.body_text.clone();
            m.body_html = d.body_html.clone();
            m.updated_at = now;
            m.clone()
        }))
    }

    async fn delete_message(&self, id: MessageId) -> StoreResult<bool> {
        let mut s = self.lock();
        if s.mailings.values().any(|m| m.message_id == id) {
            return Err(StoreError::Conflict(StoreConflict::MessageInUse));
        }
        Ok(s.messages.remove(&id).is_some())
    }

    async fn message_users(&self, id: MessageId) -> StoreResult<Vec<UserId>> {
        let s = self.lock();
        let mut owners: Vec<UserId> = s
            .mailings
            .values()
            .filter(|m| m.message_id == id)
            .map(|m| m.owner)
            .collect();
        owners.sort();
        owners.dedup();
        Ok(owners)
    }
}

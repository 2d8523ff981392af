//! Messages: every signed-in user reads and creates them; only the author (or
//! an admin) edits or deletes one.

use std::sync::Arc;

use super::gate::Gate;
use crate::policy::{Action, Actor, Target, authorize};
use crate::ports::{Clock, MessageStore};
use crate::{Error, ListQuery, Message, MessageDraft, MessageId, Page, Reason};

/// Message use cases.
#[derive(Clone)]
pub struct MessageService {
    gate: Gate,
    messages: Arc<dyn MessageStore>,
    clock: Arc<dyn Clock>,
}

impl MessageService {
    /// Wires the use cases.
    pub(crate) fn new(messages: Arc<dyn MessageStore>, clock: Arc<dyn Clock>, gate: Gate) -> Self {
        MessageService {
            gate,
            messages,
            clock,
        }
    }

    /// All messages.
    #[tracing::instrument(name = "messages.list", level = "debug", skip_all, fields(actor = ?actor))]
    pub async fn list(&self, actor: Actor, query: &ListQuery) -> Result<Page<Message>, Error> {
        let actor = self.gate.admit(actor).await?;
        authorize(actor, Action::UseMessages, Target::None)?;
        Ok(self.messages.list_messages(query).await?)
    }

    /// One message.
    #[tracing::instrument(name = "messages.get", level = "debug", skip_all, fields(actor = ?actor, id = %id))]
    pub async fn get(&self, actor: Actor, id: MessageId) -> Result<Message, Error> {
        let actor = self.gate.admit(actor).await?;
        self.found(actor, id).await
    }

    /// [`MessageService::get`] for an actor already admitted.
    async fn found(&self, actor: Actor, id: MessageId) -> Result<Message, Error> {
        authorize(actor, Action::UseMessages, Target::None)?;
        self.messages.message(id).await?.ok_or(Error::NotFound)
    }

    /// Writes a new message.
    #[tracing::instrument(name = "messages.create", level = "debug", skip_all, fields(actor = ?actor))]
    pub async fn create(&self, actor: Actor, draft: &MessageDraft) -> Result<Message, Error> {
        let actor = self.gate.admit(actor).await?;
        let draft = &draft.revalidated()?;
        let p = authorize(actor, Action::UseMessages, Target::None)?;
        Ok(self
            .messages
            .create_message(p.id, draft, self.clock.now())
            .await?)
    }

    /// Changes a message; runs already started keep the copy they froze. A
    /// message that other users' mailings use cannot be changed (that would
    /// change what they send under their name): write a new one instead.
    #[tracing::instrument(name = "messages.update", level = "debug", skip_all, fields(actor = ?actor, id = %id))]
    pub async fn update(
        &self,
        actor: Actor,
        id: MessageId,
        draft: &MessageDraft,
    ) -> Result<Message, Error> {
        let actor = self.gate.admit(actor).await?;
        let draft = &draft.revalidated()?;
        let m = self.found(actor, id).await?;
        let p = authorize(actor, Action::EditMessage, Target::OwnedBy(m.owner))?;
        let users = self.messages.message_users(id).await?;
        if users.iter().any(|u| *u != m.owner && *u != p.id) {
            return Err(Error::Conflict(Reason::MessageUsedByOthers));
        }
        self.messages
            .update_message(id, draft, self.clock.now())
            .await?
            .ok_or(Error::NotFound)
    }

    /// Deletes a message that no mailing uses.
    #[tracing::instrument(name = "messages.delete", level = "debug", skip_all, fields(actor = ?actor, id = %id))]
    pub async fn delete(&self, actor: Actor, id: MessageId) -> Result<(), Error> {
        let actor = self.gate.admit(actor).await?;
        let m = self.found(actor, id).await?;
        authorize(actor, Action::EditMessage, Target::OwnedBy(m.owner))?;
        if self.messages.delete_message(id).await? {
            Ok(())
        } else {
            Err(Error::NotFound)
        }
    }
}

//! Clients: private to their owner; another owner's client is not found.

use std::sync::Arc;

use super::gate::Gate;
use crate::policy::{Action, Actor, Target, authorize};
use crate::ports::{ClientStore, Clock};
use crate::{
    Client, ClientDraft, ClientId, Error, ImportReport, ListQuery, Page, UnsubscribeLink, security,
};

/// What the page behind an unsubscribe link shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsubscribeInfo {
    /// The recipient's address.
    pub email: String,
    /// Whether they are unsubscribed now.
    pub unsubscribed: bool,
    /// Since when, while they are.
    pub unsubscribed_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Whether this very call unsubscribed them (not an earlier one): only
    /// then may the answer offer to undo it, since the link itself may be
    /// known to others (the list's owner among them).
    pub changed: bool,
}

/// Client use cases.
#[derive(Clone)]
pub struct ClientService {
    gate: Gate,
    clients: Arc<dyn ClientStore>,
    clock: Arc<dyn Clock>,
}

impl ClientService {
    /// Wires the use cases.
    pub(crate) fn new(clients: Arc<dyn ClientStore>, clock: Arc<dyn Clock>, gate: Gate) -> Self {
        ClientService {
            gate,
            clients,
            clock,
        }
    }

    /// Whether `actor` may add clients (the new-client form asks before
    /// showing itself): `Forbidden` for managers, who keep none.
    ///
    /// A hint for showing a form or a button, decided on the actor as given
    /// (no store read); the use case itself checks the account as it is now.
    pub fn can_create(&self, actor: Actor) -> Result<(), Error> {
        authorize(actor, Action::ManageClients, Target::None).map(drop)
    }

    /// The actor's clients.
    #[tracing::instrument(name = "clients.list", level = "debug", skip_all, fields(actor = ?actor))]
    pub async fn list(&self, actor: Actor, query: &ListQuery) -> Result<Page<Client>, Error> {
        let actor = self.gate.admit(actor).await?;
        let p = authorize(actor, Action::ManageClients, Target::None)?;
        Ok(self.clients.list_clients(p.id, query).await?)
    }

    /// One of the actor's clients. Clients are private: one that is not the
    /// actor's is looked up as absent, so another user's client is "not found"
    /// for every role (the table's `Hidden`), and only the actor's own client
    /// is then checked against the table (a manager's own is refused).
    #[tracing::instrument(name = "clients.get", level = "debug", skip_all, fields(actor = ?actor, id = %id))]
    pub async fn get(&self, actor: Actor, id: ClientId) -> Result<Client, Error> {
        let actor = self.gate.admit(actor).await?;
        self.owned(actor, id).await
    }

    /// [`ClientService::get`] for an actor already admitted.
    async fn owned(&self, actor: Actor, id: ClientId) -> Result<Client, Error> {
        let p = actor.principal()?;
        let c = self
            .clients
            .client(p.id, id)
            .await?
            .ok_or(Error::NotFound)?;
        authorize(actor, Action::ManageClients, Target::OwnedBy(c.owner))?;
        Ok(c)
    }

    /// Adds a client.
    #[tracing::instrument(name = "clients.create", level = "debug", skip_all, fields(actor = ?actor))]
    pub async fn create(&self, actor: Actor, draft: &ClientDraft) -> Result<Client, Error> {
        let actor = self.gate.admit(actor).await?;
        let draft = &draft.revalidated()?;
        let p = authorize(actor, Action::ManageClients, Target::None)?;
        let token = security::new_token();
        Ok(self
            .clients
            .create_client(p.id, draft, &token, self.clock.now())
            .await?)
    }

    /// Imports a CSV file of clients (see [`crate::domain::parse_clients_csv`]
    /// and [`crate::domain::plan_import`]): all valid rows in one
    /// transaction, or none on a dry run; the report lists every bad row.
    /// Suppressed addresses are imported and stay suppressed.
    #[tracing::instrument(name = "clients.import", level = "debug", skip_all, fields(actor = ?actor, bytes = data.len(), dry_run))]
    pub async fn import(
        &self,
        actor: Actor,
        data: &[u8],
        dry_run: bool,
    ) -> Result<ImportReport, Error> {
        let actor = self.gate.admit(actor).await?;
        let p = authorize(actor, Action::ManageClients, Target::None)?;
        let file = crate::domain::parse_clients_csv(data)?;
        let existing = self.clients.all_clients(p.id).await?;
        let plan = crate::domain::plan_import(&file, existing);
        let mut report = plan.report;
        report.dry_run = dry_run;
        if !dry_run && (!plan.new.is_empty() || !plan.changed.is_empty()) {
            let new: Vec<(ClientDraft, String)> = plan
                .new
                .into_iter()
                .map(|d| (d, security::new_token()))
                .collect();
            self.clients
                .import_clients(p.id, &new, &plan.changed, self.clock.now())
                .await?;
        }
        Ok(report)
    }

    /// The actor's clients as CSV (see [`crate::write_clients_csv`]).
    #[tracing::instrument(name = "clients.export", level = "debug", skip_all, fields(actor = ?actor))]
    pub async fn export(&self, actor: Actor) -> Result<String, Error> {
        let actor = self.gate.admit(actor).await?;
        let p = authorize(actor, Action::ManageClients, Target::None)?;
        let all = self.clients.all_clients(p.id).await?;
        Ok(crate::write_clients_csv(&all))
    }

    /// The actor's tags with how many clients carry each.
    #[tracing::instrument(name = "clients.tags", level = "debug", skip_all, fields(actor = ?actor))]
    pub async fn tags(&self, actor: Actor) -> Result<Vec<(String, u64)>, Error> {
        let actor = self.gate.admit(actor).await?;
        let p = authorize(actor, Action::ManageClients, Target::None)?;
        Ok(self.clients.client_tags(p.id).await?)
    }

    /// Changes one of the actor's clients.
    #[tracing::instrument(name = "clients.update", level = "debug", skip_all, fields(actor = ?actor, id = %id))]
    pub async fn update(
        &self,
        actor: Actor,
        id: ClientId,
        draft: &ClientDraft,
    ) -> Result<Client, Error> {
        let actor = self.gate.admit(actor).await?;
        let draft = &draft.revalidated()?;
        let c = self.owned(actor, id).await?;
        // A new address gets a link of its own; links already sent keep theirs.
        let token = security::new_token();
        self.clients
            .update_client(c.owner, id, draft, &token)
            .await?
            .ok_or(Error::NotFound)
    }

    /// Deletes one of the actor's clients.
    #[tracing::instrument(name = "clients.delete", level = "debug", skip_all, fields(actor = ?actor, id = %id))]
    pub async fn delete(&self, actor: Actor, id: ClientId) -> Result<(), Error> {
        let actor = self.gate.admit(actor).await?;
        let c = self.owned(actor, id).await?;
        if self.clients.delete_client(c.owner, id).await? {
            Ok(())
        } else {
            Err(Error::NotFound)
        }
    }

    /// What an unsubscribe link is about (anyone holding the link may ask).
    #[tracing::instrument(name = "clients.unsubscribe_info", level = "debug", skip_all)]
    pub async fn unsubscribe_info(&self, token: &str) -> Result<UnsubscribeInfo, Error> {
        let link = self
            .clients
            .unsubscribe_link(token)
            .await?
            .ok_or(Error::InvalidToken)?;
        Ok(info(link))
    }

    /// Unsubscribes the address behind a link from its owner's list
    /// (idempotent). It stays unsubscribed whatever the owner does with their
    /// clients: deleting and re-creating one, or adding it under another name.
    #[tracing::instrument(name = "clients.unsubscribe", level = "debug", skip_all)]
    pub async fn unsubscribe(&self, token: &str) -> Result<UnsubscribeInfo, Error> {
        let current = self.unsubscribe_info(token).await?;
        if current.unsubscribed {
            return Ok(current);
        }
        let link = self
            .clients
            .set_unsubscribed(token, Some(self.clock.now()))
            .await?
            .ok_or(Error::InvalidToken)?;
        Ok(UnsubscribeInfo {
            changed: true,
            ..info(link)
        })
    }

    /// Undoes an unsubscribe. The link alone is no proof of being the
    /// recipient (it may have leaked to the list's owner), so callers offer
    /// this only to whoever just unsubscribed (see [`UnsubscribeInfo::changed`]).
    #[tracing::instrument(name = "clients.resubscribe", level = "debug", skip_all)]
    pub async fn resubscribe(&self, token: &str) -> Result<UnsubscribeInfo, Error> {
        let link = self
            .clients
            .set_unsubscribed(token, None)
            .await?
            .ok_or(Error::InvalidToken)?;
        Ok(info(link))
    }
}

fn info(link: UnsubscribeLink) -> UnsubscribeInfo {
    UnsubscribeInfo {
        email: link.email.to_string(),
        unsubscribed: link.unsubscribed_at.is_some(),
        unsubscribed_at: link.unsubscribed_at,
        changed: false,
    }
}

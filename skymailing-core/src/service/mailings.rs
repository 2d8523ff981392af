//! Mailings: private to their owner; managers and admins see all of them and may
//! disable any, but edit none but their own.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::gate::Gate;
use crate::engine::Wakeup;
use crate::policy::{Action, Actor, Target, authorize};
use crate::ports::{ClientStore, Clock, MailingStore, RunFilter, RunStore, UserStore};
use crate::schedule::Schedule;
use crate::{
    Audience, DisabledBy, Error, ListQuery, Mailing, MailingDraft, MailingId, MailingStatus, Page,
    Periodicity, Reason, Role, Run, TimeZone, UserId,
};

/// Which mailings to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MailingScope {
    /// The actor's own.
    Own,
    /// Everyone's (managers and admins).
    All,
}

impl MailingScope {
    /// The list a role sees when it does not choose: a user their own,
    /// managers and admins everyone's.
    pub fn default_for(role: Role) -> Self {
        if role == Role::User {
            MailingScope::Own
        } else {
            MailingScope::All
        }
    }
}

/// A mailing with its status at the time of the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MailingView {
    /// The mailing.
    #[serde(flatten)]
    pub mailing: Mailing,
    /// Derived status.
    pub status: MailingStatus,
    /// Who owns it, when a manager or admin looks at others' mailings
    /// (`list` with [`MailingScope::All`], `get` of another's mailing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<MailingOwner>,
}

/// The owner of a mailing, as staff lists show them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MailingOwner {
    /// Their name.
    pub name: String,
    /// Their address.
    pub email: String,
}

/// Mailing use cases.
#[derive(Clone)]
pub struct MailingService {
    gate: Gate,
    mailings: Arc<dyn MailingStore>,
    clients: Arc<dyn ClientStore>,
    users: Arc<dyn UserStore>,
    runs: Arc<dyn RunStore>,
    clock: Arc<dyn Clock>,
    wakeup: Wakeup,
}

impl MailingService {
    /// Wires the use cases; `wakeup` tells the engine that schedules changed.
    pub(crate) fn new(
        mailings: Arc<dyn MailingStore>,
        clients: Arc<dyn ClientStore>,
        users: Arc<dyn UserStore>,
        runs: Arc<dyn RunStore>,
        clock: Arc<dyn Clock>,
        wakeup: Wakeup,
        gate: Gate,
    ) -> Self {
        MailingService {
            gate,
            mailings,
            clients,
            users,
            runs,
            clock,
            wakeup,
        }
    }

    /// The draft with its "all clients matching" turned into the clients
    /// that match now, added to those chosen one by one.
    async fn resolve(&self, owner: UserId, draft: &MailingDraft) -> Result<MailingDraft, Error> {
        let Some(filter) = &draft.matching else {
            return Ok(draft.clone());
        };
        let mut client_ids = draft.client_ids.clone();
        client_ids.extend(self.clients.matching_client_ids(owner, filter).await?);
        MailingDraft::for_audience(
            &draft.name,
            draft.message_id,
            Audience {
                client_ids,
                tags: draft.tags.clone(),
                matching: None,
            },
            draft.start_at,
            draft.end_at,
            draft.periodicity,
        )
        .map(|d| d.with_sender(draft.sender.clone()))
        .and_then(|d| {
            if d.client_ids.is_empty() && d.tags.is_empty() {
                Err(Error::invalid("client_ids", Reason::NoClients))
            } else {
                Ok(d)
            }
        })
    }

    /// Whether `actor` may create mailings (the new-mailing form asks before
    /// showing itself): `Forbidden` for managers, who keep none.
    ///
    /// A hint for showing a form or a button, decided on the actor as given
    /// (no store read); the use case itself checks the account as it is now.
    pub fn can_create(&self, actor: Actor) -> Result<(), Error> {
        authorize(actor, Action::ManageMailings, Target::None).map(drop)
    }

    /// Whether `actor` may switch this mailing on or off now (the mailing's
    /// page shows the button only then): the owner and staff, except that a
    /// mailing a manager disabled comes back only by staff's hand.
    ///
    /// A hint for showing a form or a button, decided on the actor as given
    /// (no store read); the use case itself checks the account as it is now.
    pub fn can_toggle(&self, actor: Actor, mailing: &Mailing) -> bool {
        if mailing.enabled {
            crate::policy::decide(actor, Action::ToggleMailing, Target::OwnedBy(mailing.owner))
                == crate::policy::Decision::Allow
        } else {
            crate::policy::check_enable(actor, mailing).is_ok()
        }
    }

    fn view(&self, mailing: Mailing) -> MailingView {
        let status = mailing.status(self.clock.now());
        MailingView {
            mailing,
            status,
            owner: None,
        }
    }

    /// Fills in the owners of `views` (each owner read once).
    async fn with_owners(&self, views: &mut [MailingView]) -> Result<(), Error> {
        let mut owners: std::collections::HashMap<UserId, Option<MailingOwner>> =
            Default::default();
        for v in views.iter_mut() {
            let id = v.mailing.owner;
            if let std::collections::hash_map::Entry::Vacant(e) = owners.entry(id) {
                e.insert(self.users.user(id).await?.map(|u| MailingOwner {
                    name: u.name.to_string(),
                    email: u.email.to_string(),
                }));
            }
            v.owner = owners.get(&id).cloned().flatten();
        }
        Ok(())
    }

    /// Lists the actor's own mailings, or everyone's for managers and admins.
    #[tracing::instrument(name = "mailings.list", level = "debug", skip_all, fields(actor = ?actor))]
    pub async fn list(
        &self,
        actor: Actor,
        scope: MailingScope,
        query: &ListQuery,
    ) -> Result<Page<MailingView>, Error> {
        let actor = self.gate.admit(actor).await?;
        let owner = match scope {
            MailingScope::Own => Some(authorize(actor, Action::ManageMailings, Target::None)?.id),
            MailingScope::All => {
                authorize(actor, Action::ViewAllMailings, Target::None)?;
                None
            }
        };
        let mut page = self
            .mailings
            .list_mailings(owner, query)
            .await?
            .map(|m| self.view(m));
        if owner.is_none() {
            self.with_owners(&mut page.items).await?;
        }
        Ok(page)
    }

    async fn load(&self, actor: Actor, id: MailingId, action: Action) -> Result<Mailing, Error> {
        actor.principal()?;
        let m = self.mailings.mailing(id).await?.ok_or(Error::NotFound)?;
        // Hidden data must not leak through a 403: check visibility first.
        authorize(actor, Action::ViewMailing, Target::OwnedBy(m.owner))?;
        authorize(actor, action, Target::OwnedBy(m.owner))?;
        Ok(m)
    }

    /// One mailing.
    #[tracing::instrument(name = "mailings.get", level = "debug", skip_all, fields(actor = ?actor, id = %id))]
    pub async fn get(&self, actor: Actor, id: MailingId) -> Result<MailingView, Error> {
        let actor = self.gate.admit(actor).await?;
        let mut view = self.view(self.load(actor, id, Action::ViewMailing).await?);
        if actor.principal()?.id != view.mailing.owner {
            self.with_owners(std::slice::from_mut(&mut view)).await?;
        }
        Ok(view)
    }

    async fn time_zone(&self, user: UserId) -> Result<TimeZone, Error> {
        Ok(self
            .users
            .user(user)
            .await?
            .map(|u| u.time_zone)
            .unwrap_or_default())
    }

    /// Creates a mailing; if its window is open, its current slot runs at once.
    #[tracing::instrument(name = "mailings.create", level = "debug", skip_all, fields(actor = ?actor))]
    pub async fn create(&self, actor: Actor, draft: &MailingDraft) -> Result<MailingView, Error> {
        let actor = self.gate.admit(actor).await?;
        let draft = &draft.revalidated()?;
        let p = authorize(actor, Action::ManageMailings, Target::None)?;
        let draft = &self.resolve(p.id, draft).await?;
        let tz = self.time_zone(p.id).await?;
        let now = self.clock.now();
        let next = schedule_of(draft.start_at, draft.end_at, draft.periodicity, tz).seed(now);
        let m = self.mailings.create_mailing(p.id, draft, next, now).await?;
        self.wakeup.wake();
        Ok(self.view(m))
    }

    /// Changes a mailing; the change applies to future runs. A changed schedule
    /// of a mailing that never ran is seeded again (its current slot runs at
    /// once); one that ran already continues with the first new slot after now,
    /// so an edit never re-sends the slot that just went out.
    #[tracing::instrument(name = "mailings.update", level = "debug", skip_all, fields(actor = ?actor, id = %id))]
    pub async fn update(
        &self,
        actor: Actor,
        id: MailingId,
        draft: &MailingDraft,
    ) -> Result<MailingView, Error> {
        let actor = self.gate.admit(actor).await?;
        let draft = &draft.revalidated()?;
        let m = self.load(actor, id, Action::ManageMailings).await?;
        let draft = &self.resolve(m.owner, draft).await?;
        let now = self.clock.now();
        let next = if draft.changes_schedule_of(&m) {
            let tz = self.time_zone(m.owner).await?;
            let schedule = schedule_of(draft.start_at, draft.end_at, draft.periodicity, tz);
            let ran = RunFilter {
                mailing: Some(id),
                owner: None,
            };
            let one = ListQuery::new(1, 1, None)?;
            if self.runs.list_runs(ran, &one).await?.total == 0 {
                schedule.seed(now)
            } else {
                schedule.first_after(now)
            }
        } else {
            m.next_run_at
        };
        let m = self
            .mailings
            .update_mailing(id, draft, next, now)
            .await?
            .ok_or(Error::NotFound)?;
        self.wakeup.wake();
        Ok(self.view(m))
    }

    /// Deletes a mailing: its pending deliveries are cancelled, its reports stay.
    #[tracing::instrument(name = "mailings.delete", level = "debug", skip_all, fields(actor = ?actor, id = %id))]
    pub async fn delete(&self, actor: Actor, id: MailingId) -> Result<(), Error> {
        let actor = self.gate.admit(actor).await?;
        self.load(actor, id, Action::ManageMailings).await?;
        if self.mailings.delete_mailing(id, self.clock.now()).await? {
            self.wakeup.wake();
            Ok(())
        } else {
            Err(Error::NotFound)
        }
    }

    /// Disables a mailing: nothing more is sent and pending deliveries are cancelled.
    #[tracing::instrument(name = "mailings.disable", level = "debug", skip_all, fields(actor = ?actor, id = %id))]
    pub async fn disable(&self, actor: Actor, id: MailingId) -> Result<MailingView, Error> {
        let actor = self.gate.admit(actor).await?;
        let m = self.load(actor, id, Action::ToggleMailing).await?;
        let p = actor.principal()?;
        if !m.enabled {
            return Ok(self.view(m));
        }
        let by = if p.id != m.owner && matches!(p.role, Role::Manager | Role::Admin) {
            DisabledBy::Manager
        } else {
            DisabledBy::Owner
        };
        let now = self.clock.now();
        let m = self
            .mailings
            .set_mailing_enabled(id, false, Some(by), m.next_run_at, now)
            .await?
            .ok_or(Error::NotFound)?;
        self.wakeup.wake();
        Ok(self.view(m))
    }

    /// Re-enables a mailing; inside its window its current slot runs at once
    /// (unless it already ran). One a manager disabled can be re-enabled only by
    /// a manager or an admin.
    #[tracing::instrument(name = "mailings.enable", level = "debug", skip_all, fields(actor = ?actor, id = %id))]
    pub async fn enable(&self, actor: Actor, id: MailingId) -> Result<MailingView, Error> {
        let actor = self.gate.admit(actor).await?;
        let m = self.load(actor, id, Action::ToggleMailing).await?;
        if m.enabled {
            return Ok(self.view(m));
        }
        crate::policy::check_enable(actor, &m)?;
        let tz = self.time_zone(m.owner).await?;
        let now = self.clock.now();
        let next = schedule_of(m.start_at, m.end_at, m.periodicity, tz).seed(now);
        let m = self
            .mailings
            .set_mailing_enabled(id, true, None, next, now)
            .await?
            .ok_or(Error::NotFound)?;
        self.wakeup.wake();
        Ok(self.view(m))
    }

    /// A mailing's runs, newest first.
    #[tracing::instrument(name = "mailings.runs", level = "debug", skip_all, fields(actor = ?actor, id = %id))]
    pub async fn runs(
        &self,
        actor: Actor,
        id: MailingId,
        query: &ListQuery,
    ) -> Result<Page<Run>, Error> {
        let actor = self.gate.admit(actor).await?;
        self.load(actor, id, Action::ViewMailing).await?;
        let filter = RunFilter {
            mailing: Some(id),
            owner: None,
        };
        Ok(self.runs.list_runs(filter, query).await?)
    }

    /// The runs of the actor's own mailings, newest first (a dashboard's
    /// recent runs).
    #[tracing::instrument(name = "mailings.own_runs", level = "debug", skip_all, fields(actor = ?actor))]
    pub async fn own_runs(&self, actor: Actor, query: &ListQuery) -> Result<Page<Run>, Error> {
        let actor = self.gate.admit(actor).await?;
        let p = authorize(actor, Action::ManageMailings, Target::None)?;
        let filter = RunFilter {
            mailing: None,
            owner: Some(p.id),
        };
        Ok(self.runs.list_runs(filter, query).await?)
    }
}

fn schedule_of(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    periodicity: Periodicity,
    tz: TimeZone,
) -> Schedule {
    Schedule {
        start,
        end,
        periodicity,
        tz,
    }
}

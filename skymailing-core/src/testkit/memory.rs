//! An in-memory store: every port over one mutex. Each method holds the lock for
//! its whole body, which makes it atomic just as a transaction would be.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::*;
use crate::ports::*;
use crate::{StoreConflict, StoreError};

#[derive(Debug, Clone)]
struct DeliveryRow {
    d: Delivery,
    lease_until: Option<DateTime<Utc>>,
    unsubscribe_token: String,
    /// The recipient domain it is held back for.
    waiting_for: Option<String>,
}

#[derive(Debug, Clone)]
struct RunRow {
    run: Run,
    content: RunContent,
}

#[derive(Debug, Default)]
struct State {
    next_id: i64,
    users: BTreeMap<UserId, (User, String)>,
    sessions: HashMap<String, (UserId, DateTime<Utc>)>,
    tokens: HashMap<String, (UserId, TokenPurpose, DateTime<Utc>)>,
    clients: BTreeMap<ClientId, Client>,
    messages: BTreeMap<MessageId, Message>,
    mailings: BTreeMap<MailingId, Mailing>,
    runs: BTreeMap<RunId, RunRow>,
    deliveries: BTreeMap<DeliveryId, DeliveryRow>,
    posts: BTreeMap<PostId, BlogPost>,
    /// Suppressed addresses per owner: reason and time.
    suppressions: HashMap<(UserId, EmailAddress), (&'static str, DateTime<Utc>)>,
    /// Unsubscribe links: token → (owner, address).
    links: HashMap<String, (UserId, EmailAddress)>,
    /// Send budgets per relay: tokens and when they were counted.
    budgets: HashMap<String, (f64, DateTime<Utc>)>,
}

impl State {
    /// When `email` unsubscribed from `owner`'s list, if it did.
    fn unsubscribed_at(&self, owner: UserId, email: &EmailAddress) -> Option<DateTime<Utc>> {
        self.suppressions
            .get(&(owner, email.clone()))
            .filter(|(reason, _)| *reason == "unsubscribed")
            .map(|(_, at)| *at)
    }

    fn link(&self, token: &str) -> Option<UnsubscribeLink> {
        self.links.get(token).map(|(owner, email)| UnsubscribeLink {
            owner: *owner,
            email: email.clone(),
            unsubscribed_at: self.unsubscribed_at(*owner, email),
        })
    }

    fn id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }

    fn with_sending(&self, mut m: Mailing) -> Mailing {
        m.sending = self
            .runs
            .values()
            .any(|r| r.run.mailing_id == Some(m.id) && r.run.finished_at.is_none());
        m
    }

    fn cancel_pending(&mut self, mut pred: impl FnMut(&Run) -> bool, now: DateTime<Utc>) {
        let runs: Vec<RunId> = self
            .runs
            .values()
            .filter(|r| pred(&r.run))
            .map(|r| r.run.id)
            .collect();
        for row in self.deliveries.values_mut() {
            if runs.contains(&row.d.run_id) && row.d.state == DeliveryState::Pending {
                row.d.state = DeliveryState::Cancelled;
                row.d.updated_at = now;
            }
        }
    }

    /// Whether a run may still send: its mailing exists and is enabled, and its
    /// owner is active.
    fn run_may_send(&self, run: RunId) -> bool {
        let Some(r) = self.runs.get(&run) else {
            return false;
        };
        let mailing_on = r
            .run
            .mailing_id
            .and_then(|m| self.mailings.get(&m))
            .is_some_and(|m| m.enabled);
        let owner_on = self
            .users
            .get(&r.run.owner)
            .is_some_and(|(u, _)| u.state == UserState::Active);
        mailing_on && owner_on
    }

    fn totals(&self, run: RunId) -> RunTotals {
        let mut t = RunTotals::default();
        let mut failures: HashMap<String, u64> = HashMap::new();
        let mut waiting: HashMap<String, u64> = HashMap::new();
        for row in self.deliveries.values().filter(|r| r.d.run_id == run) {
            t.total += 1;
            match row.d.state {
                DeliveryState::Pending => {
                    t.pending += 1;
                    if let Some(domain) = &row.waiting_for {
                        *waiting.entry(domain.clone()).or_default() += 1;
                    }
                }
                DeliveryState::Sending => t.sending += 1,
                DeliveryState::Sent => t.sent += 1,
                DeliveryState::Failed => {
                    t.failed += 1;
                    *failures
                        .entry(row.d.last_reply.clone().unwrap_or_default())
                        .or_default() += 1;
                }
                DeliveryState::Cancelled => t.cancelled += 1,
                DeliveryState::Suppressed => t.suppressed += 1,
                // Sent first: they count as sent until the bounce intake exists.
                DeliveryState::Bounced | DeliveryState::Complained => t.sent += 1,
            }
        }
        t.failures = sort_failures(failures);
        t.waiting = sort_failures(waiting);
        t
    }
}

/// Most common first, then by text: the order every store reports.
fn sort_failures(map: HashMap<String, u64>) -> Vec<(String, u64)> {
    let mut v: Vec<_> = map.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

fn page<T: Clone>(items: Vec<T>, q: &ListQuery) -> Page<T> {
    let total = items.len() as u64;
    let slice = items
        .into_iter()
        .skip(q.offset() as usize)
        .take(q.per_page as usize)
        .collect();
    Page::new(slice, total, q)
}

fn matches(q: &ListQuery, fields: &[&str]) -> bool {
    match &q.search {
        None => true,
        Some(s) => fields.iter().any(|f| f.to_lowercase().contains(s.as_str())),
    }
}

/// The in-memory store of the test kit.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("memory store lock")
    }
}

#[async_trait]
impl UserStore for MemoryStore {
    async fn create_user(&self, u: &NewUser) -> StoreResult<User> {
        let mut s = self.lock();
        if s.users.values().any(|(x, _)| x.email == u.email) {
            return Err(StoreError::Conflict(StoreConflict::UserEmailTaken));
        }
        let user = User {
            id: UserId(s.id()),
            email: u.email.clone(),
            name: u.name.clone(),
            time_zone: u.time_zone,
            role: u.role,
            state: u.state,
            language: None,
            created_at: u.created_at,
        };
        s.users
            .insert(user.id, (user.clone(), u.password_hash.clone()));
        Ok(user)
    }

    async fn user(&self, id: UserId) -> StoreResult<Option<User>> {
        Ok(self.lock().users.get(&id).map(|(u, _)| u.clone()))
    }

    async fn user_by_email(&self, email: &EmailAddress) -> StoreResult<Option<(User, String)>> {
        Ok(self
            .lock()
            .users
            .values()
            .find(|(u, _)| &u.email == email)
            .cloned())
    }

    async fn set_password_hash(&self, id: UserId, hash: &str) -> StoreResult<()> {
        let mut s = self.lock();
        if let Some((_, h)) = s.users.get_mut(&id) {
            *h = hash.to_owned();
        }
        s.tokens.retain(|_, (user, purpose, _)| {
            !(*user == id && *purpose == TokenPurpose::PasswordReset)
        });
        Ok(())
    }

    async fn set_user_state(
        &self,
        id: UserId,
        state: UserState,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<User>> {
        let mut s = self.lock();
        let Some((u, _)) = s.users.get_mut(&id) else {
            return Ok(None);
        };
        u.state = state;
        let user = u.clone();
        if state == UserState::Blocked {
            s.sessions.retain(|_, (uid, _)| *uid != id);
            s.cancel_pending(|r| r.owner == id, now);
        }
        Ok(Some(user))
    }

    async fn set_user_role(&self, id: UserId, role: Role) -> StoreResult<Option<User>> {
        let mut s = self.lock();
        Ok(s.users.get_mut(&id).map(|(u, _)| {
            u.role = role;
            u.clone()
        }))
    }

    async fn update_profile(
        &self,
        id: UserId,
        name: &DisplayName,
        tz: TimeZone,
    ) -> StoreResult<Option<User>> {
        let mut s = self.lock();
        Ok(s.users.get_mut(&id).map(|(u, _)| {
            u.name = name.clone();
            u.time_zone = tz;
            u.clone()
        }))
    }

    async fn set_user_language(
        &self,
        id: UserId,
        language: Option<Language>,
    ) -> StoreResult<Option<User>> {
        let mut s = self.lock();
        Ok(s.users.get_mut(&id).map(|(u, _)| {
            u.language = language;
            u.clone()
        }))
    }

    async fn list_users(&self, q: &ListQuery) -> StoreResult<Page<User>> {
        let s = self.lock();
        let items = s
            .users
            .values()
            .map(|(u, _)| u)
            .filter(|u| matches(q, &[u.email.as_str(), u.name.as_str()]))
            .cloned()
            .collect();
        Ok(page(items, q))
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn create_session(
        &self,
        user: UserId,
        hash: &str,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.lock()
            .sessions
            .insert(hash.to_owned(), (user, expires_at));
        Ok(())
    }

    async fn session_user(&self, hash: &str, now: DateTime<Utc>) -> StoreResult<Option<User>> {
        let s = self.lock();
        Ok(match s.sessions.get(hash) {
            Some((uid, exp)) if *exp > now => s.users.get(uid).map(|(u, _)| u.clone()),
            _ => None,
        })
    }

    async fn delete_session(&self, hash: &str) -> StoreResult<()> {
        self.lock().sessions.remove(hash);
        Ok(())
    }

    async fn delete_user_sessions(&self, user: UserId, keep: Option<String>) -> StoreResult<u64> {
        let mut s = self.lock();
        let before = s.sessions.len();
        s.sessions
            .retain(|h, (uid, _)| *uid != user || keep.as_deref() == Some(h.as_str()));
        Ok((before - s.sessions.len()) as u64)
    }

    async fn create_token(
        &self,
        user: UserId,
        purpose: TokenPurpose,
        hash: &str,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut s = self.lock();
        s.tokens
            .retain(|_, (uid, p, _)| !(*uid == user && *p == purpose));
        s.tokens
            .insert(hash.to_owned(), (user, purpose, expires_at));
        Ok(())
    }

    async fn consume_token(
        &self,
        purpose: TokenPurpose,
        hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<UserId>> {
        let mut s = self.lock();
        match s.tokens.get(hash) {
            Some((uid, p, exp)) if *p == purpose => {
                let (uid, live) = (*uid, *exp > now);
                s.tokens.remove(hash);
                Ok(live.then_some(uid))
            }
            _ => Ok(None),
        }
    }

    async fn purge_expired(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let mut s = self.lock();
        let before = s.sessions.len() + s.tokens.len();
        s.sessions.retain(|_, (_, exp)| *exp > now);
        s.tokens.retain(|_, (_, _, exp)| *exp > now);
        Ok((before - s.sessions.len() - s.tokens.len()) as u64)
    }
}

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
        let c = Client {
            id: ClientId(s.id()),
            owner,
            email: d.email.clone(),
            full_name: d.full_name.clone(),
            comment: d.comment.clone(),
            unsubscribed_at: s.unsubscribed_at(owner, &d.email),
            unsubscribe_token: token.to_owned(),
            created_at: now,
        };
        s.links.insert(token.to_owned(), (owner, d.email.clone()));
        s.clients.insert(c.id, c.clone());
        Ok(c)
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
        let s = self.lock();
        let mut items: Vec<Client> = s
            .clients
            .values()
            .filter(|c| {
                c.owner == owner && matches(q, &[c.email.as_str(), &c.full_name, &c.comment])
            })
            .cloned()
            .collect();
        items.sort_by(|a, b| {
            a.full_name
                .to_lowercase()
                .cmp(&b.full_name.to_lowercase())
                .then(a.id.cmp(&b.id))
        });
        Ok(page(items, q))
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
                s.suppressions.entry(key).or_insert(("unsubscribed", when));
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
                    .is_some_and(|(r, _)| *r == "unsubscribed")
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
            start_at: d.start_at,
            end_at: d.end_at,
            periodicity: d.periodicity,
            enabled: true,
            disabled_by: None,
            next_run_at,
            sending: false,
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
        m.start_at = d.start_at;
        m.end_at = d.end_at;
        m.periodicity = d.periodicity;
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

#[async_trait]
impl DeliveryQueue for MemoryStore {
    async fn due_mailings(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<DueMailing>> {
        let s = self.lock();
        let mut due: Vec<DueMailing> = s
            .mailings
            .values()
            .filter(|m| m.enabled && m.next_run_at.is_some_and(|n| n <= now))
            .filter_map(|m| {
                let (u, _) = s.users.get(&m.owner)?;
                (u.state == UserState::Active).then(|| DueMailing {
                    mailing: s.with_sending(m.clone()),
                    time_zone: u.time_zone,
                })
            })
            .collect();
        due.sort_by_key(|d| (d.mailing.next_run_at, d.mailing.id));
        due.truncate(limit as usize);
        Ok(due)
    }

    async fn apply_plan(&self, plan: &RunPlan) -> StoreResult<Option<Run>> {
        let mut s = self.lock();
        let Some(m) = s.mailings.get(&plan.mailing_id).cloned() else {
            return Ok(None);
        };
        let owner_active = s
            .users
            .get(&m.owner)
            .is_some_and(|(u, _)| u.state == UserState::Active);
        if !m.enabled
            || !owner_active
            || m.next_run_at != Some(plan.expected_next_run_at)
            || m.updated_at != plan.expected_updated_at
        {
            return Ok(None);
        }
        s.mailings.get_mut(&m.id).expect("present").next_run_at = plan.next_run_at;
        let Some(new) = &plan.run else {
            return Ok(None);
        };
        if s.runs
            .values()
            .any(|r| r.run.mailing_id == Some(m.id) && r.run.slot_at == new.slot_at)
        {
            return Ok(None);
        }
        let Some(message) = s.messages.get(&m.message_id).cloned() else {
            return Ok(None);
        };
        // Suppressed addresses are recorded as such, never silently dropped.
        let recipients: Vec<(Client, bool)> = m
            .client_ids
            .iter()
            .filter_map(|id| s.clients.get(id))
            .map(|c| {
                (
                    c.clone(),
                    s.suppressions.contains_key(&(m.owner, c.email.clone())),
                )
            })
            .collect();
        let run = Run {
            id: RunId(s.id()),
            mailing_id: Some(m.id),
            mailing_name: m.name.clone(),
            owner: m.owner,
            slot_at: new.slot_at,
            skipped_slots: new.skipped_slots,
            started_at: plan.now,
            finished_at: None,
            recipients: recipients.len() as u64,
            sent: 0,
            failed: 0,
            cancelled: 0,
            report: None,
        };
        let content = RunContent {
            mailing_id: Some(m.id),
            mailing_name: m.name.clone(),
            subject: message.subject,
            body_text: message.body_text,
            body_html: message.body_html,
            nonce: new.nonce.clone(),
        };
        s.runs.insert(
            run.id,
            RunRow {
                run: run.clone(),
                content,
            },
        );
        for (c, suppressed) in recipients {
            let id = DeliveryId(s.id());
            s.deliveries.insert(
                id,
                DeliveryRow {
                    d: Delivery {
                        id,
                        run_id: run.id,
                        client_id: Some(c.id),
                        email: c.email,
                        name: c.full_name,
                        state: if suppressed {
                            DeliveryState::Suppressed
                        } else {
                            DeliveryState::Pending
                        },
                        attempts: 0,
                        last_reply: None,
                        next_attempt_at: plan.now,
                        updated_at: plan.now,
                    },
                    lease_until: None,
                    unsubscribe_token: c.unsubscribe_token,
                    waiting_for: None,
                },
            );
        }
        Ok(Some(run))
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        let mut s = self.lock();
        let lease_until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
        // Expired leases first: their worker is presumed dead.
        let expired: Vec<(DeliveryId, RunId)> = s
            .deliveries
            .values()
            .filter(|r| {
                r.d.state == DeliveryState::Sending && r.lease_until.is_some_and(|l| l <= now)
            })
            .map(|r| (r.d.id, r.d.run_id))
            .collect();
        for (id, run) in expired {
            let may_send = s.run_may_send(run);
            let row = s.deliveries.get_mut(&id).expect("listed above");
            row.lease_until = None;
            row.waiting_for = None;
            row.d.state = if may_send {
                DeliveryState::Pending
            } else {
                DeliveryState::Cancelled
            };
            row.d.updated_at = now;
        }
        // Fair shares: the batch split evenly between the owners with due
        // deliveries, each owner's share between their runs.
        let mut due: BTreeMap<RunId, Vec<(DateTime<Utc>, DeliveryId)>> = BTreeMap::new();
        for row in s.deliveries.values() {
            if row.d.state == DeliveryState::Pending && row.d.next_attempt_at <= now {
                due.entry(row.d.run_id)
                    .or_default()
                    .push((row.d.next_attempt_at, row.d.id));
            }
        }
        let owner_of = |run: &RunId| s.runs.get(run).map(|r| r.run.owner);
        let mut runs_per_owner: HashMap<Option<UserId>, usize> = HashMap::new();
        for run in due.keys() {
            *runs_per_owner.entry(owner_of(run)).or_default() += 1;
        }
        let owners = runs_per_owner.len().max(1);
        let mut picked: Vec<DeliveryId> = Vec::new();
        for (run, mut ds) in due {
            let share = (limit as usize).div_ceil(owners * runs_per_owner[&owner_of(&run)]);
            let left = (limit as usize).saturating_sub(picked.len());
            ds.sort();
            picked.extend(ds.into_iter().take(share.min(left)).map(|(_, id)| id));
        }
        let mut out = Vec::new();
        for id in picked {
            let row = s.deliveries.get_mut(&id).expect("listed above");
            row.d.state = DeliveryState::Sending;
            row.d.attempts += 1;
            row.d.updated_at = now;
            row.lease_until = Some(lease_until);
            out.push(ClaimedDelivery {
                id: row.d.id,
                run_id: row.d.run_id,
                email: row.d.email.clone(),
                name: row.d.name.clone(),
                unsubscribe_token: row.unsubscribe_token.clone(),
                attempt: row.d.attempts,
                lease_until,
            });
        }
        Ok(out)
    }

    async fn take_send_budget(
        &self,
        relay: &str,
        per_second: u32,
        want: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<u32> {
        let mut s = self.lock();
        let rate = f64::from(per_second);
        let (tokens, at) = s.budgets.entry(relay.to_owned()).or_insert((rate, now));
        let elapsed = (now - *at).num_microseconds().unwrap_or(i64::MAX).max(0) as f64 / 1e6;
        *tokens = (*tokens + rate * elapsed).min(rate);
        *at = (*at).max(now);
        let granted = tokens.floor().min(f64::from(want)).max(0.0);
        *tokens -= granted;
        Ok(granted as u32)
    }

    async fn return_send_budget(
        &self,
        relay: &str,
        per_second: u32,
        unused: u32,
    ) -> StoreResult<()> {
        if let Some((tokens, _)) = self.lock().budgets.get_mut(relay) {
            *tokens = (*tokens + f64::from(unused)).min(f64::from(per_second));
        }
        Ok(())
    }

    async fn renew_leases(
        &self,
        claims: &[(DeliveryId, u32)],
        lease_until: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let mut s = self.lock();
        let mut renewed = 0;
        for (id, attempt) in claims {
            if let Some(row) = s
                .deliveries
                .get_mut(id)
                .filter(|r| r.d.state == DeliveryState::Sending && r.d.attempts == *attempt)
            {
                row.lease_until = Some(lease_until);
                renewed += 1;
            }
        }
        Ok(renewed)
    }

    async fn park_mailing(&self, mailing: MailingId, now: DateTime<Utc>) -> StoreResult<bool> {
        let mut s = self.lock();
        let Some(m) = s.mailings.get_mut(&mailing).filter(|m| m.enabled) else {
            return Ok(false);
        };
        m.enabled = false;
        m.disabled_by = Some(DisabledBy::EngineError);
        m.updated_at = now;
        s.cancel_pending(|r| r.mailing_id == Some(mailing), now);
        Ok(true)
    }

    async fn complete_deliveries(
        &self,
        results: &[DeliveryResult],
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let mut s = self.lock();
        let mut applied = 0;
        for r in results {
            let may_send = s
                .deliveries
                .get(&r.id)
                .is_some_and(|row| s.run_may_send(row.d.run_id));
            let Some(row) = s.deliveries.get_mut(&r.id) else {
                continue;
            };
            if row.d.state != DeliveryState::Sending || row.d.attempts != r.attempt {
                continue;
            }
            applied += 1;
            row.lease_until = None;
            row.waiting_for = None;
            row.d.updated_at = now;
            match &r.outcome {
                DeliveryOutcome::Sent { reply } => {
                    row.d.state = DeliveryState::Sent;
                    row.d.last_reply = Some(reply.clone());
                }
                DeliveryOutcome::Failed { reply } => {
                    row.d.state = DeliveryState::Failed;
                    row.d.last_reply = Some(reply.clone());
                }
                DeliveryOutcome::Retry { reply, at } => {
                    row.d.state = if may_send {
                        DeliveryState::Pending
                    } else {
                        DeliveryState::Cancelled
                    };
                    row.d.last_reply = Some(reply.clone());
                    row.d.next_attempt_at = *at;
                }
                DeliveryOutcome::Released => {
                    row.d.state = if may_send {
                        DeliveryState::Pending
                    } else {
                        DeliveryState::Cancelled
                    };
                    row.d.attempts -= 1;
                }
                DeliveryOutcome::Deferred { reply, at, domain } => {
                    row.d.state = if may_send {
                        DeliveryState::Pending
                    } else {
                        DeliveryState::Cancelled
                    };
                    row.d.attempts -= 1;
                    if let Some(reply) = reply {
                        row.d.last_reply = Some(reply.clone());
                    }
                    row.d.next_attempt_at = *at;
                    row.waiting_for = Some(domain.clone());
                }
            }
        }
        Ok(applied)
    }

    async fn run_content(&self, run: RunId) -> StoreResult<Option<RunContent>> {
        Ok(self.lock().runs.get(&run).map(|r| RunContent {
            mailing_id: r.run.mailing_id,
            ..r.content.clone()
        }))
    }

    async fn runs_to_finish(&self, limit: u32) -> StoreResult<Vec<Run>> {
        let s = self.lock();
        Ok(s.runs
            .values()
            .filter(|r| r.run.finished_at.is_none())
            .filter(|r| {
                !s.deliveries.values().any(|d| {
                    d.d.run_id == r.run.id
                        && matches!(d.d.state, DeliveryState::Pending | DeliveryState::Sending)
                })
            })
            .take(limit as usize)
            .map(|r| r.run.clone())
            .collect())
    }

    async fn run_totals(&self, run: RunId) -> StoreResult<RunTotals> {
        Ok(self.lock().totals(run))
    }

    async fn finish_run(
        &self,
        run: RunId,
        report: &RunReport,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut s = self.lock();
        if !s.totals(run).is_complete() {
            return Ok(false);
        }
        let Some(r) = s.runs.get_mut(&run).filter(|r| r.run.finished_at.is_none()) else {
            return Ok(false);
        };
        r.run.finished_at = Some(now);
        r.run.sent = report.sent;
        r.run.failed = report.failed;
        r.run.cancelled = report.cancelled;
        r.run.report = Some(report.clone());
        Ok(true)
    }

    async fn next_wakeup(&self) -> StoreResult<Option<DateTime<Utc>>> {
        let s = self.lock();
        let mailings = s
            .mailings
            .values()
            .filter(|m| {
                m.enabled
                    && s.users
                        .get(&m.owner)
                        .is_some_and(|(u, _)| u.state == UserState::Active)
            })
            .filter_map(|m| m.next_run_at);
        let deliveries = s.deliveries.values().filter_map(|r| match r.d.state {
            DeliveryState::Pending => Some(r.d.next_attempt_at),
            DeliveryState::Sending => r.lease_until,
            _ => None,
        });
        Ok(mailings.chain(deliveries).min())
    }
}

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

#[async_trait]
impl BlogStore for MemoryStore {
    async fn create_post(&self, d: &PostDraft, now: DateTime<Utc>) -> StoreResult<BlogPost> {
        let mut s = self.lock();
        let p = BlogPost {
            id: PostId(s.id()),
            title: d.title.clone(),
            body: d.body.clone(),
            image: d.image.clone(),
            published: d.published,
            views: 0,
            published_at: d.published.then_some(now),
            created_at: now,
        };
        s.posts.insert(p.id, p.clone());
        Ok(p)
    }

    async fn update_post(
        &self,
        id: PostId,
        d: &PostDraft,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<BlogPost>> {
        let mut s = self.lock();
        Ok(s.posts.get_mut(&id).map(|p| {
            p.title = d.title.clone();
            p.body = d.body.clone();
            p.image = d.image.clone();
            p.published = d.published;
            if d.published && p.published_at.is_none() {
                p.published_at = Some(now);
            }
            p.clone()
        }))
    }

    async fn delete_post(&self, id: PostId) -> StoreResult<bool> {
        Ok(self.lock().posts.remove(&id).is_some())
    }

    async fn post(&self, id: PostId) -> StoreResult<Option<BlogPost>> {
        Ok(self.lock().posts.get(&id).cloned())
    }

    async fn view_post(&self, id: PostId) -> StoreResult<Option<BlogPost>> {
        let mut s = self.lock();
        Ok(s.posts.get_mut(&id).filter(|p| p.published).map(|p| {
            p.views += 1;
            p.clone()
        }))
    }

    async fn list_posts(&self, include_drafts: bool, q: &ListQuery) -> StoreResult<Page<BlogPost>> {
        let s = self.lock();
        let mut items: Vec<BlogPost> = s
            .posts
            .values()
            .filter(|p| (include_drafts || p.published) && matches(q, &[&p.title]))
            .cloned()
            .collect();
        items.sort_by(|a, b| b.published_at.cmp(&a.published_at).then(b.id.cmp(&a.id)));
        Ok(page(items, q))
    }

    async fn random_posts(&self, n: u32) -> StoreResult<Vec<BlogPost>> {
        let s = self.lock();
        let mut posts: Vec<BlogPost> = s.posts.values().filter(|p| p.published).cloned().collect();
        // Fisher-Yates with the OS's randomness: no extra dependency for a test store.
        for i in (1..posts.len()).rev() {
            let j = (crate::security::random_u64() % (i as u64 + 1)) as usize;
            posts.swap(i, j);
        }
        posts.truncate(n as usize);
        Ok(posts)
    }
}

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
                .filter(|m| s.with_sending((*m).clone()).status(now) == MailingStatus::Running)
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

//! An in-memory store: every port over one mutex. Each method holds the lock for
//! its whole body, which makes it atomic just as a transaction would be. One
//! module per noun, as in the SQL stores.

mod accounts;
mod blog;
mod clients;
mod log;
mod mailings;
mod messages;
mod queue;
mod stats;
mod suppressions;

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
struct SuppressionRow {
    id: i64,
    reason: SuppressionReason,
    at: DateTime<Utc>,
    detail: Option<String>,
}

#[derive(Debug, Clone)]
struct FeedbackRow {
    delivery: Option<DeliveryId>,
    owner: Option<UserId>,
    email: EmailAddress,
    kind: FeedbackKind,
    at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct RunRow {
    run: Run,
    content: RunContent,
    /// Its owner resumed it once: it is not paused again.
    resumed: bool,
}

#[derive(Debug, Default)]
struct State {
    next_id: i64,
    users: BTreeMap<UserId, (User, Option<String>)>,
    sessions: HashMap<String, (UserId, DateTime<Utc>)>,
    tokens: HashMap<String, (UserId, TokenPurpose, DateTime<Utc>)>,
    clients: BTreeMap<ClientId, Client>,
    messages: BTreeMap<MessageId, Message>,
    mailings: BTreeMap<MailingId, Mailing>,
    runs: BTreeMap<RunId, RunRow>,
    deliveries: BTreeMap<DeliveryId, DeliveryRow>,
    posts: BTreeMap<PostId, BlogPost>,
    /// Suppressed addresses per owner.
    suppressions: HashMap<(UserId, EmailAddress), SuppressionRow>,
    /// Bounces and complaints recorded.
    feedback: Vec<FeedbackRow>,
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
            .filter(|r| r.reason == SuppressionReason::Unsubscribed)
            .map(|r| r.at)
    }

    fn link(&self, token: &str) -> Option<UnsubscribeLink> {
        self.links.get(token).map(|(owner, email)| UnsubscribeLink {
            owner: *owner,
            email: email.clone(),
            unsubscribed_at: self.unsubscribed_at(*owner, email),
        })
    }

    /// Suppresses (or strengthens the suppression of) an address for an
    /// owner; the owner's pending deliveries to it become `suppressed`.
    fn suppress(
        &mut self,
        owner: UserId,
        email: &EmailAddress,
        reason: SuppressionReason,
        detail: Option<String>,
        now: DateTime<Utc>,
    ) -> SuppressionRow {
        let id = self.id();
        let row = self
            .suppressions
            .entry((owner, email.clone()))
            .or_insert(SuppressionRow {
                id,
                reason,
                at: now,
                detail: detail.clone(),
            });
        if reason.rank() > row.reason.rank() {
            row.reason = reason;
            row.detail = detail;
        }
        let row = row.clone();
        let runs: Vec<RunId> = self
            .runs
            .values()
            .filter(|r| r.run.owner == owner)
            .map(|r| r.run.id)
            .collect();
        for d in self.deliveries.values_mut() {
            if d.d.email == *email
                && d.d.state == DeliveryState::Pending
                && runs.contains(&d.d.run_id)
            {
                d.d.state = DeliveryState::Suppressed;
                d.d.last_reply = Some(row.reason.as_str().to_owned());
                d.d.updated_at = now;
                d.waiting_for = None;
            }
        }
        row
    }

    /// Whether a run of a mailing is paused (its next slots wait).
    fn has_paused_run(&self, mailing: MailingId) -> bool {
        self.runs
            .values()
            .any(|r| r.run.mailing_id == Some(mailing) && r.run.status == RunStatus::Paused)
    }

    /// Whether a run is paused.
    fn paused(&self, run: RunId) -> bool {
        self.runs
            .get(&run)
            .is_some_and(|r| r.run.status == RunStatus::Paused)
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
        m.paused = self.has_paused_run(m.id);
        m.owner_blocked = self
            .users
            .get(&m.owner)
            .is_some_and(|(u, _)| u.state == UserState::Blocked);
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
        mailing_on && owner_on && r.run.status != RunStatus::Cancelled
    }

    fn totals(&self, run: RunId) -> RunTotals {
        let mut t = RunTotals::default();
        let mut failures: HashMap<String, u64> = HashMap::new();
        let mut waiting: HashMap<String, u64> = HashMap::new();
        for row in self.deliveries.values().filter(|r| r.d.run_id == run) {
            t.add(row.d.state, 1);
            match row.d.state {
                DeliveryState::Pending => {
                    if let Some(domain) = &row.waiting_for {
                        *waiting.entry(domain.clone()).or_default() += 1;
                    }
                }
                DeliveryState::Failed => {
                    *failures
                        .entry(row.d.last_reply.clone().unwrap_or_default())
                        .or_default() += 1;
                }
                _ => {}
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

impl State {
    /// The owner's clients matching a search (address, name, comment, tags)
    /// and a tag, in list order: natural by name, then id.
    fn sorted_clients(
        &self,
        owner: UserId,
        search: Option<&str>,
        tag: Option<&str>,
    ) -> Vec<Client> {
        let mut items: Vec<Client> = self
            .clients
            .values()
            .filter(|c| {
                c.owner == owner
                    && tag.is_none_or(|t| c.tags.iter().any(|x| x == t))
                    && search.is_none_or(|s| {
                        [c.email.as_str(), &c.full_name, &c.comment]
                            .iter()
                            .any(|f| f.to_lowercase().contains(s))
                            || c.tags.iter().any(|t| t.contains(s))
                    })
            })
            .cloned()
            .collect();
        items.sort_by_cached_key(|c| (crate::natural_key(&c.full_name), c.id));
        items
    }
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

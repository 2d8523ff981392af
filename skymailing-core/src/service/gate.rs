//! Every use case asks the store who the actor is now, so an `Actor` built
//! before its account was blocked (or its role changed) acts with what the
//! account is now, not what it was.
//!
//! One request calls several use cases (a list page: the list, then the
//! tags), each of which admits its actor: the account read by the first (or
//! by the request's session lookup) is reused for [`ACCOUNT_REUSE`] instead
//! of being read again each time. Any change of an account made through this
//! process's use cases forgets it at once; a change made by another process
//! reaches an actor of this one within [`ACCOUNT_REUSE`] — and never the
//! next request, whose session lookup is always read from the store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::policy::Actor;
use crate::ports::{StoreResult, UserStore};
use crate::{
    DisplayName, EmailAddress, Error, Language, ListQuery, NewUser, Page, Role, Sender, TimeZone,
    User, UserId, UserState,
};

/// How long an account read for one use case serves the next ones.
pub const ACCOUNT_REUSE: Duration = Duration::from_millis(250);

/// Accounts read lately, by id (see the module docs).
pub(crate) struct AccountCache {
    reuse: Duration,
    accounts: Mutex<HashMap<UserId, (Instant, User)>>,
    /// Counts the changes made through this process: an account read before
    /// a change and kept after it would outlive the change.
    changes: std::sync::atomic::AtomicU64,
}

impl AccountCache {
    pub(crate) fn new(reuse: Duration) -> Self {
        AccountCache {
            reuse,
            accounts: Mutex::default(),
            changes: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, (Instant, User)>> {
        self.accounts.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn get(&self, id: UserId) -> Option<User> {
        self.lock()
            .get(&id)
            .filter(|(at, _)| at.elapsed() < self.reuse)
            .map(|(_, u)| u.clone())
    }

    /// Where the count of changes stands: take it before reading an
    /// account, and give it to [`AccountCache::remember`].
    pub(crate) fn mark(&self) -> u64 {
        self.changes.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Keeps an account read from the store after `mark`, unless an account
    /// changed since (then it may be the old one).
    pub(crate) fn remember(&self, user: &User, mark: u64) {
        if self.reuse.is_zero() {
            return;
        }
        let mut accounts = self.lock();
        if self.mark() != mark {
            return;
        }
        if accounts.len() >= 10_000 {
            // Old entries are useless anyway: start again rather than grow.
            let reuse = self.reuse;
            accounts.retain(|_, (at, _)| at.elapsed() < reuse);
        }
        accounts.insert(user.id, (Instant::now(), user.clone()));
    }

    fn forget(&self, id: UserId) {
        let mut accounts = self.lock();
        self.changes
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        accounts.remove(&id);
    }
}

/// The user store as the use cases see it: every write forgets the account
/// it changed (before and after the write, so that no read racing it keeps
/// the old account).
pub(crate) struct ForgetfulUsers {
    pub(crate) inner: Arc<dyn UserStore>,
    pub(crate) cache: Arc<AccountCache>,
}

impl ForgetfulUsers {
    async fn changing<T>(
        &self,
        id: UserId,
        write: impl std::future::Future<Output = StoreResult<T>>,
    ) -> StoreResult<T> {
        self.cache.forget(id);
        let out = write.await;
        self.cache.forget(id);
        out
    }
}

#[async_trait]
impl UserStore for ForgetfulUsers {
    async fn create_user(&self, user: &NewUser) -> StoreResult<User> {
        self.inner.create_user(user).await
    }
    async fn user(&self, id: UserId) -> StoreResult<Option<User>> {
        self.inner.user(id).await
    }
    async fn user_by_email(
        &self,
        email: &EmailAddress,
    ) -> StoreResult<Option<(User, Option<String>)>> {
        self.inner.user_by_email(email).await
    }
    async fn set_password_hash(&self, id: UserId, hash: &str) -> StoreResult<()> {
        self.changing(id, self.inner.set_password_hash(id, hash))
            .await
    }
    async fn set_user_state(
        &self,
        id: UserId,
        state: UserState,
        now: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<Option<User>> {
        self.changing(id, self.inner.set_user_state(id, state, now))
            .await
    }
    async fn set_user_role(&self, id: UserId, role: Role) -> StoreResult<Option<User>> {
        self.changing(id, self.inner.set_user_role(id, role)).await
    }
    async fn update_profile(
        &self,
        id: UserId,
        name: &DisplayName,
        time_zone: TimeZone,
    ) -> StoreResult<Option<User>> {
        self.changing(id, self.inner.update_profile(id, name, time_zone))
            .await
    }
    async fn set_sender(&self, id: UserId, sender: &Sender) -> StoreResult<Option<User>> {
        self.changing(id, self.inner.set_sender(id, sender)).await
    }
    async fn set_user_language(
        &self,
        id: UserId,
        language: Option<Language>,
    ) -> StoreResult<Option<User>> {
        self.changing(id, self.inner.set_user_language(id, language))
            .await
    }
    async fn list_users(&self, query: &ListQuery) -> StoreResult<Page<User>> {
        self.inner.list_users(query).await
    }
}

/// Admits an actor to a use case.
#[derive(Clone)]
pub(crate) struct Gate {
    users: Arc<dyn UserStore>,
    cache: Arc<AccountCache>,
}

impl Gate {
    /// A gate over `users`, reusing what `cache` holds (give every gate of
    /// one set of use cases the same cache, and the same `ForgetfulUsers`).
    pub(crate) fn new(users: Arc<dyn UserStore>, cache: Arc<AccountCache>) -> Self {
        Gate { users, cache }
    }

    /// The user store the gate reads (and forgets changed accounts through).
    pub(crate) fn users(&self) -> Arc<dyn UserStore> {
        self.users.clone()
    }

    /// Where the count of account changes stands (take it before a read
    /// whose result goes to [`Gate::remember`]).
    pub(crate) fn mark(&self) -> u64 {
        self.cache.mark()
    }

    /// Keeps an account the caller read from the store after `mark` (a
    /// session lookup), for the use cases of the same request.
    pub(crate) fn remember(&self, user: &User, mark: u64) {
        self.cache.remember(user, mark);
    }
    /// The actor as its account is now: anonymous stays anonymous; a user
    /// acts with the role stored now; a blocked account is
    /// [`Error::AccountBlocked`], one pending verification
    /// [`Error::NotVerified`], one that does not exist
    /// [`Error::Unauthenticated`].
    pub(crate) async fn admit(&self, actor: Actor) -> Result<Actor, Error> {
        Ok(self.admit_user(actor).await?.0)
    }

    /// [`Gate::admit`], with the account it read (`None` for anonymous), for
    /// the use cases that need it anyway.
    pub(crate) async fn admit_user(&self, actor: Actor) -> Result<(Actor, Option<User>), Error> {
        let Actor::User(p) = actor else {
            return Ok((actor, None));
        };
        let user = match self.cache.get(p.id) {
            Some(u) => Some(u),
            None => {
                let mark = self.cache.mark();
                let u = self.users.user(p.id).await?;
                if let Some(u) = &u {
                    self.cache.remember(u, mark);
                }
                u
            }
        };
        match user {
            Some(u) => match u.state {
                UserState::Active => Ok((Actor::user(u.id, u.role), Some(u))),
                UserState::Blocked => Err(Error::AccountBlocked),
                UserState::PendingVerification => Err(Error::NotVerified),
            },
            None => Err(Error::Unauthenticated),
        }
    }
}

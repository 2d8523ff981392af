//! The in-memory store: Users, sessions and tokens.

use super::*;

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
            sender: Sender::default(),
            created_at: u.created_at,
        };
        s.users
            .insert(user.id, (user.clone(), u.password_hash.clone()));
        Ok(user)
    }

    async fn user(&self, id: UserId) -> StoreResult<Option<User>> {
        Ok(self.lock().users.get(&id).map(|(u, _)| u.clone()))
    }

    async fn user_by_email(
        &self,
        email: &EmailAddress,
    ) -> StoreResult<Option<(User, Option<String>)>> {
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
            *h = Some(hash.to_owned());
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

    async fn set_sender(&self, id: UserId, sender: &Sender) -> StoreResult<Option<User>> {
        let mut s = self.lock();
        Ok(s.users.get_mut(&id).map(|(u, _)| {
            u.sender = sender.clone();
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

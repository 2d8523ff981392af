//! Accounts: registration with email verification, sign-in sessions, password
//! reset, profiles, and the user administration of managers and admins.
//!
//! Answers never reveal whether an email is registered: registering a taken
//! address and asking a reset for an unknown one look like success, and a wrong
//! password costs the same hashing time as an unknown account.

use std::sync::Arc;

use super::gate::Gate;
use super::{Config, account_mail};
use crate::engine::Wakeup;
use crate::links::Links;
use crate::policy::{Action, Actor, Target, authorize};
use crate::ports::{Clock, Mailer, OutgoingEmail, SessionStore, UserStore};
use crate::{
    Checks, DisplayName, EmailAddress, Error, Language, ListQuery, NewUser, Page, Password, Reason,
    Role, Sender, StoreConflict, StoreError, TimeZone, TokenPurpose, User, UserId, UserState,
    security,
};

/// A signed-in session: the bearer token (shown once) and its user.
#[derive(Debug, Clone)]
pub struct Session {
    /// The secret to send back as a cookie or bearer token.
    pub token: String,
    /// The signed-in user.
    pub user: User,
}

impl Session {
    /// The actor this session signs in: what the use cases take.
    pub fn actor(&self) -> Actor {
        Actor::user(self.user.id, self.user.role)
    }
}

/// An account an application creates directly ([`AccountService::create_user`]).
#[derive(Debug, Clone, Copy)]
pub struct NewAccount<'a> {
    /// The email address.
    pub email: &'a str,
    /// The display name.
    pub name: &'a str,
    /// The password the user signs in with (at least 8 characters), or
    /// `None` for an account the application signs in itself (it gets its
    /// actor with `Actor::user`; a password can be set later through a reset
    /// link).
    pub password: Option<&'a str>,
    /// `user` or `manager`.
    pub role: Role,
    /// An IANA time zone (`Europe/Moscow`); times are shown in it.
    pub time_zone: &'a str,
}

/// Account use cases.
#[derive(Clone)]
pub struct AccountService {
    gate: Gate,
    users: Arc<dyn UserStore>,
    sessions: Arc<dyn SessionStore>,
    mailer: Arc<dyn Mailer>,
    clock: Arc<dyn Clock>,
    config: Arc<Config>,
    links: Arc<dyn Links>,
    wakeup: Wakeup,
    /// Account-mail work under way in the background.
    background: Arc<tokio::sync::watch::Sender<usize>>,
}

impl AccountService {
    /// Wires the use cases; `mailer` sends the account emails.
    /// The use cases over `gate`'s user store (the one that forgets a
    /// changed account) and the other parts.
    pub(crate) fn new(
        sessions: Arc<dyn SessionStore>,
        mailer: Arc<dyn Mailer>,
        clock: Arc<dyn Clock>,
        config: Arc<Config>,
        links: Arc<dyn Links>,
        wakeup: Wakeup,
        gate: Gate,
    ) -> Self {
        AccountService {
            users: gate.users(),
            gate,
            sessions,
            mailer,
            clock,
            config,
            links,
            wakeup,
            background: Arc::new(tokio::sync::watch::Sender::new(0)),
        }
    }

    /// Runs account-mail work after the answer (so that its time tells
    /// nothing), counted so that [`AccountService::wait_for_mail`] can wait.
    fn in_background(&self, work: impl Future<Output = ()> + Send + 'static) {
        /// Counts the work done however it ends.
        struct Done(Arc<tokio::sync::watch::Sender<usize>>);
        impl Drop for Done {
            fn drop(&mut self) {
                self.0.send_modify(|n| *n -= 1);
            }
        }
        self.background.send_modify(|n| *n += 1);
        let done = Done(self.background.clone());
        tokio::spawn(async move {
            let _done = done;
            work.await;
        });
    }

    /// Resolves once no account mail is in flight: every email asked for —
    /// with the work before it (a reset's lookup and link) — was handed to
    /// the mailer, sent or failed. Account mail goes out after the answer
    /// (its timing must not tell whether an account exists); tests and tools
    /// await it here instead of guessing. (Mail asked for while it waits is
    /// waited for too: on a busy service it may wait long.)
    pub async fn wait_for_mail(&self) {
        let mut rx = self.background.subscribe();
        // The sender lives as long as `self`.
        let _ = rx.wait_for(|n| *n == 0).await;
    }

    /// Sends an account email in the background, so that the answer takes the
    /// same time whether or not an email goes out (no account enumeration by
    /// timing). A failure is logged: the user can ask again.
    fn send_account_mail(&self, to: &EmailAddress, name: &str, subject: String, text: String) {
        let email = OutgoingEmail {
            to: to.clone(),
            to_name: name.to_owned(),
            from_name: None,
            reply_to: None,
            subject,
            text,
            html: None,
            message_id: format!("<{}@{}>", security::random_hex(16), self.links.host()),
            unsubscribe_url: None,
            return_path: None,
            feedback_id: None,
        };
        let mailer = self.mailer.clone();
        self.in_background(async move {
            if let Err(e) = mailer.send(&email).await {
                tracing::warn!(error = %e, "sending an account email failed");
            }
        });
    }

    /// Registers an account and emails a verification link. A taken address
    /// gets a notice email instead; the caller sees the same answer either way.
    #[tracing::instrument(name = "accounts.register", level = "debug", skip_all)]
    pub async fn register(
        &self,
        email: &str,
        password: &str,
        name: &str,
        time_zone: Option<&str>,
    ) -> Result<(), Error> {
        self.register_in(email, password, name, time_zone, None)
            .await
    }

    /// [`register`](Self::register) with the account's language (`en`, `ru`…),
    /// which its emails and pages then use.
    #[tracing::instrument(name = "accounts.register_in", level = "debug", skip_all)]
    pub async fn register_in(
        &self,
        email: &str,
        password: &str,
        name: &str,
        time_zone: Option<&str>,
        language: Option<&str>,
    ) -> Result<(), Error> {
        // Every field is checked, every error reported at once.
        let mut c = Checks::default();
        let language = c.check(
            language
                .filter(|l| !l.trim().is_empty())
                .map(Language::parse)
                .transpose(),
        );
        let name = c.check(DisplayName::parse(name));
        let email = c.check(EmailAddress::parse(email));
        let password = c.check(Password::parse(password));
        let time_zone = c.check(
            time_zone
                .filter(|t| !t.trim().is_empty())
                .map(TimeZone::parse)
                .transpose(),
        );
        c.finish()?;
        let (Some(language), Some(email), Some(password), Some(name), Some(time_zone)) =
            (language, email, password, name, time_zone)
        else {
            return Err(Error::Internal("a checked field has no value".into()));
        };
        let time_zone = time_zone.unwrap_or_default();
        let hash = security::hash_password(&password).await?;
        let now = self.clock.now();
        let new = NewUser {
            email: email.clone(),
            name: name.clone(),
            time_zone,
            role: Role::User,
            state: UserState::PendingVerification,
            password_hash: Some(hash),
            created_at: now,
        };
        match self.users.create_user(&new).await {
            Ok(mut user) => {
                if language.is_some() {
                    // A preference: should it fail to save, the account still
                    // works, in the browser's language.
                    match self.users.set_user_language(user.id, language).await {
                        Ok(Some(u)) => user = u,
                        Ok(None) => {}
                        Err(e) => {
                            tracing::warn!(error = %e, "saving a new account's language failed")
                        }
                    }
                }
                self.send_verification(&user).await
            }
            Err(StoreError::Conflict(StoreConflict::UserEmailTaken)) => {
                let reset = self.links.password_reset();
                let mail = account_mail::already_registered(
                    language.as_ref(),
                    &self.config.service_name,
                    &reset,
                );
                self.send_account_mail(&email, name.as_str(), mail.subject, mail.text);
                Ok(())
            }
            Err(e) => Err(Error::Store(e)),
        }
    }

    async fn send_verification(&self, user: &User) -> Result<(), Error> {
        let token = security::new_token();
        let expires = self.clock.now() + self.config.verify_ttl;
        self.sessions
            .create_token(
                user.id,
                TokenPurpose::VerifyEmail,
                &security::token_hash(&token),
                expires,
            )
            .await?;
        let mail = account_mail::verification(
            user.language.as_ref(),
            &self.config.service_name,
            user.name.as_str(),
            &self.links.verify(&token),
            self.config.verify_ttl.num_hours(),
        );
        self.send_account_mail(&user.email, user.name.as_str(), mail.subject, mail.text);
        Ok(())
    }

    /// Follows a verification link: the account becomes active.
    #[tracing::instrument(name = "accounts.verify_email", level = "debug", skip_all)]
    pub async fn verify_email(&self, token: &str) -> Result<User, Error> {
        let now = self.clock.now();
        let id = self
            .sessions
            .consume_token(TokenPurpose::VerifyEmail, &security::token_hash(token), now)
            .await?
            .ok_or(Error::InvalidToken)?;
        let user = self.users.user(id).await?.ok_or(Error::InvalidToken)?;
        match user.state {
            UserState::PendingVerification => self
                .users
                .set_user_state(id, UserState::Active, now)
                .await?
                .ok_or(Error::InvalidToken),
            UserState::Active => Ok(user),
            UserState::Blocked => Err(Error::AccountBlocked),
        }
    }

    /// Signs in: a new session for an active account.
    #[tracing::instrument(name = "accounts.login", level = "debug", skip_all)]
    pub async fn login(&self, email: &str, password: &str) -> Result<Session, Error> {
        if password.chars().count() > 1024 {
            return Err(Error::InvalidCredentials);
        }
        let found = match EmailAddress::parse(email) {
            Ok(e) => self.users.user_by_email(&e).await?,
            Err(_) => None,
        };
        // No account, or one without a password: checked against a dummy
        // hash all the same, so the answer takes as long.
        let (user, hash) = match found {
            Some((u, h)) => (Some(u), h),
            None => (None, None),
        };
        if !security::verify_password(password, hash).await? {
            return Err(Error::InvalidCredentials);
        }
        let user = user.ok_or(Error::InvalidCredentials)?;
        match user.state {
            UserState::Active => {}
            UserState::PendingVerification => return Err(Error::NotVerified),
            UserState::Blocked => return Err(Error::AccountBlocked),
        }
        self.start_session(user).await
    }

    async fn start_session(&self, user: User) -> Result<Session, Error> {
        let token = security::new_token();
        let expires = self.clock.now() + self.config.session_ttl;
        self.sessions
            .create_session(user.id, &security::token_hash(&token), expires)
            .await?;
        Ok(Session { token, user })
    }

    /// Ends a session.
    #[tracing::instrument(name = "accounts.logout", level = "debug", skip_all)]
    pub async fn logout(&self, token: &str) -> Result<(), Error> {
        Ok(self
            .sessions
            .delete_session(&security::token_hash(token))
            .await?)
    }

    /// The actor behind a session token: anonymous if the token is unknown or
    /// expired or its account is no longer active.
    #[tracing::instrument(name = "accounts.authenticate", level = "debug", skip_all)]
    pub async fn authenticate(&self, token: &str) -> Result<(Actor, Option<User>), Error> {
        let mark = self.gate.mark();
        let user = self
            .sessions
            .session_user(&security::token_hash(token), self.clock.now())
            .await?;
        match user {
            Some(u) if u.state == UserState::Active => {
                // The request's next use cases admit it without reading it again.
                self.gate.remember(&u, mark);
                Ok((Actor::user(u.id, u.role), Some(u)))
            }
            _ => Ok((Actor::Anonymous, None)),
        }
    }

    /// Emails a password-reset link if the account exists. The answer is the
    /// same, and comes as soon, either way: only the address is checked here;
    /// looking the account up, writing the link and sending it happen after the
    /// answer, in the background (a failure there is logged; the user can ask
    /// again), so the time taken does not tell whether an account exists.
    #[tracing::instrument(name = "accounts.request_password_reset", level = "debug", skip_all)]
    pub async fn request_password_reset(&self, email: &str) -> Result<(), Error> {
        let email = EmailAddress::parse(email)?;
        let this = self.clone();
        self.in_background(async move {
            if let Err(e) = this.send_reset_link(&email).await {
                tracing::warn!(error = %e, "a password-reset request failed");
            }
        });
        Ok(())
    }

    async fn send_reset_link(&self, email: &EmailAddress) -> Result<(), Error> {
        let Some((user, _)) = self.users.user_by_email(email).await? else {
            return Ok(());
        };
        if user.state == UserState::Blocked {
            return Ok(());
        }
        let token = security::new_token();
        let expires = self.clock.now() + self.config.reset_ttl;
        self.sessions
            .create_token(
                user.id,
                TokenPurpose::PasswordReset,
                &security::token_hash(&token),
                expires,
            )
            .await?;
        let mail = account_mail::password_reset(
            user.language.as_ref(),
            &self.config.service_name,
            &self.links.password_reset_confirm(&token),
            self.config.reset_ttl.num_minutes(),
        );
        self.send_account_mail(&user.email, user.name.as_str(), mail.subject, mail.text);
        Ok(())
    }

    /// Sets a new password from a reset link; every session of the account ends.
    /// Following the link also proves the address, so a pending account becomes active.
    #[tracing::instrument(name = "accounts.complete_password_reset", level = "debug", skip_all)]
    pub async fn complete_password_reset(
        &self,
        token: &str,
        new_password: &str,
    ) -> Result<User, Error> {
        let password = Password::parse(new_password)?;
        // Hash first: a busy hashing pool then leaves the link unused, to be
        // tried again, instead of spending it.
        let hash = security::hash_password(&password).await?;
        let now = self.clock.now();
        let id = self
            .sessions
            .consume_token(
                TokenPurpose::PasswordReset,
                &security::token_hash(token),
                now,
            )
            .await?
            .ok_or(Error::InvalidToken)?;
        let user = self.users.user(id).await?.ok_or(Error::InvalidToken)?;
        if user.state == UserState::Blocked {
            return Err(Error::AccountBlocked);
        }
        self.users.set_password_hash(id, &hash).await?;
        self.sessions.delete_user_sessions(id, None).await?;
        if user.state == UserState::PendingVerification {
            return self
                .users
                .set_user_state(id, UserState::Active, now)
                .await?
                .ok_or(Error::InvalidToken);
        }
        Ok(user)
    }

    /// The signed-in user.
    #[tracing::instrument(name = "accounts.me", level = "debug", skip_all, fields(actor = ?actor))]
    pub async fn me(&self, actor: Actor) -> Result<User, Error> {
        let (_, user) = self.gate.admit_user(actor).await?;
        user.ok_or(Error::Unauthenticated)
    }

    /// Changes the signed-in user's profile: every field given is checked
    /// first (all errors reported at once), then all are saved.
    #[tracing::instrument(name = "accounts.edit_profile", level = "debug", skip_all, fields(actor = ?actor))]
    pub async fn edit_profile(&self, actor: Actor, edit: &ProfileEdit) -> Result<User, Error> {
        // The gate's read of the account is the one the edit starts from.
        let (actor, me) = self.gate.admit_user(actor).await?;
        let p = actor.principal()?;
        let me = me.ok_or(Error::Unauthenticated)?;
        let mut c = Checks::default();
        let name = c.check(DisplayName::parse(&edit.name));
        let tz = c.check(TimeZone::parse(&edit.time_zone));
        let language = match &edit.language {
            None => Some(me.language.clone()),
            Some(l) if l.trim().is_empty() => Some(None),
            Some(l) => c.check(Language::parse(l)).map(Some),
        };
        let sender = match (&edit.sender_name, &edit.reply_to) {
            (None, None) => Some(me.sender.clone()),
            (name, reply_to) => {
                let keep = |v: Option<String>| v.unwrap_or_default();
                c.check(Sender::parse(
                    &name
                        .clone()
                        .unwrap_or_else(|| keep(me.sender.name.as_ref().map(|n| n.to_string()))),
                    &reply_to.clone().unwrap_or_else(|| {
                        keep(me.sender.reply_to.as_ref().map(|a| a.to_string()))
                    }),
                ))
            }
        };
        c.finish()?;
        let (Some(name), Some(tz), Some(language), Some(sender)) = (name, tz, language, sender)
        else {
            return Err(Error::Internal("a checked field has no value".into()));
        };
        self.users
            .update_profile(p.id, &name, tz)
            .await?
            .ok_or(Error::Unauthenticated)?;
        if language != me.language {
            self.users.set_user_language(p.id, language).await?;
        }
        self.users
            .set_sender(p.id, &sender)
            .await?
            .ok_or(Error::Unauthenticated)
    }

    /// Changes the signed-in user's name and time zone.
    #[tracing::instrument(name = "accounts.update_profile", level = "debug", skip_all, fields(actor = ?actor))]
    pub async fn update_profile(
        &self,
        actor: Actor,
        name: &str,
        time_zone: &str,
    ) -> Result<User, Error> {
        let actor = self.gate.admit(actor).await?;
        let p = actor.principal()?;
        let name = DisplayName::parse(name)?;
        let tz = TimeZone::parse(time_zone)?;
        self.users
            .update_profile(p.id, &name, tz)
            .await?
            .ok_or(Error::Unauthenticated)
    }

    /// Sets the signed-in user's language for the pages; empty clears it (the
    /// browser's language applies again).
    #[tracing::instrument(name = "accounts.set_language", level = "debug", skip_all, fields(actor = ?actor))]
    pub async fn set_language(&self, actor: Actor, language: &str) -> Result<User, Error> {
        let actor = self.gate.admit(actor).await?;
        let p = actor.principal()?;
        let language = Some(language.trim())
            .filter(|l| !l.is_empty())
            .map(Language::parse)
            .transpose()?;
        self.users
            .set_user_language(p.id, language)
            .await?
            .ok_or(Error::Unauthenticated)
    }

    /// Changes the signed-in user's password; their other sessions end. An
    /// account without a password has no current one to give
    /// (`WrongCurrentPassword`): it sets a first one through a reset link.
    #[tracing::instrument(name = "accounts.change_password", level = "debug", skip_all, fields(actor = ?actor))]
    pub async fn change_password(
        &self,
        actor: Actor,
        current: &str,
        new: &str,
        session_token: Option<&str>,
    ) -> Result<(), Error> {
        let (_, user) = self.gate.admit_user(actor).await?;
        let user = user.ok_or(Error::Unauthenticated)?;
        let password = Password::parse(new)?;
        let (_, hash) = self
            .users
            .user_by_email(&user.email)
            .await?
            .ok_or(Error::Unauthenticated)?;
        if !security::verify_password(current, hash).await? {
            return Err(Error::invalid(
                "current_password",
                Reason::WrongCurrentPassword,
            ));
        }
        let hash = security::hash_password(&password).await?;
        self.users.set_password_hash(user.id, &hash).await?;
        let keep = session_token.map(security::token_hash);
        self.sessions.delete_user_sessions(user.id, keep).await?;
        Ok(())
    }

    /// Lists users (managers and admins).
    #[tracing::instrument(name = "accounts.list_users", level = "debug", skip_all, fields(actor = ?actor))]
    pub async fn list_users(&self, actor: Actor, query: &ListQuery) -> Result<Page<User>, Error> {
        let actor = self.gate.admit(actor).await?;
        authorize(actor, Action::ListUsers, Target::None)?;
        Ok(self.users.list_users(query).await?)
    }

    async fn target(&self, actor: Actor, id: UserId) -> Result<User, Error> {
        authorize(actor, Action::ListUsers, Target::None)?;
        self.users.user(id).await?.ok_or(Error::NotFound)
    }

    /// Blocks a user: they cannot sign in, their sessions end at once and their
    /// mailings stop sending (pending deliveries are cancelled).
    #[tracing::instrument(name = "accounts.block", level = "debug", skip_all, fields(actor = ?actor, id = %id))]
    pub async fn block(&self, actor: Actor, id: UserId) -> Result<User, Error> {
        let actor = self.gate.admit(actor).await?;
        let target = self.target(actor, id).await?;
        authorize(actor, Action::BlockUser, Target::Account(id, target.role))?;
        let user = self
            .users
            .set_user_state(id, UserState::Blocked, self.clock.now())
            .await?
            .ok_or(Error::NotFound)?;
        self.wakeup.wake();
        Ok(user)
    }

    /// Unblocks a user; their enabled mailings resume at their next slot.
    #[tracing::instrument(name = "accounts.unblock", level = "debug", skip_all, fields(actor = ?actor, id = %id))]
    pub async fn unblock(&self, actor: Actor, id: UserId) -> Result<User, Error> {
        let actor = self.gate.admit(actor).await?;
        let target = self.target(actor, id).await?;
        authorize(actor, Action::BlockUser, Target::Account(id, target.role))?;
        if target.state != UserState::Blocked {
            return Ok(target);
        }
        let user = self
            .users
            .set_user_state(id, UserState::Active, self.clock.now())
            .await?
            .ok_or(Error::NotFound)?;
        self.wakeup.wake();
        Ok(user)
    }

    /// Grants (`Manager`) or revokes (`User`) the manager role (admins only).
    #[tracing::instrument(name = "accounts.set_role", level = "debug", skip_all, fields(actor = ?actor, id = %id))]
    pub async fn set_role(&self, actor: Actor, id: UserId, role: Role) -> Result<User, Error> {
        let actor = self.gate.admit(actor).await?;
        let target = self.target(actor, id).await?;
        authorize(actor, Action::ChangeRole, Target::Account(id, target.role))?;
        if role == Role::Admin {
            return Err(Error::invalid("role", Reason::RoleNotSettable));
        }
        self.users
            .set_user_role(id, role)
            .await?
            .ok_or(Error::NotFound)
    }

    /// Creates an account directly — active, with the role given — for an
    /// application's own admin flows (no verification mail: the application
    /// vouches for the address). Admins only (the table's `CreateUser`); the
    /// admin role itself is granted only by [`AccountService::ensure_admin`].
    /// Each field is validated as at sign-up (errors name it); an address
    /// already taken is a conflict.
    #[tracing::instrument(name = "accounts.create_user", level = "debug", skip_all, fields(actor = ?actor))]
    pub async fn create_user(&self, actor: Actor, account: &NewAccount<'_>) -> Result<User, Error> {
        let actor = self.gate.admit(actor).await?;
        authorize(actor, Action::CreateUser, Target::None)?;
        if account.role == Role::Admin {
            return Err(Error::invalid("role", Reason::RoleNotSettable));
        }
        let email = EmailAddress::parse(account.email)?;
        let name = DisplayName::parse(account.name)?;
        let time_zone = TimeZone::parse(account.time_zone)?;
        let hash = match account.password {
            Some(p) => Some(security::hash_password(&Password::parse(p)?).await?),
            None => None,
        };
        let new = NewUser {
            email,
            name,
            time_zone,
            role: account.role,
            state: UserState::Active,
            password_hash: hash,
            created_at: self.clock.now(),
        };
        // A taken address is the `From<StoreError>`'s `email` error.
        Ok(self.users.create_user(&new).await?)
    }

    /// Creates an active admin, or promotes (and re-passwords) an existing
    /// account: the operator's `create-admin` command.
    #[tracing::instrument(name = "accounts.ensure_admin", level = "debug", skip_all)]
    pub async fn ensure_admin(
        &self,
        email: &str,
        password: &str,
        name: &str,
    ) -> Result<User, Error> {
        let email = EmailAddress::parse(email)?;
        let password = Password::parse(password)?;
        let hash = security::hash_password(&password).await?;
        let now = self.clock.now();
        if let Some((user, _)) = self.users.user_by_email(&email).await? {
            self.users.set_password_hash(user.id, &hash).await?;
            self.users.set_user_role(user.id, Role::Admin).await?;
            return self
                .users
                .set_user_state(user.id, UserState::Active, now)
                .await?
                .ok_or(Error::NotFound);
        }
        let new = NewUser {
            email,
            name: DisplayName::parse(name)?,
            time_zone: TimeZone::UTC,
            role: Role::Admin,
            state: UserState::Active,
            password_hash: Some(hash),
            created_at: now,
        };
        Ok(self.users.create_user(&new).await?)
    }
}

/// A change of profile ([`AccountService::edit_profile`]): `None` leaves a
/// field as it is; an empty language, sender name or Reply-To clears it.
#[derive(Debug, Clone, Default)]
pub struct ProfileEdit {
    /// Display name.
    pub name: String,
    /// IANA time zone.
    pub time_zone: String,
    /// Language code.
    pub language: Option<String>,
    /// The name mailings show beside the service's From address.
    pub sender_name: Option<String>,
    /// Where replies to mailings go.
    pub reply_to: Option<String>,
}

//! Every use case asks the store who the actor is now, so an `Actor` built
//! before its account was blocked (or its role changed) acts with what the
//! account is now, not what it was.

use std::sync::Arc;

use crate::policy::Actor;
use crate::ports::UserStore;
use crate::{Error, User, UserState};

/// Admits an actor to a use case.
#[derive(Clone)]
pub(crate) struct Gate {
    users: Arc<dyn UserStore>,
}

impl Gate {
    pub(crate) fn new(users: Arc<dyn UserStore>) -> Self {
        Gate { users }
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
        match self.users.user(p.id).await? {
            Some(u) => match u.state {
                UserState::Active => Ok((Actor::user(u.id, u.role), Some(u))),
                UserState::Blocked => Err(Error::AccountBlocked),
                UserState::PendingVerification => Err(Error::NotVerified),
            },
            None => Err(Error::Unauthenticated),
        }
    }
}

//! Who may do what: the table of `docs/permissions.md`, in code.
//!
//! [`decide`] looks up the cell for the actor's role and the action, in the
//! column for the target's ownership (own or foreign). Another user's private
//! data answers [`Decision::Hidden`] (reported as not found, so its existence does
//! not leak); something the actor can see but not change answers
//! [`Decision::Deny`]. `docs/permissions.md` mirrors this table.

use crate::{DisabledBy, Error, Mailing, Reason, Role, UserId};

/// A signed-in, active user as seen by the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal {
    /// Who.
    pub id: UserId,
    /// Their role.
    pub role: Role,
}

/// Whoever makes a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// Not signed in.
    Anonymous,
    /// A signed-in, active user.
    User(Principal),
}

impl Actor {
    /// A signed-in actor: for code that authenticated the user by its own
    /// means (the use cases' own ways in are `Session::actor` and
    /// `AccountService::authenticate`). The rules take `role` as given, but
    /// every use case first asks the store who `id` is now: an account that
    /// is blocked, pending verification or gone is refused, and one whose
    /// role changed acts with its role as stored.
    pub fn user(id: UserId, role: Role) -> Self {
        Actor::User(Principal { id, role })
    }
    /// The principal, or [`Error::Unauthenticated`].
    pub fn principal(&self) -> Result<Principal, Error> {
        match self {
            Actor::User(p) => Ok(*p),
            Actor::Anonymous => Err(Error::Unauthenticated),
        }
    }
}

/// Something an actor may try.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Action {
    /// Read the home page and the blog.
    ReadPublic,
    /// List, create, edit or delete clients.
    ManageClients,
    /// List one's own mailings; create, edit or delete a mailing.
    ManageMailings,
    /// View one mailing (and its runs).
    ViewMailing,
    /// List every user's mailings.
    ViewAllMailings,
    /// Disable or re-enable a mailing.
    ToggleMailing,
    /// List all messages, read one, create one.
    UseMessages,
    /// Edit or delete a message.
    EditMessage,
    /// List run reports.
    ListLog,
    /// See a run's deliveries with recipient addresses.
    ViewDeliveries,
    /// List users.
    ListUsers,
    /// Block or unblock a user.
    BlockUser,
    /// Grant or revoke the manager role.
    ChangeRole,
    /// Write, edit, publish or delete blog posts.
    WriteBlog,
    /// Create an account directly, active and with a role (an application's
    /// own admin flows; see `AccountService::create_user`).
    CreateUser,
}

impl Action {
    /// Every action, for tables and tests.
    pub const ALL: [Action; 15] = [
        Action::ReadPublic,
        Action::ManageClients,
        Action::ManageMailings,
        Action::ViewMailing,
        Action::ViewAllMailings,
        Action::ToggleMailing,
        Action::UseMessages,
        Action::EditMessage,
        Action::ListLog,
        Action::ViewDeliveries,
        Action::ListUsers,
        Action::BlockUser,
        Action::ChangeRole,
        Action::WriteBlog,
        Action::CreateUser,
    ];
}

/// What the action is aimed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Target {
    /// Nothing owned (a list of one's own things, a create, a public page).
    None,
    /// Something owned by this user.
    OwnedBy(UserId),
    /// A user account (for blocks and roles), with its role.
    Account(UserId, Role),
}

/// The answer of the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Decision {
    /// Go ahead.
    Allow,
    /// Visible but not allowed: 403.
    Deny,
    /// Someone else's private data: answered as not found (404).
    Hidden,
    /// Sign in first: 401 (or a redirect to the sign-in page).
    SignIn,
}

impl Decision {
    /// `Ok(())` for [`Decision::Allow`], else the matching [`Error`].
    pub fn into_result(self) -> Result<(), Error> {
        match self {
            Decision::Allow => Ok(()),
            Decision::Deny => Err(Error::Forbidden(Reason::RoleNotAllowed)),
            Decision::Hidden => Err(Error::NotFound),
            Decision::SignIn => Err(Error::Unauthenticated),
        }
    }
}

/// One cell pair of the table: the decision for the actor's own target and for
/// someone else's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    /// Target owned by (or being) the actor, or no target.
    pub own: Decision,
    /// Target owned by (or being) another user.
    pub foreign: Decision,
}

const fn cell(own: Decision, foreign: Decision) -> Cell {
    Cell { own, foreign }
}

/// The permission table (`docs/permissions.md`), one arm per row and role.
pub const fn table(action: Action, role: Role) -> Cell {
    use Action::*;
    use Decision::{Allow, Deny, Hidden};
    use Role::{Admin, Manager, User};
    match (action, role) {
        (ReadPublic, _) => cell(Allow, Allow),

        (ManageClients, User | Admin) => cell(Allow, Hidden),
        (ManageClients, Manager) => cell(Deny, Hidden),

        (ManageMailings, User) => cell(Allow, Hidden),
        (ManageMailings, Manager) => cell(Deny, Deny),
        (ManageMailings, Admin) => cell(Allow, Deny),

        (ViewMailing, User) => cell(Allow, Hidden),
        (ViewMailing, Manager | Admin) => cell(Allow, Allow),
        (ViewAllMailings, User) => cell(Deny, Deny),
        (ViewAllMailings, Manager | Admin) => cell(Allow, Allow),

        (ToggleMailing, User) => cell(Allow, Hidden),
        (ToggleMailing, Manager | Admin) => cell(Allow, Allow),

        (UseMessages, _) => cell(Allow, Allow),

        (EditMessage, User) => cell(Allow, Deny),
        (EditMessage, Manager) => cell(Deny, Deny),
        (EditMessage, Admin) => cell(Allow, Allow),

        (ListLog, _) => cell(Allow, Allow),

        (ViewDeliveries, User) => cell(Allow, Hidden),
        (ViewDeliveries, Manager | Admin) => cell(Allow, Allow),

        // Nobody blocks themselves or changes their own role.
        (ListUsers, User) => cell(Deny, Deny),
        (ListUsers, Manager | Admin) => cell(Allow, Allow),
        (BlockUser, User) => cell(Deny, Deny),
        (BlockUser, Manager | Admin) => cell(Deny, Allow),
        (ChangeRole, User | Manager) => cell(Deny, Deny),
        (ChangeRole, Admin) => cell(Deny, Allow),

        (WriteBlog, User | Manager) => cell(Deny, Deny),
        (WriteBlog, Admin) => cell(Allow, Allow),

        (CreateUser, User | Manager) => cell(Deny, Deny),
        (CreateUser, Admin) => cell(Allow, Allow),
    }
}

/// Decides whether `actor` may do `action` to `target`.
///
/// ```
/// use skymailing_core::{Role, UserId, policy::{decide, Action, Actor, Decision, Target}};
/// let ann = Actor::user(UserId(1), Role::User);
/// assert_eq!(decide(ann, Action::ManageClients, Target::OwnedBy(UserId(1))), Decision::Allow);
/// assert_eq!(decide(ann, Action::ManageClients, Target::OwnedBy(UserId(2))), Decision::Hidden);
/// assert_eq!(decide(Actor::Anonymous, Action::ListLog, Target::None), Decision::SignIn);
/// ```
pub fn decide(actor: Actor, action: Action, target: Target) -> Decision {
    let p = match actor {
        Actor::Anonymous if action == Action::ReadPublic => return Decision::Allow,
        Actor::Anonymous => return Decision::SignIn,
        Actor::User(p) => p,
    };
    let row = table(action, p.role);
    match target {
        Target::None => row.own,
        Target::OwnedBy(owner) if owner == p.id => row.own,
        Target::OwnedBy(_) => row.foreign,
        Target::Account(id, _) if id == p.id => row.own,
        // Only an admin acts on an admin's account, and no one changes an admin's
        // role here (that is the `create-admin` command's job).
        Target::Account(_, Role::Admin)
            if p.role != Role::Admin || action == Action::ChangeRole =>
        {
            if row.foreign == Decision::Allow {
                Decision::Deny
            } else {
                row.foreign
            }
        }
        Target::Account(_, _) => row.foreign,
    }
}

/// [`decide`], as a `Result` for use cases: `Ok` with the principal when allowed.
pub fn authorize(actor: Actor, action: Action, target: Target) -> Result<Principal, Error> {
    decide(actor, action, target).into_result()?;
    actor.principal()
}

/// Whether `actor` may enable `mailing` again: whoever may switch it (its
/// owner, managers, admins), except that a mailing a manager disabled comes
/// back only by a manager's or an admin's hand (`Forbidden` with
/// [`Reason::DisabledByManager`] for its owner).
pub fn check_enable(actor: Actor, mailing: &Mailing) -> Result<Principal, Error> {
    let p = authorize(actor, Action::ToggleMailing, Target::OwnedBy(mailing.owner))?;
    if mailing.disabled_by == Some(DisabledBy::Manager) && p.role == Role::User {
        return Err(Error::Forbidden(Reason::DisabledByManager));
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::Decision::{Allow as A, Deny as D, Hidden as H, SignIn as S};
    use super::*;

    const ME: UserId = UserId(1);
    const OTHER: UserId = UserId(2);

    /// (action, [anonymous, user, manager, admin] for own, same for foreign).
    /// One row per line of `docs/permissions.md`; every cell is asserted.
    #[rustfmt::skip]
    const EXPECTED: [(Action, [Decision; 4], [Decision; 4]); 15] = [
        //                              anon user mgr admin    anon user mgr admin
        (Action::ReadPublic,     [A, A, A, A], [A, A, A, A]),
        (Action::ManageClients,  [S, A, D, A], [S, H, H, H]),
        (Action::ManageMailings, [S, A, D, A], [S, H, D, D]),
        (Action::ViewMailing,    [S, A, A, A], [S, H, A, A]),
        (Action::ViewAllMailings,[S, D, A, A], [S, D, A, A]),
        (Action::ToggleMailing,  [S, A, A, A], [S, H, A, A]),
        (Action::UseMessages,    [S, A, A, A], [S, A, A, A]),
        (Action::EditMessage,    [S, A, D, A], [S, D, D, A]),
        (Action::ListLog,        [S, A, A, A], [S, A, A, A]),
        (Action::ViewDeliveries, [S, A, A, A], [S, H, A, A]),
        (Action::ListUsers,      [S, D, A, A], [S, D, A, A]),
        (Action::BlockUser,      [S, D, D, D], [S, D, A, A]),
        (Action::ChangeRole,     [S, D, D, D], [S, D, D, A]),
        (Action::WriteBlog,      [S, D, D, A], [S, D, D, A]),
        (Action::CreateUser,     [S, D, D, A], [S, D, D, A]),
    ];

    fn actors() -> [Actor; 4] {
        [
            Actor::Anonymous,
            Actor::user(ME, Role::User),
            Actor::user(ME, Role::Manager),
            Actor::user(ME, Role::Admin),
        ]
    }

    fn target(action: Action, owner: UserId) -> Target {
        match action {
            Action::BlockUser | Action::ChangeRole | Action::ListUsers => {
                Target::Account(owner, Role::User)
            }
            _ => Target::OwnedBy(owner),
        }
    }

    #[test]
    fn every_cell_of_the_permission_table() {
        assert_eq!(EXPECTED.len(), Action::ALL.len());
        for (action, own, foreign) in EXPECTED {
            for (i, actor) in actors().into_iter().enumerate() {
                assert_eq!(
                    decide(actor, action, target(action, ME)),
                    own[i],
                    "{action:?} by {actor:?} on own"
                );
                assert_eq!(
                    decide(actor, action, target(action, OTHER)),
                    foreign[i],
                    "{action:?} by {actor:?} on foreign"
                );
            }
        }
    }

    #[test]
    fn untargeted_actions_use_the_own_column() {
        for (action, own, _) in EXPECTED {
            for (i, actor) in actors().into_iter().enumerate() {
                assert_eq!(
                    decide(actor, action, Target::None),
                    own[i],
                    "{action:?} by {actor:?}"
                );
            }
        }
    }

    #[test]
    fn manager_cannot_block_an_admin() {
        let m = Actor::user(ME, Role::Manager);
        assert_eq!(
            decide(m, Action::BlockUser, Target::Account(OTHER, Role::Admin)),
            D
        );
        assert_eq!(
            decide(m, Action::BlockUser, Target::Account(OTHER, Role::Manager)),
            A
        );
    }

    #[test]
    fn admin_can_block_an_admin_but_not_change_their_role() {
        let a = Actor::user(ME, Role::Admin);
        assert_eq!(
            decide(a, Action::BlockUser, Target::Account(OTHER, Role::Admin)),
            A
        );
        assert_eq!(
            decide(a, Action::ChangeRole, Target::Account(OTHER, Role::Admin)),
            D
        );
        assert_eq!(
            decide(a, Action::ChangeRole, Target::Account(OTHER, Role::Manager)),
            A
        );
    }

    #[test]
    fn user_cannot_act_on_an_admin_account_either() {
        let u = Actor::user(ME, Role::User);
        assert_eq!(
            decide(u, Action::BlockUser, Target::Account(OTHER, Role::Admin)),
            D
        );
    }

    #[test]
    fn decisions_map_to_errors() {
        assert!(A.into_result().is_ok());
        assert!(matches!(D.into_result(), Err(Error::Forbidden(_))));
        assert!(matches!(H.into_result(), Err(Error::NotFound)));
        assert!(matches!(S.into_result(), Err(Error::Unauthenticated)));
    }
}

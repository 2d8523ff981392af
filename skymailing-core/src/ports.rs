//! Ports: the small traits through which the core reaches the outside world.
//!
//! One trait per concern, so a test mocks only what it touches (with the
//! `mocks` feature each has a `mockall` mock: `MockUserStore`, `MockMailer`, ...).
//! A store method is a unit of atomicity: what must happen together is one
//! method, done in one transaction by the adapter. Methods that take an owner
//! are scoped by it: another owner's row is simply not found.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
#[cfg(any(test, feature = "mocks"))]
use mockall::automock;

use crate::domain::*;
use crate::error::StoreError;

/// Result of a store method.
pub type StoreResult<T> = Result<T, StoreError>;

/// Users and their credentials.
#[cfg_attr(any(test, feature = "mocks"), automock)]
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Creates a user; `Conflict(UserEmailTaken)` if the email is in use.
    async fn create_user(&self, user: &NewUser) -> StoreResult<User>;
    /// A user by id.
    async fn user(&self, id: UserId) -> StoreResult<Option<User>>;
    /// A user by (normalised) email, with their password hash (`None`: the
    /// account has no password).
    async fn user_by_email(
        &self,
        email: &EmailAddress,
    ) -> StoreResult<Option<(User, Option<String>)>>;
    /// Replaces a user's password hash and, in the same transaction, voids
    /// their pending password-reset links (a new password ends the old way in).
    async fn set_password_hash(&self, id: UserId, hash: &str) -> StoreResult<()>;
    /// Sets a user's state. Blocking also ends all their sessions and cancels the
    /// pending deliveries of their runs, in the same transaction.
    async fn set_user_state(
        &self,
        id: UserId,
        state: UserState,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<User>>;
    /// Sets a user's role.
    async fn set_user_role(&self, id: UserId, role: Role) -> StoreResult<Option<User>>;
    /// Changes name and time zone.
    async fn update_profile(
        &self,
        id: UserId,
        name: &DisplayName,
        time_zone: TimeZone,
    ) -> StoreResult<Option<User>>;
    /// Sets the user's sender name and Reply-To (unset parts: their own).
    async fn set_sender(&self, id: UserId, sender: &Sender) -> StoreResult<Option<User>>;
    /// Sets (or clears) the user's language.
    async fn set_user_language(
        &self,
        id: UserId,
        language: Option<Language>,
    ) -> StoreResult<Option<User>>;
    /// Users ordered by id; `search` matches email or name.
    async fn list_users(&self, query: &ListQuery) -> StoreResult<Page<User>>;
}

/// Sign-in sessions and emailed one-time tokens, both stored as hashes.
#[cfg_attr(any(test, feature = "mocks"), automock)]
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores a session.
    async fn create_session(
        &self,
        user: UserId,
        token_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// The user of a live session (expired ones are not found).
    async fn session_user(&self, token_hash: &str, now: DateTime<Utc>)
    -> StoreResult<Option<User>>;
    /// Ends one session.
    async fn delete_session(&self, token_hash: &str) -> StoreResult<()>;
    /// Ends all of a user's sessions but `keep`.
    async fn delete_user_sessions(&self, user: UserId, keep: Option<String>) -> StoreResult<u64>;
    /// Stores a one-time token, replacing the user's earlier ones of that purpose.
    async fn create_token(
        &self,
        user: UserId,
        purpose: TokenPurpose,
        token_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Uses up a token: returns its user and deletes it, if it exists and has
    /// not expired. Two concurrent calls never both succeed.
    async fn consume_token(
        &self,
        purpose: TokenPurpose,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<UserId>>;
    /// Deletes expired sessions and tokens; returns how many.
    async fn purge_expired(&self, now: DateTime<Utc>) -> StoreResult<u64>;
}

/// Clients, private to their owner.
#[cfg_attr(any(test, feature = "mocks"), automock)]
#[async_trait]
pub trait ClientStore: Send + Sync {
    /// Creates a client; `Conflict(ClientEmailTaken)` if the owner has that email.
    async fn create_client(
        &self,
        owner: UserId,
        draft: &ClientDraft,
        unsubscribe_token: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Client>;
    /// One of the owner's clients.
    async fn client(&self, owner: UserId, id: ClientId) -> StoreResult<Option<Client>>;
    /// The owner's clients by name then id; `search` matches email, name or comment.
    async fn list_clients(&self, owner: UserId, query: &ListQuery) -> StoreResult<Page<Client>>;
    /// Updates one of the owner's clients. When its email changes, the client
    /// gets `new_token` as its unsubscribe link (links already sent keep the
    /// address they were sent to) and the new address's unsubscribed mark.
    async fn update_client(
        &self,
        owner: UserId,
        id: ClientId,
        draft: &ClientDraft,
        new_token: &str,
    ) -> StoreResult<Option<Client>>;
    /// Every client of the owner, in list order (for export and import).
    async fn all_clients(&self, owner: UserId) -> StoreResult<Vec<Client>>;
    /// The ids of the owner's clients that match `filter` (as
    /// [`ClientStore::list_clients`] would list them, on every page).
    async fn matching_client_ids(
        &self,
        owner: UserId,
        filter: &ClientFilter,
    ) -> StoreResult<Vec<ClientId>>;
    /// The owner's tags with how many clients carry each, by tag.
    async fn client_tags(&self, owner: UserId) -> StoreResult<Vec<(String, u64)>>;
    /// Writes an import in one transaction: creates `new` (each with its
    /// unsubscribe token; an address the owner has unsubscribed stays marked)
    /// and changes name, comment and tags of `changed` (their addresses stay).
    /// `Conflict(ClientEmailTaken)` if a new address exists meanwhile.
    async fn import_clients(
        &self,
        owner: UserId,
        new: &[(ClientDraft, String)],
        changed: &[(ClientId, ClientDraft)],
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Deletes one of the owner's clients (and removes it from their mailings);
    /// runs already started keep their frozen copy.
    async fn delete_client(&self, owner: UserId, id: ClientId) -> StoreResult<bool>;
    /// The (owner, address) an unsubscribe link was made for, with the
    /// address's unsubscribe time if it is unsubscribed. A link keeps its
    /// address when the client's email changes or the client is deleted.
    async fn unsubscribe_link(&self, token: &str) -> StoreResult<Option<UnsubscribeLink>>;
    /// Unsubscribes (`Some`) or resubscribes (`None`) the address behind a
    /// link, for its owner, in one transaction: the address is suppressed
    /// (reason `unsubscribed`; an existing suppression stays as it is), every
    /// client of the owner with that address is marked, and their pending
    /// deliveries to it are cancelled; resubscribing lifts only an
    /// `unsubscribed` suppression. Returns the link's state afterwards.
    async fn set_unsubscribed(
        &self,
        token: &str,
        at: Option<DateTime<Utc>>,
    ) -> StoreResult<Option<UnsubscribeLink>>;
}

/// Messages, readable by every signed-in user.
#[cfg_attr(any(test, feature = "mocks"), automock)]
#[async_trait]
pub trait MessageStore: Send + Sync {
    /// Creates a message.
    async fn create_message(
        &self,
        owner: UserId,
        draft: &MessageDraft,
        now: DateTime<Utc>,
    ) -> StoreResult<Message>;
    /// A message by id.
    async fn message(&self, id: MessageId) -> StoreResult<Option<Message>>;
    /// All messages, newest first; `search` matches the subject.
    async fn list_messages(&self, query: &ListQuery) -> StoreResult<Page<Message>>;
    /// Updates a message.
    async fn update_message(
        &self,
        id: MessageId,
        draft: &MessageDraft,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Message>>;
    /// Deletes a message; `Conflict(MessageInUse)` while a mailing uses it.
    async fn delete_message(&self, id: MessageId) -> StoreResult<bool>;
    /// The distinct owners of the mailings that use a message, by id.
    async fn message_users(&self, id: MessageId) -> StoreResult<Vec<UserId>>;
}

/// Mailings.
#[cfg_attr(any(test, feature = "mocks"), automock)]
#[async_trait]
pub trait MailingStore: Send + Sync {
    /// Creates a mailing with its client set. `Conflict(UnknownClient)` if a
    /// client is not the owner's; `Conflict(UnknownMessage)` if the message is gone.
    async fn create_mailing(
        &self,
        owner: UserId,
        draft: &MailingDraft,
        next_run_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> StoreResult<Mailing>;
    /// A mailing by id.
    async fn mailing(&self, id: MailingId) -> StoreResult<Option<Mailing>>;
    /// Mailings, newest first, of one owner or (`None`) of everyone; `search`
    /// matches the name.
    async fn list_mailings(
        &self,
        owner: Option<UserId>,
        query: &ListQuery,
    ) -> StoreResult<Page<Mailing>>;
    /// Replaces a mailing's fields and client set, and its next run.
    async fn update_mailing(
        &self,
        id: MailingId,
        draft: &MailingDraft,
        next_run_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Mailing>>;
    /// Enables (with a fresh next run) or disables a mailing. Disabling cancels
    /// the pending deliveries of its runs in the same transaction.
    async fn set_mailing_enabled(
        &self,
        id: MailingId,
        enabled: bool,
        disabled_by: Option<DisabledBy>,
        next_run_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Mailing>>;
    /// Deletes a mailing; its pending deliveries are cancelled and its runs stay
    /// in the log.
    async fn delete_mailing(&self, id: MailingId, now: DateTime<Utc>) -> StoreResult<bool>;
}

/// One step of the scheduler for one mailing, applied atomically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunPlan {
    /// The mailing.
    pub mailing_id: MailingId,
    /// The mailing's `next_run_at` the plan was made from; if it changed in the
    /// meantime (another scheduler, an edit) the plan is not applied.
    pub expected_next_run_at: DateTime<Utc>,
    /// The mailing's `updated_at` the plan was made from: an edit in the
    /// meantime (a new end or periodicity) voids the plan too.
    pub expected_updated_at: DateTime<Utc>,
    /// The run to start, if any.
    pub run: Option<NewRun>,
    /// The mailing's next run afterwards.
    pub next_run_at: Option<DateTime<Utc>>,
    /// The time of the step.
    pub now: DateTime<Utc>,
}

/// A run to start: the store freezes the message and the mailing's subscribed
/// clients into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRun {
    /// The slot (unique per mailing).
    pub slot_at: DateTime<Utc>,
    /// Due slots coalesced into it.
    pub skipped_slots: u32,
    /// Random Message-ID component.
    pub nonce: String,
    /// The mailing's tags: the run reaches the owner's clients carrying one
    /// of them as well as the mailing's chosen clients.
    pub tags: Vec<String>,
}

/// A mailing that is due, with what the scheduler needs to plan its step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueMailing {
    /// The mailing.
    pub mailing: Mailing,
    /// Its owner's time zone.
    pub time_zone: TimeZone,
}

/// Runs and deliveries as the engine drives them: the delivery queue.
#[cfg_attr(any(test, feature = "mocks"), automock)]
#[async_trait]
pub trait DeliveryQueue: Send + Sync {
    /// Enabled mailings of active owners whose next run is at or before `now`.
    async fn due_mailings(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<DueMailing>>;
    /// Applies a scheduler step in one transaction: if the mailing is still
    /// enabled, its owner still active, and its `next_run_at` and `updated_at`
    /// are still the expected ones, creates the run (at most one per mailing and
    /// slot) with one pending delivery per subscribed client, and moves the next
    /// run (also when the run exists already). Does not change `updated_at`.
    /// Returns the run created, or `None` if nothing was created (the step lost a
    /// race, the slot already had its run, or no run was planned).
    async fn apply_plan(&self, plan: &RunPlan) -> StoreResult<Option<Run>>;
    /// Claims up to `limit` deliveries that are pending and due, or whose lease
    /// has expired: each becomes `sending` with a lease until `now + lease` and
    /// its attempt number increased. A delivery whose lease expired while its
    /// mailing was deleted or disabled, or its owner blocked, is cancelled
    /// instead. Committed before it returns.
    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedDelivery>>;
    /// Takes up to `want` sends from the service-wide budget of `relay`: a
    /// token bucket shared by every process on this store, refilled at
    /// `per_second` and holding at most one second's worth. Returns how many
    /// were granted (0 when the budget is spent for now).
    async fn take_send_budget(
        &self,
        relay: &str,
        per_second: u32,
        want: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<u32>;
    /// Gives back sends taken but not used (fewer deliveries were due).
    async fn return_send_budget(
        &self,
        relay: &str,
        per_second: u32,
        unused: u32,
    ) -> StoreResult<()>;
    /// Extends the lease of claims still held: each `(id, attempt)` that is
    /// still `sending` under that attempt gets `lease_until`. Returns how many
    /// were renewed (a claim another worker took over is not).
    async fn renew_leases(
        &self,
        claims: &[(DeliveryId, u32)],
        lease_until: DateTime<Utc>,
    ) -> StoreResult<u64>;
    /// Parks a mailing the engine could not handle: disabled with
    /// [`DisabledBy::EngineError`], its pending deliveries cancelled, in one
    /// transaction, unless it is disabled already. Returns whether it changed.
    async fn park_mailing(&self, mailing: MailingId, now: DateTime<Utc>) -> StoreResult<bool>;
    /// Writes a batch of results. A result is applied only if the delivery is
    /// still `sending` under the same attempt number (a stale claim is fenced
    /// off). A `Retry` or `Released` of a delivery whose mailing was deleted or
    /// disabled, or whose owner is no longer active, becomes `cancelled`: nothing
    /// stopped comes back. Returns the results applied, each with the state
    /// its delivery was left in (`cancelled` for a stopped run's retry).
    async fn complete_deliveries(
        &self,
        results: &[DeliveryResult],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<(DeliveryId, DeliveryState)>>;
    /// The frozen content of a run.
    async fn run_content(&self, run: RunId) -> StoreResult<Option<RunContent>>;
    /// Unfinished runs with no pending or sending delivery left.
    async fn runs_to_finish(&self, limit: u32) -> StoreResult<Vec<Run>>;
    /// Counts a run's deliveries by state, with the most common failure replies.
    async fn run_totals(&self, run: RunId) -> StoreResult<RunTotals>;
    /// Marks a run finished with its report (whose counts become the run's), if
    /// it is unfinished and nothing is left to send. Returns whether it did.
    async fn finish_run(
        &self,
        run: RunId,
        report: &RunReport,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// The earliest time something becomes due: a mailing's next run, a retry,
    /// or an expiring lease.
    async fn next_wakeup(&self) -> StoreResult<Option<DateTime<Utc>>>;

    /// Pauses an unfinished, unpaused, uncancelled run that its owner has not
    /// resumed before, with its reason: its pending deliveries are held (not
    /// claimed, not counted by `next_wakeup`) until it is resumed or
    /// cancelled, and its mailing's next slots wait. Returns whether it did.
    async fn pause_run(
        &self,
        run: RunId,
        reason: &PauseReason,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// A run as it is now (finished or not), for awaiting one; `None` if
    /// there is no such run. (The same as [`RunStore::run`], on the port the
    /// engine holds.)
    async fn run_status(&self, run: RunId) -> StoreResult<Option<Run>>;
}

/// Which runs to list in the log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunFilter {
    /// Only runs of this mailing.
    pub mailing: Option<MailingId>,
    /// Only runs of this owner's mailings.
    pub owner: Option<UserId>,
}

/// Reading the log.
#[cfg_attr(any(test, feature = "mocks"), automock)]
#[async_trait]
pub trait RunStore: Send + Sync {
    /// Runs, newest first.
    async fn list_runs(&self, filter: RunFilter, query: &ListQuery) -> StoreResult<Page<Run>>;
    /// A run by id.
    async fn run(&self, id: RunId) -> StoreResult<Option<Run>>;
    /// A run's deliveries by id.
    async fn run_deliveries(&self, run: RunId, query: &ListQuery) -> StoreResult<Page<Delivery>>;
    /// Resumes a paused run: its held deliveries are claimed again as they
    /// come due, and it is not paused again. Returns whether it was paused.
    async fn resume_run(&self, run: RunId, now: DateTime<Utc>) -> StoreResult<bool>;
    /// Cancels an unfinished run (sending or paused): its pending deliveries
    /// are cancelled, in one transaction, and it finishes as `cancelled` once
    /// the sends in flight are answered. Returns whether it was unfinished.
    async fn cancel_run(&self, run: RunId, now: DateTime<Utc>) -> StoreResult<bool>;
    /// Sent and failed deliveries per UTC day since `since`, oldest first.
    async fn daily_outcomes(
        &self,
        owner: Option<UserId>,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<DailyOutcome>>;
}

/// Sent and failed counts for one day.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DailyOutcome {
    /// The UTC day.
    pub day: chrono::NaiveDate,
    /// Deliveries sent that day.
    pub sent: u64,
    /// Deliveries failed that day.
    pub failed: u64,
}

/// The per-owner suppression list, and the bounces and complaints that feed it.
#[cfg_attr(any(test, feature = "mocks"), automock)]
#[async_trait]
pub trait SuppressionStore: Send + Sync {
    /// One owner's suppressions (or, with `None`, everyone's), newest
    /// first; `search` matches the address.
    async fn list_suppressions(
        &self,
        owner: Option<UserId>,
        query: &ListQuery,
    ) -> StoreResult<Page<Suppression>>;
    /// Suppresses an address for an owner, or strengthens its suppression
    /// (see [`SuppressionReason::rank`]); in the same transaction the owner's
    /// pending deliveries to it become `suppressed`. Returns the entry.
    async fn suppress(
        &self,
        owner: UserId,
        email: &EmailAddress,
        reason: SuppressionReason,
        detail: Option<String>,
        now: DateTime<Utc>,
    ) -> StoreResult<Suppression>;
    /// Lifts one of the owner's suppressions if its reason is one the owner
    /// may lift (see [`SuppressionReason::owner_may_lift`]). `Ok(None)`: no
    /// such entry; `Ok(Some(false))`: it may not be lifted.
    async fn lift_suppression(&self, owner: UserId, id: i64) -> StoreResult<Option<bool>>;
    /// The delivery a report may be about.
    async fn feedback_target(&self, delivery: DeliveryId) -> StoreResult<Option<FeedbackTarget>>;
    /// Records a report in one transaction: the report itself; for an
    /// identified delivery that was sent, its new state (`bounced` for a hard
    /// bounce, `complained` for a complaint) and, if its run finished, the
    /// run's counts recomputed from its deliveries; and for an identified
    /// owner the address's suppression (a hard bounce or complaint at once,
    /// soft bounces when `soft_limit` of them fell within
    /// [`SOFT_BOUNCE_WINDOW_DAYS`]), with the owner's pending deliveries to it.
    async fn record_feedback(
        &self,
        feedback: &NewFeedback,
        now: DateTime<Utc>,
    ) -> StoreResult<FeedbackApplied>;
    /// Bounces and complaints recorded, by kind, for the metrics.
    async fn feedback_counts(&self) -> StoreResult<Vec<(FeedbackKind, u64)>>;
}

/// The blog.
#[cfg_attr(any(test, feature = "mocks"), automock)]
#[async_trait]
pub trait BlogStore: Send + Sync {
    /// Creates a post (`published_at` set when published).
    async fn create_post(&self, draft: &PostDraft, now: DateTime<Utc>) -> StoreResult<BlogPost>;
    /// Updates a post (`published_at` set when first published).
    async fn update_post(
        &self,
        id: PostId,
        draft: &PostDraft,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<BlogPost>>;
    /// Deletes a post.
    async fn delete_post(&self, id: PostId) -> StoreResult<bool>;
    /// A post by id.
    async fn post(&self, id: PostId) -> StoreResult<Option<BlogPost>>;
    /// Counts one view of a published post and returns it.
    async fn view_post(&self, id: PostId) -> StoreResult<Option<BlogPost>>;
    /// Posts, newest published first; only published ones unless `include_drafts`.
    async fn list_posts(
        &self,
        include_drafts: bool,
        query: &ListQuery,
    ) -> StoreResult<Page<BlogPost>>;
    /// Up to `n` published posts picked at random.
    async fn random_posts(&self, n: u32) -> StoreResult<Vec<BlogPost>>;
}

/// Figures for the home page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    /// All mailings.
    pub mailings: u64,
    /// Mailings whose status is running.
    pub running_mailings: u64,
    /// Distinct client addresses across all owners.
    pub unique_clients: u64,
}

/// Home-page statistics.
#[cfg_attr(any(test, feature = "mocks"), automock)]
#[async_trait]
pub trait StatsStore: Send + Sync {
    /// The figures at `now`.
    async fn stats(&self, now: DateTime<Utc>) -> StoreResult<Stats>;
    /// Whether the store answers (for readiness checks).
    async fn ping(&self) -> StoreResult<()>;
    /// Deliveries waiting to be sent (pending, retries included), for the
    /// queue-depth metric.
    async fn pending_deliveries(&self) -> StoreResult<u64>;
}

/// Every store port in one: what an adapter implements to back the whole service.
pub trait Store:
    UserStore
    + SessionStore
    + ClientStore
    + MessageStore
    + MailingStore
    + DeliveryQueue
    + RunStore
    + SuppressionStore
    + BlogStore
    + StatsStore
{
}

impl<T> Store for T where
    T: UserStore
        + SessionStore
        + ClientStore
        + MessageStore
        + MailingStore
        + DeliveryQueue
        + RunStore
        + SuppressionStore
        + BlogStore
        + StatsStore
{
}

/// Counters of attempts kept in the store, so that a limit (sign-ins per
/// minute, say) holds across every process sharing it, not per process.
#[cfg_attr(any(test, feature = "mocks"), automock)]
#[async_trait]
pub trait AttemptStore: Send + Sync {
    /// Counts one attempt under `key` in the window that began at `window`
    /// (a counter from an earlier window starts again at one). Returns the
    /// attempts counted in this window, this one included.
    async fn count_attempt(&self, key: &str, window: DateTime<Utc>) -> StoreResult<u32>;
}

/// An email ready to hand to a transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEmail {
    /// Recipient address.
    pub to: EmailAddress,
    /// Recipient name (may be empty).
    pub to_name: String,
    /// The name shown beside the service's From address; `None`: the
    /// service's own name.
    pub from_name: Option<String>,
    /// The `Reply-To` address, if any.
    pub reply_to: Option<EmailAddress>,
    /// One-line subject.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body, if any.
    pub html: Option<String>,
    /// Message-ID header, with angle brackets; stable across retries.
    pub message_id: String,
    /// The recipient's one-click unsubscribe URL (RFC 8058), for mailings.
    pub unsubscribe_url: Option<String>,
    /// The envelope sender (`MAIL FROM`), where bounces go: a per-delivery
    /// address (VERP) when a bounce domain is set; `None`: the From address.
    pub return_path: Option<EmailAddress>,
    /// The `Feedback-ID` header (mailing, owner, service) that mailbox
    /// providers' feedback loops report complaints by, for mailings.
    pub feedback_id: Option<String>,
}

/// Why a send failed, classified so the engine knows whether to retry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// A 5xx reply: retrying will not help.
    #[error("{reply}")]
    Permanent {
        /// The server's reply.
        reply: String,
    },
    /// A 4xx reply: try again later.
    #[error("{reply}")]
    Transient {
        /// The server's reply.
        reply: String,
    },
    /// No reply: the connection failed, dropped or timed out. Retried.
    #[error("connection error: {detail}")]
    Connection {
        /// What went wrong.
        detail: String,
    },
}

/// Sends one rendered email.
#[cfg_attr(any(test, feature = "mocks"), automock)]
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends it; returns the server's reply to the message.
    async fn send(&self, email: &OutgoingEmail) -> Result<String, SendError>;
}

/// The time, so scheduling and the engine can run on a manual clock in tests.
#[cfg_attr(any(test, feature = "mocks"), automock)]
#[async_trait]
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
    /// Resolves once `now()` has reached `deadline`.
    async fn sleep_until(&self, deadline: DateTime<Utc>);
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

#[async_trait]
impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
    async fn sleep_until(&self, deadline: DateTime<Utc>) {
        let wait = (deadline - Utc::now()).to_std().unwrap_or_default();
        tokio::time::sleep(wait).await;
    }
}

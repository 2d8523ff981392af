//! Use cases. Each takes the [`Actor`](crate::policy::Actor) making the request,
//! checks the permission table, validates input and calls the ports. The server's
//! pages and JSON API call these and nothing else, so they cannot disagree.

mod account_mail;
mod accounts;
mod blog;
mod clients;
mod feedback;
mod gate;
pub use gate::ACCOUNT_REUSE;
mod log;
mod mailings;
mod messages;
mod previews;
mod stats;

use std::sync::Arc;

use chrono::Duration;

pub use accounts::{AccountService, NewAccount, ProfileEdit, Session};
pub use blog::BlogService;
pub use clients::{ClientService, UnsubscribeInfo};
pub use feedback::{FeedbackOutcome, FeedbackService, SuppressionScope, SuppressionService};
pub use log::{LogService, RunDetail};
pub use mailings::{MailingOwner, MailingScope, MailingService, MailingView};
pub use messages::MessageService;
pub use previews::{
    PreviewService, SAMPLE_EMAIL, SAMPLE_NAME, TEST_SEND_WINDOW_MINUTES, TEST_SENDS_PER_WINDOW,
};
pub use stats::{HomePage, StatsService};

use crate::Error;
use crate::engine::{Engine, EngineConfig, Wakeup};
use crate::links::{BaseUrlLinks, Links};
use crate::ports::{
    BlogStore, ClientStore, Clock, DeliveryQueue, Mailer, MailingStore, MessageStore,
    OutgoingEmail, RunStore, SendError, SessionStore, StatsStore, Store, SuppressionStore,
    SystemClock, UserStore,
};
use gate::Gate;

/// Settings the use cases need (the URLs emails link to are set on the
/// builder: [`SkyMailingBuilder::base_url`] or [`SkyMailingBuilder::links`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// Name shown in account emails.
    pub service_name: String,
    /// How long a session lasts.
    pub session_ttl: Duration,
    /// How long an email-verification link works.
    pub verify_ttl: Duration,
    /// How long a password-reset link works.
    pub reset_ttl: Duration,
    /// When a run pauses itself for its failures and bounces (the engine
    /// takes its own copy in `EngineConfig::pause`).
    pub pause: crate::PausePolicy,
    /// How long the home page's figures and posts are reused before they are
    /// read again (they may lag this much; zero reads them every time).
    pub home_cache_ttl: std::time::Duration,
    /// How long an account read to admit an actor serves the next use cases
    /// (the other calls of the same request); changes made through these
    /// use cases apply at once, other processes' within this (default
    /// [`ACCOUNT_REUSE`]; zero: read every time).
    pub account_reuse: std::time::Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            service_name: "SkyMailing".into(),
            session_ttl: Duration::days(30),
            verify_ttl: Duration::days(2),
            reset_ttl: Duration::hours(1),
            pause: crate::PausePolicy::default(),
            home_cache_ttl: std::time::Duration::from_secs(1),
            account_reuse: gate::ACCOUNT_REUSE,
        }
    }
}

/// Every use case over one store, one mailer and one clock. Build it with
/// [`SkyMailing::builder`].
#[derive(Clone)]
pub struct SkyMailing {
    /// Registration, sign-in, sessions, passwords, users and roles.
    pub accounts: AccountService,
    /// Clients.
    pub clients: ClientService,
    /// Messages.
    pub messages: MessageService,
    /// Mailings.
    pub mailings: MailingService,
    /// Message previews and test sends.
    pub previews: PreviewService,
    /// The log of runs.
    pub logs: LogService,
    /// The blog.
    pub blog: BlogService,
    /// Home-page statistics.
    pub stats: StatsService,
    /// The suppression list.
    pub suppressions: SuppressionService,
    /// Bounces and complaints, for the intakes (the bounce listener, the webhook).
    pub feedback: FeedbackService,
    /// Wakes the engine when mailings change.
    wakeup: Wakeup,
    /// The port the engine drives: reached only through the engine, so no
    /// caller can go around a permission check.
    queue: Arc<dyn DeliveryQueue>,
    clock: Arc<dyn Clock>,
    links: Arc<dyn Links>,
    config: Arc<Config>,
}

/// Builds a [`SkyMailing`]: one store for every port, unless a port is
/// given on its own (a mock, or another implementation), the mailer for
/// account mail, the clock, and where the emails' links point.
///
/// ```
/// # #[cfg(feature = "testkit")] {
/// use std::sync::Arc;
/// use skymailing_core::SkyMailing;
/// use skymailing_core::testkit::{MemoryStore, RecordingMailer};
///
/// let app = SkyMailing::builder(Arc::new(MemoryStore::new()))
///     .mailer(Arc::new(RecordingMailer::new()))
///     .base_url("https://mail.example.com")
///     .build()
///     .expect("a valid base URL");
/// assert_eq!(
///     app.links().unsubscribe("ab12"),
///     "https://mail.example.com/unsubscribe/ab12"
/// );
/// # }
/// ```
#[must_use]
pub struct SkyMailingBuilder {
    store: Arc<dyn Store>,
    users: Option<Arc<dyn UserStore>>,
    sessions: Option<Arc<dyn SessionStore>>,
    clients: Option<Arc<dyn ClientStore>>,
    messages: Option<Arc<dyn MessageStore>>,
    mailings: Option<Arc<dyn MailingStore>>,
    queue: Option<Arc<dyn DeliveryQueue>>,
    runs: Option<Arc<dyn RunStore>>,
    posts: Option<Arc<dyn BlogStore>>,
    stats: Option<Arc<dyn StatsStore>>,
    suppressions: Option<Arc<dyn SuppressionStore>>,
    mailer: Option<Arc<dyn Mailer>>,
    clock: Arc<dyn Clock>,
    base_url: Option<String>,
    links: Option<Arc<dyn Links>>,
    config: Config,
}

impl SkyMailing {
    /// A builder over `store`, which serves every port not given on its own.
    /// Defaults: the system clock, links under `http://127.0.0.1:8000`, and
    /// no mailer for account mail (each account email fails with a logged
    /// error until [`SkyMailingBuilder::mailer`] is set).
    pub fn builder(store: Arc<dyn Store>) -> SkyMailingBuilder {
        SkyMailingBuilder {
            store,
            users: None,
            sessions: None,
            clients: None,
            messages: None,
            mailings: None,
            queue: None,
            runs: None,
            posts: None,
            stats: None,
            suppressions: None,
            mailer: None,
            clock: Arc::new(SystemClock),
            base_url: None,
            links: None,
            config: Config::default(),
        }
    }
}

impl SkyMailingBuilder {
    /// The mailer of account mail (verification, password reset). The
    /// engine's mailer is given to [`SkyMailing::engine`]; pass the same one
    /// unless account mail should leave another way.
    pub fn mailer(mut self, mailer: Arc<dyn Mailer>) -> Self {
        self.mailer = Some(mailer);
        self
    }
    /// The clock (a [`testkit::ManualClock`](crate::testkit) in tests).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
    /// The public URL the emails' links start with (see [`crate::links`]):
    /// the one place it is set, for account mail and the engine alike.
    /// Checked by [`build`](Self::build).
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = Some(base_url.into());
        self
    }
    /// Links built by the application instead of under a base URL.
    pub fn links(mut self, links: Arc<dyn Links>) -> Self {
        self.links = Some(links);
        self
    }
    /// Session and link lifetimes, the name in account mail, and how long
    /// the home page and the accounts read to admit actors are reused.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }
    /// Users, instead of the store's.
    pub fn user_store(mut self, port: Arc<dyn UserStore>) -> Self {
        self.users = Some(port);
        self
    }
    /// Sessions and one-time tokens, instead of the store's.
    pub fn session_store(mut self, port: Arc<dyn SessionStore>) -> Self {
        self.sessions = Some(port);
        self
    }
    /// Clients, instead of the store's.
    pub fn client_store(mut self, port: Arc<dyn ClientStore>) -> Self {
        self.clients = Some(port);
        self
    }
    /// Messages, instead of the store's.
    pub fn message_store(mut self, port: Arc<dyn MessageStore>) -> Self {
        self.messages = Some(port);
        self
    }
    /// Mailings, instead of the store's.
    pub fn mailing_store(mut self, port: Arc<dyn MailingStore>) -> Self {
        self.mailings = Some(port);
        self
    }
    /// The delivery queue the engine drives, instead of the store's.
    pub fn delivery_queue(mut self, port: Arc<dyn DeliveryQueue>) -> Self {
        self.queue = Some(port);
        self
    }
    /// The log of runs, instead of the store's.
    pub fn run_store(mut self, port: Arc<dyn RunStore>) -> Self {
        self.runs = Some(port);
        self
    }
    /// Blog posts, instead of the store's.
    pub fn blog_store(mut self, port: Arc<dyn BlogStore>) -> Self {
        self.posts = Some(port);
        self
    }
    /// Statistics and probes, instead of the store's.
    pub fn stats_store(mut self, port: Arc<dyn StatsStore>) -> Self {
        self.stats = Some(port);
        self
    }

    /// Overrides the suppression list and feedback port.
    pub fn suppression_store(mut self, port: Arc<dyn SuppressionStore>) -> Self {
        self.suppressions = Some(port);
        self
    }

    /// The use cases. [`Error::Invalid`] on `base_url` if it is not an
    /// `http(s)://` URL with a host.
    pub fn build(self) -> Result<SkyMailing, Error> {
        let links: Arc<dyn Links> = match (self.links, self.base_url) {
            (Some(links), _) => links,
            (None, Some(url)) => Arc::new(BaseUrlLinks::new(&url)?),
            (None, None) => Arc::new(BaseUrlLinks::default()),
        };
        let store = self.store;
        let users = self.users.unwrap_or_else(|| store.clone());
        let sessions = self.sessions.unwrap_or_else(|| store.clone());
        let clients = self.clients.unwrap_or_else(|| store.clone());
        let messages = self.messages.unwrap_or_else(|| store.clone());
        let mailings = self.mailings.unwrap_or_else(|| store.clone());
        let queue = self.queue.unwrap_or_else(|| store.clone());
        let runs = self.runs.unwrap_or_else(|| store.clone());
        let posts = self.posts.unwrap_or_else(|| store.clone());
        let stats = self.stats.unwrap_or_else(|| store.clone());
        let suppressions = self.suppressions.unwrap_or_else(|| store.clone());
        let mailer = self.mailer.unwrap_or_else(|| Arc::new(NoMailer));
        let clock = self.clock;
        let config = Arc::new(self.config);
        let wakeup = Wakeup::new();
        // One cache of accounts for every use case, and a user store that
        // forgets an account whenever a use case changes it.
        let accounts = Arc::new(gate::AccountCache::new(config.account_reuse));
        let users: Arc<dyn UserStore> = Arc::new(gate::ForgetfulUsers {
            inner: users,
            cache: accounts.clone(),
        });
        let gate = Gate::new(users.clone(), accounts);
        Ok(SkyMailing {
            accounts: AccountService::new(
                sessions,
                mailer.clone(),
                clock.clone(),
                config.clone(),
                links.clone(),
                wakeup.clone(),
                gate.clone(),
            ),
            clients: ClientService::new(clients.clone(), clock.clone(), gate.clone()),
            messages: MessageService::new(messages.clone(), clock.clone(), gate.clone()),
            previews: PreviewService::new(
                previews::PreviewParts {
                    users: users.clone(),
                    clients: clients.clone(),
                    messages,
                    mailings: mailings.clone(),
                    mailer,
                    links: links.clone(),
                    clock: clock.clone(),
                },
                gate.clone(),
            ),
            mailings: MailingService::new(
                mailings,
                clients,
                users,
                runs.clone(),
                clock.clone(),
                wakeup.clone(),
                gate.clone(),
            ),
            logs: LogService::new(
                runs,
                queue.clone(),
                clock.clone(),
                gate.clone(),
                wakeup.clone(),
            ),
            suppressions: SuppressionService::new(
                suppressions.clone(),
                clock.clone(),
                gate.clone(),
            ),
            feedback: FeedbackService::new(
                suppressions,
                queue.clone(),
                clock.clone(),
                config.pause,
            ),
            blog: BlogService::new(posts.clone(), clock.clone(), gate),
            stats: StatsService::new(stats, posts, clock.clone()).with_cache(config.home_cache_ttl),
            wakeup,
            queue,
            clock,
            links,
            config,
        })
    }
}

/// The account mailer of a [`SkyMailing`] built without one.
struct NoMailer;

#[async_trait::async_trait]
impl Mailer for NoMailer {
    async fn send(&self, _: &OutgoingEmail) -> Result<String, SendError> {
        Err(SendError::Connection {
            detail: "no mailer for account mail: set SkyMailingBuilder::mailer".into(),
        })
    }
}

impl SkyMailing {
    /// Now, by the service's clock (pages show times relative to it).
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The URLs emails link to (see [`crate::links`]).
    pub fn links(&self) -> &Arc<dyn Links> {
        &self.links
    }

    /// The wake-up handle: waking it makes the engine look for work at once
    /// (for changes made outside these use cases, such as another process's
    /// notification).
    pub fn wakeup(&self) -> Wakeup {
        self.wakeup.clone()
    }

    /// An engine over the same delivery queue, clock, links and wake-up
    /// handle, so changes made through these use cases wake it at once.
    /// `mailer` sends the mailings.
    pub fn engine(&self, mailer: Arc<dyn Mailer>, config: EngineConfig) -> Engine {
        Engine::new(
            self.queue.clone(),
            mailer,
            self.clock.clone(),
            self.links.clone(),
            config,
            self.wakeup.clone(),
        )
    }
}

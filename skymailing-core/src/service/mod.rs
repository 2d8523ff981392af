//! Use cases. Each takes the [`Actor`](crate::policy::Actor) making the request,
//! checks the permission table, validates input and calls the ports. The server's
//! pages and JSON API call these and nothing else, so they cannot disagree.

mod account_mail;
mod accounts;
mod blog;
mod clients;
mod log;
mod mailings;
mod messages;
mod stats;

use std::sync::Arc;

use chrono::Duration;

pub use accounts::{AccountService, Session};
pub use blog::BlogService;
pub use clients::{ClientService, UnsubscribeInfo};
pub use log::{LogService, RunDetail};
pub use mailings::{MailingScope, MailingService, MailingView};
pub use messages::MessageService;
pub use stats::{HomePage, StatsService};

use crate::engine::{Engine, EngineConfig, Wakeup};
use crate::ports::{Clock, Mailer, Store};

/// Settings the use cases need.
#[derive(Debug, Clone)]
pub struct Config {
    /// Public URL of the service, without a trailing slash; links in emails start with it.
    pub base_url: String,
    /// Name shown in account emails.
    pub service_name: String,
    /// How long a session lasts.
    pub session_ttl: Duration,
    /// How long an email-verification link works.
    pub verify_ttl: Duration,
    /// How long a password-reset link works.
    pub reset_ttl: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            base_url: "http://127.0.0.1:8000".into(),
            service_name: "SkyMailing".into(),
            session_ttl: Duration::days(30),
            verify_ttl: Duration::days(2),
            reset_ttl: Duration::hours(1),
        }
    }
}

/// Every use case over one store, one mailer and one clock.
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
    /// The log of runs.
    pub logs: LogService,
    /// The blog.
    pub blog: BlogService,
    /// Home-page statistics.
    pub stats: StatsService,
    /// Wakes the engine when mailings change; share it with [`crate::engine::Engine`].
    pub wakeup: Wakeup,
    /// The store: reached only through the use cases, so no caller can go
    /// around a permission check.
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    /// The settings.
    pub config: Arc<Config>,
}

impl SkyMailing {
    /// Wires every use case to the ports. `mailer` sends the account emails
    /// (verification, password reset).
    pub fn new(
        store: Arc<dyn Store>,
        mailer: Arc<dyn Mailer>,
        clock: Arc<dyn Clock>,
        config: Config,
    ) -> Self {
        let config = Arc::new(config);
        let wakeup = Wakeup::new();
        SkyMailing {
            accounts: AccountService::new(
                store.clone(),
                store.clone(),
                mailer,
                clock.clone(),
                config.clone(),
                wakeup.clone(),
            ),
            clients: ClientService::new(store.clone(), clock.clone()),
            messages: MessageService::new(store.clone(), clock.clone()),
            mailings: MailingService::new(
                store.clone(),
                store.clone(),
                store.clone(),
                clock.clone(),
                wakeup.clone(),
            ),
            logs: LogService::new(store.clone(), store.clone(), clock.clone()),
            blog: BlogService::new(store.clone(), clock.clone()),
            stats: StatsService::new(store.clone(), store.clone(), clock.clone()),
            wakeup,
            store,
            clock,
            config,
        }
    }
}

impl SkyMailing {
    /// Now, by the service's clock (pages show times relative to it).
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// An engine over the same store, clock and wake-up handle, so changes made
    /// through these use cases wake it at once. Unsubscribe links in mailings
    /// start with this service's `base_url`.
    pub fn engine(&self, mailer: Arc<dyn Mailer>, mut config: EngineConfig) -> Engine {
        config.base_url = self.config.base_url.clone();
        Engine::new(
            self.store.clone(),
            mailer,
            self.clock.clone(),
            config,
            self.wakeup.clone(),
        )
    }
}

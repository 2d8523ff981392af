//! The wiring: which store, which mail transport, which settings. The only
//! place in the server that names an adapter.

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use skymailing_core::SkyMailing;
use skymailing_core::engine::{DomainLimit, Engine, EngineConfig, EngineHandle};
use skymailing_core::ports::{Clock, Mailer, Store, SystemClock};
use skymailing_smtp::{DkimSigner, Outbox, TransportOptions, mailer_from_url, parse_from};
use skymailing_store_pg::PgStore;
use skymailing_store_sqlite::SqliteStore;
use tokio::task::JoinHandle;

use crate::net::{NetPolicy, default_allowed_hosts};
use crate::ratelimit::{Limiters, RateLimits};

/// Where the data lives, as given by `--database-url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// `postgres://…` or `postgresql://…`.
    Postgres(String),
    /// `sqlite://path`, `sqlite:path` or a plain file path.
    Sqlite(PathBuf),
}

impl StoreUrl {
    /// Reads a `--database-url` value.
    pub fn parse(url: &str) -> Result<Self, StartError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(StoreUrl::Postgres(url.to_owned()))
        } else if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.trim_start_matches("//");
            let path = path.split('?').next().unwrap_or_default();
            if path.is_empty() || path.contains(":memory:") {
                return Err(StartError::Option {
                    option: "--database-url",
                    reason: "an SQLite URL must name a file, e.g. sqlite://skymailing.db".into(),
                });
            }
            Ok(StoreUrl::Sqlite(PathBuf::from(path)))
        } else if url.contains("://") {
            Err(StartError::Option {
                option: "--database-url",
                reason: format!("`{}` is neither postgres:// nor sqlite://", redact(url)),
            })
        } else {
            Ok(StoreUrl::Sqlite(PathBuf::from(url)))
        }
    }
}

/// Everything the server needs to start; the CLI fills it from flags and the
/// environment, tests from code.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address to listen on.
    pub bind: String,
    /// The database.
    pub database_url: String,
    /// The mail transport: `outbox:DIR`, `smtp://…` or `smtps://…`.
    pub mail_url: String,
    /// Public URL of the service, for links in emails.
    pub base_url: String,
    /// The From mailbox of every email.
    pub from: String,
    /// Sends in flight per batch.
    pub concurrency: usize,
    /// Batches worked at once.
    pub parallel_batches: usize,
    /// Deliveries claimed per batch.
    pub batch_size: u32,
    /// How long a worker's claim on a delivery lasts (renewed while it works).
    pub lease: Duration,
    /// Longest wait for one send.
    pub send_timeout: Duration,
    /// Optional cap, messages per second, for every process sending through
    /// the same relay on this database (a budget kept in the store).
    pub rate_limit: Option<NonZeroU32>,
    /// Caps on messages per second to single recipient domains, shared like
    /// `rate_limit`.
    pub domain_limits: Vec<DomainLimit>,
    /// Limits on sign-in, registration and password-reset requests.
    pub rate_limits: RateLimits,
    /// The key of the pages' CSRF tokens. [`Service::open`] keeps a random
    /// one in the database when absent; [`Service::from_parts`] makes a
    /// random one per process.
    pub secret: Option<String>,
    /// Host names the service answers to (any other `Host` gets 400); `None`:
    /// the base URL's host, `localhost`, `127.0.0.1` and `[::1]`; empty: any.
    pub allowed_hosts: Option<Vec<String>>,
    /// Proxies whose forwarding headers name the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Connection caps and the deadlines of slow clients.
    pub conn_limits: crate::conn::ConnLimits,
    /// Where uploaded blog images are kept.
    pub uploads_dir: PathBuf,
    /// DKIM: the private key file (PEM), its selector and signing domain;
    /// all three or none.
    pub dkim: Option<DkimSettings>,
    /// The domain of the per-delivery return paths (`bounces+TOKEN@domain`).
    pub bounce_domain: Option<String>,
    /// Where the bounce listener takes mail (needs `bounce_domain`).
    pub bounce_listen: Option<std::net::SocketAddr>,
    /// The shared secret of the bounce webhook; the webhook is off without it.
    pub bounce_webhook_secret: Option<String>,
    /// When a run pauses itself for its failures and bounces.
    pub pause: skymailing_core::PausePolicy,
}

/// Where the DKIM key is and what it signs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DkimSettings {
    /// The private key file.
    pub key: PathBuf,
    /// The selector (`s=`).
    pub selector: String,
    /// The signing domain (`d=`).
    pub domain: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            bind: "127.0.0.1:8000".into(),
            database_url: "sqlite://skymailing.db".into(),
            mail_url: "outbox:outbox".into(),
            base_url: "http://127.0.0.1:8000".into(),
            from: "SkyMailing <no-reply@skymailing.localhost>".into(),
            concurrency: 8,
            parallel_batches: 2,
            batch_size: 500,
            lease: Duration::from_secs(30),
            send_timeout: Duration::from_secs(15),
            rate_limit: None,
            domain_limits: Vec::new(),
            rate_limits: RateLimits::default(),
            secret: None,
            uploads_dir: PathBuf::from("uploads"),
            allowed_hosts: None,
            trusted_proxies: Vec::new(),
            conn_limits: crate::conn::ConnLimits::default(),
            dkim: None,
            bounce_domain: None,
            bounce_listen: None,
            bounce_webhook_secret: None,
            pause: skymailing_core::PausePolicy::default(),
        }
    }
}

/// Why the server could not start: each names the option to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// An option's value is wrong.
    #[error("{option}: {reason}")]
    Option {
        /// The flag, e.g. `--mail-url`.
        option: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The database cannot be opened or migrated.
    #[error("--database-url: cannot use the database: {0}")]
    Database(String),
}

/// The running parts of one server process: the use cases, the mailer, and
/// what the HTTP layer needs beside them.
#[derive(Clone)]
pub struct Service {
    /// Every use case.
    pub app: SkyMailing,
    /// The transport for mailings (and account emails).
    pub mailer: Arc<dyn Mailer>,
    /// The outbox, when mail goes to a local folder instead of a relay.
    pub outbox: Option<Arc<Outbox>>,
    /// The settings it was built from.
    pub settings: Arc<Settings>,
    pub(crate) limiters: Arc<Limiters>,
    /// Allowed hosts and trusted proxies.
    pub(crate) net: Arc<NetPolicy>,
    secret_key: [u8; 32],
    listener: Option<Arc<JoinHandle<()>>>,
    /// The SQLite store, when that is the store: checkpointed at close, and
    /// what `backup` copies.
    sqlite: Option<Arc<SqliteStore>>,
    engine: Arc<OnceLock<EngineHandle>>,
}

impl Service {
    /// Opens the database named by the settings (applying migrations), builds
    /// the mail transport and wires the use cases.
    pub async fn open(settings: Settings) -> Result<Service, StartError> {
        let base_url = check_base_url(&settings.base_url)?;
        if settings
            .bounce_webhook_secret
            .as_ref()
            .is_some_and(|s| s.chars().count() < crate::webhook::MIN_SECRET_LEN)
        {
            return Err(StartError::Option {
                option: "--bounce-webhook-secret",
                reason: format!(
                    "too short: use at least {} characters (a random string)",
                    crate::webhook::MIN_SECRET_LEN
                ),
            });
        }
        let (mailer, outbox) = open_mailer(&settings).await?;
        let (store, pg, sqlite): (Arc<dyn Store>, Option<PgStore>, Option<Arc<SqliteStore>>) =
            match StoreUrl::parse(&settings.database_url)? {
                StoreUrl::Postgres(url) => {
                    PgStore::probe(&url, Duration::from_secs(10))
                        .await
                        .map_err(StartError::Database)?;
                    let pg = PgStore::connect(&url)
                        .await
                        .map_err(|e| StartError::Database(e.to_string()))?;
                    (Arc::new(pg.clone()), Some(pg), None)
                }
                StoreUrl::Sqlite(path) => {
                    let store = SqliteStore::open(&path)
                        .await
                        .map_err(|e| StartError::Database(format!("{}: {e}", path.display())))?;
                    let store = Arc::new(store);
                    (store.clone(), None, Some(store))
                }
            };
        // Without --secret the pages' CSRF key is made once and kept in the
        // database, so forms open in a browser survive a restart (and every
        // process on the database shares it).
        let secret = match settings.secret.clone().filter(|s| !s.is_empty()) {
            Some(s) => Some(s),
            None => {
                let mut fresh = [0u8; 32];
                getrandom::fill(&mut fresh).expect("the system's random source");
                let fresh = hex::encode(fresh);
                let kept = match (&pg, &sqlite) {
                    (Some(pg), _) => pg.service_secret("csrf", &fresh).await,
                    (_, Some(db)) => db.service_secret("csrf", &fresh).await,
                    _ => Ok(fresh),
                };
                Some(kept.map_err(|e| StartError::Database(e.to_string()))?)
            }
        };
        let mut service = Service::from_parts(
            store,
            mailer,
            outbox,
            Arc::new(SystemClock),
            Settings {
                base_url,
                secret,
                ..settings
            },
        );
        service.sqlite = sqlite;
        // Changes made by other processes on the same PostgreSQL database
        // (web replicas, workers) wake this engine at once.
        if let Some(pg) = pg {
            service.listener = Some(Arc::new(pg.listen(service.app.wakeup())));
            // Sign-in, registration and reset limits hold across every
            // process on the database, so replicas do not multiply them.
            service.limiters =
                Arc::new(Limiters::new(&service.settings.rate_limits).shared(Arc::new(pg)));
        }
        Ok(service)
    }

    /// Wires the use cases over given parts: for tests and embedders.
    ///
    /// Panics if `settings.base_url` is not an `http(s)://` URL with a host
    /// ([`Service::open`] checks it first and answers with an error).
    pub fn from_parts(
        store: Arc<dyn Store>,
        mailer: Arc<dyn Mailer>,
        outbox: Option<Arc<Outbox>>,
        clock: Arc<dyn Clock>,
        settings: Settings,
    ) -> Service {
        let mut config = skymailing_core::Config::default();
        config.pause = settings.pause;
        let app = SkyMailing::builder(store)
            .mailer(mailer.clone())
            .clock(clock)
            .base_url(&settings.base_url)
            .config(config)
            .build()
            .expect("the settings' base URL was checked");
        Service::from_app(app, mailer, outbox, settings)
    }

    /// Serves an application's own [`SkyMailing`] (built with its links under
    /// `settings.base_url`): what an embedder passes to [`crate::public_routes`]
    /// or [`crate::routes`]. `mailer` is the one its engine sends with.
    pub fn from_app(
        app: SkyMailing,
        mailer: Arc<dyn Mailer>,
        outbox: Option<Arc<Outbox>>,
        settings: Settings,
    ) -> Service {
        // The host the links point at (as `Host` names it, brackets and all).
        let links_host = crate::net::url_host(&app.links().unsubscribe("x")).to_ascii_lowercase();
        Service {
            app,
            mailer,
            outbox,
            limiters: Arc::new(Limiters::new(&settings.rate_limits)),
            net: Arc::new(NetPolicy {
                allowed_hosts: match &settings.allowed_hosts {
                    Some(hosts) => hosts.iter().map(|h| h.to_ascii_lowercase()).collect(),
                    None => {
                        // The settings' host, and the host the app's links
                        // point at (should an embedder's settings differ).
                        let mut hosts = default_allowed_hosts(&settings.base_url);
                        if !links_host.is_empty() && !hosts.contains(&links_host) {
                            hosts.push(links_host);
                        }
                        hosts
                    }
                },
                trusted_proxies: settings.trusted_proxies.clone(),
            }),
            secret_key: secret_key(settings.secret.as_deref()),
            settings: Arc::new(settings),
            listener: None,
            sqlite: None,
            engine: Arc::new(OnceLock::new()),
        }
    }

    /// The delivery engine over this service's store and mailer.
    pub fn engine(&self) -> Engine {
        let s = &self.settings;
        // Under a rate limit a batch is at most a second's sending, so a run
        // started meanwhile has its share of a claim within about a second.
        let batch_size = match s.rate_limit {
            Some(rate) => s.batch_size.min(rate.get().max(1)),
            None => s.batch_size,
        };
        let config = EngineConfig {
            // One budget per relay for every process on this database.
            relay: relay_of(&s.mail_url),
            send_rate: s.rate_limit.map(NonZeroU32::get),
            domain_limits: s.domain_limits.clone(),
            batch_size,
            concurrency: s.concurrency.max(1),
            parallel_batches: s.parallel_batches.max(1),
            lease: s.lease,
            send_timeout: s.send_timeout,
            message_id_domain: crate::net::url_host(&s.base_url),
            bounce_domain: s.bounce_domain.clone(),
            pause: s.pause,
            ..EngineConfig::default()
        };
        self.app.engine(self.mailer.clone(), config)
    }

    /// Starts this process's engine under supervision (once; later calls
    /// return the same handle). `/readyz` then reports its health too.
    pub fn spawn_engine(&self) -> &EngineHandle {
        self.engine.get_or_init(|| Arc::new(self.engine()).spawn())
    }

    /// Starts the bounce listener on `--bounce-listen`, if it is set: mail
    /// to `bounces+TOKEN@<bounce domain>` is read as bounce and complaint
    /// reports and fed to the feedback use case. Returns the address it
    /// listens on.
    pub async fn start_bounce_listener(&self) -> Result<Option<std::net::SocketAddr>, StartError> {
        let Some(addr) = self.settings.bounce_listen else {
            return Ok(None);
        };
        let Some(domain) = self.settings.bounce_domain.clone() else {
            return Err(StartError::Option {
                option: "--bounce-listen",
                reason: "needs --bounce-domain (the domain of the return paths it takes mail for)"
                    .into(),
            });
        };
        let sink = Arc::new(FeedbackSink(self.app.feedback.clone()));
        let local = skymailing_smtp::start_bounce_listener(addr, &domain, 64, sink)
            .await
            .map_err(|e| StartError::Option {
                option: "--bounce-listen",
                reason: format!("cannot listen on {addr}: {e}"),
            })?;
        Ok(Some(local))
    }

    /// This process's engine, if it runs one.
    pub fn engine_handle(&self) -> Option<&EngineHandle> {
        self.engine.get()
    }

    /// The 32-byte key of the pages' CSRF protection.
    pub(crate) fn secret_key(&self) -> [u8; 32] {
        self.secret_key
    }

    /// The folder of uploaded images.
    /// Zero-setup mode: mail goes to the outbox and the service is reached
    /// on this machine only (its base URL names a loopback host).
    pub(crate) fn is_zero_setup(&self) -> bool {
        let host = crate::net::url_host(&self.settings.base_url);
        self.outbox.is_some() && matches!(host.as_str(), "localhost" | "127.0.0.1" | "[::1]" | "")
    }

    pub(crate) fn uploads_dir(&self) -> PathBuf {
        self.settings.uploads_dir.clone()
    }

    /// Stops background tasks (the PostgreSQL listener) and, on SQLite,
    /// moves the write-ahead log into the database file, so the file alone
    /// is the whole database.
    pub async fn close(&self) {
        if let Some(l) = &self.listener {
            l.abort();
        }
        if let Some(db) = &self.sqlite {
            db.close().await;
        }
    }

    /// Writes a consistent copy of the database to `path` while the service
    /// runs (SQLite only: use `pg_dump` for PostgreSQL).
    pub async fn backup(&self, path: &std::path::Path) -> Result<(), StartError> {
        let Some(db) = &self.sqlite else {
            return Err(StartError::Option {
                option: "backup",
                reason:
                    "only an SQLite database is copied by skymailing; use pg_dump for PostgreSQL"
                        .into(),
            });
        };
        if path.exists() {
            return Err(StartError::Option {
                option: "backup",
                reason: format!("{} exists already", path.display()),
            });
        }
        db.backup(path).await.map_err(|e| StartError::Option {
            option: "backup",
            reason: format!("cannot write {}: {e}", path.display()),
        })
    }
}

/// The bounce listener's reports go to the feedback use case; only a
/// failure to store one is a reason for the sender to try again.
struct FeedbackSink(skymailing_core::service::FeedbackService);

#[async_trait::async_trait]
impl skymailing_smtp::ReportSink for FeedbackSink {
    async fn keep(&self, report: skymailing_core::FeedbackReport) -> Result<(), String> {
        match self.0.record(&report).await {
            Ok(_) | Err(skymailing_core::Error::Invalid { .. }) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }
}

async fn open_mailer(
    settings: &Settings,
) -> Result<(Arc<dyn Mailer>, Option<Arc<Outbox>>), StartError> {
    let from = parse_from(&settings.from).map_err(|e| StartError::Option {
        option: "--from",
        reason: e.to_string(),
    })?;
    let dkim = match &settings.dkim {
        Some(d) => {
            let signer = DkimSigner::load(&d.key, &d.selector, &d.domain).map_err(|e| {
                StartError::Option {
                    option: match e {
                        skymailing_smtp::DkimError::Alignment { .. }
                        | skymailing_smtp::DkimError::Name { what: "domain", .. } => {
                            "--dkim-domain"
                        }
                        skymailing_smtp::DkimError::Name { .. } => "--dkim-selector",
                        _ => "--dkim-key",
                    },
                    reason: e.to_string(),
                }
            })?;
            signer
                .check_alignment(&from)
                .map_err(|e| StartError::Option {
                    option: "--dkim-domain",
                    reason: e.to_string(),
                })?;
            Some(Arc::new(signer))
        }
        None => None,
    };
    // Errors quote the URL: never with its password.
    let mail_err = |e: skymailing_smtp::ConfigError| StartError::Option {
        option: "--mail-url",
        reason: e
            .to_string()
            .replace(&settings.mail_url, &redact(&settings.mail_url)),
    };
    if let Some(dir) = settings.mail_url.strip_prefix("outbox:") {
        let dir = if dir.is_empty() { "outbox" } else { dir };
        let outbox = Arc::new(
            Outbox::open(dir, from)
                .await
                .map_err(|e| mail_err(e.into()))?
                .with_dkim(dkim),
        );
        // `--rate-limit` is the engine's, shared through the store by every
        // process (see `Service::engine`), not this process's alone.
        let mailer: Arc<dyn Mailer> = outbox.clone();
        return Ok((mailer, Some(outbox)));
    }
    // One connection per send in flight, so a send never waits for one.
    let in_flight = (settings.concurrency.max(1) * settings.parallel_batches.max(1)) as u32;
    let options = TransportOptions {
        from,
        pool_size: in_flight,
        timeout: settings.send_timeout,
        rate_limit: None,
        dkim,
    };
    let mailer = mailer_from_url(&settings.mail_url, &options)
        .await
        .map_err(mail_err)?;
    Ok((mailer, None))
}

/// What a send budget is kept for: the relay's host and port (never its
/// credentials), or the outbox folder.
fn relay_of(mail_url: &str) -> String {
    match mail_url.strip_prefix("outbox:") {
        Some(dir) => format!("outbox:{dir}"),
        None => {
            let rest = mail_url.split_once("://").map_or(mail_url, |(_, r)| r);
            let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
            authority
                .rsplit_once('@')
                .map_or(authority, |(_, h)| h)
                .to_ascii_lowercase()
        }
    }
}

/// SHA-256 of the configured secret, or 32 random bytes.
fn secret_key(secret: Option<&str>) -> [u8; 32] {
    use sha2::Digest;
    match secret.filter(|s| !s.is_empty()) {
        Some(s) => sha2::Sha256::digest(s.as_bytes()).into(),
        None => {
            let mut key = [0u8; 32];
            getrandom::fill(&mut key).expect("the system's random source");
            key
        }
    }
}

fn check_base_url(url: &str) -> Result<String, StartError> {
    // The same check as the links' own, so that a URL accepted here builds.
    match skymailing_core::links::BaseUrlLinks::new(url) {
        Ok(links) if !crate::net::url_host(links.base_url()).is_empty() => {
            Ok(links.base_url().to_owned())
        }
        _ => Err(StartError::Option {
            option: "--base-url",
            reason: format!(
                "`{}` is not an http:// or https:// URL with a host (and no query or fragment)",
                url.trim()
            ),
        }),
    }
}

/// A URL with the password of its user part replaced by `***`.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user, host)) => {
            let user = user.split_once(':').map_or(user, |(u, _)| u);
            format!("{scheme}://{user}:***@{host}{tail}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_select_the_store() {
        assert_eq!(
            StoreUrl::parse("postgres://u@h/db").unwrap(),
            StoreUrl::Postgres("postgres://u@h/db".into())
        );
        assert_eq!(
            StoreUrl::parse("sqlite://data/sky.db").unwrap(),
            StoreUrl::Sqlite("data/sky.db".into())
        );
        assert_eq!(
            StoreUrl::parse("sqlite:sky.db?mode=rwc").unwrap(),
            StoreUrl::Sqlite("sky.db".into())
        );
        assert_eq!(
            StoreUrl::parse("sky.db").unwrap(),
            StoreUrl::Sqlite("sky.db".into())
        );
        for bad in ["mysql://h/db", "sqlite::memory:", "sqlite://"] {
            let err = StoreUrl::parse(bad).unwrap_err().to_string();
            assert!(err.starts_with("--database-url: "), "{bad}: {err}");
        }
    }

    #[test]
    fn base_url_must_be_http() {
        assert_eq!(
            check_base_url("https://mail.example.com/").unwrap(),
            "https://mail.example.com"
        );
        assert!(check_base_url("mail.example.com").is_err());
        // What the links refuse is refused here, not a panic at start.
        assert!(check_base_url("https://mail.example.com/?x").is_err());
        assert!(check_base_url("https://mail.example.com/#top").is_err());
        assert_eq!(
            crate::net::url_host("http://user@example.com:8000/x"),
            "example.com"
        );
    }

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact("smtp://ann:s3cret@mail.example.com:587?tls=requred"),
            "smtp://ann:***@mail.example.com:587?tls=requred"
        );
        assert_eq!(redact("smtp://mail.example.com"), "smtp://mail.example.com");
        let err = StoreUrl::parse("mysql://root:hunter2@db/x")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
    }
}

//! The `skymailing` command line. Every option is also an environment
//! variable, so the same binary is configured by flags on a laptop and by the
//! environment in a container.

use std::net::SocketAddr;
use std::num::NonZeroU32;

use clap::{Args, Parser, Subcommand, ValueEnum};
use skymailing_core::engine::DomainLimit;

use crate::{RateLimits, Settings};

/// Scheduled email mailings to personal client lists.
#[derive(Debug, Parser)]
#[command(name = "skymailing", version, about)]
pub struct Cli {
    /// What to run; `serve` when absent.
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub options: Options,
}

/// The subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Serve HTTP and run the delivery engine in the same process.
    Serve,
    /// Run the delivery engine alone (scale-out next to `serve --no-worker`).
    Worker,
    /// Apply the database migrations and exit.
    Migrate,
    /// Write a consistent copy of the SQLite database to FILE, also while
    /// the server runs (for PostgreSQL use pg_dump).
    Backup {
        /// Where to write the copy (must not exist).
        file: std::path::PathBuf,
    },
    /// Create an admin account, or promote and re-password an existing one.
    /// The password comes from SKYMAILING_ADMIN_PASSWORD or a prompt.
    // Its help names only what it uses: the server's options (global, for
    // `serve` and `worker`) would bury them.
    #[command(override_help = CREATE_ADMIN_HELP)]
    CreateAdmin {
        /// The admin's email address.
        #[arg(long, env = "SKYMAILING_ADMIN_EMAIL")]
        email: String,
        /// The name shown for a new account.
        #[arg(long, env = "SKYMAILING_ADMIN_NAME", default_value = "Administrator")]
        name: String,
    },
    /// Generate a DKIM key: writes the private key (PEM, mode 0600) and
    /// prints the DNS record to publish.
    DkimKeygen {
        /// The signing domain (the From address's domain or a parent of it).
        #[arg(long)]
        domain: String,
        /// The selector: the record is published at SELECTOR._domainkey.DOMAIN.
        #[arg(long)]
        selector: String,
        /// `rsa` (2048 bits, understood everywhere) or `ed25519`.
        #[arg(long, value_enum, default_value = "rsa")]
        algorithm: KeyAlgorithm,
        /// Where to write the private key (refused if it exists).
        #[arg(long)]
        out: std::path::PathBuf,
    },
}

/// `create-admin --help`: its own options and the database's, nothing else.
const CREATE_ADMIN_HELP: &str = "\
Create an admin account, or promote and re-password an existing one.
The password comes from SKYMAILING_ADMIN_PASSWORD or a prompt.

Usage: skymailing create-admin --email <EMAIL> [--name <NAME>] [--database-url <URL>]

Options:
      --email <EMAIL>       The admin's email address [env: SKYMAILING_ADMIN_EMAIL=]
      --name <NAME>         The name shown for a new account [env: SKYMAILING_ADMIN_NAME=]
                            [default: Administrator]
      --database-url <URL>  postgres://… for PostgreSQL; sqlite://FILE (or a file path) for
                            SQLite [env: DATABASE_URL=] [default: sqlite://skymailing.db]
  -h, --help                Print help
";

/// A DKIM key algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyAlgorithm {
    /// RSA-2048.
    Rsa,
    /// Ed25519 (RFC 8463).
    Ed25519,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Options shared by every subcommand.
#[derive(Debug, Clone, Args)]
pub struct Options {
    /// Address to listen on [serve: default 127.0.0.1:8000]. A `worker` serves
    /// only /healthz, /readyz and /metrics there, and only when it is given.
    #[arg(long, env = "SKYMAILING_BIND", global = true)]
    pub bind: Option<SocketAddr>,
    /// `postgres://…` for PostgreSQL; `sqlite://FILE` (or a file path) for SQLite.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://skymailing.db",
        global = true
    )]
    pub database_url: String,
    /// `outbox:DIR` writes mail to files; `smtp://user:pass@host:port` or
    /// `smtps://…` sends it through a relay.
    #[arg(
        long,
        env = "SKYMAILING_MAIL_URL",
        default_value = "outbox:outbox",
        global = true
    )]
    pub mail_url: String,
    /// Public URL of the service, for links in emails [default: http://BIND].
    #[arg(long, env = "SKYMAILING_BASE_URL", global = true)]
    pub base_url: Option<String>,
    /// The From mailbox of every email.
    #[arg(
        long,
        env = "SKYMAILING_FROM",
        default_value = "SkyMailing <no-reply@skymailing.localhost>",
        global = true
    )]
    pub from: String,
    /// Serve HTTP only, without the delivery engine (web replicas).
    #[arg(long, env = "SKYMAILING_NO_WORKER", global = true)]
    pub no_worker: bool,
    /// Sends in flight per batch.
    #[arg(
        long,
        env = "SKYMAILING_CONCURRENCY",
        default_value_t = 8,
        global = true
    )]
    pub concurrency: usize,
    /// Batches worked at once.
    #[arg(
        long,
        env = "SKYMAILING_PARALLEL_BATCHES",
        default_value_t = 2,
        global = true
    )]
    pub parallel_batches: usize,
    /// Deliveries claimed per batch.
    #[arg(
        long,
        env = "SKYMAILING_BATCH_SIZE",
        default_value_t = 500,
        global = true
    )]
    pub batch_size: u32,
    /// Seconds a worker's claim on a delivery lasts; the live worker renews it
    /// every third of that, so a dead worker's deliveries move on within it.
    #[arg(
        long,
        env = "SKYMAILING_LEASE_SECS",
        default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(3..=3600),
        global = true
    )]
    pub lease_secs: u64,
    /// Seconds one send may take before it counts as a connection error
    /// (keep it well below the lease).
    #[arg(
        long,
        env = "SKYMAILING_SEND_TIMEOUT_SECS",
        default_value_t = 15,
        value_parser = clap::value_parser!(u64).range(1..=600),
        global = true
    )]
    pub send_timeout_secs: u64,
    /// Cap on messages per second for the whole service: every process sending
    /// through the same relay on this database shares it (none by default).
    #[arg(long, env = "SKYMAILING_RATE_LIMIT", global = true)]
    pub rate_limit: Option<NonZeroU32>,
    /// Caps on messages per second to single recipient domains, shared like
    /// `--rate-limit`: `gmail.com=20/s,yahoo.com=10/s`. A domain that answers
    /// "too many" is slowed down automatically, limit or not.
    #[arg(long, env = "SKYMAILING_DOMAIN_LIMIT", global = true, value_parser = parse_domain_limits)]
    pub domain_limit: Option<DomainLimits>,
    /// Sign-in, registration, reset and password-change requests allowed per minute, per
    /// client address and per email.
    #[arg(
        long,
        env = "SKYMAILING_AUTH_RATE_LIMIT",
        default_value_t = 10,
        global = true
    )]
    pub auth_rate_limit: u32,
    /// The key of the pages' CSRF tokens [default: a random key made once
    /// and kept in the database, shared by its processes and restarts].
    #[arg(long, env = "SKYMAILING_SECRET", global = true, hide_env_values = true)]
    pub secret: Option<String>,
    /// Host names this service answers to, comma-separated; any other `Host`
    /// gets 400 (the probes /healthz, /readyz and /metrics excepted) [default:
    /// the base URL's host, localhost, 127.0.0.1, [::1]]. `*` allows any.
    #[arg(long, env = "SKYMAILING_ALLOWED_HOSTS", global = true)]
    pub allowed_hosts: Option<String>,
    /// Reverse proxies (CIDRs or addresses, comma-separated) whose
    /// `X-Forwarded-For` (which proxies append to) names the client; without
    /// it the header is ignored, and a `Forwarded` header always is.
    #[arg(long, env = "SKYMAILING_TRUSTED_PROXIES", global = true, value_parser = parse_proxies)]
    pub trusted_proxies: Option<Proxies>,
    /// Connections open at once, in all; more are closed at once.
    #[arg(
        long,
        env = "SKYMAILING_MAX_CONNECTIONS",
        default_value_t = 2048,
        global = true
    )]
    pub max_connections: usize,
    /// Connections open at once from one client address (trusted proxies excepted).
    #[arg(
        long,
        env = "SKYMAILING_MAX_CONNECTIONS_PER_IP",
        default_value_t = 128,
        global = true
    )]
    pub max_connections_per_ip: usize,
    /// Seconds an open connection may wait before it starts a request.
    #[arg(
        long,
        env = "SKYMAILING_IDLE_TIMEOUT_SECS",
        default_value_t = 20,
        value_parser = clap::value_parser!(u64).range(1..=3600),
        global = true
    )]
    pub idle_timeout_secs: u64,
    /// Seconds a client has to send a request's header, however it trickles.
    #[arg(
        long,
        env = "SKYMAILING_HEADER_TIMEOUT_SECS",
        default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(1..=3600),
        global = true
    )]
    pub header_timeout_secs: u64,
    /// Where uploaded blog images are kept.
    #[arg(
        long,
        env = "SKYMAILING_UPLOADS_DIR",
        default_value = "uploads",
        global = true
    )]
    pub uploads_dir: std::path::PathBuf,
    /// DKIM private key (PEM: RSA PKCS#1 or PKCS#8, Ed25519 PKCS#8), as
    /// `dkim-keygen` writes it; every mail is signed with it.
    #[arg(long, env = "SKYMAILING_DKIM_KEY", global = true, requires_all = ["dkim_selector", "dkim_domain"])]
    pub dkim_key: Option<std::path::PathBuf>,
    /// DKIM selector (the record is at SELECTOR._domainkey.DOMAIN).
    #[arg(
        long,
        env = "SKYMAILING_DKIM_SELECTOR",
        global = true,
        requires = "dkim_key"
    )]
    pub dkim_selector: Option<String>,
    /// DKIM signing domain: the From address's domain or a parent of it.
    #[arg(
        long,
        env = "SKYMAILING_DKIM_DOMAIN",
        global = true,
        requires = "dkim_key"
    )]
    pub dkim_domain: Option<String>,
    /// Domain of the per-delivery return paths (`bounces+TOKEN@DOMAIN`):
    /// bounces name the delivery they are about. Point its MX at the
    /// bounce listener.
    #[arg(long, env = "SKYMAILING_BOUNCE_DOMAIN", global = true)]
    pub bounce_domain: Option<String>,
    /// Address of the inbound SMTP listener for bounces and complaints
    /// (needs --bounce-domain), e.g. 0.0.0.0:2525.
    #[arg(long, env = "SKYMAILING_BOUNCE_LISTEN", global = true)]
    pub bounce_listen: Option<SocketAddr>,
    /// Shared secret of `POST /api/v1/webhooks/bounces` (HMAC-SHA256); the
    /// webhook is off without it.
    #[arg(
        long,
        env = "SKYMAILING_BOUNCE_WEBHOOK_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub bounce_webhook_secret: Option<String>,
    /// A run whose failures and bounces pass this share of its attempts
    /// pauses itself until its owner resumes or cancels it (0.1 = 10 %).
    #[arg(long, env = "SKYMAILING_PAUSE_FAILURE_RATE", default_value_t = 0.1,
          value_parser = parse_rate, global = true)]
    pub pause_failure_rate: f64,
    /// ...but not before this many attempts.
    #[arg(
        long,
        env = "SKYMAILING_PAUSE_MIN_ATTEMPTS",
        default_value_t = 50,
        global = true
    )]
    pub pause_min_attempts: u64,
    /// Log format; the levels come from RUST_LOG (default `info,sqlx=warn,poem=warn`).
    #[arg(
        long,
        env = "SKYMAILING_LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,
}

/// The value of `--trusted-proxies`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxies(pub Vec<ipnet::IpNet>);

fn parse_proxies(list: &str) -> Result<Proxies, String> {
    crate::net::parse_proxies(list).map(Proxies)
}

/// A parsed `--domain-limit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainLimits(pub Vec<DomainLimit>);

fn parse_rate(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
        _ => Err("a share between 0 and 1, such as 0.1 for 10 %".into()),
    }
}

fn parse_domain_limits(list: &str) -> Result<DomainLimits, String> {
    DomainLimit::parse_list(list).map(DomainLimits)
}

impl Options {
    /// The server settings these options describe.
    pub fn settings(&self) -> Settings {
        let bind = self
            .bind
            .map_or_else(|| Settings::default().bind, |b| b.to_string());
        Settings {
            bind: bind.clone(),
            database_url: self.database_url.clone(),
            mail_url: self.mail_url.clone(),
            base_url: self
                .base_url
                .clone()
                .unwrap_or_else(|| format!("http://{bind}")),
            from: self.from.clone(),
            concurrency: self.concurrency,
            parallel_batches: self.parallel_batches,
            batch_size: self.batch_size,
            lease: std::time::Duration::from_secs(self.lease_secs),
            send_timeout: std::time::Duration::from_secs(self.send_timeout_secs),
            rate_limit: self.rate_limit,
            domain_limits: self.domain_limit.clone().map_or_else(Vec::new, |l| l.0),
            rate_limits: RateLimits::uniform(self.auth_rate_limit),
            secret: self.secret.clone(),
            uploads_dir: self.uploads_dir.clone(),
            allowed_hosts: self.allowed_hosts.as_deref().map(|list| {
                list.split(',')
                    .map(str::trim)
                    .filter(|h| !h.is_empty() && *h != "*")
                    .map(str::to_owned)
                    .collect()
            }),
            trusted_proxies: self.trusted_proxies.clone().map_or_else(Vec::new, |p| p.0),
            conn_limits: crate::conn::ConnLimits {
                max_connections: self.max_connections.max(1),
                max_per_address: self.max_connections_per_ip.max(1),
                idle_timeout: std::time::Duration::from_secs(self.idle_timeout_secs),
                header_timeout: std::time::Duration::from_secs(self.header_timeout_secs),
                trusted_proxies: self.trusted_proxies.clone().map_or_else(Vec::new, |p| p.0),
                ..crate::conn::ConnLimits::default()
            },
            dkim: self.dkim_key.clone().map(|key| crate::DkimSettings {
                key,
                selector: self.dkim_selector.clone().unwrap_or_default(),
                domain: self.dkim_domain.clone().unwrap_or_default(),
            }),
            bounce_domain: self
                .bounce_domain
                .as_deref()
                .map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase())
                .filter(|d| !d.is_empty()),
            bounce_listen: self.bounce_listen,
            bounce_webhook_secret: self.bounce_webhook_secret.clone().filter(|s| !s.is_empty()),
            pause: skymailing_core::PausePolicy {
                limit_per_mille: (self.pause_failure_rate * 1000.0).round() as u32,
                min_attempts: self.pause_min_attempts,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `create-admin --help` names its own options and the database's, and
    /// none of the server's; the hand-written text keeps up with the command.
    #[test]
    fn create_admin_help_shows_only_its_options() {
        use clap::CommandFactory;
        let mut cli = Cli::command();
        cli.build();
        let sub = cli
            .find_subcommand_mut("create-admin")
            .expect("the subcommand");
        let help = sub.render_help().to_string();
        for own in sub.get_arguments().filter(|a| !a.is_global_set()) {
            if let Some(long) = own.get_long() {
                assert!(
                    help.contains(&format!("--{long}")),
                    "--{long} missing:\n{help}"
                );
            }
        }
        assert!(help.contains("--database-url"), "{help}");
        for server in ["--bind", "--mail-url", "--secret", "--concurrency"] {
            assert!(!help.contains(server), "{server} shown:\n{help}");
        }
    }

    /// The declared defaults (the environment, which the test script sets,
    /// would override them in a parse).
    #[test]
    fn no_arguments_serve_with_zero_setup_defaults() {
        use clap::CommandFactory;
        let cmd = Cli::command();
        let default = |id: &str| {
            cmd.get_arguments()
                .find(|a| a.get_id() == id)
                .unwrap()
                .get_default_values()[0]
                .to_str()
                .unwrap()
                .to_owned()
        };
        assert_eq!(
            Settings::default().bind,
            "127.0.0.1:8000",
            "serve's address when none is given"
        );
        assert_eq!(default("database_url"), "sqlite://skymailing.db");
        assert_eq!(default("lease_secs"), "30");
        assert_eq!(default("send_timeout_secs"), "15");
        assert_eq!(default("mail_url"), "outbox:outbox");
        let cli = Cli::try_parse_from(["skymailing", "--bind", "127.0.0.1:8000"]).unwrap();
        assert!(cli.command.is_none());
        if std::env::var_os("SKYMAILING_BASE_URL").is_none() {
            assert_eq!(cli.options.settings().base_url, "http://127.0.0.1:8000");
        }
    }

    #[test]
    fn options_go_before_or_after_the_subcommand() {
        let cli = Cli::try_parse_from([
            "skymailing",
            "--bind",
            "0.0.0.0:9000",
            "serve",
            "--no-worker",
            "--database-url",
            "postgres://db/sky",
        ])
        .unwrap();
        assert!(matches!(cli.command, Some(Command::Serve)));
        assert!(cli.options.no_worker);
        assert_eq!(cli.options.bind.map(|b| b.port()), Some(9000));
        assert_eq!(cli.options.database_url, "postgres://db/sky");
    }

    #[test]
    fn a_wrong_option_names_itself() {
        let err = Cli::try_parse_from(["skymailing", "--bind", "nowhere"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("--bind"), "{err}");
        let err = Cli::try_parse_from(["skymailing", "--concurrency", "many"]).unwrap_err();
        assert!(err.to_string().contains("--concurrency"), "{err}");
    }
}

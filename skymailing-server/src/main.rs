//! `skymailing`: the reference server. See `docs/operations.md`.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use poem::listener::{Acceptor, Listener, TcpListener};
use skymailing_server::cli::{Cli, Command, KeyAlgorithm, LogFormat};
use skymailing_server::conn::GuardedAcceptor;
use skymailing_server::{Service, Settings, StartError, StoreUrl, routes};
use tokio::sync::watch;
use tracing_subscriber::EnvFilter;

/// mimalloc rather than glibc's malloc: a profile of the list routes under
/// load spent about a sixth of the server's time in malloc and free
/// (`scripts/bench-http.sh`; figures in docs/operations.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How long in-flight HTTP requests get to finish after a shutdown signal.
const HTTP_GRACE: Duration = Duration::from_secs(20);

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logs(cli.options.log_format);
    // A worker's sending is I/O-bound: one thread leaves the other cores to
    // the database and the relay (measured on 2 cores: 9.5k msg/s against
    // 7.4k/s with the multi-thread runtime). Serving HTTP uses every core.
    let runtime = match cli.command {
        Some(Command::Worker) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        _ => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
    };
    let runtime = match runtime {
        Ok(r) => r,
        Err(e) => {
            eprintln!("skymailing: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("skymailing: {e}");
            ExitCode::from(2)
        }
    }
}

fn init_logs(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,poem=warn"));
    // Colours only for a person at a terminal, never into a file or a pipe.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

async fn run(cli: Cli) -> Result<(), StartError> {
    let settings = cli.options.settings();
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::DkimKeygen {
        domain,
        selector,
        algorithm,
        out,
    } = &command
    {
        // Needs no database: nothing is opened.
        return dkim_keygen(domain, selector, *algorithm, out);
    }
    let service = Service::open(settings.clone()).await?;
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing requests and sends in flight");
        let _ = stop_tx.send(true);
    });
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    };
    let result = match command {
        Command::Backup { file } => {
            service.backup(&file).await?;
            eprintln!(
                "skymailing: a consistent copy of the database is in {}",
                file.display()
            );
            Ok(())
        }
        Command::Migrate => {
            // Opening the store applied the migrations.
            eprintln!(
                "skymailing: migrations applied to {}",
                describe_db(&settings.database_url)
            );
            Ok(())
        }
        Command::CreateAdmin { email, name } => create_admin(&service, &email, &name).await,
        Command::DkimKeygen { .. } => unreachable!("handled before the service opens"),
        Command::Worker => {
            let engine = service.spawn_engine();
            if let Some(addr) = service.start_bounce_listener().await? {
                eprintln!("skymailing worker: bounces taken at smtp://{addr}");
            }
            // Health, readiness and metrics only when an address is given.
            let ops = match cli.options.bind {
                Some(_) => {
                    let acceptor = listen(&settings).await?;
                    if let Some(addr) = local_addr(&acceptor) {
                        eprintln!("skymailing worker: health at http://{addr}/readyz");
                    }
                    let server = poem::Server::new_with_acceptor(acceptor)
                        .run_with_graceful_shutdown(
                            skymailing_server::ops_routes(service.clone()),
                            stopped(),
                            Some(HTTP_GRACE),
                        );
                    Some(tokio::spawn(server))
                }
                None => None,
            };
            tracing::info!(database = %describe_db(&settings.database_url), "worker running");
            stopped().await;
            // The engine finishes its sends in flight and releases the rest.
            engine.shutdown().await;
            if let Some(ops) = ops {
                let _ = ops.await;
            }
            Ok(())
        }
        Command::Serve => {
            let acceptor = listen(&settings).await?;
            let local = local_addr(&acceptor);
            let engine = (!cli.options.no_worker).then(|| service.spawn_engine());
            let bounces = service.start_bounce_listener().await?;
            let url = match local {
                Some(addr) if settings.base_url == format!("http://{}", settings.bind) => {
                    format!("http://{addr}")
                }
                _ => settings.base_url.clone(),
            };
            eprintln!(
                "SkyMailing is running at {url}\n  database: {}\n  mail: {}\n  delivery engine: {}\n  API docs: {url}/api/docs",
                describe_db(&settings.database_url),
                describe_mail(&settings.mail_url),
                if engine.is_some() {
                    "in this process"
                } else {
                    "off (--no-worker)"
                },
            );
            if let Some(addr) = bounces {
                eprintln!("  bounces: taken at smtp://{addr}");
            }
            let served = poem::Server::new_with_acceptor(acceptor)
                .run_with_graceful_shutdown(routes(service.clone()), stopped(), Some(HTTP_GRACE))
                .await;
            if let Some(engine) = engine {
                // The engine finishes its sends in flight and releases the rest.
                engine.shutdown().await;
            }
            served.map_err(|e| StartError::Option {
                option: "--bind",
                reason: e.to_string(),
            })
        }
    };
    service.close().await;
    result
}

/// The listener on `--bind`, with the connection caps and slow-client deadlines.
async fn listen(settings: &Settings) -> Result<impl Acceptor + use<>, StartError> {
    let bind = &settings.bind;
    let acceptor = TcpListener::bind(bind.clone())
        .into_acceptor()
        .await
        .map_err(|e| StartError::Option {
            option: "--bind",
            reason: format!("cannot listen on {bind}: {e}"),
        })?;
    Ok(GuardedAcceptor::new(acceptor, settings.conn_limits.clone()))
}

fn local_addr(acceptor: &impl Acceptor) -> Option<std::net::SocketAddr> {
    acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
}

async fn create_admin(service: &Service, email: &str, name: &str) -> Result<(), StartError> {
    let password = match std::env::var("SKYMAILING_ADMIN_PASSWORD") {
        Ok(p) => p,
        Err(_) => {
            let p = rpassword::prompt_password(format!("Password for {email}: ")).map_err(|e| {
                StartError::Option {
                    option: "SKYMAILING_ADMIN_PASSWORD",
                    reason: format!("not set, and no terminal to ask: {e}"),
                }
            })?;
            let again = rpassword::prompt_password("Again: ").unwrap_or_default();
            if p != again {
                return Err(StartError::Option {
                    option: "password",
                    reason: "the two passwords differ".into(),
                });
            }
            p
        }
    };
    let user = service
        .app
        .accounts
        .ensure_admin(email, &password, name)
        .await
        .map_err(|e| StartError::Option {
            option: if e.field() == Some("email") {
                "--email"
            } else {
                "password"
            },
            reason: e.to_string(),
        })?;
    eprintln!("skymailing: {} is an admin (user {})", user.email, user.id);
    Ok(())
}

fn dkim_keygen(
    domain: &str,
    selector: &str,
    algorithm: KeyAlgorithm,
    out: &std::path::Path,
) -> Result<(), StartError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let algorithm = match algorithm {
        KeyAlgorithm::Rsa => skymailing_smtp::DkimAlgorithm::Rsa,
        KeyAlgorithm::Ed25519 => skymailing_smtp::DkimAlgorithm::Ed25519,
    };
    let key = skymailing_smtp::generate_key(algorithm).map_err(|reason| StartError::Option {
        option: "--algorithm",
        reason,
    })?;
    // The key must load as the server will load it (and the names be sane).
    skymailing_smtp::DkimSigner::from_pem(&key.private_pem, selector, domain).map_err(|e| {
        StartError::Option {
            option: "--domain",
            reason: e.to_string(),
        }
    })?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .map_err(|e| StartError::Option {
            option: "--out",
            reason: format!("cannot create {}: {e}", out.display()),
        })?;
    file.write_all(key.private_pem.as_bytes())
        .map_err(|e| StartError::Option {
            option: "--out",
            reason: format!("cannot write {}: {e}", out.display()),
        })?;
    let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let selector = selector.trim().to_ascii_lowercase();
    eprintln!(
        "skymailing: private key written to {} (mode 0600)",
        out.display()
    );
    println!("Publish this TXT record:");
    println!("  name:  {selector}._domainkey.{domain}");
    println!("  value: {}", key.dns_value);
    println!(
        "Then start with --dkim-key {} --dkim-selector {selector} --dkim-domain {domain}",
        out.display()
    );
    Ok(())
}

fn describe_db(url: &str) -> String {
    match StoreUrl::parse(url) {
        Ok(StoreUrl::Sqlite(path)) => format!("SQLite file {}", path.display()),
        Ok(StoreUrl::Postgres(url)) => {
            // Never print a password.
            let host = url.rsplit_once('@').map_or(url.as_str(), |(_, h)| h);
            format!("PostgreSQL at {host}")
        }
        Err(_) => url.to_owned(),
    }
}

fn describe_mail(url: &str) -> String {
    match url.strip_prefix("outbox:") {
        Some(dir) => format!(
            "written to the folder {} (not sent)",
            if dir.is_empty() { "outbox" } else { dir }
        ),
        None => {
            let host = url.rsplit_once('@').map_or(url, |(_, h)| h);
            format!("sent through {host}")
        }
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

//! SkyMailing inside a shop's own Rust web application: the shop serves its
//! pages and mounts the one route recipients' mail links to (unsubscribe) in
//! its own poem router; it creates its user accounts directly, sends a
//! mailing, and finishes when the engine reports the run finished. SQLite,
//! mail written to a local outbox folder.
//!
//! `cargo run -p skymailing-examples --example embed`

use std::sync::Arc;

use poem::endpoint::make_sync;
use poem::listener::TcpAcceptor;
use poem::{Route, Server};
use skymailing_core::chrono::{self, Utc};
use skymailing_core::engine::{EngineConfig, EngineEvent};
use skymailing_core::service::NewAccount;
use skymailing_core::{ClientDraft, MailingDraft, MessageDraft, Periodicity, Role, SkyMailing};
use skymailing_server::{Service, Settings, public_routes};
use skymailing_smtp::Outbox;
use skymailing_store_sqlite::SqliteStore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

type AnyError = Box<dyn std::error::Error + Send + Sync>;

#[cfg_attr(test, allow(dead_code))]
#[tokio::main]
async fn main() -> Result<(), AnyError> {
    let dir = tempfile::tempdir()?; // each run starts afresh (a shop keeps a fixed path)
    run(dir.path()).await
}

async fn run(dir: &std::path::Path) -> Result<(), AnyError> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let base_url = format!("http://{}", listener.local_addr()?);

    // The parts: a store and a transport; links in the mail point at us.
    let store = Arc::new(SqliteStore::open(dir.join("mailings.db")).await?);
    let outbox =
        Arc::new(Outbox::open(dir.join("outbox"), "Shop <news@shop.example>".parse()?).await?);
    let app = SkyMailing::builder(store)
        .mailer(outbox.clone())
        .base_url(&base_url)
        .build()?;

    // The shop's own router, with the unsubscribe links mounted in it.
    let settings = Settings {
        base_url: base_url.clone(),
        ..Settings::default()
    };
    let service = Service::from_app(app.clone(), outbox.clone(), Some(outbox.clone()), settings);
    let shop = Route::new()
        .at("/", make_sync(|_| "Welcome to the shop"))
        .nest("/", public_routes(service));
    listener.set_nonblocking(true)?;
    let web = tokio::spawn(Server::new_with_acceptor(TcpAcceptor::from_std(listener)?).run(shop));

    // The engine, supervised, with events.
    let engine = Arc::new(app.engine(outbox.clone(), EngineConfig::default())).spawn();
    let mut events = engine.subscribe();

    // Accounts: the operator's admin, then the shop's user, created directly.
    app.accounts
        .ensure_admin("admin@shop.example", "a long password", "Admin")
        .await?;
    let admin = app
        .accounts
        .login("admin@shop.example", "a long password")
        .await?
        .actor();
    let account = NewAccount {
        email: "owner@shop.example",
        name: "Shop",
        password: Some("another long password"),
        role: Role::User,
        time_zone: "Europe/Berlin",
    };
    app.accounts.create_user(admin, &account).await?;
    let me = app
        .accounts
        .login(account.email, "another long password")
        .await?
        .actor();

    // Two clients, a message and a mailing that starts now.
    let ann = app
        .clients
        .create(me, &ClientDraft::parse("ann@example.com", "Ann", "")?)
        .await?;
    let bob = app
        .clients
        .create(me, &ClientDraft::parse("bob@example.com", "Bob", "VIP")?)
        .await?;
    let text = "Dear {{ name }},\nnew arrivals are in.\n\nUnsubscribe: {{ unsubscribe_url }}\n";
    let message = app
        .messages
        .create(me, &MessageDraft::parse("Hello {{ name }}", text, None)?)
        .await?;
    let (now, day) = (Utc::now(), chrono::Duration::days(1));
    let draft = MailingDraft::new(
        "New arrivals",
        message.id,
        vec![ann.id, bob.id],
        now,
        now + day,
        Periodicity::Once,
    )?;
    app.mailings.create(me, &draft).await?;

    // Finish when the engine reports the run finished.
    let run = loop {
        match events.next().await {
            Some(EngineEvent::RunStarted { run, .. }) => break run,
            Some(_) => {}
            None => return Err("the engine went away".into()),
        }
    };
    let report = engine
        .wait_run(run)
        .await?
        .report
        .expect("a finished run has a report");
    println!("report: {report}");
    assert_eq!((report.sent, report.total), (2, 2));

    // Ann clicks "unsubscribe" in her mail client (RFC 8058 one-click POST).
    let link = app
        .links()
        .unsubscribe(&app.clients.get(me, ann.id).await?.unsubscribe_token);
    let answer = post_form(&link, "List-Unsubscribe=One-Click").await?;
    println!("{link} -> {}", answer.lines().next().unwrap_or_default());
    assert!(app.clients.get(me, ann.id).await?.unsubscribed_at.is_some());

    engine.shutdown().await;
    web.abort();
    Ok(())
}

/// A bare HTTP/1.1 POST (any HTTP client would do).
async fn post_form(url: &str, body: &str) -> Result<String, AnyError> {
    let rest = url.strip_prefix("http://").ok_or("an http URL")?;
    let (host, path) = rest.split_once('/').ok_or("a path")?;
    let mut conn = tokio::net::TcpStream::connect(host).await?;
    let request = format!(
        "POST /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(request.as_bytes()).await?;
    let mut answer = String::new();
    conn.read_to_string(&mut answer).await?;
    Ok(answer)
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn example_runs() {
        let dir = tempfile::tempdir().unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(60), super::run(dir.path()))
            .await
            .unwrap()
            .unwrap();
    }
}

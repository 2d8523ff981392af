//! The shortest useful embedding: the SkyMailing engine inside another Rust
//! program, on SQLite, writing mail to a local outbox folder.
//!
//! `cargo run -p skymailing-examples --example embed`

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use skymailing_core::engine::EngineConfig;
use skymailing_core::policy::Actor;
use skymailing_core::{ClientDraft, MailingDraft, MessageDraft, Periodicity, SkyMailing};
use skymailing_smtp::Outbox;
use skymailing_store_sqlite::SqliteStore;

type AnyError = Box<dyn std::error::Error + Send + Sync>;

#[cfg_attr(test, allow(dead_code))]
#[tokio::main]
async fn main() -> Result<(), AnyError> {
    let dir = tempfile::tempdir()?; // a real program keeps a fixed path
    run(dir.path()).await
}

async fn run(dir: &std::path::Path) -> Result<(), AnyError> {
    // The parts: a store, a transport and a clock.
    let store = Arc::new(SqliteStore::open(dir.join("mailings.db")).await?);
    let outbox =
        Arc::new(Outbox::open(dir.join("outbox"), "Shop <news@shop.example>".parse()?).await?);
    let app = SkyMailing::builder(store).mailer(outbox.clone()).build()?;

    // The engine sends in the background; it wakes at once when a mailing changes.
    let engine = Arc::new(app.engine(outbox.clone(), EngineConfig::default()));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn({
        let engine = engine.clone();
        async move {
            engine
                .run(async {
                    stopped.await.ok();
                })
                .await
        }
    });

    // An account (the operator's `create-admin` does the same), two clients, a
    // message and a mailing that starts now.
    let owner = app
        .accounts
        .ensure_admin("owner@shop.example", "a long password", "Shop")
        .await?;
    let me = Actor::user(owner.id, owner.role);
    let ann = app
        .clients
        .create(me, &ClientDraft::parse("ann@example.com", "Ann", "")?)
        .await?;
    let bob = app
        .clients
        .create(me, &ClientDraft::parse("bob@example.com", "Bob", "VIP")?)
        .await?;
    let message = MessageDraft::parse(
        "Hello {{ name }}",
        "Dear {{ name }},\nnew arrivals are in.\n\nUnsubscribe: {{ unsubscribe_url }}\n",
        None,
    )?;
    let message = app.messages.create(me, &message).await?;
    let now = Utc::now();
    let draft = MailingDraft::new(
        "New arrivals",
        message.id,
        vec![ann.id, bob.id],
        now,
        now + chrono::Duration::days(1),
        Periodicity::Once,
    )?;
    app.mailings.create(me, &draft).await?;

    // Wait for the run's report, then show what was "sent".
    let report = loop {
        let runs = app.logs.list(me, &Default::default()).await?;
        if let Some(report) = runs
            .items
            .first()
            .and_then(|r| r.report.as_ref().map(ToString::to_string))
        {
            break report;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    println!("report: {report}");
    for mail in outbox.list(10).await? {
        println!("{} -> {}", mail.subject, mail.to.join(", "));
    }
    assert_eq!(report, "Sent 2 of 2");

    stop.send(()).ok();
    running.await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn example_runs() {
        let dir = tempfile::tempdir().unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(30), super::run(dir.path()))
            .await
            .unwrap()
            .unwrap();
    }
}

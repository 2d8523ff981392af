//! The SMTP transport against a real SMTP server (mailin-embedded, started by
//! the test), alone and as the engine's mailer over the SQLite store.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use skymailing_core::engine::{EngineConfig, RetryPolicy};
use skymailing_core::policy::Actor;
use skymailing_core::ports::{Mailer, OutgoingEmail, RunFilter, RunStore, SendError};
use skymailing_core::testkit::{ManualClock, active_user};
use skymailing_core::*;
use skymailing_smtp::testing::{DroppingProxy, HangUpAfterData, RecordingProxy, TestSmtpServer};
use skymailing_smtp::{SmtpConfig, SmtpMailer};
use skymailing_store_sqlite::SqliteStore;

fn mailer(url: &str) -> SmtpMailer {
    SmtpMailer::new(&SmtpConfig {
        url: url.to_owned(),
        from: "SkyMailing <news@mail.example>".parse().unwrap(),
        pool_size: 4,
        timeout: Duration::from_secs(5),
    })
    .unwrap()
}

fn email(to: &str) -> OutgoingEmail {
    OutgoingEmail {
        to: EmailAddress::parse(to).unwrap(),
        to_name: "Ёжик Туманов".into(),
        from_name: None,
        reply_to: None,
        subject: "Новости недели".into(),
        text: "Plain text".into(),
        html: Some("<p>HTML</p>".into()),
        message_id: "<nonce.1.2@mail.example>".into(),
        unsubscribe_url: Some("https://mail.example/unsubscribe/tok".into()),
        return_path: None,
        feedback_id: None,
    }
}

#[tokio::test]
async fn a_message_arrives_with_its_recipient_headers_and_parts() {
    let server = TestSmtpServer::start();
    let reply = mailer(&server.url())
        .send(&email("ann@example.com"))
        .await
        .unwrap();
    assert!(reply.starts_with("250"), "{reply}");
    let got = server.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].to, vec!["ann@example.com"]);
    assert_eq!(got[0].from, "news@mail.example");
    let m = got[0].parsed();
    assert_eq!(m.subject(), Some("Новости недели"));
    let to = m.to().unwrap().first().unwrap();
    assert_eq!(
        (to.name(), to.address()),
        (Some("Ёжик Туманов"), Some("ann@example.com"))
    );
    assert_eq!(
        m.from().unwrap().first().unwrap().name(),
        Some("SkyMailing")
    );
    assert_eq!(m.message_id(), Some("nonce.1.2@mail.example"));
    assert!(m.date().is_some());
    assert_eq!(m.body_text(0).as_deref(), Some("Plain text"));
    assert_eq!(m.body_html(0).as_deref(), Some("<p>HTML</p>"));
    assert_eq!(
        m.header_raw("List-Unsubscribe").map(str::trim),
        Some("<https://mail.example/unsubscribe/tok>")
    );
    assert_eq!(
        m.header_raw("List-Unsubscribe-Post").map(str::trim),
        Some("List-Unsubscribe=One-Click")
    );
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// `smtp://` with no options encrypts whenever the relay offers STARTTLS,
/// even with a certificate that does not verify (a self-signed one, as
/// Debian's stock Postfix offers): what crosses the network is not the mail.
/// `tls=none` sends in clear (which shows the test can see clear text), and
/// `tls=required` insists on a certificate that verifies.
#[tokio::test]
async fn smtp_upgrades_with_starttls_whenever_the_relay_offers_it() {
    let server = TestSmtpServer::start_with_starttls();
    let proxy = RecordingProxy::start(server.addr()).await;
    mailer(&proxy.url())
        .send(&email("ann@example.com"))
        .await
        .unwrap();
    let wire = proxy.client_bytes();
    assert!(contains(&wire, "STARTTLS"), "STARTTLS was asked for");
    assert!(
        !contains(&wire, "Plain text"),
        "the body did not cross in clear"
    );
    assert!(!contains(&wire, "ann@example.com"), "nor the recipient");
    assert_eq!(server.received().len(), 1, "and the mail arrived");

    let plain = RecordingProxy::start(server.addr()).await;
    mailer(&format!("{}?tls=none", plain.url()))
        .send(&email("bob@example.com"))
        .await
        .unwrap();
    assert!(
        contains(&plain.client_bytes(), "Plain text"),
        "tls=none is clear text"
    );

    let strict = RecordingProxy::start(server.addr()).await;
    let refused = mailer(&format!("{}?tls=required", strict.url()))
        .send(&email("carl@example.com"))
        .await;
    assert!(
        refused.is_err(),
        "a self-signed certificate does not verify"
    );
    assert!(!contains(&strict.client_bytes(), "Plain text"));
    assert_eq!(
        server.received().len(),
        2,
        "nothing sent without a verified certificate"
    );
}

#[tokio::test]
async fn header_injection_attempts_do_not_inject() {
    let server = TestSmtpServer::start();
    let mut e = email("ann@example.com");
    e.subject = "Hello\r\nBcc: victim@evil.example\r\n\r\nforged body".into();
    e.to_name = "Ann\nX-Injected: yes".into();
    mailer(&server.url()).send(&e).await.unwrap();
    let got = server.received();
    assert_eq!(got[0].to, vec!["ann@example.com"], "no extra recipient");
    let m = got[0].parsed();
    assert!(m.header_raw("Bcc").is_none());
    assert!(m.header_raw("X-Injected").is_none());
    assert_eq!(m.body_text(0).as_deref(), Some("Plain text"));
}

#[tokio::test]
async fn replies_are_classified_and_kept() {
    let server = TestSmtpServer::start();
    server.reply_to_rcpt("busy@example.com", 451, "4.7.1 try again later");
    server.reply_to_rcpt("gone@example.com", 550, "5.1.1 user unknown");
    let m = mailer(&server.url());
    match m.send(&email("busy@example.com")).await {
        Err(SendError::Transient { reply }) => assert!(
            reply.starts_with("451") && reply.contains("try again later"),
            "{reply}"
        ),
        other => panic!("{other:?}"),
    }
    match m.send(&email("gone@example.com")).await {
        Err(SendError::Permanent { reply }) => assert!(
            reply.starts_with("550") && reply.contains("user unknown"),
            "{reply}"
        ),
        other => panic!("{other:?}"),
    }
    // Nothing listening: a connection error.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    match mailer(&format!("smtp://{closed}"))
        .send(&email("a@example.com"))
        .await
    {
        Err(SendError::Connection { .. }) => {}
        other => panic!("{other:?}"),
    }
    // The scripted replies were used up: both go through now.
    m.send(&email("busy@example.com")).await.unwrap();
    assert_eq!(server.count(), 1);
}

// ---- the pipeline: engine + SQLite store + SMTP ----

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

struct Pipeline {
    app: SkyMailing,
    store: Arc<SqliteStore>,
    clock: Arc<ManualClock>,
    engine: skymailing_core::engine::Engine,
    owner: Actor,
    _dir: tempfile::TempDir,
}

async fn pipeline(url: &str, recipients: &[&str]) -> Pipeline {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("p.db")).await.unwrap());
    let clock = Arc::new(ManualClock::new(t("2026-05-01T09:00:00Z")));
    let smtp: Arc<dyn Mailer> = Arc::new(mailer(url));
    let app = SkyMailing::builder(store.clone())
        .mailer(smtp.clone())
        .clock(clock.clone())
        .build()
        .unwrap();
    let config = EngineConfig {
        batch_size: 50,
        concurrency: 8,
        retry: RetryPolicy {
            max_attempts: 4,
            base: Duration::from_secs(10),
            max: Duration::from_secs(60),
        },
        message_id_domain: "mail.example".into(),
        ..EngineConfig::default()
    };
    let engine = app.engine(smtp, config);
    let user = active_user(
        &*store,
        "owner@example.com",
        Role::User,
        TimeZone::UTC,
        t("2026-05-01T09:00:00Z"),
    )
    .await;
    let owner = Actor::user(user.id, Role::User);
    let mut ids = Vec::new();
    for r in recipients {
        ids.push(
            app.clients
                .create(
                    owner,
                    &ClientDraft::parse(r, &format!("Name {r}"), "").unwrap(),
                )
                .await
                .unwrap()
                .id,
        );
    }
    let msg = app
        .messages
        .create(
            owner,
            &MessageDraft::parse(
                "Hi {{ name }}",
                "Dear {{ name }}",
                Some("<p>Dear {{ name }}</p>"),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    let d = MailingDraft::new(
        "News",
        msg.id,
        ids,
        t("2026-05-01T09:00:00Z"),
        t("2026-05-02T00:00:00Z"),
        Periodicity::Once,
    )
    .unwrap();
    app.mailings.create(owner, &d).await.unwrap();
    Pipeline {
        app,
        store,
        clock,
        engine,
        owner,
        _dir: dir,
    }
}

async fn report(p: &Pipeline) -> Option<String> {
    p.store
        .list_runs(RunFilter::default(), &ListQuery::default())
        .await
        .unwrap()
        .items[0]
        .report
        .as_ref()
        .map(ToString::to_string)
}

#[tokio::test]
async fn the_engine_delivers_rendered_mail_through_smtp() {
    let server = TestSmtpServer::start();
    let p = pipeline(
        &server.url(),
        &["a@example.com", "b@example.com", "c@example.com"],
    )
    .await;
    p.engine.round().await.unwrap();
    assert_eq!(report(&p).await.as_deref(), Some("Sent 3 of 3"));
    let mut got = server.received();
    got.sort_by_key(|r| r.to[0].clone());
    assert_eq!(
        got.iter().map(|r| r.to[0].as_str()).collect::<Vec<_>>(),
        vec!["a@example.com", "b@example.com", "c@example.com"]
    );
    let m = got[0].parsed();
    assert_eq!(m.subject(), Some("Hi Name a@example.com"));
    let html = m.body_html(0).unwrap().into_owned();
    assert!(
        html.starts_with("<p>Dear Name a@example.com</p><p style"),
        "the body, then the footer with the unsubscribe link it lacked: {html}"
    );
    let unsubscribe = m.header_raw("List-Unsubscribe").unwrap().trim().to_owned();
    assert!(
        unsubscribe.starts_with("<http://127.0.0.1:8000/unsubscribe/"),
        "{unsubscribe}"
    );
    let ids: std::collections::HashSet<_> = got
        .iter()
        .map(|r| r.parsed().message_id().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 3, "one Message-ID per delivery");
}

#[tokio::test]
async fn a_4xx_is_retried_and_then_delivered() {
    let server = TestSmtpServer::start();
    server.reply_to_rcpt("busy@example.com", 451, "4.7.1 greylisted, try again");
    let p = pipeline(&server.url(), &["busy@example.com", "ok@example.com"]).await;
    p.engine.round().await.unwrap();
    assert_eq!(server.count(), 1);
    assert_eq!(report(&p).await, None, "still retrying");
    p.clock.advance(chrono::Duration::seconds(11));
    p.engine.round().await.unwrap();
    assert_eq!(server.count(), 2);
    assert_eq!(report(&p).await.as_deref(), Some("Sent 2 of 2"));
}

/// The relay read the whole message and dropped the connection instead of
/// answering: it may have queued it or not. That is a connection error, so
/// the delivery is retried, and the copy sent again carries the same
/// Message-ID (a receiving system can drop the duplicate).
#[tokio::test]
async fn a_connection_dropped_after_data_is_retried_with_the_same_message_id() {
    let server = HangUpAfterData::start().await;
    let p = pipeline(&server.url(), &["ann@example.com"]).await;
    p.engine.round().await.unwrap();
    assert_eq!(server.received().len(), 1, "the whole message went across");
    assert_eq!(report(&p).await, None, "not failed: waiting to retry");
    let run = p
        .app
        .logs
        .list(p.owner, &ListQuery::default())
        .await
        .unwrap()
        .items[0]
        .id;
    let d = &p
        .app
        .logs
        .deliveries(p.owner, run, &ListQuery::default())
        .await
        .unwrap()
        .items[0];
    assert_eq!((d.state, d.attempts), (DeliveryState::Pending, 1));
    assert!(d.last_reply.is_some(), "the connection error is kept");

    p.clock.advance(chrono::Duration::seconds(11));
    p.engine.round().await.unwrap();
    assert_eq!(report(&p).await.as_deref(), Some("Sent 1 of 1"));
    let copies = server.received();
    assert_eq!(copies.len(), 2);
    let message_id = |data: &[u8]| {
        mail_parser::MessageParser::default()
            .parse(data)
            .and_then(|m| m.message_id().map(str::to_owned))
            .expect("a Message-ID")
    };
    assert_eq!(message_id(&copies[0]), message_id(&copies[1]));
}

#[tokio::test]
async fn a_5xx_fails_at_once_with_the_reply_in_the_report() {
    let server = TestSmtpServer::start();
    server.reply_to_rcpt(
        "gone@example.com",
        550,
        "5.1.1 <gone@example.com>: user unknown",
    );
    let p = pipeline(&server.url(), &["gone@example.com", "ok@example.com"]).await;
    p.engine.round().await.unwrap();
    assert_eq!(
        report(&p).await.as_deref(),
        Some("Sent 1 of 2; 1 failed: 550 5.1.1 <address>: user unknown ×1")
    );
    let run = p
        .app
        .logs
        .list(p.owner, &ListQuery::default())
        .await
        .unwrap()
        .items[0]
        .id;
    let ds = p
        .app
        .logs
        .deliveries(p.owner, run, &ListQuery::default())
        .await
        .unwrap()
        .items;
    let gone = ds
        .iter()
        .find(|d| d.email.as_str() == "gone@example.com")
        .unwrap();
    assert_eq!((gone.state, gone.attempts), (DeliveryState::Failed, 1));
    assert!(gone.last_reply.as_deref().unwrap().contains("user unknown"));
}

#[tokio::test]
async fn dropped_connections_are_retried_and_nothing_is_lost() {
    let server = TestSmtpServer::start();
    let proxy = DroppingProxy::start(server.addr(), 3).await;
    let recipients: Vec<String> = (0..20).map(|i| format!("r{i}@example.com")).collect();
    let p = pipeline(
        &proxy.url(),
        &recipients.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .await;
    for _ in 0..5 {
        p.engine.round().await.unwrap();
        p.clock.advance(chrono::Duration::seconds(61));
    }
    let mut got: Vec<String> = server
        .received()
        .into_iter()
        .map(|r| r.to[0].clone())
        .collect();
    got.sort();
    let mut want = recipients.clone();
    want.sort();
    assert_eq!(got, want, "every recipient exactly once");
    assert_eq!(report(&p).await.as_deref(), Some("Sent 20 of 20"));
    let run = p
        .app
        .logs
        .list(p.owner, &ListQuery::default())
        .await
        .unwrap()
        .items[0]
        .id;
    let ds = p
        .app
        .logs
        .deliveries(p.owner, run, &ListQuery::default())
        .await
        .unwrap()
        .items;
    let retried = ds.iter().filter(|d| d.attempts > 1).count();
    assert!(
        retried >= 1,
        "the dropped connections cost attempts that were retried"
    );
}

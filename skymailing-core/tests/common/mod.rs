//! Shared set-up for the core's integration tests: the use cases and an engine
//! over the in-memory store, a recording mailer and a manual clock.
#![allow(dead_code)]

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use skymailing_core::engine::{Engine, EngineConfig, RetryPolicy};
use skymailing_core::policy::Actor;
use skymailing_core::ports::{Clock, OutgoingEmail as OutgoingEmailAlias};
use skymailing_core::testkit::{ManualClock, MemoryStore, RecordingMailer, active_user};
use skymailing_core::*;

pub struct World {
    pub store: Arc<MemoryStore>,
    pub mailer: Arc<RecordingMailer>,
    pub clock: Arc<ManualClock>,
    pub app: SkyMailing,
    pub engine: Arc<Engine>,
}

pub fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

pub fn engine_config() -> EngineConfig {
    EngineConfig {
        batch_size: 50,
        concurrency: 4,
        lease: std::time::Duration::from_secs(60),
        send_timeout: std::time::Duration::from_secs(20),
        retry: RetryPolicy {
            max_attempts: 3,
            base: std::time::Duration::from_secs(10),
            max: std::time::Duration::from_secs(60),
        },
        message_id_domain: "test.example".into(),
        ..EngineConfig::default()
    }
}

pub fn world_at(now: &str) -> World {
    world_with(now, engine_config())
}

pub fn world_with(now: &str, config: EngineConfig) -> World {
    let store = Arc::new(MemoryStore::new());
    let mailer = Arc::new(RecordingMailer::new());
    let clock = Arc::new(ManualClock::new(t(now)));
    let app = SkyMailing::builder(store.clone())
        .mailer(mailer.clone())
        .clock(clock.clone())
        .base_url("https://mail.example")
        .build()
        .unwrap();
    let engine = Arc::new(app.engine(mailer.clone(), config));
    World {
        store,
        mailer,
        clock,
        app,
        engine,
    }
}

impl World {
    /// An active user (created directly in the store: no hashing cost).
    pub async fn user(&self, email: &str, role: Role, tz: &str) -> Actor {
        let u = active_user(
            &*self.store,
            email,
            role,
            TimeZone::parse(tz).unwrap(),
            self.clock.now(),
        )
        .await;
        Actor::user(u.id, role)
    }

    pub async fn clients(&self, actor: Actor, emails: &[&str]) -> Vec<ClientId> {
        let mut ids = Vec::new();
        for e in emails {
            let d = ClientDraft::parse(e, &format!("Name {e}"), "").unwrap();
            ids.push(self.app.clients.create(actor, &d).await.unwrap().id);
        }
        ids
    }

    pub async fn message(&self, actor: Actor) -> MessageId {
        let d = MessageDraft::parse(
            "Hello {{ name }}",
            "Dear {{ name }},\nunsubscribe: {{ unsubscribe_url }}",
            None,
        )
        .unwrap();
        self.app.messages.create(actor, &d).await.unwrap().id
    }

    pub async fn mailing(
        &self,
        actor: Actor,
        clients: &[ClientId],
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        p: Periodicity,
    ) -> Mailing {
        let msg = self.message(actor).await;
        let d = MailingDraft::new("News", msg, clients.to_vec(), start, end, p).unwrap();
        self.app.mailings.create(actor, &d).await.unwrap().mailing
    }

    /// `n` clients `c0@example.com` … and a one-off mailing to them, due now.
    pub async fn once_to_numbered(&self, actor: Actor, n: usize) -> Mailing {
        let emails: Vec<String> = (0..n).map(|i| format!("c{i}@example.com")).collect();
        let ids = self
            .clients(
                actor,
                &emails.iter().map(String::as_str).collect::<Vec<_>>(),
            )
            .await;
        let now = self.clock.now();
        self.mailing(actor, &ids, now, now + Duration::days(1), Periodicity::Once)
            .await
    }

    /// Waits for the `n`-th email to `address` and returns the token of its link.
    pub async fn token(&self, address: &str, n: usize) -> String {
        assert!(
            self.mailer
                .wait_for_sent_to(address, n, std::time::Duration::from_secs(10))
                .await,
            "email {n} to {address} never came"
        );
        self.mailer
            .last_token(address)
            .expect("a link with a token")
    }

    /// Waits for the `n`-th email to `address`.
    pub async fn mail(&self, address: &str, n: usize) -> OutgoingEmailAlias {
        assert!(
            self.mailer
                .wait_for_sent_to(address, n, std::time::Duration::from_secs(10))
                .await,
            "email {n} to {address} never came"
        );
        self.mailer.sent_to(address).pop().unwrap()
    }

    pub fn advance(&self, d: Duration) {
        self.clock.advance(d);
    }
}

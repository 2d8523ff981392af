//! A whole server per test, like zero2prod's `spawn_app`: the real router and
//! use cases over a real store (an SQLite file, or a fresh PostgreSQL database
//! from `#[sqlx::test]`), a real outbox as the mail transport, and the
//! delivery engine running in the background on the real clock.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use poem::http::{HeaderMap, Method};
use poem::{Endpoint, EndpointExt, Request};
use serde_json::{Value, json};
use skymailing_core::ports::{Store, SystemClock};
use skymailing_server::{RateLimits, Service, Settings, routes};
use skymailing_smtp::{Outbox, OutboxEntry, parse_from};
use skymailing_store_pg::PgStore;
use skymailing_store_sqlite::SqliteStore;

pub const BASE_URL: &str = "http://sky.test";
/// The domain of the test servers' return paths.
pub const BOUNCE_DOMAIN: &str = "bounces.sky.test";
/// The test servers' bounce webhook secret.
pub const WEBHOOK_SECRET: &str = "webhook secret for tests";

pub struct TestServer {
    pub service: Service,
    pub outbox: Arc<Outbox>,
    router: poem::endpoint::BoxEndpoint<'static>,
    _dir: tempfile::TempDir,
}

/// An answer: status, headers and the JSON body (`Null` when empty or not JSON).
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    pub body: Value,
}

impl Resp {
    /// The machine-readable error code.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_default()
    }
}

impl TestServer {
    pub async fn sqlite() -> TestServer {
        Self::sqlite_with(RateLimits::uniform(1000)).await
    }

    pub async fn sqlite_with(limits: RateLimits) -> TestServer {
        Self::sqlite_at(BASE_URL, limits).await
    }

    /// A server on SQLite, and its store (to take the database away).
    pub async fn sqlite_and_store() -> (TestServer, Arc<SqliteStore>) {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(dir.path().join("sky.db")).await.unwrap());
        let srv = Self::start(store.clone(), dir, RateLimits::uniform(1000)).await;
        (srv, store)
    }

    /// A server whose public URL is `base_url` (links in mail start with it).
    pub async fn sqlite_at(base_url: &str, limits: RateLimits) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("sky.db")).await.unwrap();
        Self::start_at(Arc::new(store), dir, limits, base_url).await
    }

    pub async fn postgres(pool: sqlx::PgPool) -> TestServer {
        let store = PgStore::from_pool(pool).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        Self::start(Arc::new(store), dir, RateLimits::uniform(1000)).await
    }

    async fn start(store: Arc<dyn Store>, dir: tempfile::TempDir, limits: RateLimits) -> Self {
        Self::start_at(store, dir, limits, BASE_URL).await
    }

    async fn start_at(
        store: Arc<dyn Store>,
        dir: tempfile::TempDir,
        limits: RateLimits,
        base_url: &str,
    ) -> Self {
        let from = "SkyMailing <no-reply@sky.test>";
        let outbox = Arc::new(
            Outbox::open(dir.path().join("outbox"), parse_from(from).unwrap())
                .await
                .unwrap(),
        );
        let settings = Settings {
            base_url: base_url.into(),
            uploads_dir: dir.path().join("uploads"),
            from: from.into(),
            mail_url: format!("outbox:{}", dir.path().join("outbox").display()),
            rate_limits: limits,
            // Return paths, the bounce listener (started by the tests that
            // use it) and the webhook.
            bounce_domain: Some(BOUNCE_DOMAIN.into()),
            bounce_listen: Some("127.0.0.1:0".parse().unwrap()),
            bounce_webhook_secret: Some(WEBHOOK_SECRET.into()),
            ..Settings::default()
        };
        let service = Service::from_parts(
            store,
            outbox.clone(),
            Some(outbox.clone()),
            Arc::new(SystemClock),
            settings,
        );
        service.spawn_engine();
        TestServer {
            router: routes(service.clone()).map_to_response().boxed(),
            service,
            outbox,
            _dir: dir,
        }
    }

    /// Stops the engine as a shutdown signal would, and waits for it.
    pub async fn stop_engine(&mut self) {
        if let Some(engine) = self.service.engine_handle() {
            engine.shutdown().await;
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut req = Request::builder().method(method).uri(path.parse().unwrap());
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let req = match body {
            Some(b) => req
                .header("content-type", "application/json")
                .body(serde_json::to_vec(&b).unwrap()),
            None => req.finish(),
        };
        self.raw(req).await
    }

    pub async fn raw(&self, req: Request) -> Resp {
        let resp = self.router.get_response(req).await;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().into_vec().await.unwrap();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            text,
            body,
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Resp {
        self.call(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.call(Method::POST, path, token, Some(body)).await
    }

    pub async fn put(&self, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.call(Method::PUT, path, token, Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Resp {
        self.call(Method::DELETE, path, token, None).await
    }

    /// Waits (up to 15 s) for a message to `to` whose subject contains `subject`.
    pub async fn mail_to(&self, to: &str, subject: &str) -> OutboxEntry {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let found = self
                .outbox
                .list(10_000)
                .await
                .unwrap()
                .into_iter()
                .find(|m| m.to.iter().any(|t| t == to) && m.subject.contains(subject));
            if let Some(m) = found {
                return m;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no mail to {to} with subject containing {subject:?} arrived"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits (15 s) for the first finished run of a mailing, as the API shows it.
    pub async fn finished_run(&self, token: Option<&str>, mailing: i64) -> Value {
        for _ in 0..300 {
            let runs = self
                .get(&format!("/api/v1/mailings/{mailing}/runs"), token)
                .await;
            assert_eq!(runs.status, 200, "{runs:?}");
            if let Some(run) = runs.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["finished_at"].is_string())
            {
                return run.clone();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the run of mailing {mailing} did not finish");
    }

    /// Every message in the outbox to `to`.
    pub async fn mails_to(&self, to: &str) -> Vec<OutboxEntry> {
        self.outbox
            .list(10_000)
            .await
            .unwrap()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t == to))
            .collect()
    }

    /// Registers through the API, follows the emailed link and signs in:
    /// returns the token and the user's id.
    pub async fn signed_up(&self, email: &str, name: &str) -> (String, i64) {
        let r = self
            .post(
                "/api/v1/auth/register",
                None,
                json!({"email": email, "password": "correct horse", "name": name}),
            )
            .await;
        assert_eq!(r.status, 202, "{r:?}");
        let mail = self.mail_to(email, "Confirm your").await;
        let token = link_token(&mail.text, "/verify");
        let r = self
            .post("/api/v1/auth/verify", None, json!({ "token": token }))
            .await;
        assert_eq!(r.status, 200, "{r:?}");
        self.login(email, "correct horse").await
    }

    pub async fn login(&self, email: &str, password: &str) -> (String, i64) {
        let r = self
            .post(
                "/api/v1/auth/login",
                None,
                json!({"email": email, "password": password}),
            )
            .await;
        assert_eq!(r.status, 200, "{r:?}");
        (
            r.body["token"].as_str().unwrap().to_owned(),
            r.body["user"]["id"].as_i64().unwrap(),
        )
    }

    /// An admin made the way an operator makes one (`create-admin`), signed in.
    pub async fn admin(&self) -> (String, i64) {
        self.service
            .app
            .accounts
            .ensure_admin("root@sky.test", "admin password", "Root")
            .await
            .unwrap();
        self.login("root@sky.test", "admin password").await
    }

    /// A signed-up user whom the admin made a manager.
    pub async fn manager(&self, admin: &str) -> (String, i64) {
        let (_, id) = self.signed_up("mona@sky.test", "Mona").await;
        let r = self
            .put(
                &format!("/api/v1/users/{id}/role"),
                Some(admin),
                json!({"role": "manager"}),
            )
            .await;
        assert_eq!(r.status, 200, "{r:?}");
        // The role is read per request: the old token now acts as a manager.
        self.login("mona@sky.test", "correct horse").await
    }

    /// Creates a client, answering its id.
    pub async fn client(&self, token: &str, email: &str, name: &str) -> i64 {
        let r = self
            .post(
                "/api/v1/clients",
                Some(token),
                json!({"email": email, "full_name": name, "comment": ""}),
            )
            .await;
        assert_eq!(r.status, 201, "{r:?}");
        r.body["id"].as_i64().unwrap()
    }

    pub async fn message(&self, token: &str, subject: &str) -> i64 {
        let r = self
            .post(
                "/api/v1/messages",
                Some(token),
                json!({"subject": subject, "body_text": "Hello {{ name }}!\nLeave: {{ unsubscribe_url }}", "body_html": null}),
            )
            .await;
        assert_eq!(r.status, 201, "{r:?}");
        r.body["id"].as_i64().unwrap()
    }

    /// A mailing of `message` to `clients` whose first run is `start_in` from now.
    pub async fn mailing(
        &self,
        token: &str,
        message: i64,
        clients: &[i64],
        start_in: chrono::Duration,
    ) -> Value {
        let start = chrono::Utc::now() + start_in;
        let r = self
            .post(
                "/api/v1/mailings",
                Some(token),
                mailing_body(message, clients, start, "once"),
            )
            .await;
        assert_eq!(r.status, 201, "{r:?}");
        r.body
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(engine) = self.service.engine_handle() {
            engine.stop();
        }
    }
}

pub fn mailing_body(
    message: i64,
    clients: &[i64],
    start: chrono::DateTime<chrono::Utc>,
    periodicity: &str,
) -> Value {
    json!({
        "name": "Autumn news",
        "message_id": message,
        "client_ids": clients,
        "start_at": start.to_rfc3339(),
        "end_at": (start + chrono::Duration::days(30)).to_rfc3339(),
        "periodicity": periodicity,
    })
}

/// The `token=` of the link to `path` in an email's text.
pub fn link_token(text: &str, path: &str) -> String {
    let start = text
        .find(&format!("{BASE_URL}{path}?token="))
        .unwrap_or_else(|| panic!("no {path} link in {text}"));
    let rest = &text[start..];
    let token = rest.split("token=").nth(1).unwrap();
    token
        .split(|c: char| c.is_whitespace())
        .next()
        .unwrap()
        .to_owned()
}

/// Runs each named scenario against SQLite and PostgreSQL.
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::common::TestServer::sqlite().await).await;
                }
            )*
        }
        mod on_pg {
            $(
                #[sqlx::test(migrations = false)]
                async fn $name(pool: sqlx::PgPool) {
                    super::$name($crate::common::TestServer::postgres(pool).await).await;
                }
            )*
        }
    };
}

/// The English texts of the pages that a Russian page must not show: every
/// text of `en.json` that `ru.json` says differently (four characters or more,
/// without placeholders).
pub fn english_only_texts() -> Vec<String> {
    let en: std::collections::HashMap<String, String> =
        serde_json::from_str(include_str!("../../../locales/en.json")).unwrap();
    let ru: std::collections::HashMap<String, String> =
        serde_json::from_str(include_str!("../../../locales/ru.json")).unwrap();
    en.into_iter()
        .filter(|(k, v)| {
            ru.get(k) != Some(v) && v.len() >= 4 && !v.contains("%{") && !v.contains("{{")
        })
        .map(|(_, v)| v)
        .collect()
}

/// Whether `text` contains `phrase` on its own (not inside a longer word,
/// as "Mailing" is inside "SkyMailing").
pub fn contains_word(text: &str, phrase: &str) -> bool {
    text.match_indices(phrase).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + phrase.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

/// The undo form's target on an unsubscribe page, if it offers one.
pub fn undo_action(html: &str) -> Option<String> {
    // The undo form's action, wherever the links are mounted.
    let end = html.find("/undo?code=")?;
    let at = html[..end].rfind("action=\"")? + "action=\"".len();
    let action = &html[at..at + html[at..].find('"')?];
    Some(action.replace("&amp;", "&"))
}

//! The HTTP surface itself: the OpenAPI document against the routes served,
//! error answers (JSON with a code and the field), body limits, rate limits,
//! and the operations endpoints.

use std::collections::BTreeSet;

use crate::common::TestServer;
use poem::http::Method;
use serde_json::json;
use skymailing_server::RateLimits;

/// Every operation of the API, as the issue lists them (plus the profile and
/// blog-writing extras): the document must list exactly these, and the
/// server must serve each.
const OPERATIONS: &[(&str, &str)] = &[
    ("post", "/auth/register"),
    ("post", "/auth/verify"),
    ("post", "/auth/login"),
    ("post", "/auth/logout"),
    ("post", "/auth/password-reset"),
    ("post", "/auth/password-reset/confirm"),
    ("get", "/me"),
    ("put", "/me"),
    ("post", "/me/password"),
    ("get", "/clients"),
    ("post", "/clients"),
    ("get", "/suppressions"),
    ("post", "/suppressions"),
    ("delete", "/suppressions/{id}"),
    ("post", "/runs/{id}/resume"),
    ("post", "/runs/{id}/cancel"),
    ("get", "/clients/{id}"),
    ("put", "/clients/{id}"),
    ("delete", "/clients/{id}"),
    ("get", "/messages"),
    ("post", "/messages"),
    ("get", "/messages/{id}"),
    ("put", "/messages/{id}"),
    ("delete", "/messages/{id}"),
    ("get", "/mailings"),
    ("post", "/mailings"),
    ("get", "/mailings/{id}"),
    ("put", "/mailings/{id}"),
    ("delete", "/mailings/{id}"),
    ("post", "/mailings/{id}/disable"),
    ("post", "/mailings/{id}/enable"),
    ("get", "/mailings/{id}/runs"),
    ("get", "/logs"),
    ("get", "/logs/daily"),
    ("get", "/runs/{id}"),
    ("get", "/runs/{id}/deliveries"),
    ("get", "/users"),
    ("post", "/users/{id}/block"),
    ("post", "/users/{id}/unblock"),
    ("put", "/users/{id}/role"),
    ("get", "/clients/export"),
    ("get", "/clients/tags"),
    ("post", "/clients/import"),
    ("post", "/messages/{id}/preview"),
    ("post", "/mailings/{id}/test"),
    ("get", "/stats"),
    ("get", "/blog/posts"),
    ("post", "/blog/posts"),
    ("get", "/blog/posts/{id}"),
    ("put", "/blog/posts/{id}"),
    ("delete", "/blog/posts/{id}"),
];

#[tokio::test]
async fn the_openapi_document_lists_every_route_the_server_serves() {
    let srv = TestServer::sqlite().await;
    let r = srv.get("/api/openapi.json", None).await;
    assert_eq!(r.status, 200);
    let spec = r.body;
    assert!(
        spec["openapi"].as_str().unwrap().starts_with("3."),
        "{spec}"
    );
    assert_eq!(spec["servers"][0]["url"], "http://sky.test/api/v1");
    let listed: BTreeSet<(String, String)> = spec["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.clone(), path.clone()))
        })
        .collect();
    let expected: BTreeSet<(String, String)> = OPERATIONS
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(listed, expected);
    // Every operation that needs a token declares the bearer scheme.
    assert_eq!(
        spec["components"]["securitySchemes"]["BearerAuth"]["scheme"],
        "bearer"
    );

    // Each listed operation is served: no routing 404 or 405. Unknown ones are not.
    for (method, path) in OPERATIONS {
        let url = format!("/api/v1{}", path.replace("{id}", "1"));
        let body = (*method != "get" && *method != "delete").then(|| json!({}));
        let r = srv
            .call(method.to_uppercase().parse().unwrap(), &url, None, body)
            .await;
        assert!(
            r.status != 405 && r.body["message"] != "no such route",
            "{method} {path} is not served: {r:?}"
        );
    }
    let r = srv.get("/api/v1/nothing-here", None).await;
    assert_eq!((r.status, r.code()), (404, "not_found"));
    let r = srv.call(Method::PATCH, "/api/v1/clients", None, None).await;
    assert_eq!(r.status, 405);
    assert_eq!(r.code(), "method_not_allowed");

    let docs = srv.get("/api/docs", None).await;
    assert_eq!(docs.status, 200);
    assert!(docs.text.contains("swagger"), "interactive docs expected");
}

#[tokio::test]
async fn bad_input_is_refused_with_a_4xx_that_names_the_problem() {
    let srv = TestServer::sqlite().await;
    let (token, _) = srv.signed_up("ann@example.com", "Ann").await;
    let t = Some(token.as_str());

    // A field that fails validation: 422, and the field is named.
    let r = srv
        .post(
            "/api/v1/clients",
            t,
            json!({"email": "not-an-email", "full_name": "X", "comment": ""}),
        )
        .await;
    assert_eq!(
        (r.status, r.code(), r.body["field"].clone()),
        (422, "invalid", json!("email")),
        "{r:?}"
    );
    let r = srv
        .post(
            "/api/v1/mailings",
            t,
            json!({"name": "n", "message_id": 1, "client_ids": [1], "start_at": "2030-01-01T00:00:00Z",
                   "end_at": "2030-02-01T00:00:00Z", "periodicity": "hourly"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["field"].clone()),
        (422, json!("periodicity")),
        "{r:?}"
    );
    let msg = srv.message(&token, "Hi").await;
    let r = srv
        .post(
            "/api/v1/messages",
            t,
            json!({"subject": "s", "body_text": "Hi {{ nme }}", "body_html": null}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["field"].clone()),
        (422, json!("body_text")),
        "{r:?}"
    );
    let client = srv.client(&token, "bob@client.test", "Bob").await;
    let start = chrono::Utc::now() + chrono::Duration::days(1);
    let mut body = crate::common::mailing_body(msg, &[client], start, "daily");
    body["end_at"] = json!((start - chrono::Duration::hours(1)).to_rfc3339());
    let r = srv.post("/api/v1/mailings", t, body).await;
    assert_eq!(
        (r.status, r.body["field"].clone()),
        (422, json!("end_at")),
        "{r:?}"
    );

    // Unknown fields, wrong types, broken JSON: 400 with a JSON error.
    let r = srv
        .post(
            "/api/v1/clients",
            t,
            json!({"email": "a@client.test", "admin": true}),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "bad_request"), "{r:?}");
    assert!(
        r.body["message"].as_str().unwrap().contains("admin"),
        "{r:?}"
    );
    let r = srv
        .post("/api/v1/clients", t, json!({"email": {"nested": 1}}))
        .await;
    assert_eq!(r.status, 400, "{r:?}");
    let broken = poem::Request::builder()
        .method(Method::POST)
        .uri("/api/v1/clients".parse().unwrap())
        .header("authorization", format!("Bearer {token}"))
        .content_type("application/json")
        .body("{\"email\": ");
    let r = srv.raw(broken).await;
    assert_eq!((r.status, r.code()), (400, "bad_request"), "{r:?}");
    let r = srv.get("/api/v1/clients?per_page=100000", t).await;
    assert_eq!(
        (r.status, r.body["field"].clone()),
        (422, json!("per_page")),
        "{r:?}"
    );
    let r = srv.get("/api/v1/clients/abc", t).await;
    assert_eq!(r.status, 400, "{r:?}");

    // Oversized bodies: 413, declared or streamed.
    let huge = "x".repeat(2 * 1024 * 1024);
    let r = srv
        .post(
            "/api/v1/messages",
            t,
            json!({"subject": "s", "body_text": huge, "body_html": null}),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (413, "payload_too_large"),
        "{:?}",
        (r.status, &r.body)
    );
    let streamed = poem::Request::builder()
        .method(Method::POST)
        .uri("/api/v1/messages".parse().unwrap())
        .header("authorization", format!("Bearer {token}"))
        .content_type("application/json")
        .body(poem::Body::from_bytes_stream(futures_chunks(
            huge.into_bytes(),
        )));
    let r = srv.raw(streamed).await;
    assert_eq!(r.status, 413);

    // Nothing half-written: the only client is the one created above.
    assert_eq!(srv.get("/api/v1/clients", t).await.body["total"], 1);
    assert_eq!(srv.get("/api/v1/mailings", t).await.body["total"], 0);

    // A duplicate client is a field error; a message in use is a conflict.
    let r = srv
        .post(
            "/api/v1/clients",
            t,
            json!({"email": "BOB@client.test", "full_name": "Bob again", "comment": ""}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["field"].clone()),
        (422, json!("email")),
        "{r:?}"
    );
    srv.mailing(&token, msg, &[client], chrono::Duration::days(1))
        .await;
    let r = srv.delete(&format!("/api/v1/messages/{msg}"), t).await;
    assert_eq!((r.status, r.code()), (409, "conflict"), "{r:?}");
}

fn futures_chunks(
    bytes: Vec<u8>,
) -> impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static {
    let chunks: Vec<_> = bytes
        .chunks(64 * 1024)
        .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
        .collect();
    futures_util::stream::iter(chunks)
}

#[tokio::test]
async fn sign_in_registration_and_reset_are_rate_limited() {
    let srv = TestServer::sqlite_with(RateLimits::uniform(3)).await;
    let attempt = || {
        srv.post(
            "/api/v1/auth/login",
            None,
            json!({"email": "ann@example.com", "password": "wrong password"}),
        )
    };
    for _ in 0..3 {
        assert_eq!(attempt().await.status, 401);
    }
    let r = attempt().await;
    assert_eq!((r.status, r.code()), (429, "rate_limited"), "{r:?}");
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "Retry-After: {retry}");

    for n in 0..3 {
        let r = srv
            .post(
                "/api/v1/auth/password-reset",
                None,
                json!({"email": format!("u{n}@example.com")}),
            )
            .await;
        assert_eq!(r.status, 202);
    }
    let r = srv
        .post(
            "/api/v1/auth/password-reset",
            None,
            json!({"email": "u9@example.com"}),
        )
        .await;
    assert_eq!(r.status, 429);
    assert!(r.headers.contains_key("retry-after"));
}

#[tokio::test]
async fn registration_is_rate_limited() {
    let srv = TestServer::sqlite_with(RateLimits::uniform(3)).await;
    let register = |n: u32| {
        srv.post(
            "/api/v1/auth/register",
            None,
            json!({"email": format!("r{n}@example.com"), "password": "correct horse", "name": "R"}),
        )
    };
    for n in 0..3 {
        assert_eq!(register(n).await.status, 202);
    }
    let r = register(3).await;
    assert_eq!((r.status, r.code()), (429, "rate_limited"), "{r:?}");
    assert!(r.headers.contains_key("retry-after"));
}

/// Checking the current password is a guess like a sign-in, and shares its limit.
#[tokio::test]
async fn password_changes_share_the_sign_in_limit() {
    let srv = TestServer::sqlite_with(RateLimits::uniform(3)).await;
    let (token, _) = srv.signed_up("ann@example.com", "Ann").await; // one sign-in
    let change = || {
        srv.post(
            "/api/v1/me/password",
            Some(&token),
            json!({"current_password": "a wrong guess", "new_password": "another horse"}),
        )
    };
    for _ in 0..2 {
        let r = change().await;
        assert_eq!(
            (r.status, r.body["field"].as_str()),
            (422, Some("current_password")),
            "{r:?}"
        );
    }
    let r = change().await;
    assert_eq!((r.status, r.code()), (429, "rate_limited"), "{r:?}");
    assert!(r.headers.contains_key("retry-after"));
}

#[tokio::test]
async fn registering_a_taken_address_answers_the_same() {
    let srv = TestServer::sqlite().await;
    let body = json!({"email": "ann@example.com", "password": "correct horse", "name": "Ann"});
    let first = srv.post("/api/v1/auth/register", None, body.clone()).await;
    srv.mail_to("ann@example.com", "Confirm your").await;
    let second = srv.post("/api/v1/auth/register", None, body).await;
    assert_eq!((first.status, &first.body), (second.status, &second.body));
    // The owner of the address is told, with no new link.
    srv.mail_to("ann@example.com", "Your SkyMailing account")
        .await;
    // Not verified yet: sign-in says so (only with the right password).
    let r = srv
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "ann@example.com", "password": "correct horse"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "not_verified"), "{r:?}");
    let r = srv
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "ann@example.com", "password": "wrong guess"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (401, "invalid_credentials"));
}

/// Addresses a relay would refuse are refused on entry, and one address has
/// one spelling (composed and decomposed accents are the same client).
#[tokio::test]
async fn client_addresses_are_sendable_and_have_one_spelling() {
    let srv = TestServer::sqlite().await;
    let (token, _) = srv.signed_up("ann@example.com", "Ann").await;
    let t = Some(token.as_str());
    for bad in [
        r#""john..doe"@example.org"#,
        "john..doe@example.org",
        ".john@example.org",
    ] {
        let r = srv
            .post(
                "/api/v1/clients",
                t,
                json!({"email": bad, "full_name": "J", "comment": ""}),
            )
            .await;
        assert_eq!(
            (r.status, r.body["field"].as_str()),
            (422, Some("email")),
            "{bad}: {r:?}"
        );
    }
    let composed = srv
        .post(
            "/api/v1/clients",
            t,
            json!({"email": "jos\u{e9}@example.org", "full_name": "J", "comment": ""}),
        )
        .await;
    assert_eq!(composed.status, 201, "{composed:?}");
    let decomposed = srv
        .post(
            "/api/v1/clients",
            t,
            json!({"email": "jose\u{301}@example.org", "full_name": "J", "comment": ""}),
        )
        .await;
    assert_eq!(
        (decomposed.status, decomposed.body["reason"].as_str()),
        (422, Some("client_email_taken")),
        "{decomposed:?}"
    );
}

/// API answers (the sign-in token among them) are never cached, and the
/// interactive docs cannot be framed or load anything from elsewhere.
#[tokio::test]
async fn api_answers_are_not_cached_and_the_docs_are_not_framed() {
    let srv = TestServer::sqlite().await;
    let r = srv
        .post(
            "/api/v1/auth/register",
            None,
            json!({"email": "ann@example.com", "password": "correct horse", "name": "Ann"}),
        )
        .await;
    assert_eq!(r.headers["cache-control"], "no-store");
    srv.mail_to("ann@example.com", "Confirm your").await;
    let (token, _) = srv.signed_up("bob@example.com", "Bob").await;
    for r in [
        srv.post(
            "/api/v1/auth/login",
            None,
            json!({"email": "bob@example.com", "password": "correct horse"}),
        )
        .await,
        srv.get("/api/v1/me", Some(&token)).await,
        srv.get("/api/v1/nowhere", None).await,
    ] {
        assert_eq!(r.headers["cache-control"], "no-store", "{r:?}");
    }
    let docs = srv.get("/api/docs", None).await;
    assert_eq!(docs.status, 200);
    let csp = docs.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'self'"),
        "{csp}"
    );
    assert_eq!(docs.headers["x-frame-options"], "DENY");
}

/// Times outside 1970..2100 are refused naming the field (the issue found a
/// start of year -262143 accepted, which later panicked the engine).
#[tokio::test]
async fn mailing_times_outside_1970_to_2100_are_refused_naming_the_field() {
    let srv = TestServer::sqlite().await;
    let (token, _) = srv.signed_up("ann@example.com", "Ann").await;
    let t = Some(token.as_str());
    let client = srv.client(&token, "bob@client.test", "Bob").await;
    let msg = srv.message(&token, "Hi").await;
    for (start, end, field) in [
        (
            "-262143-01-01T00:00:00Z",
            "2026-01-01T00:00:00Z",
            "start_at",
        ),
        ("0001-01-01T00:00:00Z", "2026-01-01T00:00:00Z", "start_at"),
        ("1969-12-31T23:59:59Z", "2026-01-01T00:00:00Z", "start_at"),
        ("2026-01-01T00:00:00Z", "2100-01-01T00:00:01Z", "end_at"),
        ("2026-01-01T00:00:00Z", "+262142-12-31T23:59:59Z", "end_at"),
    ] {
        let body = json!({"name": "X", "message_id": msg, "client_ids": [client],
            "start_at": start, "end_at": end, "periodicity": "daily"});
        let r = srv.post("/api/v1/mailings", t, body).await;
        if r.status == 400 {
            // A year chrono cannot read at all is malformed JSON input.
            continue;
        }
        assert_eq!(
            (r.status, r.body["field"].as_str()),
            (422, Some(field)),
            "{start}..{end}: {r:?}"
        );
        assert_eq!(r.body["reason"], "time_out_of_range");
    }
    let body = json!({"name": "X", "message_id": msg, "client_ids": [client],
        "start_at": "1970-01-01T00:00:00Z", "end_at": "2100-01-01T00:00:00Z", "periodicity": "daily"});
    assert_eq!(
        srv.post("/api/v1/mailings", t, body).await.status,
        201,
        "the bounds themselves are fine"
    );
    // A time-zone change afterwards is harmless, and the engine keeps running.
    let r = srv
        .put(
            "/api/v1/me",
            t,
            json!({"name": "Ann", "time_zone": "America/New_York", "language": null}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let ready = srv.get("/readyz", None).await;
    assert_eq!(
        (ready.status, ready.body["engine"].as_str()),
        (200, Some("running"))
    );
}

/// With its database gone the process lives (`/healthz`), says it cannot
/// serve (`/readyz` 503), and the API answers 503 `unavailable`, not 500.
#[tokio::test]
async fn without_the_database_readiness_and_the_api_answer_503() {
    let (srv, store) = TestServer::sqlite_and_store().await;
    let (token, _) = srv.signed_up("ann@example.com", "Ann").await;
    assert_eq!(srv.get("/readyz", None).await.status, 200);
    store.close().await;
    assert_eq!(srv.get("/healthz", None).await.status, 200);
    let r = srv.get("/readyz", None).await;
    assert_eq!(r.status, 503, "{r:?}");
    assert_eq!(r.body["status"], "unavailable");
    let r = srv.get("/api/v1/stats", None).await;
    assert_eq!((r.status, r.code()), (503, "unavailable"), "{r:?}");
    let r = srv.get("/api/v1/clients", Some(&token)).await;
    assert_eq!((r.status, r.code()), (503, "unavailable"), "{r:?}");
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let srv = TestServer::sqlite().await;
    let r = srv.get("/healthz", None).await;
    assert_eq!((r.status, r.body["status"].clone()), (200, json!("ok")));
    let r = srv.get("/readyz", None).await;
    assert_eq!((r.status, r.body["database"].clone()), (200, json!("ok")));

    // A run, so the engine's counters and histograms have something.
    let (token, _) = srv.signed_up("ann@example.com", "Ann").await;
    let c = srv.client(&token, "bob@client.test", "Bob").await;
    let m = srv.message(&token, "Metered").await;
    srv.mailing(&token, m, &[c], chrono::Duration::zero()).await;
    srv.mail_to("bob@client.test", "Metered").await;
    srv.get("/api/v1/clients/424242", Some(&token)).await;

    let mut text = String::new();
    for _ in 0..100 {
        text = srv.get("/metrics", None).await.text;
        if text.contains("skymailing_run_duration_seconds_count") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    for needle in [
        "skymailing_deliveries_total{outcome=\"sent\"}",
        "skymailing_deliveries_pending 0",
        "skymailing_run_duration_seconds_bucket",
        "skymailing_http_requests_total{route=\"/api/v1/clients/{id}\",method=\"GET\",status=\"404\"}",
        "# HELP skymailing_deliveries_total",
        "skymailing_http_requests_total{route=\"/api/v1/auth/register\",method=\"POST\",status=\"202\"}",
        "skymailing_http_request_duration_seconds_bucket",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
}

/// An application mounts the recipients' links in its own router, under a
/// prefix of its choosing: the pages' forms follow the mount point.
#[tokio::test]
async fn the_public_routes_work_where_an_application_mounts_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(
        skymailing_store_sqlite::SqliteStore::open(dir.path().join("a.db"))
            .await
            .unwrap(),
    );
    let settings = skymailing_server::Settings {
        base_url: "http://localhost/mail".into(),
        ..skymailing_server::Settings::default()
    };
    let mailer = std::sync::Arc::new(skymailing_core::testkit::RecordingMailer::new());
    let app = skymailing_core::SkyMailing::builder(store)
        .mailer(mailer.clone())
        .base_url(&settings.base_url)
        .build()
        .unwrap();
    app.accounts
        .ensure_admin("shop@example.com", "a long password", "Shop")
        .await
        .unwrap();
    let me = app
        .accounts
        .login("shop@example.com", "a long password")
        .await
        .unwrap()
        .actor();
    let ann = app
        .clients
        .create(
            me,
            &skymailing_core::ClientDraft::parse("ann@example.com", "Ann", "").unwrap(),
        )
        .await
        .unwrap();
    let link = app.links().unsubscribe(&ann.unsubscribe_token);
    let path = link.strip_prefix("http://localhost").unwrap().to_owned();
    assert!(path.starts_with("/mail/unsubscribe/"), "{path}");
    let service = skymailing_server::Service::from_app(app.clone(), mailer.clone(), None, settings);
    let shop = poem::Route::new()
        .at("/", poem::endpoint::make_sync(|_| "the shop"))
        .nest("/mail", skymailing_server::public_routes(service));
    let client = poem::test::TestClient::new(shop);

    let page = client.get(&path).header("host", "localhost").send().await;
    page.assert_status_is_ok();
    let html = page.0.into_body().into_string().await.unwrap();
    assert!(html.contains(&format!("action=\"{path}\"")), "{html}");

    let done = client
        .post(&path)
        .header("host", "localhost")
        .content_type("application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await;
    done.assert_status_is_ok();
    let html = done.0.into_body().into_string().await.unwrap();
    let undo =
        crate::common::undo_action(&html).unwrap_or_else(|| panic!("offers to undo: {html}"));
    assert!(undo.starts_with(&format!("{path}/undo?code=")), "{undo}");
    assert!(
        app.clients
            .get(me, ann.id)
            .await
            .unwrap()
            .unsubscribed_at
            .is_some()
    );

    let back = client
        .post(&undo)
        .header("host", "localhost")
        .content_type("application/x-www-form-urlencoded")
        .send()
        .await;
    back.assert_status_is_ok();
    assert!(
        app.clients
            .get(me, ann.id)
            .await
            .unwrap()
            .unsubscribed_at
            .is_none()
    );

    // A self-registered account's verification link, at the same mount point.
    app.accounts
        .register("new@example.com", "a long password", "New", None)
        .await
        .unwrap();
    app.accounts.wait_for_mail().await;
    let mail = mailer
        .sent_to("new@example.com")
        .pop()
        .expect("a verification mail");
    let link = mail
        .text
        .split_whitespace()
        .find(|w| w.starts_with("http://localhost/mail/verify?token="))
        .unwrap_or_else(|| panic!("no verification link in {}", mail.text))
        .to_owned();
    let path = link.strip_prefix("http://localhost").unwrap().to_owned();
    let page = client.get(&path).header("host", "localhost").send().await;
    page.assert_status_is_ok();
    let html = page.0.into_body().into_string().await.unwrap();
    assert!(html.contains(&format!("action=\"{path}\"")), "{html}");
    assert!(
        matches!(
            app.accounts
                .login("new@example.com", "a long password")
                .await,
            Err(skymailing_core::Error::NotVerified)
        ),
        "opening the link does not verify"
    );
    let done = client.post(&path).header("host", "localhost").send().await;
    done.assert_status_is_ok();
    app.accounts
        .login("new@example.com", "a long password")
        .await
        .expect("verified");
    let again = client.post(&path).header("host", "localhost").send().await;
    again.assert_status(poem::http::StatusCode::NOT_FOUND);
}

/// Text fields take JSON strings only: a number or a boolean where the
/// document says `string` is refused (poem-openapi alone stored `true` as
/// the text "true"; found by Schemathesis).
#[tokio::test]
async fn a_number_or_boolean_where_text_is_expected_is_refused() {
    let srv = TestServer::sqlite().await;
    let (token, _) = srv.signed_up("ann@example.com", "Ann").await;
    let t = Some(token.as_str());
    for (path, body) in [
        (
            "/api/v1/messages",
            json!({"subject": true, "body_text": "x", "body_html": null}),
        ),
        (
            "/api/v1/messages",
            json!({"subject": "s", "body_text": "x", "body_html": 1130}),
        ),
        ("/api/v1/clients", json!({"email": 5, "full_name": "Five"})),
        (
            "/api/v1/clients",
            json!({"email": "a@example.com", "full_name": "A", "tags": [1]}),
        ),
        (
            "/api/v1/auth/login",
            json!({"email": "ann@example.com", "password": 12345678}),
        ),
    ] {
        let r = srv.post(path, t, body.clone()).await;
        assert_eq!(
            (r.status, r.code()),
            (400, "bad_request"),
            "{path} {body}: {r:?}"
        );
    }
    assert_eq!(srv.get("/api/v1/messages", t).await.body["total"], 0);
    assert_eq!(srv.get("/api/v1/clients", t).await.body["total"], 0);
}

/// The document says what the server does (Schemathesis found it did not):
/// nullable fields are nullable, 415 is documented on body-taking routes,
/// request bodies refuse unknown fields, list bounds are stated, and a 405
/// names the methods the path answers.
#[tokio::test]
async fn the_openapi_document_declares_nulls_415s_closed_bodies_and_allow() {
    let srv = TestServer::sqlite().await;
    let spec = srv.get("/api/openapi.json", None).await.body;
    let schemas = &spec["components"]["schemas"];
    assert_eq!(
        schemas["MessageOut"]["properties"]["body_html"]["nullable"], true,
        "{}",
        schemas["MessageOut"]
    );
    assert_eq!(
        schemas["ClientOut"]["properties"]["unsubscribed_at"]["nullable"],
        true
    );
    assert_eq!(schemas["ClientIn"]["additionalProperties"], false);
    assert_eq!(
        schemas["ClientFilterIn"]["additionalProperties"], false,
        "nested in MailingIn"
    );
    for (path, method) in [
        ("/clients", "post"),
        ("/clients/import", "post"),
        ("/messages/{id}", "put"),
    ] {
        let responses = &spec["paths"][path][method]["responses"];
        assert!(responses["415"].is_object(), "{method} {path}: {responses}");
    }
    let page = spec["paths"]["/clients"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "per_page")
        .unwrap()
        .clone();
    assert_eq!(
        (
            page["schema"]["minimum"].clone(),
            page["schema"]["maximum"].clone()
        ),
        (json!(1), json!(200))
    );
    let r = srv
        .call(Method::PATCH, "/api/v1/clients", None, Some(json!({})))
        .await;
    assert_eq!(r.status, 405);
    assert_eq!(r.headers["allow"].to_str().unwrap(), "GET, POST", "{r:?}");
}

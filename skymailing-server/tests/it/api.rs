//! The JSON API through the whole server, on SQLite and on PostgreSQL: the
//! user's journey, what managers may and may not do, what anonymous visitors
//! reach, and that another user's data is invisible on every endpoint.

use crate::common::{TestServer, link_token, mailing_body};
use chrono::Duration;
use serde_json::json;

on_both_stores!(
    journey_from_sign_up_to_delivered_mail,
    a_mailing_due_in_two_seconds_sends_with_no_further_request,
    managers_see_block_and_disable_but_edit_nothing,
    anonymous_visitors_reach_only_stats_and_blog,
    every_endpoint_answers_404_for_another_users_data,
    password_reset_by_emailed_link_ends_every_session,
    an_unsubscribe_belongs_to_the_recipient,
    mailings_carry_their_senders_and_a_once_only_one_needs_no_end,
    every_bad_field_is_reported_at_once,
);

async fn journey_from_sign_up_to_delivered_mail(srv: TestServer) {
    let (token, me) = srv.signed_up("ann@example.com", "Ann").await;
    let t = Some(token.as_str());

    let r = srv.get("/api/v1/me", t).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["id"], me);
    assert_eq!(r.body["email"], "ann@example.com");
    assert_eq!(r.body["state"], "active");
    assert_eq!(r.body["role"], "user");

    let bob = srv.client(&token, "bob@client.test", "Bob Brown").await;
    let cid = srv.client(&token, "cid@client.test", "Cid").await;
    let msg = srv.message(&token, "Autumn offers").await;
    let m = srv
        .mailing(&token, msg, &[bob, cid], Duration::zero())
        .await;
    assert_eq!(m["periodicity"], "once");
    assert_eq!(m["client_ids"], json!([bob, cid]));
    assert_eq!(m["enabled"], true);

    let to_bob = srv.mail_to("bob@client.test", "Autumn offers").await;
    assert!(
        to_bob.text.starts_with("Hello Bob Brown!"),
        "{}",
        to_bob.text
    );
    srv.mail_to("cid@client.test", "Autumn offers").await;

    // The run reaches the log with its report; the owner sees the addresses.
    let mailing = m["id"].as_i64().unwrap();
    let run = srv.finished_run(t, mailing).await;
    assert_eq!(
        (run["recipients"].as_u64(), run["sent"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(run["report"], "Sent 2 of 2", "{run}");
    let id = run["id"].as_i64().unwrap();
    let log = srv.get("/api/v1/logs", t).await;
    assert!(
        log.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == id)
    );
    let detail = srv.get(&format!("/api/v1/runs/{id}"), t).await;
    assert_eq!(detail.body["progress"]["percent"], 100, "{detail:?}");
    assert_eq!(detail.body["progress"]["sent"], 2);
    let deliveries = srv.get(&format!("/api/v1/runs/{id}/deliveries"), t).await;
    assert_eq!(deliveries.status, 200);
    let mut emails: Vec<_> = deliveries.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["email"].as_str().unwrap().to_owned(), d["state"].clone()))
        .collect();
    emails.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        emails,
        [
            ("bob@client.test".to_owned(), json!("sent")),
            ("cid@client.test".to_owned(), json!("sent"))
        ]
    );

    // The unsubscribe link of the mail: GET only asks, POST (one-click) acts.
    let link = to_bob
        .text
        .split_whitespace()
        .find(|w| w.contains("/unsubscribe/"))
        .unwrap()
        .to_owned();
    let path = link.strip_prefix(crate::common::BASE_URL).unwrap();
    let page = srv.get(path, None).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("bob@client.test") && page.text.contains("<form method=\"post\""));
    let c = srv.get(&format!("/api/v1/clients/{bob}"), t).await;
    assert_eq!(
        c.body["unsubscribed_at"],
        json!(null),
        "GET must not unsubscribe"
    );
    let done = srv
        .raw(
            poem::Request::builder()
                .method(poem::http::Method::POST)
                .uri(path.parse().unwrap())
                .content_type("application/x-www-form-urlencoded")
                .body("List-Unsubscribe=One-Click"),
        )
        .await;
    assert_eq!(done.status, 200, "{done:?}");
    let c = srv.get(&format!("/api/v1/clients/{bob}"), t).await;
    assert!(c.body["unsubscribed_at"].is_string(), "{c:?}");
    let undo_action = crate::common::undo_action(&done.text).expect("offers to undo");
    assert!(
        undo_action.starts_with(&format!("{path}/undo?code=")),
        "{undo_action}"
    );
    // The link alone does not undo (it may be known to others)...
    let bare = srv
        .call(
            poem::http::Method::POST,
            &format!("{path}/undo"),
            None,
            None,
        )
        .await;
    assert_eq!(bare.status, 404, "{bare:?}");
    let again = srv.get(path, None).await;
    assert!(
        crate::common::undo_action(&again.text).is_none(),
        "opening the link again offers no undo"
    );
    // ...but the recipient can change their mind from the page they got.
    let undo = srv
        .call(poem::http::Method::POST, &undo_action, None, None)
        .await;
    assert_eq!(undo.status, 200, "{undo:?}");
    let c = srv.get(&format!("/api/v1/clients/{bob}"), t).await;
    assert_eq!(c.body["unsubscribed_at"], json!(null), "{c:?}");
    assert_eq!(srv.get("/unsubscribe/not-a-token", None).await.status, 404);

    // Lists paginate.
    let page = srv.get("/api/v1/clients?per_page=1&page=2", t).await;
    assert_eq!(
        (page.body["total"].as_u64(), page.body["page"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(page.body["items"].as_array().unwrap().len(), 1);
    let found = srv.get("/api/v1/clients?q=brown", t).await;
    assert_eq!(found.body["total"], 1);

    // Signing out ends this token.
    assert_eq!(
        srv.post("/api/v1/auth/logout", t, json!({})).await.status,
        204
    );
    let r = srv.get("/api/v1/me", t).await;
    assert_eq!((r.status, r.code()), (401, "unauthenticated"));
}

async fn a_mailing_due_in_two_seconds_sends_with_no_further_request(srv: TestServer) {
    let (token, _) = srv.signed_up("ann@example.com", "Ann").await;
    let bob = srv.client(&token, "bob@client.test", "Bob").await;
    let msg = srv.message(&token, "Later news").await;
    let m = srv.mailing(&token, msg, &[bob], Duration::seconds(2)).await;
    assert_eq!(m["status"], "scheduled");
    assert!(m["next_run_at"].is_string());
    assert!(
        srv.mails_to("bob@client.test").await.is_empty(),
        "sent too early"
    );
    let started = std::time::Instant::now();
    srv.mail_to("bob@client.test", "Later news").await;
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

async fn managers_see_block_and_disable_but_edit_nothing(srv: TestServer) {
    let (admin, _) = srv.admin().await;
    let (ann, ann_id) = srv.signed_up("ann@example.com", "Ann").await;
    let (mona, _) = srv.manager(&admin).await;
    let a = Some(ann.as_str());
    let m = Some(mona.as_str());
    let client = srv.client(&ann, "bob@client.test", "Bob").await;
    let msg = srv.message(&ann, "Weekly").await;
    let mailing = srv.mailing(&ann, msg, &[client], Duration::days(1)).await["id"]
        .as_i64()
        .unwrap();

    // Sees everyone's mailings.
    let all = srv.get("/api/v1/mailings", m).await;
    assert_eq!(all.status, 200);
    assert!(
        all.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"] == mailing)
    );
    assert_eq!(
        srv.get(&format!("/api/v1/mailings/{mailing}"), m)
            .await
            .status,
        200
    );
    // The user sees only their own list; `scope=all` is not theirs.
    assert_eq!(srv.get("/api/v1/mailings?scope=all", a).await.status, 403);

    // Edits nothing.
    let r = srv
        .post(
            "/api/v1/clients",
            m,
            json!({"email": "x@client.test", "full_name": "X", "comment": ""}),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "forbidden"), "{r:?}");
    // Another user's client is not found, as it is for every other user.
    let path = format!("/api/v1/clients/{client}");
    assert_eq!(srv.get(&path, m).await.status, 404);
    let edit = json!({"email": "x@client.test", "full_name": "X", "comment": ""});
    assert_eq!(srv.put(&path, m, edit).await.status, 404);
    assert_eq!(srv.delete(&path, m).await.status, 404);
    let body = mailing_body(
        msg,
        &[client],
        chrono::Utc::now() + Duration::days(2),
        "weekly",
    );
    let r = srv
        .put(&format!("/api/v1/mailings/{mailing}"), m, body.clone())
        .await;
    assert_eq!(r.status, 403, "{r:?}");
    assert_eq!(
        srv.delete(&format!("/api/v1/mailings/{mailing}"), m)
            .await
            .status,
        403
    );
    let r = srv
        .put(
            &format!("/api/v1/messages/{msg}"),
            m,
            json!({"subject": "x", "body_text": "y", "body_html": null}),
        )
        .await;
    assert_eq!(r.status, 403);
    // ... and changes no role.
    let r = srv
        .put(
            &format!("/api/v1/users/{ann_id}/role"),
            m,
            json!({"role": "manager"}),
        )
        .await;
    assert_eq!(r.status, 403);

    // Disables; the owner cannot re-enable what a manager disabled.
    let r = srv
        .post(&format!("/api/v1/mailings/{mailing}/disable"), m, json!({}))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        (r.body["enabled"].clone(), r.body["status"].clone()),
        (json!(false), json!("disabled"))
    );
    assert_eq!(r.body["disabled_by"], "manager");
    let r = srv
        .post(&format!("/api/v1/mailings/{mailing}/enable"), a, json!({}))
        .await;
    assert_eq!(r.status, 403, "{r:?}");

    // Lists and blocks users; the blocked user's token stops working at once.
    let users = srv.get("/api/v1/users", m).await;
    assert_eq!(users.status, 200);
    assert!(users.body["total"].as_u64().unwrap() >= 3);
    assert_eq!(srv.get("/api/v1/me", a).await.status, 200);
    let r = srv
        .post(&format!("/api/v1/users/{ann_id}/block"), m, json!({}))
        .await;
    assert_eq!(
        (r.status, r.body["state"].clone()),
        (200, json!("blocked")),
        "{r:?}"
    );
    assert_eq!(srv.get("/api/v1/me", a).await.status, 401);
    assert_eq!(srv.get("/api/v1/clients", a).await.status, 401);
    let r = srv
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "ann@example.com", "password": "correct horse"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "account_blocked"), "{r:?}");
    assert!(r.body["message"].as_str().unwrap().contains("blocked"));
    // Managers cannot block admins.
    let admin_id = srv.get("/api/v1/me", Some(&admin)).await.body["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        srv.post(&format!("/api/v1/users/{admin_id}/block"), m, json!({}))
            .await
            .status,
        403
    );
    // Unblocking lets the user in again.
    assert_eq!(
        srv.post(&format!("/api/v1/users/{ann_id}/unblock"), m, json!({}))
            .await
            .status,
        200
    );
    srv.login("ann@example.com", "correct horse").await;
}

/// Every operation the OpenAPI document lists, except the public ones, asks
/// an anonymous caller to sign in.
async fn anonymous_visitors_reach_only_stats_and_blog(srv: TestServer) {
    let (admin, _) = srv.admin().await;
    let post = srv
        .post(
            "/api/v1/blog/posts",
            Some(&admin),
            json!({"title": "Hello", "body": "First post", "image": null, "published": true}),
        )
        .await;
    assert_eq!(post.status, 201, "{post:?}");
    let id = post.body["id"].as_i64().unwrap();
    let draft = srv
        .post(
            "/api/v1/blog/posts",
            Some(&admin),
            json!({"title": "Draft", "body": "Not yet", "image": null, "published": false}),
        )
        .await;
    let draft_id = draft.body["id"].as_i64().unwrap();

    let stats = srv.get("/api/v1/stats", None).await;
    assert_eq!(stats.status, 200);
    for field in ["mailings", "running_mailings", "unique_clients"] {
        assert!(stats.body[field].is_u64(), "{stats:?}");
    }
    let list = srv.get("/api/v1/blog/posts", None).await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body["total"], 1, "drafts are not listed: {list:?}");
    let read = srv.get(&format!("/api/v1/blog/posts/{id}"), None).await;
    assert_eq!((read.status, read.body["views"].clone()), (200, json!(1)));
    let read = srv.get(&format!("/api/v1/blog/posts/{id}"), None).await;
    assert_eq!(read.body["views"], 2, "a read counts a view");
    assert_eq!(
        srv.get(&format!("/api/v1/blog/posts/{draft_id}"), None)
            .await
            .status,
        404
    );

    let public = [
        ("get", "/stats"),
        ("get", "/blog/posts"),
        ("get", "/blog/posts/{id}"),
        ("post", "/auth/register"),
        ("post", "/auth/verify"),
        ("post", "/auth/login"),
        ("post", "/auth/password-reset"),
        ("post", "/auth/password-reset/confirm"),
    ];
    let spec = srv.get("/api/openapi.json", None).await.body;
    let mut checked = 0;
    for (path, ops) in spec["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            if public.contains(&(method.as_str(), path.as_str())) {
                continue;
            }
            let url = format!("/api/v1{}", path.replace("{id}", &id.to_string()));
            let body = (method != "get" && method != "delete").then(|| json!({}));
            let r = srv
                .call(method.to_uppercase().parse().unwrap(), &url, None, body)
                .await;
            assert_eq!(
                (r.status, r.code()),
                (401, "unauthenticated"),
                "{method} {path}: {r:?}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 25, "only {checked} operations checked");
}

/// Ann's client, mailing and run, tried by Bob on every endpoint that takes
/// an id: private data answers 404. Messages and run reports are shared by
/// design (`docs/permissions.md`): Bob reads them, but may not change Ann's message (403).
async fn every_endpoint_answers_404_for_another_users_data(srv: TestServer) {
    let (ann, _) = srv.signed_up("ann@example.com", "Ann").await;
    let (bob, bob_id) = srv.signed_up("bob@example.com", "Bob").await;
    let b = Some(bob.as_str());
    let client = srv.client(&ann, "carl@client.test", "Carl").await;
    let msg = srv.message(&ann, "Ann's news").await;
    let mailing = srv.mailing(&ann, msg, &[client], Duration::zero()).await["id"]
        .as_i64()
        .unwrap();
    srv.mail_to("carl@client.test", "Ann's news").await;
    let run = srv.finished_run(Some(&ann), mailing).await["id"]
        .as_i64()
        .unwrap();
    let bobs_client = srv.client(&bob, "dora@client.test", "Dora").await;
    let suppression = srv
        .post(
            "/api/v1/suppressions",
            Some(&ann),
            json!({"email": "gone@client.test"}),
        )
        .await
        .body["id"]
        .as_i64()
        .unwrap();

    let client_body = json!({"email": "evil@client.test", "full_name": "E", "comment": ""});
    let mailing_json = mailing_body(
        msg,
        &[bobs_client],
        chrono::Utc::now() + Duration::days(1),
        "daily",
    );
    let msg_body = json!({"subject": "hijacked", "body_text": "x", "body_html": null});
    // (method, path template, body, expected status)
    let cases: Vec<(&str, &str, Option<serde_json::Value>, u16)> = vec![
        ("get", "/clients/{id}", None, 404),
        ("put", "/clients/{id}", Some(client_body), 404),
        ("delete", "/clients/{id}", None, 404),
        ("get", "/mailings/{id}", None, 404),
        ("put", "/mailings/{id}", Some(mailing_json.clone()), 404),
        ("delete", "/mailings/{id}", None, 404),
        ("post", "/mailings/{id}/disable", Some(json!({})), 404),
        ("post", "/mailings/{id}/enable", Some(json!({})), 404),
        ("get", "/mailings/{id}/runs", None, 404),
        ("post", "/mailings/{id}/test", Some(json!({})), 404),
        // Messages are shared, clients are not: a preview for another
        // user's client finds no such client.
        (
            "post",
            "/messages/{id}/preview",
            Some(json!({"client_id": client})),
            404,
        ),
        ("get", "/runs/{id}/deliveries", None, 404),
        // Acting on a run is its owner's (and staff's): another user's is
        // not found, though its report is public.
        ("post", "/runs/{id}/resume", Some(json!({})), 404),
        ("post", "/runs/{id}/cancel", Some(json!({})), 404),
        ("delete", "/suppressions/{id}", None, 404),
        // Shared by design: the log and messages are readable by every user.
        ("get", "/runs/{id}", None, 200),
        ("get", "/messages/{id}", None, 200),
        ("put", "/messages/{id}", Some(msg_body), 403),
        ("delete", "/messages/{id}", None, 403),
        // User administration is not a plain user's at all.
        ("post", "/users/{id}/block", Some(json!({})), 403),
        ("post", "/users/{id}/unblock", Some(json!({})), 403),
        (
            "put",
            "/users/{id}/role",
            Some(json!({"role": "manager"})),
            403,
        ),
        // Blog posts are public; writing them is an admin's.
        ("get", "/blog/posts/{id}", None, 404),
        (
            "put",
            "/blog/posts/{id}",
            Some(json!({"title": "t", "body": "b", "image": null, "published": true})),
            403,
        ),
        ("delete", "/blog/posts/{id}", None, 403),
    ];
    let id_of = |path: &str| -> i64 {
        match path.split('/').nth(1).unwrap() {
            "clients" => client,
            "mailings" => mailing,
            "runs" => run,
            "suppressions" => suppression,
            "messages" => msg,
            "users" => 1,
            _ => 999_999,
        }
    };
    for (method, path, body, expected) in &cases {
        let url = format!("/api/v1{}", path.replace("{id}", &id_of(path).to_string()));
        let r = srv
            .call(
                method.to_uppercase().parse().unwrap(),
                &url,
                b,
                body.clone(),
            )
            .await;
        assert_eq!(r.status, *expected, "{method} {path}: {r:?}");
        if *expected == 404 {
            assert_eq!(r.code(), "not_found");
        }
    }
    // Every operation with an id in the OpenAPI document is in the table.
    let spec = srv.get("/api/openapi.json", None).await.body;
    for (path, ops) in spec["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            if path.contains("{id}") {
                assert!(
                    cases.iter().any(|(m, p, ..)| m == method && p == path),
                    "{method} {path} is not tried with another user's id"
                );
            }
        }
    }
    // Using Ann's client in Bob's mailing is refused without revealing it.
    let r = srv
        .post(
            "/api/v1/mailings",
            b,
            mailing_body(msg, &[client], chrono::Utc::now(), "once"),
        )
        .await;
    assert_eq!(
        (r.status, r.body["field"].clone()),
        (422, json!("client_ids")),
        "{r:?}"
    );
    // Ann's things are all still there, unchanged.
    let a = Some(ann.as_str());
    assert_eq!(
        srv.get(&format!("/api/v1/clients/{client}"), a).await.body["email"],
        "carl@client.test"
    );
    assert_eq!(
        srv.get(&format!("/api/v1/mailings/{mailing}"), a)
            .await
            .body["enabled"],
        true
    );
    assert_eq!(
        srv.get(&format!("/api/v1/messages/{msg}"), a).await.body["subject"],
        "Ann's news"
    );
    // Bob's own lists hold only his.
    let mine = srv.get("/api/v1/clients", b).await;
    assert_eq!(mine.body["total"], 1);
    assert_eq!(srv.get("/api/v1/mailings", b).await.body["total"], 0);
    let _ = bob_id;
}

async fn password_reset_by_emailed_link_ends_every_session(srv: TestServer) {
    let (old, _) = srv.signed_up("ann@example.com", "Ann").await;
    let unknown = srv
        .post(
            "/api/v1/auth/password-reset",
            None,
            json!({"email": "nobody@example.com"}),
        )
        .await;
    let known = srv
        .post(
            "/api/v1/auth/password-reset",
            None,
            json!({"email": "ann@example.com"}),
        )
        .await;
    assert_eq!((unknown.status, known.status), (202, 202));
    assert_eq!(
        unknown.body, known.body,
        "the answer must not reveal the account"
    );

    let mail = srv.mail_to("ann@example.com", "Reset your").await;
    let token = link_token(&mail.text, "/password-reset/confirm");
    let r = srv
        .post(
            "/api/v1/auth/password-reset/confirm",
            None,
            json!({"token": token, "password": "short"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["field"].clone()),
        (422, json!("password")),
        "{r:?}"
    );
    let r = srv
        .post(
            "/api/v1/auth/password-reset/confirm",
            None,
            json!({"token": token, "password": "a new long password"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        srv.get("/api/v1/me", Some(&old)).await.status,
        401,
        "old sessions end"
    );
    let r = srv
        .post(
            "/api/v1/auth/password-reset/confirm",
            None,
            json!({"token": token, "password": "a new long password"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "invalid_token"), "single use");
    let r = srv
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "ann@example.com", "password": "correct horse"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (401, "invalid_credentials"));
    srv.login("ann@example.com", "a new long password").await;
}

/// The attack: an owner gets an unsubscribe link for their own
/// address, moves the client to a victim's address, and after the victim
/// unsubscribes tries to undo it with the old link; then deletes and
/// re-creates the client. The victim stays unsubscribed throughout, and the
/// next run records them as suppressed instead of mailing them.
async fn an_unsubscribe_belongs_to_the_recipient(srv: TestServer) {
    let (owner, _) = srv.signed_up("ann@example.com", "Ann").await;
    let t = Some(owner.as_str());
    let client = srv.client(&owner, "mallory@client.test", "M").await;
    let msg = srv.message(&owner, "Offers").await;
    let unsubscribe_path = |text: &str| {
        let link = text
            .split_whitespace()
            .find(|w| w.contains("/unsubscribe/"))
            .unwrap()
            .to_owned();
        link.strip_prefix(crate::common::BASE_URL)
            .unwrap()
            .to_owned()
    };
    let first = srv.mailing(&owner, msg, &[client], Duration::zero()).await["id"]
        .as_i64()
        .unwrap();
    srv.finished_run(t, first).await;
    let owners_link = unsubscribe_path(&srv.mail_to("mallory@client.test", "Offers").await.text);

    let moved = srv
        .put(
            &format!("/api/v1/clients/{client}"),
            t,
            json!({"email": "victim@client.test", "full_name": "V", "comment": ""}),
        )
        .await;
    assert_eq!(moved.status, 200, "{moved:?}");
    let second = srv.mailing(&owner, msg, &[client], Duration::zero()).await["id"]
        .as_i64()
        .unwrap();
    srv.finished_run(t, second).await;
    let victims_link = unsubscribe_path(&srv.mail_to("victim@client.test", "Offers").await.text);
    assert_ne!(
        victims_link, owners_link,
        "a new address has a link of its own"
    );
    let post = async |path: String| srv.call(poem::http::Method::POST, &path, None, None).await;
    let unsubscribed = post(victims_link.clone()).await;
    assert_eq!(unsubscribed.status, 200);
    let victims_undo = crate::common::undo_action(&unsubscribed.text).expect("the victim may undo");
    // The owner's old link speaks for the old address only, and without the
    // code from the victim's page the victim's own link undoes nothing.
    assert_eq!(post(format!("{owners_link}/undo")).await.status, 404);
    assert_eq!(post(format!("{victims_link}/undo")).await.status, 404);
    let repeated = post(victims_link.clone()).await;
    assert!(
        crate::common::undo_action(&repeated.text).is_none(),
        "posting again gives no code"
    );
    let c = srv.get(&format!("/api/v1/clients/{client}"), t).await;
    assert!(
        c.body["unsubscribed_at"].is_string(),
        "still unsubscribed: {c:?}"
    );
    // Deleting and re-creating the client does not resubscribe the address.
    assert_eq!(
        srv.delete(&format!("/api/v1/clients/{client}"), t)
            .await
            .status,
        204
    );
    let again = srv
        .client(&owner, "victim@client.test", "Victim again")
        .await;
    let c = srv.get(&format!("/api/v1/clients/{again}"), t).await;
    assert!(
        c.body["unsubscribed_at"].is_string(),
        "re-created, still unsubscribed: {c:?}"
    );
    let third = srv.mailing(&owner, msg, &[again], Duration::zero()).await["id"]
        .as_i64()
        .unwrap();
    let run = srv.finished_run(t, third).await;
    assert_eq!(run["report"], "Sent 0 of 1; 1 suppressed", "{run}");
    assert_eq!(
        srv.mails_to("victim@client.test").await.len(),
        1,
        "mailed once, before unsubscribing"
    );
    // Only the recipient, from the page they unsubscribed on, undoes it.
    assert_eq!(post(victims_undo).await.status, 200);
    let c = srv.get(&format!("/api/v1/clients/{again}"), t).await;
    assert_eq!(c.body["unsubscribed_at"], json!(null), "{c:?}");
}

/// From (its name; the address stays the service's) and Reply-To of the
/// newest mail to `to` with `subject`.
async fn from_and_reply_to(srv: &TestServer, to: &str, subject: &str) -> (String, String, String) {
    let mail = srv.mail_to(to, subject).await;
    let raw = std::fs::read(srv.outbox.dir().join(&mail.file)).unwrap();
    let m = mail_parser::MessageParser::default().parse(&raw).unwrap();
    let from = m.from().unwrap().first().unwrap();
    (
        from.name().unwrap_or_default().to_owned(),
        from.address().unwrap_or_default().to_owned(),
        m.reply_to()
            .and_then(|r| r.first())
            .and_then(|a| a.address())
            .unwrap_or_default()
            .to_owned(),
    )
}

async fn mailings_carry_their_senders_and_a_once_only_one_needs_no_end(srv: TestServer) {
    let (token, _) = srv.signed_up("ann@example.com", "Ann").await;
    let t = Some(token.as_str());
    let bob = srv.client(&token, "bob@client.test", "Bob").await;
    let carl = srv.client(&token, "carl@client.test", "Carl").await;
    let dee = srv.client(&token, "dee@client.test", "Dee").await;
    let msg = srv.message(&token, "Sender news").await;
    let service_address = "no-reply@sky.test";

    // Nothing set: the owner's name beside the service's address, replies to her.
    srv.mailing(&token, msg, &[bob], Duration::zero()).await;
    let (name, address, reply_to) = from_and_reply_to(&srv, "bob@client.test", "Sender news").await;
    assert_eq!(
        (name.as_str(), reply_to.as_str()),
        ("Ann", "ann@example.com")
    );
    assert_eq!(
        address, service_address,
        "the From address stays the service's"
    );

    // Her profile's sender applies to her mailings; a bad one is refused whole.
    let me = srv.get("/api/v1/me", t).await.body;
    assert_eq!(me["sender_name"], serde_json::Value::Null);
    let bad = srv
        .put(
            "/api/v1/me",
            t,
            json!({"name": "Ann", "time_zone": "UTC", "sender_name": "Ann\nBcc: x", "reply_to": "nope"}),
        )
        .await;
    assert_eq!(bad.status, 422, "{bad:?}");
    let fields: Vec<&str> = bad.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["sender_name", "reply_to"]);
    assert_eq!(
        srv.get("/api/v1/me", t).await.body["sender_name"],
        serde_json::Value::Null
    );
    let me = srv
        .put(
            "/api/v1/me",
            t,
            json!({"name": "Ann", "time_zone": "UTC", "sender_name": "Ann's Shop", "reply_to": "shop@example.com"}),
        )
        .await;
    assert_eq!(me.status, 200, "{me:?}");
    assert_eq!(
        (
            me.body["sender_name"].as_str(),
            me.body["reply_to"].as_str()
        ),
        (Some("Ann's Shop"), Some("shop@example.com"))
    );
    // Left out: kept.
    let me = srv
        .put("/api/v1/me", t, json!({"name": "Ann", "time_zone": "UTC"}))
        .await;
    assert_eq!(me.body["sender_name"], "Ann's Shop");

    // A once-only mailing without an end; its own Reply-To over the profile's.
    let start = chrono::Utc::now();
    let r = srv
        .post(
            "/api/v1/mailings",
            t,
            json!({"name": "No end", "message_id": msg, "client_ids": [carl],
                   "start_at": start.to_rfc3339(), "periodicity": "once",
                   "reply_to": "news@example.com"}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.body["end_at"], serde_json::Value::Null);
    assert_eq!(r.body["sender_name"], serde_json::Value::Null);
    assert_eq!(r.body["reply_to"], "news@example.com");
    let (name, _, reply_to) = from_and_reply_to(&srv, "carl@client.test", "Sender news").await;
    assert_eq!(
        (name.as_str(), reply_to.as_str()),
        ("Ann's Shop", "news@example.com")
    );
    // "All matching" keeps the mailing's own sender too.
    let r = srv
        .post(
            "/api/v1/mailings",
            t,
            json!({"name": "All", "message_id": msg, "clients_matching": {"q": "dee"},
                   "start_at": (start + Duration::days(1)).to_rfc3339(), "periodicity": "once",
                   "sender_name": "Club"}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(
        (r.body["sender_name"].as_str(), r.body["client_ids"].clone()),
        (Some("Club"), json!([dee]))
    );
    // A name that passes for an address is refused.
    let r = srv
        .put(
            "/api/v1/me",
            t,
            json!({"name": "Ann", "time_zone": "UTC", "sender_name": "PayPal <security@paypal.com>"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["reason"].as_str()),
        (422, Some("sender_name_looks_like_address")),
        "{r:?}"
    );
    // A repeating one still needs its end.
    let r = srv
        .post(
            "/api/v1/mailings",
            t,
            json!({"name": "Daily", "message_id": msg, "client_ids": [dee],
                   "start_at": start.to_rfc3339(), "periodicity": "daily"}),
        )
        .await;
    assert_eq!(
        (
            r.status,
            r.body["field"].as_str(),
            r.body["reason"].as_str()
        ),
        (422, Some("end_at"), Some("required")),
        "{r:?}"
    );
}

async fn every_bad_field_is_reported_at_once(srv: TestServer) {
    let (token, _) = srv.signed_up("ann@example.com", "Ann").await;
    let t = Some(token.as_str());
    let msg = srv.message(&token, "News").await;
    let start = chrono::Utc::now();
    let r = srv
        .post(
            "/api/v1/mailings",
            t,
            json!({"name": "", "message_id": msg, "client_ids": [],
                   "start_at": start.to_rfc3339(),
                   "end_at": (start - Duration::days(1)).to_rfc3339(),
                   "periodicity": "hourly", "reply_to": "not an address"}),
        )
        .await;
    assert_eq!(r.status, 422, "{r:?}");
    let errors: Vec<(&str, &str)> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["field"].as_str().unwrap(), e["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(
        errors,
        [
            ("name", "required"),
            ("client_ids", "no_clients"),
            ("end_at", "end_before_start"),
            ("periodicity", "unknown_periodicity"),
            ("reply_to", "spaces_in_address"),
        ]
    );
    // The first is also the answer's own field; the message lists them all.
    assert_eq!(r.body["field"], "name");
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("client_ids: must include")
    );
    assert_eq!(
        srv.get("/api/v1/mailings", t).await.body["total"],
        0,
        "nothing saved"
    );
    // Times at chrono's very limits are refused, not a dropped connection.
    for (start, end) in [
        ("+262142-12-31T00:00:00Z", None),
        ("2026-01-01T00:00:00Z", Some("-262143-01-01T00:00:00Z")),
    ] {
        let mut body = json!({"name": "Edge", "message_id": msg, "client_ids": [],
                              "tags": ["x"], "start_at": start, "periodicity": "daily"});
        if let Some(end) = end {
            body["end_at"] = json!(end);
        }
        let r = srv.post("/api/v1/mailings", t, body).await;
        assert_eq!(r.status, 422, "{start} {end:?}: {r:?}");
    }
    // A client: every field too.
    let r = srv
        .post(
            "/api/v1/clients",
            t,
            json!({"email": "broken", "full_name": "Two\nlines", "tags": ["a|b"]}),
        )
        .await;
    let fields: Vec<&str> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["email", "full_name", "tags"], "{r:?}");
    // One bad field: one error, no list.
    let r = srv
        .post(
            "/api/v1/clients",
            t,
            json!({"email": "broken", "full_name": "Bob"}),
        )
        .await;
    assert_eq!(
        (r.body["field"].as_str(), r.body.get("errors")),
        (Some("email"), None)
    );
}

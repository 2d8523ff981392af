//! Clients by the thousand, through the whole server on both stores: CSV
//! import (dry run, errors by line, updates, a file over the API's general
//! body limit), export, tags that a mailing reaches at run time, and "all
//! clients matching" resolved when a mailing is saved.

use crate::common::{Resp, TestServer, mailing_body};
use chrono::Duration;
use poem::Request;
use poem::http::Method;
use serde_json::{Value, json};

on_both_stores!(
    an_import_is_checked_then_written_and_exports_back,
    a_large_file_imports_and_bad_ones_are_refused_whole,
    a_mailing_by_tag_reaches_clients_tagged_after_it_was_saved,
    all_matching_clients_are_chosen_when_the_mailing_is_saved,
    a_preview_renders_for_a_client_and_a_test_goes_to_me_only,
);

pub async fn import(srv: &TestServer, token: &str, csv: impl Into<Vec<u8>>, query: &str) -> Resp {
    srv.raw(
        Request::builder()
            .method(Method::POST)
            .uri(format!("/api/v1/clients/import{query}").parse().unwrap())
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "text/csv; charset=utf-8")
            .body(csv.into()),
    )
    .await
}

fn names(list: &Value) -> Vec<&str> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["full_name"].as_str().unwrap())
        .collect()
}

async fn an_import_is_checked_then_written_and_exports_back(srv: TestServer) {
    let (token, _) = srv.signed_up("ann@example.com", "Ann").await;
    let t = Some(token.as_str());
    let kept = srv.client(&token, "kept@example.com", "Kept").await;
    // Semicolons, a byte-order mark, quotes, a duplicate, and bad rows.
    let csv = "\u{feff}Email;Name;Comment;Tags\n\
               kept@example.com;;now a note;VIP\n\
               c10@example.com;Client 10;;vip, berlin\n\
               c2@example.com;Client 2;\"line; with semicolon\";\n\
               not-an-address;Nobody;;\n\
               noname@example.com;;;\n\
               c1@example.com;Client 1;;a|b\n";
    let dry = import(&srv, &token, csv, "?dry_run=true").await;
    assert_eq!(dry.status, 200, "{dry:?}");
    assert_eq!(
        (
            &dry.body["created"],
            &dry.body["updated"],
            &dry.body["skipped"],
            &dry.body["dry_run"]
        ),
        (&json!(2), &json!(1), &json!(3), &json!(true))
    );
    let errors: Vec<(u64, &str, &str)> = dry.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["line"].as_u64().unwrap(),
                e["field"].as_str().unwrap(),
                e["code"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        vec![
            (5, "email", "invalid_email"),
            (6, "full_name", "required"),
            (7, "tags", "bad_tag")
        ]
    );
    assert!(
        dry.body["errors"][1]["message"]
            .as_str()
            .unwrap()
            .contains("required")
    );
    assert_eq!(
        srv.get("/api/v1/clients", t).await.body["total"],
        1,
        "a dry run writes nothing"
    );

    let done = import(&srv, &token, csv, "").await;
    assert_eq!(
        (done.body["created"].clone(), done.body["dry_run"].clone()),
        (json!(2), json!(false))
    );
    let list = srv.get("/api/v1/clients", t).await.body;
    assert_eq!(list["total"], 3);
    assert_eq!(
        names(&list),
        vec!["Client 2", "Client 10", "Kept"],
        "natural order"
    );
    let k = srv.get(&format!("/api/v1/clients/{kept}"), t).await.body;
    assert_eq!(
        (k["full_name"].as_str(), k["comment"].as_str()),
        (Some("Kept"), Some("now a note"))
    );
    assert_eq!(k["tags"], json!(["vip"]));
    let vip = srv.get("/api/v1/clients?tag=VIP", t).await.body;
    assert_eq!(names(&vip), vec!["Client 10", "Kept"]);
    let tags = srv.get("/api/v1/clients/tags", t).await.body;
    assert_eq!(
        tags,
        json!([{"tag": "berlin", "clients": 1}, {"tag": "vip", "clients": 2}])
    );

    let export = srv.get("/api/v1/clients/export", t).await;
    assert_eq!(export.status, 200);
    assert!(
        export.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        export.headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains("clients.csv")
    );
    let mut lines = export.text.lines();
    assert_eq!(
        lines.next(),
        Some("email,full_name,comment,tags,unsubscribed_at,created_at")
    );
    assert!(
        export
            .text
            .contains("c10@example.com,Client 10,,\"berlin, vip\","),
        "{}",
        export.text
    );
    assert!(
        export.text.contains(",line; with semicolon,"),
        "{}",
        export.text
    );
    let again = import(&srv, &token, export.text.clone(), "").await;
    assert_eq!(
        (
            &again.body["created"],
            &again.body["updated"],
            &again.body["skipped"]
        ),
        (&json!(0), &json!(0), &json!(3)),
        "an export imports back unchanged"
    );

    // Another user's import and export see only their own list.
    let (bob, _) = srv.signed_up("bob@example.com", "Bob").await;
    let theirs = import(&srv, &bob, "email,full_name\nkept@example.com,Bob's\n", "").await;
    assert_eq!(theirs.body["created"], 1);
    let bobs = srv.get("/api/v1/clients/export", Some(&bob)).await.text;
    assert_eq!(bobs.lines().count(), 2, "{bobs}");
    assert_eq!(srv.get("/api/v1/clients", t).await.body["total"], 3);
}

async fn a_large_file_imports_and_bad_ones_are_refused_whole(srv: TestServer) {
    let (token, _) = srv.signed_up("ann@example.com", "Ann").await;
    // Over the API's general 1 MiB in few rows (long comments), so that the
    // test stays light beside the others.
    let long = "a comment to make the file larger ".repeat(16);
    let mut csv = String::from("email,full_name,comment,tags\n");
    for i in 0..2_000 {
        csv.push_str(&format!("user{i}@example.com,User {i},{long},bulk\n"));
    }
    assert!(csv.len() > 1024 * 1024, "over the API's general limit");
    let r = import(&srv, &token, csv, "").await;
    assert_eq!(
        (r.status, r.body["created"].clone()),
        (200, json!(2_000)),
        "{:?}",
        r.text
    );
    let page = srv
        .get("/api/v1/clients?per_page=3", Some(&token))
        .await
        .body;
    assert_eq!(page["total"], 2_000);
    assert_eq!(names(&page), vec!["User 0", "User 1", "User 2"]);

    // Not CSV, not UTF-8, no email column: refused, nothing written.
    let json_body = srv
        .post(
            "/api/v1/clients/import",
            Some(&token),
            json!({"email": "x@example.com"}),
        )
        .await;
    assert_eq!(json_body.status, 415, "{json_body:?}");
    let latin1 = import(
        &srv,
        &token,
        b"email,full_name\nx@example.com,Jos\xe9\n".to_vec(),
        "",
    )
    .await;
    assert_eq!(
        (latin1.status, latin1.body["field"].as_str()),
        (422, Some("file")),
        "{latin1:?}"
    );
    let headless = import(&srv, &token, "name\nJo\n", "").await;
    assert_eq!(headless.status, 422);
    assert!(
        headless.body["message"].as_str().unwrap().contains("email"),
        "{headless:?}"
    );
    assert_eq!(
        srv.get("/api/v1/clients?per_page=1", Some(&token))
            .await
            .body["total"],
        2_000
    );
    // The API's own limit still holds elsewhere.
    let big = "x".repeat(1024 * 1024 + 1);
    let r = srv
        .post(
            "/api/v1/clients",
            Some(&token),
            json!({"email": "y@example.com", "full_name": "Y", "comment": big}),
        )
        .await;
    assert_eq!(r.status, 413);
}

async fn a_mailing_by_tag_reaches_clients_tagged_after_it_was_saved(srv: TestServer) {
    let (token, _) = srv.signed_up("ann@example.com", "Ann").await;
    let t = Some(token.as_str());
    let r = srv
        .post(
            "/api/v1/clients",
            t,
            json!({"email": "early@example.com", "full_name": "Early", "tags": ["VIP"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    srv.client(&token, "untagged@example.com", "Untagged").await;
    let msg = srv.message(&token, "Tagged news").await;
    let mut body = mailing_body(msg, &[], chrono::Utc::now() + Duration::seconds(2), "once");
    body["tags"] = json!(["vip"]);
    let m = srv.post("/api/v1/mailings", t, body).await;
    assert_eq!(m.status, 201, "{m:?}");
    assert_eq!(
        (m.body["tags"].clone(), m.body["client_ids"].clone()),
        (json!(["vip"]), json!([]))
    );
    // Tagged after the mailing was saved, before it ran.
    let late = import(
        &srv,
        &token,
        "email,full_name,tags\nlate@example.com,Late,vip\n",
        "",
    )
    .await;
    assert_eq!(late.body["created"], 1);
    let run = srv.finished_run(t, m.body["id"].as_i64().unwrap()).await;
    assert_eq!(run["recipients"], 2, "{run}");
    srv.mail_to("early@example.com", "Tagged news").await;
    srv.mail_to("late@example.com", "Tagged news").await;
    assert!(srv.mails_to("untagged@example.com").await.is_empty());
    // No clients and no tags: refused, naming the field.
    let mut empty = mailing_body(msg, &[], chrono::Utc::now() + Duration::days(1), "once");
    empty["tags"] = json!([" "]);
    let r = srv.post("/api/v1/mailings", t, empty).await;
    assert_eq!(
        (r.status, r.body["field"].as_str()),
        (422, Some("client_ids")),
        "{r:?}"
    );
}

async fn all_matching_clients_are_chosen_when_the_mailing_is_saved(srv: TestServer) {
    let (token, _) = srv.signed_up("ann@example.com", "Ann").await;
    let (bob, _) = srv.signed_up("bob@example.com", "Bob").await;
    let mut csv = String::from("email,full_name,tags\n");
    for i in 0..250 {
        let tag = if i % 2 == 0 { "even" } else { "odd" };
        csv.push_str(&format!("c{i}@example.com,Client {i},{tag}\n"));
    }
    assert_eq!(import(&srv, &token, csv, "").await.body["created"], 250);
    srv.client(&bob, "c0@example.com", "Bob's client 0").await;
    let msg = srv.message(&token, "Hello").await;
    let mut body = mailing_body(msg, &[], chrono::Utc::now() + Duration::days(1), "once");
    body["clients_matching"] = json!({"tag": "even"});
    let m = srv.post("/api/v1/mailings", Some(&token), body).await;
    assert_eq!(m.status, 201, "{m:?}");
    assert_eq!(m.body["client_ids"].as_array().unwrap().len(), 125);
    assert_eq!(m.body["tags"], json!([]));
    let mut body = mailing_body(msg, &[], chrono::Utc::now() + Duration::days(1), "once");
    body["clients_matching"] = json!({"q": "nobody"});
    let r = srv.post("/api/v1/mailings", Some(&token), body).await;
    assert_eq!(
        (r.status, r.body["field"].as_str()),
        (422, Some("client_ids")),
        "{r:?}"
    );
}

async fn a_preview_renders_for_a_client_and_a_test_goes_to_me_only(srv: TestServer) {
    let (token, _) = srv.signed_up("ann@example.com", "Ann").await;
    let (bob, _) = srv.signed_up("bob@example.com", "Bob").await;
    let t = Some(token.as_str());
    let msg = srv
        .post(
            "/api/v1/messages",
            t,
            json!({"subject": "Hi {{ name }}", "body_text": "Dear {{ name }} <{{ email }}>",
                   "body_html": "<p>Dear <b>{{ name }}</b></p><script>alert(1)</script>"}),
        )
        .await;
    assert_eq!(msg.status, 201, "{msg:?}");
    let msg = msg.body["id"].as_i64().unwrap();
    let zoe = srv.client(&token, "zoe@example.com", "Zoë").await;
    let bobs = srv.client(&bob, "carl@example.com", "Carl").await;
    let path = format!("/api/v1/messages/{msg}/preview");
    let p = srv.post(&path, t, json!({"client_id": zoe})).await;
    assert_eq!(p.status, 200, "{p:?}");
    assert_eq!(p.body["subject"], "Hi Zoë");
    assert!(
        p.body["body_text"]
            .as_str()
            .unwrap()
            .starts_with("Dear Zoë <zoe@example.com>"),
        "{p:?}"
    );
    assert!(p.body["body_html"].as_str().unwrap().contains("<b>Zoë</b>"));
    assert!(
        p.body["body_text"]
            .as_str()
            .unwrap()
            .contains("/unsubscribe/preview"),
        "the preview's unsubscribe link is a dummy: {p:?}"
    );
    let sample = srv.post(&path, t, json!({})).await;
    assert_eq!(sample.body["subject"], "Hi Jane Doe");
    // Another user's client is not found; so is a message that is not there.
    assert_eq!(
        srv.post(&path, t, json!({"client_id": bobs})).await.status,
        404
    );
    assert_eq!(
        srv.post("/api/v1/messages/999999/preview", t, json!({}))
            .await
            .status,
        404
    );
    assert_eq!(srv.post(&path, None, json!({})).await.status, 401);

    let m = srv.mailing(&token, msg, &[zoe], Duration::days(7)).await;
    let id = m["id"].as_i64().unwrap();
    let sent = srv
        .post(&format!("/api/v1/mailings/{id}/test"), t, json!({}))
        .await;
    assert_eq!(
        (sent.status, sent.body["sent_to"].as_str()),
        (202, Some("ann@example.com")),
        "{sent:?}"
    );
    let mail = srv.mail_to("ann@example.com", "[Test] Hi Ann").await;
    assert!(mail.to.iter().all(|to| to == "ann@example.com"));
    assert!(
        srv.mails_to("zoe@example.com").await.is_empty(),
        "no client gets a test"
    );
    let runs = srv.get(&format!("/api/v1/mailings/{id}/runs"), t).await;
    assert_eq!(runs.body["total"], 0, "a test is not a run");
    // Another user cannot test someone else's mailing (it is invisible).
    assert_eq!(
        srv.post(
            &format!("/api/v1/mailings/{id}/test"),
            Some(&bob),
            json!({})
        )
        .await
        .status,
        404
    );
    // Five per ten minutes.
    for _ in 0..4 {
        assert_eq!(
            srv.post(&format!("/api/v1/mailings/{id}/test"), t, json!({}))
                .await
                .status,
            202
        );
    }
    let limited = srv
        .post(&format!("/api/v1/mailings/{id}/test"), t, json!({}))
        .await;
    assert_eq!(limited.status, 429, "{limited:?}");
    let wait: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=600).contains(&wait), "{wait}");
}

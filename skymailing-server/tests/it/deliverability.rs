//! Bounces and complaints come back: over SMTP to the bounce listener (a
//! DSN and an ARF report, sent by a real SMTP client session) and by the
//! relay's signed webhook; the addresses are suppressed, the deliveries
//! marked, and the next run records them as suppressed.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::common::*;

on_both_stores!(
    dsn_and_arf_over_smtp_suppress_mark_and_the_next_run_skips,
    the_webhook_takes_only_signed_fresh_reports,
);

/// One SMTP session: the answer to each command, in order.
async fn smtp_send(addr: std::net::SocketAddr, rcpt: &str, data: &str) -> Vec<String> {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let mut replies = Vec::new();
    async fn reply(read: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> String {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            read.read_line(&mut line).await.unwrap();
            all.push_str(&line);
            if line.len() < 4 || line.as_bytes()[3] != b'-' {
                return all.trim().to_owned();
            }
        }
    }
    replies.push(reply(&mut read).await);
    let data = data.replace("\r\n.", "\r\n..");
    for cmd in [
        "EHLO mx.example.net".to_owned(),
        "MAIL FROM:<>".to_owned(),
        format!("RCPT TO:<{rcpt}>"),
    ] {
        write
            .write_all(format!("{cmd}\r\n").as_bytes())
            .await
            .unwrap();
        replies.push(reply(&mut read).await);
    }
    if replies[3].starts_with('2') {
        write.write_all(b"DATA\r\n").await.unwrap();
        replies.push(reply(&mut read).await);
        write.write_all(data.as_bytes()).await.unwrap();
        write.write_all(b"\r\n.\r\n").await.unwrap();
        replies.push(reply(&mut read).await);
    }
    write.write_all(b"QUIT\r\n").await.unwrap();
    replies
}

/// A header of the raw message the outbox wrote for `to`.
async fn header_of(srv: &TestServer, to: &str, name: &str) -> String {
    let mail = srv.mail_to(to, "News").await;
    let raw = std::fs::read(srv.outbox.dir().join(&mail.file)).unwrap();
    let m = mail_parser::MessageParser::default().parse(&raw).unwrap();
    m.header_raw(name).unwrap().trim().to_owned()
}

async fn wait_for(mut f: impl AsyncFnMut() -> bool) {
    for _ in 0..200 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("never came true");
}

async fn suppressions(srv: &TestServer, token: &str) -> Vec<Value> {
    let r = srv.get("/api/v1/suppressions", Some(token)).await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body["items"].as_array().unwrap().clone()
}

async fn dsn_and_arf_over_smtp_suppress_mark_and_the_next_run_skips(srv: TestServer) {
    let listener = srv.service.start_bounce_listener().await.unwrap().unwrap();
    let (ann, _) = srv.signed_up("ann@example.com", "Ann").await;
    let dead = srv.client(&ann, "dead@client.test", "Dead").await;
    let angry = srv.client(&ann, "angry@client.test", "Angry").await;
    let fine = srv.client(&ann, "fine@client.test", "Fine").await;
    let msg = srv.message(&ann, "News").await;
    let mailing = srv
        .mailing(&ann, msg, &[dead, angry, fine], chrono::Duration::zero())
        .await["id"]
        .as_i64()
        .unwrap();
    let run = srv.finished_run(Some(&ann), mailing).await;
    let run_id = run["id"].as_i64().unwrap();

    // Each delivery went out with its own return path.
    let path = header_of(&srv, "dead@client.test", "Return-Path").await;
    let path = path.trim_matches(['<', '>']).to_owned();
    assert!(
        path.starts_with("bounces+") && path.ends_with(BOUNCE_DOMAIN),
        "{path}"
    );
    let angry_id = header_of(&srv, "angry@client.test", "Message-ID").await;
    let angry_path = header_of(&srv, "angry@client.test", "Return-Path").await;
    let angry_path = angry_path.trim_matches(['<', '>']).to_owned();
    assert_ne!(path, angry_path);

    // Mail for any other address is refused at RCPT.
    let refused = smtp_send(listener, &format!("postmaster@{BOUNCE_DOMAIN}"), "x").await;
    assert!(refused[3].starts_with("550"), "{refused:?}");

    // A DSN for the dead address, to its return path.
    let dsn = format!(
        "From: MAILER-DAEMON@mx.client.test\r\nTo: {path}\r\nSubject: Undelivered Mail Returned to Sender\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"\r\n\r\n\
--b1\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n\
--b1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.client.test\r\n\r\n\
Final-Recipient: rfc822; dead@client.test\r\nAction: failed\r\nStatus: 5.1.1\r\n\
Diagnostic-Code: smtp; 550 5.1.1 <dead@client.test>: Recipient address rejected\r\n--b1--"
    );
    let replies = smtp_send(listener, &path, &dsn).await;
    assert!(replies.last().unwrap().starts_with("250"), "{replies:?}");
    // An ARF complaint for the angry one, naming its Message-ID.
    let arf = format!(
        "From: fbl@isp.example\r\nTo: {angry_path}\r\nSubject: Abuse report\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/report; report-type=feedback-report; boundary=\"b2\"\r\n\r\n\
--b2\r\nContent-Type: text/plain\r\n\r\nThis is an email abuse report.\r\n\
--b2\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nUser-Agent: isp-fbl/1.0\r\nVersion: 1\r\n\
Original-Rcpt-To: <angry@client.test>\r\n\
--b2\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: no-reply@sky.test\r\nTo: angry@client.test\r\nMessage-ID: {angry_id}\r\nSubject: News\r\n--b2--"
    );
    let replies = smtp_send(listener, &angry_path, &arf).await;
    assert!(replies.last().unwrap().starts_with("250"), "{replies:?}");

    wait_for(async || suppressions(&srv, &ann).await.len() == 2).await;
    let list = suppressions(&srv, &ann).await;
    let reason_of = |email: &str| {
        list.iter()
            .find(|s| s["email"] == email)
            .map(|s| {
                (
                    s["reason"].as_str().unwrap().to_owned(),
                    s["id"].as_i64().unwrap(),
                )
            })
            .unwrap()
    };
    let (dead_reason, dead_entry) = reason_of("dead@client.test");
    let (angry_reason, angry_entry) = reason_of("angry@client.test");
    assert_eq!(
        (dead_reason.as_str(), angry_reason.as_str()),
        ("hard_bounce", "complaint")
    );
    let deliveries = srv
        .get(&format!("/api/v1/runs/{run_id}/deliveries"), Some(&ann))
        .await
        .body["items"]
        .clone();
    let state_of = |email: &str| {
        deliveries
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["email"] == email)
            .unwrap()["state"]
            .clone()
    };
    assert_eq!(state_of("dead@client.test"), "bounced");
    assert_eq!(state_of("angry@client.test"), "complained");
    assert_eq!(state_of("fine@client.test"), "sent");
    let r = srv.get(&format!("/api/v1/runs/{run_id}"), Some(&ann)).await;
    assert_eq!(
        (
            r.body["run"]["sent"].clone(),
            r.body["run"]["bounced"].clone(),
            r.body["run"]["complained"].clone()
        ),
        (json!(1), json!(1), json!(1)),
        "the finished run's counts follow: {r:?}"
    );
    let report = r.body["run"]["report"].as_str().unwrap();
    assert!(
        report.contains("1 bounced") && report.contains("1 reported as spam"),
        "{report}"
    );

    // The owner may lift the bounce, never the complaint.
    let r = srv
        .delete(&format!("/api/v1/suppressions/{angry_entry}"), Some(&ann))
        .await;
    assert_eq!(r.status, 403, "{r:?}");

    // The owner's next run to the list skips both and says why.
    let again = srv
        .mailing(&ann, msg, &[dead, angry, fine], chrono::Duration::zero())
        .await["id"]
        .as_i64()
        .unwrap();
    let next = srv.finished_run(Some(&ann), again).await;
    assert_eq!(
        (next["sent"].clone(), next["suppressed"].clone()),
        (json!(1), json!(2)),
        "{next}"
    );
    let deliveries = srv
        .get(
            &format!("/api/v1/runs/{}/deliveries", next["id"]),
            Some(&ann),
        )
        .await
        .body["items"]
        .clone();
    let dead_delivery = deliveries
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["email"] == "dead@client.test")
        .unwrap()
        .clone();
    assert_eq!(
        (
            dead_delivery["state"].clone(),
            dead_delivery["last_reply"].clone()
        ),
        (json!("suppressed"), json!("hard_bounce"))
    );
    assert_eq!(
        srv.mails_to("dead@client.test").await.len(),
        1,
        "not mailed again"
    );
    let r = srv
        .delete(&format!("/api/v1/suppressions/{dead_entry}"), Some(&ann))
        .await;
    assert_eq!(r.status, 204, "{r:?}");
}

async fn post_signed(srv: &TestServer, body: &Value, secret: &str, age_secs: i64) -> Resp {
    let bytes = serde_json::to_vec(body).unwrap();
    let ts = (chrono::Utc::now().timestamp() - age_secs).to_string();
    let sig = skymailing_server::webhook::sign(secret.as_bytes(), &ts, &bytes);
    let req = poem::Request::builder()
        .method(poem::http::Method::POST)
        .uri("/api/v1/webhooks/bounces".parse().unwrap())
        .header("content-type", "application/json")
        .header("x-skymailing-timestamp", ts)
        .header("x-skymailing-signature", sig)
        .body(bytes);
    srv.raw(req).await
}

async fn the_webhook_takes_only_signed_fresh_reports(srv: TestServer) {
    let (ann, _) = srv.signed_up("ann@example.com", "Ann").await;
    let c = srv.client(&ann, "gone@client.test", "Gone").await;
    let msg = srv.message(&ann, "News").await;
    let mailing = srv.mailing(&ann, msg, &[c], chrono::Duration::zero()).await["id"]
        .as_i64()
        .unwrap();
    srv.finished_run(Some(&ann), mailing).await;
    let id = header_of(&srv, "gone@client.test", "Message-ID").await;
    let body = json!({"email": "gone@client.test", "kind": "hard", "reason": "550 5.1.1 no such user", "message_id": id});

    let r = post_signed(&srv, &body, "a wrong secret", 0).await;
    assert_eq!((r.status, r.code()), (401, "bad_signature"), "{r:?}");
    let r = post_signed(&srv, &body, WEBHOOK_SECRET, 600).await;
    assert_eq!((r.status, r.code()), (401, "stale"), "{r:?}");
    let unsigned = srv
        .post("/api/v1/webhooks/bounces", None, body.clone())
        .await;
    assert_eq!(unsigned.status, 401, "{unsigned:?}");
    assert!(
        suppressions(&srv, &ann).await.is_empty(),
        "nothing came of them"
    );

    let bad =
        json!({"email": "gone@client.test", "kind": "maybe", "reason": "", "message_id": null});
    let r = post_signed(&srv, &bad, WEBHOOK_SECRET, 0).await;
    assert_eq!(
        (r.status, r.body["field"].clone()),
        (400, json!("kind")),
        "{r:?}"
    );

    let r = post_signed(&srv, &body, WEBHOOK_SECRET, 0).await;
    assert_eq!(r.status, 202, "{r:?}");
    assert_eq!(
        (r.body["matched"].clone(), r.body["suppressed"].clone()),
        (json!(true), json!("hard_bounce"))
    );
    let list = suppressions(&srv, &ann).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["detail"], "550 5.1.1 no such user");
    let metrics = srv.get("/metrics", None).await.text;
    assert!(
        metrics.contains("skymailing_feedback_reports{kind=\"hard\"}"),
        "{metrics}"
    );

    // A report naming no delivery of ours is kept and answered, and
    // suppresses nothing.
    let stranger = json!({"email": "who@else.test", "kind": "complaint", "reason": "abuse", "message_id": "<x@y>"});
    let r = post_signed(&srv, &stranger, WEBHOOK_SECRET, 0).await;
    assert_eq!(
        (r.status, r.body["matched"].clone()),
        (202, json!(false)),
        "{r:?}"
    );
    assert_eq!(suppressions(&srv, &ann).await.len(), 1);
}

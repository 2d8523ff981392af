//! The pages through the real router (no browser): CSRF on every form,
//! the security headers and cookie flags, another user's data as a 404 page,
//! the language rules and the Russian pages' completeness, and image uploads.

use std::collections::HashMap;

use crate::common::{Resp, TestServer, contains_word, english_only_texts};
use poem::http::Method;
use serde_json::json;

/// A cookie-keeping visitor of the pages.
struct Visitor<'a> {
    srv: &'a TestServer,
    cookies: HashMap<String, String>,
    lang: Option<&'static str>,
}

impl<'a> Visitor<'a> {
    fn new(srv: &'a TestServer) -> Self {
        Visitor {
            srv,
            cookies: HashMap::new(),
            lang: None,
        }
    }

    async fn send(
        &mut self,
        method: Method,
        path: &str,
        form: Option<String>,
        ctype: &str,
    ) -> Resp {
        let mut req = poem::Request::builder()
            .method(method)
            .uri(path.parse().unwrap());
        if !self.cookies.is_empty() {
            let c: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            req = req.header("cookie", c.join("; "));
        }
        if let Some(l) = self.lang {
            req = req.header("accept-language", l);
        }
        let req = match form {
            Some(body) => req.content_type(ctype).body(body),
            None => req.finish(),
        };
        let r = self.srv.raw(req).await;
        for v in r.headers.get_all("set-cookie") {
            let v = v.to_str().unwrap();
            let (pair, attrs) = v.split_once(';').unwrap_or((v, ""));
            let (k, val) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), val.to_owned());
            }
        }
        r
    }

    async fn get(&mut self, path: &str) -> Resp {
        self.send(Method::GET, path, None, "").await
    }

    /// The CSRF token of the page at `path`.
    async fn token(&mut self, path: &str) -> String {
        let page = self.get(path).await;
        csrf_of(&page.text)
    }

    /// Posts a form with the page's CSRF token.
    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Resp {
        let token = self.token("/").await;
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        all.push(("csrf_token", &token));
        let body = serde_urlencoded::to_string(&all).unwrap();
        self.send(
            Method::POST,
            path,
            Some(body),
            "application/x-www-form-urlencoded",
        )
        .await
    }

    /// Posts a form without a CSRF token.
    async fn post_bare(&mut self, path: &str, fields: &[(&str, &str)]) -> Resp {
        let body = serde_urlencoded::to_string(fields).unwrap();
        self.send(
            Method::POST,
            path,
            Some(body),
            "application/x-www-form-urlencoded",
        )
        .await
    }

    async fn sign_in(&mut self, email: &str, password: &str) {
        let r = self
            .post(
                "/signin",
                &[("email", email), ("password", password), ("next", "/")],
            )
            .await;
        assert_eq!(r.status, 303, "{}", r.text);
    }
}

fn csrf_of(html: &str) -> String {
    let at = html
        .find("name=\"csrf_token\" value=\"")
        .expect("a CSRF field")
        + 25;
    let end = html[at..].find('"').unwrap();
    html[at..at + end]
        .replace("&#43;", "+")
        .replace("&#47;", "/")
        .replace("&#61;", "=")
}

/// The text of a page, without tags.
fn visible_text(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for ch in html.chars() {
        match ch {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// Ann with a client, a message and a mailing that ran; Bob a second user.
async fn two_users(srv: &TestServer) -> (String, String, i64, i64, i64, i64) {
    let (ann, _) = srv.signed_up("ann@example.com", "Ann").await;
    let (bob, _) = srv.signed_up("bob@example.com", "Bob").await;
    let client = srv.client(&ann, "carl@client.test", "Carl").await;
    let msg = srv.message(&ann, "Ann's news").await;
    let mailing = srv
        .mailing(&ann, msg, &[client], chrono::Duration::zero())
        .await["id"]
        .as_i64()
        .unwrap();
    srv.mail_to("carl@client.test", "Ann's news").await;
    let run = srv.finished_run(Some(&ann), mailing).await["id"]
        .as_i64()
        .unwrap();
    (ann, bob, client, msg, mailing, run)
}

#[tokio::test]
async fn every_form_is_refused_without_its_csrf_token() {
    let srv = TestServer::sqlite().await;
    let (_, _, client, msg, mailing, _) = two_users(&srv).await;
    let mut v = Visitor::new(&srv);
    v.sign_in("ann@example.com", "correct horse").await;
    let posts = [
        "/lang".to_owned(),
        "/signup".into(),
        "/verify".into(),
        "/signin".into(),
        "/signout".into(),
        "/password-reset".into(),
        "/password-reset/confirm".into(),
        "/profile".into(),
        "/profile/password".into(),
        "/clients/new".into(),
        format!("/clients/{client}/edit"),
        format!("/clients/{client}/delete"),
        "/messages/new".into(),
        format!("/messages/{msg}/edit"),
        format!("/messages/{msg}/delete"),
        "/mailings/new".into(),
        format!("/mailings/{mailing}/edit"),
        format!("/mailings/{mailing}/delete"),
        format!("/mailings/{mailing}/disable"),
        format!("/mailings/{mailing}/enable"),
        format!("/mailings/{mailing}/test"),
        "/clients/import".into(),
        "/runs/1/cancel".into(),
        "/runs/1/resume".into(),
        "/users/1/block".into(),
        "/users/1/unblock".into(),
        "/users/1/role".into(),
        "/admin/blog/new".into(),
        "/admin/blog/1/edit".into(),
        "/admin/blog/1/delete".into(),
    ];
    for path in &posts {
        let r = v
            .post_bare(path, &[("email", "x@client.test"), ("name", "x")])
            .await;
        assert_eq!(r.status, 403, "{path} accepted a form without a CSRF token");
        assert!(
            r.text.contains("not sent from this site"),
            "{path}: {}",
            r.text
        );
        // A forged token is refused just the same.
        let r = v
            .post_bare(path, &[("csrf_token", "AAAA"), ("name", "x")])
            .await;
        assert_eq!(r.status, 403, "{path} accepted a forged token");
    }
    // Nothing was changed: still signed in, the mailing still enabled, the client still there.
    let r = v.get(&format!("/mailings/{mailing}")).await;
    assert_eq!(r.status, 200);
    // (It finished: no Disable is offered; a disabled one would offer Enable.)
    assert!(!r.text.contains("/enable"), "the mailing was disabled");
    assert_eq!(v.get(&format!("/clients/{client}/edit")).await.status, 200);
    // With its token the same form works.
    let r = v.post(&format!("/mailings/{mailing}/disable"), &[]).await;
    assert_eq!(r.status, 303);
}

#[tokio::test]
async fn pages_carry_security_headers_and_a_strict_session_cookie() {
    let srv = TestServer::sqlite().await;
    srv.signed_up("ann@example.com", "Ann").await;
    let mut v = Visitor::new(&srv);
    for path in [
        "/",
        "/signin",
        "/blog",
        "/no-such-page",
        "/unsubscribe/nothing",
    ] {
        let r = v.get(path).await;
        let csp = r.headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{path}: {csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(r.headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(r.headers["referrer-policy"], "same-origin", "{path}");
        // No inline script anywhere; scripts come from /static only.
        assert!(!r.text.contains("<script>"), "{path} has an inline script");
    }
    let r = v
        .post(
            "/signin",
            &[
                ("email", "ann@example.com"),
                ("password", "correct horse"),
                ("next", "/clients"),
            ],
        )
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(r.headers["location"], "/clients");
    let cookie = r
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("sky_session="))
        .unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "plain http: {cookie}");
    // Sign-in never sends anyone to another site.
    let r = v
        .post(
            "/signin",
            &[
                ("email", "ann@example.com"),
                ("password", "correct horse"),
                ("next", "//evil.example/"),
            ],
        )
        .await;
    assert_eq!(r.headers["location"], "/");
    let r = v
        .post(
            "/signin",
            &[
                ("email", "ann@example.com"),
                ("password", "correct horse"),
                ("next", "/\t/evil.example/"),
            ],
        )
        .await;
    assert_eq!(
        r.headers["location"], "/",
        "a tab would let the browser leave the site"
    );
    // Page forms have a size limit too, declared or not.
    let huge = "x".repeat(2 * 1024 * 1024);
    let r = v
        .post(
            "/clients/new",
            &[("email", "a@client.test"), ("full_name", &huge)],
        )
        .await;
    assert_eq!(r.status, 413);
    // Signing out ends the session on the server, not only in the browser.
    let token = v.cookies["sky_session"].clone();
    v.post("/signout", &[]).await;
    assert_eq!(srv.get("/api/v1/me", Some(&token)).await.status, 401);
}

#[tokio::test]
async fn cookies_are_secure_behind_https() {
    let srv = TestServer::sqlite_at(
        "https://mail.example.com",
        skymailing_server::RateLimits::uniform(100),
    )
    .await;
    srv.admin().await;
    let mut v = Visitor::new(&srv);
    let r = v
        .post(
            "/signin",
            &[
                ("email", "root@sky.test"),
                ("password", "admin password"),
                ("next", "/"),
            ],
        )
        .await;
    assert_eq!(r.status, 303);
    let cookies: Vec<String> = r
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().to_owned())
        .collect();
    for name in ["sky_session=", "sky_csrf="] {
        let c = cookies.iter().find(|c| c.starts_with(name)).unwrap();
        assert!(c.contains("Secure") && c.contains("HttpOnly"), "{c}");
    }
}

#[tokio::test]
async fn another_users_data_is_a_404_page() {
    let srv = TestServer::sqlite().await;
    let (_, _, client, _, mailing, run) = two_users(&srv).await;
    let mut bob = Visitor::new(&srv);
    bob.sign_in("bob@example.com", "correct horse").await;
    for path in [
        format!("/clients/{client}/edit"),
        format!("/clients/{client}/delete"),
        format!("/mailings/{mailing}"),
        format!("/mailings/{mailing}/edit"),
        format!("/mailings/{mailing}/delete"),
        format!("/mailings/{mailing}/progress"),
    ] {
        let r = bob.get(&path).await;
        assert_eq!(r.status, 404, "{path}");
        assert!(r.text.contains("Not found"), "{path}");
        assert!(!r.text.contains("carl@client.test"), "{path} leaks");
    }
    for path in [
        format!("/clients/{client}/edit"),
        format!("/clients/{client}/delete"),
        format!("/mailings/{mailing}/delete"),
        format!("/mailings/{mailing}/disable"),
    ] {
        let r = bob
            .post(
                &path,
                &[
                    ("email", "x@client.test"),
                    ("full_name", "X"),
                    ("comment", ""),
                ],
            )
            .await;
        assert_eq!(r.status, 404, "POST {path}");
    }
    // The run's report is public to users; its addresses are not.
    let r = bob.get(&format!("/log/{run}")).await;
    assert_eq!(r.status, 200);
    assert!(!r.text.contains("carl@client.test"));
    let mut ann = Visitor::new(&srv);
    ann.sign_in("ann@example.com", "correct horse").await;
    let r = ann.get(&format!("/log/{run}")).await;
    assert!(r.text.contains("carl@client.test"));
    assert!(
        ann.get(&format!("/mailings/{mailing}"))
            .await
            .text
            .contains("Autumn news")
    );
    // A manager may not open the client pages at all.
    let (admin, _) = srv.admin().await;
    let mona = srv.manager(&admin).await;
    let _ = mona;
    let mut m = Visitor::new(&srv);
    m.sign_in("mona@sky.test", "correct horse").await;
    assert_eq!(m.get("/clients/new").await.status, 403);
    assert_eq!(m.get(&format!("/mailings/{mailing}")).await.status, 200);
}

#[tokio::test]
async fn russian_pages_have_no_english_left() {
    let srv = TestServer::sqlite().await;
    let (_, _, client, msg, mailing, run) = two_users(&srv).await;
    let (admin, _) = srv.admin().await;
    let post = srv
        .post(
            "/api/v1/blog/posts",
            Some(&admin),
            json!({"title": "Привет", "body": "Первая запись", "image": null, "published": true}),
        )
        .await;
    assert_eq!(
        post.status, 201,
        "the post the blog pages below show: {post:?}"
    );
    assert_eq!(post.body["id"], 1, "/blog/1 below is this post");
    let english = english_only_texts();
    let check = |path: &str, html: &str| {
        let text = visible_text(html);
        assert!(text.contains("SkyMailing"), "{path}");
        for e in &english {
            assert!(!contains_word(&text, e), "{path} shows English {e:?}");
        }
    };
    // Anonymous, by Accept-Language.
    let mut v = Visitor::new(&srv);
    v.lang = Some("ru-RU,ru;q=0.9,en;q=0.5");
    for path in [
        "/",
        "/blog",
        "/blog/1",
        "/signin",
        "/signup",
        "/password-reset",
        "/nowhere",
    ] {
        let r = v.get(path).await;
        check(path, &r.text);
    }
    assert!(v.get("/blog/1").await.text.contains("Первая запись"));
    // The outbox is for this machine's visitors and admins only; it lists
    // the mails themselves (the account emails are English), in Russian words.
    assert_eq!(
        v.get("/outbox").await.status,
        404,
        "not from another machine"
    );
    let mut root = Visitor::new(&srv);
    root.lang = Some("ru");
    root.sign_in("root@sky.test", "admin password").await;
    let r = root.get("/outbox").await;
    assert!(
        r.text.contains("Исходящие") && r.text.contains("Кому"),
        "{}",
        r.text
    );
    // Signing up on a Russian page: the account is Russian, and so is its mail.
    let r = v
        .post(
            "/signup",
            &[
                ("name", "Вера"),
                ("email", "vera@example.com"),
                ("password", "correct horse"),
                ("time_zone", "Europe/Moscow"),
            ],
        )
        .await;
    check("/signup (done)", &r.text);
    let mail = srv
        .mail_to("vera@example.com", "Подтвердите аккаунт SkyMailing")
        .await;
    assert!(mail.text.contains("Здравствуйте, Вера!"), "{}", mail.text);
    // Signed in with Russian as their setting, whatever the browser says.
    let mut admin_v = Visitor::new(&srv);
    admin_v.lang = Some("en-US");
    admin_v.sign_in("root@sky.test", "admin password").await;
    admin_v
        .post("/lang", &[("lang", "ru"), ("next", "/")])
        .await;
    let mut ann = Visitor::new(&srv);
    ann.lang = Some("en-US");
    ann.sign_in("ann@example.com", "correct horse").await;
    let r = ann
        .post(
            "/profile",
            &[
                ("name", "Ann"),
                ("time_zone", "Europe/Moscow"),
                ("language", "ru"),
            ],
        )
        .await;
    assert_eq!(r.status, 303);
    for path in [
        "/".to_owned(),
        "/clients".into(),
        "/clients/suppressions".into(),
        "/clients/import".into(),
        "/clients?tag=nothing".into(),
        "/clients/new".into(),
        format!("/clients/{client}/edit"),
        format!("/clients/{client}/delete"),
        "/messages".into(),
        "/messages/new".into(),
        format!("/messages/{msg}/edit"),
        format!("/messages/{msg}/preview"),
        "/mailings".into(),
        format!("/mailings/{mailing}/duplicate"),
        "/mailings/new".into(),
        format!("/mailings/{mailing}"),
        format!("/mailings/{mailing}/edit"),
        "/log".into(),
        format!("/log/{run}"),
        "/profile".into(),
        "/dashboard".into(),
    ] {
        let r = ann.get(&path).await;
        assert_eq!(r.status, 200, "{path}");
        assert!(r.text.contains("lang=\"ru\""), "{path}");
        check(&path, &r.text);
    }
    // Form errors are Russian sentences naming their fields, all at once.
    let r = ann
        .post(
            "/clients/new",
            &[("email", "not an address"), ("full_name", "Two\nlines")],
        )
        .await;
    check("/clients/new (errors)", &r.text);
    let text = visible_text(&r.text);
    assert!(
        text.contains("Адрес: не должен содержать пробелов и управляющих символов."),
        "{text}"
    );
    assert!(
        text.contains("Полное имя: должно быть одной строкой без управляющих символов."),
        "{text}"
    );
    assert!(text.contains("Исправьте отмеченные ниже поля."), "{text}");
    // Run reports are written from codes: Russian here, on the log and the run.
    for path in [
        "/log".to_owned(),
        format!("/log/{run}"),
        format!("/mailings/{mailing}"),
    ] {
        let text = visible_text(&ann.get(&path).await.text);
        assert!(text.contains("Отправлено 1 из 1"), "{path}: {text}");
        assert!(!text.contains("Sent 1 of 1"), "{path}: {text}");
    }
    // A form error, in Russian too.
    let r = ann
        .post(
            "/clients/new",
            &[
                ("email", "carl@client.test"),
                ("full_name", "Карл"),
                ("comment", ""),
            ],
        )
        .await;
    check("/clients/new (error)", &r.text);
    assert!(r.text.contains("у вас уже есть клиент"), "{}", r.text);
    for path in ["/users", "/admin/blog", "/admin/blog/new", "/mailings"] {
        let r = admin_v.get(path).await;
        assert_eq!(r.status, 200, "{path}");
        check(path, &r.text);
    }
    // The setting is the account's: the API shows it.
    assert_eq!(
        srv.get("/api/v1/me", Some(&admin)).await.body["language"],
        "ru"
    );
}

#[tokio::test]
async fn blog_images_are_checked_stored_and_served() {
    let srv = TestServer::sqlite().await;
    srv.admin().await;
    let mut v = Visitor::new(&srv);
    v.sign_in("root@sky.test", "admin password").await;
    let token = v.token("/admin/blog/new").await;
    let upload = |v: &mut Visitor<'_>, title: &str, image: Vec<u8>, token: &str| {
        let boundary = "XyZ";
        let mut body = Vec::new();
        for (name, value) in [
            ("title", title),
            ("body", "Text of the post"),
            ("published", "1"),
        ] {
            body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes());
        }
        body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n").as_bytes());
        body.extend(image);
        body.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
        let path = format!("/admin/blog/new?csrf_token={}", urlencode(token));
        let cookies: Vec<String> = v
            .cookies
            .iter()
            .map(|(k, val)| format!("{k}={val}"))
            .collect();
        poem::Request::builder()
            .method(Method::POST)
            .uri(path.parse().unwrap())
            .header("cookie", cookies.join("; "))
            .content_type(&format!("multipart/form-data; boundary={boundary}"))
            .body(body)
    };
    // An SVG named .png is refused (its bytes say what it is), and so is a huge file.
    let r = srv
        .raw(upload(
            &mut v,
            "Bad",
            b"<svg onload=alert(1)></svg>".to_vec(),
            &token,
        ))
        .await;
    assert_eq!(r.status, 200);
    assert!(
        r.text.contains("must be a PNG, JPEG, GIF or WebP image"),
        "{}",
        r.text
    );
    let mut huge = b"\x89PNG\r\n\x1a\n".to_vec();
    huge.resize(3 * 1024 * 1024, 0);
    let r = srv.raw(upload(&mut v, "Huge", huge, &token)).await;
    assert!(r.text.contains("larger than 2 MB"), "{}", r.status);
    assert_eq!(
        srv.get("/api/v1/blog/posts", None).await.body["total"],
        0,
        "nothing half-written"
    );
    // A real PNG is stored and served with its type.
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    let r = srv.raw(upload(&mut v, "Good", png.clone(), &token)).await;
    assert_eq!(r.status, 303, "{}", r.text);
    let posts = srv.get("/api/v1/blog/posts", None).await;
    let image = posts.body["items"][0]["image"].as_str().unwrap().to_owned();
    assert!(
        image.starts_with("/uploads/") && image.ends_with(".png"),
        "{image}"
    );
    let served = srv.get(&image, None).await;
    assert_eq!(served.status, 200);
    assert_eq!(served.headers["content-type"], "image/png");
    assert_eq!(srv.get("/uploads/..%2Fsky.db", None).await.status, 404);
    // The post shows on the home page (whose posts may lag a second: they
    // are reused for that long) and the blog, with its image.
    let mut home = v.get("/").await;
    for _ in 0..30 {
        if home.text.contains(&image) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        home = v.get("/").await;
    }
    assert!(home.text.contains("Good") && home.text.contains(&image));
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The suppression list under Clients: added by hand (bad input shown on
/// the form), searched and lifted; another user neither sees nor lifts it.
#[tokio::test]
async fn the_suppression_list_page_adds_searches_and_lifts() {
    let srv = TestServer::sqlite().await;
    let (ann_token, _, _, _, _, _) = two_users(&srv).await;
    let mut ann = Visitor::new(&srv);
    ann.sign_in("ann@example.com", "correct horse").await;
    assert!(
        ann.get("/clients")
            .await
            .text
            .contains("/clients/suppressions")
    );
    let r = ann
        .post("/clients/suppressions", &[("email", "not an address")])
        .await;
    assert_eq!(r.status, 200, "the form again, with the error");
    assert!(r.text.contains("field-error"), "{}", r.text);
    let r = ann
        .post("/clients/suppressions", &[("email", "Gone@Client.test")])
        .await;
    assert_eq!(r.status, 303);
    let list = srv.get("/api/v1/suppressions", Some(&ann_token)).await;
    assert_eq!(list.body["items"][0]["reason"], "manual");
    let gone = list.body["items"][0]["id"].as_i64().unwrap();
    let page = ann.get("/clients/suppressions?q=gone").await;
    assert!(page.text.contains("gone@client.test"), "{}", page.text);
    assert!(
        page.text
            .contains(&format!("/clients/suppressions/{gone}/lift"))
    );
    let mut bob = Visitor::new(&srv);
    bob.sign_in("bob@example.com", "correct horse").await;
    let r = bob
        .post(&format!("/clients/suppressions/{gone}/lift"), &[])
        .await;
    assert_eq!(r.status, 404);
    assert!(
        !bob.get("/clients/suppressions")
            .await
            .text
            .contains("gone@client.test")
    );
    let r = ann
        .post(&format!("/clients/suppressions/{gone}/lift"), &[])
        .await;
    assert_eq!(r.status, 303);
    assert!(
        !ann.get("/clients/suppressions")
            .await
            .text
            .contains("gone@client.test")
    );
}

/// A multipart form posted with the visitor's cookies (the CSRF token in the
/// URL, as upload forms carry it).
fn multipart(
    v: &Visitor<'_>,
    path: &str,
    token: &str,
    fields: &[(&str, Option<&str>, &str)],
) -> poem::Request {
    let boundary = "XyZ";
    let mut body = Vec::new();
    for (name, file, value) in fields {
        let disposition = match file {
            Some(f) => {
                format!("form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: text/csv")
            }
            None => format!("form-data; name=\"{name}\""),
        };
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    body.extend(format!("--{boundary}--\r\n").as_bytes());
    let cookies: Vec<String> = v
        .cookies
        .iter()
        .map(|(k, val)| format!("{k}={val}"))
        .collect();
    poem::Request::builder()
        .method(Method::POST)
        .uri(
            format!("{path}?csrf_token={}", urlencode(token))
                .parse()
                .unwrap(),
        )
        .header("cookie", cookies.join("; "))
        .content_type(&format!("multipart/form-data; boundary={boundary}"))
        .body(body)
}

/// The text of the page's hidden `csv` field, unescaped.
fn kept_csv(html: &str) -> String {
    let at = html
        .find("<textarea name=\"csv\" hidden>")
        .expect("the confirm form")
        + 28;
    let end = html[at..].find("</textarea>").unwrap();
    html[at..at + end]
        .replace("&#10;", "\n")
        .replace("&#44;", ",")
        .replace("&#64;", "@")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[tokio::test]
async fn import_preview_picker_preview_test_send_and_run_actions_on_pages() {
    let srv = TestServer::sqlite().await;
    let (ann_token, _, carl, msg, mailing, run) = two_users(&srv).await;
    let mut ann = Visitor::new(&srv);
    ann.sign_in("ann@example.com", "correct horse").await;
    let token = ann.token("/clients/import").await;

    // The upload is checked and shown; nothing is saved yet.
    let csv = "email,full_name,tags\nd1@client.test,Dee 1,vip\nd2@client.test,Dee 2,vip\nd10@client.test,Dee 10,\nbroken,Nobody,\n";
    let r = srv
        .raw(multipart(
            &ann,
            "/clients/import",
            &token,
            &[("file", Some("list.csv"), csv)],
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("id=\"import-created\">3<"), "{}", r.text);
    assert!(r.text.contains("id=\"import-errors\""));
    assert!(visible_text(&r.text).contains("Line"));
    assert_eq!(
        srv.get("/api/v1/clients", Some(&ann_token)).await.body["total"],
        1
    );
    // Confirmed: saved.
    let kept = kept_csv(&r.text);
    assert_eq!(kept, csv);
    let r = srv
        .raw(multipart(
            &ann,
            "/clients/import",
            &token,
            &[("csv", None, &kept), ("confirm", None, "1")],
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("id=\"import-back\""), "{}", r.text);
    assert_eq!(
        srv.get("/api/v1/clients", Some(&ann_token)).await.body["total"],
        4
    );
    let list = ann.get("/clients?tag=vip").await;
    assert!(
        list.text.contains("id=\"clients-total\">2<"),
        "{}",
        list.text
    );
    let text = visible_text(&ann.get("/clients").await.text);
    let (d2, d10) = (text.find("Dee 2").unwrap(), text.find("Dee 10").unwrap());
    assert!(d2 < d10, "natural order");
    let export = ann.get("/clients/export").await;
    assert!(
        export.text.contains("d10@client.test,Dee 10"),
        "{}",
        export.text
    );

    // The picker filters without saving, then adds all matching.
    let msg_s = msg.to_string();
    let base = [
        ("name", "By tag"),
        ("message_id", msg_s.as_str()),
        ("start_at", "2030-01-01T10:00"),
        ("end_at", "2030-02-01T10:00"),
        ("periodicity", "once"),
        ("pick_tag", "vip"),
    ];
    let mut filter = base.to_vec();
    filter.push(("action", "filter"));
    let r = ann.post("/mailings/new", &filter).await;
    assert_eq!(r.status, 200);
    assert!(r.text.contains("id=\"pick-matching\">2<"), "{}", r.text);
    assert!(
        !r.text.contains("Carl &lt;"),
        "the filter hides other clients"
    );
    // "All matching" adds what was counted and shown (the filter applied),
    // even when the filter's fields were cleared before saving.
    let mut save = base.to_vec();
    save.retain(|(k, _)| *k != "pick_tag");
    save.push(("applied_tag", "vip"));
    save.push(("all_matching", "1"));
    let r = ann.post("/mailings/new", &save).await;
    assert_eq!(r.status, 303, "{}", r.text);
    let new_id: i64 = r.headers["location"]
        .to_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let m = srv
        .get(&format!("/api/v1/mailings/{new_id}"), Some(&ann_token))
        .await;
    assert_eq!(m.body["client_ids"].as_array().unwrap().len(), 2, "{m:?}");

    // Preview, for a sample recipient and for a client.
    let p = ann.get(&format!("/messages/{msg}/preview")).await;
    assert_eq!(p.status, 200);
    assert!(p.text.contains("Jane Doe"));
    for evil in [
        "/%5Cevil.example",
        "/%09/evil.example",
        "//evil.example",
        "https://evil.example",
    ] {
        let p = ann
            .get(&format!("/messages/{msg}/preview?back={evil}"))
            .await;
        assert!(
            p.text.contains("href=\"/messages\""),
            "{evil}: the back link stays home"
        );
        assert!(
            ![
                "href=\"/\\",
                "href=\"//",
                "href=\"https://evil",
                "href=\"/%"
            ]
            .iter()
            .any(|h| p.text.contains(h)),
            "{evil}"
        );
    }
    let p = ann
        .get(&format!("/messages/{msg}/preview?client={carl}"))
        .await;
    assert!(p.text.contains("Carl"), "{}", p.text);

    // Test send and duplicate from the mailing page.
    let page = ann.get(&format!("/mailings/{mailing}")).await;
    assert!(page.text.contains("id=\"test-send\"") && page.text.contains("id=\"duplicate\""));
    let r = ann.post(&format!("/mailings/{mailing}/test"), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    srv.mail_to("ann@example.com", "[Test]").await;
    let dup = ann.get(&format!("/mailings/{mailing}/duplicate")).await;
    assert!(
        dup.text.contains("value=\"Copy of Autumn news\""),
        "{}",
        dup.text
    );

    // The run page links to its mailing; a finished run offers no cancel.
    let rp = ann.get(&format!("/log/{run}")).await;
    assert!(
        rp.text.contains(&format!("href=\"/mailings/{mailing}\"")),
        "{}",
        rp.text
    );
    assert!(!rp.text.contains("id=\"run-cancel\""));
    assert_eq!(
        ann.post(&format!("/runs/{run}/cancel"), &[]).await.status,
        409
    );
}

/// What the everyday-use issue found, page by page: times in the Messages
/// list and the Outbox carry their zone; sign-up offers a zone list (the
/// browser's preselected by script); staff lists name each mailing's owner;
/// the nav marks where you are; an empty list says what to do next.
#[tokio::test]
async fn pages_label_times_list_zones_name_owners_and_mark_the_nav() {
    let srv = TestServer::sqlite().await;
    two_users(&srv).await;
    let mut ann = Visitor::new(&srv);
    ann.sign_in("ann@example.com", "correct horse").await;
    let r = ann
        .post(
            "/profile",
            &[
                ("name", "Ann"),
                ("time_zone", "Europe/Moscow"),
                ("language", "en"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let messages = visible_text(&ann.get("/messages").await.text);
    assert!(messages.contains(" MSK"), "{messages}");
    let clients = ann.get("/clients").await.text;
    assert!(
        clients.contains(r#"<a href="/clients" aria-current="page">"#),
        "{clients}"
    );
    assert!(!clients.contains(r#"<a href="/messages" aria-current"#));

    let (admin, _) = srv.admin().await;
    let mut root = Visitor::new(&srv);
    root.sign_in("root@sky.test", "admin password").await;
    let outbox = visible_text(&root.get("/outbox").await.text);
    assert!(outbox.contains(" UTC"), "{outbox}");

    let signup = Visitor::new(&srv).get("/signup").await.text;
    assert!(
        signup.contains(r#"<select id="f-time_zone" name="time_zone" data-detect-zone"#),
        "{signup}"
    );
    assert!(signup.contains(r#"<option value="Europe/Moscow">"#));

    srv.manager(&admin).await;
    let mut mona = Visitor::new(&srv);
    mona.sign_in("mona@sky.test", "correct horse").await;
    let all = mona.get("/mailings?scope=all").await.text;
    // (askama writes < and > as numeric entities.)
    assert!(
        all.contains(r#"<td class="owner">Ann &#60;ann@example.com&#62;</td>"#),
        "{all}"
    );

    let mut bob = Visitor::new(&srv);
    bob.sign_in("bob@example.com", "correct horse").await;
    let empty = bob.get("/mailings").await.text;
    assert!(
        visible_text(&empty).contains("No mailings yet")
            && empty.contains(r#"href="/mailings/new""#),
        "{empty}"
    );
}

//! The per-recipient unsubscribe link of every email. `GET` only shows a
//! confirmation (mail scanners open links; opening must not unsubscribe);
//! `POST` unsubscribes — from that page's button, or straight from the mail
//! client's one-click button (RFC 8058: `List-Unsubscribe=One-Click` in a form
//! body). The page that confirms it offers to subscribe again. The token in
//! the path is the only credential, so these forms need no CSRF token: a
//! forged request would have to know it. The page speaks the browser's language.

use askama::Template;
use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{IntoResponse, Request, Response, handler};
use skymailing_core::Error;
use skymailing_core::service::UnsubscribeInfo;

use crate::Service;
use crate::web::Lang;

#[derive(Template)]
#[template(path = "unsubscribe.html")]
struct Page {
    lang: Lang,
    title: String,
    text: String,
    email: Option<String>,
    button: Option<(String, String)>,
}

#[handler]
pub(crate) async fn confirm_page(
    service: Data<&Service>,
    req: &Request,
    Path(token): Path<String>,
) -> Response {
    let lang = Lang::of(req, None);
    match service.app.clients.unsubscribe_info(&token).await {
        Ok(info) if info.unsubscribed => done(lang, &token, &info),
        Ok(info) => page(Page {
            lang,
            title: lang.t("unsub.title"),
            text: lang.t("unsub.ask"),
            email: Some(info.email),
            button: Some((format!("/unsubscribe/{token}"), lang.t("unsub.submit"))),
        }),
        Err(e) => failure(lang, e),
    }
}

#[handler]
pub(crate) async fn one_click(
    service: Data<&Service>,
    req: &Request,
    Path(token): Path<String>,
) -> Response {
    let lang = Lang::of(req, None);
    match service.app.clients.unsubscribe(&token).await {
        Ok(info) => done(lang, &token, &info),
        Err(e) => failure(lang, e),
    }
}

#[handler]
pub(crate) async fn undo(
    service: Data<&Service>,
    req: &Request,
    Path(token): Path<String>,
) -> Response {
    let lang = Lang::of(req, None);
    match service.app.clients.resubscribe(&token).await {
        Ok(info) => page(Page {
            lang,
            title: lang.t("unsub.back_title"),
            text: lang.t("unsub.back_text"),
            email: Some(info.email),
            button: Some((format!("/unsubscribe/{token}"), lang.t("unsub.submit"))),
        }),
        Err(e) => failure(lang, e),
    }
}

fn done(lang: Lang, token: &str, info: &UnsubscribeInfo) -> Response {
    page(Page {
        lang,
        title: lang.t("unsub.done_title"),
        text: lang.t("unsub.done_text"),
        email: Some(info.email.clone()),
        button: Some((format!("/unsubscribe/{token}/undo"), lang.t("unsub.undo"))),
    })
}

fn failure(lang: Lang, e: Error) -> Response {
    let (status, title, text) = match e {
        Error::NotFound | Error::InvalidToken => {
            (StatusCode::NOT_FOUND, "unsub.bad_title", "unsub.bad_text")
        }
        e => {
            tracing::error!(error = %e, "unsubscribe failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "error.unavailable",
                "error.unavailable_text",
            )
        }
    };
    page(Page {
        lang,
        title: lang.t(title),
        text: lang.t(text),
        email: None,
        button: None,
    })
    .with_status(status)
    .into_response()
}

fn page(p: Page) -> Response {
    crate::web::render(&p)
}

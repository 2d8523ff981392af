//! The per-recipient unsubscribe link of every email. `GET` only shows a
//! confirmation (mail scanners open links; opening must not unsubscribe);
//! `POST` unsubscribes — from that page's button, or straight from the mail
//! client's one-click button (RFC 8058: `List-Unsubscribe=One-Click` in a form
//! body). The page that confirms it offers to subscribe again — that page
//! only: the undo form carries a code derived from the unsubscribe it undoes
//! and this service's secret, because the token in the path may be known to
//! others (a list owner can put the link in an image URL of their own), and
//! the owner must not be able to undo a recipient's unsubscribe. Opening the
//! link again, or posting it again, shows the state without the undo. The
//! forms need no CSRF token: a forged request would have to know the token
//! (and, to undo, the code). The page speaks the browser's language.

use askama::Template;
use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{IntoResponse, Request, Response, handler};
use skymailing_core::Error;
use skymailing_core::service::UnsubscribeInfo;

use crate::Service;
use crate::web::i18n::Lang;
use crate::web::view::render;

/// A page of a link in mail, outside the session: a title, a text, an
/// address, and at most one button (a form posting to `button.0`).
#[derive(Template)]
#[template(path = "unsubscribe.html")]
pub(crate) struct Page {
    pub lang: Lang,
    pub title: String,
    pub text: String,
    pub email: Option<String>,
    pub button: Option<(String, String)>,
}

#[handler]
pub(crate) async fn confirm_page(
    service: Data<&Service>,
    req: &Request,
    Path(token): Path<String>,
) -> Response {
    let lang = Lang::of(req, None);
    match service.app.clients.unsubscribe_info(&token).await {
        Ok(info) if info.unsubscribed => {
            done(&service, lang, &link_of(&service, &token), &token, &info)
        }
        Ok(info) => page(Page {
            lang,
            title: lang.t("unsub.title"),
            text: lang.t("unsub.ask"),
            email: Some(info.email),
            button: Some((link_of(&service, &token), lang.t("unsub.submit"))),
        }),
        Err(e) => failure(lang, e),
    }
}

/// The path of this recipient's link, as the application's links build it
/// (so the forms follow wherever the application mounted these routes).
fn link_of(service: &Service, token: &str) -> String {
    path_of(&service.app.links().unsubscribe(token))
}

/// The path (and query) of one of the links' URLs, for a form on this host.
pub(crate) fn path_of(url: &str) -> String {
    match url.split_once("://") {
        Some((_, rest)) => rest
            .find('/')
            .map_or("/".to_owned(), |i| rest[i..].to_owned()),
        None => url.to_owned(),
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
        Ok(info) => done(&service, lang, &link_of(&service, &token), &token, &info),
        Err(e) => failure(lang, e),
    }
}

/// The `code` of an undo form.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct UndoCode {
    #[serde(default)]
    code: String,
}

/// The proof that the undo comes from whoever unsubscribed: a hash of the
/// service's secret, the link and the time of that unsubscribe.
fn undo_code(service: &Service, token: &str, at: chrono::DateTime<chrono::Utc>) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(service.secret_key());
    h.update([0]);
    h.update(token.as_bytes());
    h.update([0]);
    h.update(at.timestamp_micros().to_be_bytes());
    hex::encode(h.finalize())
}

#[handler]
pub(crate) async fn undo(
    service: Data<&Service>,
    req: &Request,
    Path(token): Path<String>,
    poem::web::Query(UndoCode { code }): poem::web::Query<UndoCode>,
) -> Response {
    let lang = Lang::of(req, None);
    let proven = match service.app.clients.unsubscribe_info(&token).await {
        Ok(UnsubscribeInfo {
            unsubscribed_at: Some(at),
            ..
        }) => constant_time_eq(undo_code(&service, &token, at).as_bytes(), code.as_bytes()),
        Ok(_) => false,
        Err(e) => return failure(lang, e),
    };
    if !proven {
        return failure(lang, Error::InvalidToken);
    }
    match service.app.clients.resubscribe(&token).await {
        Ok(info) => page(Page {
            lang,
            title: lang.t("unsub.back_title"),
            text: lang.t("unsub.back_text"),
            email: Some(info.email),
            button: Some((link_of(&service, &token), lang.t("unsub.submit"))),
        }),
        Err(e) => failure(lang, e),
    }
}

/// "You are unsubscribed"; with the undo form only for whoever just did it.
fn done(
    service: &Service,
    lang: Lang,
    link: &str,
    token: &str,
    info: &UnsubscribeInfo,
) -> Response {
    let undo_form = match info.unsubscribed_at {
        Some(at) if info.changed => Some((
            format!("{link}/undo?code={}", undo_code(service, token, at)),
            lang.t("unsub.undo"),
        )),
        _ => None,
    };
    page(Page {
        lang,
        title: lang.t("unsub.done_title"),
        text: lang.t("unsub.done_text"),
        email: Some(info.email.clone()),
        button: undo_form,
    })
}

/// Compares without stopping at the first difference.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
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

pub(crate) fn page(p: Page) -> Response {
    render(&p)
}

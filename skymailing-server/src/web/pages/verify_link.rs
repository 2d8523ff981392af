//! The email-verification link outside the session, for an application that
//! mounts [`crate::public_routes`] instead of the reference pages: `GET` asks
//! (mail scanners open links; opening must not verify), `POST` verifies. Like
//! the unsubscribe forms, it needs no CSRF token: a forged request would have
//! to know the one-time token. The page speaks the browser's language.

use poem::http::StatusCode;
use poem::web::{Data, Query};
use poem::{IntoResponse, Request, Response, handler};
use skymailing_core::Error;

use super::unsubscribe::{Page, page, path_of};
use crate::Service;
use crate::web::i18n::Lang;

#[derive(serde::Deserialize)]
pub(crate) struct TokenParam {
    #[serde(default)]
    token: String,
}

#[handler]
pub(crate) async fn ask(
    service: Data<&Service>,
    req: &Request,
    Query(TokenParam { token }): Query<TokenParam>,
) -> Response {
    let lang = Lang::of(req, None);
    if token.is_empty() {
        return failure(lang, Error::InvalidToken);
    }
    page(Page {
        lang,
        title: lang.t("verify.title"),
        text: lang.t("verify.text"),
        email: None,
        button: Some((
            path_of(&service.app.links().verify(&token)),
            lang.t("verify.submit"),
        )),
    })
}

#[handler]
pub(crate) async fn confirm(
    service: Data<&Service>,
    req: &Request,
    Query(TokenParam { token }): Query<TokenParam>,
) -> Response {
    let lang = Lang::of(req, None);
    match service.app.accounts.verify_email(&token).await {
        Ok(user) => page(Page {
            lang,
            title: lang.t("verify.done_title"),
            text: lang.t("verify.done_text"),
            email: Some(user.email.as_str().to_owned()),
            button: None,
        }),
        Err(e) => failure(lang, e),
    }
}

fn failure(lang: Lang, e: Error) -> Response {
    let status = match e {
        Error::InvalidToken | Error::NotFound => StatusCode::NOT_FOUND,
        Error::AccountBlocked => StatusCode::FORBIDDEN,
        e => {
            tracing::error!(error = %e, "verifying an address failed");
            StatusCode::SERVICE_UNAVAILABLE
        }
    };
    let (title, text) = if status == StatusCode::SERVICE_UNAVAILABLE {
        ("error.unavailable", "error.unavailable_text")
    } else {
        ("verify.bad_title", "verify.bad_text")
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

//! The per-recipient unsubscribe link of every email. `GET` only shows a
//! confirmation (mail scanners open links; opening must not unsubscribe);
//! `POST` unsubscribes — from that page's button, or straight from the mail
//! client's one-click button (RFC 8058: `List-Unsubscribe=One-Click` in a form
//! body). The token in the path is the only credential.

use poem::http::StatusCode;
use poem::web::{Data, Html, Path};
use poem::{IntoResponse, Response, handler};
use skymailing_core::Error;
use skymailing_core::service::UnsubscribeInfo;

use crate::Service;

#[handler]
pub(crate) async fn confirm_page(service: Data<&Service>, Path(token): Path<String>) -> Response {
    match service.app.clients.unsubscribe_info(&token).await {
        Ok(info) if info.unsubscribed => done(&info),
        Ok(info) => page(
            "Unsubscribe",
            &format!(
                "<p>Stop receiving mailings at <strong>{}</strong>?</p>\
                 <form method=\"post\"><button type=\"submit\">Unsubscribe</button></form>",
                escape(&info.email)
            ),
        ),
        Err(e) => failure(e),
    }
}

#[handler]
pub(crate) async fn one_click(service: Data<&Service>, Path(token): Path<String>) -> Response {
    match service.app.clients.unsubscribe(&token).await {
        Ok(info) => done(&info),
        Err(e) => failure(e),
    }
}

fn done(info: &UnsubscribeInfo) -> Response {
    page(
        "Unsubscribed",
        &format!(
            "<p><strong>{}</strong> will receive no more mailings from this sender.</p>",
            escape(&info.email)
        ),
    )
}

fn failure(e: Error) -> Response {
    match e {
        Error::NotFound | Error::InvalidToken => page(
            "Link not found",
            "<p>This unsubscribe link is not valid. It may belong to a client that was deleted.</p>",
        )
        .with_status(StatusCode::NOT_FOUND)
        .into_response(),
        e => {
            tracing::error!(error = %e, "unsubscribe failed");
            page(
                "Try again later",
                "<p>We could not process this request; please try again in a moment.</p>",
            )
            .with_status(StatusCode::SERVICE_UNAVAILABLE)
            .into_response()
        }
    }
}

fn page(title: &str, body: &str) -> Response {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} — SkyMailing</title></head>\
         <body style=\"font-family: system-ui, sans-serif; max-width: 36rem; margin: 3rem auto; padding: 0 1rem\">\
         <h1>{title}</h1>{body}</body></html>"
    ))
    .into_response()
}

/// Escapes text for HTML content and attribute values.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

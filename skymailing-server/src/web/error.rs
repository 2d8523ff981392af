//! The pages' errors: a core error raised by a page handler ([`PageError`])
//! becomes an error page in the visitor's language, or the sign-in page when
//! the visitor must sign in first.

use askama::Template;
use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use skymailing_core::Error;

use super::csrf::CsrfRejected;
use super::view::{Chrome, Viewer, render, see_other, urlencode};
use crate::error::status_of;

#[derive(Template)]
#[template(path = "error.html")]
pub(crate) struct ErrorPage {
    pub c: Chrome,
    pub status: u16,
    pub title: String,
    pub text: String,
}

/// The result of a page handler.
pub(crate) type PageResult = Result<poem::Response, PageError>;

/// A core error raised by a page handler, rendered by [`attach`].
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct PageError(pub Error);

impl poem::error::ResponseError for PageError {
    fn status(&self) -> StatusCode {
        status_of(&self.0)
    }
}

impl From<Error> for PageError {
    fn from(e: Error) -> Self {
        PageError(e)
    }
}

/// The page for an error: sign-in for `Unauthenticated`, else a clear page
/// with the status (404 for others' data, 403, 500…).
pub(crate) fn error_page(viewer: &Viewer, err: poem::Error) -> Response {
    let status = match err.downcast_ref::<PageError>() {
        Some(PageError(Error::Unauthenticated)) => {
            // After signing in, come back here; a form's target (POST only)
            // is no page to come back to, so go home instead.
            let next = if viewer.method_was_get {
                viewer.path.as_str()
            } else {
                "/"
            };
            return see_other(&format!("/signin?next={}", urlencode(next)));
        }
        Some(PageError(e)) => status_of(e),
        None => err.status(),
    };
    if status.is_server_error() {
        tracing::error!(error = %err, "page failed");
    }
    let (title, text) = match status {
        StatusCode::NOT_FOUND => ("error.not_found", "error.not_found_text"),
        StatusCode::FORBIDDEN => ("error.forbidden", "error.forbidden_text"),
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => {
            ("error.bad_request", "error.bad_request_text")
        }
        StatusCode::PAYLOAD_TOO_LARGE => ("error.too_large", "error.too_large_text"),
        StatusCode::SERVICE_UNAVAILABLE => ("error.unavailable", "error.unavailable_text"),
        s if s.is_server_error() => ("error.internal", "error.internal_text"),
        _ => ("error.bad_request", "error.bad_request_text"),
    };
    let detail = err.is::<CsrfRejected>().then(|| viewer.t("error.csrf"));
    let page = ErrorPage {
        c: viewer.chrome(),
        status: status.as_u16(),
        title: viewer.t(title),
        text: detail.unwrap_or_else(|| viewer.t(text)),
    };
    render(&page).with_status(status).into_response()
}

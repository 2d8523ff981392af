//! Who is asking: the session cookie (the core's session token, HttpOnly,
//! SameSite=Lax, Secure behind https) is resolved once per request into a
//! [`Viewer`]; errors of the pages become error pages here, and a request
//! that needs sign-in is sent to the sign-in page and back afterwards.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::CsrfToken;
use poem::web::cookie::{Cookie, SameSite};
use poem::{Endpoint, IntoResponse, Request, Response};
use skymailing_core::policy::Actor;
use skymailing_core::{Error, User};

use super::pages::ErrorPage;
use super::{Chrome, Lang, render, see_other};
use crate::Service;
use crate::error::status_of;

/// The session cookie.
pub const SESSION_COOKIE: &str = "sky_session";

/// The visitor of a page.
#[derive(Clone)]
pub struct Viewer {
    /// For the use cases.
    pub actor: Actor,
    /// The signed-in user.
    pub user: Option<User>,
    /// The session token (to sign out, or keep this session on a password change).
    pub token: Option<String>,
    /// The page language.
    pub lang: Lang,
    /// The CSRF token for forms.
    pub csrf: String,
    /// The request path and query, to come back to after signing in.
    pub path: String,
    pub(crate) method_was_get: bool,
    /// Whether this visitor may read the outbox.
    pub(crate) outbox: bool,
}

impl Viewer {
    /// The frame of a page for this visitor.
    pub fn chrome(&self) -> Chrome {
        Chrome {
            lang: self.lang,
            user: self.user.clone(),
            csrf: self.csrf.clone(),
            path: self.path.clone(),
            outbox: self.outbox,
        }
    }

    /// The text of `key` in the visitor's language.
    pub fn t(&self, key: &str) -> String {
        self.lang.t(key)
    }
}

/// Resolves the viewer, calls the page, and renders its errors.
pub(crate) async fn attach<E: Endpoint>(ep: Arc<E>, mut req: Request) -> poem::Result<Response> {
    let service = req
        .data::<Service>()
        .expect("the service is attached to every route")
        .clone();
    let token = req
        .cookie()
        .get(SESSION_COOKIE)
        .map(|c| c.value_str().to_owned());
    let (actor, user) = match &token {
        Some(t) => service
            .app
            .accounts
            .authenticate(t)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "session lookup failed");
                (Actor::Anonymous, None)
            }),
        None => (Actor::Anonymous, None),
    };
    let path = req
        .uri()
        .path_and_query()
        .map_or("/".to_owned(), |p| p.as_str().to_owned());
    let lang = Lang::of(&req, user.as_ref());
    let user_is_admin = user
        .as_ref()
        .is_some_and(|u| u.role == skymailing_core::Role::Admin);
    let viewer = Viewer {
        actor,
        token: user.as_ref().and(token),
        user,
        lang,
        csrf: req
            .extensions()
            .get::<CsrfToken>()
            .map(|t| t.0.clone())
            .unwrap_or_default(),
        path,
        method_was_get: req.method() == poem::http::Method::GET,
        outbox: may_read_outbox(&service, &req, user_is_admin),
    };
    req.extensions_mut().insert(viewer.clone());
    match ep.call(req).await {
        Ok(resp) => Ok(resp.into_response()),
        Err(err) => Ok(error_page(&viewer, err)),
    }
}

/// The outbox (outbox mode only) holds every account's links: it is for
/// signed-in admins, and in zero-setup mode (outbox mail, a loopback base URL)
/// for visitors on this machine. The request's `Host` has passed the
/// allowed-hosts check, so a page elsewhere cannot reach it by DNS rebinding.
fn may_read_outbox(service: &Service, req: &Request, admin: bool) -> bool {
    let local = crate::ratelimit::client_ip(req).is_some_and(|ip| ip.is_loopback());
    service.outbox.is_some() && (admin || (local && service.is_zero_setup()))
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
    let detail = err
        .is::<super::csrf::CsrfRejected>()
        .then(|| viewer.t("error.csrf"));
    let page = ErrorPage {
        c: viewer.chrome(),
        status: status.as_u16(),
        title: viewer.t(title),
        text: detail.unwrap_or_else(|| viewer.t(text)),
    };
    render(&page).with_status(status).into_response()
}

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

/// Percent-encodes a value for a query string.
pub(crate) fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The cookie that signs a browser in.
pub(crate) fn session_cookie(service: &Service, token: &str) -> Cookie {
    let mut c = Cookie::new_with_str(SESSION_COOKIE, token);
    c.set_http_only(true);
    c.set_same_site(SameSite::Lax);
    c.set_secure(service.settings.base_url.starts_with("https://"));
    c.set_path("/");
    c.set_max_age(std::time::Duration::from_secs(30 * 24 * 3600));
    c
}

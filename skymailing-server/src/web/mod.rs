//! The HTML pages: server-rendered with askama templates (checked at compile
//! time), on top of the same core use cases as the JSON API — no rule and no
//! query of their own. Sessions are the core's tokens in an HttpOnly cookie;
//! every form carries a CSRF token that is checked on every state-changing
//! request; every answer carries a strict Content-Security-Policy.

mod chart;
mod csrf;
pub mod i18n;
mod pages;
mod session;

use std::sync::Arc;

use askama::Template;
use poem::http::{StatusCode, header};
use poem::web::{Html, Redirect};
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response, Route};
use skymailing_core::User;
use skymailing_core::policy::{Action, Actor, Decision, Target, decide};

use crate::Service;
pub use i18n::Lang;
pub use session::Viewer;

/// What every page shows around its content.
pub struct Chrome {
    /// The page's language.
    pub lang: Lang,
    /// The signed-in user, if any.
    pub user: Option<User>,
    /// The CSRF token for this page's forms.
    pub csrf: String,
    /// The path of this page (for the sign-in return and the language switch).
    pub path: String,
    /// Whether the outbox page is there for this visitor (outbox mode, and
    /// this machine or an admin).
    pub outbox: bool,
}

impl Chrome {
    /// Text of `key` in the page's language.
    pub fn t(&self, key: &str) -> String {
        self.lang.t(key)
    }

    /// Whether the permission table allows `action` on `target` (for showing
    /// links and buttons; the use cases decide again on every request).
    pub fn may(&self, action: Action, target: Target) -> bool {
        decide(self.actor(), action, target) == Decision::Allow
    }

    fn actor(&self) -> Actor {
        self.user
            .as_ref()
            .map_or(Actor::Anonymous, |u| Actor::user(u.id, u.role))
    }

    /// Whether the user administration is theirs (managers and admins).
    pub fn is_staff(&self) -> bool {
        self.may(Action::ListUsers, Target::None)
    }

    /// Whether the blog editor is theirs (admins).
    pub fn is_admin(&self) -> bool {
        self.may(Action::WriteBlog, Target::None)
    }

    /// Whether they see everyone's mailings (managers and admins).
    pub fn sees_all_mailings(&self) -> bool {
        self.may(Action::ViewAllMailings, Target::None)
    }

    /// Whether they keep clients and mailings of their own (not managers).
    pub fn has_own_data(&self) -> bool {
        self.may(Action::ManageClients, Target::None)
    }
}

/// A rendered page as a response.
pub(crate) fn render(t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering a page failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// A redirect after a successful form (303: the browser follows with GET).
pub(crate) fn see_other(to: &str) -> Response {
    Redirect::see_other(to).into_response()
}

/// Every page route, wrapped in the session, CSRF and header layers.
pub fn routes(service: &Service) -> impl Endpoint + use<> {
    let csrf = poem::middleware::Csrf::new()
        .key(service.secret_key())
        .cookie_name("sky_csrf")
        .secure(service.settings.base_url.starts_with("https://"))
        .same_site(poem::web::cookie::SameSite::Lax)
        .http_only(true)
        .path("/")
        .ttl(std::time::Duration::from_secs(7 * 24 * 3600));
    let pages = pages::routes();
    Route::new()
        .nest("/static", pages::static_files())
        .nest(
            "/",
            pages
                .around(csrf::check)
                .around(|ep, req| {
                    // Forms are small; only the blog editor uploads an image.
                    let max = if req.uri().path().starts_with("/admin/blog") {
                        2 * pages::MAX_IMAGE
                    } else {
                        crate::api::MAX_BODY
                    };
                    crate::limit_body(ep, req, max)
                })
                .around(session::attach)
                .with(csrf),
        )
        .around(security_headers)
}

/// The headers of every page: no inline script, no framing, no sniffing.
/// The interactive API docs (Swagger UI, whose page is one HTML document
/// with its script and styles inline): no framing, nothing loaded from
/// elsewhere, no caching.
pub(crate) async fn docs_headers<E: Endpoint>(ep: Arc<E>, req: Request) -> poem::Result<Response> {
    let mut resp = ep.call(req).await?.into_response();
    let h = resp.headers_mut();
    let set = |h: &mut poem::http::HeaderMap, k: &'static str, v: &'static str| {
        h.insert(k, poem::http::HeaderValue::from_static(v));
    };
    set(
        h,
        "content-security-policy",
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'",
    );
    set(h, "x-frame-options", "DENY");
    set(h, "x-content-type-options", "nosniff");
    set(h, "referrer-policy", "same-origin");
    Ok(resp)
}

pub(crate) async fn security_headers<E: Endpoint>(
    ep: Arc<E>,
    req: Request,
) -> poem::Result<Response> {
    let mut resp = ep.call(req).await?.into_response();
    let h = resp.headers_mut();
    let set = |h: &mut poem::http::HeaderMap, k: &'static str, v: &'static str| {
        h.insert(k, poem::http::HeaderValue::from_static(v));
    };
    set(
        h,
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    );
    set(h, "x-content-type-options", "nosniff");
    set(h, "referrer-policy", "same-origin");
    set(h, "x-frame-options", "DENY");
    if !h.contains_key(header::CACHE_CONTROL) {
        set(h, "cache-control", "no-store");
    }
    Ok(resp)
}

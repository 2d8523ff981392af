//! The HTML pages: server-rendered with askama templates (checked at compile
//! time), on top of the same core use cases as the JSON API — no rule and no
//! query of their own. Sessions are the core's tokens in an HttpOnly cookie;
//! every form carries a CSRF token that is checked on every state-changing
//! request; every answer carries a strict Content-Security-Policy.

mod chart;
mod csrf;
mod error;
pub mod i18n;
mod pages;
mod session;
mod view;

use std::sync::Arc;

use poem::http::header;
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response, Route};

use crate::Service;
pub use i18n::Lang;
pub(crate) use pages::{unsubscribe, verify_link};
pub use view::{Chrome, Viewer};

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
        // Browsers ask for it whatever the page says.
        .at(
            "/favicon.ico",
            poem::endpoint::make_sync(|_| poem::web::Redirect::permanent("/static/favicon.svg")),
        )
        .nest(
            "/",
            pages
                .around(csrf::check)
                .around(|ep, req| {
                    // Forms are small; only the blog editor uploads an image.
                    let max = if req.uri().path().starts_with("/admin/blog") {
                        2 * pages::MAX_IMAGE
                    } else if req.uri().path() == "/clients/import" {
                        // The file, or its text sent back to confirm it.
                        2 * pages::MAX_IMPORT_FILE + 64 * 1024
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

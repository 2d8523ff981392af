//! Who is asking: the session cookie (the core's session token, HttpOnly,
//! SameSite=Lax, Secure behind https) is resolved once per request into a
//! [`Viewer`]; errors of the pages become error pages here, and a request
//! that needs sign-in is sent to the sign-in page and back afterwards.

use std::sync::Arc;

use poem::web::CsrfToken;
use poem::web::cookie::{Cookie, SameSite};
use poem::{Endpoint, IntoResponse, Request, Response};
use skymailing_core::policy::Actor;

use super::error::error_page;
use super::i18n::Lang;
use super::view::Viewer;
use crate::Service;

/// The session cookie.
pub const SESSION_COOKIE: &str = "sky_session";

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

//! The reference SkyMailing server: it assembles the core use cases, a store
//! (PostgreSQL or SQLite) and a mail transport (SMTP or a local outbox) into
//! the running service.
//!
//! - [`cli`]: the `skymailing` command line (clap; every option is also an
//!   environment variable).
//! - [`Service`]: the wiring, made once at start-up from [`Settings`] — the
//!   only place that chooses adapters.
//! - [`routes`]: the HTTP surface — the JSON API under `/api/v1` with its
//!   OpenAPI document, the unsubscribe pages and the operations endpoints.
//!
//! Tests and embedders build a [`Service`] over any [`skymailing_core::ports::Store`]
//! with [`Service::from_parts`] (or over their own [`skymailing_core::SkyMailing`]
//! with [`Service::from_app`]) and serve [`routes`] — or only the links in
//! recipients' mail, [`public_routes`] — themselves.

pub mod api;
pub mod cli;
pub mod conn;
mod error;
mod metrics;
pub mod net;
mod ops;
mod ratelimit;
mod service;
pub mod web;
pub mod webhook;

pub use error::{ApiError, ErrorBody};
pub use ratelimit::{RateLimits, Rule};
pub use service::{DkimSettings, Service, Settings, StartError, StoreUrl};

use poem::{Endpoint, EndpointExt, Route};

rust_i18n::i18n!("locales", fallback = "en");

/// Every route the server answers, over one [`Service`].
pub fn routes(service: Service) -> impl Endpoint {
    let api = api::service(&service.settings.base_url);
    let pages = web::routes(&service);
    let document = api::document(&api);
    let allow = std::sync::Arc::new(api::allowed_methods(&document));
    let spec = poem::endpoint::make_sync(move |_| {
        poem::Response::builder()
            .content_type("application/json; charset=utf-8")
            .body(document.clone())
    });
    let http_metrics = metrics::HttpMetrics::new(&api.spec(), "/api/v1");
    let docs = api.swagger_ui();
    let net = service.net.clone();
    Route::new()
        .nest(
            "/api/v1",
            api.around(|ep, req| {
                // An import has its own, larger limit (100,000 rows fit).
                let max = if req.uri().path().trim_end_matches('/') == "/clients/import" {
                    api::MAX_IMPORT_BODY
                } else {
                    api::MAX_BODY
                };
                limit_body(ep, req, max)
            })
            .around(move |ep, req| with_allow(ep, req, allow.clone()))
            .catch_all_error(error::json_error)
            // Answers carry tokens and private data: no cache keeps them.
            .with(poem::middleware::SetHeader::new().overriding("cache-control", "no-store")),
        )
        .at("/api/v1/webhooks/bounces", poem::post(webhook::bounces))
        .at("/api/openapi.json", spec)
        .nest("/api/docs", docs.around(web::docs_headers))
        .nest("/unsubscribe", unsubscribe_routes())
        .at("/healthz", poem::get(ops::healthz))
        .at("/readyz", poem::get(ops::readyz))
        .at("/metrics", poem::get(ops::prometheus))
        .nest("/", pages)
        .with(http_metrics)
        .around(move |ep, req| net::guard(ep, req, net.clone()))
        .data(service)
}

/// The routes mail links to, for an application that serves its own pages
/// and mounts these beside them (see `docs/embedding.md`):
/// `/unsubscribe/:token` (`GET` asks, `POST` unsubscribes — the mail client's
/// RFC 8058 one-click button too), `/unsubscribe/:token/undo`, and
/// `/verify?token=…` (`GET` asks, `POST` activates a self-registered
/// account). They need no session and no CSRF token (a forged request would
/// have to know the token). Password-reset links go to the reference pages
/// (`routes`) or the application's own (`AccountService::complete_password_reset`). The paths match
/// [`skymailing_core::links::BaseUrlLinks`]; an application with other paths
/// nests these where its [`Links`](skymailing_core::links::Links) point.
///
/// ```no_run
/// # async fn demo(service: skymailing_server::Service) {
/// let app = poem::Route::new()
///     .at("/", poem::endpoint::make_sync(|_| "my shop"))
///     .nest("/", skymailing_server::public_routes(service));
/// # }
/// ```
pub fn public_routes(service: Service) -> impl Endpoint {
    let net = service.net.clone();
    Route::new()
        .nest("/unsubscribe", unsubscribe_routes())
        .at(
            "/verify",
            poem::get(web::verify_link::ask)
                .post(web::verify_link::confirm)
                .with(poem::middleware::CookieJarManager::new())
                .around(web::security_headers),
        )
        .around(move |ep, req| net::guard(ep, req, net.clone()))
        .data(service)
}

fn unsubscribe_routes() -> Route {
    Route::new()
        .at(
            "/:token",
            poem::get(web::unsubscribe::confirm_page)
                .post(web::unsubscribe::one_click)
                .with(poem::middleware::CookieJarManager::new())
                .around(web::security_headers),
        )
        .at(
            "/:token/undo",
            poem::post(web::unsubscribe::undo)
                .with(poem::middleware::CookieJarManager::new())
                .around(web::security_headers),
        )
}

/// The operations endpoints alone (`/healthz`, `/readyz`, `/metrics`): what a
/// `worker` serves on its `--bind` address.
pub fn ops_routes(service: Service) -> impl Endpoint {
    let net = service.net.clone();
    Route::new()
        .at("/healthz", poem::get(ops::healthz))
        .at("/readyz", poem::get(ops::readyz))
        .at("/metrics", poem::get(ops::prometheus))
        .around(move |ep, req| net::guard(ep, req, net.clone()))
        .data(service)
}

/// Refuses request bodies over `max` bytes with 413, whether the client
/// declares a `Content-Length` or streams the body chunked. (poem's own
/// `SizeLimit` also refuses requests that have no body at all.)
pub(crate) async fn limit_body<E: Endpoint>(
    ep: std::sync::Arc<E>,
    mut req: poem::Request,
    max: usize,
) -> poem::Result<poem::Response> {
    use poem::IntoResponse;
    use poem::http::StatusCode;
    let declared = req
        .headers()
        .get(poem::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let too_large = || poem::Error::from_status(StatusCode::PAYLOAD_TOO_LARGE);
    match declared {
        Some(n) if n > max => return Err(too_large()),
        Some(_) => {}
        None if req.method() == poem::http::Method::GET => {}
        None => {
            let body = req
                .take_body()
                .into_bytes_limit(max)
                .await
                .map_err(|e| match e {
                    poem::error::ReadBodyError::PayloadTooLarge => too_large(),
                    e => e.into(),
                })?;
            req.set_body(body);
        }
    }
    Ok(ep.call(req).await?.into_response())
}

/// Adds `Allow` (RFC 9110) to a 405 of the API: the methods its path answers.
async fn with_allow<E: Endpoint>(
    ep: std::sync::Arc<E>,
    req: poem::Request,
    allow: std::sync::Arc<Vec<(String, String)>>,
) -> poem::Result<poem::Response> {
    use poem::IntoResponse;
    let path = req.uri().path().to_owned();
    let mut resp = match ep.call(req).await {
        Ok(r) => r.into_response(),
        Err(e) if e.status() == poem::http::StatusCode::METHOD_NOT_ALLOWED => {
            error::json_error(e).await
        }
        Err(e) => return Err(e),
    };
    if resp.status() == poem::http::StatusCode::METHOD_NOT_ALLOWED
        && let Some((_, methods)) = allow
            .iter()
            .find(|(template, _)| path_matches(template, &path))
        && let Ok(v) = poem::http::HeaderValue::from_str(methods)
    {
        resp.headers_mut().insert(poem::http::header::ALLOW, v);
    }
    Ok(resp)
}

/// Whether a request path fits an OpenAPI path template (`/clients/{id}`).
fn path_matches(template: &str, path: &str) -> bool {
    let (t, p): (Vec<&str>, Vec<&str>) = (
        template.split('/').collect(),
        path.trim_end_matches('/').split('/').collect(),
    );
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(a, b)| (a.starts_with('{') && !b.is_empty()) || a == b)
}

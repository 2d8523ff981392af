//! The CSRF check of every state-changing page request: the token of the form
//! (field `csrf_token`, or the `csrf_token` query parameter for uploads) must
//! match the visitor's CSRF cookie (poem's `Csrf` middleware, AES-GCM with the
//! server's key). GET and HEAD change nothing and are not checked.

use std::sync::Arc;

use poem::http::{Method, StatusCode};
use poem::web::CsrfVerifier;
use poem::{Endpoint, IntoResponse, Request, Response};

/// The largest form read here (the routes' own limit is smaller).
const MAX_FORM: usize = 2 * 1024 * 1024;

/// A state-changing request without a valid CSRF token.
#[derive(Debug, thiserror::Error)]
#[error("the form's CSRF token is missing or invalid")]
pub(crate) struct CsrfRejected;

impl poem::error::ResponseError for CsrfRejected {
    fn status(&self) -> StatusCode {
        StatusCode::FORBIDDEN
    }
}

pub(crate) async fn check<E: Endpoint>(ep: Arc<E>, mut req: Request) -> poem::Result<Response> {
    if matches!(*req.method(), Method::GET | Method::HEAD) {
        return Ok(ep.call(req).await?.into_response());
    }
    // Uploads carry the token in the URL (their body is read later, as a
    // stream); every other form carries it in its body.
    let token = if is_multipart(&req) {
        req.uri().query().and_then(|q| form_field(q, "csrf_token"))
    } else if is_urlencoded(&req) {
        let body = req
            .take_body()
            .into_bytes_limit(MAX_FORM)
            .await
            .map_err(|_| poem::Error::from_status(StatusCode::PAYLOAD_TOO_LARGE))?;
        let token = std::str::from_utf8(&body)
            .ok()
            .and_then(|b| form_field(b, "csrf_token"));
        req.set_body(body);
        token
    } else {
        None
    };
    let valid = match (token, req.extensions().get::<CsrfVerifier>()) {
        (Some(t), Some(v)) => v.is_valid(&t),
        _ => false,
    };
    if !valid {
        return Err(CsrfRejected.into());
    }
    Ok(ep.call(req).await?.into_response())
}

fn is_multipart(req: &Request) -> bool {
    req.content_type()
        .is_some_and(|c| c.starts_with("multipart/form-data"))
}

fn is_urlencoded(req: &Request) -> bool {
    req.content_type()
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"))
}

/// One field of an `application/x-www-form-urlencoded` string.
fn form_field(body: &str, name: &str) -> Option<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(body)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

//! `POST /api/v1/webhooks/bounces`: bounces and complaints from a relay that
//! reports them by webhook. The body is JSON `{email, kind, reason,
//! message_id}`; the request is signed with the shared secret
//! (`--bounce-webhook-secret`): `X-SkyMailing-Timestamp: <unix seconds>` and
//! `X-SkyMailing-Signature: sha256=<hex of HMAC-SHA256(secret, "<timestamp>.<body>")>`.
//! A timestamp more than five minutes away from now is refused, so a
//! captured request cannot be replayed later. See `docs/deliverability.md`.

use hmac::{Hmac, Mac};
use poem::http::StatusCode;
use poem::web::{Data, Json};
use poem::{Body, IntoResponse, Request, Response, handler};
use serde_json::json;
use skymailing_core::{DeliveryRef, EmailAddress, FeedbackKind, FeedbackReport, FeedbackSource};

use crate::Service;

/// The largest body a webhook call may send.
const MAX_BODY: usize = 64 * 1024;
/// How far a signed timestamp may be from now.
const MAX_SKEW_SECS: u64 = 300;
/// The shortest shared secret accepted at start.
pub const MIN_SECRET_LEN: usize = 16;

fn answer(status: StatusCode, code: &str, message: &str, field: Option<&str>) -> Response {
    (
        status,
        Json(json!({"code": code, "message": message, "field": field})),
    )
        .into_response()
}

/// Whether `signature` (`sha256=<hex>`) signs `<timestamp>.<body>` with `secret`.
pub fn signature_matches(secret: &[u8], timestamp: &str, body: &[u8], signature: &str) -> bool {
    let Some(hex_sig) = signature.trim().strip_prefix("sha256=") else {
        return false;
    };
    let Ok(given) = hex::decode(hex_sig) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<sha2_010::Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

/// The signature header's value for a body (for relays' adapters and tests).
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2_010::Sha256>::new_from_slice(secret).expect("HMAC takes any key");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[derive(serde::Deserialize)]
struct BounceBody {
    email: String,
    kind: String,
    #[serde(default)]
    reason: String,
    message_id: Option<String>,
}

#[handler]
pub async fn bounces(req: &Request, body: Body, service: Data<&Service>) -> Response {
    let Some(secret) = service.settings.bounce_webhook_secret.as_deref() else {
        return answer(
            StatusCode::NOT_FOUND,
            "not_found",
            "the bounce webhook is off (no --bounce-webhook-secret)",
            None,
        );
    };
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (Some(timestamp), Some(signature)) = (
        header("x-skymailing-timestamp"),
        header("x-skymailing-signature"),
    ) else {
        return answer(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "sign the request: X-SkyMailing-Timestamp and X-SkyMailing-Signature",
            None,
        );
    };
    let body = match body.into_bytes_limit(MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return answer(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                "the body is larger than 64 KiB",
                None,
            );
        }
    };
    let fresh = timestamp
        .trim()
        .parse::<i64>()
        .is_ok_and(|t: i64| service.app.now().timestamp().abs_diff(t) <= MAX_SKEW_SECS);
    if !fresh {
        return answer(
            StatusCode::UNAUTHORIZED,
            "stale",
            "the timestamp is missing or more than five minutes from now",
            None,
        );
    }
    if !signature_matches(secret.as_bytes(), timestamp.trim(), &body, &signature) {
        return answer(
            StatusCode::UNAUTHORIZED,
            "bad_signature",
            "the signature does not match the body and the shared secret",
            None,
        );
    }
    let input: BounceBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return answer(
                StatusCode::BAD_REQUEST,
                "invalid",
                &format!("the body is not a bounce report: {e}"),
                None,
            );
        }
    };
    let kind = match FeedbackKind::parse(input.kind.trim()) {
        Some(k) => k,
        None => {
            return answer(
                StatusCode::BAD_REQUEST,
                "invalid",
                "kind must be one of hard, soft, complaint",
                Some("kind"),
            );
        }
    };
    let email = match EmailAddress::parse(&input.email) {
        Ok(e) => e,
        Err(e) => {
            return answer(
                StatusCode::BAD_REQUEST,
                "invalid",
                &e.to_string(),
                Some("email"),
            );
        }
    };
    let domain = service.settings.bounce_domain.clone().unwrap_or_default();
    let refs = input
        .message_id
        .iter()
        .map(|id| {
            let id = id.trim();
            match skymailing_core::adapter::verp_token_of(id, &domain) {
                Some(token) => DeliveryRef::Verp(token.to_owned()),
                None if skymailing_core::adapter::verp_delivery(id).is_some() => {
                    DeliveryRef::Verp(id.to_owned())
                }
                None => DeliveryRef::MessageId(id.to_owned()),
            }
        })
        .collect();
    let report = FeedbackReport {
        kind,
        email: Some(email),
        reason: input.reason,
        refs,
        source: FeedbackSource::Webhook,
    };
    match service.app.feedback.record(&report).await {
        Ok(outcome) => (
            StatusCode::ACCEPTED,
            Json(json!({
                "matched": outcome.target.is_some(),
                "suppressed": outcome.applied.suppressed.map(|r| r.as_str()),
            })),
        )
            .into_response(),
        Err(e) => crate::ApiError::from(e).into_response(),
    }
}

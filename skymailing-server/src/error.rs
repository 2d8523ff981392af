//! The one place where errors become HTTP answers: every core [`Error`]
//! variant maps to a status and a machine-readable code, and every error the
//! HTTP layer itself raises (a malformed body, a missing token, an oversized
//! request) is turned into the same JSON shape.

use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};
use skymailing_core::Error;

/// The body of every error answer of the JSON API.
#[derive(Debug, Clone, Object, serde::Deserialize)]
pub struct ErrorBody {
    /// Machine-readable: `invalid`, `not_found`, `forbidden`, `unauthenticated`,
    /// `invalid_credentials`, `account_blocked`, `not_verified`, `invalid_token`,
    /// `conflict`, `rate_limited`, `bad_request`, `payload_too_large`,
    /// `unavailable`, `internal`.
    pub code: String,
    /// A sentence for people.
    pub message: String,
    /// For `invalid`: the request field at fault.
    #[oai(skip_serializing_if_is_none)]
    pub field: Option<String>,
}

impl ErrorBody {
    fn new(code: &str, message: impl Into<String>) -> Json<ErrorBody> {
        Json(ErrorBody {
            code: code.into(),
            message: message.into(),
            field: None,
        })
    }
}

/// An error answer of the JSON API.
#[derive(Debug, ApiResponse)]
pub enum ApiError {
    /// The request is malformed, or a one-time link is invalid.
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// Sign-in is required, or the token is not (or no longer) valid.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>),
    /// The caller's role does not allow this.
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    /// No such thing, or it is another user's private data.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// The request conflicts with the current state.
    #[oai(status = 409)]
    Conflict(Json<ErrorBody>),
    /// A field failed validation; `field` names it.
    #[oai(status = 422)]
    Invalid(Json<ErrorBody>),
    /// Too many attempts; retry after the given seconds.
    #[oai(status = 429)]
    RateLimited(
        Json<ErrorBody>,
        /// Seconds to wait.
        #[oai(header = "Retry-After")]
        u64,
    ),
    /// Something failed on our side.
    #[oai(status = 500)]
    Internal(Json<ErrorBody>),
    /// The database is unreachable; retry later.
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>),
}

impl ApiError {
    /// 401: sign-in required.
    pub fn unauthenticated() -> Self {
        ApiError::Unauthorized(ErrorBody::new(
            "unauthenticated",
            "sign in first: send `Authorization: Bearer <token>`",
        ))
    }

    /// 429 with the seconds to wait.
    pub fn rate_limited(retry_after: u64) -> Self {
        ApiError::RateLimited(
            ErrorBody::new(
                "rate_limited",
                format!("too many attempts; try again in {retry_after} s"),
            ),
            retry_after,
        )
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        let message = err.to_string();
        match err {
            Error::Unauthenticated => ApiError::unauthenticated(),
            Error::Forbidden(_) => ApiError::Forbidden(ErrorBody::new("forbidden", message)),
            Error::NotFound => ApiError::NotFound(ErrorBody::new("not_found", message)),
            Error::Invalid { field, reason } => ApiError::Invalid(Json(ErrorBody {
                code: "invalid".into(),
                message: format!("{field}: {reason}"),
                field: Some(field.into()),
            })),
            Error::Conflict(reason) => ApiError::Conflict(ErrorBody::new("conflict", reason)),
            Error::InvalidCredentials => {
                ApiError::Unauthorized(ErrorBody::new("invalid_credentials", message))
            }
            Error::AccountBlocked => {
                ApiError::Forbidden(ErrorBody::new("account_blocked", message))
            }
            Error::NotVerified => ApiError::Forbidden(ErrorBody::new(
                "not_verified",
                "this account's email address is not verified yet: open the link we emailed",
            )),
            Error::InvalidToken => ApiError::BadRequest(ErrorBody::new("invalid_token", message)),
            Error::Store(e) => {
                tracing::error!(error = %e, "store failed");
                ApiError::Unavailable(ErrorBody::new(
                    "unavailable",
                    "the database is unavailable; try again shortly",
                ))
            }
            Error::Internal(e) => {
                tracing::error!(error = %e, "internal error");
                ApiError::Internal(ErrorBody::new(
                    "internal",
                    "something went wrong on our side",
                ))
            }
        }
    }
}

/// Turns every error the HTTP layer raises under `/api/v1` into the JSON
/// shape of [`ErrorBody`]; answers the handlers built pass through.
pub(crate) async fn json_error(err: poem::Error) -> Response {
    if err.is_from_response() {
        return err.into_response();
    }
    let status = err.status();
    let code = match status {
        StatusCode::UNAUTHORIZED => return ApiError::unauthenticated().into_response(),
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        s if s.is_server_error() => {
            tracing::error!(error = %err, "request failed");
            "internal"
        }
        _ => "bad_request",
    };
    let message = match code {
        "not_found" => "no such route".to_owned(),
        "payload_too_large" => "the request body is too large".to_owned(),
        "internal" => "something went wrong on our side".to_owned(),
        _ => err.to_string(),
    };
    let mut resp = ErrorBody::new(code, message).into_response();
    resp.set_status(status);
    resp
}

//! The one place where errors become HTTP answers: every core [`Error`]
//! variant maps to a status and a machine-readable code, and every error the
//! HTTP layer itself raises (a malformed body, a missing token, an oversized
//! request) is turned into the same JSON shape.

use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};
use skymailing_core::{Error, Reason};

/// The body of every error answer of the JSON API.
#[derive(Debug, Clone, Object, serde::Deserialize)]
pub struct ErrorBody {
    /// Machine-readable: `invalid`, `not_found`, `forbidden`, `unauthenticated`,
    /// `invalid_credentials`, `account_blocked`, `not_verified`, `invalid_token`,
    /// `conflict`, `rate_limited`, `busy`, `bad_request`, `payload_too_large`,
    /// `unavailable`, `internal`.
    pub code: String,
    /// A sentence for people.
    pub message: String,
    /// For `invalid`: the request field at fault.
    #[oai(skip_serializing_if_is_none)]
    pub field: Option<String>,
    /// For `invalid`, `forbidden` and `conflict`: why, as a stable code
    /// (`required`, `too_long`, `end_before_start`, `message_in_use`, ...);
    /// `message` says it in English.
    #[oai(skip_serializing_if_is_none)]
    #[serde(default)]
    pub reason: Option<String>,
    /// For `invalid` with more than one bad field: each of them (`field` and
    /// `reason` above are the first's).
    #[oai(skip_serializing_if_is_none)]
    #[serde(default)]
    // (Boxed: every `Result<_, ApiError>` carries the size of this body.)
    pub errors: Option<Box<Vec<FieldErrorOut>>>,
}

/// One field's validation error.
#[derive(Debug, Clone, Object, serde::Deserialize)]
pub struct FieldErrorOut {
    /// The request field at fault.
    pub field: String,
    /// Why, as a stable code (`required`, `too_long`...).
    pub reason: String,
    /// The same in English.
    pub message: String,
}

impl ErrorBody {
    fn new(code: &str, message: impl Into<String>) -> Json<ErrorBody> {
        Json(ErrorBody {
            code: code.into(),
            message: message.into(),
            field: None,
            reason: None,
            errors: None,
        })
    }

    fn with_reason(code: &str, message: String, reason: &Reason) -> Json<ErrorBody> {
        Json(ErrorBody {
            reason: Some(reason.code().into()),
            ..ErrorBody::new(code, message).0
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
    /// The request body is larger than this operation takes (1 MiB; 20 MiB
    /// for a CSV import).
    #[oai(status = 413)]
    PayloadTooLarge(Json<ErrorBody>),
    /// The body is not of the type this operation takes (`application/json`;
    /// `text/csv` for an import).
    #[oai(status = 415)]
    UnsupportedMediaType(Json<ErrorBody>),
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
            Error::Forbidden(reason) => {
                ApiError::Forbidden(ErrorBody::with_reason("forbidden", message, &reason))
            }
            Error::NotFound => ApiError::NotFound(ErrorBody::new("not_found", message)),
            Error::Invalid { .. } | Error::InvalidFields(_) => {
                let errors: Vec<FieldErrorOut> = err
                    .field_errors()
                    .into_iter()
                    .map(|e| FieldErrorOut {
                        field: e.field.into(),
                        reason: e.reason.code().into(),
                        message: format!("{}: {}", e.field, e.reason),
                    })
                    .collect();
                let first = errors.first().cloned().unwrap_or_else(|| FieldErrorOut {
                    field: String::new(),
                    reason: String::new(),
                    message: message.clone(),
                });
                ApiError::Invalid(Json(ErrorBody {
                    code: "invalid".into(),
                    message: errors
                        .iter()
                        .map(|e| e.message.as_str())
                        .collect::<Vec<_>>()
                        .join("; "),
                    field: Some(first.field),
                    reason: Some(first.reason),
                    errors: (errors.len() > 1).then(|| Box::new(errors)),
                }))
            }
            Error::Conflict(reason) => ApiError::Conflict(ErrorBody::with_reason(
                "conflict",
                reason.to_string(),
                &reason,
            )),
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
            Error::Busy => ApiError::RateLimited(ErrorBody::new("busy", message), 1),
            Error::TooManyRequests { retry_after_secs } => ApiError::RateLimited(
                ErrorBody::new("too_many_requests", message),
                retry_after_secs,
            ),
            Error::Store(e) => {
                tracing::error!(error = %e, "store failed");
                ApiError::Unavailable(ErrorBody::new(
                    "unavailable",
                    "the database is unavailable; try again shortly",
                ))
            }
            e => {
                tracing::error!(error = %e, "internal error");
                ApiError::Internal(ErrorBody::new(
                    "internal",
                    "something went wrong on our side",
                ))
            }
        }
    }
}

/// The HTTP status of a core error, for the pages and the API alike.
pub(crate) fn status_of(e: &Error) -> StatusCode {
    match e {
        Error::Unauthenticated | Error::InvalidCredentials => StatusCode::UNAUTHORIZED,
        Error::Forbidden(_) | Error::AccountBlocked | Error::NotVerified => StatusCode::FORBIDDEN,
        Error::NotFound => StatusCode::NOT_FOUND,
        Error::Invalid { .. } | Error::InvalidFields(_) => StatusCode::UNPROCESSABLE_ENTITY,
        Error::Conflict(_) => StatusCode::CONFLICT,
        Error::InvalidToken => StatusCode::BAD_REQUEST,
        Error::Busy | Error::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
        Error::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
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

#[cfg(test)]
mod tests {
    use super::*;
    use skymailing_core::{StoreConflict, StoreError};

    /// The API and the pages answer every core error with the same status.
    #[test]
    fn api_and_pages_agree_on_every_status() {
        let errors = vec![
            Error::Unauthenticated,
            Error::Forbidden(Reason::RoleNotAllowed),
            Error::NotFound,
            Error::invalid("email", Reason::Required),
            Error::Conflict(Reason::MessageInUse),
            Error::InvalidCredentials,
            Error::AccountBlocked,
            Error::NotVerified,
            Error::InvalidToken,
            Error::Busy,
            Error::TooManyRequests {
                retry_after_secs: 60,
            },
            Error::from(StoreError::backend(std::io::Error::other("down"))),
            Error::from(StoreError::Conflict(StoreConflict::MessageInUse)),
            Error::Internal("x".into()),
        ];
        for e in errors {
            let want = status_of(&e);
            let got = ApiError::from(e).into_response().status();
            assert_eq!(got, want);
        }
    }

    #[test]
    fn a_store_conflict_is_a_409_with_its_reason_not_a_503() {
        let e = Error::from(StoreError::Conflict(StoreConflict::MessageInUse));
        let ApiError::Conflict(body) = ApiError::from(e) else {
            panic!("not a conflict")
        };
        assert_eq!(body.0.reason.as_deref(), Some("message_in_use"));
    }
}

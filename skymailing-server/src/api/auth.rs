//! Accounts: register, verify, sign in and out, password reset, and the
//! signed-in user's own profile. Answers never reveal whether an email is
//! registered; the endpoints an attacker would hammer are rate-limited.

use poem::Request;
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::{BearerAuth, NoContent, Tag, Text, UserOut};
use crate::ratelimit::{Limited, client_ip};
use crate::{ApiError, Service};

pub struct AuthApi;

#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
struct RegisterIn {
    email: Text,
    /// At least 8 characters.
    password: Text,
    name: Text,
    /// IANA zone for your schedules; UTC if absent.
    time_zone: Option<Text>,
    /// `en`, `ru`…: the language of your emails and pages; the browser's if absent.
    language: Option<Text>,
}

#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
struct TokenIn {
    /// The `token=` value of the emailed link.
    token: Text,
}

#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
struct LoginIn {
    email: Text,
    password: Text,
}

#[derive(Debug, Object)]
struct LoginOut {
    /// Send as `Authorization: Bearer <token>`.
    token: String,
    user: UserOut,
}

#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
struct ResetIn {
    email: Text,
}

#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
struct ResetConfirmIn {
    token: Text,
    password: Text,
}

#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
struct ProfileIn {
    name: Text,
    time_zone: Text,
    /// `en`, `ru`…; an empty string clears it; absent leaves it as it is.
    language: Option<Text>,
    /// The name your mailings show beside the service's From address; an
    /// empty string clears it (your name); absent leaves it as it is.
    sender_name: Option<Text>,
    /// Where replies to your mailings go; an empty string clears it (your
    /// address); absent leaves it as it is.
    reply_to: Option<Text>,
}

#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
struct PasswordIn {
    current_password: Text,
    new_password: Text,
}

#[derive(Debug, Object)]
struct Accepted {
    message: String,
}

#[derive(ApiResponse)]
enum AcceptedResponse {
    /// Accepted; an email goes out if the request applies to an account.
    #[oai(status = 202)]
    Accepted(Json<Accepted>),
}

#[OpenApi(prefix_path = "/auth", tag = "Tag::Auth")]
impl AuthApi {
    /// Register: a verification link is emailed. The answer is the same
    /// whether or not the address is already registered.
    #[oai(path = "/register", method = "post")]
    async fn register(
        &self,
        service: Data<&Service>,
        req: &Request,
        body: Json<RegisterIn>,
    ) -> Result<AcceptedResponse, ApiError> {
        service
            .limiters
            .check(Limited::Register, client_ip(req), Some(&body.email))
            .await?;
        service
            .app
            .accounts
            .register_in(
                &body.email,
                &body.password,
                &body.name,
                body.time_zone.as_deref(),
                body.language.as_deref(),
            )
            .await?;
        Ok(AcceptedResponse::Accepted(Json(Accepted {
            message: "check your mailbox for a link to verify your address".into(),
        })))
    }

    /// Verify an email address with the token of the emailed link.
    #[oai(path = "/verify", method = "post")]
    async fn verify(
        &self,
        service: Data<&Service>,
        body: Json<TokenIn>,
    ) -> Result<Json<UserOut>, ApiError> {
        let user = service.app.accounts.verify_email(&body.token).await?;
        Ok(Json(user.into()))
    }

    /// Sign in: a session token for the API.
    #[oai(path = "/login", method = "post")]
    async fn login(
        &self,
        service: Data<&Service>,
        req: &Request,
        body: Json<LoginIn>,
    ) -> Result<Json<LoginOut>, ApiError> {
        service
            .limiters
            .check(Limited::Login, client_ip(req), Some(&body.email))
            .await?;
        let session = service
            .app
            .accounts
            .login(&body.email, &body.password)
            .await?;
        Ok(Json(LoginOut {
            token: session.token,
            user: session.user.into(),
        }))
    }

    /// Sign out: this token stops working.
    #[oai(path = "/logout", method = "post")]
    async fn logout(
        &self,
        service: Data<&Service>,
        auth: BearerAuth,
    ) -> Result<NoContent, ApiError> {
        service.app.accounts.logout(&auth.0.token).await?;
        Ok(NoContent::Done)
    }

    /// Ask for a password-reset link. The answer is the same whether or not
    /// the address is registered.
    #[oai(path = "/password-reset", method = "post")]
    async fn password_reset(
        &self,
        service: Data<&Service>,
        req: &Request,
        body: Json<ResetIn>,
    ) -> Result<AcceptedResponse, ApiError> {
        service
            .limiters
            .check(Limited::Reset, client_ip(req), Some(&body.email))
            .await?;
        service
            .app
            .accounts
            .request_password_reset(&body.email)
            .await?;
        Ok(AcceptedResponse::Accepted(Json(Accepted {
            message: "if the address has an account, a reset link is on its way".into(),
        })))
    }

    /// Set a new password with the token of the emailed link; every session
    /// of the account ends.
    #[oai(path = "/password-reset/confirm", method = "post")]
    async fn password_reset_confirm(
        &self,
        service: Data<&Service>,
        req: &Request,
        body: Json<ResetConfirmIn>,
    ) -> Result<Json<UserOut>, ApiError> {
        service
            .limiters
            .check(Limited::Reset, client_ip(req), None)
            .await?;
        let user = service
            .app
            .accounts
            .complete_password_reset(&body.token, &body.password)
            .await?;
        Ok(Json(user.into()))
    }
}

/// The signed-in user's own account.
pub struct MeApi;

#[OpenApi(tag = "Tag::Auth")]
impl MeApi {
    /// The signed-in user.
    #[oai(path = "/me", method = "get")]
    async fn me(&self, auth: BearerAuth) -> Result<Json<UserOut>, ApiError> {
        Ok(Json(auth.0.user.into()))
    }

    /// Change your name, time zone, language and sender identity; every
    /// field is checked before anything is saved.
    #[oai(path = "/me", method = "put")]
    async fn update_me(
        &self,
        service: Data<&Service>,
        auth: BearerAuth,
        body: Json<ProfileIn>,
    ) -> Result<Json<UserOut>, ApiError> {
        let user = service
            .app
            .accounts
            .edit_profile(
                auth.0.actor,
                &skymailing_core::service::ProfileEdit {
                    name: body.name.0.clone(),
                    time_zone: body.time_zone.0.clone(),
                    language: body.language.as_ref().map(|l| l.0.clone()),
                    sender_name: body.sender_name.as_ref().map(|n| n.0.clone()),
                    reply_to: body.reply_to.as_ref().map(|a| a.0.clone()),
                },
            )
            .await?;
        Ok(Json(user.into()))
    }

    /// Change your password; your other sessions end, this one stays.
    #[oai(path = "/me/password", method = "post")]
    async fn change_password(
        &self,
        service: Data<&Service>,
        req: &Request,
        auth: BearerAuth,
        body: Json<PasswordIn>,
    ) -> Result<NoContent, ApiError> {
        // Checking the current password is a guess like a sign-in: same limits.
        let email = auth.0.user.email.to_string();
        service
            .limiters
            .check(Limited::Login, client_ip(req), Some(&email))
            .await?;
        service
            .app
            .accounts
            .change_password(
                auth.0.actor,
                &body.current_password,
                &body.new_password,
                Some(&auth.0.token),
            )
            .await?;
        Ok(NoContent::Done)
    }
}

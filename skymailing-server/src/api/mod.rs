//! The JSON API under `/api/v1`: one module per resource, each a thin
//! `poem-openapi` impl that parses, calls one core use case and renders, so
//! every rule of the permission table holds here exactly as in the pages.
//! The OpenAPI document is generated from these types.

mod auth;
mod clients;
mod logs;
mod mailings;
mod messages;
mod public;
mod suppressions;
mod types;
mod users;

use poem::Request;
use poem_openapi::auth::Bearer;
use poem_openapi::{OpenApiService, SecurityScheme, Tags};
use skymailing_core::User;
use skymailing_core::policy::Actor;

use crate::{ApiError, Service};

pub use types::*;

/// The largest request body accepted (a message with its HTML part fits easily).
pub const MAX_BODY: usize = 1024 * 1024;

/// The largest CSV file `POST /api/v1/clients/import` accepts.
pub const MAX_IMPORT_BODY: usize = 20 * 1024 * 1024;

/// Every API of `/api/v1`.
pub type Apis = (
    auth::AuthApi,
    auth::MeApi,
    clients::ClientsApi,
    suppressions::SuppressionsApi,
    messages::MessagesApi,
    mailings::MailingsApi,
    logs::LogsApi,
    users::UsersApi,
    public::PublicApi,
);

/// The API with its OpenAPI description; `server` is the public base URL.
pub fn service(base_url: &str) -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (
            auth::AuthApi,
            auth::MeApi,
            clients::ClientsApi,
            suppressions::SuppressionsApi,
            messages::MessagesApi,
            mailings::MailingsApi,
            logs::LogsApi,
            users::UsersApi,
            public::PublicApi,
        ),
        "SkyMailing",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "Scheduled email mailings to personal client lists. Sign in with \
         `POST /auth/login` and send the token as `Authorization: Bearer <token>`.",
    )
    .server(format!("{}/api/v1", base_url.trim_end_matches('/')))
}

#[derive(Tags)]
enum Tag {
    /// Registration, verification, sign-in and password reset.
    Auth,
    /// Your clients (private to you).
    Clients,
    /// Messages (shared by every signed-in user).
    Messages,
    /// Your mailings; managers and admins see everyone's.
    Mailings,
    /// The public log of run reports.
    Log,
    /// User administration (managers and admins).
    Users,
    /// Statistics and the blog, open to anonymous visitors.
    Public,
}

/// A session token from `POST /auth/login`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", checker = "check_bearer")]
pub struct BearerAuth(pub SignedIn);

/// The caller behind a valid bearer token.
pub struct SignedIn {
    /// For the use cases.
    pub actor: Actor,
    /// The signed-in user.
    pub user: User,
    /// The token itself (to end this session).
    pub token: String,
}

async fn check_bearer(req: &Request, bearer: Bearer) -> poem::Result<SignedIn> {
    let service = req
        .data::<Service>()
        .expect("the service is attached to every route");
    match service.app.accounts.authenticate(&bearer.token).await {
        Ok((actor @ Actor::User(_), Some(user))) => Ok(SignedIn {
            actor,
            user,
            token: bearer.token,
        }),
        Ok(_) => Err(ApiError::unauthenticated().into()),
        Err(e) => Err(ApiError::from(e).into()),
    }
}

/// The actor of a request that may be anonymous: a valid bearer token signs
/// it in, anything else leaves it anonymous.
async fn optional_actor(service: &Service, req: &Request) -> Result<Actor, ApiError> {
    let token = req
        .headers()
        .get(poem::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match token {
        Some(t) => Ok(service.app.accounts.authenticate(t.trim()).await?.0),
        None => Ok(Actor::Anonymous),
    }
}

/// The page a list request asks for (`page` from 1, `per_page` up to 200,
/// `q` a search text).
fn list_query(
    page: Option<u32>,
    per_page: Option<u32>,
    q: Option<&str>,
) -> Result<skymailing_core::ListQuery, ApiError> {
    Ok(skymailing_core::ListQuery::new(
        page.unwrap_or(1),
        per_page.unwrap_or(50),
        q,
    )?)
}

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
mod text;
mod types;
mod users;

use poem::Request;
use poem_openapi::auth::Bearer;
use poem_openapi::{OpenApiService, SecurityScheme, Tags};
use skymailing_core::User;
use skymailing_core::policy::Actor;

use crate::{ApiError, Service};

pub use text::Text;
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

/// The OpenAPI document as served at `/api/openapi.json`: poem-openapi's,
/// completed with what its derives cannot say but the server enforces — request
/// bodies refuse unknown fields (`additionalProperties: false`), and list
/// parameters' bounds (`page` from 1, `per_page` 1..=200).
pub fn document(api: &OpenApiService<Apis, ()>) -> String {
    let mut spec: serde_json::Value = match serde_json::from_str(&api.spec()) {
        Ok(v) => v,
        Err(_) => return api.spec(),
    };
    let mut closed = Vec::new();
    if let Some(paths) = spec.get_mut("paths").and_then(|p| p.as_object_mut()) {
        for op in paths
            .values_mut()
            .filter_map(|p| p.as_object_mut())
            .flat_map(|p| p.values_mut())
        {
            let refs = op
                .pointer("/requestBody/content")
                .and_then(|c| c.as_object())
                .into_iter()
                .flat_map(|c| c.values())
                .filter_map(|media| media.pointer("/schema/$ref").and_then(|r| r.as_str()))
                .filter_map(|r| r.rsplit('/').next().map(str::to_owned));
            closed.extend(refs);
            let params = op.get_mut("parameters").and_then(|p| p.as_array_mut());
            for param in params.into_iter().flatten() {
                let extra = match param.get("name").and_then(|n| n.as_str()) {
                    Some("page") => serde_json::json!({"minimum": 1, "maximum": u32::MAX}),
                    Some("per_page") => serde_json::json!({
                        "minimum": 1,
                        "maximum": skymailing_core::ListQuery::MAX_PER_PAGE,
                    }),
                    Some("q") => serde_json::json!({"maxLength": 200}),
                    // Clamped to 1..=366 by the use case; what parses is a u32.
                    Some("days") => serde_json::json!({"minimum": 0, "maximum": u32::MAX}),
                    Some("tag") => serde_json::json!({
                        "maxLength": skymailing_core::MAX_TAG_LEN,
                        "pattern": "^[^,;|\\x00-\\x1f\\x7f-\\x9f]*$",
                    }),
                    _ => continue,
                };
                if let (Some(schema), Some(extra)) = (
                    param.get_mut("schema").and_then(|s| s.as_object_mut()),
                    extra.as_object(),
                ) {
                    schema.extend(extra.clone());
                }
            }
        }
    }
    // Objects inside request bodies refuse unknown fields too.
    let mut i = 0;
    while i < closed.len() {
        let inner = spec
            .pointer(&format!("/components/schemas/{}", closed[i]))
            .map(refs_in)
            .unwrap_or_default();
        for name in inner {
            if !closed.contains(&name) {
                closed.push(name);
            }
        }
        i += 1;
    }
    for name in closed {
        if let Some(schema) = spec
            .pointer_mut(&format!("/components/schemas/{name}"))
            .and_then(|s| s.as_object_mut())
        {
            schema.insert("additionalProperties".into(), false.into());
        }
    }
    serde_json::to_string_pretty(&spec).unwrap_or_else(|_| api.spec())
}

/// The methods each API path answers (`/clients/{id}` → `GET, PUT, DELETE`),
/// for the `Allow` header of a 405.
pub fn allowed_methods(spec: &str) -> Vec<(String, String)> {
    let spec: serde_json::Value = serde_json::from_str(spec).unwrap_or_default();
    spec["paths"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(path, ops)| {
            let methods: Vec<String> = ops
                .as_object()
                .into_iter()
                .flatten()
                .map(|(m, _)| m.to_uppercase())
                .collect();
            (path.clone(), methods.join(", "))
        })
        .collect()
}

/// The component schemas a schema refers to.
fn refs_in(schema: &serde_json::Value) -> Vec<String> {
    match schema {
        serde_json::Value::Object(map) => map
            .iter()
            .flat_map(|(k, v)| match (k.as_str(), v.as_str()) {
                ("$ref", Some(r)) => r
                    .rsplit('/')
                    .next()
                    .map(str::to_owned)
                    .into_iter()
                    .collect(),
                _ => refs_in(v),
            })
            .collect(),
        serde_json::Value::Array(items) => items.iter().flat_map(refs_in).collect(),
        _ => Vec::new(),
    }
}

//! User administration: managers and admins list, block and unblock users;
//! admins also grant and revoke the manager role.

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use skymailing_core::{Role, UserId};

use super::{BearerAuth, PageOf, Tag, Text, UserOut, list_query};
use crate::{ApiError, Service};

pub struct UsersApi;

#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
struct RoleIn {
    /// `user` or `manager`.
    role: Text,
}

#[OpenApi(prefix_path = "/users", tag = "Tag::Users")]
impl UsersApi {
    /// Every account; `q` searches emails and names.
    #[oai(path = "/", method = "get")]
    async fn list(
        &self,
        service: Data<&Service>,
        auth: BearerAuth,
        page: Query<Option<u32>>,
        per_page: Query<Option<u32>>,
        q: Query<Option<String>>,
    ) -> Result<Json<PageOf<UserOut>>, ApiError> {
        let query = list_query(page.0, per_page.0, q.0.as_deref())?;
        let page = service
            .app
            .accounts
            .list_users(auth.0.actor, &query)
            .await?;
        Ok(Json(PageOf::from_page(page, Into::into)))
    }

    /// Block a user: their sessions end at once and their mailings stop sending.
    #[oai(path = "/:id/block", method = "post")]
    async fn block(
        &self,
        service: Data<&Service>,
        auth: BearerAuth,
        id: Path<i64>,
    ) -> Result<Json<UserOut>, ApiError> {
        let user = service
            .app
            .accounts
            .block(auth.0.actor, UserId(id.0))
            .await?;
        Ok(Json(user.into()))
    }

    /// Unblock a user; their enabled mailings resume at their next slot.
    #[oai(path = "/:id/unblock", method = "post")]
    async fn unblock(
        &self,
        service: Data<&Service>,
        auth: BearerAuth,
        id: Path<i64>,
    ) -> Result<Json<UserOut>, ApiError> {
        let user = service
            .app
            .accounts
            .unblock(auth.0.actor, UserId(id.0))
            .await?;
        Ok(Json(user.into()))
    }

    /// Grant (`manager`) or revoke (`user`) the manager role (admins only).
    #[oai(path = "/:id/role", method = "put")]
    async fn set_role(
        &self,
        service: Data<&Service>,
        auth: BearerAuth,
        id: Path<i64>,
        body: Json<RoleIn>,
    ) -> Result<Json<UserOut>, ApiError> {
        let role = Role::parse(&body.role)?;
        let user = service
            .app
            .accounts
            .set_role(auth.0.actor, UserId(id.0), role)
            .await?;
        Ok(Json(user.into()))
    }
}

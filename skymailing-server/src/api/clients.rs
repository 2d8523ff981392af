//! Clients: private to their owner; anyone else's answer 404.

use poem::web::Data;
use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use skymailing_core::{ClientDraft, ClientId};

use super::{BearerAuth, ClientIn, ClientOut, Created, NoContent, PageOf, Tag, list_query};
use crate::{ApiError, Service};

pub struct ClientsApi;

fn draft(body: &ClientIn) -> Result<ClientDraft, ApiError> {
    Ok(ClientDraft::parse(
        &body.email,
        &body.full_name,
        &body.comment,
    )?)
}

#[OpenApi(prefix_path = "/clients", tag = "Tag::Clients")]
impl ClientsApi {
    /// Your clients, searchable by email, name and comment.
    #[oai(path = "/", method = "get")]
    async fn list(
        &self,
        service: Data<&Service>,
        auth: BearerAuth,
        page: Query<Option<u32>>,
        per_page: Query<Option<u32>>,
        q: Query<Option<String>>,
    ) -> Result<Json<PageOf<ClientOut>>, ApiError> {
        let query = list_query(page.0, per_page.0, q.0.as_deref())?;
        let page = service.app.clients.list(auth.0.actor, &query).await?;
        Ok(Json(PageOf::from_page(page, Into::into)))
    }

    /// Add a client.
    #[oai(path = "/", method = "post")]
    async fn create(
        &self,
        service: Data<&Service>,
        auth: BearerAuth,
        body: Json<ClientIn>,
    ) -> Result<Created<ClientOut>, ApiError> {
        let client = service
            .app
            .clients
            .create(auth.0.actor, &draft(&body)?)
            .await?;
        Ok(Created::Created(Json(client.into())))
    }

    /// One of your clients.
    #[oai(path = "/:id", method = "get")]
    async fn get(
        &self,
        service: Data<&Service>,
        auth: BearerAuth,
        id: Path<i64>,
    ) -> Result<Json<ClientOut>, ApiError> {
        let client = service
            .app
            .clients
            .get(auth.0.actor, ClientId(id.0))
            .await?;
        Ok(Json(client.into()))
    }

    /// Replace one of your clients.
    #[oai(path = "/:id", method = "put")]
    async fn update(
        &self,
        service: Data<&Service>,
        auth: BearerAuth,
        id: Path<i64>,
        body: Json<ClientIn>,
    ) -> Result<Json<ClientOut>, ApiError> {
        let client = service
            .app
            .clients
            .update(auth.0.actor, ClientId(id.0), &draft(&body)?)
            .await?;
        Ok(Json(client.into()))
    }

    /// Delete one of your clients; your mailings stop sending to them.
    #[oai(path = "/:id", method = "delete")]
    async fn delete(
        &self,
        service: Data<&Service>,
        auth: BearerAuth,
        id: Path<i64>,
    ) -> Result<NoContent, ApiError> {
        service
            .app
            .clients
            .delete(auth.0.actor, ClientId(id.0))
            .await?;
        Ok(NoContent::Done)
    }
}

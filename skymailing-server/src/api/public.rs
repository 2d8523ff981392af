//! What anonymous visitors may read: the home page's statistics and the blog.
//! Blog writes are for admins.

use poem::Request;
use poem::web::Data;
use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use skymailing_core::{PostDraft, PostId};

use super::{
    BearerAuth, Created, NoContent, PageOf, PostIn, PostOut, StatsOut, Tag, list_query,
    optional_actor,
};
use crate::{ApiError, Service};

pub struct PublicApi;

fn draft(body: &PostIn) -> Result<PostDraft, ApiError> {
    Ok(PostDraft::parse(
        &body.title,
        &body.body,
        body.image.as_deref(),
        body.published,
    )?)
}

#[OpenApi(tag = "Tag::Public")]
impl PublicApi {
    /// Mailings, running mailings and unique clients, right now.
    #[oai(path = "/stats", method = "get")]
    async fn stats(&self, service: Data<&Service>) -> Result<Json<StatsOut>, ApiError> {
        let s = service.app.stats.home().await?;
        Ok(Json(StatsOut {
            mailings: s.mailings,
            running_mailings: s.running_mailings,
            unique_clients: s.unique_clients,
        }))
    }

    /// Published posts, newest first (admins also see drafts).
    #[oai(path = "/blog/posts", method = "get")]
    async fn posts(
        &self,
        service: Data<&Service>,
        req: &Request,
        page: Query<Option<u32>>,
        per_page: Query<Option<u32>>,
        q: Query<Option<String>>,
    ) -> Result<Json<PageOf<PostOut>>, ApiError> {
        let actor = optional_actor(&service, req).await?;
        let query = list_query(page.0, per_page.0, q.0.as_deref())?;
        let page = service.app.blog.list(actor, &query).await?;
        Ok(Json(PageOf::from_page(page, Into::into)))
    }

    /// One post; reading it counts a view.
    #[oai(path = "/blog/posts/:id", method = "get")]
    async fn post(
        &self,
        service: Data<&Service>,
        req: &Request,
        id: Path<i64>,
    ) -> Result<Json<PostOut>, ApiError> {
        let actor = optional_actor(&service, req).await?;
        let post = service.app.blog.read(actor, PostId(id.0)).await?;
        Ok(Json(post.into()))
    }

    /// Write a post (admins).
    #[oai(path = "/blog/posts", method = "post")]
    async fn create_post(
        &self,
        service: Data<&Service>,
        auth: BearerAuth,
        body: Json<PostIn>,
    ) -> Result<Created<PostOut>, ApiError> {
        let post = service
            .app
            .blog
            .create(auth.0.actor, &draft(&body)?)
            .await?;
        Ok(Created::Created(Json(post.into())))
    }

    /// Replace a post (admins).
    #[oai(path = "/blog/posts/:id", method = "put")]
    async fn update_post(
        &self,
        service: Data<&Service>,
        auth: BearerAuth,
        id: Path<i64>,
        body: Json<PostIn>,
    ) -> Result<Json<PostOut>, ApiError> {
        let post = service
            .app
            .blog
            .update(auth.0.actor, PostId(id.0), &draft(&body)?)
            .await?;
        Ok(Json(post.into()))
    }

    /// Delete a post (admins).
    #[oai(path = "/blog/posts/:id", method = "delete")]
    async fn delete_post(
        &self,
        service: Data<&Service>,
        auth: BearerAuth,
        id: Path<i64>,
    ) -> Result<NoContent, ApiError> {
        service.app.blog.delete(auth.0.actor, PostId(id.0)).await?;
        Ok(NoContent::Done)
    }
}

//! Mailings: private to their owner (others' answer 404); managers and admins
//! see and disable everyone's, but edit none but their own.

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Enum, OpenApi};
use skymailing_core::service::MailingScope;
use skymailing_core::{
    Audience, ClientFilter, ClientId, MailingDraft, MailingId, MailingInput, MessageId,
};

use super::{
    BearerAuth, Created, MailingIn, MailingOut, NoContent, PageOf, RunOut, Tag, TestSent,
    TestSentOut, list_query,
};
use crate::{ApiError, Service};

pub struct MailingsApi;

/// Whose mailings to list.
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "lowercase")]
enum Scope {
    /// Your own.
    Own,
    /// Everyone's (managers and admins).
    All,
}

fn draft(body: &MailingIn) -> Result<MailingDraft, ApiError> {
    let audience = body
        .clients_matching
        .as_ref()
        .map(|f| ClientFilter::new(f.q.as_deref(), f.tag.as_deref()))
        .transpose()
        .map(|matching| Audience {
            client_ids: body.client_ids.iter().copied().map(ClientId).collect(),
            tags: body.tags.iter().map(|t| t.0.clone()).collect(),
            matching,
        });
    Ok(MailingDraft::from_input(MailingInput {
        name: &body.name,
        message_id: Ok(MessageId(body.message_id)),
        audience,
        start_at: Ok(body.start_at),
        end_at: Ok(body.end_at),
        periodicity: &body.periodicity,
        sender_name: body.sender_name.as_deref().unwrap_or_default(),
        reply_to: body.reply_to.as_deref().unwrap_or_default(),
    })?)
}

#[OpenApi(prefix_path = "/mailings", tag = "Tag::Mailings")]
impl MailingsApi {
    /// Mailings: by default your own, or everyone's for managers and admins.
    #[oai(path = "/", method = "get")]
    async fn list(
        &self,
        service: Data<&Service>,
        auth: BearerAuth,
        scope: Query<Option<Scope>>,
        page: Query<Option<u32>>,
        per_page: Query<Option<u32>>,
        q: Query<Option<String>>,
    ) -> Result<Json<PageOf<MailingOut>>, ApiError> {
        let query = list_query(page.0, per_page.0, q.0.as_deref())?;
        let scope = match scope.0 {
            Some(Scope::Own) => MailingScope::Own,
            Some(Scope::All) => MailingScope::All,
            None => MailingScope::default_for(auth.0.user.role),
        };
        let page = service
            .app
            .mailings
            .list(auth.0.actor, scope, &query)
            .await?;
        Ok(Json(PageOf::from_page(page, Into::into)))
    }

    /// Set up a mailing. If its window is open, its current slot runs at once.
    #[oai(path = "/", method = "post")]
    async fn create(
        &self,
        service: Data<&Service>,
        auth: BearerAuth,
        body: Json<MailingIn>,
    ) -> Result<Created<MailingOut>, ApiError> {
        let view = service
            .app
            .mailings
            .create(auth.0.actor, &draft(&body)?)
            .await?;
        Ok(Created::Created(Json(view.into())))
    }

    /// One mailing with its status and next run.
    #[oai(path = "/:id", method = "get")]
    async fn get(
        &self,
        service: Data<&Service>,
        auth: BearerAuth,
        id: Path<i64>,
    ) -> Result<Json<MailingOut>, ApiError> {
        let view = service
            .app
            .mailings
            .get(auth.0.actor, MailingId(id.0))
            .await?;
        Ok(Json(view.into()))
    }

    /// Replace your mailing; the change applies to future runs.
    #[oai(path = "/:id", method = "put")]
    async fn update(
        &self,
        service: Data<&Service>,
        auth: BearerAuth,
        id: Path<i64>,
        body: Json<MailingIn>,
    ) -> Result<Json<MailingOut>, ApiError> {
        let view = service
            .app
            .mailings
            .update(auth.0.actor, MailingId(id.0), &draft(&body)?)
            .await?;
        Ok(Json(view.into()))
    }

    /// Delete your mailing: pending deliveries are cancelled, reports stay in the log.
    #[oai(path = "/:id", method = "delete")]
    async fn delete(
        &self,
        service: Data<&Service>,
        auth: BearerAuth,
        id: Path<i64>,
    ) -> Result<NoContent, ApiError> {
        service
            .app
            .mailings
            .delete(auth.0.actor, MailingId(id.0))
            .await?;
        Ok(NoContent::Done)
    }

    /// Disable a mailing (the owner, managers, admins); pending deliveries are cancelled.
    #[oai(path = "/:id/disable", method = "post")]
    async fn disable(
        &self,
        service: Data<&Service>,
        auth: BearerAuth,
        id: Path<i64>,
    ) -> Result<Json<MailingOut>, ApiError> {
        let view = service
            .app
            .mailings
            .disable(auth.0.actor, MailingId(id.0))
            .await?;
        Ok(Json(view.into()))
    }

    /// Enable a mailing again (one a manager disabled: managers and admins only).
    #[oai(path = "/:id/enable", method = "post")]
    async fn enable(
        &self,
        service: Data<&Service>,
        auth: BearerAuth,
        id: Path<i64>,
    ) -> Result<Json<MailingOut>, ApiError> {
        let view = service
            .app
            .mailings
            .enable(auth.0.actor, MailingId(id.0))
            .await?;
        Ok(Json(view.into()))
    }

    /// Sends the mailing's message once to your own address, rendered for
    /// you, the subject prefixed `[Test]`; no run is recorded. Five per ten
    /// minutes (429 with `Retry-After` beyond).
    #[oai(path = "/:id/test", method = "post")]
    async fn test_send(
        &self,
        service: Data<&Service>,
        auth: BearerAuth,
        id: Path<i64>,
    ) -> Result<TestSent, ApiError> {
        let to = service
            .app
            .previews
            .test_send(auth.0.actor, MailingId(id.0))
            .await?;
        Ok(TestSent::Sent(Json(TestSentOut { sent_to: to })))
    }

    /// The mailing's runs, newest first.
    #[oai(path = "/:id/runs", method = "get")]
    async fn runs(
        &self,
        service: Data<&Service>,
        auth: BearerAuth,
        id: Path<i64>,
        page: Query<Option<u32>>,
        per_page: Query<Option<u32>>,
    ) -> Result<Json<PageOf<RunOut>>, ApiError> {
        let query = list_query(page.0, per_page.0, None)?;
        let page = service
            .app
            .mailings
            .runs(auth.0.actor, MailingId(id.0), &query)
            .await?;
        Ok(Json(PageOf::from_page(page, Into::into)))
    }
}

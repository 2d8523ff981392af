//! Messages: shared by every signed-in user; only the author (or an admin)
//! edits or deletes one.

use poem::web::Data;
use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use skymailing_core::{MessageDraft, MessageId};

use super::{
    BearerAuth, Created, MessageIn, MessageOut, NoContent, PageOf, PreviewIn, PreviewOut, Tag,
    list_query,
};
use crate::{ApiError, Service};

pub struct MessagesApi;

fn draft(body: &MessageIn) -> Result<MessageDraft, ApiError> {
    Ok(MessageDraft::parse(
        &body.subject,
        &body.body_text,
        body.body_html.as_deref(),
    )?)
}

#[OpenApi(prefix_path = "/messages", tag = "Tag::Messages")]
impl MessagesApi {
    /// Every message, searchable by subject and text.
    #[oai(path = "/", method = "get")]
    async fn list(
        &self,
        service: Data<&Service>,
        auth: BearerAuth,
        page: Query<Option<u32>>,
        per_page: Query<Option<u32>>,
        q: Query<Option<String>>,
    ) -> Result<Json<PageOf<MessageOut>>, ApiError> {
        let query = list_query(page.0, per_page.0, q.0.as_deref())?;
        let page = service.app.messages.list(auth.0.actor, &query).await?;
        Ok(Json(PageOf::from_page(page, Into::into)))
    }

    /// Write a message. A template error is refused with its line and column.
    #[oai(path = "/", method = "post")]
    async fn create(
        &self,
        service: Data<&Service>,
        auth: BearerAuth,
        body: Json<MessageIn>,
    ) -> Result<Created<MessageOut>, ApiError> {
        let message = service
            .app
            .messages
            .create(auth.0.actor, &draft(&body)?)
            .await?;
        Ok(Created::Created(Json(message.into())))
    }

    /// One message.
    #[oai(path = "/:id", method = "get")]
    async fn get(
        &self,
        service: Data<&Service>,
        auth: BearerAuth,
        id: Path<i64>,
    ) -> Result<Json<MessageOut>, ApiError> {
        let message = service
            .app
            .messages
            .get(auth.0.actor, MessageId(id.0))
            .await?;
        Ok(Json(message.into()))
    }

    /// Replace your message (409 while other users' mailings use it).
    #[oai(path = "/:id", method = "put")]
    async fn update(
        &self,
        service: Data<&Service>,
        auth: BearerAuth,
        id: Path<i64>,
        body: Json<MessageIn>,
    ) -> Result<Json<MessageOut>, ApiError> {
        let message = service
            .app
            .messages
            .update(auth.0.actor, MessageId(id.0), &draft(&body)?)
            .await?;
        Ok(Json(message.into()))
    }

    /// The message rendered as a recipient will see it: for one of your
    /// clients (`client_id`), or for a sample recipient. The unsubscribe link
    /// in it is a dummy.
    #[oai(path = "/:id/preview", method = "post")]
    async fn preview(
        &self,
        service: Data<&Service>,
        auth: BearerAuth,
        id: Path<i64>,
        body: Json<PreviewIn>,
    ) -> Result<Json<PreviewOut>, ApiError> {
        let r = service
            .app
            .previews
            .message(
                auth.0.actor,
                MessageId(id.0),
                body.client_id.map(skymailing_core::ClientId),
            )
            .await?;
        Ok(Json(PreviewOut {
            subject: r.subject,
            body_text: r.text,
            body_html: r.html,
        }))
    }

    /// Delete your message (409 while a mailing uses it).
    #[oai(path = "/:id", method = "delete")]
    async fn delete(
        &self,
        service: Data<&Service>,
        auth: BearerAuth,
        id: Path<i64>,
    ) -> Result<NoContent, ApiError> {
        service
            .app
            .messages
            .delete(auth.0.actor, MessageId(id.0))
            .await?;
        Ok(NoContent::Done)
    }
}

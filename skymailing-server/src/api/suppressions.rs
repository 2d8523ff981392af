//! The suppression list: addresses your mailings skip (unsubscribed,
//! bounced, complained, or added by hand). Managers and admins read
//! everyone's with `scope=all`.

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Enum, OpenApi};
use skymailing_core::service::SuppressionScope;

use super::{
    BearerAuth, Created, NoContent, PageOf, SuppressionIn, SuppressionOut, Tag, list_query,
};
use crate::{ApiError, Service};

pub struct SuppressionsApi;

/// Whose suppressions to list.
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "lowercase")]
pub enum SuppressionListScope {
    /// Your own.
    Own,
    /// Everyone's (managers and admins).
    All,
}

#[OpenApi(prefix_path = "/suppressions", tag = "Tag::Clients")]
impl SuppressionsApi {
    /// Your suppressed addresses, newest first; `q` searches them.
    #[oai(path = "/", method = "get")]
    async fn list(
        &self,
        service: Data<&Service>,
        auth: BearerAuth,
        scope: Query<Option<SuppressionListScope>>,
        page: Query<Option<u32>>,
        per_page: Query<Option<u32>>,
        q: Query<Option<String>>,
    ) -> Result<Json<PageOf<SuppressionOut>>, ApiError> {
        let query = list_query(page.0, per_page.0, q.0.as_deref())?;
        let scope = match scope.0 {
            Some(SuppressionListScope::All) => SuppressionScope::All,
            _ => SuppressionScope::Own,
        };
        let page = service
            .app
            .suppressions
            .list(auth.0.actor, scope, &query)
            .await?;
        Ok(Json(PageOf::from_page(page, Into::into)))
    }

    /// Suppress an address by hand (reason `manual`); one suppressed
    /// already keeps its entry.
    #[oai(path = "/", method = "post")]
    async fn create(
        &self,
        service: Data<&Service>,
        auth: BearerAuth,
        body: Json<SuppressionIn>,
    ) -> Result<Created<SuppressionOut>, ApiError> {
        let entry = service
            .app
            .suppressions
            .add(auth.0.actor, &body.email)
            .await?;
        Ok(Created::Created(Json(entry.into())))
    }

    /// Lift a manual or bounce entry. An unsubscribe or a complaint is the
    /// recipient's word: 403.
    #[oai(path = "/:id", method = "delete")]
    async fn delete(
        &self,
        service: Data<&Service>,
        auth: BearerAuth,
        id: Path<i64>,
    ) -> Result<NoContent, ApiError> {
        service.app.suppressions.lift(auth.0.actor, id.0).await?;
        Ok(NoContent::Done)
    }
}

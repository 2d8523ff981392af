//! The log: run reports, readable by every signed-in user; the recipients'
//! addresses only by the run's owner, managers and admins.

use poem::web::Data;
use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use skymailing_core::RunId;

use super::{BearerAuth, DayOut, DeliveryOut, PageOf, RunDetailOut, RunOut, Tag, list_query};
use crate::{ApiError, Service};

pub struct LogsApi;

#[OpenApi(tag = "Tag::Log")]
impl LogsApi {
    /// Run reports, newest first; `q` searches mailing names.
    #[oai(path = "/logs", method = "get")]
    async fn list(
        &self,
        service: Data<&Service>,
        auth: BearerAuth,
        page: Query<Option<u32>>,
        per_page: Query<Option<u32>>,
        q: Query<Option<String>>,
    ) -> Result<Json<PageOf<RunOut>>, ApiError> {
        let query = list_query(page.0, per_page.0, q.0.as_deref())?;
        let page = service.app.logs.list(auth.0.actor, &query).await?;
        Ok(Json(PageOf::from_page(page, Into::into)))
    }

    /// Sent and failed deliveries per day over the last `days` days (default 30).
    #[oai(path = "/logs/daily", method = "get")]
    async fn daily(
        &self,
        service: Data<&Service>,
        auth: BearerAuth,
        days: Query<Option<u32>>,
    ) -> Result<Json<Vec<DayOut>>, ApiError> {
        let days = service
            .app
            .logs
            .daily(auth.0.actor, days.0.unwrap_or(30))
            .await?;
        Ok(Json(
            days.into_iter()
                .map(|d| DayOut {
                    day: d.day,
                    sent: d.sent,
                    failed: d.failed,
                })
                .collect(),
        ))
    }

    /// One run with its live progress.
    #[oai(path = "/runs/:id", method = "get")]
    async fn run(
        &self,
        service: Data<&Service>,
        auth: BearerAuth,
        id: Path<i64>,
    ) -> Result<Json<RunDetailOut>, ApiError> {
        let detail = service.app.logs.run(auth.0.actor, RunId(id.0)).await?;
        Ok(Json(detail.into()))
    }

    /// Resumes a run that paused itself for its failures and bounces: the
    /// owner, managers and admins. 409 if it is not paused.
    #[oai(path = "/runs/:id/resume", method = "post")]
    async fn resume(
        &self,
        service: Data<&Service>,
        auth: BearerAuth,
        id: Path<i64>,
    ) -> Result<Json<RunDetailOut>, ApiError> {
        let detail = service.app.logs.resume(auth.0.actor, RunId(id.0)).await?;
        Ok(Json(detail.into()))
    }

    /// Cancels an unfinished run, sending or paused: its pending deliveries
    /// are cancelled. The owner, managers and admins; 409 once finished.
    #[oai(path = "/runs/:id/cancel", method = "post")]
    async fn cancel(
        &self,
        service: Data<&Service>,
        auth: BearerAuth,
        id: Path<i64>,
    ) -> Result<Json<RunDetailOut>, ApiError> {
        let detail = service.app.logs.cancel(auth.0.actor, RunId(id.0)).await?;
        Ok(Json(detail.into()))
    }

    /// A run's recipients and what happened to each.
    #[oai(path = "/runs/:id/deliveries", method = "get")]
    async fn deliveries(
        &self,
        service: Data<&Service>,
        auth: BearerAuth,
        id: Path<i64>,
        page: Query<Option<u32>>,
        per_page: Query<Option<u32>>,
    ) -> Result<Json<PageOf<DeliveryOut>>, ApiError> {
        let query = list_query(page.0, per_page.0, None)?;
        let page = service
            .app
            .logs
            .deliveries(auth.0.actor, RunId(id.0), &query)
            .await?;
        Ok(Json(PageOf::from_page(page, Into::into)))
    }
}

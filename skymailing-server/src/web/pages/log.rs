//! The log: run reports with the chart of the last 30 days, a run's page with
//! its deliveries (addresses only for the owner, managers and admins), and
//! the progress figures the live bar polls.

use crate::web::view::see_other;
use askama::Template;
use chrono::Duration;
use poem::handler;
use poem::web::{Data, Json, Path, Query};
use skymailing_core::policy::{Action, Target};
use skymailing_core::{Error, RunId};

use crate::Service;
use crate::web::chart;
use crate::web::error::{PageError, PageResult};
use crate::web::view::{
    Chrome, ListParams, Progress, RunRow, Viewer, activity, counts, pager, render, run_progress,
    run_row,
};

#[derive(Template)]
#[template(path = "log.html")]
struct Log {
    c: Chrome,
    chart: String,
    runs: Vec<RunRow>,
    q: String,
    pager: String,
}

#[handler]
pub(crate) async fn list(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    Query(params): Query<ListParams>,
) -> PageResult {
    let page = service
        .app
        .logs
        .list(viewer.actor, &params.query(25)?)
        .await?;
    let days = service.app.logs.daily(viewer.actor, 30).await?;
    let today = service.app.now().date_naive();
    let chart = chart::daily(viewer.lang, &days, today - Duration::days(29), today);
    let pager = pager(viewer.lang, &page, &params);
    Ok(render(&Log {
        c: viewer.chrome(),
        chart,
        q: params.q(),
        runs: page
            .items
            .into_iter()
            .map(|r| run_row(&viewer, r))
            .collect(),
        pager,
    }))
}

pub(crate) struct DeliveryRow {
    pub email: String,
    pub state: String,
    pub attempts: u32,
    pub reply: String,
}

#[derive(Template)]
#[template(path = "run.html")]
struct RunPage {
    c: Chrome,
    run: RunRow,
    percent: u8,
    counts: String,
    activity: String,
    deliveries: Option<Vec<DeliveryRow>>,
    pager: String,
    /// The run's mailing, when it still exists and the viewer may see it.
    mailing_id: Option<i64>,
    /// Whether the viewer may cancel it (unfinished, theirs or staff's).
    can_cancel: bool,
    /// Whether the viewer may resume it (paused).
    can_resume: bool,
}

#[handler]
pub(crate) async fn run(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    Path(id): Path<i64>,
    Query(params): Query<ListParams>,
) -> PageResult {
    let detail = service.app.logs.run(viewer.actor, RunId(id)).await?;
    let t = &detail.totals;
    let percent = t.percent();
    let counts = counts(viewer.lang, t.sent, t.failed, t.total);
    let activity = activity(viewer.lang, t);
    // Addresses are the owner's, managers' and admins': others see the report only.
    let (deliveries, pager) = match service
        .app
        .logs
        .deliveries(viewer.actor, RunId(id), &params.query(50)?)
        .await
    {
        Ok(page) => {
            let pager = pager(viewer.lang, &page, &params);
            let rows = page
                .items
                .into_iter()
                .map(|d| DeliveryRow {
                    email: d.email.to_string(),
                    state: viewer.t(&format!("delivery.{}", d.state.as_str())),
                    attempts: d.attempts,
                    reply: d.last_reply.unwrap_or_default(),
                })
                .collect();
            (Some(rows), pager)
        }
        Err(Error::NotFound | Error::Forbidden(_)) => (None, String::new()),
        Err(e) => return Err(e.into()),
    };
    let c = viewer.chrome();
    let r = &detail.run;
    let theirs = Target::OwnedBy(r.owner);
    let acts = r.finished_at.is_none() && c.may(Action::ToggleMailing, theirs);
    Ok(render(&RunPage {
        mailing_id: r
            .mailing_id
            .filter(|_| c.may(Action::ViewMailing, theirs))
            .map(|m| m.0),
        can_cancel: acts,
        can_resume: acts && r.paused.is_some(),
        c,
        run: run_row(&viewer, detail.run),
        percent,
        counts,
        activity,
        deliveries,
        pager,
    }))
}

/// What the run page's bar polls (`static/app.js`), with the viewer's session.
#[handler]
pub(crate) async fn progress(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    Path(id): Path<i64>,
) -> Result<Json<Progress>, PageError> {
    Ok(Json(run_progress(&service, &viewer, RunId(id)).await?))
}

/// Cancels a run in progress (the use case checks who may), then shows it.
#[handler]
pub(crate) async fn cancel(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    Path(id): Path<i64>,
) -> PageResult {
    service.app.logs.cancel(viewer.actor, RunId(id)).await?;
    Ok(see_other(&format!("/log/{id}")))
}

/// Resumes a paused run, then shows it.
#[handler]
pub(crate) async fn resume(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    Path(id): Path<i64>,
) -> PageResult {
    service.app.logs.resume(viewer.actor, RunId(id)).await?;
    Ok(see_other(&format!("/log/{id}")))
}

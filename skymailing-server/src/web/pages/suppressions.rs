//! The suppression list under Clients: the addresses the owner's mailings
//! skip (unsubscribed, bounced, complained, added by hand), with search, a
//! form to add one, and lifting what may be lifted.

use askama::Template;
use poem::handler;
use poem::web::{Data, Form, Path, Query};
use skymailing_core::service::SuppressionScope;

use crate::Service;
use crate::web::error::PageResult;
use crate::web::view::{
    Chrome, FormState, ListParams, Viewer, after_submit, local, pager, render, see_other,
};

pub(crate) struct Row {
    id: i64,
    email: String,
    reason: String,
    since: String,
    detail: String,
    liftable: bool,
}

#[derive(Template)]
#[template(path = "suppressions.html")]
struct Suppressions {
    c: Chrome,
    rows: Vec<Row>,
    q: String,
    pager: String,
    f: FormState,
    email: String,
}

async fn page(
    service: &Service,
    viewer: &Viewer,
    params: &ListParams,
    f: FormState,
    email: String,
) -> PageResult {
    let page = service
        .app
        .suppressions
        .list(viewer.actor, SuppressionScope::Own, &params.query(50)?)
        .await?;
    let pager = pager(viewer.lang, &page, params);
    let rows = page
        .items
        .into_iter()
        .map(|s| Row {
            id: s.id,
            email: s.email.to_string(),
            reason: viewer.t(&format!("suppressions.reason.{}", s.reason.as_str())),
            since: local(viewer, s.created_at),
            detail: s.detail.unwrap_or_default(),
            liftable: s.reason.owner_may_lift(),
        })
        .collect();
    Ok(render(&Suppressions {
        c: viewer.chrome(),
        rows,
        q: params.q(),
        pager,
        f,
        email,
    }))
}

#[handler]
pub(crate) async fn list(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    Query(params): Query<ListParams>,
) -> PageResult {
    page(
        &service,
        &viewer,
        &params,
        FormState::default(),
        String::new(),
    )
    .await
}

#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct AddForm {
    #[serde(default)]
    email: String,
}

#[handler]
pub(crate) async fn add(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    Form(form): Form<AddForm>,
) -> PageResult {
    let result = service
        .app
        .suppressions
        .add(viewer.actor, &form.email)
        .await
        .map(drop);
    after_submit(
        viewer.lang,
        result,
        |()| "/clients/suppressions".to_owned(),
        async |f| page(&service, &viewer, &ListParams::default(), f, form.email).await,
    )
    .await
}

#[handler]
pub(crate) async fn lift(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    Path(id): Path<i64>,
) -> PageResult {
    service.app.suppressions.lift(viewer.actor, id).await?;
    Ok(see_other("/clients/suppressions"))
}

//! Clients (private to their owner): the list with search and pagination,
//! forms, and deletion with a confirmation page.

use askama::Template;
use poem::handler;
use poem::web::{Data, Form, Path, Query};
use skymailing_core::{Client, ClientDraft, ClientId, Page};

use crate::Service;
use crate::web::error::PageResult;
use crate::web::view::{
    Chrome, ConfirmDelete, FormState, ListParams, Viewer, after_submit, pager, render, see_other,
};

#[derive(Template)]
#[template(path = "clients.html")]
struct Clients {
    c: Chrome,
    page: Page<Client>,
    q: String,
    pager: String,
}

#[handler]
pub(crate) async fn clients(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    Query(params): Query<ListParams>,
) -> PageResult {
    let page = service
        .app
        .clients
        .list(viewer.actor, &params.query(25)?)
        .await?;
    Ok(render(&Clients {
        c: viewer.chrome(),
        pager: pager(viewer.lang, &page, &params),
        q: params.q(),
        page,
    }))
}

#[derive(Template)]
#[template(path = "client_form.html")]
struct ClientFormPage {
    c: Chrome,
    title: String,
    f: FormState,
    email: String,
    full_name: String,
    comment: String,
}

#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct ClientForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    full_name: String,
    #[serde(default)]
    comment: String,
}

fn client_page(viewer: &Viewer, title: &str, f: FormState, v: ClientForm) -> poem::Response {
    render(&ClientFormPage {
        c: viewer.chrome(),
        title: viewer.t(title),
        f,
        email: v.email,
        full_name: v.full_name,
        comment: v.comment,
    })
}

#[handler]
pub(crate) async fn client_new(service: Data<&Service>, viewer: Data<&Viewer>) -> PageResult {
    // Only those who keep clients see the form (a manager gets 403).
    service.app.clients.can_create(viewer.actor)?;
    Ok(client_page(
        &viewer,
        "clients.new",
        FormState::default(),
        ClientForm::default(),
    ))
}

#[handler]
pub(crate) async fn client_create(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    Form(form): Form<ClientForm>,
) -> PageResult {
    let result = match ClientDraft::parse(&form.email, &form.full_name, &form.comment) {
        Ok(d) => service
            .app
            .clients
            .create(viewer.actor, &d)
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    after_submit(
        viewer.lang,
        result,
        |()| "/clients".to_owned(),
        async |f| Ok(client_page(&viewer, "clients.new", f, form)),
    )
    .await
}

#[handler]
pub(crate) async fn client_edit(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    Path(id): Path<i64>,
) -> PageResult {
    let c = service.app.clients.get(viewer.actor, ClientId(id)).await?;
    Ok(client_page(
        &viewer,
        "clients.edit",
        FormState::default(),
        ClientForm {
            email: c.email.to_string(),
            full_name: c.full_name,
            comment: c.comment,
        },
    ))
}

#[handler]
pub(crate) async fn client_update(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    Path(id): Path<i64>,
    Form(form): Form<ClientForm>,
) -> PageResult {
    let result = match ClientDraft::parse(&form.email, &form.full_name, &form.comment) {
        Ok(d) => service
            .app
            .clients
            .update(viewer.actor, ClientId(id), &d)
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    after_submit(
        viewer.lang,
        result,
        |()| "/clients".to_owned(),
        async |f| Ok(client_page(&viewer, "clients.edit", f, form)),
    )
    .await
}

#[handler]
pub(crate) async fn client_delete_form(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    Path(id): Path<i64>,
) -> PageResult {
    let c = service.app.clients.get(viewer.actor, ClientId(id)).await?;
    Ok(render(&ConfirmDelete {
        c: viewer.chrome(),
        what: c.email.to_string(),
        back: "/clients".into(),
        error: None,
    }))
}

#[handler]
pub(crate) async fn client_delete(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    Path(id): Path<i64>,
) -> PageResult {
    service
        .app
        .clients
        .delete(viewer.actor, ClientId(id))
        .await?;
    Ok(see_other("/clients"))
}

//! Messages (shared by all signed-in users, edited by their author or an
//! admin): the list with search and pagination, forms, and deletion with a
//! confirmation page.

use askama::Template;
use poem::handler;
use poem::web::{Data, Form, Path, Query};
use skymailing_core::{Error, Message, MessageDraft, MessageId, Page};

use crate::Service;
use crate::web::error::PageResult;
use crate::web::view::{
    Chrome, ConfirmDelete, FormState, ListParams, Viewer, after_submit, pager, render, see_other,
};

#[derive(Template)]
#[template(path = "messages.html")]
struct Messages {
    c: Chrome,
    page: Page<Message>,
    q: String,
    pager: String,
}

impl Messages {
    fn can_edit(&self, m: &Message) -> bool {
        self.c.may(
            skymailing_core::policy::Action::EditMessage,
            skymailing_core::policy::Target::OwnedBy(m.owner),
        )
    }
}

#[handler]
pub(crate) async fn messages(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    Query(params): Query<ListParams>,
) -> PageResult {
    let page = service
        .app
        .messages
        .list(viewer.actor, &params.query(25)?)
        .await?;
    Ok(render(&Messages {
        c: viewer.chrome(),
        pager: pager(viewer.lang, &page, &params),
        q: params.q(),
        page,
    }))
}

#[derive(Template)]
#[template(path = "message_form.html")]
struct MessageFormPage {
    c: Chrome,
    title: String,
    f: FormState,
    subject: String,
    body_text: String,
    body_html: String,
}

#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct MessageForm {
    #[serde(default)]
    subject: String,
    #[serde(default)]
    body_text: String,
    #[serde(default)]
    body_html: String,
}

impl MessageForm {
    fn draft(&self) -> Result<MessageDraft, Error> {
        let html = Some(self.body_html.as_str()).filter(|h| !h.trim().is_empty());
        MessageDraft::parse(&self.subject, &self.body_text, html)
    }
}

fn message_page(viewer: &Viewer, title: &str, f: FormState, v: MessageForm) -> poem::Response {
    render(&MessageFormPage {
        c: viewer.chrome(),
        title: viewer.t(title),
        f,
        subject: v.subject,
        body_text: v.body_text,
        body_html: v.body_html,
    })
}

#[handler]
pub(crate) async fn message_new(viewer: Data<&Viewer>) -> PageResult {
    viewer.actor.principal()?;
    Ok(message_page(
        &viewer,
        "messages.new",
        FormState::default(),
        MessageForm {
            body_text: viewer.t("messages.sample"),
            ..MessageForm::default()
        },
    ))
}

#[handler]
pub(crate) async fn message_create(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    Form(form): Form<MessageForm>,
) -> PageResult {
    let result = match form.draft() {
        Ok(d) => service
            .app
            .messages
            .create(viewer.actor, &d)
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    after_submit(
        viewer.lang,
        result,
        |()| "/messages".to_owned(),
        async |f| Ok(message_page(&viewer, "messages.new", f, form)),
    )
    .await
}

#[handler]
pub(crate) async fn message_edit(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    Path(id): Path<i64>,
) -> PageResult {
    let m = service
        .app
        .messages
        .get(viewer.actor, MessageId(id))
        .await?;
    Ok(message_page(
        &viewer,
        "messages.edit",
        FormState::default(),
        MessageForm {
            subject: m.subject,
            body_text: m.body_text,
            body_html: m.body_html.unwrap_or_default(),
        },
    ))
}

#[handler]
pub(crate) async fn message_update(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    Path(id): Path<i64>,
    Form(form): Form<MessageForm>,
) -> PageResult {
    let result = match form.draft() {
        Ok(d) => service
            .app
            .messages
            .update(viewer.actor, MessageId(id), &d)
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    after_submit(
        viewer.lang,
        result,
        |()| "/messages".to_owned(),
        async |f| Ok(message_page(&viewer, "messages.edit", f, form)),
    )
    .await
}

#[handler]
pub(crate) async fn message_delete_form(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    Path(id): Path<i64>,
) -> PageResult {
    let m = service
        .app
        .messages
        .get(viewer.actor, MessageId(id))
        .await?;
    Ok(render(&ConfirmDelete {
        c: viewer.chrome(),
        what: m.subject,
        back: "/messages".into(),
        error: None,
    }))
}

#[handler]
pub(crate) async fn message_delete(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    Path(id): Path<i64>,
) -> PageResult {
    match service
        .app
        .messages
        .delete(viewer.actor, MessageId(id))
        .await
    {
        Ok(()) => Ok(see_other("/messages")),
        Err(Error::Conflict(_)) => {
            let m = service
                .app
                .messages
                .get(viewer.actor, MessageId(id))
                .await?;
            Ok(render(&ConfirmDelete {
                c: viewer.chrome(),
                what: m.subject,
                back: "/messages".into(),
                error: Some(viewer.t("messages.in_use")),
            }))
        }
        Err(e) => Err(e.into()),
    }
}

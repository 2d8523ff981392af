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

#[derive(Template)]
#[template(path = "message_preview.html")]
struct PreviewPage {
    c: Chrome,
    rendered: Option<skymailing_core::RenderedMessage>,
    error: Option<String>,
    to: String,
    /// The viewer's clients to render it for (the first 200).
    clients: Vec<(i64, String)>,
    client: Option<i64>,
    back: String,
    back_param: Option<String>,
}

#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct PreviewParams {
    #[serde(default)]
    client: Option<String>,
    #[serde(default)]
    back: Option<String>,
}

/// A message as a recipient will see it: for one of the viewer's clients or
/// a sample recipient; the HTML part in a sandboxed frame (no scripts, no
/// forms, no access to this page).
#[handler]
pub(crate) async fn preview(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    Path(id): Path<i64>,
    Query(params): Query<PreviewParams>,
) -> PageResult {
    let client = params.client.as_deref().and_then(|c| c.parse::<i64>().ok());
    let clients = match service
        .app
        .clients
        .list(
            viewer.actor,
            &skymailing_core::ListQuery::new(1, 200, None)?,
        )
        .await
    {
        Ok(page) => page
            .items
            .into_iter()
            .map(|c| (c.id.0, format!("{} <{}>", c.full_name, c.email)))
            .collect(),
        // Managers keep no clients: the sample recipient only.
        Err(_) => Vec::new(),
    };
    let to = match client.and_then(|id| clients.iter().find(|(c, _)| *c == id)) {
        Some((_, label)) => label.clone(),
        None => format!(
            "{} <{}>",
            skymailing_core::service::SAMPLE_NAME,
            skymailing_core::service::SAMPLE_EMAIL
        ),
    };
    let (rendered, error) = match service
        .app
        .previews
        .message(
            viewer.actor,
            MessageId(id),
            client.map(skymailing_core::ClientId),
        )
        .await
    {
        Ok(r) => (Some(r), None),
        // A template that does not render for this recipient: say why.
        Err(skymailing_core::Error::Invalid { field, reason }) => (
            None,
            Some(format!("{}: {}", field, viewer.lang.reason(&reason))),
        ),
        Err(e) => return Err(e.into()),
    };
    // Back to a page of this site only.
    let back_param = params
        .back
        .map(|b| crate::web::view::local_path(&b))
        .filter(|b| b != "/");
    Ok(render(&PreviewPage {
        c: viewer.chrome(),
        rendered,
        error,
        to,
        clients,
        client,
        back: back_param.clone().unwrap_or_else(|| "/messages".into()),
        back_param,
    }))
}

//! Clients (private to their owner): the list with search and pagination,
//! forms, and deletion with a confirmation page.

use askama::Template;
use poem::handler;
use poem::web::{Data, Form, Multipart, Path, Query};
use skymailing_core::Reason;
use skymailing_core::{Client, ClientDraft, ClientId, ImportReport, Page, split_tags};

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
    tag: String,
    tags: Vec<(String, u64)>,
    pager: String,
}

#[handler]
pub(crate) async fn clients(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    Query(params): Query<ListParams>,
) -> PageResult {
    let query = params.query(25)?.with_tag(params.tag.as_deref())?;
    let page = service.app.clients.list(viewer.actor, &query).await?;
    let tags = service.app.clients.tags(viewer.actor).await?;
    Ok(render(&Clients {
        c: viewer.chrome(),
        pager: pager(viewer.lang, &page, &params),
        q: params.q(),
        tag: query.tag.unwrap_or_default(),
        tags,
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
    tags: String,
}

#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct ClientForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    full_name: String,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    tags: String,
}

impl ClientForm {
    fn draft(&self) -> Result<ClientDraft, skymailing_core::Error> {
        ClientDraft::parse_all(
            &self.email,
            &self.full_name,
            &self.comment,
            split_tags(&self.tags),
        )
    }
}

fn client_page(viewer: &Viewer, title: &str, f: FormState, v: ClientForm) -> poem::Response {
    render(&ClientFormPage {
        c: viewer.chrome(),
        title: viewer.t(title),
        f,
        email: v.email,
        full_name: v.full_name,
        comment: v.comment,
        tags: v.tags,
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
    let result = match form.draft() {
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
            tags: c.tags.join(", "),
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
    let result = match form.draft() {
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

#[derive(Template)]
#[template(path = "client_import.html")]
struct ImportPage {
    c: Chrome,
    /// A problem with the file as a whole.
    error: Option<String>,
    /// The dry run's or the import's report.
    report: Option<ImportReport>,
    /// Each listed problem as `(line, field label, sentence)`.
    problems: Vec<(u64, String, String)>,
    /// The file, kept for the confirming form.
    csv: String,
}

impl ImportPage {
    fn new(viewer: &Viewer) -> Self {
        ImportPage {
            c: viewer.chrome(),
            error: None,
            report: None,
            problems: Vec::new(),
            csv: String::new(),
        }
    }
}

#[handler]
pub(crate) async fn import_form(service: Data<&Service>, viewer: Data<&Viewer>) -> PageResult {
    service.app.clients.can_create(viewer.actor)?;
    Ok(render(&ImportPage::new(&viewer)))
}

/// The largest file the import page reads.
pub(crate) const MAX_IMPORT_FILE: usize = crate::api::MAX_IMPORT_BODY;

/// The length the bytes have with every CRLF as LF.
fn normalized_len(bytes: &[u8]) -> usize {
    bytes.len() - bytes.windows(2).filter(|w| *w == b"\r\n").count()
}

/// The bytes with every CRLF as LF.
fn normalize_newlines(bytes: Vec<u8>) -> Vec<u8> {
    if !bytes.windows(2).any(|w| w == b"\r\n") {
        return bytes;
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut it = bytes.iter().peekable();
    while let Some(&b) = it.next() {
        if b == b'\r' && it.peek() == Some(&&b'\n') {
            continue;
        }
        out.push(b);
    }
    out
}

/// Reads the upload (`file`) or the confirmed text (`csv`), and `confirm`.
async fn read_import(mut form: Multipart) -> Result<(Vec<u8>, bool), skymailing_core::Error> {
    use tokio::io::AsyncReadExt;
    let bad = || skymailing_core::Error::invalid("file", Reason::UploadInterrupted);
    let (mut data, mut confirm) = (Vec::new(), false);
    while let Some(field) = form.next_field().await.map_err(|_| bad())? {
        match field.name().unwrap_or_default() {
            "file" | "csv" => {
                let mut bytes = Vec::new();
                field
                    .into_async_read()
                    .take(2 * MAX_IMPORT_FILE as u64 + 1)
                    .read_to_end(&mut bytes)
                    .await
                    .map_err(|_| bad())?;
                if normalized_len(&bytes) > MAX_IMPORT_FILE {
                    return Err(skymailing_core::Error::invalid(
                        "file",
                        Reason::TooLong {
                            max: MAX_IMPORT_FILE,
                        },
                    ));
                }
                if !bytes.is_empty() {
                    // A browser sends a text area's line breaks as CRLF: the
                    // upload and its confirmation are read alike.
                    data = normalize_newlines(bytes);
                }
            }
            "confirm" => confirm = true,
            _ => {}
        }
    }
    Ok((data, confirm))
}

/// The upload: a dry run shown as a preview with every problem, then (with
/// `confirm`) the import itself.
#[handler]
pub(crate) async fn import_submit(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    form: Multipart,
) -> PageResult {
    let mut page = ImportPage::new(&viewer);
    let result = match read_import(form).await {
        Ok((data, confirm)) => {
            page.csv = String::from_utf8_lossy(&data).into_owned();
            service
                .app
                .clients
                .import(viewer.actor, &data, !confirm)
                .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(report) => {
            page.problems = report
                .errors
                .iter()
                .map(|i| {
                    (
                        i.line,
                        viewer.t(&format!("import.col.{}", i.field)),
                        viewer.lang.reason(&i.reason),
                    )
                })
                .collect();
            if !report.dry_run {
                page.csv.clear();
            }
            page.report = Some(report);
        }
        Err(skymailing_core::Error::Invalid { reason, .. }) => {
            page.csv.clear();
            page.error = Some(viewer.lang.reason(&reason));
        }
        Err(e) => return Err(e.into()),
    }
    Ok(render(&page))
}

/// The owner's clients as a CSV download.
#[handler]
pub(crate) async fn export(service: Data<&Service>, viewer: Data<&Viewer>) -> PageResult {
    use poem::IntoResponse;
    let csv = service.app.clients.export(viewer.actor).await?;
    Ok(csv
        .with_content_type("text/csv; charset=utf-8")
        .with_header(
            "content-disposition",
            "attachment; filename=\"clients.csv\"",
        )
        .into_response())
}

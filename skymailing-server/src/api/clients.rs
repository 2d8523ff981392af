//! Clients: private to their owner; anyone else's answer 404.

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{Json, ParsePayload, Payload, PlainText};
use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::{ApiResponse, OpenApi, impl_apirequest_for_payload};
use skymailing_core::{ClientDraft, ClientId};

use super::{
    BearerAuth, ClientIn, ClientOut, Created, ImportOut, NoContent, PageOf, Tag, TagOut, Text,
    list_query,
};
use crate::{ApiError, Service};

pub struct ClientsApi;

fn draft(body: &ClientIn) -> Result<ClientDraft, ApiError> {
    Ok(ClientDraft::parse_all(
        &body.email,
        &body.full_name,
        &body.comment,
        body.tags.iter().map(Text::as_str),
    )?)
}

/// A CSV file: `text/csv`, with or without parameters (`; charset=utf-8`).
pub struct CsvFile(pub Vec<u8>);

impl Payload for CsvFile {
    const CONTENT_TYPE: &'static str = "text/csv";

    fn check_content_type(content_type: &str) -> bool {
        content_type
            .split(';')
            .next()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("text/csv"))
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            format: Some("binary"),
            ..MetaSchema::new("string")
        }))
    }
}

impl ParsePayload for CsvFile {
    const IS_REQUIRED: bool = true;

    async fn from_request(
        request: &poem::Request,
        body: &mut poem::RequestBody,
    ) -> poem::Result<Self> {
        Ok(CsvFile(
            <Vec<u8> as poem::FromRequest>::from_request(request, body).await?,
        ))
    }
}

impl_apirequest_for_payload!(CsvFile);

/// The export.
#[derive(ApiResponse)]
enum CsvExport {
    /// Your clients as CSV: `email,full_name,comment,tags,unsubscribed_at,created_at`.
    #[oai(status = 200, content_type = "text/csv; charset=utf-8")]
    Csv(
        PlainText<String>,
        #[oai(header = "content-disposition")] String,
    ),
}

#[OpenApi(prefix_path = "/clients", tag = "Tag::Clients")]
impl ClientsApi {
    /// Your clients in natural order of their names ("Client 2" before
    /// "Client 10"), searchable by email, name, comment and tags (`q`), and
    /// by one tag (`tag`).
    #[oai(path = "/", method = "get")]
    async fn list(
        &self,
        service: Data<&Service>,
        auth: BearerAuth,
        page: Query<Option<u32>>,
        per_page: Query<Option<u32>>,
        q: Query<Option<String>>,
        tag: Query<Option<String>>,
    ) -> Result<Json<PageOf<ClientOut>>, ApiError> {
        let query = list_query(page.0, per_page.0, q.0.as_deref())?.with_tag(tag.0.as_deref())?;
        let page = service.app.clients.list(auth.0.actor, &query).await?;
        Ok(Json(PageOf::from_page(page, Into::into)))
    }

    /// Add a client.
    #[oai(path = "/", method = "post")]
    async fn create(
        &self,
        service: Data<&Service>,
        auth: BearerAuth,
        body: Json<ClientIn>,
    ) -> Result<Created<ClientOut>, ApiError> {
        let client = service
            .app
            .clients
            .create(auth.0.actor, &draft(&body)?)
            .await?;
        Ok(Created::Created(Json(client.into())))
    }

    /// Import clients from CSV (`text/csv`, up to 20 MiB): a header row
    /// naming `email` and any of `full_name`, `comment`, `tags` (other columns
    /// are ignored); comma or semicolon; UTF-8 with or without a BOM. An
    /// address you keep is updated (empty cells leave a field as it was; tags
    /// are added), a new one is created (it needs a name); suppressed
    /// addresses are imported and stay suppressed. Every valid row is written
    /// in one transaction; `errors` lists the rest by line. `dry_run=true`
    /// checks only. A file that cannot be read at all is refused (422, field
    /// `file`).
    #[oai(path = "/import", method = "post")]
    async fn import(
        &self,
        service: Data<&Service>,
        auth: BearerAuth,
        dry_run: Query<Option<bool>>,
        body: CsvFile,
    ) -> Result<Json<ImportOut>, ApiError> {
        let report = service
            .app
            .clients
            .import(auth.0.actor, &body.0, dry_run.0.unwrap_or(false))
            .await?;
        Ok(Json(report.into()))
    }

    /// All your clients as CSV (with tags and unsubscribe times); importing
    /// the file again changes nothing.
    #[oai(path = "/export", method = "get")]
    async fn export(
        &self,
        service: Data<&Service>,
        auth: BearerAuth,
    ) -> Result<CsvExport, ApiError> {
        let csv = service.app.clients.export(auth.0.actor).await?;
        Ok(CsvExport::Csv(
            PlainText(csv),
            "attachment; filename=\"clients.csv\"".into(),
        ))
    }

    /// Your tags, with how many clients carry each.
    #[oai(path = "/tags", method = "get")]
    async fn tags(
        &self,
        service: Data<&Service>,
        auth: BearerAuth,
    ) -> Result<Json<Vec<TagOut>>, ApiError> {
        let tags = service.app.clients.tags(auth.0.actor).await?;
        Ok(Json(
            tags.into_iter()
                .map(|(tag, clients)| TagOut { tag, clients })
                .collect(),
        ))
    }

    /// One of your clients.
    #[oai(path = "/:id", method = "get")]
    async fn get(
        &self,
        service: Data<&Service>,
        auth: BearerAuth,
        id: Path<i64>,
    ) -> Result<Json<ClientOut>, ApiError> {
        let client = service
            .app
            .clients
            .get(auth.0.actor, ClientId(id.0))
            .await?;
        Ok(Json(client.into()))
    }

    /// Replace one of your clients.
    #[oai(path = "/:id", method = "put")]
    async fn update(
        &self,
        service: Data<&Service>,
        auth: BearerAuth,
        id: Path<i64>,
        body: Json<ClientIn>,
    ) -> Result<Json<ClientOut>, ApiError> {
        let client = service
            .app
            .clients
            .update(auth.0.actor, ClientId(id.0), &draft(&body)?)
            .await?;
        Ok(Json(client.into()))
    }

    /// Delete one of your clients; your mailings stop sending to them.
    #[oai(path = "/:id", method = "delete")]
    async fn delete(
        &self,
        service: Data<&Service>,
        auth: BearerAuth,
        id: Path<i64>,
    ) -> Result<NoContent, ApiError> {
        service
            .app
            .clients
            .delete(auth.0.actor, ClientId(id.0))
            .await?;
        Ok(NoContent::Done)
    }
}

//! The blog: the public list and posts, and the editor (admins) with an
//! optional image upload, stored in the uploads folder after its size and
//! type are checked.

use askama::Template;
use poem::handler;
use poem::http::StatusCode;
use poem::web::{Data, Multipart, Path, Query};
use poem::{IntoResponse, Response};
use skymailing_core::{Error, Page, PostDraft, PostId, Reason};

use crate::Service;
use crate::web::error::PageResult;
use crate::web::view::{
    Chrome, ConfirmDelete, FormState, ListParams, PostView, Viewer, after_submit, pager, render,
    see_other,
};

/// The largest image accepted for a post.
pub(crate) const MAX_IMAGE: usize = 2 * 1024 * 1024;

#[derive(Template)]
#[template(path = "blog_list.html")]
struct BlogList {
    c: Chrome,
    page: skymailing_core::Page<PostView>,
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
        .blog
        .list(viewer.actor, &params.query(10)?)
        .await?;
    let pager = pager(viewer.lang, &page, &params);
    Ok(render(&BlogList {
        c: viewer.chrome(),
        page: page.map(Into::into),
        pager,
    }))
}

#[derive(Template)]
#[template(path = "blog_post.html")]
struct PostPage {
    c: Chrome,
    post: PostView,
}

#[handler]
pub(crate) async fn show(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    Path(id): Path<i64>,
) -> PageResult {
    let post = service.app.blog.read(viewer.actor, PostId(id)).await?;
    Ok(render(&PostPage {
        c: viewer.chrome(),
        post: post.into(),
    }))
}

#[derive(Template)]
#[template(path = "admin_blog.html")]
struct Posts {
    c: Chrome,
    page: Page<PostView>,
    pager: String,
}

fn require_writer(service: &Service, viewer: &Viewer) -> Result<(), Error> {
    service.app.blog.can_write(viewer.actor)
}

#[handler]
pub(crate) async fn posts(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    Query(params): Query<ListParams>,
) -> PageResult {
    require_writer(&service, &viewer)?;
    let page = service
        .app
        .blog
        .list(viewer.actor, &params.query(25)?)
        .await?;
    let pager = pager(viewer.lang, &page, &params);
    Ok(render(&Posts {
        c: viewer.chrome(),
        page: page.map(Into::into),
        pager,
    }))
}

#[derive(Template)]
#[template(path = "post_form.html")]
struct PostForm {
    c: Chrome,
    title: String,
    action: String,
    f: FormState,
    v_title: String,
    v_body: String,
    v_image: Option<String>,
    v_published: bool,
}

#[derive(Default)]
struct PostInput {
    title: String,
    body: String,
    published: bool,
    remove_image: bool,
    upload: Option<(Vec<u8>, String)>,
}

/// Reads the editor's form. A failure (an image too large, a broken upload)
/// comes back with the fields read so far, so the text is not lost.
async fn read_post(mut form: Multipart) -> (PostInput, Option<Error>) {
    let mut input = PostInput::default();
    let bad = |_| Error::invalid("image", Reason::FormUnreadable);
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => return (input, None),
            Err(e) => return (input, Some(bad(e))),
        };
        let name = field.name().unwrap_or_default().to_owned();
        let read = match name.as_str() {
            "title" => field.text().await.map(|t| input.title = t).map_err(bad),
            "body" => field.text().await.map(|t| input.body = t).map_err(bad),
            "published" => {
                input.published = true;
                Ok(())
            }
            "remove_image" => {
                input.remove_image = true;
                Ok(())
            }
            "image" => read_image(field).await.map(|img| input.upload = img),
            _ => Ok(()),
        };
        if let Err(e) = read {
            return (input, Some(e));
        }
    }
}

async fn read_image(field: poem::web::Field) -> Result<Option<(Vec<u8>, String)>, Error> {
    use tokio::io::AsyncReadExt;
    let file = field.file_name().unwrap_or_default().to_owned();
    let mut bytes = Vec::new();
    let mut limited = field.into_async_read().take(MAX_IMAGE as u64 + 1);
    limited
        .read_to_end(&mut bytes)
        .await
        .map_err(|_| Error::invalid("image", Reason::UploadInterrupted))?;
    if bytes.len() > MAX_IMAGE {
        return Err(Error::invalid(
            "image",
            Reason::ImageTooLarge {
                max_mb: (MAX_IMAGE / (1024 * 1024)) as u32,
            },
        ));
    }
    Ok((!bytes.is_empty() || !file.is_empty()).then_some((bytes, file)))
}

/// The extension of a PNG, JPEG, GIF or WebP image, read from its first bytes
/// (never from the name the browser sent).
fn image_kind(bytes: &[u8]) -> Option<&'static str> {
    match bytes {
        [0x89, b'P', b'N', b'G', ..] => Some("png"),
        [0xFF, 0xD8, 0xFF, ..] => Some("jpg"),
        [b'G', b'I', b'F', b'8', ..] => Some("gif"),
        [
            b'R',
            b'I',
            b'F',
            b'F',
            _,
            _,
            _,
            _,
            b'W',
            b'E',
            b'B',
            b'P',
            ..,
        ] => Some("webp"),
        _ => None,
    }
}

async fn store_image(service: &Service, bytes: &[u8]) -> Result<String, Error> {
    let ext = image_kind(bytes).ok_or_else(|| Error::invalid("image", Reason::ImageType))?;
    let dir = service.uploads_dir();
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| Error::Internal(format!("uploads folder: {e}")))?;
    let name = format!("{}.{ext}", skymailing_core::security::random_hex(16));
    tokio::fs::write(dir.join(&name), bytes)
        .await
        .map_err(|e| Error::Internal(format!("saving an upload: {e}")))?;
    Ok(format!("/uploads/{name}"))
}

async fn save_post(
    service: &Service,
    viewer: &Viewer,
    id: Option<PostId>,
    input: &PostInput,
    current_image: Option<String>,
) -> Result<(), Error> {
    require_writer(service, viewer)?;
    // Validate the text first, so a bad title stores no file.
    PostDraft::parse(&input.title, &input.body, None, input.published)?;
    let image = match &input.upload {
        Some((bytes, _)) => Some(store_image(service, bytes).await?),
        None if input.remove_image => None,
        None => current_image,
    };
    let draft = PostDraft::parse(&input.title, &input.body, image.as_deref(), input.published)?;
    match id {
        None => service
            .app
            .blog
            .create(viewer.actor, &draft)
            .await
            .map(|_| ()),
        Some(id) => service
            .app
            .blog
            .update(viewer.actor, id, &draft)
            .await
            .map(|_| ()),
    }
}

fn post_form(
    viewer: &Viewer,
    title: &str,
    action: String,
    f: FormState,
    v: PostInput,
    image: Option<String>,
) -> Response {
    render(&PostForm {
        c: viewer.chrome(),
        title: viewer.t(title),
        action,
        f,
        v_title: v.title,
        v_body: v.body,
        v_image: image,
        v_published: v.published,
    })
}

#[handler]
pub(crate) async fn post_new(service: Data<&Service>, viewer: Data<&Viewer>) -> PageResult {
    require_writer(&service, &viewer)?;
    Ok(post_form(
        &viewer,
        "blog.new",
        "/admin/blog/new".into(),
        FormState::default(),
        PostInput::default(),
        None,
    ))
}

#[handler]
pub(crate) async fn post_create(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    form: Multipart,
) -> PageResult {
    require_writer(&service, &viewer)?;
    let (input, failed) = read_post(form).await;
    if let Some(e) = failed {
        let f = FormState::from_error(viewer.lang, e)?;
        return Ok(post_form(
            &viewer,
            "blog.new",
            "/admin/blog/new".into(),
            f,
            input,
            None,
        ));
    }
    let saved = save_post(&service, &viewer, None, &input, None).await;
    after_submit(
        viewer.lang,
        saved,
        |()| "/admin/blog".to_owned(),
        async |f| {
            Ok(post_form(
                &viewer,
                "blog.new",
                "/admin/blog/new".into(),
                f,
                input,
                None,
            ))
        },
    )
    .await
}

#[handler]
pub(crate) async fn post_edit(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    Path(id): Path<i64>,
) -> PageResult {
    require_writer(&service, &viewer)?;
    let p = service.app.blog.get(viewer.actor, PostId(id)).await?;
    let input = PostInput {
        title: p.title,
        body: p.body,
        published: p.published,
        ..PostInput::default()
    };
    Ok(post_form(
        &viewer,
        "blog.edit",
        format!("/admin/blog/{id}/edit"),
        FormState::default(),
        input,
        p.image,
    ))
}

#[handler]
pub(crate) async fn post_update(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    Path(id): Path<i64>,
    form: Multipart,
) -> PageResult {
    require_writer(&service, &viewer)?;
    let current = service.app.blog.get(viewer.actor, PostId(id)).await?.image;
    let action = format!("/admin/blog/{id}/edit");
    let (input, failed) = read_post(form).await;
    if let Some(e) = failed {
        let f = FormState::from_error(viewer.lang, e)?;
        return Ok(post_form(&viewer, "blog.edit", action, f, input, current));
    }
    let saved = save_post(&service, &viewer, Some(PostId(id)), &input, current.clone()).await;
    after_submit(
        viewer.lang,
        saved,
        |()| "/admin/blog".to_owned(),
        async |f| Ok(post_form(&viewer, "blog.edit", action, f, input, current)),
    )
    .await
}

#[handler]
pub(crate) async fn post_delete_form(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    Path(id): Path<i64>,
) -> PageResult {
    require_writer(&service, &viewer)?;
    let p = service.app.blog.get(viewer.actor, PostId(id)).await?;
    Ok(render(&ConfirmDelete {
        c: viewer.chrome(),
        what: p.title,
        back: "/admin/blog".into(),
        error: None,
    }))
}

#[handler]
pub(crate) async fn post_delete(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    Path(id): Path<i64>,
) -> PageResult {
    service.app.blog.delete(viewer.actor, PostId(id)).await?;
    Ok(see_other("/admin/blog"))
}

/// An uploaded image. Names are ours (random hex and the checked type), so
/// nothing else in the folder can be reached.
#[handler]
pub(crate) async fn upload(service: Data<&Service>, Path(file): Path<String>) -> Response {
    let Some((stem, ext)) = file.split_once('.') else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let ty = match ext {
        "png" => "image/png",
        "jpg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    if stem.is_empty() || !stem.bytes().all(|b| b.is_ascii_hexdigit()) {
        return StatusCode::NOT_FOUND.into_response();
    }
    match tokio::fs::read(service.uploads_dir().join(&file)).await {
        Ok(bytes) => bytes
            .with_content_type(ty)
            .with_header("cache-control", "public, max-age=86400")
            .into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::image_kind;

    #[test]
    fn images_are_recognised_by_their_bytes() {
        assert_eq!(image_kind(b"\x89PNG\r\n\x1a\n...."), Some("png"));
        assert_eq!(image_kind(b"\xFF\xD8\xFF\xE0...."), Some("jpg"));
        assert_eq!(image_kind(b"GIF89a..."), Some("gif"));
        assert_eq!(image_kind(b"RIFF\0\0\0\0WEBPVP8 "), Some("webp"));
        assert_eq!(image_kind(b"<svg onload=alert(1)>"), None);
        assert_eq!(image_kind(b""), None);
    }
}

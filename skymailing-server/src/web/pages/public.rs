//! What everyone may open: the home page and the blog; and the language switch.

use askama::Template;
use poem::handler;
use poem::web::cookie::{Cookie, CookieJar, SameSite};
use poem::web::{Data, Form, Path, Query};
use skymailing_core::PostId;

use crate::Service;
use crate::web::error::PageResult;
use crate::web::i18n::{LANG_COOKIE, Lang};
use crate::web::view::{
    Chrome, ListParams, PostView, Viewer, local_path, pager, render, see_other,
};

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    c: Chrome,
    stats: skymailing_core::ports::Stats,
    posts: Vec<PostView>,
}

#[handler]
pub(crate) async fn home(service: Data<&Service>, viewer: Data<&Viewer>) -> PageResult {
    let page = service.app.stats.home_page().await?;
    Ok(render(&Home {
        c: viewer.chrome(),
        stats: page.stats,
        posts: page.posts.into_iter().map(Into::into).collect(),
    }))
}

#[derive(Template)]
#[template(path = "blog_list.html")]
struct BlogList {
    c: Chrome,
    page: skymailing_core::Page<PostView>,
    pager: String,
}

#[handler]
pub(crate) async fn blog(
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
pub(crate) async fn post(
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

#[derive(serde::Deserialize)]
pub(crate) struct LangForm {
    lang: String,
    #[serde(default)]
    next: String,
}

#[handler]
pub(crate) async fn set_lang(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    jar: &CookieJar,
    Form(form): Form<LangForm>,
) -> PageResult {
    let lang = Lang::parse(&form.lang).unwrap_or(Lang::En);
    // A signed-in user's choice is their setting, on every browser.
    if viewer.user.is_some() {
        service
            .app
            .accounts
            .set_language(viewer.actor, lang.code())
            .await?;
    }
    let mut c = Cookie::new_with_str(LANG_COOKIE, lang.code());
    c.set_path("/");
    c.set_same_site(SameSite::Lax);
    c.set_http_only(true);
    c.set_secure(service.settings.base_url.starts_with("https://"));
    c.set_max_age(std::time::Duration::from_secs(365 * 24 * 3600));
    jar.add(c);
    Ok(see_other(&local_path(&form.next)))
}

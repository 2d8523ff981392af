//! What everyone may open: the home page and the blog; and the language switch.

use askama::Template;
use chrono::{DateTime, Utc};
use poem::handler;
use poem::web::cookie::{Cookie, CookieJar, SameSite};
use poem::web::{Data, Form, Path, Query};
use skymailing_core::{BlogPost, PostId};

use super::{ListParams, PageResult, pager};
use crate::Service;
use crate::web::i18n::LANG_COOKIE;
use crate::web::{Chrome, Lang, Viewer, render, see_other};

/// A post as the pages show it.
pub(crate) struct PostView {
    pub id: i64,
    pub title: String,
    pub body: String,
    pub image: Option<String>,
    pub published: bool,
    pub views: u64,
    pub published_at: Option<DateTime<Utc>>,
}

impl From<BlogPost> for PostView {
    fn from(p: BlogPost) -> Self {
        PostView {
            id: p.id.0,
            title: p.title,
            body: p.body,
            image: p.image,
            published: p.published,
            views: p.views,
            published_at: p.published_at,
        }
    }
}

impl PostView {
    /// The first 200 characters.
    pub fn excerpt(&self) -> String {
        let mut s: String = self.body.chars().take(200).collect();
        if self.body.chars().count() > 200 {
            s.push('…');
        }
        s
    }

    /// The body's paragraphs (blank-line separated).
    pub fn paragraphs(&self) -> Vec<&str> {
        self.body
            .split("\n\n")
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect()
    }
}

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

/// A path on this site to go back to; anything else is `/`. Only plain path
/// and query characters pass: browsers drop tabs and newlines from a
/// `Location` and read `\\` as `/`, so `/\t/evil.example` would leave the site.
pub(crate) fn local_path(next: &str) -> String {
    let plain = next
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/-._~%?&=+,;:@!$'()*".contains(&b));
    let mut chars = next.chars();
    let local = chars.next() == Some('/') && !matches!(chars.next(), Some('/'));
    if plain && local {
        next.to_owned()
    } else {
        "/".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_paths_of_this_site_are_returned_to() {
        for ok in ["/", "/clients", "/clients?page=2&q=ann", "/mailings/5"] {
            assert_eq!(local_path(ok), ok);
        }
        for bad in [
            "//evil.example/",
            "/\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "https://evil.example",
            "evil",
            "",
            " /x",
            "/x y",
        ] {
            assert_eq!(local_path(bad), "/", "{bad:?}");
        }
    }
}

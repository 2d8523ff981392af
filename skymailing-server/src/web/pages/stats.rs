//! The home page: the live statistics and three blog posts.

use askama::Template;
use poem::handler;
use poem::web::Data;

use crate::Service;
use crate::web::error::PageResult;
use crate::web::view::{Chrome, PostView, Viewer, render};

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

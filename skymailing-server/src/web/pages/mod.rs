//! The page handlers, a file per area. Each parses its form, calls one core
//! use case and renders a template; a validation error re-renders the form
//! with the input kept and the message next to its field.

mod account;
mod admin;
mod content;
mod log;
mod mailings;
mod outbox;
mod public;

pub(crate) use admin::MAX_IMAGE;

use askama::Template;
use poem::endpoint::make_sync;
use poem::http::header;
use poem::{IntoResponse, Route, get};
use skymailing_core::{Error, ListQuery, Page};

use super::session::PageError;
use super::{Chrome, Lang};

pub(crate) fn routes() -> Route {
    Route::new()
        .at("/", get(public::home))
        .at("/blog", get(public::blog))
        .at("/blog/:id", get(public::post))
        .at("/lang", poem::post(public::set_lang))
        .at("/signup", get(account::signup_form).post(account::signup))
        .at("/verify", get(account::verify_form).post(account::verify))
        .at("/signin", get(account::signin_form).post(account::signin))
        .at("/signout", poem::post(account::signout))
        .at(
            "/password-reset",
            get(account::reset_form).post(account::reset_request),
        )
        .at(
            "/password-reset/confirm",
            get(account::reset_confirm_form).post(account::reset_confirm),
        )
        .at(
            "/profile",
            get(account::profile).post(account::update_profile),
        )
        .at("/profile/password", poem::post(account::change_password))
        .at("/clients", get(content::clients))
        .at(
            "/clients/new",
            get(content::client_new).post(content::client_create),
        )
        .at(
            "/clients/:id/edit",
            get(content::client_edit).post(content::client_update),
        )
        .at(
            "/clients/:id/delete",
            get(content::client_delete_form).post(content::client_delete),
        )
        .at("/messages", get(content::messages))
        .at(
            "/messages/new",
            get(content::message_new).post(content::message_create),
        )
        .at(
            "/messages/:id/edit",
            get(content::message_edit).post(content::message_update),
        )
        .at(
            "/messages/:id/delete",
            get(content::message_delete_form).post(content::message_delete),
        )
        .at("/mailings", get(mailings::list))
        .at(
            "/mailings/new",
            get(mailings::new_form).post(mailings::create),
        )
        .at("/mailings/:id", get(mailings::show))
        .at(
            "/mailings/:id/edit",
            get(mailings::edit_form).post(mailings::update),
        )
        .at(
            "/mailings/:id/delete",
            get(mailings::delete_form).post(mailings::delete),
        )
        .at("/mailings/:id/progress", get(mailings::progress))
        .at("/mailings/:id/disable", poem::post(mailings::disable))
        .at("/mailings/:id/enable", poem::post(mailings::enable))
        .at("/log", get(log::list))
        .at("/log/:id", get(log::run))
        .at("/runs/:id/progress", get(log::progress))
        .at("/users", get(admin::users))
        .at("/users/:id/block", poem::post(admin::block))
        .at("/users/:id/unblock", poem::post(admin::unblock))
        .at("/users/:id/role", poem::post(admin::set_role))
        .at("/admin/blog", get(admin::posts))
        .at(
            "/admin/blog/new",
            get(admin::post_new).post(admin::post_create),
        )
        .at(
            "/admin/blog/:id/edit",
            get(admin::post_edit).post(admin::post_update),
        )
        .at(
            "/admin/blog/:id/delete",
            get(admin::post_delete_form).post(admin::post_delete),
        )
        .at("/uploads/:file", get(admin::upload))
        .at("/outbox", get(outbox::list))
        .at("/outbox/:file", get(outbox::show))
}

/// The stylesheet and the script, compiled into the binary.
pub(crate) fn static_files() -> Route {
    let asset = |body: &'static str, ty: &'static str| {
        make_sync(move |_| {
            body.with_content_type(ty)
                .with_header(header::CACHE_CONTROL, "public, max-age=3600")
        })
    };
    Route::new()
        .at(
            "/app.css",
            asset(
                include_str!("../../../static/app.css"),
                "text/css; charset=utf-8",
            ),
        )
        .at(
            "/app.js",
            asset(
                include_str!("../../../static/app.js"),
                "text/javascript; charset=utf-8",
            ),
        )
}

#[derive(Template)]
#[template(path = "error.html")]
pub(crate) struct ErrorPage {
    pub c: Chrome,
    pub status: u16,
    pub title: String,
    pub text: String,
}

#[derive(Template)]
#[template(path = "notice.html")]
pub(crate) struct NoticePage {
    pub c: Chrome,
    pub title: String,
    pub text: String,
    pub link: Option<(String, String)>,
}

/// The result of a page handler.
pub(crate) type PageResult = Result<poem::Response, PageError>;

/// A form's error state: one field's message, or a message for the whole form.
#[derive(Debug, Default)]
pub(crate) struct FormState {
    pub field: Option<String>,
    pub message: String,
    pub general: Option<String>,
}

impl FormState {
    /// The message for `name`, if it is the field at fault.
    pub fn err(&self, name: &str) -> Option<&str> {
        (self.field.as_deref() == Some(name)).then_some(self.message.as_str())
    }

    /// A form error for a validation or conflict error; any other error is
    /// the page's (rendered as an error page).
    pub fn from_error(lang: Lang, e: Error) -> Result<FormState, PageError> {
        match e {
            Error::Invalid { field, reason } => Ok(FormState {
                field: Some(field.to_owned()),
                message: lang.reason(&reason),
                general: None,
            }),
            Error::Conflict(reason) => Ok(FormState {
                general: Some(lang.reason(&reason)),
                ..FormState::default()
            }),
            e => Err(PageError(e)),
        }
    }

    /// A message for the whole form.
    pub fn general(text: String) -> FormState {
        FormState {
            general: Some(text),
            ..FormState::default()
        }
    }
}

/// `page`, `q` of a list page.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct ListParams {
    #[serde(default)]
    pub page: Option<u32>,
    #[serde(default)]
    pub q: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
}

impl ListParams {
    pub fn query(&self, per_page: u32) -> Result<ListQuery, PageError> {
        let q = self.q.as_deref().filter(|s| !s.trim().is_empty());
        Ok(ListQuery::new(self.page.unwrap_or(1).max(1), per_page, q)?)
    }

    pub fn q(&self) -> String {
        self.q.clone().unwrap_or_default()
    }
}

/// Previous/next links of a list, keeping the search.
pub(crate) fn pager<T>(lang: Lang, page: &Page<T>, params: &ListParams) -> String {
    let pages = page.total.div_ceil(u64::from(page.per_page.max(1))).max(1);
    if pages <= 1 {
        return String::new();
    }
    let mut extra = String::new();
    if let Some(q) = params.q.as_deref().filter(|q| !q.is_empty()) {
        extra.push_str(&format!("&amp;q={}", super::session::urlencode(q)));
    }
    if let Some(s) = params.scope.as_deref() {
        extra.push_str(&format!("&amp;scope={}", super::session::urlencode(s)));
    }
    let current = u64::from(page.page);
    let mut html = String::from("<nav class=\"pager\">");
    if current > 1 {
        html.push_str(&format!(
            "<a href=\"?page={}{extra}\" rel=\"prev\">← {}</a>",
            current - 1,
            lang.t("pager.prev")
        ));
    }
    html.push_str(&format!(
        "<span>{}</span>",
        lang.t("pager.of")
            .replace("%{page}", &current.to_string())
            .replace("%{pages}", &pages.to_string())
    ));
    if current < pages {
        html.push_str(&format!(
            "<a href=\"?page={}{extra}\" rel=\"next\">{} →</a>",
            current + 1,
            lang.t("pager.next")
        ));
    }
    html.push_str("</nav>");
    html
}

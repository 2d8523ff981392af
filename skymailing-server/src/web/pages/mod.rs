//! The page handlers, a file per noun (accounts, clients, messages,
//! mailings, log, blog, stats — as in core and the stores — plus the
//! recipient's unsubscribe page and the development outbox). Each parses its
//! form, calls one core use case and renders a template; a validation error
//! re-renders the form with the input kept and the message next to its field.

mod accounts;
mod blog;
mod clients;
mod dashboard;
mod log;
mod mailings;
mod messages;
mod outbox;
mod stats;
mod suppressions;
pub(crate) mod unsubscribe;
pub(crate) mod verify_link;

pub(crate) use blog::MAX_IMAGE;
pub(crate) use clients::MAX_IMPORT_FILE;

use poem::endpoint::make_sync;
use poem::http::header;
use poem::{IntoResponse, Route, get};

pub(crate) fn routes() -> Route {
    Route::new()
        .at("/", get(stats::home))
        .at("/dashboard", get(dashboard::dashboard))
        .at("/blog", get(blog::list))
        .at("/blog/:id", get(blog::show))
        .at("/lang", poem::post(accounts::set_lang))
        .at("/signup", get(accounts::signup_form).post(accounts::signup))
        .at("/verify", get(accounts::verify_form).post(accounts::verify))
        .at("/signin", get(accounts::signin_form).post(accounts::signin))
        .at("/signout", poem::post(accounts::signout))
        .at(
            "/password-reset",
            get(accounts::reset_form).post(accounts::reset_request),
        )
        .at(
            "/password-reset/confirm",
            get(accounts::reset_confirm_form).post(accounts::reset_confirm),
        )
        .at(
            "/profile",
            get(accounts::profile).post(accounts::update_profile),
        )
        .at("/profile/password", poem::post(accounts::change_password))
        .at("/clients", get(clients::clients))
        .at(
            "/clients/import",
            get(clients::import_form).post(clients::import_submit),
        )
        .at("/clients/export", get(clients::export))
        .at(
            "/clients/suppressions",
            get(suppressions::list).post(suppressions::add),
        )
        .at(
            "/clients/suppressions/:id/lift",
            poem::post(suppressions::lift),
        )
        .at(
            "/clients/new",
            get(clients::client_new).post(clients::client_create),
        )
        .at(
            "/clients/:id/edit",
            get(clients::client_edit).post(clients::client_update),
        )
        .at(
            "/clients/:id/delete",
            get(clients::client_delete_form).post(clients::client_delete),
        )
        .at("/messages", get(messages::messages))
        .at(
            "/messages/new",
            get(messages::message_new).post(messages::message_create),
        )
        .at(
            "/messages/:id/edit",
            get(messages::message_edit).post(messages::message_update),
        )
        .at("/messages/:id/preview", get(messages::preview))
        .at(
            "/messages/:id/delete",
            get(messages::message_delete_form).post(messages::message_delete),
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
        .at("/mailings/:id/test", poem::post(mailings::test_send))
        .at("/mailings/:id/duplicate", get(mailings::duplicate))
        .at("/mailings/:id/disable", poem::post(mailings::disable))
        .at("/mailings/:id/enable", poem::post(mailings::enable))
        .at("/log", get(log::list))
        .at("/log/:id", get(log::run))
        .at("/runs/:id/progress", get(log::progress))
        .at("/runs/:id/cancel", poem::post(log::cancel))
        .at("/runs/:id/resume", poem::post(log::resume))
        .at("/users", get(accounts::users))
        .at("/users/:id/block", poem::post(accounts::block))
        .at("/users/:id/unblock", poem::post(accounts::unblock))
        .at("/users/:id/role", poem::post(accounts::set_role))
        .at("/admin/blog", get(blog::posts))
        .at(
            "/admin/blog/new",
            get(blog::post_new).post(blog::post_create),
        )
        .at(
            "/admin/blog/:id/edit",
            get(blog::post_edit).post(blog::post_update),
        )
        .at(
            "/admin/blog/:id/delete",
            get(blog::post_delete_form).post(blog::post_delete),
        )
        .at("/uploads/:file", get(blog::upload))
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
        .at(
            "/favicon.svg",
            asset(include_str!("../../../static/favicon.svg"), "image/svg+xml"),
        )
}

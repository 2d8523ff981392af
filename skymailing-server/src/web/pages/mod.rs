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
pub(crate) mod unsubscribe;

pub(crate) use admin::MAX_IMAGE;

use poem::endpoint::make_sync;
use poem::http::header;
use poem::{IntoResponse, Route, get};

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

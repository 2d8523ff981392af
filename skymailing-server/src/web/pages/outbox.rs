//! The outbox pages, in outbox mode only: the mail the service "sent", so a
//! new user can open their own verification link. They exist for development
//! and evaluation (nothing leaves the machine in that mode): they answer only
//! visitors on this machine (loopback) and admins, since every account's
//! links are in there; with a real relay they answer 404.

use askama::Template;
use poem::handler;
use poem::web::{Data, Path};
use skymailing_core::Error;
use skymailing_smtp::{Outbox, OutboxEntry};

use crate::Service;
use crate::web::error::PageResult;
use crate::web::view::{Chrome, Viewer, render};

#[derive(Template)]
#[template(path = "outbox.html")]
struct List {
    c: Chrome,
    mails: Vec<OutboxEntry>,
}

/// The outbox, if this visitor may read it (see `Viewer::outbox`).
fn outbox<'a>(service: &'a Service, viewer: &Viewer) -> Result<&'a Outbox, Error> {
    match service.outbox.as_deref() {
        Some(outbox) if viewer.outbox => Ok(outbox),
        _ => Err(Error::NotFound),
    }
}

#[handler]
pub(crate) async fn list(service: Data<&Service>, viewer: Data<&Viewer>) -> PageResult {
    let outbox = outbox(&service, &viewer)?;
    let mails = outbox
        .list(100)
        .await
        .map_err(|e| Error::Internal(format!("reading the outbox: {e}")))?;
    Ok(render(&List {
        c: viewer.chrome(),
        mails,
    }))
}

pub(crate) struct Line {
    pub text: String,
    pub link: Option<String>,
}

#[derive(Template)]
#[template(path = "outbox_mail.html")]
struct Show {
    c: Chrome,
    mail: OutboxEntry,
    lines: Vec<Line>,
}

#[handler]
pub(crate) async fn show(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    Path(file): Path<String>,
) -> PageResult {
    let outbox = outbox(&service, &viewer)?;
    let mail = outbox
        .read(&file)
        .await
        .map_err(|e| Error::Internal(format!("reading the outbox: {e}")))?
        .ok_or(Error::NotFound)?;
    // Links to this service become clickable; everything else is text.
    let base = service.settings.base_url.clone();
    let lines = mail
        .text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let t = l.trim();
            // Relative, so the link works whatever host the browser used,
            // and never off this site.
            let link = t
                .strip_prefix(base.as_str())
                .map(crate::web::view::local_path)
                .filter(|l| l != "/");
            Line {
                text: l.to_owned(),
                link,
            }
        })
        .collect();
    Ok(render(&Show {
        c: viewer.chrome(),
        mail,
        lines,
    }))
}

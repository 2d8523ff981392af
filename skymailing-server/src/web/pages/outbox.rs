//! The outbox pages, in outbox mode only: the mail the service "sent", so a
//! new user can open their own verification link. They exist for development
//! and evaluation (nothing leaves the machine in that mode); with a real
//! relay they answer 404.

use askama::Template;
use poem::handler;
use poem::web::{Data, Path};
use skymailing_core::Error;
use skymailing_smtp::OutboxEntry;

use super::PageResult;
use crate::Service;
use crate::web::{Chrome, Viewer, render};

#[derive(Template)]
#[template(path = "outbox.html")]
struct List {
    c: Chrome,
    mails: Vec<OutboxEntry>,
}

#[handler]
pub(crate) async fn list(service: Data<&Service>, viewer: Data<&Viewer>) -> PageResult {
    let outbox = service.outbox.as_ref().ok_or(Error::NotFound)?;
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
    let outbox = service.outbox.as_ref().ok_or(Error::NotFound)?;
    let mail = outbox
        .read(&file)
        .await
        .map_err(|e| Error::Internal(format!("reading the outbox: {e}")))?
        .ok_or(Error::NotFound)?;
    // Links to this service become clickable; everything else is text.
    let base = service.app.config.base_url.clone();
    let lines = mail
        .text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let t = l.trim();
            let link = t.starts_with(&base).then(|| {
                // Relative, so the link works whatever host the browser used.
                let rest = &t[base.len()..];
                if rest.starts_with('/') {
                    rest.to_owned()
                } else {
                    format!("/{rest}")
                }
            });
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

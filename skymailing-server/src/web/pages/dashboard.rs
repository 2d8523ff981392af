//! The dashboard a signed-in user lands on: their mailings with the next
//! runs, their recent runs and the next steps (managers: everyone's).

use askama::Template;
use poem::handler;
use poem::web::Data;
use skymailing_core::ListQuery;
use skymailing_core::service::MailingScope;

use crate::Service;
use crate::web::error::PageResult;
use crate::web::pages::mailings::{MailingRow, row};
use crate::web::view::{Chrome, RunRow, Viewer, render, run_row};

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard {
    c: Chrome,
    name: String,
    mailings: Vec<MailingRow>,
    mailings_total: u64,
    runs: Vec<RunRow>,
    /// Whether the lists are everyone's (a manager's view).
    everyone: bool,
    clients_total: u64,
}

#[handler]
pub(crate) async fn dashboard(service: Data<&Service>, viewer: Data<&Viewer>) -> PageResult {
    viewer.actor.principal()?;
    let chrome = viewer.chrome();
    let own = chrome.has_own_data();
    let ten = ListQuery::new(1, 10, None)?;
    let scope = if own {
        MailingScope::Own
    } else {
        MailingScope::All
    };
    let mailings = service.app.mailings.list(viewer.actor, scope, &ten).await?;
    let runs = if own {
        service.app.mailings.own_runs(viewer.actor, &ten).await?
    } else {
        service.app.logs.list(viewer.actor, &ten).await?
    };
    let clients_total = if own {
        service
            .app
            .clients
            .list(viewer.actor, &ListQuery::new(1, 1, None)?)
            .await?
            .total
    } else {
        0
    };
    Ok(render(&Dashboard {
        name: viewer
            .user
            .as_ref()
            .map(|u| u.name.to_string())
            .unwrap_or_default(),
        c: chrome,
        mailings_total: mailings.total,
        mailings: mailings
            .items
            .into_iter()
            .map(|v| row(&viewer, v))
            .collect(),
        runs: runs
            .items
            .into_iter()
            .map(|r| run_row(&viewer, r))
            .collect(),
        everyone: !own,
        clients_total,
    }))
}

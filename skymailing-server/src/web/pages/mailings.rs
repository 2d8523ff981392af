//! Mailings: the list (own, or everyone's for managers and admins), the form
//! (only the owner's clients and the messages are offered; times are entered
//! in the owner's time zone), the page with its runs and the live progress of
//! a running one, and the enable/disable buttons.

use askama::Template;
use chrono::{DateTime, NaiveDateTime, Timelike, Utc};
use poem::handler;
use poem::web::{Data, Path, Query};
use skymailing_core::service::{MailingScope, MailingView};
use skymailing_core::{
    Audience, ClientFilter, ClientId, Error, ListQuery, MailingDraft, MailingId, MailingInput,
    MessageId, Reason, split_tags,
};

use crate::Service;
use crate::web::error::{PageError, PageResult};
use crate::web::view::{
    Chrome, ConfirmDelete, FormState, ListParams, Progress, RunRow, Viewer, after_submit, local,
    pager, render, run_progress, run_row, see_other, tz_of,
};

/// A mailing as the pages show it, times in the viewer's zone.
pub(crate) struct MailingRow {
    pub id: i64,
    pub name: String,
    pub status: &'static str,
    pub status_label: String,
    pub periodicity_label: String,
    pub next_run: String,
    pub window: String,
    pub enabled: bool,
    /// Why it is disabled, in words, while it is.
    pub disabled_note: Option<String>,
    pub recipients: usize,
    /// Tags whose clients each run reaches.
    pub tags: Vec<String>,
    /// Its owner, for staff looking at others' mailings.
    pub owner: Option<String>,
}

pub(crate) fn row(viewer: &Viewer, v: MailingView) -> MailingRow {
    let m = v.mailing;
    MailingRow {
        id: m.id.0,
        status: v.status.as_str(),
        status_label: viewer.t(&format!("status.{}", v.status.as_str())),
        periodicity_label: viewer.t(&format!("periodicity.{}", m.periodicity.as_str())),
        next_run: m
            .next_run_at
            .filter(|_| v.status.shows_next_run())
            .map_or_else(|| "—".to_owned(), |t| local(viewer, t)),
        window: format!(
            "{} — {}",
            local(viewer, m.start_at),
            if m.has_end() {
                local(viewer, m.end_at)
            } else {
                viewer.t("mailings.no_end")
            }
        ),
        enabled: m.enabled,
        disabled_note: m
            .disabled_by
            .map(|by| viewer.t(&format!("mailings.disabled_by.{}", by.as_str()))),
        recipients: m.client_ids.len(),
        tags: m.tags,
        name: m.name,
        owner: v.owner.map(|o| format!("{} <{}>", o.name, o.email)),
    }
}

#[derive(Template)]
#[template(path = "mailings.html")]
struct List {
    c: Chrome,
    items: Vec<MailingRow>,
    q: String,
    scope: String,
    pager: String,
    /// Whether the list shows owners (everyone's mailings).
    owners: bool,
}

#[handler]
pub(crate) async fn list(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    Query(params): Query<ListParams>,
) -> PageResult {
    let p = viewer.actor.principal()?;
    let scope = match params.scope.as_deref() {
        Some("own") => MailingScope::Own,
        Some("all") => MailingScope::All,
        _ => MailingScope::default_for(p.role),
    };
    let page = service
        .app
        .mailings
        .list(viewer.actor, scope, &params.query(25)?)
        .await?;
    let pager = pager(viewer.lang, &page, &params);
    Ok(render(&List {
        c: viewer.chrome(),
        owners: scope == MailingScope::All,
        items: page.items.into_iter().map(|v| row(&viewer, v)).collect(),
        q: params.q(),
        scope: if scope == MailingScope::All {
            "all"
        } else {
            "own"
        }
        .into(),
        pager,
    }))
}

/// The form's values, as typed.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct Values {
    #[serde(default)]
    name: String,
    #[serde(default)]
    message_id: String,
    #[serde(default)]
    client_ids: Vec<i64>,
    #[serde(default)]
    start_at: String,
    #[serde(default)]
    end_at: String,
    #[serde(default)]
    periodicity: String,
    /// Tags whose clients each run reaches, as typed (`vip, berlin`).
    #[serde(default)]
    tags: String,
    /// The picker's search text and tag.
    #[serde(default)]
    pick_q: String,
    #[serde(default)]
    pick_tag: String,
    /// The filter the listed clients and their count were drawn with: what
    /// "add all matching" adds, whatever the filter fields say since.
    #[serde(default)]
    applied_q: String,
    #[serde(default)]
    applied_tag: String,
    /// "Add all clients matching" the picker's filter.
    #[serde(default)]
    all_matching: bool,
    /// `filter`: the picker's button; show the form again, save nothing.
    #[serde(default)]
    action: String,
    /// The mailing's own sender name and Reply-To (empty: the owner's).
    #[serde(default)]
    sender_name: String,
    #[serde(default)]
    reply_to: String,
}

#[derive(Template)]
#[template(path = "mailing_form.html")]
struct FormPage {
    c: Chrome,
    title: String,
    f: FormState,
    v: Values,
    messages: Vec<(i64, String)>,
    clients: Vec<(i64, String)>,
    /// How many clients match the picker's filter.
    matching: u64,
    /// The owner's tags with their numbers of clients.
    tags: Vec<(String, u64)>,
    /// Chosen clients beyond the listed ones: kept as they are.
    unlisted_clients: Vec<i64>,
    periodicities: Vec<(String, String)>,
    tz: String,
    /// The sender an empty sender name and Reply-To stand for: the owner's.
    own_sender: (String, String),
}

async fn form_page(
    service: &Service,
    viewer: &Viewer,
    title: &str,
    f: FormState,
    v: Values,
) -> PageResult {
    // The owner's own clients only (the use case would refuse others anyway):
    // the first 200 matching the picker's filter (the rest are reached by
    // "all matching", a tag, or a narrower search), and the messages.
    let all = ListQuery::new(1, 200, None)?;
    let pick = ListQuery::new(1, 200, Some(&v.pick_q))
        .and_then(|q| q.with_tag(Some(&v.pick_tag)))
        .unwrap_or_else(|_| all.clone());
    let clients = service.app.clients.list(viewer.actor, &pick).await?;
    let tags = service.app.clients.tags(viewer.actor).await?;
    let mut messages: Vec<(i64, String)> = service
        .app
        .messages
        .list(viewer.actor, &all)
        .await?
        .items
        .into_iter()
        .map(|m| (m.id.0, m.subject))
        .collect();
    // What the mailing uses is always offered, listed or not, so that saving
    // the form never changes its message or drops a recipient unseen.
    if let Ok(id) = v.message_id.parse::<i64>()
        && !messages.iter().any(|(m, _)| *m == id)
        && let Ok(m) = service.app.messages.get(viewer.actor, MessageId(id)).await
    {
        messages.insert(0, (m.id.0, m.subject));
    }
    let listed: Vec<i64> = clients.items.iter().map(|c| c.id.0).collect();
    let unlisted_clients = v
        .client_ids
        .iter()
        .copied()
        .filter(|id| !listed.contains(id))
        .collect();
    Ok(render(&FormPage {
        c: viewer.chrome(),
        title: viewer.t(title),
        f,
        v,
        messages,
        matching: clients.total,
        tags,
        clients: clients
            .items
            .into_iter()
            .map(|c| {
                let label = if c.full_name.is_empty() {
                    c.email.to_string()
                } else {
                    format!("{} <{}>", c.full_name, c.email)
                };
                (c.id.0, label)
            })
            .collect(),
        unlisted_clients,
        periodicities: ["once", "daily", "weekly", "monthly"]
            .into_iter()
            .map(|p| (p.to_owned(), viewer.t(&format!("periodicity.{p}"))))
            .collect(),
        tz: tz_of(viewer).to_string(),
        own_sender: viewer
            .user
            .as_ref()
            .map(|u| {
                let (name, reply_to) =
                    skymailing_core::Sender::effective(&skymailing_core::Sender::default(), u);
                (name.to_string(), reply_to.to_string())
            })
            .unwrap_or_default(),
    }))
}

fn input_time(viewer: &Viewer, t: DateTime<Utc>) -> String {
    let local = tz_of(viewer).local(t);
    let format = if local.second() == 0 {
        "%Y-%m-%dT%H:%M"
    } else {
        "%Y-%m-%dT%H:%M:%S"
    };
    local.format(format).to_string()
}

/// A `datetime-local` value in the viewer's zone, resolved as schedules
/// resolve local times (a DST gap takes the offset before it).
fn parse_time(viewer: &Viewer, field: &'static str, s: &str) -> Result<DateTime<Utc>, Error> {
    let naive = NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%dT%H:%M"))
        .map_err(|_| Error::invalid(field, Reason::DateTimeRequired))?;
    Ok(skymailing_core::schedule::resolve_local(
        tz_of(viewer),
        naive,
    ))
}

impl Values {
    fn draft(&self, viewer: &Viewer) -> Result<MailingDraft, Error> {
        let audience = self
            .all_matching
            .then(|| ClientFilter::new(Some(&self.applied_q), Some(&self.applied_tag)))
            .transpose()
            .map(|matching| Audience {
                client_ids: self.client_ids.iter().copied().map(ClientId).collect(),
                tags: split_tags(&self.tags).map(str::to_owned).collect(),
                matching,
            });
        MailingDraft::from_input(MailingInput {
            name: &self.name,
            message_id: self
                .message_id
                .parse::<i64>()
                .map(MessageId)
                .map_err(|_| Error::invalid("message_id", Reason::NoSuchMessage)),
            audience,
            start_at: parse_time(viewer, "start_at", &self.start_at),
            // An empty end is none (a once-only mailing needs none).
            end_at: Some(self.end_at.trim())
                .filter(|e| !e.is_empty())
                .map(|e| parse_time(viewer, "end_at", e))
                .transpose(),
            periodicity: &self.periodicity,
            sender_name: &self.sender_name,
            reply_to: &self.reply_to,
        })
    }
}

/// A mailing's own sender as the form's two fields (empty: unset).
fn sender_fields(s: &skymailing_core::Sender) -> (String, String) {
    (
        s.name.as_ref().map(ToString::to_string).unwrap_or_default(),
        s.reply_to
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
    )
}

/// Reads the form: `client_ids` repeats, which serde's form decoding does not
/// collect, so the pairs are read by hand.
fn read_form(body: &str) -> Values {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(body).unwrap_or_default();
    let mut v = Values::default();
    for (k, val) in pairs {
        match k.as_str() {
            "name" => v.name = val,
            "message_id" => v.message_id = val,
            "client_ids" => v.client_ids.extend(val.parse::<i64>().ok()),
            "start_at" => v.start_at = val,
            "end_at" => v.end_at = val,
            "periodicity" => v.periodicity = val,
            "tags" => v.tags = val,
            "pick_q" => v.pick_q = val,
            "pick_tag" => v.pick_tag = val,
            "applied_q" => v.applied_q = val,
            "applied_tag" => v.applied_tag = val,
            "all_matching" => v.all_matching = !val.is_empty(),
            "action" => v.action = val,
            "sender_name" => v.sender_name = val,
            "reply_to" => v.reply_to = val,
            _ => {}
        }
    }
    v
}

#[handler]
pub(crate) async fn new_form(service: Data<&Service>, viewer: Data<&Viewer>) -> PageResult {
    service.app.mailings.can_create(viewer.actor)?;
    let now = service.app.now();
    let v = Values {
        start_at: input_time(&viewer, now),
        // A once-only mailing needs no end.
        end_at: String::new(),
        periodicity: "once".into(),
        ..Values::default()
    };
    form_page(&service, &viewer, "mailings.new", FormState::default(), v).await
}

#[handler]
pub(crate) async fn create(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    body: String,
) -> PageResult {
    let v = read_form(&body);
    if v.action == "filter" {
        return form_page(&service, &viewer, "mailings.new", FormState::default(), v).await;
    }
    let result = match v.draft(&viewer) {
        Ok(d) => service.app.mailings.create(viewer.actor, &d).await,
        Err(e) => Err(e),
    };
    after_submit(
        viewer.lang,
        result,
        |m| format!("/mailings/{}", m.mailing.id),
        async |f| form_page(&service, &viewer, "mailings.new", f, v).await,
    )
    .await
}

#[handler]
pub(crate) async fn edit_form(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    Path(id): Path<i64>,
) -> PageResult {
    let m = service
        .app
        .mailings
        .get(viewer.actor, MailingId(id))
        .await?
        .mailing;
    let v = Values {
        name: m.name.clone(),
        message_id: m.message_id.0.to_string(),
        client_ids: m.client_ids.iter().map(|c| c.0).collect(),
        start_at: input_time(&viewer, m.start_at),
        end_at: if m.has_end() {
            input_time(&viewer, m.end_at)
        } else {
            String::new()
        },
        periodicity: m.periodicity.as_str().into(),
        tags: m.tags.join(", "),
        sender_name: sender_fields(&m.sender).0,
        reply_to: sender_fields(&m.sender).1,
        ..Values::default()
    };
    form_page(&service, &viewer, "mailings.edit", FormState::default(), v).await
}

#[handler]
pub(crate) async fn update(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    Path(id): Path<i64>,
    body: String,
) -> PageResult {
    let v = read_form(&body);
    if v.action == "filter" {
        return form_page(&service, &viewer, "mailings.edit", FormState::default(), v).await;
    }
    let result = match v.draft(&viewer) {
        Ok(d) => {
            service
                .app
                .mailings
                .update(viewer.actor, MailingId(id), &d)
                .await
        }
        Err(e) => Err(e),
    };
    after_submit(
        viewer.lang,
        result,
        |_| format!("/mailings/{id}"),
        async |f| form_page(&service, &viewer, "mailings.edit", f, v).await,
    )
    .await
}

/// The run shown with a live bar.
pub(crate) struct Current {
    pub percent: u8,
    pub counts: String,
}

#[derive(Template)]
#[template(path = "mailing.html")]
struct Show {
    c: Chrome,
    m: MailingRow,
    owner: bool,
    can_toggle: bool,
    message: String,
    message_id: i64,
    current: Option<Current>,
    runs: Vec<RunRow>,
}

#[handler]
pub(crate) async fn show(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    Path(id): Path<i64>,
) -> PageResult {
    let view = service
        .app
        .mailings
        .get(viewer.actor, MailingId(id))
        .await?;
    let owner = viewer.user.as_ref().map(|u| u.id) == Some(view.mailing.owner);
    // A mailing a manager disabled comes back only by a manager's hand.
    let c = viewer.chrome();
    // A finished mailing offers no Disable (nothing is left to stop).
    let can_toggle = service.app.mailings.can_toggle(viewer.actor, &view.mailing)
        && (!view.mailing.enabled || view.status.can_be_disabled());
    let message = service
        .app
        .messages
        .get(viewer.actor, view.mailing.message_id)
        .await
        .map_or_else(|_| "—".to_owned(), |m| m.subject);
    let runs = service
        .app
        .mailings
        .runs(viewer.actor, MailingId(id), &ListQuery::new(1, 20, None)?)
        .await?;
    // The newest run gets the live bar; a mailing about to start its first
    // run shows an empty bar that fills once the run begins.
    let current = match runs.items.first() {
        Some(r) => {
            let p = run_progress(&service, &viewer, r.id).await?;
            Some(Current {
                percent: p.percent,
                counts: p.counts,
            })
        }
        None if view.status == skymailing_core::MailingStatus::Scheduled
            && view
                .mailing
                .next_run_at
                .is_some_and(|t| t <= service.app.now()) =>
        {
            Some(Current {
                percent: 0,
                counts: viewer.t("mailings.starting"),
            })
        }
        None => None,
    };
    Ok(render(&Show {
        c,
        owner,
        can_toggle,
        message,
        message_id: view.mailing.message_id.0,
        current,
        runs: runs
            .items
            .into_iter()
            .map(|r| run_row(&viewer, r))
            .collect(),
        m: row(&viewer, view),
    }))
}

#[handler]
pub(crate) async fn delete_form(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    Path(id): Path<i64>,
) -> PageResult {
    let m = service
        .app
        .mailings
        .get(viewer.actor, MailingId(id))
        .await?;
    Ok(render(&ConfirmDelete {
        c: viewer.chrome(),
        what: m.mailing.name,
        back: format!("/mailings/{id}"),
        error: None,
    }))
}

#[handler]
pub(crate) async fn delete(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    Path(id): Path<i64>,
) -> PageResult {
    service
        .app
        .mailings
        .delete(viewer.actor, MailingId(id))
        .await?;
    Ok(see_other("/mailings"))
}

#[handler]
pub(crate) async fn disable(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    Path(id): Path<i64>,
) -> PageResult {
    service
        .app
        .mailings
        .disable(viewer.actor, MailingId(id))
        .await?;
    Ok(see_other(&format!("/mailings/{id}")))
}

#[handler]
pub(crate) async fn enable(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    Path(id): Path<i64>,
) -> PageResult {
    service
        .app
        .mailings
        .enable(viewer.actor, MailingId(id))
        .await?;
    Ok(see_other(&format!("/mailings/{id}")))
}

/// What the mailing page's bar polls: its newest run (none yet: 0 %, waiting).
#[handler]
pub(crate) async fn progress(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    Path(id): Path<i64>,
) -> Result<poem::web::Json<Progress>, PageError> {
    let runs = service
        .app
        .mailings
        .runs(viewer.actor, MailingId(id), &ListQuery::new(1, 1, None)?)
        .await?;
    let p = match runs.items.first() {
        Some(r) => run_progress(&service, &viewer, r.id).await?,
        None => Progress {
            percent: 0,
            done: false,
            counts: viewer.t("mailings.starting"),
            activity: String::new(),
            report: None,
        },
    };
    Ok(poem::web::Json(p))
}

/// Sends the mailing's message once to the viewer, then says where it went.
#[handler]
pub(crate) async fn test_send(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    Path(id): Path<i64>,
) -> PageResult {
    let back = format!("/mailings/{id}");
    let text = match service
        .app
        .previews
        .test_send(viewer.actor, MailingId(id))
        .await
    {
        Ok(to) => viewer.lang.tp("mailings.test_sent", &[("to", to)]),
        Err(Error::TooManyRequests { retry_after_secs }) => viewer.lang.tp(
            "mailings.test_limited",
            &[("minutes", retry_after_secs.div_ceil(60).to_string())],
        ),
        Err(e) => return Err(e.into()),
    };
    Ok(render(&crate::web::view::NoticePage {
        c: viewer.chrome(),
        title: viewer.t("mailings.test"),
        text,
        link: Some((back, viewer.t("common.back"))),
    }))
}

/// The new-mailing form filled in from an existing mailing: its message,
/// recipients, tags and periodicity, a window of the same length starting
/// now. Nothing is saved until the form is.
#[handler]
pub(crate) async fn duplicate(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    Path(id): Path<i64>,
) -> PageResult {
    service.app.mailings.can_create(viewer.actor)?;
    let m = service
        .app
        .mailings
        .get(viewer.actor, MailingId(id))
        .await?
        .mailing;
    let now = service.app.now();
    let v = Values {
        name: viewer
            .lang
            .tp("mailings.copy_of", &[("name", m.name.clone())]),
        message_id: m.message_id.0.to_string(),
        client_ids: m.client_ids.iter().map(|c| c.0).collect(),
        start_at: input_time(&viewer, now),
        end_at: if m.has_end() {
            input_time(&viewer, now + (m.end_at - m.start_at))
        } else {
            String::new()
        },
        periodicity: m.periodicity.as_str().into(),
        tags: m.tags.join(", "),
        sender_name: sender_fields(&m.sender).0,
        reply_to: sender_fields(&m.sender).1,
        ..Values::default()
    };
    form_page(&service, &viewer, "mailings.new", FormState::default(), v).await
}

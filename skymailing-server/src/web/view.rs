//! What the pages share for display: the frame of every page ([`Chrome`]),
//! the visitor ([`Viewer`]), rendering and redirects, forms and lists, times
//! in the visitor's zone, and the figures of a run. A leaf: it depends on
//! nothing else in `web` but the translations.

use askama::Template;
use chrono::{DateTime, Utc};
use poem::http::StatusCode;
use poem::web::{Html, Redirect};
use poem::{IntoResponse, Response};
use skymailing_core::policy::{Action, Actor, Decision, Target, decide};
use skymailing_core::{BlogPost, Error, ListQuery, Page, Run, RunStatus, TimeZone, User};

use super::i18n::Lang;
use crate::Service;

/// What every page shows around its content.
pub struct Chrome {
    /// The page's language.
    pub lang: Lang,
    /// The signed-in user, if any.
    pub user: Option<User>,
    /// The CSRF token for this page's forms.
    pub csrf: String,
    /// The path of this page (for the sign-in return and the language switch).
    pub path: String,
    /// Whether the outbox page is there for this visitor (outbox mode, and
    /// this machine or an admin).
    pub outbox: bool,
}

impl Chrome {
    /// Text of `key` in the page's language.
    pub fn t(&self, key: &str) -> String {
        self.lang.t(key)
    }

    /// Whether the permission table allows `action` on `target` (for showing
    /// links and buttons; the use cases decide again on every request).
    pub fn may(&self, action: Action, target: Target) -> bool {
        decide(self.actor(), action, target) == Decision::Allow
    }

    fn actor(&self) -> Actor {
        self.user
            .as_ref()
            .map_or(Actor::Anonymous, |u| Actor::user(u.id, u.role))
    }

    /// Whether the user administration is theirs (managers and admins).
    pub fn is_staff(&self) -> bool {
        self.may(Action::ListUsers, Target::None)
    }

    /// Whether the blog editor is theirs (admins).
    pub fn is_admin(&self) -> bool {
        self.may(Action::WriteBlog, Target::None)
    }

    /// Whether they see everyone's mailings (managers and admins).
    pub fn sees_all_mailings(&self) -> bool {
        self.may(Action::ViewAllMailings, Target::None)
    }

    /// Whether they keep clients and mailings of their own (not managers).
    pub fn has_own_data(&self) -> bool {
        self.may(Action::ManageClients, Target::None)
    }

    /// `t` in the visitor's zone, with the zone's label (UTC when signed out).
    pub fn at(&self, t: &DateTime<Utc>) -> String {
        at_in(
            self.user.as_ref().map_or(TimeZone::UTC, |u| u.time_zone),
            *t,
        )
    }

    /// Whether `path` is this page's section (the nav marks it).
    pub fn here(&self, section: &str) -> bool {
        let path = self.path.split('?').next().unwrap_or_default();
        path == section
            || (section != "/"
                && path.starts_with(section)
                && path[section.len()..].starts_with('/'))
    }
}

/// `t` on `tz`'s clocks, with the zone's label: `2026-12-01 15:00 MSK`.
pub(crate) fn at_in(tz: TimeZone, t: DateTime<Utc>) -> String {
    format!("{} {}", tz.local(t).format("%Y-%m-%d %H:%M"), tz.label(t))
}

/// The visitor of a page.
#[derive(Clone)]
pub struct Viewer {
    /// For the use cases.
    pub actor: Actor,
    /// The signed-in user.
    pub user: Option<User>,
    /// The session token (to sign out, or keep this session on a password change).
    pub token: Option<String>,
    /// The page language.
    pub lang: Lang,
    /// The CSRF token for forms.
    pub csrf: String,
    /// The request path and query, to come back to after signing in.
    pub path: String,
    pub(crate) method_was_get: bool,
    /// Whether this visitor may read the outbox.
    pub(crate) outbox: bool,
}

impl Viewer {
    /// The frame of a page for this visitor.
    pub fn chrome(&self) -> Chrome {
        Chrome {
            lang: self.lang,
            user: self.user.clone(),
            csrf: self.csrf.clone(),
            path: self.path.clone(),
            outbox: self.outbox,
        }
    }

    /// The text of `key` in the visitor's language.
    pub fn t(&self, key: &str) -> String {
        self.lang.t(key)
    }
}

/// A rendered page as a response.
pub(crate) fn render(t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering a page failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// A redirect after a successful form (303: the browser follows with GET).
pub(crate) fn see_other(to: &str) -> Response {
    Redirect::see_other(to).into_response()
}

/// Percent-encodes a value for a query string.
pub(crate) fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[derive(Template)]
#[template(path = "notice.html")]
pub(crate) struct NoticePage {
    pub c: Chrome,
    pub title: String,
    pub text: String,
    pub link: Option<(String, String)>,
}

#[derive(Template)]
#[template(path = "confirm_delete.html")]
pub(crate) struct ConfirmDelete {
    pub c: Chrome,
    pub what: String,
    pub back: String,
    pub error: Option<String>,
}

/// A form's error state: every field's message (each shown by its field),
/// and a message for the whole form.
#[derive(Debug, Default)]
pub(crate) struct FormState {
    pub fields: Vec<(String, String)>,
    pub general: Option<String>,
}

impl FormState {
    /// The message for `name`, if that field is at fault.
    pub fn err(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(f, _)| f == name)
            .map(|(_, m)| m.as_str())
    }

    /// Whether any field is at fault.
    pub fn has_field_errors(&self) -> bool {
        !self.fields.is_empty()
    }

    /// A form error for a validation or conflict error (every field's, as
    /// sentences); any other error is the page's (rendered as an error page).
    pub fn from_error(lang: Lang, e: Error) -> Result<FormState, Error> {
        match e {
            Error::Invalid { .. } | Error::InvalidFields(_) => Ok(FormState {
                fields: e
                    .field_errors()
                    .into_iter()
                    .map(|fe| (fe.field.to_owned(), lang.field_error(fe.field, &fe.reason)))
                    .collect(),
                general: None,
            }),
            Error::Conflict(reason) => Ok(FormState {
                general: Some(lang.reason_sentence(&reason)),
                ..FormState::default()
            }),
            e => Err(e),
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
    #[serde(default)]
    pub tag: Option<String>,
}

impl ListParams {
    pub fn query(&self, per_page: u32) -> Result<ListQuery, Error> {
        let q = self.q.as_deref().filter(|s| !s.trim().is_empty());
        ListQuery::new(self.page.unwrap_or(1).max(1), per_page, q)
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
        extra.push_str(&format!("&amp;q={}", urlencode(q)));
    }
    if let Some(s) = params.scope.as_deref() {
        extra.push_str(&format!("&amp;scope={}", urlencode(s)));
    }
    if let Some(t) = params.tag.as_deref().filter(|t| !t.is_empty()) {
        extra.push_str(&format!("&amp;tag={}", urlencode(t)));
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

/// The end of every form post, written once: success redirects to
/// `to(value)`; a validation error or a conflict re-renders the form with
/// `again` (the message by its field, the input kept); any other error is the
/// page's (an error page).
pub(crate) async fn after_submit<T, E: From<Error>>(
    lang: Lang,
    outcome: Result<T, Error>,
    to: impl FnOnce(T) -> String,
    again: impl AsyncFnOnce(FormState) -> Result<Response, E>,
) -> Result<Response, E> {
    match outcome {
        Ok(v) => Ok(see_other(&to(v))),
        Err(e) => again(FormState::from_error(lang, e)?).await,
    }
}

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

    /// The body's paragraphs: separated by blank lines (a line of nothing
    /// or only spaces), with `\r\n` as a browser's form sends it read as a
    /// line break. A paragraph keeps its own line breaks (`.post p` shows
    /// them: `white-space: pre-line`).
    pub fn paragraphs(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut current: Vec<&str> = Vec::new();
        for line in self.body.lines() {
            if line.trim().is_empty() {
                if !current.is_empty() {
                    out.push(current.join("\n"));
                    current.clear();
                }
            } else {
                current.push(line.trim_end());
            }
        }
        if !current.is_empty() {
            out.push(current.join("\n"));
        }
        out
    }
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

pub(crate) fn tz_of(viewer: &Viewer) -> skymailing_core::TimeZone {
    viewer
        .user
        .as_ref()
        .map_or(skymailing_core::TimeZone::UTC, |u| u.time_zone)
}

pub(crate) fn local(viewer: &Viewer, t: DateTime<Utc>) -> String {
    at_in(tz_of(viewer), t)
}

pub(crate) struct RunRow {
    pub id: i64,
    pub mailing: String,
    pub started: String,
    pub report: String,
}

pub(crate) fn run_row(viewer: &Viewer, r: Run) -> RunRow {
    let done = r.sent + r.failed + r.cancelled + r.suppressed + r.bounced + r.complained;
    let report = match (&r.report, &r.paused) {
        // A paused run says why, and what its owner can do.
        (_, Some(why)) => viewer
            .t("log.paused")
            .replace("%{percent}", &why.percent().to_string())
            .replace("%{attempted}", &why.attempted.to_string())
            .replace("%{limit}", &(why.limit_per_mille / 10).to_string())
            .replace("%{done}", &done.to_string())
            .replace("%{total}", &r.recipients.to_string())
            .replace("%{id}", &r.id.0.to_string()),
        (Some(rep), None) if r.status == RunStatus::Cancelled => {
            format!("{} {}", viewer.t("log.cancelled"), viewer.lang.report(rep))
        }
        (Some(rep), None) => viewer.lang.report(rep),
        (None, None) => viewer
            .t("log.in_progress")
            .replace("%{done}", &done.to_string())
            .replace("%{total}", &r.recipients.to_string()),
    };
    RunRow {
        id: r.id.0,
        started: local(viewer, r.started_at),
        report,
        mailing: r.mailing_name,
    }
}

/// "3 sent, 1 failed of 4" in the viewer's language.
pub(crate) fn counts(lang: Lang, sent: u64, failed: u64, total: u64) -> String {
    lang.t("log.counts")
        .replace("%{sent}", &sent.to_string())
        .replace("%{failed}", &failed.to_string())
        .replace("%{total}", &total.to_string())
}

/// The figures the live bar shows.
#[derive(serde::Serialize)]
pub(crate) struct Progress {
    pub percent: u8,
    pub done: bool,
    pub counts: String,
    /// What the run is doing now (empty once it is done).
    pub activity: String,
    pub report: Option<String>,
}

pub(crate) async fn run_progress(
    service: &Service,
    viewer: &Viewer,
    id: skymailing_core::RunId,
) -> Result<Progress, Error> {
    let d = service.app.logs.run(viewer.actor, id).await?;
    let t = d.totals;
    Ok(Progress {
        percent: t.percent(),
        done: d.run.finished_at.is_some(),
        counts: counts(viewer.lang, t.sent, t.failed, t.total),
        activity: activity(viewer.lang, &t),
        report: d.run.report.map(|r| viewer.lang.report(&r)),
    })
}

/// What a run is doing, in words: sending, waiting for its turn, or waiting
/// for the recipient domains that hold it back (with how many each).
pub(crate) fn activity(lang: Lang, t: &skymailing_core::RunTotals) -> String {
    let activity = t.activity();
    if activity == skymailing_core::RunActivity::Done {
        return String::new();
    }
    let key: &'static str = activity.into();
    let domains = t
        .waiting
        .iter()
        .map(|(d, n)| format!("{d} ({n})"))
        .collect::<Vec<_>>()
        .join(", ");
    lang.t(&format!("run_activity.{key}"))
        .replace("%{domains}", &domains)
}

#[cfg(test)]
mod tests {
    use super::{PostView, local_path};

    #[test]
    fn blog_paragraphs_survive_a_browsers_line_ends() {
        let post = PostView {
            id: 1,
            title: "t".into(),
            body: "First line\r\nsecond line\r\n\r\nNew paragraph\r\n   \r\n\r\nLast\r\n".into(),
            image: None,
            published: true,
            views: 0,
            published_at: None,
        };
        assert_eq!(
            post.paragraphs(),
            vec!["First line\nsecond line", "New paragraph", "Last"]
        );
    }

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

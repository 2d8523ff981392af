//! The JSON shapes of the API: what goes out (built from core types) and what
//! comes in (parsed into core drafts by the handlers). Request bodies refuse
//! unknown fields, so a typo is an error rather than silently ignored.

use chrono::{DateTime, NaiveDate, Utc};
use poem_openapi::Object;

use super::Text;
use poem_openapi::types::{ParseFromJSON, ToJSON};
use skymailing_core::service::{MailingView, RunDetail};
use skymailing_core::{BlogPost, Client, Delivery, Message, Run, User};

/// One page of a list.
#[derive(Debug, Object)]
pub struct PageOf<T: ParseFromJSON + ToJSON> {
    /// The items of this page.
    pub items: Vec<T>,
    /// Items across all pages.
    pub total: u64,
    /// This page, from 1.
    pub page: u32,
    /// Items per page.
    pub per_page: u32,
}

impl<T: ParseFromJSON + ToJSON> PageOf<T> {
    pub(crate) fn from_page<S>(page: skymailing_core::Page<S>, f: impl FnMut(S) -> T) -> Self {
        PageOf {
            items: page.items.into_iter().map(f).collect(),
            total: page.total,
            page: page.page,
            per_page: page.per_page,
        }
    }
}

/// An account.
#[derive(Debug, Object)]
pub struct UserOut {
    pub id: i64,
    pub email: String,
    pub name: String,
    /// `user`, `manager` or `admin`.
    pub role: String,
    /// `pending_verification`, `active` or `blocked`.
    pub state: String,
    /// IANA zone in which mailing schedules are computed, e.g. `Europe/Moscow`.
    pub time_zone: String,
    /// The language chosen for the pages (`en`, `ru`); none: the browser's.
    #[oai(nullable)]
    pub language: Option<String>,
    /// The name your mailings show beside the service's From address; none:
    /// your name.
    #[oai(nullable)]
    pub sender_name: Option<String>,
    /// Where replies to your mailings go; none: your address.
    #[oai(nullable)]
    pub reply_to: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<User> for UserOut {
    fn from(u: User) -> Self {
        UserOut {
            id: u.id.0,
            email: u.email.to_string(),
            name: u.name.to_string(),
            role: u.role.as_str().into(),
            state: u.state.as_str().into(),
            time_zone: u.time_zone.to_string(),
            language: u.language.map(|l| l.to_string()),
            sender_name: u.sender.name.map(|n| n.to_string()),
            reply_to: u.sender.reply_to.map(|a| a.to_string()),
            created_at: u.created_at,
        }
    }
}

/// A client of the signed-in user.
#[derive(Debug, Object)]
pub struct ClientOut {
    pub id: i64,
    pub email: String,
    pub full_name: String,
    pub comment: String,
    /// Lowercase, sorted; mailings with one of them reach the client.
    pub tags: Vec<String>,
    /// When the recipient unsubscribed; mailings skip them since.
    #[oai(nullable)]
    pub unsubscribed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<Client> for ClientOut {
    fn from(c: Client) -> Self {
        ClientOut {
            id: c.id.0,
            email: c.email.to_string(),
            full_name: c.full_name,
            comment: c.comment,
            tags: c.tags,
            unsubscribed_at: c.unsubscribed_at,
            created_at: c.created_at,
        }
    }
}

/// A client to create, or the new state of one.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct ClientIn {
    pub email: Text,
    #[oai(default)]
    pub full_name: Text,
    #[oai(default)]
    pub comment: Text,
    /// Tags (free text, compared case-insensitively; at most 20 of up to 50
    /// characters, without `,` `;` `|`). On a replace, the new set.
    #[oai(default)]
    pub tags: Vec<Text>,
}

/// A tag and how many of your clients carry it.
#[derive(Debug, Object)]
pub struct TagOut {
    pub tag: String,
    pub clients: u64,
}

/// One bad row of an import.
#[derive(Debug, Object)]
pub struct ImportErrorOut {
    /// The line of the file (the header is line 1).
    pub line: u64,
    /// The column: `email`, `full_name`, `comment` or `tags`.
    pub field: String,
    /// The reason's stable code (as in error answers).
    pub code: String,
    /// The reason in English.
    pub message: String,
}

/// What an import did, or on a dry run would do.
#[derive(Debug, Object)]
pub struct ImportOut {
    /// Clients created.
    pub created: u64,
    /// Clients you kept whose name, comment or tags changed.
    pub updated: u64,
    /// Rows not imported: with errors, or changing nothing.
    pub skipped: u64,
    /// Problems, row by row (a row may have several; the first 1,000).
    pub errors: Vec<ImportErrorOut>,
    /// Problems beyond those listed.
    pub more_errors: u64,
    /// Whether nothing was written.
    pub dry_run: bool,
}

impl From<skymailing_core::ImportReport> for ImportOut {
    fn from(r: skymailing_core::ImportReport) -> Self {
        ImportOut {
            created: r.created,
            updated: r.updated,
            skipped: r.skipped,
            errors: r
                .errors
                .into_iter()
                .map(|i| ImportErrorOut {
                    line: i.line,
                    field: i.field.into(),
                    code: i.reason.code().into(),
                    message: i.reason.to_string(),
                })
                .collect(),
            more_errors: r.more_errors,
            dry_run: r.dry_run,
        }
    }
}

/// A message; its bodies are templates with `{{ name }}`, `{{ email }}` and
/// `{{ unsubscribe_url }}`.
#[derive(Debug, Object)]
pub struct MessageOut {
    pub id: i64,
    /// The author, who alone (with admins) may edit it.
    pub author_id: i64,
    pub subject: String,
    pub body_text: String,
    #[oai(nullable)]
    pub body_html: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Message> for MessageOut {
    fn from(m: Message) -> Self {
        MessageOut {
            id: m.id.0,
            author_id: m.owner.0,
            subject: m.subject,
            body_text: m.body_text,
            body_html: m.body_html,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// A message to create, or the new state of one.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct MessageIn {
    pub subject: Text,
    pub body_text: Text,
    #[oai(nullable)]
    pub body_html: Option<Text>,
}

/// Whom to render a preview for.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct PreviewIn {
    /// One of your clients; a sample recipient when absent.
    #[oai(nullable)]
    pub client_id: Option<i64>,
}

/// A message as a recipient sees it.
#[derive(Debug, Object)]
pub struct PreviewOut {
    pub subject: String,
    pub body_text: String,
    /// Absent (`null`) when the message has no HTML part.
    #[oai(nullable)]
    pub body_html: Option<String>,
}

/// Where a test message went.
#[derive(Debug, Object)]
pub struct TestSentOut {
    pub sent_to: String,
}

/// A test send's answer.
#[derive(poem_openapi::ApiResponse)]
pub enum TestSent {
    /// Sent.
    #[oai(status = 202)]
    Sent(poem_openapi::payload::Json<TestSentOut>),
}

/// A mailing.
#[derive(Debug, Object)]
pub struct MailingOut {
    pub id: i64,
    pub owner_id: i64,
    pub name: String,
    pub message_id: i64,
    pub client_ids: Vec<i64>,
    /// Each run also reaches every client carrying one of these tags then.
    pub tags: Vec<String>,
    pub start_at: DateTime<Utc>,
    /// None: a once-only mailing given no end.
    #[oai(nullable)]
    pub end_at: Option<DateTime<Utc>>,
    /// `once`, `daily`, `weekly` or `monthly`.
    pub periodicity: String,
    /// Its own sender name; none: its owner's.
    #[oai(nullable)]
    pub sender_name: Option<String>,
    /// Its own Reply-To; none: its owner's.
    #[oai(nullable)]
    pub reply_to: Option<String>,
    pub enabled: bool,
    /// Why it is disabled: `owner`, `manager` (only a manager or admin
    /// re-enables it) or `engine_error` (the engine could not handle it; enabling
    /// it tries again).
    #[oai(nullable)]
    pub disabled_by: Option<String>,
    /// `scheduled`, `sending`, `paused`, `disabled` (see `disabled_reason`),
    /// `owner_blocked` or `finished`.
    pub status: String,
    /// Why it is disabled, while it is: `owner`, `manager` or `engine_error`
    /// (the same as `disabled_by`).
    #[oai(nullable)]
    pub disabled_reason: Option<String>,
    /// The next scheduled run; none for a disabled, blocked or finished mailing.
    #[oai(nullable)]
    pub next_run_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<MailingView> for MailingOut {
    fn from(v: MailingView) -> Self {
        let m = v.mailing;
        let has_end = m.has_end();
        MailingOut {
            id: m.id.0,
            owner_id: m.owner.0,
            name: m.name,
            message_id: m.message_id.0,
            client_ids: m.client_ids.iter().map(|c| c.0).collect(),
            tags: m.tags,
            start_at: m.start_at,
            end_at: has_end.then_some(m.end_at),
            periodicity: m.periodicity.as_str().into(),
            sender_name: m.sender.name.as_ref().map(ToString::to_string),
            reply_to: m.sender.reply_to.as_ref().map(ToString::to_string),
            enabled: m.enabled,
            disabled_by: m.disabled_by.map(|d| d.as_str().into()),
            status: v.status.as_str().into(),
            disabled_reason: m.disabled_by.map(|d| d.as_str().into()),
            next_run_at: m.next_run_at.filter(|_| v.status.shows_next_run()),
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// Which of your clients: those whose email, name, comment or tags contain
/// `q`, carrying `tag` (each when given).
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct ClientFilterIn {
    #[oai(nullable)]
    pub q: Option<Text>,
    #[oai(nullable)]
    pub tag: Option<Text>,
}

/// A mailing to create, or the new state of one.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct MailingIn {
    pub name: Text,
    pub message_id: i64,
    /// Your clients to send to.
    #[oai(default)]
    pub client_ids: Vec<i64>,
    /// Tags: each run also reaches every client of yours carrying one of
    /// them at that time (clients added later included).
    #[oai(default)]
    pub tags: Vec<Text>,
    /// Adds every client of yours matching this filter now (resolved when
    /// the mailing is saved; later edits of clients do not change it).
    #[oai(nullable)]
    pub clients_matching: Option<ClientFilterIn>,
    pub start_at: DateTime<Utc>,
    /// No slot at or after it; may be left out (or null) for a `once` mailing.
    #[oai(nullable)]
    pub end_at: Option<DateTime<Utc>>,
    /// `once`, `daily`, `weekly` or `monthly`.
    pub periodicity: Text,
    /// The name recipients see beside the service's From address; empty or
    /// absent: yours (your profile's sender name, else your name).
    #[oai(nullable)]
    pub sender_name: Option<Text>,
    /// Where replies go; empty or absent: yours (your profile's Reply-To,
    /// else your address).
    #[oai(nullable)]
    pub reply_to: Option<Text>,
}

/// One run of a mailing, as in the public log.
#[derive(Debug, Object)]
pub struct RunOut {
    pub id: i64,
    /// Empty once the mailing was deleted (its reports stay).
    #[oai(nullable)]
    pub mailing_id: Option<i64>,
    pub mailing_name: String,
    pub owner_id: i64,
    /// The scheduled time this run is for.
    pub slot_at: DateTime<Utc>,
    pub started_at: DateTime<Utc>,
    #[oai(nullable)]
    pub finished_at: Option<DateTime<Utc>>,
    pub recipients: u64,
    pub sent: u64,
    pub failed: u64,
    pub cancelled: u64,
    /// Not sent: the address is suppressed for the owner.
    pub suppressed: u64,
    /// Sent, then bounced (late bounces still count).
    pub bounced: u64,
    /// Sent, then reported as spam.
    pub complained: u64,
    /// `sending`, `paused`, `finished` or `cancelled`.
    pub status: String,
    /// Why the run paused itself, while it is paused.
    #[oai(nullable)]
    pub paused: Option<PauseOut>,
    /// The readable report, once finished.
    #[oai(nullable)]
    pub report: Option<String>,
}

/// Why a run paused itself.
#[derive(Debug, Object)]
pub struct PauseOut {
    /// Deliveries tried (sent, failed, bounced, complained).
    pub attempted: u64,
    pub failed: u64,
    pub bounced: u64,
    /// Failures and bounces, in percent of the attempts.
    pub percent: u64,
    /// The limit, in percent.
    pub limit_percent: f64,
}

/// A suppressed address.
#[derive(Debug, Object)]
pub struct SuppressionOut {
    pub id: i64,
    pub email: String,
    /// `unsubscribed`, `hard_bounce`, `soft_bounce`, `complaint` or `manual`.
    pub reason: String,
    pub created_at: DateTime<Utc>,
    /// What was reported (a bounce's status), if anything.
    #[oai(nullable)]
    pub detail: Option<String>,
    /// Whose list (for `scope=all`).
    pub owner_id: i64,
}

impl From<skymailing_core::Suppression> for SuppressionOut {
    fn from(s: skymailing_core::Suppression) -> Self {
        SuppressionOut {
            id: s.id,
            email: s.email.as_str().to_owned(),
            reason: s.reason.as_str().to_owned(),
            created_at: s.created_at,
            detail: s.detail,
            owner_id: s.owner.0,
        }
    }
}

/// An address to suppress by hand.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct SuppressionIn {
    pub email: Text,
}

impl From<Run> for RunOut {
    fn from(r: Run) -> Self {
        RunOut {
            id: r.id.0,
            mailing_id: r.mailing_id.map(|m| m.0),
            mailing_name: r.mailing_name,
            owner_id: r.owner.0,
            slot_at: r.slot_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
            recipients: r.recipients,
            sent: r.sent,
            failed: r.failed,
            cancelled: r.cancelled,
            suppressed: r.suppressed,
            bounced: r.bounced,
            complained: r.complained,
            status: <&'static str>::from(r.status).to_owned(),
            paused: r.paused.map(|p| PauseOut {
                attempted: p.attempted,
                failed: p.failed,
                bounced: p.bounced,
                percent: p.percent(),
                limit_percent: f64::from(p.limit_per_mille) / 10.0,
            }),
            report: r.report.map(|r| r.to_string()),
        }
    }
}

/// A failure reason and how many deliveries failed with it.
#[derive(Debug, Object)]
pub struct FailureCount {
    pub reply: String,
    pub count: u64,
}

/// Live counts of a run's deliveries.
#[derive(Debug, Object)]
pub struct RunProgress {
    pub total: u64,
    pub pending: u64,
    pub sending: u64,
    pub sent: u64,
    pub failed: u64,
    pub cancelled: u64,
    pub suppressed: u64,
    pub bounced: u64,
    pub complained: u64,
    /// Done (in a final state) out of the total, 0–100.
    pub percent: u8,
    pub failures: Vec<FailureCount>,
    /// What the run is doing now: `sending`, `waiting_for_turn` (other runs
    /// share the send rate, or a retry is due later), `waiting_for_domains`
    /// (see `waiting`) or `done`.
    pub activity: String,
    /// Pending deliveries held back for their recipient domain (over its
    /// limit, or asking us to slow down), most first.
    pub waiting: Vec<DomainWait>,
}

/// A recipient domain and how many of a run's deliveries wait for it.
#[derive(Debug, Object)]
pub struct DomainWait {
    pub domain: String,
    pub count: u64,
}

/// A run with its live progress.
#[derive(Debug, Object)]
pub struct RunDetailOut {
    pub run: RunOut,
    pub progress: RunProgress,
}

impl From<RunDetail> for RunDetailOut {
    fn from(d: RunDetail) -> Self {
        let t = d.totals;
        let percent = t.percent();
        let activity: &'static str = t.activity().into();
        RunDetailOut {
            run: d.run.into(),
            progress: RunProgress {
                total: t.total,
                pending: t.pending,
                sending: t.sending,
                sent: t.sent,
                failed: t.failed,
                cancelled: t.cancelled,
                suppressed: t.suppressed,
                bounced: t.bounced,
                complained: t.complained,
                percent,
                failures: t
                    .failures
                    .into_iter()
                    .map(|(reply, count)| FailureCount { reply, count })
                    .collect(),
                activity: activity.to_owned(),
                waiting: t
                    .waiting
                    .into_iter()
                    .map(|(domain, count)| DomainWait { domain, count })
                    .collect(),
            },
        }
    }
}

/// One recipient of a run.
#[derive(Debug, Object)]
pub struct DeliveryOut {
    pub id: i64,
    #[oai(nullable)]
    pub client_id: Option<i64>,
    pub email: String,
    pub name: String,
    /// `pending`, `sending`, `sent`, `failed`, `cancelled`, `suppressed`,
    /// `bounced` or `complained`.
    pub state: String,
    pub attempts: u32,
    /// The relay's last reply.
    #[oai(nullable)]
    pub last_reply: Option<String>,
    pub updated_at: DateTime<Utc>,
}

impl From<Delivery> for DeliveryOut {
    fn from(d: Delivery) -> Self {
        DeliveryOut {
            id: d.id.0,
            client_id: d.client_id.map(|c| c.0),
            email: d.email.to_string(),
            name: d.name,
            state: d.state.as_str().into(),
            attempts: d.attempts,
            last_reply: d.last_reply,
            updated_at: d.updated_at,
        }
    }
}

/// Sent and failed deliveries of one day (UTC).
#[derive(Debug, Object)]
pub struct DayOut {
    pub day: NaiveDate,
    pub sent: u64,
    pub failed: u64,
}

/// The home page's figures.
#[derive(Debug, Object)]
pub struct StatsOut {
    /// All mailings.
    pub mailings: u64,
    /// Mailings running now.
    pub running_mailings: u64,
    /// Distinct client addresses.
    pub unique_clients: u64,
}

/// A blog post.
#[derive(Debug, Object)]
pub struct PostOut {
    pub id: i64,
    pub title: String,
    pub body: String,
    /// Image path, if any.
    #[oai(nullable)]
    pub image: Option<String>,
    pub published: bool,
    pub views: u64,
    #[oai(nullable)]
    pub published_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<BlogPost> for PostOut {
    fn from(p: BlogPost) -> Self {
        PostOut {
            id: p.id.0,
            title: p.title,
            body: p.body,
            image: p.image,
            published: p.published,
            views: p.views,
            published_at: p.published_at,
            created_at: p.created_at,
        }
    }
}

/// A blog post to create, or the new state of one.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct PostIn {
    pub title: Text,
    pub body: Text,
    #[oai(nullable)]
    pub image: Option<Text>,
    #[oai(default)]
    pub published: bool,
}

/// 201 with the created resource.
#[derive(poem_openapi::ApiResponse)]
pub enum Created<T: ToJSON> {
    /// Created.
    #[oai(status = 201)]
    Created(poem_openapi::payload::Json<T>),
}

/// 204: done, nothing to return.
#[derive(poem_openapi::ApiResponse)]
pub enum NoContent {
    /// Done.
    #[oai(status = 204)]
    Done,
}

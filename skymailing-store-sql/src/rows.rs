//! The rows both stores read, once: each struct is generic over how its
//! backend keeps a time (`T`: PostgreSQL's `timestamptz` as
//! `DateTime<Utc>`, SQLite's microseconds as [`Micros`](crate::codec::Micros))
//! and, for mailings, a list of ids (`I`: a PostgreSQL array as `Vec<i64>`,
//! SQLite's `json_group_array` as [`JsonIds`](crate::codec::JsonIds)). Each
//! store names its instances (`type UserRow = rows::UserRow<DateTime<Utc>>`).
//!
//! Every field decodes strictly (see [`codec`](crate::codec)): a stored value
//! that is not one the store wrote is an error, never a guess.

use chrono::{DateTime, Utc};
use skymailing_core::adapter::{ClaimedDelivery, FeedbackTarget, RunContent};
use skymailing_core::ports::DueMailing;
use skymailing_core::*;
use sqlx::types::Json;

use crate::codec::{OptParsed, Parsed, Small};

/// A user.
#[derive(sqlx::FromRow)]
#[allow(missing_docs)]
pub struct UserRow<T> {
    pub id: i64,
    pub email: String,
    pub name: String,
    #[sqlx(try_from = "String")]
    pub time_zone: Parsed<TimeZone>,
    #[sqlx(try_from = "String")]
    pub role: Parsed<Role>,
    #[sqlx(try_from = "String")]
    pub state: Parsed<UserState>,
    pub language: Option<String>,
    pub sender_name: Option<String>,
    pub reply_to: Option<String>,
    pub created_at: T,
}

impl<T: Into<DateTime<Utc>>> From<UserRow<T>> for User {
    fn from(r: UserRow<T>) -> Self {
        User {
            id: UserId(r.id),
            email: skymailing_core::adapter::stored::email(r.email),
            name: skymailing_core::adapter::stored::display_name(r.name),
            time_zone: r.time_zone.0,
            role: r.role.0,
            state: r.state.0,
            language: r.language.map(skymailing_core::adapter::stored::language),
            sender: sender(r.sender_name, r.reply_to),
            created_at: r.created_at.into(),
        }
    }
}

/// A stored sender (both parts were validated when written).
pub fn sender(name: Option<String>, reply_to: Option<String>) -> Sender {
    Sender {
        name: name.map(skymailing_core::adapter::stored::display_name),
        reply_to: reply_to.map(skymailing_core::adapter::stored::email),
    }
}

/// A sender's parts as stored (`NULL`: unset).
pub fn sender_parts(s: &Sender) -> (Option<&str>, Option<&str>) {
    (
        s.name.as_ref().map(DisplayName::as_str),
        s.reply_to.as_ref().map(EmailAddress::as_str),
    )
}

/// What a run sends (see the stores' `run_content`).
#[derive(sqlx::FromRow)]
#[allow(missing_docs)]
pub struct RunContentRow {
    pub mailing_id: Option<i64>,
    pub mailing_name: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: Option<String>,
    pub nonce: String,
    pub owner_id: i64,
    pub language: Option<String>,
    pub sender_name: Option<String>,
    pub reply_to: Option<String>,
}

/// The query of a run's content, `{p}` standing for the backend's first
/// placeholder (`$1`, `?1`).
#[macro_export]
macro_rules! run_content_query {
    ($p:literal) => {
        concat!(
            "SELECT r.mailing_id, r.mailing_name, r.subject, r.body_text, r.body_html, r.nonce, \
             r.owner_id, u.language, r.sender_name, r.reply_to \
             FROM runs r JOIN users u ON u.id = r.owner_id WHERE r.id = ",
            $p
        )
    };
}

impl From<RunContentRow> for RunContent {
    fn from(r: RunContentRow) -> Self {
        RunContent {
            mailing_id: r.mailing_id.map(MailingId),
            mailing_name: r.mailing_name,
            subject: r.subject,
            body_text: r.body_text,
            body_html: r.body_html,
            nonce: r.nonce,
            owner: UserId(r.owner_id),
            language: r.language.map(skymailing_core::adapter::stored::language),
            sender: sender(r.sender_name, r.reply_to),
        }
    }
}

/// A user with its password hash (`user_columns!(), password_hash`).
#[derive(sqlx::FromRow)]
#[allow(missing_docs)]
pub struct UserHashRow<T> {
    #[sqlx(flatten)]
    pub user: UserRow<T>,
    pub password_hash: Option<String>,
}

/// A client.
#[derive(sqlx::FromRow)]
#[allow(missing_docs)]
pub struct ClientRow<T> {
    pub id: i64,
    pub owner_id: i64,
    pub email: String,
    pub full_name: String,
    pub comment: String,
    pub tags: String,
    pub unsubscribed_at: Option<T>,
    pub unsubscribe_token: String,
    pub created_at: T,
}

impl<T: Into<DateTime<Utc>>> From<ClientRow<T>> for Client {
    fn from(r: ClientRow<T>) -> Self {
        Client {
            id: ClientId(r.id),
            owner: UserId(r.owner_id),
            email: skymailing_core::adapter::stored::email(r.email),
            full_name: r.full_name,
            comment: r.comment,
            tags: crate::codec::decode_tags(&r.tags),
            unsubscribed_at: r.unsubscribed_at.map(Into::into),
            unsubscribe_token: r.unsubscribe_token,
            created_at: r.created_at.into(),
        }
    }
}

/// A message.
#[derive(sqlx::FromRow)]
#[allow(missing_docs)]
pub struct MessageRow<T> {
    pub id: i64,
    pub owner_id: i64,
    pub subject: String,
    pub body_text: String,
    pub body_html: Option<String>,
    pub created_at: T,
    pub updated_at: T,
}

impl<T: Into<DateTime<Utc>>> From<MessageRow<T>> for Message {
    fn from(r: MessageRow<T>) -> Self {
        Message {
            id: MessageId(r.id),
            owner: UserId(r.owner_id),
            subject: r.subject,
            body_text: r.body_text,
            body_html: r.body_html,
            created_at: r.created_at.into(),
            updated_at: r.updated_at.into(),
        }
    }
}

/// A mailing with its client set and whether a run is sending (each store's
/// `mailing_columns!`, which differ in how they gather the id list).
#[derive(sqlx::FromRow)]
#[allow(missing_docs)]
pub struct MailingRow<T, I> {
    pub id: i64,
    pub owner_id: i64,
    pub name: String,
    pub message_id: i64,
    pub client_ids: I,
    pub tags: String,
    pub start_at: T,
    pub end_at: T,
    #[sqlx(try_from = "String")]
    pub periodicity: Parsed<Periodicity>,
    pub sender_name: Option<String>,
    pub reply_to: Option<String>,
    pub enabled: bool,
    #[sqlx(try_from = "Option<String>")]
    pub disabled_by: OptParsed<DisabledBy>,
    pub next_run_at: Option<T>,
    pub sending: bool,
    pub paused: bool,
    pub owner_blocked: bool,
    pub created_at: T,
    pub updated_at: T,
}

impl<T: Into<DateTime<Utc>>, I: Into<Vec<i64>>> From<MailingRow<T, I>> for Mailing {
    fn from(r: MailingRow<T, I>) -> Self {
        Mailing {
            id: MailingId(r.id),
            owner: UserId(r.owner_id),
            name: r.name,
            message_id: MessageId(r.message_id),
            client_ids: r.client_ids.into().into_iter().map(ClientId).collect(),
            tags: crate::codec::decode_tags(&r.tags),
            start_at: r.start_at.into(),
            end_at: r.end_at.into(),
            periodicity: r.periodicity.0,
            sender: sender(r.sender_name, r.reply_to),
            enabled: r.enabled,
            disabled_by: r.disabled_by.0,
            next_run_at: r.next_run_at.map(Into::into),
            sending: r.sending,
            owner_blocked: r.owner_blocked,
            paused: r.paused,
            created_at: r.created_at.into(),
            updated_at: r.updated_at.into(),
        }
    }
}

/// A mailing that is due, with its owner's time zone.
#[derive(sqlx::FromRow)]
#[allow(missing_docs)]
pub struct DueRow<T, I> {
    #[sqlx(flatten)]
    pub mailing: MailingRow<T, I>,
    #[sqlx(try_from = "String")]
    pub time_zone: Parsed<TimeZone>,
}

impl<T: Into<DateTime<Utc>>, I: Into<Vec<i64>>> From<DueRow<T, I>> for DueMailing {
    fn from(r: DueRow<T, I>) -> Self {
        DueMailing {
            time_zone: r.time_zone.0,
            mailing: r.mailing.into(),
        }
    }
}

/// A delivery as claimed for sending.
#[derive(sqlx::FromRow)]
#[allow(missing_docs)]
pub struct ClaimRow {
    pub id: i64,
    pub run_id: i64,
    pub email: String,
    pub name: String,
    pub unsubscribe_token: String,
    pub attempts: Small,
}

impl ClaimRow {
    /// The claimed delivery, leased until `lease_until`.
    pub fn claimed(self, lease_until: DateTime<Utc>) -> ClaimedDelivery {
        ClaimedDelivery {
            id: DeliveryId(self.id),
            run_id: RunId(self.run_id),
            email: skymailing_core::adapter::stored::email(self.email),
            name: self.name,
            unsubscribe_token: self.unsubscribe_token,
            attempt: self.attempts.0,
            lease_until,
        }
    }
}

/// A delivery result as applied: the delivery and the state it was left in.
#[derive(sqlx::FromRow)]
#[allow(missing_docs)]
pub struct AppliedRow {
    pub id: i64,
    #[sqlx(try_from = "String")]
    pub state: Parsed<DeliveryState>,
}

impl From<AppliedRow> for (DeliveryId, DeliveryState) {
    fn from(r: AppliedRow) -> Self {
        (DeliveryId(r.id), r.state.0)
    }
}

/// A run.
#[derive(sqlx::FromRow)]
#[allow(missing_docs)]
pub struct RunRow<T> {
    pub id: i64,
    pub mailing_id: Option<i64>,
    pub mailing_name: String,
    pub owner_id: i64,
    pub slot_at: T,
    pub skipped_slots: Small,
    pub started_at: T,
    pub finished_at: Option<T>,
    #[sqlx(try_from = "i64")]
    pub recipients: u64,
    #[sqlx(try_from = "i64")]
    pub sent: u64,
    #[sqlx(try_from = "i64")]
    pub failed: u64,
    #[sqlx(try_from = "i64")]
    pub cancelled: u64,
    #[sqlx(try_from = "i64")]
    pub suppressed: u64,
    #[sqlx(try_from = "i64")]
    pub bounced: u64,
    #[sqlx(try_from = "i64")]
    pub complained: u64,
    pub paused_at: Option<T>,
    pub pause_reason: Option<Json<PauseReason>>,
    pub cancelled_at: Option<T>,
    pub report: Option<Json<RunReport>>,
}

impl<T: Into<DateTime<Utc>>> From<RunRow<T>> for Run {
    fn from(r: RunRow<T>) -> Self {
        let finished = r.finished_at.is_some();
        let mut run = Run {
            id: RunId(r.id),
            mailing_id: r.mailing_id.map(MailingId),
            mailing_name: r.mailing_name,
            owner: UserId(r.owner_id),
            slot_at: r.slot_at.into(),
            skipped_slots: r.skipped_slots.0,
            started_at: r.started_at.into(),
            finished_at: r.finished_at.map(Into::into),
            recipients: r.recipients,
            sent: r.sent,
            failed: r.failed,
            cancelled: r.cancelled,
            suppressed: r.suppressed,
            bounced: r.bounced,
            complained: r.complained,
            report: None,
            status: RunStatus::of(finished, r.paused_at.is_some(), r.cancelled_at.is_some()),
            paused: r.pause_reason.map(|j| j.0),
        };
        // The report's counts are the run's as they are now (late bounces).
        run.report = r.report.map(|j| j.0.with_counts(&run));
        run
    }
}

/// A delivery.
#[derive(sqlx::FromRow)]
#[allow(missing_docs)]
pub struct DeliveryRow<T> {
    pub id: i64,
    pub run_id: i64,
    pub client_id: Option<i64>,
    pub email: String,
    pub name: String,
    #[sqlx(try_from = "String")]
    pub state: Parsed<DeliveryState>,
    pub attempts: Small,
    pub last_reply: Option<String>,
    pub next_attempt_at: T,
    pub updated_at: T,
}

impl<T: Into<DateTime<Utc>>> From<DeliveryRow<T>> for Delivery {
    fn from(r: DeliveryRow<T>) -> Self {
        Delivery {
            id: DeliveryId(r.id),
            run_id: RunId(r.run_id),
            client_id: r.client_id.map(ClientId),
            email: skymailing_core::adapter::stored::email(r.email),
            name: r.name,
            state: r.state.0,
            attempts: r.attempts.0,
            last_reply: r.last_reply,
            next_attempt_at: r.next_attempt_at.into(),
            updated_at: r.updated_at.into(),
        }
    }
}

/// A blog post.
#[derive(sqlx::FromRow)]
#[allow(missing_docs)]
pub struct PostRow<T> {
    pub id: i64,
    pub title: String,
    pub body: String,
    pub image: Option<String>,
    pub published: bool,
    #[sqlx(try_from = "i64")]
    pub views: u64,
    pub published_at: Option<T>,
    pub created_at: T,
}

impl<T: Into<DateTime<Utc>>> From<PostRow<T>> for BlogPost {
    fn from(r: PostRow<T>) -> Self {
        BlogPost {
            id: PostId(r.id),
            title: r.title,
            body: r.body,
            image: r.image,
            published: r.published,
            views: r.views,
            published_at: r.published_at.map(Into::into),
            created_at: r.created_at.into(),
        }
    }
}

/// A suppression.
#[derive(sqlx::FromRow)]
#[allow(missing_docs)]
pub struct SuppressionRow<T> {
    pub id: i64,
    pub owner_id: i64,
    pub email: String,
    #[sqlx(try_from = "String")]
    pub reason: Parsed<SuppressionReason>,
    pub created_at: T,
    pub detail: Option<String>,
}

impl<T: Into<DateTime<Utc>>> From<SuppressionRow<T>> for Suppression {
    fn from(r: SuppressionRow<T>) -> Self {
        Suppression {
            id: r.id,
            owner: UserId(r.owner_id),
            email: skymailing_core::adapter::stored::email(r.email),
            reason: r.reason.0,
            created_at: r.created_at.into(),
            detail: r.detail,
        }
    }
}

/// A delivery a report may be about.
#[derive(sqlx::FromRow)]
#[allow(missing_docs)]
pub struct TargetRow {
    pub id: i64,
    pub run_id: i64,
    pub owner_id: i64,
    pub email: String,
    #[sqlx(try_from = "String")]
    pub state: Parsed<DeliveryState>,
    pub unsubscribe_token: String,
    pub nonce: String,
}

impl From<TargetRow> for FeedbackTarget {
    fn from(r: TargetRow) -> Self {
        FeedbackTarget {
            delivery: DeliveryId(r.id),
            run: RunId(r.run_id),
            owner: UserId(r.owner_id),
            email: skymailing_core::adapter::stored::email(r.email),
            state: r.state.0,
            unsubscribe_token: r.unsubscribe_token,
            nonce: r.nonce,
        }
    }
}

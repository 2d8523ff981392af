//! Rows as read from SQLite, and their conversion into domain values.

use chrono::{DateTime, Utc};
use skymailing_core::*;
use skymailing_store_sql::codec::{JsonIds, Micros, OptMicros, OptParsed, Parsed};
use sqlx::types::Json;

/// Microseconds since the epoch: how this store keeps times.
pub(crate) fn ts(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// An optional time.
pub(crate) fn ts_opt(t: Option<DateTime<Utc>>) -> Option<i64> {
    t.map(ts)
}

pub(crate) use skymailing_store_sql::codec::count;
pub(crate) use skymailing_store_sql::{like, limits};

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
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
    #[sqlx(try_from = "i64")]
    pub created_at: Micros,
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        User {
            id: UserId(r.id),
            email: EmailAddress::from_trusted(r.email),
            name: DisplayName::from_trusted(r.name),
            time_zone: r.time_zone.0,
            role: r.role.0,
            state: r.state.0,
            language: r.language.map(Language::from_trusted),
            created_at: r.created_at.0,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct UserHashRow {
    #[sqlx(flatten)]
    pub user: UserRow,
    pub password_hash: String,
}

pub(crate) use skymailing_store_sql::user_columns;

#[derive(sqlx::FromRow)]
pub(crate) struct ClientRow {
    pub id: i64,
    pub owner_id: i64,
    pub email: String,
    pub full_name: String,
    pub comment: String,
    #[sqlx(try_from = "Option<i64>")]
    pub unsubscribed_at: OptMicros,
    pub unsubscribe_token: String,
    #[sqlx(try_from = "i64")]
    pub created_at: Micros,
}

impl From<ClientRow> for Client {
    fn from(r: ClientRow) -> Self {
        Client {
            id: ClientId(r.id),
            owner: UserId(r.owner_id),
            email: EmailAddress::from_trusted(r.email),
            full_name: r.full_name,
            comment: r.comment,
            unsubscribed_at: r.unsubscribed_at.0,
            unsubscribe_token: r.unsubscribe_token,
            created_at: r.created_at.0,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct MessageRow {
    pub id: i64,
    pub owner_id: i64,
    pub subject: String,
    pub body_text: String,
    pub body_html: Option<String>,
    #[sqlx(try_from = "i64")]
    pub created_at: Micros,
    #[sqlx(try_from = "i64")]
    pub updated_at: Micros,
}

impl From<MessageRow> for Message {
    fn from(r: MessageRow) -> Self {
        Message {
            id: MessageId(r.id),
            owner: UserId(r.owner_id),
            subject: r.subject,
            body_text: r.body_text,
            body_html: r.body_html,
            created_at: r.created_at.0,
            updated_at: r.updated_at.0,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct MailingRow {
    pub id: i64,
    pub owner_id: i64,
    pub name: String,
    pub message_id: i64,
    #[sqlx(try_from = "String")]
    pub client_ids: JsonIds,
    #[sqlx(try_from = "i64")]
    pub start_at: Micros,
    #[sqlx(try_from = "i64")]
    pub end_at: Micros,
    #[sqlx(try_from = "String")]
    pub periodicity: Parsed<Periodicity>,
    pub enabled: bool,
    #[sqlx(try_from = "Option<String>")]
    pub disabled_by: OptParsed<DisabledBy>,
    #[sqlx(try_from = "Option<i64>")]
    pub next_run_at: OptMicros,
    pub sending: bool,
    #[sqlx(try_from = "i64")]
    pub created_at: Micros,
    #[sqlx(try_from = "i64")]
    pub updated_at: Micros,
}

/// Columns of a mailing `m` with its client set (a JSON array) and whether a run is sending.
macro_rules! mailing_columns {
    () => {
        "m.id, m.owner_id, m.name, m.message_id, \
         (SELECT json_group_array(client_id) FROM \
             (SELECT mc.client_id FROM mailing_clients mc WHERE mc.mailing_id = m.id ORDER BY mc.client_id)) AS client_ids, \
         m.start_at, m.end_at, m.periodicity, m.enabled, m.disabled_by, m.next_run_at, \
         EXISTS(SELECT 1 FROM runs r WHERE r.mailing_id = m.id AND r.finished_at IS NULL) AS sending, \
         m.created_at, m.updated_at"
    };
}
pub(crate) use mailing_columns;

impl From<MailingRow> for Mailing {
    fn from(r: MailingRow) -> Self {
        Mailing {
            id: MailingId(r.id),
            owner: UserId(r.owner_id),
            name: r.name,
            message_id: MessageId(r.message_id),
            client_ids: r.client_ids.0.into_iter().map(ClientId).collect(),
            start_at: r.start_at.0,
            end_at: r.end_at.0,
            periodicity: r.periodicity.0,
            enabled: r.enabled,
            disabled_by: r.disabled_by.0,
            next_run_at: r.next_run_at.0,
            sending: r.sending,
            created_at: r.created_at.0,
            updated_at: r.updated_at.0,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct RunRow {
    pub id: i64,
    pub mailing_id: Option<i64>,
    pub mailing_name: String,
    pub owner_id: i64,
    #[sqlx(try_from = "i64")]
    pub slot_at: Micros,
    #[sqlx(try_from = "i64")]
    pub skipped_slots: u32,
    #[sqlx(try_from = "i64")]
    pub started_at: Micros,
    #[sqlx(try_from = "Option<i64>")]
    pub finished_at: OptMicros,
    #[sqlx(try_from = "i64")]
    pub recipients: u64,
    #[sqlx(try_from = "i64")]
    pub sent: u64,
    #[sqlx(try_from = "i64")]
    pub failed: u64,
    #[sqlx(try_from = "i64")]
    pub cancelled: u64,
    pub report: Option<Json<RunReport>>,
}

pub(crate) use skymailing_store_sql::run_columns;

impl From<RunRow> for Run {
    fn from(r: RunRow) -> Self {
        Run {
            id: RunId(r.id),
            mailing_id: r.mailing_id.map(MailingId),
            mailing_name: r.mailing_name,
            owner: UserId(r.owner_id),
            slot_at: r.slot_at.0,
            skipped_slots: r.skipped_slots,
            started_at: r.started_at.0,
            finished_at: r.finished_at.0,
            recipients: r.recipients,
            sent: r.sent,
            failed: r.failed,
            cancelled: r.cancelled,
            report: r.report.map(|j| j.0),
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct DeliveryRow {
    pub id: i64,
    pub run_id: i64,
    pub client_id: Option<i64>,
    pub email: String,
    pub name: String,
    #[sqlx(try_from = "String")]
    pub state: Parsed<DeliveryState>,
    #[sqlx(try_from = "i64")]
    pub attempts: u32,
    pub last_reply: Option<String>,
    #[sqlx(try_from = "i64")]
    pub next_attempt_at: Micros,
    #[sqlx(try_from = "i64")]
    pub updated_at: Micros,
}

impl From<DeliveryRow> for Delivery {
    fn from(r: DeliveryRow) -> Self {
        Delivery {
            id: DeliveryId(r.id),
            run_id: RunId(r.run_id),
            client_id: r.client_id.map(ClientId),
            email: EmailAddress::from_trusted(r.email),
            name: r.name,
            state: r.state.0,
            attempts: r.attempts,
            last_reply: r.last_reply,
            next_attempt_at: r.next_attempt_at.0,
            updated_at: r.updated_at.0,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct PostRow {
    pub id: i64,
    pub title: String,
    pub body: String,
    pub image: Option<String>,
    pub published: bool,
    #[sqlx(try_from = "i64")]
    pub views: u64,
    #[sqlx(try_from = "Option<i64>")]
    pub published_at: OptMicros,
    #[sqlx(try_from = "i64")]
    pub created_at: Micros,
}

impl From<PostRow> for BlogPost {
    fn from(r: PostRow) -> Self {
        BlogPost {
            id: PostId(r.id),
            title: r.title,
            body: r.body,
            image: r.image,
            published: r.published,
            views: r.views,
            published_at: r.published_at.0,
            created_at: r.created_at.0,
        }
    }
}

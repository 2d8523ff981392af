//! The rows as read from PostgreSQL: the shared row types
//! (`skymailing_store_sql::rows`) with PostgreSQL's time and id-list types.

use chrono::{DateTime, Utc};
use skymailing_store_sql::rows;

type Time = DateTime<Utc>;
type Ids = Vec<i64>;

pub(crate) type UserRow = rows::UserRow<Time>;
pub(crate) type UserHashRow = rows::UserHashRow<Time>;
pub(crate) type ClientRow = rows::ClientRow<Time>;
pub(crate) type MessageRow = rows::MessageRow<Time>;
pub(crate) type MailingRow = rows::MailingRow<Time, Ids>;
pub(crate) type DueRow = rows::DueRow<Time, Ids>;
pub(crate) use rows::{AppliedRow, ClaimRow};
pub(crate) type RunRow = rows::RunRow<Time>;
pub(crate) type DeliveryRow = rows::DeliveryRow<Time>;
pub(crate) type PostRow = rows::PostRow<Time>;

pub(crate) use skymailing_store_sql::codec::count;
pub(crate) use skymailing_store_sql::{Window, like, limits, run_columns, user_columns, window};

/// Columns of a mailing `m` with its client set and whether a run is sending.
macro_rules! mailing_columns {
    () => {
        "m.id, m.owner_id, m.name, m.message_id, \
         ARRAY(SELECT mc.client_id FROM mailing_clients mc WHERE mc.mailing_id = m.id ORDER BY mc.client_id) AS client_ids, \
         m.tags, m.start_at, m.end_at, m.periodicity, m.sender_name, m.reply_to, m.enabled, m.disabled_by, m.next_run_at, \
         EXISTS(SELECT 1 FROM runs r WHERE r.mailing_id = m.id AND r.finished_at IS NULL) AS sending, \
         EXISTS(SELECT 1 FROM runs r WHERE r.mailing_id = m.id AND r.paused_at IS NOT NULL) AS paused, \
         EXISTS(SELECT 1 FROM users u WHERE u.id = m.owner_id AND u.state = 'blocked') AS owner_blocked, \
         m.created_at, m.updated_at"
    };
}
pub(crate) use mailing_columns;

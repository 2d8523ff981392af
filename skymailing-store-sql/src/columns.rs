//! The column lists of the rows both stores read (macros, so that queries
//! stay `&'static str` with `concat!`). The stores' row structs follow them.

/// Columns of a user row.
#[macro_export]
macro_rules! user_columns {
    () => {
        "id, email, name, time_zone, role, state, language, sender_name, reply_to, created_at"
    };
}

/// Columns of a run row.
#[macro_export]
macro_rules! run_columns {
    () => {
        "id, mailing_id, mailing_name, owner_id, slot_at, skipped_slots, \
         started_at, finished_at, recipients, sent, failed, cancelled, \
         suppressed, bounced, complained, paused_at, pause_reason, cancelled_at, report"
    };
}

/// Columns of a client row.
#[macro_export]
macro_rules! client_columns {
    () => {
        "id, owner_id, email, full_name, comment, tags, unsubscribed_at, unsubscribe_token, created_at"
    };
}

/// Columns of a message row.
#[macro_export]
macro_rules! message_columns {
    () => {
        "id, owner_id, subject, body_text, body_html, created_at, updated_at"
    };
}

/// Columns of a blog post row.
#[macro_export]
macro_rules! post_columns {
    () => {
        "id, title, body, image, published, views, published_at, created_at"
    };
}

/// Columns of a suppression row.
#[macro_export]
macro_rules! suppression_columns {
    () => {
        "id, owner_id, email, reason, created_at, detail"
    };
}

//! Domain types. Values are parsed at the edge into newtypes ([`EmailAddress`],
//! [`DisplayName`], [`TimeZone`], ...) so the rest of the code never sees an
//! unvalidated string; each parse error names its field.

mod blog;
mod client;
mod feedback;
mod ids;
mod import;
mod mailing;
mod message;
mod page;
mod report;
mod run;
mod template;
mod user;
mod values;

pub use blog::{BlogPost, PostDraft};
pub use client::{
    Client, ClientDraft, ClientFilter, MAX_TAG_LEN, MAX_TAGS, UnsubscribeLink, natural_key,
    parse_tags, split_tags,
};
pub use feedback::{
    DeliveryRef, FeedbackApplied, FeedbackKind, FeedbackReport, FeedbackSource, FeedbackTarget,
    NewFeedback, PausePolicy, PauseReason, SOFT_BOUNCE_LIMIT, SOFT_BOUNCE_WINDOW_DAYS, Suppression,
    SuppressionReason, parse_message_id, verp_address, verp_delivery, verp_matches, verp_token,
    verp_token_of,
};
pub use ids::{ClientId, DeliveryId, MailingId, MessageId, PostId, RunId, UserId};
pub use import::{
    ImportAction, ImportIssue, ImportPlan, ImportPreviewRow, ImportReport, MAX_IMPORT_ROWS,
    ParsedImport, parse_clients_csv, plan_import, write_clients_csv,
};
pub use mailing::{
    Audience, DisabledBy, Mailing, MailingDraft, MailingInput, MailingStatus, Periodicity,
};
pub use message::{Message, MessageDraft};
pub use page::{ListQuery, Page};
pub use report::{FailureCount, ReportLine, RunReport, redact_addresses};
pub use run::{
    ClaimedDelivery, Delivery, DeliveryOutcome, DeliveryResult, DeliveryState, Recipient, Run,
    RunActivity, RunContent, RunStatus, RunTotals,
};
pub use template::{CompiledMessage, PLACEHOLDERS, RenderedMessage, TemplateContext, Templates};
pub use user::{NewUser, Role, Sender, TokenPurpose, User, UserState};
pub use values::{
    DisplayName, EmailAddress, Language, Password, TimeZone, bounded_text, single_line,
};

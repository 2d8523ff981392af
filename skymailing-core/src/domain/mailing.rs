//! Mailings: a message sent to a set of the owner's clients on a schedule.

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};

use super::{
    ClientFilter, ClientId, MailingId, MessageId, Sender, UserId, parse_tags, single_line,
};
use crate::{Error, Reason};

/// How often a mailing repeats inside its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Periodicity {
    /// One run, at the start time.
    Once,
    /// Every day at the start's local time.
    Daily,
    /// Every seven days at the start's local time.
    Weekly,
    /// Every month on the start's day (clamped to the month's last day).
    Monthly,
}

impl Periodicity {
    /// All values, in order.
    pub const ALL: [Periodicity; 4] = [
        Periodicity::Once,
        Periodicity::Daily,
        Periodicity::Weekly,
        Periodicity::Monthly,
    ];
    /// The name used in storage and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Periodicity::Once => "once",
            Periodicity::Daily => "daily",
            Periodicity::Weekly => "weekly",
            Periodicity::Monthly => "monthly",
        }
    }
    /// Parses the `periodicity` field.
    pub fn parse(s: &str) -> Result<Self, Error> {
        match s.trim() {
            "once" => Ok(Periodicity::Once),
            "daily" => Ok(Periodicity::Daily),
            "weekly" => Ok(Periodicity::Weekly),
            "monthly" => Ok(Periodicity::Monthly),
            _ => Err(Error::invalid("periodicity", Reason::UnknownPeriodicity)),
        }
    }
}

/// Who disabled a mailing; a mailing a manager disabled stays disabled until a
/// manager or an admin re-enables it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DisabledBy {
    /// The owner disabled it.
    Owner,
    /// A manager or an admin disabled it.
    Manager,
    /// The engine parked it: its scheduling or a delivery of it failed in a
    /// way retrying would not mend (bad data, a bug). Enabling it tries again.
    EngineError,
}

impl DisabledBy {
    /// The name used in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            DisabledBy::Owner => "owner",
            DisabledBy::Manager => "manager",
            DisabledBy::EngineError => "engine_error",
        }
    }
    /// Parses a stored value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "owner" => Some(DisabledBy::Owner),
            "manager" => Some(DisabledBy::Manager),
            "engine_error" => Some(DisabledBy::EngineError),
            _ => None,
        }
    }
}

/// Where a mailing is in its life (DESIGN §5c), derived from its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MailingStatus {
    /// Enabled, a next run exists, none in progress.
    Scheduled,
    /// A run of it is in progress.
    Sending,
    /// A run of it paused itself for its failures and bounces; its next
    /// slots wait until its owner resumes or cancels that run.
    Paused,
    /// Switched off by its owner, a manager or the engine (`disabled_by`).
    Disabled,
    /// Its owner is blocked: it sends nothing.
    OwnerBlocked,
    /// No run will come and none is in progress.
    Finished,
}

impl MailingStatus {
    /// The name used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            MailingStatus::Scheduled => "scheduled",
            MailingStatus::Sending => "sending",
            MailingStatus::Paused => "paused",
            MailingStatus::Disabled => "disabled",
            MailingStatus::OwnerBlocked => "owner_blocked",
            MailingStatus::Finished => "finished",
        }
    }

    /// Whether a next run is shown: not for a disabled, blocked or finished
    /// mailing (none will come while it stays so).
    pub fn shows_next_run(self) -> bool {
        !matches!(
            self,
            MailingStatus::Disabled | MailingStatus::OwnerBlocked | MailingStatus::Finished
        )
    }

    /// Whether switching it off means anything: not once it is finished.
    pub fn can_be_disabled(self) -> bool {
        !matches!(self, MailingStatus::Finished | MailingStatus::Disabled)
    }
}

/// A mailing as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mailing {
    /// Identity.
    pub id: MailingId,
    /// The user it belongs to.
    pub owner: UserId,
    /// A name for the owner.
    pub name: String,
    /// The message it sends.
    pub message_id: MessageId,
    /// The owner's clients it sends to (sorted, no duplicates).
    pub client_ids: Vec<ClientId>,
    /// Tags: each run also reaches every client of the owner carrying one of
    /// them at that run's start (lowercase, sorted).
    pub tags: Vec<String>,
    /// First slot.
    pub start_at: DateTime<Utc>,
    /// No slot at or after this instant.
    pub end_at: DateTime<Utc>,
    /// Repetition.
    pub periodicity: Periodicity,
    /// Its own sender name and Reply-To; unset parts are the owner's.
    pub sender: Sender,
    /// False once disabled.
    pub enabled: bool,
    /// Who disabled it, while disabled.
    pub disabled_by: Option<DisabledBy>,
    /// The next slot to run; `None` when no slot is left.
    pub next_run_at: Option<DateTime<Utc>>,
    /// Whether a run of it is still sending (computed by the store).
    pub sending: bool,
    /// Whether a run of it is paused (computed by the store).
    pub paused: bool,
    /// Whether its owner is blocked (computed by the store).
    pub owner_blocked: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl Mailing {
    /// Whether it was given an end (a once-only mailing may have none: its end
    /// is then [`MailingDraft::NO_END`]).
    pub fn has_end(&self) -> bool {
        self.end_at < MailingDraft::NO_END
    }

    /// The status (DESIGN §5c). `now` is kept for callers; a next run at or
    /// after the end (not yet moved by the engine) counts as none.
    pub fn status(&self, _now: DateTime<Utc>) -> MailingStatus {
        match self.next_run_at {
            _ if !self.enabled => MailingStatus::Disabled,
            _ if self.owner_blocked => MailingStatus::OwnerBlocked,
            _ if self.paused => MailingStatus::Paused,
            _ if self.sending => MailingStatus::Sending,
            Some(next) if next < self.end_at => MailingStatus::Scheduled,
            _ => MailingStatus::Finished,
        }
    }
}

/// Who a mailing reaches: chosen clients, clients with one of its tags (at
/// each run), and clients matching a filter when it is saved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Audience {
    /// Chosen clients.
    pub client_ids: Vec<ClientId>,
    /// Tags (validated by [`parse_tags`]).
    pub tags: Vec<String>,
    /// "All clients matching", resolved when the mailing is saved.
    pub matching: Option<ClientFilter>,
}

/// A mailing as a form or request gives it, for [`MailingDraft::from_input`]:
/// the parts the caller reads itself (a number, a local time) come as results.
#[derive(Debug)]
pub struct MailingInput<'a> {
    /// Name.
    pub name: &'a str,
    /// The message, or why it could not be read.
    pub message_id: Result<MessageId, Error>,
    /// The recipients, or why they could not be read.
    pub audience: Result<Audience, Error>,
    /// The first slot, or why it could not be read.
    pub start_at: Result<DateTime<Utc>, Error>,
    /// The end (`None`: none given), or why it could not be read.
    pub end_at: Result<Option<DateTime<Utc>>, Error>,
    /// `once`, `daily`, `weekly` or `monthly`.
    pub periodicity: &'a str,
    /// The sender name (empty: the owner's).
    pub sender_name: &'a str,
    /// The Reply-To (empty: the owner's).
    pub reply_to: &'a str,
}

/// Validated fields of a mailing to create or update.
///
/// Built only by its validating constructor (`#[non_exhaustive]`); the use
/// cases validate it again (`revalidated`), so a draft whose public fields
/// were changed after it was built is refused like bad input, not stored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MailingDraft {
    /// Name (1..=200 characters).
    pub name: String,
    /// Message to send.
    pub message_id: MessageId,
    /// Recipients: the owner's clients, sorted, without duplicates.
    pub client_ids: Vec<ClientId>,
    /// Tags whose clients each run reaches too (see [`Mailing::tags`]).
    pub tags: Vec<String>,
    /// Clients to add as they match now (a form's "all matching"); the use
    /// case resolves it into `client_ids` before storing.
    pub matching: Option<ClientFilter>,
    /// First slot.
    pub start_at: DateTime<Utc>,
    /// Exclusive end, after `start_at`.
    pub end_at: DateTime<Utc>,
    /// Repetition.
    pub periodicity: Periodicity,
    /// The sender name and Reply-To for this mailing; unset parts are the
    /// owner's (see [`Sender::effective`]). Set with [`MailingDraft::with_sender`].
    pub sender: Sender,
}

impl MailingDraft {
    /// The most clients one mailing may name.
    pub const MAX_CLIENTS: usize = 1_000_000;

    /// Validates the fields of a mailing to chosen clients; the error names
    /// the first bad one.
    pub fn new(
        name: &str,
        message_id: MessageId,
        client_ids: Vec<ClientId>,
        start_at: DateTime<Utc>,
        end_at: DateTime<Utc>,
        periodicity: Periodicity,
    ) -> Result<Self, Error> {
        Self::for_audience(
            name,
            message_id,
            Audience {
                client_ids,
                ..Audience::default()
            },
            start_at,
            end_at,
            periodicity,
        )
    }

    /// Validates the fields of a mailing to an audience (clients, tags, a
    /// filter; at least one of them); the error names the first bad field.
    pub fn for_audience(
        name: &str,
        message_id: MessageId,
        audience: Audience,
        start_at: DateTime<Utc>,
        end_at: DateTime<Utc>,
        periodicity: Periodicity,
    ) -> Result<Self, Error> {
        let mut c = crate::Checks::default();
        let name = c.check(single_line("name", name, 200));
        let Audience {
            mut client_ids,
            tags,
            matching,
        } = audience;
        client_ids.sort_unstable();
        client_ids.dedup();
        let tags = c.check(parse_tags("tags", tags.iter().map(String::as_str)));
        if client_ids.is_empty() && tags.as_ref().is_some_and(Vec::is_empty) && matching.is_none() {
            c.fail("client_ids", Reason::NoClients);
        }
        if client_ids.len() > Self::MAX_CLIENTS {
            c.fail(
                "client_ids",
                Reason::TooManyClients {
                    max: Self::MAX_CLIENTS,
                },
            );
        }
        // Stores keep microseconds: drop finer digits here so that what is
        // stored is exactly what the schedule computes with.
        let (start_at, end_at) = (start_at.trunc_subsecs(6), end_at.trunc_subsecs(6));
        for (field, t) in [("start_at", start_at), ("end_at", end_at)] {
            if !crate::schedule::in_range(t) {
                c.fail(field, Self::out_of_range());
            }
        }
        if end_at <= start_at {
            c.fail("end_at", Reason::EndBeforeStart);
        }
        c.finish()?;
        let (Some(name), Some(tags)) = (name, tags) else {
            return Err(Error::Internal("a checked field has no value".into()));
        };
        Ok(MailingDraft {
            name,
            message_id,
            client_ids,
            tags,
            matching,
            start_at,
            end_at,
            periodicity,
            sender: Sender::default(),
        })
    }

    /// The same draft presenting itself as `sender` (parts left unset are the
    /// owner's).
    pub fn with_sender(self, sender: Sender) -> Self {
        MailingDraft { sender, ..self }
    }

    /// The end a form or request gave, or none: a once-only mailing needs no
    /// end (it gets [`MailingDraft::NO_END`], so that it still sends if the
    /// service was down at its start); a repeating one does.
    pub fn end_or_default(
        end_at: Option<DateTime<Utc>>,
        periodicity: Periodicity,
    ) -> Result<DateTime<Utc>, Error> {
        match (end_at, periodicity) {
            (Some(end), _) => Ok(end),
            (None, Periodicity::Once) => Ok(Self::NO_END),
            (None, _) => Err(Error::invalid("end_at", Reason::Required)),
        }
    }

    /// Validates a mailing as a form or a request gives it, each part
    /// already read (or refused) by the caller: every field is checked and
    /// every error reported at once. An end left out is
    /// [`end_or_default`](Self::end_or_default)'s.
    pub fn from_input(input: MailingInput<'_>) -> Result<Self, Error> {
        let mut c = crate::Checks::default();
        let message_id = c.check(input.message_id);
        let audience = c.check(input.audience);
        let start_at = c.check(input.start_at);
        let end_at = c.check(input.end_at);
        let periodicity = c.check(Periodicity::parse(input.periodicity));
        let end_at = match (end_at, periodicity) {
            (Some(end), Some(p)) => c.check(Self::end_or_default(end, p)),
            (Some(end), None) => end,
            (None, _) => None,
        };
        let sender = c.check(Sender::parse(input.sender_name, input.reply_to));
        // What failed above is stood in for by values that raise no error of
        // their own, so the draft's other fields are still checked.
        // (Checked arithmetic: a time at chrono's very limits is refused as
        // out of range below, never a panic here.)
        let day = chrono::Duration::days(1);
        let fallback = (
            crate::schedule::EARLIEST + day,
            crate::schedule::EARLIEST + day * 2,
        );
        let (start, end) = match (start_at, end_at) {
            (Some(s), Some(e)) => (s, e),
            (Some(s), None) => s.checked_add_signed(day).map_or(fallback, |e| (s, e)),
            (None, Some(e)) => e.checked_sub_signed(day).map_or(fallback, |s| (s, e)),
            (None, None) => fallback,
        };
        let draft = c.check(Self::for_audience(
            input.name,
            message_id.unwrap_or(MessageId(0)),
            audience.unwrap_or(Audience {
                client_ids: vec![ClientId(0)],
                ..Audience::default()
            }),
            start,
            end,
            periodicity.unwrap_or(Periodicity::Once),
        ));
        c.finish_in_order(&[
            "name",
            "message_id",
            "tags",
            "client_ids",
            "start_at",
            "end_at",
            "periodicity",
            "sender_name",
            "reply_to",
        ])?;
        match (draft, sender) {
            (Some(d), Some(sender)) => Ok(d.with_sender(sender)),
            _ => Err(Error::Internal("a checked field has no value".into())),
        }
    }

    /// The end of a mailing given none: the last instant schedules accept.
    pub const NO_END: DateTime<Utc> = crate::schedule::LATEST;

    /// The same fields, validated again.
    pub fn revalidated(&self) -> Result<Self, Error> {
        Self::for_audience(
            &self.name,
            self.message_id,
            Audience {
                client_ids: self.client_ids.clone(),
                tags: self.tags.clone(),
                matching: self.matching.clone(),
            },
            self.start_at,
            self.end_at,
            self.periodicity,
        )
        .map(|d| d.with_sender(self.sender.clone()))
    }

    /// Why a time outside `schedule::EARLIEST ..= schedule::LATEST` is refused.
    pub fn out_of_range() -> Reason {
        let date = |t: DateTime<Utc>| t.format("%Y-%m-%d").to_string();
        Reason::TimeOutOfRange {
            earliest: date(crate::schedule::EARLIEST),
            latest: date(crate::schedule::LATEST),
        }
    }

    /// Whether the schedule (start, end, periodicity) differs from `m`'s.
    pub fn changes_schedule_of(&self, m: &Mailing) -> bool {
        self.start_at != m.start_at || self.end_at != m.end_at || self.periodicity != m.periodicity
    }
}

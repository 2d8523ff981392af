//! Scheduling as pure functions (see `docs/scheduling.md`).
//!
//! A mailing's *slots* are its start and, for periodic mailings, start + k
//! periods computed **in the owner's time zone**: 09:00 stays 09:00 across DST.
//! A local time that falls into a DST gap is read with the offset in force before
//! the gap (RFC 5545), which moves it forward by the gap's length (02:30 → 03:30);
//! an ambiguous local time (a DST overlap) takes its first occurrence. Monthly
//! slots keep the start's day of month, clamped to each month's last day
//! (Jan 31 → Feb 28/29 → Mar 31), always counted from the start so the day is
//! never lost. Only slots strictly before the end exist.
//!
//! Every time a schedule uses lies in [`EARLIEST`] … [`LATEST`]: the time-zone
//! tables are exact up to 2099 (past their end chrono-tz applies a fixed
//! offset and forgets DST), and no time outside this range is accepted from
//! anyone. A schedule built from times outside it (bad stored data) has no
//! slots rather than wrong ones, and nothing here panics or walks: the slot
//! at or before a time is computed from the number of periods since the start,
//! then corrected by at most a few steps for DST and month lengths.

use chrono::{
    DateTime, Datelike, Days, Duration, LocalResult, Months, NaiveDateTime, Offset, TimeZone as _,
    Utc,
};

use crate::{Periodicity, TimeZone};

/// The earliest time a schedule accepts: 1970-01-01T00:00:00Z.
pub const EARLIEST: DateTime<Utc> = DateTime::from_timestamp_nanos(0);
/// The latest time a schedule accepts: 2100-01-01T00:00:00Z.
pub const LATEST: DateTime<Utc> = DateTime::from_timestamp_nanos(4_102_444_800_000_000_000);

/// Whether `t` is a time schedules accept ([`EARLIEST`] ..= [`LATEST`]).
pub fn in_range(t: DateTime<Utc>) -> bool {
    (EARLIEST..=LATEST).contains(&t)
}

/// Steps the slot search may correct its estimate by: a DST shift moves a
/// slot by hours, a short month by days, never by more than one period.
const MAX_CORRECTION: u32 = 4;

/// A mailing's schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// First slot.
    pub start: DateTime<Utc>,
    /// Exclusive end.
    pub end: DateTime<Utc>,
    /// Repetition.
    pub periodicity: Periodicity,
    /// The owner's zone, in which periods are counted.
    pub tz: TimeZone,
}

/// What the scheduler should do with a mailing at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tick {
    /// Nothing is due yet.
    Wait,
    /// Start one run for `slot`; `skipped` earlier due slots are coalesced into
    /// it; afterwards the mailing waits for `next` (`None`: no slot left).
    Run {
        /// The latest due slot.
        slot: DateTime<Utc>,
        /// Due slots before it that get no run of their own.
        skipped: u32,
        /// The next slot after `slot`.
        next: Option<DateTime<Utc>>,
    },
    /// The window closed before the due slot could run: no run, no next slot.
    Expire {
        /// Due slots that never ran.
        skipped: u32,
    },
}

impl Schedule {
    /// Whether the schedule's times are in the accepted range (see [`EARLIEST`]).
    pub fn is_valid(&self) -> bool {
        in_range(self.start) && in_range(self.end)
    }

    /// The `k`-th slot (0 is the start), whether or not it is before the end.
    /// `None` past the accepted range, or for a schedule outside it.
    pub fn raw_slot(&self, k: u32) -> Option<DateTime<Utc>> {
        #[cfg(test)]
        tests::SLOT_CALLS.with(|c| c.set(c.get() + 1));
        if !self.is_valid() {
            return None;
        }
        if k == 0 {
            return Some(self.start);
        }
        let tz = self.tz.0;
        let local = self.start.with_timezone(&tz).naive_local();
        let date = match self.periodicity {
            Periodicity::Once => return None,
            Periodicity::Daily => local.date().checked_add_days(Days::new(u64::from(k)))?,
            Periodicity::Weekly => local.date().checked_add_days(Days::new(7 * u64::from(k)))?,
            Periodicity::Monthly => local.date().checked_add_months(Months::new(k))?,
        };
        let slot = resolve_local(self.tz, date.and_time(local.time()));
        in_range(slot).then_some(slot)
    }

    /// The `k`-th slot if it is before the end.
    pub fn slot(&self, k: u32) -> Option<DateTime<Utc>> {
        self.raw_slot(k).filter(|s| *s < self.end)
    }

    /// All slots, in order.
    pub fn slots(&self) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        (0u32..).map_while(move |k| self.slot(k))
    }

    /// The latest slot at or before `t`, with its index. Computed from the
    /// number of whole periods between the start and `t` on the owner's local
    /// calendar, then corrected by at most `MAX_CORRECTION` steps.
    pub fn latest_at_or_before(&self, t: DateTime<Utc>) -> Option<(u32, DateTime<Utc>)> {
        if !self.is_valid() || t < self.start || self.end <= self.start {
            return None;
        }
        if self.periodicity == Periodicity::Once {
            return Some((0, self.start));
        }
        // Slots lie before the end, so a later `t` finds the last slot.
        let t = t.min(self.end - Duration::nanoseconds(1));
        let tz = self.tz.0;
        let (from, to) = (
            self.start.with_timezone(&tz).naive_local(),
            t.with_timezone(&tz).naive_local(),
        );
        let periods = match self.periodicity {
            Periodicity::Once => 0,
            Periodicity::Daily => (to.date() - from.date()).num_days(),
            Periodicity::Weekly => (to.date() - from.date()).num_days() / 7,
            Periodicity::Monthly => {
                let months = |d: NaiveDateTime| i64::from(d.year()) * 12 + i64::from(d.month0());
                months(to) - months(from)
            }
        };
        let mut k = u32::try_from(periods.max(0)).unwrap_or(u32::MAX);
        for _ in 0..MAX_CORRECTION {
            match self.slot(k) {
                Some(s) if s <= t => break,
                _ if k > 0 => k -= 1,
                _ => break,
            }
        }
        let mut slot = self.slot(k).filter(|s| *s <= t)?;
        for _ in 0..MAX_CORRECTION {
            match self.slot(k + 1).filter(|n| *n <= t) {
                Some(next) => {
                    k += 1;
                    slot = next;
                }
                None => break,
            }
        }
        Some((k, slot))
    }

    /// The first slot strictly after `t`.
    pub fn first_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self.latest_at_or_before(t) {
            None if t < self.start => self.slot(0),
            None => None,
            Some((k, _)) => self.slot(k + 1),
        }
    }

    /// Where a mailing's next run should be when it is created, edited or
    /// re-enabled at `now`: the start if it is in the future; inside the window,
    /// the current slot (due at once, the seed rule); after the end, none.
    pub fn seed(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if now < self.start {
            return self.slot(0);
        }
        if now >= self.end {
            return None;
        }
        self.latest_at_or_before(now).map(|(_, s)| s)
    }

    /// What to do at `now` for a mailing whose next run is `next_run_at`.
    /// Missed slots are coalesced into one run for the latest due slot; no run
    /// starts at or after the end. A `next_run_at` that is not a slot (the
    /// schedule or the owner's zone changed since it was set) counts from the
    /// first slot after it; before the start, it is [`Tick::Wait`].
    pub fn tick(&self, next_run_at: DateTime<Utc>, now: DateTime<Utc>) -> Tick {
        if next_run_at > now || now < self.start {
            return Tick::Wait;
        }
        let first_due = match self.latest_at_or_before(next_run_at) {
            Some((k, s)) if s == next_run_at => k,
            Some((k, _)) => k + 1, // not a slot of this schedule: count from the one after
            None => 0,
        };
        let Some((latest, slot)) = self.latest_at_or_before(now) else {
            return Tick::Expire { skipped: 0 };
        };
        let due = (latest + 1).saturating_sub(first_due);
        if now >= self.end {
            return Tick::Expire { skipped: due };
        }
        if latest < first_due {
            // `next_run_at` was past every slot up to now: wait for the next one.
            return Tick::Wait;
        }
        Tick::Run {
            slot,
            skipped: due - 1,
            next: self.slot(latest + 1),
        }
    }
}

/// Turns a local wall-clock time into an instant: the first occurrence of an
/// ambiguous time, and for a time inside a DST gap, the offset before the gap
/// (RFC 5545). Forms that take times in the user's zone use it too, so a
/// typed time means what the schedule means.
///
/// Outside the accepted range (with two days to spare for any offset) the
/// time is read as UTC, unconverted: the caller refuses it as out of range,
/// and the zone tables are never asked about years they do not cover.
pub fn resolve_local(tz: TimeZone, local: NaiveDateTime) -> DateTime<Utc> {
    let slack = Duration::days(2);
    if local < (EARLIEST - slack).naive_utc() || local > (LATEST + slack).naive_utc() {
        return local.and_utc();
    }
    match tz.0.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
        LocalResult::None => {
            // Walk back to the last local time that exists: its offset is the one
            // in force before the gap.
            let offset = (1..=48)
                .find_map(|h| {
                    tz.0.from_local_datetime(&(local - Duration::hours(h)))
                        .earliest()
                })
                .map_or(0, |t| t.offset().fix().local_minus_utc());
            (local - Duration::seconds(i64::from(offset))).and_utc()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::cell::Cell;

    thread_local! {
        /// Slots computed on this thread: the work a search did.
        pub(super) static SLOT_CALLS: Cell<usize> = const { Cell::new(0) };
    }

    fn slot_calls<T>(f: impl FnOnce() -> T) -> (T, usize) {
        SLOT_CALLS.with(|c| c.set(0));
        let out = f();
        (out, SLOT_CALLS.with(Cell::get))
    }

    /// Slots near the end of the accepted range keep DST: compared with
    /// Python's zoneinfo (an independent implementation of the rules).
    #[test]
    fn slots_near_the_2100_bound_follow_the_zone_rules() {
        let ny = sched(
            "2099-03-06T14:00:00Z",
            "2099-03-10T00:00:00Z",
            Periodicity::Daily,
            "America/New_York",
        );
        assert_eq!(
            slots(&ny),
            [
                "2099-03-06T14:00:00+00:00",
                "2099-03-07T14:00:00+00:00",
                "2099-03-08T13:00:00+00:00",
                "2099-03-09T13:00:00+00:00"
            ]
        );
        let berlin = sched(
            "2099-10-24T07:00:00Z",
            "2099-10-28T00:00:00Z",
            Periodicity::Daily,
            "Europe/Berlin",
        );
        assert_eq!(
            slots(&berlin),
            [
                "2099-10-24T07:00:00+00:00",
                "2099-10-25T08:00:00+00:00",
                "2099-10-26T08:00:00+00:00",
                "2099-10-27T08:00:00+00:00"
            ]
        );
        // From 1970 to the last slot before 2100: computed, not walked.
        let long = sched(
            "1970-01-01T14:00:00Z",
            "2100-01-01T00:00:00Z",
            Periodicity::Daily,
            "America/New_York",
        );
        let ((k, slot), calls) = slot_calls(|| long.latest_at_or_before(LATEST).unwrap());
        assert_eq!(slot, t("2099-12-31T14:00:00Z"));
        assert_eq!(
            u64::from(k),
            (slot.date_naive() - long.start.date_naive()).num_days() as u64
        );
        assert!(
            calls <= 2 * MAX_CORRECTION as usize + 2,
            "{calls} slots computed"
        );
    }

    #[test]
    fn times_outside_the_range_make_no_slots_and_no_panic() {
        let far = DateTime::<Utc>::MIN_UTC;
        for (start, end) in [
            (far, t("2026-01-01T00:00:00Z")),
            (t("0001-01-01T00:00:00Z"), t("2026-01-01T00:00:00Z")),
            (t("2026-01-01T00:00:00Z"), DateTime::<Utc>::MAX_UTC),
        ] {
            let s = Schedule {
                start,
                end,
                periodicity: Periodicity::Daily,
                tz: TimeZone::parse("America/New_York").unwrap(),
            };
            assert!(!s.is_valid());
            assert_eq!(s.slots().count(), 0);
            assert_eq!(s.seed(t("2026-06-01T00:00:00Z")), None);
            assert_eq!(s.latest_at_or_before(t("2026-06-01T00:00:00Z")), None);
        }
        assert_eq!(
            resolve_local(
                TimeZone::parse("America/New_York").unwrap(),
                far.naive_utc()
            ),
            far
        );
    }

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn sched(start: &str, end: &str, p: Periodicity, tz: &str) -> Schedule {
        Schedule {
            start: t(start),
            end: t(end),
            periodicity: p,
            tz: TimeZone::parse(tz).unwrap(),
        }
    }

    fn slots(s: &Schedule) -> Vec<String> {
        s.slots().map(|d| d.to_rfc3339()).collect()
    }

    /// Table: (name, start, end, periodicity, zone, expected slots in UTC).
    #[test]
    fn slot_table() {
        use Periodicity::*;
        #[rustfmt::skip]
        type Case = (&'static str, &'static str, &'static str, Periodicity, &'static str, &'static [&'static str]);
        let cases: &[Case] = &[
            (
                "once is the start only",
                "2026-03-01T09:00:00Z",
                "2026-12-01T00:00:00Z",
                Once,
                "UTC",
                &["2026-03-01T09:00:00+00:00"],
            ),
            (
                "daily, end exclusive",
                "2026-03-01T09:00:00Z",
                "2026-03-04T09:00:00Z",
                Daily,
                "UTC",
                &[
                    "2026-03-01T09:00:00+00:00",
                    "2026-03-02T09:00:00+00:00",
                    "2026-03-03T09:00:00+00:00",
                ],
            ),
            (
                "daily keeps 09:00 Berlin across spring-forward",
                "2026-03-28T08:00:00Z",
                "2026-03-31T00:00:00Z",
                Daily,
                "Europe/Berlin",
                &[
                    "2026-03-28T08:00:00+00:00",
                    "2026-03-29T07:00:00+00:00",
                    "2026-03-30T07:00:00+00:00",
                ],
            ),
            (
                "daily keeps 09:00 New York across fall-back",
                "2026-10-31T13:00:00Z",
                "2026-11-03T00:00:00Z",
                Daily,
                "America/New_York",
                &[
                    "2026-10-31T13:00:00+00:00",
                    "2026-11-01T14:00:00+00:00",
                    "2026-11-02T14:00:00+00:00",
                ],
            ),
            (
                "02:30 in the spring gap moves forward to 03:30",
                "2026-03-28T01:30:00Z",
                "2026-03-31T00:00:00Z",
                Daily,
                "Europe/Berlin",
                &[
                    "2026-03-28T01:30:00+00:00",
                    "2026-03-29T01:30:00+00:00",
                    "2026-03-30T00:30:00+00:00",
                ],
            ),
            (
                "01:30 in the fall overlap takes the first occurrence",
                "2026-10-31T05:30:00Z",
                "2026-11-02T12:00:00Z",
                Daily,
                "America/New_York",
                &[
                    "2026-10-31T05:30:00+00:00",
                    "2026-11-01T05:30:00+00:00",
                    "2026-11-02T06:30:00+00:00",
                ],
            ),
            (
                "weekly",
                "2026-01-05T10:00:00Z",
                "2026-01-26T10:00:00Z",
                Weekly,
                "UTC",
                &[
                    "2026-01-05T10:00:00+00:00",
                    "2026-01-12T10:00:00+00:00",
                    "2026-01-19T10:00:00+00:00",
                ],
            ),
            (
                "monthly clamps Jan 31 -> Feb 28 -> Mar 31",
                "2026-01-31T09:00:00Z",
                "2026-05-01T00:00:00Z",
                Monthly,
                "UTC",
                &[
                    "2026-01-31T09:00:00+00:00",
                    "2026-02-28T09:00:00+00:00",
                    "2026-03-31T09:00:00+00:00",
                    "2026-04-30T09:00:00+00:00",
                ],
            ),
            (
                "monthly clamps to Feb 29 in a leap year",
                "2028-01-31T09:00:00Z",
                "2028-03-01T00:00:00Z",
                Monthly,
                "UTC",
                &["2028-01-31T09:00:00+00:00", "2028-02-29T09:00:00+00:00"],
            ),
            (
                "monthly in Moscow keeps local 12:00",
                "2026-01-15T09:00:00Z",
                "2026-03-16T00:00:00Z",
                Monthly,
                "Europe/Moscow",
                &[
                    "2026-01-15T09:00:00+00:00",
                    "2026-02-15T09:00:00+00:00",
                    "2026-03-15T09:00:00+00:00",
                ],
            ),
            (
                "end equal to a slot excludes it",
                "2026-03-01T09:00:00Z",
                "2026-03-02T09:00:00Z",
                Daily,
                "UTC",
                &["2026-03-01T09:00:00+00:00"],
            ),
        ];
        for (name, start, end, p, tz, want) in cases {
            assert_eq!(slots(&sched(start, end, *p, tz)), *want, "{name}");
        }
    }

    #[test]
    fn seed_is_the_start_for_a_future_mailing() {
        let s = sched(
            "2026-03-10T09:00:00Z",
            "2026-04-01T00:00:00Z",
            Periodicity::Daily,
            "UTC",
        );
        assert_eq!(
            s.seed(t("2026-03-01T00:00:00Z")),
            Some(t("2026-03-10T09:00:00Z"))
        );
    }

    #[test]
    fn seed_is_the_current_slot_inside_the_window() {
        let s = sched(
            "2026-03-10T09:00:00Z",
            "2026-04-01T00:00:00Z",
            Periodicity::Daily,
            "UTC",
        );
        assert_eq!(
            s.seed(t("2026-03-12T15:00:00Z")),
            Some(t("2026-03-12T09:00:00Z"))
        );
        let once = sched(
            "2026-03-10T09:00:00Z",
            "2026-04-01T00:00:00Z",
            Periodicity::Once,
            "UTC",
        );
        assert_eq!(
            once.seed(t("2026-03-12T15:00:00Z")),
            Some(t("2026-03-10T09:00:00Z"))
        );
    }

    #[test]
    fn seed_is_none_after_the_end() {
        let s = sched(
            "2026-03-10T09:00:00Z",
            "2026-04-01T00:00:00Z",
            Periodicity::Daily,
            "UTC",
        );
        assert_eq!(s.seed(t("2026-04-01T00:00:00Z")), None);
    }

    #[test]
    fn tick_waits_before_the_next_run() {
        let s = sched(
            "2026-03-10T09:00:00Z",
            "2026-04-01T00:00:00Z",
            Periodicity::Daily,
            "UTC",
        );
        assert_eq!(
            s.tick(t("2026-03-10T09:00:00Z"), t("2026-03-10T08:59:59Z")),
            Tick::Wait
        );
    }

    #[test]
    fn tick_runs_the_due_slot_and_points_at_the_next() {
        let s = sched(
            "2026-03-10T09:00:00Z",
            "2026-04-01T00:00:00Z",
            Periodicity::Daily,
            "UTC",
        );
        assert_eq!(
            s.tick(t("2026-03-10T09:00:00Z"), t("2026-03-10T09:00:00Z")),
            Tick::Run {
                slot: t("2026-03-10T09:00:00Z"),
                skipped: 0,
                next: Some(t("2026-03-11T09:00:00Z"))
            }
        );
    }

    #[test]
    fn missed_slots_are_coalesced_into_one_run_with_a_count() {
        let s = sched(
            "2026-03-10T09:00:00Z",
            "2026-04-01T00:00:00Z",
            Periodicity::Daily,
            "UTC",
        );
        // Down from the 10th 08:00 until the 13th 10:00: slots 10, 11, 12, 13 are due.
        assert_eq!(
            s.tick(t("2026-03-10T09:00:00Z"), t("2026-03-13T10:00:00Z")),
            Tick::Run {
                slot: t("2026-03-13T09:00:00Z"),
                skipped: 3,
                next: Some(t("2026-03-14T09:00:00Z"))
            }
        );
    }

    #[test]
    fn last_slot_leaves_no_next() {
        let s = sched(
            "2026-03-10T09:00:00Z",
            "2026-03-11T09:00:00Z",
            Periodicity::Daily,
            "UTC",
        );
        assert_eq!(
            s.tick(t("2026-03-10T09:00:00Z"), t("2026-03-10T09:00:01Z")),
            Tick::Run {
                slot: t("2026-03-10T09:00:00Z"),
                skipped: 0,
                next: None
            }
        );
    }

    #[test]
    fn no_run_starts_at_or_after_the_end() {
        let s = sched(
            "2026-03-10T09:00:00Z",
            "2026-03-12T00:00:00Z",
            Periodicity::Daily,
            "UTC",
        );
        assert_eq!(
            s.tick(t("2026-03-11T09:00:00Z"), t("2026-03-12T00:00:00Z")),
            Tick::Expire { skipped: 1 }
        );
    }

    #[test]
    fn next_run_that_is_not_a_slot_counts_from_the_following_slot() {
        let s = sched(
            "2026-03-10T09:00:00Z",
            "2026-04-01T00:00:00Z",
            Periodicity::Daily,
            "UTC",
        );
        assert_eq!(
            s.tick(t("2026-03-10T12:00:00Z"), t("2026-03-11T09:30:00Z")),
            Tick::Run {
                slot: t("2026-03-11T09:00:00Z"),
                skipped: 0,
                next: Some(t("2026-03-12T09:00:00Z"))
            }
        );
        assert_eq!(
            s.tick(t("2026-03-10T12:00:00Z"), t("2026-03-10T13:00:00Z")),
            Tick::Wait
        );
    }

    #[test]
    fn tick_waits_until_the_start_even_for_an_early_next_run() {
        let s = sched(
            "2026-03-10T09:00:00Z",
            "2026-04-01T00:00:00Z",
            Periodicity::Daily,
            "UTC",
        );
        assert_eq!(
            s.tick(t("2026-03-01T00:00:00Z"), t("2026-03-05T00:00:00Z")),
            Tick::Wait
        );
        assert_eq!(
            s.first_after(t("2026-03-01T00:00:00Z")),
            Some(t("2026-03-10T09:00:00Z"))
        );
    }

    #[test]
    fn first_after_finds_the_following_slot() {
        let s = sched(
            "2026-01-31T09:00:00Z",
            "2026-12-01T00:00:00Z",
            Periodicity::Monthly,
            "UTC",
        );
        assert_eq!(
            s.first_after(t("2026-01-01T00:00:00Z")),
            Some(t("2026-01-31T09:00:00Z"))
        );
        assert_eq!(
            s.first_after(t("2026-01-31T09:00:00Z")),
            Some(t("2026-02-28T09:00:00Z"))
        );
        assert_eq!(s.first_after(t("2026-11-30T09:00:00Z")), None);
    }

    fn zone() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "UTC",
            "Europe/Berlin",
            "America/New_York",
            "Europe/Moscow",
            "Australia/Lord_Howe",
            "Asia/Kolkata",
            "America/Sao_Paulo",
            "Pacific/Apia",
        ])
    }

    fn periodicity() -> impl Strategy<Value = Periodicity> {
        prop::sample::select(Periodicity::ALL.to_vec())
    }

    prop_compose! {
        fn schedule()(start in 1_600_000_000i64..1_900_000_000, len in 60i64..(3 * 365 * 86_400),
                      p in periodicity(), tz in zone()) -> Schedule {
            Schedule {
                start: DateTime::from_timestamp(start, 0).unwrap(),
                end: DateTime::from_timestamp(start + len, 0).unwrap(),
                periodicity: p,
                tz: TimeZone::parse(tz).unwrap(),
            }
        }
    }

    /// Any instant chrono can hold, in any zone, with any periodicity.
    fn any_instant() -> impl Strategy<Value = DateTime<Utc>> {
        prop_oneof![
            (DateTime::<Utc>::MIN_UTC.timestamp()..=DateTime::<Utc>::MAX_UTC.timestamp()),
            (-100_000_000_000i64..100_000_000_000),
            (EARLIEST.timestamp()..=LATEST.timestamp()),
        ]
        .prop_map(|secs| DateTime::from_timestamp(secs, 0).unwrap())
    }

    fn any_zone() -> impl Strategy<Value = TimeZone> {
        prop::sample::select(chrono_tz::TZ_VARIANTS.to_vec()).prop_map(TimeZone)
    }

    proptest! {
        /// No date, zone or periodicity makes a schedule function panic, and
        /// each search computes a bounded number of slots.
        #[test]
        fn schedule_functions_never_panic_and_take_bounded_steps(
            start in any_instant(), end in any_instant(), at in any_instant(), next in any_instant(),
            p in periodicity(), tz in any_zone(),
        ) {
            let s = Schedule { start, end, periodicity: p, tz };
            let (_, calls) = slot_calls(|| s.latest_at_or_before(at));
            prop_assert!(calls <= 2 * MAX_CORRECTION as usize + 2, "{} slots computed", calls);
            let (_, calls) = slot_calls(|| (s.seed(at), s.first_after(at), s.tick(next, at)));
            prop_assert!(calls <= 8 * MAX_CORRECTION as usize + 8, "{} slots computed", calls);
            let _ = resolve_local(tz, at.naive_utc());
        }

        #[test]
        fn latest_at_or_before_agrees_with_a_linear_scan_in_every_zone(
            start in EARLIEST.timestamp()..LATEST.timestamp() - 86_400 * 800,
            len in 60i64..(2 * 365 * 86_400), frac in 0.0f64..1.2, p in periodicity(), tz in any_zone(),
        ) {
            let s = Schedule {
                start: DateTime::from_timestamp(start, 0).unwrap(),
                end: DateTime::from_timestamp(start + len, 0).unwrap(),
                periodicity: p,
                tz,
            };
            let at = s.start + Duration::seconds((len as f64 * frac) as i64);
            let scan = s.slots().enumerate().filter(|(_, x)| *x <= at).last().map(|(k, x)| (k as u32, x));
            prop_assert_eq!(s.latest_at_or_before(at), scan);
        }

        #[test]
        fn slots_strictly_increase_and_lie_in_the_window(s in schedule()) {
            let all: Vec<_> = s.slots().collect();
            prop_assert_eq!(all.first().copied(), Some(s.start));
            for w in all.windows(2) {
                prop_assert!(w[0] < w[1]);
            }
            for x in &all {
                prop_assert!(*x >= s.start && *x < s.end);
            }
        }

        #[test]
        fn slot_count_matches_the_period(s in schedule()) {
            let n = s.slots().count() as i64;
            let span = (s.end - s.start).num_seconds();
            let utc = s.tz == TimeZone::UTC;
            match s.periodicity {
                Periodicity::Once => prop_assert_eq!(n, 1),
                // In UTC every day is 24 h long: the count is exact.
                Periodicity::Daily if utc => prop_assert_eq!(n, (span + 86_399) / 86_400),
                Periodicity::Weekly if utc => prop_assert_eq!(n, (span + 604_799) / 604_800),
                // Elsewhere a local day is 23 to 25 hours (Apia skipped a whole day in 2011).
                Periodicity::Daily => prop_assert!((n - 1) * 22 * 3600 < span && span <= n * 26 * 3600 + 86_400),
                Periodicity::Weekly => prop_assert!((n - 1) * (7 * 86_400 - 7200) < span && span <= n * (7 * 86_400 + 7200) + 86_400),
                Periodicity::Monthly => prop_assert!((n - 1) * 27 * 86_400 < span && span <= n * 32 * 86_400),
            }
        }

        #[test]
        fn periodic_slots_keep_the_local_time_and_day(s in schedule()) {
            let tz = s.tz.0;
            let l0 = s.start.with_timezone(&tz);
            for (k, x) in s.slots().enumerate().skip(1) {
                let k = k as u32;
                let date = match s.periodicity {
                    Periodicity::Once => unreachable!("one slot only"),
                    Periodicity::Daily => l0.date_naive() + Duration::days(i64::from(k)),
                    Periodicity::Weekly => l0.date_naive() + Duration::days(7 * i64::from(k)),
                    Periodicity::Monthly => {
                        // The start's day, or the month's last day.
                        let first = l0.date_naive().with_day(1).unwrap().checked_add_months(Months::new(k)).unwrap();
                        first.with_day(l0.day().min(days_in_month(first.year(), first.month()))).unwrap()
                    }
                };
                let wanted = date.and_time(l0.time());
                let got = x.with_timezone(&tz).naive_local();
                match tz.from_local_datetime(&wanted) {
                    // The wall time exists: exactly it (its first occurrence if twice).
                    LocalResult::Single(w) => prop_assert_eq!(x, w.with_timezone(&Utc), "slot {}", k),
                    LocalResult::Ambiguous(first, _) => prop_assert_eq!(x, first.with_timezone(&Utc), "slot {}", k),
                    // In a gap: later by the gap, at most a day (a skipped date).
                    LocalResult::None => prop_assert!(got > wanted && got - wanted <= Duration::hours(25), "slot {} {} vs {}", k, got, wanted),
                }
            }
        }

        #[test]
        fn latest_at_or_before_agrees_with_a_linear_scan(s in schedule(), frac in 0.0f64..1.2) {
            let at = s.start + Duration::seconds(((s.end - s.start).num_seconds() as f64 * frac) as i64);
            let scan = s.slots().enumerate().filter(|(_, x)| *x <= at).last().map(|(k, x)| (k as u32, x));
            prop_assert_eq!(s.latest_at_or_before(at), scan);
        }

        #[test]
        fn ticking_through_time_runs_every_slot_once(s in schedule()) {
            // A scheduler that wakes exactly at each next run sees every slot once.
            let mut next = s.seed(s.start - Duration::seconds(1));
            let mut ran = Vec::new();
            while let Some(n) = next {
                match s.tick(n, n) {
                    Tick::Run { slot, skipped, next: after } => {
                        prop_assert_eq!(skipped, 0);
                        ran.push(slot);
                        next = after;
                    }
                    other => prop_assert!(false, "unexpected {:?}", other),
                }
                if ran.len() > 2000 { break; }
            }
            let all: Vec<_> = s.slots().take(2001).collect();
            prop_assert_eq!(ran, all);
        }
    }

    fn days_in_month(y: i32, m: u32) -> u32 {
        let first = chrono::NaiveDate::from_ymd_opt(y, m, 1).unwrap();
        let next = first.checked_add_months(Months::new(1)).unwrap();
        (next - first).num_days() as u32
    }
}

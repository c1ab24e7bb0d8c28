//! A Chinese working-day calendar.
//!
//! Time limits in Chinese administration are counted in working days (工作日): weekends are off,
//! public holidays are off, and weekends next to a holiday are often turned into make-up
//! working days (调休上班). The arrangement is announced yearly by the State Council, so it is
//! data: the crate embeds the published arrangements (see [`Calendar::embedded`]) and accepts
//! corrections and next year's arrangement from the application ([`Calendar::from_entries`]).
//!
//! ```
//! use calendar::Calendar;
//! use chrono::{TimeDelta, TimeZone, Utc};
//!
//! let cal = Calendar::embedded();
//! // Friday 13 February 2026, 10:00 in Beijing, just before the Spring Festival.
//! let filed = Utc.with_ymd_and_hms(2026, 2, 13, 2, 0, 0).unwrap();
//! // Day 1 is Saturday the 14th (a make-up working day); the holiday runs to the 23rd.
//! let deadline = cal.add_working_days(filed, 2);
//! assert_eq!(deadline, Utc.with_ymd_and_hms(2026, 2, 24, 9, 30, 0).unwrap()); // 17:30 local
//! assert_eq!(cal.working_days_between(filed, deadline), 2);
//! // 5.5 hours left on Friday, then two full 7-hour days.
//! let worked = cal.working_time_between(filed, deadline);
//! assert_eq!(worked, TimeDelta::minutes(330 + 420 + 420));
//! ```
//!
//! # The rule for a date
//! A date is a working day if an entry says `workday`; it is not if an entry says `holiday`;
//! otherwise it is a working day exactly when it is Monday to Friday. For years whose
//! arrangement is not known this means **weekends only**: public holidays are not skipped. The
//! application should warn when a deadline falls in such a year ([`Calendar::has_data_for`]).
//! A year's arrangement counts as known once it has a Spring Festival (春节) holiday: every
//! published arrangement has one, and it is the holiday that moves and shifts weeks of working
//! days, so a year with only a correction or two (a New Year's Day entered early) is not yet
//! known ([`Calendar::covered_years`]).
//!
//! # Local time
//! Dates and working hours are those of the calendar's fixed UTC offset, by default UTC+08:00
//! (China Standard Time, which has had no daylight-saving time since 1991), so no time-zone
//! database is needed.
//!
//! # Speed
//! Counting and stepping are O(1) per call: a table of working days and a prefix count per day
//! are precomputed for the years with data, and a closed weekday formula covers all other dates.
//! Nothing iterates over minutes or days at call time, so metrics may compute working time for
//! many instances.

mod entries;
mod hours;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, TimeDelta, Timelike, Utc};

pub use entries::{CsvError, CsvLineError, DayEntry, DayKind, parse_csv, to_csv};
pub use hours::{WorkingHours, WorkingHoursError};

use hours::NANOS_PER_SECOND;

/// The festival whose holiday makes a year's arrangement known ([`Calendar::has_data_for`]).
pub const SPRING_FESTIVAL: &str = "春节";

/// The published arrangements, 2004–2026 (see the comment lines at the top of the file).
pub const EMBEDDED_CSV: &str = include_str!("../data/cn-holidays.csv");

/// China Standard Time; checked at compile time.
const CHINA_OFFSET: FixedOffset = match FixedOffset::east_opt(8 * 3600) {
    Some(offset) => offset,
    None => panic!("UTC+08:00 is a valid offset"),
};

/// A working-day calendar: day entries, working hours and a local UTC offset.
///
/// Cheap to clone (a few hundred kilobytes at most); build it once and share it.
#[derive(Debug, Clone)]
pub struct Calendar {
    entries: BTreeMap<NaiveDate, DayEntry>,
    /// Years with any entry: the span of the precomputed table.
    years: BTreeSet<i32>,
    /// Years whose arrangement is known (see the crate documentation).
    arranged: BTreeSet<i32>,
    hours: WorkingHours,
    offset: FixedOffset,
    table: Option<Table>,
}

/// Precomputed working days over the span of years with data.
///
/// "Ordinal" below means the number of working days strictly before a date, counted from
/// 0001-01-01 (any fixed origin would do: only differences are used). For dates before the
/// table it is the weekday count; after the table it is the weekday count shifted by the
/// difference the table made, so the ordinal is monotonic across the table's edges.
#[derive(Clone)]
struct Table {
    first: NaiveDate,
    /// `prefix[i]` = working days in `[first, first + i)`; one longer than the span.
    prefix: Vec<u32>,
    /// The working days of the span, in order.
    working: Vec<NaiveDate>,
    /// Ordinal of `first`.
    base: i64,
    /// Added to the weekday count for dates after the span.
    after: i64,
}

impl Calendar {
    /// The calendar of the embedded arrangements (2004–2026), default working hours, UTC+08:00.
    pub fn embedded() -> Calendar {
        static EMBEDDED: OnceLock<Calendar> = OnceLock::new();
        EMBEDDED
            .get_or_init(|| Calendar::from_entries(embedded_entries()))
            .clone()
    }

    /// A calendar from arbitrary entries, default working hours, UTC+08:00.
    ///
    /// When a date occurs more than once the **last** entry wins, so that the application can
    /// chain the embedded entries with an administrator's corrections:
    /// `Calendar::from_entries(calendar::embedded_entries().into_iter().chain(from_db))`.
    pub fn from_entries(entries: impl IntoIterator<Item = DayEntry>) -> Calendar {
        let entries: BTreeMap<NaiveDate, DayEntry> =
            entries.into_iter().map(|e| (e.date, e)).collect();
        let years = entries.keys().map(Datelike::year).collect();
        let arranged = entries
            .values()
            .filter(|e| e.kind == DayKind::Holiday && e.festival.trim() == SPRING_FESTIVAL)
            .map(|e| e.date.year())
            .collect();
        let mut calendar = Calendar {
            entries,
            years,
            arranged,
            hours: WorkingHours::default(),
            offset: china_offset(),
            table: None,
        };
        calendar.table = calendar.build_table();
        calendar
    }

    /// The same calendar with other working hours.
    pub fn with_working_hours(mut self, hours: WorkingHours) -> Calendar {
        self.hours = hours;
        self
    }

    /// The same calendar in another fixed UTC offset (for tests and for use outside China).
    pub fn with_offset(mut self, offset: FixedOffset) -> Calendar {
        self.offset = offset;
        self
    }

    pub fn working_hours(&self) -> &WorkingHours {
        &self.hours
    }

    pub fn offset(&self) -> FixedOffset {
        self.offset
    }

    /// All entries, by date.
    pub fn entries(&self) -> impl Iterator<Item = &DayEntry> {
        self.entries.values()
    }

    /// The entry for a date, if any (to show "春节" next to a date).
    pub fn entry(&self, date: NaiveDate) -> Option<&DayEntry> {
        self.entries.get(&date)
    }

    /// Years whose arrangement is known (they have a Spring Festival holiday), ascending.
    pub fn covered_years(&self) -> impl Iterator<Item = i32> + '_ {
        self.arranged.iter().copied()
    }

    /// The last year whose arrangement is known; beyond it only weekends are skipped.
    pub fn last_covered_year(&self) -> Option<i32> {
        self.arranged.last().copied()
    }

    /// Whether the holidays of `year` are known; if not, only weekends (and any single days
    /// entered) are skipped in it.
    pub fn has_data_for(&self, year: i32) -> bool {
        self.arranged.contains(&year)
    }

    /// See the crate documentation for the rule.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        match self.entries.get(&date).map(|e| e.kind) {
            Some(DayKind::Workday) => true,
            Some(DayKind::Holiday) => false,
            None => date.weekday().num_days_from_monday() < 5,
        }
    }

    /// The local date of an instant.
    pub fn local_date(&self, instant: DateTime<Utc>) -> NaiveDate {
        instant.with_timezone(&self.offset).date_naive()
    }

    /// Working days in `[from, to)`; negative if `to < from`.
    pub fn count_working_days(&self, from: NaiveDate, to: NaiveDate) -> i64 {
        self.ordinal(to) - self.ordinal(from)
    }

    /// The first working day on or after `date`.
    pub fn working_day_on_or_after(&self, date: NaiveDate) -> NaiveDate {
        self.date_of_ordinal(self.ordinal(date))
            .unwrap_or(NaiveDate::MAX)
    }

    /// The `n`-th working day strictly after `date` (`n == 0` gives the first working day on or
    /// after `date`, as [`Calendar::working_day_on_or_after`]).
    pub fn nth_working_day_after(&self, date: NaiveDate, n: u32) -> NaiveDate {
        if n == 0 {
            return self.working_day_on_or_after(date);
        }
        date.succ_opt()
            .and_then(|next| self.date_of_ordinal(self.ordinal(next) + i64::from(n) - 1))
            .unwrap_or(NaiveDate::MAX)
    }

    /// A deadline `n` working days after `start`.
    ///
    /// The deadline is the close of business (end of the last working session, 17:30 by
    /// default; a nanosecond before midnight if a session ends at 24:00) of the `n`-th working
    /// day after the start's **local date**. The start's own day never counts, whatever the
    /// hour, as in the rule that the first day of a period is not counted; if the start falls
    /// on a non-working day, the first working day after it is day one.
    ///
    /// With `n == 0` the deadline is the close of business of the start's date if that is a
    /// working day (even if that moment has passed), else of the next working day; so for a
    /// start on a non-working day `n == 0` and `n == 1` give the same deadline.
    ///
    /// Saturates at the latest representable instant instead of overflowing.
    pub fn add_working_days(&self, start: DateTime<Utc>, n: u32) -> DateTime<Utc> {
        let day = self.nth_working_day_after(self.local_date(start), n);
        // A session ending at 24:00 would put the deadline on the next date; stop a nanosecond
        // short so that the deadline stays on its working day.
        let close = (i128::from(self.hours.close_of_business()) * NANOS_PER_SECOND)
            .min(86_400 * NANOS_PER_SECOND - 1);
        self.to_utc(day, close)
    }

    /// Working days from `a` to `b`: the number of working days `d` with
    /// `local_date(a) < d <= local_date(b)`, negative when `b` is before `a`.
    ///
    /// Consistent with [`Calendar::add_working_days`]: for `n >= 1`,
    /// `working_days_between(a, add_working_days(a, n)) == n` (and for `n == 0` when `a` is on a
    /// working day). Times of day are ignored: an overdue case stays "0 days over" until the
    /// next working day begins.
    pub fn working_days_between(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> i64 {
        let (da, db) = (self.local_date(a), self.local_date(b));
        match (da.succ_opt(), db.succ_opt()) {
            (Some(na), Some(nb)) => self.ordinal(nb) - self.ordinal(na),
            _ => self.ordinal(db) - self.ordinal(da),
        }
    }

    /// The instant when `amount` of working time has passed after `start`, counting only time
    /// inside working sessions of working days.
    ///
    /// A start outside a session begins counting at the next session start. The result is the
    /// earliest such instant, so a span that exactly fills a session ends at the session's end
    /// (12:00), not at the next session's start (14:00). A zero or negative amount returns
    /// `start` unchanged. Precision is the nanosecond. Saturates at the latest representable
    /// instant.
    pub fn add_working_time(&self, start: DateTime<Utc>, amount: TimeDelta) -> DateTime<Utc> {
        let amount = delta_nanos(amount);
        if amount <= 0 {
            return start;
        }
        let day = self.hours.day_nanos();
        let (date, time) = self.local(start);
        let before = if self.is_working_day(date) {
            self.hours.worked_before(time)
        } else {
            0
        };
        // Which working day (counted from the first one on or after `date`) holds the end, and
        // how much of that day is worked by then: in (0, day], never 0, for the earliest instant.
        let total = before + amount;
        let whole_days = (total - 1).div_euclid(day);
        let in_day = total - whole_days * day;
        let Ok(whole_days) = i64::try_from(whole_days) else {
            return DateTime::<Utc>::MAX_UTC;
        };
        match self.date_of_ordinal(self.ordinal(date) + whole_days) {
            Some(end_date) => self.to_utc(end_date, self.hours.time_at(in_day)),
            None => DateTime::<Utc>::MAX_UTC,
        }
    }

    /// [`Calendar::add_working_time`] in whole minutes.
    pub fn add_working_minutes(&self, start: DateTime<Utc>, minutes: u32) -> DateTime<Utc> {
        self.add_working_time(start, TimeDelta::minutes(i64::from(minutes)))
    }

    /// [`Calendar::add_working_time`] in whole hours.
    pub fn add_working_hours(&self, start: DateTime<Utc>, hours: u32) -> DateTime<Utc> {
        self.add_working_time(start, TimeDelta::hours(i64::from(hours)))
    }

    /// Working time between two instants: time inside working sessions of working days.
    ///
    /// Antisymmetric: negative when `b` is before `a` (so "time left until the deadline" turns
    /// negative once overdue), zero when equal. The inverse of
    /// [`Calendar::add_working_time`]: `working_time_between(a, add_working_time(a, d)) == d`
    /// for `d >= 0`.
    pub fn working_time_between(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> TimeDelta {
        let nanos = self.position(b) - self.position(a);
        let seconds = nanos.div_euclid(NANOS_PER_SECOND);
        let rest = nanos.rem_euclid(NANOS_PER_SECOND);
        // At most a few hundred thousand years of seconds: fits i64 and TimeDelta.
        TimeDelta::seconds(i64::try_from(seconds).unwrap_or(i64::MAX / 1000))
            + TimeDelta::nanoseconds(i64::try_from(rest).unwrap_or(0))
    }

    /// Working nanoseconds from the origin to `instant` (only differences mean anything).
    fn position(&self, instant: DateTime<Utc>) -> i128 {
        let (date, time) = self.local(instant);
        let within = if self.is_working_day(date) {
            self.hours.worked_before(time)
        } else {
            0
        };
        i128::from(self.ordinal(date)) * self.hours.day_nanos() + within
    }

    /// Local date and nanoseconds after local midnight.
    fn local(&self, instant: DateTime<Utc>) -> (NaiveDate, i128) {
        let local = instant.with_timezone(&self.offset).naive_local();
        // A leap second shows as nanosecond >= 1e9; fold it into the last second.
        let nanos = local.nanosecond().min(999_999_999);
        let time =
            i128::from(local.num_seconds_from_midnight()) * NANOS_PER_SECOND + i128::from(nanos);
        (local.date(), time)
    }

    fn to_utc(&self, date: NaiveDate, time_nanos: i128) -> DateTime<Utc> {
        let seconds = i64::try_from(time_nanos.div_euclid(NANOS_PER_SECOND)).unwrap_or(0);
        let nanos = i64::try_from(time_nanos.rem_euclid(NANOS_PER_SECOND)).unwrap_or(0);
        let local: Option<NaiveDateTime> = date
            .and_hms_opt(0, 0, 0)
            .and_then(|midnight| midnight.checked_add_signed(TimeDelta::seconds(seconds)))
            .and_then(|t| t.checked_add_signed(TimeDelta::nanoseconds(nanos)))
            .and_then(|t| {
                t.checked_sub_signed(TimeDelta::seconds(i64::from(self.offset.local_minus_utc())))
            });
        local.map_or(DateTime::<Utc>::MAX_UTC, |utc| utc.and_utc())
    }

    /// Working days strictly before `date`, from a fixed origin.
    fn ordinal(&self, date: NaiveDate) -> i64 {
        let Some(table) = &self.table else {
            return weekday_ordinal(date);
        };
        let index = (date - table.first).num_days();
        if index < 0 {
            weekday_ordinal(date)
        } else if let Some(count) = usize::try_from(index)
            .ok()
            .and_then(|i| table.prefix.get(i))
        {
            table.base + i64::from(*count)
        } else {
            weekday_ordinal(date) + table.after
        }
    }

    /// The working day whose ordinal is `k` (the inverse of [`Calendar::ordinal`] on working
    /// days); `None` beyond chrono's date range.
    fn date_of_ordinal(&self, k: i64) -> Option<NaiveDate> {
        let Some(table) = &self.table else {
            return weekday_of_ordinal(k);
        };
        if k < table.base {
            return weekday_of_ordinal(k);
        }
        match usize::try_from(k - table.base)
            .ok()
            .and_then(|i| table.working.get(i))
        {
            Some(date) => Some(*date),
            None => weekday_of_ordinal(k - table.after),
        }
    }

    fn build_table(&self) -> Option<Table> {
        let first = NaiveDate::from_ymd_opt(*self.years.first()?, 1, 1)?;
        let end = NaiveDate::from_ymd_opt(*self.years.last()?, 12, 31)?.succ_opt()?;
        let mut prefix = vec![0];
        let mut working = Vec::new();
        for date in first.iter_days().take_while(|d| *d < end) {
            if self.is_working_day(date) {
                working.push(date);
            }
            prefix.push(u32::try_from(working.len()).ok()?);
        }
        let base = weekday_ordinal(first);
        let after = base + i64::try_from(working.len()).ok()? - weekday_ordinal(end);
        Some(Table {
            first,
            prefix,
            working,
            base,
            after,
        })
    }
}

impl std::fmt::Debug for Table {
    /// Thousands of dates say nothing in a test failure; the span does.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Table({} + {} days)", self.first, self.prefix.len() - 1)
    }
}

impl Default for Calendar {
    fn default() -> Self {
        Calendar::embedded()
    }
}

/// The embedded entries (see [`EMBEDDED_CSV`]).
pub fn embedded_entries() -> Vec<DayEntry> {
    // The file is part of the crate and a test parses it, so a failure here is a build defect,
    // not bad input; falling back to "no holidays" keeps the service up if it ever happens.
    parse_csv(EMBEDDED_CSV).unwrap_or_default()
}

/// UTC+08:00.
pub fn china_offset() -> FixedOffset {
    CHINA_OFFSET
}

fn delta_nanos(delta: TimeDelta) -> i128 {
    i128::from(delta.num_seconds()) * NANOS_PER_SECOND + i128::from(delta.subsec_nanos())
}

/// Days since 0001-01-01, which was a Monday (proleptic Gregorian).
fn days_from_monday_origin(date: NaiveDate) -> i64 {
    i64::from(date.num_days_from_ce()) - 1
}

/// Mondays-to-Fridays strictly before `date`, from 0001-01-01.
fn weekday_ordinal(date: NaiveDate) -> i64 {
    let days = days_from_monday_origin(date);
    days.div_euclid(7) * 5 + days.rem_euclid(7).min(5)
}

/// The weekday with [`weekday_ordinal`] `k`.
fn weekday_of_ordinal(k: i64) -> Option<NaiveDate> {
    let days = k.div_euclid(5) * 7 + k.rem_euclid(5);
    NaiveDate::from_num_days_from_ce_opt(i32::try_from(days + 1).ok()?)
}

#[cfg(test)]
mod tests;

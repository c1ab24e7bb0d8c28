use calendar::{Calendar, DayEntry, DayKind, WorkingHours};
use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};
use proptest::prelude::*;

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("valid date")
}

/// A Beijing local time as a UTC instant.
fn bj(y: i32, m: u32, day: u32, h: u32, min: u32) -> DateTime<Utc> {
    calendar::china_offset()
        .with_ymd_and_hms(y, m, day, h, min, 0)
        .single()
        .expect("valid local time")
        .with_timezone(&Utc)
}

#[test]
fn spring_festival_2026() {
    let cal = Calendar::embedded();
    assert!(cal.is_working_day(d(2026, 2, 14)), "Saturday, make-up");
    assert!(cal.is_working_day(d(2026, 2, 28)), "Saturday, make-up");
    for day in 15..=23 {
        assert!(!cal.is_working_day(d(2026, 2, day)), "2026-02-{day}");
    }
    assert!(cal.is_working_day(d(2026, 2, 13)));
    assert!(cal.is_working_day(d(2026, 2, 24)));
}

#[test]
fn national_day_and_ordinary_days() {
    let cal = Calendar::embedded();
    assert!(cal.is_working_day(d(2026, 10, 10)), "Saturday, make-up");
    assert!(!cal.is_working_day(d(2026, 10, 1)), "Thursday, holiday");
    assert!(!cal.is_working_day(d(2026, 3, 7)), "ordinary Saturday");
    assert!(!cal.is_working_day(d(2026, 3, 8)), "ordinary Sunday");
    assert!(cal.is_working_day(d(2026, 3, 9)), "ordinary Monday");
    assert!(!cal.is_working_day(d(2025, 1, 1)), "New Year, Wednesday");
    assert_eq!(
        cal.entry(d(2026, 10, 1)).map(|e| e.festival.as_str()),
        Some("国庆节")
    );
}

#[test]
fn coverage_and_weekends_only_after_it() {
    let cal = Calendar::embedded();
    let years: Vec<i32> = cal.covered_years().collect();
    assert_eq!(years, (2004..=2026).collect::<Vec<_>>());
    assert!(cal.has_data_for(2026));
    assert!(!cal.has_data_for(2027));
    assert_eq!(cal.last_covered_year(), Some(2026));
    // 2027-01-01 is a Friday: unknown holiday, so a working day by the weekends-only rule.
    assert!(cal.is_working_day(d(2027, 1, 1)));
    assert!(!cal.is_working_day(d(2027, 1, 2)));
    assert!(!cal.is_working_day(d(2027, 1, 3)));
    assert_eq!(cal.count_working_days(d(2027, 1, 1), d(2028, 1, 1)), 261);
}

#[test]
fn administrator_entries_override_and_extend() {
    let mut entries = calendar::embedded_entries();
    entries.push(DayEntry {
        date: d(2027, 1, 1),
        kind: DayKind::Holiday,
        festival: "元旦".into(),
    });
    // A correction of an embedded date: the later entry wins.
    entries.push(DayEntry {
        date: d(2026, 10, 10),
        kind: DayKind::Holiday,
        festival: "国庆节".into(),
    });
    let cal = Calendar::from_entries(entries.clone());
    assert!(!cal.is_working_day(d(2027, 1, 1)));
    assert!(!cal.is_working_day(d(2026, 10, 10)));
    // One day entered early does not make 2027's arrangement known; its Spring Festival does.
    assert!(!cal.has_data_for(2027));
    assert_eq!(cal.last_covered_year(), Some(2026));
    entries.push(DayEntry {
        date: d(2027, 2, 8),
        kind: DayKind::Holiday,
        festival: "春节".into(),
    });
    let cal = Calendar::from_entries(entries);
    assert!(cal.has_data_for(2027));
    assert_eq!(cal.last_covered_year(), Some(2027));
}

#[test]
fn add_working_days_examples() {
    let cal = Calendar::embedded();
    // Friday 2026-02-13 afternoon + 1 working day: Saturday 14th is a make-up working day.
    assert_eq!(
        cal.add_working_days(bj(2026, 2, 13, 16, 0), 1),
        bj(2026, 2, 14, 17, 30)
    );
    // + 2: the holiday runs 15th to 23rd, so Tuesday 24th.
    assert_eq!(
        cal.add_working_days(bj(2026, 2, 13, 16, 0), 2),
        bj(2026, 2, 24, 17, 30)
    );
    // Filed during the holiday: day 1 is the first working day after it.
    assert_eq!(
        cal.add_working_days(bj(2026, 2, 17, 9, 0), 1),
        bj(2026, 2, 24, 17, 30)
    );
    assert_eq!(
        cal.add_working_days(bj(2026, 2, 17, 9, 0), 0),
        bj(2026, 2, 24, 17, 30)
    );
    // n == 0 on a working day: close of business the same day, even after hours.
    assert_eq!(
        cal.add_working_days(bj(2026, 3, 9, 20, 0), 0),
        bj(2026, 3, 9, 17, 30)
    );
    // Local date, not UTC date: 2026-03-09 01:00 in Beijing is still 2026-03-08 in UTC.
    assert_eq!(
        cal.add_working_days(bj(2026, 3, 9, 1, 0), 1),
        bj(2026, 3, 10, 17, 30)
    );
    // Across the end of the data: 2026-12-31 (Thursday) + 2 = Monday 2027-01-04.
    assert_eq!(
        cal.add_working_days(bj(2026, 12, 31, 10, 0), 2),
        bj(2027, 1, 4, 17, 30)
    );
    assert_eq!(
        cal.working_days_between(bj(2026, 2, 13, 16, 0), bj(2026, 2, 24, 9, 0)),
        2
    );
    assert_eq!(
        cal.working_days_between(bj(2026, 2, 24, 9, 0), bj(2026, 2, 13, 16, 0)),
        -2
    );
}

#[test]
fn add_working_time_examples() {
    let cal = Calendar::embedded();
    let monday = |h, m| bj(2026, 3, 9, h, m);
    // Filling the morning exactly ends at noon, not at 14:00.
    assert_eq!(cal.add_working_minutes(monday(8, 30), 210), monday(12, 0));
    assert_eq!(cal.add_working_minutes(monday(8, 30), 211), monday(14, 1));
    // Starting before hours, at lunch, or after hours waits for the next session.
    assert_eq!(cal.add_working_hours(monday(6, 0), 1), monday(9, 30));
    assert_eq!(cal.add_working_hours(monday(12, 30), 1), monday(15, 0));
    assert_eq!(
        cal.add_working_hours(monday(19, 0), 1),
        bj(2026, 3, 10, 9, 30)
    );
    // A full day from the start of a day ends at that day's close.
    assert_eq!(cal.add_working_hours(monday(8, 30), 7), monday(17, 30));
    // Friday 16:30 + 2 hours: one hour Friday, one hour Monday.
    assert_eq!(
        cal.add_working_hours(bj(2026, 3, 13, 16, 30), 2),
        bj(2026, 3, 16, 9, 30)
    );
    // Friday before the Spring Festival: Saturday 14th is worked, then nothing until the 24th.
    assert_eq!(
        cal.add_working_hours(bj(2026, 2, 13, 17, 0), 8),
        bj(2026, 2, 24, 9, 0)
    );
    assert_eq!(cal.add_working_minutes(monday(10, 0), 0), monday(10, 0));
    assert_eq!(
        cal.add_working_time(monday(10, 0), TimeDelta::minutes(-5)),
        monday(10, 0)
    );

    assert_eq!(
        cal.working_time_between(monday(8, 0), monday(18, 0)),
        TimeDelta::hours(7)
    );
    assert_eq!(
        cal.working_time_between(monday(18, 0), monday(8, 0)),
        TimeDelta::hours(-7)
    );
    assert_eq!(
        cal.working_time_between(bj(2026, 2, 14, 12, 0), bj(2026, 2, 24, 9, 0)),
        TimeDelta::hours(4)
    );
}

#[test]
fn custom_working_hours() {
    let hours: WorkingHours = "09:00-12:00,13:00-18:00".parse().expect("valid");
    let cal = Calendar::embedded().with_working_hours(hours);
    assert_eq!(
        cal.add_working_days(bj(2026, 3, 9, 10, 0), 1),
        bj(2026, 3, 10, 18, 0)
    );
    assert_eq!(
        cal.add_working_hours(bj(2026, 3, 9, 11, 0), 2),
        bj(2026, 3, 9, 14, 0)
    );
}

fn calendars() -> impl Strategy<Value = Calendar> {
    prop_oneof![
        Just(Calendar::embedded()),
        Just(Calendar::from_entries(Vec::new())),
        Just(Calendar::embedded().with_working_hours("00:00-24:00".parse().expect("valid"))),
        Just(
            Calendar::embedded().with_working_hours(
                "07:15-07:16,09:00-11:30,23:00-24:00"
                    .parse()
                    .expect("valid")
            )
        ),
    ]
}

/// Instants from 2002 to 2029, to cross both edges of the embedded data, at second precision
/// plus some sub-second noise.
fn instants() -> impl Strategy<Value = DateTime<Utc>> {
    (1_010_000_000i64..1_870_000_000, 0u32..1_000_000_000).prop_map(|(s, ns)| {
        DateTime::from_timestamp(s, if s % 3 == 0 { ns } else { 0 }).expect("in range")
    })
}

proptest! {
    #[test]
    fn add_then_count_working_days(cal in calendars(), start in instants(), n in 0u32..600) {
        let end = cal.add_working_days(start, n);
        let start_is_working = cal.is_working_day(cal.local_date(start));
        let expected = if n == 0 && !start_is_working { 1 } else { i64::from(n) };
        prop_assert_eq!(cal.working_days_between(start, end), expected);
        prop_assert!(cal.is_working_day(cal.local_date(end)));
        prop_assert_eq!(cal.working_days_between(end, start), -expected);
    }

    #[test]
    fn add_working_days_is_monotonic(cal in calendars(), start in instants(), n in 0u32..600) {
        let a = cal.add_working_days(start, n);
        let b = cal.add_working_days(start, n + 1);
        // From a rest day, zero working days and one both end on the next working day (see
        // add_then_count_working_days); every further day is a later one.
        if n == 0 && !cal.is_working_day(cal.local_date(start)) {
            prop_assert_eq!(a, b);
        } else {
            prop_assert!(a < b);
        }
        prop_assert!(a >= start || n == 0, "deadline {} before start {}", a, start);
    }

    #[test]
    fn add_then_measure_working_time(cal in calendars(), start in instants(), minutes in 0u32..200_000) {
        let end = cal.add_working_minutes(start, minutes);
        prop_assert_eq!(cal.working_time_between(start, end), TimeDelta::minutes(i64::from(minutes)));
        prop_assert_eq!(cal.working_time_between(end, start), -TimeDelta::minutes(i64::from(minutes)));
        prop_assert!(end >= start);
        if minutes > 0 {
            // Earliest instant: a moment earlier, less work has been done.
            let before = end - TimeDelta::nanoseconds(1);
            prop_assert!(cal.working_time_between(start, before) < TimeDelta::minutes(i64::from(minutes)));
        }
    }

    #[test]
    fn add_working_time_is_monotonic(cal in calendars(), start in instants(), m in 0u32..100_000) {
        prop_assert!(cal.add_working_minutes(start, m) < cal.add_working_minutes(start, m + 1));
    }

    #[test]
    fn working_time_is_additive(cal in calendars(), a in instants(), b in instants(), c in instants()) {
        prop_assert_eq!(
            cal.working_time_between(a, b) + cal.working_time_between(b, c),
            cal.working_time_between(a, c)
        );
    }
}

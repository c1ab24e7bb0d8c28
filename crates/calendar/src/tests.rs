//! Internal consistency: the precomputed table and the closed formulas must agree with the
//! day-by-day rule everywhere, including across the table's edges.

use super::*;

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("valid date")
}

#[test]
fn embedded_file_parses() {
    let entries = parse_csv(EMBEDDED_CSV).expect("embedded CSV is valid");
    assert!(entries.len() > 700);
}

#[test]
fn ordinal_counts_working_days_across_table_edges() {
    for calendar in [Calendar::embedded(), Calendar::from_entries(Vec::new())] {
        let start = d(2002, 12, 1);
        let mut expected = calendar.ordinal(start);
        for date in start.iter_days().take_while(|x| *x < d(2028, 2, 1)) {
            assert_eq!(calendar.ordinal(date), expected, "{date}");
            if calendar.is_working_day(date) {
                assert_eq!(calendar.date_of_ordinal(expected), Some(date));
                expected += 1;
            }
        }
    }
}

#[test]
fn weekday_formulas_are_inverse() {
    for k in -100..2000 {
        let date = weekday_of_ordinal(k).expect("in range");
        assert!(date.weekday().num_days_from_monday() < 5);
        assert_eq!(weekday_ordinal(date), k);
    }
    assert_eq!(d(1, 1, 1).weekday(), chrono::Weekday::Mon);
}

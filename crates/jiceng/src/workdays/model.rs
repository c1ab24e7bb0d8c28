//! The rules of the working-day calendar, as plain functions: what an administrator may enter,
//! how the stored corrections combine with the embedded arrangement, and what the pages and the
//! API show. Nothing here touches the database.

use std::collections::{BTreeMap, BTreeSet};

use calendar::{Calendar, CsvLineError, DayEntry, DayKind};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::time::Timestamp;

/// Years an administrator may enter or look at. The calendar precomputes a table over the span
/// of years with data, so a mistyped 9999 must not reach it.
pub const FIRST_YEAR: i32 = 2000;
pub const LAST_YEAR: i32 = 2099;

/// At most this many rows per import: a year has about 40; this allows several years at once.
pub const MAX_IMPORT_ROWS: usize = 1000;

/// Festival names are short (春节, 国庆节 …), with rare long ones
/// (中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日, 25 characters).
pub const MAX_FESTIVAL_CHARS: usize = 40;

/// What the calendar says about a date that is not a plain weekday or weekend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Arrangement {
    /// A day off (法定节假日 / 调休放假).
    Holiday,
    /// A make-up working day on a weekend (调休上班).
    Workday,
    /// The weekday rule (Monday to Friday work), overriding what the embedded data says.
    Normal,
}

impl Arrangement {
    pub const ALL: [Arrangement; 3] = [
        Arrangement::Holiday,
        Arrangement::Workday,
        Arrangement::Normal,
    ];

    /// The spelling used in storage and in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Arrangement::Holiday => "holiday",
            Arrangement::Workday => "workday",
            Arrangement::Normal => "normal",
        }
    }

    /// Accepts the stored spelling, the one-character forms of Chinese calendars (休 / 班)
    /// and the labels of the form.
    pub fn parse(text: &str) -> Option<Arrangement> {
        match text.trim() {
            "holiday" | "休" | "假" | "放假" => Some(Arrangement::Holiday),
            "workday" | "班" | "调休上班" => Some(Arrangement::Workday),
            "normal" | "恢复正常" => Some(Arrangement::Normal),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Arrangement::Holiday => "放假",
            Arrangement::Workday => "调休上班",
            Arrangement::Normal => "恢复正常",
        }
    }

    /// The calendar crate's kind, or `None` for the weekday rule.
    pub fn day_kind(self) -> Option<DayKind> {
        match self {
            Arrangement::Holiday => Some(DayKind::Holiday),
            Arrangement::Workday => Some(DayKind::Workday),
            Arrangement::Normal => None,
        }
    }

    pub fn of(kind: DayKind) -> Arrangement {
        match kind {
            DayKind::Holiday => Arrangement::Holiday,
            DayKind::Workday => Arrangement::Workday,
        }
    }
}

/// An administrator's stored correction for one date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    pub date: NaiveDate,
    pub kind: Arrangement,
    pub festival: String,
    pub updated_at: Timestamp,
    /// The administrator's username.
    pub updated_by: String,
}

/// A validated request to set one date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayChange {
    pub date: NaiveDate,
    pub kind: Arrangement,
    pub festival: String,
}

/// What storing a change amounts to, given the embedded entry for its date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// Keep a row for the date.
    Upsert,
    /// Keep no row: the change says what the embedded data (or the weekday rule) already says.
    Delete,
}

pub fn weekday_label(date: NaiveDate) -> &'static str {
    const NAMES: [&str; 7] = [
        "星期一",
        "星期二",
        "星期三",
        "星期四",
        "星期五",
        "星期六",
        "星期日",
    ];
    NAMES[date.weekday().num_days_from_monday() as usize]
}

fn is_weekend(date: NaiveDate) -> bool {
    date.weekday().num_days_from_monday() >= 5
}

/// Parses `YYYY-MM-DD`, any date chrono knows.
pub fn parse_any_date(field: &str, text: &str) -> Result<NaiveDate> {
    let t = text.trim();
    if t.is_empty() {
        return Err(Error::invalid(field, "请填写日期，格式为 YYYY-MM-DD"));
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d").map_err(|_| {
        Error::invalid(
            field,
            format!("日期「{t}」无效，应为 YYYY-MM-DD，如 2027-01-01"),
        )
    })
}

fn year_in_range(year: i32) -> bool {
    (FIRST_YEAR..=LAST_YEAR).contains(&year)
}

/// A date an administrator may enter: a valid `YYYY-MM-DD` within the supported years.
pub fn parse_date(field: &str, text: &str) -> Result<NaiveDate> {
    let date = parse_any_date(field, text)?;
    if !year_in_range(date.year()) {
        return Err(Error::invalid(
            field,
            format!("日期须在 {FIRST_YEAR}–{LAST_YEAR} 年之间，收到 {date}"),
        ));
    }
    Ok(date)
}

/// The year of a listing; empty means `default`.
pub fn parse_year(text: Option<&str>, default: i32) -> Result<i32> {
    let Some(t) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(default);
    };
    match t.parse::<i32>() {
        Ok(y) if year_in_range(y) => Ok(y),
        _ => Err(Error::invalid(
            "year",
            format!("年份「{t}」无效，应为 {FIRST_YEAR}–{LAST_YEAR} 之间的四位数字"),
        )),
    }
}

/// Why a festival name is refused, if it is (shared by the form and the import).
fn festival_problem(kind: Arrangement, festival: &str) -> Option<String> {
    if festival.is_empty() && kind != Arrangement::Normal {
        return Some(format!(
            "「{}」须填写节日名称，如 元旦、春节、国庆节",
            kind.label()
        ));
    }
    if festival.chars().count() > MAX_FESTIVAL_CHARS {
        return Some(format!("节日名称不超过 {MAX_FESTIVAL_CHARS} 个字"));
    }
    if festival
        .chars()
        .any(|c| c == ',' || c == '"' || c == '，' || c.is_control())
    {
        return Some("节日名称不能包含逗号、引号或换行".to_owned());
    }
    None
}

/// Why a date cannot take a kind, if it cannot. A make-up working day exists to turn a weekend
/// day into a working day; on a weekday it would change nothing and is certainly a typing
/// mistake (usually the wrong date). A holiday on a weekend is allowed: the published
/// arrangements list weekend days inside a holiday period (2026-01-03, a Saturday, 元旦).
fn weekday_problem(date: NaiveDate, kind: Arrangement) -> Option<String> {
    (kind == Arrangement::Workday && !is_weekend(date)).then(|| {
        format!(
            "{date} 是{}，本来就是工作日；调休上班只能设在星期六或星期日，请核对日期",
            weekday_label(date)
        )
    })
}

/// Validates one date change from the form or the API.
pub fn validate_change(date: &str, kind: &str, festival: &str) -> Result<DayChange> {
    let date = parse_date("date", date)?;
    let kind = match kind.trim() {
        "" => return Err(Error::invalid("kind", "请选择类型：放假、调休上班或恢复正常")),
        k => Arrangement::parse(k).ok_or_else(|| {
            Error::invalid(
                "kind",
                format!("类型「{k}」未知，应为 holiday（放假）、workday（调休上班）或 normal（恢复正常）"),
            )
        })?,
    };
    let festival = festival.trim().to_owned();
    if let Some(reason) = festival_problem(kind, &festival) {
        return Err(Error::invalid("festival", reason));
    }
    if let Some(reason) = weekday_problem(date, kind) {
        return Err(Error::invalid("kind", reason));
    }
    Ok(DayChange {
        date,
        kind,
        festival,
    })
}

/// Parses an import: the calendar crate's CSV rules (every bad line reported), then the rules
/// of the form for each row (festival name, make-up working days on weekends, supported years).
/// All problems come back together, by line number.
pub fn parse_import(text: &str) -> std::result::Result<Vec<DayChange>, Vec<CsvLineError>> {
    let mut errors = match calendar::parse_csv(text) {
        Ok(_) => Vec::new(),
        Err(e) => e.errors,
    };
    // Line numbers as the crate counts them: after a byte-order mark, by `lines()`.
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut changes = Vec::new();
    for (index, raw) in body.lines().enumerate() {
        let line = index + 1;
        // A single line parses to nothing (blank, comment, header) or to its one entry; lines
        // the whole-file pass refused are already reported.
        let Ok(entries) = calendar::parse_csv(raw) else {
            continue;
        };
        for entry in entries {
            let kind = Arrangement::of(entry.kind);
            let problem = (!year_in_range(entry.date.year()))
                .then(|| format!("日期须在 {FIRST_YEAR}–{LAST_YEAR} 年之间"))
                .or_else(|| festival_problem(kind, entry.festival.trim()))
                .or_else(|| weekday_problem(entry.date, kind));
            match problem {
                Some(reason) if !errors.iter().any(|e| e.line == line) => {
                    errors.push(CsvLineError { line, reason });
                }
                Some(_) => {}
                None => changes.push(DayChange {
                    date: entry.date,
                    kind,
                    festival: entry.festival.trim().to_owned(),
                }),
            }
        }
    }
    if changes.is_empty() && errors.is_empty() {
        errors.push(CsvLineError {
            line: 1,
            reason: "没有可导入的行，格式为每行 日期,类型,节日，如 2027-01-01,holiday,元旦"
                .to_owned(),
        });
    }
    if changes.len() > MAX_IMPORT_ROWS {
        errors.push(CsvLineError {
            line: 1,
            reason: format!("一次最多导入 {MAX_IMPORT_ROWS} 行，请分批导入"),
        });
    }
    if errors.is_empty() {
        Ok(changes)
    } else {
        errors.sort_by_key(|e| e.line);
        Err(errors)
    }
}

/// Whether storing `change` keeps a row: not when it says what the embedded data already says
/// (same kind and festival), nor when it restores the weekday rule on a date the embedded data
/// does not list. So the stored rows are exactly the differences from the embedded data.
pub fn write_for(change: &DayChange, embedded: Option<&DayEntry>) -> Write {
    match (change.kind.day_kind(), embedded) {
        (None, None) => Write::Delete,
        (Some(kind), Some(e)) if e.kind == kind && e.festival == change.festival => Write::Delete,
        _ => Write::Upsert,
    }
}

/// The effective entries: the embedded ones with the corrections applied ("normal" removes the
/// embedded entry of its date).
pub fn merge(
    embedded: &BTreeMap<NaiveDate, DayEntry>,
    overrides: &[Override],
) -> BTreeMap<NaiveDate, DayEntry> {
    let mut merged = embedded.clone();
    for o in overrides {
        match o.kind.day_kind() {
            Some(kind) => {
                merged.insert(
                    o.date,
                    DayEntry {
                        date: o.date,
                        kind,
                        festival: o.festival.clone(),
                    },
                );
            }
            None => {
                merged.remove(&o.date);
            }
        }
    }
    merged
}

/// The application's calendar: embedded data plus corrections, default hours, UTC+08:00.
pub fn build_calendar(
    embedded: &BTreeMap<NaiveDate, DayEntry>,
    overrides: &[Override],
) -> Calendar {
    Calendar::from_entries(merge(embedded, overrides).into_values())
}

/// One date of a year's listing.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DayRow {
    pub date: NaiveDate,
    /// 星期一 … 星期日.
    pub weekday: &'static str,
    /// What applies now.
    pub kind: Arrangement,
    pub kind_label: &'static str,
    pub festival: String,
    /// Whether an administrator's correction decides this date.
    pub is_override: bool,
    /// What the embedded data says, if it lists the date.
    pub embedded_kind: Option<Arrangement>,
    pub embedded_festival: Option<String>,
    #[schema(value_type = Option<String>)]
    pub updated_at: Option<Timestamp>,
    pub updated_by: Option<String>,
}

impl DayRow {
    /// For pages: what the embedded data said, when a correction replaced it.
    pub fn replaced(&self) -> String {
        match (&self.embedded_kind, &self.embedded_festival) {
            (Some(k), Some(f)) if self.is_override => format!("{}（{f}）", k.label()),
            _ => String::new(),
        }
    }

    pub fn updated_local(&self) -> String {
        self.updated_at.map(|t| t.local()).unwrap_or_default()
    }
}

fn row(
    date: NaiveDate,
    embedded: Option<&DayEntry>,
    correction: Option<&Override>,
) -> Option<DayRow> {
    let (kind, festival) = match (correction, embedded) {
        (Some(o), _) => (o.kind, o.festival.clone()),
        (None, Some(e)) => (Arrangement::of(e.kind), e.festival.clone()),
        (None, None) => return None,
    };
    Some(DayRow {
        date,
        weekday: weekday_label(date),
        kind,
        kind_label: kind.label(),
        festival,
        is_override: correction.is_some(),
        embedded_kind: embedded.map(|e| Arrangement::of(e.kind)),
        embedded_festival: embedded.map(|e| e.festival.clone()),
        updated_at: correction.map(|o| o.updated_at),
        updated_by: correction.map(|o| o.updated_by.clone()),
    })
}

/// The row for one date, if the embedded data lists it or a correction exists.
pub fn day_row(
    date: NaiveDate,
    embedded: &BTreeMap<NaiveDate, DayEntry>,
    correction: Option<&Override>,
) -> Option<DayRow> {
    row(date, embedded.get(&date), correction)
}

/// Every listed date of `year`: embedded entries and corrections, by date.
pub fn year_rows(
    year: i32,
    embedded: &BTreeMap<NaiveDate, DayEntry>,
    overrides: &[Override],
) -> Vec<DayRow> {
    let corrections: BTreeMap<NaiveDate, &Override> = overrides
        .iter()
        .filter(|o| o.date.year() == year)
        .map(|o| (o.date, o))
        .collect();
    let dates: BTreeSet<NaiveDate> = embedded
        .keys()
        .filter(|d| d.year() == year)
        .chain(corrections.keys())
        .copied()
        .collect();
    dates
        .into_iter()
        .filter_map(|d| row(d, embedded.get(&d), corrections.get(&d).copied()))
        .collect()
}

/// Working days in a year under a calendar.
pub fn working_days_in(cal: &Calendar, year: i32) -> i64 {
    match (
        NaiveDate::from_ymd_opt(year, 1, 1),
        NaiveDate::from_ymd_opt(year + 1, 1, 1),
    ) {
        (Some(a), Some(b)) => cal.count_working_days(a, b),
        _ => 0,
    }
}

/// The warning for the system administrator: the current year without data, or, in the last
/// quarter, next year without data. Without data only weekends are skipped, so deadlines run
/// through public holidays.
pub fn coverage_warning_for(cal: &Calendar, today: NaiveDate) -> Option<String> {
    let year = today.year();
    let mut missing = Vec::new();
    if !cal.has_data_for(year) {
        missing.push(year);
    }
    if today.month() >= 10 && !cal.has_data_for(year + 1) {
        missing.push(year + 1);
    }
    if missing.is_empty() {
        return None;
    }
    let years: Vec<String> = missing.iter().map(|y| format!("{y} 年")).collect();
    Some(format!(
        "{}的节假日安排尚未录入，目前按周末规则计算工作日，请及时录入",
        years.join("、")
    ))
}

/// How a date counts, for clients that show or compute dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DayStatus {
    /// A day off by the holiday arrangement.
    Holiday,
    /// A make-up working day.
    Workday,
    /// Monday to Friday with no arrangement.
    Weekday,
    /// Saturday or Sunday with no arrangement.
    Weekend,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DayCheck {
    pub date: NaiveDate,
    pub weekday: &'static str,
    pub working_day: bool,
    pub kind: DayStatus,
    /// 放假, 调休上班, 工作日 or 周末.
    pub kind_label: &'static str,
    /// The festival of a holiday or make-up working day.
    pub festival: Option<String>,
    /// Whether the holiday arrangement of the date's year is known; if not, only weekends are
    /// days off.
    pub year_covered: bool,
}

pub fn check_day(cal: &Calendar, date: NaiveDate) -> DayCheck {
    let entry = cal.entry(date);
    let kind = match entry.map(|e| e.kind) {
        Some(DayKind::Holiday) => DayStatus::Holiday,
        Some(DayKind::Workday) => DayStatus::Workday,
        None if is_weekend(date) => DayStatus::Weekend,
        None => DayStatus::Weekday,
    };
    DayCheck {
        date,
        weekday: weekday_label(date),
        working_day: cal.is_working_day(date),
        kind,
        kind_label: match kind {
            DayStatus::Holiday => "放假",
            DayStatus::Workday => "调休上班",
            DayStatus::Weekday => "工作日",
            DayStatus::Weekend => "周末",
        },
        festival: entry.map(|e| e.festival.clone()).filter(|f| !f.is_empty()),
        year_covered: cal.has_data_for(date.year()),
    }
}

/// The most working days a deadline may be asked for (about four years).
pub const MAX_WORKING_DAYS: u32 = 1000;

pub fn parse_working_days(text: Option<&str>) -> Result<u32> {
    let t = text.map(str::trim).unwrap_or("");
    let bad = || {
        Error::invalid(
            "working_days",
            format!("工作日数应为 0 到 {MAX_WORKING_DAYS} 之间的整数，收到「{t}」"),
        )
    };
    let n: u32 = t.parse().map_err(|_| bad())?;
    if n > MAX_WORKING_DAYS {
        return Err(bad());
    }
    Ok(n)
}

/// A start instant: RFC 3339 (`2026-02-13T10:00:00+08:00`), or a date `YYYY-MM-DD` meaning the
/// start of that day in Beijing time. A `+` in a query string arrives as a space, so a space
/// before the offset is read as `+`.
pub fn parse_instant(text: Option<&str>) -> Result<DateTime<Utc>> {
    let t = text.map(str::trim).unwrap_or("");
    if t.is_empty() {
        return Err(Error::invalid(
            "from",
            "请提供起算时间 from，如 2026-02-13T10:00:00+08:00",
        ));
    }
    let parsed = DateTime::parse_from_rfc3339(t)
        .or_else(|_| DateTime::parse_from_rfc3339(&t.replacen(' ', "+", 1)))
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .or_else(|| Timestamp::parse_local_date(t).map(Timestamp::to_utc));
    parsed.ok_or_else(|| {
        Error::invalid(
            "from",
            format!("起算时间「{t}」无效，应为 RFC 3339 格式（如 2026-02-13T10:00:00+08:00）或日期 YYYY-MM-DD"),
        )
    })
}

/// A deadline computed for a client.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Deadline {
    /// The start, RFC 3339 in Beijing time.
    pub from: String,
    pub working_days: u32,
    /// Close of business of the last working day, RFC 3339 in Beijing time.
    pub deadline: String,
    /// The deadline as pages show it: `2026-02-24 17:30`.
    pub deadline_local: String,
    /// Set when a year between the start and the deadline has no holiday arrangement, so the
    /// deadline only skips weekends there.
    pub warning: Option<String>,
}

pub fn deadline(cal: &Calendar, from: DateTime<Utc>, working_days: u32) -> Deadline {
    let due = cal.add_working_days(from, working_days);
    let offset = cal.offset();
    let missing: Vec<String> = (cal.local_date(from).year()..=cal.local_date(due).year())
        .filter(|y| !cal.has_data_for(*y))
        .map(|y| format!("{y} 年"))
        .collect();
    Deadline {
        from: from.with_timezone(&offset).to_rfc3339(),
        working_days,
        deadline: due.with_timezone(&offset).to_rfc3339(),
        deadline_local: due
            .with_timezone(&offset)
            .format("%Y-%m-%d %H:%M")
            .to_string(),
        warning: (!missing.is_empty()).then(|| {
            format!(
                "{}的节假日安排尚未录入，该期限只扣除了周末",
                missing.join("、")
            )
        }),
    }
}

/// The audit detail of a change: what the date is now and what it was.
pub fn describe_change(
    change: &DayChange,
    before: Option<&Override>,
    embedded: Option<&DayEntry>,
) -> String {
    let now = describe(change.kind, &change.festival);
    let was = match (before, embedded) {
        (Some(o), _) => format!("管理员更正 {}", describe(o.kind, &o.festival)),
        (None, Some(e)) => format!(
            "内置数据 {}",
            describe(Arrangement::of(e.kind), &e.festival)
        ),
        (None, None) => "无安排".to_owned(),
    };
    format!("设为 {now}；原为 {was}")
}

pub fn describe(kind: Arrangement, festival: &str) -> String {
    if festival.is_empty() {
        kind.label().to_owned()
    } else {
        format!("{}（{festival}）", kind.label())
    }
}

/// The audit detail of an import: how many rows for which years.
pub fn describe_import(changes: &[DayChange]) -> String {
    let mut by_year: BTreeMap<i32, (usize, usize)> = BTreeMap::new();
    for c in changes {
        let counts = by_year.entry(c.date.year()).or_default();
        match c.kind {
            Arrangement::Workday => counts.1 += 1,
            _ => counts.0 += 1,
        }
    }
    let parts: Vec<String> = by_year
        .iter()
        .map(|(y, (off, work))| format!("{y} 年放假 {off} 天、调休上班 {work} 天"))
        .collect();
    format!("导入 {} 行：{}", changes.len(), parts.join("；"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn embedded() -> BTreeMap<NaiveDate, DayEntry> {
        calendar::embedded_entries()
            .into_iter()
            .map(|e| (e.date, e))
            .collect()
    }

    fn correction(date: &str, kind: Arrangement, festival: &str) -> Override {
        Override {
            date: d(date),
            kind,
            festival: festival.into(),
            updated_at: Timestamp::from_micros(0),
            updated_by: "sysadmin".into(),
        }
    }

    fn field_of(e: Error) -> String {
        match e {
            Error::Invalid { field, .. } => field,
            other => panic!("not a validation error: {other:?}"),
        }
    }

    #[test]
    fn arrangements_parse_from_storage_csv_and_form_spellings() {
        for a in Arrangement::ALL {
            assert_eq!(Arrangement::parse(a.as_str()), Some(a));
            assert_eq!(Arrangement::parse(a.label()), Some(a));
        }
        assert_eq!(Arrangement::parse("休"), Some(Arrangement::Holiday));
        assert_eq!(Arrangement::parse(" 班 "), Some(Arrangement::Workday));
        assert_eq!(Arrangement::parse("rest"), None);
    }

    #[test]
    fn a_change_needs_a_valid_date_a_known_kind_and_a_festival() {
        let ok = validate_change("2027-01-01", "holiday", " 元旦 ").unwrap();
        assert_eq!(ok.festival, "元旦");
        assert_eq!(
            field_of(validate_change("2027-02-30", "holiday", "x").unwrap_err()),
            "date"
        );
        assert_eq!(
            field_of(validate_change("", "holiday", "x").unwrap_err()),
            "date"
        );
        assert_eq!(
            field_of(validate_change("1999-01-01", "holiday", "元旦").unwrap_err()),
            "date"
        );
        let e = validate_change("2027-01-01", "rest", "元旦").unwrap_err();
        assert!(e.to_string().contains("rest"), "{e}");
        assert_eq!(
            field_of(validate_change("2027-01-01", "holiday", " ").unwrap_err()),
            "festival"
        );
        assert_eq!(
            field_of(validate_change("2027-01-01", "holiday", "元旦,春节").unwrap_err()),
            "festival"
        );
        // Restoring the weekday rule needs no festival.
        assert!(validate_change("2026-10-10", "normal", "").is_ok());
    }

    #[test]
    fn a_make_up_working_day_must_fall_on_a_weekend_but_a_holiday_may() {
        // 2027-01-04 is a Monday.
        let e = validate_change("2027-01-04", "workday", "元旦").unwrap_err();
        assert!(e.to_string().contains("星期一"), "{e}");
        // 2026-02-14 is a Saturday.
        assert!(validate_change("2026-02-14", "workday", "春节").is_ok());
        // 2026-01-03, a Saturday, is a holiday in the published arrangement.
        assert!(validate_change("2026-01-03", "holiday", "元旦").is_ok());
    }

    #[test]
    fn the_embedded_data_has_no_make_up_working_day_on_a_weekday() {
        for e in calendar::embedded_entries() {
            assert!(
                weekday_problem(e.date, Arrangement::of(e.kind)).is_none(),
                "{e:?}"
            );
            assert!(
                festival_problem(Arrangement::of(e.kind), &e.festival).is_none(),
                "{e:?}"
            );
        }
    }

    #[test]
    fn years_outside_the_supported_span_are_refused() {
        assert_eq!(parse_year(None, 2026).unwrap(), 2026);
        assert_eq!(parse_year(Some(" "), 2026).unwrap(), 2026);
        assert_eq!(parse_year(Some("2027"), 2026).unwrap(), 2027);
        assert!(parse_year(Some("9999"), 2026).is_err());
        assert!(parse_year(Some("二〇二七"), 2026).is_err());
    }

    #[test]
    fn an_import_reports_every_bad_line_from_both_passes() {
        let text = "date,kind,festival\n\
                    2027-01-01,holiday,元旦\n\
                    2027-13-01,holiday,元旦\n\
                    2027-01-02,holiday\n\
                    2027-02-06,rest,春节\n\
                    2027-02-08,workday,春节\n\
                    2027-01-01,holiday,元旦\n";
        let errors = parse_import(text).unwrap_err();
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        // 3: bad date; 4: no festival; 5: unknown kind; 6: a Monday; 7: repeated date.
        assert_eq!(lines, vec![3, 4, 5, 6, 7], "{errors:?}");
        assert!(errors[0].reason.contains("2027-13-01"));
        assert!(errors[1].reason.contains("节日名称"));
        assert!(errors[2].reason.contains("rest"));
        assert!(errors[3].reason.contains("星期一"));
    }

    #[test]
    fn an_import_counts_lines_after_a_byte_order_mark_and_comments() {
        let text = "\u{feff}# 2027 年\r\n\r\ndate,kind,festival\r\n2027-01-01,休,元旦\r\n2027-02-07,班,春节\r\n";
        let changes = parse_import(text).unwrap();
        assert_eq!(changes.len(), 2);
        assert_eq!(changes[1].kind, Arrangement::Workday);
        let errors =
            parse_import("# x\n2027-01-01,holiday,元旦\n2027-01-05,workday,x\n").unwrap_err();
        assert_eq!(errors[0].line, 3);
    }

    #[test]
    fn an_empty_import_is_refused() {
        let errors = parse_import("date,kind,festival\n\n# nothing\n").unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(errors[0].reason.contains("没有可导入的行"));
    }

    #[test]
    fn stored_rows_are_exactly_the_differences_from_the_embedded_data() {
        let emb = embedded();
        let change = |date: &str, kind, festival: &str| DayChange {
            date: d(date),
            kind,
            festival: festival.into(),
        };
        let same = change("2026-02-14", Arrangement::Workday, "春节");
        assert_eq!(write_for(&same, emb.get(&same.date)), Write::Delete);
        let renamed = change("2026-02-14", Arrangement::Workday, "春节调休");
        assert_eq!(write_for(&renamed, emb.get(&renamed.date)), Write::Upsert);
        let normal_listed = change("2026-10-10", Arrangement::Normal, "");
        assert_eq!(
            write_for(&normal_listed, emb.get(&normal_listed.date)),
            Write::Upsert
        );
        let normal_unlisted = change("2027-03-03", Arrangement::Normal, "");
        assert_eq!(write_for(&normal_unlisted, None), Write::Delete);
        let added = change("2027-01-01", Arrangement::Holiday, "元旦");
        assert_eq!(write_for(&added, None), Write::Upsert);
    }

    #[test]
    fn corrections_override_the_embedded_data() {
        let emb = embedded();
        let overrides = vec![
            correction("2026-10-10", Arrangement::Normal, ""),
            correction("2027-01-01", Arrangement::Holiday, "元旦"),
            correction("2026-02-23", Arrangement::Workday, "春节"),
        ];
        let cal = build_calendar(&emb, &overrides);
        // 2026-10-10 is a Saturday: without its make-up entry it is a weekend day.
        assert!(!cal.is_working_day(d("2026-10-10")));
        assert!(cal.entry(d("2026-10-10")).is_none());
        assert!(!cal.is_working_day(d("2027-01-01")));
        assert!(
            !cal.has_data_for(2027),
            "one day is not the year's arrangement"
        );
        assert!(cal.is_working_day(d("2026-02-23")));
        // Untouched dates keep the embedded arrangement.
        assert!(cal.is_working_day(d("2026-02-14")));
        assert!(!cal.is_working_day(d("2026-02-16")));
    }

    #[test]
    fn a_year_lists_embedded_and_corrected_dates_in_order() {
        let emb = embedded();
        let overrides = vec![
            correction("2026-10-10", Arrangement::Normal, "国庆节"),
            correction("2026-12-31", Arrangement::Holiday, "元旦"),
            correction("2027-01-01", Arrangement::Holiday, "元旦"),
        ];
        let rows = year_rows(2026, &emb, &overrides);
        assert_eq!(rows.first().unwrap().date, d("2026-01-01"));
        assert_eq!(rows.last().unwrap().date, d("2026-12-31"));
        assert!(rows.windows(2).all(|w| w[0].date < w[1].date));
        let oct10 = rows.iter().find(|r| r.date == d("2026-10-10")).unwrap();
        assert!(oct10.is_override);
        assert_eq!(oct10.kind, Arrangement::Normal);
        assert_eq!(oct10.embedded_kind, Some(Arrangement::Workday));
        assert_eq!(oct10.replaced(), "调休上班（国庆节）");
        assert_eq!(oct10.weekday, "星期六");
        let plain = rows.iter().find(|r| r.date == d("2026-02-14")).unwrap();
        assert!(!plain.is_override && plain.updated_by.is_none());
        assert_eq!(year_rows(2027, &emb, &overrides).len(), 1);
        assert!(year_rows(2030, &emb, &overrides).is_empty());
    }

    #[test]
    fn the_coverage_warning_names_the_missing_years() {
        let cal = Calendar::embedded();
        // 2026 is covered; before October nothing is said about 2027.
        assert_eq!(coverage_warning_for(&cal, d("2026-09-30")), None);
        let q4 = coverage_warning_for(&cal, d("2026-10-01")).unwrap();
        assert_eq!(
            q4,
            "2027 年的节假日安排尚未录入，目前按周末规则计算工作日，请及时录入"
        );
        let both = coverage_warning_for(&cal, d("2027-11-02")).unwrap();
        assert!(both.starts_with("2027 年、2028 年"), "{both}");
        assert!(
            coverage_warning_for(&cal, d("2027-03-01"))
                .unwrap()
                .starts_with("2027 年的")
        );
        // New Year's Day entered early is not the arrangement; the Spring Festival is.
        let new_year = [correction("2027-01-01", Arrangement::Holiday, "元旦")];
        let early = build_calendar(&embedded(), &new_year);
        assert!(coverage_warning_for(&early, d("2026-12-01")).is_some());
        let with_2027 = build_calendar(
            &embedded(),
            &[
                new_year[0].clone(),
                correction("2027-02-08", Arrangement::Holiday, "春节"),
            ],
        );
        assert_eq!(coverage_warning_for(&with_2027, d("2026-12-01")), None);
    }

    #[test]
    fn a_check_tells_holidays_make_up_days_weekdays_and_weekends_apart() {
        let cal = Calendar::embedded();
        let c = check_day(&cal, d("2026-02-14"));
        assert!(c.working_day);
        assert_eq!(c.kind, DayStatus::Workday);
        assert_eq!(c.festival.as_deref(), Some("春节"));
        let c = check_day(&cal, d("2026-02-16"));
        assert!(!c.working_day);
        assert_eq!(c.kind, DayStatus::Holiday);
        assert_eq!(check_day(&cal, d("2026-03-07")).kind, DayStatus::Weekend);
        let c = check_day(&cal, d("2026-03-09"));
        assert_eq!((c.kind, c.working_day), (DayStatus::Weekday, true));
        assert!(!check_day(&cal, d("2030-03-09")).year_covered);
    }

    #[test]
    fn instants_and_day_counts_are_read_leniently_but_checked() {
        let t = parse_instant(Some("2026-02-13T10:00:00+08:00")).unwrap();
        assert_eq!(t, Utc.with_ymd_and_hms(2026, 2, 13, 2, 0, 0).unwrap());
        // A '+' that a query string turned into a space.
        assert_eq!(parse_instant(Some("2026-02-13T10:00:00 08:00")).unwrap(), t);
        let midnight = parse_instant(Some("2026-02-13")).unwrap();
        assert_eq!(
            midnight,
            Utc.with_ymd_and_hms(2026, 2, 12, 16, 0, 0).unwrap()
        );
        assert_eq!(
            field_of(parse_instant(Some("yesterday")).unwrap_err()),
            "from"
        );
        assert_eq!(field_of(parse_instant(None).unwrap_err()), "from");
        assert_eq!(parse_working_days(Some("2")).unwrap(), 2);
        assert!(parse_working_days(Some("-1")).is_err());
        assert!(parse_working_days(Some("1001")).is_err());
        assert!(parse_working_days(None).is_err());
    }

    #[test]
    fn a_deadline_skips_the_spring_festival_and_warns_about_unknown_years() {
        let cal = Calendar::embedded();
        let from = Utc.with_ymd_and_hms(2026, 2, 13, 2, 0, 0).unwrap();
        let due = deadline(&cal, from, 2);
        assert_eq!(due.deadline, "2026-02-24T17:30:00+08:00");
        assert_eq!(due.deadline_local, "2026-02-24 17:30");
        assert_eq!(due.from, "2026-02-13T10:00:00+08:00");
        assert!(due.warning.is_none());
        let late = deadline(
            &cal,
            Utc.with_ymd_and_hms(2026, 12, 20, 2, 0, 0).unwrap(),
            20,
        );
        assert!(late.warning.unwrap().contains("2027 年"));
    }

    #[test]
    fn audit_details_say_what_changed() {
        let emb = embedded();
        let change = DayChange {
            date: d("2026-10-10"),
            kind: Arrangement::Normal,
            festival: String::new(),
        };
        assert_eq!(
            describe_change(&change, None, emb.get(&change.date)),
            "设为 恢复正常；原为 内置数据 调休上班（国庆节）"
        );
        let changes = parse_import(
            "2027-01-01,holiday,元旦\n2027-02-06,workday,春节\n2027-02-11,holiday,春节\n",
        )
        .unwrap();
        assert_eq!(
            describe_import(&changes),
            "导入 3 行：2027 年放假 2 天、调休上班 1 天"
        );
    }
}

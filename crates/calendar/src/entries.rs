//! Day entries (holidays and make-up working days) and their CSV form.
//!
//! The CSV form exists because the State Council publishes next year's arrangement every
//! winter, and an administrator must be able to paste it in without a software release. The
//! parser therefore reports every bad line at once, with its line number, so that one upload
//! round-trip is enough to fix a file.

use std::collections::HashMap;
use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// What an entry does to its date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayKind {
    /// A day off, even if it falls on a weekday (法定节假日 / 调休放假).
    Holiday,
    /// A working day, even if it falls on a weekend (调休上班).
    Workday,
}

impl DayKind {
    /// The spelling used in the CSV file and in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            DayKind::Holiday => "holiday",
            DayKind::Workday => "workday",
        }
    }

    /// Accepts the English spelling and the one-character forms that Chinese calendars print
    /// (休 / 班), because administrators copy from those.
    pub fn parse(text: &str) -> Option<DayKind> {
        match text.trim() {
            "holiday" | "休" | "假" => Some(DayKind::Holiday),
            "workday" | "班" => Some(DayKind::Workday),
            _ => None,
        }
    }
}

impl fmt::Display for DayKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One exception to the "Monday to Friday" rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DayEntry {
    pub date: NaiveDate,
    pub kind: DayKind,
    /// The festival the arrangement belongs to (春节, 国庆节 …); informative only, may be empty.
    pub festival: String,
}

/// One bad line of a CSV upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CsvLineError {
    /// 1-based line number in the uploaded text.
    pub line: usize,
    pub reason: String,
}

impl fmt::Display for CsvLineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "第 {} 行: {}", self.line, self.reason)
    }
}

/// All bad lines of a CSV upload (never empty).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct CsvError {
    pub errors: Vec<CsvLineError>,
}

impl fmt::Display for CsvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "节假日文件有 {} 处错误", self.errors.len())?;
        for error in &self.errors {
            write!(f, "\n{error}")?;
        }
        Ok(())
    }
}

/// The header line; optional, so that a bare list of rows is accepted too.
const HEADER: [&str; 3] = ["date", "kind", "festival"];

/// Parses `date,kind,festival` rows.
///
/// Accepted on purpose, because spreadsheets produce them: a UTF-8 byte-order mark, CRLF line
/// ends, blank lines, `#` comment lines, an optional header line, fields wrapped in double
/// quotes, surrounding spaces, and a missing festival column. Quoted fields may not contain
/// commas (festival names never do). Dates are `YYYY-MM-DD`; kinds are `holiday`/`workday`
/// (or 休/班).
///
/// # Errors
/// Every line with a bad date, an unknown kind, a wrong number of columns, or a date already
/// given on an earlier line; all of them, not only the first.
pub fn parse_csv(text: &str) -> Result<Vec<DayEntry>, CsvError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut entries = Vec::new();
    let mut errors = Vec::new();
    let mut seen: HashMap<NaiveDate, usize> = HashMap::new();
    let mut header_allowed = true;

    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = trimmed.split(',').map(unquote).collect();
        if header_allowed && fields.len() >= 2 && fields.iter().zip(HEADER).all(|(a, b)| *a == b) {
            header_allowed = false;
            continue;
        }
        header_allowed = false;

        if fields.len() < 2 || fields.len() > 3 {
            errors.push(CsvLineError {
                line,
                reason: format!(
                    "应有 2 或 3 列（date,kind,festival），实有 {} 列",
                    fields.len()
                ),
            });
            continue;
        }
        let date = match NaiveDate::parse_from_str(fields[0], "%Y-%m-%d") {
            Ok(date) => Some(date),
            Err(_) => {
                errors.push(CsvLineError {
                    line,
                    reason: format!("日期“{}”无效，应为 YYYY-MM-DD", fields[0]),
                });
                None
            }
        };
        let kind = DayKind::parse(fields[1]);
        if kind.is_none() {
            errors.push(CsvLineError {
                line,
                reason: format!(
                    "类型“{}”未知，应为 holiday（休）或 workday（班）",
                    fields[1]
                ),
            });
        }
        let (Some(date), Some(kind)) = (date, kind) else {
            continue;
        };
        if let Some(first) = seen.get(&date) {
            errors.push(CsvLineError {
                line,
                reason: format!("日期 {date} 重复（第 {first} 行已有）"),
            });
            continue;
        }
        seen.insert(date, line);
        entries.push(DayEntry {
            date,
            kind,
            festival: fields.get(2).copied().unwrap_or("").to_string(),
        });
    }

    if errors.is_empty() {
        Ok(entries)
    } else {
        Err(CsvError { errors })
    }
}

/// Writes entries in the form [`parse_csv`] reads, so that an administrator can download,
/// edit and upload the same file.
pub fn to_csv<'a>(entries: impl IntoIterator<Item = &'a DayEntry>) -> String {
    let mut out = String::from("date,kind,festival\n");
    for entry in entries {
        out.push_str(&format!(
            "{},{},{}\n",
            entry.date.format("%Y-%m-%d"),
            entry.kind,
            entry.festival
        ));
    }
    out
}

fn unquote(field: &str) -> &str {
    let field = field.trim();
    field
        .strip_prefix('"')
        .and_then(|f| f.strip_suffix('"'))
        .map(str::trim)
        .unwrap_or(field)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rows_comments_header_and_quotes() {
        let text = "\u{feff}# comment\r\ndate,kind,festival\r\n\r\n2027-01-01,holiday,元旦\r\n\"2027-02-06\",\"班\",\"春节\"\n2027-02-07,workday\n";
        let entries = parse_csv(text).expect("valid");
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[1].kind, DayKind::Workday);
        assert_eq!(entries[1].festival, "春节");
        assert_eq!(entries[2].festival, "");
    }

    #[test]
    fn reports_every_bad_line_with_its_number() {
        let text = "date,kind,festival\n2027-01-01,holiday,元旦\n2027-13-01,holiday,x\n2027-01-02,rest,x\n2027-01-01,workday,y\nonly-one-column\n";
        let err = parse_csv(text).expect_err("invalid");
        let lines: Vec<usize> = err.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![3, 4, 5, 6]);
        assert!(err.errors[0].reason.contains("2027-13-01"));
        assert!(err.errors[1].reason.contains("rest"));
        assert!(err.errors[2].reason.contains("第 2 行"));
        assert!(err.to_string().contains("第 5 行"));
    }

    #[test]
    fn round_trips_through_to_csv() {
        let entries =
            parse_csv("2027-01-01,holiday,元旦\n2027-02-06,workday,春节\n").expect("valid");
        assert_eq!(parse_csv(&to_csv(&entries)).expect("valid"), entries);
    }
}

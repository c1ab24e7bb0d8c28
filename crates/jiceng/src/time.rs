//! Instants are stored as UTC microseconds and shown in Asia/Shanghai.

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Asia::Shanghai;
use serde::{Deserialize, Serialize};

/// A UTC instant with microsecond precision, stored as BIGINT on both engines so that
/// comparisons and ranges are plain integer operations.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, sqlx::Type, Serialize, Deserialize,
)]
#[sqlx(transparent)]
#[serde(into = "DateTime<Utc>", from = "DateTime<Utc>")]
pub struct Timestamp(i64);

impl Timestamp {
    pub fn now() -> Self {
        Self::from(Utc::now())
    }

    pub fn from_micros(us: i64) -> Self {
        Self(us)
    }

    pub fn as_micros(self) -> i64 {
        self.0
    }

    pub fn to_utc(self) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(self.0).unwrap_or(DateTime::UNIX_EPOCH)
    }

    pub fn plus_seconds(self, s: i64) -> Self {
        Self(self.0.saturating_add(s.saturating_mul(1_000_000)))
    }

    /// `2026-11-21 17:30` in Beijing time, the form every page uses.
    pub fn local(self) -> String {
        self.to_utc()
            .with_timezone(&Shanghai)
            .format("%Y-%m-%d %H:%M")
            .to_string()
    }

    /// The year in Beijing time (a year's lists, references and indicators start there).
    pub fn local_year(self) -> i64 {
        i64::from(chrono::Datelike::year(
            &self.to_utc().with_timezone(&Shanghai),
        ))
    }

    pub fn local_seconds(self) -> String {
        self.to_utc()
            .with_timezone(&Shanghai)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    }

    /// RFC 3339 with the +08:00 offset, for exports and the API.
    pub fn rfc3339_local(self) -> String {
        self.to_utc().with_timezone(&Shanghai).to_rfc3339()
    }

    /// Midnight of this instant's day in Beijing time.
    pub fn start_of_local_day(self) -> Self {
        let local = self.to_utc().with_timezone(&Shanghai).date_naive();
        Self::parse_local_date(&local.format("%Y-%m-%d").to_string()).unwrap_or(self)
    }

    /// Parses a local (Asia/Shanghai) date `YYYY-MM-DD` as the start of that day.
    pub fn parse_local_date(s: &str) -> Option<Self> {
        let d = chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()?;
        let dt = Shanghai
            .from_local_datetime(&d.and_hms_opt(0, 0, 0)?)
            .single()?;
        Some(Self::from(dt.with_timezone(&Utc)))
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(d: DateTime<Utc>) -> Self {
        Self(d.timestamp_micros())
    }
}

impl From<Timestamp> for DateTime<Utc> {
    fn from(t: Timestamp) -> Self {
        t.to_utc()
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.local())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_beijing_time() {
        let t = Timestamp::from(Utc.with_ymd_and_hms(2026, 11, 21, 16, 5, 0).unwrap());
        assert_eq!(t.local(), "2026-11-22 00:05");
        let new_year = Timestamp::from(Utc.with_ymd_and_hms(2026, 12, 31, 16, 30, 0).unwrap());
        assert_eq!(
            new_year.local_year(),
            2027,
            "the year turns at midnight in Beijing"
        );
    }

    #[test]
    fn local_date_is_midnight_in_shanghai() {
        let t = Timestamp::parse_local_date("2026-01-01").unwrap();
        assert_eq!(
            t.to_utc(),
            Utc.with_ymd_and_hms(2025, 12, 31, 16, 0, 0).unwrap()
        );
        assert!(Timestamp::parse_local_date("2026-13-01").is_none());
    }
}

//! Working sessions within one working day.
//!
//! Offices in China mostly keep a morning and an afternoon session with a long lunch break,
//! and the hours differ by region and season (summer hours), so the sessions are data, not
//! constants. Times are kept as seconds after local midnight so that a session may end at
//! 24:00, which `NaiveTime` cannot express.

use std::fmt;
use std::str::FromStr;

use chrono::{NaiveTime, Timelike};

pub(crate) const NANOS_PER_SECOND: i128 = 1_000_000_000;
const SECONDS_PER_DAY: u32 = 86_400;

/// Why a set of working sessions was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkingHoursError {
    #[error("至少需要一个工作时段")]
    Empty,
    #[error("时段“{0}”格式无效，应为 HH:MM-HH:MM")]
    Syntax(String),
    #[error("时段 {0} 的结束时间不晚于开始时间")]
    EmptySession(String),
    #[error("时段 {0} 与前一时段重叠或顺序颠倒")]
    Overlap(String),
}

/// The sessions of one working day, sorted and non-overlapping (touching is allowed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkingHours {
    /// `(start, end)` in seconds after local midnight; `start < end <= 86400`.
    sessions: Vec<(u32, u32)>,
}

impl Default for WorkingHours {
    /// 08:30–12:00 and 14:00–17:30: the common schedule of Chinese government offices.
    fn default() -> Self {
        WorkingHours {
            sessions: vec![(8 * 3600 + 1800, 12 * 3600), (14 * 3600, 17 * 3600 + 1800)],
        }
    }
}

impl WorkingHours {
    /// Builds from `(start, end)` times of day.
    ///
    /// # Errors
    /// If there is no session, a session is empty, or sessions overlap or are out of order.
    pub fn new(
        sessions: impl IntoIterator<Item = (NaiveTime, NaiveTime)>,
    ) -> Result<Self, WorkingHoursError> {
        Self::from_seconds(
            sessions
                .into_iter()
                .map(|(a, b)| (a.num_seconds_from_midnight(), b.num_seconds_from_midnight())),
        )
    }

    /// Builds from `(start, end)` in seconds after local midnight (end may be 86400).
    ///
    /// # Errors
    /// As [`WorkingHours::new`], and for a bound beyond 24:00.
    pub fn from_seconds(
        sessions: impl IntoIterator<Item = (u32, u32)>,
    ) -> Result<Self, WorkingHoursError> {
        let sessions: Vec<(u32, u32)> = sessions.into_iter().collect();
        if sessions.is_empty() {
            return Err(WorkingHoursError::Empty);
        }
        let mut previous_end = 0;
        for &(start, end) in &sessions {
            let shown = format!("{}-{}", hhmm(start), hhmm(end));
            if end > SECONDS_PER_DAY || start >= end {
                return Err(WorkingHoursError::EmptySession(shown));
            }
            if start < previous_end {
                return Err(WorkingHoursError::Overlap(shown));
            }
            previous_end = end;
        }
        Ok(WorkingHours { sessions })
    }

    /// The sessions as `(start, end)` seconds after local midnight.
    pub fn sessions(&self) -> &[(u32, u32)] {
        &self.sessions
    }

    /// Working time in one working day, in seconds.
    pub fn day_seconds(&self) -> u32 {
        self.sessions.iter().map(|(a, b)| b - a).sum()
    }

    /// End of the last session, in seconds after local midnight: "close of business".
    pub fn close_of_business(&self) -> u32 {
        self.sessions.last().map_or(0, |&(_, end)| end)
    }

    pub(crate) fn day_nanos(&self) -> i128 {
        i128::from(self.day_seconds()) * NANOS_PER_SECOND
    }

    /// Working nanoseconds before the time of day `t` (nanoseconds after local midnight).
    pub(crate) fn worked_before(&self, t: i128) -> i128 {
        self.sessions
            .iter()
            .map(|&(start, end)| {
                let start = i128::from(start) * NANOS_PER_SECOND;
                let end = i128::from(end) * NANOS_PER_SECOND;
                t.clamp(start, end) - start
            })
            .sum()
    }

    /// The earliest time of day (nanoseconds after local midnight) at which `worked` nanoseconds
    /// of the day have been worked; `0 < worked <= day_nanos()`. Earliest, so that filling a
    /// session exactly ends at the session's end rather than at the next session's start.
    pub(crate) fn time_at(&self, worked: i128) -> i128 {
        let mut acc = 0;
        for &(start, end) in &self.sessions {
            let start = i128::from(start) * NANOS_PER_SECOND;
            let end = i128::from(end) * NANOS_PER_SECOND;
            if worked <= acc + (end - start) {
                return start + (worked - acc);
            }
            acc += end - start;
        }
        i128::from(self.close_of_business()) * NANOS_PER_SECOND
    }
}

impl FromStr for WorkingHours {
    type Err = WorkingHoursError;

    /// Parses `08:30-12:00,14:00-17:30` (the form used in configuration files); `24:00` is
    /// accepted as an end.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut sessions = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let parsed = part
                .split_once('-')
                .and_then(|(a, b)| Some((parse_hhmm(a)?, parse_hhmm(b)?)));
            match parsed {
                Some(session) => sessions.push(session),
                None => return Err(WorkingHoursError::Syntax(part.to_string())),
            }
        }
        Self::from_seconds(sessions)
    }
}

impl fmt::Display for WorkingHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, &(start, end)) in self.sessions.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{}-{}", hhmm(start), hhmm(end))?;
        }
        Ok(())
    }
}

fn parse_hhmm(text: &str) -> Option<u32> {
    let (h, m) = text.trim().split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    let seconds = h.checked_mul(3600)? + m * 60;
    (m < 60 && seconds <= SECONDS_PER_DAY).then_some(seconds)
}

fn hhmm(seconds: u32) -> String {
    format!("{:02}:{:02}", seconds / 3600, seconds % 3600 / 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_seven_hours() {
        let hours = WorkingHours::default();
        assert_eq!(hours.day_seconds(), 7 * 3600);
        assert_eq!(hours.to_string(), "08:30-12:00,14:00-17:30");
        assert_eq!(
            "08:30-12:00, 14:00-17:30".parse::<WorkingHours>(),
            Ok(hours)
        );
    }

    #[test]
    fn rejects_bad_sessions() {
        assert_eq!("".parse::<WorkingHours>(), Err(WorkingHoursError::Empty));
        assert!(matches!(
            "9-12".parse::<WorkingHours>(),
            Err(WorkingHoursError::Syntax(_))
        ));
        assert!(matches!(
            "12:00-09:00".parse::<WorkingHours>(),
            Err(WorkingHoursError::EmptySession(_))
        ));
        assert!(matches!(
            "09:00-12:00,11:00-13:00".parse::<WorkingHours>(),
            Err(WorkingHoursError::Overlap(_))
        ));
        assert!("00:00-24:00".parse::<WorkingHours>().is_ok());
        assert!("00:00-24:01".parse::<WorkingHours>().is_err());
    }

    #[test]
    fn time_at_prefers_the_end_of_a_filled_session() {
        let hours = WorkingHours::default();
        let n = NANOS_PER_SECOND;
        assert_eq!(hours.time_at(3 * 3600 * n + 1800 * n), 12 * 3600 * n);
        assert_eq!(hours.time_at(7 * 3600 * n), (17 * 3600 + 1800) * n);
        assert_eq!(hours.worked_before(13 * 3600 * n), (3 * 3600 + 1800) * n);
        assert_eq!(hours.worked_before(0), 0);
    }
}

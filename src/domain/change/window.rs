//! Change windows and freeze periods.

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::domain::duration::format_duration;

/// A start as typed: local to the change time zone, or with its own offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartTime {
    Local(NaiveDateTime),
    Fixed(DateTime<Utc>),
}

/// Why a window was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    #[error("`{0}` is not a start time; write `YYYY-MM-DDTHH:MM` (in your time zone, see `/itsm timezone`) or with an offset, e.g. `2026-12-01T22:00` or `2026-12-01T22:00Z`")]
    BadStart(String),
    #[error("{0} does not exist in {1} (the clocks skip it); choose another start")]
    Skipped(NaiveDateTime, Tz),
    #[error("a window must last at least a minute and at most 30 days, not {0}")]
    BadLength(String),
    #[error("the window {window} has already ended; choose one that has not")]
    Ended { window: String },
}

impl StartTime {
    /// The instant this start means in `zone`. An ambiguous local time (the
    /// hour the clocks go back) is read as the earlier of the two.
    pub fn resolve(self, zone: Tz) -> Result<DateTime<Utc>, WindowError> {
        match self {
            StartTime::Fixed(at) => Ok(at),
            StartTime::Local(local) => match zone.from_local_datetime(&local) {
                LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => {
                    Ok(at.with_timezone(&Utc))
                }
                LocalResult::None => Err(WindowError::Skipped(local, zone)),
            },
        }
    }
}

/// When a change is planned to happen: `[start, start + duration)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub duration: Duration,
}

impl Window {
    /// A window, if its length is sensible.
    pub fn new(start: DateTime<Utc>, duration: Duration) -> Result<Self, WindowError> {
        if duration < Duration::minutes(1) || duration > Duration::days(30) {
            return Err(WindowError::BadLength(format_duration(duration)));
        }
        Ok(Window { start, duration })
    }

    /// When it ends.
    pub fn end(&self) -> DateTime<Utc> {
        self.start + self.duration
    }

    /// [`Window::describe`] for a chat message: the start as a stamp each
    /// platform shows in its reader's zone, `zone` where it cannot.
    pub fn stamped(&self, zone: Tz) -> String {
        format!(
            "{} for {}",
            crate::domain::moment::stamp(self.start, zone),
            format_duration(self.duration)
        )
    }

    /// Whether the two share any instant.
    pub fn overlaps(&self, other: &Window) -> bool {
        self.start < other.end() && other.start < self.end()
    }

    /// `2026-12-01 22:00 CET for 2h`, in `zone`.
    pub fn describe(&self, zone: Tz) -> String {
        format!(
            "{} for {}",
            super::show_time(self.start, zone),
            format_duration(self.duration)
        )
    }
}

/// A period in which only emergency changes may happen (e.g. year-end).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Freeze {
    pub name: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Freeze {
    /// Whether `window` touches the freeze.
    pub fn overlaps(&self, window: &Window) -> bool {
        window.start < self.end && self.start < window.end()
    }

    /// `2026-12-20 00:00 CET – 2027-01-04 00:00 CET`, in `zone`.
    pub fn describe(&self, zone: Tz) -> String {
        format!(
            "{} – {}",
            super::show_time(self.start, zone),
            super::show_time(self.end, zone)
        )
    }
}

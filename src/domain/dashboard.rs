//! The managers' dashboard: which stretch of time it shows, and the
//! figures computed from what the store returns (service availability).

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};

use super::report::Period;

/// The longest date range the dashboard draws, in days: a year, with room
/// for a leap day.
pub const MAX_RANGE_DAYS: i64 = 366;

/// The stretch of time the dashboard shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// A report period ending now, as in the digests and `/api/v1/reports`.
    Period(Period),
    /// Whole UTC days, `first` to `last` inclusive.
    Dates { first: NaiveDate, last: NaiveDate },
}

/// Why a dashboard query was refused; the message says what would work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    #[error("unknown period `{0}`: use period=day, period=week or period=month")]
    UnknownPeriod(String),
    #[error("`{key}={value}` is not a date: write it as YYYY-MM-DD, e.g. {key}=2026-11-01")]
    BadDate { key: &'static str, value: String },
    #[error("a date range needs both from=YYYY-MM-DD and to=YYYY-MM-DD")]
    HalfRange,
    #[error("give either period=… or from=…&to=…, not both")]
    PeriodAndRange,
    #[error("the range ends ({last}) before it starts ({first})")]
    Reversed { first: NaiveDate, last: NaiveDate },
    #[error("the range is {days} days long; the dashboard shows at most {MAX_RANGE_DAYS} days")]
    TooLong { days: i64 },
    #[error("`{0}` is given twice")]
    Repeated(&'static str),
    #[error("unknown parameter `{0}`: use period=day|week|month or from=YYYY-MM-DD&to=YYYY-MM-DD")]
    UnknownParameter(String),
}

impl Window {
    /// The window a query string's pairs ask for: `period=day|week|month`,
    /// or `from=YYYY-MM-DD&to=YYYY-MM-DD`; a week when neither is given.
    /// `token` (the dashboard login) is ignored here.
    pub fn from_query<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Window, WindowError> {
        let (mut period, mut from, mut to) = (None, None, None);
        for (key, value) in pairs {
            let (slot, name) = match key {
                "period" => (&mut period, "period"),
                "from" => (&mut from, "from"),
                "to" => (&mut to, "to"),
                "token" => continue,
                other => return Err(WindowError::UnknownParameter(other.to_string())),
            };
            if slot.replace(value).is_some() {
                return Err(WindowError::Repeated(name));
            }
        }
        let date = |key: &'static str, value: &str| {
            NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| WindowError::BadDate {
                key,
                value: value.to_string(),
            })
        };
        match (period, from, to) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => Err(WindowError::PeriodAndRange),
            (Some(name), None, None) => match name {
                "day" => Ok(Window::Period(Period::Day)),
                "week" => Ok(Window::Period(Period::Week)),
                "month" => Ok(Window::Period(Period::Month)),
                other => Err(WindowError::UnknownPeriod(other.to_string())),
            },
            (None, Some(first), Some(last)) => {
                let (first, last) = (date("from", first)?, date("to", last)?);
                if last < first {
                    return Err(WindowError::Reversed { first, last });
                }
                let days = (last - first).num_days() + 1;
                if days > MAX_RANGE_DAYS {
                    return Err(WindowError::TooLong { days });
                }
                Ok(Window::Dates { first, last })
            }
            (None, Some(_), None) | (None, None, Some(_)) => Err(WindowError::HalfRange),
            (None, None, None) => Ok(Window::Period(Period::Week)),
        }
    }

    /// The instants `[from, to)` the window covers, for a period ending at `now`.
    pub fn bounds(self, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        match self {
            Window::Period(period) => period.ending_at(now),
            Window::Dates { first, last } => {
                let midnight = |date: NaiveDate| date.and_time(NaiveTime::MIN).and_utc();
                (midnight(first), midnight(last) + Duration::days(1))
            }
        }
    }

    /// The period's name, when the window is one.
    pub fn period(self) -> Option<Period> {
        match self {
            Window::Period(period) => Some(period),
            Window::Dates { .. } => None,
        }
    }
}

/// A stretch of downtime: the same spans the service catalog and the error
/// budgets count.
pub use super::availability::Outage as Downtime;

/// A service's availability over a window, against its target.
#[derive(Debug, Clone, PartialEq)]
pub struct Availability {
    /// Percent of the measured time the service was up.
    pub percent: f64,
    /// Target in percent, from `[[services]] availability_target`.
    pub target: f64,
    /// Time down within the window, overlapping stretches counted once.
    pub downtime: Duration,
    /// Whether `percent` reaches `target`.
    pub met: bool,
}

/// The availability over `[from, to)` given the service's downtime, measured
/// up to `now` (time that has not happened yet is neither up nor down).
pub fn availability(
    target: f64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
    downtime: &[Downtime],
) -> Availability {
    let to = to.min(now);
    let measured = to - from;
    let down = downtime_within(from, to, now, downtime);
    let percent = if measured <= Duration::zero() {
        100.0
    } else {
        100.0 * (1.0 - down.num_milliseconds() as f64 / measured.num_milliseconds() as f64)
    };
    Availability {
        percent,
        target,
        downtime: down,
        met: percent >= target,
    }
}

/// The total time within `[from, to)` covered by `downtime`; overlapping
/// stretches (two P1s on one service) count once, and one still going on
/// lasts until `now`.
pub fn downtime_within(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
    downtime: &[Downtime],
) -> Duration {
    super::availability::downtime(downtime, from, to.min(now).max(from))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(hour: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 0, 0, 0).unwrap() + Duration::hours(hour)
    }

    fn window(query: &[(&'static str, &'static str)]) -> Result<Window, WindowError> {
        Window::from_query(query.iter().copied())
    }

    #[test]
    fn periods_ranges_and_their_refusals() {
        assert_eq!(window(&[]), Ok(Window::Period(Period::Week)));
        assert_eq!(
            window(&[("period", "month"), ("token", "x")]),
            Ok(Window::Period(Period::Month))
        );
        let range = window(&[("from", "2026-11-01"), ("to", "2026-11-03")]).unwrap();
        assert_eq!(
            range.bounds(at(9)),
            (
                Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap(),
                Utc.with_ymd_and_hms(2026, 11, 4, 0, 0, 0).unwrap()
            )
        );
        for (query, message) in [
            (vec![("period", "year")], "unknown period `year`"),
            (vec![("from", "2026-11-01")], "needs both"),
            (
                vec![("from", "yesterday"), ("to", "2026-11-01")],
                "YYYY-MM-DD",
            ),
            (
                vec![("from", "2026-11-02"), ("to", "2026-11-01")],
                "before it starts",
            ),
            (
                vec![("from", "2024-01-01"), ("to", "2026-01-01")],
                "at most 366",
            ),
            (vec![("period", "day"), ("from", "2026-11-01")], "not both"),
            (vec![("period", "day"), ("period", "week")], "given twice"),
            (vec![("color", "red")], "unknown parameter `color`"),
        ] {
            let error = Window::from_query(query.iter().copied()).unwrap_err();
            assert!(error.to_string().contains(message), "{error}");
        }
    }

    #[test]
    fn overlapping_downtime_counts_once_and_ongoing_lasts_until_now() {
        let spans = [
            Downtime {
                start: at(1),
                end: Some(at(3)),
            },
            Downtime {
                start: at(2),
                end: Some(at(4)),
            },
            Downtime {
                start: at(10),
                end: None,
            },
        ];
        // [1,4) and [10,12) within [0,24) measured up to 12:00.
        assert_eq!(
            downtime_within(at(0), at(24), at(12), &spans),
            Duration::hours(5)
        );
        let a = availability(99.9, at(0), at(24), at(12), &spans);
        assert!((a.percent - 100.0 * 7.0 / 12.0).abs() < 1e-9);
        assert!(!a.met);
        let clear = availability(99.9, at(0), at(24), at(12), &[]);
        assert_eq!((clear.percent, clear.met), (100.0, true));
        // Downtime before the window does not count.
        assert_eq!(
            downtime_within(at(5), at(9), at(12), &spans[..2]),
            Duration::zero()
        );
    }
}

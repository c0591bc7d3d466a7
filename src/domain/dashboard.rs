//! The managers' dashboard: which stretch of time it shows. Its figures
//! are a report's (see [`super::report`]), so they are the digest's and the
//! API's.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use super::report::{Period, Span, SpanError, MAX_RANGE_DAYS};

/// The stretch of time the dashboard shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// A report period ending now, as in the digests and `/api/v1/reports`.
    Period(Period),
    /// Whole calendar days in the team's zone, `first` to `last` inclusive.
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

    /// The span the window covers, for a rolling period ending at `now`,
    /// with calendar days read in `zone`.
    pub fn span(self, now: DateTime<Utc>, zone: Tz) -> Result<Span, SpanError> {
        match self {
            Window::Period(period) => Ok(Span::rolling(period, now, zone)),
            Window::Dates { first, last } => Span::days(first, last, zone),
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

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

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
        let span = range.span(at(9), Tz::UTC).unwrap();
        assert_eq!(
            (span.from, span.to),
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
}

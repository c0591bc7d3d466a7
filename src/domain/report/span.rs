//! Which stretch of time a report covers: a calendar day, ISO week or
//! month in the team's time zone, a range of calendar days, or a rolling
//! window ending at an instant. Every figure of a report is counted over
//! `[from, to)`, and every state it shows ("still open", overdue action
//! items) is the state at `to` — or now, for a period not over yet.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::Period;

/// The longest range of calendar days a report covers: a year, with room
/// for a leap day.
pub const MAX_RANGE_DAYS: i64 = 366;

/// How a span was chosen, which decides its name and its previous span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanKind {
    /// The calendar day, ISO week (Monday to Sunday) or month containing
    /// `first`, in the span's zone.
    Calendar(Period, NaiveDate),
    /// The 24 hours, 7 days or 30 days ending at `to`.
    Rolling(Period),
    /// Whole calendar days `first` to `last` inclusive.
    Days { first: NaiveDate, last: NaiveDate },
}

/// A stretch of time a report covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub kind: SpanKind,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// The zone calendar days are read in and times are shown in.
    pub zone: Tz,
}

/// Why a period could not be read; the message says what would work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpanError {
    #[error("`{0}` is not a report period: use day, week or month")]
    UnknownPeriod(String),
    #[error("`{value}` is not a {period}: write {example}")]
    BadDate {
        period: &'static str,
        value: String,
        example: &'static str,
    },
    #[error("the range ends ({last}) before it starts ({first})")]
    Reversed { first: NaiveDate, last: NaiveDate },
    #[error("the range is {days} days long; at most {MAX_RANGE_DAYS} days are shown")]
    TooLong { days: i64 },
}

/// The first instant of calendar day `date` in `zone` (the earliest, when
/// a DST change repeats midnight; the first valid one when it skips it).
pub fn start_of_day(date: NaiveDate, zone: Tz) -> DateTime<Utc> {
    let mut time = date.and_time(NaiveTime::MIN);
    // Midnight may not exist (some zones switch to DST at 00:00): the day
    // then starts at the first minute that does.
    for _ in 0..180 {
        if let Some(at) = zone.from_local_datetime(&time).earliest() {
            return at.with_timezone(&Utc);
        }
        time += Duration::minutes(1);
    }
    date.and_time(NaiveTime::MIN).and_utc()
}

impl Period {
    /// Reads a period's name: `day`, `week`, `month` (and their -ly forms).
    pub fn parse(text: &str) -> Result<Period, SpanError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "day" | "daily" => Ok(Period::Day),
            "week" | "weekly" => Ok(Period::Week),
            "month" | "monthly" => Ok(Period::Month),
            other => Err(SpanError::UnknownPeriod(other.to_string())),
        }
    }

    /// A day in the calendar period named by `text`: a date (`2026-12-02`)
    /// for any period, `2026-W48` for a week, `2026-11` for a month.
    pub fn parse_date(self, text: &str) -> Result<NaiveDate, SpanError> {
        let text = text.trim();
        let date = NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .or_else(|| match self {
                Period::Day => None,
                Period::Week => parse_iso_week(text),
                Period::Month => NaiveDate::parse_from_str(&format!("{text}-01"), "%Y-%m-%d").ok(),
            });
        date.ok_or_else(|| SpanError::BadDate {
            period: self.as_str(),
            value: text.to_string(),
            example: match self {
                Period::Day => "a date, e.g. 2026-11-30",
                Period::Week => "an ISO week, e.g. 2026-W48, or a date in it",
                Period::Month => "a month, e.g. 2026-11, or a date in it",
            },
        })
    }

    /// The first day of the calendar period of this kind containing `date`.
    pub fn first_day(self, date: NaiveDate) -> NaiveDate {
        match self {
            Period::Day => date,
            Period::Week => date - Duration::days(i64::from(date.weekday().num_days_from_monday())),
            Period::Month => date.with_day(1).unwrap_or(date),
        }
    }

    /// The first day after the calendar period starting on `first`.
    pub fn next_first_day(self, first: NaiveDate) -> NaiveDate {
        match self {
            Period::Day => first + Duration::days(1),
            Period::Week => first + Duration::days(7),
            Period::Month => first
                .checked_add_months(chrono::Months::new(1))
                .unwrap_or(first + Duration::days(31)),
        }
    }
}

impl Span {
    /// The rolling window of `period` ending at `end`: the last 24 hours,
    /// 7 days or 30 days.
    pub fn rolling(period: Period, end: DateTime<Utc>, zone: Tz) -> Span {
        let (from, to) = period.ending_at(end);
        Span {
            kind: SpanKind::Rolling(period),
            from,
            to,
            zone,
        }
    }

    /// The calendar day, week or month of `period` containing `date`.
    pub fn calendar(period: Period, date: NaiveDate, zone: Tz) -> Span {
        let first = period.first_day(date);
        Span {
            kind: SpanKind::Calendar(period, first),
            from: start_of_day(first, zone),
            to: start_of_day(period.next_first_day(first), zone),
            zone,
        }
    }

    /// Calendar days `first` to `last` inclusive.
    pub fn days(first: NaiveDate, last: NaiveDate, zone: Tz) -> Result<Span, SpanError> {
        if last < first {
            return Err(SpanError::Reversed { first, last });
        }
        let days = (last - first).num_days() + 1;
        if days > MAX_RANGE_DAYS {
            return Err(SpanError::TooLong { days });
        }
        Ok(Span {
            kind: SpanKind::Days { first, last },
            from: start_of_day(first, zone),
            to: start_of_day(last + Duration::days(1), zone),
            zone,
        })
    }

    /// The calendar period of `period` named by `text`: a date
    /// (`2026-12-02`) for any period, `2026-W48` for a week, `2026-11` for
    /// a month.
    pub fn parse(period: Period, text: &str, zone: Tz) -> Result<Span, SpanError> {
        Ok(Span::calendar(period, period.parse_date(text)?, zone))
    }

    /// A span a report asks for: the calendar period containing `date`, or
    /// the rolling window ending at `now`.
    pub fn of(period: Period, date: Option<NaiveDate>, now: DateTime<Utc>, zone: Tz) -> Span {
        match date {
            Some(date) => Span::calendar(period, date, zone),
            None => Span::rolling(period, now, zone),
        }
    }

    /// The report period's kind, when the span is one.
    pub fn period(&self) -> Option<Period> {
        match self.kind {
            SpanKind::Calendar(period, _) | SpanKind::Rolling(period) => Some(period),
            SpanKind::Days { .. } => None,
        }
    }

    /// Whether this is a rolling window rather than calendar days.
    pub fn is_rolling(&self) -> bool {
        matches!(self.kind, SpanKind::Rolling(_))
    }

    /// The instant the span's state is read at: its end, or `now` while
    /// the span is not over.
    pub fn as_of(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        self.to.min(now)
    }

    /// The span before this one, for the trend: the previous calendar
    /// period, the rolling window before, or as many days before.
    pub fn previous(&self) -> Span {
        match self.kind {
            SpanKind::Calendar(period, first) => {
                let before = first - Duration::days(1);
                Span::calendar(period, before, self.zone)
            }
            SpanKind::Rolling(period) => Span::rolling(period, self.from, self.zone),
            SpanKind::Days { first, last } => {
                let length = (last - first).num_days() + 1;
                let last = first - Duration::days(1);
                let first = last - Duration::days(length - 1);
                Span {
                    kind: SpanKind::Days { first, last },
                    from: start_of_day(first, self.zone),
                    to: start_of_day(last + Duration::days(1), self.zone),
                    zone: self.zone,
                }
            }
        }
    }

    /// The calendar days (in the span's zone) the span touches, each with
    /// the part of `[from, to)` inside it: the buckets of the dashboard's
    /// daily series, whose figures add up to the span's.
    pub fn day_buckets(&self) -> Vec<(NaiveDate, DateTime<Utc>, DateTime<Utc>)> {
        let first = self.from.with_timezone(&self.zone).date_naive();
        let last = (self.to - Duration::microseconds(1))
            .with_timezone(&self.zone)
            .date_naive();
        let mut out = Vec::new();
        let mut day = first;
        while day <= last && out.len() <= MAX_RANGE_DAYS as usize + 31 {
            let start = start_of_day(day, self.zone).max(self.from);
            let end = start_of_day(day + Duration::days(1), self.zone).min(self.to);
            if start < end {
                out.push((day, start, end));
            }
            day += Duration::days(1);
        }
        out
    }

    /// The span's name for people: "week 2026-W48 (Mon 23 Nov – Sun 29 Nov
    /// 2026, Europe/Berlin)", "last 7 days, rolling (…)".
    pub fn label(&self) -> String {
        let zone = self.zone.name();
        let date = |d: NaiveDate| d.format("%a %Y-%m-%d").to_string();
        match self.kind {
            SpanKind::Calendar(Period::Day, first) => format!("{} ({zone})", date(first)),
            SpanKind::Calendar(Period::Week, first) => format!(
                "week {}-W{:02}, {} – {} ({zone})",
                first.iso_week().year(),
                first.iso_week().week(),
                date(first),
                date(first + Duration::days(6))
            ),
            SpanKind::Calendar(Period::Month, first) => {
                format!("{} ({zone})", first.format("%B %Y"))
            }
            SpanKind::Days { first, last } => {
                format!("{} – {} ({zone})", date(first), date(last))
            }
            SpanKind::Rolling(period) => {
                let length = match period {
                    Period::Day => "last 24 hours",
                    Period::Week => "last 7 days",
                    Period::Month => "last 30 days",
                };
                let at = |t: DateTime<Utc>| {
                    t.with_timezone(&self.zone)
                        .format("%Y-%m-%d %H:%M %Z")
                        .to_string()
                };
                format!("{length}, rolling: {} – {}", at(self.from), at(self.to))
            }
        }
    }

    /// The span as a query value: `2026-11-30`, `2026-W48`, `2026-11`, or
    /// nothing for a rolling window or a range.
    pub fn name(&self) -> Option<String> {
        match self.kind {
            SpanKind::Calendar(Period::Day, first) => Some(first.to_string()),
            SpanKind::Calendar(Period::Week, first) => Some(format!(
                "{}-W{:02}",
                first.iso_week().year(),
                first.iso_week().week()
            )),
            SpanKind::Calendar(Period::Month, first) => Some(first.format("%Y-%m").to_string()),
            SpanKind::Rolling(_) | SpanKind::Days { .. } => None,
        }
    }
}

/// `2026-W48` → the Monday of that ISO week.
fn parse_iso_week(text: &str) -> Option<NaiveDate> {
    let (year, week) = text.split_once(['W', 'w'])?;
    let year: i32 = year.trim_end_matches('-').parse().ok()?;
    let week: u32 = week.parse().ok()?;
    NaiveDate::from_isoywd_opt(year, week, chrono::Weekday::Mon)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn calendar_periods_follow_the_zone_across_dst() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        // The week of the switch to winter time has 7 days and one hour.
        let week = Span::parse(Period::Week, "2026-10-22", berlin).unwrap();
        assert_eq!(week.from.to_rfc3339(), "2026-10-18T22:00:00+00:00");
        assert_eq!(week.to.to_rfc3339(), "2026-10-25T23:00:00+00:00");
        assert_eq!(week.name().as_deref(), Some("2026-W43"));
        assert_eq!(week.day_buckets().len(), 7);
        let month = Span::parse(Period::Month, "2026-11", berlin).unwrap();
        assert_eq!(month.from.to_rfc3339(), "2026-10-31T23:00:00+00:00");
        assert_eq!(month.previous().name().as_deref(), Some("2026-10"));
        let w = Span::parse(Period::Week, "2026-W48", Tz::UTC).unwrap();
        assert_eq!(w.from.date_naive(), date("2026-11-23"));
        assert_eq!(w.previous().name().as_deref(), Some("2026-W47"));
        // The buckets add up to the span.
        let days = month.day_buckets();
        assert_eq!(days.len(), 30);
        assert_eq!(days[0].1, month.from);
        assert_eq!(days[29].2, month.to);
        assert!(days.windows(2).all(|w| w[0].2 == w[1].1));
    }

    #[test]
    fn bad_periods_say_what_would_work() {
        for (period, text, hint) in [
            (Period::Day, "yesterday", "e.g. 2026-11-30"),
            (Period::Month, "2026-13", "e.g. 2026-11"),
            (Period::Week, "2026-W60", "2026-W48"),
        ] {
            let error = Span::parse(period, text, Tz::UTC).unwrap_err().to_string();
            assert!(error.contains(hint), "{error}");
        }
        assert!(Period::parse("year").is_err());
        assert!(Span::days(date("2026-11-02"), date("2026-11-01"), Tz::UTC).is_err());
        assert!(Span::days(date("2024-01-01"), date("2026-01-01"), Tz::UTC).is_err());
    }

    #[test]
    fn rolling_windows_say_so() {
        let end = Utc.with_ymd_and_hms(2026, 12, 4, 16, 0, 0).unwrap();
        let span = Span::rolling(Period::Week, end, "Europe/Berlin".parse().unwrap());
        assert!(span
            .label()
            .starts_with("last 7 days, rolling: 2026-11-27 17:00 CET"));
        assert_eq!(span.previous().to, span.from);
    }
}

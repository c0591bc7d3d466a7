//! Durations as people write them in chat and config: `90m`, `2h`, `1h30m`, `2d`, `1w`.

use chrono::Duration;

/// Why a duration could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("a duration cannot be empty; write it like `90m`, `2h`, `1h30m` or `2d`")]
    Empty,
    #[error("`{0}` is not a duration; write it like `90m`, `2h`, `1h30m` or `2d` (units: s, m, h, d, w)")]
    Malformed(String),
    #[error("`{0}` is too long; durations go up to 10 years")]
    TooLong(String),
}

/// Longest duration accepted anywhere: ten years of seconds.
const MAX_SECONDS: i64 = 10 * 366 * 24 * 3600;

/// Parses a duration made of `<number><unit>` parts, units `s`, `m`, `h`, `d`
/// and `w`, largest first and each at most once (`1h30m`, not `30m1h`).
///
/// A narrower grammar than general-purpose parsers on purpose: `1M` (month or
/// minute?) and `1.5h` are refused rather than guessed at.
pub fn parse_duration(input: &str) -> Result<Duration, DurationError> {
    let text = input.trim();
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    let malformed = || DurationError::Malformed(text.to_string());
    let mut total: i64 = 0;
    let mut last_rank = usize::MAX;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.chars().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 || digits > 9 {
            return Err(malformed());
        }
        let (number, tail) = rest.split_at(digits);
        let value: i64 = number.parse().map_err(|_| malformed())?;
        let mut chars = tail.chars();
        let unit = chars.next().ok_or_else(malformed)?;
        let (rank, seconds) = match unit.to_ascii_lowercase() {
            'w' => (0, 7 * 86_400),
            'd' => (1, 86_400),
            'h' => (2, 3_600),
            'm' => (3, 60),
            's' => (4, 1),
            _ => return Err(malformed()),
        };
        if last_rank != usize::MAX && rank <= last_rank {
            return Err(malformed());
        }
        last_rank = rank;
        total = value
            .checked_mul(seconds)
            .and_then(|part| total.checked_add(part))
            .ok_or_else(|| DurationError::TooLong(text.to_string()))?;
        rest = chars.as_str();
    }
    if total > MAX_SECONDS {
        return Err(DurationError::TooLong(text.to_string()));
    }
    if total == 0 {
        return Err(malformed());
    }
    Ok(Duration::seconds(total))
}

/// Writes a duration the way [`parse_duration`] reads it, e.g. `1h30m`.
pub fn format_duration(duration: Duration) -> String {
    let mut seconds = duration.num_seconds();
    if seconds <= 0 {
        return "0m".to_string();
    }
    let mut out = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if seconds >= size {
            out.push_str(&format!("{}{unit}", seconds / size));
            seconds %= size;
        }
    }
    out
}

/// A length of business time as written (`3d`, `1d4h`, `1w`): whole
/// working days apart from the hours, minutes and seconds, since a
/// business day is as long as its calendar's working day, not 24 hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BusinessLength {
    /// Working days: `d` each, `w` a working week each.
    pub days: i64,
    pub weeks: i64,
    /// The `h`, `m` and `s` parts: business hours as they are.
    pub rest: Duration,
}

impl BusinessLength {
    /// Reads `3d`, `1d4h`, `2h30m`, `1w` with [`parse_duration`]'s grammar.
    pub fn parse(input: &str) -> Result<Self, DurationError> {
        let total = parse_duration(input)?;
        let (mut days, mut weeks) = (0, 0);
        let mut rest = input.trim();
        loop {
            let digits = rest.chars().take_while(|c| c.is_ascii_digit()).count();
            let (number, tail) = rest.split_at(digits);
            let slot = match tail.chars().next().map(|c| c.to_ascii_lowercase()) {
                Some('w') => &mut weeks,
                Some('d') => &mut days,
                _ => break,
            };
            // parse_duration accepted it, so the number is a number.
            *slot = number.parse().unwrap_or(0);
            rest = &tail[1..];
        }
        Ok(BusinessLength {
            days,
            weeks,
            rest: total - Duration::days(days) - Duration::weeks(weeks),
        })
    }

    /// The business time it stands for, with working days of `day` and
    /// `days_per_week` working days a week.
    pub fn in_hours_of(self, day: Duration, days_per_week: i64) -> Duration {
        day * (self.days + self.weeks * days_per_week) as i32 + self.rest
    }
}

/// Writes business time with whole working days of `day` as `d`:
/// `3d` for 24 hours of 8-hour days, `1d4h` for 12.
pub fn format_business(duration: Duration, day: Duration) -> String {
    let (total, day) = (duration.num_seconds(), day.num_seconds());
    if total <= 0 || day <= 0 {
        return format_duration(duration);
    }
    let days = total / day;
    let rest = Duration::seconds(total % day);
    match (days, rest.num_seconds()) {
        (0, _) => format_duration(rest),
        (days, 0) => format!("{days}d"),
        (days, _) => format!("{days}d{}", format_duration(rest)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn business_lengths_count_working_days() {
        let three = BusinessLength::parse("3d").unwrap();
        assert_eq!((three.days, three.rest), (3, Duration::zero()));
        assert_eq!(
            three.in_hours_of(Duration::hours(8), 5),
            Duration::hours(24)
        );
        let mixed = BusinessLength::parse("1d4h").unwrap();
        assert_eq!(
            mixed.in_hours_of(Duration::hours(8), 5),
            Duration::hours(12)
        );
        let week = BusinessLength::parse("1w").unwrap();
        assert_eq!(week.in_hours_of(Duration::hours(8), 5), Duration::hours(40));
        assert_eq!(
            BusinessLength::parse("72h")
                .unwrap()
                .in_hours_of(Duration::hours(8), 5),
            Duration::hours(72)
        );
        assert!(BusinessLength::parse("3 days").is_err());
        assert_eq!(
            format_business(Duration::hours(24), Duration::hours(8)),
            "3d"
        );
        assert_eq!(
            format_business(Duration::hours(12), Duration::hours(8)),
            "1d4h"
        );
        assert_eq!(
            format_business(Duration::hours(5), Duration::hours(8)),
            "5h"
        );
    }

    #[test]
    fn reads_the_documented_forms() {
        assert_eq!(parse_duration("90m"), Ok(Duration::minutes(90)));
        assert_eq!(parse_duration("2h"), Ok(Duration::hours(2)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::minutes(90)));
        assert_eq!(parse_duration("2d"), Ok(Duration::days(2)));
        assert_eq!(parse_duration("1w"), Ok(Duration::days(7)));
        assert_eq!(parse_duration(" 45s "), Ok(Duration::seconds(45)));
    }

    #[test]
    fn refuses_what_it_would_have_to_guess() {
        for bad in [
            "", "m", "1", "1.5h", "30m1h", "1h1h", "1y", "-5m", "0m", "h1", "1h 30m",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(matches!(
            parse_duration("99999999w"),
            Err(DurationError::TooLong(_))
        ));
    }

    #[test]
    fn formats_what_it_reads() {
        for text in ["90m", "2h", "1h30m", "2d", "1d2h3m4s"] {
            let parsed = parse_duration(text).unwrap();
            assert_eq!(parse_duration(&format_duration(parsed)).unwrap(), parsed);
        }
    }
}

//! When SLA clocks count: around the clock, or only in the working hours of a
//! business calendar.
//!
//! A business calendar is local wall-clock time: "Mon–Fri 09:00–17:00 in
//! Europe/Berlin, except public holidays". Each working day contributes one
//! window `[opens, closes)` of UTC instants, and counted time is the part of
//! an interval that falls inside those windows. Everything works a day at a
//! time, so measuring or adding months of working time costs a loop over
//! days, never over minutes or seconds.
//!
//! Daylight saving time follows the wall clock. When the clocks skip a local
//! time (spring forward), a window that would open or close inside the gap
//! does so at the end of the gap, when the wall clock reaches that time.
//! When a local time happens twice (fall back), windows open at its earlier
//! occurrence and close at its later one: everyone at work stays for the
//! whole repeated hour, so it counts. Either way a working day is an hour
//! shorter or longer in UTC only when its opening hours span the change.

use std::collections::BTreeSet;

use chrono::{
    DateTime, Datelike, Duration, MappedLocalTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone,
    Utc, Weekday,
};
use chrono_tz::{GapInfo, Tz};

/// How far [`Hours::add`] looks for enough working time before it gives up:
/// 20 years (of 366 days), far beyond any SLA target.
const SEARCH_LIMIT: Duration = Duration::days(20 * 366);

/// The days of the week, Monday first, with the names [`parse_weekday`] reads.
const WEEKDAYS: [(Weekday, &str, &str); 7] = [
    (Weekday::Mon, "mon", "monday"),
    (Weekday::Tue, "tue", "tuesday"),
    (Weekday::Wed, "wed", "wednesday"),
    (Weekday::Thu, "thu", "thursday"),
    (Weekday::Fri, "fri", "friday"),
    (Weekday::Sat, "sat", "saturday"),
    (Weekday::Sun, "sun", "sunday"),
];

/// Why a business calendar could not be built, or a weekday not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("a business calendar needs at least one working day")]
    NoWorkingDays,
    /// Also when both are the same time: a day with no working hours is a
    /// holiday, not a working day.
    #[error(
        "working hours must close after they open on the same day (opens {opens}, closes {closes}); \
         overnight shifts are not supported"
    )]
    ClosesBeforeOpens { opens: NaiveTime, closes: NaiveTime },
    #[error(
        "`{0}` is not a day of the week; write Mon, Tue, Wed, Thu, Fri, Sat or Sun \
         (or the full name, e.g. Monday)"
    )]
    UnknownWeekday(String),
}

/// Reads a day of the week as config writes it: `Mon`, `tue`, `Wednesday` —
/// the three-letter abbreviation or the full English name, in any case.
pub fn parse_weekday(text: &str) -> Result<Weekday, CalendarError> {
    let text = text.trim();
    let wanted = text.to_ascii_lowercase();
    WEEKDAYS
        .iter()
        .find(|(_, short, long)| wanted == *short || wanted == *long)
        .map(|(day, _, _)| *day)
        .ok_or_else(|| CalendarError::UnknownWeekday(text.to_string()))
}

/// When a clock counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hours {
    /// Every second counts.
    AroundTheClock,
    /// Only the working hours of a business calendar count.
    Business(BusinessCalendar),
}

impl Hours {
    /// Counted time between `start` and `end` (zero when `end <= start`).
    pub fn elapsed(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> Duration {
        if end <= start {
            return Duration::zero();
        }
        match self {
            Hours::AroundTheClock => end - start,
            Hours::Business(calendar) => calendar.working_time(start, end),
        }
    }

    /// When the clock counts, in words: `around the clock`, or the calendar
    /// as [`BusinessCalendar::describe`] tells it.
    pub fn describe(&self) -> String {
        match self {
            Hours::AroundTheClock => "around the clock".to_string(),
            Hours::Business(calendar) => calendar.describe(),
        }
    }

    /// The earliest instant at which `amount` of counted time has passed
    /// since `start`: a deadline.
    ///
    /// A zero or negative `amount` gives `start` itself, even outside working
    /// hours (nothing is left to count). With business hours the deadline is
    /// never later than about 20 years after `start`: a calendar that cannot
    /// supply `amount` by then gives that instant instead. Around the clock,
    /// a deadline past the end of time is the end of time
    /// ([`DateTime::<Utc>::MAX_UTC`]).
    pub fn add(&self, start: DateTime<Utc>, amount: Duration) -> DateTime<Utc> {
        if amount <= Duration::zero() {
            return start;
        }
        match self {
            Hours::AroundTheClock => start
                .checked_add_signed(amount)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
            Hours::Business(calendar) => calendar.deadline(start, amount),
        }
    }
}

/// Working days and hours in a time zone, with holidays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessCalendar {
    time_zone: Tz,
    /// Bit `n` is set when the day `n` days after Monday is a working day; a
    /// set rather than a list so that order and repeats don't make two equal
    /// calendars compare unequal.
    working_days: u8,
    opens: NaiveTime,
    closes: NaiveTime,
    /// Local dates on which a working day has no working hours.
    holidays: BTreeSet<NaiveDate>,
}

impl BusinessCalendar {
    /// A calendar open from `opens` to `closes` (local wall-clock times in
    /// `time_zone`, closing time excluded) on each of `working_days` that is
    /// not one of the `holidays` (local dates).
    ///
    /// Needs at least one working day, and `opens` before `closes`: shifts
    /// across midnight are not supported. Repeated days or holidays are
    /// harmless; holidays on days off change nothing.
    pub fn new(
        time_zone: Tz,
        working_days: Vec<Weekday>,
        opens: NaiveTime,
        closes: NaiveTime,
        holidays: Vec<NaiveDate>,
    ) -> Result<Self, CalendarError> {
        let working_days = working_days
            .iter()
            .fold(0u8, |set, day| set | day_bit(*day));
        if working_days == 0 {
            return Err(CalendarError::NoWorkingDays);
        }
        if opens >= closes {
            return Err(CalendarError::ClosesBeforeOpens { opens, closes });
        }
        Ok(Self {
            time_zone,
            working_days,
            opens,
            closes,
            holidays: holidays.into_iter().collect(),
        })
    }

    /// The default office: Monday to Friday, 09:00–17:00 UTC, no holidays.
    pub fn office_utc() -> Self {
        const NINE: NaiveTime = hour(9);
        const FIVE_PM: NaiveTime = hour(17);
        Self {
            time_zone: Tz::UTC,
            working_days: [
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ]
            .iter()
            .fold(0, |set, day| set | day_bit(*day)),
            opens: NINE,
            closes: FIVE_PM,
            holidays: BTreeSet::new(),
        }
    }

    /// The length of a working day: opening to closing time (a day with a
    /// daylight-saving change is counted the same).
    pub fn working_day(&self) -> Duration {
        self.closes - self.opens
    }

    /// How many days of the week are working days.
    pub fn working_days_per_week(&self) -> i64 {
        i64::from(self.working_days.count_ones())
    }

    /// The time zone whose wall clock the working hours follow.
    pub fn time_zone(&self) -> Tz {
        self.time_zone
    }

    /// The calendar in words, as people read a target: `Mon–Fri 08:00–18:00
    /// Europe/Berlin`, with `, except holidays` when it has any. Runs of
    /// consecutive working days are joined with a dash (`Mon–Wed, Fri`).
    pub fn describe(&self) -> String {
        let mut runs: Vec<String> = Vec::new();
        let mut run: Option<(&str, &str)> = None;
        for (day, short, _) in WEEKDAYS {
            if self.working_days & day_bit(day) != 0 {
                run = Some(run.map_or((short, short), |(first, _)| (first, short)));
            } else if let Some(done) = run.take() {
                runs.push(show_run(done));
            }
        }
        if let Some(done) = run {
            runs.push(show_run(done));
        }
        let holidays = if self.holidays.is_empty() {
            ""
        } else {
            ", except holidays"
        };
        format!(
            "{} {}–{} {}{holidays}",
            runs.join(", "),
            self.opens.format("%H:%M"),
            self.closes.format("%H:%M"),
            self.time_zone.name()
        )
    }

    /// Whether `at` falls inside working hours (the closing instant does not).
    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        // The window of a local date lies within a day either side of the
        // same UTC date, since UTC offsets are well under a day.
        let day = at.date_naive();
        [day.pred_opt(), Some(day), day.succ_opt()]
            .into_iter()
            .flatten()
            .filter_map(|date| self.window(date))
            .any(|(opens, closes)| opens <= at && at < closes)
    }

    /// Working time in `[start, end)`, for `start < end`.
    fn working_time(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> Duration {
        // Windows of local dates before the day before `start`'s UTC date
        // close before `start`; those after the day after `end`'s open after
        // `end` (see `is_open`).
        let first = day_before(start.date_naive());
        let last = day_after(end.date_naive());
        let mut total = Duration::zero();
        for date in first.iter_days().take_while(|date| *date <= last) {
            if let Some((opens, closes)) = self.window(date) {
                let from = opens.max(start);
                let to = closes.min(end);
                if to > from {
                    total += to - from;
                }
            }
        }
        total
    }

    /// The earliest instant by which `amount` (positive) of working time has
    /// passed since `start`, or `start + SEARCH_LIMIT` if that comes first.
    fn deadline(&self, start: DateTime<Utc>, amount: Duration) -> DateTime<Utc> {
        let limit = start
            .checked_add_signed(SEARCH_LIMIT)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let last = day_after(limit.date_naive());
        let mut remaining = amount;
        for date in day_before(start.date_naive())
            .iter_days()
            .take_while(|date| *date <= last)
        {
            let Some((opens, closes)) = self.window(date) else {
                continue;
            };
            if opens >= limit {
                break;
            }
            let from = opens.max(start);
            if closes <= from {
                continue;
            }
            let available = closes - from;
            if remaining <= available {
                // Landing exactly on the closing instant, not the next
                // opening, keeps the deadline the earliest instant possible.
                let due = from.checked_add_signed(remaining).unwrap_or(closes);
                return due.min(limit);
            }
            remaining -= available;
        }
        limit
    }

    /// Whether the local `date` is a working day: not a day off, not a
    /// holiday. Reminders counted in working days use it.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        self.working_days & day_bit(date.weekday()) != 0 && !self.holidays.contains(&date)
    }

    /// The working window of a local date, as UTC instants `[opens, closes)`,
    /// or `None` on days off, on holidays, and on dates at the edge of what
    /// chrono can represent.
    fn window(&self, date: NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let weekday = date.weekday();
        if self.working_days & day_bit(weekday) == 0 || self.holidays.contains(&date) {
            return None;
        }
        let opens = self.instant(date.and_time(self.opens), Repeat::Earlier)?;
        let closes = self.instant(date.and_time(self.closes), Repeat::Later)?;
        // Both can fall at the end of the same gap, leaving nothing to count.
        (opens < closes).then_some((opens, closes))
    }

    /// The instant at which the local wall clock shows `local`: when it shows
    /// it twice, the occurrence `repeat` picks; when it skips it, the end of
    /// the gap, the first instant the clock is past it.
    fn instant(&self, local: NaiveDateTime, repeat: Repeat) -> Option<DateTime<Utc>> {
        let at = match self.time_zone.from_local_datetime(&local) {
            MappedLocalTime::Single(at) => at,
            MappedLocalTime::Ambiguous(earlier, later) => match repeat {
                Repeat::Earlier => earlier,
                Repeat::Later => later,
            },
            MappedLocalTime::None => GapInfo::new(&local, &self.time_zone)?.end?,
        };
        Some(at.with_timezone(&Utc))
    }
}

/// Which occurrence of a local time the clocks show twice to use.
#[derive(Debug, Clone, Copy)]
enum Repeat {
    Earlier,
    Later,
}

/// A run of working days from `first` to `last` (short names), capitalised:
/// `Mon`, `Mon–Fri`.
fn show_run((first, last): (&str, &str)) -> String {
    let capital = |name: &str| {
        let mut chars = name.chars();
        chars.next().map_or_else(String::new, |c| {
            c.to_ascii_uppercase().to_string() + chars.as_str()
        })
    };
    if first == last {
        capital(first)
    } else {
        format!("{}–{}", capital(first), capital(last))
    }
}

/// `day`'s bit in [`BusinessCalendar::working_days`].
fn day_bit(day: Weekday) -> u8 {
    1 << day.num_days_from_monday()
}

/// The day before `date`, or `date` itself at the start of time.
fn day_before(date: NaiveDate) -> NaiveDate {
    date.pred_opt().unwrap_or(date)
}

/// The day after `date`, or `date` itself at the end of time.
fn day_after(date: NaiveDate) -> NaiveDate {
    date.succ_opt().unwrap_or(date)
}

/// `h`:00 as a constant.
const fn hour(h: u32) -> NaiveTime {
    match NaiveTime::from_hms_opt(h, 0, 0) {
        Some(time) => time,
        None => NaiveTime::MIN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::America::New_York;
    use chrono_tz::Europe::Berlin;
    use proptest::prelude::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn time(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn office() -> Hours {
        Hours::Business(BusinessCalendar::office_utc())
    }

    fn weekdays() -> Vec<Weekday> {
        vec![
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
        ]
    }

    /// A calendar in `zone` open `opens`–`closes` on `days`.
    fn hours(zone: Tz, days: Vec<Weekday>, opens: NaiveTime, closes: NaiveTime) -> Hours {
        Hours::Business(BusinessCalendar::new(zone, days, opens, closes, vec![]).unwrap())
    }

    #[test]
    fn the_office_calendar_is_what_new_builds() {
        let built = BusinessCalendar::new(
            Tz::UTC,
            vec![
                Weekday::Fri,
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Mon,
            ],
            time(9, 0),
            time(17, 0),
            vec![],
        );
        assert_eq!(built, Ok(BusinessCalendar::office_utc()));
        assert_eq!(BusinessCalendar::office_utc().time_zone(), Tz::UTC);
    }

    #[test]
    fn office_deadlines_carry_over_the_weekend() {
        let friday_late = at("2026-01-09T16:30:00Z");
        assert_eq!(friday_late.weekday(), Weekday::Fri);
        // 30 minutes on Friday, 3h30 on Monday.
        assert_eq!(
            office().add(friday_late, Duration::hours(4)),
            at("2026-01-12T12:30:00Z")
        );
        // 30 minutes on Friday, 7h30 of Monday's 8 hours.
        assert_eq!(
            office().add(friday_late, Duration::hours(8)),
            at("2026-01-12T16:30:00Z")
        );
        // 30 minutes on Friday and all of Monday: due at Monday's close, not
        // at Tuesday's opening.
        assert_eq!(
            office().add(friday_late, Duration::minutes(8 * 60 + 30)),
            at("2026-01-12T17:00:00Z")
        );
        assert_eq!(
            office().add(friday_late, Duration::minutes(8 * 60 + 31)),
            at("2026-01-13T09:01:00Z")
        );
        assert_eq!(
            office().elapsed(friday_late, at("2026-01-12T12:30:00Z")),
            Duration::hours(4)
        );
    }

    #[test]
    fn calendars_read_as_words() {
        let berlin =
            BusinessCalendar::new(Berlin, weekdays(), time(8, 0), time(18, 0), vec![]).unwrap();
        assert_eq!(berlin.describe(), "Mon–Fri 08:00–18:00 Europe/Berlin");
        assert_eq!(
            BusinessCalendar::office_utc().describe(),
            "Mon–Fri 09:00–17:00 UTC"
        );
        let odd = BusinessCalendar::new(
            New_York,
            vec![Weekday::Sun, Weekday::Mon, Weekday::Tue, Weekday::Thu],
            time(7, 30),
            time(15, 45),
            vec![date(2026, 12, 24)],
        )
        .unwrap();
        assert_eq!(
            odd.describe(),
            "Mon–Tue, Thu, Sun 07:30–15:45 America/New_York, except holidays"
        );
        assert_eq!(Hours::AroundTheClock.describe(), "around the clock");
        assert_eq!(
            Hours::Business(berlin).describe(),
            "Mon–Fri 08:00–18:00 Europe/Berlin"
        );
    }

    #[test]
    fn a_deadline_that_falls_at_closing_is_the_closing_time() {
        // Tuesday 2026-12-08 14:00 in Berlin (13:00 UTC), open 08:00–18:00:
        // four working hours end at Tuesday's close, 18:00 (17:00 UTC), not
        // at Wednesday's opening.
        let berlin = hours(Berlin, weekdays(), time(8, 0), time(18, 0));
        let tuesday = at("2026-12-08T13:00:00Z");
        assert_eq!(tuesday.weekday(), Weekday::Tue);
        let due = berlin.add(tuesday, Duration::hours(4));
        assert_eq!(due, at("2026-12-08T17:00:00Z"));
        assert_eq!(berlin.elapsed(tuesday, due), Duration::hours(4));
        // A second more runs into Wednesday morning.
        assert_eq!(
            berlin.add(tuesday, Duration::hours(4) + Duration::seconds(1)),
            at("2026-12-09T07:00:01Z")
        );
        // From the closing instant itself, the clock waits for the opening.
        assert_eq!(
            berlin.add(due, Duration::hours(1)),
            at("2026-12-09T08:00:00Z")
        );
        // A whole day from the opening ends at that day's close.
        assert_eq!(
            berlin.add(at("2026-12-08T07:00:00Z"), Duration::hours(10)),
            at("2026-12-08T17:00:00Z")
        );
    }

    #[test]
    fn office_clocks_start_at_the_next_opening() {
        let saturday = at("2026-01-10T10:00:00Z");
        assert_eq!(saturday.weekday(), Weekday::Sat);
        assert_eq!(
            office().add(saturday, Duration::hours(1)),
            at("2026-01-12T10:00:00Z")
        );
        let monday_early = at("2026-01-12T07:00:00Z");
        assert_eq!(
            office().add(monday_early, Duration::hours(1)),
            at("2026-01-12T10:00:00Z")
        );
        assert_eq!(
            office().elapsed(saturday, at("2026-01-12T09:00:00Z")),
            Duration::zero()
        );
    }

    #[test]
    fn a_week_of_office_hours_is_forty_hours() {
        let monday = at("2026-01-12T00:00:00Z");
        assert_eq!(
            office().elapsed(monday, monday + Duration::weeks(1)),
            Duration::hours(40)
        );
        assert_eq!(
            office().elapsed(monday, monday + Duration::weeks(52)),
            Duration::hours(40 * 52)
        );
        assert_eq!(
            office().add(monday, Duration::hours(40 * 52)),
            at("2027-01-08T17:00:00Z")
        );
    }

    #[test]
    fn a_holiday_pushes_the_deadline_to_the_next_working_day() {
        let calendar = BusinessCalendar::new(
            Tz::UTC,
            weekdays(),
            time(9, 0),
            time(17, 0),
            vec![date(2026, 1, 12)],
        )
        .unwrap();
        assert!(!calendar.is_open(at("2026-01-12T10:00:00Z")));
        assert!(calendar.is_open(at("2026-01-13T10:00:00Z")));
        let hours = Hours::Business(calendar);
        assert_eq!(
            hours.add(at("2026-01-09T16:30:00Z"), Duration::hours(4)),
            at("2026-01-13T12:30:00Z")
        );
    }

    #[test]
    fn is_open_excludes_the_closing_instant() {
        let office = BusinessCalendar::office_utc();
        assert!(!office.is_open(at("2026-01-12T08:59:59Z")));
        assert!(office.is_open(at("2026-01-12T09:00:00Z")));
        assert!(office.is_open(at("2026-01-12T16:59:59Z")));
        assert!(!office.is_open(at("2026-01-12T17:00:00Z")));
        assert!(!office.is_open(at("2026-01-10T12:00:00Z")));
    }

    #[test]
    fn berlin_office_hours_follow_the_wall_clock_across_dst() {
        let berlin = hours(Berlin, weekdays(), time(9, 0), time(17, 0));
        // Friday 16:00 CET + 2h: one hour on Friday, one from Monday 09:00 CEST.
        assert_eq!(
            berlin.add(at("2026-03-27T15:00:00Z"), Duration::hours(2)),
            at("2026-03-30T08:00:00Z")
        );
        // Friday 16:00 CEST + 2h: one hour on Friday, one from Monday 09:00 CET.
        assert_eq!(
            berlin.add(at("2026-10-23T14:00:00Z"), Duration::hours(2)),
            at("2026-10-26T09:00:00Z")
        );
        // Eight hours a day on either side of the change.
        assert_eq!(
            berlin.elapsed(at("2026-03-23T00:00:00Z"), at("2026-04-06T00:00:00Z")),
            Duration::hours(80)
        );
    }

    #[test]
    fn new_york_office_hours_follow_the_wall_clock_across_dst() {
        let new_york = hours(New_York, weekdays(), time(9, 0), time(17, 0));
        // Friday 16:00 EST + 2h → Monday 10:00 EDT.
        assert_eq!(
            new_york.add(at("2026-03-06T21:00:00Z"), Duration::hours(2)),
            at("2026-03-09T14:00:00Z")
        );
    }

    #[test]
    fn a_day_spanning_a_dst_change_is_an_hour_shorter_or_longer() {
        let sunday_nights = hours(Berlin, vec![Weekday::Sun], time(1, 0), time(5, 0));
        // 01:00 CET (00:00 UTC) to 05:00 CEST (03:00 UTC).
        assert_eq!(
            sunday_nights.elapsed(at("2026-03-28T12:00:00Z"), at("2026-03-29T12:00:00Z")),
            Duration::hours(3)
        );
        assert_eq!(
            sunday_nights.add(at("2026-03-28T12:00:00Z"), Duration::hours(3)),
            at("2026-03-29T03:00:00Z")
        );
        // 01:00 CEST (23:00 UTC on Saturday) to 05:00 CET (04:00 UTC).
        assert_eq!(
            sunday_nights.elapsed(at("2026-10-24T12:00:00Z"), at("2026-10-25T12:00:00Z")),
            Duration::hours(5)
        );
        assert_eq!(
            sunday_nights.add(at("2026-10-24T12:00:00Z"), Duration::hours(5)),
            at("2026-10-25T04:00:00Z")
        );
        // Ordinary Sundays have four hours.
        assert_eq!(
            sunday_nights.elapsed(at("2026-04-04T12:00:00Z"), at("2026-04-05T12:00:00Z")),
            Duration::hours(4)
        );
    }

    #[test]
    fn opening_in_the_spring_gap_waits_for_the_clock_to_get_there() {
        // 02:30 does not exist on 2026-03-29 in Berlin: the clocks jump from
        // 02:00 CET to 03:00 CEST, at 01:00 UTC.
        let calendar =
            BusinessCalendar::new(Berlin, vec![Weekday::Sun], time(2, 30), time(4, 0), vec![])
                .unwrap();
        assert!(!calendar.is_open(at("2026-03-29T00:59:59Z")));
        assert!(calendar.is_open(at("2026-03-29T01:00:00Z")));
        assert!(!calendar.is_open(at("2026-03-29T02:00:00Z")));
        let hours = Hours::Business(calendar);
        assert_eq!(
            hours.elapsed(at("2026-03-28T00:00:00Z"), at("2026-03-30T00:00:00Z")),
            Duration::hours(1)
        );
        // Hours that lie wholly inside the gap never open.
        let in_the_gap = hours_in(Berlin, time(2, 10), time(2, 50));
        assert_eq!(
            in_the_gap.elapsed(at("2026-03-28T00:00:00Z"), at("2026-03-30T00:00:00Z")),
            Duration::zero()
        );
        assert_eq!(
            in_the_gap.add(at("2026-03-28T00:00:00Z"), Duration::minutes(1)),
            at("2026-04-05T00:11:00Z")
        );
    }

    fn hours_in(zone: Tz, opens: NaiveTime, closes: NaiveTime) -> Hours {
        hours(zone, vec![Weekday::Sun], opens, closes)
    }

    #[test]
    fn a_repeated_hour_counts_in_full() {
        // 02:30–02:45 happens twice on 2026-10-25 in Berlin: open from the
        // first 02:30 (CEST, 00:30 UTC) to the second 02:45 (CET, 01:45 UTC).
        let calendar = hours_in(Berlin, time(2, 30), time(2, 45));
        assert_eq!(
            calendar.elapsed(at("2026-10-24T00:00:00Z"), at("2026-10-26T00:00:00Z")),
            Duration::minutes(75)
        );
        assert_eq!(
            calendar.add(at("2026-10-24T00:00:00Z"), Duration::minutes(75)),
            at("2026-10-25T01:45:00Z")
        );
    }

    #[test]
    fn around_the_clock_counts_every_second() {
        let start = at("2026-01-09T16:30:00Z");
        let end = at("2026-01-12T12:30:00Z");
        assert_eq!(Hours::AroundTheClock.elapsed(start, end), end - start);
        assert_eq!(Hours::AroundTheClock.elapsed(end, start), Duration::zero());
        assert_eq!(
            Hours::AroundTheClock.add(start, Duration::hours(4)),
            at("2026-01-09T20:30:00Z")
        );
        assert_eq!(
            Hours::AroundTheClock.add(start, Duration::MAX),
            DateTime::<Utc>::MAX_UTC
        );
    }

    #[test]
    fn nothing_to_count_gives_start_or_zero() {
        let saturday = at("2026-01-10T10:00:00Z");
        for hours in [Hours::AroundTheClock, office()] {
            assert_eq!(hours.add(saturday, Duration::zero()), saturday);
            assert_eq!(hours.add(saturday, Duration::hours(-3)), saturday);
            assert_eq!(
                hours.elapsed(saturday + Duration::days(3), saturday),
                Duration::zero()
            );
        }
    }

    #[test]
    fn impossible_targets_stop_after_twenty_years() {
        let start = at("2026-01-12T00:00:00Z");
        assert_eq!(
            office().add(start, Duration::days(365 * 100)),
            start + SEARCH_LIMIT
        );
        assert_eq!(office().add(start, Duration::MAX), start + SEARCH_LIMIT);
    }

    #[test]
    fn the_ends_of_time_do_not_panic() {
        let (first, last) = (DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC);
        for zone in [Tz::UTC, Berlin, New_York, chrono_tz::Pacific::Kiritimati] {
            let every_day = [
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
                Weekday::Sat,
                Weekday::Sun,
            ];
            let calendar =
                BusinessCalendar::new(zone, every_day.to_vec(), time(0, 0), time(23, 59), vec![])
                    .unwrap();
            let _ = (calendar.is_open(first), calendar.is_open(last));
            let hours = Hours::Business(calendar);
            let _ = hours.elapsed(first, first + Duration::days(3));
            let _ = hours.elapsed(last - Duration::days(3), last);
            let _ = hours.add(first, Duration::hours(5));
            let _ = hours.add(last - Duration::days(1), Duration::days(3));
            assert!(hours.add(last - Duration::hours(1), Duration::hours(2)) <= last);
        }
    }

    #[test]
    fn new_refuses_calendars_that_never_open() {
        assert_eq!(
            BusinessCalendar::new(Tz::UTC, vec![], time(9, 0), time(17, 0), vec![]),
            Err(CalendarError::NoWorkingDays)
        );
        for (opens, closes) in [(time(17, 0), time(9, 0)), (time(9, 0), time(9, 0))] {
            let refused = BusinessCalendar::new(Tz::UTC, weekdays(), opens, closes, vec![]);
            assert_eq!(
                refused,
                Err(CalendarError::ClosesBeforeOpens { opens, closes })
            );
        }
        let message = CalendarError::ClosesBeforeOpens {
            opens: time(22, 0),
            closes: time(6, 0),
        }
        .to_string();
        assert!(
            message.contains("opens 22:00:00, closes 06:00:00"),
            "{message}"
        );
        assert!(message.contains("overnight"), "{message}");
    }

    #[test]
    fn reads_weekday_names() {
        assert_eq!(parse_weekday("Mon"), Ok(Weekday::Mon));
        assert_eq!(parse_weekday("tue"), Ok(Weekday::Tue));
        assert_eq!(parse_weekday("Wednesday"), Ok(Weekday::Wed));
        assert_eq!(parse_weekday(" THU "), Ok(Weekday::Thu));
        assert_eq!(parse_weekday("friday"), Ok(Weekday::Fri));
        assert_eq!(parse_weekday("Sat"), Ok(Weekday::Sat));
        assert_eq!(parse_weekday("SUNDAY"), Ok(Weekday::Sun));
        for bad in ["", "M", "Mo", "Tues", "Montag", "1", "mon day"] {
            assert!(parse_weekday(bad).is_err(), "{bad:?} should be refused");
        }
        let message = parse_weekday("Funday").unwrap_err().to_string();
        for name in ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", "Funday"] {
            assert!(message.contains(name), "{message}");
        }
    }

    // Property tests: calendars in UTC, Berlin and New York with random
    // working days, hours and holidays, at instants across 2026–2027 with
    // extra weight on the days around each DST change.

    const ZONES: [Tz; 3] = [Tz::UTC, Berlin, New_York];

    /// Midnight UTC on each day the clocks change in Berlin or New York.
    fn dst_changes() -> Vec<DateTime<Utc>> {
        [
            (2026, 3, 8),
            (2026, 3, 29),
            (2026, 10, 25),
            (2026, 11, 1),
            (2027, 3, 14),
            (2027, 3, 28),
            (2027, 10, 31),
            (2027, 11, 7),
        ]
        .into_iter()
        .map(|(y, m, d)| date(y, m, d).and_time(NaiveTime::MIN).and_utc())
        .collect()
    }

    fn instant() -> impl Strategy<Value = DateTime<Utc>> {
        let from = at("2026-01-01T00:00:00Z").timestamp();
        let to = at("2028-01-01T00:00:00Z").timestamp();
        let anywhere = (from..to).prop_map(|seconds| DateTime::from_timestamp(seconds, 0).unwrap());
        let near_a_change = (
            prop::sample::select(dst_changes()),
            -3 * 86_400i64..4 * 86_400,
        )
            .prop_map(|(change, seconds)| change + Duration::seconds(seconds));
        let instant = prop_oneof![anywhere, near_a_change];
        let nanos = prop_oneof![3 => Just(0i64), 1 => 0i64..1_000_000_000];
        (instant, nanos).prop_map(|(instant, nanos)| instant + Duration::nanoseconds(nanos))
    }

    fn minutes(minutes: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(minutes / 60, minutes % 60, 0).unwrap()
    }

    /// Opening hours to the minute, often in the small hours so that they
    /// span a DST change (01:00–03:00 local in both zones).
    fn opening_hours() -> impl Strategy<Value = (NaiveTime, NaiveTime)> {
        let any = (0u32..1439).prop_flat_map(|opens| (Just(opens), opens + 1..1440));
        let small_hours = (0u32..200).prop_flat_map(|opens| (Just(opens), opens + 1..300));
        prop_oneof![any, small_hours].prop_map(|(opens, closes)| (minutes(opens), minutes(closes)))
    }

    fn calendar() -> impl Strategy<Value = BusinessCalendar> {
        let holiday = (0u64..730).prop_map(|days| date(2026, 1, 1) + chrono::Days::new(days));
        (
            prop::sample::select(ZONES.to_vec()),
            1u8..128,
            opening_hours(),
            prop::collection::vec(holiday, 0..5),
        )
            .prop_map(|(zone, days, (opens, closes), holidays)| {
                let days = WEEKDAYS
                    .iter()
                    .map(|(day, _, _)| *day)
                    .filter(|day| days & day_bit(*day) != 0)
                    .collect();
                BusinessCalendar::new(zone, days, opens, closes, holidays).unwrap()
            })
    }

    /// A calendar and a positive amount of working time it supplies within
    /// a few months, so that `add` never reaches its search limit.
    fn calendar_and_amount() -> impl Strategy<Value = (BusinessCalendar, Duration)> {
        (calendar(), any::<u64>(), 0u32..3).prop_map(|(calendar, raw, scale)| {
            let days = u64::from(calendar.working_days.count_ones());
            let daily = (calendar.closes - calendar.opens)
                .num_seconds()
                .unsigned_abs();
            // Up to an hour, a week or eight weeks of working time.
            let most = match scale {
                0 => 3_600,
                1 => days * daily,
                _ => 8 * days * daily,
            };
            let seconds = i64::try_from(raw % most + 1).unwrap();
            (calendar, Duration::seconds(seconds))
        })
    }

    fn sorted<const N: usize>(mut instants: [DateTime<Utc>; N]) -> [DateTime<Utc>; N] {
        instants.sort();
        instants
    }

    proptest! {
        #[test]
        fn elapsed_is_bounded_and_monotonic(
            calendar in calendar(),
            a in instant(),
            b1 in instant(),
            b2 in instant(),
        ) {
            let hours = Hours::Business(calendar);
            let [b1, b2] = sorted([b1, b2]);
            let (e1, e2) = (hours.elapsed(a, b1), hours.elapsed(a, b2));
            prop_assert!(e1 >= Duration::zero());
            prop_assert!(e1 <= e2);
            prop_assert!(e2 <= (b2 - a).max(Duration::zero()));
        }

        #[test]
        fn elapsed_adds_up(calendar in calendar(), a in instant(), b in instant(), c in instant()) {
            let hours = Hours::Business(calendar);
            let [a, b, c] = sorted([a, b, c]);
            prop_assert_eq!(hours.elapsed(a, c), hours.elapsed(a, b) + hours.elapsed(b, c));
        }

        #[test]
        fn add_gives_the_earliest_instant_with_that_much_elapsed(
            (calendar, amount) in calendar_and_amount(),
            start in instant(),
        ) {
            let hours = Hours::Business(calendar);
            let due = hours.add(start, amount);
            prop_assert!(due > start);
            prop_assert_eq!(hours.elapsed(start, due), amount);
            prop_assert!(hours.elapsed(start, due - Duration::seconds(1)) < amount);
        }

        #[test]
        fn add_is_monotonic_in_amount_and_start(
            (calendar, amount) in calendar_and_amount(),
            fraction in 0.0f64..=1.0,
            s1 in instant(),
            s2 in instant(),
        ) {
            let hours = Hours::Business(calendar);
            let [s1, s2] = sorted([s1, s2]);
            let less = Duration::seconds((amount.num_seconds() as f64 * fraction) as i64);
            prop_assert!(hours.add(s1, less) <= hours.add(s1, amount));
            prop_assert!(hours.add(s1, amount) <= hours.add(s2, amount));
        }

        #[test]
        fn add_and_elapsed_are_inverse_at_the_edges_of_working_hours(
            calendar in calendar(),
            start in instant(),
            edge in 0usize..3,
            days_ahead in 0u64..20,
            nudge in prop_oneof![Just(0i64), -2i64..=2],
        ) {
            // An end instant on a window's edge (its opening or closing), a
            // few days after `start`, or a few seconds either side of it; and
            // the working time between them as the amount to add.
            let first = start.date_naive() + chrono::Days::new(days_ahead);
            let windows: Vec<_> = first
                .iter_days()
                .take(400)
                .filter_map(|date| calendar.window(date))
                .filter(|(_, closes)| *closes > start)
                .take(2)
                .collect();
            prop_assume!(!windows.is_empty());
            let (opens, closes) = windows[0];
            let edge = match edge {
                0 => closes,
                1 => opens.max(start),
                _ => windows.get(1).map_or(closes, |(opens, _)| *opens),
            };
            let end = edge + Duration::seconds(nudge);
            let hours = Hours::Business(calendar.clone());
            let amount = hours.elapsed(start, end);
            let due = hours.add(start, amount);
            prop_assert_eq!(hours.elapsed(start, due), amount);
            if amount == Duration::zero() {
                prop_assert_eq!(due, start);
            } else {
                // Inside working hours or exactly at a closing: the instant
                // just before the deadline is working time. Never at an
                // opening that a closing could have served.
                prop_assert!(calendar.is_open(due - Duration::nanoseconds(1)), "due {due}");
                prop_assert!(due <= end.max(start), "due {due} after end {end}");
                if calendar.is_open(end - Duration::nanoseconds(1)) {
                    prop_assert_eq!(due, end);
                }
            }
        }

        #[test]
        fn add_never_leaves_working_hours(
            (calendar, amount) in calendar_and_amount(),
            start in instant(),
        ) {
            let due = Hours::Business(calendar.clone()).add(start, amount);
            prop_assert!(calendar.is_open(due - Duration::nanoseconds(1)), "due {due}");
        }

        #[test]
        fn is_open_agrees_with_elapsed(calendar in calendar(), at in instant()) {
            // Windows open and close on whole seconds, so a whole second
            // either lies wholly inside working hours or wholly outside.
            let at = DateTime::from_timestamp(at.timestamp(), 0).unwrap();
            let open = calendar.is_open(at);
            let counted = Hours::Business(calendar).elapsed(at, at + Duration::seconds(1));
            prop_assert_eq!(counted == Duration::seconds(1), open);
            prop_assert_eq!(counted == Duration::zero(), !open);
        }

        #[test]
        fn around_the_clock_is_plain_arithmetic(
            a in instant(),
            b in instant(),
            seconds in 1i64..100 * 86_400,
        ) {
            let hours = Hours::AroundTheClock;
            prop_assert_eq!(hours.elapsed(a, b), (b - a).max(Duration::zero()));
            let amount = Duration::seconds(seconds);
            prop_assert_eq!(hours.add(a, amount), a + amount);
        }
    }
}

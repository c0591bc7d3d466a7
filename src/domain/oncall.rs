//! On-call rotations: who is on call at an instant, who is next, overrides,
//! and the escalation steps of a page.
//!
//! Shifts start at the handoff instant and then every `length` in the
//! rotation's time zone, so a weekly 09:00 handoff stays at 09:00 local time
//! across a daylight-saving change (the shift around the change is an hour
//! shorter or longer).

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::user::UserId;

/// Why a rotation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RotationError {
    #[error("a rotation needs at least one member")]
    NoMembers,
    #[error("a shift lasts whole days, e.g. `1d` or `1w`, not {0}")]
    BadLength(String),
}

/// A rotation as configured: members take shifts in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    pub name: String,
    pub members: Vec<UserId>,
    /// The start of a shift of the first member, local to `time_zone`.
    pub handoff: NaiveDateTime,
    /// Shift length in days.
    pub days: i64,
    pub time_zone: Tz,
    /// How long a page may go unacknowledged before it escalates.
    pub escalate_after: Duration,
}

/// An override: `member` is on call instead during `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    pub member: UserId,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// Who is on call during one shift.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shift {
    pub member: UserId,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Whether an override put `member` there.
    pub overridden: bool,
}

impl Rotation {
    /// A rotation, if it has members and its length is whole days.
    pub fn new(
        name: String,
        members: Vec<UserId>,
        handoff: NaiveDateTime,
        length: Duration,
        time_zone: Tz,
        escalate_after: Duration,
    ) -> Result<Self, RotationError> {
        if members.is_empty() {
            return Err(RotationError::NoMembers);
        }
        if length < Duration::days(1) || length.num_seconds() % 86_400 != 0 {
            return Err(RotationError::BadLength(super::duration::format_duration(
                length,
            )));
        }
        Ok(Rotation {
            name,
            members,
            handoff,
            days: length.num_days(),
            time_zone,
            escalate_after,
        })
    }

    /// The instant shift `k` starts (shift 0 at the handoff). A start in the
    /// hour the clocks skip moves to the first instant after it; an
    /// ambiguous one is the earlier of the two.
    pub fn shift_start(&self, k: i64) -> DateTime<Utc> {
        let local = self.handoff + Duration::days(self.days * k);
        resolve_local(self.time_zone, local)
    }

    /// The number of the shift running at `at`.
    fn shift_at(&self, at: DateTime<Utc>) -> i64 {
        let length = Duration::days(self.days).num_seconds();
        // A first guess from UTC arithmetic, off by at most one shift
        // around offset changes; then corrected against local starts.
        let mut k = (at - self.shift_start(0)).num_seconds().div_euclid(length);
        while self.shift_start(k) > at {
            k -= 1;
        }
        while self.shift_start(k + 1) <= at {
            k += 1;
        }
        k
    }

    fn member_of(&self, k: i64) -> &UserId {
        let n = self.members.len() as i64;
        &self.members[k.rem_euclid(n) as usize]
    }

    /// The scheduled shift (without overrides) running at `at`.
    pub fn scheduled(&self, at: DateTime<Utc>) -> Shift {
        let k = self.shift_at(at);
        Shift {
            member: self.member_of(k).clone(),
            start: self.shift_start(k),
            end: self.shift_start(k + 1),
            overridden: false,
        }
    }

    /// Who is on call at `at`: the latest override that covers it, else
    /// the scheduled member.
    pub fn on_call(&self, overrides: &[Override], at: DateTime<Utc>) -> Shift {
        match overrides.iter().rev().find(|o| o.start <= at && at < o.end) {
            Some(o) => Shift {
                member: o.member.clone(),
                start: o.start,
                end: o.end,
                overridden: true,
            },
            None => {
                let mut shift = self.scheduled(at);
                // The shift ends early where an override begins.
                if let Some(next) = overrides
                    .iter()
                    .filter(|o| o.start > at && o.start < shift.end)
                    .map(|o| o.start)
                    .min()
                {
                    shift.end = next;
                }
                shift
            }
        }
    }

    /// Who takes over when the shift running at `at` ends.
    pub fn next(&self, overrides: &[Override], at: DateTime<Utc>) -> Shift {
        let current = self.on_call(overrides, at);
        self.on_call(overrides, current.end)
    }

    /// The member after `member` in order (the first after the last). For
    /// someone outside the rotation (an override), the scheduled member.
    pub fn after(&self, member: &UserId, at: DateTime<Utc>) -> UserId {
        match self.members.iter().position(|m| m == member) {
            Some(i) => self.members[(i + 1) % self.members.len()].clone(),
            None => self.scheduled(at).member,
        }
    }
}

/// The instant a local time means in `zone`: the earlier of two in the
/// hour the clocks go back, the first after a skipped hour.
fn resolve_local(zone: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    let mut probe = local;
    // A gap is at most a few hours; step through it a minute at a time.
    for _ in 0..(24 * 60) {
        match zone.from_local_datetime(&probe) {
            LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => {
                return at.with_timezone(&Utc)
            }
            LocalResult::None => probe += Duration::minutes(1),
        }
    }
    Utc.from_utc_datetime(&local)
}

/// A step in escalating an unacknowledged page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PageStep {
    /// The on-call member is paged when the incident is reported.
    OnCall,
    /// After `escalate_after`, the next member of the rotation.
    NextMember,
    /// After twice that, the service's channel and owner.
    Channel,
}

impl PageStep {
    /// The number stored in the ledger.
    pub fn number(self) -> i16 {
        match self {
            PageStep::OnCall => 0,
            PageStep::NextMember => 1,
            PageStep::Channel => 2,
        }
    }

    /// The step stored as `number`.
    pub fn from_number(number: i16) -> Option<Self> {
        match number {
            0 => Some(PageStep::OnCall),
            1 => Some(PageStep::NextMember),
            2 => Some(PageStep::Channel),
            _ => None,
        }
    }

    /// The step after this one, if any.
    pub fn next(self) -> Option<Self> {
        Self::from_number(self.number() + 1)
    }
}

/// The escalation step due at `at` for a page made at `paged_at` whose last
/// step was `done`: `None` when the next step is not due yet (or there is
/// none). Acknowledged pages never escalate; the caller stops asking.
pub fn due_step(
    paged_at: DateTime<Utc>,
    done: PageStep,
    escalate_after: Duration,
    at: DateTime<Utc>,
) -> Option<PageStep> {
    let next = done.next()?;
    let due = paged_at + escalate_after * i32::from(next.number());
    (at >= due).then_some(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use proptest::prelude::*;

    fn user(name: &str) -> UserId {
        format!("shell:{name}").parse().unwrap()
    }

    fn rotation(days: i64, zone: Tz) -> Rotation {
        Rotation::new(
            "network".into(),
            vec![user("bob"), user("carol")],
            NaiveDate::from_ymd_opt(2026, 11, 23)
                .unwrap()
                .and_hms_opt(9, 0, 0)
                .unwrap(),
            Duration::days(days),
            zone,
            Duration::minutes(5),
        )
        .unwrap()
    }

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    #[test]
    fn weekly_shifts_alternate_from_the_handoff() {
        let r = rotation(7, chrono_tz::Europe::Berlin);
        // 09:00 in Berlin is 08:00 UTC in November.
        assert_eq!(r.scheduled(utc(2026, 11, 25, 9, 0)).member, user("bob"));
        assert_eq!(r.scheduled(utc(2026, 11, 30, 7, 59)).member, user("bob"));
        let shift = r.scheduled(utc(2026, 11, 30, 8, 0));
        assert_eq!(shift.member, user("carol"));
        assert_eq!(shift.start, utc(2026, 11, 30, 8, 0));
        assert_eq!(shift.end, utc(2026, 12, 7, 8, 0));
        // Before the handoff the rotation runs backwards.
        assert_eq!(r.scheduled(utc(2026, 11, 20, 0, 0)).member, user("carol"));
        assert_eq!(r.next(&[], utc(2026, 11, 25, 9, 0)).member, user("carol"));
    }

    #[test]
    fn handoffs_stay_at_local_time_across_daylight_saving() {
        let r = rotation(7, chrono_tz::Europe::Berlin);
        // Summer time ends on 2026-10-25: before it, 09:00 Berlin is 07:00 UTC.
        let shift = r.scheduled(utc(2026, 10, 20, 12, 0));
        assert_eq!(shift.start, utc(2026, 10, 19, 7, 0));
        assert_eq!(shift.end, utc(2026, 10, 26, 8, 0));
        assert_eq!(shift.end - shift.start, Duration::hours(7 * 24 + 1));
        // Summer time starts on 2027-03-28: shifts get an hour shorter.
        let shift = r.scheduled(utc(2027, 3, 25, 12, 0));
        assert_eq!(shift.start, utc(2027, 3, 22, 8, 0));
        assert_eq!(shift.end, utc(2027, 3, 29, 7, 0));
        // Daily shifts in New York around its change (2026-11-01).
        let daily = rotation(1, chrono_tz::America::New_York);
        assert_eq!(
            daily.scheduled(utc(2026, 11, 1, 12, 0)).start,
            utc(2026, 10, 31, 13, 0)
        );
        assert_eq!(
            daily.scheduled(utc(2026, 11, 1, 14, 0)).start,
            utc(2026, 11, 1, 14, 0)
        );
    }

    #[test]
    fn a_handoff_in_a_skipped_hour_moves_past_it() {
        let mut r = rotation(1, chrono_tz::Europe::Berlin);
        r.handoff = NaiveDate::from_ymd_opt(2027, 3, 27)
            .unwrap()
            .and_hms_opt(2, 30, 0)
            .unwrap();
        // 2027-03-28 02:30 does not exist in Berlin; 03:00 CEST = 01:00 UTC.
        assert_eq!(r.shift_start(1), utc(2027, 3, 28, 1, 0));
    }

    #[test]
    fn overrides_win_while_they_last() {
        let r = rotation(7, chrono_tz::Europe::Berlin);
        let o = Override {
            member: user("dave"),
            start: utc(2026, 11, 25, 12, 0),
            end: utc(2026, 11, 25, 18, 0),
        };
        let overrides = [o.clone()];
        let before = r.on_call(&overrides, utc(2026, 11, 25, 9, 0));
        assert_eq!(before.member, user("bob"));
        assert_eq!(before.end, o.start);
        assert_eq!(
            r.next(&overrides, utc(2026, 11, 25, 9, 0)).member,
            user("dave")
        );
        let during = r.on_call(&overrides, utc(2026, 11, 25, 13, 0));
        assert!(during.overridden);
        assert_eq!(during.member, user("dave"));
        assert_eq!(
            r.next(&overrides, utc(2026, 11, 25, 13, 0)).member,
            user("bob")
        );
        assert_eq!(r.on_call(&overrides, o.end).member, user("bob"));
        assert_eq!(r.after(&user("bob"), o.end), user("carol"));
        assert_eq!(r.after(&user("carol"), o.end), user("bob"));
        assert_eq!(r.after(&user("dave"), o.end), user("bob"));
    }

    #[test]
    fn lengths_are_whole_days() {
        let make = |length| {
            Rotation::new(
                "x".into(),
                vec![user("bob")],
                NaiveDate::from_ymd_opt(2026, 1, 1)
                    .unwrap()
                    .and_hms_opt(0, 0, 0)
                    .unwrap(),
                length,
                chrono_tz::UTC,
                Duration::minutes(5),
            )
        };
        assert!(make(Duration::hours(12)).is_err());
        assert!(make(Duration::hours(36)).is_err());
        assert!(make(Duration::days(14)).is_ok());
        assert_eq!(
            Rotation::new(
                "x".into(),
                vec![],
                NaiveDate::from_ymd_opt(2026, 1, 1)
                    .unwrap()
                    .and_hms_opt(0, 0, 0)
                    .unwrap(),
                Duration::days(1),
                chrono_tz::UTC,
                Duration::minutes(5),
            ),
            Err(RotationError::NoMembers)
        );
    }

    #[test]
    fn escalation_steps_come_due_in_turn() {
        let paged = utc(2026, 11, 25, 9, 0);
        let five = Duration::minutes(5);
        assert_eq!(
            due_step(paged, PageStep::OnCall, five, paged + Duration::minutes(4)),
            None
        );
        assert_eq!(
            due_step(paged, PageStep::OnCall, five, paged + five),
            Some(PageStep::NextMember)
        );
        assert_eq!(
            due_step(
                paged,
                PageStep::NextMember,
                five,
                paged + Duration::minutes(9)
            ),
            None
        );
        assert_eq!(
            due_step(
                paged,
                PageStep::NextMember,
                five,
                paged + Duration::minutes(10)
            ),
            Some(PageStep::Channel)
        );
        assert_eq!(
            due_step(paged, PageStep::Channel, five, paged + Duration::days(1)),
            None
        );
    }

    proptest! {
        #[test]
        fn every_instant_is_in_exactly_the_shift_it_reports(minutes in -600_000i64..600_000, days in 1i64..15) {
            let r = rotation(days, chrono_tz::Europe::Berlin);
            let at = utc(2026, 11, 23, 8, 0) + Duration::minutes(minutes);
            let shift = r.scheduled(at);
            prop_assert!(shift.start <= at && at < shift.end);
            // Shifts are the configured length, give or take a DST hour.
            let length = shift.end - shift.start;
            prop_assert!((length - Duration::days(days)).num_minutes().abs() <= 60);
            // The next shift belongs to the next member.
            let next = r.scheduled(shift.end);
            prop_assert_eq!(next.start, shift.end);
            prop_assert_eq!(next.member, r.after(&shift.member, at));
        }
    }
}

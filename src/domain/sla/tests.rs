use chrono::TimeZone;

use super::*;
use crate::domain::calendar::BusinessCalendar;
use crate::domain::incident::{IncidentStatus, Origin};
use crate::domain::{Level, Platform, UserId};

fn at(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, hour, minute, 0)
        .unwrap()
}

/// The documented defaults: P1 15m/4h and P2 1h/8h around the clock; P3
/// 4h/24h and P4 8h/40h in the office calendar.
fn policy() -> SlaPolicy {
    let office = Hours::Business(BusinessCalendar::office_utc());
    let target = |respond, resolve, hours: &Hours| SlaTarget {
        respond: Duration::minutes(respond),
        resolve: Duration::minutes(resolve),
        hours: hours.clone(),
        calendar: None,
    };
    let all_day = Hours::AroundTheClock;
    let targets = BTreeMap::from([
        (Priority::P1, target(15, 240, &all_day)),
        (Priority::P2, target(60, 480, &all_day)),
        (Priority::P3, target(240, 1440, &office)),
        (Priority::P4, target(480, 2400, &office)),
    ]);
    SlaPolicy::new(targets, &[0.75, 0.9]).unwrap()
}

fn incident(priority: Priority, created: DateTime<Utc>) -> Incident {
    Incident {
        id: 1,
        number: 1,
        title: "VPN down".into(),
        description: String::new(),
        priority,
        impact: Level::High,
        urgency: Level::High,
        status: IncidentStatus::New,
        status_before_hold: None,
        hold_reason: None,
        service: None,
        reporter: UserId::new(Platform::Shell, "alice").unwrap(),
        assignee: None,
        origin: Origin {
            platform: Platform::Shell,
            channel: "ops".into(),
            thread: None,
            message: None,
        },
        created_at: created,
        updated_at: created,
        acknowledged_at: None,
        acknowledged_by: None,
        responded_at: None,
        resolved_by_monitoring: false,
        resolved_at: None,
        resolution: None,
        closed_at: None,
    }
}

fn due(checkpoints: &[Checkpoint], clock: SlaClock, threshold: u8) -> DateTime<Utc> {
    checkpoints
        .iter()
        .find(|c| c.clock == clock && c.threshold == threshold)
        .map(|c| c.due_at)
        .unwrap_or_else(|| panic!("no {clock} {threshold}% checkpoint in {checkpoints:?}"))
}

#[test]
fn a_p1_warns_at_75_and_90_percent_then_breaches() {
    let created = at(25, 9, 0);
    let points = policy().checkpoints(&incident(Priority::P1, created), &[]);
    assert_eq!(
        due(&points, SlaClock::Respond, 75),
        created + Duration::seconds(675)
    );
    assert_eq!(
        due(&points, SlaClock::Respond, 90),
        created + Duration::seconds(810)
    );
    assert_eq!(
        due(&points, SlaClock::Respond, 100),
        created + Duration::minutes(15)
    );
    assert_eq!(
        due(&points, SlaClock::Resolve, 100),
        created + Duration::hours(4)
    );
}

#[test]
fn acknowledging_stops_the_respond_clock() {
    let mut inc = incident(Priority::P1, at(25, 9, 0));
    inc.acknowledged_at = Some(at(25, 9, 10));
    inc.responded_at = inc.acknowledged_at;
    let points = policy().checkpoints(&inc, &[]);
    assert!(points.iter().all(|c| c.clock == SlaClock::Resolve));
    let clocks = policy().clocks(&inc, &[], at(25, 9, 30));
    assert_eq!(
        clocks[0].state,
        ClockState::Met {
            margin: Duration::minutes(5)
        }
    );
}

#[test]
fn a_hold_shifts_the_resolve_due_time() {
    let inc = incident(Priority::P2, at(25, 9, 0));
    let pauses = [Pause {
        start: at(25, 10, 0),
        end: Some(at(25, 11, 30)),
    }];
    let points = policy().checkpoints(&inc, &pauses);
    assert_eq!(due(&points, SlaClock::Resolve, 100), at(25, 18, 30));
    // While on hold, the resolve clock has no checkpoints and shows as paused.
    let open = [Pause {
        start: at(25, 10, 0),
        end: None,
    }];
    assert!(policy()
        .checkpoints(&inc, &open)
        .iter()
        .all(|c| c.clock == SlaClock::Respond));
    let views = policy().clocks(&inc, &open, at(25, 12, 0));
    assert_eq!(views[1].state, ClockState::Paused);
}

#[test]
fn a_p3_raised_friday_afternoon_is_due_in_business_hours() {
    // Friday 2026-11-27 16:30: 30 minutes left that day, then Monday.
    let inc = incident(Priority::P3, at(27, 16, 30));
    let points = policy().checkpoints(&inc, &[]);
    assert_eq!(due(&points, SlaClock::Respond, 100), at(30, 12, 30));
    // 24 business hours = three 8-hour days: 0.5h Fri + 8h Mon + 8h Tue + 7.5h Wed.
    assert_eq!(
        due(&points, SlaClock::Resolve, 100),
        Utc.with_ymd_and_hms(2026, 12, 2, 16, 30, 0).unwrap()
    );
}

#[test]
fn a_late_stop_is_a_breach_by_how_much() {
    let mut inc = incident(Priority::P1, at(25, 9, 0));
    inc.acknowledged_at = Some(at(25, 9, 20));
    inc.responded_at = inc.acknowledged_at;
    let clocks = policy().clocks(&inc, &[], at(25, 10, 0));
    assert_eq!(
        clocks[0].state,
        ClockState::Breached {
            by: Duration::minutes(5),
            stopped: true
        }
    );
    let running = policy().clocks(&incident(Priority::P1, at(25, 9, 0)), &[], at(25, 9, 6));
    assert_eq!(running[0].state, ClockState::Running { used: 40 });
}

#[test]
fn a_priority_change_retargets_from_the_original_start() {
    let mut inc = incident(Priority::P3, at(25, 9, 0));
    inc.priority = Priority::P1;
    let points = policy().checkpoints(&inc, &[]);
    assert_eq!(due(&points, SlaClock::Respond, 100), at(25, 9, 15));
}

#[test]
fn thresholds_must_be_fractions() {
    let targets = BTreeMap::new();
    assert!(matches!(
        SlaPolicy::new(targets.clone(), &[0.5]),
        Err(SlaError::MissingPriority(_))
    ));
    let p = policy();
    let targets: BTreeMap<_, _> = Priority::ALL
        .into_iter()
        .map(|pr| (pr, p.target(pr).unwrap().clone()))
        .collect();
    assert!(matches!(
        SlaPolicy::new(targets.clone(), &[1.5]),
        Err(SlaError::BadThreshold(_))
    ));
    assert!(matches!(
        SlaPolicy::new(targets, &[0.0]),
        Err(SlaError::BadThreshold(_))
    ));
}

/// P3 with a 4-hour response in Berlin business hours, 08:00–18:00.
fn berlin_policy() -> SlaPolicy {
    use chrono::{NaiveTime, Weekday};
    let berlin = Hours::Business(
        BusinessCalendar::new(
            chrono_tz::Europe::Berlin,
            vec![
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ],
            NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
            NaiveTime::from_hms_opt(18, 0, 0).unwrap(),
            vec![],
        )
        .unwrap(),
    );
    let p = policy();
    let targets = Priority::ALL
        .into_iter()
        .map(|priority| {
            let mut target = p.target(priority).unwrap().clone();
            if priority == Priority::P3 {
                target.hours = berlin.clone();
            }
            (priority, target)
        })
        .collect();
    SlaPolicy::new(targets, &[0.75, 0.9]).unwrap()
}

#[test]
fn a_target_that_ends_at_closing_is_due_at_closing_even_from_a_fraction_of_a_second() {
    // Tuesday 2026-12-08 14:00 in Berlin (13:00 UTC), reported a fraction
    // of a second past the minute as the system clock does: four working
    // hours end at 18:00 (17:00 UTC), the close, not Wednesday 08:00.
    let reported =
        Utc.with_ymd_and_hms(2026, 12, 8, 13, 0, 0).unwrap() + Duration::milliseconds(400);
    let closing = Utc.with_ymd_and_hms(2026, 12, 8, 17, 0, 0).unwrap();
    let policy = berlin_policy();
    let inc = incident(Priority::P3, reported);
    let points = policy.checkpoints(&inc, &[]);
    assert_eq!(due(&points, SlaClock::Respond, 100), closing);
    // 75% of 4h = 3h: 17:00 Berlin.
    assert_eq!(
        due(&points, SlaClock::Respond, 75),
        closing - Duration::hours(1)
    );
    // The views agree with the checkpoints.
    let views = policy.clocks(&inc, &[], reported + Duration::hours(1));
    assert_eq!(views[0].due_at, Some(closing));
    assert_eq!(views[0].state, ClockState::Running { used: 25 });
    // Acknowledged in the second of the deadline: met, with nothing to spare.
    let mut acked = inc.clone();
    acked.responded_at = Some(closing + Duration::milliseconds(700));
    let views = policy.clocks(&acked, &[], closing + Duration::hours(1));
    assert_eq!(
        views[0].state,
        ClockState::Met {
            margin: Duration::zero()
        }
    );
    // Stops are read (and stored for the figures) to the second.
    assert_eq!(views[0].stopped_at, Some(closing));
    // After the close the due instant has passed: the verdict compares
    // instants (docs/figures.md), so a response in the evening is late,
    // though by no working time.
    acked.responded_at = Some(closing + Duration::hours(3));
    let evening = policy.clocks(&acked, &[], closing + Duration::hours(3));
    assert_eq!(
        evening[0].state,
        ClockState::Breached {
            by: Duration::zero(),
            stopped: true
        }
    );
    let wednesday = Utc.with_ymd_and_hms(2026, 12, 9, 7, 0, 1).unwrap();
    acked.responded_at = Some(wednesday);
    let late = policy.clocks(&acked, &[], wednesday);
    assert_eq!(
        late[0].state,
        ClockState::Breached {
            by: Duration::seconds(1),
            stopped: true
        }
    );
}

#[test]
fn views_and_checkpoints_agree_on_the_breach_instant_with_fractional_pauses() {
    let reported = at(25, 9, 0) + Duration::milliseconds(250);
    let inc = incident(Priority::P2, reported);
    let pauses = [Pause {
        start: at(25, 10, 0) + Duration::milliseconds(900),
        end: Some(at(25, 11, 0) + Duration::milliseconds(100)),
    }];
    let points = policy().checkpoints(&inc, &pauses);
    let breach = due(&points, SlaClock::Resolve, 100);
    assert_eq!(breach, at(25, 18, 0));
    let views = policy().clocks(&inc, &pauses, breach);
    assert_eq!(views[1].due_at, Some(breach));
    assert_eq!(views[1].state, ClockState::Running { used: 100 });
    let after = policy().clocks(&inc, &pauses, breach + Duration::seconds(1));
    assert!(matches!(after[1].state, ClockState::Breached { .. }));
}

#[test]
fn a_new_incident_s_clock_rows_stand_for_their_first_warning() {
    let created = at(25, 9, 0);
    let inc = incident(Priority::P1, created);
    let next = policy().next_checkpoints(&inc, &[]);
    let all = policy().checkpoints(&inc, &[]);
    assert_eq!(next.len(), 2);
    for clock in [SlaClock::Respond, SlaClock::Resolve] {
        let row = next.iter().find(|c| c.clock == clock).unwrap();
        assert_eq!(row.threshold, 75);
        assert_eq!(row.due_at, due(&all, clock, 75));
    }
}

#[test]
fn the_sweep_advances_a_clock_row_threshold_by_threshold() {
    let created = at(25, 9, 0);
    let inc = incident(Priority::P1, created);
    let all = policy().checkpoints(&inc, &[]);
    let first = *all
        .iter()
        .find(|c| c.clock == SlaClock::Respond && c.threshold == 75)
        .unwrap();
    // On time: the 75% warning, then the row stands for 90%.
    let (posted, next) = policy().advance(&inc, &[], first, first.due_at);
    assert_eq!(posted, vec![first]);
    let next = next.unwrap();
    assert_eq!(
        (next.threshold, next.due_at),
        (90, due(&all, SlaClock::Respond, 90))
    );
    // At the breach instant itself the breach is not due yet.
    let breach = due(&all, SlaClock::Respond, 100);
    let (posted, after) = policy().advance(&inc, &[], next, breach);
    assert_eq!(posted.len(), 1);
    assert_eq!(after.map(|c| c.threshold), Some(100));
    // Late (the bot was down): every missed crossing in order, then nothing.
    let (posted, after) = policy().advance(&inc, &[], first, breach + Duration::minutes(1));
    assert_eq!(
        posted.iter().map(|c| c.threshold).collect::<Vec<_>>(),
        vec![75, 90, 100]
    );
    assert_eq!(after, None);
}

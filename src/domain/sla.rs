//! SLA clocks: time to respond (acknowledge) and time to resolve, per
//! priority, counted around the clock or in business hours, with warnings
//! at fractions of the target and a breach at 100%.
//!
//! Clocks count whole seconds: every instant they read (the report, a
//! pause, the stop, now) is taken at the start of its second. A report at
//! 14:00:00.4 with four working hours left before an 18:00 close is due at
//! 18:00:00, the close, rather than at 08:00:00.4 the next morning; an
//! acknowledgement in the second of the deadline is in time.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Duration, SubsecRound, Utc};

use super::calendar::Hours;
use super::duration::format_duration;
use super::incident::Incident;
use super::priority::Priority;

/// Which clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SlaClock {
    /// From report to acknowledgement (or resolution, whichever is first).
    Respond,
    /// From report to resolution, not counting pauses.
    Resolve,
}

impl SlaClock {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            SlaClock::Respond => "respond",
            SlaClock::Resolve => "resolve",
        }
    }

    /// Reads a stored name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "respond" => Some(SlaClock::Respond),
            "resolve" => Some(SlaClock::Resolve),
            _ => None,
        }
    }

    /// How the clock is called in messages.
    pub fn noun(self) -> &'static str {
        match self {
            SlaClock::Respond => "response",
            SlaClock::Resolve => "resolution",
        }
    }
}

impl fmt::Display for SlaClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The targets of one priority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaTarget {
    pub respond: Duration,
    pub resolve: Duration,
    pub hours: Hours,
    /// The calendar's name from config (`None` = around the clock).
    pub calendar: Option<String>,
}

impl SlaTarget {
    fn of(&self, clock: SlaClock) -> Duration {
        match clock {
            SlaClock::Respond => self.respond,
            SlaClock::Resolve => self.resolve,
        }
    }
}

/// The SLA policy: targets per priority and the warning thresholds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaPolicy {
    targets: BTreeMap<Priority, SlaTarget>,
    /// Warning thresholds in percent of the target, ascending, each < 100.
    warn_at: Vec<u8>,
}

/// An interval in which the resolve clock does not count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pause {
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
}

/// Where a clock stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClockState {
    /// Counting; `used` percent of the target has passed.
    Running { used: u32 },
    /// Stopped for now (on hold, or resolved and waiting for a reopen).
    Paused,
    /// Stopped in time, with `margin` to spare.
    Met { margin: Duration },
    /// Past its target by `by` (still running, or stopped late).
    Breached { by: Duration, stopped: bool },
    /// Ended without a verdict: the incident was resolved by its monitoring
    /// source before any person responded. Neither met nor breached.
    NotCounted,
}

/// One clock of one incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockView {
    pub clock: SlaClock,
    pub target: Duration,
    /// When the target is (or was) reached; `None` while paused.
    pub due_at: Option<DateTime<Utc>>,
    pub state: ClockState,
    /// When the clock stopped, if it did.
    pub stopped_at: Option<DateTime<Utc>>,
}

impl ClockView {
    /// A short description for a chat message: "due <time> (40% used)",
    /// "met with 5m to spare"; times are stamps with `zone` as fallback.
    pub fn describe(&self, zone: chrono_tz::Tz) -> String {
        let due = self
            .due_at
            .map(|at| super::moment::stamp(at, zone))
            .unwrap_or_else(|| "—".into());
        match &self.state {
            ClockState::Running { used } => format!("due {due} ({used}% used)"),
            ClockState::Paused => "paused".to_string(),
            ClockState::Met { margin } => format!("met with {} to spare", format_duration(*margin)),
            ClockState::Breached { by, stopped: false } => {
                format!("breached {} ago (was due {due})", format_duration(*by))
            }
            // Business time stops at closing: a clock due at closing and
            // stopped that evening is late by no business time at all, yet
            // it missed the instant people were told ("respond by 18:00").
            ClockState::Breached { by, stopped: true } if by.is_zero() => {
                format!("breached: stopped after its due time {due}, outside business hours")
            }
            ClockState::Breached { by, stopped: true } => {
                format!("breached by {}", format_duration(*by))
            }
            ClockState::NotCounted => {
                "not counted (resolved by monitoring before anyone responded)".to_string()
            }
        }
    }
}

/// A threshold crossing still to come: the sweep posts it when it is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    pub clock: SlaClock,
    /// Percent of the target; 100 is the breach.
    pub threshold: u8,
    pub due_at: DateTime<Utc>,
}

/// Why a policy could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SlaError {
    #[error("warning thresholds must be fractions between 0 and 1 (exclusive), e.g. [0.75, 0.9]; got {0}")]
    BadThreshold(f64),
    #[error("no target for {0}")]
    MissingPriority(Priority),
}

impl Default for SlaPolicy {
    /// The documented defaults: P1 15m/4h and P2 1h/8h around the clock;
    /// P3 4h/24h and P4 8h/40h in office hours (Mon–Fri 09:00–17:00 UTC);
    /// warnings at 75% and 90%.
    fn default() -> Self {
        let office = Hours::Business(super::calendar::BusinessCalendar::office_utc());
        let target =
            |respond: i64, resolve: i64, hours: &Hours, calendar: Option<&str>| SlaTarget {
                respond: Duration::minutes(respond),
                resolve: Duration::minutes(resolve),
                hours: hours.clone(),
                calendar: calendar.map(str::to_string),
            };
        SlaPolicy {
            targets: BTreeMap::from([
                (Priority::P1, target(15, 240, &Hours::AroundTheClock, None)),
                (Priority::P2, target(60, 480, &Hours::AroundTheClock, None)),
                (Priority::P3, target(240, 1440, &office, Some("office"))),
                (Priority::P4, target(480, 2400, &office, Some("office"))),
            ]),
            warn_at: vec![75, 90],
        }
    }
}

impl SlaPolicy {
    /// A policy with `targets` for every priority and warnings at the
    /// fractions `warn_at` (e.g. 0.75 and 0.9).
    pub fn new(targets: BTreeMap<Priority, SlaTarget>, warn_at: &[f64]) -> Result<Self, SlaError> {
        for priority in Priority::ALL {
            if !targets.contains_key(&priority) {
                return Err(SlaError::MissingPriority(priority));
            }
        }
        let mut percents = Vec::new();
        for &fraction in warn_at {
            if !(fraction > 0.0 && fraction < 1.0) {
                return Err(SlaError::BadThreshold(fraction));
            }
            percents.push((fraction * 100.0).round().clamp(1.0, 99.0) as u8);
        }
        percents.sort_unstable();
        percents.dedup();
        Ok(SlaPolicy {
            targets,
            warn_at: percents,
        })
    }

    /// The targets of `priority`.
    pub fn target(&self, priority: Priority) -> Option<&SlaTarget> {
        self.targets.get(&priority)
    }

    /// Warning thresholds in percent.
    pub fn warn_at(&self) -> &[u8] {
        &self.warn_at
    }

    /// Whether a change from `before` to `after` can move either clock: the
    /// policy reads only the priority, the status and the times the clocks
    /// stop (pauses come and go with status changes). A note or an
    /// assignment leaves the checkpoints and outcomes as they are.
    pub fn moved_by(before: &Incident, after: &Incident) -> bool {
        before.priority != after.priority
            || before.status != after.status
            || before.created_at != after.created_at
            || before.responded_at != after.responded_at
            || before.resolved_at != after.resolved_at
    }

    /// Both clocks of `incident` at `now`.
    pub fn clocks(
        &self,
        incident: &Incident,
        pauses: &[Pause],
        now: DateTime<Utc>,
    ) -> Vec<ClockView> {
        let Some(target) = self.targets.get(&incident.priority) else {
            return Vec::new();
        };
        [SlaClock::Respond, SlaClock::Resolve]
            .into_iter()
            .map(|clock| view(clock, target, incident, pauses, now))
            .collect()
    }

    /// The threshold crossings still ahead of `incident`'s running clocks
    /// (including ones already past, which the sweep's ledger skips if they
    /// were posted).
    pub fn checkpoints(&self, incident: &Incident, pauses: &[Pause]) -> Vec<Checkpoint> {
        let Some(target) = self.targets.get(&incident.priority) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for clock in [SlaClock::Respond, SlaClock::Resolve] {
            if let Some(stopped) = stop_of(clock, incident) {
                // A clock stopped after its due instant between two sweeps
                // is breached and was not announced yet: its breach stays
                // due, so the sweep announces it once (late). The ledger
                // skips it when it was announced in time.
                let counted = !incident.resolved_by_monitoring;
                let due = reached_at(clock, target, incident.created_at, pauses);
                if let Some(due) = due.filter(|due| counted && second(stopped) > *due) {
                    out.push(Checkpoint {
                        clock,
                        threshold: 100,
                        due_at: due,
                    });
                }
                continue;
            }
            if is_paused(clock, pauses) {
                continue;
            }
            let paused = paused_time(clock, &target.hours, pauses);
            let goal = target.of(clock);
            for threshold in self.warn_at.iter().copied().chain([100]) {
                let part = goal * i32::from(threshold) / 100;
                out.push(Checkpoint {
                    clock,
                    threshold,
                    due_at: target.hours.add(started(incident), part + paused),
                });
            }
        }
        out
    }

    /// What each running clock's row stands for when nothing has been
    /// posted yet (a new incident): the first of its checkpoints.
    pub fn next_checkpoints(&self, incident: &Incident, pauses: &[Pause]) -> Vec<Checkpoint> {
        let mut out: Vec<Checkpoint> = Vec::new();
        for checkpoint in self.checkpoints(incident, pauses) {
            if !out.iter().any(|c| c.clock == checkpoint.clock) {
                out.push(checkpoint);
            }
        }
        out
    }

    /// What a sweep at `at` does with `clock`'s row, which stands for
    /// `claimed` (due by `at`): the crossings it posts now, in order —
    /// `claimed`, then each later threshold already due, as after a sweep
    /// that ran late — and what the row stands for afterwards (`None`:
    /// nothing more to post for this clock).
    pub fn advance(
        &self,
        incident: &Incident,
        pauses: &[Pause],
        claimed: Checkpoint,
        at: DateTime<Utc>,
    ) -> (Vec<Checkpoint>, Option<Checkpoint>) {
        let mut due = vec![claimed];
        let mut next = None;
        let later = self
            .checkpoints(incident, pauses)
            .into_iter()
            .filter(|c| c.clock == claimed.clock && c.threshold > claimed.threshold);
        for checkpoint in later {
            if !checkpoint.is_due(at) {
                next = Some(checkpoint);
                break;
            }
            due.push(checkpoint);
        }
        (due, next)
    }
}

impl Checkpoint {
    /// Whether a sweep at `at` posts it: a warning from its instant on, a
    /// breach only once `at` is past it (a clock that stops at its due
    /// instant is met, so the breach waits for the next sweep).
    pub fn is_due(&self, at: DateTime<Utc>) -> bool {
        self.due_at <= at && (self.threshold < 100 || self.due_at < at)
    }
}

/// `at` as the clocks read it: the start of its second.
fn second(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(0)
}

/// When both clocks start: the second the incident was reported.
fn started(incident: &Incident) -> DateTime<Utc> {
    second(incident.created_at)
}

/// When `clock` stopped for good, if it did: the response clock at a
/// person's first response (or at a resolution by monitoring, which ends it
/// without a verdict), the resolution clock at the resolution.
fn stop_of(clock: SlaClock, incident: &Incident) -> Option<DateTime<Utc>> {
    match clock {
        SlaClock::Respond => incident.responded_at.or(incident
            .resolved_at
            .filter(|_| incident.resolved_by_monitoring)),
        SlaClock::Resolve => incident.resolved_at,
    }
}

/// The instant `clock` reaches its target: the time counted from the report
/// (in the target's hours, less the pauses of the resolution clock) equals
/// the target. `None` while it is paused before reaching it. A clock that
/// stops at or before this instant is met; one that has not stopped by
/// then is breached at it — the one rule every figure and view uses.
pub fn reached_at(
    clock: SlaClock,
    target: &SlaTarget,
    created_at: DateTime<Utc>,
    pauses: &[Pause],
) -> Option<DateTime<Utc>> {
    let hours = &target.hours;
    let mut remaining = target.of(clock);
    let mut from = second(created_at);
    if clock == SlaClock::Resolve {
        let mut sorted: Vec<&Pause> = pauses.iter().collect();
        sorted.sort_by_key(|p| p.start);
        for pause in sorted {
            let start = second(pause.start).max(from);
            let candidate = hours.add(from, remaining);
            if candidate <= start {
                return Some(candidate);
            }
            remaining -= hours.elapsed(from, start);
            match pause.end {
                Some(end) => from = second(end).max(from),
                None => return None,
            }
        }
    }
    Some(hours.add(from, remaining))
}

fn is_paused(clock: SlaClock, pauses: &[Pause]) -> bool {
    clock == SlaClock::Resolve && pauses.iter().any(|p| p.end.is_none())
}

/// Counted time spent in closed pauses (only the resolve clock pauses).
fn paused_time(clock: SlaClock, hours: &Hours, pauses: &[Pause]) -> Duration {
    if clock != SlaClock::Resolve {
        return Duration::zero();
    }
    pauses
        .iter()
        .filter_map(|p| p.end.map(|end| hours.elapsed(second(p.start), second(end))))
        .fold(Duration::zero(), |total, part| total + part)
}

fn view(
    clock: SlaClock,
    target: &SlaTarget,
    incident: &Incident,
    pauses: &[Pause],
    now: DateTime<Utc>,
) -> ClockView {
    let goal = target.of(clock);
    let stopped_at = stop_of(clock, incident);
    let until = second(stopped_at.unwrap_or(now));
    // Pauses count up to `until`; an open pause runs up to it.
    let paused = if clock == SlaClock::Resolve {
        pauses
            .iter()
            .filter(|p| p.start < until)
            .map(|p| {
                target
                    .hours
                    .elapsed(second(p.start), p.end.map_or(until, second).min(until))
            })
            .fold(Duration::zero(), |total, part| total + part)
    } else {
        Duration::zero()
    };
    let used = target.hours.elapsed(started(incident), until) - paused;
    let paused_now = stopped_at.is_none() && is_paused(clock, pauses);
    let due_at = reached_at(clock, target, incident.created_at, pauses);
    let stopped_at = stopped_at.map(second);
    let counted = !incident.resolved_by_monitoring;
    // The verdict compares instants (see `reached_at`); the margins are
    // for people.
    let state = match (stopped_at, due_at) {
        _ if !counted => ClockState::NotCounted,
        (Some(stopped), Some(due)) if stopped > due => ClockState::Breached {
            by: (used - goal).max(Duration::zero()),
            stopped: true,
        },
        (Some(_), _) => ClockState::Met {
            margin: (goal - used).max(Duration::zero()),
        },
        (None, Some(due)) if now > due => ClockState::Breached {
            by: (used - goal).max(Duration::zero()),
            stopped: false,
        },
        (None, _) if paused_now => ClockState::Paused,
        (None, _) => {
            let percent = if goal > Duration::zero() {
                (used.num_seconds().max(0) * 100 / goal.num_seconds().max(1)) as u32
            } else {
                100
            };
            ClockState::Running { used: percent }
        }
    };
    ClockView {
        clock,
        target: goal,
        due_at,
        state,
        stopped_at,
    }
}

#[cfg(test)]
mod tests;

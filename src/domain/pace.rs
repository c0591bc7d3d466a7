//! Pacing sends to a platform under its documented rate limits, as a
//! generic cell rate algorithm (GCRA, the token bucket `governor` uses):
//! after a burst of `burst` sends, one send per `every`. The state of one
//! paced key is one instant (the "theoretical arrival time"), so it can be
//! kept in the database and shared by every replica.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// How long a new card waits before it is claimed while its channel is
/// storming (its summary open, and folded into within the last three
/// waits). Such a card is only listed in the summary, whose
/// edits go out about once a second at most (Slack's `chat.update` is Tier
/// 3, Discord allows 5 edits per 5 s per channel), so waiting that long
/// shows nothing later; and the cards that came meanwhile are folded by one
/// claim instead of one claim each, which at hundreds of reports a second
/// was a tenth of the database's work (BENCHMARKS run 13).
pub const STORM_CARD_WAIT: Duration = Duration::from_secs(1);

/// How fast sends counted under one `key` may go: one per `every` after a
/// burst of `burst`. The chat adapters say what their platform allows
/// (`chat.postMessage:C123`, `messages:42`); the outbox applies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pace {
    /// What the limit counts: a method and channel, or a method alone for a
    /// workspace-wide limit.
    pub key: String,
    pub every: Duration,
    pub burst: u32,
}

impl Pace {
    /// A pace of one send per `every` after a burst of `burst`, counted under `key`.
    pub fn new(key: impl Into<String>, every: Duration, burst: u32) -> Self {
        Pace {
            key: key.into(),
            every,
            burst: burst.max(1),
        }
    }

    fn every(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.every).unwrap_or(chrono::Duration::seconds(1))
    }

    /// How far ahead of `now` the state may run: the burst.
    fn tolerance(&self) -> chrono::Duration {
        self.every() * i32::try_from(self.burst.saturating_sub(1)).unwrap_or(0)
    }

    /// Takes up to `wanted` sends at `now` from a key whose state is `next`
    /// (`None` for a key never used). Returns how many may go now, the new
    /// state, and the instant the next send may go.
    pub fn take(
        &self,
        next: Option<DateTime<Utc>>,
        wanted: u32,
        now: DateTime<Utc>,
    ) -> (u32, DateTime<Utc>, DateTime<Utc>) {
        let mut tat = next.unwrap_or(now).max(now);
        let mut granted = 0;
        while granted < wanted && tat - self.tolerance() <= now {
            tat = tat.max(now) + self.every();
            granted += 1;
        }
        (granted, tat, (tat - self.tolerance()).max(now))
    }

    /// How long sending `backlog` more would take at this pace, once the
    /// burst is spent.
    pub fn drain_time(&self, backlog: u32) -> Duration {
        self.every * backlog.saturating_sub(self.burst.saturating_sub(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_800_000_000_000 + ms).unwrap_or_default()
    }

    #[test]
    fn a_burst_then_one_per_interval() {
        let pace = Pace::new("chat.postMessage:C1", Duration::from_secs(1), 3);
        let (granted, state, next) = pace.take(None, 10, at(0));
        assert_eq!(granted, 3);
        assert_eq!(state, at(3000));
        assert_eq!(next, at(1000));
        // Nothing more until a second has passed; then one.
        assert_eq!(pace.take(Some(state), 5, at(500)).0, 0);
        let (granted, state, _) = pace.take(Some(state), 5, at(1000));
        assert_eq!((granted, state), (1, at(4000)));
        // An idle key fills its burst again.
        assert_eq!(pace.take(Some(state), 10, at(60_000)).0, 3);
    }

    #[test]
    fn one_at_a_time_never_runs_ahead() {
        let pace = Pace::new("messages:42", Duration::from_millis(1200), 1);
        let mut state = None;
        let mut sent = Vec::new();
        for ms in (0..10_000).step_by(100) {
            let (granted, next, _) = pace.take(state, 1, at(ms));
            state = Some(next);
            if granted == 1 {
                sent.push(ms);
            }
        }
        assert_eq!(
            sent,
            vec![0, 1200, 2400, 3600, 4800, 6000, 7200, 8400, 9600]
        );
    }

    #[test]
    fn drain_time_counts_after_the_burst() {
        let pace = Pace::new("k", Duration::from_secs(1), 2);
        assert_eq!(pace.drain_time(1), Duration::ZERO);
        assert_eq!(pace.drain_time(12), Duration::from_secs(11));
    }
}

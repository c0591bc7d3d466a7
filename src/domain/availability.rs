//! Availability and error budgets, from outage incidents.
//!
//! A service is down while one of its incidents is marked as an outage:
//! from the outage's start to the incident's resolution (or now, while it
//! is still open). Overlapping outages of one service count once, so two
//! incidents about the same failure do not double the downtime.

use chrono::{DateTime, Duration, Utc};

/// The period availability is measured over: rolling 30 days.
pub const PERIOD_DAYS: i64 = 30;

/// The error-budget thresholds (percent spent) announced in the service's
/// channel, each once per crossing.
pub const BUDGET_THRESHOLDS: [u32; 2] = [50, 100];

/// One outage of a service: `[start, end)`; `end` is `None` while ongoing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outage {
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
}

/// The rolling period ending at `at`.
pub fn period_ending(at: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    (at - Duration::days(PERIOD_DAYS), at)
}

/// The downtime within `[from, to)`: each outage clipped to the period
/// (an ongoing one runs to `to`), overlapping ones merged.
pub fn downtime(outages: &[Outage], from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
    let mut spans: Vec<(DateTime<Utc>, DateTime<Utc>)> = outages
        .iter()
        .filter_map(|outage| {
            let start = outage.start.max(from);
            let end = outage.end.unwrap_or(to).min(to);
            (start < end).then_some((start, end))
        })
        .collect();
    spans.sort();
    let mut total = Duration::zero();
    let mut current: Option<(DateTime<Utc>, DateTime<Utc>)> = None;
    for (start, end) in spans {
        current = match current {
            Some((s, e)) if start <= e => Some((s, e.max(end))),
            Some((s, e)) => {
                total += e - s;
                Some((start, end))
            }
            None => Some((start, end)),
        };
    }
    if let Some((s, e)) = current {
        total += e - s;
    }
    total
}

/// What is left of `outage` outside the `planned` windows (changes that
/// declared a planned outage): ITIL counts only unplanned downtime.
pub fn unplanned(outage: Outage, planned: &[(DateTime<Utc>, DateTime<Utc>)]) -> Vec<Outage> {
    let mut pieces = vec![outage];
    for &(p_start, p_end) in planned {
        pieces = pieces
            .into_iter()
            .flat_map(|piece| {
                let end_before = piece.end.is_some_and(|end| end <= p_start);
                if end_before || piece.start >= p_end {
                    return vec![piece];
                }
                let mut kept = Vec::new();
                if piece.start < p_start {
                    kept.push(Outage {
                        start: piece.start,
                        end: Some(p_start),
                    });
                }
                if piece.end.is_none_or(|end| end > p_end) {
                    kept.push(Outage {
                        start: p_end,
                        end: piece.end,
                    });
                }
                kept
            })
            .collect();
    }
    pieces
}

/// A service's availability over a period and what is left of its error
/// budget.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Availability {
    /// Percent of the period the service was up.
    pub percent: f64,
    /// The target, in percent.
    pub target: f64,
    pub downtime: Duration,
    /// The downtime the target allows over the period.
    pub budget: Duration,
}

impl Availability {
    /// Availability over `[from, to)` with `downtime` in it, against `target`
    /// percent.
    pub fn new(target: f64, downtime: Duration, from: DateTime<Utc>, to: DateTime<Utc>) -> Self {
        let period = (to - from).num_milliseconds().max(1) as f64;
        let down = downtime.num_milliseconds().clamp(0, period as i64) as f64;
        let allowed = period * (100.0 - target).max(0.0) / 100.0;
        Availability {
            percent: 100.0 * (period - down) / period,
            target,
            downtime,
            budget: Duration::milliseconds(allowed.round() as i64),
        }
    }

    /// Percent of the error budget spent (above 100 once it is overspent).
    /// A target of 100% has no budget: any downtime spends all of it.
    pub fn budget_spent(&self) -> f64 {
        let allowed = self.budget.num_milliseconds() as f64;
        let down = self.downtime.num_milliseconds() as f64;
        if allowed <= 0.0 {
            return if down > 0.0 { 100.0 } else { 0.0 };
        }
        100.0 * down / allowed
    }

    /// The error budget left, never below zero.
    pub fn budget_left(&self) -> Duration {
        (self.budget - self.downtime).max(Duration::zero())
    }

    /// Whether the target is met.
    pub fn meets_target(&self) -> bool {
        self.percent + 1e-9 >= self.target
    }

    /// The thresholds of [`BUDGET_THRESHOLDS`] that are crossed.
    pub fn crossed_thresholds(&self) -> Vec<u32> {
        let spent = self.budget_spent();
        BUDGET_THRESHOLDS
            .into_iter()
            .filter(|t| spent + 1e-9 >= f64::from(*t))
            .collect()
    }

    /// What a service's error-budget warnings need, given the thresholds
    /// already announced (`warned`): crossed thresholds not yet announced
    /// are to be claimed, and announced ones no longer crossed re-armed so
    /// that the next crossing is announced again. Both come from
    /// [`Availability::crossed_thresholds`], so a threshold is never
    /// re-armed and claimed in the same sweep.
    pub fn budget_warnings(&self, warned: &[u32]) -> BudgetWarnings {
        let crossed = self.crossed_thresholds();
        BudgetWarnings {
            claim: crossed
                .iter()
                .copied()
                .filter(|t| !warned.contains(t))
                .collect(),
            rearm: warned
                .iter()
                .copied()
                .filter(|t| !crossed.contains(t))
                .collect(),
        }
    }
}

/// The changes a service's error-budget warnings need: see
/// [`Availability::budget_warnings`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BudgetWarnings {
    /// Thresholds newly crossed: announce each once.
    pub claim: Vec<u32>,
    /// Thresholds announced before and no longer crossed: forget them.
    pub rearm: Vec<u32>,
}

impl BudgetWarnings {
    /// Whether nothing is to be claimed or re-armed.
    pub fn is_empty(&self) -> bool {
        self.claim.is_empty() && self.rearm.is_empty()
    }
}

/// Availability of a service with `outages` over the 30 days ending at `at`.
pub fn rolling(outages: &[Outage], target: f64, at: DateTime<Utc>) -> Availability {
    let (from, to) = period_ending(at);
    Availability::new(target, downtime(outages, from, to), from, to)
}

/// Availability per UTC day for the `days` days up to and including the
/// one `at` falls in, oldest first; today counts only up to `at`.
pub fn daily(outages: &[Outage], at: DateTime<Utc>, days: u32) -> Vec<(chrono::NaiveDate, f64)> {
    let today = at.date_naive();
    (0..days)
        .rev()
        .filter_map(|back| {
            let date = today - Duration::days(i64::from(back));
            let from = date.and_hms_opt(0, 0, 0)?.and_utc();
            let to = (from + Duration::days(1)).min(at);
            if to <= from {
                return Some((date, 100.0));
            }
            let period = (to - from).num_milliseconds() as f64;
            let down = downtime(outages, from, to).num_milliseconds() as f64;
            Some((date, 100.0 * (period - down) / period))
        })
        .collect()
}

/// A percentage as people read it: `99.93%`, `100%`.
pub fn show_percent(percent: f64) -> String {
    let text = format!("{percent:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}%")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn at(minute: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap() + Duration::minutes(minute)
    }

    fn outage(start: i64, end: Option<i64>) -> Outage {
        Outage {
            start: at(start),
            end: end.map(at),
        }
    }

    #[test]
    fn overlapping_outages_count_once() {
        let outages = [
            outage(10, Some(40)),
            outage(30, Some(50)),
            outage(100, Some(110)),
        ];
        assert_eq!(downtime(&outages, at(0), at(1000)), Duration::minutes(50));
        // Touching outages merge into one span, without a gap or double count.
        let touching = [outage(0, Some(10)), outage(10, Some(20))];
        assert_eq!(downtime(&touching, at(0), at(100)), Duration::minutes(20));
    }

    #[test]
    fn outages_are_clipped_to_the_period() {
        let outages = [outage(-30, Some(30)), outage(90, None)];
        assert_eq!(downtime(&outages, at(0), at(100)), Duration::minutes(40));
        assert_eq!(downtime(&outages, at(200), at(300)), Duration::minutes(100));
        assert_eq!(downtime(&outages, at(-100), at(-50)), Duration::zero());
    }

    #[test]
    fn thirty_minutes_in_thirty_days_against_three_nines() {
        let now = at(60 * 24 * 10);
        let a = rolling(&[outage(0, Some(30))], 99.9, now);
        assert!((a.percent - 99.9306).abs() < 0.001, "{}", a.percent);
        assert!(
            (a.budget_spent() - 69.44).abs() < 0.01,
            "{}",
            a.budget_spent()
        );
        assert_eq!(a.budget, Duration::minutes(43) + Duration::seconds(12));
        assert_eq!(a.crossed_thresholds(), vec![50]);
        assert!(a.meets_target());
        assert_eq!(show_percent(a.percent), "99.931%");
        let clean = rolling(&[], 99.9, now);
        assert_eq!(show_percent(clean.percent), "100%");
        assert_eq!(clean.budget_spent(), 0.0);
        // Thirty days later the outage has rolled out of the period.
        let later = rolling(&[outage(0, Some(30))], 99.9, at(60 * 24 * 30 + 30));
        assert_eq!(later.downtime, Duration::zero());
    }

    #[test]
    fn a_hundred_percent_target_has_no_budget() {
        let a = rolling(&[outage(0, Some(1))], 100.0, at(100));
        assert_eq!(a.budget, Duration::zero());
        assert_eq!(a.budget_spent(), 100.0);
        assert_eq!(a.crossed_thresholds(), vec![50, 100]);
        assert_eq!(rolling(&[], 100.0, at(100)).budget_spent(), 0.0);
    }

    #[test]
    fn budget_warnings_claim_new_crossings_and_rearm_recovered_ones() {
        let now = at(60 * 24 * 10);
        // 30 minutes of a 43-minute budget: 69% spent, 50% crossed.
        let half = rolling(&[outage(0, Some(30))], 99.9, now);
        assert_eq!(
            half.budget_warnings(&[]),
            BudgetWarnings {
                claim: vec![50],
                rearm: vec![]
            }
        );
        assert!(half.budget_warnings(&[50]).is_empty());
        // Announced at 100% before; the budget has since recovered to 69%.
        assert_eq!(
            half.budget_warnings(&[50, 100]),
            BudgetWarnings {
                claim: vec![],
                rearm: vec![100]
            }
        );
        // Nothing spent: nothing to claim, every announcement re-armed.
        let clean = rolling(&[], 99.9, now);
        assert!(clean.budget_warnings(&[]).is_empty());
        assert_eq!(clean.budget_warnings(&[50, 100]).rearm, vec![50, 100]);
        // Overspent: both thresholds, each claimed once.
        let over = rolling(&[outage(0, Some(90))], 99.9, now);
        assert_eq!(over.budget_warnings(&[50]).claim, vec![100]);
        assert!(over.budget_warnings(&[50, 100]).is_empty());
    }

    #[test]
    fn days_are_counted_separately_and_today_only_so_far() {
        // at(0) is 2026-11-01 00:00 UTC.
        let list = [
            outage(24 * 60 - 30, Some(24 * 60 + 30)),
            outage(2 * 24 * 60, None),
        ];
        let days = daily(&list, at(2 * 24 * 60 + 120), 4);
        let dates: Vec<String> = days.iter().map(|(d, _)| d.to_string()).collect();
        assert_eq!(
            dates,
            ["2026-10-31", "2026-11-01", "2026-11-02", "2026-11-03"]
        );
        assert_eq!(days[0].1, 100.0);
        assert!((days[1].1 - 97.9167).abs() < 0.001, "{days:?}");
        assert!((days[2].1 - 97.9167).abs() < 0.001, "{days:?}");
        // Down for all of today so far.
        assert_eq!(days[3].1, 0.0);
    }

    fn outages() -> impl Strategy<Value = Vec<Outage>> {
        prop::collection::vec((-200i64..1200, prop::option::of(0i64..300)), 0..8).prop_map(
            |spans| {
                spans
                    .into_iter()
                    .map(|(start, len)| outage(start, len.map(|l| start + l)))
                    .collect()
            },
        )
    }

    proptest! {
        #[test]
        fn downtime_fits_the_period_and_ignores_order(list in outages(), from in -100i64..500, len in 0i64..900) {
            let (from, to) = (at(from), at(from + len));
            let total = downtime(&list, from, to);
            prop_assert!(total >= Duration::zero());
            prop_assert!(total <= to - from);
            let mut reversed = list.clone();
            reversed.reverse();
            prop_assert_eq!(downtime(&reversed, from, to), total);
            // Duplicating every outage changes nothing: overlaps count once.
            let doubled: Vec<Outage> = list.iter().chain(list.iter()).copied().collect();
            prop_assert_eq!(downtime(&doubled, from, to), total);
        }

        #[test]
        fn downtime_adds_up_across_a_split_period(list in outages(), split in 0i64..1000) {
            let (from, mid, to) = (at(-300), at(split), at(1500));
            prop_assert_eq!(
                downtime(&list, from, mid) + downtime(&list, mid, to),
                downtime(&list, from, to)
            );
        }

        #[test]
        fn daily_figures_are_percentages_that_add_up(list in outages(), minutes in 0i64..1400) {
            let at = at(1000 + minutes);
            let days = daily(&list, at, 5);
            prop_assert_eq!(days.len(), 5);
            let first = days[0].0.and_hms_opt(0, 0, 0).unwrap().and_utc();
            let mut down = 0.0;
            for (date, percent) in &days {
                prop_assert!((0.0..=100.0).contains(percent));
                let from = date.and_hms_opt(0, 0, 0).unwrap().and_utc();
                let to = (from + Duration::days(1)).min(at);
                down += (100.0 - percent) / 100.0 * (to - from).num_milliseconds() as f64;
            }
            let total = downtime(&list, first, at).num_milliseconds() as f64;
            prop_assert!((down - total).abs() < 1.0, "{} vs {}", down, total);
        }

        #[test]
        fn availability_and_budget_agree(list in outages(), target in 90.0f64..100.0) {
            let a = rolling(&list, target, at(1500));
            prop_assert!((0.0..=100.0).contains(&a.percent));
            let spent = a.budget_spent();
            if spent < 99.99 {
                prop_assert!(a.meets_target());
            }
            if spent > 100.01 {
                prop_assert!(!a.meets_target());
            }
            prop_assert!(a.budget_left() <= a.budget);
        }
    }

    #[test]
    fn planned_windows_are_cut_out_of_outages() {
        use chrono::TimeZone;
        let at = |h: u32| Utc.with_ymd_and_hms(2026, 11, 25, h, 0, 0).unwrap();
        let outage = Outage {
            start: at(8),
            end: Some(at(12)),
        };
        let pieces = unplanned(outage, &[(at(9), at(10))]);
        assert_eq!(
            pieces,
            vec![
                Outage {
                    start: at(8),
                    end: Some(at(9))
                },
                Outage {
                    start: at(10),
                    end: Some(at(12))
                }
            ]
        );
        assert!(unplanned(outage, &[(at(7), at(13))]).is_empty());
        assert_eq!(unplanned(outage, &[(at(13), at(14))]), vec![outage]);
        let open = Outage {
            start: at(8),
            end: None,
        };
        assert_eq!(
            unplanned(open, &[(at(7), at(9))]),
            vec![Outage {
                start: at(9),
                end: None
            }]
        );
    }
}

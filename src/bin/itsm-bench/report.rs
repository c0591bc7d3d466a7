//! The table the harness prints: one row per figure, its baseline from the
//! same run beside it, and the goal it is held to.

use std::time::Duration;

/// A goal and whether this run met it.
#[derive(Debug, Clone)]
pub struct Goal {
    pub text: &'static str,
    pub met: bool,
}

impl Goal {
    /// `text` (e.g. "≤ 50 ms") and whether it was met.
    pub fn new(text: &'static str, met: bool) -> Goal {
        Goal { text, met }
    }
}

/// One measured figure.
#[derive(Debug, Clone)]
pub struct Row {
    pub section: &'static str,
    pub what: String,
    pub measured: String,
    pub baseline: String,
    /// Measured over baseline, where both are rates.
    pub ratio: Option<f64>,
    /// p50 and p99, where the figure is a load.
    pub latency: Option<(Duration, Duration)>,
    pub goals: Vec<Goal>,
}

/// Milliseconds with two decimals below 10 ms, one above.
pub fn ms(duration: Duration) -> String {
    let ms = duration.as_secs_f64() * 1e3;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

/// Megabytes (10^6 bytes, as the goals are written) with one decimal.
pub fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// Prints the table.
pub fn print(rows: &[Row]) {
    println!(
        "{:<9} {:<54} {:>12} {:>22} {:>6} {:>9} {:>9}  goal",
        "section", "figure", "measured", "baseline", "ratio", "p50", "p99"
    );
    for row in rows {
        let ratio = row
            .ratio
            .map_or_else(|| "-".to_string(), |r| format!("{:.2}", r));
        let (p50, p99) = row.latency.map_or_else(
            || ("-".to_string(), "-".to_string()),
            |(a, b)| (ms(a), ms(b)),
        );
        let goals = row
            .goals
            .iter()
            .map(|goal| format!("{} {}", goal.text, if goal.met { "met" } else { "MISSED" }))
            .collect::<Vec<_>>()
            .join("; ");
        println!(
            "{:<9} {:<54} {:>12} {:>22} {:>6} {:>9} {:>9}  {}",
            row.section, row.what, row.measured, row.baseline, ratio, p50, p99, goals
        );
    }
}

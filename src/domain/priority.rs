//! Priority, impact and urgency, and the matrix that turns the last two into the first.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

/// Incident priority, P1 (most urgent) to P4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    P1,
    P2,
    P3,
    P4,
}

impl Priority {
    /// All priorities, most urgent first.
    pub const ALL: [Priority; 4] = [Priority::P1, Priority::P2, Priority::P3, Priority::P4];

    /// The number stored in the database (1–4).
    pub fn as_i16(self) -> i16 {
        match self {
            Priority::P1 => 1,
            Priority::P2 => 2,
            Priority::P3 => 3,
            Priority::P4 => 4,
        }
    }

    /// The priority stored as `value`, if it is one.
    pub fn from_i16(value: i16) -> Option<Self> {
        Self::ALL
            .get(usize::try_from(value).ok()?.checked_sub(1)?)
            .copied()
    }
}

/// Why a priority could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a priority; use P1, P2, P3 or P4")]
pub struct PriorityError(pub String);

impl FromStr for Priority {
    type Err = PriorityError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_uppercase().as_str() {
            "P1" => Ok(Priority::P1),
            "P2" => Ok(Priority::P2),
            "P3" => Ok(Priority::P3),
            "P4" => Ok(Priority::P4),
            _ => Err(PriorityError(text.to_string())),
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "P{}", self.as_i16())
    }
}

impl<'de> Deserialize<'de> for Priority {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Impact or urgency: high, medium or low.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Level {
    High,
    Medium,
    Low,
}

impl Level {
    /// The word stored in the database and shown to people.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::High => "high",
            Level::Medium => "medium",
            Level::Low => "low",
        }
    }

    fn index(self) -> usize {
        match self {
            Level::High => 0,
            Level::Medium => 1,
            Level::Low => 2,
        }
    }
}

/// Why an impact or urgency could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a level; use high, medium or low (h, m, l)")]
pub struct LevelError(pub String);

impl FromStr for Level {
    type Err = LevelError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "h" | "high" => Ok(Level::High),
            "m" | "med" | "medium" => Ok(Level::Medium),
            "l" | "low" => Ok(Level::Low),
            _ => Err(LevelError(text.to_string())),
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Level {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// One row of the matrix: the priority for each urgency at one impact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UrgencyRow {
    pub high: Priority,
    pub medium: Priority,
    pub low: Priority,
}

impl UrgencyRow {
    fn get(&self, urgency: Level) -> Priority {
        match urgency {
            Level::High => self.high,
            Level::Medium => self.medium,
            Level::Low => self.low,
        }
    }
}

/// The impact × urgency → priority matrix (ITIL's usual 3 × 3 grid).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriorityMatrix {
    pub high: UrgencyRow,
    pub medium: UrgencyRow,
    pub low: UrgencyRow,
}

impl PriorityMatrix {
    /// The priority of an incident with this impact and urgency.
    pub fn priority(&self, impact: Level, urgency: Level) -> Priority {
        let row = [&self.high, &self.medium, &self.low][impact.index()];
        row.get(urgency)
    }
}

impl Default for PriorityMatrix {
    /// high/high → P1; high/medium, medium/high → P2; high/low, medium/medium,
    /// low/high → P3; the rest → P4.
    fn default() -> Self {
        use Priority::*;
        PriorityMatrix {
            high: UrgencyRow {
                high: P1,
                medium: P2,
                low: P3,
            },
            medium: UrgencyRow {
                high: P2,
                medium: P3,
                low: P4,
            },
            low: UrgencyRow {
                high: P3,
                medium: P4,
                low: P4,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Level::*;
    use Priority::*;

    #[test]
    fn default_matrix_matches_the_documented_grid() {
        let matrix = PriorityMatrix::default();
        let expected = [
            (High, High, P1),
            (High, Medium, P2),
            (Medium, High, P2),
            (High, Low, P3),
            (Medium, Medium, P3),
            (Low, High, P3),
            (Medium, Low, P4),
            (Low, Medium, P4),
            (Low, Low, P4),
        ];
        for (impact, urgency, priority) in expected {
            assert_eq!(
                matrix.priority(impact, urgency),
                priority,
                "{impact}/{urgency}"
            );
        }
    }

    #[test]
    fn priority_round_trips_through_storage_and_text() {
        for priority in Priority::ALL {
            assert_eq!(Priority::from_i16(priority.as_i16()), Some(priority));
            assert_eq!(priority.to_string().parse(), Ok(priority));
        }
        assert_eq!(Priority::from_i16(0), None);
        assert_eq!(Priority::from_i16(5), None);
        assert_eq!("p2".parse(), Ok(P2));
        assert!("P5".parse::<Priority>().is_err());
    }

    #[test]
    fn levels_accept_short_forms() {
        assert_eq!("h".parse(), Ok(High));
        assert_eq!("Medium".parse(), Ok(Medium));
        assert_eq!("l".parse(), Ok(Low));
        assert!("x".parse::<Level>().is_err());
    }
}

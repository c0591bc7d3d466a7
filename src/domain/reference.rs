//! Ticket references: `INC-12`, `PRB-3`, `CHG-7`.

use std::fmt;
use std::str::FromStr;

/// The three ITIL practices a ticket can belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TicketKind {
    Incident,
    Problem,
    Change,
    /// A knowledge-base article.
    Kb,
    /// A service request (`REQ-<n>`).
    Request,
}

impl TicketKind {
    /// The prefix of this kind's references.
    pub fn prefix(self) -> &'static str {
        match self {
            TicketKind::Incident => "INC",
            TicketKind::Problem => "PRB",
            TicketKind::Change => "CHG",
            TicketKind::Kb => "KB",
            TicketKind::Request => "REQ",
        }
    }

    /// The name stored in the database's `tickets.kind` column.
    pub fn as_str(self) -> &'static str {
        match self {
            TicketKind::Incident => "incident",
            TicketKind::Problem => "problem",
            TicketKind::Change => "change",
            TicketKind::Kb => "kb",
            TicketKind::Request => "request",
        }
    }

    /// The slash command that works tickets of this kind.
    pub fn command(self) -> &'static str {
        match self {
            TicketKind::Incident => "/incident",
            TicketKind::Problem => "/problem",
            TicketKind::Change => "/change",
            TicketKind::Kb => "/kb",
            TicketKind::Request => "/request",
        }
    }
}

/// A reference to one ticket, e.g. `INC-12`. Case-insensitive on input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TicketRef {
    pub kind: TicketKind,
    pub number: i64,
}

/// Why a token that looks like a reference is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("`{0}` is not a ticket reference; references look like INC-12, PRB-3, CHG-7 or KB-2")]
    Malformed(String),
}

/// Ticket numbers go up to a trillion; longer digit strings are typos.
const MAX_NUMBER: i64 = 1_000_000_000_000;

impl TicketRef {
    /// Builds a reference to an incident.
    pub fn incident(number: i64) -> Self {
        TicketRef {
            kind: TicketKind::Incident,
            number,
        }
    }

    /// Whether `token` starts like a reference (`INC-`, `prb-`, …), so that a
    /// malformed one can be reported instead of being taken for a title word.
    pub fn looks_like(token: &str) -> bool {
        let upper = token.get(..4).map(str::to_ascii_uppercase);
        let kb = token.get(..3).map(str::to_ascii_uppercase);
        matches!(upper.as_deref(), Some("INC-" | "PRB-" | "CHG-" | "REQ-"))
            || kb.as_deref() == Some("KB-")
    }
}

impl FromStr for TicketRef {
    type Err = ReferenceError;

    fn from_str(token: &str) -> Result<Self, Self::Err> {
        let malformed = || ReferenceError::Malformed(token.to_string());
        let (prefix, digits) = token.split_once('-').ok_or_else(malformed)?;
        let kind = match prefix.to_ascii_uppercase().as_str() {
            "INC" => TicketKind::Incident,
            "PRB" => TicketKind::Problem,
            "CHG" => TicketKind::Change,
            "KB" => TicketKind::Kb,
            "REQ" => TicketKind::Request,
            _ => return Err(malformed()),
        };
        if digits.is_empty() || digits.len() > 13 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed());
        }
        let number: i64 = digits.parse().map_err(|_| malformed())?;
        if !(1..=MAX_NUMBER).contains(&number) {
            return Err(malformed());
        }
        Ok(TicketRef { kind, number })
    }
}

impl serde::Serialize for TicketRef {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for TicketRef {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for TicketRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.kind.prefix(), self.number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_case_insensitively() {
        assert_eq!("inc-12".parse(), Ok(TicketRef::incident(12)));
        assert_eq!(
            "Chg-7".parse::<TicketRef>().map(|r| r.to_string()),
            Ok("CHG-7".to_string())
        );
    }

    #[test]
    fn refuses_malformed_references() {
        for bad in [
            "INC-",
            "INC-0",
            "INC-abc",
            "INC-1x",
            "XYZ-1",
            "INC12",
            "INC--1",
            "INC-99999999999999",
        ] {
            assert!(bad.parse::<TicketRef>().is_err(), "{bad}");
        }
        assert!(TicketRef::looks_like("inc-abc"));
        assert!(!TicketRef::looks_like("incident"));
    }
}

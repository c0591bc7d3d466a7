//! `[search]`: the team's words for the same thing.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::domain::search::Synonyms;

/// `[search]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchConfig {
    /// `[search.synonyms]`: a word and its equivalents, e.g.
    /// `vpn = ["remote access", "tunnel"]`; applied both ways to every
    /// search and suggestion.
    #[serde(default)]
    pub synonyms: BTreeMap<String, Vec<String>>,
}

impl SearchConfig {
    /// The synonym groups, ready for queries.
    pub fn synonyms(&self) -> Synonyms {
        Synonyms::new(&self.synonyms)
    }
}

/// `[triage]`: suggested service and priority on new reports.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriageConfig {
    /// Whether reports without a service get a suggested service and
    /// priority (default true).
    #[serde(default = "yes")]
    pub suggest: bool,
    /// How sure (0–1) the triage model must be of a value before it is
    /// suggested (default 0.5).
    #[serde(default = "half")]
    pub min_confidence: f64,
}

impl Default for TriageConfig {
    fn default() -> Self {
        TriageConfig {
            suggest: yes(),
            min_confidence: half(),
        }
    }
}

impl TriageConfig {
    /// Checks `min_confidence` is a share.
    pub(super) fn validate(&self) -> Result<(), super::ConfigError> {
        if !(0.0..=1.0).contains(&self.min_confidence) {
            return Err(super::invalid(
                "triage.min_confidence",
                format!(
                    "{} is not a share; give a number from 0 to 1, e.g. 0.5",
                    self.min_confidence
                ),
            ));
        }
        Ok(())
    }
}

fn yes() -> bool {
    true
}

fn half() -> f64 {
    0.5
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_confidence_is_a_share() {
        assert!(TriageConfig::default().validate().is_ok());
        let bad = TriageConfig {
            suggest: true,
            min_confidence: 1.5,
        };
        let err = bad.validate().unwrap_err().to_string();
        assert!(
            err.contains("triage.min_confidence") && err.contains("0 to 1"),
            "{err}"
        );
    }
}

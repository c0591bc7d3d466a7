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

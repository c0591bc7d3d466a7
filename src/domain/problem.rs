//! Problems: the causes behind incidents. Placeholder until the problem
//! lifecycle lands (issue 6).

use super::text::FreeText;

/// What a person wants done to a problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProblemAction {
    /// A note on the timeline.
    Note(FreeText),
}

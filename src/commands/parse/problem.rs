//! `/problem …` → [`Command`]. Placeholder until problem management lands.

use super::{not_yet, ParseContext};
use crate::commands::command::Command;
use crate::commands::refusal::Refusal;

/// Parses the text after `/problem`.
pub(super) fn parse_problem(_text: &str, _ctx: ParseContext<'_>) -> Result<Command, Refusal> {
    Err(not_yet("/problem"))
}

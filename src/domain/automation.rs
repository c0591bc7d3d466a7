//! Automation: rules that act on events, and runbooks run from chat. Pure
//! types and decisions; the executor and the calls worker store and
//! sends what they decide.

pub mod rule;
pub mod runbook;
pub mod template;

pub use rule::{EventFacts, Rule, RuleAction, Trigger, When};
pub use runbook::{Method, ParamType, RequestSpec, Runbook, RunbookError};

/// A name for a rule or a runbook: short, lower case, and safe in a user id,
/// a metric label and a chat command.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 48
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_'))
}

#[cfg(test)]
mod tests {
    use super::valid_name;

    #[test]
    fn names_are_short_lower_case_words() {
        assert!(valid_name("vpn-p1"));
        assert!(valid_name("provision_vm2"));
        assert!(!valid_name(""));
        assert!(!valid_name("VPN"));
        assert!(!valid_name("a b"));
        assert!(!valid_name(&"x".repeat(49)));
    }
}

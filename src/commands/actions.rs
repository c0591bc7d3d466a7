//! Buttons on bot messages, the same on every platform: what they are
//! called, how their ids travel through a platform, and the command a
//! click becomes.

use super::command::{Command, IncidentCommand, ProblemCommand};
use crate::domain::incident::IncidentAction;
use crate::domain::{TicketRef, UserId};

/// What a button does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ButtonAction {
    Acknowledge(TicketRef),
    AssignToMe(TicketRef),
    /// Opens a form asking for the resolution.
    Resolve(TicketRef),
    /// A satisfaction score of 1–5.
    Rate(TicketRef, u8),
    /// Resolves a resolved problem's still-open incidents.
    ResolveProblemIncidents(TicketRef),
}

/// How a button looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ButtonStyle {
    Default,
    Primary,
    Danger,
}

/// A button on a message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Button {
    pub label: String,
    pub action: ButtonAction,
    pub style: ButtonStyle,
}

/// What a click asks of the adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Click {
    /// Run this command as the person who clicked.
    Run(Command),
    /// Ask for the resolution of this incident in a form first.
    AskResolution(TicketRef),
}

/// Prefix of every action id this bot puts on a button.
const PREFIX: &str = "itsm:";

impl ButtonAction {
    /// The action id and value to put on the platform's button.
    pub fn encode(&self) -> (String, String) {
        let (verb, reference) = match self {
            ButtonAction::Acknowledge(r) => ("ack".to_string(), r),
            ButtonAction::AssignToMe(r) => ("assign_me".to_string(), r),
            ButtonAction::Resolve(r) => ("resolve".to_string(), r),
            ButtonAction::Rate(r, score) => (format!("rate_{score}"), r),
            ButtonAction::ResolveProblemIncidents(r) => ("resolve_incidents".to_string(), r),
        };
        (format!("{PREFIX}{verb}"), reference.to_string())
    }

    /// Reads an action id and value back; `None` for buttons that are not ours.
    pub fn decode(action_id: &str, value: &str) -> Option<Self> {
        let verb = action_id.strip_prefix(PREFIX)?;
        let reference: TicketRef = value.parse().ok()?;
        match verb {
            "ack" => Some(ButtonAction::Acknowledge(reference)),
            "assign_me" => Some(ButtonAction::AssignToMe(reference)),
            "resolve" => Some(ButtonAction::Resolve(reference)),
            "resolve_incidents" => Some(ButtonAction::ResolveProblemIncidents(reference)),
            other => {
                let score: u8 = other.strip_prefix("rate_")?.parse().ok()?;
                (1..=5)
                    .contains(&score)
                    .then_some(ButtonAction::Rate(reference, score))
            }
        }
    }

    /// What clicking the button by `actor` means.
    pub fn click(&self, actor: &UserId) -> Click {
        let act = |reference: TicketRef, action| {
            Click::Run(Command::Incident(reference, IncidentCommand::Act(action)))
        };
        match *self {
            ButtonAction::Acknowledge(r) => act(r, IncidentAction::Acknowledge),
            ButtonAction::AssignToMe(r) => act(r, IncidentAction::Assign(actor.clone())),
            ButtonAction::Resolve(r) => Click::AskResolution(r),
            ButtonAction::Rate(r, score) => {
                Click::Run(Command::Incident(r, IncidentCommand::Rate(score)))
            }
            ButtonAction::ResolveProblemIncidents(r) => {
                Click::Run(Command::Problem(r, ProblemCommand::ResolveIncidents))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_foreign_ids_are_ignored() {
        let inc = TicketRef::incident(7);
        for action in [
            ButtonAction::Acknowledge(inc),
            ButtonAction::AssignToMe(inc),
            ButtonAction::Resolve(inc),
            ButtonAction::Rate(inc, 5),
            ButtonAction::ResolveProblemIncidents("PRB-2".parse().unwrap()),
        ] {
            let (id, value) = action.encode();
            assert_eq!(ButtonAction::decode(&id, &value), Some(action));
        }
        assert_eq!(ButtonAction::decode("itsm:rate_9", "INC-7"), None);
        assert_eq!(ButtonAction::decode("other:ack", "INC-7"), None);
        assert_eq!(ButtonAction::decode("itsm:ack", "not-a-ref"), None);
    }
}

//! Buttons on bot messages, the same on every platform: what they are
//! called, how their ids travel through a platform, and the command a
//! click becomes.

use super::command::{ChangeCommand, Command, IncidentCommand, ProblemCommand, RequestCommand};
use super::refusal::{sentence, Refusal};
use crate::domain::change::ChangeAction;
use crate::domain::incident::IncidentAction;
use crate::domain::request::RequestAction;
use crate::domain::{FreeText, TicketKind, TicketRef, UserId};

/// What a button does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ButtonAction {
    Acknowledge(TicketRef),
    AssignToMe(TicketRef),
    /// Opens a form asking for the resolution.
    Resolve(TicketRef),
    /// A satisfaction score of 1–5.
    Rate(TicketRef, u8),
    /// A CAB member approves a change; an approver a service request.
    Approve(TicketRef),
    /// Opens a form asking why the change or request is rejected.
    Reject(TicketRef),
    /// Resolves a resolved problem's still-open incidents.
    ResolveProblemIncidents(TicketRef),
    /// Applies the triage suggestion offered on a report
    /// (`/incident INC-n accept-suggestion`).
    AcceptSuggestion(TicketRef),
    /// Closes the first incident as a duplicate of the second, the open one
    /// it looks like (`/incident INC-n duplicate-of INC-m`).
    MarkDuplicate(TicketRef, TicketRef),
    /// The team takes a service request.
    Take(TicketRef),
    /// The team marks task `k` (1-based) of a service request done: the
    /// card's "Done" button names the next task left.
    TaskDone(TicketRef, u32),
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
    /// Ask for some text in a form first (a resolution, a reason).
    Ask(Prompt),
}

/// A form with one text field that completes a command: the resolution of
/// an incident, the reason for rejecting a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    Resolution(TicketRef),
    Rejection(TicketRef),
}

impl Prompt {
    /// The form's id on the platforms.
    pub fn form_id(&self) -> &'static str {
        match self {
            Prompt::Resolution(_) => "itsm:resolve",
            Prompt::Rejection(_) => "itsm:reject",
        }
    }

    /// The ticket the form is about.
    pub fn reference(&self) -> TicketRef {
        match *self {
            Prompt::Resolution(r) | Prompt::Rejection(r) => r,
        }
    }

    /// Reads a form id and ticket back; `None` for forms that are not prompts.
    pub fn decode(form_id: &str, reference: &str) -> Option<Self> {
        let reference: TicketRef = reference.parse().ok()?;
        match form_id {
            "itsm:resolve" => Some(Prompt::Resolution(reference)),
            "itsm:reject" => Some(Prompt::Rejection(reference)),
            _ => None,
        }
    }

    /// The form's title.
    pub fn title(&self) -> String {
        match self {
            Prompt::Resolution(r) => format!("Resolve {r}"),
            Prompt::Rejection(r) => format!("Reject {r}"),
        }
    }

    /// The id of the text field.
    pub fn field(&self) -> &'static str {
        match self {
            Prompt::Resolution(_) => "resolution",
            Prompt::Rejection(_) => "reason",
        }
    }

    /// The text field's label.
    pub fn label(&self) -> &'static str {
        match self {
            Prompt::Resolution(_) => "Resolution",
            Prompt::Rejection(_) => "Why is it rejected?",
        }
    }

    /// The submit button's label.
    pub fn submit(&self) -> &'static str {
        match self {
            Prompt::Resolution(_) => "Resolve",
            Prompt::Rejection(_) => "Reject",
        }
    }

    /// The command the answered form stands for.
    pub fn command(&self, text: &str) -> Result<Command, Refusal> {
        let what = match self {
            Prompt::Resolution(_) => "resolution",
            Prompt::Rejection(_) => "reason for rejecting",
        };
        let text =
            FreeText::parse(what, text).map_err(|err| Refusal::new(sentence(&err.to_string())))?;
        Ok(match *self {
            Prompt::Resolution(r) => {
                Command::Incident(r, IncidentCommand::Act(IncidentAction::Resolve(text)))
            }
            Prompt::Rejection(r) if r.kind == TicketKind::Request => {
                Command::Request(r, RequestCommand::Act(RequestAction::Reject(text)))
            }
            Prompt::Rejection(r) => {
                Command::Change(r, ChangeCommand::Act(ChangeAction::Reject(text)))
            }
        })
    }
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
            ButtonAction::Approve(r) => ("approve".to_string(), r),
            ButtonAction::Reject(r) => ("reject".to_string(), r),
            ButtonAction::ResolveProblemIncidents(r) => ("resolve_incidents".to_string(), r),
            ButtonAction::AcceptSuggestion(r) => ("accept_suggestion".to_string(), r),
            // The target rides in the id, so the buttons of several
            // look-alikes on one message have different ids (Slack and
            // Discord both require that).
            ButtonAction::MarkDuplicate(r, target) => {
                (format!("{DUPLICATE_OF}{}", target.number), r)
            }
            ButtonAction::Take(r) => ("take".to_string(), r),
            ButtonAction::TaskDone(r, k) => (format!("task_{k}"), r),
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
            "approve" => Some(ButtonAction::Approve(reference)),
            "reject" => Some(ButtonAction::Reject(reference)),
            "resolve_incidents" => Some(ButtonAction::ResolveProblemIncidents(reference)),
            "accept_suggestion" => Some(ButtonAction::AcceptSuggestion(reference)),
            other if other.starts_with(DUPLICATE_OF) => {
                let number: i64 = other.strip_prefix(DUPLICATE_OF)?.parse().ok()?;
                (number > 0)
                    .then(|| ButtonAction::MarkDuplicate(reference, TicketRef::incident(number)))
            }
            "take" => Some(ButtonAction::Take(reference)),
            other if other.starts_with("task_") => {
                let task: u32 = other.strip_prefix("task_")?.parse().ok()?;
                (task >= 1).then_some(ButtonAction::TaskDone(reference, task))
            }
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
        let request = |reference: TicketRef, action| {
            Click::Run(Command::Request(reference, RequestCommand::Act(action)))
        };
        match *self {
            ButtonAction::Acknowledge(r) => act(r, IncidentAction::Acknowledge),
            ButtonAction::AssignToMe(r) => act(r, IncidentAction::Assign(actor.clone())),
            ButtonAction::Resolve(r) => Click::Ask(Prompt::Resolution(r)),
            ButtonAction::Approve(r) if r.kind == TicketKind::Request => {
                request(r, RequestAction::Approve(None))
            }
            ButtonAction::Approve(r) => Click::Run(Command::Change(
                r,
                ChangeCommand::Act(ChangeAction::Approve(None)),
            )),
            ButtonAction::Take(r) => request(r, RequestAction::Take),
            ButtonAction::TaskDone(r, k) => request(r, RequestAction::TaskDone(k)),
            ButtonAction::Reject(r) => Click::Ask(Prompt::Rejection(r)),
            ButtonAction::Rate(r, score) if r.kind == TicketKind::Request => {
                Click::Run(Command::Request(r, RequestCommand::Rate(score)))
            }
            ButtonAction::Rate(r, score) => {
                Click::Run(Command::Incident(r, IncidentCommand::Rate(score)))
            }
            ButtonAction::ResolveProblemIncidents(r) => {
                Click::Run(Command::Problem(r, ProblemCommand::ResolveIncidents))
            }
            ButtonAction::AcceptSuggestion(r) => {
                Click::Run(Command::Incident(r, IncidentCommand::AcceptSuggestion))
            }
            ButtonAction::MarkDuplicate(r, target) => {
                Click::Run(Command::Incident(r, IncidentCommand::DuplicateOf(target)))
            }
        }
    }

    /// Whether a click that worked is answered to the clicker. Buttons on a
    /// card are not: the outbox edits the card to show what happened. A
    /// survey's thanks is, and so is the result of a suggestion's button:
    /// suggestions sit on the reply to a report, which no card edit
    /// reaches.
    pub fn answers_clicker(&self) -> bool {
        matches!(
            self,
            ButtonAction::Rate(..)
                | ButtonAction::AcceptSuggestion(_)
                | ButtonAction::MarkDuplicate(..)
        )
    }
}

/// The start of a "mark duplicate" button's verb; the target's number
/// follows.
const DUPLICATE_OF: &str = "duplicate_of_";

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
            ButtonAction::Approve(TicketRef {
                kind: crate::domain::TicketKind::Change,
                number: 3,
            }),
            ButtonAction::Reject(TicketRef {
                kind: crate::domain::TicketKind::Change,
                number: 3,
            }),
            ButtonAction::ResolveProblemIncidents("PRB-2".parse().unwrap()),
            ButtonAction::AcceptSuggestion(inc),
            ButtonAction::MarkDuplicate(inc, TicketRef::incident(9)),
            ButtonAction::Approve("REQ-4".parse().unwrap()),
            ButtonAction::Take("REQ-4".parse().unwrap()),
            ButtonAction::TaskDone("REQ-4".parse().unwrap(), 2),
        ] {
            let (id, value) = action.encode();
            assert_eq!(ButtonAction::decode(&id, &value), Some(action));
        }
        assert_eq!(ButtonAction::decode("itsm:rate_9", "INC-7"), None);
        assert_eq!(ButtonAction::decode("itsm:task_0", "REQ-4"), None);
        assert_eq!(ButtonAction::decode("other:ack", "INC-7"), None);
        assert_eq!(ButtonAction::decode("itsm:ack", "not-a-ref"), None);
        assert_eq!(ButtonAction::decode("itsm:duplicate_of_x", "INC-7"), None);
        assert_eq!(ButtonAction::decode("itsm:duplicate_of_0", "INC-7"), None);
        // The look-alike's buttons differ by id, as the platforms require.
        let (a, _) = ButtonAction::MarkDuplicate(inc, TicketRef::incident(9)).encode();
        let (b, _) = ButtonAction::MarkDuplicate(inc, TicketRef::incident(10)).encode();
        assert_ne!(a, b);
    }

    #[test]
    fn suggestion_buttons_run_the_typed_commands() {
        let inc = TicketRef::incident(12);
        let actor: UserId = "slack:U0ENG0001".parse().unwrap();
        assert_eq!(
            ButtonAction::AcceptSuggestion(inc).click(&actor),
            Click::Run(Command::Incident(inc, IncidentCommand::AcceptSuggestion))
        );
        assert_eq!(
            ButtonAction::MarkDuplicate(inc, TicketRef::incident(9)).click(&actor),
            Click::Run(Command::Incident(
                inc,
                IncidentCommand::DuplicateOf(TicketRef::incident(9))
            ))
        );
        assert!(ButtonAction::MarkDuplicate(inc, inc).answers_clicker());
        assert!(!ButtonAction::Acknowledge(inc).answers_clicker());
    }

    #[test]
    fn prompts_round_trip_and_refuse_empty_text() {
        let chg: TicketRef = "CHG-3".parse().unwrap();
        let prompt = Prompt::Rejection(chg);
        assert_eq!(Prompt::decode(prompt.form_id(), "CHG-3"), Some(prompt));
        assert!(matches!(
            prompt.command("no rollback tested"),
            Ok(Command::Change(
                _,
                ChangeCommand::Act(ChangeAction::Reject(_))
            ))
        ));
        assert!(prompt.command("   ").is_err());
        let req: TicketRef = "REQ-5".parse().unwrap();
        assert!(matches!(
            Prompt::Rejection(req).command("no budget"),
            Ok(Command::Request(
                _,
                RequestCommand::Act(RequestAction::Reject(_))
            ))
        ));
        assert!(matches!(
            ButtonAction::Approve(req).click(&"shell:mia".parse().unwrap()),
            Click::Run(Command::Request(
                _,
                RequestCommand::Act(RequestAction::Approve(None))
            ))
        ));
        assert_eq!(Prompt::decode("itsm:report", "CHG-3"), None);
    }
}

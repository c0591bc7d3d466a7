//! The one command language of every platform: text (`/incident VPN down
//! P2`) and structured input (a form, a slash command's options) both become
//! a [`Command`], which the [`Engine`] executes into a platform-free
//! [`reply::Reply`].

pub mod buttons;
pub mod command;
pub mod execute;
pub mod help;
pub mod inbound;
pub mod notice;
pub mod paging;
pub mod parse;
pub mod period_report;
pub mod refusal;
pub mod reply;
pub mod service_status;
pub mod view;

pub use command::{
    ChangeCommand, ChangeDraft, Command, IncidentCommand, IncidentIntake, ProblemCommand,
    ProblemDraft, QueryCommand, RequestIntake, ScheduleRange,
};
pub use execute::{Engine, Request};
pub use inbound::Inbound;
pub use parse::{parse, parse_line, ParseContext};
pub use refusal::Refusal;
pub use reply::{Block, Message, Outcome, Reply};

//! Plain types and rules of the service desk, free of I/O.
//!
//! Everything here can be built only by parsing ("parse, don't validate"): a
//! [`Title`] or a [`Priority`] that exists is valid, and an
//! [`incident::Incident`] changes only through [`incident::Incident::apply`],
//! which refuses illegal transitions with a typed error.

pub mod alert;
pub mod approval;
pub mod automation;
pub mod availability;
pub mod calendar;
pub mod change;
pub mod channel;
pub mod dashboard;
pub mod duplicate;
pub mod duration;
pub mod incident;
pub mod kb;
pub mod moment;
pub mod oncall;
pub mod pace;
pub mod postmortem;
pub mod priority;
pub mod problem;
pub mod reference;
pub mod report;
pub mod request;
pub mod review_template;
pub mod roles;
pub mod search;
pub mod service;
pub mod sla;
pub mod text;
pub mod timeline;
pub mod triage;
pub mod user;

pub use duration::{parse_duration, DurationError};
pub use priority::{Level, Priority, PriorityMatrix};
pub use reference::{TicketKind, TicketRef};
pub use roles::{Role, RoleBook};
pub use text::{FreeText, TextError, Title};
pub use user::{Platform, UserId};

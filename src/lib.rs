//! itsm-bot: an IT service management bot for chat.
//!
//! The layers follow SPEC.md §1: [`chat`] adapters turn platform events into
//! [`commands::Inbound`] messages; [`commands`] parses them into one
//! platform-free [`commands::Command`] language and executes it against the
//! [`domain`] rules and the [`store`]; replies go back as platform-free
//! [`commands::reply::Reply`] values that each adapter renders.

pub mod app;
pub mod automation;
pub mod chat;
pub mod clock;
pub mod commands;
pub mod config;
pub mod connect;
pub mod domain;
pub mod http;
pub mod lease;
pub mod lifecycle;
pub mod metrics;
pub mod paging;
pub mod proxy;
pub mod queue;
pub mod scheduler;
pub mod store;
pub mod telemetry;
pub mod webhook;

//! Chat adapters: each turns its platform's events into
//! [`Inbound`](crate::commands::Inbound)
//! messages for the engine and renders the engine's replies. No business
//! rule lives here.

pub mod discord;
pub mod in_flight;
pub mod outbound;
pub mod shell;
pub mod slack;

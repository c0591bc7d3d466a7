//! The Slack adapter driven through the real `slack-morphism` client against
//! a fake Slack (Web API + Socket Mode), with a real PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod changes;
mod connect;
mod db_proxy;
mod fake_slack;
mod harness;
mod http_mode;
mod http_proxy;
mod pacing;
mod requests;
mod shutdown;
mod slow;
mod socket_mode;
mod storm;
mod triage;

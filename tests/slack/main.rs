//! The Slack adapter driven through the real `slack-morphism` client against
//! a fake Slack (Web API + Socket Mode), with a real PostgreSQL.

mod changes;
mod fake_slack;
mod harness;
mod http_mode;
mod shutdown;
mod socket_mode;

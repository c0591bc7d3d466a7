//! The engine driven like a user would drive it, against a real PostgreSQL
//! (`#[sqlx::test]` gives each test a fresh database).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod action_items;
mod alert_batches;
mod alert_groups;
mod api;
mod automation;
mod changes;
mod concurrency;
mod dashboard;
mod dashboard_seed;
mod figures;
mod helpers;
mod hooks;
mod http;
mod idempotency;
mod incident_story;
mod kb;
mod leases;
mod limits;
mod metrics;
mod migrations;
mod outages;
mod outbox;
mod paging;
mod postmortems;
mod problems;
mod queries;
mod refusals;
mod requests;
mod retention;
mod roles;
mod search;
mod services;
mod shell;
mod shutdown;
mod sla;
mod time_zones;
mod week_story;

//! Section 1: signed `/incident` slash commands end to end (signature check
//! → parse → transaction → reply) at 1, 8 and 32 clients, incidents counted
//! in the database afterwards; beside each, `pgbench` writing the same rows
//! (one incident and one timeline event per transaction).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use sqlx::PgPool;

use crate::bot::Server;
use crate::http::{Connection, Response};
use crate::load::{self, Budget, Measured, Request};
use crate::pgbench;
use crate::report::{Goal, Row};
use crate::sign::{slack_signature, unix_now};

/// The raw transaction: the incident's ticket and detail rows and its
/// `created` timeline event. pgbench reads `:name` as a variable, so the
/// actor's colon is spelled chr(58).
pub const CREATE_SQL: &str = "BEGIN;
WITH ticket AS (
  INSERT INTO tickets (kind, number, title, description, status, priority, service_id, reporter,
                       origin_platform, origin_channel, origin_thread, origin_message, created_at, updated_at)
  VALUES ('incident', nextval('incident_number_seq'), 'Baseline incident', '', 'new', 3, NULL,
          'slack' || chr(58) || 'U0BENCH', 'slack', 'C0BENCH', NULL, NULL, now(), now())
  RETURNING id
), details AS (
  INSERT INTO incidents (ticket_id, impact, urgency) SELECT id, 'medium', 'medium' FROM ticket
)
INSERT INTO ticket_events (ticket_id, at, actor, action, body)
SELECT id, now(), 'slack' || chr(58) || 'U0BENCH', 'created', 'P3 · Baseline incident' FROM ticket;
COMMIT;
";

/// Distinct reporters the commands come from: enough that nobody hits the
/// bot's per-person flood guard (`limits.commands_per_minute`), which stays
/// on as in production.
const USERS: u64 = 5000;

/// A signed `/incident Bench c<clients> <n> P3`.
struct SlashCommand {
    secret: String,
    clients: usize,
    response_url: String,
}

impl Request for SlashCommand {
    async fn send(&self, connection: &mut Connection, n: u64) -> anyhow::Result<Response> {
        let text = format!("Bench c{} {n} P3", self.clients);
        let trigger = format!("bench.{}.{n}", self.clients);
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("token", "bench")
            .append_pair("team_id", "T0BENCH")
            .append_pair("team_domain", "bench")
            .append_pair("channel_id", "C0BENCH")
            .append_pair("channel_name", "helpdesk")
            .append_pair("user_id", &format!("U0BENCH{:04}", n % USERS))
            .append_pair("user_name", "bench")
            .append_pair("command", "/incident")
            .append_pair("text", &text)
            .append_pair("response_url", &self.response_url)
            .append_pair("trigger_id", &trigger)
            .append_pair("api_app_id", "A0BENCH")
            .finish();
        let timestamp = unix_now();
        let signature = slack_signature(&self.secret, timestamp, &body);
        let timestamp = timestamp.to_string();
        connection
            .post(
                "/slack/commands",
                "application/x-www-form-urlencoded",
                &[
                    ("X-Slack-Request-Timestamp", &timestamp),
                    ("X-Slack-Signature", &signature),
                ],
                &body,
            )
            .await
    }

    fn check(&self, response: &Response) -> anyhow::Result<()> {
        if response.status != 200 || !response.body.contains("reported") {
            bail!(
                "slash command not acknowledged: {} {}",
                response.status,
                response.body
            );
        }
        Ok(())
    }
}

/// What the section needs from the run.
pub struct Setup<'a> {
    pub server: &'a Server,
    pub pool: &'a PgPool,
    pub url: &'a str,
    pub scripts: &'a Path,
    pub secret: &'a str,
    pub response_url: String,
    pub budget: Budget,
}

/// The rows of section 1, and the bot's peak RSS under the 8-client load.
pub async fn run(setup: &Setup<'_>) -> anyhow::Result<(Vec<Row>, u64)> {
    let script = setup.scripts.join("create_incident.sql");
    std::fs::write(&script, CREATE_SQL)?;
    let mut rows = Vec::new();
    let mut peak = 0;
    for clients in [1, 8, 32] {
        if clients == 8 {
            setup.server.reset_peak()?;
        }
        let request = Arc::new(SlashCommand {
            secret: setup.secret.to_string(),
            clients,
            response_url: setup.response_url.clone(),
        });
        crate::bot::settle(setup.pool).await?;
        let measured = load::run(setup.server.port, clients, setup.budget, request).await?;
        if clients == 8 {
            peak = setup.server.memory()?.peak;
        }
        let committed = committed(setup.pool, clients).await?;
        if committed != measured.ok {
            bail!(
                "{clients} clients: {} commands acknowledged but {committed} incidents committed",
                measured.ok
            );
        }
        // The cards of the phase's incidents are still being posted: let
        // the bot finish before pgbench runs, or its outbox would compete
        // with the baseline (and lower it).
        let backlog = crate::bot::cards_posted(setup.pool).await?;
        let baseline = pgbench::tps(setup.url, &script, clients, setup.budget.time)?;
        rows.push(row(clients, &measured, committed, backlog, baseline));
    }
    Ok((rows, peak))
}

/// Incidents the phase with `clients` clients really committed.
async fn committed(pool: &PgPool, clients: usize) -> anyhow::Result<u64> {
    let count: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM tickets WHERE kind = 'incident' AND title LIKE $1",
    )
    .bind(format!("Bench c{clients} %"))
    .fetch_one(pool)
    .await?;
    Ok(count as u64)
}

fn row(
    clients: usize,
    measured: &Measured,
    committed: u64,
    backlog: Duration,
    baseline: f64,
) -> Row {
    let per_second = committed as f64 / measured.elapsed.as_secs_f64();
    let ratio = per_second / baseline;
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let mut goals = Vec::new();
    if clients == 8 {
        goals.push(Goal::new("≥ 0.8 × pgbench", ratio >= 0.8));
    }
    if clients == 1 {
        goals.push(Goal::new("p99 ≤ 5 ms", ms(measured.p99) <= 5.0));
    }
    if clients == 32 {
        goals.push(Goal::new("p99 ≤ 20 ms", ms(measured.p99) <= 20.0));
    }
    Row {
        section: "chat",
        what: format!(
            "/incident, {clients} clients ({committed} committed; cards done {:.1} s later)",
            backlog.as_secs_f64()
        ),
        measured: format!("{per_second:.0}/s"),
        baseline: format!("{baseline:.0}/s pgbench"),
        ratio: Some(ratio),
        latency: Some((measured.p50, measured.p99)),
        goals,
    }
}

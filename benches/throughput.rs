//! End-to-end command throughput against the raw database's limit.
//!
//! Drives incident creation and updates (notes) through the real engine
//! with 1 and 16 concurrent users, then has `pgbench` run the equivalent
//! raw transactions (the same rows: a ticket, its incident details and one
//! timeline event; or a locked ticket update plus one timeline event) at the
//! same concurrency against the same database, and prints both and their
//! ratio.
//!
//! `cargo bench --bench throughput` (DATABASE_URL names the server; the
//! benchmark uses its own database `itsm_bench`; BENCH_SECONDS sets each
//! phase's length, default 10).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::process::Command as Process;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use itsm_bot::app::App;
use itsm_bot::commands::reply::Outcome;
use itsm_bot::commands::Inbound;
use itsm_bot::config::Config;
use itsm_bot::domain::UserId;

#[path = "common/mod.rs"]
mod common;
use common::machine;
use sqlx::Connection;

const DATABASE: &str = "itsm_bench";

// pgbench reads `:name` as a variable, so the actor `shell:bench` is spelled
// with chr(58) for its colon.
const CREATE_SQL: &str = "BEGIN;
WITH ticket AS (
  INSERT INTO tickets (kind, number, title, description, status, priority, service_id, reporter,
                       origin_platform, origin_channel, origin_thread, origin_message, created_at, updated_at)
  VALUES ('incident', nextval('incident_number_seq'), 'Bench incident', '', 'new', 3, NULL, 'shell' || chr(58) || 'bench',
          'shell', 'bench', NULL, NULL, now(), now())
  RETURNING id
), details AS (
  INSERT INTO incidents (ticket_id, impact, urgency) SELECT id, 'medium', 'medium' FROM ticket
)
INSERT INTO ticket_events (ticket_id, at, actor, action, body)
SELECT id, now(), 'shell' || chr(58) || 'bench', 'created', 'P3 · Bench incident' FROM ticket;
COMMIT;
";

const NOTE_SQL: &str = "\\set n random(1, :maxn)
BEGIN;
SELECT t.id FROM tickets t JOIN incidents i ON i.ticket_id = t.id
 WHERE t.kind = 'incident' AND t.number = :n FOR UPDATE OF t, i;
UPDATE tickets SET updated_at = now() WHERE kind = 'incident' AND number = :n;
INSERT INTO ticket_events (ticket_id, at, actor, action, body)
SELECT id, now(), 'shell' || chr(58) || 'bench', 'note', 'bench note' FROM tickets WHERE kind = 'incident' AND number = :n;
COMMIT;
";

struct Measured {
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

fn main() -> anyhow::Result<()> {
    let seconds: u64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let server = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let base = server
        .rsplit_once('/')
        .map_or(server.as_str(), |(base, _)| base)
        .to_string();
    let url = format!("{base}/{DATABASE}");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let app = runtime.block_on(async {
        let mut admin = sqlx::PgConnection::connect(&server).await?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
            .execute(&mut admin)
            .await?;
        let mut config = Config::defaults()?;
        config.database.url = url.clone();
        config.database.max_connections = 20;
        // Each benchmark user sends thousands of commands a minute: measure
        // the engine, not the flood guard.
        config.limits.commands_per_minute = 0;
        anyhow::Ok(App::open(config).await?)
    })?;
    let pg_version: String =
        runtime.block_on(sqlx::query_scalar("SHOW server_version").fetch_one(app.store.pool()))?;

    println!("itsm-bot throughput benchmark ({seconds} s per phase)");
    println!("machine: {}", machine());
    println!(
        "PostgreSQL {pg_version} at {}",
        itsm_bot::config::redact_url(&base)
    );
    println!();
    println!(
        "{:<22} {:>5} {:>13} {:>13} {:>7} {:>9} {:>9}",
        "transaction", "users", "engine ops/s", "pgbench tps", "ratio", "p50", "p99"
    );

    let dir = tempfile::tempdir()?;
    let create_script = dir.path().join("create.sql");
    let note_script = dir.path().join("note.sql");
    std::fs::write(&create_script, CREATE_SQL)?;
    std::fs::write(&note_script, NOTE_SQL)?;
    let duration = Duration::from_secs(seconds);
    for users in [1, 16] {
        let engine = runtime.block_on(run_engine(&app, users, duration, Workload::Create))?;
        let raw = pgbench(&url, users, seconds, &create_script, None)?;
        report("create incident", users, &engine, raw);
    }
    let incidents: i64 = runtime
        .block_on(sqlx::query_scalar("SELECT count(*) FROM tickets").fetch_one(app.store.pool()))?;
    for users in [1, 16] {
        let engine =
            runtime.block_on(run_engine(&app, users, duration, Workload::Note(incidents)))?;
        let raw = pgbench(&url, users, seconds, &note_script, Some(incidents))?;
        report("note on incident", users, &engine, raw);
    }
    runtime.block_on(app.store.close());
    Ok(())
}

fn report(name: &str, users: usize, engine: &Measured, raw: f64) {
    println!(
        "{name:<22} {users:>5} {:>13.0} {raw:>13.0} {:>6.0}% {:>9} {:>9}",
        engine.per_second,
        100.0 * engine.per_second / raw,
        format!("{:.2} ms", engine.p50.as_secs_f64() * 1e3),
        format!("{:.2} ms", engine.p99.as_secs_f64() * 1e3),
    );
}

#[derive(Clone, Copy)]
enum Workload {
    Create,
    Note(i64),
}

async fn run_engine(
    app: &App,
    users: usize,
    duration: Duration,
    workload: Workload,
) -> anyhow::Result<Measured> {
    let counter = Arc::new(AtomicI64::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for user in 0..users {
        let engine = app.engine.clone();
        let counter = counter.clone();
        let who = UserId::new(itsm_bot::domain::Platform::Shell, &format!("bench{user}"))?;
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let text = match workload {
                    Workload::Create => format!("/incident Bench incident {n} P3"),
                    Workload::Note(max) => format!(
                        "/incident INC-{} note bench note {n}",
                        1 + n.rem_euclid(max)
                    ),
                };
                let begun = Instant::now();
                let reply = engine
                    .handle(&Inbound::new(who.clone(), "bench", text))
                    .await;
                latencies.push(begun.elapsed());
                if reply.outcome != Outcome::Done {
                    anyhow::bail!("benchmark command failed: {}", reply.message.plain_text());
                }
            }
            anyhow::Ok(latencies)
        });
    }
    let mut latencies = Vec::new();
    while let Some(result) = tasks.join_next().await {
        latencies.extend(result??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q) as usize];
    Ok(Measured {
        per_second: latencies.len() as f64 / elapsed,
        p50: at(0.5),
        p99: at(0.99),
    })
}

fn pgbench(
    url: &str,
    clients: usize,
    seconds: u64,
    script: &std::path::Path,
    maxn: Option<i64>,
) -> anyhow::Result<f64> {
    let mut command = Process::new("pgbench");
    command
        .args([
            "-n",
            "-M",
            "prepared",
            "-c",
            &clients.to_string(),
            "-j",
            &clients.min(2).to_string(),
            "-T",
            &seconds.to_string(),
            "-f",
        ])
        .arg(script);
    if let Some(maxn) = maxn {
        command.args(["-D", &format!("maxn={maxn}")]);
    }
    let output = command.arg(url).output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        anyhow::bail!(
            "pgbench failed: {}{}",
            stdout,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    stdout
        .lines()
        .find_map(|line| line.strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|tps| tps.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no tps in pgbench output: {stdout}"))
}

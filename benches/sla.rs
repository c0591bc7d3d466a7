//! The SLA sweep and the daily digest over a million tickets.
//!
//! Seeds 1,000,000 incidents (50,000 open, each with its SLA clock rows)
//! in its own database `itsm_bench_sla`, then times:
//! - a sweep with nothing due (the every-minute steady state),
//! - a sweep with 5,000 threshold crossings due at once (a burst),
//! - the daily digest,
//!
//! and, as baselines in the same run, raw SQL doing the least the database
//! must do for the same result: one set-based statement that claims the
//! same number of due clock rows and writes their ledger rows, and one
//! sequential pass over the incidents table.
//!
//! `cargo bench --bench sla` (DATABASE_URL names the server).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use itsm_bot::app::App;
use itsm_bot::commands::period_report;
use itsm_bot::config::Config;
use itsm_bot::domain::report::Period;
use itsm_bot::scheduler::sweep::sweep;
use sqlx::{Connection, PgPool};

#[path = "common/mod.rs"]
mod common;

const DATABASE: &str = "itsm_bench_sla";
const TICKETS: i64 = 1_000_000;
const OPEN: i64 = 50_000;
const BURST: i64 = 5_000;

fn main() -> anyhow::Result<()> {
    let server = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let base = server
        .rsplit_once('/')
        .map_or(server.as_str(), |(base, _)| base)
        .to_string();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut admin = sqlx::PgConnection::connect(&server).await?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
            .execute(&mut admin)
            .await?;
        let mut config = Config::defaults()?;
        config.database.url = format!("{base}/{DATABASE}");
        let app = App::open(config).await?;
        let pool = app.store.pool().clone();
        let version: String = sqlx::query_scalar("SHOW server_version")
            .fetch_one(&pool)
            .await?;
        println!("itsm-bot SLA benchmark: {TICKETS} tickets, {OPEN} open");
        println!("machine: {}; PostgreSQL {version}", common::machine());

        let now = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
        let seeded = Instant::now();
        seed(&pool, now).await?;
        println!("seeded in {:.1} s", seeded.elapsed().as_secs_f64());
        println!();
        println!("{:<44} {:>12}", "operation", "time");

        let quiet = now - Duration::hours(2);
        let started = Instant::now();
        let posted = sweep(&app.engine, quiet).await?;
        report("sweep, nothing due", started, posted.len());

        let started = Instant::now();
        let posted = sweep(&app.engine, now).await?;
        report(
            &format!("sweep, {BURST} crossings due"),
            started,
            posted.len(),
        );

        // Baseline: the same number of due clock rows claimed and written
        // to the ledger in one set-based statement.
        reset_burst(&pool, now).await?;
        let started = Instant::now();
        let rows = sqlx::query(
            "WITH due AS (
                SELECT ticket_id, clock, next_threshold, next_due_at FROM sla_outcomes
                 WHERE next_due_at <= $1 FOR UPDATE SKIP LOCKED
             ), advanced AS (
                UPDATE sla_outcomes o SET next_threshold = NULL, next_due_at = NULL
                  FROM due WHERE o.ticket_id = due.ticket_id AND o.clock = due.clock)
             INSERT INTO sla_notifications (ticket_id, clock, threshold, due_at, posted_at)
             SELECT ticket_id, clock, next_threshold, next_due_at, $1 FROM due ON CONFLICT DO NOTHING",
        )
        .bind(now + Duration::seconds(1))
        .execute(&pool)
        .await?
        .rows_affected();
        report(
            "baseline: raw SQL claim + ledger, same rows",
            started,
            rows as usize,
        );

        let started = Instant::now();
        let day = period_report::rolling(&app.engine, Period::Day, now).await?;
        report("daily digest", started, day.figures.opened as usize);
        let started = Instant::now();
        let month = period_report::rolling(&app.engine, Period::Month, now).await?;
        report(
            "monthly report (with previous month)",
            started,
            month.figures.opened as usize,
        );

        let started = Instant::now();
        let scanned: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM incidents WHERE resolution IS NOT NULL OR resolution IS NULL",
        )
        .fetch_one(&pool)
        .await?;
        report(
            "baseline: one pass over all incidents",
            started,
            scanned as usize,
        );
        app.store.close().await;
        anyhow::Ok(())
    })
}

fn report(name: &str, started: Instant, items: usize) {
    println!(
        "{name:<44} {:>9.1} ms   ({items} items)",
        started.elapsed().as_secs_f64() * 1e3
    );
}

/// A million incidents over the last 90 days, most resolved; the newest
/// 50,000 open with their clock rows, 5,000 of which are due at `now`.
async fn seed(pool: &PgPool, now: chrono::DateTime<Utc>) -> anyhow::Result<()> {
    let open_from = TICKETS - OPEN + 1;
    sqlx::query(
        "INSERT INTO tickets (kind, number, title, status, priority, reporter, origin_platform, origin_channel, created_at, updated_at)
         SELECT 'incident', n, 'Seeded incident ' || n,
                CASE WHEN n >= $2 THEN 'new' ELSE 'closed' END,
                1 + (n % 4)::smallint, 'shell:seed', 'shell', 'ops',
                $1 - make_interval(secs => ($3 - n) * 7.7), $1
         FROM generate_series(1, $3) AS n",
    )
    .bind(now)
    .bind(open_from)
    .bind(TICKETS)
    .execute(pool)
    .await?;
    sqlx::query("SELECT setval('incident_number_seq', $1)")
        .bind(TICKETS)
        .execute(pool)
        .await?;
    sqlx::query(
        "INSERT INTO incidents (ticket_id, impact, urgency, acknowledged_at, acknowledged_by, resolved_at, resolution, closed_at)
         SELECT id, 'medium', 'medium',
                CASE WHEN status = 'closed' THEN created_at + interval '10 minutes' END,
                CASE WHEN status = 'closed' THEN 'shell:seed' END,
                CASE WHEN status = 'closed' THEN created_at + interval '3 hours' END,
                CASE WHEN status = 'closed' THEN 'seeded' END,
                CASE WHEN status = 'closed' THEN created_at + interval '1 day' END
         FROM tickets",
    )
    .execute(pool)
    .await?;
    // Open incidents: a row per clock standing for its breach, all in the
    // future except the response clocks of the BURST oldest, which are
    // past their targets by the policy too (so the sweep posts one
    // crossing per row).
    sqlx::query(
        "INSERT INTO sla_outcomes (ticket_id, clock, target_seconds, due_at, stopped_at, met, margin_seconds,
                                   next_threshold, next_due_at)
         SELECT t.id, c.clock, 3600, t.created_at + interval '1 hour', i.resolved_at, i.resolved_at IS NOT NULL, 600,
                CASE WHEN t.status = 'new' THEN 100 END,
                CASE WHEN t.status <> 'new' THEN NULL
                     WHEN t.number < $2 + $3 AND c.clock = 'respond' THEN $1 - interval '1 minute'
                     ELSE $1 + make_interval(mins => 100 + (t.number % 600)::int) END
         FROM tickets t JOIN incidents i ON i.ticket_id = t.id, (VALUES ('respond'), ('resolve')) AS c(clock)",
    )
    .bind(now)
    .bind(open_from)
    .bind(BURST)
    .execute(pool)
    .await?;
    sqlx::query("ANALYZE").execute(pool).await?;
    Ok(())
}

/// Makes the same number of clock rows due again for the baseline.
async fn reset_burst(pool: &PgPool, now: chrono::DateTime<Utc>) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE sla_outcomes SET next_threshold = 50, next_due_at = $1
          WHERE clock = 'resolve' AND ticket_id IN (
                SELECT t.id FROM tickets t WHERE t.status = 'new' ORDER BY t.id LIMIT $2)",
    )
    .bind(now)
    .bind(BURST)
    .execute(pool)
    .await?;
    Ok(())
}

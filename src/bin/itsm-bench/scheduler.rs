//! Section 3: one SLA sweep and one daily digest over a seeded history
//! (1,000,000 incidents over 90 days, 50,000 open), in a database of the
//! section's own. Beside each, raw SQL doing the least the database must do
//! for the same result.

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use itsm_bot::app::App;
use itsm_bot::commands::period_report;
use itsm_bot::config::Config;
use itsm_bot::domain::report::{Period, Span};
use itsm_bot::scheduler::{budget, change_reminders, escalation, review_reminders, sweep::sweep};
use sqlx::PgPool;

use crate::report::{ms, Goal, Row};

/// How big the seeded history is.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    pub tickets: i64,
    pub open: i64,
}

/// Open incidents' clock rows are due at the pace six checkpoints each
/// spread over this many minutes would be, so each minute's sweep finds a
/// steady trickle due (50,000 open incidents × 6 over a week: about 30 a
/// minute; with one row per clock, the rows span a third of it).
const SPREAD_MINUTES: i64 = 7 * 24 * 60;

/// Seeds, measures, and returns the rows; `url` names the section's
/// (fresh) database.
pub async fn run(url: &str, size: Size) -> anyhow::Result<Vec<Row>> {
    let mut config = Config::defaults()?;
    config.database.url = url.to_string();
    let app = App::open(config).await?;
    let pool = app.store.pool().clone();
    let now = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).single();
    let now = now.ok_or_else(|| anyhow::anyhow!("bad seed instant"))?;
    let seeding = Instant::now();
    seed(&pool, now, size).await?;
    let seeded = seeding.elapsed();

    // The sweep the scheduler runs one minute after `now`.
    let at = now + chrono::Duration::minutes(1);
    let started = Instant::now();
    let posted = sweep(&app.engine, at).await?;
    let sweep_time = started.elapsed();
    let crossings: i64 = sqlx::query_scalar("SELECT count(*) FROM sla_notifications")
        .fetch_one(&pool)
        .await?;

    // Baseline: as many of the next crossings claimed and written to the
    // ledger in one set-based statement.
    let started = Instant::now();
    let claimed = sqlx::query(
        "WITH due AS (
            SELECT ticket_id, clock, next_threshold, next_due_at FROM sla_outcomes
             WHERE next_due_at <= $1 + interval '1 day' ORDER BY next_due_at LIMIT $2
               FOR UPDATE SKIP LOCKED
         ), advanced AS (
            UPDATE sla_outcomes o SET next_threshold = NULL, next_due_at = NULL
              FROM due WHERE o.ticket_id = due.ticket_id AND o.clock = due.clock)
         INSERT INTO sla_notifications (ticket_id, clock, threshold, due_at, posted_at)
         SELECT ticket_id, clock, next_threshold, next_due_at, $1 FROM due ON CONFLICT DO NOTHING",
    )
    .bind(at)
    .bind(crossings)
    .execute(&pool)
    .await?
    .rows_affected();
    let sweep_baseline = started.elapsed();

    // Where the sweep's time goes: each of its other checks again at the
    // same instant, as every later minute runs them with nothing new due.
    let mut parts = Vec::new();
    let started = Instant::now();
    review_reminders::remind(&app.engine, at).await?;
    parts.push(("review reminders", started.elapsed()));
    let started = Instant::now();
    change_reminders::remind(&app.engine, at).await?;
    parts.push(("change reminders", started.elapsed()));
    let started = Instant::now();
    escalation::escalate(&app.engine, at).await?;
    parts.push(("on-call escalations", started.elapsed()));
    let started = Instant::now();
    budget::warn(&app.engine, at).await?;
    parts.push(("error-budget warnings", started.elapsed()));

    let started = Instant::now();
    let span = Span::rolling(Period::Day, now, chrono_tz::Tz::UTC);
    let day = {
        let mut conn = pool.acquire().await?;
        period_report::report_with(&mut conn, span, now).await?
    };
    let digest_time = started.elapsed();
    // Where the digest's time goes: its main queries one by one.
    let mut digest_parts = Vec::new();
    {
        let mut conn = pool.acquire().await?;
        let since = now - chrono::Duration::days(1);
        let started = Instant::now();
        itsm_bot::store::reports::figures(&mut conn, &[since, now], now).await?;
        digest_parts.push(("figures", started.elapsed()));
        let started = Instant::now();
        itsm_bot::store::reports::open_by_priority(&mut conn, now, now).await?;
        digest_parts.push(("open by priority", started.elapsed()));
        let started = Instant::now();
        itsm_bot::store::reports::oldest_open(&mut conn, now, now, 5).await?;
        digest_parts.push(("oldest open", started.elapsed()));
    }
    let started = Instant::now();
    day_figures(&pool, now).await?;
    let digest_baseline = started.elapsed();
    app.store.close().await;

    let history = format!("{} tickets, {} open", size.tickets, size.open);
    Ok([
        Row {
            section: "sched",
            what: format!("seed {history}"),
            measured: format!("{:.1} s", seeded.as_secs_f64()),
            baseline: "-".into(),
            ratio: None,
            latency: None,
            goals: Vec::new(),
        },
        Row {
            section: "sched",
            what: format!("SLA sweep ({crossings} crossings, {} posts)", posted.len()),
            measured: ms(sweep_time),
            baseline: format!("{} raw SQL ({claimed})", ms(sweep_baseline)),
            ratio: Some(ratio(sweep_time, sweep_baseline)),
            latency: None,
            goals: vec![Goal::new(
                "≤ 50 ms",
                sweep_time <= Duration::from_millis(50),
            )],
        },
    ]
    .into_iter()
    .chain(
        parts
            .into_iter()
            .map(|(part, took)| part_row(format!("  of which {part} (nothing new due)"), took)),
    )
    .chain([Row {
        section: "sched",
        what: format!("daily digest ({} opened)", day.figures.opened),
        measured: ms(digest_time),
        baseline: format!("{} raw SQL", ms(digest_baseline)),
        ratio: Some(ratio(digest_time, digest_baseline)),
        latency: None,
        goals: vec![Goal::new(
            "≤ 100 ms",
            digest_time <= Duration::from_millis(100),
        )],
    }])
    .chain(
        digest_parts
            .into_iter()
            .map(|(part, took)| part_row(format!("  of which {part}"), took)),
    )
    .collect())
}

/// A row that says where part of a figure's time went.
fn part_row(what: String, took: Duration) -> Row {
    Row {
        section: "sched",
        what,
        measured: ms(took),
        baseline: "-".into(),
        ratio: None,
        latency: None,
        goals: Vec::new(),
    }
}

/// Times as a rate ratio: baseline time over measured time (1.0 = as fast
/// as the raw SQL; lower is slower).
fn ratio(measured: Duration, baseline: Duration) -> f64 {
    baseline.as_secs_f64() / measured.as_secs_f64()
}

/// The day's headline figures in one statement: opened, resolved with
/// mean time to resolve, acknowledged with mean time to acknowledge, and
/// open by priority.
async fn day_figures(pool: &PgPool, now: DateTime<Utc>) -> anyhow::Result<()> {
    let since = now - chrono::Duration::days(1);
    sqlx::query(
        "SELECT
           (SELECT count(*) FROM tickets WHERE kind = 'incident' AND created_at >= $1 AND created_at < $2),
           (SELECT count(*) || ' ' || coalesce(avg(i.resolved_at - t.created_at)::text, '')
              FROM incidents i JOIN tickets t ON t.id = i.ticket_id
              WHERE i.resolved_at >= $1 AND i.resolved_at < $2),
           (SELECT count(*) || ' ' || coalesce(avg(i.acknowledged_at - t.created_at)::text, '')
              FROM incidents i JOIN tickets t ON t.id = i.ticket_id
              WHERE i.acknowledged_at >= $1 AND i.acknowledged_at < $2),
           (SELECT string_agg(priority || '=' || n, ',') FROM (
              SELECT priority, count(*) AS n FROM tickets
              WHERE kind = 'incident' AND status NOT IN ('resolved', 'closed', 'completed', 'failed', 'rolled_back', 'rejected', 'cancelled')
              GROUP BY priority) p)",
    )
    .bind(since)
    .bind(now)
    .fetch_one(pool)
    .await?;
    Ok(())
}

/// A history of `size.tickets` incidents over the 90 days before `now`,
/// `size.open` of the newest still open. Priorities as a desk sees them (2 %
/// P1, 8 % P2, 40 % P3, 50 % P4); resolved ones with both SLA outcomes;
/// open ones with their clock rows due over the next days;
/// P1/P2 reviews already reminded (a bot that has been running). Set-based
/// statements only: a million rows in a few statements, not a million
/// round trips.
async fn seed(pool: &PgPool, now: DateTime<Utc>, size: Size) -> anyhow::Result<()> {
    // The open ones are every other incident of the newest 2 × open, so
    // the last days hold both open and resolved incidents, as on a desk.
    let open_from = size.tickets - 2 * size.open + 1;
    let step = 90.0 * 86_400.0 / size.tickets as f64;
    let mut conn = pool.acquire().await?;
    // Seeding is not the measurement: skip waiting for each commit's flush.
    sqlx::query("SET synchronous_commit = off")
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO tickets (kind, number, title, status, priority, reporter, origin_platform, origin_channel, created_at, updated_at)
         SELECT 'incident', n, 'Seeded incident ' || n,
                CASE WHEN n >= $2 AND n % 2 = 0 THEN 'new' ELSE 'closed' END,
                CASE WHEN n / 2 % 50 = 0 THEN 1 WHEN n / 2 % 10 = 1 THEN 2 WHEN n / 2 % 10 < 6 THEN 3 ELSE 4 END,
                'shell:seed', 'shell', 'ops',
                $1 - make_interval(secs => ($3 - n + 1) * $4), $1
         FROM generate_series(1, $3) AS n",
    )
    .bind(now)
    .bind(open_from)
    .bind(size.tickets)
    .bind(step)
    .execute(&mut *conn)
    .await?;
    sqlx::query("SELECT setval('incident_number_seq', $1)")
        .bind(size.tickets)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO incidents (ticket_id, impact, urgency, acknowledged_at, acknowledged_by, responded_at, resolved_at, resolution, closed_at)
         SELECT id, 'medium', 'medium',
                CASE WHEN closed THEN created_at + interval '10 minutes' END,
                CASE WHEN closed THEN 'shell:seed' END,
                CASE WHEN closed THEN created_at + interval '10 minutes' END,
                CASE WHEN closed THEN created_at + interval '3 hours' END,
                CASE WHEN closed THEN 'seeded' END,
                CASE WHEN closed THEN created_at + interval '1 day' END
         FROM (SELECT id, created_at, status = 'closed' AS closed FROM tickets) t",
    )
    .execute(&mut *conn)
    .await?;
    // Open incidents' clocks are all past their targets by the policy
    // (the seeded history is days old), so each row stands for its breach:
    // the sweep posts one crossing per row and has nothing left after it.
    sqlx::query(
        "INSERT INTO sla_outcomes (ticket_id, clock, target_seconds, due_at, stopped_at, met, margin_seconds,
                                   next_threshold, next_due_at, priority, duplicate)
         SELECT t.id, c.clock, 3600, t.created_at + interval '1 hour',
                CASE c.clock WHEN 'respond' THEN i.responded_at ELSE i.resolved_at END,
                CASE WHEN i.resolved_at IS NOT NULL THEN true END,
                CASE WHEN i.resolved_at IS NOT NULL THEN 600 END,
                CASE WHEN t.status = 'new' THEN 100 END,
                CASE WHEN t.status = 'new' THEN
                     $1 + make_interval(secs => 30 + (row_number() OVER (PARTITION BY t.status = 'new'
                                                                         ORDER BY t.id, c.clock) - 1)
                                                 * $2 * 60.0 / ($3 * 6)) END,
                t.priority, i.duplicate_of IS NOT NULL
         FROM tickets t JOIN incidents i ON i.ticket_id = t.id, (VALUES ('respond'), ('resolve')) AS c(clock)",
    )
    .bind(now)
    .bind(SPREAD_MINUTES as f64)
    .bind(size.open as f64)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO postmortem_reminders (incident_id, posted_at)
         SELECT t.id, i.resolved_at + interval '2 days'
         FROM tickets t JOIN incidents i ON i.ticket_id = t.id
         WHERE t.priority IN (1, 2) AND i.resolved_at IS NOT NULL",
    )
    .execute(&mut *conn)
    .await?;
    sqlx::raw_sql("VACUUM ANALYZE").execute(&mut *conn).await?;
    Ok(())
}

//! Prometheus metrics: what the bot did since it started (counters and a
//! latency histogram, kept in memory) and what the database holds now (open
//! tickets, pool use, read at scrape time so every replica reports the
//! same truth).

use std::time::Duration;

use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use crate::store::queue::Queue;
use crate::store::{self, Store, StoreError};

/// Why metrics could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("encoding metrics: {0}")]
    Encode(#[from] prometheus::Error),
    #[error("metrics are not UTF-8: {0}")]
    Utf8(#[from] std::string::FromUtf8Error),
}

/// The bot's metrics. Cheap to clone: the series are shared.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    commands: IntCounterVec,
    latency: HistogramVec,
    sla_notifications: IntCounterVec,
    job_runs: IntCounterVec,
    open_tickets: IntGaugeVec,
    pool: IntGaugeVec,
    outbox: IntGaugeVec,
    alerts: IntCounterVec,
    rule_runs: IntCounterVec,
    outbound_calls: IntCounterVec,
    outbound_rows: IntGaugeVec,
    queue_rows: IntGaugeVec,
    queue_age: GaugeVec,
    retention: IntCounterVec,
    rate_limited: IntCounterVec,
    coalesced: IntCounterVec,
    ready: IntGauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh set of series in a registry of their own (not the global
    /// one, so tests and several engines in one process do not collide).
    // The series' names, help texts and labels are constants checked by the
    // tests, not outside input: `expect` can only fire on a programming error.
    #[allow(clippy::expect_used)]
    pub fn new() -> Self {
        let registry = Registry::new();
        let commands = IntCounterVec::new(
            Opts::new(
                "itsm_commands_total",
                "Commands handled, by platform, command and outcome.",
            ),
            &["platform", "command", "outcome"],
        )
        .expect("static metric definition");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "itsm_command_duration_seconds",
                "Time to run a command, from parsed to answered, by platform and command.",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["platform", "command"],
        )
        .expect("static metric definition");
        let sla_notifications = IntCounterVec::new(
            Opts::new(
                "itsm_sla_notifications_total",
                "SLA warnings and breaches posted, by kind and clock.",
            ),
            &["kind", "clock"],
        )
        .expect("static metric definition");
        let job_runs = IntCounterVec::new(
            Opts::new(
                "itsm_scheduler_runs_total",
                "Scheduler job runs, by job and result.",
            ),
            &["job", "result"],
        )
        .expect("static metric definition");
        let open_tickets = IntGaugeVec::new(
            Opts::new("itsm_open_tickets", "Open tickets, by kind and priority (\"none\" for changes and problems without one)."),
            &["kind", "priority"],
        )
        .expect("static metric definition");
        let pool = IntGaugeVec::new(
            Opts::new(
                "itsm_db_pool_connections",
                "Database pool connections, by state (idle, in_use, max).",
            ),
            &["state"],
        )
        .expect("static metric definition");
        let outbox = IntGaugeVec::new(
            Opts::new("itsm_outbox_rows", "Posts owed to chat platforms, by state (pending, failed: parked after the last attempt)."),
            &["state"],
        )
        .expect("static metric definition");
        let alerts = IntCounterVec::new(
            Opts::new("itsm_alerts_total", "Alerts received by webhook, by source and what they did (opened, grouped, noted, resolved, ignored)."),
            &["source", "action"],
        )
        .expect("static metric definition");
        let rule_runs = IntCounterVec::new(
            Opts::new(
                "itsm_rule_runs_total",
                "Automation rules run on events, by rule and outcome (ok, failed).",
            ),
            &["rule", "outcome"],
        )
        .expect("static metric definition");
        let outbound_calls = IntCounterVec::new(
            Opts::new("itsm_outbound_calls_total", "Attempts at outbound calls (rule webhooks, runbooks), by source and outcome (ok, retry, failed)."),
            &["source", "outcome"],
        )
        .expect("static metric definition");
        let outbound_rows = IntGaugeVec::new(
            Opts::new(
                "itsm_outbound_call_rows",
                "Outbound calls owed, by state (pending, failed: given up after the last attempt).",
            ),
            &["state"],
        )
        .expect("static metric definition");
        let queue_rows = IntGaugeVec::new(
            Opts::new(
                "itsm_queue_rows",
                "Rows owed by the durable work queue, by queue (post: chat posts, page: paging-hook events, call: outbound calls) and state (pending, failed: parked after the last attempt).",
            ),
            &["queue", "state"],
        )
        .expect("static metric definition");
        let queue_age = GaugeVec::new(
            Opts::new(
                "itsm_queue_oldest_pending_seconds",
                "Age of the oldest row still owed by each durable work queue (post, page, call), 0 when none waits.",
            ),
            &["queue"],
        )
        .expect("static metric definition");
        let retention = IntCounterVec::new(
            Opts::new(
                "itsm_retention_deleted_rows_total",
                "Rows deleted by the retention job, by kind (processed_inbound, delivered_posts, delivered_calls, delivered_pages, job_runs).",
            ),
            &["kind"],
        )
        .expect("static metric definition");
        let rate_limited = IntCounterVec::new(
            Opts::new(
                "itsm_platform_rate_limited_total",
                "Sends a chat platform answered with 429 (rate limited), by platform. The outbox paces itself to the platforms' documented limits, so this should stay at 0.",
            ),
            &["platform"],
        )
        .expect("static metric definition");
        let coalesced = IntCounterVec::new(
            Opts::new(
                "itsm_outbox_coalesced_total",
                "Outbox rows delivered as part of another send, by platform and how (edit: a waiting card edit folded into a later one; summary: a card post listed in a channel's summary post instead).",
            ),
            &["platform", "how"],
        )
        .expect("static metric definition");
        let ready = IntGauge::new(
            "itsm_ready",
            "1 when the database answered this scrape and its schema is current (what /readyz checks), else 0.",
        )
        .expect("static metric definition");
        for collector in [
            Box::new(commands.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(sla_notifications.clone()),
            Box::new(job_runs.clone()),
            Box::new(open_tickets.clone()),
            Box::new(pool.clone()),
            Box::new(outbox.clone()),
            Box::new(alerts.clone()),
            Box::new(rule_runs.clone()),
            Box::new(outbound_calls.clone()),
            Box::new(outbound_rows.clone()),
            Box::new(queue_rows.clone()),
            Box::new(queue_age.clone()),
            Box::new(retention.clone()),
            Box::new(rate_limited.clone()),
            Box::new(coalesced.clone()),
            Box::new(ready.clone()),
        ] {
            // Names are distinct constants; registering can only fail on a duplicate.
            let _ = registry.register(collector);
        }
        Metrics {
            registry,
            commands,
            latency,
            sla_notifications,
            job_runs,
            open_tickets,
            pool,
            outbox,
            alerts,
            rule_runs,
            outbound_calls,
            outbound_rows,
            queue_rows,
            queue_age,
            retention,
            rate_limited,
            coalesced,
            ready,
        }
    }

    /// Counts rows the retention job deleted.
    pub fn retention_deleted(&self, kind: &str, rows: u64) {
        self.retention.with_label_values(&[kind]).inc_by(rows);
    }

    /// Counts one run of an automation rule.
    pub fn rule_run(&self, rule: &str, ok: bool) {
        let outcome = if ok { "ok" } else { "failed" };
        self.rule_runs.with_label_values(&[rule, outcome]).inc();
    }

    /// Counts one attempt at an outbound call: `ok`, `retry` or `failed`.
    pub fn outbound_call(&self, source: &str, outcome: &str) {
        self.outbound_calls
            .with_label_values(&[source, outcome])
            .inc();
    }

    /// Counts a send `platform` answered with 429.
    pub fn rate_limited(&self, platform: &str) {
        self.rate_limited.with_label_values(&[platform]).inc();
    }

    /// Counts `rows` outbox rows of `platform` delivered as part of another
    /// send (`how`: `edit` or `summary`).
    pub fn coalesced(&self, platform: &str, how: &str, rows: u64) {
        if rows > 0 {
            self.coalesced
                .with_label_values(&[platform, how])
                .inc_by(rows);
        }
    }

    /// Counts one command and how long it took.
    pub fn command(&self, platform: &str, command: &str, outcome: &str, took: Duration) {
        self.commands
            .with_label_values(&[platform, command, outcome])
            .inc();
        self.latency
            .with_label_values(&[platform, command])
            .observe(took.as_secs_f64());
    }

    /// Counts an SLA warning (`threshold` < 100) or breach.
    pub fn sla_notification(&self, breach: bool, clock: &str) {
        let kind = if breach { "breach" } else { "warning" };
        self.sla_notifications
            .with_label_values(&[kind, clock])
            .inc();
    }

    /// Counts one alert from a webhook and what it did.
    pub fn alert(&self, source: &str, action: &str) {
        self.alerts.with_label_values(&[source, action]).inc();
    }

    /// Counts one run of a scheduler job.
    pub fn job_run(&self, job: &str, ok: bool) {
        let result = if ok { "ok" } else { "failed" };
        self.job_runs.with_label_values(&[job, result]).inc();
    }

    /// The metrics in Prometheus' text format, with the gauges read now.
    pub async fn render(&self, store: &Store) -> Result<String, MetricsError> {
        let pool = store.pool();
        let size = i64::from(pool.size());
        let idle = i64::try_from(pool.num_idle()).unwrap_or(i64::MAX);
        self.pool.with_label_values(&["idle"]).set(idle);
        self.pool
            .with_label_values(&["in_use"])
            .set((size - idle).max(0));
        self.pool
            .with_label_values(&["max"])
            .set(i64::from(pool.options().get_max_connections()));
        // Without the database the scrape still answers, with itsm_ready 0
        // and the in-memory series, so an alert can tell "bot down" (no
        // scrape) from "bot up, database not" — and the gauges read from
        // the database are dropped rather than left showing old values.
        match self.read_database(store).await {
            Ok(ready) => self.ready.set(i64::from(ready)),
            Err(err) => {
                tracing::warn!(error = %err, "metrics: the database did not answer");
                self.ready.set(0);
                self.open_tickets.reset();
                self.queue_rows.reset();
                self.queue_age.reset();
                self.outbox.reset();
                self.outbound_rows.reset();
            }
        }
        let mut buffer = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buffer)?;
        Ok(String::from_utf8(buffer)?)
    }
}

impl Metrics {
    /// Sets the gauges read from the database; whether its schema is current.
    async fn read_database(&self, store: &Store) -> Result<bool, StoreError> {
        let mut conn = store.acquire().await?;
        let open = store::reports::open_tickets(&mut conn).await?;
        self.open_tickets.reset();
        for (kind, priority, count) in open {
            self.open_tickets
                .with_label_values(&[kind.as_str(), priority.as_str()])
                .set(count);
        }
        for counts in store::queue::counts(&mut conn).await? {
            let (pending, failed) = (counts.pending, counts.parked);
            self.queue_rows
                .with_label_values(&[counts.queue.as_str(), "pending"])
                .set(pending);
            self.queue_rows
                .with_label_values(&[counts.queue.as_str(), "failed"])
                .set(failed);
            self.queue_age
                .with_label_values(&[counts.queue.as_str()])
                .set(counts.oldest_pending_seconds);
            // The older per-queue series stay for dashboards built on them.
            let older = match counts.queue {
                Queue::Outbox => &self.outbox,
                Queue::Calls => &self.outbound_rows,
                Queue::Paging => continue,
            };
            older.with_label_values(&["pending"]).set(pending);
            older.with_label_values(&["failed"]).set(failed);
        }
        drop(conn);
        store.ready().await
    }
}

/// The content type of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

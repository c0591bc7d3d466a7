//! Time-driven work: the SLA sweep and the digests, on cron schedules from
//! config. Every run is safe on several replicas at once: sweep work is
//! claimed with `FOR UPDATE SKIP LOCKED` behind a unique ledger, and each
//! scheduled digest is claimed once in `job_runs`.

pub mod digest;
pub mod sweep;

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;

use crate::app::Shutdown;
use crate::commands::reply::Message;
use crate::commands::Engine;
use crate::domain::channel::ChannelRef;
use crate::domain::report::Period;
use crate::store::{self, StoreError};

/// Something the scheduler posted (or, for shell channels, printed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    pub channel: ChannelRef,
    pub text: String,
}

/// Queues `text` for `channel` (chat platforms get it through the outbox;
/// shell channels only in the returned list, since no one is listening).
pub(crate) async fn post(
    conn: &mut sqlx::PgConnection,
    channel: &ChannelRef,
    thread: Option<&str>,
    message: &Message,
    ticket_id: Option<i64>,
    at: DateTime<Utc>,
) -> Result<Posted, StoreError> {
    if channel.platform != crate::domain::Platform::Shell {
        // The message keeps its blocks in the outbox, so each platform
        // renders it natively when it is delivered.
        let body =
            serde_json::to_string(message).map_err(|err| StoreError::Corrupt(err.to_string()))?;
        store::outbox::enqueue_notice(
            conn,
            channel.platform,
            &channel.channel,
            thread,
            &body,
            ticket_id,
            at,
        )
        .await?;
    }
    Ok(Posted {
        channel: channel.clone(),
        text: message.plain_text(),
    })
}

/// A job and its schedule.
struct Job {
    name: String,
    schedule: cron::Schedule,
    time_zone: Tz,
    kind: JobKind,
}

enum JobKind {
    Sweep,
    Digest(ChannelRef),
}

impl Job {
    fn next_after(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = now.with_timezone(&self.time_zone);
        self.schedule
            .after(&local)
            .next()
            .map(|at| at.with_timezone(&Utc))
    }
}

/// Runs the scheduled jobs until shutdown.
/// Where posts for shell channels go while someone is at the terminal.
pub type ShellSink = tokio::sync::mpsc::UnboundedSender<Posted>;

/// Runs the scheduled jobs until shutdown. Posts to shell channels are also
/// handed to `shell`, so a terminal session sees them inline.
pub async fn run(engine: Engine, mut shutdown: Shutdown, shell: Option<ShellSink>) {
    let config = engine.config().clone();
    let mut jobs = vec![Job {
        name: "sla_sweep".into(),
        schedule: config.scheduler.sla_sweep.schedule.clone(),
        time_zone: Tz::UTC,
        kind: JobKind::Sweep,
    }];
    for channel in &config.digest.channels {
        jobs.push(Job {
            name: format!("digest:{}", channel.channel),
            schedule: channel
                .schedule
                .as_ref()
                .unwrap_or(&config.digest.schedule)
                .schedule
                .clone(),
            time_zone: channel.time_zone.unwrap_or(config.digest.time_zone).0,
            kind: JobKind::Digest(channel.channel.clone()),
        });
    }
    let clock = engine.clock();
    loop {
        let now = clock.now();
        let Some((job, at)) = jobs
            .iter()
            .filter_map(|job| job.next_after(now).map(|at| (job, at)))
            .min_by_key(|(_, at)| *at)
        else {
            return;
        };
        let wait = (at - now).to_std().unwrap_or_default();
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = shutdown.wait() => return,
        }
        if let Err(err) = run_job(&engine, job, at, shell.as_ref()).await {
            tracing::warn!(job = %job.name, error = %err, "scheduled job failed; it runs again at its next time");
        }
    }
}

async fn run_job(
    engine: &Engine,
    job: &Job,
    scheduled_for: DateTime<Utc>,
    shell: Option<&ShellSink>,
) -> Result<(), StoreError> {
    let show = |posted: &Posted| {
        if let Some(sink) =
            shell.filter(|_| posted.channel.platform == crate::domain::Platform::Shell)
        {
            let _ = sink.send(posted.clone());
        }
    };
    match &job.kind {
        // The sweep's own ledger makes every post once; no run claim needed,
        // and a missed minute is caught up by the next.
        JobKind::Sweep => {
            let posted = sweep::sweep(engine, engine.clock().now()).await?;
            if !posted.is_empty() {
                tracing::info!(posted = posted.len(), "SLA sweep posted");
            }
            posted.iter().for_each(show);
        }
        JobKind::Digest(channel) => {
            let mut conn = engine.store().pool().acquire().await?;
            if !store::sla::claim_job_run(&mut conn, &job.name, scheduled_for, engine.clock().now())
                .await?
            {
                return Ok(());
            }
            drop(conn);
            let report = digest::daily(engine, scheduled_for, job.time_zone).await?;
            let posted = digest::publish(engine, channel, &report).await?;
            tracing::info!(channel = %posted.channel, "digest posted");
            show(&posted);
            // Mondays also bring the weekly report, the 1st the monthly one,
            // each with the trend against the period before.
            let local = scheduled_for.with_timezone(&job.time_zone);
            let mut periods = Vec::new();
            if local.weekday() == chrono::Weekday::Mon {
                periods.push(Period::Week);
            }
            if local.day() == 1 {
                periods.push(Period::Month);
            }
            for period in periods {
                let report = digest::report(engine, period, scheduled_for).await?;
                show(&digest::publish(engine, channel, &report).await?);
                tracing::info!(channel = %channel, period = period.as_str(), "report posted");
            }
        }
    }
    Ok(())
}

//! Time-driven work: the SLA sweep and the digests, on cron schedules from
//! config. Every run is safe on several replicas at once: sweep work is
//! claimed with `FOR UPDATE SKIP LOCKED` behind a unique ledger, and each
//! scheduled digest is claimed once in `job_runs`.

pub mod budget;
pub mod change_reminders;
pub mod digest;
pub mod escalation;
pub mod request_clocks;
pub mod request_reminders;
pub mod retention;
pub mod review_reminders;
pub mod sweep;
pub mod triage;

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;

use crate::commands::notice::{post, Posted};
use crate::commands::Engine;
use crate::domain::channel::ChannelRef;
use crate::domain::report::{Period, Span};
use crate::lifecycle::Shutdown;
use crate::store::{self, StoreError};

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
    Retention,
    Triage,
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
    if let Ok(schedule) = triage::SCHEDULE.parse::<cron::Schedule>() {
        jobs.push(Job {
            name: "triage_training".into(),
            schedule,
            time_zone: Tz::UTC,
            kind: JobKind::Triage,
        });
    }
    if config.retention.enabled {
        jobs.push(Job {
            name: "retention".into(),
            schedule: config.retention.schedule.schedule.clone(),
            time_zone: Tz::UTC,
            kind: JobKind::Retention,
        });
    }
    for channel in &config.digest.channels {
        jobs.push(Job {
            name: format!("digest:{}", channel.channel),
            schedule: channel
                .schedule
                .as_ref()
                .unwrap_or(&config.digest.schedule)
                .schedule
                .clone(),
            time_zone: config.digest_zone(&channel.channel),
            kind: JobKind::Digest(channel.channel.clone()),
        });
    }
    let clock = engine.clock();
    // Each job keeps its own next time, advanced only after it ran, so jobs
    // due at the same instant (the sweep and a 09:00 digest) all run.
    let start = clock.now();
    let mut next: Vec<Option<DateTime<Utc>>> =
        jobs.iter().map(|job| job.next_after(start)).collect();
    loop {
        let Some(at) = next.iter().flatten().min().copied() else {
            return;
        };
        let wait = (at - clock.now()).to_std().unwrap_or_default();
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = shutdown.wait() => return,
        }
        for (job, due) in jobs.iter().zip(next.iter_mut()) {
            let Some(scheduled_for) = *due else { continue };
            if scheduled_for > at {
                continue;
            }
            let result = run_job(&engine, job, scheduled_for, shell.as_ref()).await;
            let kind = match job.kind {
                JobKind::Sweep => "sweep",
                JobKind::Digest(_) => "digest",
                JobKind::Retention => "retention",
                JobKind::Triage => "triage_training",
            };
            engine.metrics().job_run(kind, result.is_ok());
            if let Err(err) = result {
                tracing::warn!(job = %job.name, error = %err, "scheduled job failed");
            }
            *due = job.next_after(scheduled_for.max(clock.now()));
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
        // Deleting is idempotent: replicas running it together are fine.
        JobKind::Retention => {
            let pruned = retention::prune(
                engine.store(),
                &engine.config().retention,
                engine.clock().now(),
                retention::BATCH,
                Some(engine.metrics()),
            )
            .await?;
            let total: u64 = pruned.iter().map(|(_, rows)| rows).sum();
            if total > 0 {
                let detail: Vec<String> = pruned
                    .iter()
                    .filter(|(_, rows)| *rows > 0)
                    .map(|(kind, rows)| format!("{}={rows}", kind.as_str()))
                    .collect();
                tracing::info!(deleted = total, detail = %detail.join(" "), "retention pruned old rows");
            }
        }
        JobKind::Triage => {
            let trained = triage::run(engine, scheduled_for, engine.clock().now()).await?;
            if trained.added > 0 {
                tracing::info!(
                    added = trained.added,
                    total = trained.total,
                    "triage model trained"
                );
            }
        }
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
            // Claim, build and queue in one transaction: if anything fails
            // the claim rolls back with it and the next replica (or the
            // next minute's retry) posts it.
            let mut tx = engine.store().begin().await?;
            let now = engine.clock().now();
            if !store::sla::claim_job_run(&mut tx, &job.name, scheduled_for, now).await? {
                return Ok(());
            }
            let local = scheduled_for.with_timezone(&job.time_zone);
            let mut periods = vec![Period::Day];
            // The weekly and monthly reports go out with the first digest of
            // their week or month, whichever day that is.
            let week = format!(
                "{}:week:{}-W{:02}",
                job.name,
                local.iso_week().year(),
                local.iso_week().week()
            );
            if store::sla::claim_job_run(&mut tx, &week, scheduled_for, now).await?
                && store::sla::first_claim(&mut tx, &week).await?
            {
                periods.push(Period::Week);
            }
            let month = format!("{}:month:{}-{:02}", job.name, local.year(), local.month());
            if store::sla::claim_job_run(&mut tx, &month, scheduled_for, now).await?
                && store::sla::first_claim(&mut tx, &month).await?
            {
                periods.push(Period::Month);
            }
            let mut posted = Vec::new();
            // Each report is of the complete calendar period before the
            // digest (yesterday, last week, last month), as of its end.
            let yesterday = local.date_naive().pred_opt().unwrap_or(local.date_naive());
            for period in periods {
                let span = Span::calendar(period, yesterday, job.time_zone);
                let report =
                    crate::commands::period_report::report_with(&mut tx, span, now).await?;
                posted.push(
                    post(
                        &mut tx,
                        channel,
                        None,
                        &crate::commands::period_report::message(&report),
                        None,
                        now,
                    )
                    .await?,
                );
            }
            tx.commit().await?;
            engine.outbox_signal().notify_waiters();
            for item in &posted {
                tracing::info!(channel = %item.channel, "digest posted");
                show(item);
            }
        }
    }
    Ok(())
}

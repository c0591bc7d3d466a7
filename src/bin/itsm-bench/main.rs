//! `itsm-bench`: the benchmark harness (issue 12). One command starts what
//! it needs — a fresh database, a fake Slack, `itsm-bot serve` in Slack HTTP
//! mode — measures chat command throughput and latency, alert ingestion,
//! the scheduler over a million tickets and the process itself, each beside
//! a raw baseline from the same run, prints one table and drops its
//! databases. `--quick` runs every measurement briefly (CI).
//!
//! `cargo run --release --bin itsm-bench -- all` (DATABASE_URL names the
//! PostgreSQL server; default postgres://postgres@127.0.0.1:5432/postgres).

// The benchmark harness is a developer tool that stops at the first
// surprise: a panic there is a failed run, not a lost command.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod alerts;
mod bot;
mod chat;
mod fake_slack;
mod http;
mod load;
mod machine;
mod pgbench;
mod process;
mod report;
mod scheduler;
mod sign;
mod storm;
mod triage;

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, Subcommand};
use sqlx::{Connection, PgConnection, PgPool};

use crate::bot::Bot;
use crate::load::Budget;
use crate::report::{mb, ms, Goal, Row};

/// itsm-bot's benchmark harness.
#[derive(Debug, Parser)]
#[command(about)]
struct Cli {
    #[command(subcommand)]
    command: Section,
    /// Run every measurement briefly (seconds, thousands of tickets): proves
    /// the harness works, measures nothing worth keeping.
    #[arg(long, global = true)]
    quick: bool,
    /// Keep the databases at the end (their names are printed), to look
    /// into them, e.g. with EXPLAIN ANALYZE, and the work directory (the
    /// pgbench scripts, the bot's configuration and log), to run a baseline
    /// again by hand; remove both by hand afterwards.
    #[arg(long, global = true)]
    keep: bool,
    /// The PostgreSQL server; the harness creates and drops its own databases there.
    #[arg(
        long,
        global = true,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    database_url: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Subcommand)]
enum Section {
    /// Every section.
    All,
    /// Process start, memory and `say` (starts the bot).
    Process,
    /// Chat command throughput and latency (starts the bot).
    Chat,
    /// Alert ingestion (starts the bot).
    Alerts,
    /// SLA sweep and daily digest over a seeded history.
    Scheduler,
    /// Triage: service suggestion accuracy, duplicate detection and the
    /// time suggestions add to a report, over a labelled history.
    Triage,
    /// An alert storm under Slack's rate limits: 5,000 alerts in 10 s over
    /// 20 services and 3 channels (starts its own bot).
    Storm,
}

impl Section {
    fn includes(self, other: Section) -> bool {
        self == Section::All || self == other
    }
}

/// How long and how big each measurement is.
struct Plan {
    load: Budget,
    history: scheduler::Size,
    starts: usize,
    says: usize,
    settle: Duration,
    triage: triage::Size,
    storm: storm::Size,
}

impl Plan {
    fn new(quick: bool) -> Plan {
        if quick {
            Plan {
                load: Budget {
                    time: Duration::from_secs(1),
                    requests: 300,
                },
                history: scheduler::Size {
                    tickets: 20_000,
                    open: 1_000,
                },
                starts: 1,
                says: 1,
                settle: Duration::from_millis(200),
                triage: triage::Size {
                    history: 20_000,
                    held_out: 300,
                    live: 24,
                    timed: 200,
                    knn_timed: 20,
                },
                storm: storm::Size {
                    alerts: 500,
                    over: Duration::from_secs(2),
                },
            }
        } else {
            Plan {
                load: Budget {
                    time: Duration::from_secs(10),
                    requests: 500_000,
                },
                history: scheduler::Size {
                    tickets: 1_000_000,
                    open: 50_000,
                },
                starts: 5,
                says: 5,
                settle: Duration::from_secs(3),
                triage: triage::Size {
                    history: 1_000_000,
                    held_out: 2_000,
                    live: 96,
                    timed: 1_000,
                    knn_timed: 20,
                },
                storm: storm::Size {
                    alerts: 5_000,
                    over: Duration::from_secs(10),
                },
            }
        }
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let started = Instant::now();
    let plan = Plan::new(cli.quick);
    let base = cli
        .database_url
        .rsplit_once('/')
        .map_or(cli.database_url.as_str(), |(base, _)| base)
        .to_string();
    let id = std::process::id();
    let databases = [
        format!("itsm_bench_{id}"),
        format!("itsm_bench_sched_{id}"),
        format!("itsm_bench_triage_{id}"),
        format!("itsm_bench_storm_{id}"),
    ];
    let work = std::env::temp_dir().join(format!("itsm-bench-{id}"));
    std::fs::create_dir_all(&work)?;
    let mut admin = PgConnection::connect(&cli.database_url)
        .await
        .context("connecting to DATABASE_URL")?;
    for database in &databases {
        sqlx::query(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
            .execute(&mut admin)
            .await?;
        sqlx::query(&format!("CREATE DATABASE {database}"))
            .execute(&mut admin)
            .await?;
    }
    let version: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(&mut admin)
        .await?;
    println!(
        "itsm-bench{}: {}",
        if cli.quick { " --quick" } else { "" },
        machine::describe()
    );
    println!(
        "PostgreSQL {version}; load average at start {}",
        machine::load()
    );

    let urls = databases
        .clone()
        .map(|database| format!("{base}/{database}"));
    let result = measure(&cli, &plan, &urls, &work).await;

    // Whatever happened, leave nothing behind (unless asked to).
    if cli.keep {
        println!(
            "kept: {}, and the scripts, configuration and bot log in {}",
            databases.join(", "),
            work.display()
        );
    }
    for database in databases.iter().filter(|_| !cli.keep) {
        if let Err(err) = sqlx::query(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
            .execute(&mut admin)
            .await
        {
            eprintln!("could not drop {database}: {err}");
        }
    }
    let rows = match result {
        Ok(rows) => rows,
        Err(err) => {
            eprintln!("bot log kept at {}", work.join("bot.log").display());
            return Err(err);
        }
    };
    if !cli.keep {
        let _ = std::fs::remove_dir_all(&work);
    }
    println!();
    report::print(&rows);
    println!();
    let missed = rows
        .iter()
        .flat_map(|row| &row.goals)
        .filter(|goal| !goal.met)
        .count();
    println!(
        "{} goals met, {missed} missed; {:.0} s in all; load average at end {}",
        rows.iter().map(|row| row.goals.len()).sum::<usize>() - missed,
        started.elapsed().as_secs_f64(),
        machine::load()
    );
    Ok(())
}

/// Runs the chosen sections and returns their rows.
async fn measure(
    cli: &Cli,
    plan: &Plan,
    [url, scheduler_url, triage_url, storm_url]: &[String; 4],
    work: &Path,
) -> anyhow::Result<Vec<Row>> {
    let section = cli.command;
    let mut rows = Vec::new();
    if section.includes(Section::Process)
        || section.includes(Section::Chat)
        || section.includes(Section::Alerts)
    {
        rows.extend(with_bot(section, plan, url, work).await?);
    }
    if section.includes(Section::Scheduler) {
        rows.extend(scheduler::run(scheduler_url, plan.history).await?);
    }
    if section.includes(Section::Storm) {
        rows.extend(storm::run(storm_url, work, plan.storm).await?);
    }
    if section.includes(Section::Triage) {
        rows.extend(triage::run(triage_url, plan.triage).await?);
    }
    Ok(rows)
}

/// The sections that talk to a running `itsm-bot serve`.
async fn with_bot(
    section: Section,
    plan: &Plan,
    url: &str,
    work: &Path,
) -> anyhow::Result<Vec<Row>> {
    let slack = fake_slack::FakeSlack::start().await?;
    let secret = sign::bench_secret("bench-signing");
    let hooks_token = sign::bench_secret("bench-hooks");
    let config = work.join("bench.toml");
    std::fs::write(&config, BOT_CONFIG)?;
    let bot = Bot {
        binary: bot::locate()?,
        config,
        env: vec![
            ("DATABASE_URL".into(), url.to_string()),
            ("ITSM__SLACK__API_URL".into(), slack.api_url()),
            (
                "ITSM__SLACK__BOT_TOKEN".into(),
                "xoxb-bench-bot-token".into(),
            ),
            ("ITSM__SLACK__SIGNING_SECRET".into(), secret.clone()),
            ("ITSM__HOOKS__TOKEN".into(), hooks_token.clone()),
        ],
        log: work.join("bot.log"),
    };
    bot.migrate()?;
    let scripts = work.to_path_buf();
    // The raw-SQL baselines run with the session settings the bot uses, so
    // both sides are planned alike and neither pays for compiling.
    let options: sqlx::postgres::PgConnectOptions = url.parse()?;
    let pool = PgPool::connect_with(options.options(itsm_bot::store::SESSION_SETTINGS)).await?;
    let mut rows = Vec::new();

    // Start to ready, with migrations applied: the last start stays up.
    let mut starts = Vec::new();
    let mut server = None;
    for run in 0..plan.starts {
        let mut started = bot.serve(free_port()?)?;
        starts.push(started.wait_ready(Duration::from_secs(30)).await?);
        if run + 1 < plan.starts {
            started.stop()?;
        } else {
            server = Some(started);
        }
    }
    let server = server.context("no server started")?;
    starts.sort_unstable();
    let start = starts[starts.len() / 2];
    tokio::time::sleep(plan.settle).await;
    let idle = server.memory()?.rss;

    let mut peak = None;
    if section.includes(Section::Chat) {
        let (chat_rows, chat_peak) = chat::run(&chat::Setup {
            server: &server,
            pool: &pool,
            url,
            scripts: &scripts,
            secret: &secret,
            response_url: format!("{}/response", slack.api_url()),
            budget: plan.load,
        })
        .await?;
        rows.extend(chat_rows);
        peak = Some(chat_peak);
    }
    if section.includes(Section::Alerts) {
        rows.extend(alerts::run(server.port, &pool, url, &scripts, &hooks_token, plan.load).await?);
    }
    server.stop()?;

    if section.includes(Section::Process) {
        bot::settle(&pool).await?;
        let script = scripts.join("say_baseline.sql");
        std::fs::write(&script, chat::CREATE_SQL.replace("chr(58)", "':'"))?;
        let say = process::median(plan.says, || bot.say("bench", "/incident Say bench P3"))?;
        let say_baseline = process::median(plan.says, || process::script(url, &script))?;
        let start_baseline = process::median(plan.starts, || process::select_one(url))?;
        let client_rss = process::idle_client_rss(url)?;
        rows.push(Row {
            section: "process",
            what: format!("start to /readyz 200 (median of {})", plan.starts),
            measured: ms(start),
            baseline: format!("{} psql SELECT 1", ms(start_baseline)),
            ratio: None,
            latency: None,
            goals: vec![Goal::new("≤ 200 ms", start <= Duration::from_millis(200))],
        });
        rows.push(Row {
            section: "process",
            what: "RSS idle".into(),
            measured: mb(idle),
            baseline: format!("{} idle psql", mb(client_rss)),
            ratio: None,
            latency: None,
            goals: vec![Goal::new("≤ 25 MB", idle <= 25_000_000)],
        });
        if let Some(peak) = peak {
            rows.push(Row {
                section: "process",
                what: "RSS peak under 8 clients".into(),
                measured: mb(peak),
                baseline: format!("{} idle", mb(idle)),
                ratio: None,
                latency: None,
                goals: vec![Goal::new("≤ 64 MB", peak <= 64_000_000)],
            });
        }
        rows.push(Row {
            section: "process",
            what: format!("itsm-bot say, one /incident (median of {})", plan.says),
            measured: ms(say),
            baseline: format!("{} psql same rows", ms(say_baseline)),
            ratio: None,
            latency: None,
            goals: vec![Goal::new("≤ 50 ms", say <= Duration::from_millis(50))],
        });
    }
    pool.close().await;
    if slack.calls() == 0 {
        eprintln!("note: the bot made no Slack Web API calls");
    }
    // The fake holds the bot to Slack's documented limits; the outbox
    // paces itself to stay under them, so this should say 0.
    eprintln!(
        "Slack Web API: {} calls, {} answered 429 (rate limited)",
        slack.calls(),
        slack.rate_limited()
    );
    Ok(rows)
}

/// The bot's configuration on top of config/default.toml: Slack in HTTP
/// mode, no terminal, incidents from alerts posted to a Slack channel, one
/// incident per alert with the storm guard off (section 2 measures opening
/// an incident per new alert against pgbench writing those rows; grouping
/// and storms are measured on their own). Everything else (pool size,
/// flood guard, scheduler, logging) is the shipped default.
const BOT_CONFIG: &str = r#"
[shell]
enabled = false

[slack]
mode = "http"

[hooks]
channel = "slack:C0BENCH"
group_by = "fingerprint"
storm_threshold = 0
"#;

/// A port nobody listens on right now.
pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

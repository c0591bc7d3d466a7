//! The `itsm-bot` binary: the command line over the library.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use itsm_bot::app::{self, App};
use itsm_bot::chat::shell::{self, ShellSession};
use itsm_bot::commands::reply::Outcome;
use itsm_bot::commands::Inbound;
use itsm_bot::config::Config;
use itsm_bot::domain::moment::Reader;
use itsm_bot::domain::UserId;
use itsm_bot::lifecycle::Shutdown;
use itsm_bot::store::Store;
use itsm_bot::telemetry;

/// itsm-bot: an IT service management bot for Slack, Discord and the shell.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Configuration file whose keys override config/default.toml.
    #[arg(long, global = true, env = "ITSM_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply migrations, then run the adapters and the HTTP server until SIGINT/SIGTERM (the default).
    Serve,
    /// Create the database if missing, apply migrations, and exit.
    Migrate,
    /// Chat with the bot on the terminal.
    Shell {
        /// Who you are (default: $USER).
        #[arg(long)]
        user: Option<String>,
        /// The channel you talk in (default: shell.channel).
        #[arg(long)]
        channel: Option<String>,
    },
    /// Run one chat line and print the reply; exit 0 when done, 1 when refused, 2 on a configuration or database error.
    Say {
        /// Who says it: a shell user name, or platform:id.
        #[arg(long)]
        user: Option<String>,
        /// The channel it is said in (default: shell.channel).
        #[arg(long)]
        channel: Option<String>,
        /// The chat line, e.g. `/incident VPN down P2`.
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        text: Vec<String>,
    },
    /// Check the configuration (rules, runbooks, services, schedules) without starting anything; exit 0 when it is valid, 2 when not.
    CheckConfig {
        /// Also try each configured part — the database and its migrations, Slack, Discord, the hosts of outbound calls — and print one verdict per part; exit 1 when any failed.
        #[arg(long)]
        connect: bool,
    },
    /// Slack setup helpers.
    Slack {
        #[command(subcommand)]
        command: SlackCommand,
    },
    /// Discord setup helpers.
    Discord {
        #[command(subcommand)]
        command: DiscordCommand,
    },
    /// Run every time-driven check once (SLA warnings and breaches), now or as if at --at, and print what was posted.
    Sweep {
        /// The instant to sweep as if it were now (RFC 3339, e.g. 2026-11-25T09:12:00Z).
        #[arg(long)]
        at: Option<chrono::DateTime<chrono::FixedOffset>>,
    },
    /// Print (or post) the daily digest for a channel.
    Digest {
        /// The channel: slack:C…, discord:…, or a shell channel name.
        #[arg(long)]
        channel: String,
        /// The calendar day to report on, as of its end (in the channel's time zone); default: yesterday.
        #[arg(long)]
        date: Option<chrono::NaiveDate>,
        /// Post it to the channel instead of only printing it.
        #[arg(long)]
        post: bool,
    },
}

#[derive(Debug, Subcommand)]
enum SlackCommand {
    /// Print the Slack app manifest (JSON) for the commands, shortcut, events and scopes the bot handles: Socket Mode, or HTTP mode with --http.
    Manifest {
        /// HTTP mode: the public https base URL Slack sends requests to (e.g. https://itsm.example.org); request URLs are <URL>/slack/commands, /slack/interactions and /slack/events.
        #[arg(long, value_name = "URL")]
        http: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum DiscordCommand {
    /// Print the OAuth2 URL that adds the bot to a server, with the scopes and permissions it uses (needs discord.application_id).
    InviteUrl,
}

/// Exit code for configuration and database errors.
const EXIT_SETUP: u8 = 2;

fn main() -> ExitCode {
    // `--version` names the schema this binary needs as well, so an operator
    // can compare it with the database's before an upgrade or a rollback.
    // clap wants a `'static` string; this one is built once per process.
    let version: &'static str = Box::leak(
        format!(
            "{} (database schema {})",
            env!("CARGO_PKG_VERSION"),
            itsm_bot::store::schema_version()
        )
        .into_boxed_str(),
    );
    let cli = match Cli::from_arg_matches(&Cli::command().version(version).get_matches()) {
        Ok(cli) => cli,
        Err(err) => err.exit(),
    };
    // The manifest depends on the code only, not on any configuration.
    if let Some(Command::Slack {
        command: SlackCommand::Manifest { http },
    }) = &cli.command
    {
        return match itsm_bot::chat::slack::manifest::manifest(http.as_deref()) {
            Ok(manifest) => match serde_json::to_string_pretty(&manifest) {
                Ok(text) => {
                    // Written, not println!: a closed pipe (`| head`) is
                    // not worth a panic.
                    let _ = writeln!(std::io::stdout(), "{text}");
                    ExitCode::SUCCESS
                }
                Err(err) => {
                    eprintln!("itsm-bot: {err}");
                    ExitCode::from(EXIT_SETUP)
                }
            },
            Err(err) => {
                eprintln!("itsm-bot: --http: {err}");
                ExitCode::from(EXIT_SETUP)
            }
        };
    }
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("itsm-bot: {err}");
            return ExitCode::from(EXIT_SETUP);
        }
    };
    // After loading: `log.format` decides the shape of every line.
    telemetry::init(config.log.format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("itsm-bot: cannot start the async runtime: {err}");
            return ExitCode::from(EXIT_SETUP);
        }
    };
    let code = match runtime.block_on(run(cli.command.unwrap_or(Command::Serve), config)) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("itsm-bot: {err:#}");
            EXIT_SETUP
        }
    };
    // A blocking read of standard input may still be parked in the runtime;
    // exiting here keeps shutdown from waiting for a key press.
    std::process::exit(i32::from(code))
}

async fn run(command: Command, config: Config) -> anyhow::Result<u8> {
    match command {
        Command::Migrate => {
            Store::open(&config.database)
                .await
                .context("migrating the database")?;
            println!("database is up to date");
            Ok(0)
        }
        Command::Serve => serve(config).await,
        Command::CheckConfig { connect } => {
            print!("{}", check_config(&config));
            if !connect {
                return Ok(0);
            }
            let verdicts = itsm_bot::connect::check(&config).await;
            for verdict in &verdicts {
                println!("{}", verdict.line());
            }
            let failed = verdicts.iter().filter(|v| !v.ok).count();
            if failed > 0 {
                println!("{failed} part(s) failed");
                return Ok(1);
            }
            println!("every configured part answers");
            Ok(0)
        }
        Command::Slack {
            command: SlackCommand::Manifest { .. },
        } => unreachable_manifest(),
        Command::Discord {
            command: DiscordCommand::InviteUrl,
        } => {
            let Some(id) = config.discord.application_id else {
                anyhow::bail!(
                    "discord.application_id is not set: copy the Application ID from the Discord developer portal (your application → General Information) into discord.application_id in the config file, or set ITSM__DISCORD__APPLICATION_ID"
                );
            };
            println!("{}", itsm_bot::chat::discord::invite::invite_url(id));
            Ok(0)
        }
        Command::Shell { user, channel } => {
            let session = session(&config, user, channel, true)?;
            let scheduled = config.scheduler.enabled;
            let app = App::open(config).await.context("opening the database")?;
            let (trigger, stop) = Shutdown::new();
            if scheduled {
                // The shell runs the scheduler too, so warnings and digests
                // for shell channels appear inline.
                let (sink, posts) = tokio::sync::mpsc::unbounded_channel();
                shell::print_posts(posts);
                tokio::spawn(itsm_bot::scheduler::run(
                    app.engine.clone(),
                    stop.clone(),
                    Some(sink),
                ));
            }
            let input = tokio::io::BufReader::new(tokio::io::stdin());
            shell::run(&app.engine, &session, input, tokio::io::stdout(), stop).await?;
            trigger.trigger();
            app.store.close().await;
            Ok(0)
        }
        Command::Sweep { at } => {
            let zone = config.locale.zone();
            let app = App::open(config).await.context("opening the database")?;
            let at = at.map_or_else(chrono::Utc::now, |at| at.with_timezone(&chrono::Utc));
            let posted = itsm_bot::scheduler::sweep::sweep(&app.engine, at)
                .await
                .context("sweeping")?;
            // The triage model learns what was resolved up to then too.
            itsm_bot::scheduler::triage::train(&app.engine, at)
                .await
                .context("training triage")?;
            if posted.is_empty() {
                println!(
                    "No SLA warnings or breaches due at {}.",
                    at.with_timezone(&zone).format("%Y-%m-%d %H:%M:%S %Z")
                );
            }
            for item in posted {
                println!("[{}] {}", item.channel, item.text.replace('\n', " "));
            }
            app.store.close().await;
            Ok(0)
        }
        Command::Digest {
            channel,
            date,
            post,
        } => {
            use itsm_bot::commands::period_report;
            use itsm_bot::scheduler::digest;
            let channel: itsm_bot::domain::channel::ChannelRef = channel
                .parse()
                .with_context(|| format!("--channel {channel}"))?;
            let time_zone = config.digest_zone(&channel);
            let app = App::open(config).await.context("opening the database")?;
            // Without --date: the day a digest posted now reports, yesterday.
            let date = date.unwrap_or_else(|| {
                let today = app
                    .engine
                    .clock()
                    .now()
                    .with_timezone(&time_zone)
                    .date_naive();
                today.pred_opt().unwrap_or(today)
            });
            let report = period_report::for_date(&app.engine, date, time_zone)
                .await
                .context("building the digest")?;
            println!("{}", period_report::message(&report).plain_text());
            if post {
                let posted = digest::publish(&app.engine, &channel, &report)
                    .await
                    .context("posting the digest")?;
                println!("(posted to {})", posted.channel);
            }
            app.store.close().await;
            Ok(0)
        }
        Command::Say {
            user,
            channel,
            text,
        } => {
            let session = session(&config, user, channel, false)?;
            let app = App::open(config).await.context("opening the database")?;
            let inbound = Inbound::new(session.user, session.channel, text.join(" "));
            let reply = app.engine.handle(&inbound).await;
            // A one-shot process sends the calls its command queued (rule
            // webhooks, a runbook) before it exits, and shows their answers.
            let results = flush_calls(&app.engine).await;
            // Times in the person's own zone (`/itsm timezone`), else the team's.
            let reader = Reader::Person(app.engine.reader_zone(&inbound.user).await);
            app.store.close().await;
            let text = reply.message.plain_text_for(reader);
            Ok(match reply.outcome {
                Outcome::Done => {
                    println!("{text}");
                    for posted in results {
                        println!("[{}] {}", posted.channel, posted.text.replace('\n', " "));
                    }
                    0
                }
                Outcome::Refused => {
                    println!("{}", shell::render(reply.outcome, &text));
                    1
                }
                Outcome::Unavailable => {
                    eprintln!("{}", shell::render(reply.outcome, &text));
                    EXIT_SETUP
                }
            })
        }
    }
}

/// `slack manifest` is answered in `main` before any configuration is
/// read; reaching `run` with it is a bug, reported rather than panicking.
fn unreachable_manifest() -> anyhow::Result<u8> {
    anyhow::bail!("`slack manifest` is handled before the configuration is read")
}

/// Sends the outbound calls that are due, for at most a few seconds.
async fn flush_calls(
    engine: &itsm_bot::commands::Engine,
) -> Vec<itsm_bot::commands::notice::Posted> {
    // Most commands queue no call: one cheap count spares loading the TLS
    // roots on every `say`.
    let pending = match engine.store().pool().acquire().await {
        Ok(mut conn) => itsm_bot::store::automation::has_pending(&mut conn)
            .await
            .unwrap_or(true),
        Err(_) => true,
    };
    if !pending {
        return Vec::new();
    }
    let worker = match itsm_bot::automation::CallWorker::new(engine) {
        Ok(worker) => worker,
        Err(err) => {
            eprintln!("itsm-bot: {err}");
            return Vec::new();
        }
    };
    match tokio::time::timeout(std::time::Duration::from_secs(15), worker.drain()).await {
        Ok(Ok(posted)) => posted,
        Ok(Err(err)) => {
            eprintln!("itsm-bot: sending queued calls: {err}");
            Vec::new()
        }
        Err(_) => {
            eprintln!("itsm-bot: queued calls are still being sent; `serve` will finish them");
            Vec::new()
        }
    }
}

/// What `check-config` prints for a configuration that loaded (and so is
/// valid): what it holds, and the secrets it will read that are not set.
fn check_config(config: &Config) -> String {
    let automation = &config.automation;
    let mut out = String::from("configuration is valid\n");
    out.push_str(&format!(
        "  {} service(s), {} calendar(s), {} digest channel(s)\n",
        config.services.len(),
        config.calendars.len(),
        config.digest.channels.len()
    ));
    out.push_str(&format!("  {} rule(s)\n", automation.compiled_rules.len()));
    for rule in &automation.compiled_rules {
        let actions: Vec<String> = rule.actions.iter().map(|a| a.describe()).collect();
        out.push_str(&format!(
            "    {} · on {} when {} → {}\n",
            rule.name,
            rule.on,
            rule.when.describe(),
            actions.join(", ")
        ));
    }
    out.push_str(&format!(
        "  {} runbook(s)\n",
        automation.compiled_runbooks.len()
    ));
    for runbook in &automation.compiled_runbooks {
        out.push_str(&format!(
            "    {} · role {} · {} {}{} · {}\n",
            runbook.name,
            runbook.role,
            runbook.request.method.as_str(),
            runbook.request.url,
            if runbook.approval {
                " · needs approval"
            } else {
                ""
            },
            runbook.usage()
        ));
    }
    for (owner, var) in automation.secret_envs() {
        if std::env::var_os(&var).is_none() {
            out.push_str(&format!(
                "  warning: {owner} reads ${var}, which is not set in this environment\n"
            ));
        }
    }
    out
}

async fn serve(config: Config) -> anyhow::Result<u8> {
    let shell_session = if app::wants_shell(&config) {
        Some(session(&config, None, None, true)?)
    } else {
        None
    };
    let (trigger, mut stop) = Shutdown::new();
    let on_signal = trigger.clone();
    let grace = std::time::Duration::from_secs(config.shutdown.grace_seconds);
    tokio::spawn(async move {
        app::termination_signal().await;
        tracing::info!(?grace, "signal received; shutting down");
        on_signal.stop_intake();
        // `serve` bounds its own shutdown by the grace period; this is the
        // backstop should anything still hang, and a second signal means
        // "now".
        tokio::select! {
            () = tokio::time::sleep(grace + std::time::Duration::from_secs(2)) => {
                tracing::error!("shutdown overran the grace period; exiting");
            }
            () = app::termination_signal() => {
                tracing::warn!("second signal; exiting without waiting");
            }
        }
        std::process::exit(1);
    });
    let Some(app) = App::open_patiently(config, &mut stop)
        .await
        .context("starting")?
    else {
        return Ok(0);
    };
    tracing::info!("itsm-bot serving");
    app.serve(shell_session, stop, trigger).await?;
    Ok(0)
}

fn session(
    config: &Config,
    user: Option<String>,
    channel: Option<String>,
    interactive: bool,
) -> anyhow::Result<ShellSession> {
    let name = user
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "operator".to_string());
    let channel = channel.unwrap_or_else(|| config.shell.channel.clone());
    let prompt = interactive && std::io::IsTerminal::is_terminal(&std::io::stdin());
    if name.contains(':') {
        let user: UserId = name.parse().with_context(|| format!("--user {name}"))?;
        return Ok(ShellSession {
            user,
            channel,
            prompt,
        });
    }
    ShellSession::new(&name, &channel, prompt).with_context(|| format!("--user {name}"))
}

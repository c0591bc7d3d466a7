//! The `itsm-bot` binary under test: finding it, running `migrate`, `say`
//! and `serve` as child processes, and reading a child's memory.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::http::Connection;

/// How to run `itsm-bot` against the harness's database and fake Slack.
#[derive(Clone)]
pub struct Bot {
    pub binary: PathBuf,
    pub config: PathBuf,
    pub env: Vec<(String, String)>,
    pub log: PathBuf,
}

/// The `itsm-bot` next to this binary. Under `cargo run` it is built first
/// with the same profile, so the figures are never of a stale binary.
pub fn locate() -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe().context("where is this binary?")?;
    let binary = me.with_file_name("itsm-bot");
    if let Some(cargo) = std::env::var_os("CARGO") {
        let mut build = Command::new(cargo);
        build.args(["build", "--quiet", "--bin", "itsm-bot"]);
        // `cargo run` hands this process the variables it sets for a
        // running crate (OUT_DIR, CARGO_PKG_…); passed on, they make the
        // inner build look different from the outer one and rebuild the
        // library each time. Build as from the shell instead.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if name == "OUT_DIR"
                || name.starts_with("CARGO_PKG_")
                || matches!(
                    name.as_ref(),
                    "CARGO_MANIFEST_DIR"
                        | "CARGO_MANIFEST_PATH"
                        | "CARGO_CRATE_NAME"
                        | "CARGO_BIN_NAME"
                        | "CARGO_PRIMARY_PACKAGE"
                        | "CARGO_RUSTC_CURRENT_DIR"
                )
            {
                build.env_remove(name.as_ref());
            }
        }
        if !cfg!(debug_assertions) {
            build.arg("--release");
        }
        let status = build.status().context("running cargo build for itsm-bot")?;
        if !status.success() {
            bail!("cargo build --bin itsm-bot failed");
        }
    }
    if !binary.exists() {
        bail!(
            "{} not found: build it with `cargo build --release --bins`",
            binary.display()
        );
    }
    Ok(binary)
}

impl Bot {
    fn command(&self) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .arg("--config")
            .arg(&self.config)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null());
        command
    }

    /// `itsm-bot migrate`.
    pub fn migrate(&self) -> anyhow::Result<()> {
        let output = self.command().arg("migrate").output()?;
        if !output.status.success() {
            bail!(
                "itsm-bot migrate failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(())
    }

    /// `itsm-bot say --user U -- TEXT`: its wall time, failing unless it
    /// exits 0.
    pub fn say(&self, user: &str, text: &str) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let output = self
            .command()
            .env("RUST_LOG", "warn")
            .args(["say", "--user", user, "--", text])
            .output()?;
        let took = started.elapsed();
        if !output.status.success() {
            bail!(
                "itsm-bot say failed: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(took)
    }

    /// Starts `itsm-bot serve` on `port`; its output is appended to the log.
    pub fn serve(&self, port: u16) -> anyhow::Result<Server> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let err = log.try_clone()?;
        let started = Instant::now();
        let child = self
            .command()
            .arg("serve")
            .env("ITSM__HTTP__BIND", format!("127.0.0.1:{port}"))
            .stdout(log)
            .stderr(err)
            .spawn()
            .context("spawning itsm-bot serve")?;
        Ok(Server {
            child,
            port,
            started,
            log: self.log.clone(),
        })
    }
}

/// A running `itsm-bot serve`.
pub struct Server {
    child: Child,
    pub port: u16,
    started: Instant,
    log: PathBuf,
}

impl Server {
    /// Polls `/readyz` every millisecond until it answers 200; returns the
    /// time from spawning the process.
    pub async fn wait_ready(&mut self, timeout: Duration) -> anyhow::Result<Duration> {
        loop {
            // A fresh connection each time: the listener may not exist yet.
            let mut connection = Connection::new(self.port);
            if let Ok(response) = connection.get("/readyz").await {
                if response.status == 200 {
                    return Ok(self.started.elapsed());
                }
            }
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "itsm-bot serve exited with {status}; see {}",
                    self.log.display()
                );
            }
            if self.started.elapsed() > timeout {
                bail!(
                    "itsm-bot serve not ready within {timeout:?}; see {}",
                    self.log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Resident memory now and at its peak, in bytes.
    pub fn memory(&self) -> anyhow::Result<Memory> {
        memory(self.child.id())
    }

    /// Forgets the peak so far (`echo 5 > /proc/<pid>/clear_refs`), so the
    /// next peak reading covers only what follows.
    pub fn reset_peak(&self) -> anyhow::Result<()> {
        std::fs::write(format!("/proc/{}/clear_refs", self.child.id()), "5")
            .context("resetting the peak RSS")
    }

    /// SIGTERM, then waits up to 15 s for a graceful exit before SIGKILL.
    pub fn stop(mut self) -> anyhow::Result<()> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.child.kill()?;
        self.child.wait()?;
        bail!("itsm-bot serve did not stop within 15 s of SIGTERM");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A process's resident set size now (`VmRSS`) and its peak (`VmHWM`).
#[derive(Debug, Clone, Copy)]
pub struct Memory {
    pub rss: u64,
    pub peak: u64,
}

/// Reads `/proc/<pid>/status`.
pub fn memory(pid: u32) -> anyhow::Result<Memory> {
    let status = std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let field = |name: &str| -> anyhow::Result<u64> {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kb| kb.parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .with_context(|| format!("no {name} in /proc/{pid}/status"))
    };
    Ok(Memory {
        rss: field("VmRSS:")?,
        peak: field("VmHWM:")?,
    })
}

/// Longest the bot may take to post the cards a phase left waiting.
const CARDS_DRAIN_LIMIT: Duration = Duration::from_secs(300);

/// Vacuums and analyzes the bench database before a measured phase, as
/// pgbench does before its own runs. The bench database starts empty, and
/// statements the bot prepared while a table was empty keep the plans made
/// for an empty table until statistics arrive: autovacuum analyzes within
/// a minute in service, but a 10-second phase on a fresh database would
/// otherwise be measured entirely inside that first minute (by
/// `auto_explain`: the card lease scanning every waiting row, 26 ms, and
/// the alert lookup filtering every alert, 9 ms, instead of index lookups).
///
/// Then a `CHECKPOINT`, so that what the previous phase wrote is on disk
/// before the next is timed, and the next does not pay for writing it
/// back: run 8's first try measured `say` at 219 ms right after the alert
/// phases (23 to 30 ms in a section of its own), and 32 ms once settled.
pub async fn settle(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    sqlx::raw_sql("VACUUM ANALYZE").execute(pool).await?;
    sqlx::raw_sql("CHECKPOINT").execute(pool).await?;
    Ok(())
}

/// Waits until the bot's outbox holds nothing due; how long that took.
pub async fn cards_posted(pool: &sqlx::PgPool) -> anyhow::Result<Duration> {
    let started = Instant::now();
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL",
        )
        .fetch_one(pool)
        .await?;
        if waiting == 0 {
            return Ok(started.elapsed());
        }
        if started.elapsed() > CARDS_DRAIN_LIMIT {
            bail!("{waiting} cards still waiting after {CARDS_DRAIN_LIMIT:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

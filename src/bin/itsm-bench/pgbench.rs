//! The raw baseline: `pgbench -M prepared` running a custom script at a
//! given concurrency against the harness's database.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context};

/// Where `pgbench` is: on `PATH`, else in PostgreSQL's own bin directory.
fn binary() -> std::path::PathBuf {
    if let Ok(path) = std::env::var("PGBENCH") {
        return path.into();
    }
    let on_path = std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| dir.join("pgbench").is_file())
    });
    if on_path {
        return "pgbench".into();
    }
    let mut found: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin/pgbench"))
        .filter(|path| path.is_file())
        .collect();
    found.sort();
    found.pop().unwrap_or_else(|| "pgbench".into())
}

/// Transactions per second of `script` with `clients` connections for
/// `time` (whole seconds, at least one).
pub fn tps(url: &str, script: &Path, clients: usize, time: Duration) -> anyhow::Result<f64> {
    let seconds = time.as_secs().max(1);
    let output = Command::new(binary())
        .args(["-n", "-M", "prepared", "-c", &clients.to_string()])
        .args(["-j", &clients.min(2).to_string()])
        .args(["-T", &seconds.to_string(), "-f"])
        .arg(script)
        .arg(url)
        .output()
        .context("running pgbench (install postgresql-client, or set PGBENCH)")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "pgbench failed: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    stdout
        .lines()
        .find_map(|line| line.strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|tps| tps.parse().ok())
        .with_context(|| format!("no tps in pgbench output: {stdout}"))
}

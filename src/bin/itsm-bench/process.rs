//! Section 4's baselines, from `psql`: the wall time of a client process
//! that connects and runs one statement or one transaction, and the memory
//! of an idle client session.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::bot::memory;

/// Where `psql` is: on `PATH`, else in PostgreSQL's own bin directory.
fn psql() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join("psql").is_file()));
    if on_path {
        return "psql".into();
    }
    let mut found: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin/psql"))
        .filter(|path| path.is_file())
        .collect();
    found.sort();
    found.pop().unwrap_or_else(|| "psql".into())
}

/// Wall time of `psql -X -q URL -c 'SELECT 1'`: a process that starts,
/// connects and asks once.
pub fn select_one(url: &str) -> anyhow::Result<Duration> {
    run(Command::new(psql()).args(["-X", "-q", url, "-c", "SELECT 1"]))
}

/// Wall time of `psql -X -q URL -f script`.
pub fn script(url: &str, script: &Path) -> anyhow::Result<Duration> {
    run(Command::new(psql())
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", url, "-f"])
        .arg(script))
}

fn run(command: &mut Command) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let output = command
        .stdin(Stdio::null())
        .output()
        .context("running psql")?;
    let took = started.elapsed();
    if !output.status.success() {
        bail!("psql failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    Ok(took)
}

/// Resident memory of an idle, connected `psql` session.
pub fn idle_client_rss(url: &str) -> anyhow::Result<u64> {
    let mut child = Command::new(psql())
        .args(["-X", "-q", url])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting psql")?;
    let result = (|| {
        let stdin = child.stdin.as_mut().context("psql's stdin")?;
        // Once it printed the answer, it is connected and idle.
        stdin.write_all(b"SELECT 1;\n")?;
        stdin.flush()?;
        let mut stdout = child.stdout.take().context("psql's stdout")?;
        let mut buffer = [0u8; 256];
        let _ = std::io::Read::read(&mut stdout, &mut buffer)?;
        std::thread::sleep(Duration::from_millis(100));
        Ok(memory(child.id())?.rss)
    })();
    let _ = child.kill();
    let _ = child.wait();
    result
}

/// The median of `runs` measurements.
pub fn median(
    runs: usize,
    mut measure: impl FnMut() -> anyhow::Result<Duration>,
) -> anyhow::Result<Duration> {
    let mut times = (0..runs.max(1))
        .map(|_| measure())
        .collect::<anyhow::Result<Vec<_>>>()?;
    times.sort_unstable();
    Ok(times[times.len() / 2])
}

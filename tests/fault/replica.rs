//! `itsm-bot serve` replicas as child processes, and the small HTTP client
//! the test talks to them with.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One `itsm-bot serve` process and how to start it again.
pub struct Replica {
    pub name: String,
    pub port: u16,
    env: Vec<(String, String)>,
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
    /// How many times it was started (each start appends to the same log).
    pub starts: u32,
}

impl Replica {
    /// A replica listening on `port` with `env` on top of the test's own
    /// environment; not started yet.
    pub fn new(
        name: &str,
        port: u16,
        config: &Path,
        logs: &Path,
        env: Vec<(String, String)>,
    ) -> Replica {
        Replica {
            name: name.to_string(),
            port,
            env,
            config: config.to_path_buf(),
            log: logs.join(format!("{name}.log")),
            child: None,
            starts: 0,
        }
    }

    /// Starts `itsm-bot --config … serve`; its output goes to its log file.
    pub fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open the replica's log");
        let err = log.try_clone().expect("clone the log handle");
        let child = Command::new(env!("CARGO_BIN_EXE_itsm-bot"))
            .arg("--config")
            .arg(&self.config)
            .arg("serve")
            .env("ITSM__HTTP__BIND", format!("127.0.0.1:{}", self.port))
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .expect("spawn itsm-bot serve");
        self.child = Some(child);
        self.starts += 1;
    }

    /// `kill -9`: no graceful shutdown, no chance to finish anything.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The last `lines` lines of its log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// The first `limit` lines of its log containing any of `needles`.
    pub fn log_lines(&self, needles: &[&str], limit: usize) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|line| needles.iter().any(|n| line.contains(n)))
            .take(limit)
            .map(str::to_string)
            .collect()
    }

    /// Waits until `/readyz` answers 200 (database reachable, schema current).
    pub async fn wait_ready(&self, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Ok((200, _)) = get(self.port, "/readyz").await {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} not ready within {timeout:?}; log:\n{}",
                self.name,
                self.log_tail(40)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What went wrong with an HTTP exchange.
pub type HttpError = String;

/// `GET path` on 127.0.0.1:`port`: status and body.
pub async fn get(port: u16, path: &str) -> Result<(u16, String), HttpError> {
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    exchange(port, request.into_bytes()).await
}

/// `POST path` with `body` and extra `headers` on 127.0.0.1:`port`.
pub async fn post(
    port: u16,
    path: &str,
    content_type: &str,
    headers: &[(&str, String)],
    body: &str,
) -> Result<(u16, String), HttpError> {
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    exchange(port, request.into_bytes()).await
}

/// One request on a fresh connection (`Connection: close`), read to the end.
/// The bot answers with `Content-Length`, never chunked, so the body is the
/// bytes after the headers.
async fn exchange(port: u16, request: Vec<u8>) -> Result<(u16, String), HttpError> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|err| format!("connect: {err}"))?;
    stream
        .write_all(&request)
        .await
        .map_err(|err| format!("write: {err}"))?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .await
        .map_err(|err| format!("read: {err}"))?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no complete response ({} bytes)", response.len()))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("bad status line: {head}"))?;
    Ok((status, body.to_string()))
}

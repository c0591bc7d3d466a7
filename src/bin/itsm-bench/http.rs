//! A minimal HTTP/1.1 client for 127.0.0.1: one keep-alive connection per
//! load-generating client, so the harness measures the bot rather than
//! connection setup or a client library.

use std::time::Duration;

use anyhow::{bail, Context};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The largest response the harness reads; the bot's replies are a few KiB.
const MAX_RESPONSE: usize = 1 << 20;

/// One keep-alive connection to a port on 127.0.0.1.
pub struct Connection {
    port: u16,
    stream: Option<TcpStream>,
    buffer: Vec<u8>,
}

/// A response's status and body.
pub struct Response {
    pub status: u16,
    pub body: String,
}

impl Connection {
    /// A connection to `127.0.0.1:port`, opened on first use.
    pub fn new(port: u16) -> Connection {
        Connection {
            port,
            stream: None,
            buffer: Vec::with_capacity(8192),
        }
    }

    /// `GET path`.
    pub async fn get(&mut self, path: &str) -> anyhow::Result<Response> {
        let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        self.exchange(request.as_bytes()).await
    }

    /// `POST path` with `body` and extra `headers`.
    pub async fn post(
        &mut self,
        path: &str,
        content_type: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> anyhow::Result<Response> {
        let mut request = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (name, value) in headers {
            request.push_str(name);
            request.push_str(": ");
            request.push_str(value);
            request.push_str("\r\n");
        }
        request.push_str("\r\n");
        request.push_str(body);
        self.exchange(request.as_bytes()).await
    }

    /// Sends one request and reads its response. A kept-alive connection
    /// the server closed while idle is reopened once; a failure on a fresh
    /// connection is reported, never retried (the request may have acted).
    async fn exchange(&mut self, request: &[u8]) -> anyhow::Result<Response> {
        let reused = self.stream.is_some();
        match self.try_exchange(request).await {
            Err(_) if reused => self.try_exchange(request).await,
            other => other,
        }
    }

    async fn try_exchange(&mut self, request: &[u8]) -> anyhow::Result<Response> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(("127.0.0.1", self.port))
                .await
                .with_context(|| format!("connecting to 127.0.0.1:{}", self.port))?;
            stream.set_nodelay(true)?;
            self.stream = Some(stream);
        }
        let result = self.round_trip(request).await;
        if result.is_err() {
            self.stream = None;
        }
        result
    }

    async fn round_trip(&mut self, request: &[u8]) -> anyhow::Result<Response> {
        let Some(stream) = self.stream.as_mut() else {
            bail!("not connected");
        };
        stream.write_all(request).await?;
        self.buffer.clear();
        let (head_end, content_length, close) = loop {
            if let Some(end) = find(&self.buffer, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buffer[..end]).to_ascii_lowercase();
                let length = head
                    .lines()
                    .find_map(|line| line.strip_prefix("content-length:"))
                    .and_then(|value| value.trim().parse::<usize>().ok())
                    .context("response without Content-Length")?;
                let close = head.lines().any(|line| line == "connection: close");
                break (end + 4, length, close);
            }
            read_more(stream, &mut self.buffer).await?;
        };
        if content_length > MAX_RESPONSE {
            bail!("response of {content_length} bytes is larger than the harness reads");
        }
        while self.buffer.len() < head_end + content_length {
            read_more(stream, &mut self.buffer).await?;
        }
        let status = std::str::from_utf8(&self.buffer[..head_end])
            .ok()
            .and_then(|head| head.split_whitespace().nth(1))
            .and_then(|code| code.parse().ok())
            .context("bad status line")?;
        let body =
            String::from_utf8_lossy(&self.buffer[head_end..head_end + content_length]).into_owned();
        if close {
            self.stream = None;
        }
        Ok(Response { status, body })
    }
}

async fn read_more(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> anyhow::Result<()> {
    let mut chunk = [0u8; 8192];
    let n = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut chunk))
        .await
        .context("no answer within 30 s")??;
    if n == 0 {
        bail!("connection closed mid-response");
    }
    if buffer.len() + n > MAX_RESPONSE + 8192 {
        bail!("response too large");
    }
    buffer.extend_from_slice(&chunk[..n]);
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

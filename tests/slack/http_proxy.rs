#![allow(dead_code)] // Each test binary uses a different subset of the helpers.

//! An outbound HTTP proxy on 127.0.0.1 that speaks `CONNECT` (what the
//! bot's connector sends for every proxied destination) and plain-HTTP
//! forwarding (what reqwest, serenity's client, sends for `http://`
//! destinations), relays the bytes, and records what passed through it:
//! each connection's target and the `Proxy-Authorization` it carried.

use std::sync::{Arc, Mutex, PoisonError};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One `CONNECT` the proxy saw.
#[derive(Debug, Clone)]
pub struct Tunnel {
    /// `host:port` asked for.
    pub target: String,
    /// The `Proxy-Authorization` header, if any.
    pub authorization: Option<String>,
}

/// The proxy; see the module documentation.
pub struct HttpProxy {
    port: u16,
    tunnels: Arc<Mutex<Vec<Tunnel>>>,
}

impl HttpProxy {
    /// Starts it on an unused port of 127.0.0.1.
    pub async fn start() -> HttpProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let tunnels: Arc<Mutex<Vec<Tunnel>>> = Arc::default();
        let seen = tunnels.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(client, seen.clone()));
            }
        });
        HttpProxy { port, tunnels }
    }

    /// `http://127.0.0.1:<port>`, with `userinfo@` when given.
    pub fn url(&self, userinfo: Option<&str>) -> String {
        match userinfo {
            Some(userinfo) => format!("http://{userinfo}@127.0.0.1:{}", self.port),
            None => format!("http://127.0.0.1:{}", self.port),
        }
    }

    /// Every tunnel so far.
    pub fn tunnels(&self) -> Vec<Tunnel> {
        self.tunnels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

async fn relay(mut client: TcpStream, seen: Arc<Mutex<Vec<Tunnel>>>) {
    // The request head, byte by byte up to the blank line: anything after
    // it belongs to the tunnel.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 16 * 1024 || client.read_exact(&mut byte).await.is_err() {
            return;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut lines = head.split("\r\n");
    let request = lines.next().unwrap_or_default();
    let mut parts = request.split(' ');
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return;
    };
    // CONNECT host:port, or a plain-HTTP request in absolute form
    // (`GET http://host:port/path`), which reqwest sends for http://
    // destinations and which the fakes' servers accept as it is.
    let connect = method == "CONNECT";
    let target = if connect {
        target.to_string()
    } else {
        match target
            .strip_prefix("http://")
            .and_then(|rest| rest.split('/').next())
        {
            Some(authority) => authority.to_string(),
            None => {
                let _ = client
                    .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                    .await;
                return;
            }
        }
    };
    let authorization = lines.find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("proxy-authorization")
            .then(|| value.trim().to_string())
    });
    seen.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Tunnel {
            target: target.clone(),
            authorization,
        });
    let Ok(mut upstream) = TcpStream::connect(&target).await else {
        let _ = client
            .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
            .await;
        return;
    };
    let greeting = if connect {
        client
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .await
    } else {
        upstream.write_all(head.as_bytes()).await
    };
    if greeting.is_err() {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}

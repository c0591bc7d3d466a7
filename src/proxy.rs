//! The one place outbound HTTP connections are made: every client the bot
//! builds (the Slack Web API, rule webhooks, the paging hook, runbooks)
//! connects through [`https_connector`], which honours `http.proxy`, else
//! `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY`, and `NO_PROXY` (either case, as
//! curl reads them).
//!
//! Through a proxy every destination, `http://` ones included, is reached
//! with an HTTP `CONNECT` tunnel, so TLS stays end to end and credentials
//! are sent once per connection as `Proxy-Authorization`. Proxies that
//! allow `CONNECT` only to port 443 (squid's default) need the `http://`
//! destinations on other ports in `NO_PROXY`.
//!
//! Not covered, because the libraries connect their WebSockets themselves:
//! the Slack Socket Mode WebSocket (slack-morphism) and the Discord gateway
//! (serenity). See the README, "Outbound proxy".

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper::Uri;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::config::{redact_url, ProxyUrl};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The proxy settings every outbound client shares.
#[derive(Clone)]
pub struct ProxySettings {
    matcher: Arc<Matcher>,
    /// What the proxy is, credentials hidden, for the log.
    description: Option<String>,
}

impl std::fmt::Debug for ProxySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxySettings")
            .field("proxy", &self.description)
            .finish()
    }
}

/// The first of `names` set in the environment, or "".
fn env_first(names: &[&str]) -> String {
    names
        .iter()
        .find_map(|name| std::env::var(name).ok())
        .unwrap_or_default()
}

impl ProxySettings {
    /// `configured` (`http.proxy`) for every scheme when set, else the
    /// environment's `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`; `NO_PROXY`
    /// applies to both.
    pub fn new(configured: Option<&ProxyUrl>) -> Self {
        let no_proxy = env_first(&["NO_PROXY", "no_proxy"]);
        match configured {
            Some(proxy) => ProxySettings {
                matcher: Arc::new(
                    Matcher::builder()
                        .all(proxy.expose().trim().to_string())
                        .no(no_proxy)
                        .build(),
                ),
                description: Some(proxy.redacted()),
            },
            None => {
                let from_env = env_first(&[
                    "HTTPS_PROXY",
                    "https_proxy",
                    "HTTP_PROXY",
                    "http_proxy",
                    "ALL_PROXY",
                    "all_proxy",
                ]);
                ProxySettings {
                    matcher: Arc::new(Matcher::from_env()),
                    description: (!from_env.is_empty()).then(|| redact_url(&from_env)),
                }
            }
        }
    }

    /// No proxy at all, whatever the environment says.
    pub fn direct() -> Self {
        ProxySettings {
            matcher: Arc::new(Matcher::builder().build()),
            description: None,
        }
    }

    /// The proxy in use, with any password replaced by `***`.
    pub fn describe(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// Whether a request to `url` goes through the proxy.
    pub fn proxies(&self, url: &str) -> bool {
        url.parse::<Uri>()
            .ok()
            .is_some_and(|uri| self.matcher.intercept(&uri).is_some())
    }
}

/// A connector that reaches each destination directly or, when the proxy
/// settings say so, through an HTTP `CONNECT` tunnel.
#[derive(Clone)]
pub struct ProxyConnector {
    http: HttpConnector,
    settings: ProxySettings,
}

impl ProxyConnector {
    /// A connector for `settings`.
    pub fn new(settings: ProxySettings) -> Self {
        let mut http = HttpConnector::new();
        // https destinations pass through here on their way to TLS.
        http.enforce_http(false);
        ProxyConnector { http, settings }
    }
}

/// Why a connection through the proxy failed, without the proxy's
/// credentials.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// The proxy URL is not `http://host:port`.
    #[error("the outbound proxy must be an http:// URL (it is {0}); set http.proxy or HTTPS_PROXY to http://host:port")]
    Scheme(String),
    /// The destination has no host.
    #[error("the destination {0} has no host")]
    NoHost(String),
    /// The proxy could not be reached, or refused the tunnel.
    #[error("through the outbound proxy {proxy}: {source}")]
    Tunnel {
        /// The proxy, credentials hidden.
        proxy: String,
        /// What went wrong.
        source: BoxError,
    },
}

/// `dst` with its port written out, because the tunnel asks for
/// `host:443` when the URI has none, which is wrong for `http://`.
fn with_port(dst: &Uri) -> Result<Uri, ProxyError> {
    let host = dst
        .host()
        .ok_or_else(|| ProxyError::NoHost(dst.to_string()))?;
    let port = dst
        .port_u16()
        .unwrap_or(if dst.scheme_str() == Some("http") {
            80
        } else {
            443
        });
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    format!("http://{host}:{port}/")
        .parse()
        .map_err(|_| ProxyError::NoHost(dst.to_string()))
}

impl tower_service::Service<Uri> for ProxyConnector {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // The HTTP connector is always ready; the tunnel is made per call.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let mut http = self.http.clone();
        let Some(intercept) = self.settings.matcher.intercept(&dst) else {
            return Box::pin(async move {
                std::future::poll_fn(|cx| http.poll_ready(cx)).await?;
                Ok(http.call(dst).await?)
            });
        };
        let proxy = self.settings.description.clone().unwrap_or_default();
        Box::pin(async move {
            if intercept.uri().scheme_str() != Some("http") {
                return Err(ProxyError::Scheme(proxy).into());
            }
            let mut tunnel = Tunnel::new(intercept.uri().clone(), http);
            if let Some(auth) = intercept.basic_auth() {
                tunnel = tunnel.with_auth(auth.clone());
            }
            let target = with_port(&dst)?;
            let tunnelled = async {
                std::future::poll_fn(|cx| tunnel.poll_ready(cx)).await?;
                tunnel.call(target).await
            };
            tunnelled.await.map_err(|source| {
                ProxyError::Tunnel {
                    proxy,
                    source: source.into(),
                }
                .into()
            })
        })
    }
}

/// The connector every outbound HTTP(S) client uses: TLS (the system's
/// roots) over [`ProxyConnector`]. Plain HTTP too, so tests can point it
/// at local fakes.
pub fn https_connector(
    settings: ProxySettings,
) -> Result<hyper_rustls::HttpsConnector<ProxyConnector>, std::io::Error> {
    Ok(hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()?
        .https_or_http()
        .enable_http1()
        .wrap_connector(ProxyConnector::new(settings)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_http_destination_without_a_port_is_tunnelled_to_port_80() {
        let http: Uri = "http://hooks.example.org/x".parse().unwrap();
        assert_eq!(
            with_port(&http).unwrap().to_string(),
            "http://hooks.example.org:80/"
        );
        let https: Uri = "https://slack.com/api".parse().unwrap();
        assert_eq!(
            with_port(&https).unwrap().to_string(),
            "http://slack.com:443/"
        );
    }

    #[test]
    fn the_configured_proxy_is_described_without_its_password() {
        let proxy: ProxyUrl =
            serde_json::from_value(serde_json::json!("http://ops:hunter2hunter2@proxy:3128"))
                .unwrap();
        let settings = ProxySettings::new(Some(&proxy));
        let described = settings.describe().unwrap();
        assert!(!described.contains("hunter2"), "{described}");
        assert!(format!("{settings:?}").contains("proxy:3128"));
        assert!(!format!("{settings:?}").contains("hunter2"));
        assert!(settings.proxies("https://slack.com/api"));
    }
}

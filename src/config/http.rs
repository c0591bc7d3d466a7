//! `[http]`, `[api]` and `[limits]`: the HTTP server, who may call its
//! REST API, and flood protection.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

use super::{invalid, ConfigError, Secret};

/// `[http]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    pub enabled: bool,
    pub bind: SocketAddr,
    /// The largest request body any route accepts, in bytes.
    pub max_body_bytes: usize,
    /// Shared secret guarding the managers' dashboard (`GET /`); the
    /// dashboard is open when unset. Set it with ITSM__HTTP__DASHBOARD_TOKEN.
    #[serde(default)]
    pub dashboard_token: Option<Secret>,
    /// A file holding the dashboard token (container secrets).
    #[serde(default)]
    pub dashboard_token_file: Option<PathBuf>,
    /// The address people reach the bot at, e.g. `https://itsm.example.org`
    /// (behind a reverse proxy). Optional; when it is https the dashboard's
    /// login cookie is marked `Secure`.
    #[serde(default)]
    pub public_url: Option<String>,
    /// The outbound proxy for every HTTP client the bot builds (Slack,
    /// webhooks, the paging hook, runbooks), e.g.
    /// `http://proxy.example.org:3128`; it takes precedence over
    /// `HTTPS_PROXY`/`HTTP_PROXY`, and `NO_PROXY` still applies. May hold
    /// credentials, so it is never printed whole.
    #[serde(default)]
    pub proxy: Option<ProxyUrl>,
}

/// A proxy URL, which may carry `user:password@`: its `Debug` and
/// [`ProxyUrl::redacted`] hide the password.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct ProxyUrl(String);

impl ProxyUrl {
    /// The URL as configured, credentials included: for the connector only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with its password replaced by `***`, for messages.
    pub fn redacted(&self) -> String {
        super::database::redact_url(&self.0)
    }
}

impl std::fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl HttpConfig {
    /// `public_url`, when set, is an absolute http(s) URL with a host.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if let Some(proxy) = &self.proxy {
            let parsed = url::Url::parse(proxy.expose().trim()).ok();
            // The connector speaks plain HTTP to the proxy (CONNECT); TLS
            // to the proxy itself is not supported.
            if !parsed
                .as_ref()
                .is_some_and(|url| url.scheme() == "http" && url.host_str().is_some())
            {
                return Err(invalid(
                    "http.proxy",
                    format!(
                        "`{}` must be an http URL of the proxy, e.g. http://proxy.example.org:3128",
                        proxy.redacted()
                    ),
                ));
            }
        }
        let Some(public_url) = &self.public_url else {
            return Ok(());
        };
        let parsed = url::Url::parse(public_url.trim()).map_err(|err| {
            invalid(
                "http.public_url",
                format!(
                    "`{public_url}` is not a URL ({err}); give the address people open, e.g. https://itsm.example.org"
                ),
            )
        })?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(invalid(
                "http.public_url",
                format!(
                    "`{public_url}` must be an http or https URL with a host, e.g. https://itsm.example.org"
                ),
            ));
        }
        Ok(())
    }

    /// Whether people reach the bot over https (`http.public_url`), so
    /// cookies it sets may travel only over https.
    pub fn secure_cookies(&self) -> bool {
        self.public_url
            .as_deref()
            .and_then(|url| url::Url::parse(url.trim()).ok())
            .is_some_and(|url| url.scheme() == "https")
    }
}

/// `[limits]`: protection against floods.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Commands one person may run per minute on one replica; more are
    /// answered "slow down". 0 turns the limit off.
    pub commands_per_minute: u32,
}

/// `[api]`: who may call the REST API.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// Bearer tokens, each named and read-only or read-write. The API
    /// answers 401 to everyone while there are none.
    #[serde(default)]
    pub tokens: Vec<ApiToken>,
}

/// What an API token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiAccess {
    /// GET only.
    Read,
    /// GET, and creating incidents.
    Write,
}

/// One `[[api.tokens]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiToken {
    /// Who holds it; changes made with it are recorded as `shell:api.<name>`.
    pub name: String,
    pub access: ApiAccess,
    /// The token itself; better given through `token_file` or the environment.
    pub token: Option<Secret>,
    pub token_file: Option<PathBuf>,
}

impl ApiConfig {
    /// Every token has a unique name and a value (its length and shape were
    /// checked with every other secret).
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let mut names = std::collections::BTreeSet::new();
        for (index, token) in self.tokens.iter().enumerate() {
            let key = |field: &str| format!("api.tokens[{index}].{field}");
            if !crate::domain::service::valid_name(&token.name)
                || !names.insert(token.name.as_str())
            {
                return Err(invalid(
                    key("name"),
                    format!(
                        "`{}` must be a unique name of lower-case letters, digits, `-`, `_` or `.`",
                        token.name
                    ),
                ));
            }
            if token.token.is_none() {
                return Err(invalid(
                    key("token"),
                    "set token_file (or token) for every API token",
                ));
            }
        }
        Ok(())
    }
}

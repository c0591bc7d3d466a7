//! `itsm-bot check-config --connect`: tries each configured part once — the
//! database and its migrations, Slack, Discord, the hosts of outbound
//! calls — and says for each whether it works and, when not, what to fix.
//! No secret appears in a verdict: tokens are sent, never printed, and the
//! database URL is shown with its password hidden.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::chat::{discord, slack};
use crate::config::{redact_url, Config};
use crate::proxy::ProxySettings;
use crate::store::probe::{probe, SchemaState};

/// How long each part may take to answer.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The verdict on one part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// What was tried, e.g. `database`, `slack`, `webhook host hooks.example.org`.
    pub part: String,
    /// Whether it works.
    pub ok: bool,
    /// What was found.
    pub detail: String,
    /// What to do about a failure.
    pub fix: Option<String>,
}

impl Verdict {
    fn ok(part: impl Into<String>, detail: impl Into<String>) -> Self {
        Verdict {
            part: part.into(),
            ok: true,
            detail: detail.into(),
            fix: None,
        }
    }

    fn failed(part: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Verdict {
            part: part.into(),
            ok: false,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    /// One line: `ok   part: detail` or `FAIL part: detail — fix: …`.
    pub fn line(&self) -> String {
        match &self.fix {
            _ if self.ok => format!("ok   {}: {}", self.part, self.detail),
            Some(fix) => format!("FAIL {}: {} — fix: {}", self.part, self.detail, fix),
            None => format!("FAIL {}: {}", self.part, self.detail),
        }
    }
}

/// Tries every configured part; the verdicts in a fixed order (database,
/// Slack, Discord, outbound hosts).
pub async fn check(config: &Config) -> Vec<Verdict> {
    let proxy = ProxySettings::new(config.http.proxy.as_ref());
    let mut verdicts = vec![database(config).await];
    if let Some(described) = proxy.describe() {
        verdicts.push(outbound_proxy(described).await);
    }
    if config.slack.enabled() {
        verdicts.extend(slack(config, proxy.clone()).await);
    }
    if config.discord.enabled() {
        verdicts.push(discord(config).await);
    }
    for url in outbound_urls(config) {
        verdicts.push(outbound_host(&url, &proxy).await);
    }
    verdicts
}

async fn database(config: &Config) -> Verdict {
    let shown = redact_url(&config.database.url);
    let part = "database";
    match probe(&config.database.url, TIMEOUT).await {
        Ok(SchemaState::Current { applied }) => Verdict::ok(
            part,
            format!("{shown} answers; all {applied} migrations applied"),
        ),
        Ok(SchemaState::Pending { pending }) => Verdict::failed(
            part,
            format!(
                "{shown} answers; {} migration(s) pending ({})",
                pending.len(),
                pending.join(", ")
            ),
            "run `itsm-bot migrate` (or start `itsm-bot serve`, which applies them)",
        ),
        Ok(SchemaState::MissingDatabase) => Verdict::failed(
            part,
            format!("{shown}: the server answers but the database does not exist"),
            "run `itsm-bot migrate`, which creates it (the user needs CREATEDB), or create it by hand",
        ),
        Ok(SchemaState::Newer { unknown }) => Verdict::failed(
            part,
            format!("{shown} has {unknown} migration(s) this binary does not know: a newer release migrated it"),
            "run the newer itsm-bot release, or restore the backup taken before that upgrade",
        ),
        Err(err) => {
            let text = err.to_string();
            let fix = if text.contains("certificate") || text.contains("tls") || text.contains("TLS") || text.contains("ssl") || text.contains("SSL") {
                "check sslmode and sslrootcert in database.url (sslrootcert must be the CA that signed the server's certificate; verify-full also checks the host name)"
            } else if text.contains("password") || text.contains("authentication") {
                "check the user and password in database.url (or DATABASE_URL), and pg_hba.conf on the server"
            } else {
                "check the host and port in database.url (or DATABASE_URL), that PostgreSQL runs, and that a firewall lets this host through"
            };
            Verdict::failed(part, format!("{shown}: {text}"), fix)
        }
    }
}

async fn slack(config: &Config, proxy: ProxySettings) -> Vec<Verdict> {
    let api = &config.slack.api_url;
    match tokio::time::timeout(TIMEOUT, slack::whoami(&config.slack, proxy)).await {
        Ok(Ok(identity)) => {
            let mut verdicts = vec![Verdict::ok(
                "slack",
                format!("auth.test at {api}: {}", identity.bot),
            )];
            match identity.socket_mode {
                Some(Ok(())) => verdicts.push(Verdict::ok(
                    "slack socket mode",
                    "the app-level token may open a connection (apps.connections.open)",
                )),
                Some(Err(err)) => verdicts.push(Verdict::failed(
                    "slack socket mode",
                    format!("apps.connections.open: {err}"),
                    "give ITSM__SLACK__APP_TOKEN an app-level token (xapp-…) with the connections:write scope (Basic Information → App-Level Tokens), and enable Socket Mode in the app",
                )),
                None => {}
            }
            verdicts
        }
        Ok(Err(err)) => {
            let text = err.to_string();
            let fix = if text.contains("invalid_auth")
                || text.contains("not_authed")
                || text.contains("account_inactive")
                || text.contains("token_revoked")
            {
                "set ITSM__SLACK__BOT_TOKEN to the app's Bot User OAuth Token (xoxb-…, OAuth & Permissions), reinstalling the app if it was revoked"
            } else {
                "check that this host reaches slack.api_url (firewall, DNS, outbound proxy: http.proxy or HTTPS_PROXY)"
            };
            vec![Verdict::failed(
                "slack",
                format!("auth.test at {api}: {text}"),
                fix,
            )]
        }
        Err(_) => vec![Verdict::failed(
            "slack",
            format!("auth.test at {api}: no answer within {}s", TIMEOUT.as_secs()),
            "check that this host reaches slack.api_url (firewall, outbound proxy: http.proxy or HTTPS_PROXY)",
        )],
    }
}

async fn discord(config: &Config) -> Verdict {
    let api = &config.discord.api_url;
    let asked = discord::whoami(&config.discord, config.http.proxy.as_ref());
    match tokio::time::timeout(TIMEOUT, asked).await {
        Ok(Ok(me)) => Verdict::ok("discord", format!("GET /users/@me at {api}: {me}")),
        Ok(Err(err)) => {
            let text = err.to_string();
            let fix = if text.contains("401") || text.contains("Unauthorized") {
                "set ITSM__DISCORD__TOKEN to the bot's token (developer portal → Bot → Reset Token)"
            } else {
                "check that this host reaches discord.api_url (firewall, DNS, outbound proxy: http.proxy or HTTPS_PROXY)"
            };
            Verdict::failed("discord", format!("GET /users/@me at {api}: {text}"), fix)
        }
        Err(_) => Verdict::failed(
            "discord",
            format!(
                "GET /users/@me at {api}: no answer within {}s",
                TIMEOUT.as_secs()
            ),
            "check that this host reaches discord.api_url (firewall, outbound proxy)",
        ),
    }
}

/// Whether the outbound proxy (`described`: its URL, password hidden)
/// accepts a TCP connection.
async fn outbound_proxy(described: &str) -> Verdict {
    let part = "outbound proxy";
    let fix = "check http.proxy or HTTPS_PROXY/HTTP_PROXY (http://host:port), and that this host may reach the proxy";
    let with_scheme = if described.contains("://") {
        described.to_string()
    } else {
        format!("http://{described}")
    };
    let Some((host, port)) = url::Url::parse(&with_scheme).ok().and_then(|url| {
        Some((
            url.host_str()?.trim_matches(['[', ']']).to_string(),
            url.port_or_known_default()?,
        ))
    }) else {
        return Verdict::failed(part, format!("{described} is not a proxy URL"), fix);
    };
    let connecting = tokio::net::TcpStream::connect((host, port));
    match tokio::time::timeout(TIMEOUT, connecting).await {
        Ok(Ok(_)) => Verdict::ok(
            part,
            format!(
                "{described} accepts connections; HTTP(S) calls go through it (NO_PROXY applies)"
            ),
        ),
        Ok(Err(err)) => Verdict::failed(part, format!("{described}: {err}"), fix),
        Err(_) => Verdict::failed(
            part,
            format!("{described}: no answer within {}s", TIMEOUT.as_secs()),
            fix,
        ),
    }
}

/// Every URL the bot calls out to on its own: rule webhooks, runbooks,
/// the paging hook. Runbook URLs with template parameters in the host
/// cannot be resolved ahead and are left out.
fn outbound_urls(config: &Config) -> BTreeSet<String> {
    let mut urls = BTreeSet::new();
    for rule in &config.automation.compiled_rules {
        for action in &rule.actions {
            if let crate::domain::automation::RuleAction::Webhook { url, .. } = action {
                urls.insert(url.clone());
            }
        }
    }
    for runbook in &config.automation.compiled_runbooks {
        urls.insert(runbook.request.url.clone());
    }
    if let Some(paging) = &config.oncall.paging {
        urls.insert(paging.url.clone());
    }
    urls
}

/// Whether the host of `url` resolves — or, when the call goes through the
/// outbound proxy, the proxy's host (the proxy resolves the rest).
async fn outbound_host(url: &str, proxy: &ProxySettings) -> Verdict {
    let Ok(parsed) = url::Url::parse(url) else {
        return Verdict::ok(
            format!("outbound {url}"),
            "not checked: the URL is filled in per call",
        );
    };
    let Some(host) = parsed.host_str().map(str::to_string) else {
        return Verdict::failed(
            format!("outbound {url}"),
            "the URL has no host",
            "fix the URL in the configuration",
        );
    };
    let part = format!("outbound host {host}");
    if proxy.proxies(url) {
        return Verdict::ok(
            part,
            "reached through the outbound proxy, which resolves it",
        );
    }
    let port = parsed.port_or_known_default().unwrap_or(443);
    let bare = host.trim_matches(['[', ']']).to_string();
    let lookup = tokio::net::lookup_host((bare, port));
    match tokio::time::timeout(TIMEOUT, lookup).await {
        Ok(Ok(mut addrs)) => match addrs.next() {
            Some(addr) => Verdict::ok(part, format!("resolves to {}", addr.ip())),
            None => Verdict::failed(
                part,
                "resolves to no address",
                "check the host name in the configuration and this host's DNS",
            ),
        },
        Ok(Err(err)) => Verdict::failed(
            part,
            format!("does not resolve: {err}"),
            "check the host name in the configuration and this host's DNS (/etc/resolv.conf); behind a proxy, set http.proxy or HTTPS_PROXY",
        ),
        Err(_) => Verdict::failed(
            part,
            format!("no DNS answer within {}s", TIMEOUT.as_secs()),
            "check this host's DNS (/etc/resolv.conf)",
        ),
    }
}

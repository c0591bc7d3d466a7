//! `itsm-bot check-config --connect` against the fake Slack, and the Slack
//! Web API client through an outbound proxy: the real binary, as an
//! operator runs it.

use std::process::{Command, Output, Stdio};

use base64::Engine as _;
use sqlx::PgPool;

use crate::fake_slack::FakeSlack;
use crate::http_proxy::HttpProxy;

const BIN: &str = env!("CARGO_BIN_EXE_itsm-bot");
const BOT_TOKEN: &str = "xoxb-connect-test-0001";
const APP_TOKEN: &str = "xapp-connect-test-0001";
const PROXY_PASSWORD: &str = "pr0xy-s3cret-passw0rd";

/// The URL of the test's own (migrated) database.
fn database_url(pool: &PgPool) -> String {
    let admin = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    format!(
        "{base}/{}",
        pool.connect_options().get_database().unwrap_or("postgres")
    )
}

/// The binary with Slack pointed at `slack`, no proxy variables from the
/// machine, and debug logging (so a leaked secret would show).
fn bot(pool: &PgPool, slack: &FakeSlack) -> Command {
    let mut command = Command::new(BIN);
    command
        .env("DATABASE_URL", database_url(pool))
        .env("RUST_LOG", "debug")
        .env("ITSM__SLACK__BOT_TOKEN", BOT_TOKEN)
        .env("ITSM__SLACK__APP_TOKEN", APP_TOKEN)
        .env("ITSM__SLACK__API_URL", slack.api_url())
        .env_remove("ITSM_CONFIG");
    for name in [
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
    ] {
        command.env_remove(name);
    }
    command.stdin(Stdio::null());
    command
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

async fn run(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.args(["check-config", "--connect"]).output())
        .await
        .unwrap()
        .unwrap()
}

#[sqlx::test]
async fn check_config_connect_passes_against_the_fake_slack(pool: PgPool) {
    let slack = FakeSlack::start().await;
    let output = run(bot(&pool, &slack)).await;
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("ok   database:"), "{stdout}");
    assert!(stdout.contains("migrations applied"), "{stdout}");
    assert!(
        stdout.contains("ok   slack: auth.test at")
            && stdout.contains("bot user UBOT in team T0001"),
        "{stdout}"
    );
    assert!(stdout.contains("ok   slack socket mode:"), "{stdout}");
    assert_eq!(slack.calls("auth.test").len(), 1);
    assert_eq!(slack.calls("apps.connections.open").len(), 1);
    // The tokens were sent, never printed.
    assert!(slack
        .auth_headers()
        .iter()
        .any(|h| h == &format!("Bearer {BOT_TOKEN}")));
    for secret in [BOT_TOKEN, APP_TOKEN] {
        assert!(!stdout.contains(secret) && !stderr.contains(secret));
    }
}

#[sqlx::test]
async fn check_config_connect_names_the_fix_for_a_refused_token(pool: PgPool) {
    let slack = FakeSlack::start().await;
    slack.fail_next("auth.test", vec![(401, None)]);
    let output = run(bot(&pool, &slack)).await;
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("FAIL slack:"))
        .unwrap_or_else(|| panic!("no slack verdict in\n{stdout}"));
    assert!(line.contains("— fix:"), "{line}");
    assert!(stdout.contains("ok   database:"), "{stdout}");
    assert!(!stdout.contains(BOT_TOKEN) && !stderr.contains(BOT_TOKEN));
}

/// The Slack Web API goes through the proxy `HTTPS_PROXY`/`HTTP_PROXY`
/// names, with its credentials, which never reach the output or the log.
/// NO_PROXY is set explicitly empty: the fake listens on 127.0.0.1, which
/// many setups exempt, and this test wants it proxied.
#[sqlx::test]
async fn slack_calls_go_through_the_outbound_proxy(pool: PgPool) {
    let slack = FakeSlack::start().await;
    let proxy = HttpProxy::start().await;
    let proxy_url = proxy.url(Some(&format!("ops:{PROXY_PASSWORD}")));
    let mut command = bot(&pool, &slack);
    command
        .env("HTTP_PROXY", &proxy_url)
        .env("https_proxy", &proxy_url)
        .env("NO_PROXY", "");
    let output = run(command).await;
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    let slack_port = slack
        .api_url()
        .rsplit_once(':')
        .and_then(|(_, rest)| rest.split('/').next().map(str::to_string))
        .unwrap();
    let tunnels = proxy.tunnels();
    let to_slack: Vec<_> = tunnels
        .iter()
        .filter(|t| t.target == format!("127.0.0.1:{slack_port}"))
        .collect();
    // auth.test and apps.connections.open, over one or two connections.
    assert!(!to_slack.is_empty(), "{tunnels:?}");
    assert_eq!(slack.calls("auth.test").len(), 1);
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("ops:{PROXY_PASSWORD}"))
    );
    assert!(
        to_slack
            .iter()
            .all(|t| t.authorization.as_deref() == Some(expected.as_str())),
        "{tunnels:?}"
    );
    assert!(stdout.contains("ok   outbound proxy:"), "{stdout}");
    assert!(
        !stdout.contains(PROXY_PASSWORD) && !stderr.contains(PROXY_PASSWORD),
        "{stdout}\n{stderr}"
    );

    // With 127.0.0.1 in NO_PROXY the same calls go direct.
    let before = proxy.tunnels().len();
    let mut command = bot(&pool, &slack);
    command
        .env("HTTP_PROXY", &proxy_url)
        .env("NO_PROXY", "localhost,127.0.0.1");
    let output = run(command).await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output).0);
    assert_eq!(proxy.tunnels().len(), before);
}

/// `http.proxy` in the configuration wins over the environment.
#[sqlx::test]
async fn the_configured_proxy_is_used_for_slack(pool: PgPool) {
    let slack = FakeSlack::start().await;
    let proxy = HttpProxy::start().await;
    let mut command = bot(&pool, &slack);
    command
        .env("ITSM__HTTP__PROXY", proxy.url(None))
        .env("HTTP_PROXY", "http://127.0.0.1:9")
        .env("NO_PROXY", "");
    let output = run(command).await;
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(!proxy.tunnels().is_empty());
}

//! `itsm-bot check-config --connect` against the fake Discord, directly and
//! through an outbound proxy.

use std::process::{Command, Stdio};

use sqlx::PgPool;

use crate::fake_discord::FakeDiscord;
use crate::http_proxy::HttpProxy;

const BIN: &str = env!("CARGO_BIN_EXE_itsm-bot");
const TOKEN: &str = "discord-connect-test-token-0001";

fn bot(pool: &PgPool, discord: &FakeDiscord) -> Command {
    let admin = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    let database = pool
        .connect_options()
        .get_database()
        .unwrap_or("postgres")
        .to_string();
    let mut command = Command::new(BIN);
    command
        .args(["check-config", "--connect"])
        .env("DATABASE_URL", format!("{base}/{database}"))
        .env("RUST_LOG", "debug")
        .env("ITSM__DISCORD__TOKEN", TOKEN)
        .env("ITSM__DISCORD__API_URL", discord.base_url())
        .env_remove("ITSM_CONFIG")
        .stdin(Stdio::null());
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
    command
}

async fn run(mut command: Command) -> (Option<i32>, String) {
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code(), text)
}

#[sqlx::test]
async fn check_config_connect_asks_discord_who_the_bot_is(pool: PgPool) {
    let discord = FakeDiscord::start().await;
    let (code, text) = run(bot(&pool, &discord)).await;
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("ok   discord: GET /users/@me at"), "{text}");
    assert!(
        discord
            .calls()
            .iter()
            .any(|(method, path, _)| method == "GET" && path == "/api/v10/users/@me"),
        "{:?}",
        discord.calls()
    );
    assert!(!text.contains(TOKEN), "{text}");
}

/// serenity's REST client goes through `http.proxy` (and, by itself,
/// through HTTP_PROXY/HTTPS_PROXY); NO_PROXY is set empty so 127.0.0.1 is
/// proxied.
#[sqlx::test]
async fn discord_rest_goes_through_the_outbound_proxy(pool: PgPool) {
    let discord = FakeDiscord::start().await;
    let port = discord.base_url().rsplit_once(':').unwrap().1.to_string();
    for configured in [true, false] {
        let proxy = HttpProxy::start().await;
        let mut command = bot(&pool, &discord);
        if configured {
            command.env("ITSM__HTTP__PROXY", proxy.url(Some("ops:discord-proxy-pw")));
        } else {
            command.env("HTTP_PROXY", proxy.url(Some("ops:discord-proxy-pw")));
        }
        command.env("NO_PROXY", "");
        let (code, text) = run(command).await;
        assert_eq!(code, Some(0), "{text}");
        assert!(text.contains("ok   discord:"), "{text}");
        assert!(
            proxy
                .tunnels()
                .iter()
                .any(|t| t.target == format!("127.0.0.1:{port}") && t.authorization.is_some()),
            "configured {configured}: {:?}",
            proxy.tunnels()
        );
        assert!(!text.contains("discord-proxy-pw"), "{text}");
    }
}

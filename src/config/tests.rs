use std::io::Write;
use std::path::Path;

use super::*;
use crate::domain::{Level, Role};

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn file(contents: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(contents.as_bytes()).unwrap();
    file
}

fn error_of(contents: &str) -> String {
    let file = file(contents);
    Config::load_with_env(Some(file.path()), env(&[]))
        .unwrap_err()
        .to_string()
}

#[test]
fn defaults_load_and_run_against_a_local_database() {
    let config = Config::defaults().unwrap();
    assert_eq!(
        config.database.url,
        "postgres://postgres@127.0.0.1:5432/itsm"
    );
    assert_eq!(config.http.bind.to_string(), "127.0.0.1:8080");
    assert!(config.scheduler.enabled);
    let alice = "shell:alice".parse().unwrap();
    assert!(config
        .roles
        .book()
        .roles_of(&alice, &[])
        .allows(Role::Engineer));
}

#[test]
fn layers_override_key_by_key_in_order() {
    let overlay = file("[http]\nbind = \"127.0.0.1:9999\"\n[database]\nmax_connections = 3\n");
    let config = Config::load_with_env(
        Some(overlay.path()),
        env(&[
            ("ITSM__DATABASE__MAX_CONNECTIONS", "7"),
            ("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/other"),
            ("ITSM__DATABASE__URL", "postgres://ignored/db"),
        ]),
    )
    .unwrap();
    assert_eq!(config.http.bind.port(), 9999, "file overrides default");
    assert!(
        config.http.enabled,
        "keys the file does not name keep their default"
    );
    assert_eq!(
        config.database.max_connections, 7,
        "environment overrides file"
    );
    assert_eq!(
        config.database.url, "postgres://postgres@127.0.0.1:5432/other",
        "DATABASE_URL wins"
    );
}

#[test]
fn environment_values_are_typed() {
    let config = Config::load_with_env(
        None,
        env(&[
            ("ITSM__SCHEDULER__ENABLED", "false"),
            ("ITSM__INCIDENT__DEFAULT_IMPACT", "high"),
        ]),
    )
    .unwrap();
    assert!(!config.scheduler.enabled);
    assert_eq!(config.incident.default_impact, Level::High);
}

#[test]
fn unknown_keys_are_named() {
    let message = error_of("[http]\nbnid = \"127.0.0.1:1\"\n");
    assert!(message.contains("bnid"), "{message}");
    let message = error_of("[slackk]\nmode = \"socket\"\n");
    assert!(message.contains("slackk"), "{message}");
    let message = Config::load_with_env(None, env(&[("ITSM__HTTP__PORT", "1")]))
        .unwrap_err()
        .to_string();
    assert!(message.contains("port"), "{message}");
}

#[test]
fn bad_values_name_their_key() {
    let cases = [
        (
            "[digest]\nschedule = \"every morning\"\n",
            "digest.schedule",
        ),
        (
            "[digest]\ntime_zone = \"Mars/Olympus\"\n",
            "digest.time_zone",
        ),
        (
            "[scheduler]\nsla_sweep = \"0 0 25 * * *\"\n",
            "scheduler.sla_sweep",
        ),
        (
            "[incident]\nreopen_grace = \"a week\"\n",
            "incident.reopen_grace",
        ),
        (
            "[incident]\ndefault_urgency = \"extreme\"\n",
            "incident.default_urgency",
        ),
        (
            "[incident.priority_matrix]\nhigh = { high = \"P0\", medium = \"P2\", low = \"P3\" }\n",
            "incident.priority_matrix.high.high",
        ),
        ("[roles]\nengineer = [\"irc:bob\"]\n", "roles.engineer"),
        ("[roles]\nwizard = [\"shell:bob\"]\n", "wizard"),
        ("[http]\nbind = \"localhost\"\n", "http.bind"),
        ("[[services]]\nname = \"VPN!\"\n", "services[0].name"),
        (
            "[[services]]\nname = \"vpn\"\n[[services]]\nname = \"vpn\"\n",
            "services[1].name",
        ),
        (
            "[[digest.channels]]\nchannel = \"ops\"\ntime_zone = \"Nowhere\"\n",
            "digest.channels",
        ),
        ("[sla]\nwarn_at = [1.5]\n", "sla.warn_at"),
        (
            "[sla.policies]\nP3 = { respond = \"4h\", resolve = \"24h\", calendar = \"factory\" }\n",
            "sla.policies.P3.calendar",
        ),
        ("[sla.policies]\nP1 = { respond = \"5h\", resolve = \"4h\" }\n", "sla.policies.P1"),
        ("[calendars.office]\nworking_days = [\"Funday\"]\n", "calendars.office.working_days"),
        ("[calendars.office]\nopens = \"9am\"\n", "calendars.office.opens"),
        ("[calendars.office]\nopens = \"18:00\"\n", "calendars.office"),
        ("[sla]\nescalation_channel = \"irc:#ops\"\n", "sla.escalation_channel"),
    ];
    for (contents, key) in cases {
        let message = error_of(contents);
        assert!(message.contains(key), "expected `{key}` in: {message}");
    }
}

#[test]
fn a_missing_config_file_is_an_error() {
    let err =
        Config::load_with_env(Some(Path::new("/nonexistent/itsm.toml")), env(&[])).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/itsm.toml"));
}

#[test]
fn database_passwords_are_redacted() {
    assert_eq!(
        redact_url("postgres://itsm:s3cret@db:5432/itsm"),
        "postgres://itsm:***@db:5432/itsm"
    );
    assert_eq!(
        redact_url("postgres://postgres@127.0.0.1/itsm"),
        "postgres://postgres@127.0.0.1/itsm"
    );
    assert_eq!(
        redact_url("postgres://db/itsm?password=s3cret&sslmode=require"),
        "postgres://db/itsm?password=***&sslmode=require"
    );
    let config =
        Config::load_with_env(None, env(&[("DATABASE_URL", "postgres://u:hunter2@h/d")])).unwrap();
    assert!(!format!("{config:?}").contains("hunter2"));
}

#[test]
fn hooks_are_off_until_a_token_is_set_and_the_token_stays_hidden() {
    let config = Config::defaults().unwrap();
    assert!(!config.hooks.enabled());
    assert!(config.hooks.auto_resolve);
    assert_eq!(config.hooks.service_label, "service");
    assert_eq!(
        config.hooks.severity_priorities.get("critical"),
        Some(&crate::domain::Priority::P1)
    );
    // A token of digits stays text, leading zero and all.
    let config =
        Config::load_with_env(None, env(&[("ITSM__HOOKS__TOKEN", "0123456789012345")])).unwrap();
    assert_eq!(
        config.hooks.token.as_ref().map(Secret::expose),
        Some("0123456789012345")
    );
    assert!(!format!("{config:?}").contains("0123456789012345"));
    let token = file("s3cret-from-file\n");
    let overlay = file(&format!(
        "[hooks]\ntoken_file = \"{}\"\n",
        token.path().display()
    ));
    let config = Config::load_with_env(Some(overlay.path()), env(&[])).unwrap();
    assert_eq!(
        config.hooks.token.as_ref().map(Secret::expose),
        Some("s3cret-from-file")
    );
}

#[test]
fn services_default_to_a_three_nines_target_and_refuse_a_bad_one() {
    let config = Config::defaults().unwrap();
    assert!(config
        .services
        .iter()
        .all(|s| (s.availability_target - 99.9).abs() < 1e-9));
    let error = error_of("[[services]]\nname = \"vpn\"\navailability_target = 120\n");
    assert!(
        error.contains("services[0].availability_target") && error.contains("at most 100"),
        "{error}"
    );
}

#[test]
fn alerts_group_by_the_senders_group_unless_told_otherwise() {
    use crate::domain::alert::GroupBy;
    let config = Config::defaults().unwrap();
    assert_eq!(config.hooks.grouping(), GroupBy::SenderGroup);
    assert_eq!(config.hooks.storm_threshold, 5);
    let named =
        Config::load_with_env(None, env(&[("ITSM__HOOKS__GROUP_BY", "fingerprint")])).unwrap();
    assert_eq!(named.hooks.grouping(), GroupBy::Fingerprint);
    let file = file("[hooks]\ngroup_by = [\"service\", \"alertname\"]\n");
    let listed = Config::load_with_env(Some(file.path()), env(&[])).unwrap();
    assert_eq!(
        listed.hooks.grouping(),
        GroupBy::Labels(vec!["service".into(), "alertname".into()])
    );
}

#[test]
fn bad_hooks_settings_name_their_key() {
    for (contents, key) in [
        ("[hooks]\nchannel = \"irc:#ops\"\n", "hooks.channel"),
        (
            "[hooks]\ndefault_priority = \"P9\"\n",
            "hooks.default_priority",
        ),
        (
            "[hooks.severity_priorities]\nCritical = \"P1\"\n",
            "hooks.severity_priorities.Critical",
        ),
        ("[hooks]\nservice_label = \" \"\n", "hooks.service_label"),
        ("[hooks]\ntoken = \"\"\n", "hooks.token"),
        ("[hooks]\nauto_resolv = true\n", "auto_resolv"),
        ("[hooks]\ngroup_by = \"groupkey\"\n", "hooks.group_by"),
        ("[hooks]\ngroup_by = []\n", "hooks.group_by"),
        (
            "[hooks]\ngroup_by = [\"service\", \"9x\"]\n",
            "hooks.group_by",
        ),
        ("[hooks]\ngroup_by = [\"a\", \"a\"]\n", "hooks.group_by"),
        ("[hooks]\nstorm_window = \"0s\"\n", "hooks.storm_window"),
        ("[hooks]\nstorm_window = \"soon\"\n", "hooks.storm_window"),
        ("[hooks]\nstorm_threshold = -1\n", "hooks.storm_threshold"),
    ] {
        let message = error_of(contents);
        assert!(message.contains(key), "expected `{key}` in: {message}");
    }
}

#[test]
fn the_dashboard_token_comes_from_the_environment_and_is_never_printed() {
    assert!(Config::defaults().unwrap().http.dashboard_token.is_none());
    let config = Config::load_with_env(
        None,
        env(&[("ITSM__HTTP__DASHBOARD_TOKEN", "s3cret-42-dashboard")]),
    )
    .unwrap();
    let token = config.http.dashboard_token.as_ref().unwrap();
    assert_eq!(token.expose(), "s3cret-42-dashboard");
    assert!(!format!("{:?}", config.http).contains("s3cret"));
    let error = error_of("[http]\ndashboard_token = true\n");
    assert!(
        error.contains("dashboard_token") && error.contains("a secret string"),
        "{error}"
    );
}

/// A secret's environment variable, its key, and what else must be set for
/// it to be read at all (the paging hook needs its URL).
type SecretVar = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

/// Every secret key set through the environment.
const SECRET_VARS: [SecretVar; 8] = [
    ("ITSM__HTTP__DASHBOARD_TOKEN", "http.dashboard_token", &[]),
    ("ITSM__HOOKS__TOKEN", "hooks.token", &[]),
    (
        "ITSM__SLACK__BOT_TOKEN",
        "slack.bot_token",
        &[("ITSM__SLACK__APP_TOKEN", "xapp-test-app-token-0123")],
    ),
    ("ITSM__SLACK__APP_TOKEN", "slack.app_token", &[]),
    ("ITSM__SLACK__SIGNING_SECRET", "slack.signing_secret", &[]),
    ("ITSM__DISCORD__TOKEN", "discord.token", &[]),
    (
        "ITSM__ONCALL__PAGING__ROUTING_KEY",
        "oncall.paging.routing_key",
        &[(
            "ITSM__ONCALL__PAGING__URL",
            "https://pager.example/v2/enqueue",
        )],
    ),
    (
        "ITSM__ONCALL__PAGING__HMAC_SECRET",
        "oncall.paging.hmac_secret",
        &[
            (
                "ITSM__ONCALL__PAGING__URL",
                "https://pager.example/v2/enqueue",
            ),
            ("ITSM__ONCALL__PAGING__ROUTING_KEY", "R0UT1NGKEY0123456789"),
        ],
    ),
];

fn load_secret(var: &str, value: &str, needs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let mut vars = env(needs);
    vars.push((var.to_string(), value.to_string()));
    Config::load_with_env(None, vars)
}

/// Issue 22 (1): an empty dashboard token was accepted and opened the
/// dashboard to an empty cookie. The same rule holds for every secret.
#[test]
fn every_secret_is_refused_empty_or_short_naming_its_key() {
    for (var, key, needs) in SECRET_VARS {
        for value in ["", "short-7", " padded-secret-0123456789 "] {
            let error = load_secret(var, value, needs).unwrap_err().to_string();
            assert!(
                error.contains(&format!("`{key}`")) && error.contains("16 bytes"),
                "{var}={value:?}: {error}"
            );
            if !value.is_empty() {
                assert!(!error.contains(value.trim()), "{var}: {error}");
            }
        }
        let config = load_secret(var, "a-long-enough-secret-0", needs);
        assert!(config.is_ok(), "{var}: {:?}", config.err());
    }
    let api = |token: &str| {
        let tokens = format!("[{{name=\"ci\", access=\"read\", token=\"{token}\"}}]");
        Config::load_with_env(None, env(&[("ITSM__API__TOKENS", &tokens)]))
    };
    let error = api("").unwrap_err().to_string();
    assert!(error.contains("api.tokens[0].token"), "{error}");
    assert!(api("ci-token-0123456789").is_ok());
}

#[test]
fn an_empty_or_short_secret_file_is_refused_naming_its_key() {
    for contents in ["", "\n", "short\n"] {
        let token = file(contents);
        let overlay = file(&format!(
            "[http]\ndashboard_token_file = \"{}\"\n",
            token.path().display()
        ));
        let error = Config::load_with_env(Some(overlay.path()), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("http.dashboard_token_file") && error.contains("16 bytes"),
            "{contents:?}: {error}"
        );
    }
}

/// Issue 22 (2): `ITSM__HTTP__DASHBOARD_TOKEN=007…` was read as a number
/// and lost its leading zeros.
#[test]
fn digits_only_secrets_stay_strings() {
    for (var, _, needs) in SECRET_VARS {
        let config = load_secret(var, "0070070070070070", needs).unwrap();
        let secrets = format!(
            "{:?}",
            config
                .secrets()
                .into_iter()
                .map(|(key, secret)| (key, secret.expose().to_string()))
                .collect::<Vec<_>>()
        );
        assert!(secrets.contains("\"0070070070070070\""), "{var}: {secrets}");
    }
    let config = load_secret("ITSM__HTTP__DASHBOARD_TOKEN", "0070070070070070", &[]).unwrap();
    assert_eq!(
        config.http.dashboard_token.as_ref().map(Secret::expose),
        Some("0070070070070070")
    );
}

/// Values that figment would read as something other than text.
const ODD_VALUES: [&str; 11] = [
    "007",
    "3.14159265358979",
    "-2.718281828459045",
    "1e308",
    "true",
    "false",
    "[1, 2, 3]",
    "[\"a\", \"b\"]",
    "{ a = 1 }",
    "0x1F",
    "",
];

/// Issue 22 (3): `ITSM__HTTP__DASHBOARD_TOKEN=3.14159265358979` failed
/// with "found float `3.14159265358979`". No secret value may appear in an
/// error, however it is spelled and wherever it is written.
#[test]
fn odd_secret_values_never_appear_in_errors() {
    for (var, key, needs) in SECRET_VARS {
        for value in ODD_VALUES {
            match load_secret(var, value, needs) {
                // Long enough, so a secret: kept exactly as written.
                Ok(config) => assert!(
                    config
                        .secrets()
                        .iter()
                        .any(|(k, secret)| k == key && secret.expose() == value),
                    "{var}={value:?}"
                ),
                Err(err) => {
                    let error = err.to_string();
                    assert!(error.contains(key), "{var}={value:?}: {error}");
                    if !value.is_empty() {
                        assert!(!error.contains(value), "{var}={value:?}: {error}");
                    }
                }
            }
        }
    }
    // In a file, unquoted: a number, a flag, a list, a table.
    for (section, field) in [
        ("http", "dashboard_token"),
        ("hooks", "token"),
        ("slack", "signing_secret"),
        ("discord", "token"),
    ] {
        for value in [
            "3.14159265358979",
            "70070070070070070",
            "true",
            "[1, 2]",
            "{ a = 1 }",
        ] {
            let error = error_of(&format!("[{section}]\n{field} = {value}\n"));
            assert!(
                error.contains(field) && error.contains("a secret string"),
                "{section}.{field} = {value}: {error}"
            );
            assert!(
                !error.contains(value),
                "{section}.{field} = {value}: {error}"
            );
        }
    }
    let tokens = "[{name=\"ci\", access=\"read\", token=3.14159265358979}]";
    let error = Config::load_with_env(None, env(&[("ITSM__API__TOKENS", tokens)]))
        .unwrap_err()
        .to_string();
    assert!(!error.contains("3.14159265358979"), "{error}");
}

#[test]
fn failover_and_grace_default_and_refuse_zero() {
    let config = Config::defaults().unwrap();
    assert_eq!(config.discord.failover_seconds, 15);
    assert_eq!(config.shutdown.grace_seconds, 10);
    let config = Config::load_with_env(
        None,
        env(&[
            ("ITSM__DISCORD__FAILOVER_SECONDS", "3"),
            ("ITSM__SHUTDOWN__GRACE_SECONDS", "30"),
        ]),
    )
    .unwrap();
    assert_eq!(config.discord.failover_seconds, 3);
    assert_eq!(config.shutdown.grace_seconds, 30);
    let err = error_of("[discord]\nfailover_seconds = 0\n");
    assert!(err.contains("discord.failover_seconds"), "{err}");
    let err = error_of("[shutdown]\ngrace_seconds = 0\n");
    assert!(err.contains("shutdown.grace_seconds"), "{err}");
    let err = error_of("[shutdown]\ngrace = 5\n");
    assert!(err.contains("grace"), "{err}");
}

#[test]
fn the_dashboard_token_can_come_from_a_file() {
    let token = file("dash-token-from-file\n");
    let overlay = file(&format!(
        "[http]\ndashboard_token_file = \"{}\"\n",
        token.path().display()
    ));
    let config = Config::load_with_env(Some(overlay.path()), env(&[])).unwrap();
    assert_eq!(
        config.http.dashboard_token.as_ref().map(Secret::expose),
        Some("dash-token-from-file")
    );
    let missing = error_of("[http]\ndashboard_token_file = \"/nonexistent/token\"\n");
    assert!(missing.contains("http.dashboard_token_file"), "{missing}");
}

const VPN_ONCALL: &str = r#"
[[services]]
name = "vpn"
owner = "shell:bob"
channel = "netops"
tier = "1"
rotation = "network"
depends_on = ["dns"]

[[services]]
name = "dns"
public = false
availability_target = 99.99

[[oncall.rotations]]
name = "network"
members = ["shell:bob", "shell:carol"]
handoff = "2026-11-23T09:00"
length = "1w"
time_zone = "Europe/Berlin"
escalate_after = "5m"
"#;

#[test]
fn services_and_rotations_load_with_their_defaults() {
    let file = file(VPN_ONCALL);
    let config = Config::load_with_env(Some(file.path()), env(&[])).unwrap();
    let vpn = config.service("vpn").unwrap();
    assert!((vpn.availability_target - 99.9).abs() < 1e-9);
    assert!(vpn.public);
    assert_eq!(vpn.channel.as_ref().unwrap().to_string(), "netops");
    let dns = config.service("dns").unwrap();
    assert!(!dns.public);
    let rotation = config.rotation("network").unwrap();
    assert_eq!(rotation.days, 7);
    assert_eq!(rotation.escalate_after, chrono::Duration::minutes(5));
}

#[test]
fn bad_services_and_rotations_name_their_key() {
    let with = |from: &str, to: &str| error_of(&VPN_ONCALL.replace(from, to));
    let error = with("rotation = \"network\"", "rotation = \"netwrk\"");
    assert!(
        error.contains("services[0].rotation") && error.contains("network"),
        "{error}"
    );
    let error = with("[\"dns\"]", "[\"dnss\"]");
    assert!(error.contains("services[0].depends_on"), "{error}");
    let error = with("availability_target = 99.99", "availability_target = 120");
    assert!(
        error.contains("services[1].availability_target") && error.contains("at most 100"),
        "{error}"
    );
    let error = with("length = \"1w\"", "length = \"12h\"");
    assert!(
        error.contains("oncall.rotations[0].length") && error.contains("whole days"),
        "{error}"
    );
    let error = with("2026-11-23T09:00", "next monday");
    assert!(error.contains("oncall.rotations[0].handoff"), "{error}");
    let error = with("members = [\"shell:bob\", \"shell:carol\"]", "members = []");
    assert!(error.contains("oncall.rotations[0].members"), "{error}");
}

#[test]
fn a_review_template_is_read_and_checked_at_start() {
    let template = file("# Review of {{ reference }}\n");
    let path = template.path().to_string_lossy().to_string();
    let config = Config::load_with_env(
        None,
        env(&[("ITSM__POSTMORTEM__TEMPLATE_FILE", path.as_str())]),
    )
    .unwrap();
    assert_eq!(
        config.postmortem.template.as_deref(),
        Some("# Review of {{ reference }}\n")
    );

    let broken = file("# Review of {{ reference \n{% for x in %}");
    let path = broken.path().to_string_lossy().to_string();
    let err = Config::load_with_env(
        None,
        env(&[("ITSM__POSTMORTEM__TEMPLATE_FILE", path.as_str())]),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("postmortem.template_file") && err.contains("not a valid template"),
        "{err}"
    );

    let err = Config::load_with_env(
        None,
        env(&[("ITSM__POSTMORTEM__TEMPLATE_FILE", "/nonexistent/review.md")]),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("postmortem.template_file") && err.contains("cannot read"),
        "{err}"
    );
    assert!(Config::defaults().unwrap().postmortem.template.is_none());
}

/// Issue 22 (6): `http.public_url` is optional, must be an http(s) URL
/// with a host, and makes cookies Secure only when it is https.
#[test]
fn public_url_is_an_http_url_and_https_makes_cookies_secure() {
    let load = |value: &str| Config::load_with_env(None, env(&[("ITSM__HTTP__PUBLIC_URL", value)]));
    assert!(!Config::load_with_env(None, env(&[]))
        .unwrap()
        .http
        .secure_cookies());
    assert!(load("https://itsm.example.org")
        .unwrap()
        .http
        .secure_cookies());
    assert!(!load("http://10.0.0.5:8080/").unwrap().http.secure_cookies());
    for bad in ["itsm.example.org", "ftp://itsm.example.org", "https://", ""] {
        let error = load(bad).unwrap_err().to_string();
        assert!(
            error.contains("`http.public_url`") && error.contains("https://itsm.example.org"),
            "{bad:?}: {error}"
        );
    }
}

/// Issue 22 (8): `discord.reply_within` must leave room under Discord's
/// 3-second limit.
#[test]
fn discord_reply_within_stays_under_three_seconds() {
    let load =
        |value: &str| Config::load_with_env(None, env(&[("ITSM__DISCORD__REPLY_WITHIN", value)]));
    assert_eq!(
        load("1s").unwrap().discord.reply_within(),
        std::time::Duration::from_secs(1)
    );
    assert_eq!(
        Config::load_with_env(None, env(&[]))
            .unwrap()
            .discord
            .reply_within(),
        std::time::Duration::from_secs(2)
    );
    for bad in ["3s", "1m"] {
        let error = load(bad).unwrap_err().to_string();
        assert!(
            error.contains("`discord.reply_within`") && error.contains("less than 3s"),
            "{bad}: {error}"
        );
    }
    let error = load("0s").unwrap_err().to_string();
    assert!(error.contains("`discord.reply_within`"), "{error}");
}

#[test]
fn retention_defaults_are_valid() {
    // The built-in default (no [retention] at all) and the committed file
    // agree, and the hourly schedule parses.
    let built_in = RetentionConfig::default();
    let config = Config::defaults().unwrap();
    assert!(config.retention.enabled && built_in.enabled);
    assert_eq!(config.retention.schedule.text, built_in.schedule.text);
    assert!(built_in
        .schedule
        .schedule
        .upcoming(chrono::Utc)
        .next()
        .is_some());
    for (committed, default) in [
        (
            config.retention.processed_inbound_days,
            built_in.processed_inbound_days,
        ),
        (
            config.retention.delivered_posts_days,
            built_in.delivered_posts_days,
        ),
        (
            config.retention.delivered_calls_days,
            built_in.delivered_calls_days,
        ),
        (config.retention.job_runs_days, built_in.job_runs_days),
    ] {
        assert_eq!(committed, default);
    }
    assert_eq!(config.log.format, crate::telemetry::LogFormat::Text);
}

#[test]
fn retention_and_log_values_are_checked_naming_the_key() {
    let file = file("[shell]\nchannel = \"ops\"\n");
    let config = Config::load_with_env(Some(file.path()), env(&[])).unwrap();
    assert_eq!(config.retention.delivered_posts_days, 14);
    let err = error_of("[retention]\njob_runs_days = 31\n");
    assert!(err.contains("retention.job_runs_days"), "{err}");
    let err = error_of("[log]\nformat = \"xml\"\n");
    assert!(err.contains("log.format"), "{err}");
}

/// Issue 21: `http.proxy` is an http:// URL (the bot speaks CONNECT to it
/// in plain HTTP), refused naming the key and never showing its password;
/// `discord.application_id` is a non-zero id.
#[test]
fn http_proxy_is_an_http_url_shown_without_its_password() {
    let load = |value: &str| Config::load_with_env(None, env(&[("ITSM__HTTP__PROXY", value)]));
    let config = load("http://ops:proxy-pw-123456@proxy.example.org:3128").unwrap();
    let proxy = config.http.proxy.unwrap();
    assert_eq!(
        proxy.expose(),
        "http://ops:proxy-pw-123456@proxy.example.org:3128"
    );
    assert!(!format!("{proxy:?}").contains("proxy-pw-123456"));
    for bad in [
        "proxy.example.org:3128",
        "https://proxy.example.org",
        "socks5://ops:proxy-pw-123456@proxy.example.org:1080",
    ] {
        let error = load(bad).unwrap_err().to_string();
        assert!(error.contains("`http.proxy`"), "{bad:?}: {error}");
        assert!(!error.contains("proxy-pw-123456"), "{error}");
    }
    let load =
        |value: &str| Config::load_with_env(None, env(&[("ITSM__DISCORD__APPLICATION_ID", value)]));
    assert_eq!(
        load("123456789012345678").unwrap().discord.application_id,
        Some(123_456_789_012_345_678)
    );
    assert!(load("0")
        .unwrap_err()
        .to_string()
        .contains("`discord.application_id`"));
}

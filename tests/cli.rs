//! The `itsm-bot` binary as scripts and operators use it, against a
//! database it creates itself.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_itsm-bot");

/// A database name no other test uses, on the server DATABASE_URL names,
/// dropped again when the test ends.
struct FreshDatabase {
    url: String,
    admin_url: String,
    name: String,
}

impl FreshDatabase {
    fn new(tag: &str) -> Self {
        let admin_url = std::env::var("DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let name = format!(
            "itsm_cli_{tag}_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url.as_str(), |(base, _)| base);
        FreshDatabase {
            url: format!("{base}/{name}"),
            admin_url,
            name,
        }
    }

    fn bot(&self) -> Command {
        let mut command = Command::new(BIN);
        command
            .env("DATABASE_URL", &self.url)
            .env("RUST_LOG", "warn")
            .env_remove("ITSM_CONFIG")
            .stdin(Stdio::null());
        command
    }

    fn say(&self, text: &str) -> Output {
        self.say_as("alice", text)
    }

    fn say_as(&self, user: &str, text: &str) -> Output {
        self.bot()
            .args(["say", "--user", user, "--channel", "ops", "--", text])
            .output()
            .unwrap()
    }
}

impl Drop for FreshDatabase {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([
                &self.admin_url,
                "-q",
                "-c",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .output();
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn the_foundation_story_through_say() {
    let db = FreshDatabase::new("story");
    let steps = [
        (
            "/incident VPN down in Berlin office P2",
            "INC-1 reported: VPN down in Berlin office",
        ),
        ("/incident INC-1 ack", "INC-1 acknowledged by shell:alice"),
        ("/incident INC-1 assign @bob", "INC-1 assigned to shell:bob"),
        (
            "/incident INC-1 note restarted the concentrator",
            "Note added to INC-1",
        ),
        (
            "/incident INC-1 resolve firmware rollback",
            "INC-1 resolved: firmware rollback",
        ),
        ("/incident INC-1 close", "INC-1 closed"),
    ];
    for (text, expected) in steps {
        let output = db.say(text);
        assert_eq!(output.status.code(), Some(0), "{text}: {output:?}");
        assert!(
            stdout(&output).contains(expected),
            "{text}: {}",
            stdout(&output)
        );
    }
    let show = db.say("/incident INC-1 show");
    assert_eq!(show.status.code(), Some(0));
    let text = stdout(&show);
    assert!(text.contains("Priority: P2 · Status: closed"), "{text}");
    assert!(text.contains("Timeline (6 events)"), "{text}");
    for action in [
        "created",
        "acknowledged",
        "assigned",
        "note",
        "resolved",
        "closed",
    ] {
        assert!(
            text.contains(&format!("shell:alice  {action}")),
            "{action} missing:\n{text}"
        );
    }

    let refused = db.say("/incident INC-1 ack");
    assert_eq!(refused.status.code(), Some(1));
    assert!(stdout(&refused).contains("INC-1 is closed, so it cannot be acknowledged"));
    assert_eq!(
        stdout(&db.say("/incident INC-1 show")),
        text,
        "the refusal changed nothing"
    );

    let no_title = db.say("/incident P2");
    assert_eq!(no_title.status.code(), Some(1));
    assert!(stdout(&no_title).contains("An incident needs a title"));
    let huge = db.say(&format!("/incident {}", "a".repeat(5_000)));
    assert_eq!(huge.status.code(), Some(1));
    assert!(stdout(&huge).contains("the limit is 4000"));
}

/// Issue 24's story: a known error's workaround becomes a published
/// article, found through the synonyms; a fourth report of a live outage is
/// pointed at the open incident, marked duplicate with one command, and its
/// reporter hears when the outage is resolved.
#[test]
fn knowledge_and_duplicates_story_through_say() {
    let db = FreshDatabase::new("kb");
    let step = |user: &str, text: &str, expected: &[&str]| -> String {
        let output = db.say_as(user, text);
        let out = stdout(&output);
        assert_eq!(output.status.code(), Some(0), "{text}: {out} {output:?}");
        for want in expected {
            assert!(out.contains(want), "{text}: wanted {want:?} in\n{out}");
        }
        out
    };
    step(
        "bob",
        "/problem VPN drops at home service:vpn",
        &["PRB-1 recorded"],
    );
    step(
        "bob",
        "/problem PRB-1 workaround switch to the backup gateway vpn2.example.org",
        &[],
    );
    step(
        "bob",
        "/problem PRB-1 known-error",
        &["PRB-1 is a known error"],
    );
    step(
        "bob",
        "/kb from PRB-1",
        &[
            "KB-1: VPN drops at home",
            "Workaround (from PRB-1): switch to the backup gateway",
        ],
    );
    step("bob", "/kb KB-1 publish", &["KB-1 published"]);

    // "remote access" is a synonym of vpn in the default [search.synonyms].
    step(
        "carol",
        "/incident Cannot connect remote access from home",
        &[
            "INC-1 reported",
            "Article KB-1 may answer it: VPN drops at home",
            "vpn2.example.org",
        ],
    );
    step(
        "carol",
        "/kb search remote access",
        &["KB-1 [published] VPN drops at home"],
    );

    // A live outage, reported four times.
    step(
        "alice",
        "/incident VPN down in Berlin office P1 service:vpn",
        &["INC-2 reported"],
    );
    step("bob", "/incident INC-2 outage", &[]);
    step(
        "erin",
        "/incident VPN down in the Berlin office",
        &["INC-3 reported", "Looks like INC-2"],
    );
    step(
        "bob",
        "/incident INC-3 duplicate-of INC-2",
        &["INC-3 closed as a duplicate of INC-2"],
    );
    step(
        "frank",
        "/incident Berlin office VPN down again",
        &["INC-4 reported", "Looks like INC-2"],
    );
    step("bob", "/incident INC-4 duplicate-of INC-2", &[]);
    let fourth = step(
        "dave",
        "/incident VPN down for everyone in Berlin office",
        &[
            "INC-5 reported",
            "Looks like INC-2, open since",
            "on vpn",
            "`/incident INC-5 duplicate-of INC-2`",
        ],
    );
    assert!(!fourth.contains("Looks like INC-1"), "{fourth}");
    step(
        "bob",
        "/incident INC-5 duplicate-of INC-2",
        &[
            "INC-5 closed as a duplicate of INC-2",
            "shell:dave will hear",
        ],
    );
    step(
        "bob",
        "/itsm search vpn kind:incident status:open",
        &["INC-2", "INC-1"],
    );

    let refused = db.say_as("bob", "/incident INC-5 duplicate-of INC-5");
    assert_eq!(refused.status.code(), Some(1));
    assert!(stdout(&refused).contains("duplicate of itself"));
    let refused = db.say_as("bob", "/itsm search \"");
    assert_eq!(refused.status.code(), Some(1));
    assert!(stdout(&refused).contains("no words to search for"));

    step(
        "bob",
        "/incident INC-2 resolve rolled back the firewall rule",
        &[
            "INC-2 resolved",
            "shell:erin",
            "shell:frank",
            "shell:dave",
            "via INC-5",
        ],
    );

    // The scheduler's training run (`itsm-bot sweep` runs it too; as if a
    // minute later) learns from the resolved outage.
    let at = (chrono::Utc::now() + chrono::Duration::minutes(1)).to_rfc3339();
    let swept = db.bot().args(["sweep", "--at", &at]).output().unwrap();
    assert_eq!(swept.status.code(), Some(0), "{swept:?}");

    // A report without a service: triage suggests the service and priority
    // of the resolved outage, with the reason, and one command applies them.
    step(
        "gina",
        "/incident VPN down in the Munich office",
        &[
            "INC-6 reported",
            "Suggested: service vpn — 1 of the 1 past incidents that said “vpn” were on vpn (100 % sure); priority P1 — 1 of the 1 that said “vpn” (100 % sure).",
            "`/incident INC-6 accept-suggestion`",
        ],
    );
    step(
        "bob",
        "/incident INC-6 accept-suggestion",
        &["INC-6: service vpn and priority P1 set, as suggested"],
    );
    step(
        "bob",
        "/incident INC-6 show",
        &["Priority: P1", "Service: vpn"],
    );
}

#[test]
fn migrate_creates_the_database_and_is_idempotent() {
    let db = FreshDatabase::new("migrate");
    for _ in 0..2 {
        let output = db.bot().arg("migrate").output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{output:?}");
    }
}

#[test]
fn configuration_errors_exit_2_naming_the_key() {
    let db = FreshDatabase::new("config");
    let output = db
        .bot()
        .env("ITSM__DIGEST__TIME_ZONE", "Mars/Olympus")
        .args(["say", "--", "/itsm whoami"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("digest.time_zone") && stderr.contains("Mars/Olympus"),
        "{stderr}"
    );

    let output = db
        .bot()
        .args(["--config", "/nonexistent.toml", "migrate"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn an_unreachable_database_exits_2() {
    let output = Command::new(BIN)
        .env("DATABASE_URL", "postgres://postgres@127.0.0.1:1/itsm")
        .env("ITSM__DATABASE__ACQUIRE_TIMEOUT", "1s")
        .args(["say", "--", "/itsm whoami"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

#[test]
fn serve_answers_health_checks_and_stops_cleanly_on_sigterm() {
    let db = FreshDatabase::new("serve");
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = db
        .bot()
        .env("ITSM__HTTP__BIND", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "info")
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let ready = loop {
        if let Some(response) = http_get(port, "/readyz") {
            if response.starts_with("HTTP/1.1 200") {
                break response;
            }
        }
        assert!(Instant::now() < deadline, "serve did not become ready");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(ready.contains("ready"));
    assert!(http_get(port, "/healthz")
        .unwrap()
        .starts_with("HTTP/1.1 200"));

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "serve did not stop within 10 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(stderr.contains("stopped"), "{stderr}");
}

fn sweep_at(db: &FreshDatabase, at: &str) -> String {
    let output = db.bot().args(["sweep", "--at", at]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    stdout(&output)
}

/// The SLA story from the command line: one warning at 12 minutes, none on
/// a repeat, the breach at 16, and nothing about the response after `ack`.
#[test]
fn sweep_posts_each_warning_once_and_digest_counts() {
    let db = FreshDatabase::new("sweep");
    assert_eq!(
        db.say("/incident Core switch down P1").status.code(),
        Some(0)
    );
    let created = Command::new("psql")
        .args([
            &db.url,
            "-tAc",
            "SELECT extract(epoch FROM created_at)::bigint FROM tickets WHERE number = 1",
        ])
        .output()
        .unwrap();
    let created: i64 = String::from_utf8_lossy(&created.stdout)
        .trim()
        .parse()
        .unwrap();
    let at = |minutes: i64| {
        chrono::DateTime::from_timestamp(created + minutes * 60, 0)
            .unwrap()
            .to_rfc3339()
    };

    let first = sweep_at(&db, &at(12));
    assert_eq!(first.lines().count(), 1, "{first}");
    assert!(first.contains("75% of the 15m response target"), "{first}");
    assert!(sweep_at(&db, &at(12)).contains("No SLA warnings or breaches due"));
    let later = sweep_at(&db, &at(16));
    assert!(
        later.contains("breached its 15m response target"),
        "{later}"
    );

    assert_eq!(db.say("/incident INC-1 ack").status.code(), Some(0));
    let after_ack = sweep_at(&db, &at(3 * 60));
    assert!(!after_ack.contains("response"), "{after_ack}");

    // Without `--date` the digest reports yesterday, the last whole day;
    // the incident was opened on the day of `created`, so ask for that day.
    let day = chrono::DateTime::from_timestamp(created, 0)
        .unwrap()
        .date_naive()
        .to_string();
    let digest = db
        .bot()
        .args(["digest", "--channel", "ops", "--date", &day])
        .output()
        .unwrap();
    assert_eq!(digest.status.code(), Some(0), "{digest:?}");
    let text = stdout(&digest);
    assert!(
        text.contains("Opened: 1") && text.contains(": 1 (P1 1"),
        "{text}"
    );
}

/// A platform that accepts connections and never answers: Slack's
/// `auth.test` and Discord's gateway lookup hang. SIGTERM still ends
/// `serve` within `shutdown.grace_seconds`, the log names what was
/// abandoned, and the Discord gateway lease is handed back.
#[test]
fn serve_exits_within_the_grace_period_when_a_platform_hangs_and_releases_the_lease() {
    let db = FreshDatabase::new("grace");
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("http://{}", silent.local_addr().unwrap());
    // Accept and hold every connection, answering nothing.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in silent.incoming() {
            held.push(stream);
        }
    });
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = db
        .bot()
        .env("ITSM__HTTP__BIND", format!("127.0.0.1:{port}"))
        .env("ITSM__SHUTDOWN__GRACE_SECONDS", "2")
        .env("ITSM__SLACK__BOT_TOKEN", "xoxb-never-answered")
        .env("ITSM__SLACK__APP_TOKEN", "xapp-never-answered")
        .env("ITSM__SLACK__API_URL", format!("{silent_url}/api"))
        .env("ITSM__DISCORD__TOKEN", "discord-never-answered")
        .env("ITSM__DISCORD__API_URL", &silent_url)
        .env("RUST_LOG", "info")
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let lease_held = || {
        let output = Command::new("psql")
            .args([
                db.url.as_str(),
                "-tA",
                "-c",
                "SELECT count(*) FROM leases WHERE name = 'discord-gateway'",
            ])
            .output()
            .unwrap();
        stdout(&output).trim() == "1"
    };
    loop {
        let ready = http_get(port, "/readyz").is_some_and(|r| r.starts_with("HTTP/1.1 200"));
        if ready && lease_held() {
            break;
        }
        assert!(Instant::now() < deadline, "serve did not start");
        std::thread::sleep(Duration::from_millis(100));
    }

    let signalled = Instant::now();
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(5),
            "serve hung past its 2 s grace period"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let took = signalled.elapsed();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(
        took < Duration::from_millis(3500),
        "took {took:?}: {stderr}"
    );
    assert!(stderr.contains("abandoning"), "{stderr}");
    assert!(stderr.contains("Slack adapter"), "{stderr}");
    assert!(stderr.contains("stopped"), "{stderr}");
    assert!(
        !lease_held(),
        "the gateway lease was not released: {stderr}"
    );
}

/// The issue's "done when", through `say` and `sweep` with a config file:
/// vpn at 99.9% with rotation `network` (bob, then carol, weekly,
/// escalating after 5 minutes); a P1 outage of 30 minutes.
#[test]
fn a_vpn_outage_through_say_and_sweep() {
    let db = FreshDatabase::new("vpn");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("vpn.toml");
    // A handoff yesterday: bob's week has six days to go whenever this runs.
    let handoff = (chrono::Utc::now() - chrono::Duration::days(1)).format("%Y-%m-%dT%H:%M");
    std::fs::write(
        &config,
        format!(
            r#"
[[services]]
name = "vpn"
owner = "shell:olivia"
channel = "netops"
availability_target = 99.9
rotation = "network"

[[oncall.rotations]]
name = "network"
members = ["shell:bob", "shell:carol"]
handoff = "{handoff}"
length = "1w"
escalate_after = "5m"
"#
        ),
    )
    .unwrap();
    let say = |who: &str, text: &str| {
        let output = db
            .bot()
            .args(["--config", config.to_str().unwrap()])
            .args(["say", "--user", who, "--channel", "ops", "--", text])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{text}: {output:?}");
        stdout(&output)
    };
    let sweep = |at: &str| {
        let output = db
            .bot()
            .args(["--config", config.to_str().unwrap()])
            .args(["sweep", "--at", at])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{output:?}");
        stdout(&output)
    };

    let vpn = say("alice", "/itsm service vpn");
    assert!(vpn.contains("operational") && vpn.contains("100%"), "{vpn}");
    assert!(say("alice", "/itsm oncall vpn").contains("now shell:bob"));

    let now = chrono::Utc::now();
    let reported = say("alice", "/incident VPN down for everyone P1 service:vpn");
    assert!(
        reported.contains("Paged (on call): shell:bob"),
        "{reported}"
    );
    let since = (now - chrono::Duration::minutes(30)).to_rfc3339();
    say("bob", &format!("/incident INC-1 outage since {since}"));
    assert!(say("alice", "/itsm service vpn").contains("outage"));

    let at = (now + chrono::Duration::minutes(10)).to_rfc3339();
    let first = sweep(&at);
    assert!(
        first.contains("Paging (next on call): shell:carol"),
        "{first}"
    );
    assert!(first.contains("50% of the error budget"), "{first}");
    let again = sweep(&at);
    assert!(
        !again.contains("shell:carol"),
        "carol is paged once: {again}"
    );
    assert!(!again.contains("error budget"), "{again}");

    say("bob", "/incident INC-1 resolve restarted the concentrator");
    let vpn = say("alice", "/itsm service vpn");
    assert!(vpn.contains("operational"), "{vpn}");
    assert!(vpn.contains("99.93"), "{vpn}");
    assert!(
        vpn.contains("69% spent") || vpn.contains("70% spent"),
        "{vpn}"
    );
}

/// One request the fake webhook receiver got: path, headers (lower-case
/// names) and body.
type Received = (String, Vec<(String, String)>, String);

/// A tiny HTTP/1.1 receiver on 127.0.0.1 that records every request and
/// answers 201 with an AWX-like job link. Returns its base URL.
fn webhook_receiver() -> (String, std::sync::Arc<std::sync::Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if std::io::BufRead::read_line(&mut reader, &mut line).is_err() {
                continue;
            }
            let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
            let mut headers = Vec::new();
            loop {
                let mut header = String::new();
                if std::io::BufRead::read_line(&mut reader, &mut header).unwrap_or(0) == 0 {
                    break;
                }
                let header = header.trim_end();
                if header.is_empty() {
                    break;
                }
                if let Some((name, value)) = header.split_once(':') {
                    headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
                }
            }
            let length = headers
                .iter()
                .find(|(name, _)| name == "content-length")
                .and_then(|(_, value)| value.parse::<usize>().ok())
                .unwrap_or(0);
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            log.lock()
                .unwrap()
                .push((path, headers, String::from_utf8_lossy(&body).into_owned()));
            let answer = r#"{"id": 7, "url": "https://awx.example.org/#/jobs/playbook/7"}"#;
            let _ = write!(
                stream,
                "HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    (base, received)
}

/// Whether `signature` is `sha256=` HMAC-SHA256 of `body` under `secret`.
fn signed(signature: Option<&str>, secret: &str, body: &str) -> bool {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    signature == Some(format!("sha256={hex}").as_str())
}

fn header<'a>(request: &'a Received, name: &str) -> Option<&'a str> {
    request
        .1
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn reviews_rules_and_runbooks_through_say() {
    let db = FreshDatabase::new("automation");
    let (base, received) = webhook_receiver();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("automation.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[roles]
engineer = ["shell:alice", "shell:bob"]

[[services]]
name = "vpn"
owner = "shell:olivia"
channel = "netops"

[[automation.rules]]
name = "vpn-p1"
on = "incident.created"
when = {{ service = "vpn", priority = ["P1"] }}
do = [
  {{ post = "network" }},
  {{ webhook = "{base}/hook", secret_env = "ITSM_RULE_SECRET" }},
]

[[automation.runbooks]]
name = "provision-vm"
description = "Provision a virtual machine through the CI job"
role = "engineer"
params = {{ size = ["small", "medium", "large"] }}
request = {{ method = "POST", url = "{base}/provision", body = '{{"size": "{{{{ size }}}}"}}', secret_env = "ITSM_RUNBOOK_SECRET" }}
approval = false
"#
        ),
    )
    .unwrap();
    let run = |who: &str, text: &str| {
        db.bot()
            .env("ITSM_RULE_SECRET", "rule-hmac-secret-7d2a")
            .env("ITSM_RUNBOOK_SECRET", "runbook-hmac-secret-91fe")
            .args(["--config", config.to_str().unwrap()])
            .args(["say", "--user", who, "--channel", "ops", "--", text])
            .output()
            .unwrap()
    };
    let say = |who: &str, text: &str| {
        let output = run(who, text);
        assert_eq!(output.status.code(), Some(0), "{text}: {output:?}");
        stdout(&output)
    };

    let check = db
        .bot()
        .args(["--config", config.to_str().unwrap(), "check-config"])
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(0), "{check:?}");
    let checked = stdout(&check);
    assert!(
        checked.contains("1 rule(s)") && checked.contains("vpn-p1"),
        "{checked}"
    );
    assert!(
        checked.contains("ITSM_RULE_SECRET, which is not set"),
        "{checked}"
    );

    // The rule fires once, and the receiver sees a correctly signed body.
    let reported = say("alice", "/incident VPN down for everyone P1 service:vpn");
    assert!(reported.contains("vpn-p1: posted to network"), "{reported}");
    say("alice", "/incident VPN slow in Paris P3 service:vpn");
    {
        let received = received.lock().unwrap();
        assert_eq!(received.len(), 1, "{received:?}");
        let hook = &received[0];
        assert_eq!(hook.0, "/hook");
        assert_eq!(header(hook, "x-itsm-event"), Some("incident.created"));
        assert!(signed(
            header(hook, "x-itsm-signature"),
            "rule-hmac-secret-7d2a",
            &hook.2
        ));
        assert!(hook.2.contains("\"INC-1\""), "{}", hook.2);
    }

    // A resolved P1 linked to a problem gets its review.
    let since = (chrono::Utc::now() - chrono::Duration::minutes(42)).to_rfc3339();
    say("bob", &format!("/incident INC-1 outage since {since}"));
    say(
        "bob",
        "/problem VPN concentrator runs out of memory service:vpn",
    );
    say("bob", "/problem PRB-1 link INC-1");
    say(
        "bob",
        "/problem PRB-1 rca Memory leak in the concentrator firmware 4.2",
    );
    say("bob", "/incident INC-1 resolve restarted the concentrator");
    let review = say("bob", "/incident INC-1 postmortem");
    assert!(
        review.contains("Memory leak in the concentrator firmware 4.2"),
        "{review}"
    );
    assert!(
        review.contains("42 min") || review.contains("Outage"),
        "{review}"
    );
    assert!(review.contains("restarted the concentrator"), "{review}");
    // The bot runs on the real clock here, and a due date must not have
    // passed when it is set: a week from today.
    let due = (chrono::Utc::now() + chrono::Duration::days(7)).format("%Y-%m-%d");
    say(
        "bob",
        &format!("/incident INC-1 action Upgrade the concentrator firmware @bob due:{due}"),
    );
    let actions = say("alice", "/itsm actions");
    assert!(
        actions.contains("Upgrade the concentrator firmware"),
        "{actions}"
    );

    // An engineer runs the runbook: the receiver gets the parameters, signed,
    // and the run is on the timeline.
    let ran = say("alice", "/itsm run provision-vm size=small");
    assert!(ran.contains("Running `provision-vm`"), "{ran}");
    assert!(ran.contains("answered 201"), "{ran}");
    {
        let received = received.lock().unwrap();
        assert_eq!(received.len(), 2, "{received:?}");
        let call = &received[1];
        assert_eq!(call.0, "/provision");
        assert_eq!(call.2, r#"{"size": "small"}"#);
        assert_eq!(header(call, "x-itsm-event"), Some("runbook.provision-vm"));
        assert!(signed(
            header(call, "x-itsm-signature"),
            "runbook-hmac-secret-91fe",
            &call.2
        ));
    }
    let change = say("alice", "/change CHG-1 show");
    assert!(
        change.contains("runbook") && change.contains("answered 201"),
        "{change}"
    );
    assert!(change.contains("completed"), "{change}");

    // A reporter is refused, naming the role; nothing is called.
    let refused = run("rita", "/itsm run provision-vm size=small");
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    assert!(stdout(&refused).contains("engineer role"), "{refused:?}");
    assert_eq!(received.lock().unwrap().len(), 2);
}

#[test]
fn check_config_refuses_a_bad_rule_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(
        &config,
        "[[automation.rules]]\nname = \"x\"\non = \"incident.created\"\ndo = [{ webhook = \"ftp://example.org\" }]\n",
    )
    .unwrap();
    let output = Command::new(BIN)
        .args(["--config", config.to_str().unwrap(), "check-config"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("automation.rules[0].do[0].webhook"),
        "{stderr}"
    );
}

/// Issue 22 (1, 3): every secret is checked by one rule, and neither
/// `check-config`'s answer nor its error ever shows a secret's value,
/// however odd (numbers, floats, flags, list- or table-looking text).
#[test]
fn check_config_never_shows_a_secret_value() {
    const PAGING_URL: (&str, &str) = (
        "ITSM__ONCALL__PAGING__URL",
        "https://pager.example/v2/enqueue",
    );
    // Each secret's variable, its key, and what else it needs to be read.
    type SecretVar = (
        &'static str,
        &'static str,
        &'static [(&'static str, &'static str)],
    );
    let secrets: [SecretVar; 8] = [
        ("ITSM__HTTP__DASHBOARD_TOKEN", "http.dashboard_token", &[]),
        ("ITSM__HOOKS__TOKEN", "hooks.token", &[]),
        (
            "ITSM__SLACK__BOT_TOKEN",
            "slack.bot_token",
            &[("ITSM__SLACK__APP_TOKEN", "xapp-never-answered")],
        ),
        ("ITSM__SLACK__APP_TOKEN", "slack.app_token", &[]),
        ("ITSM__SLACK__SIGNING_SECRET", "slack.signing_secret", &[]),
        ("ITSM__DISCORD__TOKEN", "discord.token", &[]),
        (
            "ITSM__ONCALL__PAGING__ROUTING_KEY",
            "oncall.paging.routing_key",
            &[PAGING_URL],
        ),
        (
            "ITSM__ONCALL__PAGING__HMAC_SECRET",
            "oncall.paging.hmac_secret",
            &[
                PAGING_URL,
                ("ITSM__ONCALL__PAGING__ROUTING_KEY", "R0UT1NGKEY0123456789"),
            ],
        ),
    ];
    let odd = [
        "007",
        "3.14159265358979",
        "2.718281828",
        "-42",
        "1e308",
        "true",
        "[1, 2, 3]",
        "{ a = 1 }",
        "",
    ];
    for (var, key, needs) in secrets {
        for value in odd {
            let output = Command::new(BIN)
                .arg("check-config")
                .env_remove("ITSM_CONFIG")
                .envs(needs.iter().copied())
                .env(var, value)
                .stdin(Stdio::null())
                .output()
                .unwrap();
            let shown = format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            if value.len() < 16 {
                assert_eq!(output.status.code(), Some(2), "{var}={value:?}: {shown}");
                assert!(shown.contains(key), "{var}={value:?}: {shown}");
            } else {
                assert_eq!(output.status.code(), Some(0), "{var}={value:?}: {shown}");
            }
            if !value.is_empty() {
                assert!(!shown.contains(value), "{var}={value:?}: {shown}");
            }
        }
    }
}

/// The signing secret a rule's webhook reads from the environment
/// (`secret_env`) meets the same rule as the configured secrets.
#[test]
fn check_config_refuses_a_short_automation_signing_secret() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rule.toml");
    std::fs::write(
        &config,
        "[[automation.rules]]\nname = \"vpn-p1\"\non = \"incident.created\"\ndo = [{ webhook = \"https://example.org/hook\", secret_env = \"ITSM_TEST_RULE_SECRET\" }]\n",
    )
    .unwrap();
    let check = |secret: &str| {
        Command::new(BIN)
            .args(["--config", config.to_str().unwrap(), "check-config"])
            .env_remove("ITSM_CONFIG")
            .env("ITSM_TEST_RULE_SECRET", secret)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let short = check("hunter2");
    assert_eq!(short.status.code(), Some(2), "{short:?}");
    let stderr = String::from_utf8_lossy(&short.stderr);
    assert!(
        stderr.contains("rule vpn-p1") && stderr.contains("ITSM_TEST_RULE_SECRET"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
    let long = check("rule-hmac-secret-0123456789");
    assert_eq!(long.status.code(), Some(0), "{long:?}");
}

#[test]
fn version_names_the_binary_and_the_schema_it_needs() {
    let output = Command::new(BIN).arg("--version").output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    let newest = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .unwrap()
        .filter_map(|entry| {
            let name = entry.unwrap().file_name().into_string().unwrap();
            name.split('_').next().unwrap().parse::<i64>().ok()
        })
        .max()
        .unwrap();
    assert_eq!(
        text.trim(),
        format!(
            "itsm-bot {} (database schema {newest})",
            env!("CARGO_PKG_VERSION")
        )
    );
}

#[test]
fn an_older_binary_refuses_a_newer_schema_naming_both_versions() {
    let db = FreshDatabase::new("newer");
    let output = db.bot().arg("migrate").output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let version = stdout(&Command::new(BIN).arg("--version").output().unwrap());
    let binary: i64 = version
        .trim()
        .trim_end_matches(')')
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    // What a newer release leaves behind: a migration this binary lacks.
    let future = binary + 1_000_000;
    let insert = Command::new("psql")
        .args([
            &db.url,
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            &format!(
                "INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, execution_time)
                 VALUES ({future}, 'from a newer release', now(), true, '\\x00', 1)"
            ),
        ])
        .output()
        .unwrap();
    assert!(insert.status.success(), "{insert:?}");

    let output = db
        .bot()
        .env("ITSM__HTTP__BIND", "127.0.0.1:0")
        .arg("serve")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("schema is at version {future}"))
            && stderr.contains(&format!("version {binary} this itsm-bot"))
            && stderr.contains("upgrade itsm-bot")
            && stderr.contains("restore the backup"),
        "{stderr}"
    );
    // `say` and `migrate` refuse it too: an older binary writes nothing.
    let said = db.say("/incident Printer on fire P3");
    assert_eq!(said.status.code(), Some(2), "{said:?}");
    let migrated = db.bot().arg("migrate").output().unwrap();
    assert_eq!(migrated.status.code(), Some(2), "{migrated:?}");
}

#[test]
fn json_logs_are_one_object_per_line_without_secrets() {
    let db = FreshDatabase::new("jsonlog");
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let secret = "a-dashboard-token-nobody-may-see-0123";
    let mut child = db
        .bot()
        .env("ITSM__HTTP__BIND", format!("127.0.0.1:{port}"))
        .env("ITSM__LOG__FORMAT", "json")
        .env("ITSM__HTTP__DASHBOARD_TOKEN", secret)
        .env("RUST_LOG", "debug,sqlx=warn,hyper=info,h2=info")
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if http_get(port, "/readyz").is_some_and(|r| r.starts_with("HTTP/1.1 200")) {
            break;
        }
        assert!(Instant::now() < deadline, "serve did not become ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = http_get(port, &format!("/?token={secret}"));
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    child.wait().unwrap();
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() >= 2, "{stderr}");
    for line in &lines {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|err| panic!("not JSON ({err}): {line}"));
        assert!(
            value.get("level").is_some() && value.get("timestamp").is_some(),
            "{line}"
        );
    }
    assert!(stderr.contains("itsm-bot serving"), "{stderr}");
    assert!(
        !stderr.contains(secret),
        "a secret reached the log: {stderr}"
    );
}

/// psql `-tAc` one query against `url`.
fn psql_value(url: &str, sql: &str) -> String {
    let output = Command::new("psql")
        .args([url, "-tA", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .unwrap();
    assert!(output.status.success(), "{sql}: {output:?}");
    stdout(&output).trim().to_string()
}

/// The recipe in docs/operations.md, "Backups": `pg_dump -Fc`, then
/// `pg_restore` into a new database, and the bot serves from the restored
/// one with every ticket and timeline intact.
#[test]
fn a_backup_restores_into_a_new_database_with_every_ticket_and_timeline() {
    let db = FreshDatabase::new("backup");
    for line in [
        "/incident VPN down in Berlin P2",
        "/incident INC-1 ack",
        "/incident INC-1 note restarted the concentrator",
        "/incident INC-1 resolve firmware rollback",
        "/incident INC-1 close",
        "/incident Printer jams P4",
        "/problem VPN concentrator drops sessions",
        "/problem PRB-1 link INC-1",
        "/change Upgrade VPN firmware",
    ] {
        let output = db.say(line);
        assert_eq!(output.status.code(), Some(0), "{line}: {output:?}");
    }
    let shows = [
        "/incident INC-1 show",
        "/problem PRB-1 show",
        "/change CHG-1 show",
    ];
    let before: Vec<String> = shows.iter().map(|line| stdout(&db.say(line))).collect();
    let counts =
        "SELECT (SELECT count(*) FROM tickets) || ' ' || (SELECT count(*) FROM ticket_events) \
                  || ' ' || (SELECT count(*) FROM problem_incidents)";
    let counted = psql_value(&db.url, counts);

    let dump = tempfile::NamedTempFile::new().unwrap();
    let output = Command::new("pg_dump")
        .args(["-Fc", "-f"])
        .arg(dump.path())
        .arg(&db.url)
        .output()
        .unwrap();
    assert!(output.status.success(), "pg_dump: {output:?}");

    let restored = FreshDatabase::new("restored");
    psql_value(
        &restored.admin_url,
        &format!("CREATE DATABASE {}", restored.name),
    );
    let output = Command::new("pg_restore")
        .args(["--no-owner", "--exit-on-error", "-d", &restored.url])
        .arg(dump.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "pg_restore: {output:?}");
    // The source goes away first: whatever answers now comes from the copy.
    drop(db);

    assert_eq!(psql_value(&restored.url, counts), counted);
    // The restored schema is current: migrate changes nothing.
    let output = restored.bot().arg("migrate").output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let after: Vec<String> = shows
        .iter()
        .map(|line| stdout(&restored.say(line)))
        .collect();
    assert_eq!(after, before);
    assert!(
        after[0].contains("note: restarted the concentrator"),
        "{}",
        after[0]
    );
    // And it takes new work, numbering on from the restored sequences.
    let output = restored.say("/incident Scanner offline P3");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(stdout(&output).starts_with("INC-3 reported"), "{output:?}");
}

#[test]
fn check_config_refuses_bad_retention_days_naming_the_key() {
    for (key, value) in [
        ("PROCESSED_INBOUND_DAYS", "0"),
        ("DELIVERED_POSTS_DAYS", "-1"),
        ("DELIVERED_CALLS_DAYS", "0"),
        ("JOB_RUNS_DAYS", "7"),
    ] {
        let output = Command::new(BIN)
            .env(format!("ITSM__RETENTION__{key}"), value)
            .env_remove("ITSM_CONFIG")
            .arg("check-config")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{key}={value}: {output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let name = format!("retention.{}", key.to_ascii_lowercase());
        assert!(stderr.contains(&name) && stderr.contains(value), "{stderr}");
    }
}

/// The committed manifests under deploy/slack/ are exactly what the
/// command prints, so they cannot drift from the adapter.
#[test]
fn slack_manifest_matches_the_committed_files() {
    let root = env!("CARGO_MANIFEST_DIR");
    for (args, file) in [
        (vec!["slack", "manifest"], "deploy/slack/manifest.json"),
        (
            vec!["slack", "manifest", "--http", "https://itsm.example.org"],
            "deploy/slack/manifest-http.json",
        ),
    ] {
        let output = Command::new(BIN)
            .args(&args)
            .env_remove("ITSM_CONFIG")
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{args:?}");
        let committed = std::fs::read_to_string(format!("{root}/{file}")).unwrap();
        assert_eq!(
            stdout(&output),
            committed,
            "{file} differs from `itsm-bot {}`; regenerate it",
            args.join(" ")
        );
        let manifest: serde_json::Value = serde_json::from_str(&committed).unwrap();
        let scopes = manifest["oauth_config"]["scopes"]["bot"].to_string();
        assert!(!scopes.contains("im:write"), "{scopes}");
    }
    // A base URL that is not one is refused, exit 2.
    let output = Command::new(BIN)
        .args(["slack", "manifest", "--http", "itsm.example.org"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--http"));
}

#[test]
fn discord_invite_url_needs_the_application_id_and_names_the_key() {
    let output = Command::new(BIN)
        .args(["discord", "invite-url"])
        .env_remove("ITSM_CONFIG")
        .env_remove("ITSM__DISCORD__APPLICATION_ID")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("discord.application_id")
            && stderr.contains("ITSM__DISCORD__APPLICATION_ID"),
        "{stderr}"
    );
    let output = Command::new(BIN)
        .args(["discord", "invite-url"])
        .env_remove("ITSM_CONFIG")
        .env("ITSM__DISCORD__APPLICATION_ID", "123456789012345678")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let url = stdout(&output);
    assert!(
        url.starts_with("https://discord.com/oauth2/authorize?client_id=123456789012345678&scope=bot%20applications.commands&permissions="),
        "{url}"
    );
}

/// `check-config --connect` with the database down: one FAIL line naming
/// the fix, exit 1, and the URL's password hidden.
#[test]
fn check_config_connect_reports_an_unreachable_database() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let output = Command::new(BIN)
        .args(["check-config", "--connect"])
        .env_remove("ITSM_CONFIG")
        .env(
            "DATABASE_URL",
            format!("postgres://itsm:database-s3cret-pw@127.0.0.1:{port}/itsm"),
        )
        .output()
        .unwrap();
    let out = stdout(&output);
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{out}\n{err}");
    let line = out
        .lines()
        .find(|l| l.starts_with("FAIL database:"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(line.contains("— fix:") && line.contains("***"), "{line}");
    assert!(!out.contains("database-s3cret-pw") && !err.contains("database-s3cret-pw"));
    assert!(out.contains("1 part(s) failed"), "{out}");

    // After `migrate`, a fresh database passes.
    let db = FreshDatabase::new("connect");
    let output = db.bot().args(["migrate"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let output = db
        .bot()
        .args(["check-config", "--connect"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(stdout(&output).contains("ok   database:"));
}

#[path = "slack/http_proxy.rs"]
mod http_proxy;

/// Rule webhooks and runbooks go through the outbound proxy named by
/// `HTTP_PROXY` (NO_PROXY set empty so 127.0.0.1 is proxied), and
/// `check-config --connect` says so for their host.
#[test]
fn webhooks_and_runbooks_go_through_the_outbound_proxy() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let proxy = runtime.block_on(http_proxy::HttpProxy::start());
    let db = FreshDatabase::new("proxy");
    let (base, received) = webhook_receiver();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("proxy.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[roles]
engineer = ["shell:alice"]

[[services]]
name = "vpn"
owner = "shell:olivia"

[[automation.rules]]
name = "vpn-p1"
on = "incident.created"
when = {{ service = "vpn", priority = ["P1"] }}
do = [ {{ webhook = "{base}/hook" }} ]

[[automation.runbooks]]
name = "restart"
description = "Restart the VPN concentrator"
role = "engineer"
params = {{ node = ["a", "b"] }}
request = {{ method = "POST", url = "{base}/restart", body = '{{"node": "{{{{ node }}}}"}}' }}
approval = false
"#
        ),
    )
    .unwrap();
    let proxied = |args: &[&str]| {
        let mut command = db.bot();
        command
            .args(["--config", config.to_str().unwrap()])
            .args(args)
            .env("HTTP_PROXY", proxy.url(Some("ops:hook-proxy-s3cret")))
            .env("NO_PROXY", "")
            .env_remove("no_proxy")
            .env("RUST_LOG", "debug");
        let output = command.output().unwrap();
        let all = format!(
            "{}{}",
            stdout(&output),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(!all.contains("hook-proxy-s3cret"), "{all}");
        output
    };
    let output = proxied(&[
        "say",
        "--user",
        "alice",
        "--",
        "/incident VPN down P1 service:vpn",
    ]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let output = proxied(&["say", "--user", "alice", "--", "/itsm run restart node=a"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let paths: Vec<String> = received
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.0.clone())
        .collect();
    assert!(paths.contains(&"/hook".to_string()), "{paths:?}");
    assert!(paths.contains(&"/restart".to_string()), "{paths:?}");
    let receiver = base.trim_start_matches("http://").to_string();
    let through = proxy
        .tunnels()
        .iter()
        .filter(|t| t.target == receiver)
        .count();
    assert!(through >= 2, "{:?}", proxy.tunnels());

    let output = proxied(&["check-config", "--connect"]);
    let out = stdout(&output);
    assert!(
        out.contains("ok   outbound host 127.0.0.1: reached through the outbound proxy"),
        "{out}"
    );
    let all = format!("{out}{}", String::from_utf8_lossy(&output.stderr));
    assert!(!all.contains("hook-proxy-s3cret"), "{all}");
}

/// A proxy that does not answer is a failed part of its own, named with
/// its fix and without its password.
#[test]
fn check_config_connect_reports_an_unreachable_proxy() {
    let db = FreshDatabase::new("noproxy");
    assert_eq!(
        db.bot().arg("migrate").output().unwrap().status.code(),
        Some(0)
    );
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let output = db
        .bot()
        .args(["check-config", "--connect"])
        .env(
            "ITSM__HTTP__PROXY",
            format!("http://ops:gone-proxy-s3cret@127.0.0.1:{port}"),
        )
        .output()
        .unwrap();
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    let line = out
        .lines()
        .find(|l| l.starts_with("FAIL outbound proxy:"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(line.contains("— fix:") && line.contains("***"), "{line}");
    assert!(out.contains("ok   database:"), "{out}");
    let all = format!("{out}{}", String::from_utf8_lossy(&output.stderr));
    assert!(!all.contains("gone-proxy-s3cret"), "{all}");
}

/// Issue 23's story through `itsm-bot say`: a new starter's laptop approved
/// by the listed manager (the requester's own approval refused), taken,
/// three tasks done, fulfilled; a `vm` request whose approval calls the
/// `provision-vm` runbook against a receiver that checks the signature and
/// the parameters, fulfilled from the answer.
#[test]
fn a_service_request_from_ask_to_fulfilled_through_say() {
    let db = FreshDatabase::new("requests");
    let (base, received) = webhook_receiver();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("requests.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[roles]
engineer = ["shell:alice", "shell:bob"]

[[automation.runbooks]]
name = "provision-vm"
role = "engineer"
params = {{ size = ["small", "medium", "large"], name = "string" }}
request = {{ method = "POST", url = "{base}/provision", body = '{{"size": "{{{{ size }}}}", "name": "{{{{ name }}}}"}}', secret_env = "ITSM_RUNBOOK_SECRET" }}

[[requests.catalog]]
name = "laptop"
title = "New or replacement laptop"
fields = [
  {{ name = "model", kind = "choice", choices = ["13-inch", "15-inch"], required = true }},
  {{ name = "reason", kind = "text" }},
]
approval = ["shell:mia"]
tasks = ["Order", "Image", "Hand over"]

[[requests.catalog]]
name = "vm"
title = "Virtual machine"
fields = [ {{ name = "size", kind = "choice", choices = ["small", "medium", "large"], required = true }},
           {{ name = "name", kind = "text", required = true }} ]
approval = ["shell:mia"]
runbook = "provision-vm"
"#
        ),
    )
    .unwrap();
    let run = |who: &str, text: &str| {
        db.bot()
            .env("ITSM_RUNBOOK_SECRET", "runbook-hmac-secret-91fe")
            .args(["--config", config.to_str().unwrap()])
            .args(["say", "--user", who, "--channel", "ops", "--", text])
            .output()
            .unwrap()
    };
    let say = |who: &str, text: &str| {
        let output = run(who, text);
        assert_eq!(output.status.code(), Some(0), "{text}: {output:?}");
        stdout(&output)
    };
    let refuse = |who: &str, text: &str| {
        let output = run(who, text);
        assert_eq!(output.status.code(), Some(1), "{text}: {output:?}");
        format!(
            "{}{}",
            stdout(&output),
            String::from_utf8_lossy(&output.stderr)
        )
    };

    let catalog = say("alice", "/request");
    assert!(
        catalog.contains("`laptop`") && catalog.contains("`vm`"),
        "{catalog}"
    );
    let asked = say(
        "alice",
        "/request laptop model:13-inch reason:\"new starter\" for Eve in sales",
    );
    assert!(asked.contains("REQ-1 asked"), "{asked}");
    let own = refuse("alice", "/request REQ-1 approve");
    assert!(own.contains("never approves their own"), "{own}");
    assert!(say("mia", "/itsm requests approvals").contains("REQ-1"));
    say("mia", "/request REQ-1 approve welcome aboard");
    say("bob", "/request REQ-1 take");
    for task in 1..=3 {
        say("bob", &format!("/request REQ-1 task {task} done"));
    }
    let fulfilled = say("bob", "/request REQ-1 fulfil handed over at the desk");
    assert!(fulfilled.contains("REQ-1 fulfilled"), "{fulfilled}");
    let rated = say("alice", "/request REQ-1 rate 5");
    assert!(rated.contains("You rated REQ-1 5/5"), "{rated}");
    let shown = say("alice", "/request REQ-1 show");
    assert!(
        shown.contains("fulfilled") && shown.contains("new starter") && shown.contains("rated 5/5"),
        "{shown}"
    );

    say("alice", "/request vm size:small name:web-1");
    assert!(
        received.lock().unwrap().is_empty(),
        "nothing runs before approval"
    );
    let approved = say("mia", "/request REQ-2 approve");
    assert!(approved.contains("Running `provision-vm`"), "{approved}");
    {
        let received = received.lock().unwrap();
        assert_eq!(received.len(), 1, "{received:?}");
        let call = &received[0];
        assert_eq!(call.0, "/provision");
        assert_eq!(header(call, "x-itsm-event"), Some("runbook.provision-vm"));
        assert!(signed(
            header(call, "x-itsm-signature"),
            "runbook-hmac-secret-91fe",
            &call.2
        ));
        let body: serde_json::Value = serde_json::from_str(&call.2).unwrap();
        assert_eq!(body["size"], "small");
        assert_eq!(body["name"], "web-1");
    }
    let vm = say("alice", "/request REQ-2 show");
    assert!(
        vm.contains("fulfilled") && vm.contains("answered 201"),
        "{vm}"
    );
    let mine = say("alice", "/itsm requests mine");
    assert!(mine.contains("none"), "{mine}");
}

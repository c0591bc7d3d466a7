//! The fault test (issue 9): three `itsm-bot serve` replicas in Slack HTTP
//! mode, on a PostgreSQL cluster of the test's own, against a fake Slack
//! that rate-limits and fails a share of its calls. A few hundred signed
//! slash commands are spread over the replicas while PostgreSQL restarts
//! once and one replica is `kill -9`ed and started again. At the end the
//! test prints the figures (see RELIABILITY.md) and asserts the zeros:
//! nothing acknowledged is lost or doubled, every acknowledged incident's
//! card reaches its channel, no SLA warning is posted twice, and every
//! replica serves again.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod cluster;
#[path = "../slack/fake_slack.rs"]
mod fake_slack;
#[allow(dead_code, unused_imports)]
#[path = "../slack/harness.rs"]
mod harness;
mod replica;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use sqlx::PgPool;
use tokio::time::{sleep_until, Instant};

use crate::cluster::Cluster;
use crate::fake_slack::FakeSlack;
use crate::harness::{command_form, now, sign, CHANNEL, SECRET, STAFF};
use crate::replica::Replica;

/// Slash commands sent, one every [`INTERVAL`], round-robin over the replicas.
const COMMANDS: usize = 300;
const INTERVAL: Duration = Duration::from_millis(200);
/// Every this-many-th command reports a P1, whose warnings come due in the test.
const P1_EVERY: usize = 10;
/// The P1 response target: warnings at 75 % and 90 %, the breach at 100 %.
const P1_RESPOND_SECS: u64 = 20;
/// The fault schedule, from the first command.
const KILL_AT: Duration = Duration::from_secs(12);
const RESTART_AT: Duration = Duration::from_secs(18);
const PG_STOP_AT: Duration = Duration::from_secs(30);
const PG_DOWN_FOR: Duration = Duration::from_secs(10);
/// Which replica is killed.
const VICTIM: usize = 1;
/// How long one slash command may take before the test gives up on it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Where warnings are also posted (besides the incident's channel).
const ESCALATION: &str = "C0ESCALATE";
/// The share of fake Slack Web API calls that fail, in percent.
const RATE_LIMITED_PCT: u64 = 10;
const SERVER_ERROR_PCT: u64 = 5;

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("bind 127.0.0.1:0 to find a free port")
}

/// How one slash command ended, as its sender saw it.
#[derive(Debug, Clone)]
enum Answer {
    /// The reply (or the response_url follow-up) said `INC-n reported`.
    Reported { number: i64, at: Instant },
    /// "The service desk database is unavailable, please try again".
    Unavailable,
    /// "Something went wrong on the service desk's side".
    Failed,
    /// "Working on it…" and no follow-up arrived.
    NoFollowUp,
    /// No HTTP answer: the replica was down or died mid-request.
    NotDelivered(String),
    /// Anything else (a status or text the test does not know).
    Other(String),
}

struct Sent {
    index: usize,
    title: String,
    p1: bool,
    replica: usize,
    trigger: String,
    sent_at: Instant,
    /// The immediate HTTP answer, or why there was none.
    immediate: Result<(u16, String, Instant), String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_commands_survive_a_database_restart_and_a_killed_replica() {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("temporary directory");
    let pg_dir = dir.path().join("pg");
    std::fs::create_dir(&pg_dir).expect("create the cluster's directory");
    let cluster = Arc::new(Cluster::create(&pg_dir));

    let fake = FakeSlack::start().await;
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    fake.set_chaos(RATE_LIMITED_PCT, SERVER_ERROR_PCT, seed);

    let config = dir.path().join("fault.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[database]
max_connections = 5
acquire_timeout = "3s"

[shell]
enabled = false

[scheduler]
sla_sweep = "*/2 * * * * *"

[slack]
mode = "http"
reply_within = "2s"

[sla]
escalation_channel = "slack:{ESCALATION}"

[sla.policies]
P1 = {{ respond = "{P1_RESPOND_SECS}s", resolve = "4h" }}
"#
        ),
    )
    .expect("write the replicas' config");
    let env = vec![
        ("DATABASE_URL".to_string(), cluster.url("itsm")),
        ("ITSM__SLACK__API_URL".to_string(), fake.api_url()),
        (
            "ITSM__SLACK__BOT_TOKEN".to_string(),
            "xoxb-fault-test-token".to_string(),
        ),
        (
            "ITSM__SLACK__SIGNING_SECRET".to_string(),
            SECRET.to_string(),
        ),
        ("RUST_LOG".to_string(), "info,sqlx=warn".to_string()),
    ];
    let mut replicas: Vec<Replica> = (0..3)
        .map(|n| {
            Replica::new(
                &format!("replica-{n}"),
                free_port(),
                &config,
                dir.path(),
                env.clone(),
            )
        })
        .collect();
    for replica in &mut replicas {
        replica.start();
    }
    for replica in &replicas {
        replica.wait_ready(Duration::from_secs(60)).await;
    }
    let ports: Vec<u16> = replicas.iter().map(|r| r.port).collect();
    println!(
        "fault test: cluster on port {}, replicas on {ports:?}, fake Slack at {}, chaos seed {seed}; ready after {:.1?}",
        cluster.port,
        fake.api_url(),
        started.elapsed()
    );

    // ------------------------------------------------------------ the burst
    let burst = Instant::now();
    let sender = {
        let fake = fake.clone();
        let ports = ports.clone();
        tokio::spawn(async move {
            let mut tasks = Vec::new();
            for index in 0..COMMANDS {
                sleep_until(burst + INTERVAL * index as u32).await;
                let replica = index % ports.len();
                let port = ports[replica];
                let fake = fake.clone();
                tasks.push(tokio::spawn(async move {
                    send_command(&fake, index, replica, port).await
                }));
            }
            let mut sent = Vec::new();
            for task in tasks {
                sent.push(task.await.expect("a sender task panicked"));
            }
            sent
        })
    };

    // The faults, while the commands flow.
    sleep_until(burst + KILL_AT).await;
    replicas[VICTIM].kill();
    let killed_at = Instant::now();
    sleep_until(burst + RESTART_AT).await;
    replicas[VICTIM].start();
    replicas[VICTIM].wait_ready(Duration::from_secs(30)).await;
    let victim_back = killed_at.elapsed();

    sleep_until(burst + PG_STOP_AT).await;
    let stopping = cluster.clone();
    tokio::task::spawn_blocking(move || stopping.stop())
        .await
        .expect("stop PostgreSQL");
    let pg_down_at = Instant::now();
    sleep_until(pg_down_at + PG_DOWN_FOR).await;
    let starting = cluster.clone();
    tokio::task::spawn_blocking(move || starting.start())
        .await
        .expect("start PostgreSQL");
    let pg_back_at = Instant::now();

    let sent = sender.await.expect("the sender panicked");
    let burst_took = burst.elapsed();

    // ------------------------------------------------------------ recovery
    // Follow-ups through response_url for the commands answered "Working on it…".
    let follow_up_deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < follow_up_deadline
        && sent
            .iter()
            .any(|s| is_working(&s.immediate) && fake.timed_responses(&s.trigger).is_empty())
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let answers: Vec<Answer> = sent.iter().map(|s| classify(&fake, s)).collect();

    let pool = PgPool::connect(&cluster.url("itsm"))
        .await
        .expect("connect to the test's cluster");
    // Every replica serves again after the restart.
    for replica in &replicas {
        replica.wait_ready(Duration::from_secs(30)).await;
    }
    // Bounded wait: the outbox drained and the P1 warnings all came due.
    let drain_deadline = Instant::now() + Duration::from_secs(90);
    let mut drained = false;
    while Instant::now() < drain_deadline {
        let pending: i64 = sqlx::query_scalar(
            "SELECT (SELECT count(*) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL)
                  + (SELECT count(*) FROM sla_outcomes WHERE next_due_at < now() + interval '10 minutes')",
        )
        .fetch_one(&pool)
        .await
        .expect("count pending work");
        if pending == 0 {
            drained = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // ------------------------------------------------------------ the figures
    let titles: HashMap<String, i64> =
        sqlx::query_as::<_, (String, i64)>("SELECT title, count(*) FROM tickets GROUP BY title")
            .fetch_all(&pool)
            .await
            .expect("count tickets by title")
            .into_iter()
            .collect();
    let in_db = |title: &str| titles.get(title).copied().unwrap_or(0);

    let messages = fake.messages();
    // Incidents listed in a posted summary, by number, and how many
    // summaries (posted messages) list each.
    let posted: Vec<(String, String)> = messages
        .iter()
        .filter_map(|m| {
            Some((
                m["channel"].as_str()?.to_string(),
                m["ts"].as_str()?.to_string(),
            ))
        })
        .collect();
    let summaries: Vec<(String, Option<String>, Option<String>)> =
        sqlx::query_as("SELECT channel, message_id, thread FROM outbox_summaries")
            .fetch_all(&pool)
            .await
            .expect("list summaries");
    let mut summarized_in: HashMap<i64, usize> = HashMap::new();
    let listed: Vec<(i64, String, Option<String>)> = sqlx::query_as(
        "SELECT t.number, s.channel, s.message_id FROM outbox_summary_tickets l
         JOIN outbox_summaries s ON s.id = l.summary_id JOIN tickets t ON t.id = l.ticket_id",
    )
    .fetch_all(&pool)
    .await
    .expect("list summarized tickets");
    for (number, channel, message) in &listed {
        if message
            .as_ref()
            .is_some_and(|ts| posted.contains(&(channel.clone(), ts.clone())))
        {
            *summarized_in.entry(*number).or_default() += 1;
        }
    }
    let mut summarized_cards = 0_usize;
    let mut tally: BTreeMap<&str, usize> = BTreeMap::new();
    let mut missing = Vec::new();
    let mut doubled = Vec::new();
    let mut unacknowledged_in_db = 0;
    let mut refused_in_db = Vec::new();
    let mut no_card = Vec::new();
    let mut card_twice = Vec::new();
    let mut first_after_restart: Option<Duration> = None;
    let mut served_after_restart = vec![0_usize; replicas.len()];
    let mut expected_notices = 0;
    let mut during_outage: BTreeMap<&str, usize> = BTreeMap::new();
    for (sent, answer) in sent.iter().zip(&answers) {
        let label = match answer {
            Answer::Reported { .. } => "reported",
            Answer::Unavailable => "unavailable",
            Answer::Failed => "failed",
            Answer::NoFollowUp => "no follow-up",
            Answer::NotDelivered(_) => "not delivered",
            Answer::Other(_) => "other",
        };
        *tally.entry(label).or_default() += 1;
        if sent.sent_at >= pg_down_at && sent.sent_at < pg_back_at {
            *during_outage.entry(label).or_default() += 1;
        }
        let count = in_db(&sent.title);
        match answer {
            Answer::Reported { number, at } => {
                match count {
                    0 => missing.push(sent.title.clone()),
                    1 => {}
                    _ => doubled.push(sent.title.clone()),
                }
                if *at > pg_back_at {
                    let after = *at - pg_back_at;
                    first_after_restart = Some(first_after_restart.map_or(after, |f| f.min(after)));
                    served_after_restart[sent.replica] += 1;
                }
                let header = format!("INC-{number} · {}", sent.title);
                let cards = messages
                    .iter()
                    .filter(|m| m["channel"] == CHANNEL && m.to_string().contains(&header))
                    .count();
                // Under a burst the outbox lists a channel's cards in a
                // summary post instead (`outbox.coalesce_after`): the
                // ticket is accounted for when its summary was posted.
                let summarized = summarized_in.get(number).copied().unwrap_or(0);
                match (cards, summarized) {
                    (0, 0) => no_card.push(format!("INC-{number}")),
                    (1, 0) | (0, 1) => {}
                    _ => card_twice.push(format!("INC-{number}")),
                }
                if summarized > 0 {
                    summarized_cards += 1;
                }
                if sent.p1 {
                    // Two warnings and the breach, each in the incident's
                    // channel and the escalation channel.
                    expected_notices += 6;
                }
            }
            Answer::Unavailable | Answer::Failed if count > 0 => {
                refused_in_db.push(sent.title.clone())
            }
            _ if count > 0 => unacknowledged_in_db += 1,
            _ => {}
        }
    }

    // SLA notices the fake accepted, by (channel, incident, threshold).
    let mut notices: HashMap<(String, String, String), usize> = HashMap::new();
    for message in &messages {
        if let Some(key) = notice_key(message) {
            *notices.entry(key).or_default() += 1;
        }
    }
    let notices_posted = notices.len();
    let notices_twice: Vec<String> = notices
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|((channel, reference, threshold), n)| {
            format!("{reference} {threshold} in {channel} ×{n}")
        })
        .collect();
    let ledger: i64 = sqlx::query_scalar("SELECT count(*) FROM sla_notifications")
        .fetch_one(&pool)
        .await
        .expect("count the notification ledger");
    let parked: Vec<(i64, String, Option<String>)> = sqlx::query_as(
        "SELECT id, kind, last_error FROM outbox WHERE failed_at IS NOT NULL ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .expect("list parked outbox rows");
    let web_api_calls = ["chat.postMessage", "chat.update", "users.info"]
        .iter()
        .map(|m| (fake.calls(m).len(), fake.accepted(m).len()))
        .fold((0, 0), |(a, b), (c, d)| (a + c, b + d));

    let reported = tally.get("reported").copied().unwrap_or(0);
    let figures = [
        ("commands sent", COMMANDS.to_string()),
        ("replies: incident reported", reported.to_string()),
        (
            "replies: database unavailable, try again",
            tally.get("unavailable").copied().unwrap_or(0).to_string(),
        ),
        (
            "replies: something went wrong",
            tally.get("failed").copied().unwrap_or(0).to_string(),
        ),
        (
            "no answer (replica down or killed mid-request)",
            tally.get("not delivered").copied().unwrap_or(0).to_string(),
        ),
        (
            "\"working on it\" without a follow-up",
            tally.get("no follow-up").copied().unwrap_or(0).to_string(),
        ),
        (
            "other answers",
            tally.get("other").copied().unwrap_or(0).to_string(),
        ),
        (
            "reported, but missing from the database",
            missing.len().to_string(),
        ),
        (
            "reported, but in the database twice or more",
            doubled.len().to_string(),
        ),
        (
            "answered unavailable/failed, yet in the database",
            refused_in_db.len().to_string(),
        ),
        (
            "not answered, in the database anyway",
            unacknowledged_in_db.to_string(),
        ),
        (
            "reported incidents whose card was never posted",
            no_card.len().to_string(),
        ),
        ("cards posted more than once", card_twice.len().to_string()),
        (
            "reported incidents listed in a summary post instead",
            summarized_cards.to_string(),
        ),
        ("summary posts", summaries.len().to_string()),
        (
            "fake Slack 429s for going over its documented limits",
            fake.rate_limited().to_string(),
        ),
        (
            "SLA notices expected (P1: 75%, 90%, breach × 2 channels)",
            expected_notices.to_string(),
        ),
        ("SLA notices posted (distinct)", notices_posted.to_string()),
        (
            "SLA notices posted more than once",
            notices_twice.len().to_string(),
        ),
        ("SLA ledger rows (sla_notifications)", ledger.to_string()),
        ("outbox rows parked as failed", parked.len().to_string()),
        (
            "fake Slack Web API calls (made / not made to fail)",
            format!("{} / {}", web_api_calls.0, web_api_calls.1),
        ),
        (
            "PostgreSQL down (stop → accepting again)",
            format!("{:.1?}", pg_back_at - pg_down_at),
        ),
        (
            "commands sent while PostgreSQL was down, by answer",
            format!("{during_outage:?}"),
        ),
        (
            "PostgreSQL back → first successful command",
            first_after_restart.map_or("never".into(), |d| format!("{d:.1?}")),
        ),
        (
            "successes after the restart, per replica",
            format!("{served_after_restart:?}"),
        ),
        (
            "killed replica: kill → ready again",
            format!("{victim_back:.1?}"),
        ),
        (
            "outbox drained and warnings due after the burst",
            if drained { "yes" } else { "no (timed out)" }.into(),
        ),
        ("burst duration", format!("{burst_took:.1?}")),
        ("whole test", format!("{:.1?}", started.elapsed())),
    ];
    println!("\nfault test figures");
    let width = figures
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    for (name, value) in &figures {
        println!("  {name:<width$}  {value}");
    }
    for (what, list) in [
        ("missing", &missing),
        ("doubled", &doubled),
        ("refused but stored", &refused_in_db),
        ("no card", &no_card),
        ("card twice", &card_twice),
        ("notice twice", &notices_twice),
    ] {
        if !list.is_empty() {
            println!("  {what}: {list:?}");
        }
    }
    if !card_twice.is_empty() || !notices_twice.is_empty() {
        // Where the repeats come from: deliveries whose record died with the
        // database connection.
        for replica in &replicas {
            for line in replica.log_lines(&["could not record", "outbox delivery paused"], 4) {
                println!("  {}: {line}", replica.name);
            }
        }
    }
    for (id, kind, error) in &parked {
        println!("  parked outbox row {id} ({kind}): {error:?}");
    }
    let mut undelivered: BTreeMap<&str, usize> = BTreeMap::new();
    for (sent, answer) in sent.iter().zip(&answers) {
        match answer {
            Answer::Other(what) => {
                println!("  command {} got an unexpected answer: {what}", sent.index)
            }
            Answer::NotDelivered(why) => *undelivered.entry(why.as_str()).or_default() += 1,
            _ => {}
        }
    }
    for (why, n) in &undelivered {
        println!("  not delivered ×{n}: {why}");
    }

    let logs = || {
        replicas
            .iter()
            .map(|r| format!("--- {} (started {}×)\n{}", r.name, r.starts, r.log_tail(30)))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(
        reported > COMMANDS / 2,
        "too few commands succeeded to mean anything\n{}",
        logs()
    );
    assert!(
        missing.is_empty(),
        "acknowledged commands lost: {missing:?}"
    );
    assert!(
        doubled.is_empty(),
        "acknowledged commands stored twice: {doubled:?}"
    );
    assert!(
        refused_in_db.is_empty(),
        "commands answered \"nothing was changed\" were stored: {refused_in_db:?}"
    );
    assert!(
        no_card.is_empty(),
        "cards never posted: {no_card:?}\n{}",
        logs()
    );
    assert!(
        notices_twice.is_empty(),
        "SLA notices posted more than once: {notices_twice:?}"
    );
    assert!(
        served_after_restart.iter().all(|n| *n > 0),
        "a replica served nothing after PostgreSQL came back: {served_after_restart:?}\n{}",
        logs()
    );
    assert!(drained, "the outbox did not drain in time\n{}", logs());
    assert!(
        started.elapsed() < Duration::from_secs(300),
        "the fault test must finish within five minutes"
    );
}

/// Sends command `index` to the replica on `port`, signed as Slack signs.
async fn send_command(fake: &FakeSlack, index: usize, replica: usize, port: u16) -> Sent {
    let p1 = index % P1_EVERY == 0;
    let title = format!("Fault test report {index:03} printer offline");
    let text = format!("{title} {}", if p1 { "P1" } else { "P2" });
    let trigger = format!("fault-{index:03}");
    let body = command_form(
        STAFF,
        CHANNEL,
        "/incident",
        &text,
        &trigger,
        &fake.response_url(&trigger),
    );
    let sent_at = Instant::now();
    let timestamp = now();
    let headers = [
        ("X-Slack-Request-Timestamp", timestamp.to_string()),
        ("X-Slack-Signature", sign(timestamp, &body)),
    ];
    let exchange = replica::post(
        port,
        "/slack/commands",
        "application/x-www-form-urlencoded",
        &headers,
        &body,
    );
    let immediate = match tokio::time::timeout(REQUEST_TIMEOUT, exchange).await {
        Ok(Ok((status, body))) => Ok((status, body, Instant::now())),
        Ok(Err(err)) => Err(err),
        Err(_) => Err(format!("no answer within {REQUEST_TIMEOUT:?}")),
    };
    Sent {
        index,
        title,
        p1,
        replica,
        trigger,
        sent_at,
        immediate,
    }
}

fn is_working(immediate: &Result<(u16, String, Instant), String>) -> bool {
    matches!(immediate, Ok((200, body, _)) if body.contains("Working on it"))
}

/// How a command ended: its immediate answer, or its response_url follow-up.
fn classify(fake: &FakeSlack, sent: &Sent) -> Answer {
    let (status, body, at) = match &sent.immediate {
        Err(err) => return Answer::NotDelivered(err.clone()),
        Ok((status, body, at)) => (*status, body.clone(), *at),
    };
    if status != 200 {
        return Answer::Other(format!("HTTP {status}: {body}"));
    }
    let (text, at) = if body.contains("Working on it") {
        match fake.timed_responses(&sent.trigger).into_iter().next() {
            Some((value, at)) => (value.to_string(), at),
            None => return Answer::NoFollowUp,
        }
    } else {
        (body, at)
    };
    if let Some(number) = reported_number(&text) {
        Answer::Reported { number, at }
    } else if text.contains("database is unavailable") {
        Answer::Unavailable
    } else if text.contains("Something went wrong") {
        Answer::Failed
    } else {
        Answer::Other(text)
    }
}

/// `n` from "INC-n reported: …" in a reply.
fn reported_number(text: &str) -> Option<i64> {
    let before = &text[..text.find(" reported: ")?];
    let digits = &before[before.rfind("INC-")? + 4..];
    digits.parse().ok()
}

/// (channel, `INC-n`, `75%`/`90%`/`breach`) of an SLA notice the bot posted.
fn notice_key(message: &Value) -> Option<(String, String, String)> {
    let text = message.to_string();
    let threshold = if text.contains("breached its") {
        "breach".to_string()
    } else if text.contains("target used") {
        let used = text.find("% of the ")?;
        let digits: String = text[..used]
            .chars()
            .rev()
            .take_while(char::is_ascii_digit)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        format!("{digits}%")
    } else {
        return None;
    };
    let start = text.find("INC-")?;
    let reference: String = text[start..]
        .chars()
        .take(4)
        .chain(text[start + 4..].chars().take_while(char::is_ascii_digit))
        .collect();
    let channel = message["channel"].as_str()?.to_string();
    Some((channel, reference, threshold))
}

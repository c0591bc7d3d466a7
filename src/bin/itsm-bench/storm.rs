//! Section `storm`: an alert storm under Slack's documented rate limits
//! (issue 25). 5,000 alerts in 10 s (Alertmanager-shaped deliveries of ten,
//! each its own notification group) across 20 services whose cards go to 3
//! channels, against a fake Slack that answers 429 past the limits. It
//! measures when every channel shows the storm, how many posts each
//! channel got in the first minute, and the 429s earned; then it checks
//! that every alert is recorded and every incident's card counts its
//! alerts. The baseline is what Slack's limit would allow without grouping:
//! one card per alert at one post per second per channel.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use serde_json::json;
use sqlx::PgPool;

use crate::bot::Bot;
use crate::fake_slack::FakeSlack;
use crate::http::Connection;
use crate::report::{Goal, Row};

/// Services in the storm, and the channels their cards go to
/// (service `i` → channel `i % CHANNELS`).
const SERVICES: usize = 20;
const CHANNELS: usize = 3;
/// Alerts per delivery (one Alertmanager notification group).
const PER_DELIVERY: usize = 10;
/// Concurrent senders (Alertmanager flushes groups in parallel).
const SENDERS: usize = 8;
/// The window "posts in the first minute" counts.
const FIRST_MINUTE: Duration = Duration::from_secs(60);
/// Longest the bot may take to send everything the storm left waiting.
const DRAIN_LIMIT: Duration = Duration::from_secs(300);

/// How big and how fast the storm is.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    pub alerts: usize,
    pub over: Duration,
}

fn channel(index: usize) -> String {
    format!("C0STORM{index}")
}

/// The bot's configuration: Slack in HTTP mode, alerts grouped by
/// Alertmanager's notification group with the storm guard at its shipped
/// defaults, and 20 catalog services spread over 3 channels (the first is
/// also `hooks.channel`, where a storm of every service is carded).
fn config() -> String {
    let mut config = format!(
        "[shell]\nenabled = false\n\n[slack]\nmode = \"http\"\n\n[hooks]\nchannel = \"slack:{}\"\n",
        channel(0)
    );
    for service in 0..SERVICES {
        config.push_str(&format!(
            "\n[[services]]\nname = \"svc{service:02}\"\nchannel = \"slack:{}\"\n",
            channel(service % CHANNELS)
        ));
    }
    config
}

/// Delivery `n`: ten new firing alerts of service `n % SERVICES`, in a
/// notification group of their own.
fn delivery(n: usize) -> String {
    let service = n % SERVICES;
    let alerts: Vec<_> = (0..PER_DELIVERY)
        .map(|i| {
            let fingerprint = format!("storm{n:06}{i:02}");
            json!({
                "status": "firing",
                "labels": {"alertname": "LinkDown", "severity": "critical",
                           "service": format!("svc{service:02}"), "instance": format!("sw{n}:port{i}")},
                "annotations": {"summary": format!("Link down on switch {n} port {i}")},
                "startsAt": "2026-11-25T12:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus.invalid/graph",
                "fingerprint": fingerprint,
            })
        })
        .collect();
    json!({
        "version": "4", "groupKey": format!("{{}}:{{service=\"svc{service:02}\", switch=\"{n}\"}}"),
        "truncatedAlerts": 0, "status": "firing", "receiver": "itsm",
        "groupLabels": {"service": format!("svc{service:02}"), "switch": n.to_string()},
        "commonLabels": {}, "commonAnnotations": {},
        "externalURL": "http://alertmanager.invalid", "alerts": alerts,
    })
    .to_string()
}

/// Sends the deliveries on schedule (delivery `n` at `n × interval`),
/// spread over [`SENDERS`] keep-alive connections; returns each one's
/// latency. A refused delivery fails the run.
async fn send_storm(
    port: u16,
    token: &str,
    deliveries: usize,
    interval: Duration,
    started: Instant,
) -> anyhow::Result<Vec<Duration>> {
    let authorization = Arc::new(format!("Bearer {token}"));
    let mut tasks = tokio::task::JoinSet::new();
    for sender in 0..SENDERS {
        let authorization = authorization.clone();
        tasks.spawn(async move {
            let mut connection = Connection::new(port);
            let mut latencies = Vec::new();
            for n in (sender..deliveries).step_by(SENDERS) {
                let due = started + interval * n as u32;
                tokio::time::sleep_until(due.into()).await;
                let body = delivery(n);
                let begun = Instant::now();
                let response = connection
                    .post(
                        "/hooks/alertmanager",
                        "application/json",
                        &[("Authorization", authorization.as_str())],
                        &body,
                    )
                    .await?;
                latencies.push(begun.elapsed());
                if response.status != 200 {
                    bail!(
                        "delivery {n} refused: {} {}",
                        response.status,
                        response.body
                    );
                }
            }
            anyhow::Ok(latencies)
        });
    }
    let mut latencies = Vec::with_capacity(deliveries);
    while let Some(result) = tasks.join_next().await {
        latencies.extend(result??);
    }
    latencies.sort_unstable();
    Ok(latencies)
}

/// Runs the storm against a fresh bot on database `url`; its rows.
pub async fn run(url: &str, work: &Path, size: Size) -> anyhow::Result<Vec<Row>> {
    let slack = FakeSlack::start_journaled().await?;
    let token = crate::sign::bench_secret("storm-hooks");
    let config = work.join("storm.toml");
    std::fs::write(&config, self::config())?;
    let bot = Bot {
        binary: crate::bot::locate()?,
        config,
        env: vec![
            ("DATABASE_URL".into(), url.to_string()),
            ("ITSM__SLACK__API_URL".into(), slack.api_url()),
            (
                "ITSM__SLACK__BOT_TOKEN".into(),
                "xoxb-storm-bot-token".into(),
            ),
            (
                "ITSM__SLACK__SIGNING_SECRET".into(),
                crate::sign::bench_secret("storm-signing"),
            ),
            ("ITSM__HOOKS__TOKEN".into(), token.clone()),
        ],
        log: work.join("storm-bot.log"),
    };
    bot.migrate()?;
    let pool = PgPool::connect(url).await?;
    let mut server = bot.serve(crate::free_port()?)?;
    server.wait_ready(Duration::from_secs(30)).await?;

    let deliveries = size.alerts.div_ceil(PER_DELIVERY);
    let alerts = deliveries * PER_DELIVERY;
    let interval = size.over / deliveries as u32;
    let started = Instant::now();
    let latencies = send_storm(server.port, &token, deliveries, interval, started).await?;
    let acknowledged = started.elapsed();

    // When each channel first showed the storm: the storm incident's card,
    // or the notice that its alerts joined it.
    let mut shown = vec![None; CHANNELS];
    while shown.iter().any(Option::is_none) {
        let journal = slack.journal();
        for (index, when) in shown.iter_mut().enumerate() {
            if when.is_none() {
                *when = journal
                    .posts
                    .iter()
                    .find(|post| {
                        post.channel == channel(index) && post.body.contains("Alert storm")
                    })
                    .map(|post| post.at.duration_since(started));
            }
        }
        if started.elapsed() > DRAIN_LIMIT {
            bail!("no storm post in every channel after {DRAIN_LIMIT:?}: {shown:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let storm_shown = shown.iter().flatten().max().copied().unwrap_or_default();
    let drained = crate::bot::cards_posted(&pool).await?;
    // Posts in the first minute: wait until it has passed.
    if let Some(rest) = FIRST_MINUTE.checked_sub(started.elapsed()) {
        tokio::time::sleep(rest).await;
    }
    let journal = slack.journal();
    let posts_first_minute = (0..CHANNELS)
        .map(|index| {
            journal
                .posts
                .iter()
                .filter(|post| {
                    post.channel == channel(index)
                        && post.at.duration_since(started) <= FIRST_MINUTE
                })
                .count()
        })
        .max()
        .unwrap_or(0);

    // Every alert recorded on an incident, every card counting its alerts.
    let recorded: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM alerts WHERE fingerprint LIKE 'storm%' AND ticket_id IS NOT NULL",
    )
    .fetch_one(&pool)
    .await?;
    if recorded as usize != alerts {
        bail!("{alerts} alerts acknowledged but {recorded} recorded on an incident");
    }
    let cards: Vec<(i64, Option<String>, Option<String>, i64)> = sqlx::query_as(
        "SELECT t.number, m.channel, m.message_id,
                (SELECT count(*) FROM alerts a WHERE a.ticket_id = t.id AND a.status = 'firing')
         FROM tickets t LEFT JOIN ticket_messages m ON m.ticket_id = t.id
         WHERE t.kind = 'incident' ORDER BY t.number",
    )
    .fetch_all(&pool)
    .await?;
    let incidents = cards.len();
    let wrong: Vec<String> = cards
        .iter()
        .filter(|(_, channel, message, firing)| {
            let expected = format!("Alerts: {firing} firing");
            match (channel, message) {
                (Some(channel), Some(message)) => !journal
                    .messages
                    .get(&(channel.clone(), message.clone()))
                    .is_some_and(|body| body.contains(&expected)),
                _ => true,
            }
        })
        .map(|(number, ..)| format!("INC-{number}"))
        .collect();
    if !wrong.is_empty() {
        eprintln!("cards not counting their alerts: {}", wrong.join(", "));
    }
    pool.close().await;
    server.stop()?;

    let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize];
    let (p50, p99) = (at(0.5), at(0.99));
    let rate = alerts as f64 / acknowledged.as_secs_f64();
    // Without grouping, each alert is a card, and Slack takes about one
    // post per second per channel.
    let ungrouped = Duration::from_secs(alerts.div_ceil(CHANNELS) as u64);
    let scale = format!(
        "{alerts} alerts in {:.0} s, {SERVICES} services, {CHANNELS} channels",
        size.over.as_secs_f64()
    );
    Ok(vec![
        Row {
            section: "storm",
            what: format!("{scale}: acknowledged ({incidents} incidents)"),
            measured: format!("{rate:.0}/s"),
            baseline: format!("{:.0}/s offered", alerts as f64 / size.over.as_secs_f64()),
            ratio: None,
            latency: Some((p50, p99)),
            goals: vec![Goal::new("every alert recorded", true)],
        },
        Row {
            section: "storm",
            what: "until every channel shows the storm".into(),
            measured: format!("{:.1} s", storm_shown.as_secs_f64()),
            baseline: format!("{} s 1 card/alert", ungrouped.as_secs()),
            ratio: None,
            latency: None,
            goals: vec![Goal::new("≤ 30 s", storm_shown <= Duration::from_secs(30))],
        },
        Row {
            section: "storm",
            what: "posts in the busiest channel, first minute".into(),
            measured: posts_first_minute.to_string(),
            baseline: format!("{} at 1/s/channel", FIRST_MINUTE.as_secs()),
            ratio: None,
            latency: None,
            goals: vec![Goal::new("≤ 5", posts_first_minute <= 5)],
        },
        Row {
            section: "storm",
            what: format!(
                "429s received ({} Slack calls; cards done {:.1} s after)",
                slack.calls(),
                drained.as_secs_f64()
            ),
            measured: slack.rate_limited().to_string(),
            baseline: "-".into(),
            ratio: None,
            latency: None,
            goals: vec![Goal::new("0", slack.rate_limited() == 0)],
        },
        Row {
            section: "storm",
            what: "cards counting their alerts after the storm".into(),
            measured: format!("{}/{incidents}", incidents - wrong.len()),
            baseline: "-".into(),
            ratio: None,
            latency: None,
            goals: vec![Goal::new("all", wrong.is_empty())],
        },
    ])
}

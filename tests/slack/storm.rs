//! An alert storm under Slack's documented limits (issue 25): 500 alerts
//! in 50 Alertmanager groups, delivered at once, against the strict fake.
//! The channel hears of the storm in a handful of posts, the bot earns no
//! 429 (the harness fails on any), and every alert is recorded on an
//! incident whose card ends up counting it.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use tokio::time::Instant;

use crate::harness::{Bot, CHANNEL};

const TOKEN: &str = "storm-hooks-token-7f3a";
const GROUPS: usize = 50;
const PER_GROUP: usize = 10;

/// Alertmanager's webhook body for notification group `group`: ten firing
/// alerts on service `svc<group % 10>`.
fn delivery(group: usize) -> String {
    let alerts: Vec<Value> = (0..PER_GROUP)
        .map(|i| {
            let fingerprint = format!("st{group:04}{i:010}");
            json!({
                "status": "firing",
                "labels": {"alertname": format!("LinkDown port{i}"), "severity": "critical",
                           "service": format!("svc{}", group % 10), "instance": fingerprint},
                "annotations": {"summary": format!("Link down on switch {group} port {i}")},
                "startsAt": "2026-11-25T08:55:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus.example.org:9090/graph",
                "fingerprint": fingerprint,
            })
        })
        .collect();
    json!({
        "version": "4", "groupKey": format!("{{}}:{{switch=\"{group}\"}}"),
        "truncatedAlerts": 0, "status": "firing", "receiver": "itsm",
        "groupLabels": {"switch": group.to_string()}, "commonLabels": {},
        "commonAnnotations": {}, "externalURL": "http://alertmanager.example.org:9093",
        "alerts": alerts,
    })
    .to_string()
}

#[sqlx::test]
async fn a_five_hundred_alert_storm_is_a_storm_post_without_a_429(pool: PgPool) {
    let bot = Bot::start_with(
        pool,
        "http",
        &[
            ("ITSM__HOOKS__TOKEN", TOKEN.to_string()),
            ("ITSM__HOOKS__CHANNEL", format!("slack:{CHANNEL}")),
        ],
    )
    .await;
    let started = Instant::now();
    // Alertmanager flushes its groups concurrently.
    let deliveries = (0..GROUPS).map(|group| {
        let bot = &bot;
        async move { bot.alertmanager(TOKEN, &delivery(group)).await }
    });
    for (status, body) in futures_util::future::join_all(deliveries).await {
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let delivered = started.elapsed();

    // Every alert is recorded, on an incident.
    assert_eq!(
        bot.count("SELECT count(*) FROM alerts WHERE ticket_id IS NOT NULL")
            .await,
        (GROUPS * PER_GROUP) as i64
    );
    // The storm guard's default: five groups open incidents, the rest join
    // one storm incident.
    assert_eq!(bot.count("SELECT count(*) FROM incidents").await, 6);
    let storm: i64 = bot
        .count("SELECT number FROM tickets WHERE title = 'Alert storm'")
        .await;

    // The storm post reaches the channel (bounded wait: no timing test).
    let deadline = Instant::now() + Duration::from_secs(60);
    let storm_post = loop {
        let posted = bot
            .fake
            .accepted("chat.postMessage")
            .into_iter()
            .find(|call| call["channel"] == CHANNEL && call.to_string().contains("Alert storm"));
        if let Some(post) = posted {
            break post;
        }
        assert!(Instant::now() < deadline, "no storm post");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let storm_shown = started.elapsed();
    assert!(
        storm_post.to_string().contains(&format!("INC-{storm}")),
        "{storm_post}"
    );

    // The outbox drains; every card ends up counting its alerts.
    bot.wait_outbox_drained(Duration::from_secs(90)).await;
    let cards: Vec<(i64, String, i64)> = sqlx::query_as(
        "SELECT t.number, m.message_id,
                (SELECT count(*) FROM alerts a WHERE a.ticket_id = t.id AND a.status = 'firing')
         FROM ticket_messages m JOIN tickets t ON t.id = m.ticket_id ORDER BY t.number",
    )
    .fetch_all(&bot.pool)
    .await
    .unwrap();
    assert_eq!(cards.len(), 6, "one card per incident: {cards:?}");
    for (number, message_id, firing) in &cards {
        let shown = bot
            .fake
            .message(CHANNEL, message_id)
            .unwrap_or_else(|| panic!("INC-{number}'s card is not in the channel"))
            .to_string();
        assert!(
            shown.contains(&format!("Alerts: {firing} firing")),
            "INC-{number} has {firing} firing alerts but its card shows {shown}"
        );
    }
    let storm_firing = cards
        .iter()
        .find(|(number, ..)| *number == storm)
        .map(|(.., firing)| *firing);
    assert_eq!(storm_firing, Some(((GROUPS - 5) * PER_GROUP) as i64));

    let posts = bot
        .fake
        .accepted("chat.postMessage")
        .into_iter()
        .filter(|call| call["channel"] == CHANNEL)
        .count();
    assert!(
        posts <= 6,
        "{posts} posts for one storm (delivered in {delivered:?}, storm shown after {storm_shown:?})"
    );
}

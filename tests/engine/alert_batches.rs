//! Alert deliveries handled together: a delivery's repeats are noted and
//! its new alerts opened in a few statements, whatever its size, and what
//! that writes is what handling the alerts one by one writes.

use axum::http::StatusCode;
use itsm_bot::config::{Config, GroupBySetting, Secret};
use itsm_bot::domain::automation::{Rule, Trigger, When};
use serde_json::Value;
use sqlx::PgPool;

use crate::helpers::{dated, Desk};

const TOKEN: &str = "batch-test-token-77a0";

/// A desk whose alerts open incidents in Slack channel `channel`, so each
/// desk's incidents can be told apart and their cards are queued.
async fn desk(pool: PgPool, channel: &str, one_by_one: bool, auto_resolve: bool) -> Desk {
    let mut config = Config::defaults().unwrap();
    config.hooks.token = Some(Secret::new(TOKEN));
    config.hooks.auto_resolve = auto_resolve;
    config.hooks.channel = format!("slack:{channel}").parse().unwrap();
    // One incident per alert, however many open at once: what is measured
    // here is the batching of openings and notes.
    config.hooks.group_by = GroupBySetting::Named("fingerprint".into());
    config.hooks.storm_threshold = 0;
    if one_by_one {
        // A rule on alert.fired sends every new alert down the one-by-one
        // path; this one never matches, so it writes nothing of its own.
        config.automation.compiled_rules.push(Rule {
            name: "never".into(),
            on: Trigger::AlertFired,
            when: When {
                services: vec!["no-such-service".into()],
                ..When::default()
            },
            actions: Vec::new(),
        });
    }
    Desk::with_config(pool, config).await
}

/// An Alertmanager (version 4) delivery of `alerts`: (fingerprint, status,
/// service label). Nothing but the fingerprint tells the alerts apart, so
/// two deliveries differing only in fingerprints write the same rows.
fn delivery(alerts: &[(&str, &str, &str)]) -> String {
    let alerts: Vec<Value> = alerts
        .iter()
        .map(|(fingerprint, status, service)| {
            let ends_at = if *status == "resolved" {
                dated("2026-11-25T09:20:00Z")
            } else {
                "0001-01-01T00:00:00Z".to_string()
            };
            serde_json::json!({
                "status": status,
                "labels": {"alertname": "DiskFull", "severity": "warning", "service": service},
                "annotations": {"summary": "Disk almost full"},
                "startsAt": &dated("2026-11-25T08:55:00Z"),
                "endsAt": ends_at,
                "generatorURL": "http://prometheus.example.org:9090/graph",
                "fingerprint": fingerprint,
            })
        })
        .collect();
    serde_json::json!({
        "version": "4", "groupKey": "{}:{}", "truncatedAlerts": 0, "status": "firing",
        "receiver": "itsm", "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
        "externalURL": "http://alertmanager.example.org:9093", "alerts": alerts,
    })
    .to_string()
}

/// Delivers `body` to Alertmanager's hook and expects 200; returns the
/// (fingerprint, action, incident, note) of each alert.
async fn deliver(desk: &Desk, body: &str) -> Vec<[Option<String>; 4]> {
    let (status, json) = desk
        .http("POST", "/hooks/alertmanager", Some(TOKEN), Some(body))
        .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    json["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            ["fingerprint", "action", "incident", "note"].map(|k| r[k].as_str().map(str::to_string))
        })
        .collect()
}

/// Everything the incidents opened in `channel` hold, as text, with ticket
/// ids and numbers replaced by the incident's place among them and `prefix`
/// (the fingerprints' prefix) by `*`: their rows, incident details,
/// timelines, SLA clock rows, queued cards and alerts.
async fn written(pool: &PgPool, channel: &str, prefix: &str) -> Vec<String> {
    let tables = [
        "SELECT row_to_json(x)::text FROM (SELECT t.title, t.description, t.status, t.priority,
                t.service_id, t.reporter, t.assignee, t.origin_platform, t.origin_thread,
                t.origin_message, t.created_at, t.updated_at FROM tickets t WHERE t.id = $1) x",
        "SELECT row_to_json(x)::text FROM (SELECT impact, urgency, status_before_hold, hold_reason,
                acknowledged_at, resolved_at, resolution, closed_at, responded_at
                FROM incidents WHERE ticket_id = $1) x",
        "SELECT row_to_json(x)::text FROM (SELECT at, actor, action, from_value, to_value, body
                FROM ticket_events WHERE ticket_id = $1 ORDER BY id) x",
        "SELECT row_to_json(x)::text FROM (SELECT clock, target_seconds, due_at, stopped_at, met,
                margin_seconds, next_threshold, next_due_at
                FROM sla_outcomes WHERE ticket_id = $1 ORDER BY clock) x",
        "SELECT row_to_json(x)::text FROM (SELECT platform, kind, created_at, not_before, attempts
                FROM outbox WHERE ticket_id = $1 ORDER BY id) x",
        "SELECT row_to_json(x)::text FROM (SELECT fingerprint, status, opened_at, updated_at
                FROM alerts WHERE ticket_id = $1) x",
    ];
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM tickets WHERE kind = 'incident' AND origin_channel = $1 ORDER BY number",
    )
    .bind(channel)
    .fetch_all(pool)
    .await
    .unwrap();
    let mut out = Vec::new();
    for (place, id) in ids.into_iter().enumerate() {
        out.push(format!("incident {place}"));
        for query in tables {
            let rows: Vec<String> = sqlx::query_scalar(query)
                .bind(id)
                .fetch_all(pool)
                .await
                .unwrap();
            out.extend(rows.into_iter().map(|row| row.replace(prefix, "*")));
        }
    }
    out
}

/// `results` with fingerprints' `prefix` replaced by `*` and incident
/// references by their place among `channel`'s incidents.
async fn neutral(
    pool: &PgPool,
    channel: &str,
    prefix: &str,
    results: Vec<[Option<String>; 4]>,
) -> Vec<[Option<String>; 4]> {
    let numbers: Vec<i64> = sqlx::query_scalar(
        "SELECT number FROM tickets WHERE kind = 'incident' AND origin_channel = $1 ORDER BY number",
    )
    .bind(channel)
    .fetch_all(pool)
    .await
    .unwrap();
    results
        .into_iter()
        .map(|[fingerprint, action, incident, note]| {
            let place = incident.map(|reference| {
                let number: i64 = reference.trim_start_matches("INC-").parse().unwrap();
                let place = numbers.iter().position(|n| *n == number).unwrap();
                format!("incident {place}")
            });
            [
                fingerprint.map(|f| f.replace(prefix, "*")),
                action,
                place,
                note.map(|n| n.replace(prefix, "*")),
            ]
        })
        .collect()
}

/// The same deliveries, once through a desk that handles every alert on
/// its own and once through one that handles them together, answer and
/// write the same: new alerts, repeats, a repeat whose incident a person
/// resolved, recoveries, an alert listed twice, an unknown service, an
/// alert firing again after its recovery.
async fn same_as_one_by_one(pool: PgPool, auto_resolve: bool) {
    let alone = desk(pool.clone(), "C0ALONE", true, auto_resolve).await;
    let together = desk(pool.clone(), "C0TOGETHER", false, auto_resolve).await;
    let rounds: Vec<Vec<(&str, &str, &str)>> = vec![
        // New alerts: a catalog service, an unknown one, no service.
        vec![
            ("a", "firing", "vpn"),
            ("b", "firing", "nosuch"),
            ("c", "firing", ""),
        ],
        // Repeats.
        vec![
            ("a", "firing", "vpn"),
            ("b", "firing", "nosuch"),
            ("c", "firing", ""),
        ],
        // (A person resolves b's incident in between.) A repeat of b opens
        // a new incident; a and c are still firing; d is new.
        vec![
            ("a", "firing", "vpn"),
            ("b", "firing", "nosuch"),
            ("d", "firing", "vpn"),
            ("c", "firing", ""),
        ],
        // Mixed: a repeat, a recovery, an alert listed twice, a new one.
        vec![
            ("a", "firing", "vpn"),
            ("c", "resolved", ""),
            ("d", "firing", "vpn"),
            ("e", "firing", "vpn"),
            ("d", "resolved", "vpn"),
        ],
        // c fires again after its recovery (its incident resolved with
        // auto-resolve, still open without), next to plain repeats.
        vec![
            ("c", "firing", ""),
            ("a", "firing", "vpn"),
            ("e", "firing", "vpn"),
        ],
    ];
    for (round, alerts) in rounds.iter().enumerate() {
        if round == 2 {
            for (desk, channel) in [(&alone, "C0ALONE"), (&together, "C0TOGETHER")] {
                let number: i64 = sqlx::query_scalar(
                    "SELECT number FROM tickets WHERE origin_channel = $1 ORDER BY number LIMIT 1 OFFSET 1",
                )
                .bind(channel)
                .fetch_one(&pool)
                .await
                .unwrap();
                desk.ok(
                    "alice",
                    &format!("/incident INC-{number} resolve disk cleaned"),
                )
                .await;
            }
        }
        let named = |prefix: &str| -> Vec<(String, &str, &str)> {
            alerts
                .iter()
                .map(|(f, status, service)| (format!("{prefix}{f}"), *status, *service))
                .collect()
        };
        let body = |prefix: &str| {
            let alerts = named(prefix);
            let alerts: Vec<(&str, &str, &str)> = alerts
                .iter()
                .map(|(f, s, v)| (f.as_str(), *s, *v))
                .collect();
            delivery(&alerts)
        };
        let one = deliver(&alone, &body("one-")).await;
        let both = deliver(&together, &body("two-")).await;
        assert_eq!(
            neutral(&pool, "C0TOGETHER", "two-", both).await,
            neutral(&pool, "C0ALONE", "one-", one).await,
            "round {round}"
        );
        assert_eq!(
            written(&pool, "C0TOGETHER", "two-").await,
            written(&pool, "C0ALONE", "one-").await,
            "round {round}"
        );
    }
    let opened: i64 =
        sqlx::query_scalar("SELECT count(*) FROM tickets WHERE origin_channel = 'C0TOGETHER'")
            .fetch_one(&pool)
            .await
            .unwrap();
    let expected = if auto_resolve { 7 } else { 6 };
    assert_eq!(
        opened, expected,
        "a, b, c, then b again, d, e (and c again)"
    );
}

#[sqlx::test]
async fn deliveries_handled_together_write_what_one_by_one_writes(pool: PgPool) {
    same_as_one_by_one(pool, true).await;
}

#[sqlx::test]
async fn without_auto_resolve_too(pool: PgPool) {
    same_as_one_by_one(pool, false).await;
}

/// Ten new alerts open ten incidents numbered in the alerts' order; ten
/// repeats note each incident once and queue an update of each card.
#[sqlx::test]
async fn a_delivery_of_ten_opens_and_notes_ten_in_order(pool: PgPool) {
    let desk = desk(pool.clone(), "C0ALERTS", false, true).await;
    let names: Vec<String> = (0..10).map(|i| format!("bench-{i:04}")).collect();
    let alerts: Vec<(&str, &str, &str)> = names
        .iter()
        .map(|f| (f.as_str(), "firing", "vpn"))
        .collect();
    let body = delivery(&alerts);

    let opened = deliver(&desk, &body).await;
    let expected: Vec<(Option<String>, Option<String>)> = (1..=10)
        .map(|n| (Some("opened".to_string()), Some(format!("INC-{n}"))))
        .collect();
    let got: Vec<_> = opened
        .iter()
        .map(|[_, action, incident, _]| (action.clone(), incident.clone()))
        .collect();
    assert_eq!(got, expected);
    let fingerprints: Vec<Option<String>> = opened.iter().map(|r| r[0].clone()).collect();
    assert_eq!(
        fingerprints,
        names.iter().cloned().map(Some).collect::<Vec<_>>()
    );
    let linked: Vec<(String, i64)> = sqlx::query_as(
        "SELECT a.fingerprint, t.number FROM alerts a JOIN tickets t ON t.id = a.ticket_id
         ORDER BY t.number",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let want: Vec<(String, i64)> = names.iter().cloned().zip(1..).collect();
    assert_eq!(linked, want);

    let cards_before = cards(&pool).await;
    let noted = deliver(&desk, &body).await;
    assert!(noted
        .iter()
        .zip(1..)
        .all(|(r, n)| r[1].as_deref() == Some("noted")
            && r[2].as_deref() == Some(format!("INC-{n}").as_str())));
    let notes: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT t.number, count(*) FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id
         WHERE e.action = 'note' GROUP BY t.number ORDER BY t.number",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(notes, (1..=10).map(|n| (n, 1)).collect::<Vec<_>>());
    let cards_after = cards(&pool).await;
    assert_eq!(
        cards_after
            .iter()
            .zip(&cards_before)
            .map(|((n, after), (_, before))| (*n, after - before))
            .collect::<Vec<_>>(),
        (1..=10).map(|n| (n, 1)).collect::<Vec<_>>(),
        "one card update queued per noted incident"
    );
}

/// Queued card rows per incident number.
async fn cards(pool: &PgPool) -> Vec<(i64, i64)> {
    sqlx::query_as(
        "SELECT t.number, count(o.id) FROM tickets t
         LEFT JOIN outbox o ON o.ticket_id = t.id AND o.kind = 'ticket_message'
         WHERE t.kind = 'incident' GROUP BY t.number ORDER BY t.number",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

thread_local! {
    /// Statements sqlx sent on this thread while counting, or `None` when
    /// not counting.
    static STATEMENTS: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

/// Counts, per thread, the statements sqlx sends (it logs COMMIT but not
/// BEGIN). Installed once as the global subscriber: a scoped one
/// (`set_default`) missed events now and then while other tests' threads
/// ran with none, and the count came out 0.
struct StatementCounter;

impl tracing::Subscriber for StatementCounter {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        metadata.target() == "sqlx::query"
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if event.metadata().target() == "sqlx::query" {
            STATEMENTS.with(|count| count.set(count.get().map(|n| n + 1)));
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// The statements a delivery of `size` new alerts and then of their
/// repeats take, with COMMIT and without BEGIN.
async fn statements(pool: PgPool, size: usize) -> (usize, usize) {
    let desk = desk(pool, "C0ALERTS", false, true).await;
    let names: Vec<String> = (0..size).map(|i| format!("count{size}-{i:04}")).collect();
    let alerts: Vec<(&str, &str, &str)> = names
        .iter()
        .map(|f| (f.as_str(), "firing", "vpn"))
        .collect();
    let body = delivery(&alerts);
    let mut counts = Vec::new();
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        tracing::subscriber::set_global_default(StatementCounter)
            .expect("the engine tests install no other subscriber");
    });
    for _ in 0..2 {
        STATEMENTS.with(|count| count.set(Some(0)));
        deliver(&desk, &body).await;
        counts.push(STATEMENTS.with(|count| count.take()).unwrap_or(0));
    }
    (counts[0], counts[1])
}

/// Issue 12: a delivery takes the same few statements whatever its size.
/// New alerts: lock their fingerprints and groups, read their links and
/// their groups' incidents, read the services, open, link and point the
/// groups (one statement), commit, and count the recent openings (too
/// many for suggestions). Repeats: lock, read the links and groups, lock
/// the incidents, note, commit. (Alert by alert, ten new alerts took 24
/// and ten repeats 54.)
#[sqlx::test]
async fn a_delivery_takes_a_few_statements_whatever_its_size(pool: PgPool) {
    // Five and up: a delivery opening fewer also offers their incidents
    // suggestions, after it is recorded (one more statement when it opens
    // more, to see that it does).
    let (new_five, repeat_five) = statements(pool.clone(), 5).await;
    let (new_ten, repeat_ten) = statements(pool, 10).await;
    assert_eq!((new_ten, repeat_ten), (new_five, repeat_five));
    assert_eq!(new_ten, 8, "statements for ten new alerts");
    assert_eq!(repeat_ten, 6, "statements for ten repeats");
}

/// The incidents a delivery opens together queue their cards with the
/// channel they go to, as a report's do (the outbox folds a storm's cards
/// without reading their incidents).
#[sqlx::test]
async fn cards_of_incidents_opened_together_name_their_channel(pool: PgPool) {
    let desk = desk(pool.clone(), "C0ALERTS", false, true).await;
    let body = delivery(&[
        ("named-1", "firing", "vpn"),
        ("named-2", "firing", "vpn"),
        ("named-3", "firing", "vpn"),
    ]);
    deliver(&desk, &body).await;
    let channels: Vec<Option<String>> =
        sqlx::query_scalar("SELECT channel FROM outbox WHERE kind = 'ticket_message' ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(channels, vec![Some("C0ALERTS".to_string()); 3]);
}

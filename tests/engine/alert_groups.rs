//! Alert groups and the storm guard (issue 25): a notification group of
//! alerts is one incident with one card that lists them and resolves with
//! the last of them; a storm of new alerts attaches to one storm incident
//! instead of opening an incident and a card each.

use axum::http::StatusCode;
use itsm_bot::config::{Config, GroupBySetting, Secret};
use serde_json::Value;
use sqlx::PgPool;

use crate::helpers::{dated, Desk};
use crate::outbox::{worker, Recorder};

const TOKEN: &str = "groups-test-token-5e2b";

/// A desk whose alerts open incidents in Slack channel C0ALERTS (so their
/// cards are queued), grouped by `group_by`, with the storm guard at
/// `storm_threshold` (0: off).
async fn desk(pool: PgPool, group_by: GroupBySetting, storm_threshold: usize) -> Desk {
    let mut config = Config::defaults().unwrap();
    config.hooks.token = Some(Secret::new(TOKEN));
    config.hooks.channel = "slack:C0ALERTS".parse().unwrap();
    config.hooks.group_by = group_by;
    config.hooks.storm_threshold = storm_threshold;
    config.api.tokens = vec![itsm_bot::config::ApiToken {
        name: "reader".into(),
        token: Some(Secret::new("groups-api-token-0b7d")),
        token_file: None,
        access: itsm_bot::config::ApiAccess::Read,
    }];
    Desk::with_config(pool, config).await
}

fn by_group() -> GroupBySetting {
    GroupBySetting::Named("alertmanager_group".into())
}

/// An Alertmanager delivery in notification group `group` of `alerts`:
/// (fingerprint, alertname, status, service).
fn delivery(group: &str, alerts: &[(String, String, &str, &str)]) -> String {
    let alerts: Vec<Value> = alerts
        .iter()
        .map(|(fingerprint, name, status, service)| {
            let ends_at = if *status == "resolved" {
                dated("2026-11-25T09:20:00Z")
            } else {
                "0001-01-01T00:00:00Z".to_string()
            };
            serde_json::json!({
                "status": status,
                "labels": {"alertname": name, "severity": "critical", "service": service, "instance": fingerprint},
                "annotations": {},
                "startsAt": dated("2026-11-25T08:55:00Z"),
                "endsAt": ends_at,
                "generatorURL": "http://prometheus.example.org:9090/graph",
                "fingerprint": fingerprint,
            })
        })
        .collect();
    serde_json::json!({
        "version": "4", "groupKey": group, "truncatedAlerts": 0, "status": "firing",
        "receiver": "itsm", "groupLabels": {"alertname": "SwitchPortDown"}, "commonLabels": {},
        "commonAnnotations": {}, "externalURL": "http://alertmanager.example.org:9093",
        "alerts": alerts,
    })
    .to_string()
}

/// `count` alerts numbered from `from`, all `status`, on `service`.
fn alerts(
    from: usize,
    count: usize,
    status: &'static str,
    service: &'static str,
) -> Vec<(String, String, &'static str, &'static str)> {
    (from..from + count)
        .map(|i| {
            (
                format!("ab{i:014}"),
                format!("SwitchPortDown port{i}"),
                status,
                service,
            )
        })
        .collect()
}

/// Delivers `body` and returns each alert's (action, incident).
async fn deliver(desk: &Desk, body: &str) -> Vec<(String, Option<String>)> {
    let (status, json) = desk
        .http("POST", "/hooks/alertmanager", Some(TOKEN), Some(body))
        .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    json["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap().to_string(),
                r["incident"].as_str().map(str::to_string),
            )
        })
        .collect()
}

async fn scalar(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

async fn status_of(pool: &PgPool, number: i64) -> String {
    sqlx::query_scalar("SELECT status FROM tickets WHERE kind = 'incident' AND number = $1")
        .bind(number)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test]
async fn a_group_of_forty_alerts_is_one_incident_with_one_card_until_the_last_resolves(
    pool: PgPool,
) {
    let desk = desk(pool.clone(), by_group(), 0).await;
    let group = r#"{}/{service="core"}:{alertname="SwitchPortDown"}"#;
    let recorder = Recorder::new();
    let outbox = worker(&desk, &recorder);

    // Forty alerts come in three notifications, as Alertmanager sends a
    // growing group: all of them end up on INC-1.
    let first = deliver(&desk, &delivery(group, &alerts(0, 25, "firing", "core"))).await;
    assert_eq!(first[0], ("opened".to_string(), Some("INC-1".to_string())));
    assert!(first[1..]
        .iter()
        .all(|r| *r == ("grouped".to_string(), Some("INC-1".to_string()))));
    let second = deliver(&desk, &delivery(group, &alerts(0, 40, "firing", "core"))).await;
    assert_eq!(second.len(), 40);
    assert!(second[..25].iter().all(|(action, _)| action == "noted"));
    assert!(second[25..]
        .iter()
        .all(|r| *r == ("grouped".to_string(), Some("INC-1".to_string()))));
    assert_eq!(
        scalar(
            &pool,
            "SELECT count(*) FROM tickets WHERE kind = 'incident'"
        )
        .await,
        1
    );
    assert_eq!(
        scalar(&pool, "SELECT count(*) FROM alerts WHERE status = 'firing' AND ticket_id = (SELECT id FROM tickets WHERE number = 1 AND kind = 'incident')").await,
        40
    );

    // One card, posted once: it counts the alerts, names the first few and
    // says where the rest are.
    outbox.drain().await.unwrap();
    let sent = recorder.sent();
    assert_eq!(
        sent.iter().filter(|s| s.starts_with("post ")).count(),
        1,
        "{sent:?}"
    );
    let card = sent.last().unwrap();
    assert!(card.contains("Alerts: 40 firing, 0 resolved"), "{card}");
    assert!(card.contains("SwitchPortDown port0 (firing)"), "{card}");
    assert!(card.contains("… and 35 more"), "{card}");
    assert!(card.contains("/incident INC-1 show"), "{card}");

    // `show` names up to fifty, the API pages through all of them.
    let shown = desk.ok("shell:ana", "/incident INC-1 show").await;
    assert!(shown.contains("SwitchPortDown port39 (firing)"), "{shown}");
    let (status, page) = desk
        .http(
            "GET",
            "/api/v1/incidents/INC-1/alerts?per_page=30&page=2",
            Some("groups-api-token-0b7d"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["total"], 40);
    assert_eq!(page["items"].as_array().unwrap().len(), 10);
    assert_eq!(page["items"][0]["name"], "SwitchPortDown port30");

    // Thirty-nine recover: the incident stays open and says how many are
    // still firing; the card follows.
    let mut recovering = alerts(0, 39, "resolved", "core");
    recovering.extend(alerts(39, 1, "firing", "core"));
    let third = deliver(&desk, &delivery(group, &recovering)).await;
    assert!(
        third[..39].iter().all(|(action, _)| action == "noted"),
        "{third:?}"
    );
    assert_eq!(status_of(&pool, 1).await, "new");
    let notes: Vec<String> = sqlx::query_scalar(
        "SELECT body FROM ticket_events WHERE action = 'note' ORDER BY id DESC LIMIT 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(
        notes[0].contains("1 alert of this incident is still firing"),
        "{notes:?}"
    );
    outbox.drain().await.unwrap();
    let card = recorder.sent().last().unwrap().clone();
    assert!(card.starts_with("update "), "{card}");
    assert!(card.contains("Alerts: 1 firing, 39 resolved"), "{card}");

    // The last one resolves it.
    let last = deliver(&desk, &delivery(group, &alerts(39, 1, "resolved", "core"))).await;
    assert_eq!(last, [("resolved".to_string(), Some("INC-1".to_string()))]);
    assert_eq!(status_of(&pool, 1).await, "resolved");

    // The group fires again: a new episode, a new incident.
    let again = deliver(&desk, &delivery(group, &alerts(0, 2, "firing", "core"))).await;
    assert_eq!(
        again,
        [
            ("opened".to_string(), Some("INC-2".to_string())),
            ("grouped".to_string(), Some("INC-2".to_string()))
        ]
    );
}

#[sqlx::test]
async fn grouping_by_labels_and_by_fingerprint(pool: PgPool) {
    let labels = desk(
        pool.clone(),
        GroupBySetting::Labels(vec!["service".into()]),
        0,
    )
    .await;
    // Two notification groups, one service: one incident.
    deliver(&labels, &delivery("{}:{a}", &alerts(0, 3, "firing", "vpn"))).await;
    let other = deliver(&labels, &delivery("{}:{b}", &alerts(3, 2, "firing", "vpn"))).await;
    assert!(other
        .iter()
        .all(|r| *r == ("grouped".to_string(), Some("INC-1".to_string()))));
    let mail = deliver(
        &labels,
        &delivery("{}:{b}", &alerts(5, 1, "firing", "mail")),
    )
    .await;
    assert_eq!(mail, [("opened".to_string(), Some("INC-2".to_string()))]);
}

#[sqlx::test]
async fn one_incident_per_fingerprint_when_asked(pool: PgPool) {
    let desk = desk(pool.clone(), GroupBySetting::Named("fingerprint".into()), 0).await;
    let opened = deliver(&desk, &delivery("{}:{}", &alerts(0, 3, "firing", "vpn"))).await;
    assert_eq!(
        opened,
        [
            ("opened".to_string(), Some("INC-1".to_string())),
            ("opened".to_string(), Some("INC-2".to_string())),
            ("opened".to_string(), Some("INC-3".to_string()))
        ]
    );
}

#[sqlx::test]
async fn a_storm_attaches_to_one_storm_incident_with_one_card(pool: PgPool) {
    // One incident per alert, so only the storm guard holds the flood back.
    let desk = desk(pool.clone(), GroupBySetting::Named("fingerprint".into()), 3).await;
    let recorder = Recorder::new();
    let outbox = worker(&desk, &recorder);

    let first = deliver(&desk, &delivery("{}:{}", &alerts(0, 37, "firing", "vpn"))).await;
    let opened: Vec<&str> = first
        .iter()
        .filter(|(action, _)| action == "opened")
        .filter_map(|(_, incident)| incident.as_deref())
        .collect();
    assert_eq!(
        opened,
        ["INC-1", "INC-2", "INC-3", "INC-4"],
        "three, then the storm"
    );
    assert!(first[4..]
        .iter()
        .all(|r| *r == ("grouped".to_string(), Some("INC-4".to_string()))));
    let (title, service): (String, Option<String>) = sqlx::query_as(
        "SELECT t.title, s.name FROM tickets t LEFT JOIN services s ON s.id = t.service_id
         WHERE t.kind = 'incident' AND t.number = 4",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        (title.as_str(), service.as_deref()),
        ("Alert storm on vpn", Some("vpn"))
    );

    // A second wave within the window joins the live storm; another service
    // with nothing open is over the total, so it joins the storm of all.
    let second = deliver(&desk, &delivery("{}:{}", &alerts(100, 5, "firing", "vpn"))).await;
    assert!(second
        .iter()
        .all(|r| *r == ("grouped".to_string(), Some("INC-4".to_string()))));
    let mail = deliver(
        &desk,
        &delivery("{}:{}", &alerts(200, 2, "firing", "email")),
    )
    .await;
    assert_eq!(
        mail,
        [
            ("opened".to_string(), Some("INC-5".to_string())),
            ("grouped".to_string(), Some("INC-5".to_string()))
        ]
    );
    assert_eq!(
        sqlx::query_scalar::<_, String>(
            "SELECT title FROM tickets WHERE kind = 'incident' AND number = 5"
        )
        .fetch_one(&pool)
        .await
        .unwrap(),
        "Alert storm"
    );

    // Five cards for 44 alerts; the storm's counts them.
    outbox.drain().await.unwrap();
    let sent = recorder.sent();
    assert_eq!(
        sent.iter().filter(|s| s.starts_with("post ")).count(),
        5,
        "{sent:?}"
    );
    let storm = sent
        .iter()
        .find(|s| s.starts_with("post INC-4"))
        .unwrap_or_else(|| panic!("{sent:?}"));
    assert!(storm.contains("Alerts: 39 firing, 0 resolved"), "{storm}");

    // The window passes with the storm quiet: new alerts count afresh.
    desk.clock.advance(chrono::Duration::minutes(2));
    let later = deliver(&desk, &delivery("{}:{}", &alerts(300, 1, "firing", "vpn"))).await;
    assert_eq!(later, [("opened".to_string(), Some("INC-6".to_string()))]);
}

/// A service of the catalog whose pages and alert cards go to `channel`.
fn service(name: &str, channel: &str) -> itsm_bot::config::ServiceConfig {
    itsm_bot::config::ServiceConfig {
        name: name.into(),
        description: String::new(),
        owner: None,
        availability_target: 99.9,
        channel: Some(channel.parse().unwrap()),
        tier: None,
        rotation: None,
        public: true,
        depends_on: Vec::new(),
    }
}

#[sqlx::test]
async fn alert_cards_go_to_their_services_channels_and_a_storm_of_all_tells_each_once(
    pool: PgPool,
) {
    let mut config = Config::defaults().unwrap();
    config.hooks.token = Some(Secret::new(TOKEN));
    config.hooks.channel = "slack:C0ALERTS".parse().unwrap();
    config.hooks.group_by = GroupBySetting::Named("fingerprint".into());
    config.hooks.storm_threshold = 2;
    config.services = vec![
        service("vpn", "slack:C0VPN"),
        service("email", "slack:C0MAIL"),
    ];
    let desk = Desk::with_config(pool.clone(), config).await;
    let recorder = Recorder::new();
    let outbox = worker(&desk, &recorder);

    // Two openings, each in its service's channel; then the total is over
    // the threshold: every further alert joins the storm of all, whose card
    // is in hooks.channel.
    let first = deliver(&desk, &delivery("{}:{}", &alerts(0, 1, "firing", "vpn"))).await;
    let second = deliver(&desk, &delivery("{}:{}", &alerts(1, 1, "firing", "email"))).await;
    assert_eq!(first[0].0, "opened");
    assert_eq!(second[0].0, "opened");
    let mut storm = alerts(10, 4, "firing", "vpn");
    storm.extend(alerts(20, 4, "firing", "email"));
    storm.extend(alerts(30, 2, "firing", "unknown-service"));
    let joined = deliver(&desk, &delivery("{}:{}", &storm)).await;
    assert_eq!(joined[0], ("opened".to_string(), Some("INC-3".to_string())));
    assert!(joined[1..]
        .iter()
        .all(|r| *r == ("grouped".to_string(), Some("INC-3".to_string()))));
    // A second wave tells nobody again.
    deliver(&desk, &delivery("{}:{}", &alerts(40, 3, "firing", "email"))).await;

    outbox.drain().await.unwrap();
    let cards: Vec<(i64, String)> = sqlx::query_as(
        "SELECT t.number, m.channel FROM ticket_messages m JOIN tickets t ON t.id = m.ticket_id
         ORDER BY t.number",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        cards,
        [
            (1, "C0VPN".to_string()),
            (2, "C0MAIL".to_string()),
            (3, "C0ALERTS".to_string())
        ]
    );
    let notices: Vec<String> = recorder
        .sent()
        .into_iter()
        .filter(|s| s.starts_with("notice "))
        .collect();
    assert_eq!(notices.len(), 2, "{notices:?}");
    for (channel, service) in [("C0VPN", "vpn"), ("C0MAIL", "email")] {
        let notice = notices
            .iter()
            .find(|n| n.starts_with(&format!("notice {channel} ")))
            .unwrap_or_else(|| panic!("no notice in {channel}: {notices:?}"));
        assert!(
            notice.contains(&format!("alerts on {service} are grouped into INC-3"))
                && notice.contains("/incident INC-3 show"),
            "{notice}"
        );
    }
    assert_eq!(
        scalar(&pool, "SELECT count(*) FROM alert_channel_notices").await,
        2
    );
}

#[sqlx::test]
async fn a_critical_alert_joining_a_group_of_warnings_raises_its_incident(pool: PgPool) {
    let desk = desk(pool.clone(), by_group(), 0).await;
    let group = "{}:{alertname=\"SwitchPortDown\"}";
    let warnings = delivery(group, &alerts(0, 2, "firing", "vpn")).replace("critical", "warning");
    let opened = deliver(&desk, &warnings).await;
    assert_eq!(opened[0], ("opened".to_string(), Some("INC-1".to_string())));
    let priority = || async {
        scalar(
            &pool,
            "SELECT priority::bigint FROM tickets WHERE kind = 'incident' AND number = 1",
        )
        .await
    };
    let warned = priority().await;
    assert!(warned > 1, "a warning opens below P1 (P{warned})");

    // Another warning changes nothing; a critical one raises it to P1.
    let more = delivery(group, &alerts(2, 1, "firing", "vpn")).replace("critical", "warning");
    deliver(&desk, &more).await;
    assert_eq!(priority().await, warned);
    let critical = deliver(&desk, &delivery(group, &alerts(3, 1, "firing", "vpn"))).await;
    assert_eq!(
        critical[0],
        ("grouped".to_string(), Some("INC-1".to_string()))
    );
    assert_eq!(priority().await, 1);
    assert_eq!(
        scalar(
            &pool,
            "SELECT count(*) FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id
             WHERE t.number = 1 AND e.action = 'priority_changed'",
        )
        .await,
        1
    );

    // A warning joining later never lowers it.
    let late = delivery(group, &alerts(4, 1, "firing", "vpn")).replace("critical", "warning");
    deliver(&desk, &late).await;
    assert_eq!(priority().await, 1);
}

//! Alert webhooks, driven through the real router the way Alertmanager and
//! Grafana call it, against a real database.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use itsm_bot::config::{Config, GroupBySetting, Secret};
use itsm_bot::http::{router, HttpState};
use serde_json::Value;
use sqlx::PgPool;
use tower::ServiceExt;

use crate::helpers::{dated, snapshot, timeline_actions, Desk};

const TOKEN: &str = "hooks-test-token-4f1c";

/// Alertmanager's webhook payload (version 4), shaped like the sample in
/// Alertmanager's `webhook_config` documentation: one alert, `severity`
/// critical, `service` vpn.
fn alertmanager_vpn(status: &str) -> String {
    let ends_at = if status == "resolved" {
        "2026-11-25T09:20:00Z"
    } else {
        "0001-01-01T00:00:00Z"
    };
    dated(&format!(
        r#"{{
  "receiver": "itsm",
  "status": "{status}",
  "alerts": [
    {{
      "status": "{status}",
      "labels": {{
        "alertname": "VpnTunnelDown",
        "instance": "vpn-gw-1.example.org:9100",
        "job": "vpn",
        "service": "vpn",
        "severity": "critical"
      }},
      "annotations": {{
        "description": "Tunnel to vpn-gw-1.example.org has been down for over 5m.",
        "summary": "VPN tunnel down on vpn-gw-1"
      }},
      "startsAt": "2026-11-25T08:55:00.828Z",
      "endsAt": "{ends_at}",
      "generatorURL": "http://prometheus.example.org:9090/graph?g0.expr=vpn_tunnel_up+%3D%3D+0\u0026g0.tab=1",
      "fingerprint": "1a30ba71cca2921f"
    }}
  ],
  "groupLabels": {{ "alertname": "VpnTunnelDown" }},
  "commonLabels": {{
    "alertname": "VpnTunnelDown",
    "instance": "vpn-gw-1.example.org:9100",
    "job": "vpn",
    "service": "vpn",
    "severity": "critical"
  }},
  "commonAnnotations": {{
    "description": "Tunnel to vpn-gw-1.example.org has been down for over 5m.",
    "summary": "VPN tunnel down on vpn-gw-1"
  }},
  "externalURL": "http://alertmanager.example.org:9093",
  "version": "4",
  "groupKey": "{{}}/{{severity=\"critical\"}}:{{alertname=\"VpnTunnelDown\"}}",
  "truncatedAlerts": 0
}}"#
    ))
}

/// Grafana's webhook payload, as in Grafana's webhook notifier
/// documentation: two firing alerts, no severity, no service label.
const GRAFANA_DOCS: &str = r#"{
  "receiver": "My Super Webhook",
  "status": "firing",
  "orgId": 1,
  "alerts": [
    {
      "status": "firing",
      "labels": { "alertname": "High memory usage", "team": "blue", "zone": "us-1" },
      "annotations": {
        "description": "The system has high memory usage",
        "runbook_url": "https://myrunbook.com/runbook/1234",
        "summary": "This alert was triggered for zone us-1"
      },
      "startsAt": "2021-10-12T09:51:03.157076+02:00",
      "endsAt": "0001-01-01T00:00:00Z",
      "generatorURL": "https://play.grafana.org/alerting/1afz29v7z/edit",
      "fingerprint": "c6eadffa33fcdf37",
      "silenceURL": "https://play.grafana.org/alerting/silence/new?alertmanager=grafana&matchers=alertname%3DT2%2Cteam%3Dblue%2Czone%3Dus-1",
      "dashboardURL": "",
      "panelURL": "",
      "values": { "B": 44.23943737541908, "C": 1 }
    },
    {
      "status": "firing",
      "labels": { "alertname": "High CPU usage", "team": "blue", "zone": "eu-1" },
      "annotations": {
        "description": "The system has high CPU usage",
        "runbook_url": "https://myrunbook.com/runbook/1234",
        "summary": "This alert was triggered for zone eu-1"
      },
      "startsAt": "2021-10-12T09:56:03.157076+02:00",
      "endsAt": "0001-01-01T00:00:00Z",
      "generatorURL": "https://play.grafana.org/alerting/d1rdpdv7k/edit",
      "fingerprint": "bc97ff14869b13e3",
      "silenceURL": "https://play.grafana.org/alerting/silence/new?alertmanager=grafana&matchers=alertname%3DT1%2Cteam%3Dblue%2Czone%3Deu-1",
      "dashboardURL": "",
      "panelURL": "",
      "values": { "B": 44.23943737541908, "C": 1 }
    }
  ],
  "groupLabels": {},
  "commonLabels": { "team": "blue" },
  "commonAnnotations": {},
  "externalURL": "https://play.grafana.org/",
  "version": "1",
  "groupKey": "{}:{}",
  "truncatedAlerts": 0,
  "title": "[FIRING:2]  (blue)",
  "state": "alerting",
  "message": "**Firing**\n\nLabels:\n - alertname = T2\n - team = blue\n - zone = us-1\nAnnotations:\n - description = This is the alert rule checking the second system\n - runbook_url = https://myrunbook.com\n - summary = This is my summary\nSource: https://play.grafana.org/alerting/1afz29v7z/edit\nSilence: https://play.grafana.org/alerting/silence/new?alertmanager=grafana&matchers=alertname%3DT2%2Cteam%3Dblue%2Czone%3Dus-1\n\nLabels:\n - alertname = T1\n - team = blue\n - zone = eu-1\nAnnotations:\nSource: https://play.grafana.org/alerting/d1rdpdv7k/edit\nSilence: https://play.grafana.org/alerting/silence/new?alertmanager=grafana&matchers=alertname%3DT1%2Cteam%3Dblue%2Czone%3Deu-1\n"
}"#;

fn config_with_token() -> Config {
    let mut config = Config::defaults().unwrap();
    config.hooks.token = Some(Secret::new(TOKEN));
    config
}

async fn desk(pool: PgPool) -> Desk {
    Desk::with_config(pool, config_with_token()).await
}

/// A desk that opens one incident per alert (`hooks.group_by =
/// "fingerprint"`), as every alert was handled before grouping.
async fn desk_by_fingerprint(pool: PgPool) -> Desk {
    let mut config = config_with_token();
    config.hooks.group_by = GroupBySetting::Named("fingerprint".into());
    Desk::with_config(pool, config).await
}

/// POSTs `body` to `path` with `token` as the bearer token (none when `None`).
async fn post(desk: &Desk, path: &str, token: Option<&str>, body: &str) -> (StatusCode, Value) {
    desk.http("POST", path, token, Some(body)).await
}

/// Delivers with the right token and expects 200; returns the summary.
async fn deliver(desk: &Desk, path: &str, body: &str) -> Value {
    let (status, json) = post(desk, path, Some(TOKEN), body).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    json
}

/// (action, incident) of each alert in a summary.
fn actions(summary: &Value) -> Vec<(String, Option<String>)> {
    summary["incidents"]
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

#[derive(Debug, sqlx::FromRow)]
struct Row {
    title: String,
    description: String,
    priority: i16,
    status: String,
    service: Option<String>,
    reporter: String,
    origin_platform: String,
    origin_channel: String,
}

async fn incident(pool: &PgPool, number: i64) -> Row {
    sqlx::query_as(
        "SELECT t.title, t.description, t.priority, t.status, s.name AS service, t.reporter,
                t.origin_platform, t.origin_channel
         FROM tickets t LEFT JOIN services s ON s.id = t.service_id
         WHERE t.kind = 'incident' AND t.number = $1",
    )
    .bind(number)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn incident_count(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM tickets WHERE kind = 'incident'")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Everything a delivery could write: the command tables, alerts, outbox.
async fn everything(pool: &PgPool) -> (Vec<Option<String>>, i64, i64) {
    let count = |table: &'static str| async move {
        sqlx::query_scalar::<_, i64>(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(pool)
            .await
            .unwrap()
    };
    (
        snapshot(pool).await,
        count("alerts").await,
        count("outbox").await,
    )
}

async fn notes(pool: &PgPool, number: i64) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT e.body FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id
         WHERE t.kind = 'incident' AND t.number = $1 AND e.action = 'note' ORDER BY e.id",
    )
    .bind(number)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// The issue's "done when": a real Alertmanager payload opens INC-1 at P1
/// for vpn; the same alert again is a note; its recovery resolves it.
#[sqlx::test]
async fn an_alertmanager_alert_opens_notes_and_resolves_one_incident(pool: PgPool) {
    let desk = desk(pool.clone()).await;

    let summary = deliver(&desk, "/hooks/alertmanager", &alertmanager_vpn("firing")).await;
    assert_eq!(summary["incidents"][0]["fingerprint"], "1a30ba71cca2921f");
    assert_eq!(
        actions(&summary),
        [("opened".to_string(), Some("INC-1".to_string()))]
    );
    let opened = incident(&pool, 1).await;
    assert_eq!(opened.title, "VPN tunnel down on vpn-gw-1");
    assert_eq!(opened.priority, 1, "severity critical → P1");
    assert_eq!(opened.service.as_deref(), Some("vpn"));
    assert_eq!(opened.status, "new");
    assert_eq!(opened.reporter, "shell:alertmanager");
    assert!(
        opened
            .description
            .starts_with("Tunnel to vpn-gw-1.example.org has been down for over 5m."),
        "{}",
        opened.description
    );
    assert!(
        opened.description.contains(
            "Source: http://prometheus.example.org:9090/graph?g0.expr=vpn_tunnel_up+%3D%3D+0&g0.tab=1"
        ),
        "{}",
        opened.description
    );
    // It is a real incident: the engine shows it like any other.
    let shown = desk.ok("alice", "/incident INC-1 show").await;
    assert!(shown.contains("VPN tunnel down on vpn-gw-1"), "{shown}");
    // Reported by Alertmanager, by name; the stored id stays as it was.
    assert!(shown.contains("Reporter: Alertmanager"), "{shown}");
    assert!(shown.contains("UTC  Alertmanager  created"), "{shown}");
    assert!(!shown.contains("shell:alertmanager"), "{shown}");

    let summary = deliver(&desk, "/hooks/alertmanager", &alertmanager_vpn("firing")).await;
    assert_eq!(
        actions(&summary),
        [("noted".to_string(), Some("INC-1".to_string()))]
    );
    assert_eq!(incident_count(&pool).await, 1, "a repeat opens nothing new");
    assert_eq!(
        notes(&pool, 1).await,
        ["Alertmanager alert 1a30ba71cca2921f is still firing."]
    );

    let summary = deliver(&desk, "/hooks/alertmanager", &alertmanager_vpn("resolved")).await;
    assert_eq!(
        actions(&summary),
        [("resolved".to_string(), Some("INC-1".to_string()))]
    );
    assert_eq!(incident(&pool, 1).await.status, "resolved");
    assert_eq!(
        timeline_actions(&pool, 1).await,
        ["created", "note", "note", "resolved"]
    );
    assert_eq!(
        notes(&pool, 1).await[1],
        dated("Alertmanager alert 1a30ba71cca2921f resolved at 2026-11-25 09:20 UTC.")
    );

    // Alertmanager repeats resolved notifications; once is recorded.
    let before = everything(&pool).await;
    let summary = deliver(&desk, "/hooks/alertmanager", &alertmanager_vpn("resolved")).await;
    assert_eq!(
        actions(&summary),
        [("ignored".to_string(), Some("INC-1".to_string()))]
    );
    assert_eq!(everything(&pool).await, before);

    // The same alert firing after its incident was resolved is a new episode.
    let summary = deliver(&desk, "/hooks/alertmanager", &alertmanager_vpn("firing")).await;
    assert_eq!(
        actions(&summary),
        [("opened".to_string(), Some("INC-2".to_string()))]
    );

    // The API shows INC-1 with its timeline, and /metrics counts the alerts.
    let mut config = config_with_token();
    config.api.tokens = vec![itsm_bot::config::ApiToken {
        name: "ops".into(),
        access: itsm_bot::config::ApiAccess::Read,
        token: Some(Secret::new("api-token-0123456789")),
        token_file: None,
    }];
    let api = Desk::with_config(pool.clone(), config).await;
    let fetch = |path: &'static str, token: Option<&'static str>| {
        let router = itsm_bot::http::router(itsm_bot::http::HttpState::new(api.engine.clone()));
        async move {
            let mut request = Request::get(path);
            if let Some(token) = token {
                request = request.header("authorization", format!("Bearer {token}"));
            }
            let response = router
                .oneshot(request.body(Body::empty()).unwrap())
                .await
                .unwrap();
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .unwrap();
            String::from_utf8(bytes.to_vec()).unwrap()
        }
    };
    let inc: Value =
        serde_json::from_str(&fetch("/api/v1/incidents/INC-1", Some("api-token-0123456789")).await)
            .unwrap();
    assert_eq!(
        (inc["priority"].as_str(), inc["service"].as_str()),
        (Some("P1"), Some("vpn"))
    );
    assert_eq!(inc["timeline"].as_array().map(Vec::len), Some(4));
    let metrics = fetch("/metrics", None).await;
    assert!(
        metrics.contains("itsm_open_tickets{kind=\"incident\",priority=\"P1\"} 1"),
        "{metrics}"
    );
    let metrics = {
        let router = itsm_bot::http::router(itsm_bot::http::HttpState::new(desk.engine.clone()));
        let response = router
            .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
            .await
            .unwrap();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    };
    assert!(
        metrics.contains("itsm_alerts_total{action=\"opened\",source=\"alertmanager\"} 2"),
        "{metrics}"
    );
}

#[sqlx::test]
async fn without_auto_resolve_a_recovery_is_only_noted(pool: PgPool) {
    let mut config = config_with_token();
    config.hooks.auto_resolve = false;
    let desk = Desk::with_config(pool.clone(), config).await;
    deliver(&desk, "/hooks/alertmanager", &alertmanager_vpn("firing")).await;

    let summary = deliver(&desk, "/hooks/alertmanager", &alertmanager_vpn("resolved")).await;
    assert_eq!(
        actions(&summary),
        [("noted".to_string(), Some("INC-1".to_string()))]
    );
    assert_eq!(incident(&pool, 1).await.status, "new");
    assert_eq!(timeline_actions(&pool, 1).await, ["created", "note"]);

    // It fires again while its incident is still open: a note, not INC-2.
    let summary = deliver(&desk, "/hooks/alertmanager", &alertmanager_vpn("firing")).await;
    assert_eq!(
        actions(&summary),
        [("noted".to_string(), Some("INC-1".to_string()))]
    );
    assert_eq!(
        notes(&pool, 1).await[1],
        "Alertmanager alert 1a30ba71cca2921f is firing again."
    );
    assert_eq!(incident_count(&pool).await, 1);
}

#[sqlx::test]
async fn grafanas_documented_payload_opens_one_incident_per_alert(pool: PgPool) {
    let desk = desk_by_fingerprint(pool.clone()).await;
    let summary = deliver(&desk, "/hooks/grafana", GRAFANA_DOCS).await;
    assert_eq!(
        actions(&summary),
        [
            ("opened".to_string(), Some("INC-1".to_string())),
            ("opened".to_string(), Some("INC-2".to_string())),
        ]
    );
    let memory = incident(&pool, 1).await;
    assert_eq!(memory.title, "This alert was triggered for zone us-1");
    assert_eq!(memory.priority, 3, "no severity → hooks.default_priority");
    assert_eq!(memory.service, None);
    assert_eq!(memory.reporter, "shell:grafana");
    assert!(memory
        .description
        .contains("Source: https://play.grafana.org/alerting/1afz29v7z/edit"));
    assert!(memory
        .description
        .contains("Silence: https://play.grafana.org/alerting/silence/new?"));
    assert!(
        !memory.description.contains("Dashboard:"),
        "empty URLs are left out"
    );

    // The same payload again notes both; then the first resolves.
    let summary = deliver(&desk, "/hooks/grafana", GRAFANA_DOCS).await;
    assert_eq!(
        actions(&summary),
        [
            ("noted".to_string(), Some("INC-1".to_string())),
            ("noted".to_string(), Some("INC-2".to_string())),
        ]
    );
    let resolved = GRAFANA_DOCS.replacen(r#""status": "firing""#, r#""status": "resolved""#, 2);
    let summary = deliver(&desk, "/hooks/grafana", &resolved).await;
    assert_eq!(
        actions(&summary),
        [
            ("resolved".to_string(), Some("INC-1".to_string())),
            ("noted".to_string(), Some("INC-2".to_string())),
        ]
    );
    assert_eq!(incident(&pool, 1).await.status, "resolved");
    assert_eq!(incident(&pool, 2).await.status, "new");

    // Grafana and Alertmanager fingerprints are separate namespaces.
    let alertmanager = alertmanager_vpn("firing").replace("1a30ba71cca2921f", "c6eadffa33fcdf37");
    let summary = deliver(&desk, "/hooks/alertmanager", &alertmanager).await;
    assert_eq!(
        actions(&summary),
        [("opened".to_string(), Some("INC-3".to_string()))]
    );
}

/// A group of several alerts in one notification, each handled on its own:
/// a known service, an unknown one (opened anyway, and said so), a warning,
/// and a recovery of an alert the bot never saw.
#[sqlx::test]
async fn a_group_of_alerts_is_handled_alert_by_alert(pool: PgPool) {
    let desk = desk_by_fingerprint(pool.clone()).await;
    let body = &dated(
        r#"{
      "version": "4",
      "groupKey": "{}:{job=\"mail\"}",
      "truncatedAlerts": 0,
      "status": "firing",
      "receiver": "itsm",
      "groupLabels": { "job": "mail" },
      "commonLabels": { "job": "mail" },
      "commonAnnotations": {},
      "externalURL": "http://alertmanager.example.org:9093",
      "alerts": [
        { "status": "firing",
          "labels": { "alertname": "SmtpQueueHigh", "job": "mail", "service": "Email", "severity": "warning" },
          "annotations": { "description": "Outbound queue above 5000 messages." },
          "startsAt": "2026-11-25T08:50:00Z", "endsAt": "0001-01-01T00:00:00Z",
          "generatorURL": "http://prometheus.example.org:9090/graph?g0.expr=smtp_queue",
          "fingerprint": "aaaa000000000001" },
        { "status": "firing",
          "labels": { "alertname": "LdapDown", "job": "mail", "service": "ldap", "severity": "error" },
          "annotations": { "summary": "LDAP is not answering" },
          "startsAt": "2026-11-25T08:51:00Z", "endsAt": "0001-01-01T00:00:00Z",
          "generatorURL": "http://prometheus.example.org:9090/graph?g0.expr=up",
          "fingerprint": "aaaa000000000002" },
        { "status": "resolved",
          "labels": { "alertname": "ImapSlow", "job": "mail", "severity": "info" },
          "annotations": {},
          "startsAt": "2026-11-25T07:00:00Z", "endsAt": "2026-11-25T08:00:00Z",
          "generatorURL": "http://prometheus.example.org:9090/graph?g0.expr=imap",
          "fingerprint": "aaaa000000000003" }
      ]
    }"#,
    );
    let summary = deliver(&desk, "/hooks/alertmanager", body).await;
    assert_eq!(
        actions(&summary),
        [
            ("opened".to_string(), Some("INC-1".to_string())),
            ("opened".to_string(), Some("INC-2".to_string())),
            ("ignored".to_string(), None),
        ],
        "{summary}"
    );
    let smtp = incident(&pool, 1).await;
    assert_eq!(
        (smtp.title.as_str(), smtp.priority, smtp.service.as_deref()),
        ("SmtpQueueHigh", 3, Some("email")),
        "no summary → alertname; warning → P3; labels match the catalog ignoring case"
    );
    let ldap = incident(&pool, 2).await;
    assert_eq!((ldap.priority, ldap.service), (2, None));
    let why = summary["incidents"][1]["note"].as_str().unwrap();
    assert!(
        why.contains("`ldap`") && why.contains("not in the service catalog"),
        "{why}"
    );
    assert_eq!(timeline_actions(&pool, 2).await, ["created", "note"]);
    assert!(summary["incidents"][2]["note"]
        .as_str()
        .unwrap()
        .contains("no incident"));
}

#[sqlx::test]
async fn incidents_from_alerts_are_posted_to_the_configured_channel(pool: PgPool) {
    let mut config = config_with_token();
    config.hooks.channel = "slack:C0ALERTS".parse().unwrap();
    let desk = Desk::with_config(pool.clone(), config).await;
    deliver(&desk, "/hooks/alertmanager", &alertmanager_vpn("firing")).await;
    let row = incident(&pool, 1).await;
    assert_eq!(
        (row.origin_platform.as_str(), row.origin_channel.as_str()),
        ("slack", "C0ALERTS")
    );
    let queued: Vec<(String, String)> =
        sqlx::query_as("SELECT platform, kind FROM outbox ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        queued,
        [("slack".to_string(), "ticket_message".to_string())]
    );
}

#[sqlx::test]
async fn a_missing_or_wrong_token_is_refused_and_changes_nothing(pool: PgPool) {
    let desk = desk(pool.clone()).await;
    let before = everything(&pool).await;
    let body = alertmanager_vpn("firing");
    for (path, token) in [
        ("/hooks/alertmanager", None),
        ("/hooks/alertmanager", Some("hooks-test-token-4f1d")),
        ("/hooks/alertmanager", Some("")),
        ("/hooks/grafana", Some("wrong")),
        ("/hooks/grafana", None),
    ] {
        let (status, json) = post(&desk, path, token, &body).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path} {token:?}: {json}");
        assert!(
            json["error"].as_str().unwrap().contains("bearer token"),
            "{json}"
        );
    }
    // A right token in the wrong scheme is no bearer token.
    let response = router(HttpState::new(desk.engine.clone()))
        .oneshot(
            Request::post("/hooks/alertmanager")
                .header("authorization", format!("Basic {TOKEN}"))
                .body(Body::from(body.clone()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(everything(&pool).await, before);
}

#[sqlx::test]
async fn the_bearer_scheme_is_accepted_in_any_case(pool: PgPool) {
    let desk = desk(pool.clone()).await;
    let body = alertmanager_vpn("firing");
    for scheme in ["bearer", "BEARER"] {
        let authorization = format!("{scheme} {TOKEN}");
        let (status, json) = desk
            .http_authorized(
                "POST",
                "/hooks/alertmanager",
                Some(&authorization),
                Some(&body),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{scheme}: {json}");
    }
}

#[sqlx::test]
async fn a_truncated_or_malformed_body_is_a_400_that_says_why(pool: PgPool) {
    let desk = desk(pool.clone()).await;
    let before = everything(&pool).await;
    let full = alertmanager_vpn("firing");
    let truncated = &full[..full.len() / 2];
    let (status, json) = post(&desk, "/hooks/alertmanager", Some(TOKEN), truncated).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{json}");
    let error = json["error"].as_str().unwrap();
    assert!(
        error.starts_with("invalid Alertmanager webhook payload: EOF while parsing"),
        "{error}"
    );

    let cases = [
        ("/hooks/alertmanager", "".to_string(), "EOF while parsing"),
        (
            "/hooks/grafana",
            "42".to_string(),
            "invalid type: integer `42`",
        ),
        (
            "/hooks/alertmanager",
            full.replace(r#""version": "4""#, r#""version": "3""#),
            "unsupported Alertmanager webhook version `3`",
        ),
        (
            "/hooks/alertmanager",
            full.replace(
                r#""fingerprint": "1a30ba71cca2921f""#,
                r#""fingerprint": "" "#,
            ),
            "alerts[0].fingerprint: the fingerprint is empty",
        ),
        (
            "/hooks/alertmanager",
            full.replace(r#""fingerprint": "1a30ba71cca2921f""#, r#""fp": 1"#),
            "missing field `fingerprint`",
        ),
        (
            "/hooks/grafana",
            GRAFANA_DOCS.replacen(r#""status": "firing""#, r#""status": "pending""#, 2),
            "unknown variant `pending`",
        ),
    ];
    for (path, body, expected) in cases {
        let (status, json) = post(&desk, path, Some(TOKEN), &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {expected}: {json}");
        let error = json["error"].as_str().unwrap();
        assert!(
            error.contains(expected),
            "expected `{expected}` in: {error}"
        );
    }
    assert_eq!(everything(&pool).await, before);
}

#[sqlx::test]
async fn without_a_configured_token_the_hooks_are_off(pool: PgPool) {
    let desk = Desk::new(pool.clone()).await;
    let before = everything(&pool).await;
    for path in ["/hooks/alertmanager", "/hooks/grafana"] {
        let (status, json) = post(&desk, path, Some(TOKEN), &alertmanager_vpn("firing")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{json}");
        assert!(
            json["error"]
                .as_str()
                .unwrap()
                .contains("ITSM__HOOKS__TOKEN"),
            "{json}"
        );
    }
    assert_eq!(everything(&pool).await, before);
}

/// Alertmanager retries and runs in HA pairs, so one alert can arrive many
/// times at once: it still opens one incident.
#[sqlx::test]
async fn concurrent_deliveries_of_one_alert_open_one_incident(pool: PgPool) {
    let desk = desk(pool.clone()).await;
    let body = alertmanager_vpn("firing");
    let deliveries = (0..8).map(|_| post(&desk, "/hooks/alertmanager", Some(TOKEN), &body));
    let results = futures_util::future::join_all(deliveries).await;
    let mut opened = 0;
    for (status, json) in &results {
        assert_eq!(*status, StatusCode::OK, "{json}");
        assert_eq!(json["incidents"][0]["incident"], "INC-1", "{json}");
        if json["incidents"][0]["action"] == "opened" {
            opened += 1;
        }
    }
    assert_eq!(opened, 1);
    assert_eq!(incident_count(&pool).await, 1);
    assert_eq!(notes(&pool, 1).await.len(), 7);
}

/// One delivery with more alerts than `hooks.max_alerts_per_delivery` is
/// refused whole with 413 naming the limit, and records nothing.
#[sqlx::test]
async fn a_delivery_over_the_alert_limit_is_refused_and_records_nothing(pool: PgPool) {
    let mut config = config_with_token();
    config.hooks.max_alerts_per_delivery = 2;
    let desk = Desk::with_config(pool.clone(), config).await;
    let alert = |n: u32| {
        format!(
            r#"{{"status": "firing", "labels": {{"alertname": "DiskFull{n}"}}, "annotations": {{}},
                "startsAt": "{}", "endsAt": "0001-01-01T00:00:00Z", "fingerprint": "ffff00000000000{n}"}}"#,
            dated("2026-11-25T08:55:00Z")
        )
    };
    let body = |count: u32| {
        let alerts: Vec<String> = (1..=count).map(alert).collect();
        format!(
            r#"{{"version": "4", "status": "firing", "receiver": "itsm", "alerts": [{}]}}"#,
            alerts.join(",")
        )
    };
    let before = snapshot(&pool).await;
    let (status, json) = post(&desk, "/hooks/alertmanager", Some(TOKEN), &body(3)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{json}");
    let error = json["error"].as_str().unwrap();
    assert!(
        error.contains("3 alerts")
            && error.contains("2 allowed")
            && error.contains("hooks.max_alerts_per_delivery"),
        "{error}"
    );
    assert_eq!(
        snapshot(&pool).await,
        before,
        "a refused delivery wrote something"
    );
    // At the limit it is taken.
    let summary = deliver(&desk, "/hooks/alertmanager", &body(2)).await;
    assert_eq!(
        summary["incidents"].as_array().unwrap().len(),
        2,
        "{summary}"
    );
}

/// An Alertmanager delivery of one firing alert `name` (its own group),
/// summarised as `summary`, without a service label.
fn alertmanager_one(name: &str, summary: &str, fingerprint: &str) -> String {
    serde_json::json!({
        "receiver": "itsm", "status": "firing", "version": "4",
        "groupKey": format!("{{}}:{{alertname=\"{name}\"}}"),
        "groupLabels": { "alertname": name }, "commonLabels": { "alertname": name },
        "commonAnnotations": { "summary": summary }, "externalURL": "http://alertmanager.example.org:9093",
        "truncatedAlerts": 0,
        "alerts": [{
            "status": "firing", "labels": { "alertname": name, "severity": "warning" },
            "annotations": { "summary": summary },
            "startsAt": "2026-11-25T08:55:00Z", "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus.example.org:9090/graph", "fingerprint": fingerprint
        }]
    })
    .to_string()
}

/// The suggestion posts queued: (channel, text of the message JSON).
async fn suggestion_posts(pool: &PgPool) -> Vec<(String, String)> {
    sqlx::query_as("SELECT channel, body FROM outbox WHERE kind = 'notice' ORDER BY id")
        .fetch_all(pool)
        .await
        .unwrap()
}

#[sqlx::test]
async fn incidents_opened_by_alerts_get_the_suggestions_of_a_report_but_not_in_a_storm(
    pool: PgPool,
) {
    let mut config = config_with_token();
    config.hooks.channel = "slack:C0ALERTS".parse().unwrap();
    // Every alert its own incident, storm guard off: what is bounded here
    // is the suggestions, however many incidents open.
    config.hooks.group_by = GroupBySetting::Named("fingerprint".into());
    config.hooks.storm_threshold = 0;
    let desk = Desk::with_config(pool.clone(), config).await;
    desk.ok("bob", "/kb VPN tunnel down on a gateway").await;
    desk.ok(
        "bob",
        "/kb KB-1 body Restart the tunnel service on the gateway.",
    )
    .await;
    desk.ok("bob", "/kb KB-1 publish").await;
    // A person saw it first.
    desk.ok("alice", "/incident VPN tunnel down for the Berlin office")
        .await;

    deliver(
        &desk,
        "/hooks/alertmanager",
        &alertmanager_one("VpnTunnelDown1", "VPN tunnel down on gateway 1", "f001"),
    )
    .await;
    let posts = suggestion_posts(&pool).await;
    assert_eq!(posts.len(), 1, "{posts:?}");
    let (channel, body) = &posts[0];
    assert_eq!(channel, "C0ALERTS");
    for expected in [
        "INC-2 (VPN tunnel down on gateway 1)",
        "Article KB-1 may answer it",
        "Looks like INC-1",
        "Mark duplicate of INC-1",
    ] {
        assert!(body.contains(expected), "{expected}: {body}");
    }

    // The buttons run the command as typed: INC-2 is closed as a duplicate.
    desk.ok("bob", "/incident INC-2 duplicate-of INC-1").await;

    // A storm: every alert opens an incident that looks like the others and
    // like INC-1, but after the first few within a minute none gets a post.
    for n in 2..=8 {
        deliver(
            &desk,
            "/hooks/alertmanager",
            &alertmanager_one(
                &format!("VpnTunnelDown{n}"),
                &format!("VPN tunnel down on gateway {n}"),
                &format!("f00{n}"),
            ),
        )
        .await;
    }
    assert_eq!(incident_count(&pool).await, 9);
    let posts = suggestion_posts(&pool).await;
    assert_eq!(
        posts.len(),
        itsm_bot::commands::execute::kb::ALERT_SUGGESTIONS_QUIET as usize,
        "{posts:?}"
    );
    // Alerts that look alike are not offered as each other's duplicates.
    assert!(
        posts
            .iter()
            .all(|(_, body)| !body.contains("Looks like INC-2")
                && !body.contains("Looks like INC-3")),
        "{posts:?}"
    );
}

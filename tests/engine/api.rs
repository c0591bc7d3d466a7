//! The REST API through the real router, on a real database.

use axum::http::StatusCode;
use itsm_bot::config::Config;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::helpers::{dated, Desk};

const READ: &str = "read-token-0123456789";
const WRITE: &str = "write-token-0123456789";

fn config() -> Config {
    let tokens = format!(
        "[{{name=\"reporting\", access=\"read\", token=\"{READ}\"}}, {{name=\"monitor\", access=\"write\", token=\"{WRITE}\"}}]"
    );
    Config::load_with_env(None, [("ITSM__API__TOKENS".to_string(), tokens)]).unwrap()
}

async fn call(
    desk: &Desk,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (StatusCode, Value) {
    desk.http(method, path, token, body).await
}

async fn get(desk: &Desk, path: &str) -> (StatusCode, Value) {
    call(desk, "GET", path, Some(READ), None).await
}

#[sqlx::test]
async fn tokens_are_required_and_read_only_tokens_cannot_write(pool: PgPool) {
    let open = Desk::new(pool.clone()).await;
    let (status, body) = call(&open, "GET", "/api/v1/incidents", Some(READ), None).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "no tokens configured: {body}"
    );
    assert!(
        body["error"].as_str().unwrap().contains("api.tokens"),
        "{body}"
    );

    let desk = Desk::with_config(pool, config()).await;
    for token in [None, Some("wrong-token-0123456789"), Some("")] {
        let (status, body) = call(&desk, "GET", "/api/v1/incidents", token, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{token:?}: {body}");
        assert!(body["error"].is_string());
    }
    let new = r#"{"title": "VPN down", "priority": "P2"}"#;
    let (status, body) = call(&desk, "POST", "/api/v1/incidents", Some(READ), Some(new)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let before = desk.snapshot().await;
    assert_eq!(before, desk.snapshot().await);
    let (status, _) = call(&desk, "GET", "/api/v1/incidents", Some(READ), None).await;
    assert_eq!(status, StatusCode::OK);
}

/// RFC 7235: the authentication scheme is case-insensitive; the API once
/// took only `Bearer` with a capital B while hooks and dashboard took any.
#[sqlx::test]
async fn the_bearer_scheme_is_accepted_in_any_case(pool: PgPool) {
    let desk = Desk::with_config(pool, config()).await;
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let authorization = format!("{scheme} {READ}");
        let (status, body) = desk
            .http_authorized("GET", "/api/v1/incidents", Some(&authorization), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{scheme}: {body}");
    }
    let basic = format!("Basic {READ}");
    let (status, _) = desk
        .http_authorized("GET", "/api/v1/incidents", Some(&basic), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[sqlx::test]
async fn incidents_are_created_listed_paged_and_fetched_with_their_timeline(pool: PgPool) {
    let desk = Desk::with_config(pool, config()).await;
    let new = r#"{"title": "VPN down in Berlin", "priority": "P1", "service": "vpn", "description": "all users"}"#;
    let (status, created) = call(&desk, "POST", "/api/v1/incidents", Some(WRITE), Some(new)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["reference"], "INC-1");
    assert_eq!(created["priority"], "P1");
    assert_eq!(created["service"], "vpn");
    assert_eq!(created["reporter"], "shell:api.monitor");
    // In chat the caller reads as the API, by its token's name.
    let shown = desk.ok("alice", "/incident INC-1 show").await;
    assert!(shown.contains("Reporter: API (monitor)"), "{shown}");
    assert!(shown.contains("UTC  API (monitor)  created"), "{shown}");
    assert!(!shown.contains("shell:api.monitor"), "{shown}");
    for n in 2..=5 {
        desk.ok("alice", &format!("/incident Printer {n} jammed P4"))
            .await;
    }
    desk.ok("bob", "/incident INC-1 ack").await;

    let (status, page) = get(&desk, "/api/v1/incidents?per_page=2&page=2").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["total"], 5);
    assert_eq!(page["page"], 2);
    let refs: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["reference"].as_str().unwrap())
        .collect();
    assert_eq!(refs, ["INC-3", "INC-2"], "newest first");
    let (_, last) = get(&desk, "/api/v1/incidents?per_page=2&page=3").await;
    assert_eq!(last["items"].as_array().unwrap().len(), 1);

    let (_, p1) = get(
        &desk,
        "/api/v1/incidents?priority=P1&status=acknowledged,resolved&service=vpn",
    )
    .await;
    assert_eq!(p1["total"], 1, "{p1}");
    let (_, none) = get(&desk, &dated("/api/v1/incidents?created_before=2026-11-25")).await;
    assert_eq!(none["total"], 0, "{none}");
    let (_, all) = get(
        &desk,
        &dated("/api/v1/incidents?created_from=2026-11-25T00:00:00Z"),
    )
    .await;
    assert_eq!(all["total"], 5, "{all}");

    let (status, one) = get(&desk, "/api/v1/incidents/inc-1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["status"], "acknowledged");
    let actions: Vec<&str> = one["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["created", "acknowledged"]);
}

#[sqlx::test]
async fn bad_filters_bodies_and_references_get_clear_errors(pool: PgPool) {
    let desk = Desk::with_config(pool, config()).await;
    for (path, status, expected) in [
        (
            "/api/v1/incidents?status=sleeping",
            StatusCode::BAD_REQUEST,
            "not a status",
        ),
        (
            "/api/v1/incidents?priority=P7",
            StatusCode::BAD_REQUEST,
            "not a priority",
        ),
        (
            "/api/v1/incidents?colour=red",
            StatusCode::BAD_REQUEST,
            "not a filter",
        ),
        (
            "/api/v1/incidents?page=0",
            StatusCode::BAD_REQUEST,
            "page must be",
        ),
        (
            "/api/v1/incidents?per_page=5000",
            StatusCode::BAD_REQUEST,
            "per_page must be",
        ),
        (
            "/api/v1/incidents?created_from=yesterday",
            StatusCode::BAD_REQUEST,
            "not a date",
        ),
        (
            "/api/v1/incidents?page=1&page=2",
            StatusCode::BAD_REQUEST,
            "twice",
        ),
        (
            "/api/v1/changes?status=new",
            StatusCode::BAD_REQUEST,
            "not a status",
        ),
        (
            "/api/v1/incidents/INC-99",
            StatusCode::NOT_FOUND,
            "no INC-99",
        ),
        (
            "/api/v1/incidents/CHG-1",
            StatusCode::NOT_FOUND,
            "not an incident",
        ),
        (
            "/api/v1/incidents/nonsense",
            StatusCode::BAD_REQUEST,
            "not a ticket reference",
        ),
        (
            "/api/v1/reports/year",
            StatusCode::NOT_FOUND,
            "day, week or month",
        ),
    ] {
        let (got, body) = get(&desk, path).await;
        assert_eq!(got, status, "{path}: {body}");
        assert!(
            body["error"]
                .as_str()
                .unwrap_or_default()
                .contains(expected),
            "{path}: {body}"
        );
    }
    let before = desk.snapshot().await;
    for (body, expected) in [
        (r#"{"title": "VPN down""#, "not a new incident"),
        (r#"{"priority": "P1"}"#, "missing field `title`"),
        (r#"{"title": "x", "colour": "red"}"#, "unknown field"),
        (r#"{"title": "VPN down", "priority": "P9"}"#, "priority"),
        (
            r#"{"title": "VPN down", "service": "nope"}"#,
            "no service `nope`",
        ),
        (r#"{"title": "   "}"#, "title"),
    ] {
        let (status, answer) =
            call(&desk, "POST", "/api/v1/incidents", Some(WRITE), Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert!(
            answer["error"]
                .as_str()
                .unwrap_or_default()
                .contains(expected),
            "{body}: {answer}"
        );
    }
    assert_eq!(desk.snapshot().await, before, "nothing was written");
}

#[sqlx::test]
async fn problems_changes_and_reports(pool: PgPool) {
    let desk = Desk::with_config(pool, config()).await;
    desk.ok("alice", "/incident VPN drops P2 service:vpn").await;
    desk.ok("alice", "/incident INC-1 resolve restarted").await;
    desk.ok("alice", "/problem VPN concentrator leaks memory")
        .await;
    desk.ok("alice", "/problem PRB-1 workaround restart nightly")
        .await;
    desk.ok("alice", "/change Upgrade VPN firmware service:vpn")
        .await;

    let (_, problems) = get(&desk, "/api/v1/problems?status=investigating").await;
    assert_eq!(problems["total"], 1, "{problems}");
    assert_eq!(problems["items"][0]["workaround"], "restart nightly");
    let (status, problem) = get(&desk, "/api/v1/problems/PRB-1").await;
    assert_eq!(status, StatusCode::OK);
    assert!(problem["timeline"].as_array().unwrap().len() >= 2);

    let (_, changes) = get(&desk, "/api/v1/changes?service=vpn&status=draft").await;
    assert_eq!(changes["total"], 1, "{changes}");
    let (_, change) = get(&desk, "/api/v1/changes/CHG-1").await;
    assert_eq!(change["change_type"], "normal");
    assert_eq!(change["approvals"], json!([]));

    // The day report covers the last whole day: look back from tomorrow.
    desk.clock
        .set(crate::helpers::start() + chrono::Duration::days(1));
    let (status, day) = get(&desk, "/api/v1/reports/day").await;
    assert_eq!(status, StatusCode::OK, "{day}");
    let report = itsm_bot::commands::period_report::rolling(
        &desk.engine,
        itsm_bot::domain::report::Period::Day,
        itsm_bot::clock::Clock::now(desk.clock.as_ref()),
    )
    .await
    .unwrap();
    assert_eq!(day["opened"], report.figures.opened);
    assert_eq!(day["resolved"], report.figures.resolved);
    assert_eq!(day["opened"], 1);
    assert_eq!(day["open_by_priority"], json!([0, 0, 0, 0]));
}

#[sqlx::test]
async fn the_openapi_document_describes_every_route(pool: PgPool) {
    let desk = Desk::with_config(pool, config()).await;
    let (status, doc) = call(&desk, "GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/incidents",
        "/api/v1/incidents/{reference}",
        "/api/v1/problems",
        "/api/v1/changes/{reference}",
        "/api/v1/reports/{period}",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
    assert!(doc["paths"]["/api/v1/incidents"]["post"].is_object());
    for schema in [
        "IncidentDto",
        "ChangeDto",
        "ProblemDto",
        "ReportDto",
        "FiguresDto",
        "ErrorBody",
    ] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "{schema} missing"
        );
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

//! Post-incident reviews: a resolved incident's review drafted from what
//! the bot knows, edited section by section, served by the API, its action
//! items followed up, and a reminder when nobody started one.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::Duration;
use itsm_bot::config::Config;
use itsm_bot::http::{router, HttpState};
use itsm_bot::scheduler::sweep::sweep;
use sqlx::PgPool;
use tower::ServiceExt;

use crate::helpers::{dated, start, timeline_actions, Desk};

pub const TOKEN: &str = "review-token-0123456789";

/// A fingerprint of the review tables, which the shared snapshot leaves out.
async fn review_snapshot(pool: &PgPool) -> Vec<Option<String>> {
    let mut out = Vec::new();
    for table in [
        "postmortems",
        "action_items",
        "postmortem_reminders",
        "outbox",
    ] {
        let query = format!("SELECT md5(string_agg(row_to_json(t)::text, ',' ORDER BY row_to_json(t)::text)) FROM {table} t");
        out.push(sqlx::query_scalar(&query).fetch_one(pool).await.unwrap());
    }
    out
}

/// Expects `text` refused with nothing changed, review tables included.
pub async fn refused(desk: &Desk, who: &str, text: &str) -> String {
    let before = review_snapshot(&desk.pool).await;
    let reason = desk.refused(who, text).await;
    assert_eq!(
        review_snapshot(&desk.pool).await,
        before,
        "a refused command changed a review: {text}"
    );
    reason
}

/// INC-1: a P1 VPN outage (marked as one), acknowledged, linked to PRB-1 with a root cause
/// and workaround and a fix CHG-1, resolved 90 minutes after the report.
pub async fn seeded(desk: &Desk) {
    desk.ok("alice", "/incident VPN down for everyone P1 service:vpn")
        .await;
    desk.ok("bob", "/incident INC-1 outage").await;
    desk.clock.advance(Duration::minutes(5));
    desk.ok("bob", "/incident INC-1 ack").await;
    desk.ok(
        "bob",
        "/problem VPN concentrator firmware leaks sessions service:vpn",
    )
    .await;
    desk.ok("bob", "/problem PRB-1 link INC-1").await;
    desk.ok(
        "bob",
        "/problem PRB-1 rca Firmware 9.1 leaks a session per reconnect",
    )
    .await;
    desk.ok(
        "bob",
        "/problem PRB-1 workaround Restart the concentrator nightly",
    )
    .await;
    desk.ok(
        "bob",
        "/change Roll back concentrator firmware to 9.0 service:vpn",
    )
    .await;
    desk.ok("bob", "/problem PRB-1 fix CHG-1").await;
    desk.clock.set(start() + Duration::minutes(90));
    desk.ok("bob", "/incident INC-1 resolve concentrator restarted")
        .await;
}

#[sqlx::test]
async fn a_review_is_drafted_from_the_records_and_posted(pool: PgPool) {
    let desk = Desk::new(pool.clone()).await;
    seeded(&desk).await;

    let review = desk.ok("bob", "/incident INC-1 postmortem").await;
    for expected in [
        "# Post-incident review: INC-1 — VPN down for everyone",
        "| Priority | P1 |",
        "- Duration (report to resolve): 1h30m",
        "- Outage: 90 minutes (the time it was marked as an outage of its service",
        "- SLA respond (target",
        "- People involved: shell:alice, shell:bob",
        &dated("| 2026-11-25 09:00 UTC | shell:alice | created"),
        "| shell:bob | acknowledged",
        "| shell:bob | resolved",
        "Firmware 9.1 leaks a session per reconnect (PRB-1)",
        "Restart the concentrator nightly (PRB-1)",
        "- CHG-1 Roll back concentrator firmware to 9.0 (draft), the fix for PRB-1",
        "Resolution: concentrator restarted",
        "_None yet: `/incident INC-1 action",
    ] {
        assert!(
            review.contains(expected),
            "missing {expected:?} in:\n{review}"
        );
    }
    assert!(timeline_actions(&pool, 1)
        .await
        .contains(&"review_created".to_string()));
    // Posted to the incident's thread (the shell has no outbox, so the
    // Slack-reported case checks the queue).
    let again = desk.ok("carol", "/incident INC-1 postmortem").await;
    assert!(again.contains("# Post-incident review: INC-1"));
    assert_eq!(
        timeline_actions(&pool, 1)
            .await
            .iter()
            .filter(|a| *a == "review_created")
            .count(),
        1,
        "showing it again starts nothing new"
    );
}

#[sqlx::test]
async fn a_review_of_a_slack_incident_goes_to_its_thread(pool: PgPool) {
    let config = Config::load_with_env(
        None,
        [(
            "ITSM__ROLES__ENGINEER".to_string(),
            "[\"shell:*\", \"slack:U0ENG\"]".to_string(),
        )],
    )
    .unwrap();
    let desk = Desk::with_config(pool.clone(), config).await;
    desk.ok("slack:U0ENG", "/incident Mail queue stuck P2")
        .await;
    desk.ok("slack:U0ENG", "/incident INC-1 resolve queue flushed")
        .await;
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE kind = 'notice'")
        .fetch_one(&pool)
        .await
        .unwrap();
    desk.ok("slack:U0ENG", "/incident INC-1 postmortem").await;
    let body: String = sqlx::query_scalar(
        "SELECT body FROM outbox WHERE kind = 'notice' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE kind = 'notice'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(after, before + 1);
    assert!(body.contains("Post-incident review: INC-1"), "{body}");
}

#[sqlx::test]
async fn sections_are_edited_and_kept_while_the_rest_follows_the_records(pool: PgPool) {
    let desk = Desk::new(pool.clone()).await;
    seeded(&desk).await;

    let reason = refused(
        &desk,
        "bob",
        "/incident INC-1 postmortem set lessons Test firmware on a canary",
    )
    .await;
    assert!(
        reason.contains("has no review yet") && reason.contains("/incident INC-1 postmortem"),
        "{reason}"
    );

    desk.ok("bob", "/incident INC-1 postmortem").await;
    desk.ok(
        "bob",
        "/incident INC-1 postmortem set lessons Test firmware on a canary first",
    )
    .await;
    desk.ok(
        "bob",
        "/incident INC-1 postmortem set root-cause Session leak in firmware 9.1",
    )
    .await;
    let actions = timeline_actions(&pool, 1).await;
    assert_eq!(
        actions.iter().filter(|a| *a == "review_edited").count(),
        2,
        "{actions:?}"
    );

    // A note added later shows up; the edited sections stay as written.
    desk.ok("alice", "/incident INC-1 note thanks, all good now")
        .await;
    let review = desk.ok("bob", "/incident INC-1 postmortem").await;
    assert!(review.contains("Test firmware on a canary first"));
    assert!(review.contains("Session leak in firmware 9.1"));
    assert!(!review.contains("Firmware 9.1 leaks a session per reconnect (PRB-1)"));
    assert!(review.contains("note: thanks, all good now"));

    let reason = refused(
        &desk,
        "bob",
        "/incident INC-1 postmortem set timeline everything",
    )
    .await;
    assert!(
        reason.contains("`timeline` is not a section")
            && reason.contains(
                "summary, impact, root_cause, workaround, went_well, went_wrong, lessons"
            ),
        "{reason}"
    );
    let reason = refused(&desk, "bob", "/incident INC-1 postmortem set lessons").await;
    assert!(
        reason.contains("postmortem set <section> <text>"),
        "{reason}"
    );
    let reason = refused(
        &desk,
        "slack:U0NOBODY",
        "/incident INC-1 postmortem set lessons mine",
    )
    .await;
    assert!(reason.contains("engineer role"), "{reason}");
    let reason = refused(&desk, "slack:U0NOBODY", "/incident INC-1 postmortem").await;
    assert!(reason.contains("engineer role"), "{reason}");
}

#[sqlx::test]
async fn an_open_incident_has_no_review_yet(pool: PgPool) {
    let desk = Desk::new(pool.clone()).await;
    desk.ok("alice", "/incident Printer jammed P4").await;
    let reason = refused(&desk, "bob", "/incident INC-1 postmortem").await;
    assert!(
        reason.contains("still new") && reason.contains("resolve <resolution>"),
        "{reason}"
    );
    let reason = refused(&desk, "bob", "/incident INC-9 postmortem").await;
    assert!(reason.contains("There is no INC-9"), "{reason}");
}

pub async fn api_get(
    desk: &Desk,
    path: &str,
    token: Option<&str>,
) -> (StatusCode, String, Option<String>) {
    let mut request = Request::builder().method("GET").uri(path);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = router(HttpState::new(desk.engine.clone()))
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 22)
        .await
        .unwrap();
    (
        status,
        String::from_utf8(bytes.to_vec()).unwrap(),
        content_type,
    )
}

#[sqlx::test]
async fn the_api_serves_the_review_as_markdown(pool: PgPool) {
    let tokens = format!("[{{name=\"wiki\", access=\"read\", token=\"{TOKEN}\"}}]");
    let config = Config::load_with_env(None, [("ITSM__API__TOKENS".to_string(), tokens)]).unwrap();
    let desk = Desk::with_config(pool.clone(), config).await;
    seeded(&desk).await;

    let path = "/api/v1/incidents/INC-1/postmortem";
    let (status, _, _) = api_get(&desk, path, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body, _) = api_get(&desk, path, Some(TOKEN)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(body.contains("no post-incident review"), "{body}");

    desk.ok("bob", "/incident INC-1 postmortem").await;
    let (status, body, content_type) = api_get(&desk, path, Some(TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        content_type.as_deref(),
        Some("text/markdown; charset=utf-8")
    );
    assert!(body.starts_with("# Post-incident review: INC-1"), "{body}");
    assert!(body.contains("- Outage: 90 minutes"));
    let (status, _, _) = api_get(&desk, "/api/v1/incidents/inc-7/postmortem", Some(TOKEN)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = api_get(&desk, "/api/v1/incidents/PRB-1/postmortem", Some(TOKEN)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, doc, _) = api_get(&desk, "/api/v1/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        doc.contains("/api/v1/incidents/{reference}/postmortem"),
        "{doc}"
    );
}

#[sqlx::test]
async fn action_items_are_recorded_listed_and_done(pool: PgPool) {
    let desk = Desk::new(pool.clone()).await;
    seeded(&desk).await;
    desk.ok("bob", "/incident INC-1 postmortem").await;

    let added = desk
        .ok(
            "bob",
            &dated("/incident INC-1 action Alert on concentrator sessions @carol due:2026-11-30"),
        )
        .await;
    assert!(
        added.contains(&dated(
            "Action item #1 recorded for INC-1 (owner shell:carol, due 2026-11-30)"
        )),
        "{added}"
    );
    desk.ok(
        "bob",
        "/incident INC-1 action Write the firmware upgrade runbook",
    )
    .await;

    let reason = refused(
        &desk,
        "bob",
        &dated("/incident INC-1 action Too late due:2026-11-01"),
    )
    .await;
    assert!(reason.contains("already passed"), "{reason}");
    let reason = refused(
        &desk,
        "bob",
        &dated("/incident INC-1 action Bad date due:2026-13-40"),
    )
    .await;
    assert!(reason.contains("YYYY-MM-DD"), "{reason}");
    let reason = refused(&desk, "bob", "/incident INC-1 action @carol").await;
    assert!(reason.contains("needs a text"), "{reason}");
    let reason = refused(&desk, "bob", "/incident INC-1 action 1 done").await;
    assert!(reason.contains("/itsm action 1 done"), "{reason}");
    let reason = refused(&desk, "slack:U0NOBODY", "/incident INC-1 action Something").await;
    assert!(reason.contains("engineer role"), "{reason}");

    let review = desk.ok("bob", "/incident INC-1 postmortem").await;
    assert!(
        review.contains(&dated(
            "- #1 Alert on concentrator sessions — shell:carol, due 2026-11-30"
        )),
        "{review}"
    );
    assert!(review.contains("- #2 Write the firmware upgrade runbook"));

    // Past its due date it is marked overdue.
    desk.clock.set(start() + Duration::days(6));
    let open = desk.ok("dave", "/itsm actions").await;
    assert!(open.contains("Open action items (2)"), "{open}");
    assert!(
        open.contains(&dated(
            "#1 Alert on concentrator sessions — shell:carol, due 2026-11-30 (overdue) · INC-1"
        )),
        "{open}"
    );
    let mine = desk.ok("carol", "/itsm actions mine").await;
    assert!(mine.contains("#1") && !mine.contains("#2"), "{mine}");

    let reason = refused(&desk, "slack:U0NOBODY", "/itsm action 1 done").await;
    assert!(reason.contains("engineer role"), "{reason}");
    let done = desk.ok("carol", "/itsm action 1 done").await;
    assert!(done.contains("Action item #1 of INC-1 is done"), "{done}");
    let reason = refused(&desk, "carol", "/itsm action 1 done").await;
    assert!(reason.contains("already done"), "{reason}");
    let reason = refused(&desk, "carol", "/itsm action 99 done").await;
    assert!(reason.contains("no action item #99"), "{reason}");
    let reason = refused(&desk, "carol", "/itsm action one done").await;
    assert!(reason.contains("not an action item id"), "{reason}");

    let mine = desk.ok("carol", "/itsm actions mine").await;
    assert!(mine.contains("none"), "{mine}");
    let review = desk.ok("bob", "/incident INC-1 postmortem").await;
    assert!(
        review.contains(&dated(
            "#1 Alert on concentrator sessions — shell:carol, due 2026-11-30 (done)"
        )),
        "{review}"
    );
    let actions = timeline_actions(&pool, 1).await;
    assert!(
        actions.contains(&"action_added".to_string())
            && actions.contains(&"action_done".to_string())
    );
}

#[sqlx::test]
async fn p1_and_p2_without_a_review_are_reminded_once(pool: PgPool) {
    let desk = Desk::new(pool.clone()).await;
    // Wednesday 09:00: a P1, a P2 that gets its review, a P3.
    desk.ok("alice", "/incident VPN down P1").await;
    desk.ok("alice", "/incident Mail slow P2").await;
    desk.ok("alice", "/incident Printer jammed P3").await;
    desk.clock.set(start() + Duration::minutes(90));
    for n in 1..=3 {
        desk.ok("bob", &format!("/incident INC-{n} resolve fixed"))
            .await;
    }
    desk.ok("bob", "/incident INC-2 postmortem").await;

    let reminders = |posted: Vec<itsm_bot::commands::notice::Posted>| -> Vec<String> {
        posted
            .into_iter()
            .map(|p| p.text)
            .filter(|t| t.contains("no post-incident review"))
            .collect()
    };
    // Two working days after Wednesday 10:30 is Friday 10:30.
    let friday = start() + Duration::days(2) + Duration::minutes(90);
    assert!(reminders(
        sweep(&desk.engine, friday - Duration::minutes(1))
            .await
            .unwrap()
    )
    .is_empty());
    let posted = reminders(
        sweep(&desk.engine, friday + Duration::minutes(1))
            .await
            .unwrap(),
    );
    assert_eq!(posted.len(), 1, "{posted:?}");
    assert!(
        posted[0].contains("INC-1") && posted[0].contains("/incident INC-1 postmortem"),
        "{posted:?}"
    );
    assert!(reminders(
        sweep(&desk.engine, friday + Duration::hours(2))
            .await
            .unwrap()
    )
    .is_empty());
    assert!(reminders(
        sweep(&desk.engine, friday + Duration::days(5))
            .await
            .unwrap()
    )
    .is_empty());
}

#[sqlx::test]
async fn a_configured_template_replaces_the_built_in_one(pool: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("review.md");
    std::fs::write(
        &path,
        "PIR {{ reference }}: {{ outage_minutes }} min\n{{ sections.lessons }}\n",
    )
    .unwrap();
    let config = Config::load_with_env(
        None,
        [(
            "ITSM__POSTMORTEM__TEMPLATE_FILE".to_string(),
            path.to_string_lossy().to_string(),
        )],
    )
    .unwrap();
    let desk = Desk::with_config(pool, config).await;
    seeded(&desk).await;
    desk.ok("bob", "/incident INC-1 postmortem").await;
    desk.ok("bob", "/incident INC-1 postmortem set lessons Canary first")
        .await;
    let review = desk.ok("bob", "/incident INC-1 postmortem").await;
    assert!(
        review.starts_with("PIR INC-1: 90 min\nCanary first"),
        "{review}"
    );
}

//! Action items after the review: the digest and the reports count the
//! open ones and list the overdue ones, and one command raises an item as a
//! problem or a change.

use axum::http::StatusCode;
use chrono::{TimeZone, Utc};
use itsm_bot::commands::period_report;
use itsm_bot::config::Config;
use itsm_bot::domain::change::{ChangeStatus, ChangeType};
use itsm_bot::domain::report::Period;
use serde_json::Value;
use sqlx::PgPool;

use crate::helpers::{dated, timeline_actions, Desk};
use crate::postmortems::{api_get, refused, seeded, TOKEN};

/// The actions on the timeline of the `kind` ticket `number`, oldest first.
async fn ticket_actions(pool: &PgPool, kind: &str, number: i64) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT e.action FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id
         WHERE t.kind = $1 AND t.number = $2 ORDER BY e.id",
    )
    .bind(kind)
    .bind(number)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// 2026-12-01 10:00 UTC: the day after the items below fall due.
fn december_first() -> chrono::DateTime<Utc> {
    crate::helpers::moved(Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap())
}

#[sqlx::test]
async fn the_digest_and_the_reports_count_open_items_and_list_the_overdue(pool: PgPool) {
    let desk = Desk::new(pool.clone()).await;
    seeded(&desk).await;
    let quiet = period_report::rolling(&desk.engine, Period::Day, december_first())
        .await
        .unwrap();
    let text = period_report::message(&quiet).plain_text();
    assert!(text.contains("Action items: none open"), "{text}");
    assert!(!text.contains("Overdue action items"), "{text}");

    desk.ok(
        "bob",
        &dated("/incident INC-1 action Alert on concentrator sessions @carol due:2026-11-30"),
    )
    .await; // #1
    desk.ok(
        "bob",
        "/incident INC-1 action Write the firmware upgrade runbook",
    )
    .await; // #2: no due date, never overdue
    desk.ok(
        "bob",
        &dated("/incident INC-1 action Canary firmware first @bob due:2026-12-10"),
    )
    .await; // #3: due later
    for n in 4..=14 {
        desk.ok(
            "bob",
            &dated(&format!(
                "/incident INC-1 action Check replica {n} due:2026-11-30"
            )),
        )
        .await;
    }
    desk.ok("bob", "/itsm action 14 done").await;

    desk.clock.set(december_first());
    let report = period_report::rolling(&desk.engine, Period::Day, december_first())
        .await
        .unwrap();
    let actions = &report.state.actions;
    assert_eq!(actions.today, december_first().date_naive());
    assert_eq!(
        (actions.open, actions.overdue),
        (13, 11),
        "#14 is done, #2 has no due date, #3 is not due yet"
    );
    let listed: Vec<i64> = actions.overdue_items.iter().map(|a| a.id).collect();
    assert_eq!(
        listed,
        vec![1, 4, 5, 6, 7, 8, 9, 10, 11, 12],
        "ten at most, soonest due first"
    );
    let text = period_report::message(&report).plain_text();
    for expected in [
        "Action items: 13 open, 11 overdue",
        "Overdue action items (11)",
        &dated("#1 Alert on concentrator sessions — shell:carol, due 2026-11-30 (overdue) · INC-1"),
        &dated("#12 Check replica 12 — due 2026-11-30 (overdue) · INC-1"),
        "… and 1 more (`/itsm actions`)",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    for absent in ["#13 ", "#14 ", "#2 ", "#3 "] {
        assert!(!text.contains(absent), "{absent:?} listed in:\n{text}");
    }

    // The weekly and monthly reports show the same items.
    for period in [Period::Week, Period::Month] {
        let report = period_report::rolling(&desk.engine, period, december_first())
            .await
            .unwrap();
        assert_eq!(report.state.actions, *actions, "{period:?}");
    }
    let weekly = desk.ok("dave", "/itsm report week").await;
    assert!(
        weekly.contains("Weekly report") && weekly.contains("Overdue action items (11)"),
        "{weekly}"
    );

    // Overdue is judged by the day where the digest is read: 23:30 UTC on
    // the due date is already the next day in Berlin.
    let late = crate::helpers::moved(Utc.with_ymd_and_hms(2026, 11, 30, 23, 30, 0).unwrap());
    let utc = period_report::rolling_in(&desk.engine, Period::Day, late, chrono_tz::UTC)
        .await
        .unwrap();
    assert_eq!((utc.state.actions.open, utc.state.actions.overdue), (13, 0));
    let berlin =
        period_report::rolling_in(&desk.engine, Period::Day, late, chrono_tz::Europe::Berlin)
            .await
            .unwrap();
    assert_eq!(berlin.state.actions.overdue, 11);
    // `itsm-bot digest --date 2026-11-30` covers that day and is read after it.
    let day = period_report::for_date(&desk.engine, late.date_naive(), chrono_tz::UTC)
        .await
        .unwrap();
    assert_eq!(day.state.actions.overdue, 11);

    // Done items drop out.
    desk.ok("carol", "/itsm action 1 done").await;
    // A report describes the state after what happened before its end.
    let later = december_first() + chrono::Duration::minutes(1);
    desk.clock.set(later);
    let report = period_report::rolling(&desk.engine, Period::Day, later)
        .await
        .unwrap();
    assert_eq!(
        (report.state.actions.open, report.state.actions.overdue),
        (12, 10)
    );
    let text = period_report::message(&report).plain_text();
    assert!(!text.contains("more (`/itsm actions`)"), "{text}");
}

#[sqlx::test]
async fn the_report_json_has_the_open_and_overdue_items(pool: PgPool) {
    let tokens = format!("[{{name=\"wiki\", access=\"read\", token=\"{TOKEN}\"}}]");
    let config = Config::load_with_env(None, [("ITSM__API__TOKENS".to_string(), tokens)]).unwrap();
    let desk = Desk::with_config(pool, config).await;
    seeded(&desk).await;
    desk.ok(
        "bob",
        &dated("/incident INC-1 action Alert on concentrator sessions @carol due:2026-11-30"),
    )
    .await;
    desk.ok(
        "bob",
        &dated("/incident INC-1 action Find why sessions leak due:2026-11-30"),
    )
    .await;
    desk.ok("bob", "/incident INC-1 action Write the runbook")
        .await;
    desk.ok("bob", "/itsm action 2 problem").await; // PRB-2

    desk.clock.set(december_first());
    for period in ["day", "week", "month"] {
        let (status, body, _) =
            api_get(&desk, &format!("/api/v1/reports/{period}"), Some(TOKEN)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let report: Value = serde_json::from_str(&body).unwrap();
        let actions = &report["action_items"];
        assert_eq!(actions["as_of"], dated("2026-12-01"), "{report}");
        assert_eq!(actions["open"], 3, "{report}");
        assert_eq!(actions["overdue"], 2, "{report}");
        let items = actions["overdue_items"].as_array().unwrap();
        assert_eq!(items.len(), 2, "{report}");
        assert_eq!(
            items[0],
            serde_json::json!({
                "id": 1,
                "incident": "INC-1",
                "text": "Alert on concentrator sessions",
                "owner": "shell:carol",
                "due": &dated("2026-11-30"),
                "raised_as": null,
            })
        );
        assert_eq!(items[1]["raised_as"], "PRB-2", "{report}");
        assert_eq!(items[1]["owner"], Value::Null, "{report}");
    }
    let (_, doc, _) = api_get(&desk, "/api/v1/openapi.json", None).await;
    assert!(doc.contains("ActionItemsDto") && doc.contains("overdue_items"));
}

#[sqlx::test]
async fn an_action_item_is_raised_as_a_problem_once(pool: PgPool) {
    let desk = Desk::new(pool.clone()).await;
    seeded(&desk).await; // PRB-1 and CHG-1 exist already
    desk.ok(
        "bob",
        &dated("/incident INC-1 action Find why sessions leak on reconnect @carol due:2026-11-30"),
    )
    .await;
    desk.ok("bob", "/incident INC-1 action Write the runbook")
        .await;

    let reason = refused(&desk, "slack:U0NOBODY", "/itsm action 1 problem").await;
    assert!(
        reason.contains("engineer role") && reason.contains("record problems"),
        "{reason}"
    );
    let reason = refused(&desk, "bob", "/itsm action 99 problem").await;
    assert!(
        reason.contains("There is no action item #99") && reason.contains("/itsm actions"),
        "{reason}"
    );

    let raised = desk.ok("bob", "/itsm action 1 problem").await;
    for expected in [
        "Action item #1 of INC-1 raised as PRB-2: Find why sessions leak on reconnect",
        "PRB-2 is linked to INC-1",
        "stays open, showing PRB-2, until `/itsm action 1 done`",
    ] {
        assert!(
            raised.contains(expected),
            "missing {expected:?} in:\n{raised}"
        );
    }

    let problem = desk.ok("dave", "/problem PRB-2 show").await;
    for expected in [
        "PRB-2 · Find why sessions leak on reconnect",
        &dated("Raised from action item #1 of the review of INC-1. Owner: shell:carol. Due: 2026-11-30."),
        "vpn",
        "Linked incidents (1, 0 open)",
        "INC-1",
        "Recorded by: shell:bob",
    ] {
        assert!(
            problem.contains(expected),
            "missing {expected:?} in:\n{problem}"
        );
    }
    assert_eq!(
        ticket_actions(&pool, "problem", 2).await,
        vec!["created", "linked"]
    );
    let incident = timeline_actions(&pool, 1).await;
    assert!(
        incident.ends_with(&["linked".to_string(), "action_raised".to_string()]),
        "{incident:?}"
    );
    let show = desk.ok("bob", "/incident INC-1 show").await;
    assert!(
        show.contains("action item raised #1 → PRB-2: Find why sessions leak on reconnect"),
        "{show}"
    );

    // It stays open, showing its problem, until it is done.
    let open = desk.ok("dave", "/itsm actions").await;
    assert!(
        open.contains("Open action items (2)")
            && open.contains(
                &dated("#1 Find why sessions leak on reconnect — shell:carol, due 2026-11-30, raised as PRB-2 · INC-1")
            ),
        "{open}"
    );

    for again in ["/itsm action 1 problem", "/itsm action 1 change"] {
        let reason = refused(&desk, "bob", again).await;
        assert!(
            reason.contains("Action item #1 was already raised as PRB-2. Nothing was raised.")
                && reason.contains("/problem PRB-2 show"),
            "{reason}"
        );
    }

    desk.ok("carol", "/itsm action 1 done").await;
    desk.ok("bob", "/itsm action 2 done").await;
    let reason = refused(&desk, "bob", "/itsm action 2 problem").await;
    assert!(
        reason.contains("Action item #2 was already done on")
            && reason.contains("/incident INC-1 action <text>"),
        "{reason}"
    );
    desk.ok("bob", "/incident INC-1 postmortem").await;
    let review = desk.ok("bob", "/incident INC-1 postmortem").await;
    assert!(
        review.contains(
            &dated("#1 Find why sessions leak on reconnect — shell:carol, due 2026-11-30, raised as PRB-2 (done)")
        ),
        "{review}"
    );
}

#[sqlx::test]
async fn an_action_item_is_raised_as_a_draft_change(pool: PgPool) {
    let desk = Desk::new(pool.clone()).await;
    seeded(&desk).await; // CHG-1 exists already
    desk.ok(
        "bob",
        &dated("/incident INC-1 action Add a second VPN concentrator @carol due:2026-12-04"),
    )
    .await;
    desk.ok("alice", "/incident Printer jammed P4").await; // INC-2, no service
    desk.ok("bob", "/incident INC-2 action Replace the printer rollers")
        .await;

    let reason = refused(&desk, "slack:U0NOBODY", "/itsm action 1 change").await;
    assert!(
        reason.contains("engineer role") && reason.contains("draft a change"),
        "{reason}"
    );
    let reason = refused(&desk, "carol", "/itsm action 0 change").await;
    assert!(reason.contains("There is no action item #0"), "{reason}");

    let raised = desk.ok("carol", "/itsm action 1 change").await;
    for expected in [
        "Action item #1 of INC-1 raised as CHG-2: Add a second VPN concentrator",
        "Before `/change CHG-2 submit`, set:",
        "stays open, showing CHG-2",
    ] {
        assert!(
            raised.contains(expected),
            "missing {expected:?} in:\n{raised}"
        );
    }
    let mut conn = pool.acquire().await.unwrap();
    let change = itsm_bot::store::changes::get(&mut conn, 2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(change.title, "Add a second VPN concentrator");
    assert_eq!(change.change_type, ChangeType::Normal);
    assert_eq!(change.status, ChangeStatus::Draft);
    assert_eq!(change.service.as_deref(), Some("vpn"));
    assert_eq!(change.requester.to_string(), "shell:carol");
    assert_eq!(
        change.description,
        dated("Raised from action item #1 of the review of INC-1. Owner: shell:carol. Due: 2026-12-04.")
    );
    assert_eq!(ticket_actions(&pool, "change", 2).await, vec!["created"]);
    assert_eq!(
        timeline_actions(&pool, 1).await.last().map(String::as_str),
        Some("action_raised")
    );

    // An incident without a service gives a change without one.
    desk.ok("bob", "/itsm action 2 change").await;
    let change = itsm_bot::store::changes::get(&mut conn, 3)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(change.service, None);
    assert_eq!(change.title, "Replace the printer rollers");

    let reason = refused(&desk, "bob", "/itsm action 1 problem").await;
    assert!(
        reason.contains("already raised as CHG-2") && reason.contains("/change CHG-2 show"),
        "{reason}"
    );
    let reason = refused(&desk, "bob", "/itsm action 1 rollback").await;
    assert!(
        reason.contains("`rollback` is not something an action item can do")
            && reason.contains("/itsm action <id> change"),
        "{reason}"
    );
    let help = desk.ok("bob", "/itsm help review").await;
    assert!(
        help.contains("/itsm action <id> problem") && help.contains("/itsm action <id> change"),
        "{help}"
    );
}

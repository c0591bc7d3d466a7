//! Action items after the review: the digest and the reports count the
//! open ones and list the overdue ones.

use axum::http::StatusCode;
use chrono::{NaiveDate, TimeZone, Utc};
use itsm_bot::config::Config;
use itsm_bot::domain::report::Period;
use itsm_bot::scheduler::digest;
use serde_json::Value;
use sqlx::PgPool;

use crate::helpers::Desk;
use crate::postmortems::{api_get, seeded, TOKEN};

/// 2026-12-01 10:00 UTC: the day after the items below fall due.
fn december_first() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap()
}

#[sqlx::test]
async fn the_digest_and_the_reports_count_open_items_and_list_the_overdue(pool: PgPool) {
    let desk = Desk::new(pool.clone()).await;
    seeded(&desk).await;
    let quiet = digest::report(&desk.engine, Period::Day, december_first())
        .await
        .unwrap();
    let text = digest::message(&quiet).plain_text();
    assert!(text.contains("Action items: none open"), "{text}");
    assert!(!text.contains("Overdue action items"), "{text}");

    desk.ok(
        "bob",
        "/incident INC-1 action Alert on concentrator sessions @carol due:2026-11-30",
    )
    .await; // #1
    desk.ok(
        "bob",
        "/incident INC-1 action Write the firmware upgrade runbook",
    )
    .await; // #2: no due date, never overdue
    desk.ok(
        "bob",
        "/incident INC-1 action Canary firmware first @bob due:2026-12-10",
    )
    .await; // #3: due later
    for n in 4..=14 {
        desk.ok(
            "bob",
            &format!("/incident INC-1 action Check replica {n} due:2026-11-30"),
        )
        .await;
    }
    desk.ok("bob", "/itsm action 14 done").await;

    desk.clock.set(december_first());
    let report = digest::report(&desk.engine, Period::Day, december_first())
        .await
        .unwrap();
    let actions = &report.actions;
    assert_eq!(actions.today, NaiveDate::from_ymd_opt(2026, 12, 1).unwrap());
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
    let text = digest::message(&report).plain_text();
    for expected in [
        "Action items: 13 open, 11 overdue",
        "Overdue action items (11)",
        "#1 Alert on concentrator sessions — shell:carol, due 2026-11-30 (overdue) · INC-1",
        "#12 Check replica 12 — due 2026-11-30 (overdue) · INC-1",
        "… and 1 more (`/itsm actions`)",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    for absent in ["#13 ", "#14 ", "#2 ", "#3 "] {
        assert!(!text.contains(absent), "{absent:?} listed in:\n{text}");
    }

    // The weekly and monthly reports show the same items.
    for period in [Period::Week, Period::Month] {
        let report = digest::report(&desk.engine, period, december_first())
            .await
            .unwrap();
        assert_eq!(report.actions, *actions, "{period:?}");
    }
    let weekly = desk.ok("dave", "/itsm report week").await;
    assert!(
        weekly.contains("Weekly report") && weekly.contains("Overdue action items (11)"),
        "{weekly}"
    );

    // Overdue is judged by the day where the digest is read: 23:30 UTC on
    // the due date is already the next day in Berlin.
    let late = Utc.with_ymd_and_hms(2026, 11, 30, 23, 30, 0).unwrap();
    let utc = digest::report_in(&desk.engine, Period::Day, late, chrono_tz::UTC)
        .await
        .unwrap();
    assert_eq!((utc.actions.open, utc.actions.overdue), (13, 0));
    let berlin = digest::report_in(&desk.engine, Period::Day, late, chrono_tz::Europe::Berlin)
        .await
        .unwrap();
    assert_eq!(berlin.actions.overdue, 11);
    // `itsm-bot digest --date 2026-11-30` covers that day and is read after it.
    let day = digest::for_date(
        &desk.engine,
        NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
        chrono_tz::UTC,
    )
    .await
    .unwrap();
    assert_eq!(day.actions.overdue, 11);

    // Done items drop out.
    desk.ok("carol", "/itsm action 1 done").await;
    let report = digest::report(&desk.engine, Period::Day, december_first())
        .await
        .unwrap();
    assert_eq!((report.actions.open, report.actions.overdue), (12, 10));
    let text = digest::message(&report).plain_text();
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
        "/incident INC-1 action Alert on concentrator sessions @carol due:2026-11-30",
    )
    .await;
    desk.ok(
        "bob",
        "/incident INC-1 action Find why sessions leak due:2026-11-30",
    )
    .await;
    desk.ok("bob", "/incident INC-1 action Write the runbook")
        .await;

    desk.clock.set(december_first());
    for period in ["day", "week", "month"] {
        let (status, body, _) =
            api_get(&desk, &format!("/api/v1/reports/{period}"), Some(TOKEN)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let report: Value = serde_json::from_str(&body).unwrap();
        let actions = &report["action_items"];
        assert_eq!(actions["as_of"], "2026-12-01", "{report}");
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
                "due": "2026-11-30",
                "raised_as": null,
            })
        );
        assert_eq!(items[1]["owner"], Value::Null, "{report}");
    }
    let (_, doc, _) = api_get(&desk, "/api/v1/openapi.json", None).await;
    assert!(doc.contains("ActionItemsDto") && doc.contains("overdue_items"));
}

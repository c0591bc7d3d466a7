//! Issue 20: the week a manager checks by hand. A Berlin team with four
//! services and office hours works a week (outages, a business-hours
//! ticket across the night, an alert resolved by its monitoring, a late
//! response, a CAB, a failed change rolled back, ratings) through the same
//! engine path as `itsm-bot say`, with the injected clock; then the week's
//! figures are read where a manager reads them and checked against sums
//! done by hand below.

use chrono::{DateTime, Duration, TimeZone, Utc};
use itsm_bot::config::Config;
use itsm_bot::scheduler::sweep::sweep;
use sqlx::PgPool;

use crate::helpers::{dated, moved, Desk};

const TOKEN: &str = "week-story-read-token";

fn config() -> Config {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("week.toml");
    std::fs::write(
        &path,
        format!(
            r#"
[roles]
engineer = ["shell:*"]
manager = ["shell:maria"]
cab = ["shell:carol", "shell:dave"]

[locale]
time_zone = "Europe/Berlin"

[calendars.office]
working_days = ["Mon", "Tue", "Wed", "Thu", "Fri"]
opens = "08:00"
closes = "18:00"

[[services]]
name = "vpn"
[[services]]
name = "email"
[[services]]
name = "wifi"
[[services]]
name = "erp"

[api]
tokens = [{{ name = "manager", access = "read", token = "{TOKEN}" }}]
"#
        ),
    )
    .unwrap();
    Config::load_with_env(Some(&path), std::iter::empty()).unwrap()
}

/// Monday 2026-11-23 (ISO week 48) at `hh:mm` UTC, plus `day` days.
fn at(day: i64, hh: u32, mm: u32) -> DateTime<Utc> {
    moved(Utc.with_ymd_and_hms(2026, 11, 23, hh, mm, 0).unwrap()) + Duration::days(day)
}

#[sqlx::test]
async fn a_week_of_a_berlin_desk_adds_up(pool: PgPool) {
    let desk = Desk::with_config(pool, config()).await;
    let go = |day, hh, mm| desk.clock.set(at(day, hh, mm));

    // Monday 09:00 CET: the VPN is down (P1), an outage until 11:30 CET.
    go(0, 8, 0);
    desk.ok("alice", "/incident VPN down for everyone P1 service:vpn")
        .await;
    desk.ok("bob", "/incident INC-1 outage").await;
    go(0, 8, 10);
    desk.ok("bob", "/incident INC-1 ack").await;
    go(0, 10, 30);
    desk.ok("bob", "/incident INC-1 resolve concentrator restarted")
        .await;
    go(0, 11, 0);
    desk.ok("alice", "/incident INC-1 rate 5").await;
    // Monday 17:00 CET, an hour before closing: a P3 in office hours. Its
    // 4 business hours to respond end Tuesday 11:00 CET.
    go(0, 16, 0);
    let printer = desk.ok("alice", "/incident Printer jams P3").await;
    assert!(
        printer.contains(&dated("Respond by 2026-11-24 11:00 CET")),
        "{printer}"
    );
    go(1, 9, 30);
    desk.ok("bob", "/incident INC-2 ack").await;
    go(1, 15, 0);
    desk.ok("bob", "/incident INC-2 resolve new drum").await;
    // Tuesday: an alert nobody touched, resolved by its recovery.
    go(1, 12, 0);
    desk.ok(
        "alertmanager",
        "/incident Disk full on erp01 P2 service:erp",
    )
    .await;
    go(1, 12, 20);
    desk.ok("alertmanager", "/incident INC-3 resolve the alert resolved")
        .await;
    // Wednesday 08:00 CET: mail is slow (P2, respond within 1h); nobody
    // answers until 09:30 CET. The sweep announces the breach once.
    go(2, 7, 0);
    desk.ok("alice", "/incident Mail is slow P2 service:email")
        .await;
    let posted = sweep(&desk.engine, at(2, 8, 1)).await.unwrap();
    let breach: Vec<_> = posted
        .iter()
        .filter(|p| p.text.contains("INC-4") && p.text.contains("breached"))
        .collect();
    assert_eq!(breach.len(), 1, "{posted:?}");
    assert!(
        breach[0].text.contains(&dated("2026-11-25 09:00 CET")),
        "{}",
        breach[0].text
    );
    go(2, 8, 30);
    desk.ok("bob", "/incident INC-4 ack").await;
    go(2, 12, 0);
    desk.ok("bob", "/incident INC-4 resolve queue drained")
        .await;
    go(2, 13, 0);
    desk.ok("alice", "/incident INC-4 rate 3").await;

    // Two normal changes through the CAB.
    for (number, title, window, submit, first, second) in [
        (
            1,
            "Upgrade the ERP service:erp",
            "2026-11-26T20:00 2h",
            at(2, 10, 0),
            at(2, 11, 0),
            at(2, 13, 0),
        ),
        (
            2,
            "Patch the wifi controllers service:wifi",
            "2026-11-27T20:00 1h",
            at(3, 10, 0),
            at(3, 11, 0),
            at(3, 11, 30),
        ),
    ] {
        desk.clock.set(submit - Duration::minutes(30));
        desk.ok("alice", &format!("/change {title}")).await;
        for line in [
            "plan upgrade one node, then the other".to_string(),
            "test log in and post an order".to_string(),
            "rollback restore the snapshot".to_string(),
            dated(&format!("window {window}")),
        ] {
            desk.ok("alice", &format!("/change CHG-{number} {line}"))
                .await;
        }
        desk.clock.set(submit);
        desk.ok("alice", &format!("/change CHG-{number} submit"))
            .await;
        desk.clock.set(first);
        desk.ok("carol", &format!("/change CHG-{number} approve"))
            .await;
        desk.clock.set(second);
        desk.ok("dave", &format!("/change CHG-{number} approve"))
            .await;
    }
    go(3, 19, 5);
    desk.ok("bob", "/change CHG-1 start").await;
    go(3, 20, 0);
    desk.ok("bob", "/change CHG-1 complete all green").await;
    go(4, 19, 5);
    desk.ok("bob", "/change CHG-2 start").await;
    go(4, 19, 30);
    desk.ok("bob", "/change CHG-2 fail controllers did not come back")
        .await;
    go(4, 19, 45);
    desk.ok("bob", "/change CHG-2 rolled-back old firmware restored")
        .await;

    // Friday 10:00 CET: the ERP is down, still open when the week ends.
    go(4, 9, 0);
    desk.ok("alice", "/incident ERP down P1 service:erp").await;
    desk.ok("bob", "/incident INC-5 outage").await;
    go(4, 9, 5);
    desk.ok("bob", "/incident INC-5 ack").await;
    // Resolved the next Monday; the manager reads the week on Tuesday.
    go(7, 10, 0);
    desk.ok("bob", "/incident INC-5 resolve database failed over")
        .await;
    go(8, 9, 0);

    // The week, by hand (all in Europe/Berlin, Mon 00:00 to Mon 00:00):
    // opened 5; resolved by people INC-1 (2h30), INC-2 (23h), INC-4 (5h),
    // by monitoring INC-3; responses INC-1 10m, INC-2 17h30, INC-4 1h30,
    // INC-5 5m; clocks met: INC-1 both, INC-2 both, INC-4 resolve, INC-5
    // respond = 6; breached: INC-4 respond (30m late), INC-5 resolve (due
    // Fri 14:00 CET) = 2; CSAT 5 and 3; open at the end: INC-5 (P1).
    let week = moved(Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap())
        .format("%G-W%V")
        .to_string();
    let (status, api) = desk
        .http(
            "GET",
            &format!("/api/v1/reports/week?period={week}"),
            Some(TOKEN),
            None,
        )
        .await;
    assert_eq!(status, 200, "{api}");
    let int = |key: &str| api[key].as_i64().unwrap_or_else(|| panic!("{key}: {api}"));
    assert_eq!(int("opened"), 5);
    assert_eq!(int("resolved"), 3);
    assert_eq!(int("resolved_by_monitoring"), 1);
    assert_eq!(int("responded"), 4);
    assert_eq!(int("mtta_seconds"), (600 + 63_000 + 5_400 + 300) / 4);
    assert_eq!(int("mttr_seconds"), (9_000 + 82_800 + 18_000) / 3);
    assert_eq!((int("sla_met"), int("breaches")), (6, 2));
    assert_eq!(api["sla_compliance"].as_f64(), Some(75.0));
    assert_eq!(api["csat_average"].as_f64(), Some(4.0));
    assert_eq!(int("csat_answers"), 2);
    assert_eq!(api["open_by_priority"], serde_json::json!([1, 0, 0, 0]));
    assert_eq!(api["time_zone"], "Europe/Berlin");
    // Changes: one completed, one failed then rolled back; both normal;
    // approved 3h and 1h30 after submission.
    let changes = &api["changes"];
    assert_eq!(
        (
            changes["completed"].as_i64(),
            changes["failed"].as_i64(),
            changes["rolled_back"].as_i64()
        ),
        (Some(1), Some(0), Some(1))
    );
    assert_eq!(changes["success_rate"].as_f64(), Some(50.0));
    assert_eq!(changes["emergency_share"].as_f64(), Some(0.0));
    assert_eq!(changes["lead_time_seconds"].as_i64(), Some(8_100));
    // Availability over the week's 10,080 minutes: the VPN was down 150
    // minutes, the ERP from Friday 10:00 CET to the week's end (62 h).
    let availability = |service: &str| {
        api["availability"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["service"] == service)
            .cloned()
            .unwrap_or_else(|| panic!("{service}: {api}"))
    };
    assert_eq!(availability("vpn")["downtime_seconds"], 150 * 60);
    assert_eq!(availability("erp")["downtime_seconds"], 62 * 3600);
    assert_eq!(availability("email")["downtime_seconds"], 0);
    let vpn = availability("vpn")["availability_percent"]
        .as_f64()
        .unwrap();
    assert!(
        (vpn - 100.0 * (1.0 - 150.0 / 10_080.0)).abs() < 1e-9,
        "{vpn}"
    );

    // The dashboard over the same days says the same.
    let monday = at(0, 0, 0).date_naive();
    let sunday = monday + Duration::days(6);
    let (_, dashboard) = desk
        .http(
            "GET",
            &format!("/dashboard.json?from={monday}&to={sunday}"),
            None,
            None,
        )
        .await;
    for key in ["opened", "resolved", "sla_met", "breaches", "mtta_seconds"] {
        assert_eq!(dashboard["figures"][key], api[key], "{key}");
    }
    let on_dashboard = dashboard["availability"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["service"] == "vpn")
        .cloned()
        .unwrap();
    assert_eq!(on_dashboard, availability("vpn"));

    // The chat report reads the same, in Berlin's zone.
    let text = desk.ok("maria", &format!("/itsm report week {week}")).await;
    assert!(text.contains("75% (6 met of 8)"), "{text}");
    assert!(text.contains("+ 1 by monitoring"), "{text}");
    assert!(text.contains("(Europe/Berlin)"), "{text}");
    assert!(text.contains("Change success rate: 50%"), "{text}");

    // A past day's digest describes that day: Monday ended with the
    // printer ticket open, whatever is open now.
    let monday_digest = desk
        .ok("maria", &format!("/itsm report day {monday}"))
        .await;
    assert!(
        monday_digest.contains("Opened: 2")
            && monday_digest.contains(&dated(
                "Open at 2026-11-24 00:00 CET: 1 (P1 0 · P2 0 · P3 1"
            )),
        "{monday_digest}"
    );

    // The review's outage is the availability's downtime.
    let review = desk.ok("bob", "/incident INC-1 postmortem").await;
    assert!(review.contains("150 minutes"), "{review}");
}

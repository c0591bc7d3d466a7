//! Change enablement through the engine: drafts, CAB approvals, guards,
//! the schedule and the scheduler's reminders, on a real database.

use chrono::Duration;
use itsm_bot::config::Config;
use itsm_bot::scheduler::sweep::sweep;
use sqlx::PgPool;

use crate::helpers::{dated, start, Desk};

/// carol and dave sit on the CAB, erin on the emergency CAB; the CAB is
/// asked in #cab; a year-end freeze from 2026-12-20 to 2027-01-04.
fn cab_config(extra: &str) -> Config {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cab.toml");
    crate::helpers::write_dated(
        &path,
        format!(
            r#"
[roles]
engineer = ["shell:*"]
cab = ["shell:carol", "shell:dave"]
emergency_cab = ["shell:erin"]

[change]
cab_channel = "cab"
{extra}

[[change.freeze_windows]]
name = "year-end"
start = "2026-12-20T00:00"
end = "2027-01-04T00:00"
"#
        ),
    )
    .unwrap();
    Config::load_with_env(Some(&path), std::iter::empty()).unwrap()
}

async fn desk(pool: PgPool) -> Desk {
    Desk::with_config(pool, cab_config("")).await
}

/// Drafts a change with every plan and `window`, as `who`; returns its number.
async fn ready(desk: &Desk, who: &str, title: &str, window: &str) -> i64 {
    let reply = desk.ok(who, &format!("/change {title}")).await;
    let number: i64 = reply
        .split_once("CHG-")
        .and_then(|(_, rest)| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{reply}"));
    for line in [
        "plan drain node A, upgrade, fail over, upgrade node B",
        "test connect from the office and from home",
        "rollback boot the previous image",
        &format!("window {window}"),
    ] {
        desk.ok(who, &format!("/change CHG-{number} {line}")).await;
    }
    number
}

async fn actions(pool: &PgPool, number: i64) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT e.action FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id
         WHERE t.kind = 'change' AND t.number = $1 ORDER BY e.id",
    )
    .bind(number)
    .fetch_all(pool)
    .await
    .unwrap()
}

#[sqlx::test]
async fn a_normal_change_from_draft_to_completed_with_two_cab_approvals(pool: PgPool) {
    let desk = desk(pool.clone()).await;
    let draft = desk
        .ok(
            "alice",
            "/change Upgrade VPN concentrator firmware service:vpn",
        )
        .await;
    assert!(draft.contains("CHG-1 drafted"), "{draft}");

    let refused = desk.refused("alice", "/change CHG-1 submit").await;
    for missing in [
        "implementation plan",
        "test plan",
        "rollback plan",
        "window",
    ] {
        assert!(refused.contains(missing), "{refused}");
    }
    for line in [
        "plan drain node A, upgrade, fail over, upgrade node B",
        "test connect from the office and from home",
        "rollback boot the previous image",
        &dated("window 2026-12-01T22:00 2h"),
    ] {
        desk.ok("alice", &format!("/change CHG-1 {line}")).await;
    }
    let submitted = desk.ok("alice", "/change CHG-1 submit").await;
    assert!(
        submitted.contains("2 approvals from cab (shell:carol, shell:dave)"),
        "{submitted}"
    );

    let own = desk.refused("alice", "/change CHG-1 approve").await;
    assert!(own.contains("never approves their own change"), "{own}");
    let not_cab = desk.refused("bob", "/change CHG-1 approve").await;
    assert!(not_cab.contains("cab role"), "{not_cab}");

    let first = desk.ok("carol", "/change CHG-1 approve looks good").await;
    assert!(first.contains("still submitted (1 of 2"), "{first}");
    let twice = desk.refused("carol", "/change CHG-1 approve").await;
    assert!(twice.contains("already approved"), "{twice}");
    let second = desk.ok("dave", "/change CHG-1 approve").await;
    assert!(second.contains("CHG-1 approved (2 of 2"), "{second}");

    // The window opens on 1 December; starting now needs confirming.
    let early = desk.refused("alice", "/change CHG-1 start").await;
    assert!(early.contains("start now"), "{early}");
    desk.clock
        .set(start() + Duration::days(6) + Duration::hours(13));
    desk.ok("alice", "/change CHG-1 start").await;
    let done = desk
        .ok("alice", "/change CHG-1 complete upgrade went as planned")
        .await;
    assert!(done.contains("Review: upgrade went as planned"), "{done}");

    let show = desk.ok("bob", "/change CHG-1 show").await;
    for part in [
        "Status: completed",
        "Approvals: 2 of 2: shell:carol, shell:dave",
        "Review: upgrade went as planned",
        "shell:carol: looks good",
    ] {
        assert!(show.contains(part), "{part}\n{show}");
    }
    assert_eq!(
        actions(&pool, 1).await,
        [
            "created",
            "planned",
            "planned",
            "planned",
            "scheduled",
            "submitted",
            "approval",
            "approval",
            "approved",
            "started",
            "completed"
        ]
    );
}

#[sqlx::test]
async fn the_cab_card_is_queued_on_submit_and_updated_per_approval(pool: PgPool) {
    let mut config = cab_config("");
    config.change.cab_channel = Some("slack:C0CAB".parse().unwrap());
    let desk_slack = Desk::with_config(pool.clone(), config).await;
    let number = ready(
        &desk_slack,
        "alice",
        "Rotate VPN keys service:vpn",
        &dated("2026-12-01T22:00 1h"),
    )
    .await;
    let queued = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM outbox WHERE platform = 'slack' AND kind = 'ticket_message'",
        )
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    assert_eq!(queued().await, 0, "a draft is not shown to the CAB");
    desk_slack
        .ok("alice", &format!("/change CHG-{number} submit"))
        .await;
    assert_eq!(queued().await, 1);
    let reply = desk_slack
        .say("carol", &format!("/change CHG-{number} approve"))
        .await;
    assert_eq!(
        reply.visibility,
        itsm_bot::commands::reply::Visibility::Ephemeral,
        "the decision shows on the card; the reply goes to the approver"
    );
    assert_eq!(queued().await, 2);
}

#[sqlx::test]
async fn a_window_in_the_freeze_is_refused_for_normal_changes(pool: PgPool) {
    let desk = desk(pool).await;
    desk.ok("alice", "/change Swap core switch service:vpn")
        .await;
    let refused = desk
        .refused("alice", &dated("/change CHG-1 window 2026-12-22T10:00 2h"))
        .await;
    assert!(refused.contains("year-end"), "{refused}");
    assert!(refused.contains("only emergency changes"), "{refused}");
    // Touching the freeze's first minute is inside it too.
    desk.refused("alice", &dated("/change CHG-1 window 2026-12-19T23:30 1h"))
        .await;
    desk.ok("alice", &dated("/change CHG-1 window 2026-12-19T20:00 2h"))
        .await;
}

#[sqlx::test]
async fn an_emergency_change_in_the_freeze_is_flagged_and_approved_by_one_emergency_cab_member(
    pool: PgPool,
) {
    let desk = desk(pool.clone()).await;
    desk.ok(
        "alice",
        "/change Patch VPN zero-day type:emergency service:vpn",
    )
    .await;
    for line in [
        "plan apply vendor hotfix",
        "test connect from home",
        "rollback uninstall hotfix",
    ] {
        desk.ok("alice", &format!("/change CHG-1 {line}")).await;
    }
    let flagged = desk
        .ok("alice", &dated("/change CHG-1 window 2026-12-24T03:00 1h"))
        .await;
    assert!(
        flagged.contains("Emergency change in the `year-end` freeze"),
        "{flagged}"
    );
    let submitted = desk.ok("alice", "/change CHG-1 submit").await;
    assert!(
        submitted.contains("1 approval from emergency_cab"),
        "{submitted}"
    );
    let cab = desk.refused("carol", "/change CHG-1 approve").await;
    assert!(cab.contains("emergency_cab role"), "{cab}");
    let approved = desk.ok("erin", "/change CHG-1 approve").await;
    assert!(approved.contains("CHG-1 approved (1 of 1"), "{approved}");
    assert!(actions(&pool, 1).await.contains(&"flagged".to_string()));
}

#[sqlx::test]
async fn an_overlap_on_the_same_service_is_flagged_on_submit(pool: PgPool) {
    let desk = desk(pool.clone()).await;
    let first = ready(
        &desk,
        "alice",
        "Upgrade VPN firmware service:vpn",
        &dated("2026-12-01T22:00 2h"),
    )
    .await;
    desk.ok("alice", &format!("/change CHG-{first} submit"))
        .await;
    desk.ok("carol", &format!("/change CHG-{first} approve"))
        .await;
    desk.ok("dave", &format!("/change CHG-{first} approve"))
        .await;

    let second = ready(
        &desk,
        "bob",
        "Renew VPN certificate service:vpn",
        &dated("2026-12-01T23:00 1h"),
    )
    .await;
    let submitted = desk
        .ok("bob", &format!("/change CHG-{second} submit"))
        .await;
    assert!(
        submitted.contains(&format!("Window overlaps CHG-{first} on vpn")),
        "{submitted}"
    );
    let show = desk
        .ok("carol", &format!("/change CHG-{second} show"))
        .await;
    assert!(show.contains("flagged: Window overlaps"), "{show}");

    // Another service, or a window that does not touch it: no flag.
    let third = ready(
        &desk,
        "bob",
        "Email relay patch service:email",
        &dated("2026-12-01T22:30 1h"),
    )
    .await;
    let clean = desk.ok("bob", &format!("/change CHG-{third} submit")).await;
    assert!(!clean.contains("overlaps"), "{clean}");
}

#[sqlx::test]
async fn overlap_can_be_configured_to_refuse(pool: PgPool) {
    let desk = Desk::with_config(pool, cab_config("overlap = \"refuse\"")).await;
    let first = ready(
        &desk,
        "alice",
        "Upgrade VPN firmware service:vpn",
        &dated("2026-12-01T22:00 2h"),
    )
    .await;
    desk.ok("alice", &format!("/change CHG-{first} submit"))
        .await;
    desk.ok("carol", &format!("/change CHG-{first} approve"))
        .await;
    desk.ok("dave", &format!("/change CHG-{first} approve"))
        .await;
    desk.ok("bob", "/change Renew VPN certificate service:vpn")
        .await;
    let refused = desk
        .refused("bob", &dated("/change CHG-2 window 2026-12-01T23:00 1h"))
        .await;
    assert!(refused.contains("overlaps CHG-1"), "{refused}");
}

#[sqlx::test]
async fn a_failed_change_is_rolled_back_or_failed_and_rejections_end_it(pool: PgPool) {
    let desk = desk(pool.clone()).await;
    let number = ready(
        &desk,
        "alice",
        "Migrate mail store service:email",
        &dated("2026-11-25T10:00 4h"),
    )
    .await;
    desk.ok("alice", &format!("/change CHG-{number} submit"))
        .await;
    desk.ok("carol", &format!("/change CHG-{number} approve"))
        .await;
    desk.ok("dave", &format!("/change CHG-{number} approve"))
        .await;
    desk.clock.set(start() + Duration::hours(1));
    desk.ok("bob", &format!("/change CHG-{number} start")).await;
    let finished = desk
        .refused("bob", &format!("/change CHG-{number} start"))
        .await;
    assert!(finished.contains("already under way"), "{finished}");
    let rolled = desk
        .ok(
            "bob",
            &format!("/change CHG-{number} rolled-back restored from snapshot"),
        )
        .await;
    assert!(rolled.contains("rolled back"), "{rolled}");
    desk.refused("bob", &format!("/change CHG-{number} complete"))
        .await;
    assert_eq!(
        actions(&pool, number).await.last().map(String::as_str),
        Some("rolled_back")
    );

    let other = ready(
        &desk,
        "alice",
        "Disable TLS 1.0 service:vpn",
        &dated("2026-12-02T22:00 1h"),
    )
    .await;
    desk.ok("alice", &format!("/change CHG-{other} submit"))
        .await;
    desk.refused("carol", &format!("/change CHG-{other} reject"))
        .await;
    let rejected = desk
        .ok(
            "carol",
            &format!("/change CHG-{other} reject no tested rollback"),
        )
        .await;
    assert!(
        rejected.contains("rejected: no tested rollback"),
        "{rejected}"
    );
    let after = desk
        .refused("dave", &format!("/change CHG-{other} approve"))
        .await;
    assert!(after.contains("is rejected"), "{after}");
}

#[sqlx::test]
async fn a_failed_change_is_then_rolled_back(pool: PgPool) {
    let desk = desk(pool.clone()).await;
    let number = ready(
        &desk,
        "alice",
        "Migrate mail store service:email",
        &dated("2026-11-25T10:00 4h"),
    )
    .await;
    desk.ok("alice", &format!("/change CHG-{number} submit"))
        .await;
    desk.ok("carol", &format!("/change CHG-{number} approve"))
        .await;
    desk.ok("dave", &format!("/change CHG-{number} approve"))
        .await;
    desk.clock.set(start() + Duration::hours(1));
    desk.ok("bob", &format!("/change CHG-{number} start")).await;
    desk.clock.set(start() + Duration::hours(2));
    desk.ok(
        "bob",
        &format!("/change CHG-{number} fail the new store lost its index"),
    )
    .await;
    desk.clock.set(start() + Duration::hours(3));
    let rolled = desk
        .ok(
            "bob",
            &format!("/change CHG-{number} rolled-back restored from snapshot"),
        )
        .await;
    assert!(rolled.contains("rolled back"), "{rolled}");
    assert_eq!(
        actions(&pool, number).await[actions(&pool, number).await.len() - 2..],
        ["failed".to_string(), "rolled_back".to_string()]
    );
    let show = desk.ok("bob", &format!("/change CHG-{number} show")).await;
    assert!(show.contains("Status: rolled_back"), "{show}");
    assert!(
        show.contains(
            "Rollback: the new store lost its index — rolled back: restored from snapshot"
        ),
        "the failure stays on the record: {show}"
    );
    assert!(show.contains("failed → rolled_back"), "{show}");
    let again = desk
        .refused("bob", &format!("/change CHG-{number} rolled-back"))
        .await;
    assert!(again.contains("rolled_back"), "{again}");
    desk.refused("bob", &format!("/change CHG-{number} complete"))
        .await;
}

#[sqlx::test]
async fn the_risk_of_a_change_is_shown_with_its_reason(pool: PgPool) {
    let desk = desk(pool).await;
    desk.ok(
        "alice",
        "/change Renew VPN certificate standard:tls-renewal service:vpn",
    )
    .await;
    let standard = desk.ok("alice", "/change CHG-1 show").await;
    assert!(
        standard.contains("Risk: low (standard change `tls-renewal`: pre-approved)"),
        "{standard}"
    );
    assert!(!standard.contains("likelihood medium"), "{standard}");
    desk.ok("alice", "/change Upgrade VPN firmware service:vpn")
        .await;
    let assessed = desk.ok("alice", "/change CHG-2 show").await;
    assert!(
        assessed.contains("Risk: medium (impact medium, likelihood medium)"),
        "{assessed}"
    );
    desk.ok("alice", "/change CHG-2 risk high").await;
    let stated = desk.ok("alice", "/change CHG-2 show").await;
    assert!(
        stated.contains(
            "Risk: high (set by hand; the matrix gives medium for impact medium, likelihood medium)"
        ),
        "{stated}"
    );
}

#[sqlx::test]
async fn a_standard_change_is_approved_on_submit(pool: PgPool) {
    let desk = desk(pool).await;
    let unknown = desk
        .refused("alice", "/change Renew cert standard:nope")
        .await;
    assert!(unknown.contains("standard:tls-renewal"), "{unknown}");
    let draft = desk
        .ok(
            "alice",
            "/change Renew VPN certificate standard:tls-renewal service:vpn",
        )
        .await;
    assert!(draft.contains("Type: standard"), "{draft}");
    assert!(
        draft.contains("window <start> <duration>"),
        "only the window is missing: {draft}"
    );
    desk.ok("alice", &dated("/change CHG-1 window 2026-11-26T08:00 30m"))
        .await;
    let submitted = desk.ok("alice", "/change CHG-1 submit").await;
    assert!(submitted.contains("submitted and approved"), "{submitted}");
    let decision = desk.refused("carol", "/change CHG-1 approve").await;
    assert!(decision.contains("standard change"), "{decision}");
}

#[sqlx::test]
async fn edits_after_submit_and_ended_windows_are_refused(pool: PgPool) {
    let desk = desk(pool).await;
    let number = ready(
        &desk,
        "alice",
        "Tune VPN MTU service:vpn",
        &dated("2026-12-01T22:00 1h"),
    )
    .await;
    let ended = desk
        .refused(
            "alice",
            &dated(&format!("/change CHG-{number} window 2026-11-24T08:00 1h")),
        )
        .await;
    assert!(ended.contains("already ended"), "{ended}");
    // One that has started but not ended is fine.
    desk.ok(
        "alice",
        &dated(&format!("/change CHG-{number} window 2026-11-25T08:30 1h")),
    )
    .await;
    desk.ok("alice", &format!("/change CHG-{number} submit"))
        .await;
    let frozen = desk
        .refused(
            "alice",
            &format!("/change CHG-{number} plan something else"),
        )
        .await;
    assert!(frozen.contains("only a draft can be edited"), "{frozen}");
    desk.ok("alice", &format!("/change CHG-{number} cancel superseded"))
        .await;
    desk.refused("alice", &format!("/change CHG-{number} cancel"))
        .await;
}

#[sqlx::test]
async fn bad_change_input_is_refused_with_what_would_work(pool: PgPool) {
    let desk = desk(pool).await;
    desk.ok("alice", "/change Upgrade firmware").await;
    for (line, expected) in [
        ("/change", "needs a title"),
        ("/change type:weekly Upgrade", "not a change type"),
        ("/change Upgrade service:nope", "no service `nope`"),
        ("/change CHG-1 window tomorrow 2h", "not a start time"),
        (
            &dated("/change CHG-1 window 2026-12-01T22:00 forever"),
            "`forever` is not a duration",
        ),
        (
            &dated("/change CHG-1 window 2026-12-01T22:00 30s"),
            "at least a minute",
        ),
        ("/change CHG-1 frobnicate", "Try one of"),
        ("/change CHG-9 show", "There is no CHG-9"),
        ("/change INC-1 submit", "not a change"),
        (
            "/change CHG-1 assess impact:high",
            "both an impact and a likelihood",
        ),
        ("/change CHG-1 risk extreme", "not a risk"),
        ("/change CHG-1 start later", "`now`"),
    ] {
        let reason = desk.refused("alice", line).await;
        assert!(reason.contains(expected), "{line}: {reason}");
    }
    let assessed = desk
        .ok(
            "alice",
            "/change CHG-1 assess impact:high likelihood:medium",
        )
        .await;
    assert!(assessed.contains("risk high"), "{assessed}");
}

#[sqlx::test]
async fn reminders_are_posted_once_each_and_overruns_flagged(pool: PgPool) {
    let desk = desk(pool).await;
    let number = ready(
        &desk,
        "alice",
        "Upgrade VPN firmware service:vpn",
        &dated("2026-11-27T09:00 2h"),
    )
    .await;
    desk.ok("alice", &format!("/change CHG-{number} implementer @bob"))
        .await;
    desk.ok("alice", &format!("/change CHG-{number} submit"))
        .await;
    desk.ok("carol", &format!("/change CHG-{number} approve"))
        .await;
    desk.ok("dave", &format!("/change CHG-{number} approve"))
        .await;

    let at = |hours: i64| start() + Duration::hours(hours);
    let texts = |posted: Vec<itsm_bot::commands::notice::Posted>| {
        posted.into_iter().map(|p| p.text).collect::<Vec<_>>()
    };
    assert!(
        texts(sweep(&desk.engine, at(23)).await.unwrap()).is_empty(),
        "more than a day ahead"
    );
    let day = texts(
        sweep(&desk.engine, at(24) + Duration::minutes(1))
            .await
            .unwrap(),
    );
    assert_eq!(day.len(), 1, "{day:?}");
    assert!(
        day[0].contains("starts within a day") && day[0].contains("Implementer: shell:bob"),
        "{day:?}"
    );
    assert!(
        texts(sweep(&desk.engine, at(30)).await.unwrap()).is_empty(),
        "once"
    );
    let hour = texts(
        sweep(&desk.engine, at(47) + Duration::minutes(5))
            .await
            .unwrap(),
    );
    assert!(
        hour.len() == 1 && hour[0].contains("within the hour"),
        "{hour:?}"
    );
    assert!(texts(
        sweep(&desk.engine, at(47) + Duration::minutes(30))
            .await
            .unwrap()
    )
    .is_empty());

    desk.clock.set(at(48));
    desk.ok("bob", &format!("/change CHG-{number} start")).await;
    assert!(
        texts(sweep(&desk.engine, at(49)).await.unwrap()).is_empty(),
        "inside the window"
    );
    let overrun = texts(
        sweep(&desk.engine, at(50) + Duration::minutes(1))
            .await
            .unwrap(),
    );
    assert_eq!(overrun.len(), 2, "its channel and #cab: {overrun:?}");
    assert!(overrun[0].contains("still in progress"), "{overrun:?}");
    assert!(
        texts(sweep(&desk.engine, at(52)).await.unwrap()).is_empty(),
        "flagged once"
    );
}

#[sqlx::test]
async fn the_schedule_lists_today_and_the_week(pool: PgPool) {
    let desk = desk(pool).await;
    let today = ready(
        &desk,
        "alice",
        "Restart VPN gateway service:vpn",
        &dated("2026-11-25T18:00 30m"),
    )
    .await;
    let later = ready(
        &desk,
        "alice",
        "Replace Wi-Fi controller service:wifi",
        &dated("2026-11-29T07:00 3h"),
    )
    .await;
    let far = ready(
        &desk,
        "alice",
        "Retire old mail relay service:email",
        &dated("2026-12-15T07:00 3h"),
    )
    .await;
    let day = desk.ok("bob", "/itsm changes today").await;
    assert!(
        day.contains(&format!("CHG-{today}")) && !day.contains(&format!("CHG-{later}")),
        "{day}"
    );
    let week = desk.ok("bob", "/itsm changes week").await;
    assert!(
        week.contains(&format!("CHG-{later}")) && !week.contains(&format!("CHG-{far}")),
        "{week}"
    );
    let all = desk.ok("bob", "/itsm changes").await;
    assert!(all.contains(&format!("CHG-{far}")), "{all}");
    desk.refused("bob", "/itsm changes fortnight").await;
}

#[sqlx::test]
async fn change_commands_name_the_role_they_need(pool: PgPool) {
    let desk = desk(pool).await;
    let outsider = "slack:U0OUTSIDE";
    let draft = desk.refused(outsider, "/change Upgrade firmware").await;
    assert!(draft.contains("engineer role"), "{draft}");
    desk.ok("alice", "/change Upgrade firmware").await;
    for verb in ["plan x", "submit", "start", "cancel"] {
        let refused = desk
            .refused(outsider, &format!("/change CHG-1 {verb}"))
            .await;
        assert!(refused.contains("engineer role"), "{verb}: {refused}");
    }
    // Anyone may read a change and add to its discussion.
    desk.ok(outsider, "/change CHG-1 show").await;
    desk.ok(
        outsider,
        "/change CHG-1 note the branch office needs a heads-up",
    )
    .await;
}

#[sqlx::test]
async fn the_digest_lists_tomorrows_changes_and_availability(pool: PgPool) {
    let desk = desk(pool).await;
    let number = ready(
        &desk,
        "alice",
        "Patch VPN gateway service:vpn",
        &dated("2026-11-25T20:00 1h"),
    )
    .await;
    desk.ok("alice", &format!("/change CHG-{number} submit"))
        .await;
    let report = itsm_bot::commands::period_report::rolling(
        &desk.engine,
        itsm_bot::domain::report::Period::Day,
        start(),
    )
    .await
    .unwrap();
    let text = itsm_bot::commands::period_report::message(&report).plain_text();
    assert!(text.contains("Changes in the 24 hours after"), "{text}");
    assert!(text.contains(&format!("CHG-{number} submitted")), "{text}");
    assert!(text.contains("vpn: 100.00% (target 99.9%, met"), "{text}");
}

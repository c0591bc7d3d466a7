use sqlx::PgPool;

use crate::helpers::Desk;

/// Slack users hold no engineer role in the default config: they can
/// report and comment, and a refusal names the role they would need.
#[sqlx::test]
async fn reporters_report_and_comment_but_engineers_work_incidents(pool: PgPool) {
    let desk = Desk::new(pool.clone()).await;
    let staff = "slack:U0STAFF01";
    desk.ok(staff, "/incident Cannot print payslips").await;
    desk.ok(staff, "/incident INC-1 note it worked yesterday")
        .await;
    let refusal = desk.refused(staff, "/incident INC-1 ack").await;
    assert!(
        refusal.contains("engineer role") && refusal.contains(staff),
        "{refusal}"
    );
    desk.refused(staff, "/incident INC-1 resolve never mind")
        .await;

    desk.ok("bob", "/incident INC-1 resolve driver reinstalled")
        .await;
    desk.ok(staff, "/incident INC-1 reopen payslips still fail")
        .await;
    let other = desk
        .refused("slack:U0OTHER1", "/incident INC-1 close")
        .await;
    assert!(other.contains("engineer role"), "{other}");
}

/// Roles stored in the database count as well as those in config.
#[sqlx::test]
async fn stored_grants_count(pool: PgPool) {
    let desk = Desk::new(pool.clone()).await;
    desk.ok("alice", "/incident Door badge reader dead").await;
    sqlx::query("INSERT INTO role_grants (user_id, role, granted_by, granted_at) VALUES ('slack:U0ENG0001', 'engineer', 'shell:admin', now())")
        .execute(&pool)
        .await
        .unwrap();
    desk.ok("slack:U0ENG0001", "/incident INC-1 ack").await;
    let whoami = desk.ok("slack:U0ENG0001", "/itsm whoami").await;
    assert!(whoami.contains("reporter, engineer"), "{whoami}");
}

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
    sqlx::query("INSERT INTO role_grants (user_id, role, granted_by, granted_at) VALUES ('slack:U0ENG0001', 'engineer', 'shell:admin', $1)")
        .bind(crate::helpers::start())
        .execute(&pool)
        .await
        .unwrap();
    desk.ok("slack:U0ENG0001", "/incident INC-1 ack").await;
    let whoami = desk.ok("slack:U0ENG0001", "/itsm whoami").await;
    assert!(whoami.contains("reporter, engineer"), "{whoami}");
}

fn admin_config() -> itsm_bot::config::Config {
    let vars = [(
        "ITSM__ROLES__ADMIN".to_string(),
        "[\"shell:root\"]".to_string(),
    )];
    itsm_bot::config::Config::load_with_env(None, vars).unwrap()
}

/// Admins grant and revoke roles from chat; the grant takes effect on the
/// next command, and no one else may hand out roles.
#[sqlx::test]
async fn admins_grant_and_revoke_roles_from_chat(pool: PgPool) {
    let desk = Desk::with_config(pool.clone(), admin_config()).await;
    let staff = "slack:U0STAFF01";
    desk.ok("alice", "/incident Door badge reader dead").await;
    desk.refused(staff, "/incident INC-1 ack").await;

    let not_admin = desk
        .refused("alice", "/itsm grant slack:U0STAFF01 engineer")
        .await;
    assert!(not_admin.contains("admin role"), "{not_admin}");
    let granted = desk
        .ok("root", "/itsm grant slack:U0STAFF01 engineer")
        .await;
    assert!(granted.contains("now has the engineer role"), "{granted}");
    let again = desk
        .ok("root", "/itsm grant slack:U0STAFF01 engineer")
        .await;
    assert!(again.contains("already had"), "{again}");
    desk.ok(staff, "/incident INC-1 ack").await;
    let whoami = desk.ok(staff, "/itsm whoami").await;
    assert!(whoami.contains("engineer"), "{whoami}");
    let by: String = sqlx::query_scalar("SELECT granted_by FROM role_grants WHERE user_id = $1")
        .bind(staff)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(by, "shell:root");

    desk.ok("root", "/itsm revoke slack:U0STAFF01 engineer")
        .await;
    desk.refused(staff, "/incident INC-1 priority P2").await;
    let nothing = desk
        .refused("root", "/itsm revoke slack:U0STAFF01 engineer")
        .await;
    assert!(nothing.contains("nothing to revoke"), "{nothing}");
    // Config grants stay; chat cannot take them away.
    let config = desk.refused("root", "/itsm revoke @alice engineer").await;
    assert!(config.contains("configuration"), "{config}");

    for (line, expected) in [
        ("/itsm grant", "needs a person and a role"),
        ("/itsm grant slack:U0STAFF01 wizard", "not a role"),
        (
            "/itsm grant slack:U0STAFF01 reporter",
            "Everyone is a reporter",
        ),
    ] {
        let reason = desk.refused("root", line).await;
        assert!(reason.contains(expected), "{line}: {reason}");
    }
}

/// Every family of commands refuses someone without its role and names it.
#[sqlx::test]
async fn each_command_family_names_the_role_it_needs(pool: PgPool) {
    let desk = Desk::new(pool.clone()).await;
    let staff = "slack:U0STAFF01";
    desk.ok("alice", "/incident Door badge reader dead").await;
    desk.ok("alice", "/change Replace badge readers").await;
    for (line, role) in [
        ("/incident INC-1 ack", "engineer role"),
        ("/incident INC-1 priority P1", "engineer role"),
        ("/change Replace the door controller", "engineer role"),
        ("/change CHG-1 plan swap the units", "engineer role"),
        ("/change CHG-1 submit", "engineer role"),
        ("/itsm report week", "manager or engineer role"),
        ("/itsm grant slack:U0STAFF01 cab", "admin role"),
    ] {
        let reason = desk.refused(staff, line).await;
        assert!(reason.contains(role), "{line}: {reason}");
    }
    // What every reporter may do.
    desk.ok(staff, "/incident INC-1 note the side door too")
        .await;
    desk.ok(staff, "/change CHG-1 show").await;
    desk.ok(staff, "/itsm changes").await;
    desk.ok(staff, "/itsm whoami").await;
}

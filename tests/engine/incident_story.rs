use chrono::Duration;
use sqlx::PgPool;

use crate::helpers::{timeline_actions, Desk};

#[sqlx::test]
async fn an_incident_from_report_to_close(pool: PgPool) {
    let desk = Desk::new(pool.clone()).await;

    let reply = desk
        .ok("alice", "/incident VPN down in Berlin office P2")
        .await;
    assert!(reply.contains("INC-1"), "{reply}");
    assert!(reply.contains("P2") && reply.contains("new"), "{reply}");

    desk.clock.advance(Duration::minutes(3));
    assert!(desk
        .ok("bob", "/incident INC-1 ack")
        .await
        .contains("INC-1 acknowledged by shell:bob"));
    assert!(desk
        .ok("bob", "/incident inc-1 assign @bob")
        .await
        .contains("assigned to shell:bob"));
    assert!(desk
        .ok("bob", "/incident INC-1 note restarted the concentrator")
        .await
        .contains("Note added"));
    desk.clock.advance(Duration::minutes(40));
    assert!(desk
        .ok("bob", "/incident INC-1 resolve firmware rollback")
        .await
        .contains("resolved: firmware rollback"));
    assert!(desk
        .ok("bob", "/incident INC-1 close")
        .await
        .contains("INC-1 closed"));

    let show = desk.ok("carol", "/incident INC-1 show").await;
    assert!(show.contains("Timeline (6 events)"), "{show}");
    for expected in [
        "shell:alice  created: P2 · VPN down in Berlin office",
        "09:03 UTC  shell:bob  acknowledged new → acknowledged",
        "shell:bob  assigned shell:bob",
        "note: restarted the concentrator",
        "09:43 UTC  shell:bob  resolved acknowledged → resolved: firmware rollback",
        "closed resolved → closed",
        "Resolution: firmware rollback",
        "Status: closed",
    ] {
        assert!(show.contains(expected), "missing {expected:?} in\n{show}");
    }
    assert_eq!(
        timeline_actions(&pool, 1).await,
        [
            "created",
            "acknowledged",
            "assigned",
            "note",
            "resolved",
            "closed"
        ]
    );

    let refusal = desk.refused("bob", "/incident INC-1 ack").await;
    assert!(refusal.contains("INC-1 is closed"), "{refusal}");
    assert!(refusal.contains("reopen"), "{refusal}");
}

#[sqlx::test]
async fn hold_resume_reopen_and_reprioritise(pool: PgPool) {
    let desk = Desk::new(pool.clone()).await;
    let reply = desk
        .ok(
            "alice",
            "/incident Printer on 3rd floor jams impact:low urgency:high",
        )
        .await;
    assert!(
        reply.contains("Priority P3 from impact low × urgency high"),
        "{reply}"
    );

    desk.ok("bob", "/incident INC-1 hold waiting for the toner delivery")
        .await;
    let show = desk.ok("bob", "/incident INC-1").await;
    assert!(
        show.contains("Status: on_hold")
            && show.contains("On hold: waiting for the toner delivery"),
        "{show}"
    );
    assert!(desk
        .refused("bob", "/incident INC-1 ack")
        .await
        .contains("resume it first"));
    assert!(desk
        .ok("bob", "/incident INC-1 resume")
        .await
        .contains("it is new again"));
    assert!(desk
        .ok("bob", "/incident INC-1 priority P1")
        .await
        .contains("P3 → P1"));
    assert!(desk
        .refused("bob", "/incident INC-1 priority P1")
        .await
        .contains("already P1"));
    desk.ok("bob", "/incident INC-1 resolve replaced the fuser")
        .await;
    assert!(desk
        .refused("bob", "/incident INC-1 resolve again")
        .await
        .contains("cannot be resolved again"));
    desk.ok("bob", "/incident INC-1 close").await;
    desk.clock.advance(Duration::days(2));
    assert!(desk
        .ok("alice", "/incident INC-1 reopen jams again on tray 2")
        .await
        .contains("reopened (new)"));
    desk.ok("bob", "/incident INC-1 resolve cleaned tray 2")
        .await;
    desk.ok("bob", "/incident INC-1 close").await;
    desk.clock.advance(Duration::days(8));
    let late = desk
        .refused("alice", "/incident INC-1 reopen still jamming")
        .await;
    assert!(
        late.contains("longer than the 7d in which it can be reopened"),
        "{late}"
    );

    assert_eq!(
        timeline_actions(&pool, 1).await,
        [
            "created",
            "held",
            "resumed",
            "priority_changed",
            "resolved",
            "closed",
            "reopened",
            "resolved",
            "closed"
        ]
    );
}

#[sqlx::test]
async fn services_come_from_the_catalog(pool: PgPool) {
    let desk = Desk::new(pool).await;
    let reply = desk
        .ok("alice", "/incident Tunnel drops every hour service:vpn")
        .await;
    assert!(reply.contains("Service: vpn"), "{reply}");
    let refusal = desk
        .refused("alice", "/incident Tunnel drops service:vnp")
        .await;
    assert!(
        refusal.contains("no service `vnp`") && refusal.contains("service:vpn"),
        "{refusal}"
    );
    let refusal = desk
        .refused("alice", "/incident Database slow service:database")
        .await;
    assert!(
        refusal.contains("Services in the catalog: email, vpn, wifi"),
        "{refusal}"
    );
}

#[sqlx::test]
async fn the_timeline_is_append_only(pool: PgPool) {
    let desk = Desk::new(pool.clone()).await;
    desk.ok("alice", "/incident VPN down").await;
    let update = sqlx::query("UPDATE ticket_events SET body = 'rewritten'")
        .execute(&pool)
        .await;
    assert!(update.unwrap_err().to_string().contains("append-only"));
    let delete = sqlx::query("DELETE FROM ticket_events")
        .execute(&pool)
        .await;
    assert!(delete.unwrap_err().to_string().contains("append-only"));
}

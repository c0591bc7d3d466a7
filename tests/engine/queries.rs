use sqlx::PgPool;

use crate::helpers::Desk;

#[sqlx::test]
async fn open_lists_most_urgent_first_and_filters(pool: PgPool) {
    let desk = Desk::new(pool).await;
    desk.ok("alice", "/incident Printer jams P4").await;
    desk.ok("alice", "/incident Core switch down P1").await;
    desk.ok("alice", "/incident Mail slow P3").await;
    desk.ok("alice", "/incident VPN flaky P2").await;
    desk.ok("bob", "/incident INC-3 resolve cache flushed")
        .await;

    let open = desk.ok("bob", "/itsm open").await;
    assert!(open.contains("Open incidents (3)"), "{open}");
    let order: Vec<usize> = ["INC-2 P1", "INC-4 P2", "INC-1 P4"]
        .iter()
        .map(|needle| {
            open.find(needle)
                .unwrap_or_else(|| panic!("{needle} missing in {open}"))
        })
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{open}");
    assert!(
        !open.contains("INC-3"),
        "resolved incidents are not open: {open}"
    );

    let urgent = desk.ok("bob", "/itsm open P1 P2").await;
    assert!(
        urgent.contains("Open P1/P2 incidents (2)") && !urgent.contains("INC-1 "),
        "{urgent}"
    );
}

#[sqlx::test]
async fn mine_shows_what_i_work_on_and_what_i_reported(pool: PgPool) {
    let desk = Desk::new(pool).await;
    desk.ok("alice", "/incident Laptop will not boot").await;
    desk.ok("carol", "/incident Projector flickers").await;
    desk.ok("bob", "/incident INC-2 assign @alice").await;

    let mine = desk.ok("alice", "/itsm mine").await;
    assert!(
        mine.contains("Assigned to you (1)") && mine.contains("INC-2"),
        "{mine}"
    );
    assert!(
        mine.contains("Reported by you (1)") && mine.contains("INC-1"),
        "{mine}"
    );
    let none = desk.ok("dave", "/itsm mine").await;
    assert!(
        none.contains("Assigned to you: none.") && none.contains("Reported by you: none."),
        "{none}"
    );
}

#[sqlx::test]
async fn open_lists_are_bounded(pool: PgPool) {
    let desk = Desk::new(pool).await;
    for n in 0..30 {
        desk.ok("alice", &format!("/incident Kiosk {n} frozen"))
            .await;
    }
    let open = desk.ok("bob", "/itsm open").await;
    assert!(
        open.contains("Open incidents (30)") && open.contains("… and 5 more"),
        "{open}"
    );
}

#[sqlx::test]
async fn help_and_whoami_answer(pool: PgPool) {
    let desk = Desk::new(pool).await;
    assert!(desk
        .ok("alice", "/itsm help")
        .await
        .contains("/incident INC-n ack"));
    assert!(desk
        .ok("alice", "/itsm help incident")
        .await
        .contains("Lifecycle"));
    assert!(desk
        .refused("alice", "/itsm help cooking")
        .await
        .contains("Topics: incident"));
    let whoami = desk.ok("slack:U024BE7LH", "/itsm whoami").await;
    assert!(
        whoami.contains("You are slack:U024BE7LH") && whoami.contains("Roles: reporter"),
        "{whoami}"
    );
}

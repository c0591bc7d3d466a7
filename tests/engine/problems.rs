//! Problem management: from the incidents a cause keeps producing to a
//! known error whose workaround is offered on the next incident like them.

use chrono::Duration;
use sqlx::PgPool;

use crate::helpers::{dated, timeline_actions, Desk};

/// A fingerprint of the problem tables, which the shared snapshot leaves out.
async fn problem_snapshot(pool: &PgPool) -> Vec<Option<String>> {
    let mut out = Vec::new();
    for table in ["problems", "problem_incidents"] {
        let query = format!("SELECT md5(string_agg(row_to_json(t)::text, ',' ORDER BY row_to_json(t)::text)) FROM {table} t");
        out.push(sqlx::query_scalar(&query).fetch_one(pool).await.unwrap());
    }
    out
}

/// Expects `text` refused with nothing changed, problem tables included.
async fn refused(desk: &Desk, who: &str, text: &str) -> String {
    let before = problem_snapshot(&desk.pool).await;
    let reason = desk.refused(who, text).await;
    assert_eq!(
        problem_snapshot(&desk.pool).await,
        before,
        "a refused command changed a problem: {text}"
    );
    reason
}

/// The actions on PRB-`number`'s timeline, oldest first.
async fn problem_timeline(pool: &PgPool, number: i64) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT e.action FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id
         WHERE t.kind = 'problem' AND t.number = $1 ORDER BY e.id",
    )
    .bind(number)
    .fetch_all(pool)
    .await
    .unwrap()
}

#[sqlx::test]
async fn three_incidents_become_a_known_error_offered_on_the_next_one(pool: PgPool) {
    let desk = Desk::new(pool.clone()).await;
    for title in [
        "VPN drops every hour",
        "VPN connection drops in Berlin",
        "Home office VPN keeps dropping",
    ] {
        desk.ok("alice", &format!("/incident {title} service:vpn"))
            .await;
    }

    let recorded = desk
        .ok(
            "bob",
            "/problem VPN drops connections service:vpn\nSeen since the firmware upgrade.",
        )
        .await;
    assert!(
        recorded.contains("PRB-1 recorded: VPN drops connections"),
        "{recorded}"
    );
    assert!(recorded.contains("Status: new"), "{recorded}");

    let linked = desk
        .ok("bob", "/problem PRB-1 link INC-1 INC-2 INC-3")
        .await;
    assert!(
        linked.contains("INC-1, INC-2, INC-3 linked to PRB-1"),
        "{linked}"
    );
    for incident in 1..=3 {
        assert_eq!(
            timeline_actions(&pool, incident)
                .await
                .last()
                .map(String::as_str),
            Some("linked"),
            "INC-{incident}"
        );
    }

    desk.clock.advance(Duration::hours(2));
    let rca = desk
        .ok(
            "bob",
            "/problem PRB-1 rca the concentrator drops idle sessions after the firmware upgrade",
        )
        .await;
    assert!(rca.contains("Root cause of PRB-1 recorded"), "{rca}");
    assert!(rca.contains("PRB-1 investigating"), "{rca}");
    desk.ok(
        "bob",
        "/problem PRB-1 workaround reconnect with the backup profile",
    )
    .await;
    let known = desk.ok("bob", "/problem PRB-1 known-error").await;
    assert!(known.contains("PRB-1 is a known error"), "{known}");

    // A new incident that looks like it is offered the workaround…
    let report = desk
        .ok("carol", "/incident VPN drops for remote staff")
        .await;
    assert!(
        report.contains("Known error PRB-1 may match: VPN drops connections. Workaround: reconnect with the backup profile"),
        "{report}"
    );
    // …one that shares a single common word is not, nor an unrelated one.
    let vpn_only = desk.ok("carol", "/incident VPN certificate warning").await;
    assert!(!vpn_only.contains("Known error"), "{vpn_only}");
    let unrelated = desk
        .ok("carol", "/incident Printer jams on 3rd floor")
        .await;
    assert!(!unrelated.contains("Known error"), "{unrelated}");

    // Linked from the incident's side, both timelines record it.
    let from_incident = desk.ok("bob", "/incident INC-4 problem prb-1").await;
    assert!(
        from_incident.contains("INC-4 linked to problem PRB-1: VPN drops connections")
            && from_incident.contains("Workaround: reconnect with the backup profile"),
        "{from_incident}"
    );
    assert_eq!(timeline_actions(&pool, 4).await, ["created", "linked"]);
    let again = refused(&desk, "bob", "/problem PRB-1 link INC-4").await;
    assert!(
        again.contains("INC-4 is already linked to PRB-1"),
        "{again}"
    );

    let show = desk.ok("slack:U0STAFF01", "/problem PRB-1 show").await;
    for expected in [
        "PRB-1 · VPN drops connections",
        "Status: known_error · Service: vpn",
        "Seen since the firmware upgrade.",
        "Root cause: the concentrator drops idle sessions after the firmware upgrade",
        "Workaround: reconnect with the backup profile",
        "Fix: no change named yet",
        "Linked incidents (4, 4 open)",
        "INC-1 P3 new — VPN drops every hour",
        "INC-4 P3 new — VPN drops for remote staff",
        &dated("Known error since: 2026-11-25 11:00 UTC"),
        "Timeline (9 events)",
        "shell:bob  linked INC-2",
        "investigating new → investigating",
        "known_error investigating → known_error",
    ] {
        assert!(show.contains(expected), "missing {expected:?} in\n{show}");
    }
    assert_eq!(
        problem_timeline(&pool, 1).await,
        [
            "created",
            "linked",
            "linked",
            "linked",
            "investigating",
            "root_cause",
            "workaround",
            "known_error",
            "linked",
        ]
    );
}

#[sqlx::test]
async fn search_finds_titles_root_causes_and_workarounds_known_errors_first(pool: PgPool) {
    let desk = Desk::new(pool.clone()).await;
    desk.ok("bob", "/problem Mail delivery delayed").await;
    desk.ok("bob", "/problem PRB-1 rca the spam filter queue overflows")
        .await;
    desk.ok("bob", "/problem Printer queue stuck").await;
    desk.ok("bob", "/problem PRB-2 workaround restart the print spooler")
        .await;
    desk.ok("bob", "/problem PRB-2 known-error").await;
    desk.ok("bob", "/problem Wifi drops in meeting rooms").await;

    let queue = desk.ok("slack:U0STAFF01", "/problem search queues").await;
    let printer =
        queue.find("PRB-2 known_error — Printer queue stuck Workaround: restart the print spooler");
    let mail = queue.find("PRB-1 investigating — Mail delivery delayed");
    assert!(
        matches!((printer, mail), (Some(p), Some(m)) if p < m),
        "known errors come first, with their workaround:\n{queue}"
    );
    assert!(!queue.contains("PRB-3"), "{queue}");

    let spooler = desk.ok("alice", "/problem search spooler").await;
    assert!(
        spooler.contains("PRB-2") && !spooler.contains("PRB-1"),
        "{spooler}"
    );
    let none = desk
        .ok("alice", "/itsm problem search coffee machine")
        .await;
    assert!(
        none.contains("No problem mentions “coffee machine”"),
        "{none}"
    );
}

#[sqlx::test]
async fn resolving_a_problem_offers_to_resolve_its_open_incidents(pool: PgPool) {
    let desk = Desk::new(pool.clone()).await;
    for title in [
        "Badge reader dead",
        "Badge reader offline",
        "Door badge fails",
    ] {
        desk.ok("slack:U0STAFF01", &format!("/incident {title}"))
            .await;
    }
    desk.ok("bob", "/incident INC-3 resolve power cycled").await;
    desk.ok("bob", "/problem Badge readers lose power").await;
    desk.ok("bob", "/problem PRB-1 link INC-1 INC-2 INC-3")
        .await;

    let early = refused(&desk, "bob", "/problem PRB-1 resolve-incidents").await;
    assert!(early.contains("Resolve it first"), "{early}");

    let resolved = desk
        .say("bob", "/problem PRB-1 resolve new power supplies")
        .await;
    let text = resolved.message.plain_text();
    assert!(
        text.contains("PRB-1 resolved: new power supplies"),
        "{text}"
    );
    assert!(text.contains("Linked incidents still open (2)"), "{text}");
    assert!(text.contains("INC-1 P3 new — Badge reader dead"), "{text}");
    assert!(
        !text.contains("INC-3 P3"),
        "INC-3 is resolved already:\n{text}"
    );
    assert!(
        text.contains("`/problem PRB-1 resolve-incidents` resolves them all"),
        "{text}"
    );
    let button = resolved.message.blocks.iter().any(|block| {
        matches!(block, itsm_bot::commands::reply::Block::Actions(buttons)
            if buttons.iter().any(|b| b.action == itsm_bot::commands::buttons::ButtonAction::ResolveProblemIncidents("PRB-1".parse().unwrap())))
    });
    assert!(button, "the reply offers a button");

    let staff = refused(&desk, "slack:U0STAFF01", "/problem PRB-1 resolve-incidents").await;
    assert!(staff.contains("engineer role"), "{staff}");

    let done = desk.ok("bob", "/problem PRB-1 resolve-incidents").await;
    assert!(
        done.contains("Resolved 2 incidents linked to PRB-1"),
        "{done}"
    );
    let show = desk.ok("bob", "/incident INC-2 show").await;
    assert!(
        show.contains("Resolution: Resolved with problem PRB-1: Badge readers lose power"),
        "{show}"
    );
    let twice = refused(&desk, "bob", "/problem PRB-1 resolve-incidents").await;
    assert!(twice.contains("nothing to resolve"), "{twice}");

    desk.ok("bob", "/problem PRB-1 close").await;
    assert_eq!(
        problem_timeline(&pool, 1).await,
        ["created", "linked", "linked", "linked", "resolved", "closed"]
    );
}

#[sqlx::test]
async fn a_fix_must_name_an_existing_change(pool: PgPool) {
    let desk = Desk::new(pool.clone()).await;
    desk.ok("bob", "/problem Certificates expire unnoticed")
        .await;
    let unknown = refused(&desk, "bob", "/problem PRB-1 fix CHG-7").await;
    assert!(unknown.contains("There is no CHG-7"), "{unknown}");

    // Changes are drafted by change management; a row of kind 'change'
    // stands in for one here.
    sqlx::query(
        "INSERT INTO tickets (kind, number, title, status, reporter, origin_platform, origin_channel, created_at, updated_at)
         VALUES ('change', 7, 'Automate certificate renewal', 'draft', 'shell:bob', 'shell', 'ops', $1, $1)",
    )
    .bind(crate::helpers::start())
    .execute(&pool)
    .await
    .unwrap();
    let fixed = desk.ok("bob", "/problem PRB-1 fix chg-7").await;
    assert!(
        fixed.contains("PRB-1 will be fixed by CHG-7 draft — Automate certificate renewal"),
        "{fixed}"
    );
    let show = desk.ok("alice", "/problem PRB-1").await;
    assert!(
        show.contains("Fix: CHG-7 draft — Automate certificate renewal")
            && show.contains("fix_linked CHG-7"),
        "{show}"
    );
    let same = refused(&desk, "bob", "/problem PRB-1 fix CHG-7").await;
    assert!(same.contains("already has this fix"), "{same}");
}

#[sqlx::test]
async fn problems_are_worked_by_engineers_and_read_by_everyone(pool: PgPool) {
    let desk = Desk::new(pool.clone()).await;
    let staff = "slack:U0STAFF01";
    desk.ok(staff, "/incident Laptop will not boot").await;

    let record = refused(&desk, staff, "/problem Laptops fail to boot").await;
    assert!(
        record.contains("engineer role") && record.contains(staff),
        "{record}"
    );
    desk.ok("bob", "/problem Laptops fail to boot").await;
    for line in [
        "/problem PRB-1 link INC-1",
        "/incident INC-1 problem PRB-1",
        "/problem PRB-1 rca BIOS update",
        "/problem PRB-1 workaround boot twice",
        "/problem PRB-1 known-error",
        "/problem PRB-1 fix CHG-1",
        "/problem PRB-1 note same here",
        "/problem PRB-1 resolve",
        "/problem PRB-1 close",
    ] {
        let refusal = refused(&desk, staff, line).await;
        assert!(refusal.contains("engineer role"), "{line}: {refusal}");
    }
    desk.ok(staff, "/problem PRB-1 show").await;
    desk.ok(staff, "/problem search laptops").await;
}

#[sqlx::test]
async fn illegal_transitions_are_refused_and_change_nothing(pool: PgPool) {
    let desk = Desk::new(pool.clone()).await;
    desk.ok("alice", "/incident Shared drive slow").await;
    desk.ok("bob", "/problem File server overloaded").await;

    let no_workaround = refused(&desk, "bob", "/problem PRB-1 known-error").await;
    assert!(
        no_workaround.contains("PRB-1 has no workaround yet")
            && no_workaround.contains("/problem PRB-1 workaround <text>"),
        "{no_workaround}"
    );
    let close = refused(&desk, "bob", "/problem PRB-1 close").await;
    assert!(
        close.contains("PRB-1 is new, so it cannot be closed; resolve it first"),
        "{close}"
    );
    let missing = refused(&desk, "bob", "/problem PRB-9 rca disk full").await;
    assert!(missing.contains("There is no PRB-9"), "{missing}");
    let no_incident = refused(&desk, "bob", "/problem PRB-1 link INC-1 INC-5").await;
    assert!(no_incident.contains("There is no INC-5"), "{no_incident}");
    let bad_verb = refused(&desk, "bob", "/problem PRB-1 frobnicate").await;
    assert!(bad_verb.contains("Try one of"), "{bad_verb}");

    desk.ok("bob", "/problem PRB-1 workaround use the mirror")
        .await;
    desk.ok("bob", "/problem PRB-1 known-error").await;
    let twice = refused(&desk, "bob", "/problem PRB-1 known-error").await;
    assert!(twice.contains("PRB-1 is known_error"), "{twice}");
    desk.ok("bob", "/problem PRB-1 resolve").await;
    let rca = refused(&desk, "bob", "/problem PRB-1 rca too late").await;
    assert!(
        rca.contains("PRB-1 is resolved") && rca.contains("note"),
        "{rca}"
    );
    desk.ok("bob", "/problem PRB-1 close").await;
    let note = refused(&desk, "bob", "/problem PRB-1 note after all").await;
    assert!(note.contains("closed problems are read-only"), "{note}");
    let link = refused(&desk, "bob", "/incident INC-1 problem PRB-1").await;
    assert!(link.contains("PRB-1 is closed"), "{link}");
    assert_eq!(timeline_actions(&pool, 1).await, ["created"]);
}

#[sqlx::test]
async fn help_explains_problems(pool: PgPool) {
    let desk = Desk::new(pool).await;
    assert!(desk
        .ok("alice", "/itsm help")
        .await
        .contains("/problem PRB-n link INC-m"));
    let topic = desk.ok("alice", "/itsm help problem").await;
    assert!(
        topic.contains("new → investigating → known_error → resolved → closed"),
        "{topic}"
    );
}

//! The knowledge base: articles drafted, written, published and retired;
//! drafted from a resolution or a known error's workaround; read by
//! everyone once published; and every bad input refused with nothing
//! changed.

use sqlx::PgPool;

use crate::helpers::Desk;

/// A reporter only: the default config makes every shell user an engineer.
const REPORTER: &str = "slack:U0REPORT1";

async fn kb_timeline(pool: &PgPool, number: i64) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT e.action FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id
         WHERE t.kind = 'kb' AND t.number = $1 ORDER BY e.id",
    )
    .bind(number)
    .fetch_all(pool)
    .await
    .unwrap()
}

#[sqlx::test]
async fn an_article_is_drafted_written_published_and_retired(pool: PgPool) {
    let desk = Desk::new(pool.clone()).await;
    let drafted = desk.ok("bob", "/kb Printer on floor 3 jams").await;
    assert!(
        drafted.contains("KB-1 drafted: Printer on floor 3 jams"),
        "{drafted}"
    );

    // Nobody but engineers sees a draft, and it cannot be published empty.
    let hidden = desk.refused(REPORTER, "/kb KB-1 show").await;
    assert!(hidden.contains("There is no KB-1"), "{hidden}");
    let empty = desk.refused("bob", "/kb KB-1 publish").await;
    assert!(empty.contains("/kb KB-1 body <text>"), "{empty}");

    let written = desk
        .ok(
            "bob",
            "/kb kb-1 body Open tray 2, pull the green lever, close it again.",
        )
        .await;
    assert!(written.contains("KB-1 body written (draft)"), "{written}");
    let published = desk.ok("bob", "/kb KB-1 publish").await;
    assert!(published.contains("KB-1 published"), "{published}");

    let shown = desk.ok(REPORTER, "/kb KB-1 show").await;
    assert!(
        shown.contains("green lever") && shown.contains("Status: published"),
        "{shown}"
    );
    let found = desk.ok(REPORTER, "/kb search printer jams").await;
    assert!(
        found.contains("KB-1 [published] Printer on floor 3 jams"),
        "{found}"
    );
    let latest = desk.ok(REPORTER, "/kb").await;
    assert!(latest.contains("KB-1"), "{latest}");
    // A typo still finds it, through trigram similarity of the title.
    let typo = desk.ok(REPORTER, "/kb search printr").await;
    assert!(typo.contains("KB-1"), "{typo}");
    let typo = desk.ok(REPORTER, "/kb search priner paper").await;
    assert!(typo.contains("KB-1"), "{typo}");

    // Reporters read; they do not write.
    let role = desk.refused(REPORTER, "/kb KB-1 retire").await;
    assert!(role.contains("engineer"), "{role}");
    let role = desk.refused(REPORTER, "/kb Something new").await;
    assert!(role.contains("engineer"), "{role}");

    desk.ok("bob", "/kb KB-1 retire").await;
    let gone = desk.ok(REPORTER, "/kb search printer").await;
    assert!(gone.contains("No article matches"), "{gone}");
    assert_eq!(
        kb_timeline(&pool, 1).await,
        ["created", "edited", "published", "retired"]
    );
    for again in [
        "/kb KB-1 retire",
        "/kb KB-1 publish",
        "/kb KB-1 body new text",
    ] {
        let reason = desk.refused("bob", again).await;
        assert!(reason.contains("retired"), "{again}: {reason}");
    }
}

#[sqlx::test]
async fn articles_are_drafted_from_a_resolution_and_a_workaround(pool: PgPool) {
    let desk = Desk::new(pool.clone()).await;
    desk.ok("alice", "/incident Outlook keeps asking for the password")
        .await;
    let open = desk.refused("bob", "/kb from INC-1").await;
    assert!(open.contains("not resolved yet"), "{open}");
    desk.ok(
        "bob",
        "/incident INC-1 resolve cleared the cached credentials",
    )
    .await;
    let from_incident = desk.ok("bob", "/kb from inc-1").await;
    assert!(
        from_incident.contains("KB-1: Outlook keeps asking for the password"),
        "{from_incident}"
    );
    assert!(
        from_incident.contains("Resolution (from INC-1): cleared the cached credentials"),
        "{from_incident}"
    );
    let twice = desk.refused("bob", "/kb from INC-1").await;
    assert!(
        twice.contains("KB-1 was already drafted from INC-1"),
        "{twice}"
    );

    desk.ok("bob", "/problem VPN drops at home service:vpn")
        .await;
    let none = desk.refused("bob", "/kb from PRB-1").await;
    assert!(none.contains("/problem PRB-1 workaround <text>"), "{none}");
    desk.ok(
        "bob",
        "/problem PRB-1 workaround reconnect with the backup gateway",
    )
    .await;
    let from_problem = desk.ok("bob", "/kb from PRB-1").await;
    assert!(
        from_problem.contains("Workaround (from PRB-1): reconnect with the backup gateway"),
        "{from_problem}"
    );
    let shown = desk.ok("bob", "/kb KB-2").await;
    assert!(shown.contains("From: PRB-1"), "{shown}");
}

#[sqlx::test]
async fn bad_kb_commands_are_refused_with_what_would_work(pool: PgPool) {
    let desk = Desk::new(pool.clone()).await;
    desk.ok("bob", "/kb VPN how-to").await;
    for (text, expected) in [
        ("/kb KB-9 show", "There is no KB-9"),
        ("/kb KB-9 publish", "There is no KB-9"),
        ("/kb KB-x show", "not a ticket reference"),
        ("/kb INC-1 show", "INC-1 is not an article"),
        ("/kb KB-1 frobnicate", "Try one of"),
        ("/kb KB-1 body", "body"),
        ("/kb KB-1 publish now", "takes nothing after it"),
        ("/kb search", "needs words"),
        ("/kb search \"", "no words to search for"),
        ("/kb search - :", "no words to search for"),
        ("/kb from", "one incident or problem"),
        ("/kb from CHG-1", "not from CHG-1"),
        ("/kb from INC-7", "There is no INC-7"),
        ("/kb from PRB-7", "There is no PRB-7"),
        ("/kb from INC-1 INC-2", "one incident or problem"),
    ] {
        let reason = desk.refused("bob", text).await;
        assert!(reason.contains(expected), "{text}: {reason}");
    }
    let long = format!("/kb search {}", "vpn ".repeat(60));
    let reason = desk.refused("bob", &long).await;
    assert!(reason.contains("200"), "{reason}");
    desk.ok("bob", "/kb KB-1 body x").await;
    let reason = desk.refused("bob", "/kb KB-1 body x").await;
    assert!(reason.contains("nothing changed"), "{reason}");
}

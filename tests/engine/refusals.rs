//! Property: whatever people type, a refused command changes nothing.

use itsm_bot::commands::reply::Outcome;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use sqlx::PgPool;

use crate::helpers::{inbound, snapshot, Desk};

/// Lines that are mostly near misses of real commands, with arbitrary text.
fn lines() -> impl Strategy<Value = String> {
    let prefix = proptest::sample::select(vec![
        "/incident ",
        "/incident INC-1 ",
        "/incident INC-2 ",
        "/incident inc-1 assign ",
        "/incident INC-1 priority ",
        "/itsm ",
        "/itsm open ",
        "/change ",
        "",
    ]);
    let verb = proptest::sample::select(vec![
        "",
        "ack",
        "close",
        "resume",
        "reopen",
        "resolve",
        "hold",
        "note",
        "P1",
        "P9",
        "@",
        "show extra",
        "service:nope",
    ]);
    (prefix, verb, "\\PC{0,40}").prop_map(|(prefix, verb, tail)| format!("{prefix}{verb} {tail}"))
}

#[sqlx::test]
async fn refused_input_leaves_the_database_unchanged(pool: PgPool) {
    let desk = Desk::new(pool.clone()).await;
    desk.ok("alice", "/incident VPN down P2").await;
    desk.ok("alice", "/incident INC-1 resolve done").await;
    desk.ok("alice", "/incident INC-1 close").await;

    let mut runner = TestRunner::new(ProptestConfig::with_cases(300));
    let strategy = lines();
    let mut refused = 0;
    for _ in 0..300 {
        let line = strategy.new_tree(&mut runner).unwrap().current();
        let before = snapshot(&pool).await;
        let reply = desk.engine.handle(&inbound("slack:U0STAFF01", &line)).await;
        assert_ne!(
            reply.outcome,
            Outcome::Unavailable,
            "{line:?}: {}",
            reply.message.plain_text()
        );
        if reply.outcome == Outcome::Refused {
            refused += 1;
            assert_eq!(
                snapshot(&pool).await,
                before,
                "refused {line:?} changed the database"
            );
            assert!(!reply.message.plain_text().trim().is_empty());
        }
    }
    assert!(
        refused > 100,
        "the generator should mostly produce refusals ({refused})"
    );
}

#[sqlx::test]
async fn odd_unicode_is_stored_faithfully_or_refused(pool: PgPool) {
    let desk = Desk::new(pool.clone()).await;
    let reply = desk
        .ok("alice", "/incident Drucker 🖨️ kaputt — Größe ﷽ P3")
        .await;
    assert!(reply.contains("Drucker 🖨️ kaputt — Größe ﷽"), "{reply}");
    desk.refused("alice", "/incident bad\u{0}byte").await;
    desk.refused("alice", "/incident evil \u{202E}gnp.exe")
        .await;
    desk.refused(
        "alice",
        &format!("/incident INC-1 note {}", "ü".repeat(4_000)),
    )
    .await;
}

use itsm_bot::commands::reply::Outcome;
use sqlx::PgPool;

use crate::helpers::{inbound, timeline_actions, Desk};

/// Two engineers press the same button at the same moment: one wins, the
/// other is told it is already done, and the timeline has one entry.
#[sqlx::test]
async fn simultaneous_acks_and_resolves_make_one_change(pool: PgPool) {
    let desk = Desk::new(pool.clone()).await;
    for round in 1..=15_i64 {
        desk.ok("alice", &format!("/incident Outage number {round}"))
            .await;
        let reference = format!("INC-{round}");

        let bob = inbound("bob", &format!("/incident {reference} ack"));
        let carol = inbound("carol", &format!("/incident {reference} ack"));
        let (a, b) = tokio::join!(desk.engine.handle(&bob), desk.engine.handle(&carol));
        let mut outcomes = [a.outcome, b.outcome];
        outcomes.sort_by_key(|o| *o != Outcome::Done);
        assert_eq!(outcomes, [Outcome::Done, Outcome::Refused], "round {round}");
        let loser = if a.outcome == Outcome::Refused {
            &a
        } else {
            &b
        };
        assert!(loser.message.plain_text().contains("already acknowledged"));

        let bob = inbound(
            "bob",
            &format!("/incident {reference} resolve restarted it"),
        );
        let carol = inbound(
            "carol",
            &format!("/incident {reference} resolve rebooted it"),
        );
        let (a, b) = tokio::join!(desk.engine.handle(&bob), desk.engine.handle(&carol));
        assert_eq!(
            [a.outcome, b.outcome]
                .iter()
                .filter(|o| **o == Outcome::Done)
                .count(),
            1,
            "round {round}"
        );
        assert_eq!(
            timeline_actions(&pool, round).await,
            ["created", "acknowledged", "resolved"],
            "round {round}"
        );
    }
}

/// Many people reporting at once each get their own number.
#[sqlx::test]
async fn concurrent_reports_get_distinct_numbers(pool: PgPool) {
    let desk = Desk::new(pool.clone()).await;
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..40 {
        let engine = desk.engine.clone();
        tasks.spawn(async move {
            engine
                .handle(&inbound(
                    &format!("user{n}"),
                    &format!("/incident Laptop {n} broken"),
                ))
                .await
        });
    }
    let mut references = Vec::new();
    while let Some(reply) = tasks.join_next().await {
        let reply = reply.unwrap();
        assert_eq!(reply.outcome, Outcome::Done);
        references.push(reply.ticket.unwrap().number);
    }
    references.sort_unstable();
    assert_eq!(references, (1..=40).collect::<Vec<i64>>());
}

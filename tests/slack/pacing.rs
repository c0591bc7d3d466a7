//! The outbox under Slack's documented limits (issue 25), against the
//! strict fake: a burst of cards into one channel earns no 429, reaches the
//! channel in a handful of posts, and loses no ticket.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::Value;
use sqlx::PgPool;
use tokio::time::Instant;

use crate::harness::{Bot, CHANNEL, STAFF};

const BURST: usize = 100;

#[sqlx::test]
async fn a_burst_of_cards_becomes_a_summary_without_a_429(pool: PgPool) {
    let bot = Bot::start(pool, "http").await;
    let started = Instant::now();
    for n in 0..BURST {
        let (status, reply) = bot
            .slash(
                STAFF,
                "/incident",
                &format!("Switch port {n} down P2"),
                &format!("burst-{n}"),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{reply}");
    }
    assert_eq!(
        bot.count("SELECT count(*) FROM incidents").await,
        BURST as i64
    );

    // Bounded wait for the outbox to drain (generous: this is no timing test).
    bot.wait_outbox_drained(Duration::from_secs(90)).await;

    assert_eq!(bot.fake.rate_limited(), 0, "the bot earned 429s");
    let posts: Vec<Value> = bot
        .fake
        .accepted("chat.postMessage")
        .into_iter()
        .filter(|call| call["channel"] == CHANNEL)
        .collect();
    assert!(
        posts.len() <= 5,
        "{} posts in the channel within {:?}",
        posts.len(),
        started.elapsed()
    );

    // Every ticket is accounted for: its own card, or listed in a summary
    // that was posted.
    let unaccounted = bot
        .count(
            "SELECT count(*) FROM tickets t
             WHERE NOT EXISTS (SELECT 1 FROM ticket_messages m WHERE m.ticket_id = t.id)
               AND NOT EXISTS (SELECT 1 FROM outbox_summary_tickets l
                               JOIN outbox_summaries s ON s.id = l.summary_id
                               WHERE l.ticket_id = t.id AND s.message_id IS NOT NULL)",
        )
        .await;
    assert_eq!(unaccounted, 0);
    let carded = bot.count("SELECT count(*) FROM ticket_messages").await;
    let listed = bot
        .count("SELECT count(DISTINCT ticket_id) FROM outbox_summary_tickets")
        .await;
    assert_eq!(
        carded + listed,
        BURST as i64,
        "{carded} cards, {listed} listed"
    );
    assert!(listed > 0, "no summary: {carded} cards");

    // The summary as the channel shows it: the count and the first of its
    // tickets, edited up to date.
    let (message_id, first): (String, i64) = sqlx::query_as(
        "SELECT s.message_id, min(t.number) FROM outbox_summaries s
         JOIN outbox_summary_tickets l ON l.summary_id = s.id
         JOIN tickets t ON t.id = l.ticket_id
         GROUP BY s.id ORDER BY s.id LIMIT 1",
    )
    .fetch_one(&bot.pool)
    .await
    .unwrap();
    let shown = bot.fake.message(CHANNEL, &message_id).unwrap().to_string();
    assert!(
        shown.contains(&format!("{listed} new incidents")),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("INC-{first} Switch port")) && shown.contains("(P2)"),
        "{shown}"
    );
    assert!(shown.contains("more"), "{shown}");
}

//! Issue 22 (9): Slack allows 3 s for an answer to a button or a form.
//! With the database slow (a held lock) or gone, the bot answers within
//! `slack.reply_within` and finishes later: a button through its
//! `response_url`, a form through `views.update`.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::{Map, Value};
use sqlx::PgPool;

use crate::db_proxy::DbProxy;
use crate::harness::*;

/// Slack's limit for answering an interaction.
const SLACK_LIMIT: Duration = Duration::from_secs(3);

/// How long the test holds the database up: longer than Slack waits.
const HELD_FOR: Duration = Duration::from_millis(3_500);

/// Sends `payload` and checks that Slack got its answer in time.
async fn interact_in_time(bot: &Bot, payload: &Value) -> String {
    let sent = Instant::now();
    let (status, body) = bot.interact(payload).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        sent.elapsed() < SLACK_LIMIT,
        "answered after {:?}, past Slack's 3 s: {body}",
        sent.elapsed()
    );
    body
}

fn report_form(title: &str) -> Value {
    let values: Map<String, Value> = [text_value("title", title)].into_iter().collect();
    view_submission(STAFF, "itsm:report", CHANNEL, Value::Object(values))
}

fn ack_click(bot: &Bot, trigger: &str) -> Value {
    block_action(
        ENGINEER,
        CHANNEL,
        "1764000000.000100",
        "itsm:ack",
        "INC-1",
        trigger,
        &bot.fake.response_url(trigger),
    )
}

/// The form was answered "working on it" in its own place.
fn working_on_it(body: &str) {
    let body: Value = serde_json::from_str(body).unwrap();
    assert_eq!(body["response_action"], "update", "{body}");
    assert!(body.to_string().contains("Working on it"), "{body}");
}

#[sqlx::test]
async fn slow_buttons_and_forms_are_answered_at_once_and_finished_later(pool: PgPool) {
    let bot = Bot::start(pool.clone(), "http").await;
    let (_, reply) = bot
        .slash(STAFF, "/incident", "Mail queue stuck", "t-first")
        .await;
    assert!(reply.contains("INC-1"), "{reply}");

    // Someone else holds the tickets table for longer than Slack waits.
    let mut blocker = pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE tickets IN EXCLUSIVE MODE")
        .execute(&mut *blocker)
        .await
        .unwrap();
    tokio::spawn(async move {
        tokio::time::sleep(HELD_FOR).await;
        blocker.commit().await.unwrap();
    });

    interact_in_time(&bot, &ack_click(&bot, "t-slow-ack")).await;
    working_on_it(&interact_in_time(&bot, &report_form("Projector dead")).await);

    // Once the database lets go, both finish: the card shows the click,
    // the form shows the new incident.
    let update = bot
        .fake
        .wait_for(
            "chat.update",
            |c| c.to_string().contains("acknowledged"),
            WAIT,
        )
        .await;
    assert!(update.to_string().contains("INC-1"), "{update}");
    let shown = bot
        .fake
        .wait_for("views.update", |c| c.to_string().contains("INC-2"), WAIT)
        .await;
    assert_eq!(shown["view_id"], "VNHU13V36", "{shown}");
    assert_eq!(bot.status_of(1).await, "acknowledged");
    assert_eq!(bot.count("SELECT count(*) FROM tickets").await, 2);
}

#[sqlx::test]
async fn with_the_database_gone_buttons_and_forms_get_the_outage_answer(pool: PgPool) {
    let proxy = DbProxy::start(&pool).await;
    // As long as a real pool waits (database.acquire_timeout is 5 s by
    // default): longer than Slack's 3 s.
    let engine_pool = proxy.pool(&pool, Duration::from_secs(4));
    let bot = Bot::start_on(pool.clone(), engine_pool, "http", &[]).await;
    let (_, reply) = bot
        .slash(STAFF, "/incident", "Mail queue stuck", "t-before")
        .await;
    assert!(reply.contains("INC-1"), "{reply}");

    proxy.stop();
    interact_in_time(&bot, &ack_click(&bot, "t-gone-ack")).await;
    working_on_it(&interact_in_time(&bot, &report_form("Projector dead")).await);

    let told = bot.fake.wait_for_response("t-gone-ack", WAIT).await;
    assert_eq!(told["response_type"], "ephemeral", "{told}");
    assert!(told.to_string().contains("unavailable"), "{told}");
    let shown = bot
        .fake
        .wait_for(
            "views.update",
            |c| c.to_string().contains("unavailable"),
            WAIT,
        )
        .await;
    assert!(shown.to_string().contains("try again"), "{shown}");
    assert_eq!(bot.count("SELECT count(*) FROM tickets").await, 1);
    assert_eq!(bot.status_of(1).await, "new");
}

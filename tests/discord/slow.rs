//! Issue 22 (8): an interaction whose answer is not ready within
//! `discord.reply_within` is deferred at once (Discord gives up after 3 s
//! and shows "The application did not respond"), and the answer, or the
//! outage text, reaches the person afterwards through the interaction's
//! webhook.

use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::PgPool;

use super::db_proxy::DbProxy;
use super::fake_discord::{FakeDiscord, APP_ID};
use super::{card_message, create_options, Bot, ENGINEER, STAFF, WAIT};

/// Discord's limit for the first answer to an interaction.
const DISCORD_LIMIT: Duration = Duration::from_secs(3);

/// How long the test holds the database up: longer than Discord waits.
const HELD_FOR: Duration = Duration::from_millis(3_500);

fn settings() -> Vec<(&'static str, String)> {
    vec![
        ("ITSM__DISCORD__REPLY_WITHIN", "1s".to_string()),
        // The gateway lease stays valid while the database is away.
        ("ITSM__DISCORD__FAILOVER_SECONDS", "60".to_string()),
    ]
}

/// Dispatches `interaction` and returns the first callback the bot sent for
/// it, checking it arrived within Discord's limit.
async fn first_answer(bot: &Bot, id: u64, interaction: Value) -> Value {
    let sent = Instant::now();
    bot.fake.dispatch("INTERACTION_CREATE", interaction).await;
    let callback = bot.callback(id).await;
    assert!(
        sent.elapsed() < DISCORD_LIMIT,
        "interaction {id} was first answered after {:?}, past Discord's 3 s: {callback}",
        sent.elapsed()
    );
    callback
}

/// The edit of interaction `token`'s original response whose body contains `needle`.
async fn edited_original(bot: &Bot, token: &str, needle: &str) -> Value {
    bot.fake
        .wait_for(
            "PATCH",
            &format!("/webhooks/{APP_ID}/{token}/messages/@original"),
            |body| body.to_string().contains(needle),
            WAIT,
        )
        .await
}

/// A follow-up message on interaction `token` whose body contains `needle`.
async fn followup(bot: &Bot, token: &str, needle: &str) -> Value {
    let path = format!("/webhooks/{APP_ID}/{token}");
    bot.fake
        .wait_for(
            "POST",
            &path,
            |body| body.to_string().contains(needle),
            WAIT,
        )
        .await
}

/// Discord's flag for a message only its recipient sees.
const EPHEMERAL: u64 = 64;

#[sqlx::test]
async fn slow_commands_forms_and_buttons_are_deferred_then_answered(pool: PgPool) {
    let bot = Bot::start_with(pool.clone(), &settings()).await;
    bot.fake
        .dispatch(
            "INTERACTION_CREATE",
            FakeDiscord::command_interaction(
                9501,
                "t-fast",
                "incident",
                create_options("Mail queue stuck", "P3"),
                STAFF,
            ),
        )
        .await;
    assert_eq!(
        bot.callback(9501).await["type"],
        4,
        "fast: answered at once"
    );
    let card = card_message(&bot).await;

    // Someone else holds the tickets table: every change waits for it.
    let mut blocker = pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE tickets IN EXCLUSIVE MODE")
        .execute(&mut *blocker)
        .await
        .unwrap();
    let held = Instant::now();
    let command = first_answer(
        &bot,
        9502,
        FakeDiscord::command_interaction(
            9502,
            "t-slow-command",
            "incident",
            create_options("Printer jams", "P4"),
            STAFF,
        ),
    )
    .await;
    assert_eq!(command["type"], 5, "a deferred answer: {command}");
    let form = first_answer(
        &bot,
        9503,
        FakeDiscord::modal_interaction(
            9503,
            "t-slow-form",
            "itsm:report",
            &[("title", "Projector dead"), ("description", "Room 4")],
            STAFF,
        ),
    )
    .await;
    assert_eq!(form["type"], 5, "a deferred answer: {form}");
    assert_eq!(
        form["data"]["flags"], EPHEMERAL,
        "for the person alone: {form}"
    );
    let click = first_answer(
        &bot,
        9504,
        FakeDiscord::button_interaction(9504, "t-slow-click", "itsm:ack|INC-1", card, ENGINEER),
    )
    .await;
    assert_eq!(click["type"], 6, "a deferred update of the card: {click}");
    tokio::time::sleep(HELD_FOR.saturating_sub(held.elapsed())).await;
    blocker.commit().await.unwrap();

    // The answers follow once the database lets go.
    // The report's confirmation is for the reporter alone: the public
    // "thinking…" goes and the answer follows, ephemeral.
    let created = followup(&bot, "t-slow-command", "Printer jams").await;
    assert!(created.to_string().contains("INC-"), "{created}");
    assert_eq!(created["flags"], EPHEMERAL, "{created}");
    let reported = edited_original(&bot, "t-slow-form", "Projector dead").await;
    assert!(reported.to_string().contains("INC-"), "{reported}");
    let deadline = Instant::now() + WAIT;
    while bot.status_of(1).await != "acknowledged" {
        assert!(Instant::now() < deadline, "the slow click was lost");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(bot.count().await, 3, "nothing lost, nothing doubled");
}

#[sqlx::test]
async fn with_the_database_gone_the_person_gets_the_outage_answer(pool: PgPool) {
    let proxy = DbProxy::start(&pool).await;
    // The pool waits as long as a real one would (database.acquire_timeout
    // is 5 s by default): longer than Discord's 3 s.
    let engine_pool = proxy.pool(&pool, Duration::from_secs(4));
    let bot = Bot::start_on(pool.clone(), engine_pool, &settings()).await;
    bot.fake
        .dispatch(
            "INTERACTION_CREATE",
            FakeDiscord::command_interaction(
                9601,
                "t-before",
                "incident",
                create_options("Mail queue stuck", "P3"),
                STAFF,
            ),
        )
        .await;
    assert_eq!(bot.callback(9601).await["type"], 4);
    let card = card_message(&bot).await;

    proxy.stop();
    let command = first_answer(
        &bot,
        9602,
        FakeDiscord::command_interaction(
            9602,
            "t-gone-command",
            "incident",
            create_options("Printer jams", "P4"),
            STAFF,
        ),
    )
    .await;
    assert_eq!(command["type"], 5, "{command}");
    let form = first_answer(
        &bot,
        9603,
        FakeDiscord::modal_interaction(
            9603,
            "t-gone-form",
            "itsm:report",
            &[("title", "Projector dead")],
            STAFF,
        ),
    )
    .await;
    assert_eq!(form["type"], 5, "{form}");
    let click = first_answer(
        &bot,
        9604,
        FakeDiscord::button_interaction(9604, "t-gone-click", "itsm:ack|INC-1", card, ENGINEER),
    )
    .await;
    assert_eq!(click["type"], 6, "{click}");

    // Each person is told the database is away, for their eyes only.
    let told = followup(&bot, "t-gone-command", "unavailable").await;
    assert_eq!(told["flags"], EPHEMERAL, "{told}");
    assert!(told.to_string().contains("try again"), "{told}");
    let told = edited_original(&bot, "t-gone-form", "unavailable").await;
    assert!(told.to_string().contains("try again"), "{told}");
    let told = followup(&bot, "t-gone-click", "unavailable").await;
    assert_eq!(told["flags"], EPHEMERAL, "{told}");
    assert_eq!(bot.count().await, 1, "nothing was recorded meanwhile");
    assert_eq!(bot.status_of(1).await, "new");
}

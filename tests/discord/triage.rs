//! Suggestions on a report from Discord carry buttons: "Accept suggestion"
//! for the triage suggestion and "Mark duplicate of INC-n" for each open
//! incident it looks like. A click runs the command as typed, with the
//! same role check, and the clicker is answered privately with the result.

use serde_json::Value;
use sqlx::PgPool;

use super::{create_options, custom_ids, Bot, ENGINEER, STAFF};
use crate::fake_discord::{FakeDiscord, CHANNEL_ID};

/// Runs `text` from the shell as an engineer; its reply's text.
async fn shell(bot: &Bot, text: &str) -> String {
    let inbound = itsm_bot::commands::Inbound::new("shell:bob".parse().unwrap(), "ops", text);
    bot.engine.handle(&inbound).await.message.plain_text()
}

/// A click by `user` on `custom_id` (interaction `id`); the callback.
async fn click(bot: &Bot, id: u64, custom_id: &str, user: u64) -> Value {
    bot.click(id, custom_id, CHANNEL_ID, 1, user).await
}

#[sqlx::test]
async fn suggestion_buttons_accept_the_triage_and_mark_the_duplicate(pool: PgPool) {
    let bot = Bot::start(pool).await;
    for (n, title) in [
        "VPN tunnel drops every hour P2 service:vpn",
        "VPN drops for remote staff P2 service:vpn",
    ]
    .into_iter()
    .enumerate()
    {
        shell(&bot, &format!("/incident {title}")).await;
        shell(&bot, &format!("/incident INC-{} resolve fixed", n + 1)).await;
    }
    itsm_bot::scheduler::triage::train(
        &bot.engine,
        chrono::Utc::now() + chrono::Duration::minutes(1),
    )
    .await
    .unwrap();
    shell(
        &bot,
        "/incident VPN down in the Berlin office P1 service:vpn",
    )
    .await;

    bot.fake
        .dispatch(
            "INTERACTION_CREATE",
            FakeDiscord::command_interaction(
                7001,
                "tok-7001",
                "incident",
                create_options("VPN down for us in the Berlin office", "P3"),
                STAFF,
            ),
        )
        .await;
    let reply = bot.callback(7001).await;
    let text = reply.to_string();
    assert!(text.contains("INC-4 reported"), "{text}");
    assert!(text.contains("Suggested: service vpn"), "{text}");
    assert!(text.contains("Looks like INC-3"), "{text}");
    assert_eq!(
        custom_ids(&reply["data"]),
        ["itsm:accept_suggestion|INC-4", "itsm:duplicate_of_3|INC-4"],
        "{text}"
    );

    // The reporter may not triage: refused privately, nothing changes.
    let refused = click(&bot, 7002, "itsm:accept_suggestion|INC-4", STAFF).await;
    assert_eq!(refused["data"]["flags"], 64, "ephemeral: {refused}");
    assert!(refused.to_string().contains("engineer"), "{refused}");

    // An engineer's click applies it, answered privately.
    let accepted = click(&bot, 7003, "itsm:accept_suggestion|INC-4", ENGINEER).await;
    assert_eq!(accepted["data"]["flags"], 64, "ephemeral: {accepted}");
    assert!(
        accepted
            .to_string()
            .contains("INC-4: service vpn and priority P2 set"),
        "{accepted}"
    );

    let marked = click(&bot, 7004, "itsm:duplicate_of_3|INC-4", ENGINEER).await;
    assert!(
        marked
            .to_string()
            .contains("INC-4 closed as a duplicate of INC-3"),
        "{marked}"
    );
    assert_eq!(bot.status_of(4).await, "closed");
}

//! Suggestions on a report from Slack carry buttons: "Accept suggestion"
//! for the triage suggestion and "Mark duplicate of INC-n" for each open
//! incident it looks like. A click runs the command as typed, with the
//! same role check, and the clicker is answered with the result.

use axum::http::StatusCode;
use serde_json::Value;
use sqlx::PgPool;

use crate::harness::*;

/// Runs `text` from the shell as an engineer; its reply's text.
async fn shell(bot: &Bot, text: &str) -> String {
    let inbound = itsm_bot::commands::Inbound::new("shell:bob".parse().unwrap(), "ops", text);
    bot.engine.handle(&inbound).await.message.plain_text()
}

/// Two resolved VPN incidents the model learns from, and a live VPN
/// outage (INC-3) that is still open.
async fn history(bot: &Bot) {
    for (n, title) in [
        "VPN tunnel drops every hour P2 service:vpn",
        "VPN drops for remote staff P2 service:vpn",
    ]
    .into_iter()
    .enumerate()
    {
        shell(bot, &format!("/incident {title}")).await;
        shell(bot, &format!("/incident INC-{} resolve fixed", n + 1)).await;
    }
    // The scheduler's training run, as if a minute later.
    let trained = itsm_bot::scheduler::triage::train(
        &bot.engine,
        chrono::Utc::now() + chrono::Duration::minutes(1),
    )
    .await
    .unwrap();
    assert_eq!(trained.added, 2);
    let live = shell(
        bot,
        "/incident VPN down in the Berlin office P1 service:vpn",
    )
    .await;
    assert!(live.contains("INC-3 reported"), "{live}");
}

/// The value of button `action_id` in a message's blocks.
fn button_value(message: &Value, action_id: &str) -> String {
    message["blocks"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|block| block["elements"].as_array().cloned().unwrap_or_default())
        .find(|element| element["action_id"] == action_id)
        .and_then(|element| element["value"].as_str().map(str::to_string))
        .unwrap()
}

/// A click by `user` on the report reply's button; the answer posted to
/// its response_url `id`.
async fn click(bot: &Bot, user: &str, action_id: &str, value: &str, id: &str) -> Value {
    bot.click(user, CHANNEL, "1764000000.000100", action_id, value, id)
        .await;
    bot.fake.wait_for_response(id, WAIT).await
}

#[sqlx::test]
async fn suggestion_buttons_accept_the_triage_and_mark_the_duplicate(pool: PgPool) {
    let bot = Bot::start(pool, "http").await;
    history(&bot).await;

    let (status, body) = bot
        .slash(
            STAFF,
            "/incident",
            "VPN down for us in the Berlin office",
            "t-report",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let reply: Value = serde_json::from_str(&body).unwrap();
    let text = reply.to_string();
    assert!(text.contains("INC-4 reported"), "{text}");
    assert!(text.contains("Suggested: service vpn"), "{text}");
    assert!(text.contains("Looks like INC-3"), "{text}");
    assert_eq!(
        button_ids(&reply),
        ["itsm:accept_suggestion", "itsm:duplicate_of_3"],
        "{text}"
    );
    assert_eq!(button_value(&reply, "itsm:accept_suggestion"), "INC-4");
    assert_eq!(button_value(&reply, "itsm:duplicate_of_3"), "INC-4");

    // The reporter may not triage: refused privately, nothing changes.
    let refused = click(&bot, STAFF, "itsm:accept_suggestion", "INC-4", "staff").await;
    assert_eq!(refused["response_type"], "ephemeral", "{refused}");
    assert!(refused.to_string().contains("engineer"), "{refused}");
    let service = || async {
        bot.count(
            "SELECT count(*) FROM tickets t JOIN services s ON s.id = t.service_id
             WHERE t.kind = 'incident' AND t.number = 4 AND s.name = 'vpn'",
        )
        .await
    };
    assert_eq!(service().await, 0);

    // An engineer's click applies it and is answered with what was set.
    let accepted = click(&bot, ENGINEER, "itsm:accept_suggestion", "INC-4", "accept").await;
    assert_eq!(accepted["response_type"], "ephemeral", "{accepted}");
    assert!(
        accepted.to_string().contains("INC-4: service vpn"),
        "{accepted}"
    );
    assert_eq!(service().await, 1);

    let marked = click(&bot, ENGINEER, "itsm:duplicate_of_3", "INC-4", "dup").await;
    assert!(
        marked
            .to_string()
            .contains("INC-4 closed as a duplicate of INC-3"),
        "{marked}"
    );
    assert_eq!(bot.status_of(4).await, "closed");
    // A second click is refused like the typed command: it is closed now.
    let again = click(&bot, ENGINEER, "itsm:duplicate_of_3", "INC-4", "again").await;
    assert!(again.to_string().contains("closed"), "{again}");
}

//! Service requests from Discord (issue 23): the card in the team's channel
//! with Take and Done buttons, edited in place; the approver's Approve /
//! Reject by direct message (Reject opens a modal for the reason); refusals
//! answered to the clicker alone; the requester told by direct message.

use std::time::Duration;

use serde_json::{json, Value};
use sqlx::PgPool;

use super::{custom_ids, Bot, ENGINEER, STAFF, WAIT};
use crate::fake_discord::FakeDiscord;

/// The team's channel (`requests.channel`); requests are asked elsewhere.
const TEAM_CHANNEL: u64 = 820_000_000_000_000_077;
const MANAGER: u64 = 830_000_000_000_000_021;

async fn desk(pool: PgPool) -> Bot {
    Bot::start_with(
        pool,
        &[
            ("ITSM__REQUESTS__CHANNEL", format!("discord:{TEAM_CHANNEL}")),
            (
                "ITSM__REQUESTS__CATALOG",
                format!(
                    "[{{name=\"laptop\", title=\"New or replacement laptop\", \
                     fields=[{{name=\"model\", kind=\"choice\", choices=[\"13-inch\", \"15-inch\"], required=true}}], \
                     approval=[\"discord:{MANAGER}\"], tasks=[\"Order\", \"Image\"]}}]"
                ),
            ),
        ],
    )
    .await
}

/// `/request <text>` by `user` as interaction `id`; the callback's body.
async fn request_command(bot: &Bot, id: u64, user: u64, text: &str) -> Value {
    let options = json!([{ "name": "text", "type": 3, "value": text }]);
    bot.fake
        .dispatch(
            "INTERACTION_CREATE",
            FakeDiscord::command_interaction(id, &format!("tok-{id}"), "request", options, user),
        )
        .await;
    bot.callback(id).await
}

async fn status(bot: &Bot, number: i64) -> String {
    sqlx::query_scalar("SELECT status FROM tickets WHERE kind = 'request' AND number = $1")
        .bind(number)
        .fetch_one(&bot.pool)
        .await
        .unwrap()
}

/// The first message posted (path, body) whose body contains `needle` and
/// whose path satisfies `path_ok`.
async fn post_of(bot: &Bot, path_ok: impl Fn(&str) -> bool, needle: &str) -> (String, Value) {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let found = bot.fake.calls().into_iter().find(|(method, path, body)| {
            method == "POST"
                && path.contains("/channels/")
                && path.ends_with("/messages")
                && path_ok(path)
                && body.to_string().contains(needle)
        });
        if let Some((_, path, body)) = found {
            return (path, body);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no message with {needle:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The channel id in `/…/channels/<id>/messages`.
fn channel_of(path: &str) -> u64 {
    path.split("/channels/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|id| id.parse().ok())
        .unwrap()
}

/// The id of request `number`'s card, once the outbox has recorded it.
async fn card_of(bot: &Bot, number: i64) -> u64 {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let id: Option<String> = sqlx::query_scalar(
            "SELECT m.message_id FROM ticket_messages m JOIN tickets t ON t.id = m.ticket_id
             WHERE t.kind = 'request' AND t.number = $1",
        )
        .bind(number)
        .fetch_optional(&bot.pool)
        .await
        .unwrap();
        if let Some(id) = id.and_then(|id| id.parse().ok()) {
            return id;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no card for REQ-{number}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A click by `user` on `custom_id` of message `message` in `channel`.
async fn click(
    bot: &Bot,
    id: u64,
    custom_id: &str,
    channel: u64,
    message: u64,
    user: u64,
) -> Value {
    let mut press =
        FakeDiscord::button_interaction(id, &format!("tok-{id}"), custom_id, message, user);
    press["channel_id"] = json!(channel.to_string());
    press["message"]["channel_id"] = json!(channel.to_string());
    bot.fake.dispatch("INTERACTION_CREATE", press).await;
    bot.callback(id).await
}

async fn edit_of(bot: &Bot, card: u64, pred: impl Fn(&Value) -> bool) -> Value {
    bot.fake
        .wait_for(
            "PATCH",
            &format!("/channels/{TEAM_CHANNEL}/messages/{card}"),
            pred,
            WAIT,
        )
        .await
}

#[sqlx::test]
async fn approved_by_direct_message_then_taken_and_worked_from_the_team_card(pool: PgPool) {
    let bot = desk(pool).await;
    let missing = request_command(&bot, 9700, STAFF, "laptop").await;
    assert!(missing.to_string().contains("needs model"), "{missing}");
    assert_eq!(missing["data"]["flags"], 64, "ephemeral: {missing}");

    let asked = request_command(&bot, 9701, STAFF, "laptop model:13-inch").await;
    assert!(asked.to_string().contains("REQ-1 asked"), "{asked}");
    let team = format!("/channels/{TEAM_CHANNEL}/messages");
    let (_, card) = post_of(&bot, |p| p.ends_with(&team), "REQ-1").await;
    assert!(custom_ids(&card).is_empty(), "awaiting approval: {card}");
    let card_id = card_of(&bot, 1).await;

    // The approver's direct message carries the buttons.
    let (dm_path, dm) = post_of(&bot, |p| !p.ends_with(&team), "Approval asked: REQ-1").await;
    assert_eq!(custom_ids(&dm), ["itsm:approve|REQ-1", "itsm:reject|REQ-1"]);
    let dm_channel = channel_of(&dm_path);

    let own = click(&bot, 9710, "itsm:approve|REQ-1", dm_channel, 1, STAFF).await;
    assert_eq!(own["data"]["flags"], 64, "ephemeral: {own}");
    assert!(
        own.to_string().contains("never approves their own"),
        "{own}"
    );
    assert_eq!(status(&bot, 1).await, "awaiting_approval");

    let approve = click(&bot, 9711, "itsm:approve|REQ-1", dm_channel, 1, MANAGER).await;
    assert_eq!(approve["type"], 6, "acknowledged silently: {approve}");
    let edited = edit_of(&bot, card_id, |b| custom_ids(b) == ["itsm:take|REQ-1"]).await;
    assert!(edited.to_string().contains("approved"), "{edited}");
    post_of(
        &bot,
        |p| !p.ends_with(&team),
        "REQ-1 (New or replacement laptop) is approved",
    )
    .await;

    let stranger = click(&bot, 9712, "itsm:take|REQ-1", TEAM_CHANNEL, card_id, STAFF).await;
    assert_eq!(stranger["data"]["flags"], 64, "ephemeral: {stranger}");
    assert_eq!(status(&bot, 1).await, "approved");
    let take = click(
        &bot,
        9713,
        "itsm:take|REQ-1",
        TEAM_CHANNEL,
        card_id,
        ENGINEER,
    )
    .await;
    assert_eq!(take["type"], 6, "{take}");
    edit_of(&bot, card_id, |b| custom_ids(b) == ["itsm:task_1|REQ-1"]).await;
    post_of(&bot, |p| !p.ends_with(&team), "took REQ-1").await;
    let done = click(
        &bot,
        9714,
        "itsm:task_1|REQ-1",
        TEAM_CHANNEL,
        card_id,
        ENGINEER,
    )
    .await;
    assert_eq!(done["type"], 6, "{done}");
    edit_of(&bot, card_id, |b| custom_ids(b) == ["itsm:task_2|REQ-1"]).await;
    assert_eq!(status(&bot, 1).await, "in_progress");
}

#[sqlx::test]
async fn the_approvers_reject_button_opens_a_modal(pool: PgPool) {
    let bot = desk(pool).await;
    let asked = request_command(&bot, 9801, STAFF, "laptop model:15-inch").await;
    assert!(asked.to_string().contains("REQ-1 asked"), "{asked}");
    let (dm_path, _) = post_of(
        &bot,
        |p| !p.contains(&TEAM_CHANNEL.to_string()),
        "Approval asked: REQ-1",
    )
    .await;
    let form = click(
        &bot,
        9810,
        "itsm:reject|REQ-1",
        channel_of(&dm_path),
        1,
        MANAGER,
    )
    .await;
    assert_eq!(form["type"], 9, "a modal: {form}");
    assert_eq!(form["data"]["custom_id"], "itsm:reject|REQ-1");
    assert_eq!(
        status(&bot, 1).await,
        "awaiting_approval",
        "opening asks only"
    );
    bot.fake
        .dispatch(
            "INTERACTION_CREATE",
            FakeDiscord::modal_interaction(
                9811,
                "tok-9811",
                "itsm:reject|REQ-1",
                &[("reason", "no budget this quarter")],
                MANAGER,
            ),
        )
        .await;
    let done = bot.callback(9811).await;
    assert!(done.to_string().contains("REQ-1 rejected"), "{done}");
    assert_eq!(status(&bot, 1).await, "rejected");
    post_of(
        &bot,
        |p| !p.contains(&TEAM_CHANNEL.to_string()),
        "rejected by",
    )
    .await;
}

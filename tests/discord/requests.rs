//! Service requests from Discord (issue 23): the card in the team's channel
//! with Take and Done buttons, edited in place; the approver's Approve /
//! Reject by direct message (Reject opens a modal for the reason); refusals
//! answered to the clicker alone; the requester told by direct message; the
//! catalog form (`/request` alone: a select menu, then the item's modal,
//! a bad value named with what would work); the survey's buttons after
//! fulfilment.

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
                     fields=[{{name=\"model\", kind=\"choice\", choices=[\"13-inch\", \"15-inch\"], required=true}}, \
                             {{name=\"reason\", kind=\"text\"}}, {{name=\"start\", kind=\"date\"}}], \
                     approval=[\"discord:{MANAGER}\"], tasks=[\"Order\", \"Image\"]}}, \
                     {{name=\"badge\", title=\"Door badge\"}}]"
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
    let missing = request_command(&bot, 9700, STAFF, "laptop reason:\"new starter\"").await;
    assert!(missing.to_string().contains("needs model"), "{missing}");
    assert_eq!(missing["data"]["flags"], 64, "ephemeral: {missing}");
    // It also offers the item's form, holding what was typed.
    let fill = "itsm:request_fill|laptop reason:\"new starter\"";
    assert_eq!(custom_ids(&missing["data"]), [fill], "{missing}");
    let form = bot
        .click(9699, fill, crate::fake_discord::CHANNEL_ID, 1, STAFF)
        .await;
    assert_eq!(form["type"], 9, "a modal: {form}");
    assert_eq!(form["data"]["custom_id"], "itsm:request|laptop");
    let rows = form["data"]["components"].as_array().unwrap();
    assert_eq!(rows[0]["components"][0]["custom_id"], "model");
    assert!(
        rows[0]["components"][0]["value"].is_null(),
        "not guessed: {form}"
    );
    assert_eq!(rows[1]["components"][0]["value"], "new starter", "{form}");

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

    let own = bot
        .click(9710, "itsm:approve|REQ-1", dm_channel, 1, STAFF)
        .await;
    assert_eq!(own["data"]["flags"], 64, "ephemeral: {own}");
    assert!(
        own.to_string().contains("never approves their own"),
        "{own}"
    );
    assert_eq!(status(&bot, 1).await, "awaiting_approval");

    let approve = bot
        .click(9711, "itsm:approve|REQ-1", dm_channel, 1, MANAGER)
        .await;
    assert_eq!(approve["type"], 6, "acknowledged silently: {approve}");
    let edited = edit_of(&bot, card_id, |b| custom_ids(b) == ["itsm:take|REQ-1"]).await;
    assert!(edited.to_string().contains("approved"), "{edited}");
    post_of(
        &bot,
        |p| !p.ends_with(&team),
        "REQ-1 (New or replacement laptop) is approved",
    )
    .await;

    let stranger = bot
        .click(9712, "itsm:take|REQ-1", TEAM_CHANNEL, card_id, STAFF)
        .await;
    assert_eq!(stranger["data"]["flags"], 64, "ephemeral: {stranger}");
    assert_eq!(status(&bot, 1).await, "approved");
    let take = bot
        .click(9713, "itsm:take|REQ-1", TEAM_CHANNEL, card_id, ENGINEER)
        .await;
    assert_eq!(take["type"], 6, "{take}");
    edit_of(&bot, card_id, |b| custom_ids(b) == ["itsm:task_1|REQ-1"]).await;
    post_of(&bot, |p| !p.ends_with(&team), "took REQ-1").await;
    let done = bot
        .click(9714, "itsm:task_1|REQ-1", TEAM_CHANNEL, card_id, ENGINEER)
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
    let form = bot
        .click(9810, "itsm:reject|REQ-1", channel_of(&dm_path), 1, MANAGER)
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

/// The interaction `id` by `user`: its callback's body.
async fn interact(bot: &Bot, id: u64, interaction: Value) -> Value {
    bot.fake.dispatch("INTERACTION_CREATE", interaction).await;
    bot.callback(id).await
}

async fn requests(bot: &Bot) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM tickets WHERE kind = 'request'")
        .fetch_one(&bot.pool)
        .await
        .unwrap()
}

#[sqlx::test]
async fn the_catalog_form_picks_an_item_refuses_a_bad_value_and_asks(pool: PgPool) {
    let bot = desk(pool).await;

    // `/request` alone: the catalog for the person alone, with a menu.
    let menu = interact(
        &bot,
        9600,
        FakeDiscord::command_interaction(9600, "tok-9600", "request", Value::Null, STAFF),
    )
    .await;
    assert_eq!(menu["type"], 4, "{menu}");
    assert_eq!(menu["data"]["flags"], 64, "ephemeral: {menu}");
    let select = &menu["data"]["components"][0]["components"][0];
    assert_eq!(select["type"], 3, "a string select: {menu}");
    assert_eq!(select["custom_id"], "itsm:request_item");
    assert_eq!(select["options"][0]["value"], "laptop");
    assert_eq!(select["options"][0]["label"], "New or replacement laptop");
    assert_eq!(select["options"][1]["value"], "badge");

    // Picking the laptop opens its form: its fields, then the details.
    let form = interact(
        &bot,
        9601,
        FakeDiscord::select_interaction(
            9601,
            "tok-9601",
            "itsm:request_item",
            &["laptop"],
            1,
            STAFF,
        ),
    )
    .await;
    assert_eq!(form["type"], 9, "a modal: {form}");
    assert_eq!(form["data"]["custom_id"], "itsm:request|laptop");
    let inputs: Vec<(String, bool)> = form["data"]["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let input = &row["components"][0];
            (
                input["custom_id"].as_str().unwrap().to_string(),
                input["required"] == true,
            )
        })
        .collect();
    assert_eq!(
        inputs,
        [
            ("model".to_string(), true),
            ("reason".to_string(), false),
            ("start".to_string(), false),
            ("request:details".to_string(), false),
        ]
    );

    // A value the item does not take: named, with what would work, to the
    // person alone; nothing written.
    let submit = |id: u64, model: &'static str| {
        FakeDiscord::modal_interaction(
            id,
            &format!("tok-{id}"),
            "itsm:request|laptop",
            &[
                ("model", model),
                ("reason", "new starter"),
                ("start", ""),
                ("request:details", "for Sam in sales"),
            ],
            STAFF,
        )
    };
    let refused = interact(&bot, 9602, submit(9602, "17-inch")).await;
    assert_eq!(refused["data"]["flags"], 64, "ephemeral: {refused}");
    let text = refused.to_string();
    assert!(
        text.contains("not a valid model") && text.contains("one of 13-inch, 15-inch"),
        "{refused}"
    );
    assert_eq!(requests(&bot).await, 0, "nothing written");

    // A good one asks, as `/request laptop model:15-inch …` would.
    let asked = interact(&bot, 9603, submit(9603, "15-inch")).await;
    assert!(asked.to_string().contains("REQ-1 asked"), "{asked}");
    assert_eq!(asked["data"]["flags"], 64, "for the person: {asked}");
    assert_eq!(status(&bot, 1).await, "awaiting_approval");
    let (_, dm) = post_of(&bot, |_| true, "Approval asked: REQ-1").await;
    assert!(dm.to_string().contains("new starter"), "{dm}");
}

#[sqlx::test]
async fn the_survey_buttons_after_fulfilment_store_one_rating(pool: PgPool) {
    let bot = desk(pool).await;
    // A badge needs no approval; the team takes and fulfils it.
    let asked = request_command(&bot, 9900, STAFF, "badge").await;
    assert!(asked.to_string().contains("REQ-1 asked"), "{asked}");
    request_command(&bot, 9901, ENGINEER, "REQ-1 take").await;
    let fulfilled = request_command(&bot, 9902, ENGINEER, "REQ-1 fulfil at the desk").await;
    assert!(fulfilled.to_string().contains("fulfilled"), "{fulfilled}");
    assert_eq!(status(&bot, 1).await, "fulfilled");

    // The requester is sent the survey by direct message: 1-5 buttons.
    let team = format!("/channels/{TEAM_CHANNEL}/messages");
    let (path, survey) = post_of(&bot, |p| !p.ends_with(&team), "itsm:rate_5|REQ-1").await;
    assert_eq!(custom_ids(&survey).len(), 5, "{survey}");
    let dm = channel_of(&path);

    // Only the requester rates; their click is thanked privately and stored.
    let stranger = bot.click(9910, "itsm:rate_1|REQ-1", dm, 1, ENGINEER).await;
    assert_eq!(stranger["data"]["flags"], 64, "{stranger}");
    let rated = bot.click(9911, "itsm:rate_4|REQ-1", dm, 1, STAFF).await;
    assert_eq!(rated["data"]["flags"], 64, "{rated}");
    assert!(rated.to_string().contains("You rated REQ-1 4/5"), "{rated}");
    let again = bot.click(9912, "itsm:rate_1|REQ-1", dm, 1, STAFF).await;
    assert!(again.to_string().contains("that score stands"), "{again}");
    let scores: Vec<(i16, String)> = sqlx::query_as(
        "SELECT s.score, s.respondent FROM satisfaction s JOIN tickets t ON t.id = s.ticket_id
         WHERE t.kind = 'request' AND t.number = 1",
    )
    .fetch_all(&bot.pool)
    .await
    .unwrap();
    assert_eq!(scores, [(4, format!("discord:{STAFF}"))]);
}

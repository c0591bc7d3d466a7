//! Change approval from Discord: the CAB card in the CAB channel, its
//! Approve button (refused for the requester and for non-members, edits the
//! card in place for CAB members) and its Reject button's modal.

use std::time::Duration;

use serde_json::{json, Value};
use sqlx::PgPool;

use super::{custom_ids, Bot, ENGINEER, STAFF, WAIT};
use crate::fake_discord::FakeDiscord;

/// The CAB channel the cards go to (the commands come from `CHANNEL_ID`).
const CAB_CHANNEL: u64 = 820_000_000_000_000_042;
const CAB_ONE: u64 = 830_000_000_000_000_011;
const CAB_TWO: u64 = 830_000_000_000_000_012;

/// ENGINEER drafts and submits changes; CAB_ONE and CAB_TWO sit on the CAB;
/// STAFF is on neither.
async fn cab_bot(pool: PgPool) -> Bot {
    Bot::start_with(
        pool,
        &[
            (
                "ITSM__ROLES__CAB",
                format!("[\"discord:{CAB_ONE}\", \"discord:{CAB_TWO}\"]"),
            ),
            (
                "ITSM__CHANGE__CAB_CHANNEL",
                format!("discord:{CAB_CHANNEL}"),
            ),
        ],
    )
    .await
}

/// A window a week from now: the bot runs on the real clock, and a window
/// must not have ended when it is set.
fn next_week() -> String {
    (chrono::Utc::now() + chrono::Duration::days(7))
        .format("%Y-%m-%dT22:00 2h")
        .to_string()
}

/// `/change <text>` by `user` as interaction `id`; the callback's body.
async fn change_command(bot: &Bot, id: u64, user: u64, text: &str) -> Value {
    let options = json!([{ "name": "text", "type": 3, "value": text }]);
    bot.fake
        .dispatch(
            "INTERACTION_CREATE",
            FakeDiscord::command_interaction(id, &format!("tok-{id}"), "change", options, user),
        )
        .await;
    bot.callback(id).await
}

/// Drafts change `number` as ENGINEER with every plan and a window and
/// submits it; interactions `first..` are used.
async fn submit(bot: &Bot, number: i64, title: &str, first: u64) {
    let drafted = change_command(bot, first, ENGINEER, title).await;
    assert!(
        drafted
            .to_string()
            .contains(&format!("CHG-{number} drafted")),
        "{drafted}"
    );
    let lines = [
        "plan drain node A, upgrade, fail over, upgrade node B".to_string(),
        "test connect from the office and from home".to_string(),
        "rollback boot the previous image".to_string(),
        format!("window {}", next_week()),
        "submit".to_string(),
    ];
    for (step, line) in (first + 1..).zip(lines.iter()) {
        let reply = change_command(bot, step, ENGINEER, &format!("CHG-{number} {line}")).await;
        assert_eq!(reply["type"], 4, "{line}: {reply}");
    }
    assert_eq!(change_status(bot, number).await, "submitted");
}

async fn change_status(bot: &Bot, number: i64) -> String {
    sqlx::query_scalar("SELECT status FROM tickets WHERE kind = 'change' AND number = $1")
        .bind(number)
        .fetch_one(&bot.pool)
        .await
        .unwrap()
}

async fn approvals(bot: &Bot, number: i64) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM change_approvals a JOIN tickets t ON t.id = a.ticket_id
         WHERE t.kind = 'change' AND t.number = $1",
    )
    .bind(number)
    .fetch_one(&bot.pool)
    .await
    .unwrap()
}

/// The id of change `number`'s card, once the outbox has recorded it.
async fn card_of(bot: &Bot, number: i64) -> u64 {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let id: Option<String> = sqlx::query_scalar(
            "SELECT m.message_id FROM ticket_messages m JOIN tickets t ON t.id = m.ticket_id
             WHERE t.kind = 'change' AND t.number = $1",
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
            "the card of CHG-{number} was never recorded"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The edit of message `card_id` whose body contains `needle`.
async fn edit_of(bot: &Bot, card_id: u64, needle: &str) -> Value {
    bot.fake
        .wait_for(
            "PATCH",
            &format!("/channels/{CAB_CHANNEL}/messages/{card_id}"),
            |b| b.to_string().contains(needle),
            WAIT,
        )
        .await
}

#[sqlx::test]
async fn cab_members_approve_from_the_card_and_it_updates_in_place(pool: PgPool) {
    let bot = cab_bot(pool).await;
    submit(
        &bot,
        1,
        "Upgrade VPN concentrator firmware service:vpn",
        9800,
    )
    .await;

    let card = bot
        .fake
        .wait_for(
            "POST",
            &format!("/channels/{CAB_CHANNEL}/messages"),
            |b| b.to_string().contains("CHG-1"),
            WAIT,
        )
        .await;
    assert_eq!(
        custom_ids(&card),
        ["itsm:approve|CHG-1", "itsm:reject|CHG-1"]
    );
    assert!(card.to_string().contains("0 of 2"), "{card}");
    let card_id = card_of(&bot, 1).await;

    // The requester is refused, privately, and nothing changes.
    let own = bot
        .click(9810, "itsm:approve|CHG-1", CAB_CHANNEL, card_id, ENGINEER)
        .await;
    assert_eq!(own["type"], 4, "{own}");
    assert_eq!(own["data"]["flags"], 64, "ephemeral: {own}");
    assert!(
        own.to_string().contains("never approves their own change"),
        "{own}"
    );
    // So is someone without the cab role.
    let staff = bot
        .click(9811, "itsm:approve|CHG-1", CAB_CHANNEL, card_id, STAFF)
        .await;
    assert_eq!(staff["data"]["flags"], 64, "ephemeral: {staff}");
    assert!(staff.to_string().contains("cab role"), "{staff}");
    assert_eq!(approvals(&bot, 1).await, 0);
    assert_eq!(change_status(&bot, 1).await, "submitted");

    // A CAB approval is acknowledged silently and shows on the card.
    let first = bot
        .click(9812, "itsm:approve|CHG-1", CAB_CHANNEL, card_id, CAB_ONE)
        .await;
    assert_eq!(first["type"], 6, "{first}");
    let edited = edit_of(&bot, card_id, "1 of 2").await;
    assert!(
        edited.to_string().contains(&CAB_ONE.to_string()),
        "{edited}"
    );
    assert_eq!(
        custom_ids(&edited),
        ["itsm:approve|CHG-1", "itsm:reject|CHG-1"]
    );
    assert_eq!(change_status(&bot, 1).await, "submitted");

    let second = bot
        .click(9813, "itsm:approve|CHG-1", CAB_CHANNEL, card_id, CAB_TWO)
        .await;
    assert_eq!(second["type"], 6, "{second}");
    let edited = edit_of(&bot, card_id, "2 of 2").await;
    assert!(edited.to_string().contains("approved"), "{edited}");
    assert!(
        custom_ids(&edited).is_empty(),
        "an approved change asks nothing: {edited}"
    );
    assert_eq!(change_status(&bot, 1).await, "approved");
    assert_eq!(approvals(&bot, 1).await, 2);
    let posted = bot
        .fake
        .calls()
        .into_iter()
        .filter(|(method, path, body)| {
            method == "POST"
                && path.ends_with(&format!("/channels/{CAB_CHANNEL}/messages"))
                && body.to_string().contains("CHG-1")
        })
        .count();
    assert_eq!(posted, 1, "one card, edited; never a second one");
}

#[sqlx::test]
async fn the_reject_button_opens_a_modal_that_rejects(pool: PgPool) {
    let bot = cab_bot(pool).await;
    submit(&bot, 1, "Replace the core switch", 9900).await;
    let card_id = card_of(&bot, 1).await;

    let form = bot
        .click(9910, "itsm:reject|CHG-1", CAB_CHANNEL, card_id, CAB_ONE)
        .await;
    assert_eq!(form["type"], 9, "a modal: {form}");
    assert_eq!(form["data"]["custom_id"], "itsm:reject|CHG-1");
    assert_eq!(
        form["data"]["components"][0]["components"][0]["custom_id"], "reason",
        "{form}"
    );
    assert_eq!(
        change_status(&bot, 1).await,
        "submitted",
        "opening asks only"
    );

    let submit_form = |id: u64, user: u64, reason: &str| {
        FakeDiscord::modal_interaction(
            id,
            &format!("tok-{id}"),
            "itsm:reject|CHG-1",
            &[("reason", reason)],
            user,
        )
    };
    // A blank reason is refused privately.
    bot.fake
        .dispatch("INTERACTION_CREATE", submit_form(9911, CAB_ONE, "   "))
        .await;
    let blank = bot.callback(9911).await;
    assert_eq!(blank["data"]["flags"], 64, "ephemeral: {blank}");
    assert_eq!(change_status(&bot, 1).await, "submitted");

    bot.fake
        .dispatch(
            "INTERACTION_CREATE",
            submit_form(9912, CAB_ONE, "no tested rollback for the stack"),
        )
        .await;
    let done = bot.callback(9912).await;
    assert!(done.to_string().contains("CHG-1 rejected"), "{done}");
    assert_eq!(change_status(&bot, 1).await, "rejected");
    let show = change_command(&bot, 9913, STAFF, "CHG-1 show").await;
    assert!(
        show.to_string()
            .contains("Rejected: no tested rollback for the stack"),
        "{show}"
    );

    let edited = edit_of(&bot, card_id, "no tested rollback").await;
    assert!(edited.to_string().contains("rejected"), "{edited}");
    assert!(custom_ids(&edited).is_empty(), "{edited}");
}

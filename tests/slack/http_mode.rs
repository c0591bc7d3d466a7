//! Slack in HTTP mode: signed requests to /slack/…, answers in the HTTP
//! response, cards and surveys through the Web API.

use axum::http::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::harness::*;

fn contains_text(call: &Value, needle: &str) -> bool {
    call.to_string().contains(needle)
}

/// The story from the issue: a signed slash command reports an incident, a
/// forged or stale copy changes nothing, the card appears with its three
/// buttons, and *Acknowledge* updates the database and the card.
#[sqlx::test]
async fn slash_command_report_and_acknowledge_button(pool: PgPool) {
    let bot = Bot::start(pool, "http").await;
    let body = command_form(
        STAFF,
        CHANNEL,
        "/incident",
        "Printer on 3rd floor jams P3",
        "13345224609.738474920.8088930838d88f008e0",
        &bot.fake.response_url("cmd1"),
    );

    let (status, reply) = bot
        .post_signed(
            "/slack/commands",
            "application/x-www-form-urlencoded",
            &body,
            0,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert!(reply.contains("INC-1"), "{reply}");
    assert_eq!(bot.count("SELECT count(*) FROM tickets").await, 1);

    // One changed byte, or a timestamp ten minutes old: 401, nothing created.
    let timestamp = now();
    let signature = sign(timestamp, &body);
    let tampered = body.replacen("Printer", "Prinzer", 1);
    let (status, _) = bot
        .post(
            "/slack/commands",
            "application/x-www-form-urlencoded",
            &tampered,
            Some((timestamp, signature)),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = bot
        .post_signed(
            "/slack/commands",
            "application/x-www-form-urlencoded",
            &body.replace("13345224609", "99999"),
            600,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = bot
        .post(
            "/slack/commands",
            "application/x-www-form-urlencoded",
            &body,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(bot.count("SELECT count(*) FROM tickets").await, 1);

    // The card: posted in the channel with the three buttons.
    let card = bot
        .fake
        .wait_for("chat.postMessage", |c| contains_text(c, "INC-1"), WAIT)
        .await;
    assert_eq!(card["channel"], CHANNEL);
    assert_eq!(
        button_ids(&card),
        ["itsm:ack", "itsm:assign_me", "itsm:resolve"]
    );
    assert!(contains_text(&card, "Printer on 3rd floor jams"));
    let ts = "1764000000.000100";

    // Acknowledge, clicked by an engineer.
    bot.fake.set_user(ENGINEER, "Erin Engineer");
    let click = block_action(
        ENGINEER,
        CHANNEL,
        ts,
        "itsm:ack",
        "INC-1",
        "trigger-ack-1",
        &bot.fake.response_url("ack1"),
    );
    let (status, _) = bot.interact(&click).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bot.status_of(1).await, "acknowledged");
    let update = bot
        .fake
        .wait_for("chat.update", |c| contains_text(c, "acknowledged"), WAIT)
        .await;
    assert_eq!(update["channel"], CHANNEL);
    assert!(
        !button_ids(&update).contains(&"itsm:ack".to_string()),
        "{update}"
    );

    // Assign to me shows the engineer's display name on the card.
    let click = block_action(
        ENGINEER,
        CHANNEL,
        ts,
        "itsm:assign_me",
        "INC-1",
        "trigger-assign-1",
        &bot.fake.response_url("assign1"),
    );
    bot.interact(&click).await;
    bot.fake
        .wait_for("chat.update", |c| contains_text(c, "Erin Engineer"), WAIT)
        .await;

    // A staff member without the engineer role is told so, privately.
    let click = block_action(
        STAFF,
        CHANNEL,
        ts,
        "itsm:ack",
        "INC-1",
        "trigger-ack-2",
        &bot.fake.response_url("ack2"),
    );
    bot.interact(&click).await;
    let refusal = bot.fake.wait_for_response("ack2", WAIT).await;
    assert_eq!(refusal["response_type"], "ephemeral");
}

/// A change made anywhere else (here: the shell) edits the Slack card.
#[sqlx::test]
async fn changes_from_the_shell_update_the_card(pool: PgPool) {
    let bot = Bot::start(pool, "http").await;
    bot.slash(STAFF, "/incident", "Build server unreachable P1", "t-x1")
        .await;
    bot.fake
        .wait_for("chat.postMessage", |c| contains_text(c, "INC-1"), WAIT)
        .await;
    let shell = itsm_bot::commands::Inbound::new(
        "shell:alice".parse().unwrap(),
        "ops",
        "/incident INC-1 resolve fixed DNS",
    );
    let reply = bot.engine.handle(&shell).await;
    assert!(reply.message.plain_text().contains("INC-1 resolved"));
    let update = bot
        .fake
        .wait_for("chat.update", |c| contains_text(c, "fixed DNS"), WAIT)
        .await;
    assert!(
        contains_text(&update, "resolved") && button_ids(&update).is_empty(),
        "{update}"
    );
}

/// A command that cannot finish within Slack's limit is answered "working
/// on it" at once; the real answer follows through `response_url`.
#[sqlx::test]
async fn slow_commands_answer_through_the_response_url(pool: PgPool) {
    let bot = Bot::start(pool.clone(), "http").await;
    bot.slash(STAFF, "/incident", "Mail queue stuck", "t-slow-1")
        .await;
    // Someone else holds the incident's row, so the ack has to wait.
    let mut blocker = pool.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM tickets WHERE number = 1 FOR UPDATE")
        .execute(&mut *blocker)
        .await
        .unwrap();
    let (status, body) = bot
        .slash(ENGINEER, "/incident", "INC-1 ack", "t-slow-2")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Working on it"), "{body}");
    blocker.rollback().await.unwrap();
    let answer = bot.fake.wait_for_response("t-slow-2", WAIT).await;
    assert!(
        answer.to_string().contains("INC-1 acknowledged"),
        "{answer}"
    );
    assert_eq!(bot.status_of(1).await, "acknowledged");
}

#[sqlx::test]
async fn refusals_are_ephemeral_and_replays_create_nothing(pool: PgPool) {
    let bot = Bot::start(pool, "http").await;
    let (status, reply) = bot.slash(STAFF, "/incident", "P2", "trigger-1").await;
    assert_eq!(status, StatusCode::OK);
    let reply: Value = serde_json::from_str(&reply).unwrap();
    assert_eq!(reply["response_type"], "ephemeral");
    assert!(reply.to_string().contains("needs a title"), "{reply}");

    // The same signed request delivered twice (a replay within the window).
    let body = command_form(
        STAFF,
        CHANNEL,
        "/itsm",
        "incident Wifi drops",
        "trigger-2",
        &bot.fake.response_url("r2"),
    );
    let first = bot
        .post_signed(
            "/slack/commands",
            "application/x-www-form-urlencoded",
            &body,
            0,
        )
        .await;
    let second = bot
        .post_signed(
            "/slack/commands",
            "application/x-www-form-urlencoded",
            &body,
            0,
        )
        .await;
    assert_eq!(first.0, StatusCode::OK);
    assert_eq!(second.0, StatusCode::OK);
    assert_eq!(bot.count("SELECT count(*) FROM tickets").await, 1);
    assert!(second.1.contains("INC-1"), "{}", second.1);
}

#[sqlx::test]
async fn the_form_reports_an_incident_and_shows_field_errors(pool: PgPool) {
    let bot = Bot::start(pool, "http").await;
    let (status, _) = bot.slash(STAFF, "/incident", "", "trigger-form").await;
    assert_eq!(status, StatusCode::OK);
    let opened = bot
        .fake
        .wait_for("views.open", |c| c["trigger_id"] == "trigger-form", WAIT)
        .await;
    assert_eq!(opened["view"]["callback_id"], "itsm:report");
    assert_eq!(opened["view"]["private_metadata"], CHANNEL);
    assert!(
        opened.to_string().contains("\"vpn\""),
        "the form offers the catalog: {opened}"
    );

    let empty: serde_json::Map<String, Value> = [text_value("title", "   ")].into_iter().collect();
    let (status, body) = bot
        .interact(&view_submission(
            STAFF,
            "itsm:report",
            CHANNEL,
            Value::Object(empty),
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["response_action"], "errors");
    assert!(
        body["errors"]["title"].as_str().unwrap().contains("empty"),
        "{body}"
    );
    assert_eq!(bot.count("SELECT count(*) FROM tickets").await, 0);

    let values: serde_json::Map<String, Value> = [
        text_value("title", "VPN drops every 10 minutes"),
        text_value("description", "Since this morning, all of sales"),
        select_value("impact", "high"),
        select_value("urgency", "high"),
        select_value("service", "vpn"),
    ]
    .into_iter()
    .collect();
    let (status, body) = bot
        .interact(&view_submission(
            STAFF,
            "itsm:report",
            CHANNEL,
            Value::Object(values),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.is_empty(), "a good submission closes the form: {body}");
    let priority: i16 = sqlx::query_scalar("SELECT priority FROM tickets WHERE number = 1")
        .fetch_one(&bot.pool)
        .await
        .unwrap();
    assert_eq!(priority, 1, "high × high is P1");
    let card = bot
        .fake
        .wait_for(
            "chat.postMessage",
            |c| contains_text(c, "VPN drops every 10 minutes"),
            WAIT,
        )
        .await;
    assert_eq!(card["channel"], CHANNEL);
}

#[sqlx::test]
async fn resolve_button_form_and_the_satisfaction_survey(pool: PgPool) {
    let bot = Bot::start(pool, "http").await;
    bot.slash(STAFF, "/incident", "Laptop will not charge", "t1")
        .await;
    bot.fake
        .wait_for("chat.postMessage", |c| contains_text(c, "INC-1"), WAIT)
        .await;

    let click = block_action(
        ENGINEER,
        CHANNEL,
        "1",
        "itsm:resolve",
        "INC-1",
        "trigger-resolve",
        &bot.fake.response_url("res"),
    );
    bot.interact(&click).await;
    let form = bot
        .fake
        .wait_for("views.open", |c| c["trigger_id"] == "trigger-resolve", WAIT)
        .await;
    assert_eq!(form["view"]["callback_id"], "itsm:resolve");
    assert_eq!(form["view"]["private_metadata"], "INC-1");

    let values: serde_json::Map<String, Value> =
        [text_value("resolution", "replaced the power adapter")]
            .into_iter()
            .collect();
    let (status, body) = bot
        .interact(&view_submission(
            ENGINEER,
            "itsm:resolve",
            "INC-1",
            Value::Object(values),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(bot.status_of(1).await, "resolved");
    bot.fake
        .wait_for(
            "chat.update",
            |c| contains_text(c, "replaced the power adapter"),
            WAIT,
        )
        .await;

    // The reporter gets the survey as a direct message with five buttons.
    let survey = bot
        .fake
        .wait_for("chat.postMessage", |c| c["channel"] == STAFF, WAIT)
        .await;
    assert_eq!(
        button_ids(&survey),
        [
            "itsm:rate_1",
            "itsm:rate_2",
            "itsm:rate_3",
            "itsm:rate_4",
            "itsm:rate_5"
        ]
    );

    let rate = block_action(
        STAFF,
        "D0DM00001",
        "2",
        "itsm:rate_4",
        "INC-1",
        "trigger-rate-1",
        &bot.fake.response_url("rate1"),
    );
    bot.interact(&rate).await;
    assert!(bot
        .fake
        .wait_for_response("rate1", WAIT)
        .await
        .to_string()
        .contains("4/5"));
    let rate = block_action(
        STAFF,
        "D0DM00001",
        "2",
        "itsm:rate_1",
        "INC-1",
        "trigger-rate-2",
        &bot.fake.response_url("rate2"),
    );
    bot.interact(&rate).await;
    let again = bot.fake.wait_for_response("rate2", WAIT).await.to_string();
    assert!(
        again.contains("already rated") && again.contains("4/5"),
        "{again}"
    );
    let score: i16 = sqlx::query_scalar("SELECT score FROM satisfaction")
        .fetch_one(&bot.pool)
        .await
        .unwrap();
    assert_eq!(score, 4);
}

#[sqlx::test]
async fn intake_messages_thread_replies_and_redeliveries(pool: PgPool) {
    let bot = Bot::start(pool, "http").await;
    let message = json!({
        "type": "message", "channel": INTAKE, "user": STAFF, "text": "Cannot log in to the HR portal\nIt says my account is locked",
        "ts": "1764000100.000200", "event_ts": "1764000100.000200", "channel_type": "channel"
    });
    let (status, _) = bot.event("Ev0INTAKE1", message.clone()).await;
    assert_eq!(status, StatusCode::OK);
    // Slack retries the same event; nothing happens twice.
    let (status, _) = bot.event("Ev0INTAKE1", message).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bot.count("SELECT count(*) FROM tickets").await, 1);
    let title: String = sqlx::query_scalar("SELECT title FROM tickets")
        .fetch_one(&bot.pool)
        .await
        .unwrap();
    assert_eq!(title, "Cannot log in to the HR portal");

    let card = bot
        .fake
        .wait_for("chat.postMessage", |c| contains_text(c, "INC-1"), WAIT)
        .await;
    assert_eq!(
        card["thread_ts"], "1764000100.000200",
        "the card answers in the message's thread"
    );

    let reply = json!({
        "type": "message", "channel": INTAKE, "user": ENGINEER, "text": "Unlocked it, please try again",
        "ts": "1764000200.000300", "thread_ts": "1764000100.000200", "event_ts": "1764000200.000300"
    });
    bot.event("Ev0REPLY01", reply).await;
    let bots_own = json!({
        "type": "message", "channel": INTAKE, "bot_id": "BBOT", "user": "UBOT", "text": "INC-1 updated",
        "ts": "1764000300.000300", "thread_ts": "1764000100.000200", "event_ts": "1764000300.000300"
    });
    bot.event("Ev0BOT0001", bots_own).await;
    let notes: Vec<_> = bot
        .timeline(1)
        .await
        .into_iter()
        .filter(|(action, _)| action == "note")
        .collect();
    assert_eq!(
        notes,
        vec![(
            "note".to_string(),
            Some("Unlocked it, please try again".to_string())
        )]
    );

    // Messages elsewhere are just conversation.
    let chatter = json!({"type": "message", "channel": "C0RANDOM1", "user": STAFF, "text": "lunch?", "ts": "1764000400.000100"});
    bot.event("Ev0CHAT001", chatter).await;
    assert_eq!(bot.count("SELECT count(*) FROM tickets").await, 1);
}

#[sqlx::test]
async fn a_ticket_reaction_and_the_message_shortcut_report_incidents(pool: PgPool) {
    let bot = Bot::start(pool, "http").await;
    bot.fake.add_message(
        "C0GENERAL",
        "1764000500.000100",
        STAFF,
        "The coffee machine shows error E42",
    );
    let reaction = |event_id: &str, user: &str| {
        json!({
            "type": "reaction_added", "user": user, "reaction": "ticket", "item_user": STAFF,
            "item": { "type": "message", "channel": "C0GENERAL", "ts": "1764000500.000100" },
            "event_ts": "1764000510.000100"
        })
        .to_string()
        .replace("EVENT", event_id)
    };
    let (status, _) = bot
        .event(
            "Ev0REACT01",
            serde_json::from_str(&reaction("1", ENGINEER)).unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let description: String = sqlx::query_scalar("SELECT description FROM tickets")
        .fetch_one(&bot.pool)
        .await
        .unwrap();
    assert!(
        description.contains("> The coffee machine shows error E42"),
        "{description}"
    );
    assert!(
        description.contains("https://slack.com/archives/C0GENERAL/p1764000500000100"),
        "{description}"
    );

    // Someone else adds the same reaction: still one incident.
    bot.event(
        "Ev0REACT02",
        serde_json::from_str(&reaction("2", STAFF)).unwrap(),
    )
    .await;
    // Other reactions do nothing.
    let eyes = json!({"type": "reaction_added", "user": STAFF, "reaction": "eyes", "item": {"type": "message", "channel": "C0GENERAL", "ts": "1764000500.000100"}, "event_ts": "1"});
    bot.event("Ev0REACT03", eyes).await;
    assert_eq!(bot.count("SELECT count(*) FROM tickets").await, 1);

    let shortcut = json!({
        "type": "message_action", "callback_id": "create_incident", "trigger_id": "trigger-shortcut",
        "team": { "id": "T0001", "domain": "example" }, "user": { "id": STAFF, "name": "someone" },
        "channel": { "id": "C0GENERAL", "name": "general" }, "token": "x", "action_ts": "1764000600.000100",
        "message_ts": "1764000550.000100", "response_url": bot.fake.response_url("shortcut"),
        "message": { "type": "message", "user": STAFF, "ts": "1764000550.000100", "text": "Projector in room 4 is dead" }
    });
    let (status, _) = bot.interact(&shortcut).await;
    assert_eq!(status, StatusCode::OK);
    assert!(bot
        .fake
        .wait_for_response("shortcut", WAIT)
        .await
        .to_string()
        .contains("INC-2"));
}

#[sqlx::test]
async fn url_verification_and_unsigned_requests(pool: PgPool) {
    let bot = Bot::start(pool, "http").await;
    let challenge = json!({"token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification"});
    let (status, body) = bot
        .post_signed(
            "/slack/events",
            "application/json",
            &challenge.to_string(),
            0,
        )
        .await;
    assert_eq!(
        (status, body.as_str()),
        (
            StatusCode::OK,
            "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
        )
    );
    for path in ["/slack/commands", "/slack/interactions", "/slack/events"] {
        let (status, _) = bot
            .post(path, "application/json", &challenge.to_string(), None)
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        let (status, _) = bot
            .post(
                path,
                "application/json",
                &challenge.to_string(),
                Some((now(), "v0=deadbeef".into())),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
    }
    let (status, body) = bot
        .post_signed(
            "/slack/interactions",
            "application/x-www-form-urlencoded",
            "payload=%7Bnot+json",
            0,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // The bot token only ever went to the Web API, never anywhere else.
    assert!(bot
        .fake
        .auth_headers()
        .iter()
        .all(|h| h == "Bearer xoxb-test-bot-token" || h == "Bearer xapp-test-app-token"));
}

/// SLA warnings land in the incident's thread and mention the assignee.
#[sqlx::test]
async fn sla_warnings_go_to_the_thread_and_mention_the_assignee(pool: PgPool) {
    let bot = Bot::start(pool, "http").await;
    bot.slash(STAFF, "/incident", "Core switch down P1", "t-sla")
        .await;
    let card = bot
        .fake
        .wait_for("chat.postMessage", |c| contains_text(c, "INC-1"), WAIT)
        .await;
    assert!(
        contains_text(&card, "SLA: response (15m): due"),
        "the card shows the SLA: {card}"
    );
    let click = block_action(
        ENGINEER,
        CHANNEL,
        "1764000000.000100",
        "itsm:assign_me",
        "INC-1",
        "t-sla-2",
        &bot.fake.response_url("sla2"),
    );
    bot.interact(&click).await;
    // Taking it was the response, so the warning that comes is the
    // resolution's: 75% of P1's 4h is 3h.
    let at = chrono::Utc::now() + chrono::Duration::minutes(3 * 60 + 5);
    let posted = itsm_bot::scheduler::sweep::sweep(&bot.engine, at)
        .await
        .unwrap();
    assert_eq!(posted.len(), 1, "{posted:?}");
    let warning = bot
        .fake
        .wait_for("chat.postMessage", |c| contains_text(c, "75%"), WAIT)
        .await;
    assert_eq!(warning["channel"], CHANNEL);
    assert_eq!(
        warning["thread_ts"], "1764000000.000100",
        "in the card's thread: {warning}"
    );
    assert!(
        contains_text(&warning, &format!("<@{ENGINEER}>")),
        "mentions the assignee: {warning}"
    );
}

/// A ticket reaction on the bot's own card reports nothing new, and the
/// outbox keeps flowing.
#[sqlx::test]
async fn reacting_to_the_bots_card_reports_nothing(pool: PgPool) {
    let bot = Bot::start(pool, "http").await;
    bot.slash(STAFF, "/incident", "Door badge reader dead", "t-card")
        .await;
    let card = bot
        .fake
        .wait_for("chat.postMessage", |c| contains_text(c, "INC-1"), WAIT)
        .await;
    assert_eq!(card["channel"], CHANNEL);
    let reaction = json!({
        "type": "reaction_added", "user": STAFF, "reaction": "ticket", "item_user": "UBOT",
        "item": { "type": "message", "channel": CHANNEL, "ts": "1764000000.000100" }, "event_ts": "1764000001.000100"
    });
    let (status, _) = bot.event("Ev0CARD001", reaction).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bot.count("SELECT count(*) FROM tickets").await, 1);
    let click = block_action(
        ENGINEER,
        CHANNEL,
        "1764000000.000100",
        "itsm:ack",
        "INC-1",
        "t-card-2",
        &bot.fake.response_url("card2"),
    );
    bot.interact(&click).await;
    bot.fake
        .wait_for("chat.update", |c| contains_text(c, "acknowledged"), WAIT)
        .await;
}

//! Service requests from Slack (issue 23): the card in the team's channel
//! with Take and Done buttons, edited in place; the approver's Approve /
//! Reject by direct message (Reject asks for the reason in a form); the
//! requester told of each step by direct message; refusals answered to the
//! clicker alone with nothing written; a missing field asked for; the
//! catalog form (`/request` alone): pick an item, fill in its fields, a
//! bad value shown on its field; the survey's buttons after fulfilment.

use axum::http::StatusCode;
use serde_json::Value;
use sqlx::PgPool;

use crate::harness::*;

/// The team's channel (`requests.channel`), not where the requests are asked.
const TEAM_CHANNEL: &str = "C0TEAM0001";
/// The laptop's approver.
const MANAGER: &str = "U0MGR0001";

/// STAFF asks; MANAGER approves laptops; ENGINEER is in the team
/// (`role:engineer`, the default team).
async fn desk(pool: PgPool) -> Bot {
    Bot::start_with(
        pool,
        "http",
        &[
            ("ITSM__REQUESTS__CHANNEL", format!("slack:{TEAM_CHANNEL}")),
            (
                "ITSM__REQUESTS__CATALOG",
                format!(
                    "[{{name=\"laptop\", title=\"New or replacement laptop\", \
                     fields=[{{name=\"model\", kind=\"choice\", choices=[\"13-inch\", \"15-inch\"], required=true}}, \
                             {{name=\"reason\", kind=\"text\"}}, {{name=\"start\", kind=\"date\"}}], \
                     approval=[\"slack:{MANAGER}\"], tasks=[\"Order\", \"Image\"]}}, \
                     {{name=\"badge\", title=\"Door badge\"}}]"
                ),
            ),
        ],
    )
    .await
}

async fn status(bot: &Bot, number: i64) -> String {
    sqlx::query_scalar("SELECT status FROM tickets WHERE kind = 'request' AND number = $1")
        .bind(number)
        .fetch_one(&bot.pool)
        .await
        .unwrap()
}

async fn requests(bot: &Bot) -> i64 {
    bot.count("SELECT count(*) FROM tickets WHERE kind = 'request'")
        .await
}

/// Outbox rows queued for request `number` (cards, notices, messages).
async fn rows(bot: &Bot, number: i64) -> i64 {
    bot.count(&format!(
        "SELECT count(*) FROM outbox o JOIN tickets t ON t.id = o.ticket_id
         WHERE t.kind = 'request' AND t.number = {number}"
    ))
    .await
}

/// The first message posted in `channel` mentioning `text`, and its ts.
async fn posted(bot: &Bot, channel: &str, text: &str) -> (Value, String) {
    let call = bot
        .fake
        .wait_for(
            "chat.postMessage",
            |c| c["channel"] == channel && c.to_string().contains(text),
            WAIT,
        )
        .await;
    let ts = bot
        .fake
        .messages()
        .into_iter()
        .find(|m| m["channel"] == channel && m.to_string().contains(text))
        .and_then(|m| m["ts"].as_str().map(str::to_string))
        .unwrap();
    (call, ts)
}

#[sqlx::test]
async fn a_request_is_approved_by_direct_message_and_worked_from_the_team_card(pool: PgPool) {
    let bot = desk(pool).await;

    // A missing required field is asked for, not guessed; nothing written.
    let (code, reply) = bot
        .slash(
            STAFF,
            "/request",
            "laptop reason:\"new starter\"",
            "t-missing",
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    assert!(reply.contains("needs model"), "{reply}");
    assert!(
        reply.contains("model:13-inch reason:\\\"new starter\\\"")
            || reply.contains("model:13-inch reason:\"new starter\""),
        "the example keeps what was given: {reply}"
    );
    assert_eq!(requests(&bot).await, 0);
    // It also offers the item's form, holding what was typed.
    let reply: Value = serde_json::from_str(&reply).unwrap();
    assert_eq!(button_ids(&reply), ["itsm:request_fill"], "{reply}");
    let typed = reply["blocks"]
        .as_array()
        .and_then(|blocks| blocks.last())
        .map(|block| block["elements"][0]["value"].clone())
        .unwrap();
    assert_eq!(typed, "laptop reason:\"new starter\"");
    bot.click(
        STAFF,
        CHANNEL,
        "",
        "itsm:request_fill",
        typed.as_str().unwrap(),
        "fill",
    )
    .await;
    let filled = bot
        .fake
        .wait_for("views.open", |c| c["trigger_id"] == "trigger-fill", WAIT)
        .await;
    let view = &filled["view"];
    assert_eq!(view["private_metadata"], format!("{CHANNEL}|laptop"));
    let block = |id: &str| {
        view["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["block_id"] == id)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(
        block("field:reason")["element"]["initial_value"],
        "new starter",
        "{view}"
    );
    assert!(
        block("field:model")["element"]["initial_option"].is_null(),
        "not guessed: {view}"
    );
    assert_eq!(block("field:model")["optional"], false, "{view}");
    assert_eq!(requests(&bot).await, 0);

    let (code, reply) = bot
        .slash(
            STAFF,
            "/request",
            "laptop model:13-inch reason:\"new starter\"",
            "t-ask",
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    assert!(reply.contains("REQ-1 asked"), "{reply}");
    assert!(reply.contains("Approve / Reject"), "{reply}");

    // The card goes to the team's channel, with nothing to click yet.
    let (card, card_ts) = posted(&bot, TEAM_CHANNEL, "REQ-1").await;
    assert!(card.to_string().contains("awaiting_approval"), "{card}");
    assert!(button_ids(&card).is_empty(), "{card}");
    // The approver is asked by direct message, with the buttons.
    let (dm, dm_ts) = posted(&bot, MANAGER, "REQ-1").await;
    assert_eq!(button_ids(&dm), ["itsm:approve", "itsm:reject"]);
    assert!(dm.to_string().contains("13-inch"), "{dm}");
    let before = rows(&bot, 1).await;

    // The requester's own click and a stranger's are refused privately;
    // nothing is written or queued.
    bot.click(STAFF, MANAGER, &dm_ts, "itsm:approve", "REQ-1", "own")
        .await;
    let own = bot.fake.wait_for_response("own", WAIT).await;
    assert_eq!(own["response_type"], "ephemeral", "{own}");
    assert!(
        own.to_string().contains("never approves their own"),
        "{own}"
    );
    bot.click(
        ENGINEER,
        MANAGER,
        &dm_ts,
        "itsm:approve",
        "REQ-1",
        "stranger",
    )
    .await;
    let stranger = bot.fake.wait_for_response("stranger", WAIT).await;
    assert_eq!(stranger["response_type"], "ephemeral", "{stranger}");
    assert!(
        stranger.to_string().contains("not an approver"),
        "{stranger}"
    );
    assert_eq!(status(&bot, 1).await, "awaiting_approval");
    assert_eq!(rows(&bot, 1).await, before, "nothing was queued");

    // The manager approves from the direct message: the card is edited in
    // place and offers Take; the requester hears it.
    bot.click(MANAGER, MANAGER, &dm_ts, "itsm:approve", "REQ-1", "approve")
        .await;
    let approved = bot
        .fake
        .wait_for("chat.update", |c| button_ids(c) == ["itsm:take"], WAIT)
        .await;
    assert_eq!(approved["channel"], TEAM_CHANNEL);
    assert_eq!(approved["ts"], card_ts.as_str(), "edited in place");
    assert!(bot.fake.responses("approve").is_empty(), "the card says it");
    let (told, _) = posted(&bot, STAFF, "approved").await;
    assert!(told.to_string().contains("REQ-1"), "{told}");
    assert_eq!(status(&bot, 1).await, "approved");

    // Only the team takes it.
    bot.click(
        STAFF,
        TEAM_CHANNEL,
        &card_ts,
        "itsm:take",
        "REQ-1",
        "staff-take",
    )
    .await;
    let refused = bot.fake.wait_for_response("staff-take", WAIT).await;
    assert_eq!(refused["response_type"], "ephemeral", "{refused}");
    assert_eq!(status(&bot, 1).await, "approved");
    bot.click(
        ENGINEER,
        TEAM_CHANNEL,
        &card_ts,
        "itsm:take",
        "REQ-1",
        "take",
    )
    .await;
    let taken = bot
        .fake
        .wait_for("chat.update", |c| button_ids(c) == ["itsm:task_1"], WAIT)
        .await;
    assert_eq!(taken["ts"], card_ts.as_str());
    assert!(taken.to_string().contains("Order"), "{taken}");
    posted(&bot, STAFF, "took REQ-1").await;

    // Done on the next task: the card moves on to the next one.
    bot.click(
        ENGINEER,
        TEAM_CHANNEL,
        &card_ts,
        "itsm:task_1",
        "REQ-1",
        "task1",
    )
    .await;
    let next = bot
        .fake
        .wait_for("chat.update", |c| button_ids(c) == ["itsm:task_2"], WAIT)
        .await;
    assert_eq!(next["ts"], card_ts.as_str());
    posted(&bot, STAFF, "task 1 (Order) done").await;
    assert_eq!(status(&bot, 1).await, "in_progress");
    assert_eq!(
        bot.fake
            .calls("chat.postMessage")
            .iter()
            .filter(|c| c["channel"] == TEAM_CHANNEL)
            .count(),
        1,
        "one card, edited; never a second one"
    );
}

#[sqlx::test]
async fn the_approvers_reject_button_asks_for_the_reason(pool: PgPool) {
    let bot = desk(pool).await;
    let (_, reply) = bot
        .slash(STAFF, "/request", "laptop model:15-inch", "t-ask")
        .await;
    assert!(reply.contains("REQ-1 asked"), "{reply}");
    let (_, dm_ts) = posted(&bot, MANAGER, "REQ-1").await;

    bot.click(MANAGER, MANAGER, &dm_ts, "itsm:reject", "REQ-1", "reject")
        .await;
    let form = bot
        .fake
        .wait_for("views.open", |c| c["trigger_id"] == "trigger-reject", WAIT)
        .await;
    assert_eq!(form["view"]["callback_id"], "itsm:reject");
    assert_eq!(form["view"]["private_metadata"], "REQ-1");
    assert_eq!(
        status(&bot, 1).await,
        "awaiting_approval",
        "opening asks only"
    );

    // The requester cannot reject through the form either.
    let own: serde_json::Map<String, Value> = [text_value("reason", "changed my mind")]
        .into_iter()
        .collect();
    let (_, body) = bot
        .interact(&view_submission(
            STAFF,
            "itsm:reject",
            "REQ-1",
            Value::Object(own),
        ))
        .await;
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["response_action"], "errors", "{body}");
    assert_eq!(status(&bot, 1).await, "awaiting_approval");

    let values: serde_json::Map<String, Value> = [text_value("reason", "no budget this quarter")]
        .into_iter()
        .collect();
    let (code, body) = bot
        .interact(&view_submission(
            MANAGER,
            "itsm:reject",
            "REQ-1",
            Value::Object(values),
        ))
        .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert!(body.is_empty(), "a good submission closes the form: {body}");
    assert_eq!(status(&bot, 1).await, "rejected");
    let (told, _) = posted(&bot, STAFF, "rejected").await;
    assert!(
        told.to_string().contains("no budget this quarter"),
        "{told}"
    );
    let card = bot
        .fake
        .wait_for("chat.update", |c| c.to_string().contains("no budget"), WAIT)
        .await;
    assert_eq!(card["channel"], TEAM_CHANNEL);
    assert!(button_ids(&card).is_empty(), "{card}");
}

/// The form's input blocks by block id: (element type, optional).
fn inputs(view: &Value) -> Vec<(String, String, bool)> {
    view["blocks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| b["type"] == "input")
        .map(|b| {
            (
                b["block_id"].as_str().unwrap_or_default().to_string(),
                b["element"]["type"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                b["optional"] == true,
            )
        })
        .collect()
}

#[sqlx::test]
async fn the_catalog_form_picks_an_item_shows_bad_values_on_their_field_and_asks(pool: PgPool) {
    let bot = desk(pool).await;

    // `/request` alone opens the catalog as a form: one select of the items.
    let (code, body) = bot.slash(STAFF, "/request", "", "t-form").await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let open = bot
        .fake
        .wait_for("views.open", |c| c["trigger_id"] == "t-form", WAIT)
        .await;
    assert_eq!(open["view"]["callback_id"], "itsm:request", "{open}");
    let picker = &open["view"]["blocks"][0]["elements"][0];
    assert_eq!(picker["type"], "static_select", "{open}");
    assert_eq!(picker["options"][0]["value"], "laptop", "{open}");
    assert!(
        picker["options"][0]["text"]["text"]
            .as_str()
            .unwrap()
            .contains("New or replacement laptop"),
        "{picker}"
    );
    assert!(inputs(&open["view"]).is_empty(), "nothing to fill in yet");

    // Picking the laptop shows its fields in the same form.
    let view = bot.fake.views().pop().unwrap();
    let (code, body) = bot
        .interact(&view_select(STAFF, &view, "itsm:request_item", "laptop"))
        .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let update = bot
        .fake
        .wait_for("views.update", |c| c["view_id"] == view["id"], WAIT)
        .await;
    let form = bot.fake.views().pop().unwrap();
    assert_eq!(form["id"], view["id"], "{update}");
    assert_eq!(
        inputs(&form),
        [
            ("field:model".into(), "static_select".into(), false),
            ("field:reason".into(), "plain_text_input".into(), true),
            ("field:start".into(), "datepicker".into(), true),
            ("request:details".into(), "plain_text_input".into(), true),
        ],
        "{form}"
    );
    let metadata = form["private_metadata"].as_str().unwrap().to_string();
    assert_eq!(metadata, format!("{CHANNEL}|laptop"));

    // A value the item does not take is shown on its field; nothing written.
    let submit = |model: &str| -> Value {
        let values: serde_json::Map<String, Value> = [
            select_value("field:model", model),
            text_value("field:reason", "new starter"),
            date_value("field:start", "2027-01-04"),
            text_value("request:details", "for Sam in sales"),
        ]
        .into_iter()
        .collect();
        view_submission(STAFF, "itsm:request", &metadata, Value::Object(values))
    };
    let (code, body) = bot.interact(&submit("17-inch")).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["response_action"], "errors", "{answer}");
    let error = answer["errors"]["field:model"].as_str().unwrap_or_default();
    assert!(error.contains("one of 13-inch, 15-inch"), "{answer}");
    assert!(
        !error.contains("/request"),
        "the form, not the command: {answer}"
    );
    assert_eq!(requests(&bot).await, 0, "nothing written");

    // A good one asks, exactly as the text command does: REQ-1 shown in
    // the form's place, the approver asked by direct message.
    let (code, body) = bot.interact(&submit("15-inch")).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["response_action"], "update", "{answer}");
    assert!(answer.to_string().contains("REQ-1 asked"), "{answer}");
    assert_eq!(status(&bot, 1).await, "awaiting_approval");
    let fields: String = sqlx::query_scalar(
        "SELECT string_agg(n || '=' || v, ' ' ORDER BY n)
         FROM requests r JOIN tickets t ON t.id = r.ticket_id,
              unnest(r.field_names, r.field_values) AS f(n, v)
         WHERE t.kind = 'request' AND t.number = 1",
    )
    .fetch_one(&bot.pool)
    .await
    .unwrap();
    assert_eq!(fields, "model=15-inch reason=new starter start=2027-01-04");
    let (dm, _) = posted(&bot, MANAGER, "REQ-1").await;
    assert!(dm.to_string().contains("new starter"), "{dm}");
}

#[sqlx::test]
async fn the_survey_buttons_after_fulfilment_store_one_rating(pool: PgPool) {
    let bot = desk(pool).await;
    // A badge needs no approval; the team takes and fulfils it.
    let (_, asked) = bot.slash(STAFF, "/request", "badge", "t-badge").await;
    assert!(asked.contains("REQ-1 asked"), "{asked}");
    bot.slash(ENGINEER, "/request", "REQ-1 take", "t-take")
        .await;
    let (_, fulfilled) = bot
        .slash(ENGINEER, "/request", "REQ-1 fulfil at the desk", "t-fulfil")
        .await;
    assert!(fulfilled.contains("fulfilled"), "{fulfilled}");
    assert_eq!(status(&bot, 1).await, "fulfilled");

    // The requester is sent the survey by direct message: 1-5 buttons.
    let survey = bot
        .fake
        .wait_for(
            "chat.postMessage",
            |c| c["channel"] == STAFF && button_ids(c).contains(&"itsm:rate_5".to_string()),
            WAIT,
        )
        .await;
    assert_eq!(button_ids(&survey).len(), 5, "{survey}");
    let ts = bot
        .fake
        .messages()
        .into_iter()
        .find(|m| m["channel"] == STAFF && button_ids(m).len() == 5)
        .and_then(|m| m["ts"].as_str().map(str::to_string))
        .unwrap();

    // Only the requester rates; their click is thanked privately and stored.
    bot.click(ENGINEER, STAFF, &ts, "itsm:rate_1", "REQ-1", "stranger")
        .await;
    let stranger = bot.fake.wait_for_response("stranger", WAIT).await;
    assert_eq!(stranger["response_type"], "ephemeral", "{stranger}");
    bot.click(STAFF, STAFF, &ts, "itsm:rate_4", "REQ-1", "rate")
        .await;
    let rated = bot.fake.wait_for_response("rate", WAIT).await;
    assert_eq!(rated["response_type"], "ephemeral", "{rated}");
    assert!(rated.to_string().contains("You rated REQ-1 4/5"), "{rated}");
    bot.click(STAFF, STAFF, &ts, "itsm:rate_1", "REQ-1", "again")
        .await;
    let again = bot.fake.wait_for_response("again", WAIT).await;
    assert!(again.to_string().contains("that score stands"), "{again}");
    let scores: Vec<(i16, String)> = sqlx::query_as(
        "SELECT s.score, s.respondent FROM satisfaction s JOIN tickets t ON t.id = s.ticket_id
         WHERE t.kind = 'request' AND t.number = 1",
    )
    .fetch_all(&bot.pool)
    .await
    .unwrap();
    assert_eq!(scores, [(4, format!("slack:{STAFF}"))]);
}

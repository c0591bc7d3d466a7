//! Change approval from Slack: the CAB card in the CAB channel, its
//! Approve button (refused for the requester and for non-members, edits the
//! card in place for CAB members) and its Reject button's form.

use axum::http::StatusCode;
use serde_json::Value;
use sqlx::PgPool;

use crate::harness::*;

/// The CAB channel the cards go to (not the channel the commands come from).
const CAB_CHANNEL: &str = "C0CAB0001";
const CAB_ONE: &str = "U0CAB0001";
const CAB_TWO: &str = "U0CAB0002";

/// ENGINEER drafts and submits changes; CAB_ONE and CAB_TWO sit on the CAB;
/// STAFF is on neither.
async fn cab_bot(pool: PgPool) -> Bot {
    Bot::start_with(
        pool,
        "http",
        &[
            (
                "ITSM__ROLES__CAB",
                format!("[\"slack:{CAB_ONE}\", \"slack:{CAB_TWO}\"]"),
            ),
            ("ITSM__CHANGE__CAB_CHANNEL", format!("slack:{CAB_CHANNEL}")),
        ],
    )
    .await
}

/// A window a week from now: the harness runs on the real clock, and a
/// window must not have ended when it is set.
fn next_week() -> String {
    (chrono::Utc::now() + chrono::Duration::days(7))
        .format("%Y-%m-%dT22:00 2h")
        .to_string()
}

/// Drafts change `number` titled `title` by slash commands as ENGINEER, with
/// every plan and a window, and submits it.
async fn submit(bot: &Bot, number: i64, title: &str) {
    let (status, reply) = bot
        .slash(ENGINEER, "/change", title, &format!("t-chg{number}-draft"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(reply.contains(&format!("CHG-{number} drafted")), "{reply}");
    let lines = [
        "plan drain node A, upgrade, fail over, upgrade node B".to_string(),
        "test connect from the office and from home".to_string(),
        "rollback boot the previous image".to_string(),
        format!("window {}", next_week()),
        "submit".to_string(),
    ];
    for (step, line) in lines.iter().enumerate() {
        let (status, reply) = bot
            .slash(
                ENGINEER,
                "/change",
                &format!("CHG-{number} {line}"),
                &format!("t-chg{number}-{step}"),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{line}: {reply}");
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

async fn approvers(bot: &Bot, number: i64) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT a.approver FROM change_approvals a JOIN tickets t ON t.id = a.ticket_id
         WHERE t.kind = 'change' AND t.number = $1 ORDER BY a.at",
    )
    .bind(number)
    .fetch_all(&bot.pool)
    .await
    .unwrap()
}

/// Outbox rows queued for change `number`'s card: one per change to it.
async fn card_rows(bot: &Bot, number: i64) -> i64 {
    bot.count(&format!(
        "SELECT count(*) FROM outbox o JOIN tickets t ON t.id = o.ticket_id
         WHERE t.kind = 'change' AND t.number = {number}"
    ))
    .await
}

/// The CAB card of `CHG-n` once posted: the call and its ts.
async fn cab_card(bot: &Bot, number: i64) -> (Value, String) {
    let reference = format!("CHG-{number}");
    let card = bot
        .fake
        .wait_for(
            "chat.postMessage",
            |c| c.to_string().contains(&reference),
            WAIT,
        )
        .await;
    let ts = bot
        .fake
        .messages()
        .into_iter()
        .find(|m| m["channel"] == CAB_CHANNEL && m.to_string().contains(&reference))
        .and_then(|m| m["ts"].as_str().map(str::to_string))
        .unwrap();
    (card, ts)
}

#[sqlx::test]
async fn cab_members_approve_from_the_card_and_it_updates_in_place(pool: PgPool) {
    let bot = cab_bot(pool).await;
    submit(&bot, 1, "Upgrade VPN concentrator firmware service:vpn").await;

    let (card, ts) = cab_card(&bot, 1).await;
    assert_eq!(card["channel"], CAB_CHANNEL, "asked in the CAB channel");
    assert_eq!(button_ids(&card), ["itsm:approve", "itsm:reject"]);
    assert!(card.to_string().contains("0 of 2"), "{card}");
    assert_eq!(card_rows(&bot, 1).await, 1);

    // The requester's click is refused privately and changes nothing.
    bot.click(ENGINEER, CAB_CHANNEL, &ts, "itsm:approve", "CHG-1", "own")
        .await;
    let own = bot.fake.wait_for_response("own", WAIT).await;
    assert_eq!(own["response_type"], "ephemeral", "{own}");
    assert!(
        own.to_string().contains("never approves their own change"),
        "{own}"
    );
    // So is a click by someone without the cab role.
    bot.click(STAFF, CAB_CHANNEL, &ts, "itsm:approve", "CHG-1", "staff")
        .await;
    let staff = bot.fake.wait_for_response("staff", WAIT).await;
    assert_eq!(staff["response_type"], "ephemeral", "{staff}");
    assert!(staff.to_string().contains("cab role"), "{staff}");
    assert!(approvers(&bot, 1).await.is_empty());
    assert_eq!(change_status(&bot, 1).await, "submitted");
    assert_eq!(card_rows(&bot, 1).await, 1, "no card update was queued");

    // The first CAB approval: the same message now shows 1 of 2, still
    // with both buttons, and the approver hears nothing more.
    bot.click(CAB_ONE, CAB_CHANNEL, &ts, "itsm:approve", "CHG-1", "cab1")
        .await;
    let first = bot
        .fake
        .wait_for("chat.update", |c| c.to_string().contains("1 of 2"), WAIT)
        .await;
    assert_eq!(first["channel"], CAB_CHANNEL);
    assert_eq!(first["ts"], ts.as_str(), "edited in place: {first}");
    assert!(first.to_string().contains(CAB_ONE), "{first}");
    assert_eq!(button_ids(&first), ["itsm:approve", "itsm:reject"]);
    assert!(bot.fake.responses("cab1").is_empty());
    assert_eq!(approvers(&bot, 1).await, [format!("slack:{CAB_ONE}")]);
    assert_eq!(change_status(&bot, 1).await, "submitted");

    // The second: approved, and the card asks nothing any more.
    bot.click(CAB_TWO, CAB_CHANNEL, &ts, "itsm:approve", "CHG-1", "cab2")
        .await;
    let second = bot
        .fake
        .wait_for("chat.update", |c| c.to_string().contains("2 of 2"), WAIT)
        .await;
    assert_eq!(second["channel"], CAB_CHANNEL);
    assert_eq!(second["ts"], ts.as_str(), "edited in place: {second}");
    assert!(second.to_string().contains("approved"), "{second}");
    assert!(button_ids(&second).is_empty(), "{second}");
    assert_eq!(change_status(&bot, 1).await, "approved");
    assert_eq!(
        bot.fake
            .calls("chat.postMessage")
            .iter()
            .filter(|c| c.to_string().contains("CHG-1"))
            .count(),
        1,
        "one card, edited; never a second one"
    );
    let stored = bot.fake.message(CAB_CHANNEL, &ts).unwrap();
    assert!(button_ids(&stored).is_empty(), "{stored}");
}

#[sqlx::test]
async fn the_reject_button_asks_for_a_reason_and_rejects(pool: PgPool) {
    let bot = cab_bot(pool).await;
    submit(&bot, 1, "Replace the core switch").await;
    let (_, ts) = cab_card(&bot, 1).await;

    bot.click(CAB_ONE, CAB_CHANNEL, &ts, "itsm:reject", "CHG-1", "reject")
        .await;
    let form = bot
        .fake
        .wait_for("views.open", |c| c["trigger_id"] == "trigger-reject", WAIT)
        .await;
    assert_eq!(form["view"]["callback_id"], "itsm:reject");
    assert_eq!(form["view"]["private_metadata"], "CHG-1");
    assert_eq!(form["view"]["blocks"][0]["block_id"], "reason", "{form}");
    assert_eq!(
        change_status(&bot, 1).await,
        "submitted",
        "opening asks only"
    );

    // An empty reason is a field error; the form stays open.
    let blank: serde_json::Map<String, Value> = [text_value("reason", "  ")].into_iter().collect();
    let (status, body) = bot
        .interact(&view_submission(
            CAB_ONE,
            "itsm:reject",
            "CHG-1",
            Value::Object(blank),
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["response_action"], "errors", "{body}");
    assert!(body["errors"]["reason"].is_string(), "{body}");
    assert_eq!(change_status(&bot, 1).await, "submitted");

    // The requester cannot reject their own change from the form either.
    let own: serde_json::Map<String, Value> = [text_value("reason", "changed my mind")]
        .into_iter()
        .collect();
    let (_, body) = bot
        .interact(&view_submission(
            ENGINEER,
            "itsm:reject",
            "CHG-1",
            Value::Object(own),
        ))
        .await;
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["response_action"], "errors", "{body}");
    assert_eq!(change_status(&bot, 1).await, "submitted");

    let values: serde_json::Map<String, Value> =
        [text_value("reason", "no tested rollback for the stack")]
            .into_iter()
            .collect();
    let (status, body) = bot
        .interact(&view_submission(
            CAB_ONE,
            "itsm:reject",
            "CHG-1",
            Value::Object(values),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.is_empty(), "a good submission closes the form: {body}");
    assert_eq!(change_status(&bot, 1).await, "rejected");
    let (_, show) = bot.slash(STAFF, "/change", "CHG-1 show", "t-show").await;
    assert!(
        show.contains("Rejected: no tested rollback for the stack"),
        "{show}"
    );

    let update = bot
        .fake
        .wait_for(
            "chat.update",
            |c| c.to_string().contains("no tested rollback"),
            WAIT,
        )
        .await;
    assert_eq!(update["channel"], CAB_CHANNEL);
    assert_eq!(update["ts"], ts.as_str(), "edited in place: {update}");
    assert!(update.to_string().contains("rejected"), "{update}");
    assert!(button_ids(&update).is_empty(), "{update}");
}

/// Over Socket Mode the form's answer travels in the envelope's ack: a
/// blank reason comes back as a field error there, a reason rejects. The
/// change is drafted through the engine, as a Slack user.
#[sqlx::test]
async fn the_reject_form_over_socket_mode(pool: PgPool) {
    let bot = Bot::start_with(
        pool,
        "socket",
        &[
            ("ITSM__ROLES__CAB", format!("[\"slack:{CAB_ONE}\"]")),
            ("ITSM__CHANGE__CAB_CHANNEL", format!("slack:{CAB_CHANNEL}")),
        ],
    )
    .await;
    bot.fake.wait_connected(1, WAIT).await;
    let requester: itsm_bot::domain::UserId = format!("slack:{ENGINEER}").parse().unwrap();
    for line in [
        "Rotate the VPN keys".to_string(),
        "CHG-1 plan generate and roll out new keys".to_string(),
        "CHG-1 test connect from the office".to_string(),
        "CHG-1 rollback restore the old keys".to_string(),
        format!("CHG-1 window {}", next_week()),
        "CHG-1 submit".to_string(),
    ] {
        let inbound =
            itsm_bot::commands::Inbound::new(requester.clone(), CHANNEL, format!("/change {line}"));
        let reply = bot.engine.handle(&inbound).await;
        assert_eq!(
            reply.outcome,
            itsm_bot::commands::reply::Outcome::Done,
            "{line}: {}",
            reply.message.plain_text()
        );
    }
    let (_, ts) = cab_card(&bot, 1).await;

    let press = block_action(
        CAB_ONE,
        CAB_CHANNEL,
        &ts,
        "itsm:reject",
        "CHG-1",
        "trigger-sock-reject",
        &bot.fake.response_url("sock-reject"),
    );
    let envelope = bot.fake.send_envelope("interactive", press).await;
    bot.fake.wait_ack(&envelope, WAIT).await;
    let form = bot
        .fake
        .wait_for(
            "views.open",
            |c| c["trigger_id"] == "trigger-sock-reject",
            WAIT,
        )
        .await;
    assert_eq!(form["view"]["callback_id"], "itsm:reject");

    let blank: serde_json::Map<String, Value> = [text_value("reason", "")].into_iter().collect();
    let envelope = bot
        .fake
        .send_envelope(
            "interactive",
            view_submission(CAB_ONE, "itsm:reject", "CHG-1", Value::Object(blank)),
        )
        .await;
    let ack = bot.fake.wait_ack(&envelope, WAIT).await;
    assert_eq!(ack["payload"]["response_action"], "errors", "{ack}");
    assert!(ack["payload"]["errors"]["reason"].is_string(), "{ack}");
    assert_eq!(change_status(&bot, 1).await, "submitted");

    let values: serde_json::Map<String, Value> = [text_value("reason", "wait for the audit")]
        .into_iter()
        .collect();
    let envelope = bot
        .fake
        .send_envelope(
            "interactive",
            view_submission(CAB_ONE, "itsm:reject", "CHG-1", Value::Object(values)),
        )
        .await;
    bot.fake.wait_ack(&envelope, WAIT).await;
    assert_eq!(change_status(&bot, 1).await, "rejected");
    let update = bot
        .fake
        .wait_for(
            "chat.update",
            |c| c.to_string().contains("wait for the audit"),
            WAIT,
        )
        .await;
    assert_eq!(update["ts"], ts.as_str());
    assert!(button_ids(&update).is_empty(), "{update}");
}

/// Both CAB members click at the same moment: both approvals count, and
/// once the outbox is drained the one card shows the change approved.
#[sqlx::test]
async fn simultaneous_approvals_leave_the_card_approved(pool: PgPool) {
    let bot = cab_bot(pool).await;
    submit(&bot, 1, "Renew the wildcard certificate").await;
    let (_, ts) = cab_card(&bot, 1).await;

    tokio::join!(
        bot.click(CAB_ONE, CAB_CHANNEL, &ts, "itsm:approve", "CHG-1", "both1"),
        bot.click(CAB_TWO, CAB_CHANNEL, &ts, "itsm:approve", "CHG-1", "both2"),
    );
    assert_eq!(change_status(&bot, 1).await, "approved");
    assert_eq!(approvers(&bot, 1).await.len(), 2);
    bot.fake
        .wait_for("chat.update", |c| c.to_string().contains("2 of 2"), WAIT)
        .await;
    let deadline = std::time::Instant::now() + WAIT;
    while bot
        .count("SELECT count(*) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL")
        .await
        > 0
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the outbox never drained"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let stored = bot.fake.message(CAB_CHANNEL, &ts).unwrap();
    assert!(stored.to_string().contains("2 of 2"), "{stored}");
    assert!(button_ids(&stored).is_empty(), "{stored}");
    assert!(bot.fake.responses("both1").is_empty() && bot.fake.responses("both2").is_empty());
}

/// A Slack person types a window in their Slack profile's zone, and every
/// reader sees its start as a Slack date token (their own zone), with the
/// team's zone as the fallback text.
#[sqlx::test]
async fn a_window_is_read_in_the_slack_profile_zone_and_shown_as_a_date_token(pool: PgPool) {
    use chrono::TimeZone;
    let bot = Bot::start_with(
        pool,
        "http",
        &[("ITSM__LOCALE__TIME_ZONE", "Europe/Berlin".to_string())],
    )
    .await;
    bot.fake.set_user_zone(ENGINEER, "America/New_York");
    let (_, drafted) = bot
        .slash(ENGINEER, "/change", "Move the file server", "t-tz-draft")
        .await;
    assert!(drafted.contains("CHG-1 drafted"), "{drafted}");
    let day = (chrono::Utc::now() + chrono::Duration::days(7)).date_naive();
    let (status, reply) = bot
        .slash(
            ENGINEER,
            "/change",
            &format!("CHG-1 window {day}T16:00 2h"),
            "t-tz-window",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let new_york: chrono_tz::Tz = "America/New_York".parse().unwrap();
    let berlin: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
    let start = new_york
        .from_local_datetime(&day.and_hms_opt(16, 0, 0).unwrap())
        .single()
        .unwrap()
        .with_timezone(&chrono::Utc);
    let fallback = itsm_bot::domain::moment::plain(start, berlin);
    let token = format!(
        "<!date^{}^{{date_short_pretty}} {{time}}|{fallback}>",
        start.timestamp()
    );
    assert!(reply.contains(&token), "{token} in {reply}");
    let stored: chrono::DateTime<chrono::Utc> = sqlx::query_scalar(
        "SELECT window_start FROM changes c JOIN tickets t ON t.id = c.ticket_id WHERE t.number = 1",
    )
    .fetch_one(&bot.pool)
    .await
    .unwrap();
    assert_eq!(stored, start, "16:00 in New York, the profile's zone");
}

//! Slack in Socket Mode: envelopes over the WebSocket, answers in the acks,
//! and reconnection after Slack drops the connection.

use serde_json::{json, Value};
use sqlx::PgPool;

use crate::harness::*;

async fn connected(pool: PgPool) -> Bot {
    let bot = Bot::start(pool, "socket").await;
    bot.fake.wait_connected(1, WAIT).await;
    bot
}

#[sqlx::test]
async fn slash_command_and_button_over_socket_mode(pool: PgPool) {
    let bot = connected(pool).await;
    let payload = command_payload(
        STAFF,
        "/incident",
        "Printer on 3rd floor jams P3",
        "trigger-s1",
        &bot.fake.response_url("s1"),
    );
    let envelope = bot.fake.send_envelope("slash_commands", payload).await;
    let ack = bot.fake.wait_ack(&envelope, WAIT).await;
    assert!(ack["payload"].to_string().contains("INC-1"), "{ack}");
    assert_eq!(bot.count("SELECT count(*) FROM tickets").await, 1);

    let card = bot
        .fake
        .wait_for(
            "chat.postMessage",
            |c| c.to_string().contains("INC-1"),
            WAIT,
        )
        .await;
    assert_eq!(
        button_ids(&card),
        ["itsm:ack", "itsm:assign_me", "itsm:resolve"]
    );

    let click = block_action(
        ENGINEER,
        CHANNEL,
        "1764000000.000100",
        "itsm:ack",
        "INC-1",
        "trigger-s2",
        &bot.fake.response_url("s2"),
    );
    let envelope = bot.fake.send_envelope("interactive", click).await;
    bot.fake.wait_ack(&envelope, WAIT).await;
    assert_eq!(bot.status_of(1).await, "acknowledged");
    bot.fake
        .wait_for(
            "chat.update",
            |c| c.to_string().contains("acknowledged"),
            WAIT,
        )
        .await;
}

#[sqlx::test]
async fn redelivered_envelopes_create_nothing_twice(pool: PgPool) {
    let bot = connected(pool).await;
    let payload = command_payload(
        STAFF,
        "/incident",
        "Badge reader dead",
        "trigger-dup",
        &bot.fake.response_url("dup"),
    );
    bot.fake
        .send_envelope_with_id("slash_commands", "env-dup", payload.clone())
        .await;
    bot.fake.wait_ack("env-dup", WAIT).await;
    bot.fake
        .send_envelope_with_id("slash_commands", "env-dup-again", payload)
        .await;
    let ack = bot.fake.wait_ack("env-dup-again", WAIT).await;
    assert!(ack["payload"].to_string().contains("INC-1"), "{ack}");

    let event = event_callback(
        "Ev0SOCKET1",
        json!({"type": "message", "channel": INTAKE, "user": STAFF, "text": "Monitor flickers", "ts": "1764000700.000100"}),
    );
    for id in ["env-ev-1", "env-ev-2"] {
        bot.fake
            .send_envelope_with_id("events_api", id, event.clone())
            .await;
        bot.fake.wait_ack(id, WAIT).await;
    }
    assert_eq!(bot.count("SELECT count(*) FROM tickets").await, 2);
}

#[sqlx::test]
async fn the_bot_reconnects_after_disconnect_frames_and_dropped_sockets(pool: PgPool) {
    let bot = connected(pool).await;
    let before = bot.fake.connections_accepted();

    bot.fake.disconnect_all().await;
    wait_until(|| bot.fake.connections_accepted() > before).await;
    bot.fake.wait_connected(1, WAIT).await;
    report(&bot, "After a refresh", "r1").await;

    let before = bot.fake.connections_accepted();
    bot.fake.drop_all().await;
    wait_until(|| bot.fake.connections_accepted() > before).await;
    bot.fake.wait_connected(1, WAIT).await;
    report(&bot, "After a dropped socket", "r2").await;
    assert_eq!(bot.count("SELECT count(*) FROM tickets").await, 2);
}

async fn report(bot: &Bot, title: &str, trigger: &str) -> Value {
    let payload = command_payload(
        STAFF,
        "/incident",
        title,
        trigger,
        &bot.fake.response_url(trigger),
    );
    let envelope = bot.fake.send_envelope("slash_commands", payload).await;
    bot.fake.wait_ack(&envelope, WAIT).await
}

async fn wait_until(condition: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + WAIT;
    while !condition() {
        assert!(
            std::time::Instant::now() < deadline,
            "condition not met in time"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Tokens and the signing secret never reach a log line, even at trace level.
#[sqlx::test]
async fn secrets_never_reach_the_logs(pool: PgPool) {
    let logs = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
    let sink = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || LogSink(sink.clone()))
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let bot = connected(pool).await;
    report(&bot, "Scanner offline", "log1").await;
    bot.fake
        .wait_for(
            "chat.postMessage",
            |c| c.to_string().contains("INC-1"),
            WAIT,
        )
        .await;
    bot.fake.drop_all().await;
    bot.fake.wait_connected(1, WAIT).await;
    let (status, _) = bot
        .post(
            "/slack/commands",
            "application/x-www-form-urlencoded",
            "text=x",
            Some((now(), "v0=00".into())),
        )
        .await;
    assert_eq!(status, axum::http::StatusCode::UNAUTHORIZED);

    let text = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(
        text.len() > 1_000,
        "the test should capture real logs, got {} bytes",
        text.len()
    );
    for secret in ["xoxb-test-bot-token", "xapp-test-app-token", SECRET] {
        assert!(!text.contains(secret), "{secret} leaked into the logs");
    }
}

struct LogSink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogSink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

//! Shutdown waits for Slack commands still in flight: a slash command that
//! was answered "working on it" gets its real answer through `response_url`
//! before the adapter stops.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use itsm_bot::app::App;
use itsm_bot::chat::slack::{routes, SlackAdapter};
use itsm_bot::clock::SystemClock;
use itsm_bot::commands::Inbound;
use itsm_bot::config::Config;
use itsm_bot::lifecycle::Shutdown;
use itsm_bot::store::Store;
use sqlx::PgPool;
use tower::ServiceExt;

use crate::fake_slack::FakeSlack;
use crate::harness::{command_form, now, sign, CHANNEL, ENGINEER, SECRET, WAIT};

#[sqlx::test]
async fn a_slow_command_in_flight_at_shutdown_is_finished_and_answered(pool: PgPool) {
    let fake = FakeSlack::start().await;
    let vars = [
        ("ITSM__SLACK__MODE", "http".to_string()),
        ("ITSM__SLACK__API_URL", fake.api_url()),
        ("ITSM__SLACK__BOT_TOKEN", "xoxb-test-bot-token".to_string()),
        ("ITSM__SLACK__SIGNING_SECRET", SECRET.to_string()),
        ("ITSM__SLACK__REPLY_WITHIN", "1s".to_string()),
        (
            "ITSM__ROLES__ENGINEER",
            format!("[\"shell:*\", \"slack:{ENGINEER}\"]"),
        ),
    ];
    let config =
        Config::load_with_env(None, vars.iter().map(|(k, v)| (k.to_string(), v.clone()))).unwrap();
    let app = App::with_store(
        config.clone(),
        Store::from_pool(pool.clone()),
        Arc::new(SystemClock),
    )
    .await
    .unwrap();
    let adapter = SlackAdapter::new(
        app.engine.clone(),
        &config.slack,
        itsm_bot::proxy::ProxySettings::new(config.http.proxy.as_ref()),
    )
    .unwrap();
    let (trigger, shutdown) = Shutdown::new();
    let mut running = tokio::spawn(adapter.clone().run(shutdown));
    let router = routes(adapter);
    let created = app
        .engine
        .handle(&Inbound::new(
            "shell:alice".parse().unwrap(),
            "ops",
            "/incident Mail queue stuck",
        ))
        .await;
    assert!(created.message.plain_text().contains("INC-1"));

    // Someone else holds the incident's row, so the ack has to wait.
    let mut blocker = pool.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM tickets WHERE number = 1 FOR UPDATE")
        .execute(&mut *blocker)
        .await
        .unwrap();
    let body = command_form(
        ENGINEER,
        CHANNEL,
        "/incident",
        "INC-1 ack",
        "t-shutdown-1",
        &fake.response_url("t-shutdown-1"),
    );
    let timestamp = now();
    let request = Request::post("/slack/commands")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", timestamp.to_string())
        .header("x-slack-signature", sign(timestamp, &body))
        .body(Body::from(body))
        .unwrap();
    let response = router.oneshot(request).await.unwrap();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    assert!(
        String::from_utf8_lossy(&bytes).contains("Working on it"),
        "{bytes:?}"
    );

    trigger.trigger();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !running.is_finished(),
        "the adapter stopped with a command in flight"
    );
    blocker.rollback().await.unwrap();
    tokio::time::timeout(WAIT, &mut running)
        .await
        .expect("the adapter did not stop")
        .unwrap()
        .unwrap();
    let answers = fake.responses("t-shutdown-1");
    assert!(
        answers
            .iter()
            .any(|a| a.to_string().contains("INC-1 acknowledged")),
        "{answers:?}"
    );
    let status: String = sqlx::query_scalar("SELECT status FROM tickets WHERE number = 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(status, "acknowledged");
}

//! The Discord adapter driven through the real `serenity` client against a
//! fake Discord (REST + gateway), with a real PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod changes;
mod connect;
#[path = "../slack/db_proxy.rs"]
mod db_proxy;
mod fake_discord;
#[path = "../slack/http_proxy.rs"]
mod http_proxy;
mod lease;
mod requests;
mod slow;
mod triage;

use std::sync::Arc;
use std::time::Duration;

use fake_discord::{FakeDiscord, APP_ID, CHANNEL_ID, GUILD_ID};
use itsm_bot::app::App;
use itsm_bot::chat::discord::DiscordAdapter;
use itsm_bot::clock::SystemClock;
use itsm_bot::commands::Engine;
use itsm_bot::commands::Inbound;
use itsm_bot::config::Config;
use itsm_bot::lifecycle::{Shutdown, ShutdownTrigger};
use itsm_bot::store::Store;
use serde_json::{json, Value};
use sqlx::PgPool;

const ENGINEER: u64 = 830_000_000_000_000_001;
const STAFF: u64 = 830_000_000_000_000_002;
const INTAKE: u64 = 820_000_000_000_000_009;
const WAIT: Duration = Duration::from_secs(15);

struct Bot {
    fake: FakeDiscord,
    engine: Engine,
    pool: PgPool,
    trigger: ShutdownTrigger,
}

impl Drop for Bot {
    fn drop(&mut self) {
        self.trigger.trigger();
        // The fake enforces Discord's documented limits; the outbox paces
        // itself to stay under them.
        if !std::thread::panicking() {
            assert_eq!(
                self.fake.rate_limited(),
                0,
                "the bot went over Discord's rate limits"
            );
        }
    }
}

impl Bot {
    async fn start(pool: PgPool) -> Bot {
        Bot::start_with(pool, &[]).await
    }

    /// Like [`Bot::start`], with `extra` environment settings on top (roles,
    /// the CAB channel, ...).
    async fn start_with(pool: PgPool, extra: &[(&str, String)]) -> Bot {
        Bot::start_on(pool.clone(), pool, extra).await
    }

    /// Like [`Bot::start_with`], with the bot's engine on `engine_pool`
    /// (e.g. through a relay that can cut it off) while the test reads
    /// the database through `pool`.
    async fn start_on(pool: PgPool, engine_pool: PgPool, extra: &[(&str, String)]) -> Bot {
        let fake = FakeDiscord::start().await;
        let mut vars = vec![
            ("ITSM__DISCORD__TOKEN", "discord-test-token".to_string()),
            ("ITSM__DISCORD__API_URL", fake.base_url()),
            ("ITSM__DISCORD__GUILD_IDS", format!("[{GUILD_ID}]")),
            ("ITSM__DISCORD__INTAKE_CHANNELS", format!("[\"{INTAKE}\"]")),
            (
                "ITSM__ROLES__ENGINEER",
                format!("[\"shell:*\", \"discord:{ENGINEER}\"]"),
            ),
        ];
        vars.extend(extra.iter().cloned());
        let config =
            Config::load_with_env(None, vars.iter().map(|(k, v)| (k.to_string(), v.clone())))
                .unwrap();
        let app = App::with_store(
            config.clone(),
            Store::from_pool(engine_pool),
            Arc::new(SystemClock),
        )
        .await
        .unwrap();
        let adapter = DiscordAdapter::new(app.engine.clone(), &config.discord).unwrap();
        let (trigger, shutdown) = Shutdown::new();
        tokio::spawn(adapter.run(shutdown));
        fake.wait_ready(WAIT).await;
        Bot {
            fake,
            engine: app.engine,
            pool,
            trigger,
        }
    }

    async fn count(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM tickets")
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    async fn status_of(&self, number: i64) -> String {
        sqlx::query_scalar("SELECT status FROM tickets WHERE number = $1")
            .bind(number)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// A click (interaction `id`) by `user` on the button `custom_id` of
    /// message `message` in `channel`; the callback's body.
    async fn click(
        &self,
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
        self.fake.dispatch("INTERACTION_CREATE", press).await;
        self.callback(id).await
    }

    /// The callback body the bot sent for interaction `id`.
    async fn callback(&self, id: u64) -> Value {
        self.fake
            .wait_for("POST", &format!("/interactions/{id}/"), |_| true, WAIT)
            .await
    }
}

/// The id of INC-1's card, once the outbox has recorded it.
async fn card_message(bot: &Bot) -> u64 {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let id: Option<String> =
            sqlx::query_scalar("SELECT message_id FROM ticket_messages LIMIT 1")
                .fetch_optional(&bot.pool)
                .await
                .unwrap();
        if let Some(id) = id.and_then(|id| id.parse().ok()) {
            return id;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the card was never recorded"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn create_options(title: &str, priority: &str) -> Value {
    json!([{ "name": "create", "type": 1, "options": [
        { "name": "title", "type": 3, "value": title },
        { "name": "priority", "type": 3, "value": priority }
    ]}])
}

fn custom_ids(message: &Value) -> Vec<String> {
    message["components"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row["components"].as_array().cloned().unwrap_or_default())
        .filter_map(|c| c["custom_id"].as_str().map(str::to_string))
        .collect()
}

/// The story from the issue: /incident with a title and P1 creates INC-1,
/// the callback names it, the embed has three buttons; Acknowledge updates
/// the database and edits the embed; a resolve from the shell edits it too.
#[sqlx::test]
async fn report_by_slash_command_acknowledge_and_edit_from_the_shell(pool: PgPool) {
    let bot = Bot::start(pool).await;
    let registered = bot
        .fake
        .wait_for(
            "PUT",
            &format!("/applications/{APP_ID}/guilds/{GUILD_ID}/commands"),
            |_| true,
            WAIT,
        )
        .await;
    assert!(
        registered.to_string().contains("\"incident\"")
            && registered.to_string().contains("Create incident")
    );

    let interaction = FakeDiscord::command_interaction(
        9001,
        "token-1",
        "incident",
        create_options("Build server unreachable", "P1"),
        STAFF,
    );
    bot.fake.dispatch("INTERACTION_CREATE", interaction).await;
    let callback = bot.callback(9001).await;
    assert_eq!(callback["type"], 4);
    assert!(callback.to_string().contains("INC-1"), "{callback}");
    assert_eq!(bot.count().await, 1);

    let card = bot
        .fake
        .wait_for(
            "POST",
            &format!("/channels/{CHANNEL_ID}/messages"),
            |b| b.to_string().contains("INC-1"),
            WAIT,
        )
        .await;
    assert_eq!(
        custom_ids(&card),
        [
            "itsm:ack|INC-1",
            "itsm:assign_me|INC-1",
            "itsm:resolve|INC-1"
        ]
    );
    assert_eq!(card["embeds"][0]["color"], 0xE74C3C, "P1 is red: {card}");
    // Times in the text are Discord timestamps, which every reader sees in
    // their own zone; the footer, which Discord does not format, names the
    // team's zone.
    let description = card["embeds"][0]["description"]
        .as_str()
        .unwrap_or_default();
    let timestamp = regex::Regex::new(r"due <t:\d+:f>").unwrap();
    assert!(timestamp.is_match(description), "{description}");
    let footer = card["embeds"][0]["footer"]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(footer.contains(" UTC"), "{footer}");

    let card_id = card_message(&bot).await;
    let press =
        FakeDiscord::button_interaction(9002, "token-2", "itsm:ack|INC-1", card_id, ENGINEER);
    bot.fake.dispatch("INTERACTION_CREATE", press).await;
    assert_eq!(bot.callback(9002).await["type"], 6);
    assert_eq!(bot.status_of(1).await, "acknowledged");
    bot.fake
        .wait_for(
            "PATCH",
            &format!("/messages/{card_id}"),
            |b| b.to_string().contains("acknowledged"),
            WAIT,
        )
        .await;

    let shell = Inbound::new(
        "shell:alice".parse().unwrap(),
        "ops",
        "/incident INC-1 resolve fixed DNS",
    );
    assert!(bot
        .engine
        .handle(&shell)
        .await
        .message
        .plain_text()
        .contains("resolved"));
    let edited = bot
        .fake
        .wait_for(
            "PATCH",
            &format!("/messages/{card_id}"),
            |b| b.to_string().contains("fixed DNS"),
            WAIT,
        )
        .await;
    assert!(
        custom_ids(&edited).is_empty(),
        "a resolved card has no buttons: {edited}"
    );
}

#[sqlx::test]
async fn a_duplicated_interaction_creates_one_incident(pool: PgPool) {
    let bot = Bot::start(pool).await;
    let interaction = FakeDiscord::command_interaction(
        9101,
        "token-d",
        "incident",
        create_options("Badge reader dead", "P3"),
        STAFF,
    );
    bot.fake
        .dispatch("INTERACTION_CREATE", interaction.clone())
        .await;
    bot.callback(9101).await;
    bot.fake.dispatch("INTERACTION_CREATE", interaction).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(bot.count().await, 1);
}

#[sqlx::test]
async fn refusals_are_ephemeral_and_forms_open_without_a_title(pool: PgPool) {
    let bot = Bot::start(pool).await;
    let ack = json!([{ "name": "ack", "type": 1, "options": [{ "name": "ticket", "type": 3, "value": "INC-42" }] }]);
    bot.fake
        .dispatch(
            "INTERACTION_CREATE",
            FakeDiscord::command_interaction(9201, "t", "incident", ack, STAFF),
        )
        .await;
    let refusal = bot.callback(9201).await;
    assert_eq!(refusal["data"]["flags"], 64, "ephemeral: {refusal}");
    assert!(
        refusal.to_string().contains("There is no INC-42"),
        "{refusal}"
    );

    let create = json!([{ "name": "create", "type": 1, "options": [] }]);
    bot.fake
        .dispatch(
            "INTERACTION_CREATE",
            FakeDiscord::command_interaction(9202, "t2", "incident", create, STAFF),
        )
        .await;
    let form = bot.callback(9202).await;
    assert_eq!(form["type"], 9, "a modal: {form}");
    bot.fake
        .dispatch(
            "INTERACTION_CREATE",
            FakeDiscord::modal_interaction(
                9203,
                "t3",
                "itsm:report",
                &[("title", "Projector dead"), ("description", "Room 4")],
                STAFF,
            ),
        )
        .await;
    assert!(bot.callback(9203).await.to_string().contains("INC-1"));
    assert_eq!(bot.count().await, 1);
}

#[sqlx::test]
async fn intake_messages_reactions_and_thread_replies(pool: PgPool) {
    let bot = Bot::start(pool.clone()).await;
    bot.fake
        .dispatch(
            "MESSAGE_CREATE",
            FakeDiscord::message_create(
                950_000_000_000_000_001,
                INTAKE,
                STAFF,
                "Wifi is down on floor 2",
            ),
        )
        .await;
    bot.fake
        .wait_for(
            "POST",
            &format!("/channels/{INTAKE}/messages"),
            |b| b.to_string().contains("INC-1"),
            WAIT,
        )
        .await;
    let thread = bot.fake.wait_for("POST", "/threads", |_| true, WAIT).await;
    assert!(
        thread["name"]
            .as_str()
            .unwrap_or_default()
            .contains("INC-1"),
        "{thread}"
    );
    // The thread's id is what the bot recorded for the card.
    card_message(&bot).await;
    let thread_id: String = sqlx::query_scalar("SELECT thread FROM ticket_messages")
        .fetch_one(&pool)
        .await
        .unwrap();
    let reply = FakeDiscord::message_create(
        950_000_000_000_000_002,
        thread_id.parse().unwrap(),
        ENGINEER,
        "Rebooted the access point",
    );
    bot.fake.dispatch("MESSAGE_CREATE", reply).await;
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let notes: i64 =
            sqlx::query_scalar("SELECT count(*) FROM ticket_events WHERE action = 'note'")
                .fetch_one(&pool)
                .await
                .unwrap();
        if notes == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the thread reply did not become a note"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A message in an ordinary channel is conversation, until someone
    // gives it the ticket reaction.
    bot.fake
        .dispatch(
            "MESSAGE_CREATE",
            FakeDiscord::message_create(
                950_000_000_000_000_003,
                CHANNEL_ID,
                STAFF,
                "The coffee machine is leaking",
            ),
        )
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(bot.count().await, 1);
    bot.fake
        .dispatch(
            "MESSAGE_REACTION_ADD",
            FakeDiscord::reaction_add(950_000_000_000_000_003, ENGINEER, "🎫"),
        )
        .await;
    let deadline = std::time::Instant::now() + WAIT;
    while bot.count().await < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the reaction did not report an incident"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[sqlx::test]
async fn the_bot_resumes_after_the_gateway_drops(pool: PgPool) {
    let bot = Bot::start(pool).await;
    bot.fake.drop_connection().await;
    let deadline = std::time::Instant::now() + WAIT;
    while bot.fake.resumes() + bot.fake.identifies() < 2 {
        assert!(std::time::Instant::now() < deadline, "no reconnect");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bot.fake.wait_ready(WAIT).await;
    let interaction = FakeDiscord::command_interaction(
        9301,
        "token-r",
        "incident",
        create_options("After the drop", "P2"),
        STAFF,
    );
    bot.fake.dispatch("INTERACTION_CREATE", interaction).await;
    assert!(bot.callback(9301).await.to_string().contains("INC-1"));
}

/// Resolve by button and form; the reporter gets the survey by direct
/// message and rates once.
#[sqlx::test]
async fn resolve_form_survey_by_dm_and_rating_once(pool: PgPool) {
    let bot = Bot::start(pool.clone()).await;
    let interaction = FakeDiscord::command_interaction(
        9401,
        "t1",
        "incident",
        create_options("Laptop will not charge", "P3"),
        STAFF,
    );
    bot.fake.dispatch("INTERACTION_CREATE", interaction).await;
    bot.callback(9401).await;
    let card_id = card_message(&bot).await;

    bot.fake
        .dispatch(
            "INTERACTION_CREATE",
            FakeDiscord::button_interaction(9402, "t2", "itsm:resolve|INC-1", card_id, ENGINEER),
        )
        .await;
    let form = bot.callback(9402).await;
    assert_eq!(form["type"], 9, "{form}");
    assert_eq!(form["data"]["custom_id"], "itsm:resolve|INC-1");
    bot.fake
        .dispatch(
            "INTERACTION_CREATE",
            FakeDiscord::modal_interaction(
                9403,
                "t3",
                "itsm:resolve|INC-1",
                &[("resolution", "replaced the adapter")],
                ENGINEER,
            ),
        )
        .await;
    assert!(bot
        .callback(9403)
        .await
        .to_string()
        .contains("INC-1 resolved"));
    assert_eq!(bot.status_of(1).await, "resolved");

    bot.fake
        .wait_for(
            "POST",
            "/users/@me/channels",
            |b| b.to_string().contains(&STAFF.to_string()),
            WAIT,
        )
        .await;
    let survey = bot
        .fake
        .wait_for(
            "POST",
            "/messages",
            |b| b.to_string().contains("itsm:rate_5|INC-1"),
            WAIT,
        )
        .await;
    assert_eq!(custom_ids(&survey).len(), 5);

    bot.fake
        .dispatch(
            "INTERACTION_CREATE",
            FakeDiscord::button_interaction(9404, "t4", "itsm:rate_4|INC-1", 1, STAFF),
        )
        .await;
    assert!(bot.callback(9404).await.to_string().contains("4/5"));
    bot.fake
        .dispatch(
            "INTERACTION_CREATE",
            FakeDiscord::button_interaction(9405, "t5", "itsm:rate_1|INC-1", 1, STAFF),
        )
        .await;
    let again = bot.callback(9405).await.to_string();
    assert!(
        again.contains("already rated") && again.contains("4/5"),
        "{again}"
    );
}

/// Service autocomplete offers the catalog; the context-menu command
/// reports a message.
#[sqlx::test]
async fn autocomplete_and_the_context_menu(pool: PgPool) {
    let bot = Bot::start(pool).await;
    let mut typing = FakeDiscord::command_interaction(
        9501,
        "t1",
        "incident",
        json!([{ "name": "create", "type": 1, "options": [{ "name": "service", "type": 3, "value": "vp", "focused": true }] }]),
        STAFF,
    );
    typing["type"] = json!(4);
    bot.fake.dispatch("INTERACTION_CREATE", typing).await;
    let choices = bot.callback(9501).await;
    assert_eq!(choices["type"], 8);
    assert!(choices.to_string().contains("\"vpn\""), "{choices}");

    let message = FakeDiscord::message_create(
        950_000_000_000_000_010,
        CHANNEL_ID,
        STAFF,
        "Printer on 2nd floor prints blank pages",
    );
    let mut menu =
        FakeDiscord::command_interaction(9502, "t2", "Create incident", Value::Null, ENGINEER);
    menu["data"] = json!({
        "id": "702", "name": "Create incident", "type": 3, "target_id": "950000000000000010",
        "resolved": { "messages": { "950000000000000010": message } }
    });
    bot.fake.dispatch("INTERACTION_CREATE", menu).await;
    let reply = bot.callback(9502).await;
    assert!(reply.to_string().contains("INC-1"), "{reply}");
    assert_eq!(reply["data"]["flags"], 64);
    assert_eq!(bot.count().await, 1);
}

/// The bot token never reaches a log line, even at trace level.
#[sqlx::test]
async fn the_token_never_reaches_the_logs(pool: PgPool) {
    let logs = Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
    let sink = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || LogSink(sink.clone()))
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let bot = Bot::start(pool).await;
    let interaction = FakeDiscord::command_interaction(
        9601,
        "t1",
        "incident",
        create_options("Scanner offline", "P2"),
        STAFF,
    );
    bot.fake.dispatch("INTERACTION_CREATE", interaction).await;
    bot.callback(9601).await;
    bot.fake.drop_connection().await;
    bot.fake.wait_ready(WAIT).await;
    let text = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(
        text.len() > 1_000,
        "the test should capture real logs, got {} bytes",
        text.len()
    );
    assert!(
        !text.contains("discord-test-token"),
        "the token leaked into the logs"
    );
    assert!(bot
        .fake
        .auth_headers()
        .iter()
        .all(|h| h == "Bot discord-test-token"));
}

struct LogSink(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogSink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Text typed into the `ticket` option cannot smuggle in another command.
#[sqlx::test]
async fn the_ticket_option_is_one_reference(pool: PgPool) {
    let bot = Bot::start(pool.clone()).await;
    bot.fake
        .dispatch(
            "INTERACTION_CREATE",
            FakeDiscord::command_interaction(
                9701,
                "t1",
                "incident",
                create_options("Mail down", "P2"),
                STAFF,
            ),
        )
        .await;
    bot.callback(9701).await;
    for (id, verb) in [(9702, "ack"), (9703, "resolve")] {
        let options = json!([{ "name": verb, "type": 1, "options": [{ "name": "ticket", "type": 3, "value": "INC-1 resolve done" }] }]);
        bot.fake
            .dispatch(
                "INTERACTION_CREATE",
                FakeDiscord::command_interaction(id, "t", "incident", options, ENGINEER),
            )
            .await;
        let refusal = bot.callback(id).await;
        assert_eq!(refusal["data"]["flags"], 64, "{refusal}");
        assert!(
            refusal.to_string().contains("not a ticket reference"),
            "{refusal}"
        );
    }
    assert_eq!(bot.status_of(1).await, "new");
}

#![allow(dead_code)] // Each test uses a different subset of the helpers.

//! A fake Discord, for the Discord integration tests.
//!
//! [`FakeDiscord::start`] serves two things on one `127.0.0.1` port, and the real
//! serenity 0.12.5 client runs against them:
//!
//! * **REST** under `/api/v10/...`. The bot points serenity at it with
//!   `HttpBuilder::new(token).proxy(fake.base_url()).ratelimiter_disabled(true)`
//!   (serenity's rate limiter ignores the proxy, so it must be off in tests).
//!   Every call is recorded ([`FakeDiscord::calls`], [`FakeDiscord::auth_headers`]).
//!   The routes the bot uses answer with JSON serenity 0.12.5 deserializes:
//!   gateway discovery, the current user and application, command registration
//!   (bulk `PUT` and single `POST`, global and per guild), interaction callbacks
//!   (`204`), interaction webhooks (`@original` edits and follow-ups), channel
//!   messages (send, edit, get, delete), reactions by the bot, threads and DM
//!   channels. Anything else is recorded and answers
//!   `404 {"message":"Unknown","code":0}`. An interaction response that
//!   breaks Discord's documented limits on modals and select menus (see
//!   `check_callback`) answers `400 Invalid Form Body` (code 50035).
//!   **Rate limits** are enforced as Discord documents them, in one table
//!   ([`ROUTE_LIMITS`] and [`GLOBAL_LIMIT`]): fixed-window buckets announced
//!   in `X-RateLimit-Limit`, `-Remaining`, `-Reset-After` and `-Bucket`; a
//!   request over a limit answers 429 with `Retry-After` and
//!   `{"message":"You are being rate limited.","retry_after":<s>,"global":<bool>}`
//!   and is counted ([`FakeDiscord::rate_limited`]).
//! * **The gateway** on the WebSocket endpoint `/gw` (what `GET /api/v10/gateway`
//!   hands out). It greets with HELLO, answers IDENTIFY with READY and one
//!   GUILD_CREATE, heartbeats with heartbeat ACKs, and RESUME with RESUMED (nothing
//!   is replayed). An IDENTIFY whose token lacks the `Bot ` prefix gets close
//!   code 4004 (authentication failed). Tests push events with
//!   [`FakeDiscord::dispatch`] and cut the connection with
//!   [`FakeDiscord::drop_connection`] (serenity then resumes).
//!
//! The fake keeps a small message store, so that what the bot reads back is what
//! was written: messages the bot sends or edits, interaction responses, and
//! messages the test dispatches with `MESSAGE_CREATE`.
//!
//! The server lives as long as any clone of the [`FakeDiscord`] handle: dropping
//! the last clone stops accepting connections and cuts the gateway connection.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};
use tokio::task::{AbortHandle, JoinHandle};
use tokio::time::Instant;

/// The application id (READY's `application.id`; commands and webhooks live under it).
pub const APP_ID: u64 = 800_000_000_000_000_001;
/// The bot user id (READY's `user.id`; author of the messages the bot sends).
pub const BOT_ID: u64 = 800_000_000_000_000_002;
/// The one guild the bot is in.
pub const GUILD_ID: u64 = 810_000_000_000_000_001;
/// A text channel in [`GUILD_ID`].
pub const CHANNEL_ID: u64 = 820_000_000_000_000_001;

/// The bot user's name.
const BOT_NAME: &str = "itsm-bot";
/// Name of [`CHANNEL_ID`].
const CHANNEL_NAME: &str = "incidents";
/// Author of a message that `GET /channels/{c}/messages/{id}` has to make up.
const UNKNOWN_AUTHOR_ID: u64 = 830_000_000_000_000_001;
/// The command id put into [`FakeDiscord::command_interaction`] payloads.
const INTERACTION_COMMAND_ID: u64 = 850_000_000_000_000_001;
/// First id handed out for messages (channel messages, interaction responses, follow-ups).
const FIRST_MESSAGE_ID: u64 = 900_000_000_000_000_001;
/// First id handed out for channels (threads, DM channels).
const FIRST_CHANNEL_ID: u64 = 930_000_000_000_000_001;
/// First id handed out for registered application commands.
const FIRST_COMMAND_ID: u64 = 940_000_000_000_000_001;
/// Every timestamp the fake writes.
const TIMESTAMP: &str = "2025-01-01T00:00:00Z";
/// HELLO's `heartbeat_interval`, in milliseconds.
const HEARTBEAT_INTERVAL_MS: u64 = 45_000;

/// One documented per-route limit: `limit` requests per `per`, counted per
/// top-level resource (the channel in the path), as Discord's buckets are.
struct RouteLimit {
    method: &'static str,
    /// The path under `/api/v10/` with `{}` for the channel id.
    route: &'static str,
    /// The `X-RateLimit-Bucket` name.
    bucket: &'static str,
    limit: u32,
    per: Duration,
}

/// The route limits this fake enforces. Discord publishes no figures per
/// route (clients read the headers); creating messages in a channel is
/// commonly limited to 5 per 5 seconds, which is what the fake holds the
/// bot to. Other routes count only against [`GLOBAL_LIMIT`]. Interaction
/// callbacks and interaction webhooks are not limited here: Discord does
/// not count them against the global limit, and their own limits are per
/// interaction token, far above what one reply uses.
const ROUTE_LIMITS: &[RouteLimit] = &[RouteLimit {
    method: "POST",
    route: "channels/{}/messages",
    bucket: "channel-messages",
    limit: 5,
    per: Duration::from_secs(5),
}];

/// The documented global limit: 50 requests per second per bot.
const GLOBAL_LIMIT: (u32, Duration) = (50, Duration::from_secs(1));

/// A fixed-window bucket, as Discord announces them: `limit` requests, then
/// none until the window that began with the first of them has passed.
struct Window {
    limit: u32,
    per: Duration,
    started: Instant,
    used: u32,
}

impl Window {
    fn new(limit: u32, per: Duration) -> Self {
        Window {
            limit,
            per,
            started: Instant::now(),
            used: 0,
        }
    }

    /// Takes one request at `now`: `Ok(remaining)`, or `Err(wait)`.
    fn take(&mut self, now: Instant) -> Result<u32, Duration> {
        if now >= self.started + self.per {
            self.started = now;
            self.used = 0;
        }
        if self.used >= self.limit {
            return Err(self.started + self.per - now);
        }
        self.used += 1;
        Ok(self.limit - self.used)
    }

    fn reset_after(&self, now: Instant) -> Duration {
        (self.started + self.per).saturating_duration_since(now)
    }
}

/// The state of every bucket.
#[derive(Default)]
struct Buckets {
    global: Option<Window>,
    /// By `bucket:channel`.
    routes: HashMap<String, Window>,
}

/// What the limits said about one request.
enum Verdict {
    /// Not limited by a route bucket (the global limit may still apply).
    Free,
    /// Within its bucket: the headers to answer with.
    Within(Vec<(&'static str, String)>),
    /// Over a limit: the 429 to answer with.
    Limited(Response),
}

/// How often the `wait_*` helpers look at the recorded state.
const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// How long [`FakeDiscord::dispatch`] and [`FakeDiscord::drop_connection`] wait for
/// a ready gateway connection (e.g. while the client is resuming) before panicking.
const CONNECTION_WAIT: Duration = Duration::from_secs(10);

/// Handle on a running fake Discord. Cheap to clone; all clones share one server.
#[derive(Clone)]
pub struct FakeDiscord {
    inner: Arc<Inner>,
}

/// Owned by the handles only (not by the server tasks), so that dropping the last
/// handle runs [`Inner::drop`] and stops the server.
struct Inner {
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.server.abort();
        if let Some(conn) = lock(&self.shared.gateway).take() {
            conn.task.abort();
        }
    }
}

/// State shared by the handles, the REST handler and the gateway task.
struct Shared {
    port: u16,
    next_message: AtomicU64,
    next_channel: AtomicU64,
    next_command: AtomicU64,
    next_conn: AtomicU64,
    next_session: AtomicU64,
    /// Last sequence number sent in the current gateway session.
    seq: AtomicU64,
    identifies: AtomicUsize,
    resumes: AtomicUsize,
    /// Gateway connections still open when a newer one came (and cut by it).
    displaced: AtomicUsize,
    data: Mutex<Data>,
    /// The rate-limit buckets.
    buckets: Mutex<Buckets>,
    /// 429s the limits answered.
    rate_limited: AtomicUsize,
    /// The open gateway connection, if any (serenity runs one shard).
    gateway: Mutex<Option<Conn>>,
}

#[derive(Default)]
struct Data {
    /// Every REST call: (method, path, JSON body or null), oldest first.
    calls: Vec<(String, String, Value)>,
    /// The `Authorization` header of every REST call (`""` when missing).
    auth: Vec<String>,
    /// Messages by id, as the Message objects the REST routes return.
    messages: HashMap<u64, Value>,
    /// Channels created through REST (threads, DMs), by id.
    channels: HashMap<u64, Value>,
    /// DM channel id by recipient, so that a user always gets the same DM channel.
    dms: HashMap<u64, u64>,
    /// Dispatched interactions by token: (channel id, id of the component's message).
    interactions: HashMap<String, (u64, Option<u64>)>,
    /// Message id of each interaction's original response, by token.
    originals: HashMap<String, u64>,
}

/// The open gateway connection.
struct Conn {
    id: u64,
    /// Commands for the task that owns the socket.
    outgoing: mpsc::UnboundedSender<Outgoing>,
    task: AbortHandle,
    /// READY + GUILD_CREATE (after IDENTIFY) or RESUMED (after RESUME) were written.
    ready: bool,
}

enum Outgoing {
    /// Write a dispatch (op 0); `written` gets its sequence number once it is written.
    Dispatch {
        event: String,
        data: Value,
        written: oneshot::Sender<u64>,
    },
    /// Drop the socket without a close frame; `done` fires once it is dropped.
    Drop { done: oneshot::Sender<()> },
}

/// Locks a mutex, ignoring poisoning: a panicking test thread must not turn every
/// later call into a confusing `PoisonError`.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl FakeDiscord {
    /// Binds `127.0.0.1:0`, serves REST at `/api/v10/...` and the gateway at `/gw`
    /// until the last handle is dropped. The server runs on the current tokio runtime.
    pub async fn start() -> FakeDiscord {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("fake Discord: bind 127.0.0.1:0");
        let port = listener
            .local_addr()
            .expect("fake Discord: local address of the bound listener")
            .port();
        let shared = Arc::new(Shared {
            port,
            next_message: AtomicU64::new(FIRST_MESSAGE_ID),
            next_channel: AtomicU64::new(FIRST_CHANNEL_ID),
            next_command: AtomicU64::new(FIRST_COMMAND_ID),
            next_conn: AtomicU64::new(0),
            next_session: AtomicU64::new(0),
            seq: AtomicU64::new(0),
            identifies: AtomicUsize::new(0),
            displaced: AtomicUsize::new(0),
            resumes: AtomicUsize::new(0),
            data: Mutex::new(Data::default()),
            buckets: Mutex::new(Buckets::default()),
            rate_limited: AtomicUsize::new(0),
            gateway: Mutex::new(None),
        });
        let app = Router::new()
            .route("/gw", get(gateway_upgrade))
            .fallback(rest)
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, app).await {
                eprintln!("fake Discord: server stopped: {err}");
            }
        });
        FakeDiscord {
            inner: Arc::new(Inner { shared, server }),
        }
    }

    fn shared(&self) -> &Shared {
        &self.inner.shared
    }

    /// `http://127.0.0.1:PORT` (no trailing slash): what the bot passes to
    /// `HttpBuilder::proxy`; serenity appends `/api/v10/...`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.shared().port)
    }

    /// `ws://127.0.0.1:PORT/gw`: the gateway URL `GET /api/v10/gateway` hands out.
    pub fn gateway_url(&self) -> String {
        self.shared().gateway_url()
    }

    /// How many requests the fake answered 429 because they went over a
    /// documented limit ([`ROUTE_LIMITS`], [`GLOBAL_LIMIT`]).
    pub fn rate_limited(&self) -> usize {
        self.shared().rate_limited.load(Ordering::SeqCst)
    }

    /// Every REST call recorded, oldest first, as (method, path without the query and
    /// percent-decoded, e.g. `/api/v10/channels/1/messages/2/reactions/👀/@me`, JSON
    /// body or `Value::Null` when the body was empty or not JSON).
    pub fn calls(&self) -> Vec<(String, String, Value)> {
        lock(&self.shared().data).calls.clone()
    }

    /// Waits (polling every 20 ms) until a REST call was recorded whose method is
    /// `method` (case-insensitive), whose path contains `path_contains` and whose
    /// body satisfies `pred`; returns the body of the oldest such call. Panics after
    /// `timeout`, listing the recorded calls.
    pub async fn wait_for(
        &self,
        method: &str,
        path_contains: &str,
        pred: impl Fn(&Value) -> bool,
        timeout: Duration,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            {
                let data = lock(&self.shared().data);
                let found = data.calls.iter().find(|(m, p, body)| {
                    m.eq_ignore_ascii_case(method) && p.contains(path_contains) && pred(body)
                });
                if let Some((_, _, body)) = found {
                    return body.clone();
                }
            }
            if Instant::now() >= deadline {
                panic!(
                    "fake Discord: no {method} call matching path {path_contains:?} and the \
                     predicate within {timeout:?}; recorded calls:\n{}",
                    self.describe_calls()
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// The recorded calls, one per line, for panic messages.
    fn describe_calls(&self) -> String {
        let data = lock(&self.shared().data);
        if data.calls.is_empty() {
            return "  (none)".to_string();
        }
        data.calls
            .iter()
            .map(|(m, p, body)| {
                if body.is_null() {
                    format!("  {m} {p}")
                } else {
                    format!("  {m} {p} {body}")
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The `Authorization` header of every REST call, in order (`""` for a call
    /// that had none).
    pub fn auth_headers(&self) -> Vec<String> {
        lock(&self.shared().data).auth.clone()
    }

    /// Waits until the current gateway connection has sent IDENTIFY (or RESUME) and
    /// been answered with READY and GUILD_CREATE (or RESUMED). After
    /// [`FakeDiscord::drop_connection`] this waits for the client's new connection.
    /// Panics after `timeout`.
    pub async fn wait_ready(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.shared().is_ready() {
            if Instant::now() >= deadline {
                panic!(
                    "fake Discord: no ready gateway session within {timeout:?} \
                     ({} IDENTIFY, {} RESUME received; REST calls:\n{})",
                    self.identifies(),
                    self.resumes(),
                    self.describe_calls()
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Whether a gateway connection is open (ready or not).
    pub fn connected(&self) -> bool {
        lock(&self.shared().gateway).is_some()
    }

    /// How many gateway connections were still open when a newer one
    /// connected: recorded by the fake as it happens, so a test need not
    /// catch the moment between one closing and the next opening.
    pub fn displaced(&self) -> usize {
        self.shared().displaced.load(Ordering::SeqCst)
    }

    /// Number of IDENTIFY (op 2) payloads received so far, on any connection.
    pub fn identifies(&self) -> usize {
        self.shared().identifies.load(Ordering::SeqCst)
    }

    /// Number of RESUME (op 6) payloads received so far, on any connection.
    pub fn resumes(&self) -> usize {
        self.shared().resumes.load(Ordering::SeqCst)
    }

    /// Sends `{"op":0,"s":N,"t":event,"d":data}` on the ready gateway connection,
    /// with the session's next sequence number, and returns once it is written.
    /// Waits up to 10 s for a ready connection (e.g. while the client resumes), then
    /// panics.
    ///
    /// `MESSAGE_CREATE` data is also stored, so that the bot can fetch the message
    /// with `GET /channels/{c}/messages/{id}`; `INTERACTION_CREATE` data is
    /// remembered by token, so that interaction responses land in the interaction's
    /// channel (and, for components, on the component's message).
    pub async fn dispatch(&self, event: &str, data: Value) {
        self.shared().note_dispatch(event, &data);
        let deadline = Instant::now() + CONNECTION_WAIT;
        loop {
            let outgoing = lock(&self.shared().gateway)
                .as_ref()
                .filter(|conn| conn.ready)
                .map(|conn| conn.outgoing.clone());
            if let Some(outgoing) = outgoing {
                let (written, was_written) = oneshot::channel();
                let cmd = Outgoing::Dispatch {
                    event: event.to_string(),
                    data: data.clone(),
                    written,
                };
                if outgoing.send(cmd).is_ok() && was_written.await.is_ok() {
                    return;
                }
            }
            if Instant::now() >= deadline {
                panic!(
                    "fake Discord: cannot dispatch {event}: no ready gateway connection \
                     within {CONNECTION_WAIT:?}"
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Drops the gateway connection's socket without a close frame and returns once
    /// it is dropped; the client then reconnects and sends RESUME. Waits up to 10 s
    /// for a ready connection, then panics.
    pub async fn drop_connection(&self) {
        let deadline = Instant::now() + CONNECTION_WAIT;
        loop {
            let conn = {
                let mut slot = lock(&self.shared().gateway);
                if slot.as_ref().is_some_and(|conn| conn.ready) {
                    slot.take()
                } else {
                    None
                }
            };
            if let Some(conn) = conn {
                let (done, dropped) = oneshot::channel();
                if conn.outgoing.send(Outgoing::Drop { done }).is_ok() {
                    // An error means the task already ended, and its socket with it.
                    let _ = dropped.await;
                }
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "fake Discord: no ready gateway connection to drop within {CONNECTION_WAIT:?}"
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// INTERACTION_CREATE data for the chat-input command `/name` with `options` in
    /// Discord's shape (e.g. `[{"name":"create","type":1,"options":[{"name":"title",
    /// "type":3,"value":"..."}]}]`; `null` means none), run by `user_id` (as a
    /// guild `member`) in [`CHANNEL_ID`] of [`GUILD_ID`].
    pub fn command_interaction(
        id: u64,
        token: &str,
        name: &str,
        options: Value,
        user_id: u64,
    ) -> Value {
        let options = if options.is_null() {
            json!([])
        } else {
            options
        };
        let mut interaction = interaction_json(id, 2, token, user_id);
        interaction["data"] = json!({
            "id": INTERACTION_COMMAND_ID.to_string(),
            "name": name,
            "type": 1,
            "guild_id": GUILD_ID.to_string(),
            "options": options,
        });
        interaction
    }

    /// INTERACTION_CREATE data for a click by `user_id` on the button `custom_id` of
    /// message `message_id` (a message of the bot in [`CHANNEL_ID`]).
    pub fn button_interaction(
        id: u64,
        token: &str,
        custom_id: &str,
        message_id: u64,
        user_id: u64,
    ) -> Value {
        let mut interaction = interaction_json(id, 3, token, user_id);
        interaction["data"] = json!({"custom_id": custom_id, "component_type": 2});
        interaction["message"] = message_json(message_id, CHANNEL_ID, bot_user_json(), "");
        interaction
    }

    /// INTERACTION_CREATE data for the submission by `user_id` of the modal
    /// `custom_id`, with one text input per `(input custom_id, value)` pair (one
    /// action row each), in [`CHANNEL_ID`].
    pub fn modal_interaction(
        id: u64,
        token: &str,
        custom_id: &str,
        inputs: &[(&str, &str)],
        user_id: u64,
    ) -> Value {
        let rows: Vec<Value> = inputs
            .iter()
            .map(|(input, value)| {
                json!({"type": 1, "components": [{"type": 4, "custom_id": input, "value": value}]})
            })
            .collect();
        let mut interaction = interaction_json(id, 5, token, user_id);
        interaction["data"] = json!({"custom_id": custom_id, "components": rows});
        interaction
    }

    /// INTERACTION_CREATE data for `user_id` picking `values` in the string
    /// select `custom_id` of message `message_id` (a message of the bot in
    /// [`CHANNEL_ID`]).
    pub fn select_interaction(
        id: u64,
        token: &str,
        custom_id: &str,
        values: &[&str],
        message_id: u64,
        user_id: u64,
    ) -> Value {
        let mut interaction = interaction_json(id, 3, token, user_id);
        interaction["data"] =
            json!({"custom_id": custom_id, "component_type": 3, "values": values});
        interaction["message"] = message_json(message_id, CHANNEL_ID, bot_user_json(), "");
        interaction
    }

    /// MESSAGE_CREATE data: message `id` with `content` by the human `user_id` in
    /// `channel_id` of [`GUILD_ID`] (with `guild_id` and a partial `member`; remove
    /// both for a DM).
    pub fn message_create(id: u64, channel_id: u64, user_id: u64, content: &str) -> Value {
        let mut message = message_json(id, channel_id, user_json(user_id), content);
        message["guild_id"] = json!(GUILD_ID.to_string());
        message["member"] = json!({
            "roles": [], "joined_at": TIMESTAMP, "deaf": false, "mute": false, "flags": 0,
        });
        message
    }

    /// MESSAGE_REACTION_ADD data: `user_id` reacted with the unicode `emoji` to
    /// message `message_id` in [`CHANNEL_ID`] of [`GUILD_ID`].
    pub fn reaction_add(message_id: u64, user_id: u64, emoji: &str) -> Value {
        json!({
            "user_id": user_id.to_string(),
            "channel_id": CHANNEL_ID.to_string(),
            "message_id": message_id.to_string(),
            "guild_id": GUILD_ID.to_string(),
            "member": member_json(user_id),
            "emoji": {"id": null, "name": emoji},
            "burst": false,
            "burst_colors": [],
            "type": 0,
        })
    }
}

impl Shared {
    fn gateway_url(&self) -> String {
        format!("ws://127.0.0.1:{}/gw", self.port)
    }

    fn is_ready(&self) -> bool {
        lock(&self.gateway).as_ref().is_some_and(|conn| conn.ready)
    }

    fn mark_ready(&self, conn_id: u64) {
        if let Some(conn) = lock(&self.gateway)
            .as_mut()
            .filter(|conn| conn.id == conn_id)
        {
            conn.ready = true;
        }
    }

    fn fresh_message_id(&self) -> u64 {
        self.next_message.fetch_add(1, Ordering::SeqCst)
    }

    fn fresh_channel_id(&self) -> u64 {
        self.next_channel.fetch_add(1, Ordering::SeqCst)
    }

    fn fresh_command_id(&self) -> u64 {
        self.next_command.fetch_add(1, Ordering::SeqCst)
    }

    fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Remembers what a dispatched event tells the REST side.
    fn note_dispatch(&self, event: &str, data: &Value) {
        let mut store = lock(&self.data);
        match event {
            "MESSAGE_CREATE" => {
                if let Some(id) = snowflake(&data["id"]) {
                    store.messages.insert(id, data.clone());
                }
            }
            "INTERACTION_CREATE" => {
                if let Some(token) = data["token"].as_str() {
                    let channel = snowflake(&data["channel_id"]).unwrap_or(CHANNEL_ID);
                    let message = snowflake(&data["message"]["id"]);
                    if let Some(message_id) = message {
                        store
                            .messages
                            .entry(message_id)
                            .or_insert_with(|| data["message"].clone());
                    }
                    store
                        .interactions
                        .insert(token.to_string(), (channel, message));
                }
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------
// REST

/// Handles every request that is not the gateway upgrade.
async fn rest(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = percent_decode(uri.path());
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let auth = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_string();
    {
        let mut data = lock(&shared.data);
        data.calls
            .push((method.as_str().to_string(), path.clone(), body.clone()));
        data.auth.push(auth);
    }
    let segments: Vec<&str> = match path.strip_prefix("/api/v10/") {
        Some(rest) => rest.split('/').collect(),
        None => return not_found(),
    };
    let headers = match limit(&shared, method.as_str(), &segments) {
        Verdict::Limited(response) => {
            shared.rate_limited.fetch_add(1, Ordering::SeqCst);
            return response;
        }
        Verdict::Within(headers) => headers,
        Verdict::Free => Vec::new(),
    };
    let mut response = route(&shared, method.as_str(), &segments, &body);
    for (name, value) in headers {
        if let Ok(value) = axum::http::HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// Applies [`GLOBAL_LIMIT`] and [`ROUTE_LIMITS`] to one request.
fn limit(shared: &Shared, method: &str, segments: &[&str]) -> Verdict {
    let now = Instant::now();
    let mut buckets = lock(&shared.buckets);
    // Interaction endpoints are not bound by the global limit.
    let interaction = matches!(segments.first(), Some(&"interactions" | &"webhooks"));
    let route = ROUTE_LIMITS.iter().find_map(|limit| {
        let pattern: Vec<&str> = limit.route.split('/').collect();
        let mut channel = None;
        let fits = limit.method == method
            && pattern.len() == segments.len()
            && pattern.iter().zip(segments).all(|(want, got)| {
                if *want == "{}" {
                    channel = Some(got.to_string());
                    true
                } else {
                    want == got
                }
            });
        fits.then(|| (limit, channel.unwrap_or_default()))
    });
    // Check both before taking from either, so a refused request uses up
    // nothing.
    if !interaction {
        let global = buckets
            .global
            .get_or_insert_with(|| Window::new(GLOBAL_LIMIT.0, GLOBAL_LIMIT.1));
        if now >= global.started + global.per {
            global.started = now;
            global.used = 0;
        }
        if global.used >= global.limit {
            let wait = global.reset_after(now);
            return Verdict::Limited(too_many(wait, "global", GLOBAL_LIMIT.0, true));
        }
    }
    let mut headers = Vec::new();
    if let Some((limit, channel)) = route {
        let window = buckets
            .routes
            .entry(format!("{}:{channel}", limit.bucket))
            .or_insert_with(|| Window::new(limit.limit, limit.per));
        match window.take(now) {
            Err(wait) => return Verdict::Limited(too_many(wait, limit.bucket, limit.limit, false)),
            Ok(remaining) => {
                let reset = window.reset_after(now);
                headers = vec![
                    ("x-ratelimit-limit", limit.limit.to_string()),
                    ("x-ratelimit-remaining", remaining.to_string()),
                    (
                        "x-ratelimit-reset-after",
                        format!("{:.3}", reset.as_secs_f64()),
                    ),
                    ("x-ratelimit-bucket", limit.bucket.to_string()),
                ];
            }
        }
    }
    if !interaction {
        if let Some(global) = buckets.global.as_mut() {
            global.used += 1;
        }
    }
    if headers.is_empty() {
        Verdict::Free
    } else {
        Verdict::Within(headers)
    }
}

/// Discord's 429: `Retry-After` (whole seconds, rounded up), the bucket's
/// headers and the JSON body with `retry_after` in (fractional) seconds.
fn too_many(wait: Duration, bucket: &str, limit: u32, global: bool) -> Response {
    let secs = wait.as_secs_f64();
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        Json(json!({
            "message": "You are being rate limited.",
            "retry_after": secs,
            "global": global,
        })),
    )
        .into_response();
    let whole = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
    let mut headers = vec![
        ("retry-after", whole.to_string()),
        ("x-ratelimit-limit", limit.to_string()),
        ("x-ratelimit-remaining", "0".to_string()),
        ("x-ratelimit-reset-after", format!("{secs:.3}")),
        ("x-ratelimit-bucket", bucket.to_string()),
        (
            "x-ratelimit-scope",
            if global { "global" } else { "user" }.to_string(),
        ),
    ];
    if global {
        headers.push(("x-ratelimit-global", "true".to_string()));
    }
    for (name, value) in headers {
        if let Ok(value) = axum::http::HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// Decodes `%XX` escapes (reaction emoji are sent percent-encoded in the path).
fn percent_decode(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn ok(value: Value) -> Response {
    (StatusCode::OK, Json(value)).into_response()
}

/// Discord's answer to a body that breaks its documented limits.
fn invalid_form_body(why: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"message": "Invalid Form Body", "code": 50035, "errors": {"_errors": [{"code": "BASE_TYPE_INVALID", "message": why}]}})),
    )
        .into_response()
}

/// Discord's documented limits on an interaction response's forms and
/// menus: a modal (type 9) has a custom id of at most 100 characters, a
/// title of 1 to 45, and 1 to 5 action rows of one text input each (label
/// at most 45, custom id and placeholder at most 100, value at most 4,000);
/// a message's string select (component type 3) has 1 to 25 options whose
/// label, value and description are at most 100 characters.
fn check_callback(body: &Value) -> Result<(), String> {
    let chars = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
    let data = &body["data"];
    let rows = data["components"].as_array().cloned().unwrap_or_default();
    if body["type"] == 9 {
        if chars(&data["custom_id"]) == 0 || chars(&data["custom_id"]) > 100 {
            return Err("modal custom_id must be 1 to 100 characters".into());
        }
        if !(1..=45).contains(&chars(&data["title"])) {
            return Err("modal title must be 1 to 45 characters".into());
        }
        if !(1..=5).contains(&rows.len()) {
            return Err("a modal has 1 to 5 action rows".into());
        }
        for row in &rows {
            let inputs = row["components"].as_array().cloned().unwrap_or_default();
            let [input] = inputs.as_slice() else {
                return Err("each modal row holds one text input".into());
            };
            if input["type"] != 4
                || !(1..=45).contains(&chars(&input["label"]))
                || !(1..=100).contains(&chars(&input["custom_id"]))
                || chars(&input["placeholder"]) > 100
                || chars(&input["value"]) > 4000
            {
                return Err(format!("text input out of limits: {input}"));
            }
        }
        return Ok(());
    }
    for component in rows
        .iter()
        .flat_map(|row| row["components"].as_array().cloned().unwrap_or_default())
    {
        if component["type"] == 3 {
            let options = component["options"].as_array().cloned().unwrap_or_default();
            if !(1..=25).contains(&options.len())
                || options.iter().any(|o| {
                    !(1..=100).contains(&chars(&o["label"]))
                        || !(1..=100).contains(&chars(&o["value"]))
                        || chars(&o["description"]) > 100
                })
            {
                return Err("a string select has 1 to 25 options of at most 100 characters".into());
            }
        }
    }
    Ok(())
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"message": "Unknown", "code": 0})),
    )
        .into_response()
}

fn route(shared: &Shared, method: &str, segments: &[&str], body: &Value) -> Response {
    match (method, segments) {
        ("GET", ["gateway"]) => ok(json!({"url": shared.gateway_url()})),
        ("GET", ["gateway", "bot"]) => ok(json!({
            "url": shared.gateway_url(),
            "shards": 1,
            "session_start_limit": {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1},
        })),
        ("GET", ["oauth2", "applications", "@me"]) => ok(json!({
            "id": APP_ID.to_string(),
            "name": BOT_NAME,
            "icon": null,
            "description": "",
            "bot_public": false,
            "bot_require_code_grant": false,
            "verify_key": "00",
            "flags": 0,
        })),
        ("GET", ["users", "@me"]) => ok(bot_user_json()),
        ("GET", ["users", user]) => match snowflake_str(user) {
            Some(BOT_ID) => ok(bot_user_json()),
            Some(id) => ok(user_json(id)),
            None => not_found(),
        },
        ("POST", ["users", "@me", "channels"]) => {
            let Some(recipient) = snowflake(&body["recipient_id"]) else {
                return not_found();
            };
            ok(dm_channel(shared, recipient))
        }

        // Application commands.
        ("PUT", ["applications", _, "commands"]) => ok(command_list(shared, body, None)),
        ("POST", ["applications", _, "commands"]) => ok(command_object(shared, body, None)),
        ("PUT", ["applications", _, "guilds", guild, "commands"]) => {
            ok(command_list(shared, body, Some(guild)))
        }
        ("POST", ["applications", _, "guilds", guild, "commands"]) => {
            ok(command_object(shared, body, Some(guild)))
        }

        // Interactions.
        ("POST", ["interactions", _, token, "callback"]) => {
            if let Err(why) = check_callback(body) {
                return invalid_form_body(&why);
            }
            interaction_callback(shared, token, body);
            no_content()
        }
        ("POST", ["webhooks", _, token]) => {
            let (channel, _) = interaction_target(shared, token);
            let id = shared.fresh_message_id();
            let mut message = bot_message(id, channel);
            apply_edit(&mut message, body);
            ok(store_message(shared, id, message))
        }
        (method @ ("GET" | "PATCH" | "DELETE"), ["webhooks", _, token, "messages", which]) => {
            let id = if *which == "@original" {
                original_id(shared, token)
            } else {
                match snowflake_str(which) {
                    Some(id) => id,
                    None => return not_found(),
                }
            };
            let (channel, _) = interaction_target(shared, token);
            match method {
                "DELETE" => {
                    lock(&shared.data).messages.remove(&id);
                    no_content()
                }
                "GET" => ok(stored_or(shared, id, || bot_message(id, channel))),
                _ => ok(edit_message(shared, id, body, || bot_message(id, channel))),
            }
        }

        // Channels and messages.
        ("GET", ["channels", channel]) => match snowflake_str(channel) {
            Some(CHANNEL_ID) => ok(text_channel_json()),
            Some(id) => match lock(&shared.data).channels.get(&id) {
                Some(channel) => ok(channel.clone()),
                None => not_found(),
            },
            None => not_found(),
        },
        ("POST", ["channels", channel, "messages"]) => {
            let Some(channel) = snowflake_str(channel) else {
                return not_found();
            };
            let id = shared.fresh_message_id();
            let mut message = bot_message(id, channel);
            apply_edit(&mut message, body);
            ok(store_message(shared, id, message))
        }
        (method @ ("GET" | "PATCH" | "DELETE"), ["channels", channel, "messages", message]) => {
            let (Some(channel), Some(id)) = (snowflake_str(channel), snowflake_str(message)) else {
                return not_found();
            };
            match method {
                "DELETE" => {
                    lock(&shared.data).messages.remove(&id);
                    no_content()
                }
                "GET" => ok(stored_or(shared, id, || {
                    message_json(id, channel, user_json(UNKNOWN_AUTHOR_ID), "")
                })),
                _ => ok(edit_message(shared, id, body, || bot_message(id, channel))),
            }
        }
        ("PUT" | "DELETE", ["channels", _, "messages", _, "reactions", _, "@me"]) => no_content(),
        ("POST", ["channels", channel, "messages", _, "threads"])
        | ("POST", ["channels", channel, "threads"]) => {
            let Some(parent) = snowflake_str(channel) else {
                return not_found();
            };
            ok(thread_channel(shared, parent, body))
        }

        _ => not_found(),
    }
}

/// Parses a snowflake given as a JSON string or number.
fn snowflake(value: &Value) -> Option<u64> {
    match value {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

fn snowflake_str(s: &str) -> Option<u64> {
    s.parse().ok()
}

/// The reply to a bulk overwrite: one full command object per command sent.
fn command_list(shared: &Shared, body: &Value, guild: Option<&str>) -> Value {
    let commands = body.as_array().cloned().unwrap_or_default();
    Value::Array(
        commands
            .iter()
            .map(|c| command_object(shared, c, guild))
            .collect(),
    )
}

/// A command object as Discord returns it: the request plus `id`,
/// `application_id`, `version`, `type` (default 1), `description` (default "")
/// and, for guild commands, `guild_id`.
fn command_object(shared: &Shared, sent: &Value, guild: Option<&str>) -> Value {
    let mut command = match sent {
        Value::Object(map) => map.clone(),
        _ => serde_json::Map::new(),
    };
    command.insert("id".into(), json!(shared.fresh_command_id().to_string()));
    command.insert("application_id".into(), json!(APP_ID.to_string()));
    command.insert("version".into(), json!("1"));
    for (key, default) in [
        ("type", json!(1)),
        ("description", json!("")),
        ("name", json!("")),
        ("default_member_permissions", Value::Null),
    ] {
        if command.get(key).is_none_or(Value::is_null) {
            command.insert(key.into(), default);
        }
    }
    if let Some(guild) = guild {
        command.insert("guild_id".into(), json!(guild));
    }
    Value::Object(command)
}

/// The channel of the interaction with this token and, for a component
/// interaction, its message ([`CHANNEL_ID`] and none when it was not dispatched).
fn interaction_target(shared: &Shared, token: &str) -> (u64, Option<u64>) {
    lock(&shared.data)
        .interactions
        .get(token)
        .copied()
        .unwrap_or((CHANNEL_ID, None))
}

/// The id of the original response of the interaction with this token (made up
/// on first use).
fn original_id(shared: &Shared, token: &str) -> u64 {
    if let Some(id) = lock(&shared.data).originals.get(token) {
        return *id;
    }
    let (_, component_message) = interaction_target(shared, token);
    let id = component_message.unwrap_or_else(|| shared.fresh_message_id());
    *lock(&shared.data)
        .originals
        .entry(token.to_string())
        .or_insert(id)
}

/// Keeps the message store in step with an interaction callback.
fn interaction_callback(shared: &Shared, token: &str, body: &Value) {
    let (channel, component_message) = interaction_target(shared, token);
    let data = &body["data"];
    match body["type"].as_u64() {
        // Message / deferred message: a new original response.
        Some(4) | Some(5) => {
            let id = shared.fresh_message_id();
            let mut message = bot_message(id, channel);
            apply_edit(&mut message, data);
            store_message(shared, id, message);
            lock(&shared.data).originals.insert(token.to_string(), id);
        }
        // Deferred update / update message: the component's message is the original.
        Some(6) | Some(7) => {
            if let Some(id) = component_message {
                lock(&shared.data).originals.insert(token.to_string(), id);
                if body["type"].as_u64() == Some(7) {
                    edit_message(shared, id, data, || bot_message(id, channel));
                }
            }
        }
        _ => {}
    }
}

/// An empty message of the bot (sent through REST, so without `guild_id`).
fn bot_message(id: u64, channel_id: u64) -> Value {
    message_json(id, channel_id, bot_user_json(), "")
}

/// Copies what a send/edit body sets (content, embeds, components, flags) into a message.
fn apply_edit(message: &mut Value, body: &Value) {
    for key in ["content", "embeds", "components", "flags"] {
        if let Some(value) = body.get(key).filter(|v| !v.is_null()) {
            message[key] = value.clone();
        }
    }
}

fn store_message(shared: &Shared, id: u64, message: Value) -> Value {
    lock(&shared.data).messages.insert(id, message.clone());
    message
}

fn stored_or(shared: &Shared, id: u64, make: impl FnOnce() -> Value) -> Value {
    lock(&shared.data)
        .messages
        .get(&id)
        .cloned()
        .unwrap_or_else(make)
}

/// Applies an edit to a stored (or made-up) message and returns the result.
fn edit_message(shared: &Shared, id: u64, body: &Value, make: impl FnOnce() -> Value) -> Value {
    let mut data = lock(&shared.data);
    let message = data.messages.entry(id).or_insert_with(make);
    apply_edit(message, body);
    message["edited_timestamp"] = json!(TIMESTAMP);
    message.clone()
}

fn thread_channel(shared: &Shared, parent: u64, body: &Value) -> Value {
    let id = shared.fresh_channel_id();
    let name = body["name"].as_str().unwrap_or("thread");
    let kind = body["type"].as_u64().unwrap_or(11);
    let thread = json!({
        "id": id.to_string(),
        "type": kind,
        "guild_id": GUILD_ID.to_string(),
        "name": name,
        "parent_id": parent.to_string(),
        "owner_id": BOT_ID.to_string(),
        "message_count": 0,
        "member_count": 1,
        "thread_metadata": {
            "archived": false,
            "auto_archive_duration": body["auto_archive_duration"].as_u64().unwrap_or(1440),
            "archive_timestamp": TIMESTAMP,
            "locked": false,
        },
    });
    lock(&shared.data).channels.insert(id, thread.clone());
    thread
}

/// The DM channel with `recipient` (the same one on every call).
fn dm_channel(shared: &Shared, recipient: u64) -> Value {
    let mut data = lock(&shared.data);
    if let Some(id) = data.dms.get(&recipient) {
        if let Some(channel) = data.channels.get(id) {
            return channel.clone();
        }
    }
    let id = shared.fresh_channel_id();
    let channel = json!({
        "id": id.to_string(),
        "type": 1,
        "last_message_id": null,
        "recipients": [user_json(recipient)],
    });
    data.dms.insert(recipient, id);
    data.channels.insert(id, channel.clone());
    channel
}

// ---------------------------------------------------------------------------
// Gateway

async fn gateway_upgrade(State(shared): State<Arc<Shared>>, ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |socket| async move {
        let (outgoing, commands) = mpsc::unbounded_channel();
        let id = shared.next_conn.fetch_add(1, Ordering::SeqCst) + 1;
        // Registered before the task can look itself up (the lock is held while spawning).
        let task = {
            let mut slot = lock(&shared.gateway);
            let task = tokio::spawn(run_connection(shared.clone(), id, socket, commands));
            let conn = Conn {
                id,
                outgoing,
                task: task.abort_handle(),
                ready: false,
            };
            if let Some(old) = slot.replace(conn) {
                shared.displaced.fetch_add(1, Ordering::SeqCst);
                old.task.abort();
            }
            task
        };
        let _ = task.await;
        let mut slot = lock(&shared.gateway);
        if slot.as_ref().is_some_and(|conn| conn.id == id) {
            *slot = None;
        }
    })
}

fn text_frame(value: Value) -> WsMessage {
    WsMessage::Text(value.to_string().into())
}

/// Serves one gateway connection until the client goes away or the test drops it.
async fn run_connection(
    shared: Arc<Shared>,
    conn_id: u64,
    socket: WebSocket,
    mut commands: mpsc::UnboundedReceiver<Outgoing>,
) {
    let (mut sink, mut stream) = socket.split();
    let hello = json!({"op": 10, "d": {"heartbeat_interval": HEARTBEAT_INTERVAL_MS}});
    if sink.send(text_frame(hello)).await.is_err() {
        return;
    }
    loop {
        tokio::select! {
            frame = stream.next() => {
                let payload: Value = match frame {
                    Some(Ok(WsMessage::Text(text))) => match serde_json::from_str(text.as_str()) {
                        Ok(payload) => payload,
                        Err(_) => continue,
                    },
                    Some(Ok(WsMessage::Binary(bytes))) => match serde_json::from_slice(&bytes) {
                        Ok(payload) => payload,
                        Err(_) => continue,
                    },
                    Some(Ok(WsMessage::Close(_))) | Some(Err(_)) | None => return,
                    Some(Ok(_)) => continue,
                };
                let frames = match payload["op"].as_u64() {
                    Some(1) => vec![json!({"op": 11})],
                    Some(2) => {
                        shared.identifies.fetch_add(1, Ordering::SeqCst);
                        let token = payload["d"]["token"].as_str().unwrap_or("");
                        if !token.starts_with("Bot ") {
                            let close = CloseFrame { code: 4004, reason: "Authentication failed.".into() };
                            let _ = sink.send(WsMessage::Close(Some(close))).await;
                            return;
                        }
                        let session = shared.next_session.fetch_add(1, Ordering::SeqCst) + 1;
                        shared.seq.store(0, Ordering::SeqCst); // a new session starts at s = 1
                        vec![
                            dispatch_frame(shared.next_seq(), "READY", ready_json(&shared, session)),
                            dispatch_frame(shared.next_seq(), "GUILD_CREATE", guild_json()),
                        ]
                    }
                    Some(6) => {
                        shared.resumes.fetch_add(1, Ordering::SeqCst);
                        vec![dispatch_frame(shared.next_seq(), "RESUMED", json!({}))]
                    }
                    _ => vec![],
                };
                let session_started = matches!(payload["op"].as_u64(), Some(2) | Some(6));
                for frame in frames {
                    if sink.send(text_frame(frame)).await.is_err() {
                        return;
                    }
                }
                if session_started {
                    shared.mark_ready(conn_id);
                }
            }
            command = commands.recv() => match command {
                None => return,
                Some(Outgoing::Dispatch { event, data, written }) => {
                    let seq = shared.next_seq();
                    if sink.send(text_frame(dispatch_frame(seq, &event, data))).await.is_err() {
                        return;
                    }
                    let _ = written.send(seq);
                }
                Some(Outgoing::Drop { done }) => {
                    // Dropping both halves drops the socket: TCP closes, no close frame.
                    drop(sink);
                    drop(stream);
                    let _ = done.send(());
                    return;
                }
            },
        }
    }
}

fn dispatch_frame(seq: u64, event: &str, data: Value) -> Value {
    json!({"op": 0, "s": seq, "t": event, "d": data})
}

fn ready_json(shared: &Shared, session: u64) -> Value {
    json!({
        "v": 10,
        "user": bot_user_json(),
        "guilds": [{"id": GUILD_ID.to_string(), "unavailable": true}],
        "session_id": format!("fake-session-{session}"),
        "resume_gateway_url": shared.gateway_url(),
        "shard": [0, 1],
        "application": {"id": APP_ID.to_string(), "flags": 0},
    })
}

/// GUILD_CREATE data: [`GUILD_ID`] with [`CHANNEL_ID`] as its only channel. The bot
/// is not among the members, so serenity's cache skips its permission checks.
fn guild_json() -> Value {
    json!({
        "id": GUILD_ID.to_string(),
        "name": "ACME",
        "owner_id": UNKNOWN_AUTHOR_ID.to_string(),
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "roles": [],
        "emojis": [],
        "features": [],
        "mfa_level": 0,
        "system_channel_flags": 0,
        "vanity_url_code": null,
        "premium_tier": 0,
        "preferred_locale": "en-US",
        "nsfw_level": 0,
        "premium_progress_bar_enabled": false,
        "joined_at": TIMESTAMP,
        "large": false,
        "unavailable": false,
        "member_count": 2,
        "members": [],
        "channels": [text_channel_json()],
        "threads": [],
        "voice_states": [],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "stickers": [],
    })
}

// ---------------------------------------------------------------------------
// JSON shapes shared by REST and the gateway

fn text_channel_json() -> Value {
    json!({
        "id": CHANNEL_ID.to_string(),
        "type": 0,
        "guild_id": GUILD_ID.to_string(),
        "name": CHANNEL_NAME,
        "position": 0,
        "permission_overwrites": [],
        "nsfw": false,
    })
}

fn bot_user_json() -> Value {
    json!({
        "id": BOT_ID.to_string(),
        "username": BOT_NAME,
        "global_name": null,
        "discriminator": "0",
        "avatar": null,
        "bot": true,
    })
}

/// A human user: `user{id}`.
fn user_json(id: u64) -> Value {
    json!({
        "id": id.to_string(),
        "username": format!("user{id}"),
        "global_name": null,
        "discriminator": "0",
        "avatar": null,
        "bot": false,
    })
}

/// A guild member (with its user), as in interactions and reactions.
fn member_json(user_id: u64) -> Value {
    json!({
        "user": user_json(user_id),
        "roles": [],
        "joined_at": TIMESTAMP,
        "deaf": false,
        "mute": false,
        "flags": 0,
    })
}

/// A Message object with every field serenity requires.
fn message_json(id: u64, channel_id: u64, author: Value, content: &str) -> Value {
    json!({
        "id": id.to_string(),
        "channel_id": channel_id.to_string(),
        "author": author,
        "content": content,
        "timestamp": TIMESTAMP,
        "edited_timestamp": null,
        "tts": false,
        "mention_everyone": false,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "components": [],
        "pinned": false,
        "type": 0,
        "flags": 0,
    })
}

/// The common part of a guild interaction in [`CHANNEL_ID`].
fn interaction_json(id: u64, kind: u8, token: &str, user_id: u64) -> Value {
    json!({
        "id": id.to_string(),
        "application_id": APP_ID.to_string(),
        "type": kind,
        "token": token,
        "version": 1,
        "guild_id": GUILD_ID.to_string(),
        "channel_id": CHANNEL_ID.to_string(),
        "member": member_json(user_id),
        "app_permissions": "0",
        "locale": "en-US",
        "guild_locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": {"0": GUILD_ID.to_string()},
        "attachment_size_limit": 26214400,
    })
}

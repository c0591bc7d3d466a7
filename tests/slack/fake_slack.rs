//! A fake Slack, for the Slack integration tests.
//!
//! [`FakeSlack::start`] serves three things on one `127.0.0.1` port:
//!
//! * **The Web API** under `/api/{method}` (GET or POST). Every call is recorded
//!   with its `Authorization` header and its parameters (the JSON body of a POST,
//!   the query string of a GET). The methods the bot uses get answers that
//!   slack-morphism 2.31 can decode (`chat.postMessage`, `chat.update`,
//!   `chat.postEphemeral`, `views.open/update/push`, `users.info`,
//!   `conversations.history/replies`, `auth.test`, `apps.connections.open`,
//!   `chat.getPermalink`). Any other method answers `{"ok":true}`.
//!   **Views** are kept as Slack keeps them: `views.open`/`push` check the
//!   view against Slack's documented modal rules (title, submit and close at
//!   most 24 characters, a submit button when there is an input block, at
//!   most 100 blocks with distinct block ids, at most 100 options of at most
//!   75 characters in a select, private metadata at most 3,000 characters)
//!   and answer `invalid_arguments` when it breaks one; otherwise the view
//!   is stored under a new id and hash and echoed back. `views.update` needs
//!   the id (`view_id`) of a view it handed out (`not_found` otherwise) and,
//!   when given, its current `hash` (`hash_conflict`). [`FakeSlack::views`]
//!   lists the views as they stand.
//!   [`FakeSlack::fail_next`] queues HTTP failures (429 with `Retry-After`, 5xx, ...);
//!   [`FakeSlack::set_chaos`] makes a random share of all calls fail, for the fault
//!   test. [`FakeSlack::accepted`] lists the calls that were not made to fail.
//!   **Rate limits** are enforced as Slack documents them ([`LIMITS`], one table):
//!   a call over its method's limit answers HTTP 429 with `Retry-After` and
//!   `{"ok":false,"error":"ratelimited"}`, and is counted
//!   ([`FakeSlack::rate_limited`]), so a test can assert the bot earned none.
//! * **response_url endpoints** under `/response/{id}`: whatever is POSTed there is
//!   recorded under `id`, with the instant it arrived (see [`FakeSlack::response_url`]).
//! * **Socket Mode** on the WebSocket endpoint `/link`, the URL that
//!   `apps.connections.open` hands out. Each connection is greeted with `hello`;
//!   tests push envelopes ([`FakeSlack::send_envelope`]), wait for the client's acks
//!   ([`FakeSlack::wait_ack`]), ask for a reconnect ([`FakeSlack::disconnect_all`])
//!   or cut the TCP connection ([`FakeSlack::drop_all`]).
//!
//! The frame and response shapes follow what slack-morphism 2.31.1 requires
//! (required fields, `Content-Type: application/json`, integer timestamps).
//!
//! The server lives as long as any clone of the [`FakeSlack`] handle: dropping the
//! last clone stops accepting connections and cuts every WebSocket. HTTP keep-alive
//! connections already open end with the test's runtime.

#![allow(dead_code)] // Each test binary uses a different subset of the helpers.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde_json::{json, Map, Value};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// How often the `wait_*` helpers look at the recorded state.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// `Retry-After` sent with a queued 429 whose caller gave no value.
const DEFAULT_RETRY_AFTER_SECS: u64 = 1;

/// The whole-seconds part of every `ts` the fake hands out.
const TS_SECONDS: u64 = 1_764_000_000;

/// Where a limit counts: per channel, or for the whole workspace (per app
/// and method, as Slack counts the tiers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Channel,
    Workspace,
}

/// One documented limit: `burst` calls at once, then one every `every`
/// (a token bucket: governor's GCRA).
struct Limit {
    method: &'static str,
    every: Duration,
    burst: u32,
    scope: Scope,
}

/// Tier 3 ("50+ per minute, sporadic bursts welcome"): one call per 1.2 s
/// after a burst of 10.
const TIER_3: (Duration, u32) = (Duration::from_millis(1200), 10);
/// Tier 4 ("100+ per minute, generous burst behavior"): one call per 0.6 s
/// after a burst of 20.
const TIER_4: (Duration, u32) = (Duration::from_millis(600), 20);

/// The limits this fake enforces, from Slack's rate-limit documentation
/// (<https://api.slack.com/docs/rate-limits> and each method's page).
/// `chat.postMessage` is "one message per second per channel", with short
/// bursts allowed (its workspace-wide limit has no published figure and is
/// not modelled). Methods not listed are not limited here: Tier 1/2 methods the
/// bot calls once at start (`auth.test`, `apps.connections.open`) and
/// `response_url` posts, whose own limit (5 uses in 30 minutes) is per URL
/// and not about pacing.
const LIMITS: &[Limit] = &[
    Limit {
        method: "chat.postMessage",
        every: Duration::from_secs(1),
        burst: 3,
        scope: Scope::Channel,
    },
    Limit {
        method: "chat.update",
        every: TIER_3.0,
        burst: TIER_3.1,
        scope: Scope::Workspace,
    },
    Limit {
        method: "conversations.history",
        every: TIER_3.0,
        burst: TIER_3.1,
        scope: Scope::Workspace,
    },
    Limit {
        method: "conversations.replies",
        every: TIER_3.0,
        burst: TIER_3.1,
        scope: Scope::Workspace,
    },
    Limit {
        method: "chat.postEphemeral",
        every: TIER_4.0,
        burst: TIER_4.1,
        scope: Scope::Workspace,
    },
    Limit {
        method: "views.open",
        every: TIER_4.0,
        burst: TIER_4.1,
        scope: Scope::Workspace,
    },
    Limit {
        method: "views.update",
        every: TIER_4.0,
        burst: TIER_4.1,
        scope: Scope::Workspace,
    },
    Limit {
        method: "views.push",
        every: TIER_4.0,
        burst: TIER_4.1,
        scope: Scope::Workspace,
    },
    Limit {
        method: "users.info",
        every: TIER_4.0,
        burst: TIER_4.1,
        scope: Scope::Workspace,
    },
];

/// The running limiters of [`LIMITS`], one per method, keyed by channel
/// (or `""` for a workspace limit).
struct Limiters {
    by_method: HashMap<&'static str, (Scope, DefaultKeyedRateLimiter<String>)>,
}

impl Limiters {
    fn new() -> Self {
        let by_method = LIMITS
            .iter()
            .map(|limit| {
                let quota = Quota::with_period(limit.every)
                    .expect("fake Slack: a limit with a zero period")
                    .allow_burst(
                        std::num::NonZeroU32::new(limit.burst)
                            .expect("fake Slack: a limit with a zero burst"),
                    );
                (limit.method, (limit.scope, RateLimiter::keyed(quota)))
            })
            .collect();
        Limiters { by_method }
    }

    /// `None` when the call may go ahead, else how long to wait.
    fn check(&self, method: &str, params: &Value) -> Option<Duration> {
        let (scope, limiter) = self.by_method.get(method)?;
        let key = match scope {
            Scope::Channel => str_param(params, "channel").unwrap_or_default(),
            Scope::Workspace => String::new(),
        };
        limiter
            .check_key(&key)
            .err()
            .map(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

/// Handle on a running fake Slack. Cheap to clone; all clones share one server.
#[derive(Clone)]
pub struct FakeSlack {
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
        for conn in lock(&self.shared.conns).drain(..) {
            conn.task.abort();
        }
    }
}

/// State shared by the handles, the HTTP handlers and the WebSocket tasks.
struct Shared {
    port: u16,
    /// Number of `ts` values handed out so far (see [`Shared::next_ts`]).
    last_ts: AtomicU64,
    /// Last view number handed out by `views.*`.
    last_view: AtomicU64,
    /// Last generated envelope number.
    last_envelope: AtomicU64,
    /// Last WebSocket connection id.
    last_conn: AtomicU64,
    /// WebSocket connections accepted so far, closed ones included.
    connections_accepted: AtomicUsize,
    /// The enforced rate limits.
    limiters: Limiters,
    /// 429s the limits answered (not those of `fail_next` or chaos).
    rate_limited: AtomicUsize,
    data: Mutex<Data>,
    /// WebSocket connections that are still open, oldest first.
    conns: Mutex<Vec<Conn>>,
}

/// Everything recorded or configured through the Web API side.
#[derive(Default)]
struct Data {
    /// Every Web API call, oldest first (failed ones included).
    calls: Vec<RecordedCall>,
    /// Bodies POSTed to `/response/{id}`, by id, oldest first.
    responses: HashMap<String, Vec<Value>>,
    /// When each body in `responses` arrived, in the same order.
    response_times: HashMap<String, Vec<Instant>>,
    /// Random failures for every Web API call (see [`FakeSlack::set_chaos`]).
    chaos: Option<Chaos>,
    /// Display names set with [`FakeSlack::set_user`].
    users: HashMap<String, String>,
    /// Profile time zones (`tz`) by user id.
    zones: HashMap<String, String>,
    /// The fake history: messages posted by the bot or added by the test, as the
    /// JSON objects `conversations.history` returns (plus a `channel` field).
    messages: Vec<Map<String, Value>>,
    /// Failures queued by [`FakeSlack::fail_next`], by method.
    failures: HashMap<String, VecDeque<(u16, Option<u64>)>>,
    /// The views handed out by `views.open`/`push`, as last updated: id,
    /// hash, and the view as Slack would send it in a payload.
    views: Vec<(String, String, Value)>,
    /// Client frames carrying an `envelope_id`, oldest first, with a flag telling
    /// whether [`FakeSlack::wait_ack`] has already returned that ack.
    acks: Vec<(Value, bool)>,
}

struct RecordedCall {
    method: String,
    /// The `Authorization` header, or `""` when there was none.
    authorization: String,
    params: Value,
    /// Answered with an injected failure (queued or random) instead of the
    /// method's answer.
    failed: bool,
}

/// Random failures: out of every 100 calls, about `too_many` answer `429`
/// with `Retry-After: 1` and about `server_error` answer `500`.
struct Chaos {
    too_many: u64,
    server_error: u64,
    /// xorshift64 state: no `rand` dependency for one dice roll per call.
    state: u64,
}

impl Chaos {
    /// The failure for the next call, if it gets one.
    fn roll(&mut self) -> Option<(u16, Option<u64>)> {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        let dice = self.state % 100;
        if dice < self.too_many {
            Some((429, Some(1)))
        } else if dice < self.too_many + self.server_error {
            Some((500, None))
        } else {
            None
        }
    }
}

/// One open WebSocket connection.
struct Conn {
    id: u64,
    /// Frames to write on this connection.
    outgoing: mpsc::UnboundedSender<Outgoing>,
    /// The task owning the socket; aborting it drops the socket without a close frame.
    task: JoinHandle<()>,
    /// `hello` has been written.
    greeted: bool,
    /// A `disconnect` frame has been sent: the client is expected to close this
    /// connection, so it no longer counts as live and gets no more envelopes.
    retired: bool,
}

impl Conn {
    fn is_live(&self) -> bool {
        self.greeted && !self.retired
    }
}

/// A text frame for a connection task to write, and a way to tell the sender it was written.
struct Outgoing {
    text: String,
    written: oneshot::Sender<()>,
}

/// Locks a mutex, ignoring poisoning: a panicking test thread must not turn every
/// later call into a confusing `PoisonError`.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl FakeSlack {
    /// Binds `127.0.0.1:0` and serves until the last handle is dropped. The server
    /// is spawned on the current tokio runtime.
    pub async fn start() -> FakeSlack {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("fake Slack: bind 127.0.0.1:0");
        let port = listener
            .local_addr()
            .expect("fake Slack: local address of the bound listener")
            .port();
        let shared = Arc::new(Shared {
            port,
            last_ts: AtomicU64::new(0),
            last_view: AtomicU64::new(0),
            last_envelope: AtomicU64::new(0),
            last_conn: AtomicU64::new(0),
            connections_accepted: AtomicUsize::new(0),
            limiters: Limiters::new(),
            rate_limited: AtomicUsize::new(0),
            data: Mutex::new(Data::default()),
            conns: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/api/{method}", any(api_call))
            .route("/response/{id}", post(response_url_post))
            .route("/link", get(websocket_upgrade))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, app).await {
                eprintln!("fake Slack: server stopped: {err}");
            }
        });
        FakeSlack {
            inner: Arc::new(Inner { shared, server }),
        }
    }

    fn shared(&self) -> &Shared {
        &self.inner.shared
    }

    /// `http://127.0.0.1:PORT/api` (no trailing slash): the Web API base URL.
    pub fn api_url(&self) -> String {
        format!("http://127.0.0.1:{}/api", self.shared().port)
    }

    /// `http://127.0.0.1:PORT/response/{id}`: a response_url whose POSTs are
    /// recorded under `id` (see [`FakeSlack::responses`]).
    pub fn response_url(&self, id: &str) -> String {
        format!("http://127.0.0.1:{}/response/{id}", self.shared().port)
    }

    /// Every recorded call of Web API `method` (e.g. `"chat.postMessage"`), oldest
    /// first: the JSON body of a POST, the query parameters (as a JSON object of
    /// strings) of a GET. Calls answered with a [`FakeSlack::fail_next`] failure are
    /// included, so a retried call shows up once per attempt.
    pub fn calls(&self, method: &str) -> Vec<Value> {
        lock(&self.shared().data)
            .calls
            .iter()
            .filter(|call| call.method == method)
            .map(|call| call.params.clone())
            .collect()
    }

    /// The `Authorization` header of every Web API call, in order (`""` for a call
    /// without one). response_url POSTs are not Web API calls and are not listed.
    pub fn auth_headers(&self) -> Vec<String> {
        lock(&self.shared().data)
            .calls
            .iter()
            .map(|call| call.authorization.clone())
            .collect()
    }

    /// Waits (polling every 20 ms) until a call of `method` matching `pred` has been
    /// recorded, and returns the oldest such call. Panics after `timeout`, listing
    /// the recorded calls of `method`.
    pub async fn wait_for(
        &self,
        method: &str,
        pred: impl Fn(&Value) -> bool,
        timeout: Duration,
    ) -> Value {
        let found = poll_until(timeout, || {
            self.calls(method).into_iter().find(|call| pred(call))
        })
        .await;
        match found {
            Some(call) => call,
            None => panic!(
                "fake Slack: no matching `{method}` call within {timeout:?}; recorded `{method}` calls: {}",
                pretty(&Value::Array(self.calls(method)))
            ),
        }
    }

    /// The views the bot opened, as they stand after its updates, oldest
    /// first: each as Slack sends it in a payload (`id`, `hash`, `blocks`,
    /// `callback_id`, `private_metadata`, ...).
    pub fn views(&self) -> Vec<Value> {
        lock(&self.shared().data)
            .views
            .iter()
            .map(|(_, _, view)| view.clone())
            .collect()
    }

    /// The bodies POSTed to response_url `id`, oldest first (JSON bodies parsed,
    /// anything else as a JSON string).
    pub fn responses(&self, id: &str) -> Vec<Value> {
        lock(&self.shared().data)
            .responses
            .get(id)
            .cloned()
            .unwrap_or_default()
    }

    /// The bodies POSTed to response_url `id` with the instant each arrived,
    /// oldest first.
    pub fn timed_responses(&self, id: &str) -> Vec<(Value, Instant)> {
        let data = lock(&self.shared().data);
        let bodies = data.responses.get(id).cloned().unwrap_or_default();
        let times = data.response_times.get(id).cloned().unwrap_or_default();
        bodies.into_iter().zip(times).collect()
    }

    /// Every call of Web API `method` that got the method's own answer rather
    /// than an injected failure, oldest first (see [`FakeSlack::calls`]).
    pub fn accepted(&self, method: &str) -> Vec<Value> {
        lock(&self.shared().data)
            .calls
            .iter()
            .filter(|call| call.method == method && !call.failed)
            .map(|call| call.params.clone())
            .collect()
    }

    /// How many calls the fake answered 429 because they went over one of
    /// Slack's documented limits ([`LIMITS`]); injected failures
    /// ([`FakeSlack::fail_next`], chaos) are not counted.
    pub fn rate_limited(&self) -> usize {
        self.shared().rate_limited.load(Ordering::SeqCst)
    }

    /// From now on, answers about `too_many` percent of Web API calls (chosen at
    /// random, seeded with `seed`) with `429` and `Retry-After: 1`, and about
    /// `server_error` percent with `500`. Failures queued with
    /// [`FakeSlack::fail_next`] still come first. response_url posts never fail.
    pub fn set_chaos(&self, too_many: u64, server_error: u64, seed: u64) {
        lock(&self.shared().data).chaos = Some(Chaos {
            too_many,
            server_error,
            // xorshift never leaves 0.
            state: seed.max(1),
        });
    }

    /// Waits until something was POSTed to response_url `id` and returns the oldest
    /// body. (It does not wait for a *new* one: use a fresh `id` per interaction, or
    /// [`FakeSlack::responses`], when one URL receives several posts.) Panics after
    /// `timeout`, listing the ids that did receive posts.
    pub async fn wait_for_response(&self, id: &str, timeout: Duration) -> Value {
        let found = poll_until(timeout, || self.responses(id).into_iter().next()).await;
        match found {
            Some(body) => body,
            None => {
                let data = lock(&self.shared().data);
                let mut seen: Vec<&String> = data.responses.keys().collect();
                seen.sort();
                panic!(
                    "fake Slack: nothing POSTed to response_url `{id}` within {timeout:?}; \
                     response_urls that were posted to: {seen:?}"
                )
            }
        }
    }

    /// Makes `users.info` answer for `user_id` with `name`, `real_name`,
    /// `profile.display_name` and `profile.real_name` all set to `display_name`.
    /// Unknown users get their id in all four fields.
    pub fn set_user(&self, user_id: &str, display_name: &str) {
        lock(&self.shared().data)
            .users
            .insert(user_id.to_owned(), display_name.to_owned());
    }

    /// Makes `users.info` give `user_id` the profile time zone `tz`
    /// (an IANA name, as Slack's `tz` field is).
    pub fn set_user_zone(&self, user_id: &str, tz: &str) {
        lock(&self.shared().data)
            .zones
            .insert(user_id.to_owned(), tz.to_owned());
    }

    /// Adds a message by `user` to the fake history, so that
    /// `conversations.history` (`latest=ts`, `inclusive=true`) and
    /// `conversations.replies` (`channel`, `ts`) can return it.
    pub fn add_message(&self, channel: &str, ts: &str, user: &str, text: &str) {
        let mut message = Map::new();
        message.insert("type".into(), json!("message"));
        message.insert("channel".into(), json!(channel));
        message.insert("ts".into(), json!(ts));
        message.insert("user".into(), json!(user));
        message.insert("text".into(), json!(text));
        lock(&self.shared().data).messages.push(message);
    }

    /// Every message in the fake history (posted with `chat.postMessage`, kept up to
    /// date by `chat.update`, or added with [`FakeSlack::add_message`]), oldest first.
    /// Each is an object with `channel`, `ts`, `user` and, when known, `text`,
    /// `blocks`, `thread_ts` and `bot_id`.
    pub fn messages(&self) -> Vec<Value> {
        lock(&self.shared().data)
            .messages
            .iter()
            .cloned()
            .map(Value::Object)
            .collect()
    }

    /// The message `ts` in `channel` from the fake history, if there is one.
    pub fn message(&self, channel: &str, ts: &str) -> Option<Value> {
        let data = lock(&self.shared().data);
        find_message(&data.messages, channel, ts).map(|m| Value::Object(m.clone()))
    }

    /// Queues failures for the next calls of `method`: each entry is (HTTP status,
    /// `Retry-After` seconds) and answers one call, in order; normal answers resume
    /// when the queue is empty. A 429 answers `{"ok":false,"error":"ratelimited"}`
    /// (JSON) and always carries `Retry-After` (1 s when the entry gives none); any
    /// other status answers the text/plain body `fake failure`, with `Retry-After`
    /// only when given. Panics on a status that is not a valid HTTP status code.
    pub fn fail_next(&self, method: &str, failures: Vec<(u16, Option<u64>)>) {
        for (status, _) in &failures {
            StatusCode::from_u16(*status).unwrap_or_else(|err| {
                panic!("fake Slack: fail_next({method}): invalid HTTP status {status}: {err}")
            });
        }
        lock(&self.shared().data)
            .failures
            .entry(method.to_owned())
            .or_default()
            .extend(failures);
    }

    // ---------------------------------------------------------------- Socket Mode

    /// Number of WebSocket connections accepted so far (closed ones included).
    pub fn connections_accepted(&self) -> usize {
        self.shared().connections_accepted.load(Ordering::SeqCst)
    }

    /// Number of live WebSocket connections: open, sent `hello`, and not sent
    /// `disconnect` (see [`FakeSlack::disconnect_all`]).
    pub fn live_connections(&self) -> usize {
        lock(&self.shared().conns)
            .iter()
            .filter(|c| c.is_live())
            .count()
    }

    /// Waits until at least `n` WebSocket connections are live: open and sent
    /// `hello`. Connections already sent `disconnect` do not count, so after
    /// [`FakeSlack::disconnect_all`] this waits for the client's new connections.
    /// Panics after `timeout`.
    pub async fn wait_connected(&self, n: usize, timeout: Duration) {
        let ok = poll_until(timeout, || (self.live_connections() >= n).then_some(())).await;
        if ok.is_none() {
            panic!(
                "fake Slack: expected at least {n} live Socket Mode connection(s) within {timeout:?}; \
                 live now: {}, accepted so far: {}",
                self.live_connections(),
                self.connections_accepted()
            );
        }
    }

    /// Sends an envelope of type `kind` (`"slash_commands"`, `"interactive"`,
    /// `"events_api"`, ...) with a generated unique `envelope_id` on the most
    /// recently opened live connection, and returns the envelope id. Returns once
    /// the frame has been written. `accepts_response_payload` is `kind !=
    /// "events_api"`; `events_api` envelopes also carry `retry_attempt: 0` and
    /// `retry_reason: ""`. Panics if no connection is live.
    pub async fn send_envelope(&self, kind: &str, payload: Value) -> String {
        let n = self.shared().last_envelope.fetch_add(1, Ordering::SeqCst) + 1;
        let envelope_id = format!("fake-env-{n}");
        self.send_envelope_with_id(kind, &envelope_id, payload)
            .await;
        envelope_id
    }

    /// Like [`FakeSlack::send_envelope`], with a caller-chosen envelope id (to
    /// simulate Slack redelivering an envelope).
    pub async fn send_envelope_with_id(&self, kind: &str, envelope_id: &str, payload: Value) {
        let mut envelope = json!({
            "type": kind,
            "envelope_id": envelope_id,
            "accepts_response_payload": kind != "events_api",
            "payload": payload,
        });
        if kind == "events_api" {
            envelope["retry_attempt"] = json!(0);
            envelope["retry_reason"] = json!("");
        }
        let target = lock(&self.shared().conns)
            .iter()
            .rev()
            .find(|c| c.is_live())
            .map(|c| (c.id, c.outgoing.clone()));
        let Some((conn_id, outgoing)) = target else {
            panic!(
                "fake Slack: cannot send {kind} envelope `{envelope_id}`: no live Socket Mode connection \
                 (accepted so far: {})",
                self.connections_accepted()
            );
        };
        if !write_frame(&outgoing, envelope.to_string()).await {
            panic!(
                "fake Slack: Socket Mode connection #{conn_id} closed before {kind} envelope \
                 `{envelope_id}` could be written"
            );
        }
    }

    /// Every client frame that carried an `envelope_id`, oldest first.
    pub fn acks(&self) -> Vec<Value> {
        lock(&self.shared().data)
            .acks
            .iter()
            .map(|(ack, _)| ack.clone())
            .collect()
    }

    /// Waits for the client's ack of `envelope_id` (`{"envelope_id": .., "payload"?: ..}`)
    /// and returns the whole ack. Each ack is returned once: after a redelivery with
    /// the same id, a second call waits for the second ack. Panics after `timeout`,
    /// listing the acks received.
    pub async fn wait_ack(&self, envelope_id: &str, timeout: Duration) -> Value {
        let found = poll_until(timeout, || {
            let mut data = lock(&self.shared().data);
            let (ack, claimed) = data
                .acks
                .iter_mut()
                .find(|(ack, claimed)| !*claimed && ack["envelope_id"] == envelope_id)?;
            *claimed = true;
            Some(ack.clone())
        })
        .await;
        match found {
            Some(ack) => ack,
            None => panic!(
                "fake Slack: no (new) ack for envelope `{envelope_id}` within {timeout:?}; acks received: {}",
                pretty(&Value::Array(self.acks()))
            ),
        }
    }

    /// Sends `{"type":"disconnect","reason":"refresh_requested","debug_info":{"host":"fake-slack"}}`
    /// on every open connection and stops counting those connections as live (the
    /// client is expected to close them and reconnect). Returns once the frames
    /// have been written; a connection that closed meanwhile is skipped.
    pub async fn disconnect_all(&self) {
        let frame = json!({
            "type": "disconnect",
            "reason": "refresh_requested",
            "debug_info": {"host": "fake-slack"},
        })
        .to_string();
        let targets: Vec<_> = lock(&self.shared().conns)
            .iter_mut()
            .filter(|c| !c.retired)
            .map(|c| {
                c.retired = true;
                c.outgoing.clone()
            })
            .collect();
        for outgoing in targets {
            write_frame(&outgoing, frame.clone()).await;
        }
    }

    /// Closes every open connection abruptly: the socket is dropped without a
    /// WebSocket close frame. Returns once the sockets are gone.
    pub async fn drop_all(&self) {
        let conns: Vec<Conn> = lock(&self.shared().conns).drain(..).collect();
        for conn in conns {
            conn.task.abort();
            // The task was either aborted (and its socket dropped) or had already ended.
            let _ = conn.task.await;
        }
    }
}

/// Calls `check` every [`POLL_INTERVAL`] until it returns `Some`, or `timeout` passes.
async fn poll_until<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(found) = check() {
            return Some(found);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

/// Hands `text` to a connection task and waits until it was written. False if the
/// connection closed first.
async fn write_frame(outgoing: &mpsc::UnboundedSender<Outgoing>, text: String) -> bool {
    let (written, done) = oneshot::channel();
    if outgoing.send(Outgoing { text, written }).is_err() {
        return false;
    }
    done.await.is_ok()
}

// -------------------------------------------------------------------- Web API

/// `/api/{method}`: records the call, then answers a queued failure or the method's answer.
async fn api_call(
    State(shared): State<Arc<Shared>>,
    Path(method): Path<String>,
    http_method: Method,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let params = if http_method == Method::GET || http_method == Method::HEAD || body.is_empty() {
        query_object(uri.query())
    } else {
        parse_body(&headers, &body)
    };
    let authorization = headers
        .get(header::AUTHORIZATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();

    let (failure, limited) = {
        let mut data = lock(&shared.data);
        let failure = match data.failures.get_mut(&method).and_then(VecDeque::pop_front) {
            Some(queued) => Some(queued),
            None => data.chaos.as_mut().and_then(Chaos::roll),
        };
        // An injected failure does not use up the limit: Slack never saw it.
        let limited = match failure {
            Some(_) => None,
            None => shared.limiters.check(&method, &params),
        };
        data.calls.push(RecordedCall {
            method: method.clone(),
            authorization,
            params: params.clone(),
            failed: failure.is_some() || limited.is_some(),
        });
        (failure, limited)
    };
    if let Some((status, retry_after)) = failure {
        return failure_response(status, retry_after);
    }
    if let Some(wait) = limited {
        shared.rate_limited.fetch_add(1, Ordering::SeqCst);
        // Slack's Retry-After is whole seconds, rounded up.
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        return failure_response(429, Some(secs.max(1)));
    }

    let answer = match method.as_str() {
        "chat.postMessage" => chat_post_message(&shared, &params),
        "chat.update" => chat_update(&shared, &params),
        "chat.postEphemeral" => json!({"ok": true, "message_ts": shared.next_ts()}),
        "views.open" | "views.update" | "views.push" => views_call(&shared, &method, &params),
        "users.info" => users_info(&shared, &params),
        "conversations.history" => conversations_history(&shared, &params),
        "conversations.replies" => conversations_replies(&shared, &params),
        "auth.test" => json!({
            "ok": true,
            "url": "https://fake.slack.com/",
            "team": "Fake",
            "user": "itsm-bot",
            "team_id": "T0001",
            "user_id": "UBOT",
            "bot_id": "BBOT",
        }),
        "apps.connections.open" => json!({
            "ok": true,
            "url": format!("ws://127.0.0.1:{}/link", shared.port),
        }),
        "chat.getPermalink" => chat_get_permalink(&params),
        _ => json!({"ok": true}),
    };
    Json(answer).into_response()
}

/// The answer to a call that [`FakeSlack::fail_next`] told to fail.
fn failure_response(status: u16, retry_after: Option<u64>) -> Response {
    let status = StatusCode::from_u16(status).expect("fail_next validated the status");
    let (mut response, retry_after) = if status == StatusCode::TOO_MANY_REQUESTS {
        (
            (status, Json(json!({"ok": false, "error": "ratelimited"}))).into_response(),
            Some(retry_after.unwrap_or(DEFAULT_RETRY_AFTER_SECS)),
        )
    } else {
        (
            (
                status,
                [(header::CONTENT_TYPE, "text/plain")],
                "fake failure",
            )
                .into_response(),
            retry_after,
        )
    };
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

impl Shared {
    /// A fresh message ts: `1764000000.000100`, `1764000000.000200`, ...
    fn next_ts(&self) -> String {
        let n = self.last_ts.fetch_add(1, Ordering::SeqCst) + 1;
        format!("{TS_SECONDS}.{:06}", n * 100)
    }
}

fn chat_post_message(shared: &Shared, params: &Value) -> Value {
    let Some(channel) = str_param(params, "channel").filter(|c| !c.is_empty()) else {
        return api_error("channel_not_found");
    };
    let ts = shared.next_ts();
    let mut message = Map::new();
    message.insert("type".into(), json!("message"));
    message.insert("channel".into(), json!(channel));
    message.insert("ts".into(), json!(ts));
    message.insert("user".into(), json!("UBOT"));
    message.insert("bot_id".into(), json!("BBOT"));
    for key in ["text", "blocks", "thread_ts"] {
        if let Some(value) = params.get(key).filter(|v| !v.is_null()) {
            message.insert(key.into(), value.clone());
        }
    }
    let mut echo = Map::new();
    echo.insert("ts".into(), json!(ts));
    if let Some(text) = message.get("text") {
        echo.insert("text".into(), text.clone());
    }
    lock(&shared.data).messages.push(message);
    json!({"ok": true, "channel": channel, "ts": ts, "message": echo})
}

fn chat_update(shared: &Shared, params: &Value) -> Value {
    let Some(channel) = str_param(params, "channel").filter(|c| !c.is_empty()) else {
        return api_error("channel_not_found");
    };
    let Some(ts) = str_param(params, "ts") else {
        return api_error("message_not_found");
    };
    let mut data = lock(&shared.data);
    let Some(message) = data.messages.iter_mut().find(|m| {
        field(m, "channel") == Some(channel.as_str()) && field(m, "ts") == Some(ts.as_str())
    }) else {
        return api_error("message_not_found");
    };
    for key in ["text", "blocks"] {
        if let Some(value) = params.get(key).filter(|v| !v.is_null()) {
            message.insert(key.into(), value.clone());
        }
    }
    json!({"ok": true, "channel": channel, "ts": ts, "message": {}})
}

/// `views.open`, `views.push` and `views.update`, as described in the module
/// documentation.
fn views_call(shared: &Shared, method: &str, params: &Value) -> Value {
    let mut view = match params.get("view") {
        Some(Value::String(text)) => serde_json::from_str(text).unwrap_or(Value::Null),
        Some(view) => view.clone(),
        None => Value::Null,
    };
    if let Err(message) = check_view(&view) {
        return json!({
            "ok": false,
            "error": "invalid_arguments",
            "response_metadata": { "messages": [format!("[ERROR] {message}")] }
        });
    }
    let mut data = lock(&shared.data);
    let slot = if method == "views.update" {
        let Some(id) = str_param(params, "view_id") else {
            return api_error("not_found");
        };
        let Some(slot) = data.views.iter().position(|(known, _, _)| *known == id) else {
            return api_error("not_found");
        };
        if let Some(hash) = str_param(params, "hash") {
            if hash != data.views[slot].1 {
                return api_error("hash_conflict");
            }
        }
        Some(slot)
    } else {
        if str_param(params, "trigger_id").is_none() {
            return api_error("invalid_trigger_id");
        }
        None
    };
    let n = shared.last_view.fetch_add(1, Ordering::SeqCst) + 1;
    let hash = format!("h{n}");
    let id = match slot {
        Some(slot) => data.views[slot].0.clone(),
        None => format!("V{n}"),
    };
    if let Some(object) = view.as_object_mut() {
        object.insert("id".into(), json!(id));
        object.insert("team_id".into(), json!("T0001"));
        object.insert("hash".into(), json!(hash));
        object.insert("state".into(), json!({ "values": {} }));
        for key in ["private_metadata", "callback_id"] {
            object.entry(key).or_insert(json!(""));
        }
    }
    match slot {
        Some(slot) => data.views[slot] = (id, hash, view.clone()),
        None => data.views.push((id, hash, view.clone())),
    }
    json!({ "ok": true, "view": view })
}

/// Slack's documented rules for a modal view (see the module documentation).
fn check_view(view: &Value) -> Result<(), String> {
    if view["type"] != "modal" {
        return Err("view.type must be modal".into());
    }
    let text = |key: &str| view[key]["text"].as_str().map(|t| t.chars().count());
    match text("title") {
        Some(1..=24) => {}
        _ => return Err("title must be 1 to 24 characters".into()),
    }
    for key in ["submit", "close"] {
        if text(key).is_some_and(|n| n > 24) {
            return Err(format!("{key} must be at most 24 characters"));
        }
    }
    let blocks = view["blocks"].as_array().cloned().unwrap_or_default();
    if blocks.len() > 100 {
        return Err("at most 100 blocks".into());
    }
    if blocks.iter().any(|b| b["type"] == "input") && text("submit").is_none() {
        return Err("submit is required when a view has an input block".into());
    }
    let mut ids = std::collections::HashSet::new();
    for block in &blocks {
        if let Some(id) = block["block_id"].as_str() {
            if !ids.insert(id.to_string()) || id.len() > 255 {
                return Err(format!("block_id `{id}` repeated or too long"));
            }
        }
        let elements = match block["type"].as_str() {
            Some("input") => vec![block["element"].clone()],
            Some("actions") => block["elements"].as_array().cloned().unwrap_or_default(),
            _ => Vec::new(),
        };
        for element in elements {
            if let Some(options) = element["options"].as_array() {
                if options.len() > 100
                    || options.iter().any(|o| {
                        o["text"]["text"]
                            .as_str()
                            .is_none_or(|t| t.chars().count() > 75)
                    })
                {
                    return Err("a select has at most 100 options of at most 75 characters".into());
                }
            }
        }
    }
    if view["private_metadata"]
        .as_str()
        .is_some_and(|m| m.chars().count() > 3000)
    {
        return Err("private_metadata must be at most 3000 characters".into());
    }
    Ok(())
}

fn users_info(shared: &Shared, params: &Value) -> Value {
    let Some(user) = str_param(params, "user").filter(|u| !u.is_empty()) else {
        return api_error("user_not_found");
    };
    let data = lock(&shared.data);
    let name = data
        .users
        .get(&user)
        .cloned()
        .unwrap_or_else(|| user.clone());
    let mut answer = json!({
        "ok": true,
        "user": {
            "id": user,
            "name": name,
            "real_name": name,
            "profile": {"display_name": name, "real_name": name},
        }
    });
    if let Some(tz) = data.zones.get(&user) {
        answer["user"]["tz"] = json!(tz);
    }
    answer
}

/// Only the lookup the bot does: the message at `latest` when `inclusive` is true.
/// Without `latest`, the channel's messages, newest first, up to `limit`.
fn conversations_history(shared: &Shared, params: &Value) -> Value {
    let channel = str_param(params, "channel").unwrap_or_default();
    let inclusive = matches!(
        str_param(params, "inclusive").as_deref(),
        Some("true" | "1")
    );
    let limit = str_param(params, "limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(100);
    let data = lock(&shared.data);
    let messages: Vec<Value> = match str_param(params, "latest") {
        Some(latest) if inclusive => find_message(&data.messages, &channel, &latest)
            .map(|m| Value::Object(m.clone()))
            .into_iter()
            .collect(),
        Some(_) => Vec::new(),
        None => {
            let mut in_channel: Vec<&Map<String, Value>> = data
                .messages
                .iter()
                .filter(|m| field(m, "channel") == Some(channel.as_str()))
                .collect();
            in_channel.sort_by_key(|m| std::cmp::Reverse(ts_key(field(m, "ts"))));
            in_channel
                .into_iter()
                .take(limit)
                .map(|m| Value::Object(m.clone()))
                .collect()
        }
    };
    json!({"ok": true, "messages": messages, "has_more": false})
}

/// The message `ts` first, then the stored messages whose `thread_ts` is `ts`,
/// oldest first; `[]` when there are none.
fn conversations_replies(shared: &Shared, params: &Value) -> Value {
    let channel = str_param(params, "channel").unwrap_or_default();
    let ts = str_param(params, "ts").unwrap_or_default();
    let data = lock(&shared.data);
    let mut messages: Vec<Value> = find_message(&data.messages, &channel, &ts)
        .map(|m| Value::Object(m.clone()))
        .into_iter()
        .collect();
    let mut replies: Vec<&Map<String, Value>> = data
        .messages
        .iter()
        .filter(|m| {
            field(m, "channel") == Some(channel.as_str())
                && field(m, "thread_ts") == Some(ts.as_str())
                && field(m, "ts") != Some(ts.as_str())
        })
        .collect();
    replies.sort_by_key(|m| ts_key(field(m, "ts")));
    messages.extend(replies.into_iter().map(|m| Value::Object(m.clone())));
    json!({"ok": true, "messages": messages, "has_more": false})
}

fn chat_get_permalink(params: &Value) -> Value {
    let Some(channel) = str_param(params, "channel").filter(|c| !c.is_empty()) else {
        return api_error("channel_not_found");
    };
    let Some(ts) = str_param(params, "message_ts").filter(|t| !t.is_empty()) else {
        return api_error("message_not_found");
    };
    json!({
        "ok": true,
        "channel": channel,
        "permalink": format!("https://fake.slack.com/archives/{channel}/p{}", ts.replace('.', "")),
    })
}

fn api_error(code: &str) -> Value {
    json!({"ok": false, "error": code})
}

fn find_message<'a>(
    messages: &'a [Map<String, Value>],
    channel: &str,
    ts: &str,
) -> Option<&'a Map<String, Value>> {
    messages
        .iter()
        .find(|m| field(m, "channel") == Some(channel) && field(m, "ts") == Some(ts))
}

/// A string field of a stored message.
fn field<'a>(message: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    message.get(key).and_then(Value::as_str)
}

/// Sort key for a Slack ts (`"seconds.fraction"`); unparsable parts count as 0.
fn ts_key(ts: Option<&str>) -> (u64, u64) {
    let ts = ts.unwrap_or_default();
    let (secs, frac) = ts.split_once('.').unwrap_or((ts, "0"));
    (secs.parse().unwrap_or(0), frac.parse().unwrap_or(0))
}

/// A parameter as a string: strings as they are, numbers and booleans printed.
fn str_param(params: &Value, key: &str) -> Option<String> {
    match params.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A query string as a JSON object of strings (a repeated key keeps its last value).
fn query_object(query: Option<&str>) -> Value {
    let map: Map<String, Value> = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect();
    Value::Object(map)
}

/// A POST body as JSON: parsed JSON, a form body as an object of strings, else
/// the body as a JSON string.
fn parse_body(headers: &HeaderMap, body: &[u8]) -> Value {
    if let Ok(value) = serde_json::from_slice(body) {
        return value;
    }
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if is_form {
        return query_object(Some(&String::from_utf8_lossy(body)));
    }
    Value::String(String::from_utf8_lossy(body).into_owned())
}

// ---------------------------------------------------------------- response_url

/// `POST /response/{id}`: records the body under `id`.
async fn response_url_post(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    let mut data = lock(&shared.data);
    data.response_times
        .entry(id.clone())
        .or_default()
        .push(Instant::now());
    data.responses.entry(id).or_default().push(value);
    Json(json!({"ok": true})).into_response()
}

// ---------------------------------------------------------------- Socket Mode

/// `GET /link`: upgrades to a WebSocket and hands it to its own task.
async fn websocket_upgrade(State(shared): State<Arc<Shared>>, ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |socket| async move { accept_connection(shared, socket) })
}

/// Registers a new connection and spawns the task that owns its socket.
fn accept_connection(shared: Arc<Shared>, socket: WebSocket) {
    shared.connections_accepted.fetch_add(1, Ordering::SeqCst);
    let id = shared.last_conn.fetch_add(1, Ordering::SeqCst) + 1;
    let (outgoing, frames) = mpsc::unbounded_channel();
    // Hold the registry lock while spawning, so the task cannot look itself up
    // (or remove itself) before it is registered.
    let mut conns = lock(&shared.conns);
    let task = tokio::spawn(run_connection(shared.clone(), id, socket, frames));
    conns.push(Conn {
        id,
        outgoing,
        task,
        greeted: false,
        retired: false,
    });
}

/// Greets the client, then writes queued frames and reads the client's frames
/// until either side closes. Reading continuously also gets the client's Pings
/// answered (tungstenite replies with Pongs as it reads).
async fn run_connection(
    shared: Arc<Shared>,
    id: u64,
    mut socket: WebSocket,
    mut frames: mpsc::UnboundedReceiver<Outgoing>,
) {
    let hello = json!({
        "type": "hello",
        "num_connections": 1,
        "debug_info": {"host": "fake-slack", "approximate_connection_time": 18060},
        "connection_info": {"app_id": "A0001"},
    })
    .to_string();
    if socket.send(Message::Text(hello.into())).await.is_ok() {
        if let Some(conn) = lock(&shared.conns).iter_mut().find(|c| c.id == id) {
            conn.greeted = true;
        }
        serve_connection(&shared, &mut socket, &mut frames).await;
    }
    lock(&shared.conns).retain(|c| c.id != id);
}

async fn serve_connection(
    shared: &Shared,
    socket: &mut WebSocket,
    frames: &mut mpsc::UnboundedReceiver<Outgoing>,
) {
    loop {
        tokio::select! {
            frame = frames.recv() => {
                let Some(Outgoing { text, written }) = frame else { return };
                if socket.send(Message::Text(text.into())).await.is_err() {
                    return;
                }
                // The sender may have stopped waiting; that is fine.
                let _ = written.send(());
            }
            received = socket.recv() => match received {
                Some(Ok(Message::Text(text))) => record_client_frame(shared, text.as_str()),
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                // Pings are answered by tungstenite; Pongs and Binary frames are ignored.
                Some(Ok(_)) => {}
            },
        }
    }
}

/// Records a client text frame as an ack when it is JSON with an `envelope_id`.
fn record_client_frame(shared: &Shared, text: &str) {
    match serde_json::from_str::<Value>(text) {
        Ok(frame) if frame.get("envelope_id").is_some() => {
            lock(&shared.data).acks.push((frame, false));
        }
        _ => eprintln!("fake Slack: ignoring client frame without envelope_id: {text}"),
    }
}

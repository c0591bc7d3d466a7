//! The outbox worker with a recording platform: cards posted once, edited
//! in place, and no change lost while a delivery is in flight.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use itsm_bot::chat::outbound::{Deliver, DeliveryError, OutboxWorker, Sending};
use itsm_bot::commands::inbound::Inbound;
use itsm_bot::commands::reply::Message;
use itsm_bot::commands::Engine;
use itsm_bot::domain::pace::Pace;
use itsm_bot::domain::{Platform, UserId};
use itsm_bot::store::messages::PostedMessage;
use sqlx::PgPool;

use crate::helpers::{inbound, Desk};

/// A platform that records what it was sent and, on the first post, lets a
/// change happen while the post is in flight.
pub(crate) struct Recorder {
    sent: Mutex<Vec<String>>,
    during_first_post: Mutex<Option<(Engine, String)>>,
    fail_next: Mutex<Option<DeliveryError>>,
}

impl Recorder {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Recorder {
            sent: Mutex::new(Vec::new()),
            during_first_post: Mutex::new(None),
            fail_next: Mutex::new(None),
        })
    }

    pub(crate) fn sent(&self) -> Vec<String> {
        self.sent.lock().unwrap().clone()
    }
}

impl Deliver for Recorder {
    fn platform(&self) -> Platform {
        Platform::Slack
    }

    async fn post_card(
        &self,
        channel: &str,
        _thread: Option<&str>,
        card: &Message,
    ) -> Result<PostedMessage, DeliveryError> {
        if let Some(err) = self.fail_next.lock().unwrap().take() {
            return Err(err);
        }
        let change = self.during_first_post.lock().unwrap().take();
        if let Some((engine, text)) = change {
            let reply = engine.handle(&inbound("bob", &text)).await;
            assert!(
                reply.message.plain_text().contains("resolved"),
                "{}",
                reply.message.plain_text()
            );
        }
        self.sent
            .lock()
            .unwrap()
            .push(format!("post {}", card.plain_text()));
        Ok(PostedMessage {
            channel: channel.to_string(),
            message_id: "1764000000.000100".into(),
            thread: "1764000000.000100".into(),
        })
    }

    async fn update_card(
        &self,
        _posted: &PostedMessage,
        card: &Message,
    ) -> Result<(), DeliveryError> {
        self.sent
            .lock()
            .unwrap()
            .push(format!("update {}", card.plain_text()));
        Ok(())
    }

    async fn send_direct(&self, reporter: &UserId, _survey: &Message) -> Result<(), DeliveryError> {
        self.sent.lock().unwrap().push(format!("survey {reporter}"));
        Ok(())
    }

    async fn post_notice(
        &self,
        channel: &str,
        _thread: Option<&str>,
        notice: &Message,
    ) -> Result<(), DeliveryError> {
        self.sent
            .lock()
            .unwrap()
            .push(format!("notice {channel} {}", notice.plain_text()));
        Ok(())
    }
}

pub(crate) fn worker(desk: &Desk, recorder: &Arc<Recorder>) -> OutboxWorker<Recorder> {
    OutboxWorker::new(
        desk.engine.store().clone(),
        recorder.clone(),
        desk.engine.clock(),
        desk.engine.outbox_signal(),
        desk.engine.config().clone(),
        desk.engine.metrics().clone(),
    )
}

#[sqlx::test]
async fn a_change_during_a_post_is_not_lost(pool: PgPool) {
    let desk = Desk::new(pool).await;
    let recorder = Recorder::new();
    desk.ok("slack:U0STAFF01", "/incident Scanner jams P3")
        .await;
    *recorder.during_first_post.lock().unwrap() = Some((
        desk.engine.clone(),
        "/incident INC-1 resolve cleared the feeder".into(),
    ));

    let worker = worker(&desk, &recorder);
    worker.drain().await.unwrap();
    let sent = recorder.sent();
    assert!(
        sent[0].starts_with("post ") && sent[0].contains("Status: new"),
        "{sent:?}"
    );
    let last_card = sent
        .iter()
        .rev()
        .find(|s| s.starts_with("update "))
        .expect("an update after the post");
    assert!(
        last_card.contains("Status: resolved") && last_card.contains("cleared the feeder"),
        "{sent:?}"
    );
    assert!(
        sent.contains(&"survey slack:U0STAFF01".to_string()),
        "{sent:?}"
    );
    assert_eq!(worker.drain().await.unwrap(), 0, "nothing left to send");
}

#[sqlx::test]
async fn updates_waiting_together_are_sent_as_one(pool: PgPool) {
    let desk = Desk::new(pool).await;
    let recorder = Recorder::new();
    desk.ok("slack:U0STAFF01", "/incident Badge reader dead P3")
        .await;
    let worker = worker(&desk, &recorder);
    worker.drain().await.unwrap();
    desk.ok("bob", "/incident INC-1 ack").await;
    desk.ok("bob", "/incident INC-1 assign @bob").await;
    desk.ok("bob", "/incident INC-1 priority P2").await;
    worker.drain().await.unwrap();
    let updates: Vec<String> = recorder
        .sent()
        .into_iter()
        .filter(|s| s.starts_with("update "))
        .collect();
    assert_eq!(updates.len(), 1, "{updates:?}");
    assert!(
        updates[0].contains("Priority: P2") && updates[0].contains("Assignee: shell:bob"),
        "{updates:?}"
    );
}

#[sqlx::test]
async fn temporary_failures_are_retried_and_permanent_ones_parked(pool: PgPool) {
    let desk = Desk::new(pool.clone()).await;
    let recorder = Recorder::new();
    desk.ok("slack:U0STAFF01", "/incident Phone line dead P3")
        .await;
    *recorder.fail_next.lock().unwrap() = Some(DeliveryError::Retry {
        reason: "429".into(),
        after: Some(std::time::Duration::from_secs(30)),
    });
    let worker = worker(&desk, &recorder);
    worker.drain().await.unwrap();
    assert!(recorder.sent().is_empty());
    // The retry waits the Retry-After from the failure (plus at most a
    // second of jitter), on the engine's clock, which stood at the start
    // while the worker ran.
    let (attempts, waiting): (i32, bool) = sqlx::query_as(
        "SELECT attempts, not_before BETWEEN $1 AND $1 + interval '1 second' AND sent_at IS NULL FROM outbox",
    )
    .bind(crate::helpers::start() + chrono::Duration::seconds(30))
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((attempts, waiting), (1, true));
    // Once Retry-After has passed, it goes out.
    desk.clock.advance(chrono::Duration::seconds(31));
    worker.drain().await.unwrap();
    assert_eq!(recorder.sent().len(), 1);

    desk.ok("slack:U0STAFF01", "/incident Fax dead P4").await;
    *recorder.fail_next.lock().unwrap() =
        Some(DeliveryError::Permanent("channel_not_found".into()));
    worker.drain().await.unwrap();
    let parked: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE failed_at IS NOT NULL")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(parked, 1);
}

/// Admins see parked posts with their last error and queue them again.
#[sqlx::test]
async fn admins_list_and_retry_parked_posts(pool: PgPool) {
    let vars = [(
        "ITSM__ROLES__ADMIN".to_string(),
        "[\"shell:root\"]".to_string(),
    )];
    let config = itsm_bot::config::Config::load_with_env(None, vars).unwrap();
    let desk = Desk::with_config(pool.clone(), config).await;
    desk.ok("slack:U0STAFF01", "/incident Cannot print P3")
        .await;
    desk.ok("slack:U0STAFF01", "/incident Cannot scan P3").await;
    sqlx::query("UPDATE outbox SET failed_at = $1, attempts = 8, last_error = 'channel_not_found'")
        .bind(crate::helpers::start())
        .execute(&pool)
        .await
        .unwrap();
    let status = desk.ok("root", "/itsm outbox").await;
    assert!(status.contains("0 post(s) waiting, 2 parked"), "{status}");
    assert!(
        status.contains("INC-1") && status.contains("channel_not_found"),
        "{status}"
    );
    let refused = desk.refused("alice", "/itsm outbox").await;
    assert!(refused.contains("admin role"), "{refused}");
    desk.refused("root", "/itsm outbox retry 999").await;
    desk.refused("root", "/itsm outbox retry soon").await;

    let id: i64 = sqlx::query_scalar("SELECT min(id) FROM outbox")
        .fetch_one(&pool)
        .await
        .unwrap();
    let one = desk.ok("root", &format!("/itsm outbox retry {id}")).await;
    assert!(one.contains("1 parked post(s) queued again"), "{one}");
    let all = desk.ok("root", "/itsm outbox retry").await;
    assert!(all.contains("1 parked post(s) queued again"), "{all}");
    let (waiting, attempts): (i64, i64) = sqlx::query_as(
        "SELECT count(*), sum(attempts) FROM outbox WHERE failed_at IS NULL AND sent_at IS NULL",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((waiting, attempts), (2, 0));
    desk.refused("root", "/itsm outbox retry").await;
}

/// A row another worker has leased (it is sending it, or the database went
/// away before it could record that it did) is left alone until the lease
/// runs out, so a database restart mid-send does not post it twice.
#[sqlx::test]
async fn leased_rows_wait_for_their_worker(pool: PgPool) {
    let desk = Desk::new(pool.clone()).await;
    let recorder = Recorder::new();
    desk.ok("slack:U0STAFF01", "/incident Projector dead P3")
        .await;
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM outbox")
        .fetch_all(&pool)
        .await
        .unwrap();
    let mut conn = pool.acquire().await.unwrap();
    let until = crate::helpers::start() + chrono::Duration::minutes(2);
    itsm_bot::store::outbox::lease(&mut conn, &ids, until)
        .await
        .unwrap();
    drop(conn);

    let worker = worker(&desk, &recorder);
    assert_eq!(worker.drain().await.unwrap(), 0, "leased elsewhere");
    // A later change to the same card waits too: one worker per card.
    desk.ok("bob", "/incident INC-1 ack").await;
    assert_eq!(worker.drain().await.unwrap(), 0, "the card is leased");
    assert!(recorder.sent().is_empty(), "{:?}", recorder.sent());

    desk.clock.set(until + chrono::Duration::seconds(1));
    worker.drain().await.unwrap();
    let sent = recorder.sent();
    assert_eq!(
        sent.len(),
        1,
        "the card once, with the latest state: {sent:?}"
    );
    assert!(
        sent[0].starts_with("post ") && sent[0].contains("acknowledged"),
        "{sent:?}"
    );
}

/// `outbox.max_attempts` decides when temporary failures stop being retried.
#[sqlx::test]
async fn temporary_failures_are_parked_after_max_attempts(pool: PgPool) {
    let vars = [("ITSM__OUTBOX__MAX_ATTEMPTS".to_string(), "2".to_string())];
    let config = itsm_bot::config::Config::load_with_env(None, vars).unwrap();
    let desk = Desk::with_config(pool.clone(), config).await;
    let recorder = Recorder::new();
    desk.ok("slack:U0STAFF01", "/incident Kiosk frozen P3")
        .await;
    let worker = worker(&desk, &recorder);
    for _ in 0..2 {
        *recorder.fail_next.lock().unwrap() = Some(DeliveryError::Retry {
            reason: "500".into(),
            after: Some(std::time::Duration::from_secs(1)),
        });
        worker.drain().await.unwrap();
        desk.clock.advance(chrono::Duration::seconds(2));
    }
    let (attempts, parked): (i32, bool) =
        sqlx::query_as("SELECT attempts, failed_at IS NOT NULL FROM outbox")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((attempts, parked), (2, true));
    assert!(recorder.sent().is_empty());
}

/// A burst of reports is carded in batches: every card once, even with two
/// workers (replicas) draining side by side, and each card's place recorded.
#[sqlx::test]
async fn a_burst_is_carded_once_by_workers_side_by_side(pool: PgPool) {
    let desk = Desk::new(pool.clone()).await;
    let recorder = Recorder::new();
    for n in 0..40 {
        desk.ok("slack:U0STAFF01", &format!("/incident Kiosk {n} frozen P3"))
            .await;
    }
    let (one, two) = (worker(&desk, &recorder), worker(&desk, &recorder));
    let (first, second) = tokio::join!(one.drain(), two.drain());
    assert_eq!(first.unwrap() + second.unwrap(), 40);
    let posts = recorder.sent();
    assert_eq!(posts.len(), 40, "{posts:?}");
    for n in 0..40 {
        let card = format!("Kiosk {n} frozen");
        assert_eq!(
            posts.iter().filter(|post| post.contains(&card)).count(),
            1,
            "{card}: {posts:?}"
        );
    }
    let (cards, waiting): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM ticket_messages),
                (SELECT count(*) FROM outbox WHERE sent_at IS NULL)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((cards, waiting), (40, 0));
}

/// One failed send in a batch is retried on its own; the rest are recorded.
#[sqlx::test]
async fn a_failure_in_a_batch_holds_back_only_its_row(pool: PgPool) {
    let desk = Desk::new(pool.clone()).await;
    let recorder = Recorder::new();
    for n in 0..5 {
        desk.ok("slack:U0STAFF01", &format!("/incident Till {n} offline P3"))
            .await;
    }
    *recorder.fail_next.lock().unwrap() = Some(DeliveryError::Retry {
        reason: "500".into(),
        after: Some(std::time::Duration::from_secs(5)),
    });
    let worker = worker(&desk, &recorder);
    assert_eq!(worker.drain().await.unwrap(), 5);
    assert_eq!(recorder.sent().len(), 4);
    let (sent, retrying): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE sent_at IS NOT NULL),
                count(*) FILTER (WHERE sent_at IS NULL AND attempts = 1 AND failed_at IS NULL)
         FROM outbox",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((sent, retrying), (4, 1));
    desk.clock.advance(chrono::Duration::seconds(6));
    assert_eq!(worker.drain().await.unwrap(), 1);
    assert_eq!(recorder.sent().len(), 5);
}

/// A platform that paces posts as a strict one: one post per second per
/// channel, no burst; edits one per second for the workspace.
struct Paced {
    sent: Mutex<Vec<(String, String)>>,
}

impl Paced {
    fn new() -> Arc<Self> {
        Arc::new(Paced {
            sent: Mutex::new(Vec::new()),
        })
    }

    /// What was sent: `("post C", text)` or `("update C", text)`.
    fn sent(&self) -> Vec<(String, String)> {
        self.sent.lock().unwrap().clone()
    }

    fn posts_in(&self, channel: &str) -> usize {
        let post = format!("post {channel}");
        self.sent().iter().filter(|(what, _)| *what == post).count()
    }
}

impl Deliver for Paced {
    fn platform(&self) -> Platform {
        Platform::Slack
    }

    fn pace(&self, sending: Sending<'_>) -> Option<Pace> {
        let second = std::time::Duration::from_secs(1);
        Some(match sending {
            Sending::Post { channel, .. } => Pace::new(format!("post:{channel}"), second, 1),
            Sending::Direct { user } => Pace::new(format!("post:{user}"), second, 1),
            Sending::Edit { .. } => Pace::new("edit", second, 1),
        })
    }

    async fn post_card(
        &self,
        channel: &str,
        _thread: Option<&str>,
        card: &Message,
    ) -> Result<PostedMessage, DeliveryError> {
        let mut sent = self.sent.lock().unwrap();
        sent.push((format!("post {channel}"), card.plain_text()));
        let ts = format!("1764000000.{:06}", sent.len());
        Ok(PostedMessage {
            channel: channel.to_string(),
            message_id: ts.clone(),
            thread: ts,
        })
    }

    async fn update_card(
        &self,
        posted: &PostedMessage,
        card: &Message,
    ) -> Result<(), DeliveryError> {
        self.sent
            .lock()
            .unwrap()
            .push((format!("update {}", posted.channel), card.plain_text()));
        Ok(())
    }

    async fn send_direct(&self, reporter: &UserId, survey: &Message) -> Result<(), DeliveryError> {
        self.sent
            .lock()
            .unwrap()
            .push((format!("survey {reporter}"), survey.plain_text()));
        Ok(())
    }

    async fn post_notice(
        &self,
        channel: &str,
        _thread: Option<&str>,
        notice: &Message,
    ) -> Result<(), DeliveryError> {
        self.sent
            .lock()
            .unwrap()
            .push((format!("post {channel}"), notice.plain_text()));
        Ok(())
    }
}

fn paced_worker(desk: &Desk, paced: &Arc<Paced>) -> OutboxWorker<Paced> {
    OutboxWorker::new(
        desk.engine.store().clone(),
        paced.clone(),
        desk.engine.clock(),
        desk.engine.outbox_signal(),
        desk.engine.config().clone(),
        desk.engine.metrics().clone(),
    )
}

/// Whether reporting `title` in `channel` wakes the outbox workers.
async fn wakes_the_outbox(desk: &Desk, channel: &str, title: &str) -> bool {
    let signal = desk.engine.outbox_signal();
    let woken = signal.notified();
    tokio::pin!(woken);
    woken.as_mut().enable();
    report_in(desk, channel, title).await;
    tokio::time::timeout(std::time::Duration::from_millis(100), woken)
        .await
        .is_ok()
}

/// When the card of `title` is due, counted from when it was queued.
async fn card_wait(pool: &PgPool, title: &str) -> chrono::Duration {
    let (created, due): (DateTime<Utc>, DateTime<Utc>) = sqlx::query_as(
        "SELECT o.created_at, o.not_before FROM outbox o JOIN tickets t ON t.id = o.ticket_id
         WHERE t.title = $1 AND o.kind = 'ticket_message'",
    )
    .bind(title)
    .fetch_one(pool)
    .await
    .unwrap();
    due - created
}

#[sqlx::test]
async fn a_card_for_a_storming_channel_waits_for_the_next_fold(pool: PgPool) {
    let desk = Desk::new(pool.clone()).await;
    let paced = Paced::new();
    for n in 0..30 {
        report_in(&desk, "C0STORM", &format!("Storm alert {n}")).await;
    }
    let worker = paced_worker(&desk, &paced);
    worker.drain().await.unwrap();
    assert_eq!(paced.posts_in("C0STORM"), 1, "{:?}", paced.sent());

    // A report in the storming channel queues a card that would only join
    // the summary: it waits a second, and nothing is woken for it.
    assert!(!wakes_the_outbox(&desk, "C0STORM", "Storm alert late").await);
    assert_eq!(
        card_wait(&pool, "Storm alert late").await,
        chrono::Duration::seconds(1)
    );
    // A report in a quiet channel is carded at once.
    assert!(wakes_the_outbox(&desk, "C0QUIET", "Printer jam").await);
    assert_eq!(
        card_wait(&pool, "Printer jam").await,
        chrono::Duration::zero()
    );

    let listed = |title: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM outbox_summary_tickets l JOIN tickets t ON t.id = l.ticket_id
                 WHERE t.title = $1",
            )
            .bind(title)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    worker.drain().await.unwrap();
    assert_eq!(listed("Storm alert late").await, 0, "not due yet");
    assert_eq!(paced.posts_in("C0QUIET"), 1, "{:?}", paced.sent());
    // A second on, the next claim folds it into the summary.
    desk.clock.advance(chrono::Duration::seconds(1));
    worker.drain().await.unwrap();
    assert_eq!(listed("Storm alert late").await, 1);
    assert_eq!(paced.posts_in("C0STORM"), 1, "{:?}", paced.sent());

    // Once the storm is over, a new report there is carded at once again.
    desk.clock.advance(chrono::Duration::seconds(30));
    assert!(wakes_the_outbox(&desk, "C0STORM", "Later, alone").await);
    assert_eq!(
        card_wait(&pool, "Later, alone").await,
        chrono::Duration::zero()
    );
}

/// Reports an incident from Slack in `channel`.
async fn report_in(desk: &Desk, channel: &str, title: &str) {
    let user: UserId = "slack:U0STAFF01".parse().unwrap();
    let reply = desk
        .engine
        .handle(&Inbound::new(
            user,
            channel,
            format!("/incident {title} P3"),
        ))
        .await;
    assert!(
        reply.message.plain_text().contains("INC-"),
        "{}",
        reply.message.plain_text()
    );
}

/// Two workers (as two replicas) share one pace per channel through the
/// database, and a busy channel does not hold up another.
#[sqlx::test]
async fn two_workers_share_the_pace_of_a_channel(pool: PgPool) {
    let desk = Desk::new(pool.clone()).await;
    let paced = Paced::new();
    for n in 0..5 {
        report_in(&desk, "C0BUSY", &format!("Kiosk {n} frozen")).await;
    }
    report_in(&desk, "C0QUIET", "Printer jammed").await;
    let (one, two) = (paced_worker(&desk, &paced), paced_worker(&desk, &paced));
    // Five cards would take four seconds after the first: under
    // `outbox.coalesce_after` (10 s), so they are posted one by one.
    for second in 0..5 {
        let (first, other) = tokio::join!(one.drain(), two.drain());
        first.unwrap();
        other.unwrap();
        assert_eq!(
            paced.posts_in("C0BUSY"),
            second + 1,
            "second {second}: {:?}",
            paced.sent()
        );
        // The quiet channel got its card at once.
        assert_eq!(paced.posts_in("C0QUIET"), 1, "{:?}", paced.sent());
        desk.clock.advance(chrono::Duration::milliseconds(1000));
    }
    let (cards, waiting, summaries): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM ticket_messages),
                (SELECT count(*) FROM outbox WHERE sent_at IS NULL),
                (SELECT count(*) FROM outbox_summaries)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((cards, waiting, summaries), (6, 0, 0));
}

/// An incident's card row names the channel it goes to from the moment
/// the incident opens, so a claim can fold it into a storm's summary
/// without reading the incident to render it.
#[sqlx::test]
async fn an_incidents_card_row_names_its_channel_when_it_opens(pool: PgPool) {
    let desk = Desk::new(pool.clone()).await;
    report_in(&desk, "C0STORM", "Kiosk frozen").await;
    report_in(&desk, "C0QUIET", "Printer jammed").await;
    let channels: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT t.title, o.channel FROM outbox o JOIN tickets t ON t.id = o.ticket_id
         WHERE o.kind = 'ticket_message' ORDER BY o.id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        channels,
        [
            ("Kiosk frozen".to_string(), Some("C0STORM".to_string())),
            ("Printer jammed".to_string(), Some("C0QUIET".to_string())),
        ]
    );
}

/// A backlog that would take longer than `outbox.coalesce_after` to post
/// at the channel's pace becomes one summary post, edited as its tickets
/// change; nothing is lost and no card is posted twice.
#[sqlx::test]
async fn a_long_backlog_becomes_one_summary_post(pool: PgPool) {
    let desk = Desk::new(pool.clone()).await;
    let paced = Paced::new();
    for n in 0..30 {
        report_in(&desk, "C0STORM", &format!("Storm alert {n}")).await;
    }
    let (one, two) = (paced_worker(&desk, &paced), paced_worker(&desk, &paced));
    let (first, other) = tokio::join!(one.drain(), two.drain());
    first.unwrap();
    other.unwrap();
    let sent = paced.sent();
    assert_eq!(paced.posts_in("C0STORM"), 1, "{sent:?}");
    // The summary may have been posted before the last cards joined it:
    // its edits bring it up to date, one per second.
    for _ in 0..5 {
        desk.clock.advance(chrono::Duration::seconds(1));
        one.drain().await.unwrap();
    }
    let sent = paced.sent();
    let (_, last) = sent.last().unwrap();
    assert!(last.contains("30 new incidents"), "{sent:?}");
    assert!(
        last.contains("INC-1 Storm alert 0 (P3)") && last.contains("…and 15 more"),
        "{last}"
    );
    assert_eq!(paced.posts_in("C0STORM"), 1, "{sent:?}");
    let (listed, cards, waiting): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(DISTINCT ticket_id) FROM outbox_summary_tickets),
                (SELECT count(*) FROM ticket_messages),
                (SELECT count(*) FROM outbox WHERE sent_at IS NULL)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((listed, cards, waiting), (30, 0, 0));

    // A change of a listed ticket edits the summary, not a card of its own.
    desk.ok("bob", "/incident INC-2 ack").await;
    desk.clock.advance(chrono::Duration::seconds(1));
    one.drain().await.unwrap();
    let sent = paced.sent();
    let (what, last) = sent.last().unwrap();
    assert_eq!(what, "update C0STORM", "{sent:?}");
    assert!(
        last.contains("INC-2 Storm alert 1 (P3) · acknowledged"),
        "{last}"
    );
    assert_eq!(paced.posts_in("C0STORM"), 1, "{sent:?}");

    // Once the storm is over, a new incident gets its own card again.
    desk.clock.advance(chrono::Duration::seconds(30));
    report_in(&desk, "C0STORM", "Later, alone").await;
    one.drain().await.unwrap();
    let sent = paced.sent();
    let (what, last) = sent.last().unwrap();
    assert_eq!(what, "post C0STORM", "{sent:?}");
    assert!(last.contains("Later, alone"), "{last}");
}

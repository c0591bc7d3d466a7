//! `[retention]`: the scheduler's retention job deletes old bookkeeping rows
//! in batches and leaves young rows, parked rows, tickets and timelines.

use itsm_bot::config::Config;
use itsm_bot::scheduler::retention::prune;
use itsm_bot::store::retention::Prunable;
use sqlx::PgPool;

use crate::helpers::{start, Desk};

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

/// Runs `sql` with `$1` = now and `$2` = the ticket id.
async fn exec(pool: &PgPool, sql: &str, ticket: i64) {
    sqlx::query(sql)
        .bind(start())
        .bind(ticket)
        .execute(pool)
        .await
        .unwrap();
}

#[sqlx::test]
async fn old_rows_go_young_ones_and_tickets_stay(pool: PgPool) {
    let desk = Desk::new(pool.clone()).await;
    desk.ok("alice", "/incident Printer on fire P3").await;
    desk.ok("alice", "/incident INC-1 note it smells").await;
    let ticket: i64 = count(&pool, "SELECT min(id) FROM tickets").await;
    let tickets = count(&pool, "SELECT count(*) FROM tickets").await;
    let events = count(&pool, "SELECT count(*) FROM ticket_events").await;
    assert!(events >= 2);
    let posts_before = count(&pool, "SELECT count(*) FROM outbox").await;
    let statements = [
        // Five old handled deliveries (more than a batch of 2) and a young one.
        "INSERT INTO processed_inbound (platform, event_id, processed_at, reply)
         SELECT 'slack', 'old-' || n, $1 - interval '31 days', 'ok' FROM generate_series(1, 5) n
         UNION ALL SELECT 'slack', 'young', $1 - interval '29 days', 'ok' WHERE $2 > 0",
        // Posts: delivered long ago (goes), delivered recently, parked long
        // ago, pending since long ago (all three stay).
        "INSERT INTO outbox (platform, kind, ticket_id, created_at, not_before, sent_at, failed_at)
         VALUES ('slack', 'ticket_message', $2, $1 - interval '20 days', $1 - interval '20 days', $1 - interval '15 days', NULL),
                ('slack', 'ticket_message', $2, $1 - interval '20 days', $1 - interval '20 days', $1 - interval '13 days', NULL),
                ('slack', 'ticket_message', $2, $1 - interval '20 days', $1 - interval '20 days', NULL, $1 - interval '19 days'),
                ('slack', 'ticket_message', $2, $1 - interval '20 days', $1 + interval '1 day', NULL, NULL)",
        "INSERT INTO outbound_calls (source, name, event, ticket_id, method, url, body, max_attempts, created_at, not_before, sent_at, failed_at)
         VALUES ('rule', 'r', 'incident.created', $2, 'POST', 'http://127.0.0.1:9/', '{}', 3, $1 - interval '40 days', $1 - interval '40 days', $1 - interval '31 days', NULL),
                ('rule', 'r', 'incident.created', $2, 'POST', 'http://127.0.0.1:9/', '{}', 3, $1 - interval '40 days', $1 - interval '40 days', $1 - interval '29 days', NULL),
                ('rule', 'r', 'incident.created', $2, 'POST', 'http://127.0.0.1:9/', '{}', 3, $1 - interval '40 days', $1 - interval '40 days', NULL, $1 - interval '39 days')",
        "INSERT INTO page_hooks (ticket_id, event_action, body, created_at, not_before, sent_at)
         VALUES ($2, 'trigger', '{}', $1 - interval '40 days', $1 - interval '40 days', $1 - interval '31 days'),
                ($2, 'resolve', '{}', $1 - interval '2 days', $1 - interval '2 days', $1 - interval '1 day')",
        "INSERT INTO job_runs (job, scheduled_for, started_at)
         VALUES ('digest:ops', $1 - interval '91 days', $1 - interval '91 days'),
                ('digest:ops', $1 - interval '89 days', $1 - interval '89 days')
         ON CONFLICT DO NOTHING",
    ];
    for sql in statements {
        exec(&pool, sql, ticket).await;
    }
    let config = Config::defaults().unwrap().retention;
    let pruned = prune(desk.engine.store(), &config, start(), 2, None)
        .await
        .unwrap();
    let by_kind = |kind| pruned.iter().find(|(k, _)| *k == kind).unwrap().1;
    assert_eq!(by_kind(Prunable::ProcessedInbound), 5);
    assert_eq!(by_kind(Prunable::DeliveredPosts), 1);
    assert_eq!(by_kind(Prunable::DeliveredCalls), 1);
    assert_eq!(by_kind(Prunable::DeliveredPages), 1);
    assert_eq!(by_kind(Prunable::JobRuns), 1);

    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM processed_inbound WHERE event_id LIKE 'old-%'"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM processed_inbound WHERE event_id = 'young'"
        )
        .await,
        1
    );
    // The recent delivery, the parked one and the pending one stay.
    assert_eq!(
        count(&pool, "SELECT count(*) FROM outbox").await,
        posts_before + 3
    );
    assert_eq!(count(&pool, "SELECT count(*) FROM outbound_calls").await, 2);
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM outbound_calls WHERE failed_at IS NOT NULL"
        )
        .await,
        1
    );
    assert_eq!(count(&pool, "SELECT count(*) FROM page_hooks").await, 1);
    assert_eq!(count(&pool, "SELECT count(*) FROM job_runs").await, 1);
    // Tickets and timelines are never pruned.
    assert_eq!(count(&pool, "SELECT count(*) FROM tickets").await, tickets);
    assert_eq!(
        count(&pool, "SELECT count(*) FROM ticket_events").await,
        events
    );
    desk.ok("alice", "/incident INC-1 show").await;

    // A second run finds nothing more.
    let again = prune(desk.engine.store(), &config, start(), 2, None)
        .await
        .unwrap();
    assert!(again.iter().all(|(_, rows)| *rows == 0), "{again:?}");
}

/// The job runs inside the scheduler on `retention.schedule`.
#[sqlx::test]
async fn the_scheduler_prunes_on_its_schedule(pool: PgPool) {
    let vars = [(
        "ITSM__RETENTION__SCHEDULE".to_string(),
        "* * * * * *".to_string(),
    )];
    let config = Config::load_with_env(None, vars).unwrap();
    let desk = Desk::with_config(pool.clone(), config).await;
    // `exec` binds a ticket id as $2; no ticket here, so it only pads a reply.
    exec(
        &pool,
        "INSERT INTO processed_inbound (platform, event_id, processed_at, reply)
         VALUES ('slack', 'old', $1 - interval '31 days', 'ok'),
                ('slack', 'young', $1 - interval '1 day', 'ok' || $2)",
        0,
    )
    .await;
    let (trigger, stop) = itsm_bot::lifecycle::Shutdown::new();
    let scheduler = tokio::spawn(itsm_bot::scheduler::run(desk.engine.clone(), stop, None));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while count(&pool, "SELECT count(*) FROM processed_inbound").await > 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the retention job did not run within 10 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    trigger.trigger();
    scheduler.await.unwrap();
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM processed_inbound WHERE event_id = 'young'"
        )
        .await,
        1
    );
}

//! Several replicas on one database: only the holder of the gateway lease
//! connects to Discord, and another one takes over when it stops or loses
//! the lease.

use std::time::Duration;

use itsm_bot::app::App;
use itsm_bot::chat::discord::{DiscordAdapter, DiscordError, GATEWAY_LEASE};
use itsm_bot::clock::SystemClock;
use itsm_bot::config::Config;
use itsm_bot::lifecycle::{Shutdown, ShutdownTrigger};
use itsm_bot::store::Store;
use sqlx::PgPool;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::fake_discord::{FakeDiscord, GUILD_ID};
use crate::WAIT;

/// Short, so the tests stay fast; the timing scales with it.
const FAILOVER: Duration = Duration::from_secs(2);

struct Replica {
    trigger: ShutdownTrigger,
    running: JoinHandle<Result<(), DiscordError>>,
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.trigger.trigger();
    }
}

async fn replica(pool: &PgPool, fake: &FakeDiscord) -> Replica {
    let vars = [
        ("ITSM__DISCORD__TOKEN", "discord-test-token".to_string()),
        ("ITSM__DISCORD__API_URL", fake.base_url()),
        ("ITSM__DISCORD__GUILD_IDS", format!("[{GUILD_ID}]")),
        (
            "ITSM__DISCORD__FAILOVER_SECONDS",
            FAILOVER.as_secs().to_string(),
        ),
    ];
    let config =
        Config::load_with_env(None, vars.iter().map(|(k, v)| (k.to_string(), v.clone()))).unwrap();
    let app = App::with_store(
        config.clone(),
        Store::from_pool(pool.clone()),
        std::sync::Arc::new(SystemClock),
    )
    .await
    .unwrap();
    let adapter = DiscordAdapter::new(app.engine.clone(), &config.discord).unwrap();
    let (trigger, shutdown) = Shutdown::new();
    Replica {
        trigger,
        running: tokio::spawn(adapter.run(shutdown)),
    }
}

async fn wait_until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "{what} within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn lease_holder(pool: &PgPool) -> Option<String> {
    sqlx::query_scalar("SELECT holder FROM leases WHERE name = $1")
        .bind(GATEWAY_LEASE)
        .fetch_optional(pool)
        .await
        .unwrap()
}

/// Two replicas: one IDENTIFY at the fake, however long they run side by
/// side; the holder stops and the other connects within the failover time.
#[sqlx::test]
async fn two_replicas_hold_one_gateway_connection_and_hand_over_on_stop(pool: PgPool) {
    let fake = FakeDiscord::start().await;
    let mut first = replica(&pool, &fake).await;
    fake.wait_ready(WAIT).await;
    let holder = lease_holder(&pool)
        .await
        .expect("the first replica holds the lease");
    let _second = replica(&pool, &fake).await;
    // Several lease periods: the standby keeps trying and keeps losing.
    tokio::time::sleep(FAILOVER * 2).await;
    assert_eq!(fake.identifies(), 1, "only the lease holder connects");
    assert_eq!(lease_holder(&pool).await, Some(holder.clone()));

    let stopped = Instant::now();
    first.trigger.trigger();
    tokio::time::timeout(WAIT, &mut first.running)
        .await
        .expect("the holder did not stop")
        .unwrap()
        .unwrap();
    wait_until("the standby connects", FAILOVER, || fake.identifies() == 2).await;
    fake.wait_ready(FAILOVER).await;
    assert!(
        stopped.elapsed() <= FAILOVER,
        "handover took {:?}",
        stopped.elapsed()
    );
    let new_holder = lease_holder(&pool).await;
    assert!(new_holder.is_some() && new_holder != Some(holder));
}

/// The holder loses its lease (another replica has it, as after a long
/// database outage): it closes its gateway connection; when the lease is
/// free again, a replica connects again.
#[sqlx::test]
async fn a_replica_that_loses_the_lease_disconnects(pool: PgPool) {
    let fake = FakeDiscord::start().await;
    let only = replica(&pool, &fake).await;
    fake.wait_ready(WAIT).await;
    assert_eq!(fake.identifies(), 1);

    sqlx::query("UPDATE leases SET holder = 'intruder', expires_at = now() + interval '1 hour'")
        .execute(&pool)
        .await
        .unwrap();
    wait_until("the holder closes its connection", FAILOVER, || {
        !fake.connected()
    })
    .await;
    tokio::time::sleep(FAILOVER).await;
    assert_eq!(fake.identifies(), 1, "no reconnect while another holds it");

    sqlx::query("DELETE FROM leases")
        .execute(&pool)
        .await
        .unwrap();
    wait_until("it connects again", FAILOVER, || fake.identifies() == 2).await;
    drop(only);
}

/// The holder is cut off from the database (as when its host dies or is
/// partitioned): it cannot renew, so it closes its gateway connection
/// before its claim expires, and the standby connects within the failover
/// time, never while the old connection is still open.
#[sqlx::test]
async fn when_the_holder_is_cut_off_the_standby_connects_within_the_failover_time(pool: PgPool) {
    let fake = FakeDiscord::start().await;
    let cut_off = PgPool::connect_with(pool.connect_options().as_ref().clone())
        .await
        .unwrap();
    let _holder = replica(&cut_off, &fake).await;
    fake.wait_ready(WAIT).await;
    let _standby = replica(&pool, &fake).await;
    tokio::time::sleep(FAILOVER).await;
    assert_eq!(fake.identifies(), 1);

    let died = Instant::now();
    cut_off.close().await;
    while fake.identifies() < 2 {
        assert!(died.elapsed() < FAILOVER * 3, "the standby never connected");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let took = died.elapsed();
    // The fake records a connection still open when a newer one came: a
    // test polling for the gap between the two could miss the gap when
    // its own task was scheduled late, and fail a handover that was right.
    assert_eq!(
        fake.displaced(),
        0,
        "the old connection was still open when the standby connected"
    );
    assert!(
        took <= FAILOVER + Duration::from_millis(500),
        "took over after {took:?}"
    );
    fake.wait_ready(WAIT).await;
}

/// Shutdown hands the lease back: the row is gone at once.
#[sqlx::test]
async fn shutdown_releases_the_lease(pool: PgPool) {
    let fake = FakeDiscord::start().await;
    let only = replica(&pool, &fake).await;
    fake.wait_ready(WAIT).await;
    assert!(lease_holder(&pool).await.is_some());
    let mut only = only;
    only.trigger.trigger();
    tokio::time::timeout(WAIT, &mut only.running)
        .await
        .expect("the adapter did not stop")
        .unwrap()
        .unwrap();
    assert_eq!(lease_holder(&pool).await, None);
    wait_until("the gateway connection closes", WAIT, || !fake.connected()).await;
}

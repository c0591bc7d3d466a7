//! The lease that keeps the Discord gateway on one replica, against a real
//! PostgreSQL: one holder at a time, takeover when the holder dies, handover
//! at once when it lets go.

use std::time::Duration;

use itsm_bot::lease::{Lease, LeaseEnd, LeaseTiming};
use itsm_bot::lifecycle::Shutdown;
use itsm_bot::store::{self, Store};
use sqlx::PgPool;
use tokio::time::Instant;

const FAILOVER: Duration = Duration::from_secs(2);

fn replica(pool: &PgPool) -> Lease {
    Lease::new(
        Store::from_pool(pool.clone()),
        "test-gateway",
        LeaseTiming::for_failover(FAILOVER),
    )
}

#[sqlx::test]
async fn of_two_replicas_claiming_at_once_only_one_wins(pool: PgPool) {
    let (a, b) = (replica(&pool), replica(&pool));
    assert_ne!(a.holder(), b.holder());
    let (first, second) = tokio::join!(a.try_claim(), b.try_claim());
    let (first, second) = (first.unwrap(), second.unwrap());
    assert!(
        first.is_some() != second.is_some(),
        "exactly one claim wins: {first:?} {second:?}"
    );
    let winner = if first.is_some() { &a } else { &b };
    let loser = if first.is_some() { &b } else { &a };
    // The winner renews; the loser keeps losing while the claim is fresh.
    assert!(winner.try_claim().await.unwrap().is_some());
    assert!(loser.try_claim().await.unwrap().is_none());
    let held = store::leases::current(&pool, "test-gateway")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(held.holder, winner.holder());
}

/// The holder stops renewing (its process died): the standby, waiting in
/// `acquire`, gets the lease within the failover time, and the old holder's
/// next renewal finds it gone.
#[sqlx::test]
async fn a_standby_takes_over_within_the_failover_time_when_the_holder_dies(pool: PgPool) {
    let (dead, standby) = (replica(&pool), replica(&pool));
    assert!(dead.try_claim().await.unwrap().is_some());
    let died = Instant::now();
    let (_trigger, mut stop) = Shutdown::new();
    let acquired = tokio::time::timeout(FAILOVER * 2, standby.acquire(&mut stop))
        .await
        .expect("the standby never took over");
    assert!(acquired.is_some());
    let took = died.elapsed();
    assert!(took <= FAILOVER, "took over after {took:?}");
    // Not before the dead holder's claim could have expired.
    assert!(
        took >= dead.timing().ttl - dead.timing().every,
        "took over after only {took:?}"
    );
    assert!(dead.try_claim().await.unwrap().is_none());
}

/// A holder that lets go hands over at once: the standby's next attempt
/// wins, well before the claim would have expired.
#[sqlx::test]
async fn release_hands_the_lease_over_at_once(pool: PgPool) {
    let (holder, standby) = (replica(&pool), replica(&pool));
    let valid_until = holder.try_claim().await.unwrap().unwrap();
    let (trigger, mut stop) = Shutdown::new();
    let holding = tokio::spawn({
        let holder = holder.clone();
        async move { holder.hold(valid_until, &mut stop).await }
    });
    // Renewals keep the standby out for longer than a claim lasts.
    let (_standby_trigger, mut standby_stop) = Shutdown::new();
    let early = tokio::time::timeout(FAILOVER, standby.acquire(&mut standby_stop)).await;
    assert!(
        early.is_err(),
        "the standby got a lease that was being renewed"
    );

    trigger.stop_intake();
    assert_eq!(holding.await.unwrap(), LeaseEnd::Stopping);
    holder.release().await;
    let released = Instant::now();
    let acquired = tokio::time::timeout(FAILOVER, standby.acquire(&mut standby_stop))
        .await
        .expect("the standby never took over");
    assert!(acquired.is_some());
    assert!(
        released.elapsed() <= standby.timing().every + Duration::from_millis(200),
        "handover took {:?}",
        released.elapsed()
    );
}

/// A holder whose lease is taken away (here: by hand, as an expired claim
/// would be) notices at its next renewal and says the lease is lost.
#[sqlx::test]
async fn a_holder_notices_when_another_replica_has_the_lease(pool: PgPool) {
    let holder = replica(&pool);
    let valid_until = holder.try_claim().await.unwrap().unwrap();
    sqlx::query("UPDATE leases SET holder = 'someone-else' WHERE name = 'test-gateway'")
        .execute(&pool)
        .await
        .unwrap();
    let (_trigger, mut stop) = Shutdown::new();
    let end = tokio::time::timeout(FAILOVER, holder.hold(valid_until, &mut stop))
        .await
        .expect("the holder never noticed");
    assert_eq!(end, LeaseEnd::Lost);
}

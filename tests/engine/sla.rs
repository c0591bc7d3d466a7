//! SLA clocks, the sweep and digests, with a clock the test controls.

use chrono::{Duration, TimeZone, Utc};
use itsm_bot::commands::period_report;
use itsm_bot::domain::report::Period;
use itsm_bot::scheduler::sweep::sweep;
use sqlx::PgPool;

use crate::helpers::{dated, start, Desk};

async fn texts(desk: &Desk, minutes: i64) -> Vec<String> {
    sweep(&desk.engine, start() + Duration::minutes(minutes))
        .await
        .unwrap()
        .into_iter()
        .map(|posted| posted.text)
        .collect()
}

#[sqlx::test]
async fn a_p1_walks_through_warnings_and_breach_each_posted_once(pool: PgPool) {
    let desk = Desk::new(pool.clone()).await;
    let reply = desk.ok("alice", "/incident Core switch down P1").await;
    assert!(
        reply.contains(&dated(
            "Respond by 2026-11-25 09:15 UTC · resolve by 2026-11-25 13:00 UTC"
        )),
        "{reply}"
    );

    assert!(texts(&desk, 11).await.is_empty(), "nothing before 75%");
    let at_12 = texts(&desk, 12).await;
    assert_eq!(at_12.len(), 1, "{at_12:?}");
    assert!(
        at_12[0].contains("75% of the 15m response target"),
        "{at_12:?}"
    );
    assert!(
        texts(&desk, 12).await.is_empty(),
        "the same sweep again posts nothing"
    );
    let at_14 = texts(&desk, 14).await;
    assert!(at_14.len() == 1 && at_14[0].contains("90%"), "{at_14:?}");
    let at_16 = texts(&desk, 16).await;
    assert!(
        at_16.len() == 1 && at_16[0].contains("breached its 15m response target"),
        "{at_16:?}"
    );
    assert!(texts(&desk, 17).await.is_empty());

    // Acknowledging stops the respond clock: later sweeps say nothing of it.
    desk.clock.set(start() + Duration::minutes(20));
    desk.ok("bob", "/incident INC-1 ack").await;
    assert!(texts(&desk, 60).await.is_empty());
    let show = desk.ok("bob", "/incident INC-1 show").await;
    assert!(show.contains("response (15m): breached by 5m"), "{show}");
    let breached: bool =
        sqlx::query_scalar("SELECT NOT met FROM sla_outcomes WHERE clock = 'respond'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(breached);
}

#[sqlx::test]
async fn acknowledging_in_time_means_no_response_warnings(pool: PgPool) {
    let desk = Desk::new(pool).await;
    desk.ok("alice", "/incident VPN down P1").await;
    desk.clock.set(start() + Duration::minutes(5));
    desk.ok("bob", "/incident INC-1 ack").await;
    for minute in [12, 14, 16, 30] {
        assert!(texts(&desk, minute).await.is_empty(), "minute {minute}");
    }
    let show = desk.ok("bob", "/incident INC-1 show").await;
    assert!(
        show.contains("response (15m): met with 10m to spare"),
        "{show}"
    );
}

#[sqlx::test]
async fn hold_and_resume_shift_the_resolve_due_time(pool: PgPool) {
    let desk = Desk::new(pool).await;
    desk.ok("alice", "/incident Mail relay slow P2").await;
    desk.ok("bob", "/incident INC-1 ack").await;
    desk.clock.set(start() + Duration::hours(1));
    desk.ok("bob", "/incident INC-1 hold waiting for the vendor")
        .await;
    let show = desk.ok("bob", "/incident INC-1 show").await;
    assert!(show.contains("resolution (8h): paused"), "{show}");
    // Nothing is posted for the resolve clock while it is paused.
    assert!(texts(&desk, 8 * 60).await.is_empty());
    desk.clock.set(start() + Duration::hours(3));
    desk.ok("bob", "/incident INC-1 resume").await;
    let show = desk.ok("bob", "/incident INC-1 show").await;
    assert!(
        show.contains(&dated("resolution (8h): due 2026-11-25 19:00 UTC")),
        "two hours on hold move 17:00 to 19:00: {show}"
    );
}

#[sqlx::test]
async fn a_p3_raised_friday_afternoon_is_due_monday(pool: PgPool) {
    let desk = Desk::new(pool).await;
    desk.clock.set(crate::helpers::moved(
        Utc.with_ymd_and_hms(2026, 11, 27, 16, 30, 0).unwrap(),
    ));
    let reply = desk
        .ok("alice", "/incident Printer on 3rd floor jams P3")
        .await;
    assert!(
        reply.contains(&dated("Respond by 2026-11-30 12:30 UTC")),
        "{reply}"
    );
}

/// The default configuration with the office calendar in Berlin, 08:00–18:00.
fn berlin_office() -> itsm_bot::config::Config {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("berlin.toml");
    std::fs::write(
        &path,
        r#"
[calendars.office]
time_zone = "Europe/Berlin"
working_days = ["Mon", "Tue", "Wed", "Thu", "Fri"]
opens = "08:00"
closes = "18:00"
"#,
    )
    .unwrap();
    itsm_bot::config::Config::load_with_env(Some(&path), std::iter::empty()).unwrap()
}

#[sqlx::test]
async fn itsm_sla_tells_business_hour_targets_in_words(pool: PgPool) {
    let desk = Desk::with_config(pool, berlin_office()).await;
    let sla = desk.ok("alice", "/itsm sla").await;
    assert!(
        sla.contains(
            "P3: respond within 4 business hours, resolve within 24 business hours (Mon–Fri 08:00–18:00 Europe/Berlin)"
        ),
        "{sla}"
    );
    assert!(
        sla.contains("P4: respond within 8 business hours, resolve within 40 business hours (Mon–Fri 08:00–18:00 Europe/Berlin)"),
        "{sla}"
    );
    assert!(
        sla.contains("P1: respond within 15m, resolve within 4h, around the clock"),
        "{sla}"
    );
    assert!(
        !sla.contains("1d"),
        "a day of business hours is not a day: {sla}"
    );
}

#[sqlx::test]
async fn a_response_due_at_closing_is_shown_at_closing(pool: PgPool) {
    let desk = Desk::with_config(pool, berlin_office()).await;
    // Tuesday 14:00 in Berlin (13:00 UTC), a fraction of a second past the
    // minute as a real clock reads it: four working hours end at 18:00.
    let tuesday = crate::helpers::moved(Utc.with_ymd_and_hms(2026, 12, 1, 13, 0, 0).unwrap());
    desk.clock.set(tuesday + Duration::milliseconds(400));
    let reply = desk.ok("alice", "/incident Scanner offline P3").await;
    assert!(
        reply.contains(&dated("Respond by 2026-12-01 17:00 UTC")),
        "due at Tuesday's close (18:00 Berlin), not Wednesday morning: {reply}"
    );
    // The warnings agree: 75% at 17:00 Berlin, the breach after the close.
    let engine = &desk.engine;
    let posted = |at| async move {
        sweep(engine, at)
            .await
            .unwrap()
            .into_iter()
            .map(|posted| posted.text)
            .collect::<Vec<_>>()
    };
    let at_75 = posted(tuesday + Duration::hours(3)).await;
    assert!(
        at_75.len() == 1 && at_75[0].contains("75% of the 4h response target"),
        "{at_75:?}"
    );
    // At the due instant itself the clock can still be met (a response in
    // that second is in time); it is breached from the next second.
    assert!(posted(tuesday + Duration::hours(4))
        .await
        .iter()
        .all(|text| !text.contains("breached")));
    let at_close = posted(tuesday + Duration::hours(4) + Duration::seconds(1)).await;
    assert!(
        at_close
            .iter()
            .any(|text| text.contains("breached its 4h response target")),
        "{at_close:?}"
    );
}

#[sqlx::test]
async fn three_schedulers_post_every_warning_exactly_once(pool: PgPool) {
    let desk = Desk::new(pool.clone()).await;
    for n in 0..40 {
        desk.ok("alice", &format!("/incident Outage {n} P1")).await;
    }
    let at = start() + Duration::minutes(16);
    let (a, b, c) = tokio::join!(
        sweep(&desk.engine, at),
        sweep(&desk.engine, at),
        sweep(&desk.engine, at)
    );
    let total = a.unwrap().len() + b.unwrap().len() + c.unwrap().len();
    assert_eq!(
        total,
        40 * 3,
        "75%, 90% and breach for each of 40 incidents"
    );
    let ledger: i64 = sqlx::query_scalar("SELECT count(*) FROM sla_notifications")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(ledger, 120);
    assert!(sweep(&desk.engine, at).await.unwrap().is_empty());
}

#[sqlx::test]
async fn a_digest_over_a_seeded_week_matches_the_hand_counted_figures(pool: PgPool) {
    let desk = Desk::new(pool).await;
    // Monday 2026-11-23 09:00 onwards, all P2 (around the clock, 1h/8h).
    let monday = crate::helpers::moved(Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap());
    let at =
        |hours: i64, minutes: i64| monday + Duration::hours(hours) + Duration::minutes(minutes);
    let step = |h, m| desk.clock.set(at(h, m));
    step(0, 0);
    desk.ok("slack:U0STAFF01", "/incident Laptop broken P2")
        .await; // INC-1
    step(0, 10);
    desk.ok("bob", "/incident INC-1 ack").await; // MTTA 10m, met
    step(2, 0);
    desk.ok("bob", "/incident INC-1 resolve replaced").await; // MTTR 2h, met
    desk.ok("slack:U0STAFF01", "/incident INC-1 rate 5").await;
    step(24, 0);
    desk.ok("alice", "/incident Wifi down P2").await; // INC-2
    step(25, 30);
    desk.ok("bob", "/incident INC-2 ack").await; // MTTA 90m, breached by 30m
    step(35, 0);
    desk.ok("bob", "/incident INC-2 resolve ap rebooted").await; // MTTR 11h, breached by 3h
    step(48, 0);
    desk.ok("alice", "/incident VPN flaky P2").await; // INC-3, still open
    step(72, 0);
    desk.ok("alice", "/incident Printer offline P4").await; // INC-4, still open

    let report = period_report::rolling(&desk.engine, Period::Week, monday + Duration::days(7))
        .await
        .unwrap();
    let f = &report.figures;
    assert_eq!((f.opened, f.resolved), (4, 2));
    assert_eq!(f.mtta, Some(Duration::minutes(50)), "(10m + 90m) / 2");
    assert_eq!(f.mttr, Some(Duration::minutes(390)), "(2h + 11h) / 2");
    // Every clock judged in the week counts, in both figures: INC-1 met
    // both; INC-2 missed both; the still-open INC-3 missed both (due at
    // 49h and 56h); INC-4 (P4, office hours) missed its response due
    // Thursday 17:00, and its resolution is due next week.
    assert_eq!(
        (f.sla_met, f.sla_total(), f.breaches),
        (2, 7, 5),
        "INC-1 met both clocks; INC-2 and INC-3 missed both; INC-4 its response"
    );
    assert_eq!(f.csat_average(), Some(5.0));
    assert_eq!(report.state.open_by_priority, [0, 1, 0, 1]);
    assert_eq!(report.state.oldest_open[0].reference, "INC-3");
    let previous = report.previous.as_ref().unwrap();
    assert_eq!(previous.opened, 0);
    let text = period_report::message(&report).plain_text();
    assert!(
        text.contains("Opened: 4 (+4)") && text.contains("SLA compliance: 29% (2 met of 7)"),
        "{text}"
    );
    assert!(
        text.contains("MTTA: 50m") && text.contains("MTTR: 6h30m"),
        "{text}"
    );

    let reply = desk.ok("bob", "/itsm report week").await;
    assert!(reply.contains("Weekly report"), "{reply}");
    let refused = desk.refused("slack:U0STAFF01", "/itsm report").await;
    assert!(refused.contains("manager or engineer"), "{refused}");
}

/// The scheduler inside the process sweeps on its cron schedule and hands
/// shell-channel posts to the terminal.
#[sqlx::test]
async fn the_scheduler_sweeps_on_schedule_and_shows_shell_posts(pool: PgPool) {
    let vars = [(
        "ITSM__SCHEDULER__SLA_SWEEP".to_string(),
        "* * * * * *".to_string(),
    )];
    let config = itsm_bot::config::Config::load_with_env(None, vars).unwrap();
    let desk = Desk::with_config(pool, config).await;
    desk.ok("alice", "/incident Core switch down P1").await;
    desk.clock.set(start() + Duration::minutes(12));
    let (sink, mut posts) = tokio::sync::mpsc::unbounded_channel();
    let (trigger, stop) = itsm_bot::lifecycle::Shutdown::new();
    let scheduler = tokio::spawn(itsm_bot::scheduler::run(
        desk.engine.clone(),
        stop,
        Some(sink),
    ));
    let posted = tokio::time::timeout(std::time::Duration::from_secs(5), posts.recv())
        .await
        .expect("a post within a few seconds")
        .unwrap();
    assert_eq!(posted.channel.to_string(), "ops");
    assert!(posted.text.contains("75%"), "{}", posted.text);
    trigger.trigger();
    scheduler.await.unwrap();
}

/// Reopening an incident that was resolved without an acknowledgement does
/// not restart its response clock.
#[sqlx::test]
async fn a_reopen_keeps_the_response_that_was_given(pool: PgPool) {
    let desk = Desk::new(pool).await;
    desk.ok("alice", "/incident VPN down P1").await;
    desk.clock.set(start() + Duration::minutes(5));
    desk.ok("bob", "/incident INC-1 resolve restarted it").await;
    desk.clock.set(start() + Duration::hours(2));
    desk.ok("alice", "/incident INC-1 reopen down again").await;
    let show = desk.ok("bob", "/incident INC-1 show").await;
    assert!(
        show.contains("response (15m): met with 10m to spare"),
        "{show}"
    );
    let posted = texts(&desk, 3 * 60).await;
    assert!(posted.iter().all(|t| !t.contains("response")), "{posted:?}");
}

/// A digest due at the same instant as the sweep is not skipped.
#[sqlx::test]
async fn digests_due_with_the_sweep_still_run(pool: PgPool) {
    let vars = [
        (
            "ITSM__SCHEDULER__SLA_SWEEP".to_string(),
            "* * * * * *".to_string(),
        ),
        (
            "ITSM__DIGEST__SCHEDULE".to_string(),
            "* * * * * *".to_string(),
        ),
        (
            "ITSM__DIGEST__CHANNELS".to_string(),
            "[{ channel = \"ops\" }]".to_string(),
        ),
    ];
    let config = itsm_bot::config::Config::load_with_env(None, vars).unwrap();
    let desk = Desk::with_config(pool.clone(), config).await;
    let (sink, mut posts) = tokio::sync::mpsc::unbounded_channel();
    let (trigger, stop) = itsm_bot::lifecycle::Shutdown::new();
    let scheduler = tokio::spawn(itsm_bot::scheduler::run(
        desk.engine.clone(),
        stop,
        Some(sink),
    ));
    // The manual clock stands still, so the next second is "due" at once;
    // the digest must run as well as the sweep.
    let posted = tokio::time::timeout(std::time::Duration::from_secs(5), posts.recv())
        .await
        .expect("the digest within a few seconds")
        .unwrap();
    assert!(posted.text.contains("Daily digest"), "{}", posted.text);
    trigger.trigger();
    scheduler.await.unwrap();
    let runs: i64 = sqlx::query_scalar("SELECT count(*) FROM job_runs WHERE job = 'digest:ops'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(runs >= 1);
}

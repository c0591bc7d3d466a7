use itsm_bot::commands::reply::Outcome;
use sqlx::PgPool;

use crate::helpers::{inbound, Desk};

/// A platform that delivers the same event twice (Slack retries, a resent
/// Discord interaction) gets the first answer and nothing twice.
#[sqlx::test]
async fn a_redelivered_event_changes_nothing(pool: PgPool) {
    let desk = Desk::new(pool.clone()).await;
    let mut event = inbound("alice", "/incident Wifi drops in meeting room P3");
    event.event_id = Some("Ev0PV52K21".into());

    let first = desk.engine.handle(&event).await;
    assert_eq!(first.outcome, Outcome::Done);
    let before = desk.snapshot().await;
    let second = desk.engine.handle(&event).await;
    assert_eq!(second.outcome, Outcome::Done);
    assert_eq!(second.message.plain_text(), first.message.plain_text());
    assert_eq!(desk.snapshot().await, before);

    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM tickets")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(count, 1);
}

/// Two workers handling the same delivery at once still make one incident.
#[sqlx::test]
async fn simultaneous_redeliveries_make_one_incident(pool: PgPool) {
    let desk = Desk::new(pool.clone()).await;
    for n in 0..10 {
        let mut event = inbound("alice", &format!("/incident Badge reader {n} dead"));
        event.event_id = Some(format!("Ev{n}"));
        let (a, b) = tokio::join!(desk.engine.handle(&event), desk.engine.handle(&event));
        assert_eq!((a.outcome, b.outcome), (Outcome::Done, Outcome::Done));
        assert_eq!(a.message.plain_text(), b.message.plain_text());
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM tickets")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(count, 10);
}

/// A refused command is not remembered: fixing the cause and retrying works.
#[sqlx::test]
async fn a_refused_event_is_not_recorded(pool: PgPool) {
    let desk = Desk::new(pool.clone()).await;
    let mut event = inbound("alice", "/incident INC-1 ack");
    event.event_id = Some("Ev1".into());
    assert_eq!(desk.engine.handle(&event).await.outcome, Outcome::Refused);
    desk.ok("alice", "/incident Printer offline").await;
    assert_eq!(desk.engine.handle(&event).await.outcome, Outcome::Done);
}

/// Two people reporting the same chat message at the same moment make one
/// incident; the other is told it was already reported.
#[sqlx::test]
async fn one_message_becomes_one_incident_even_at_the_same_moment(pool: PgPool) {
    use itsm_bot::commands::{Command, IncidentIntake, Request};
    use itsm_bot::domain::Title;
    let desk = Desk::new(pool.clone()).await;
    for round in 0..10 {
        let request = |who: &str| {
            let mut request = Request::new(format!("slack:{who}").parse().unwrap(), "C0GENERAL");
            request.message = Some(format!("1764000000.{round:06}"));
            request.thread = request.message.clone();
            request
        };
        let report = || {
            Command::OpenIncident(IncidentIntake {
                title: Title::parse("Coffee machine broken").unwrap(),
                description: None,
                priority: None,
                impact: None,
                urgency: None,
                service: None,
            })
        };
        let (first, second) = (request("U1"), request("U2"));
        let (a, b) = tokio::join!(
            desk.engine.execute(&first, report()),
            desk.engine.execute(&second, report())
        );
        let done = [a.outcome, b.outcome]
            .iter()
            .filter(|o| **o == Outcome::Done)
            .count();
        assert_eq!(done, 1, "round {round}: {a:?} {b:?}");
        let refused = if a.outcome == Outcome::Refused {
            &a
        } else {
            &b
        };
        assert!(
            refused.message.plain_text().contains("already reported"),
            "{refused:?}"
        );
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM tickets")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(count, 10);
}

/// A redelivery consumes no incident number: the next report is the next
/// number, whichever path the first delivery took.
#[sqlx::test]
async fn a_redelivery_leaves_no_gap_in_the_numbers(pool: PgPool) {
    let desk = Desk::new(pool.clone()).await;
    let mut event = inbound("alice", "/incident Projector flickers P3");
    event.event_id = Some("Ev0GAP".into());
    for _ in 0..3 {
        let reply = desk.engine.handle(&event).await;
        assert!(reply.message.plain_text().contains("INC-1 reported"));
    }
    let next = desk.ok("alice", "/incident Wifi slow on floor 2 P4").await;
    assert!(next.contains("INC-2 reported"), "{next}");
}

/// A report that paged the on-call engineer is more than its incident (the
/// page is in the reply): a redelivery gets that reply back word for word
/// and pages nobody twice.
#[sqlx::test]
async fn a_redelivered_report_that_paged_gets_its_reply_and_pages_once(pool: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("oncall.toml");
    crate::helpers::write_dated(
        &path,
        r#"
[[services]]
name = "vpn"
owner = "shell:olivia"
channel = "netops"
rotation = "network"

[[oncall.rotations]]
name = "network"
members = ["shell:bob", "shell:carol"]
handoff = "2026-11-23T09:00"
length = "1w"
escalate_after = "5m"
"#,
    )
    .unwrap();
    let config = itsm_bot::config::Config::load_with_env(Some(&path), std::iter::empty()).unwrap();
    let desk = Desk::with_config(pool.clone(), config).await;
    let mut event = inbound("alice", "/incident VPN down for everyone P1 service:vpn");
    event.event_id = Some("Ev0PAGED".into());

    let first = desk.engine.handle(&event).await;
    assert_eq!(first.outcome, Outcome::Done);
    assert!(first.message.plain_text().contains("Paged"), "{first:?}");
    let second = desk.engine.handle(&event).await;
    assert_eq!(second.message.plain_text(), first.message.plain_text());

    let pages: i64 =
        sqlx::query_scalar("SELECT count(*) FROM ticket_events WHERE action = 'paged'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(pages, 1);
    let tickets: i64 = sqlx::query_scalar("SELECT count(*) FROM tickets")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(tickets, 1);
}

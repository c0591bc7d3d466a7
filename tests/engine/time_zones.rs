//! The team's zone and each person's: times shown in `[locale] time_zone`
//! (labelled with the zone), typed times read in the person's own zone,
//! else the section's, else the team's.

use chrono_tz::Tz;
use itsm_bot::commands::reply::Outcome;
use itsm_bot::config::Config;
use itsm_bot::domain::moment::Reader;
use sqlx::PgPool;

use crate::helpers::{dated, Desk};

fn config(extra: &str) -> Config {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zones.toml");
    crate::helpers::write_dated(
        &path,
        format!(
            r#"
[roles]
engineer = ["shell:*"]

[locale]
time_zone = "Europe/Berlin"
{extra}
"#
        ),
    )
    .unwrap();
    Config::load_with_env(Some(&path), std::iter::empty()).unwrap()
}

/// The window's start as stored, in UTC.
async fn window_start(pool: &PgPool, number: i64) -> String {
    let start: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT window_start FROM changes c JOIN tickets t ON t.id = c.ticket_id WHERE t.number = $1")
            .bind(number)
            .fetch_one(pool)
            .await
            .unwrap();
    start.format("%Y-%m-%d %H:%M").to_string()
}

#[sqlx::test]
async fn a_berlin_team_reads_and_types_berlin_times(pool: PgPool) {
    let desk = Desk::with_config(pool.clone(), config("")).await;
    // The desk's clock starts at 09:00 UTC, 10:00 in Berlin in November.
    let reported = desk.ok("alice", "/incident VPN down P1").await;
    assert!(
        reported.contains(&dated("Respond by 2026-11-25 10:15 CET")),
        "{reported}"
    );
    desk.ok("alice", "/change Upgrade the VPN concentrator")
        .await;
    let window = desk
        .ok("alice", &dated("/change CHG-1 window 2026-12-10T22:00 2h"))
        .await;
    assert!(
        window.contains(&dated("2026-12-10 22:00 CET for 2h")),
        "{window}"
    );
    assert_eq!(
        window_start(&pool, 1).await,
        dated("2026-12-10 21:00"),
        "22:00 in Berlin is 21:00 UTC"
    );
    // The default office calendar follows the team's zone too.
    let sla = desk.ok("alice", "/itsm sla").await;
    assert!(sla.contains("Europe/Berlin"), "{sla}");
    let shown = desk.ok("alice", "/incident INC-1 show").await;
    assert!(shown.contains(&dated("2026-11-25 10:00 CET")), "{shown}");
    assert!(!shown.contains("UTC"), "{shown}");
}

#[sqlx::test]
async fn a_person_types_times_in_the_zone_they_set(pool: PgPool) {
    let desk = Desk::with_config(pool.clone(), config("")).await;
    let asked = desk.ok("alice", "/itsm timezone").await;
    assert!(
        asked.contains("Europe/Berlin") && asked.contains("the team's"),
        "{asked}"
    );
    let set = desk.ok("alice", "/itsm timezone america/new_york").await;
    assert!(set.contains("America/New_York"), "{set}");
    let asked = desk.ok("alice", "/itsm timezone").await;
    assert!(asked.contains("you set it"), "{asked}");

    desk.ok("alice", "/change Move the file server").await;
    let reply = desk
        .say("alice", &dated("/change CHG-1 window 2026-12-10T16:00 2h"))
        .await;
    assert_eq!(reply.outcome, Outcome::Done);
    assert_eq!(
        window_start(&pool, 1).await,
        dated("2026-12-10 21:00"),
        "16:00 in New York is 21:00 UTC"
    );
    // The channel reads the team's zone; alice's shell reads hers.
    assert!(
        reply
            .message
            .plain_text()
            .contains(&dated("2026-12-10 22:00 CET")),
        "{}",
        reply.message.plain_text()
    );
    let new_york: Tz = "America/New_York".parse().unwrap();
    let hers = reply.message.plain_text_for(Reader::Person(new_york));
    assert!(hers.contains(&dated("2026-12-10 16:00 EST")), "{hers}");
    let user = "shell:alice".parse().unwrap();
    assert_eq!(desk.engine.reader_zone(&user).await, new_york);

    // bob set nothing: he types in the team's zone.
    desk.ok("bob", "/change Replace the core switch").await;
    desk.ok("bob", &dated("/change CHG-2 window 2026-12-10T16:00 2h"))
        .await;
    assert_eq!(window_start(&pool, 2).await, dated("2026-12-10 15:00"));

    let reset = desk.ok("alice", "/itsm timezone reset").await;
    assert!(reset.contains("Europe/Berlin"), "{reset}");
    assert_eq!(
        desk.engine.reader_zone(&user).await,
        "Europe/Berlin".parse::<Tz>().unwrap()
    );
}

#[sqlx::test]
async fn a_zone_that_does_not_exist_is_refused_with_examples(pool: PgPool) {
    let desk = Desk::with_config(pool, config("")).await;
    let refused = desk.refused("alice", "/itsm timezone Mars/Olympus").await;
    assert!(
        refused.contains("`Mars/Olympus` is not a time zone") && refused.contains("Europe/Berlin"),
        "{refused}"
    );
    let refused = desk
        .refused("alice", "/itsm timezone Europe/Berlin extra")
        .await;
    assert!(refused.contains("one zone"), "{refused}");
}

/// A section's own zone still wins over the team's for what it reads.
#[sqlx::test]
async fn a_section_zone_overrides_the_team_zone(pool: PgPool) {
    let desk = Desk::with_config(pool.clone(), config("[change]\ntime_zone = \"UTC\"")).await;
    desk.ok("bob", "/change Patch the mail relay").await;
    let reply = desk
        .ok("bob", &dated("/change CHG-1 window 2026-12-10T16:00 2h"))
        .await;
    assert_eq!(window_start(&pool, 1).await, dated("2026-12-10 16:00"));
    assert!(reply.contains(&dated("2026-12-10 16:00 UTC")), "{reply}");
}

/// A business-hours target ending exactly at closing is due at closing,
/// and a response that evening missed it, by no business time: the ticket
/// says so in words, not "breached by 0m".
#[sqlx::test]
async fn a_target_ending_at_closing_is_due_at_closing(pool: PgPool) {
    use chrono::TimeZone;
    let calendar = "[calendars.office]\nworking_days = [\"Mon\", \"Tue\", \"Wed\", \"Thu\", \"Fri\"]\nopens = \"08:00\"\ncloses = \"18:00\"";
    let desk = Desk::with_config(pool, config(calendar)).await;
    // Tuesday 14:00 in Berlin; P3 responds within 4 business hours.
    let tuesday = crate::helpers::moved(
        chrono::Utc
            .with_ymd_and_hms(2026, 11, 24, 13, 0, 0)
            .unwrap(),
    );
    desk.clock.set(tuesday);
    let reported = desk.ok("alice", "/incident Printer jams P3").await;
    assert!(
        reported.contains(&dated("Respond by 2026-11-24 18:00 CET")),
        "{reported}"
    );
    desk.clock.set(tuesday + chrono::Duration::minutes(270));
    desk.ok("bob", "/incident INC-1 ack").await;
    let shown = desk.ok("bob", "/incident INC-1 show").await;
    assert!(
        shown.contains(&dated(
            "breached: stopped after its due time 2026-11-24 18:00 CET, outside business hours"
        )),
        "{shown}"
    );
}

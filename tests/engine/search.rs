//! Search over every kind of ticket and the knowledge base, the
//! suggestions offered on a new report (through the configured synonyms),
//! and duplicates: closed with one command, their reporters told when the
//! incident they follow is resolved, and counted once.

use itsm_bot::clock::Clock;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection, PgPool};

use crate::helpers::{start, timeline_actions, Desk};

#[sqlx::test]
async fn search_finds_every_kind_ranked_and_filtered(pool: PgPool) {
    let desk = Desk::new(pool.clone()).await;
    desk.ok("alice", "/incident VPN drops every hour service:vpn")
        .await;
    desk.ok("alice", "/incident Printer jams on floor 3").await;
    desk.ok(
        "bob",
        "/incident INC-2 resolve cleared the VPN profile cache",
    )
    .await;
    desk.ok("bob", "/problem VPN drops connections service:vpn")
        .await;
    desk.ok(
        "bob",
        "/change Upgrade VPN concentrator firmware service:vpn",
    )
    .await;
    desk.ok("bob", "/kb VPN client reinstall").await;

    let all = desk.ok("alice", "/itsm search vpn").await;
    for reference in ["INC-1", "PRB-1", "CHG-1", "KB-1"] {
        assert!(all.contains(reference), "{reference}: {all}");
    }
    // A resolution is searched too.
    let by_resolution = desk.ok("alice", "/itsm search profile cache").await;
    assert!(
        by_resolution.contains("INC-2 [resolved]"),
        "{by_resolution}"
    );
    // The synonyms: "remote access" finds what says VPN.
    let synonym = desk
        .ok("alice", "/itsm search \"remote access\" kind:incident")
        .await;
    assert!(
        synonym.contains("INC-1") && !synonym.contains("PRB-1"),
        "{synonym}"
    );
    let open = desk
        .ok("alice", "/itsm search vpn kind:incident status:open")
        .await;
    assert!(open.contains("INC-1") && !open.contains("INC-2"), "{open}");
    let excluded = desk
        .ok("alice", "/itsm search vpn -concentrator kind:change")
        .await;
    assert!(excluded.contains("Nothing matches"), "{excluded}");
    // A draft article is the engineers' own.
    let reporter = desk.ok("slack:U0REPORT1", "/itsm search vpn kind:kb").await;
    assert!(reporter.contains("Nothing matches"), "{reporter}");
    // A title ranks above a body: INC-1 says VPN in its title.
    let ranked = desk
        .ok("alice", "/itsm search vpn drops kind:incident")
        .await;
    let first = ranked
        .lines()
        .find(|l| l.contains("INC-"))
        .unwrap_or_default();
    assert!(first.contains("INC-1"), "{ranked}");
    let typo = desk.ok("alice", "/itsm search printr").await;
    assert!(typo.contains("INC-2"), "{typo}");
    // One misspelt word among others still finds it, word by word.
    let typo = desk.ok("alice", "/itsm search priner broken").await;
    assert!(typo.contains("INC-2"), "{typo}");
}

#[sqlx::test]
async fn bad_searches_are_refused_with_what_would_work(pool: PgPool) {
    let desk = Desk::new(pool.clone()).await;
    for (text, expected) in [
        ("/itsm search", "needs words"),
        ("/itsm search \"", "no words to search for"),
        ("/itsm search -", "no words to search for"),
        ("/itsm search :", "no words to search for"),
        ("/itsm search \"\" - :", "no words to search for"),
        ("/itsm search kind:incident", "no words to search for"),
        ("/itsm search vpn kind:printer", "kind:incident"),
        ("/itsm search vpn status:closed", "status:open"),
        ("/itsm search vpn kind:kb kind:change", "given twice"),
    ] {
        let reason = desk.refused("alice", text).await;
        assert!(reason.contains(expected), "{text}: {reason}");
        assert!(
            reason.contains("e.g.")
                || reason.contains("For example")
                || reason.contains("use kind:")
                || reason.contains("leaves out")
                || reason.contains("once"),
            "{text}: {reason}"
        );
    }
    let long = format!("/itsm search {}", "printer ".repeat(30));
    let reason = desk.refused("alice", &long).await;
    assert!(reason.contains("the limit is 200"), "{reason}");
}

#[sqlx::test]
async fn a_report_is_offered_articles_known_errors_and_the_open_incident(pool: PgPool) {
    let desk = Desk::new(pool.clone()).await;
    desk.ok("bob", "/problem VPN drops at home service:vpn")
        .await;
    desk.ok(
        "bob",
        "/problem PRB-1 workaround reconnect with the backup gateway",
    )
    .await;
    desk.ok("bob", "/problem PRB-1 known-error").await;
    // Before there is an article, the known error itself is offered.
    let report = desk
        .ok("carol", "/incident Cannot connect remote access from home")
        .await;
    assert!(report.contains("Known error PRB-1 may match"), "{report}");
    desk.ok("bob", "/kb from PRB-1").await;
    desk.ok("bob", "/kb KB-1 publish").await;

    let report = desk
        .ok("dave", "/incident Cannot connect remote access from home")
        .await;
    assert!(report.contains("Article KB-1 may answer it"), "{report}");
    assert!(report.contains("backup gateway"), "{report}");
    // The article says it better than the known error it came from.
    assert!(!report.contains("Known error PRB-1"), "{report}");
    // And INC-1 is open and says the same.
    assert!(report.contains("Looks like INC-1, open since"), "{report}");
    assert!(
        report.contains("`/incident INC-2 duplicate-of INC-1`"),
        "{report}"
    );
}

/// In an outage every new report says the same thing: the look-alikes are
/// weighed among the newest open incidents (read first, from the
/// open-incidents index), not the whole backlog. Among equally alike ones
/// the oldest is offered, so with 60 open the offer is the oldest of the 50
/// newest, INC-11; weighing the backlog would offer INC-1.
#[sqlx::test]
async fn in_an_outage_the_newest_reports_are_weighed(pool: PgPool) {
    let desk = Desk::new(pool).await;
    sixty_open_reports_of_one_outage(&desk).await;
    let report = desk
        .ok("carol", "/incident VPN down in Berlin office")
        .await;
    assert_offers_the_oldest_of_the_newest_fifty(&report);
}

/// Sixty reports of "VPN down in Berlin office" a minute apart (INC-1 to
/// INC-60), the clock left a minute after the last.
async fn sixty_open_reports_of_one_outage(desk: &Desk) {
    for n in 1..=60 {
        desk.clock.set(start() + chrono::Duration::minutes(n));
        desk.ok(&format!("user{n}"), "/incident VPN down in Berlin office")
            .await;
    }
    desk.clock.set(start() + chrono::Duration::minutes(61));
}

/// INC-61's reply, after [`sixty_open_reports_of_one_outage`], offers
/// INC-11: the oldest of the 50 newest others.
fn assert_offers_the_oldest_of_the_newest_fifty(report: &str) {
    assert!(report.contains("Looks like INC-11, open since"), "{report}");
    assert!(
        report.contains("`/incident INC-61 duplicate-of INC-11`"),
        "{report}"
    );
}

/// Read beside the opening, the look-alike search may see the new report
/// committed or not: either way it weighs the same newest others. Here the
/// search is held (its model table locked) until the report has committed,
/// so it does see it; counting the report in the newest 50 would have
/// offered INC-12.
#[sqlx::test]
async fn a_report_read_beside_its_opening_weighs_the_same_newest_others(pool: PgPool) {
    let pool = keeping_idle(&pool).await;
    let desk = Desk::new(pool.clone()).await;
    sixty_open_reports_of_one_outage(&desk).await;
    // The report takes one connection, and its suggestions an idle one.
    hand_back_three(&pool).await;

    let mut admin = PgConnection::connect_with(&pool.connect_options())
        .await
        .unwrap();
    sqlx::query("BEGIN").execute(&mut admin).await.unwrap();
    sqlx::query("LOCK TABLE triage_training IN ACCESS EXCLUSIVE MODE")
        .execute(&mut admin)
        .await
        .unwrap();
    let release = async {
        for _ in 0..1000 {
            let committed: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM tickets WHERE kind = 'incident' AND number = 61)",
            )
            .fetch_one(&mut admin)
            .await
            .unwrap();
            if committed {
                sqlx::query("COMMIT").execute(&mut admin).await.unwrap();
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("INC-61 never committed");
    };
    let (report, ()) = tokio::join!(
        desk.ok("carol", "/incident VPN down in Berlin office"),
        release
    );
    assert_offers_the_oldest_of_the_newest_fifty(&report);
}

/// With a connection idle in the pool, a report's suggestions are read
/// beside its opening, on that connection: the reply still offers the open
/// look-alike, and never the report itself, which the reads may already
/// see committed.
#[sqlx::test]
async fn suggestions_read_beside_the_opening_offer_others_not_itself(pool: PgPool) {
    let (pool, desk) = desk_after_a_report(&pool).await;
    hand_back_three(&pool).await;
    let report = desk.ok("bob", "/incident VPN down in Berlin office").await;
    assert!(report.contains("INC-2 reported"), "{report}");
    assert!(report.contains("Looks like INC-1, open since"), "{report}");
    assert!(!report.contains("Looks like INC-2"), "{report}");
}

/// A pool over the test's database that keeps its idle connections:
/// `#[sqlx::test]`'s closes them after a second idle, and these tests need
/// one idle when the report comes.
async fn keeping_idle(pool: &PgPool) -> PgPool {
    PgPoolOptions::new()
        .max_connections(5)
        .idle_timeout(None)
        .connect_with((*pool.connect_options()).clone())
        .await
        .unwrap()
}

/// A desk on a [`keeping_idle`] pool after alice's report of "VPN down in
/// Berlin office" (INC-1), every connection back in the pool.
async fn desk_after_a_report(pool: &PgPool) -> (PgPool, Desk) {
    let pool = keeping_idle(pool).await;
    let desk = Desk::new(pool.clone()).await;
    desk.ok("alice", "/incident VPN down in Berlin office")
        .await;
    wait_idle(&pool, pool.size() as usize).await;
    (pool, desk)
}

/// Opens three connections and hands them back, and waits until they are
/// idle: for the next report to find one for its suggestions.
async fn hand_back_three(pool: &PgPool) {
    let held = [
        pool.acquire().await.unwrap(),
        pool.acquire().await.unwrap(),
        pool.acquire().await.unwrap(),
    ];
    let count = held.len();
    drop(held);
    wait_idle(pool, count).await;
}

/// Waits until `pool` holds `idle` idle connections at least: a dropped
/// connection goes back on a task of its own, so one the last command
/// used may come back at any moment (counting on an exact number failed
/// under load).
async fn wait_idle(pool: &PgPool, idle: usize) {
    for _ in 0..200 {
        if pool.num_idle() >= idle {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("{} idle, not {idle}", pool.num_idle());
}

/// An idle connection is taken for the suggestions without the check a
/// command's own connection gets, and a database restart leaves idle
/// connections broken: the suggestions are then read on the command's own
/// connection, and the reply still offers them.
#[sqlx::test]
async fn suggestions_survive_a_broken_idle_connection(pool: PgPool) {
    let (pool, desk) = desk_after_a_report(&pool).await;
    // Every idle connection held, then two handed back in order: the
    // command takes the first (sound), the suggestions the second, whose
    // server process is gone.
    let mut held = Vec::new();
    while pool.num_idle() > 0 {
        held.push(pool.acquire().await.unwrap());
    }
    let sound = match held.pop() {
        Some(sound) => sound,
        None => pool.acquire().await.unwrap(),
    };
    let mut broken = pool.acquire().await.unwrap();
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *broken)
        .await
        .unwrap();
    drop(sound);
    wait_idle(&pool, 1).await;
    drop(broken);
    wait_idle(&pool, 2).await;
    // From outside the pool, as a restart would: the pool does not notice.
    let mut admin = PgConnection::connect_with(&pool.connect_options())
        .await
        .unwrap();
    sqlx::query("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .execute(&mut admin)
        .await
        .unwrap();
    for _ in 0..200 {
        let alive: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)")
                .bind(pid)
                .fetch_one(&mut admin)
                .await
                .unwrap();
        if !alive {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(pool.num_idle(), 2);

    let report = desk.ok("bob", "/incident VPN down in Berlin office").await;
    assert!(report.contains("INC-2 reported"), "{report}");
    assert!(report.contains("Looks like INC-1, open since"), "{report}");
}

#[sqlx::test]
async fn a_duplicate_is_closed_its_reporter_follows_and_hears(pool: PgPool) {
    let desk = Desk::new(pool.clone()).await;
    desk.ok(
        "alice",
        "/incident VPN down in Berlin office P1 service:vpn",
    )
    .await;
    desk.ok("bob", "/incident INC-1 outage").await;
    desk.ok("carol", "/incident VPN down for everyone in Berlin")
        .await;

    let marked = desk.ok("bob", "/incident INC-2 duplicate-of INC-1").await;
    assert!(
        marked.contains("INC-2 closed as a duplicate of INC-1"),
        "{marked}"
    );
    assert!(marked.contains("carol will hear"), "{marked}");
    let status: String =
        sqlx::query_scalar("SELECT status FROM tickets WHERE kind = 'incident' AND number = 2")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(status, "closed");
    assert_eq!(
        timeline_actions(&pool, 2).await.last().map(String::as_str),
        Some("closed")
    );
    assert!(timeline_actions(&pool, 1)
        .await
        .contains(&"duplicate".to_string()));

    // Refusals: itself, unknown, closed target, a cycle, reporters.
    desk.ok("dave", "/incident VPN down again").await; // INC-3
    for (text, expected) in [
        ("/incident INC-3 duplicate-of INC-3", "duplicate of itself"),
        ("/incident INC-3 duplicate-of INC-99", "There is no INC-99"),
        ("/incident INC-99 duplicate-of INC-3", "There is no INC-99"),
        ("/incident INC-3 duplicate-of INC-2", "INC-2 is closed"),
        ("/incident INC-2 duplicate-of INC-3", "INC-2 is closed"),
        ("/incident INC-3 duplicate-of PRB-1", "duplicate-of INC-9"),
        ("/incident INC-3 duplicate-of", "duplicate-of INC-9"),
    ] {
        let reason = desk.refused("bob", text).await;
        assert!(reason.contains(expected), "{text}: {reason}");
    }
    let role = desk
        .refused("slack:U0REPORT1", "/incident INC-3 duplicate-of INC-1")
        .await;
    assert!(role.contains("engineer"), "{role}");
    // A cycle: INC-1 was a duplicate of INC-3 once, then reopened.
    sqlx::query("UPDATE incidents SET duplicate_of = (SELECT id FROM tickets WHERE kind = 'incident' AND number = 3) WHERE ticket_id = (SELECT id FROM tickets WHERE kind = 'incident' AND number = 1)")
        .execute(&pool)
        .await
        .unwrap();
    let cycle = desk
        .refused("bob", "/incident INC-3 duplicate-of INC-1")
        .await;
    assert!(cycle.contains("circle"), "{cycle}");
    sqlx::query("UPDATE incidents SET duplicate_of = NULL")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE incidents SET duplicate_of = (SELECT id FROM tickets WHERE kind = 'incident' AND number = 1) WHERE ticket_id = (SELECT id FROM tickets WHERE kind = 'incident' AND number = 2)")
        .execute(&pool)
        .await
        .unwrap();

    // Duplicates of duplicates' followers carry over; INC-1's resolve tells them.
    desk.ok("bob", "/incident INC-3 duplicate-of INC-1").await;
    let resolved = desk
        .ok(
            "bob",
            "/incident INC-1 resolve rolled back the firewall rule",
        )
        .await;
    assert!(
        resolved.contains("shell:carol") && resolved.contains("via INC-2"),
        "{resolved}"
    );
    assert!(
        resolved.contains("shell:dave") && resolved.contains("via INC-3"),
        "{resolved}"
    );
}

#[sqlx::test]
async fn chat_followers_get_a_notice_when_the_incident_is_resolved(pool: PgPool) {
    let desk = Desk::new(pool.clone()).await;
    desk.ok("alice", "/incident Wifi down on floor 2").await;
    desk.ok("slack:U0REPORT1", "/incident Wifi down floor 2")
        .await;
    desk.ok("bob", "/incident INC-2 duplicate-of INC-1").await;
    desk.ok("bob", "/incident INC-1 resolve replaced the access point")
        .await;
    let notices: Vec<String> = sqlx::query_scalar(
        "SELECT body FROM outbox WHERE kind = 'notice' AND platform = 'slack' AND channel = 'ops'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        notices,
        ["INC-1 is resolved (you reported it as INC-2): replaced the access point"]
    );
}

#[sqlx::test]
async fn figures_count_a_duplicate_once(pool: PgPool) {
    let desk = Desk::new(pool.clone()).await;
    desk.ok("alice", "/incident Mail down P2").await;
    desk.ok("carol", "/incident Mail is down for me too P2")
        .await;
    desk.ok("bob", "/incident INC-2 duplicate-of INC-1").await;
    desk.clock.advance(chrono::Duration::minutes(30));
    desk.ok("bob", "/incident INC-1 resolve restarted the mail relay")
        .await;
    desk.clock.advance(chrono::Duration::minutes(1));
    let report = desk.ok("bob", "/itsm report day").await;
    assert!(report.contains("Opened: 1 "), "{report}");
    assert!(report.contains("Resolved: 1 "), "{report}");
}

const READ: &str = "read-token-0123456789";

const WRITE: &str = "write-token-0123456789";

fn api_config() -> itsm_bot::config::Config {
    let tokens = format!("[{{name=\"reporting\", access=\"read\", token=\"{READ}\"}}, {{name=\"monitor\", access=\"write\", token=\"{WRITE}\"}}]");
    itsm_bot::config::Config::load_with_env(None, [("ITSM__API__TOKENS".to_string(), tokens)])
        .unwrap()
}

#[sqlx::test]
async fn the_api_lists_searches_and_shows_published_articles(pool: PgPool) {
    use axum::http::StatusCode;
    let desk = Desk::with_config(pool, api_config()).await;
    desk.ok("bob", "/kb VPN drops at home").await;
    desk.ok("bob", "/kb KB-1 body Reconnect with the backup gateway.")
        .await;
    desk.ok("bob", "/kb Draft about printers").await;
    desk.ok("alice", "/incident VPN down in Berlin").await;

    // Drafts are not published: nothing yet.
    let (status, list) = desk.http("GET", "/api/v1/kb", Some(READ), None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["total"], 0, "{list}");
    let (status, missing) = desk.http("GET", "/api/v1/kb/KB-1", Some(READ), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
    assert!(missing["error"]
        .as_str()
        .unwrap()
        .contains("no published KB-1"));

    desk.ok("bob", "/kb KB-1 publish").await;
    let (_, list) = desk
        .http("GET", "/api/v1/kb?q=remote%20access", Some(READ), None)
        .await;
    assert_eq!(list["items"][0]["reference"], "KB-1", "{list}");
    let (status, one) = desk.http("GET", "/api/v1/kb/kb-1", Some(READ), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["body"], "Reconnect with the backup gateway.");
    assert_eq!(one["timeline"][2]["action"], "published", "{one}");

    let (status, hits) = desk
        .http("GET", "/api/v1/search?q=vpn", Some(READ), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let references: Vec<&str> = hits["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hit| hit["reference"].as_str().unwrap())
        .collect();
    assert!(
        references.contains(&"INC-1") && references.contains(&"KB-1"),
        "{hits}"
    );
    let (_, csv) = desk
        .http("GET", "/api/v1/search?q=vpn&format=csv", Some(READ), None)
        .await;
    let csv = csv.as_str().unwrap();
    assert!(
        csv.starts_with("kind,reference,title,status,service,created_at\n"),
        "{csv}"
    );

    for (path, status, expected) in [
        ("/api/v1/search", StatusCode::BAD_REQUEST, "`q` is required"),
        ("/api/v1/search?q=%22", StatusCode::BAD_REQUEST, "no words"),
        (
            "/api/v1/search?q=vpn&kind=kb",
            StatusCode::BAD_REQUEST,
            "not a parameter",
        ),
        (
            "/api/v1/search?q=vpn&format=xml",
            StatusCode::BAD_REQUEST,
            "format=csv",
        ),
        // Another kind's reference is no article, as on every other route.
        ("/api/v1/kb/INC-1", StatusCode::NOT_FOUND, "INC-1 is not a"),
        (
            "/api/v1/kb/KB-9",
            StatusCode::NOT_FOUND,
            "no published KB-9",
        ),
    ] {
        let (got, body) = desk.http("GET", path, Some(READ), None).await;
        assert_eq!(got, status, "{path}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains(expected),
            "{path}: {body}"
        );
    }
    let (status, _) = desk.http("GET", "/api/v1/search?q=vpn", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[sqlx::test]
async fn a_report_without_a_service_gets_a_triage_suggestion_with_its_reason(pool: PgPool) {
    let desk = Desk::new(pool.clone()).await;
    for (n, title) in [
        "VPN tunnel drops every hour P2 service:vpn",
        "VPN login fails for remote staff P2 service:vpn",
        "VPN drops in Berlin office P2 service:vpn",
        "Mail stuck in outbox P4 service:email",
    ]
    .into_iter()
    .enumerate()
    {
        desk.ok("alice", &format!("/incident {title}")).await;
        desk.ok("bob", &format!("/incident INC-{} resolve fixed", n + 1))
            .await;
    }
    // Nothing is suggested before the model has learnt from the history.
    let untrained = desk.ok("carol", "/incident VPN drops at the office").await;
    assert!(!untrained.contains("Suggested:"), "{untrained}");
    // The scheduler's training run learns the four resolved ones (not the
    // one just reported: it is open).
    desk.clock.advance(chrono::Duration::minutes(1));
    let trained = itsm_bot::scheduler::triage::train(&desk.engine, desk.clock.now())
        .await
        .unwrap();
    assert_eq!((trained.added, trained.total), (4, 4));
    let report = desk.ok("carol", "/incident VPN drops at home").await;
    assert!(
        report.contains(
            "Suggested: service vpn — 3 of the 3 past incidents that said “vpn” were on vpn ("
        ),
        "{report}"
    );
    assert!(
        report.contains("priority P2 — 3 of the 3 that said “vpn”"),
        "{report}"
    );
    assert!(
        report.contains("`/incident INC-6 accept-suggestion` applies it."),
        "{report}"
    );
    // With a service given there is nothing to suggest.
    let given = desk
        .ok("carol", "/incident VPN drops at home service:vpn")
        .await;
    assert!(!given.contains("Suggested:"), "{given}");
    // Accepting sets the service (the priority was the suggested one).
    let accepted = desk.ok("bob", "/incident INC-6 accept-suggestion").await;
    assert!(accepted.contains("INC-6: service vpn"), "{accepted}");
}

#[sqlx::test]
async fn training_learns_each_resolved_incident_once_as_history_grows(pool: PgPool) {
    use itsm_bot::scheduler::triage;
    let desk = Desk::new(pool.clone()).await;
    desk.ok("alice", "/incident Printer jams on floor 3 service:wifi")
        .await;
    desk.ok("bob", "/incident INC-1 resolve cleared the tray")
        .await;
    // Resolved a moment ago: left for the next run, the command that
    // resolved it might not have committed.
    let early = triage::train(&desk.engine, desk.clock.now()).await.unwrap();
    assert_eq!((early.added, early.total), (0, 0));
    desk.clock.advance(chrono::Duration::minutes(1));
    let scheduled = desk.clock.now();
    let first = triage::run(&desk.engine, scheduled, scheduled)
        .await
        .unwrap();
    assert_eq!((first.added, first.total, first.ran), (1, 1, true));
    // The same scheduled run on another replica finds it claimed.
    let again = triage::run(&desk.engine, scheduled, scheduled)
        .await
        .unwrap();
    assert_eq!(again, triage::Trained::default());
    let words: i64 = sqlx::query_scalar(
        "SELECT incidents FROM triage_terms WHERE lexeme = 'printer' AND service = 'wifi'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(words, 1);
    // History grows: the next run learns only what is new.
    desk.ok("alice", "/incident Printer offline service:wifi")
        .await;
    desk.ok("bob", "/incident INC-2 resolve power cycled").await;
    desk.clock.advance(chrono::Duration::minutes(5));
    let next = triage::run(&desk.engine, desk.clock.now(), desk.clock.now())
        .await
        .unwrap();
    assert_eq!((next.added, next.total), (1, 2));
    let words: i64 = sqlx::query_scalar(
        "SELECT incidents FROM triage_terms WHERE lexeme = 'printer' AND service = 'wifi'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(words, 2, "each incident counted once");
    // A misspelt word is read as the known word it is nearest to.
    let report = desk.ok("carol", "/incident priner broken").await;
    assert!(report.contains("Suggested: service wifi"), "{report}");
    assert!(report.contains("said “printer”"), "{report}");
}

#[sqlx::test]
async fn an_incident_reported_through_the_api_comes_back_with_its_suggestions(pool: PgPool) {
    use axum::http::StatusCode;
    let desk = Desk::with_config(pool, api_config()).await;
    desk.ok("bob", "/kb VPN drops at home").await;
    desk.ok("bob", "/kb KB-1 body Switch to the backup gateway.")
        .await;
    desk.ok("bob", "/kb KB-1 publish").await;
    desk.ok("alice", "/incident Remote access down at home office")
        .await;
    let (status, created) = desk
        .http(
            "POST",
            "/api/v1/incidents",
            Some(WRITE),
            Some(r#"{"title": "Cannot connect remote access from home"}"#),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["reference"], "INC-2", "{created}");
    assert_eq!(created["suggestions"]["articles"][0], "KB-1", "{created}");
    assert_eq!(
        created["suggestions"]["looks_like"][0], "INC-1",
        "{created}"
    );
}

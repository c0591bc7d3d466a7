//! The service catalog, availability and error budgets, on-call paging
//! with escalation, told as the story of a VPN outage.

use chrono::Duration;
use itsm_bot::commands::notice::Posted;
use itsm_bot::config::Config;
use itsm_bot::scheduler::sweep::sweep;
use sqlx::PgPool;

use crate::helpers::{dated, start, timeline_actions, Desk};

/// `vpn` (99.9%, paged through rotation `network`: bob then carol, weekly,
/// escalating after 5 minutes) and `dns`, which is not public.
pub fn vpn_config() -> Config {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vpn.toml");
    crate::helpers::write_dated(
        &path,
        r#"
[[services]]
name = "vpn"
description = "Remote access VPN"
owner = "shell:olivia"
channel = "netops"
availability_target = 99.9
rotation = "network"
public = true

[[services]]
name = "dns"
public = false

[[oncall.rotations]]
name = "network"
members = ["shell:bob", "shell:carol"]
handoff = "2026-11-23T09:00"
length = "1w"
time_zone = "Europe/Berlin"
escalate_after = "5m"
"#,
    )
    .unwrap();
    Config::load_with_env(Some(&path), std::iter::empty()).unwrap()
}

/// What the sweep posted, without the SLA warnings and breaches (told in sla.rs).
fn texts(posted: Vec<Posted>) -> Vec<String> {
    not_sla(posted).into_iter().map(|p| p.text).collect()
}

fn not_sla(posted: Vec<Posted>) -> Vec<Posted> {
    posted
        .into_iter()
        .filter(|p| !p.text.contains(" target used") && !p.text.contains("breached its"))
        .collect()
}

async fn sweep_at(desk: &Desk, minutes: i64) -> Vec<String> {
    texts(
        sweep(&desk.engine, start() + Duration::minutes(minutes))
            .await
            .unwrap(),
    )
}

#[sqlx::test]
async fn a_vpn_outage_from_page_to_error_budget(pool: PgPool) {
    let desk = Desk::with_config(pool, vpn_config()).await;

    let vpn = desk.ok("alice", "/itsm service vpn").await;
    assert!(vpn.contains("operational") && vpn.contains("100%"), "{vpn}");
    assert!(vpn.contains("shell:bob"), "bob is on call: {vpn}");
    let list = desk.ok("alice", "/itsm services").await;
    assert!(
        list.contains("vpn — operational") && list.contains("dns — operational"),
        "{list}"
    );
    let oncall = desk.ok("alice", "/itsm oncall vpn").await;
    assert!(
        oncall.contains("now shell:bob") && oncall.contains("next shell:carol"),
        "{oncall}"
    );

    // The P1 pages bob.
    let reported = desk
        .ok("alice", "/incident VPN down for everyone P1 service:vpn")
        .await;
    assert!(
        reported.contains("Paged (on call): shell:bob"),
        "{reported}"
    );
    assert!(timeline_actions(&desk.pool, 1)
        .await
        .contains(&"paged".to_string()));
    let degraded = desk.ok("alice", "/itsm service vpn").await;
    assert!(degraded.contains("degraded"), "{degraded}");

    desk.ok("bob", "/incident INC-1 outage").await;
    let down = desk.ok("alice", "/itsm service vpn").await;
    assert!(down.contains("outage"), "{down}");

    // Nobody acknowledges: after 5 minutes carol is paged, once.
    assert!(sweep_at(&desk, 4).await.is_empty());
    let escalated = sweep_at(&desk, 10).await;
    assert_eq!(escalated.len(), 1, "{escalated:?}");
    assert!(
        escalated[0].contains("shell:carol") && escalated[0].contains("Escalated"),
        "{escalated:?}"
    );
    // The next step, the channel and the owner, also comes once.
    let channel = sweep_at(&desk, 11).await;
    assert_eq!(channel.len(), 1, "{channel:?}");
    assert!(channel[0].contains("shell:olivia"), "{channel:?}");
    let none = sweep_at(&desk, 12).await;
    assert!(none.is_empty(), "{none:?}");

    // Resolved after 30 minutes: operational again, 99.93%, 69% spent.
    desk.clock.set(start() + Duration::minutes(30));
    desk.ok("bob", "/incident INC-1 resolve rebooted the concentrator")
        .await;
    let after = desk.ok("alice", "/itsm service vpn").await;
    assert!(after.contains("operational"), "{after}");
    assert!(
        after.contains("99.931%") && after.contains("69% spent"),
        "{after}"
    );

    // The 50% budget warning is posted once, in the service's channel.
    let warned = not_sla(
        sweep(&desk.engine, start() + Duration::minutes(31))
            .await
            .unwrap(),
    );
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert_eq!(warned[0].channel.to_string(), "netops");
    assert!(
        warned[0].text.contains("50% of the error budget"),
        "{warned:?}"
    );
    assert!(sweep_at(&desk, 40).await.is_empty());
}

#[sqlx::test]
async fn acknowledging_stops_the_escalation(pool: PgPool) {
    let desk = Desk::with_config(pool, vpn_config()).await;
    desk.ok("alice", "/incident VPN slow P2 service:vpn").await;
    desk.clock.set(start() + Duration::minutes(3));
    desk.ok("bob", "/incident INC-1 ack").await;
    assert!(sweep_at(&desk, 20).await.is_empty());
    // P3 incidents page nobody; raising one to P1 does.
    let quiet = desk.ok("alice", "/incident VPN flaky P3 service:vpn").await;
    assert!(!quiet.contains("Paged"), "{quiet}");
    let raised = desk.ok("bob", "/incident INC-2 priority P1").await;
    assert!(raised.contains("Paged (on call): shell:bob"), "{raised}");
    // One already acknowledged is not paged when raised.
    desk.ok("alice", "/incident VPN odd P4 service:vpn").await;
    desk.ok("carol", "/incident INC-3 ack").await;
    let taken = desk.ok("bob", "/incident INC-3 priority P2").await;
    assert!(!taken.contains("Paged"), "{taken}");
}

#[sqlx::test]
async fn an_override_takes_the_page(pool: PgPool) {
    let desk = Desk::with_config(pool, vpn_config()).await;
    // 2026-11-25T09:00 UTC is 10:00 in Berlin, the rotation's zone.
    let done = desk
        .ok(
            "bob",
            &dated("/itsm oncall override @dave 2026-11-25T09:30 4h"),
        )
        .await;
    assert!(
        done.contains("shell:dave") && done.contains("08:30 UTC"),
        "{done}"
    );
    let oncall = desk.ok("alice", "/itsm oncall").await;
    assert!(oncall.contains("now shell:dave (override)"), "{oncall}");
    let reported = desk.ok("alice", "/incident VPN down P1 service:vpn").await;
    assert!(
        reported.contains("Paged (on call): shell:dave"),
        "{reported}"
    );
    // dave is not in the rotation: the escalation goes to who is scheduled.
    let escalated = sweep_at(&desk, 5).await;
    assert!(escalated[0].contains("shell:bob"), "{escalated:?}");
}

#[sqlx::test]
async fn bad_service_and_oncall_commands_are_refused(pool: PgPool) {
    let desk = Desk::with_config(pool, vpn_config()).await;
    let why = desk.refused("alice", "/itsm service vnp").await;
    assert!(why.contains("service:vpn"), "{why}");
    let why = desk.refused("alice", "/itsm oncall netwrk").await;
    assert!(why.contains("/itsm oncall network"), "{why}");
    let why = desk.refused("alice", "/itsm oncall dns").await;
    assert!(why.contains("no on-call rotation"), "{why}");
    let why = desk
        .refused(
            "bob",
            &dated("/itsm oncall override @dave 2026-11-01T09:00 1h"),
        )
        .await;
    assert!(why.contains("has passed"), "{why}");
    let why = desk
        .refused("bob", "/itsm oncall override @dave tomorrow 1h")
        .await;
    assert!(why.contains("not a start time"), "{why}");
    let why = desk
        .refused(
            "slack:U1",
            &dated("/itsm oncall override me 2026-11-26T09:00 1h"),
        )
        .await;
    assert!(why.contains("engineer"), "{why}");
    desk.ok("alice", "/incident printer jammed P3").await;
    let why = desk.refused("bob", "/incident INC-1 outage").await;
    assert!(why.contains("names no service"), "{why}");
    desk.ok("alice", "/incident VPN down P1 service:vpn").await;
    let why = desk
        .refused(
            "bob",
            &dated("/incident INC-2 outage since 2026-11-26T09:00"),
        )
        .await;
    assert!(why.contains("future"), "{why}");
    let why = desk
        .refused("bob", "/incident INC-2 outage since lunch")
        .await;
    assert!(why.contains("not a start time"), "{why}");
    let why = desk.refused("bob", "/incident INC-2 public").await;
    assert!(why.contains("status page"), "{why}");
}

#[sqlx::test]
async fn an_outage_can_start_before_it_was_reported(pool: PgPool) {
    let desk = Desk::with_config(pool, vpn_config()).await;
    desk.ok("alice", "/incident VPN down P1 service:vpn").await;
    desk.ok(
        "bob",
        &dated("/incident INC-1 outage since 2026-11-25T08:00"),
    )
    .await;
    // Two incidents about the same outage count once.
    desk.ok("alice", "/incident VPN still down P2 service:vpn")
        .await;
    desk.ok(
        "bob",
        &dated("/incident INC-2 outage since 2026-11-25T08:30"),
    )
    .await;
    desk.clock.set(start() + Duration::minutes(30));
    desk.ok("bob", "/incident INC-1 resolve fixed").await;
    desk.ok("bob", "/incident INC-2 resolve fixed").await;
    let vpn = desk.ok("alice", "/itsm service vpn").await;
    // 90 minutes of 43,200: 99.792%, over budget.
    assert!(
        vpn.contains("99.792%") && vpn.contains("208% spent"),
        "{vpn}"
    );
    let warned = sweep_at(&desk, 31).await;
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(warned[0].contains("100% of the error budget"), "{warned:?}");
    assert!(sweep_at(&desk, 32).await.is_empty());

    // Once the outage rolls out of the 30 days the warnings re-arm: the
    // next crossing is announced again.
    let month = 31 * 24 * 60;
    assert!(sweep_at(&desk, month).await.is_empty());
    let armed: i64 = sqlx::query_scalar("SELECT count(*) FROM budget_warnings")
        .fetch_one(&desk.pool)
        .await
        .unwrap();
    assert_eq!(armed, 0);
    desk.clock.set(start() + Duration::minutes(month));
    desk.ok("alice", "/incident VPN down again P1 service:vpn")
        .await;
    desk.ok("bob", "/incident INC-3 outage").await;
    let again = sweep_at(&desk, month + 25).await;
    assert!(
        again.iter().any(|t| t.contains("50% of the error budget")),
        "{again:?}"
    );
}

/// A budget that recovers re-arms only the warnings it fell below: the 50%
/// one stays announced while more than half is still spent.
#[sqlx::test]
async fn a_recovering_budget_re_arms_only_the_warnings_it_fell_below(pool: PgPool) {
    let desk = Desk::with_config(pool, vpn_config()).await;
    desk.ok("alice", "/incident VPN down P3 service:vpn").await;
    desk.ok(
        "bob",
        &dated("/incident INC-1 outage since 2026-11-25T08:00"),
    )
    .await;
    desk.ok("bob", "/incident INC-1 resolve fixed").await;
    // An hour down against a 43-minute budget: both thresholds, one post.
    let warned = sweep_at(&desk, 1).await;
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(warned[0].contains("100% of the error budget"), "{warned:?}");
    let announced = || async {
        sqlx::query_scalar::<_, i16>("SELECT threshold FROM budget_warnings ORDER BY threshold")
            .fetch_all(&desk.pool)
            .await
            .unwrap()
    };
    assert_eq!(announced().await, [50, 100]);

    // 30 days on, half the outage has rolled out of the period: 30 minutes
    // (69%) are left, so only the 100% warning is re-armed, and nothing is
    // posted.
    let month = 30 * 24 * 60;
    assert!(sweep_at(&desk, month - 30).await.is_empty());
    assert_eq!(announced().await, [50]);
    // 10 minutes (23%) left: the 50% warning is re-armed too.
    assert!(sweep_at(&desk, month - 10).await.is_empty());
    assert!(announced().await.is_empty());
}

/// Every start syncs the catalog from config: entries that have not changed
/// are not written again (the same row version, no id drawn), a changed one
/// is updated, a new one added, and one config no longer names stays.
#[sqlx::test]
async fn restarting_syncs_the_catalog_and_rewrites_nothing_unchanged(pool: PgPool) {
    let desk = Desk::with_config(pool.clone(), vpn_config()).await;
    let rows = || async {
        sqlx::query_as::<_, (String, String, String)>(
            "SELECT name, description, xmin::text FROM services ORDER BY name",
        )
        .fetch_all(&pool)
        .await
        .unwrap()
    };
    let drawn = || async {
        sqlx::query_scalar::<_, i64>("SELECT last_value FROM services_id_seq")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    let (before, ids) = (rows().await, drawn().await);
    let restart = |config: Config| {
        itsm_bot::app::App::with_store(
            config,
            itsm_bot::store::Store::from_pool(pool.clone()),
            desk.clock.clone(),
        )
    };
    restart(vpn_config()).await.unwrap();
    assert_eq!(rows().await, before);
    assert_eq!(drawn().await, ids);

    let mut changed = vpn_config();
    changed.services.retain(|s| s.name == "dns");
    changed.services[0].description = "Name resolution".into();
    let mut ldap = changed.services[0].clone();
    ldap.name = "ldap".into();
    ldap.depends_on = vec!["dns".into()];
    changed.services.push(ldap);
    restart(changed).await.unwrap();
    let after = rows().await;
    let names: Vec<(&str, &str)> = after
        .iter()
        .map(|(name, description, _)| (name.as_str(), description.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("dns", "Name resolution"),
            ("ldap", "Name resolution"),
            ("vpn", "Remote access VPN")
        ]
    );
    assert_ne!(after[0].2, before[0].2, "dns was updated");
    assert_eq!(after[2].2, before[1].2, "vpn was left alone");
    let depends: Vec<String> =
        sqlx::query_scalar("SELECT unnest(depends_on) FROM services WHERE name = 'ldap'")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(depends, ["dns"]);
}

/// GETs `path` through the bot's real router.
async fn response(desk: &Desk, path: &str) -> axum::response::Response {
    use tower::ServiceExt;
    let state = itsm_bot::http::HttpState::new(desk.engine.clone());
    itsm_bot::http::router(state)
        .oneshot(
            axum::http::Request::get(path)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap()
}

async fn get(desk: &Desk, path: &str) -> (axum::http::StatusCode, String, String) {
    let response = response(desk, path).await;
    let status = response.status();
    let kind = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, kind, String::from_utf8_lossy(&body).into_owned())
}

#[sqlx::test]
async fn the_status_page_shows_public_services_and_nothing_internal(pool: PgPool) {
    let desk = Desk::with_config(pool, vpn_config()).await;
    desk.ok(
        "alice",
        "/incident VPN down: password of svc-vpn is hunter2 P1 service:vpn",
    )
    .await;
    desk.ok("bob", "/incident INC-1 outage").await;
    desk.ok(
        "bob",
        "/incident INC-1 note internal: the root password was rotated",
    )
    .await;
    desk.ok(
        "bob",
        "/incident INC-1 public Remote access is down; we are <b>on it</b>.",
    )
    .await;
    desk.ok("alice", "/incident DNS flaky P1 service:dns").await;
    desk.ok("bob", "/incident INC-2 public DNS is slow.").await;

    let (status, kind, json) = get(&desk, "/status.json").await;
    assert_eq!(status, axum::http::StatusCode::OK, "{json}");
    assert!(kind.starts_with("application/json"), "{kind}");
    let page: serde_json::Value = serde_json::from_str(&json).unwrap();
    let services = page["services"].as_array().unwrap();
    assert_eq!(services.len(), 1, "dns is not public: {json}");
    let vpn = &services[0];
    assert_eq!(vpn["name"], "vpn");
    assert_eq!(vpn["status"], "outage");
    // No ticket number: it would tell outsiders how many incidents there are.
    assert_eq!(
        vpn["incidents"][0]["since_text"],
        dated("2026-11-25 09:00 UTC")
    );
    assert_eq!(vpn["incidents"][0]["state"], "ongoing");
    assert_eq!(
        vpn["incidents"][0]["updates"][0]["text"],
        "Remote access is down; we are <b>on it</b>."
    );
    for secret in [
        "hunter2",
        "root password",
        "shell:",
        "DNS",
        "internal",
        "INC-",
    ] {
        assert!(!json.contains(secret), "{secret} leaked: {json}");
    }

    let (status, kind, html) = get(&desk, "/status").await;
    assert_eq!(status, axum::http::StatusCode::OK, "{html}");
    assert!(kind.starts_with("text/html"), "{kind}");
    assert!(html.contains("vpn") && html.contains("outage"), "{html}");
    assert!(
        html.contains("&lt;b&gt;on it&lt;") && !html.contains("<b>"),
        "escaped: {html}"
    );
    for secret in ["hunter2", "root password", "shell:", "DNS is slow", "INC-"] {
        assert!(!html.contains(secret), "{secret} leaked: {html}");
    }

    desk.clock.set(start() + Duration::minutes(30));
    desk.ok("bob", "/incident INC-1 resolve fixed").await;
    let (_, _, json) = get(&desk, "/status.json").await;
    let page: serde_json::Value = serde_json::from_str(&json).unwrap();
    let vpn = &page["services"][0];
    assert_eq!(vpn["status"], "operational");
    assert_eq!(vpn["incidents"][0]["state"], "resolved");
    assert_eq!(vpn["availability_30d"], 99.931);
    let days = vpn["days"].as_array().unwrap();
    assert_eq!(days.len(), 90);
    assert_eq!(days[89]["date"], dated("2026-11-25"));
    assert_eq!(days[89]["level"], "down", "30 minutes of 9.5 hours");
    assert_eq!(days[88]["level"], "up");
}

/// Times on the status page: to the minute with the zone for people, RFC
/// 3339 to the second for machines, however finely the clock reads.
#[sqlx::test]
async fn the_status_page_shows_times_without_fractions_of_a_second(pool: PgPool) {
    let desk = Desk::with_config(pool, vpn_config()).await;
    let fraction = Duration::nanoseconds(123_456_789);
    desk.clock.set(start() + fraction);
    desk.ok("alice", "/incident VPN down P1 service:vpn").await;
    desk.ok("bob", "/incident INC-1 public Remote access is down.")
        .await;
    desk.clock.set(start() + Duration::minutes(7) + fraction);
    let fractional = regex::Regex::new(r"\d{2}:\d{2}:\d{2}[.,]\d").unwrap();

    let (_, _, json) = get(&desk, "/status.json").await;
    assert!(!fractional.is_match(&json), "{json}");
    let page: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(page["generated_at"], dated("2026-11-25T09:07:00Z"));
    assert_eq!(page["generated_at_text"], dated("2026-11-25 09:07 UTC"));
    let incident = &page["services"][0]["incidents"][0];
    assert_eq!(incident["since"], dated("2026-11-25T09:00:00Z"));
    assert_eq!(incident["updates"][0]["at"], dated("2026-11-25T09:00:00Z"));
    assert_eq!(
        incident["updates"][0]["at_text"],
        dated("2026-11-25 09:00 UTC")
    );

    let (_, _, html) = get(&desk, "/status").await;
    assert!(!fractional.is_match(&html), "{html}");
    assert!(
        html.contains(&dated(
            r#"<time datetime="2026-11-25T09:07:00Z">2026-11-25 09:07 UTC</time>"#
        )),
        "{html}"
    );
    assert!(
        html.contains(&dated(
            r#"<time datetime="2026-11-25T09:00:00Z">2026-11-25 09:00 UTC</time> Remote access is down."#
        )),
        "{html}"
    );
}

/// Two replicas sweeping at the same moment escalate once and warn once.
#[sqlx::test]
async fn concurrent_sweeps_escalate_and_warn_once(pool: PgPool) {
    let desk = Desk::with_config(pool, vpn_config()).await;
    desk.ok("alice", "/incident VPN down P1 service:vpn").await;
    desk.ok(
        "bob",
        &dated("/incident INC-1 outage since 2026-11-25T08:30"),
    )
    .await;
    let at = start() + Duration::minutes(6);
    let (a, b) = tokio::join!(sweep(&desk.engine, at), sweep(&desk.engine, at));
    let posted: Vec<String> = texts(a.unwrap())
        .into_iter()
        .chain(texts(b.unwrap()))
        .collect();
    let carol = posted.iter().filter(|t| t.contains("shell:carol")).count();
    let budget = posted
        .iter()
        .filter(|t| t.contains("of the error budget"))
        .count();
    assert_eq!((carol, budget), (1, 1), "{posted:?}");
    let escalations: i64 = sqlx::query_scalar("SELECT count(*) FROM page_steps WHERE step = 1")
        .fetch_one(&desk.pool)
        .await
        .unwrap();
    assert_eq!(escalations, 1);
}

/// A reopened incident is not down again until someone says so, and the
/// time it spent resolved is not downtime.
#[sqlx::test]
async fn a_reopened_outage_counts_only_while_marked(pool: PgPool) {
    let desk = Desk::with_config(pool, vpn_config()).await;
    desk.ok("alice", "/incident VPN down P3 service:vpn").await;
    desk.ok("bob", "/incident INC-1 outage").await;
    desk.clock.set(start() + Duration::minutes(10));
    desk.ok("bob", "/incident INC-1 resolve fixed").await;
    desk.clock.set(start() + Duration::minutes(60));
    desk.ok("alice", "/incident INC-1 reopen still down").await;
    let vpn = desk.ok("alice", "/itsm service vpn").await;
    assert!(
        vpn.contains("operational") && vpn.contains("33m12s of 43m12s left"),
        "{vpn}"
    );
    desk.ok("bob", "/incident INC-1 outage").await;
    desk.clock.set(start() + Duration::minutes(70));
    let vpn = desk.ok("alice", "/itsm service vpn").await;
    assert!(
        vpn.contains("outage") && vpn.contains("23m12s of 43m12s left"),
        "{vpn}"
    );
    desk.ok("bob", "/incident INC-1 resolve fixed for real")
        .await;
    desk.clock.set(start() + Duration::minutes(300));
    let vpn = desk.ok("alice", "/itsm service vpn").await;
    assert!(
        vpn.contains("operational") && vpn.contains("23m12s of 43m12s left"),
        "{vpn}"
    );
}

/// Downtime inside the window of an approved change that declared a planned
/// outage does not spend the error budget; the rest of the outage does.
#[sqlx::test]
async fn planned_outage_windows_do_not_count(pool: PgPool) {
    let mut config = vpn_config();
    config.roles.cab = ["shell:carol", "shell:dave"]
        .into_iter()
        .map(|who| itsm_bot::config::UserPatternSetting(who.parse().unwrap()))
        .collect();
    let desk = Desk::with_config(pool, config).await;
    desk.ok("alice", "/change Replace VPN concentrators service:vpn")
        .await;
    for line in [
        "plan swap both units",
        "test connect from home",
        "rollback put the old units back",
        &dated("window 2026-11-25T09:00 10m"),
        "outage",
    ] {
        desk.ok("alice", &format!("/change CHG-1 {line}")).await;
    }
    desk.refused("alice", "/change CHG-1 outage").await;
    desk.ok("alice", "/change CHG-1 submit").await;
    desk.ok("carol", "/change CHG-1 approve").await;
    desk.ok("dave", "/change CHG-1 approve").await;

    // Down from 09:00 to 09:30: the first 10 minutes were planned.
    desk.ok("alice", "/incident VPN down P3 service:vpn").await;
    desk.ok("bob", "/incident INC-1 outage").await;
    desk.clock.set(start() + Duration::minutes(30));
    desk.ok("bob", "/incident INC-1 resolve units swapped")
        .await;
    let vpn = desk.ok("alice", "/itsm service vpn").await;
    assert!(
        vpn.contains("23m12s of 43m12s left"),
        "20 minutes counted: {vpn}"
    );
}

/// Pages carry the browser hardening headers and a policy that allows no
/// script; every answer refuses sniffing and framing.
#[sqlx::test]
async fn pages_carry_the_browser_hardening_headers(pool: PgPool) {
    let desk = Desk::with_config(pool, vpn_config()).await;
    for (path, html) in [
        ("/status", true),
        ("/", true),
        ("/status.json", false),
        ("/healthz", false),
    ] {
        let response = response(&desk, path).await;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_string())
        };
        assert_eq!(
            header("x-content-type-options").as_deref(),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(header("x-frame-options").as_deref(), Some("DENY"), "{path}");
        assert_eq!(
            header("referrer-policy").as_deref(),
            Some("no-referrer"),
            "{path}"
        );
        let policy = header("content-security-policy");
        if html {
            let policy = policy.unwrap_or_default();
            assert!(
                policy.contains("default-src 'none'")
                    && policy.contains("frame-ancestors 'none'")
                    && !policy.contains("script-src"),
                "{path}: {policy}"
            );
            // Styles by hash only: an injected <style> or style= is not applied.
            assert!(
                policy.contains("style-src 'sha256-") && !policy.contains("unsafe-inline"),
                "{path}: {policy}"
            );
            let page = String::from_utf8(
                axum::body::to_bytes(response.into_body(), 1 << 20)
                    .await
                    .unwrap()
                    .to_vec(),
            )
            .unwrap();
            let styles = itsm_bot::http::inline_styles(&page);
            assert!(!styles.is_empty(), "{path} has its <style>");
            for style in styles {
                let hash = itsm_bot::http::style_hash(style);
                assert!(policy.contains(&hash), "{path}: {hash} not in {policy}");
            }
        } else {
            assert_eq!(policy, None, "{path}");
        }
    }
}

//! Issue 20: every figure, wherever it is shown, equals a deliberately
//! naive oracle. Random histories (reports, responses by people, holds,
//! resolutions by people and by monitoring, reopenings, problems) are
//! played through the engine with an injected clock; the oracle replays
//! the same history minute by minute in plain loops (no SQL) and computes
//! each figure from its definition in `docs/figures.md`. The digest,
//! `/itsm report`, `/api/v1/reports/…` and `/dashboard.json` must all
//! agree with it, over calendar days, weeks (DST weeks included) and months
//! in several time zones.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use itsm_bot::commands::period_report;
use itsm_bot::config::{Config, TimeZoneSetting};
use itsm_bot::domain::calendar::Hours;
use itsm_bot::domain::report::{Period, Span};
use itsm_bot::domain::sla::{SlaPolicy, SlaTarget};
use itsm_bot::domain::Priority;
use serde_json::Value;
use sqlx::PgPool;

use crate::helpers::{start, Desk};

const TOKEN: &str = "figures-read-token-0123";

/// A small deterministic generator: the same seed, the same history.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Targets in minutes, around the clock, so the oracle can count minutes.
const RESPOND: [i64; 4] = [15, 60, 240, 480];
const RESOLVE: [i64; 4] = [240, 480, 1440, 2400];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Act {
    /// A person's response (ack, note, assign, hold, resume, resolve).
    Ack,
    Note,
    Hold,
    Resume,
    Resolve {
        person: bool,
    },
    Reopen,
}

#[derive(Debug, Clone)]
struct Incident {
    created: DateTime<Utc>,
    priority: usize,
    acts: Vec<(DateTime<Utc>, Act)>,
}

/// What the oracle knows of one incident at the end of the history.
struct Facts {
    responded: Option<DateTime<Utc>>,
    resolved: Option<DateTime<Utc>>,
    by_monitoring: bool,
    /// `[start, end)` of every pause of the resolution clock.
    pauses: Vec<(DateTime<Utc>, Option<DateTime<Utc>>)>,
}

impl Incident {
    fn facts(&self) -> Facts {
        let mut f = Facts {
            responded: None,
            resolved: None,
            by_monitoring: false,
            pauses: Vec::new(),
        };
        let mut open = true;
        for &(at, act) in &self.acts {
            let person = !matches!(act, Act::Resolve { person: false });
            if open && person && act != Act::Reopen && f.responded.is_none() {
                f.responded = Some(at);
            }
            match act {
                Act::Hold => f.pauses.push((at, None)),
                Act::Resume => close_pause(&mut f.pauses, at),
                Act::Resolve { .. } => {
                    close_pause(&mut f.pauses, at);
                    f.pauses.push((at, None));
                    f.resolved = Some(at);
                    f.by_monitoring = f.responded.is_none();
                    open = false;
                }
                Act::Reopen => {
                    close_pause(&mut f.pauses, at);
                    f.resolved = None;
                    f.by_monitoring = false;
                    open = true;
                }
                Act::Ack | Act::Note => {}
            }
        }
        f
    }

    /// Open at `t`: reported before it, and the last resolution or
    /// reopening before it was not a resolution.
    fn open_at(&self, t: DateTime<Utc>) -> bool {
        if self.created >= t {
            return false;
        }
        // Deliberately naive: walk every act in order.
        let mut last = None;
        for (at, act) in &self.acts {
            if *at < t && matches!(act, Act::Resolve { .. } | Act::Reopen) {
                last = Some((*at, *act));
            }
        }
        !matches!(last, Some((_, Act::Resolve { .. })))
    }
}

fn close_pause(pauses: &mut [(DateTime<Utc>, Option<DateTime<Utc>>)], at: DateTime<Utc>) {
    if let Some(last) = pauses.last_mut() {
        if last.1.is_none() {
            last.1 = Some(at);
        }
    }
}

/// Minute by minute: the instant `target` counted minutes have passed since
/// `from`, not counting paused minutes; `None` if a pause never ends first.
fn reached(
    from: DateTime<Utc>,
    target: i64,
    pauses: &[(DateTime<Utc>, Option<DateTime<Utc>>)],
) -> Option<DateTime<Utc>> {
    let mut t = from;
    let mut counted = 0;
    let mut guard = 0;
    while counted < target {
        let paused = pauses
            .iter()
            .any(|(s, e)| *s <= t && e.is_none_or(|e| t < e));
        if paused && pauses.iter().any(|(s, e)| *s <= t && e.is_none()) {
            return None;
        }
        if !paused {
            counted += 1;
        }
        t += Duration::minutes(1);
        guard += 1;
        assert!(guard < 1_000_000);
    }
    Some(t)
}

#[derive(Debug, Default, PartialEq)]
struct Oracle {
    opened: i64,
    resolved: i64,
    resolved_by_monitoring: i64,
    responded: i64,
    mtta: Option<i64>,
    mttr: Option<i64>,
    sla_met: i64,
    breaches: i64,
    open_by_priority: [i64; 4],
    problems_opened: i64,
}

fn mean(values: &[i64]) -> Option<i64> {
    (!values.is_empty()).then(|| {
        let sum: i64 = values.iter().sum();
        (sum as f64 / values.len() as f64).round() as i64
    })
}

fn oracle(
    incidents: &[Incident],
    problems: &[DateTime<Utc>],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Oracle {
    let within = |t: DateTime<Utc>| from <= t && t < to;
    let mut o = Oracle::default();
    let (mut mtta, mut mttr) = (Vec::new(), Vec::new());
    for inc in incidents {
        let f = inc.facts();
        if within(inc.created) {
            o.opened += 1;
        }
        if let Some(r) = f.responded.filter(|r| within(*r)) {
            o.responded += 1;
            mtta.push((r - inc.created).num_seconds());
        }
        if let Some(r) = f.resolved.filter(|r| within(*r)) {
            if f.by_monitoring {
                o.resolved_by_monitoring += 1;
            } else {
                o.resolved += 1;
                mttr.push((r - inc.created).num_seconds());
            }
        }
        if !f.by_monitoring {
            let respond_due = reached(inc.created, RESPOND[inc.priority], &[]);
            let resolve_due = reached(inc.created, RESOLVE[inc.priority], &f.pauses);
            for (stop, due) in [(f.responded, respond_due), (f.resolved, resolve_due)] {
                match (stop, due) {
                    (Some(s), Some(d)) if s <= d => o.sla_met += within(s) as i64,
                    (Some(s), None) => o.sla_met += within(s) as i64,
                    (_, Some(d)) if d < now && within(d) => o.breaches += 1,
                    _ => {}
                }
            }
        }
        let at = to.min(now);
        if inc.open_at(at) {
            o.open_by_priority[inc.priority] += 1;
        }
    }
    o.mtta = mean(&mtta);
    o.mttr = mean(&mttr);
    o.problems_opened = problems.iter().filter(|t| within(**t)).count() as i64;
    o
}

fn config(zone: Tz) -> Config {
    let tokens = format!("[{{name=\"figures\", access=\"read\", token=\"{TOKEN}\"}}]");
    let mut config =
        Config::load_with_env(None, [("ITSM__API__TOKENS".to_string(), tokens)]).unwrap();
    config.locale.time_zone = Some(TimeZoneSetting(zone));
    let targets = Priority::ALL
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            (
                p,
                SlaTarget {
                    respond: Duration::minutes(RESPOND[i]),
                    resolve: Duration::minutes(RESOLVE[i]),
                    hours: Hours::AroundTheClock,
                    calendar: None,
                },
            )
        })
        .collect::<BTreeMap<_, _>>();
    config.sla_policy = SlaPolicy::new(targets, &[0.75, 0.9]).unwrap();
    config
}

/// Plays a random history of `count` incidents from `begin` through the
/// engine; returns it, the problems' opening instants and the end.
async fn play(
    desk: &Desk,
    rng: &mut Rng,
    begin: DateTime<Utc>,
    count: usize,
) -> (Vec<Incident>, Vec<DateTime<Utc>>, DateTime<Utc>) {
    // Every step is a (time, incident, act) in one global order.
    let mut incidents = Vec::new();
    let mut steps: Vec<(DateTime<Utc>, usize, Option<Act>)> = Vec::new();
    let mut problems = Vec::new();
    for n in 0..count {
        let created = begin + Duration::minutes(rng.below(60 * 24 * 40) as i64);
        let priority = rng.below(4) as usize;
        let mut t = created;
        let mut acts = Vec::new();
        let mut open = true;
        let mut held = false;
        for _ in 0..rng.below(7) {
            let gap = if rng.chance(50) { 30 } else { 900 };
            t += Duration::minutes(1 + rng.below(gap) as i64);
            let act = if !open {
                Act::Reopen
            } else if held {
                if rng.chance(50) {
                    Act::Resume
                } else {
                    Act::Resolve { person: true }
                }
            } else {
                match rng.below(6) {
                    0 => Act::Ack,
                    1 => Act::Note,
                    2 => Act::Hold,
                    3 => Act::Resolve { person: false },
                    _ => Act::Resolve { person: true },
                }
            };
            match act {
                Act::Hold => held = true,
                Act::Resume => held = false,
                Act::Resolve { .. } => {
                    open = false;
                    held = false;
                }
                Act::Reopen => open = true,
                _ => {}
            }
            acts.push((t, act));
        }
        // Acks only while new; the generator may ack twice, keep the first.
        let mut acked = false;
        acts.retain(|(_, act)| {
            if *act == Act::Ack {
                let keep = !acked;
                acked = true;
                keep
            } else {
                true
            }
        });
        steps.push((created, n, None));
        for &(at, act) in &acts {
            steps.push((at, n, Some(act)));
        }
        incidents.push(Incident {
            created,
            priority,
            acts,
        });
    }
    for _ in 0..3 {
        problems.push(begin + Duration::minutes(rng.below(60 * 24 * 40) as i64));
    }
    steps.sort_by_key(|(at, n, act)| (*at, *n, act.is_some()));
    // The engine numbers incidents in the order they are reported.
    let mut numbers = vec![0; count];
    let mut next = 1;
    let mut problem_times = problems.clone();
    problem_times.sort();
    let mut problems_left = problem_times.clone();
    let mut dropped: Vec<(usize, DateTime<Utc>)> = Vec::new();
    for (at, n, act) in steps {
        while problems_left.first().is_some_and(|p| *p <= at) {
            let p = problems_left.remove(0);
            desk.clock.set(p);
            desk.ok("pat", "/problem VPN keeps dropping").await;
        }
        desk.clock.set(at);
        let reference = format!("INC-{}", numbers[n]);
        let (who, text) = match act {
            None => {
                numbers[n] = next;
                next += 1;
                let p = incidents[n].priority + 1;
                ("alice", format!("/incident Figure check {n} P{p}"))
            }
            Some(Act::Ack) => ("bob", format!("/incident {reference} ack")),
            Some(Act::Note) => ("bob", format!("/incident {reference} note looking")),
            Some(Act::Hold) => (
                "bob",
                format!("/incident {reference} hold waiting for vendor"),
            ),
            Some(Act::Resume) => ("bob", format!("/incident {reference} resume")),
            Some(Act::Resolve { person: true }) => {
                ("bob", format!("/incident {reference} resolve fixed"))
            }
            Some(Act::Resolve { person: false }) => (
                "alertmanager",
                format!("/incident {reference} resolve the alert resolved"),
            ),
            Some(Act::Reopen) => ("bob", format!("/incident {reference} reopen back again")),
        };
        let reply = desk.say(who, &text).await;
        if reply.outcome != itsm_bot::commands::reply::Outcome::Done {
            // The engine refused (e.g. an ack after a note made it
            // acknowledged): the oracle must not count what did not happen.
            if let Some(act) = act {
                dropped.push((n, at));
                let _ = act;
            }
        }
    }
    for p in problems_left {
        desk.clock.set(p);
        desk.ok("pat", "/problem VPN keeps dropping").await;
    }
    for (n, at) in dropped {
        incidents[n].acts.retain(|(t, _)| *t != at);
    }
    let end = begin + Duration::days(45);
    desk.clock.set(end);
    (incidents, problem_times, end)
}

fn check(label: &str, o: &Oracle, json: &Value) {
    let int = |key: &str| {
        json[key]
            .as_i64()
            .unwrap_or_else(|| panic!("{label}: {key} in {json}"))
    };
    let got = Oracle {
        opened: int("opened"),
        resolved: int("resolved"),
        resolved_by_monitoring: int("resolved_by_monitoring"),
        responded: int("responded"),
        mtta: json["mtta_seconds"].as_i64(),
        mttr: json["mttr_seconds"].as_i64(),
        sla_met: int("sla_met"),
        breaches: int("breaches"),
        open_by_priority: o.open_by_priority,
        problems_opened: json["problems"]["opened"].as_i64().unwrap(),
    };
    assert_eq!(&got, o, "{label}");
    assert_eq!(int("sla_total"), o.sla_met + o.breaches, "{label}");
}

async fn run(pool: PgPool, seed: u64, zone: &str) {
    let zone: Tz = zone.parse().unwrap();
    let desk = Desk::with_config(pool, config(zone)).await;
    let mut rng = Rng(seed);
    // Five weeks before the usual start: late October, when Europe and
    // then North America leave summer time.
    let begin = start() - Duration::weeks(5);
    let (incidents, problems, now) = play(&desk, &mut rng, begin, 40).await;
    let mut dates: Vec<NaiveDate> = incidents
        .iter()
        .map(|i| i.created.with_timezone(&zone).date_naive())
        .collect();
    dates.sort();
    let pick = |rng: &mut Rng| dates[rng.below(dates.len() as u64) as usize];
    for (period, date) in [
        (Period::Day, pick(&mut rng)),
        (Period::Day, pick(&mut rng)),
        (
            Period::Week,
            begin.with_timezone(&zone).date_naive() + Duration::days(5),
        ),
        (Period::Week, pick(&mut rng)),
        (Period::Month, pick(&mut rng)),
    ] {
        let span = Span::calendar(period, date, zone);
        let mut o = oracle(&incidents, &problems, span.from, span.to, now);
        let label = format!("seed {seed} {zone} {period:?} {date}");
        // The library's report, as the digest and `/itsm report` use it.
        let report = period_report::report(&desk.engine, span).await.unwrap();
        assert_eq!(
            report.state.open_by_priority, o.open_by_priority,
            "{label}: open at end"
        );
        let name = span.name().unwrap();
        let (status, api) = desk
            .http(
                "GET",
                &format!("/api/v1/reports/{}?period={name}", period.as_str()),
                Some(TOKEN),
                None,
            )
            .await;
        assert_eq!(status, 200, "{label}: {api}");
        check(&format!("{label} (API)"), &o, &api);
        assert_eq!(
            api["open_by_priority"],
            serde_json::json!(o.open_by_priority),
            "{label}"
        );
        assert_eq!(api["rolling"], false);
        let dto = serde_json::to_value(itsm_bot::http::api::ReportDto::from(&report)).unwrap();
        check(&format!("{label} (report)"), &o, &dto);
        // The dashboard over the same calendar days.
        let last = (span.to - Duration::seconds(1))
            .with_timezone(&zone)
            .date_naive();
        let first = span.from.with_timezone(&zone).date_naive();
        let (status, dashboard) = desk
            .http(
                "GET",
                &format!("/dashboard.json?from={first}&to={last}"),
                None,
                None,
            )
            .await;
        assert_eq!(status, 200, "{label}: {dashboard}");
        assert!(dashboard["figures"].is_object(), "{label}: {dashboard}");
        check(&format!("{label} (dashboard)"), &o, &dashboard["figures"]);
        // Its days add up to it, each equal to the oracle of that day.
        let days = dashboard["days"].as_array().unwrap();
        let sum = |key: &str| days.iter().map(|d| d[key].as_i64().unwrap()).sum::<i64>();
        assert_eq!(
            (
                sum("opened"),
                sum("resolved"),
                sum("sla_met"),
                sum("breaches")
            ),
            (o.opened, o.resolved, o.sla_met, o.breaches),
            "{label}: days"
        );
        // The chat answer says the same.
        let text = desk
            .ok("bob", &format!("/itsm report {} {name}", period.as_str()))
            .await;
        let compliance = if o.sla_met + o.breaches > 0 {
            format!(
                "{:.0}% ({} met of {})",
                100.0 * o.sla_met as f64 / (o.sla_met + o.breaches) as f64,
                o.sla_met,
                o.sla_met + o.breaches
            )
        } else {
            "—".to_string()
        };
        assert!(text.contains(&compliance), "{label}: {compliance}\n{text}");
        if period == Period::Day {
            let digest = period_report::for_date(&desk.engine, date, zone)
                .await
                .unwrap();
            assert_eq!(digest.figures, report.figures, "{label}: digest");
            assert_eq!(digest.state, report.state, "{label}: digest state");
        }
        o.open_by_priority = [0; 4];
    }
}

#[sqlx::test]
async fn figures_agree_with_the_oracle_in_utc(pool: PgPool) {
    run(pool, 0x5EED_0001, "UTC").await;
}

#[sqlx::test]
async fn figures_agree_with_the_oracle_in_berlin(pool: PgPool) {
    run(pool, 0x5EED_0002, "Europe/Berlin").await;
}

#[sqlx::test]
async fn figures_agree_with_the_oracle_in_new_york(pool: PgPool) {
    run(pool, 0x5EED_0003, "America/New_York").await;
}

#[sqlx::test]
async fn figures_agree_with_the_oracle_in_kolkata(pool: PgPool) {
    run(pool, 0x5EED_0004, "Asia/Kolkata").await;
}

/// An incident its alert resolved before anyone responded is counted apart
/// and its clocks are not judged; a clock that stopped late between two
/// sweeps is still announced once, saying so.
#[sqlx::test]
async fn monitoring_resolutions_are_apart_and_late_stops_are_announced(pool: PgPool) {
    let desk = Desk::with_config(pool, config(Tz::UTC)).await;
    let at = |minutes: i64| start() + Duration::minutes(minutes);
    desk.ok("alice", "/incident Disk full on build01 P1").await; // INC-1
    desk.clock.set(at(5));
    desk.ok("alertmanager", "/incident INC-1 note the alert fired again")
        .await;
    desk.clock.set(at(10));
    desk.ok("alertmanager", "/incident INC-1 resolve the alert resolved")
        .await;
    let show = desk.ok("bob", "/incident INC-1 show").await;
    assert!(
        show.contains("not counted (resolved by monitoring"),
        "{show}"
    );

    desk.clock.set(at(20));
    desk.ok("alice", "/incident Core switch down P1").await; // INC-2, respond due at 35
    desk.clock.set(at(36));
    // Acknowledged a minute late, before any sweep ran.
    desk.ok("bob", "/incident INC-2 ack").await;
    let posted = itsm_bot::scheduler::sweep::sweep(&desk.engine, at(37))
        .await
        .unwrap();
    let breach: Vec<_> = posted
        .iter()
        .filter(|p| p.text.contains("INC-2") && p.text.contains("breached"))
        .collect();
    assert_eq!(breach.len(), 1, "{posted:?}");
    assert!(
        breach[0].text.contains("stopped 1m late"),
        "{}",
        breach[0].text
    );
    assert!(itsm_bot::scheduler::sweep::sweep(&desk.engine, at(38))
        .await
        .unwrap()
        .iter()
        .all(|p| !p.text.contains("INC-2")));

    let day = Span::calendar(Period::Day, start().date_naive(), Tz::UTC);
    desk.clock.set(at(60 * 24));
    let report = period_report::report(&desk.engine, day).await.unwrap();
    let f = &report.figures;
    assert_eq!((f.opened, f.resolved, f.resolved_by_monitoring), (2, 0, 1));
    assert_eq!(
        (f.responded, f.sla_met, f.breaches),
        (1, 0, 2),
        "INC-2: late response, unresolved"
    );
    let text = period_report::message(&report).plain_text();
    assert!(
        text.contains("Resolved: 0 (+0) + 1 by monitoring"),
        "{text}"
    );
}

/// Reports and lists come as CSV too, and bad periods say what would work.
#[sqlx::test]
async fn reports_and_lists_export_as_csv(pool: PgPool) {
    let desk = Desk::with_config(pool, config(Tz::UTC)).await;
    desk.ok("alice", "/incident VPN down, \"again\" P2").await;
    let month = start().format("%Y-%m").to_string();
    let (status, csv) = desk
        .http(
            "GET",
            &format!("/api/v1/reports/month?period={month}&format=csv"),
            Some(TOKEN),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let csv = csv.as_str().unwrap().to_string();
    assert!(csv.starts_with("figure,value\n"), "{csv}");
    assert!(csv.contains("\nopened,1\n"), "{csv}");
    assert!(csv.contains(&format!("\nname,{month}\n")), "{csv}");
    assert!(csv.contains("\nchanges.success_rate,\n"), "{csv}");

    let request = axum::http::Request::get("/api/v1/incidents")
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("accept", "text/csv")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = tower::ServiceExt::oneshot(
        itsm_bot::http::router(itsm_bot::http::HttpState::new(desk.engine.clone())),
        request,
    )
    .await
    .unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let body = String::from_utf8(body.to_vec()).unwrap();
    let header = body.lines().next().unwrap();
    assert!(
        header.starts_with("reference,") && header.contains(",title,"),
        "{body}"
    );
    assert!(body.contains("\"VPN down, \"\"again\"\"\""), "{body}");

    for (path, hint) in [
        ("/api/v1/reports/month?period=2026-13", "e.g. 2026-11"),
        ("/api/v1/reports/week?period=someday", "2026-W48"),
        ("/api/v1/reports/day?format=xml", "format=csv"),
        ("/api/v1/reports/day?color=red", "period="),
    ] {
        let (status, body) = desk.http("GET", path, Some(TOKEN), None).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains(hint),
            "{path}: {body}"
        );
    }
    let refused = desk.refused("bob", "/itsm report month November").await;
    assert!(refused.contains("/itsm report month 2026-11"), "{refused}");
    desk.clock.set(start() + Duration::minutes(1));
    let (status, dashboard) = desk
        .http("GET", "/dashboard.csv?period=week", None, None)
        .await;
    assert_eq!(status, 200);
    assert!(
        dashboard.as_str().unwrap().contains("figures.opened,1"),
        "{dashboard}"
    );
}

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
    config_with(zone, &[])
}

/// [`config`] with more `ITSM__…` variables.
fn config_with(zone: Tz, extra: &[(&str, &str)]) -> Config {
    let tokens = format!("[{{name=\"figures\", access=\"read\", token=\"{TOKEN}\"}}]");
    let vars = std::iter::once(("ITSM__API__TOKENS".to_string(), tokens))
        .chain(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let mut config = Config::load_with_env(None, vars).unwrap();
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

/// SLA figures count each clock under its incident's priority as it is
/// now, and leave duplicates out, however either came about after the
/// clock's row was written (the rows carry both, kept by triggers).
#[sqlx::test]
async fn sla_figures_follow_priority_changes_and_leave_duplicates_out(pool: PgPool) {
    let desk = Desk::with_config(pool, config(Tz::UTC)).await;
    let at = |minutes: i64| start() + Duration::minutes(minutes);
    desk.ok("alice", "/incident Printer jams on floor 3 P3")
        .await; // INC-1
    desk.clock.set(at(1));
    desk.ok("alice", "/incident Mail queue stuck P3").await; // INC-2
    desk.clock.set(at(2));
    desk.ok("carol", "/incident Printer on floor 3 jams again P3")
        .await; // INC-3
    desk.clock.set(at(3));
    // P1 from here: respond due at 16 (met by the ack at 4), resolve due
    // at 241 (breached: never resolved).
    desk.ok("bob", "/incident INC-2 priority P1").await;
    // Unmarked, its respond clock would breach as a P3 at 242.
    desk.ok("bob", "/incident INC-3 duplicate INC-1").await;
    desk.clock.set(at(4));
    desk.ok("bob", "/incident INC-1 ack").await;
    desk.ok("bob", "/incident INC-2 ack").await;

    let rows: Vec<(i64, i16, bool)> = sqlx::query_as(
        "SELECT t.number, o.priority, o.duplicate FROM sla_outcomes o
           JOIN tickets t ON t.id = o.ticket_id ORDER BY t.number, o.clock",
    )
    .fetch_all(&desk.pool)
    .await
    .unwrap();
    assert_eq!(
        rows,
        [
            (1, 3, false),
            (1, 3, false),
            (2, 1, false),
            (2, 1, false),
            (3, 3, true),
            (3, 3, true)
        ]
    );

    let day = Span::calendar(Period::Day, start().date_naive(), Tz::UTC);
    desk.clock.set(at(60 * 24));
    let report = period_report::report(&desk.engine, day).await.unwrap();
    let f = &report.figures;
    assert_eq!(
        f.sla_by_priority,
        [(1, 1), (0, 0), (1, 0), (0, 0)],
        "INC-2 judged as the P1 it became, INC-3 not at all"
    );
    assert_eq!((f.sla_met, f.breaches), (2, 1));
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

/// One random incident on a service for the ratings-and-outages oracle.
struct Outage {
    service: usize,
    created: DateTime<Utc>,
    /// When someone marked it as an outage (down since it was reported).
    marked: Option<DateTime<Utc>>,
    resolved: Option<DateTime<Utc>>,
    rating: Option<(DateTime<Utc>, i64)>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Ending {
    Rejected,
    Cancelled,
    Completed,
    Failed,
    RolledBack,
    FailedThenRolledBack,
    /// Approved and never started.
    Waiting,
}

/// One random change for the oracle: when it was submitted and approved,
/// and how (and when) it ended.
struct ChangeStory {
    emergency: bool,
    submitted: DateTime<Utc>,
    approved: Option<DateTime<Utc>>,
    ending: Ending,
    finished: Option<DateTime<Utc>>,
}

const SERVICES: [&str; 3] = ["vpn", "email", "wifi"];

/// CSAT, availability and the change figures of `docs/figures.md`, counted
/// naively: minute by minute for downtime, one by one for the rest.
#[derive(Debug, PartialEq)]
struct MoreOracle {
    csat_answers: i64,
    csat_sum: i64,
    downtime_minutes: [i64; 3],
    completed: i64,
    failed: i64,
    rolled_back: i64,
    cancelled: i64,
    rejected: i64,
    submitted: i64,
    emergency: i64,
    approved: i64,
    lead_seconds: Option<i64>,
}

fn more_oracle(
    outages: &[Outage],
    changes: &[ChangeStory],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> MoreOracle {
    let within = |t: DateTime<Utc>| from <= t && t < to;
    let mut o = MoreOracle {
        csat_answers: 0,
        csat_sum: 0,
        downtime_minutes: [0; 3],
        completed: 0,
        failed: 0,
        rolled_back: 0,
        cancelled: 0,
        rejected: 0,
        submitted: 0,
        emergency: 0,
        approved: 0,
        lead_seconds: None,
    };
    for outage in outages {
        if let Some((_, score)) = outage.rating.filter(|(at, _)| within(*at)) {
            o.csat_answers += 1;
            o.csat_sum += score;
        }
    }
    // Minute by minute up to the end of the span or now: a service is down
    // in a minute when any of its marked incidents covers it.
    for (s, minutes) in o.downtime_minutes.iter_mut().enumerate() {
        let mut t = from;
        while t < to.min(now) {
            let down = outages.iter().any(|i| {
                i.service == s
                    && i.marked.is_some()
                    && i.created <= t
                    && i.resolved.is_none_or(|r| t < r)
            });
            *minutes += i64::from(down);
            t += Duration::minutes(1);
        }
    }
    let mut leads = Vec::new();
    for change in changes {
        if within(change.submitted) {
            o.submitted += 1;
            o.emergency += i64::from(change.emergency);
        }
        if let Some(approved) = change.approved.filter(|a| within(*a)) {
            o.approved += 1;
            leads.push((approved - change.submitted).num_seconds());
        }
        if change.finished.is_some_and(within) {
            match change.ending {
                Ending::Rejected => o.rejected += 1,
                Ending::Cancelled => o.cancelled += 1,
                Ending::Completed => o.completed += 1,
                Ending::Failed => o.failed += 1,
                Ending::RolledBack | Ending::FailedThenRolledBack => o.rolled_back += 1,
                Ending::Waiting => {}
            }
        }
    }
    o.lead_seconds = mean(&leads);
    o
}

/// Plays random outages with ratings, and random changes, through the
/// engine; returns them and the end.
async fn play_more(
    desk: &Desk,
    rng: &mut Rng,
    begin: DateTime<Utc>,
) -> (Vec<Outage>, Vec<ChangeStory>, DateTime<Utc>) {
    // (time, what to say as whom, and the record to fill in).
    enum Step {
        Say(&'static str, String),
    }
    let mut steps: Vec<(DateTime<Utc>, usize, Step)> = Vec::new();
    let minutes = |rng: &mut Rng, most: u64| Duration::minutes(1 + rng.below(most) as i64);
    let mut outages = Vec::new();
    for _ in 0..20 {
        let service = rng.below(3) as usize;
        let created = begin + Duration::minutes(rng.below(60 * 24 * 40) as i64);
        let marked = rng.chance(70).then(|| created + minutes(rng, 90));
        let resolved = rng
            .chance(85)
            .then(|| marked.unwrap_or(created) + minutes(rng, 60 * 30));
        let rating = resolved
            .filter(|_| rng.chance(70))
            .map(|r| (r + minutes(rng, 60 * 24 * 3), 1 + rng.below(5) as i64));
        outages.push(Outage {
            service,
            created,
            marked,
            resolved,
            rating,
        });
    }
    // Incidents are numbered in the order they are reported.
    let mut order: Vec<usize> = (0..outages.len()).collect();
    order.sort_by_key(|&i| (outages[i].created, i));
    for (k, &i) in order.iter().enumerate() {
        let o = &outages[i];
        let reference = format!("INC-{}", k + 1);
        steps.push((
            o.created,
            0,
            Step::Say(
                "alice",
                format!(
                    "/incident Down check {i} P2 service:{}",
                    SERVICES[o.service]
                ),
            ),
        ));
        if let Some(at) = o.marked {
            steps.push((
                at,
                1,
                Step::Say("bob", format!("/incident {reference} outage")),
            ));
        }
        if let Some(at) = o.resolved {
            steps.push((
                at,
                2,
                Step::Say("bob", format!("/incident {reference} resolve fixed")),
            ));
        }
        if let Some((at, score)) = o.rating {
            steps.push((
                at,
                3,
                Step::Say("alice", format!("/incident {reference} rate {score}")),
            ));
        }
    }
    // Changes (no service, so no planned outage takes downtime away),
    // drafted in the order of their numbers.
    let mut drafts: Vec<DateTime<Utc>> = (0..14)
        .map(|_| begin + Duration::minutes(rng.below(60 * 24 * 38) as i64))
        .collect();
    drafts.sort();
    let mut changes = Vec::new();
    for (k, &drafted) in drafts.iter().enumerate() {
        let number = k + 1;
        let emergency = rng.chance(30);
        let submitted = drafted + minutes(rng, 120);
        let window_start = submitted + Duration::days(2);
        let ending = match rng.below(100) {
            0..=14 => Ending::Rejected,
            15..=24 => Ending::Cancelled,
            25..=54 => Ending::Completed,
            55..=69 => Ending::Failed,
            70..=79 => Ending::RolledBack,
            80..=89 => Ending::FailedThenRolledBack,
            _ => Ending::Waiting,
        };
        let typed = if emergency { " type:emergency" } else { "" };
        let reference = format!("CHG-{number}");
        let key = 10 + k;
        let mut say = |at: DateTime<Utc>, who: &'static str, text: String| {
            steps.push((at, key, Step::Say(who, text)));
        };
        let window = window_start.format("%Y-%m-%dT%H:%M:%S");
        say(drafted, "alice", format!("/change Change check {k}{typed}"));
        for (i, line) in [
            "plan swap the boxes".to_string(),
            "test ping both".to_string(),
            "rollback swap back".to_string(),
            format!("window {window}Z 2h"),
        ]
        .into_iter()
        .enumerate()
        {
            say(
                drafted + Duration::seconds(i as i64 + 1),
                "alice",
                format!("/change {reference} {line}"),
            );
        }
        say(submitted, "alice", format!("/change {reference} submit"));
        let decided = submitted + minutes(rng, 60 * 20);
        let mut approved = None;
        let mut finished = None;
        match ending {
            Ending::Rejected => {
                let who = if emergency { "erin" } else { "carol" };
                say(
                    decided,
                    who,
                    format!("/change {reference} reject too risky"),
                );
                finished = Some(decided);
            }
            Ending::Cancelled => {
                say(
                    decided,
                    "alice",
                    format!("/change {reference} cancel not needed"),
                );
                finished = Some(decided);
            }
            _ => {
                if emergency {
                    say(decided, "erin", format!("/change {reference} approve"));
                    approved = Some(decided);
                } else {
                    say(decided, "carol", format!("/change {reference} approve"));
                    let second = decided + minutes(rng, 60 * 4);
                    say(second, "dave", format!("/change {reference} approve"));
                    approved = Some(second);
                }
                let started = window_start + minutes(rng, 30);
                let ended = started + minutes(rng, 60);
                let later = ended + minutes(rng, 60 * 24);
                if ending != Ending::Waiting {
                    say(started, "bob", format!("/change {reference} start"));
                }
                match ending {
                    Ending::Completed => {
                        say(ended, "bob", format!("/change {reference} complete done"));
                        finished = Some(ended);
                    }
                    Ending::Failed => {
                        say(ended, "bob", format!("/change {reference} fail boxes died"));
                        finished = Some(ended);
                    }
                    Ending::RolledBack => {
                        say(
                            ended,
                            "bob",
                            format!("/change {reference} rolled-back swapped back"),
                        );
                        finished = Some(ended);
                    }
                    Ending::FailedThenRolledBack => {
                        say(ended, "bob", format!("/change {reference} fail boxes died"));
                        say(
                            later,
                            "bob",
                            format!("/change {reference} rolled-back swapped back"),
                        );
                        // Counted once, as rolled back, when it was.
                        finished = Some(later);
                    }
                    _ => {}
                }
            }
        }
        changes.push(ChangeStory {
            emergency,
            submitted,
            approved,
            ending,
            finished,
        });
    }
    let mut steps: Vec<(DateTime<Utc>, usize, &'static str, String)> = steps
        .into_iter()
        .map(|(at, key, Step::Say(who, text))| (at, key, who, text))
        .collect();
    // Stable: at one instant, incidents before changes, each in its order.
    steps.sort_by_key(|(at, key, _, _)| (*at, *key));
    for (at, _, who, text) in steps {
        desk.clock.set(at);
        desk.ok(who, &text).await;
    }
    let end = begin + Duration::days(45);
    desk.clock.set(end);
    (outages, changes, end)
}

/// Ratings, outages and changes over random histories: CSAT, downtime and
/// availability per service, and every change figure equal the oracle in
/// the API's reports (which the dashboard and the digest share, see above).
#[sqlx::test]
async fn ratings_outages_and_changes_agree_with_the_oracle(pool: PgPool) {
    let zone: Tz = "Europe/Berlin".parse().unwrap();
    let config = config_with(
        zone,
        &[
            ("ITSM__ROLES__CAB", "[\"shell:carol\", \"shell:dave\"]"),
            ("ITSM__ROLES__EMERGENCY_CAB", "[\"shell:erin\"]"),
        ],
    );
    let desk = Desk::with_config(pool, config).await;
    let mut rng = Rng(0x5EED_0005);
    let begin = start() - Duration::weeks(5);
    let (outages, changes, now) = play_more(&desk, &mut rng, begin).await;
    let first = begin.with_timezone(&zone).date_naive();
    // How many kinds of figure each span had something of.
    let mut seen = Vec::new();
    for (period, date) in [
        (Period::Week, first + Duration::days(7)),
        (Period::Week, first + Duration::days(21)),
        (Period::Month, first + Duration::days(10)),
        (Period::Month, first + Duration::days(40)),
    ] {
        let span = Span::calendar(period, date, zone);
        let o = more_oracle(&outages, &changes, span.from, span.to, now);
        let label = format!("{period:?} {date}");
        let (status, api) = desk
            .http(
                "GET",
                &format!(
                    "/api/v1/reports/{}?period={}",
                    period.as_str(),
                    span.name().unwrap()
                ),
                Some(TOKEN),
                None,
            )
            .await;
        assert_eq!(status, 200, "{label}: {api}");
        let c = &api["changes"];
        let int = |v: &Value| v.as_i64().unwrap_or_else(|| panic!("{label}: {api}"));
        let mut downtime = [0; 3];
        for row in api["availability"].as_array().unwrap() {
            let s = SERVICES
                .iter()
                .position(|name| row["service"] == *name)
                .unwrap();
            downtime[s] = int(&row["downtime_seconds"]) / 60;
            let length = (span.to.min(now) - span.from).num_seconds() as f64;
            let expected = 100.0 * (1.0 - (o.downtime_minutes[s] * 60) as f64 / length);
            let got = row["availability_percent"].as_f64().unwrap();
            assert!(
                (got - expected).abs() < 1e-6,
                "{label}: {row} vs {expected}"
            );
        }
        let got = MoreOracle {
            csat_answers: int(&api["csat_answers"]),
            csat_sum: api["csat_average"].as_f64().map_or(0, |avg| {
                (avg * int(&api["csat_answers"]) as f64).round() as i64
            }),
            downtime_minutes: downtime,
            completed: int(&c["completed"]),
            failed: int(&c["failed"]),
            rolled_back: int(&c["rolled_back"]),
            cancelled: int(&c["cancelled"]),
            rejected: int(&c["rejected"]),
            submitted: int(&c["submitted"]),
            emergency: int(&c["emergency"]),
            approved: int(&c["approved"]),
            lead_seconds: c["lead_time_seconds"].as_i64(),
        };
        assert_eq!(got, o, "{label}");
        seen.push(
            [
                o.csat_answers,
                o.downtime_minutes.iter().sum(),
                o.completed,
                o.rolled_back,
                o.approved,
            ]
            .iter()
            .filter(|n| **n > 0)
            .count(),
        );
        // The dashboard over the same calendar days shows the same.
        let first_day = span.from.with_timezone(&zone).date_naive();
        let last_day = (span.to - Duration::seconds(1))
            .with_timezone(&zone)
            .date_naive();
        let (status, dashboard) = desk
            .http(
                "GET",
                &format!("/dashboard.json?from={first_day}&to={last_day}"),
                None,
                None,
            )
            .await;
        assert_eq!(status, 200, "{label}: {dashboard}");
        for key in ["changes", "csat_average", "csat_answers"] {
            assert_eq!(dashboard["figures"][key], api[key], "{label}: {key}");
        }
        assert_eq!(
            dashboard["availability"], api["availability"],
            "{label}: availability"
        );
        let carried_out = o.completed + o.failed + o.rolled_back;
        match c["success_rate"].as_f64() {
            Some(rate) => assert!(
                (rate - 100.0 * o.completed as f64 / carried_out as f64).abs() < 1e-6,
                "{label}: {c}"
            ),
            None => assert_eq!(carried_out, 0, "{label}: {c}"),
        }
    }
    assert!(
        seen.contains(&5),
        "a span with ratings, downtime, completed, rolled back and approved changes: {seen:?}"
    );
    assert!(
        changes
            .iter()
            .any(|c| c.ending == Ending::FailedThenRolledBack)
            && outages.iter().any(|o| o.rating.is_some()),
        "the seed covers the interesting cases"
    );
}

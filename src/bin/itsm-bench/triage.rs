//! Section `triage`: a labelled history of incidents (several services,
//! each with its own words; paraphrases, typos, words the services share),
//! trained as the bot trains (the scheduler's `triage_training` run), then
//! measured on reports held out of it: how often the suggested service is
//! right (and among the top three), how well open look-alikes find the
//! incident a report repeats (precision and recall), and the time the
//! suggestions add to a report over the whole history. Beside each, a
//! baseline from the same run: the majority guess, and nearest neighbours
//! over the live history (the design the model replaced).

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use itsm_bot::app::App;
use itsm_bot::config::Config;
use itsm_bot::domain::search::SearchQuery;
use sqlx::PgPool;

use crate::report::{ms, Goal, Row};

/// How big the history and the held-out sets are.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    /// Incidents in the history (the newest 1 % still open).
    pub history: usize,
    /// Held-out reports the service suggestion is scored on.
    pub held_out: usize,
    /// Live outages open at the end, and as many reports repeating one of
    /// them as reports of something new (duplicate detection).
    pub live: usize,
    /// Reports whose suggestions are timed.
    pub timed: usize,
    /// Reports the nearest-neighbour baseline is timed on.
    pub knn_timed: usize,
}

/// A service with the words its incidents use.
struct Service {
    name: &'static str,
    objects: &'static [&'static str],
    symptoms: &'static [&'static str],
    /// Chance in 100 of P1, P2, P3 (P4 the rest) when nothing in the
    /// report says how wide it is.
    priorities: [u32; 3],
}

/// Eight services. Symptoms overlap on purpose ("slow", "drops", "not
/// syncing", "full", "error"), and some objects belong to two or three
/// services ("connection", "login", "sync", "app", "portal", "network"):
/// a report naming only those cannot be told apart by its words.
const SERVICES: [Service; 8] = [
    Service {
        name: "vpn",
        objects: &[
            "vpn",
            "vpn tunnel",
            "remote access",
            "vpn client",
            "anyconnect",
            "vpn gateway",
            "connection from home",
            "connection",
            "login",
        ],
        symptoms: &[
            "drops",
            "disconnects",
            "times out",
            "will not connect",
            "keeps reconnecting",
            "handshake fails",
            "slow",
        ],
        priorities: [5, 35, 45],
    },
    Service {
        name: "email",
        objects: &[
            "email",
            "outlook",
            "mailbox",
            "mail",
            "inbox",
            "calendar invites",
            "shared mailbox",
            "sync",
            "app",
        ],
        symptoms: &[
            "not syncing",
            "stuck in outbox",
            "bounces",
            "full",
            "not arriving",
            "slow",
            "error",
        ],
        priorities: [3, 20, 50],
    },
    Service {
        name: "wifi",
        objects: &[
            "wifi",
            "wireless",
            "wlan",
            "access point",
            "guest network",
            "eduroam",
            "wireless connection",
            "connection",
            "network",
        ],
        symptoms: &[
            "drops",
            "weak signal",
            "no connection",
            "keeps disconnecting",
            "slow",
            "cannot authenticate",
        ],
        priorities: [3, 25, 45],
    },
    Service {
        name: "printing",
        objects: &[
            "printer",
            "print queue",
            "plotter",
            "scanner",
            "toner",
            "print server",
            "label printer",
            "network",
        ],
        symptoms: &[
            "jams",
            "offline",
            "prints blank pages",
            "stuck",
            "not found",
            "error",
        ],
        priorities: [1, 5, 34],
    },
    Service {
        name: "payroll",
        objects: &[
            "payroll",
            "payslip",
            "salary report",
            "timesheet",
            "expense claims",
            "hr portal",
            "portal",
            "login",
        ],
        symptoms: &[
            "missing",
            "wrong amount",
            "not loading",
            "error",
            "cannot submit",
            "late",
        ],
        priorities: [4, 30, 46],
    },
    Service {
        name: "laptop",
        objects: &[
            "laptop",
            "notebook",
            "docking station",
            "battery",
            "keyboard",
            "screen",
            "webcam",
            "login",
            "app",
        ],
        symptoms: &[
            "will not boot",
            "overheats",
            "broken",
            "flickers",
            "slow",
            "not charging",
        ],
        priorities: [1, 6, 43],
    },
    Service {
        name: "database",
        objects: &[
            "database",
            "postgres",
            "db replica",
            "sql query",
            "connection pool",
            "orders db",
            "connection",
            "app",
        ],
        symptoms: &[
            "slow",
            "timeouts",
            "replication lag",
            "deadlocks",
            "down",
            "disk full",
        ],
        priorities: [12, 48, 30],
    },
    Service {
        name: "storage",
        objects: &[
            "file share",
            "shared drive",
            "nas",
            "sharepoint",
            "onedrive",
            "backup",
            "sync client",
            "sync",
            "portal",
        ],
        symptoms: &[
            "full",
            "not syncing",
            "permission denied",
            "slow",
            "missing files",
            "unreachable",
        ],
        priorities: [4, 20, 46],
    },
];

/// Ways people say "object has symptom", with a context.
const TEMPLATES: [&str; 10] = [
    "{o} {s}",
    "{o} {s} {c}",
    "{c}: {o} {s}",
    "my {o} {s}",
    "cannot use the {o}, it {s}",
    "{o} is {s} again",
    "{s} on the {o} {c}",
    "problem with {o} - {s}",
    "{o} {s}, please help",
    "since today the {o} {s}",
];

/// Contexts that say nothing of the service; "for everyone" makes it wide
/// (P1/P2), "for me only" narrow (P3/P4).
const CONTEXTS: [&str; 10] = [
    "since this morning",
    "for the sales team",
    "at home",
    "after the update",
    "on floor 3",
    "for everyone",
    "for me only",
    "in the meeting room",
    "again today",
    "for the whole office",
];

/// Places of live outages: a report repeats an outage when it names the
/// same service and place.
const PLACES: [&str; 24] = [
    "Berlin",
    "Munich",
    "Hamburg",
    "Vienna",
    "Zurich",
    "Paris",
    "Lyon",
    "Madrid",
    "Lisbon",
    "Rome",
    "Milan",
    "Prague",
    "Warsaw",
    "Oslo",
    "Stockholm",
    "Helsinki",
    "Dublin",
    "London",
    "Leeds",
    "Brussels",
    "Amsterdam",
    "Rotterdam",
    "Copenhagen",
    "Athens",
];

/// A small, seeded generator (SplitMix64): the same history every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn chance(&mut self, percent: u32) -> bool {
        self.next() % 100 < u64::from(percent)
    }
}

/// One generated report: its title and the truth about it.
struct Generated {
    title: String,
    service: usize,
    priority: i16,
}

/// Misspells one word in twelve of five letters or more: a letter
/// dropped, two swapped, or one doubled.
fn typos(rng: &mut Rng, text: &str) -> String {
    text.split(' ')
        .map(|word| {
            let chars: Vec<char> = word.chars().collect();
            if chars.len() < 5 || !rng.chance(8) {
                return word.to_string();
            }
            let at = 1 + rng.below(chars.len() - 2);
            let mut out = chars.clone();
            match rng.below(3) {
                0 => {
                    out.remove(at);
                }
                1 => out.swap(at, at + 1),
                _ => out.insert(at, chars[at]),
            }
            out.into_iter().collect()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A report of `service` (random when `None`) with an optional forced
/// context.
fn report(rng: &mut Rng, service: Option<usize>, context: Option<&str>) -> Generated {
    let s = service.unwrap_or_else(|| rng.below(SERVICES.len()));
    let svc = &SERVICES[s];
    let mut template = rng.pick(&TEMPLATES).to_string();
    if context.is_some() && !template.contains("{c}") {
        // A report of a place says the place.
        template.push_str(" {c}");
    }
    let context = context.map_or_else(|| rng.pick(&CONTEXTS).to_string(), str::to_string);
    let object = rng.pick(svc.objects).to_string();
    let symptom = rng.pick(svc.symptoms).to_string();
    let title = template
        .replace("{o}", &object)
        .replace("{s}", &symptom)
        .replace("{c}", &context);
    // A context only shows when the template has a place for it.
    let said = if template.contains("{c}") {
        context.as_str()
    } else {
        ""
    };
    let roll = rng.below(100) as u32;
    let priority = if said.contains("everyone") || said.contains("whole office") {
        if roll < 30 {
            1
        } else {
            2
        }
    } else if said.contains("me only") || title.starts_with("my ") {
        if roll < 40 {
            3
        } else {
            4
        }
    } else {
        let [p1, p2, p3] = svc.priorities;
        if roll < p1 {
            1
        } else if roll < p1 + p2 {
            2
        } else if roll < p1 + p2 + p3 {
            3
        } else {
            4
        }
    };
    let mut title = typos(rng, &title);
    let mut first = title.chars();
    if let Some(c) = first.next() {
        title = c.to_uppercase().chain(first).collect();
    }
    Generated {
        title,
        service: s,
        priority,
    }
}

/// Seeds, trains, measures; `url` names the section's (fresh) database.
pub async fn run(url: &str, size: Size) -> anyhow::Result<Vec<Row>> {
    let mut config = Config::defaults()?;
    config.database.url = url.to_string();
    let app = App::open(config).await?;
    let pool = app.store.pool().clone();
    let now = Utc::now();
    let mut rng = Rng(0x1724_2026_1205);

    let seeding = Instant::now();
    let live = seed(&pool, &mut rng, now, size).await?;
    let seeded = seeding.elapsed();

    let training = Instant::now();
    let trained = itsm_bot::scheduler::triage::train(&app.engine, now).await?;
    let training = training.elapsed();
    // The model's tables were empty when the seed was analysed; in service
    // autovacuum analyses them as training fills them.
    sqlx::query("ANALYZE triage_terms, triage_vocabulary, triage_classes")
        .execute(&pool)
        .await?;

    // Service suggestion on held-out reports, against the majority guess.
    let mut right = 0;
    let mut top3 = 0;
    let mut sure = 0;
    let mut sure_right = 0;
    let mut priority_right = 0;
    let mut counts = [0usize; SERVICES.len()];
    let held: Vec<Generated> = (0..size.held_out)
        .map(|_| report(&mut rng, None, None))
        .collect();
    for report in &held {
        counts[report.service] += 1;
        let (services, priorities) = app.engine.triage_ranking(&report.title).await?;
        let truth = SERVICES[report.service].name;
        if services.first().is_some_and(|p| p.value == truth) {
            right += 1;
        }
        if services.iter().take(3).any(|p| p.value == truth) {
            top3 += 1;
        }
        if let Some(first) = services.first().filter(|p| p.confidence >= 0.5) {
            sure += 1;
            if first.value == truth {
                sure_right += 1;
            }
        }
        if priorities
            .first()
            .is_some_and(|p| p.value.as_i16() == report.priority)
        {
            priority_right += 1;
        }
    }
    let majority: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM tickets WHERE kind = 'incident' GROUP BY service_id ORDER BY count(*) DESC LIMIT 1",
    )
    .fetch_one(&pool)
    .await?;
    let majority_share = majority as f64 / size.history as f64;
    let n = held.len().max(1) as f64;

    // Duplicates: half the reports repeat a live outage (same service and
    // place, other words), half report something new.
    let (mut tp, mut fp, mut positives) = (0usize, 0usize, 0usize);
    for (i, outage) in live.iter().enumerate() {
        let repeat = report(
            &mut rng,
            Some(outage.service),
            Some(&format!("in {} office", outage.place)),
        );
        positives += 1;
        match first_alike(&app, &repeat.title).await? {
            Some(number) if number == outage.number => tp += 1,
            Some(_) => fp += 1,
            None => {}
        }
        // Something new: a place no outage of that service is open at.
        let service = (outage.service + 1 + i % (SERVICES.len() - 1)) % SERVICES.len();
        let place = PLACES
            .iter()
            .find(|p| !live.iter().any(|o| o.service == service && o.place == **p))
            .map_or("Reykjavik", |p| *p);
        let other = report(&mut rng, Some(service), Some(&format!("in {place} office")));
        if first_alike(&app, &other.title).await?.is_some() {
            fp += 1;
        }
    }
    let precision = tp as f64 / (tp + fp).max(1) as f64;
    let recall = tp as f64 / positives.max(1) as f64;

    // The time the suggestions add to a report: articles, known errors,
    // look-alikes and triage, as a report is offered them.
    let mut times = Vec::with_capacity(size.timed);
    for _ in 0..size.timed {
        let report = report(&mut rng, None, None);
        let started = Instant::now();
        app.engine
            .suggestions_for_report(&report.title, None)
            .await?;
        times.push(started.elapsed());
    }
    times.sort_unstable();
    let p50 = percentile(&times, 50);
    let p99 = percentile(&times, 99);

    // Baseline: nearest neighbours over the live history, the 20 resolved
    // incidents ranked nearest by full text (the design before the model).
    let synonyms = app.engine.config().search.synonyms();
    let mut knn = Vec::with_capacity(size.knn_timed);
    for _ in 0..size.knn_timed {
        let report = report(&mut rng, None, None);
        let Some(query) = SearchQuery::from_title(&report.title, &synonyms) else {
            continue;
        };
        let started = Instant::now();
        sqlx::query(
            "WITH q AS (SELECT to_tsquery('english', $1) AS q)
             SELECT t.service_id, t.priority, ts_rank_cd(ticket_document(t.title, t.description), q.q) AS rank
             FROM tickets t JOIN incidents i ON i.ticket_id = t.id, q
             WHERE t.kind = 'incident' AND t.status IN ('resolved', 'closed') AND i.duplicate_of IS NULL
               AND ticket_document(t.title, t.description) @@ q.q
             ORDER BY rank DESC, t.created_at DESC LIMIT 20",
        )
        .bind(query.tsquery())
        .fetch_all(&pool)
        .await?;
        knn.push(started.elapsed());
    }
    knn.sort_unstable();
    let knn_p50 = percentile(&knn, 50);
    app.store.close().await;

    let history = format!("{} incidents, {} services", size.history, SERVICES.len());
    let mut detail = String::new();
    let _ = write!(detail, "{sure} of {} sure", held.len());
    let mut rows = vec![
        row(format!("seed {history}"), secs(seeded), "-"),
        row(
            format!("train from {} resolved", trained.total),
            secs(training),
            "-",
        ),
        row(
            format!("service right, {} held-out reports", held.len()),
            pct(right as f64 / n),
            &format!("{} majority", pct(majority_share)),
        ),
        row(
            "service among the top 3".into(),
            pct(top3 as f64 / n),
            &format!("{} 3 biggest", pct(3.0 / SERVICES.len() as f64)),
        ),
        row(
            format!("service right when ≥ 50 % sure ({detail})"),
            pct(sure_right as f64 / sure.max(1) as f64),
            "-",
        ),
        row("priority right".into(), pct(priority_right as f64 / n), "-"),
        row(
            format!("duplicates: precision ({tp} right, {fp} wrong)"),
            pct(precision),
            "-",
        ),
        row(
            format!("duplicates: recall ({tp} of {positives} repeats)"),
            pct(recall),
            "-",
        ),
    ];
    let mut timed = row(
        format!("suggestions per report ({} timed)", times.len()),
        ms(p50),
        &format!("{} kNN live (p50)", ms(knn_p50)),
    );
    timed.latency = Some((p50, p99));
    timed.goals = vec![Goal::new("p99 < 5 ms", p99 < Duration::from_millis(5))];
    rows.push(timed);
    Ok(rows)
}

/// The first open look-alike a report reading `title` is offered.
async fn first_alike(app: &App, title: &str) -> anyhow::Result<Option<i64>> {
    let suggested = app.engine.suggestions_for_report(title, None).await?;
    Ok(suggested.alike.first().map(|alike| alike.number))
}

/// A row of this section: a figure, without ratio, latency or goal.
fn row(what: String, measured: String, baseline: &str) -> Row {
    Row {
        section: "triage",
        what,
        measured,
        baseline: baseline.to_string(),
        ratio: None,
        latency: None,
        goals: Vec::new(),
    }
}

fn pct(share: f64) -> String {
    format!("{:.1} %", share * 100.0)
}

fn secs(duration: Duration) -> String {
    format!("{:.1} s", duration.as_secs_f64())
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) * p / 100).min(sorted.len() - 1)]
}

/// A live outage: open at the end of the history.
struct Live {
    number: i64,
    service: usize,
    /// The place's name ("Berlin"): its reports say "in Berlin office".
    place: String,
}

/// The history: `size.history` incidents over the 90 days before `now`
/// (the newest 1 % open, the rest resolved), then `size.live` open
/// outages, each a service at a place. COPY and set-based statements; the
/// search indexes are built once afterwards, as a restore would.
async fn seed(
    pool: &PgPool,
    rng: &mut Rng,
    now: DateTime<Utc>,
    size: Size,
) -> anyhow::Result<Vec<Live>> {
    let mut conn = pool.acquire().await?;
    sqlx::query("SET synchronous_commit = off")
        .execute(&mut *conn)
        .await?;
    sqlx::query("SET maintenance_work_mem = '256MB'")
        .execute(&mut *conn)
        .await?;
    let mut ids = Vec::new();
    for service in &SERVICES {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO services (name) VALUES ($1)
             ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id",
        )
        .bind(service.name)
        .fetch_one(&mut *conn)
        .await?;
        ids.push(id);
    }
    sqlx::raw_sql("DROP INDEX tickets_document; DROP INDEX tickets_title_trgm")
        .execute(&mut *conn)
        .await?;
    let open_from = size.history - size.history / 100;
    let span = 90.0 * 86_400.0;
    let step = span / size.history as f64;
    // Nothing newer than 4 hours: every resolved one resolved 3 hours after
    // it opened, before `now`.
    let oldest = now - chrono::Duration::seconds(span as i64) - chrono::Duration::hours(4);
    let mut copy = conn
        .copy_in_raw(
            "COPY tickets (kind, number, title, status, priority, service_id, reporter,
                           origin_platform, origin_channel, created_at, updated_at) FROM STDIN",
        )
        .await?;
    let mut chunk = String::new();
    let line = |chunk: &mut String,
                number: usize,
                title: &str,
                status: &str,
                priority: i16,
                service: i64| {
        let at = oldest + chrono::Duration::milliseconds((number as f64 * step * 1000.0) as i64);
        let at = at.to_rfc3339();
        let _ = writeln!(
            chunk,
            "incident\t{number}\t{title}\t{status}\t{priority}\t{service}\tshell:seed\tshell\tops\t{at}\t{at}"
        );
    };
    for n in 1..=size.history {
        let report = report(rng, None, None);
        let status = if n > open_from { "new" } else { "closed" };
        line(
            &mut chunk,
            n,
            &report.title,
            status,
            report.priority,
            ids[report.service],
        );
        if chunk.len() > 1 << 20 {
            copy.send(chunk.as_bytes()).await?;
            chunk.clear();
        }
    }
    let mut live = Vec::new();
    for i in 0..size.live {
        let service = i % SERVICES.len();
        let place = PLACES[(i / SERVICES.len() + i * 7) % PLACES.len()].to_string();
        if live
            .iter()
            .any(|o: &Live| o.service == service && o.place == place)
        {
            continue;
        }
        let outage = report(rng, Some(service), Some(&format!("in {place} office")));
        let number = (size.history + live.len() + 1) as i64;
        line(
            &mut chunk,
            number as usize,
            &outage.title,
            "new",
            outage.priority,
            ids[service],
        );
        live.push(Live {
            number,
            service,
            place,
        });
    }
    copy.send(chunk.as_bytes()).await?;
    copy.finish().await?;
    let last = (size.history + live.len()) as i64;
    sqlx::query("SELECT setval('incident_number_seq', $1)")
        .bind(last)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO incidents (ticket_id, impact, urgency, resolved_at, resolution, closed_at)
         SELECT id, 'medium', 'medium',
                CASE WHEN closed THEN created_at + interval '3 hours' END,
                CASE WHEN closed THEN 'seeded' END,
                CASE WHEN closed THEN created_at + interval '3 hours' END
         FROM (SELECT id, created_at, status = 'closed' AS closed FROM tickets WHERE kind = 'incident') t",
    )
    .execute(&mut *conn)
    .await?;
    sqlx::raw_sql(
        "CREATE INDEX tickets_document ON tickets USING gin (ticket_document(title, description));
         CREATE INDEX tickets_title_trgm ON tickets USING gin (title gin_trgm_ops)",
    )
    .execute(&mut *conn)
    .await?;
    sqlx::raw_sql("VACUUM ANALYZE").execute(&mut *conn).await?;
    Ok(live)
}

//! Section 1: signed `/incident` slash commands end to end (signature check
//! → parse → transaction → reply) at 1, 8 and 32 clients, incidents counted
//! in the database afterwards; beside each, three `pgbench` baselines: the
//! incident's three rows (ticket, incident, timeline event) in a
//! transaction, every row a report really writes (see [`SAME_ROWS_SQL`]),
//! and those rows with the reads its reply is built from (see
//! [`report_work_sql`]). An unmeasured warm-up comes first ([`warm_up`]).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use sqlx::PgPool;

use crate::bot::Server;
use crate::http::{Connection, Response};
use crate::load::{self, Budget, Measured, Request};
use crate::pgbench;
use crate::report::{Goal, Row};
use crate::sign::{slack_signature, unix_now};

/// The raw transaction: the incident's ticket and detail rows and its
/// `created` timeline event. pgbench reads `:name` as a variable, so the
/// actor's colon is spelled chr(58). Each title is its own, like the
/// bot's ("Baseline b 1234" beside "Bench c8 1234"): a title adds its words
/// and trigrams to the tickets' text indexes, which a constant title
/// (run 7 and before) did only once.
pub const CREATE_SQL: &str = "BEGIN;
WITH numbered AS (
  SELECT nextval('incident_number_seq') AS n
), ticket AS (
  INSERT INTO tickets (kind, number, title, description, status, priority, service_id, reporter,
                       origin_platform, origin_channel, origin_thread, origin_message, created_at, updated_at)
  SELECT 'incident', n, 'Baseline b ' || n, '', 'new', 3, NULL,
         'slack' || chr(58) || 'U0BENCH', 'slack', 'C0BENCH', NULL, NULL, now(), now()
  FROM numbered
  RETURNING id, title
), details AS (
  INSERT INTO incidents (ticket_id, impact, urgency) SELECT id, 'medium', 'medium' FROM ticket
)
INSERT INTO ticket_events (ticket_id, at, actor, action, body)
SELECT id, now(), 'slack' || chr(58) || 'U0BENCH', 'created', 'P3 · ' || title FROM ticket;
COMMIT;
";

/// The second baseline: every row a report over Slack writes, as the bot
/// writes them, in one statement without `BEGIN`/`COMMIT` (as the bot
/// sends it): the claim on the delivery id, the ticket and incident rows,
/// the `created` event, one row per SLA clock (its outcome so far and the
/// checkpoint the sweep posts next) and the card's outbox row. The card is
/// due only in a day, so the bot's lanes leave it alone during the run;
/// [`forget_same_rows_cards`] deletes those rows afterwards.
pub const SAME_ROWS_SQL: &str = "WITH new_ticket AS (
  SELECT nextval('tickets_id_seq') AS id
), claim AS (
  INSERT INTO processed_inbound (platform, event_id, processed_at, ticket_id)
  SELECT 'slack', 'command' || chr(58) || 'baseline.' || id, now(), id FROM new_ticket
  ON CONFLICT DO NOTHING
  RETURNING ticket_id
), ticket AS (
  INSERT INTO tickets (id, kind, number, title, description, status, priority, service_id, reporter,
                       origin_platform, origin_channel, origin_thread, origin_message, created_at, updated_at)
  SELECT id, 'incident', n, 'Baseline b ' || n, '', 'new', 3, NULL,
         'slack' || chr(58) || 'U0BENCH', 'slack', 'C0BENCH', NULL, NULL, now(), now()
  FROM new_ticket, LATERAL (SELECT nextval('incident_number_seq') AS n) numbered
  WHERE EXISTS (SELECT 1 FROM claim)
  RETURNING id, title
), details AS (
  INSERT INTO incidents (ticket_id, impact, urgency) SELECT id, 'medium', 'medium' FROM ticket
), clocks AS (
  INSERT INTO sla_outcomes (ticket_id, clock, target_seconds, due_at, next_threshold, next_due_at, priority)
  SELECT id, c.clock, c.target, now() + make_interval(secs => c.target), 75,
         now() + make_interval(secs => c.target * 0.75), 3
  FROM ticket, (VALUES ('respond', 14400), ('resolve', 86400)) AS c(clock, target)
), card AS (
  INSERT INTO outbox (platform, kind, ticket_id, created_at, not_before)
  SELECT 'slack', 'ticket_message', id, now(), now() + interval '1 day' FROM ticket
)
INSERT INTO ticket_events (ticket_id, at, actor, action, body)
SELECT id, now(), 'slack' || chr(58) || 'U0BENCH', 'created', 'P3 · ' || title FROM ticket;
";

/// Rows a report writes, as [`SAME_ROWS_SQL`] writes them (counted on a P3
/// report over Slack: claim, ticket, incident, event, two clock rows, card).
pub const REPORT_ROWS: usize = 7;

/// The third baseline: all a report asks of the database, its writes and
/// the reads its reply is built from, statement for statement as the bot
/// sends them: the ticket id drawn first, [`SAME_ROWS_SQL`], then the
/// published articles and known errors, the open look-alikes and the
/// triage model's evidence for its title, each the bot's own statement
/// text (`store::search::ANSWERS_SQL`, `ALIKE_SQL`,
/// `store::triage::EVIDENCE_SQL`) with the bot's parameters. Each
/// title's words are its own ("baseline b 1234"), and the newest open
/// incidents match them, as each bench report's newest do ("bench c8 …").
/// What is left between the bot and this is the bot's own: HTTP, its round
/// trips, its cards.
pub fn report_work_sql() -> anyhow::Result<String> {
    use itsm_bot::commands::execute::kb::ALIKE_CANDIDATES;
    use itsm_bot::domain::duplicate::MIN_ALIKE;
    use itsm_bot::domain::search::{SearchQuery, Synonyms, MAX_SUGGESTIONS};
    use itsm_bot::store::{search, triage};

    // A word the title cannot otherwise hold, replaced by pgbench's `:w`.
    const WORD: &str = "4242424242";
    let Some(query) = SearchQuery::from_title(
        &format!("Baseline b {WORD}"),
        &Synonyms::new(&Default::default()),
    ) else {
        bail!("the baseline's title has no search terms");
    };
    // A text literal, with the placeholder read from the variable (typed,
    // so the prepared statement's parameter is text).
    let text = |s: &str| {
        format!(
            "'{}'",
            s.replace('\'', "''").replace(WORD, "' || (:w)::text || '")
        )
    };
    let texts = |items: Vec<String>| {
        let items: Vec<String> = items.iter().map(|s| text(s)).collect();
        format!("ARRAY[{}]::text[]", items.join(", "))
    };
    let triage_text = query.term_words().join(" ");
    let answers = bind(
        search::ANSWERS_SQL,
        &[
            text(&query.tsquery()),
            texts(query.term_queries()),
            query.min_shared().to_string(),
            MAX_SUGGESTIONS.to_string(),
        ],
    );
    let alike = bind(
        &search::ALIKE_SQL,
        &[
            texts(query.term_queries()),
            texts(query.term_words()),
            format!("{MIN_ALIKE}::float8"),
            "(:id)::bigint".into(),
            ALIKE_CANDIDATES.to_string(),
        ],
    );
    let evidence = bind(
        triage::EVIDENCE_SQL,
        &[
            text(&triage_text),
            triage::FUZZY_MIN_CHARS.to_string(),
            format!("{}::real", triage::FUZZY_MIN_SIMILARITY),
        ],
    );
    Ok(format!(
        "\\set w random(1, 1000000000)\nSELECT nextval('tickets_id_seq') AS id \\gset\n{SAME_ROWS_SQL}{answers};\n{alike};\n{evidence};\n"
    ))
}

/// `sql` with its binds `$1`, `$2`, … written in as `values` (the highest
/// first, so `$1` never takes the front of `$10`).
fn bind(sql: &str, values: &[String]) -> String {
    let mut sql = sql.to_string();
    for (n, value) in values.iter().enumerate().rev() {
        sql = sql.replace(&format!("${}", n + 1), &format!("({value})"));
    }
    sql
}

/// Reads a report's reply is built from, as [`report_work_sql`] runs them.
pub const REPORT_READS: usize = 3;

/// Deletes the second baseline's cards, which would otherwise wait in the
/// outbox (and hold up the harness's wait for the bot's cards).
async fn forget_same_rows_cards(pool: &PgPool) -> anyhow::Result<()> {
    sqlx::query(
        "DELETE FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL
            AND ticket_id IN (SELECT id FROM tickets WHERE reporter = 'slack:U0BENCH')",
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Distinct reporters the commands come from: enough that nobody hits the
/// bot's per-person flood guard (`limits.commands_per_minute`), which stays
/// on as in production.
const USERS: u64 = 5000;

/// A signed `/incident <title> <n> P3`: `Bench c<clients> <n>` in a
/// measured phase.
struct SlashCommand {
    secret: String,
    /// The title's words before the number.
    title: String,
    /// What makes the trigger ids of this phase its own.
    tag: String,
    response_url: String,
}

impl SlashCommand {
    /// Commands titled `title` with trigger ids tagged `tag`.
    fn new(setup: &Setup<'_>, title: &str, tag: &str) -> Self {
        SlashCommand {
            secret: setup.secret.to_string(),
            title: title.to_string(),
            tag: tag.to_string(),
            response_url: setup.response_url.clone(),
        }
    }

    /// The commands of the measured phase with `clients` clients.
    fn phase(setup: &Setup<'_>, clients: usize) -> Self {
        Self::new(setup, &format!("Bench c{clients}"), &format!("c{clients}"))
    }
}

impl Request for SlashCommand {
    async fn send(&self, connection: &mut Connection, n: u64) -> anyhow::Result<Response> {
        let text = format!("{} {n} P3", self.title);
        let trigger = format!("bench.{}.{n}", self.tag);
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("token", "bench")
            .append_pair("team_id", "T0BENCH")
            .append_pair("team_domain", "bench")
            .append_pair("channel_id", "C0BENCH")
            .append_pair("channel_name", "helpdesk")
            .append_pair("user_id", &format!("U0BENCH{:04}", n % USERS))
            .append_pair("user_name", "bench")
            .append_pair("command", "/incident")
            .append_pair("text", &text)
            .append_pair("response_url", &self.response_url)
            .append_pair("trigger_id", &trigger)
            .append_pair("api_app_id", "A0BENCH")
            .finish();
        let timestamp = unix_now();
        let signature = slack_signature(&self.secret, timestamp, &body);
        let timestamp = timestamp.to_string();
        connection
            .post(
                "/slack/commands",
                "application/x-www-form-urlencoded",
                &[
                    ("X-Slack-Request-Timestamp", &timestamp),
                    ("X-Slack-Signature", &signature),
                ],
                &body,
            )
            .await
    }

    fn check(&self, response: &Response) -> anyhow::Result<()> {
        if response.status != 200 || !response.body.contains("reported") {
            bail!(
                "slash command not acknowledged: {} {}",
                response.status,
                response.body
            );
        }
        Ok(())
    }
}

/// What the section needs from the run.
pub struct Setup<'a> {
    pub server: &'a Server,
    pub pool: &'a PgPool,
    pub url: &'a str,
    pub scripts: &'a Path,
    pub secret: &'a str,
    pub response_url: String,
    pub budget: Budget,
}

/// The rows of section 1, and the bot's peak RSS under the 8-client load.
pub async fn run(setup: &Setup<'_>) -> anyhow::Result<(Vec<Row>, u64)> {
    let script = setup.scripts.join("create_incident.sql");
    std::fs::write(&script, CREATE_SQL)?;
    let same_rows = setup.scripts.join("report_rows.sql");
    std::fs::write(&same_rows, SAME_ROWS_SQL)?;
    let report_work = setup.scripts.join("report_work.sql");
    std::fs::write(&report_work, report_work_sql()?)?;
    warm_up(setup).await?;
    let mut rows = Vec::new();
    let mut peak = 0;
    for clients in [1, 8, 32] {
        if clients == 8 {
            setup.server.reset_peak()?;
        }
        let request = Arc::new(SlashCommand::phase(setup, clients));
        crate::bot::settle(setup.pool).await?;
        let measured = load::run(setup.server.port, clients, setup.budget, request).await?;
        if clients == 8 {
            peak = setup.server.memory()?.peak;
        }
        let committed = committed(setup.pool, clients).await?;
        if committed != measured.ok {
            bail!(
                "{clients} clients: {} commands acknowledged but {committed} incidents committed",
                measured.ok
            );
        }
        // The cards of the phase's incidents are still being posted: let
        // the bot finish before pgbench runs, or its outbox would compete
        // with the baseline (and lower it).
        let backlog = crate::bot::cards_posted(setup.pool).await?;
        let baseline = pgbench::tps(setup.url, &script, clients, setup.budget.time)?;
        let same = pgbench::tps(setup.url, &same_rows, clients, setup.budget.time)?;
        forget_same_rows_cards(setup.pool).await?;
        let work = pgbench::tps(setup.url, &report_work, clients, setup.budget.time)?;
        forget_same_rows_cards(setup.pool).await?;
        rows.push(row(clients, &measured, committed, backlog, baseline));
        rows.push(same_rows_row(clients, &measured, committed, same));
        rows.push(report_work_row(clients, &measured, committed, work));
    }
    Ok((rows, peak))
}

/// Reports, unmeasured, before the first phase: up to [`WARM_UP`] of them at
/// 8 clients, titled "Warm-up <n>", and their cards let out. The phase's
/// `VACUUM ANALYZE` then gives the planner the statistics of a table in
/// use, as autovacuum's would in production after the first fifty rows.
/// Without it the first phase ran on plans made for an empty `tickets`
/// (on machines with autovacuum off, nothing analyzes it again): the
/// look-alike search read and sorted the whole table, 1.6 ms a report by
/// the end of the phase (BENCHMARKS run 13).
async fn warm_up(setup: &Setup<'_>) -> anyhow::Result<()> {
    let request = Arc::new(SlashCommand::new(setup, "Warm-up", "warm-up"));
    let budget = Budget {
        time: setup.budget.time.min(Duration::from_secs(2)),
        requests: setup.budget.requests.min(WARM_UP),
    };
    load::run(setup.server.port, 8, budget, request).await?;
    crate::bot::cards_posted(setup.pool).await?;
    Ok(())
}

/// Most reports of the warm-up.
const WARM_UP: u64 = 2000;

/// Incidents the phase with `clients` clients really committed.
async fn committed(pool: &PgPool, clients: usize) -> anyhow::Result<u64> {
    let count: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM tickets WHERE kind = 'incident' AND title LIKE $1",
    )
    .bind(format!("Bench c{clients} %"))
    .fetch_one(pool)
    .await?;
    Ok(count as u64)
}

fn row(
    clients: usize,
    measured: &Measured,
    committed: u64,
    backlog: Duration,
    baseline: f64,
) -> Row {
    let per_second = committed as f64 / measured.elapsed.as_secs_f64();
    let ratio = per_second / baseline;
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let mut goals = Vec::new();
    if clients == 8 {
        goals.push(Goal::new("≥ 0.8 × pgbench", ratio >= 0.8));
    }
    if clients == 1 {
        goals.push(Goal::new("p99 ≤ 5 ms", ms(measured.p99) <= 5.0));
    }
    if clients == 32 {
        goals.push(Goal::new("p99 ≤ 20 ms", ms(measured.p99) <= 20.0));
    }
    Row {
        section: "chat",
        what: format!(
            "/incident, {clients} clients ({committed} committed; cards done {:.1} s later)",
            backlog.as_secs_f64()
        ),
        measured: format!("{per_second:.0}/s"),
        baseline: format!("{baseline:.0}/s pgbench"),
        ratio: Some(ratio),
        latency: Some((measured.p50, measured.p99)),
        goals,
    }
}

/// The same phase against the second baseline (pgbench writing the rows a
/// report writes): how close the bot is to the database for the work it
/// does. The goals stay on the first row.
fn same_rows_row(clients: usize, measured: &Measured, committed: u64, baseline: f64) -> Row {
    let per_second = committed as f64 / measured.elapsed.as_secs_f64();
    Row {
        section: "chat",
        what: format!("/incident, {clients} clients, against the report's {REPORT_ROWS} rows"),
        measured: format!("{per_second:.0}/s"),
        baseline: format!("{baseline:.0}/s pgbench"),
        ratio: Some(per_second / baseline),
        latency: None,
        goals: Vec::new(),
    }
}

/// The same phase against the third baseline (pgbench asking the database
/// all a report asks: its rows and its reads): what is left is the bot's
/// own cost. The goals stay on the first row.
fn report_work_row(clients: usize, measured: &Measured, committed: u64, baseline: f64) -> Row {
    let per_second = committed as f64 / measured.elapsed.as_secs_f64();
    Row {
        section: "chat",
        what: format!(
            "/incident, {clients} clients, against its {REPORT_ROWS} rows and {REPORT_READS} reads"
        ),
        measured: format!("{per_second:.0}/s"),
        baseline: format!("{baseline:.0}/s pgbench"),
        ratio: Some(per_second / baseline),
        latency: None,
        goals: Vec::new(),
    }
}

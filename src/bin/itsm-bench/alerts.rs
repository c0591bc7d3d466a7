//! Section 2: Alertmanager webhook deliveries (`version` 4, a group of
//! alerts per delivery), first with fingerprints never seen (each opens an
//! incident), then repeats of firing ones (each notes its incident); beside
//! each, `pgbench` writing the same rows per delivery.

use std::path::Path;
use std::sync::Arc;

use anyhow::bail;
use serde_json::json;
use sqlx::PgPool;

use crate::http::{Connection, Response};
use crate::load::{self, Budget, Request};
use crate::pgbench;
use crate::report::{Goal, Row};

/// Alerts per delivery: a typical Alertmanager group.
pub const PER_DELIVERY: u64 = 10;
/// Concurrent senders (Alertmanager replicas and groups flushing at once).
pub const CLIENTS: usize = 8;

/// The raw new-alert delivery: per alert a ticket, its incident row, its
/// `created` event and its `alerts` row, in one transaction. Each title is
/// its own, as the bot's are ("Latency high on bench-…"): a title adds
/// its words and trigrams to the tickets' text indexes, and a constant one
/// (run 7 and before: "Baseline alert") adds next to nothing, which made
/// the baseline about 1.6 times as fast as the same rows with real titles.
const NEW_SQL: &str = "BEGIN;
WITH ticket AS (
  INSERT INTO tickets (kind, number, title, description, status, priority, service_id, reporter,
                       origin_platform, origin_channel, created_at, updated_at)
  SELECT 'incident', n, 'Latency high on bench-' || lpad(to_hex(n), 12, '0'), '', 'new', 3, NULL,
         'shell' || chr(58) || 'alertmanager', 'slack', 'C0BENCH', now(), now()
  FROM (SELECT nextval('incident_number_seq') AS n FROM generate_series(1, 10)) numbered
  RETURNING id, title
), details AS (
  INSERT INTO incidents (ticket_id, impact, urgency) SELECT id, 'medium', 'medium' FROM ticket
), created AS (
  INSERT INTO ticket_events (ticket_id, at, actor, action, body)
  SELECT id, now(), 'shell' || chr(58) || 'alertmanager', 'created', 'P3 · ' || title FROM ticket
)
INSERT INTO alerts (source, fingerprint, ticket_id, status, opened_at, updated_at)
SELECT 'alertmanager', 'baseline-' || id, id, 'firing', now(), now() FROM ticket;
COMMIT;
";

/// The raw repeat delivery: ten firing alerts touched, a note on each
/// incident, the incidents' `updated_at` moved.
const REPEAT_SQL: &str = "\\set first random(0, :groups - 1) * 10
BEGIN;
WITH hit AS (
  UPDATE alerts SET status = 'firing', updated_at = now()
  WHERE source = 'alertmanager'
    AND fingerprint IN (SELECT 'bench-' || lpad(to_hex(g), 12, '0') FROM generate_series(:first, :first + 9) g)
  RETURNING ticket_id
), noted AS (
  INSERT INTO ticket_events (ticket_id, at, actor, action, body)
  SELECT ticket_id, now(), 'shell' || chr(58) || 'alertmanager', 'note', 'Alertmanager alert is still firing.' FROM hit
)
UPDATE tickets SET updated_at = now() WHERE id IN (SELECT ticket_id FROM hit);
COMMIT;
";

fn fingerprint(n: u64) -> String {
    format!("bench-{n:012x}")
}

/// One delivery of [`PER_DELIVERY`] firing alerts; `groups` > 0 makes it
/// a repeat of an earlier delivery's alerts.
struct Delivery {
    token: String,
    groups: Option<u64>,
}

impl Request for Delivery {
    async fn send(&self, connection: &mut Connection, n: u64) -> anyhow::Result<Response> {
        let group = self.groups.map_or(n, |groups| n % groups);
        let alerts: Vec<_> = (0..PER_DELIVERY)
            .map(|i| {
                let print = fingerprint(group * PER_DELIVERY + i);
                json!({
                    "status": "firing",
                    "labels": {"alertname": "BenchHighLatency", "severity": "warning",
                               "service": "vpn", "instance": print},
                    "annotations": {"summary": format!("Latency high on {print}")},
                    "startsAt": "2026-11-25T12:00:00Z",
                    "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "http://prometheus.invalid/graph",
                    "fingerprint": print,
                })
            })
            .collect();
        let body = json!({
            "version": "4", "groupKey": format!("{{}}:{{group=\"{group}\"}}"),
            "truncatedAlerts": 0, "status": "firing", "receiver": "itsm",
            "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
            "externalURL": "http://alertmanager.invalid", "alerts": alerts,
        })
        .to_string();
        let authorization = format!("Bearer {}", self.token);
        connection
            .post(
                "/hooks/alertmanager",
                "application/json",
                &[("Authorization", &authorization)],
                &body,
            )
            .await
    }

    fn check(&self, response: &Response) -> anyhow::Result<()> {
        let expected = if self.groups.is_some() {
            "\"noted\""
        } else {
            "\"opened\""
        };
        if response.status != 200 || !response.body.contains(expected) {
            bail!(
                "alert delivery not recorded: {} {}",
                response.status,
                response.body
            );
        }
        Ok(())
    }
}

/// Section 2's rows.
pub async fn run(
    port: u16,
    pool: &PgPool,
    url: &str,
    scripts: &Path,
    token: &str,
    budget: Budget,
) -> anyhow::Result<Vec<Row>> {
    crate::bot::settle(pool).await?;
    let new = load::run(
        port,
        CLIENTS,
        budget,
        Arc::new(Delivery {
            token: token.to_string(),
            groups: None,
        }),
    )
    .await?;
    let linked: i64 =
        sqlx::query_scalar("SELECT count(*) FROM alerts WHERE fingerprint LIKE 'bench-%'")
            .fetch_one(pool)
            .await?;
    if linked as u64 != new.ok * PER_DELIVERY {
        bail!(
            "{} deliveries acknowledged but {linked} alerts recorded",
            new.ok
        );
    }
    // Let the bot post the new incidents' cards before the next phase.
    let new_backlog = crate::bot::cards_posted(pool).await?;
    let groups = new.ok;
    crate::bot::settle(pool).await?;
    let repeat = load::run(
        port,
        CLIENTS,
        budget,
        Arc::new(Delivery {
            token: token.to_string(),
            groups: Some(groups),
        }),
    )
    .await?;
    let repeat_backlog = crate::bot::cards_posted(pool).await?;
    let new_script = scripts.join("alerts_new.sql");
    let repeat_script = scripts.join("alerts_repeat.sql");
    std::fs::write(&new_script, NEW_SQL)?;
    std::fs::write(
        &repeat_script,
        REPEAT_SQL.replace(":groups", &groups.to_string()),
    )?;
    let new_baseline = pgbench::tps(url, &new_script, CLIENTS, budget.time)? * PER_DELIVERY as f64;
    let repeat_baseline =
        pgbench::tps(url, &repeat_script, CLIENTS, budget.time)? * PER_DELIVERY as f64;
    let rows = [
        ("new fingerprints", &new, new_baseline, new_backlog),
        ("repeats", &repeat, repeat_baseline, repeat_backlog),
    ]
    .into_iter()
    .map(|(kind, measured, baseline, backlog)| {
        let alerts = measured.per_second() * PER_DELIVERY as f64;
        Row {
            section: "alerts",
            what: format!(
                "{kind}, {PER_DELIVERY}/delivery, {CLIENTS} senders ({} alerts; cards done {:.1} s later)",
                measured.ok * PER_DELIVERY,
                backlog.as_secs_f64()
            ),
            measured: format!("{alerts:.0}/s"),
            baseline: format!("{baseline:.0}/s pgbench"),
            ratio: Some(alerts / baseline),
            latency: Some((measured.p50, measured.p99)),
            goals: vec![Goal::new("≥ 5,000 alerts/s", alerts >= 5000.0)],
        }
    })
    .collect();
    Ok(rows)
}

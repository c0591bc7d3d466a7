//! Monitoring alerts and the incidents they opened (`alerts`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::StoreError;
use crate::domain::alert::{AlertSource, AlertStatus, AlertTally, GroupKey};
use crate::domain::channel::ChannelRef;
use crate::domain::Platform;

/// The incident an alert is tied to, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertLink {
    /// The incident's ticket id.
    pub ticket_id: i64,
    /// Whether the alert was last seen firing or resolved.
    pub status: AlertStatus,
}

/// Serialises every transaction that handles one of `fingerprints` or one
/// of the alert groups `groups` from `source` until it ends. Locks are taken
/// in sorted order so two deliveries naming the same alerts in a different
/// order cannot deadlock.
pub async fn lock_alerts(
    conn: &mut PgConnection,
    source: AlertSource,
    fingerprints: &[&str],
    groups: &[&GroupKey],
) -> Result<(), StoreError> {
    let source = source.as_str();
    let names: Vec<String> = fingerprints
        .iter()
        .map(|fingerprint| format!("alert:{source}:{fingerprint}"))
        .chain(
            groups
                .iter()
                .map(|group| format!("alert-group:{source}:{group}")),
        )
        .collect();
    lock_names(conn, names).await
}

/// Serialises the transactions that may open incidents for alerts from
/// `source`, so the storm guard counts what the others opened and one storm
/// incident is opened, not two. Taken after [`lock_alerts`] and before any
/// incident is locked, so whoever holds it waits for no alert lock, and for
/// no incident another opening delivery holds.
pub async fn lock_openings(conn: &mut PgConnection, source: AlertSource) -> Result<(), StoreError> {
    lock_names(conn, vec![format!("alert-openings:{}", source.as_str())]).await
}

async fn lock_names(conn: &mut PgConnection, mut names: Vec<String>) -> Result<(), StoreError> {
    names.sort();
    names.dedup();
    // Advisory locks are keyed by a 64-bit number; a hash collision only
    // makes two unrelated alerts wait for each other. The locks are taken
    // in the array's (sorted) order: a function scan of `unnest` yields its
    // elements in order and the projection takes each lock as its row
    // passes, with nothing in the plan to reorder them.
    sqlx::query(
        "SELECT count(pg_advisory_xact_lock(hashtextextended(name, 0)))
         FROM unnest($1::text[]) AS name",
    )
    .bind(&names)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The incidents every alert of `fingerprints` from `source` is tied to, by
/// fingerprint; alerts never seen are absent.
pub async fn find_all(
    conn: &mut PgConnection,
    source: AlertSource,
    fingerprints: &[&str],
) -> Result<HashMap<String, AlertLink>, StoreError> {
    let rows: Vec<(String, i64, String)> = sqlx::query_as(
        // One primary-key lookup per fingerprint. Written as `fingerprint =
        // ANY($2)`, a statement prepared while `alerts` was small kept a
        // plan reading every alert of the source (by auto_explain: 9 ms at
        // 12,000 alerts); the fenced lateral lookup cannot become that.
        "SELECT a.fingerprint, a.ticket_id, a.status
         FROM unnest($2::text[]) AS f(fingerprint)
         CROSS JOIN LATERAL (
            SELECT fingerprint, ticket_id, status FROM alerts
            WHERE source = $1 AND fingerprint = f.fingerprint
            OFFSET 0
         ) a",
    )
    .bind(source.as_str())
    .bind(fingerprints)
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|(fingerprint, ticket_id, status)| {
            Ok((
                fingerprint,
                AlertLink {
                    ticket_id,
                    status: status.parse().map_err(StoreError::Corrupt)?,
                },
            ))
        })
        .collect()
}

/// Records that the alert was seen `status` at `at`.
pub async fn set_status(
    conn: &mut PgConnection,
    source: AlertSource,
    fingerprint: &str,
    status: AlertStatus,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE alerts SET status = $3, updated_at = $4 WHERE source = $1 AND fingerprint = $2",
    )
    .bind(source.as_str())
    .bind(fingerprint)
    .bind(status.as_str())
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// A firing alert to tie to an incident, newly opened or of its group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewLink<'a> {
    pub fingerprint: &'a str,
    pub ticket_id: i64,
    /// Whether the alert has a row from an earlier episode to move.
    pub existed: bool,
    /// What the incident's card calls the alert (its title).
    pub name: &'a str,
}

/// The open incidents of the alert groups `keys` from `source`, by key;
/// groups with no open incident are absent.
pub async fn open_groups(
    conn: &mut PgConnection,
    source: AlertSource,
    keys: &[&GroupKey],
) -> Result<HashMap<GroupKey, i64>, StoreError> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let keys: Vec<&str> = keys.iter().map(|key| key.as_str()).collect();
    let rows: Vec<(String, i64)> = sqlx::query_as(
        // One primary-key lookup per key, fenced like `find_all`'s: a plan
        // prepared while the table was small must not become a scan.
        "SELECT g.group_key, g.ticket_id
         FROM unnest($2::text[]) AS k(key)
         CROSS JOIN LATERAL (
            SELECT group_key, ticket_id FROM alert_groups
            WHERE source = $1 AND group_key = k.key
            OFFSET 0
         ) g
         JOIN tickets t ON t.id = g.ticket_id
         WHERE t.status NOT IN ('resolved', 'closed')",
    )
    .bind(source.as_str())
    .bind(&keys)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(key, ticket)| (GroupKey::from_stored(key), ticket))
        .collect())
}

/// An alert group pointed at the incident its alerts attach to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupLink<'a> {
    pub key: &'a GroupKey,
    pub ticket_id: i64,
    /// Whether this is a storm incident's own group.
    pub storm: bool,
}

/// Ties firing alerts of `source` to their incidents and points their
/// groups at them, in one statement (the two always go together).
///
/// Alerts: a new row per new alert, or the row of an earlier episode of
/// the same alert moved to its new incident. New alerts get a plain INSERT
/// (no ON CONFLICT): if another delivery got there first despite the lock,
/// the primary key refuses this one rather than leaving two incidents for
/// one alert. Groups: new groups get a row, groups of an ended episode
/// move (one row per key, the last word wins).
pub async fn attach(
    conn: &mut PgConnection,
    source: AlertSource,
    links: &[NewLink<'_>],
    groups: &[GroupLink<'_>],
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    if links.is_empty() && groups.is_empty() {
        return Ok(());
    }
    let fingerprints: Vec<&str> = links.iter().map(|l| l.fingerprint).collect();
    let tickets: Vec<i64> = links.iter().map(|l| l.ticket_id).collect();
    let existed: Vec<bool> = links.iter().map(|l| l.existed).collect();
    let names: Vec<&str> = links.iter().map(|l| l.name).collect();
    let mut groups = groups.to_vec();
    // One row per key (the last word wins), in a stable order.
    groups.sort_by(|a, b| a.key.cmp(b.key));
    groups.dedup_by(|later, earlier| {
        if later.key == earlier.key {
            *earlier = *later;
            true
        } else {
            false
        }
    });
    let keys: Vec<&str> = groups.iter().map(|g| g.key.as_str()).collect();
    let group_tickets: Vec<i64> = groups.iter().map(|g| g.ticket_id).collect();
    let storms: Vec<bool> = groups.iter().map(|g| g.storm).collect();
    sqlx::query(
        "WITH wanted AS (
            SELECT * FROM UNNEST($3::text[], $4::bigint[], $5::bool[], $6::text[])
                AS l(fingerprint, ticket_id, existed, name)
         ), moved AS (
            UPDATE alerts a SET ticket_id = w.ticket_id, status = 'firing', opened_at = $2,
                                updated_at = $2, name = w.name
            FROM wanted w
            WHERE w.existed AND a.source = $1 AND a.fingerprint = w.fingerprint
         ), linked AS (
            INSERT INTO alerts (source, fingerprint, ticket_id, status, opened_at, updated_at, name)
            SELECT $1, fingerprint, ticket_id, 'firing', $2, $2, name FROM wanted WHERE NOT existed
         )
         INSERT INTO alert_groups (source, group_key, ticket_id, storm, opened_at)
         SELECT $1, g.key, g.ticket_id, g.storm, $2
         FROM UNNEST($7::text[], $8::bigint[], $9::bool[]) AS g(key, ticket_id, storm)
         ON CONFLICT (source, group_key) DO UPDATE
            SET ticket_id = EXCLUDED.ticket_id, storm = EXCLUDED.storm, opened_at = EXCLUDED.opened_at
            WHERE alert_groups.ticket_id <> EXCLUDED.ticket_id",
    )
    .bind(source.as_str())
    .bind(at)
    .bind(&fingerprints)
    .bind(&tickets)
    .bind(&existed)
    .bind(&names)
    .bind(&keys)
    .bind(&group_tickets)
    .bind(&storms)
    .execute(conn)
    .await?;
    Ok(())
}

/// How many of the alerts tied to incident `ticket_id` are firing.
pub async fn firing_on(conn: &mut PgConnection, ticket_id: i64) -> Result<i64, StoreError> {
    Ok(
        sqlx::query_scalar(
            "SELECT count(*) FROM alerts WHERE ticket_id = $1 AND status = 'firing'",
        )
        .bind(ticket_id)
        .fetch_one(conn)
        .await?,
    )
}

/// Incidents opened by `actor` (a monitoring system) since `since`, storm
/// incidents left out: in all, and per service id (`None`: no service).
pub async fn openings_since(
    conn: &mut PgConnection,
    actor: &str,
    since: DateTime<Utc>,
) -> Result<Vec<(Option<i64>, i64)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT t.service_id, count(*)
         FROM tickets t
         WHERE t.kind = 'incident' AND t.created_at > $2 AND t.reporter = $1
           AND NOT EXISTS (SELECT 1 FROM alert_groups g WHERE g.ticket_id = t.id AND g.storm)
         GROUP BY t.service_id",
    )
    .bind(actor)
    .bind(since)
    .fetch_all(conn)
    .await?)
}

/// The storm incidents of `source` still open and noted since `since`
/// (a storm that has gone quiet ends: the next alert counts afresh), by
/// their storm group key.
pub async fn live_storms(
    conn: &mut PgConnection,
    source: AlertSource,
    since: DateTime<Utc>,
) -> Result<HashMap<GroupKey, i64>, StoreError> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT g.group_key, g.ticket_id
         FROM alert_groups g JOIN tickets t ON t.id = g.ticket_id
         WHERE g.source = $1 AND g.storm AND g.group_key LIKE 'storm:%'
           AND t.status NOT IN ('resolved', 'closed') AND t.updated_at > $2",
    )
    .bind(source.as_str())
    .bind(since)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(key, ticket)| (GroupKey::from_stored(key), ticket))
        .collect())
}

/// Records that each of `channels` was told its alerts joined incident
/// `ticket_id`, and returns those not told before: the caller owes each
/// of them one notice. Concurrent deliveries (and replicas) agree on the
/// primary key, so a channel is told once.
pub async fn tell_channels(
    conn: &mut PgConnection,
    ticket_id: i64,
    channels: &[ChannelRef],
    at: DateTime<Utc>,
) -> Result<Vec<ChannelRef>, StoreError> {
    if channels.is_empty() {
        return Ok(Vec::new());
    }
    let platforms: Vec<&str> = channels.iter().map(|c| c.platform.as_str()).collect();
    let names: Vec<&str> = channels.iter().map(|c| c.channel.as_str()).collect();
    let rows: Vec<(String, String)> = sqlx::query_as(
        "INSERT INTO alert_channel_notices (ticket_id, platform, channel, noticed_at)
         SELECT $1, c.platform, c.channel, $2
         FROM UNNEST($3::text[], $4::text[]) AS c(platform, channel)
         ON CONFLICT DO NOTHING
         RETURNING platform, channel",
    )
    .bind(ticket_id)
    .bind(at)
    .bind(&platforms)
    .bind(&names)
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|(platform, channel)| {
            let platform: Platform = platform
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("unknown platform {platform}")))?;
            Ok(ChannelRef { platform, channel })
        })
        .collect()
}

/// [`AlertTally`] for each of `ticket_ids` that has alerts, listing at most
/// `first` of each, in one statement.
pub async fn of_tickets(
    conn: &mut PgConnection,
    ticket_ids: &[i64],
    first: i64,
) -> Result<HashMap<i64, AlertTally>, StoreError> {
    if ticket_ids.is_empty() {
        return Ok(HashMap::new());
    }
    /// A ticket, its firing and resolved counts, the first names and statuses.
    type Row = (i64, i64, i64, Vec<String>, Vec<String>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT a.ticket_id,
                count(*) FILTER (WHERE a.status = 'firing'),
                count(*) FILTER (WHERE a.status = 'resolved'),
                (array_agg(coalesce(a.name, a.fingerprint) ORDER BY a.opened_at, a.fingerprint))[1:$2],
                (array_agg(a.status ORDER BY a.opened_at, a.fingerprint))[1:$2]
         FROM alerts a
         WHERE a.ticket_id = ANY($1)
         GROUP BY a.ticket_id",
    )
    .bind(ticket_ids)
    .bind(first)
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|(ticket, firing, resolved, names, statuses)| {
            let first = names
                .into_iter()
                .zip(statuses)
                .map(|(name, status)| Ok((name, status.parse().map_err(StoreError::Corrupt)?)))
                .collect::<Result<_, StoreError>>()?;
            Ok((
                ticket,
                AlertTally {
                    firing,
                    resolved,
                    first,
                },
            ))
        })
        .collect()
}

/// One alert behind an incident, as the API lists it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AlertRow {
    pub source: String,
    pub fingerprint: String,
    pub name: Option<String>,
    pub status: String,
    pub opened_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A page of the alerts tied to incident `ticket_id`, in the order they
/// came, and how many there are in all.
pub async fn list_of_ticket(
    conn: &mut PgConnection,
    ticket_id: i64,
    limit: i64,
    offset: i64,
) -> Result<(Vec<AlertRow>, i64), StoreError> {
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM alerts WHERE ticket_id = $1")
        .bind(ticket_id)
        .fetch_one(&mut *conn)
        .await?;
    let rows = sqlx::query_as(
        "SELECT source, fingerprint, name, status, opened_at, updated_at
         FROM alerts WHERE ticket_id = $1
         ORDER BY opened_at, source, fingerprint
         LIMIT $2 OFFSET $3",
    )
    .bind(ticket_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(conn)
    .await?;
    Ok((rows, total))
}

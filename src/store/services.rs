//! The service catalog (`services`).

use sqlx::{PgConnection, PgPool};

use chrono::{DateTime, Utc};

use super::StoreError;
use crate::config::ServiceConfig;
use crate::domain::availability::Outage;
use crate::domain::channel::ChannelRef;
use crate::domain::service::CatalogEntry;
use crate::domain::{Priority, UserId};

/// A catalog entry as [`sync_catalog`] sends it, in one JSON document.
#[derive(serde::Serialize)]
struct SyncedService<'a> {
    name: &'a str,
    description: &'a str,
    owner: Option<String>,
    channel: Option<String>,
    tier: Option<&'a str>,
    availability_target: f64,
    rotation: Option<&'a str>,
    public: bool,
    depends_on: &'a [String],
}

/// Inserts or updates the services named in config. Services that config no
/// longer names stay, since tickets may point at them.
///
/// Every start runs this (`say` too), so it is one statement whatever the
/// size of the catalog, and when config has not changed it writes nothing:
/// only new or changed entries reach the upsert, so no row is locked, no
/// id drawn from the sequence and no commit waits for a WAL flush.
pub async fn sync_catalog(pool: &PgPool, services: &[ServiceConfig]) -> Result<(), StoreError> {
    // Config refuses a service defined twice; should a caller bring one
    // anyway, the last definition wins, as it would row by row (one
    // upsert cannot touch the same row twice).
    let mut seen = std::collections::HashSet::new();
    let mut rows: Vec<SyncedService> = services
        .iter()
        .rev()
        .filter(|s| seen.insert(s.name.as_str()))
        .map(|s| SyncedService {
            name: &s.name,
            description: &s.description,
            owner: s.owner.as_ref().map(ToString::to_string),
            channel: s.channel.as_ref().map(ToString::to_string),
            tier: s.tier.as_deref(),
            availability_target: s.availability_target,
            rotation: s.rotation.as_deref(),
            public: s.public,
            depends_on: &s.depends_on,
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    rows.reverse();
    let catalog =
        serde_json::to_string(&rows).map_err(|err| StoreError::Corrupt(err.to_string()))?;
    sqlx::query(
        "INSERT INTO services (name, description, owner, channel, tier, availability_target,
                               rotation, public, depends_on)
         SELECT s.name, s.description, s.owner, s.channel, s.tier, s.availability_target,
                s.rotation, s.public, s.depends_on
           FROM jsonb_to_recordset($1::jsonb) AS s(name text, description text, owner text,
                channel text, tier text, availability_target float8, rotation text,
                public bool, depends_on text[])
          WHERE NOT EXISTS (
                SELECT 1 FROM services c
                 WHERE c.name = s.name
                   AND (c.description, c.owner, c.channel, c.tier, c.availability_target,
                        c.rotation, c.public, c.depends_on)
                       IS NOT DISTINCT FROM
                       (s.description, s.owner, s.channel, s.tier, s.availability_target,
                        s.rotation, s.public, s.depends_on))
         ON CONFLICT (name) DO UPDATE
            SET description = EXCLUDED.description, owner = EXCLUDED.owner,
                channel = EXCLUDED.channel, tier = EXCLUDED.tier,
                availability_target = EXCLUDED.availability_target,
                rotation = EXCLUDED.rotation, public = EXCLUDED.public,
                depends_on = EXCLUDED.depends_on, updated_at = now()
          WHERE (services.description, services.owner, services.channel, services.tier,
                 services.availability_target, services.rotation, services.public,
                 services.depends_on)
                IS DISTINCT FROM
                (EXCLUDED.description, EXCLUDED.owner, EXCLUDED.channel, EXCLUDED.tier,
                 EXCLUDED.availability_target, EXCLUDED.rotation, EXCLUDED.public,
                 EXCLUDED.depends_on)",
    )
    .bind(catalog)
    .execute(pool)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct CatalogRow {
    id: i64,
    name: String,
    description: String,
    owner: Option<String>,
    channel: Option<String>,
    tier: Option<String>,
    availability_target: f64,
    rotation: Option<String>,
    public: bool,
    depends_on: Vec<String>,
}

impl TryFrom<CatalogRow> for CatalogEntry {
    type Error = StoreError;

    fn try_from(row: CatalogRow) -> Result<Self, Self::Error> {
        let corrupt = |what: String| StoreError::Corrupt(format!("service {}: {what}", row.name));
        Ok(CatalogEntry {
            id: row.id,
            owner: row
                .owner
                .as_deref()
                .map(str::parse::<UserId>)
                .transpose()
                .map_err(|e| corrupt(e.to_string()))?,
            channel: row
                .channel
                .as_deref()
                .map(str::parse::<ChannelRef>)
                .transpose()
                .map_err(|e| corrupt(e.to_string()))?,
            name: row.name,
            description: row.description,
            tier: row.tier,
            availability_target: row.availability_target,
            rotation: row.rotation,
            public: row.public,
            depends_on: row.depends_on,
        })
    }
}

const SELECT_ENTRY: &str = "SELECT id, name, description, owner, channel, tier,
    availability_target, rotation, public, depends_on FROM services";

/// The whole catalog, alphabetically.
pub async fn catalog(conn: &mut PgConnection) -> Result<Vec<CatalogEntry>, StoreError> {
    let rows: Vec<CatalogRow> = sqlx::query_as(&format!("{SELECT_ENTRY} ORDER BY name"))
        .fetch_all(conn)
        .await?;
    rows.into_iter().map(CatalogEntry::try_from).collect()
}

/// The catalog entry of the service called `name`.
pub async fn entry(
    conn: &mut PgConnection,
    name: &str,
) -> Result<Option<CatalogEntry>, StoreError> {
    let row: Option<CatalogRow> = sqlx::query_as(&format!("{SELECT_ENTRY} WHERE name = $1"))
        .bind(name)
        .fetch_optional(conn)
        .await?;
    row.map(CatalogEntry::try_from).transpose()
}

/// An open incident on a service, as the catalog shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OpenOnService {
    pub service_id: i64,
    pub number: i64,
    pub title: String,
    pub priority: i16,
    pub status: String,
    pub outage_since: Option<DateTime<Utc>>,
}

impl OpenOnService {
    /// Its priority (P4 if the stored one makes no sense).
    pub fn priority(&self) -> Priority {
        Priority::from_i16(self.priority).unwrap_or(Priority::P4)
    }
}

/// Open incidents of every service, most urgent and oldest first.
pub async fn open_incidents(conn: &mut PgConnection) -> Result<Vec<OpenOnService>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT t.service_id, t.number, t.title, t.priority, t.status,
                (SELECT o.started_at FROM outages o
                  WHERE o.ticket_id = t.id AND o.ended_at IS NULL) AS outage_since
           FROM tickets t
          WHERE t.kind = 'incident' AND t.service_id IS NOT NULL
            AND t.status IN ('new', 'acknowledged', 'on_hold')
          ORDER BY t.priority, t.created_at, t.id",
    )
    .fetch_all(conn)
    .await?)
}

/// The outages of every service that reach into `[from, …)`, by service id:
/// from the outage start to its end (the resolution), open-ended while
/// still down.
pub async fn outages_since(
    conn: &mut PgConnection,
    from: DateTime<Utc>,
) -> Result<Vec<(i64, Outage)>, StoreError> {
    let rows: Vec<(i64, DateTime<Utc>, Option<DateTime<Utc>>)> = sqlx::query_as(
        // An open outage of a resolved incident (resolved by a path that did
        // not end it) ends at the resolution. Only outages still open or
        // ended after `from` can reach into the period: the inner filter
        // says so on `outages` itself, so they are found by index
        // (`outages_by_end`) and only they are joined to their tickets,
        // instead of every outage ever marked. The resolution is looked up
        // only for the open ones, the only ones it can end.
        "SELECT service_id, started_at, ended_at FROM (
            SELECT t.service_id, o.started_at,
                   COALESCE(o.ended_at,
                            CASE WHEN t.status IN ('resolved', 'closed')
                                 THEN greatest((SELECT i.resolved_at FROM incidents i
                                                 WHERE i.ticket_id = o.ticket_id),
                                               o.started_at) END) AS ended_at
              FROM outages o
              JOIN tickets t ON t.id = o.ticket_id
             WHERE t.service_id IS NOT NULL
               AND (o.ended_at IS NULL OR o.ended_at > $1)) spans
          WHERE ended_at IS NULL OR ended_at > $1",
    )
    .bind(from)
    .fetch_all(&mut *conn)
    .await?;
    if rows.is_empty() {
        // No downtime to cut planned windows out of: spare the query.
        return Ok(Vec::new());
    }
    let planned = super::changes::planned_outage_windows(conn, from).await?;
    Ok(rows
        .into_iter()
        .flat_map(|(service, start, end)| {
            let windows: Vec<_> = planned
                .iter()
                .filter(|(id, _, _)| *id == service)
                .map(|(_, start, end)| (*start, *end))
                .collect();
            crate::domain::availability::unplanned(Outage { start, end }, &windows)
                .into_iter()
                .map(move |outage| (service, outage))
        })
        .collect())
}

/// Marks incident `ticket_id` as an outage from `start` to `end` (`None`:
/// still down). An outage still open is moved instead of doubled.
pub async fn mark_outage(
    conn: &mut PgConnection,
    ticket_id: i64,
    start: DateTime<Utc>,
    end: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    let moved = sqlx::query(
        "UPDATE outages SET started_at = $2, ended_at = $3 WHERE ticket_id = $1 AND ended_at IS NULL",
    )
    .bind(ticket_id)
    .bind(start)
    .bind(end)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if moved == 0 {
        sqlx::query("INSERT INTO outages (ticket_id, started_at, ended_at) VALUES ($1, $2, $3)")
            .bind(ticket_id)
            .bind(start)
            .bind(end)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Ends incident `ticket_id`'s open outage at `at` (it was resolved).
pub async fn end_outage(
    conn: &mut PgConnection,
    ticket_id: i64,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE outages SET ended_at = greatest($2, started_at) WHERE ticket_id = $1 AND ended_at IS NULL",
    )
    .bind(ticket_id)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// When incident `ticket_id`'s last ended outage ended, if any.
pub async fn last_outage_end(
    conn: &mut PgConnection,
    ticket_id: i64,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    Ok(sqlx::query_scalar::<_, Option<DateTime<Utc>>>(
        "SELECT max(ended_at) FROM outages WHERE ticket_id = $1",
    )
    .bind(ticket_id)
    .fetch_one(conn)
    .await?)
}

/// When incident `ticket_id`'s latest outage began, if it was marked as one.
pub async fn outage_of(
    conn: &mut PgConnection,
    ticket_id: i64,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT started_at FROM outages WHERE ticket_id = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(ticket_id)
    .fetch_optional(conn)
    .await?)
}

/// Adds a public update to incident `ticket_id`.
pub async fn add_public_update(
    conn: &mut PgConnection,
    ticket_id: i64,
    author: &UserId,
    at: DateTime<Utc>,
    body: &str,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO public_updates (ticket_id, at, author, body) VALUES ($1, $2, $3, $4)")
        .bind(ticket_id)
        .bind(at)
        .bind(author.to_string())
        .bind(body)
        .execute(conn)
        .await?;
    Ok(())
}

/// A public update of an incident, for the status page.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PublicUpdate {
    pub service: String,
    pub number: i64,
    pub title: String,
    pub status: String,
    pub at: DateTime<Utc>,
    pub body: String,
}

/// Public updates of public services' incidents that are open or were
/// resolved after `since`, newest first.
pub async fn public_updates(
    conn: &mut PgConnection,
    since: DateTime<Utc>,
) -> Result<Vec<PublicUpdate>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT s.name AS service, t.number, t.title, t.status, u.at, u.body
           FROM public_updates u
           JOIN tickets t ON t.id = u.ticket_id
           JOIN incidents i ON i.ticket_id = t.id
           JOIN services s ON s.id = t.service_id
          WHERE s.public
            AND (t.status IN ('new', 'acknowledged', 'on_hold') OR i.resolved_at > $1)
          ORDER BY u.at DESC, u.id DESC
          LIMIT 200",
    )
    .bind(since)
    .fetch_all(conn)
    .await?)
}

/// The id of the service called `name`.
pub async fn find_id(conn: &mut PgConnection, name: &str) -> Result<Option<i64>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT id FROM services WHERE name = $1")
            .bind(name)
            .fetch_optional(conn)
            .await?,
    )
}

/// The ids of those of `names` that are in the catalog, by name.
pub async fn find_ids(
    conn: &mut PgConnection,
    names: &[String],
) -> Result<std::collections::HashMap<String, i64>, StoreError> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT name, id FROM services WHERE name = ANY($1::text[])")
            .bind(names)
            .fetch_all(conn)
            .await?;
    Ok(rows.into_iter().collect())
}

/// Every service name, alphabetically.
pub async fn names(conn: &mut PgConnection) -> Result<Vec<String>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT name FROM services ORDER BY name")
            .fetch_all(conn)
            .await?,
    )
}

/// The owner of the service called `name`, if it has one.
pub async fn owner_of(conn: &mut PgConnection, name: &str) -> Result<Option<String>, StoreError> {
    Ok(
        sqlx::query_scalar::<_, Option<String>>("SELECT owner FROM services WHERE name = $1")
            .bind(name)
            .fetch_optional(conn)
            .await?
            .flatten(),
    )
}

/// The spans incident `ticket_id` was marked as an outage, each ending
/// where it was ended or at the resolution (open while still down).
pub async fn outages_of_ticket(
    conn: &mut PgConnection,
    ticket_id: i64,
) -> Result<Vec<Outage>, StoreError> {
    let rows: Vec<(DateTime<Utc>, Option<DateTime<Utc>>)> = sqlx::query_as(
        "SELECT o.started_at,
                COALESCE(o.ended_at,
                         CASE WHEN t.status IN ('resolved', 'closed')
                              THEN greatest(i.resolved_at, o.started_at) END)
           FROM outages o
           JOIN tickets t ON t.id = o.ticket_id
           JOIN incidents i ON i.ticket_id = o.ticket_id
          WHERE o.ticket_id = $1
          ORDER BY o.started_at",
    )
    .bind(ticket_id)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(start, end)| Outage { start, end })
        .collect())
}

//! What one delivery of monitoring alerts reads and writes for many
//! incidents at once: their locks, and the notes that repeats of firing
//! alerts leave. A delivery of ten alerts took some fifty round trips alert
//! by alert; PostgreSQL's cost is mostly per statement, so these do the
//! whole delivery's share in one each.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::timeline::EventColumns;
use super::StoreError;
use crate::domain::alert::AlertSource;
use crate::domain::incident::{Incident, IncidentStatus, Origin};
use crate::domain::timeline::NewEvent;
use crate::domain::{Platform, Priority, UserId};

/// The incident columns `store::incidents` reads, for the rows of `t`
/// (tickets), `i` (incidents) and `s` (services).
const INCIDENT_COLUMNS: &str = "
SELECT t.id, t.number, t.title, t.description, t.priority, t.status,
       t.reporter, t.assignee, t.origin_platform, t.origin_channel,
       t.origin_thread, t.origin_message, t.created_at, t.updated_at,
       s.name AS service, i.impact, i.urgency, i.status_before_hold,
       i.hold_reason, i.acknowledged_at, i.acknowledged_by, i.responded_at, i.resolved_at,
       i.resolution, i.closed_at
FROM tickets t
JOIN incidents i ON i.ticket_id = t.id
LEFT JOIN services s ON s.id = t.service_id";

/// Reads the incidents stored as tickets `ids` and locks them until the
/// transaction ends, in one statement; ids that are no incident are left
/// out. Rows are locked in id order, so two transactions locking
/// overlapping sets wait for each other instead of deadlocking.
pub async fn lock_all_by_id(
    conn: &mut PgConnection,
    ids: &[i64],
) -> Result<Vec<Incident>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let query = format!(
        "{INCIDENT_COLUMNS} WHERE t.kind = 'incident' AND t.id = ANY($1::bigint[])
         ORDER BY t.id FOR UPDATE OF t, i"
    );
    let rows: Vec<IncidentRow> = sqlx::query_as(&query).bind(ids).fetch_all(conn).await?;
    rows.into_iter().map(Incident::try_from).collect()
}

/// Repeats of firing alerts to record together: each incident as it is
/// after its note, and the note.
#[derive(Debug)]
pub struct Notes<'a> {
    pub source: AlertSource,
    /// The alerts repeated, all of them still firing.
    pub fingerprints: &'a [&'a str],
    /// The noted incidents; only their `updated_at` is written, so the
    /// caller passes only incidents a note changed nothing else of.
    pub incidents: &'a [Incident],
    /// Each incident's events, at the same place.
    pub events: &'a [Vec<NewEvent>],
    pub actor: &'a UserId,
    pub at: DateTime<Utc>,
    /// Platforms the bot delivers cards to: each incident's card is queued
    /// on those of them that show it or that it came from.
    pub card_platforms: &'a [Platform],
}

/// Records `notes` in one statement: the incidents' `updated_at`, their
/// timeline events, the alerts seen firing at `at`, and an update of each
/// incident's cards (as `store::outbox::enqueue_cards` queues one).
pub async fn record_notes(conn: &mut PgConnection, notes: &Notes<'_>) -> Result<(), StoreError> {
    if notes.incidents.is_empty() && notes.fingerprints.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = notes.incidents.iter().map(|i| i.id).collect();
    let updated: Vec<DateTime<Utc>> = notes.incidents.iter().map(|i| i.updated_at).collect();
    let origins: Vec<&str> = notes
        .incidents
        .iter()
        .map(|i| i.origin.platform.as_str())
        .collect();
    let mut events = EventColumns::default();
    let mut owners = Vec::new();
    for (incident, its) in notes.incidents.iter().zip(notes.events) {
        events.extend(its);
        owners.extend(std::iter::repeat_n(incident.id, its.len()));
    }
    let delivering: Vec<&str> = notes.card_platforms.iter().map(|p| p.as_str()).collect();
    let touched: i64 = sqlx::query_scalar(
        "WITH touched AS (
            UPDATE tickets t SET updated_at = u.updated_at
            FROM UNNEST($1::bigint[], $2::timestamptz[]) AS u(id, updated_at)
            WHERE t.id = u.id
            RETURNING t.id
         ), events AS (
            INSERT INTO ticket_events (ticket_id, at, actor, action, from_value, to_value, body)
            SELECT e.ticket_id, $3, $4, e.action, e.from_value, e.to_value, e.body
            FROM UNNEST($5::bigint[], $6::text[], $7::text[], $8::text[], $9::text[])
                 WITH ORDINALITY AS e(ticket_id, action, from_value, to_value, body, n)
            ORDER BY e.n
         ), seen AS (
            UPDATE alerts SET status = 'firing', updated_at = $3
            WHERE source = $10 AND fingerprint = ANY($11::text[])
         ), cards AS (
            INSERT INTO outbox (platform, kind, ticket_id, created_at, not_before)
            SELECT shown.platform, 'ticket_message', shown.ticket_id, $3, $3
            FROM (SELECT ticket_id, platform FROM ticket_messages WHERE ticket_id = ANY($1::bigint[])
                  UNION SELECT * FROM UNNEST($1::bigint[], $12::text[])) AS shown(ticket_id, platform)
            WHERE shown.platform = ANY($13::text[])
            ORDER BY shown.ticket_id, shown.platform
         )
         SELECT count(*) FROM touched",
    )
    .bind(&ids)
    .bind(&updated)
    .bind(notes.at)
    .bind(notes.actor.to_string())
    .bind(&owners)
    .bind(&events.actions)
    .bind(&events.froms)
    .bind(&events.tos)
    .bind(&events.bodies)
    .bind(notes.source.as_str())
    .bind(notes.fingerprints)
    .bind(&origins)
    .bind(&delivering)
    .fetch_one(conn)
    .await?;
    if touched != ids.len() as i64 {
        return Err(StoreError::Corrupt(format!(
            "noted {touched} of {} incidents",
            ids.len()
        )));
    }
    Ok(())
}

// The same row and mapping as `store::incidents` uses for its reads.
#[derive(sqlx::FromRow)]
struct IncidentRow {
    id: i64,
    number: i64,
    title: String,
    description: String,
    priority: Option<i16>,
    status: String,
    reporter: String,
    assignee: Option<String>,
    origin_platform: String,
    origin_channel: String,
    origin_thread: Option<String>,
    origin_message: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    service: Option<String>,
    impact: String,
    urgency: String,
    status_before_hold: Option<String>,
    hold_reason: Option<String>,
    acknowledged_at: Option<DateTime<Utc>>,
    acknowledged_by: Option<String>,
    responded_at: Option<DateTime<Utc>>,
    resolved_at: Option<DateTime<Utc>>,
    resolution: Option<String>,
    closed_at: Option<DateTime<Utc>>,
}

impl TryFrom<IncidentRow> for Incident {
    type Error = StoreError;

    fn try_from(row: IncidentRow) -> Result<Self, Self::Error> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("INC-{}: {what}", row.number));
        let user = |text: &str| text.parse::<UserId>().map_err(|e| corrupt(&e.to_string()));
        let optional_user = |text: &Option<String>| text.as_deref().map(user).transpose();
        Ok(Incident {
            id: row.id,
            number: row.number,
            priority: row
                .priority
                .and_then(Priority::from_i16)
                .ok_or_else(|| corrupt("bad priority"))?,
            impact: row.impact.parse().map_err(|_| corrupt("bad impact"))?,
            urgency: row.urgency.parse().map_err(|_| corrupt("bad urgency"))?,
            status: row.status.parse().map_err(|e: String| corrupt(&e))?,
            status_before_hold: row
                .status_before_hold
                .as_deref()
                .map(str::parse::<IncidentStatus>)
                .transpose()
                .map_err(|e| corrupt(&e))?,
            reporter: user(&row.reporter)?,
            assignee: optional_user(&row.assignee)?,
            acknowledged_by: optional_user(&row.acknowledged_by)?,
            origin: Origin {
                platform: row
                    .origin_platform
                    .parse()
                    .map_err(|_| corrupt("bad origin platform"))?,
                channel: row.origin_channel,
                thread: row.origin_thread,
                message: row.origin_message,
            },
            title: row.title,
            description: row.description,
            hold_reason: row.hold_reason,
            service: row.service,
            created_at: row.created_at,
            updated_at: row.updated_at,
            acknowledged_at: row.acknowledged_at,
            responded_at: row.responded_at,
            resolved_at: row.resolved_at,
            resolution: row.resolution,
            closed_at: row.closed_at,
        })
    }
}

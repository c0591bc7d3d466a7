//! Incidents: a `tickets` row of kind `incident` plus its `incidents` row.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::messages::PostedMessage;
use super::StoreError;
use crate::domain::incident::{Incident, IncidentStatus, Origin};
use crate::domain::sla::Pause;
use crate::domain::{Platform, Priority, UserId};

const SELECT_INCIDENT: &str = "
SELECT t.id, t.number, t.title, t.description, t.priority, t.status,
       t.reporter, t.assignee, t.origin_platform, t.origin_channel,
       t.origin_thread, t.origin_message, t.created_at, t.updated_at,
       s.name AS service, i.impact, i.urgency, i.status_before_hold,
       i.hold_reason, i.acknowledged_at, i.acknowledged_by, i.responded_at, i.resolved_at,
       i.resolution, i.closed_at, i.resolved_by_monitoring
FROM tickets t
JOIN incidents i ON i.ticket_id = t.id
LEFT JOIN services s ON s.id = t.service_id";

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
    resolved_by_monitoring: bool,
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
            resolved_by_monitoring: row.resolved_by_monitoring,
        })
    }
}

/// What an incident's card is rendered from: the incident, the pauses of
/// its resolve clock, and where its card is on the platform asked about.
#[derive(Debug, Clone)]
pub struct CardSource {
    pub incident: Incident,
    pub pauses: Vec<Pause>,
    pub posted: Option<PostedMessage>,
    /// The alerts behind it, when monitoring opened or joined it.
    pub alerts: Option<crate::domain::alert::AlertTally>,
}

/// Reads what the cards of the incidents stored as tickets `ids` on
/// `platform` are rendered from, in one statement (the outbox renders a card
/// for every change, so this is read as often as incidents are written).
/// Tickets that are not incidents are left out.
pub async fn card_sources(
    conn: &mut PgConnection,
    ids: &[i64],
    platform: Platform,
) -> Result<Vec<CardSource>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        incident: IncidentRow,
        pause_starts: Vec<DateTime<Utc>>,
        pause_ends: Vec<Option<DateTime<Utc>>>,
        card_channel: Option<String>,
        card_message: Option<String>,
        card_thread: Option<String>,
    }
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let query = format!(
        "SELECT x.*,
                ARRAY(SELECT started_at FROM sla_pauses p WHERE p.ticket_id = x.id ORDER BY started_at) AS pause_starts,
                ARRAY(SELECT ended_at FROM sla_pauses p WHERE p.ticket_id = x.id ORDER BY started_at) AS pause_ends,
                m.channel AS card_channel, m.message_id AS card_message, m.thread AS card_thread
         FROM ({SELECT_INCIDENT} WHERE t.kind = 'incident' AND t.id = ANY($1)) AS x
         LEFT JOIN ticket_messages m ON m.ticket_id = x.id AND m.platform = $2"
    );
    let rows: Vec<Row> = sqlx::query_as(&query)
        .bind(ids)
        .bind(platform.as_str())
        .fetch_all(&mut *conn)
        .await?;
    let mut sources = rows
        .into_iter()
        .map(|row| {
            let pauses = row
                .pause_starts
                .into_iter()
                .zip(row.pause_ends)
                .map(|(start, end)| Pause { start, end })
                .collect();
            let posted = match (row.card_channel, row.card_message, row.card_thread) {
                (Some(channel), Some(message_id), Some(thread)) => Some(PostedMessage {
                    channel,
                    message_id,
                    thread,
                }),
                _ => None,
            };
            Ok(CardSource {
                incident: Incident::try_from(row.incident)?,
                pauses,
                posted,
                alerts: None,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    // Only monitoring opens incidents that alerts attach to: the others'
    // cards (every chat report) read nothing more.
    let monitored: Vec<i64> = sources
        .iter()
        .filter(|source| {
            matches!(
                source.incident.reporter.system_actor(),
                Some(crate::domain::user::SystemActor::Monitoring(_))
            )
        })
        .map(|source| source.incident.id)
        .collect();
    if !monitored.is_empty() {
        let mut tallies = super::alerts::of_tickets(
            conn,
            &monitored,
            i64::try_from(crate::domain::alert::ALERTS_ON_CARD).unwrap_or(i64::MAX),
        )
        .await?;
        for source in &mut sources {
            source.alerts = tallies.remove(&source.incident.id);
        }
    }
    Ok(sources)
}

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
        "{SELECT_INCIDENT} WHERE t.kind = 'incident' AND t.id = ANY($1::bigint[])
         ORDER BY t.id FOR UPDATE OF t, i"
    );
    let rows: Vec<IncidentRow> = sqlx::query_as(&query).bind(ids).fetch_all(conn).await?;
    rows.into_iter().map(Incident::try_from).collect()
}

/// Reads incident `number` and locks it until the transaction ends, so
/// concurrent changes to one incident happen one after the other.
pub async fn lock(conn: &mut PgConnection, number: i64) -> Result<Option<Incident>, StoreError> {
    let query =
        format!("{SELECT_INCIDENT} WHERE t.kind = 'incident' AND t.number = $1 FOR UPDATE OF t, i");
    let row: Option<IncidentRow> = sqlx::query_as(&query)
        .bind(number)
        .fetch_optional(conn)
        .await?;
    row.map(Incident::try_from).transpose()
}

/// Reads the incident stored as ticket `id` and locks it until the
/// transaction ends.
pub async fn lock_by_id(conn: &mut PgConnection, id: i64) -> Result<Option<Incident>, StoreError> {
    let query =
        format!("{SELECT_INCIDENT} WHERE t.kind = 'incident' AND t.id = $1 FOR UPDATE OF t, i");
    let row: Option<IncidentRow> = sqlx::query_as(&query).bind(id).fetch_optional(conn).await?;
    row.map(Incident::try_from).transpose()
}

/// Reads incident `number`.
pub async fn get(conn: &mut PgConnection, number: i64) -> Result<Option<Incident>, StoreError> {
    let query = format!("{SELECT_INCIDENT} WHERE t.kind = 'incident' AND t.number = $1");
    let row: Option<IncidentRow> = sqlx::query_as(&query)
        .bind(number)
        .fetch_optional(conn)
        .await?;
    row.map(Incident::try_from).transpose()
}

/// Reads the incident stored as ticket `id`.
pub async fn get_by_id(conn: &mut PgConnection, id: i64) -> Result<Option<Incident>, StoreError> {
    let query = format!("{SELECT_INCIDENT} WHERE t.kind = 'incident' AND t.id = $1");
    let row: Option<IncidentRow> = sqlx::query_as(&query).bind(id).fetch_optional(conn).await?;
    row.map(Incident::try_from).transpose()
}

/// The incident reported from chat message `message` in `channel`, if any.
pub async fn reported_from(
    conn: &mut PgConnection,
    platform: crate::domain::Platform,
    channel: &str,
    message: &str,
) -> Result<Option<i64>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT number FROM tickets
         WHERE kind = 'incident' AND origin_platform = $1 AND origin_channel = $2 AND origin_message = $3
         LIMIT 1",
    )
    .bind(platform.as_str())
    .bind(channel)
    .bind(message)
    .fetch_optional(conn)
    .await?)
}

/// Writes an incident's changeable fields back.
pub async fn update(conn: &mut PgConnection, incident: &Incident) -> Result<(), StoreError> {
    sqlx::query(
        "WITH ticket AS (
            UPDATE tickets SET status = $2, priority = $3, assignee = $4, updated_at = $5
            WHERE id = $1 RETURNING id
         )
         UPDATE incidents SET status_before_hold = $6, hold_reason = $7,
                acknowledged_at = $8, acknowledged_by = $9, resolved_at = $10,
                resolution = $11, closed_at = $12, responded_at = $13,
                resolved_by_monitoring = $14
         WHERE ticket_id = (SELECT id FROM ticket)",
    )
    .bind(incident.id)
    .bind(incident.status.as_str())
    .bind(incident.priority.as_i16())
    .bind(incident.assignee.as_ref().map(ToString::to_string))
    .bind(incident.updated_at)
    .bind(incident.status_before_hold.map(IncidentStatus::as_str))
    .bind(&incident.hold_reason)
    .bind(incident.acknowledged_at)
    .bind(incident.acknowledged_by.as_ref().map(ToString::to_string))
    .bind(incident.resolved_at)
    .bind(&incident.resolution)
    .bind(incident.closed_at)
    .bind(incident.responded_at)
    .bind(incident.resolved_by_monitoring)
    .execute(conn)
    .await?;
    Ok(())
}

/// Which open incidents to list.
#[derive(Debug, Clone, Default)]
pub struct OpenFilter {
    /// Only these priorities; all when empty.
    pub priorities: Vec<Priority>,
    /// Only those assigned to this person.
    pub assignee: Option<UserId>,
    /// Only those reported by this person.
    pub reporter: Option<UserId>,
}

/// Open incidents matching `filter`, most urgent and oldest first, at most
/// `limit` of them, with the number of all that match.
pub async fn list_open(
    conn: &mut PgConnection,
    filter: &OpenFilter,
    limit: i64,
) -> Result<(Vec<Incident>, i64), StoreError> {
    let priorities: Vec<i16> = filter.priorities.iter().map(|p| p.as_i16()).collect();
    let condition = "t.kind = 'incident' AND t.status IN ('new', 'acknowledged', 'on_hold')
        AND (cardinality($1::smallint[]) = 0 OR t.priority = ANY($1))
        AND ($2::text IS NULL OR t.assignee = $2)
        AND ($3::text IS NULL OR t.reporter = $3)";
    let query = format!(
        "{SELECT_INCIDENT} WHERE {condition} ORDER BY t.priority, t.created_at, t.id LIMIT $4"
    );
    let assignee = filter.assignee.as_ref().map(ToString::to_string);
    let reporter = filter.reporter.as_ref().map(ToString::to_string);
    let rows: Vec<IncidentRow> = sqlx::query_as(&query)
        .bind(&priorities)
        .bind(&assignee)
        .bind(&reporter)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
    let total: i64 =
        sqlx::query_scalar(&format!("SELECT count(*) FROM tickets t WHERE {condition}"))
            .bind(&priorities)
            .bind(&assignee)
            .bind(&reporter)
            .fetch_one(&mut *conn)
            .await?;
    let incidents = rows
        .into_iter()
        .map(Incident::try_from)
        .collect::<Result<_, _>>()?;
    Ok((incidents, total))
}

/// One page of incidents matching `filter`, newest first, with the number of all that match.
pub async fn list(
    conn: &mut PgConnection,
    filter: &super::listing::TicketFilter,
    page: super::listing::Page,
) -> Result<(Vec<Incident>, i64), StoreError> {
    use super::listing::{bind, count, CONDITION, ORDER_AND_PAGE};
    let query =
        format!("{SELECT_INCIDENT} WHERE t.kind = 'incident' AND {CONDITION} {ORDER_AND_PAGE}");
    let rows: Vec<IncidentRow> = bind(sqlx::query_as(&query), filter, page)
        .fetch_all(&mut *conn)
        .await?;
    let items = rows
        .into_iter()
        .map(Incident::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((items, count(conn, "incident", filter).await?))
}

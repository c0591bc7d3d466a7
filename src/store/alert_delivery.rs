//! What one delivery of monitoring alerts writes for many incidents at
//! once: the notes that repeats of firing alerts leave. A delivery of ten
//! alerts took some fifty round trips alert by alert; PostgreSQL's cost is
//! mostly per statement, so this does the whole delivery's share in one.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::timeline::EventColumns;
use super::StoreError;
use crate::domain::alert::AlertSource;
use crate::domain::incident::Incident;
use crate::domain::timeline::NewEvent;
use crate::domain::{Platform, UserId};

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

//! The append-only timeline (`ticket_events`).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::StoreError;
use crate::domain::timeline::{Event, NewEvent};
use crate::domain::UserId;

/// Appends `events` by `actor` at `at` to a ticket's timeline in one statement.
pub async fn append(
    conn: &mut PgConnection,
    ticket_id: i64,
    actor: &UserId,
    at: DateTime<Utc>,
    events: &[NewEvent],
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let columns = EventColumns::of(events);
    sqlx::query(
        "INSERT INTO ticket_events (ticket_id, at, actor, action, from_value, to_value, body)
         SELECT $1, $2, $3, action, from_value, to_value, body
         FROM UNNEST($4::text[], $5::text[], $6::text[], $7::text[])
              WITH ORDINALITY AS e(action, from_value, to_value, body, n)
         ORDER BY n",
    )
    .bind(ticket_id)
    .bind(at)
    .bind(actor.to_string())
    .bind(&columns.actions)
    .bind(&columns.froms)
    .bind(&columns.tos)
    .bind(&columns.bodies)
    .execute(conn)
    .await?;
    Ok(())
}

/// New events as the column arrays `UNNEST` takes, in order.
#[derive(Default)]
pub(super) struct EventColumns<'a> {
    pub actions: Vec<&'static str>,
    pub froms: Vec<Option<&'a str>>,
    pub tos: Vec<Option<&'a str>>,
    pub bodies: Vec<Option<&'a str>>,
}

impl<'a> EventColumns<'a> {
    pub fn of(events: &'a [NewEvent]) -> Self {
        let mut columns = EventColumns::default();
        columns.extend(events);
        columns
    }

    /// Adds `events` after those already held (several tickets' events in
    /// one statement, with the ticket in a column of its own).
    pub fn extend(&mut self, events: &'a [NewEvent]) {
        for event in events {
            self.actions.push(event.action.as_str());
            self.froms.push(event.from.as_deref());
            self.tos.push(event.to.as_deref());
            self.bodies.push(event.body.as_deref());
        }
    }
}

#[derive(sqlx::FromRow)]
struct EventRow {
    id: i64,
    at: DateTime<Utc>,
    actor: String,
    action: String,
    from_value: Option<String>,
    to_value: Option<String>,
    body: Option<String>,
}

/// A ticket's whole timeline, oldest first.
pub async fn list(conn: &mut PgConnection, ticket_id: i64) -> Result<Vec<Event>, StoreError> {
    let rows: Vec<EventRow> = sqlx::query_as(
        "SELECT id, at, actor, action, from_value, to_value, body
         FROM ticket_events WHERE ticket_id = $1 ORDER BY id",
    )
    .bind(ticket_id)
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|row| {
            Ok(Event {
                id: row.id,
                at: row.at,
                actor: row
                    .actor
                    .parse()
                    .map_err(|e| StoreError::Corrupt(format!("event {}: {e}", row.id)))?,
                action: row.action.parse().map_err(StoreError::Corrupt)?,
                from: row.from_value,
                to: row.to_value,
                body: row.body,
            })
        })
        .collect()
}

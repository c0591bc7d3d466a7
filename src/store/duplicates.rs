//! Duplicate incidents (`incidents.duplicate_of`) and the people who follow
//! a ticket because they reported one of its duplicates
//! (`ticket_followers`).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::StoreError;
use crate::domain::{Platform, UserId};

/// Someone told when a ticket is resolved, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Follower {
    pub user: UserId,
    pub platform: Platform,
    pub channel: String,
    pub thread: Option<String>,
    /// The duplicate that brought them, `INC-<n>`'s number.
    pub via: Option<i64>,
}

/// The ticket ids incident ticket `id` is a duplicate of, nearest first,
/// following `duplicate_of` (a reopened duplicate keeps its pointer).
pub async fn chain(conn: &mut PgConnection, id: i64) -> Result<Vec<i64>, StoreError> {
    Ok(sqlx::query_scalar(
        "WITH RECURSIVE up(id, depth) AS (
            SELECT duplicate_of, 1 FROM incidents WHERE ticket_id = $1 AND duplicate_of IS NOT NULL
            UNION ALL
            SELECT i.duplicate_of, up.depth + 1 FROM incidents i JOIN up ON i.ticket_id = up.id
            WHERE i.duplicate_of IS NOT NULL AND up.depth < 100
         )
         SELECT id FROM up ORDER BY depth",
    )
    .bind(id)
    .fetch_all(conn)
    .await?)
}

/// Records incident ticket `duplicate` as a duplicate of `target`, makes
/// the duplicate's reporter (where they reported it) and its own followers
/// follow `target`.
pub async fn mark(
    conn: &mut PgConnection,
    duplicate: i64,
    target: i64,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "WITH marked AS (
            UPDATE incidents SET duplicate_of = $2 WHERE ticket_id = $1 RETURNING ticket_id
         ), reporter AS (
            INSERT INTO ticket_followers (ticket_id, user_id, platform, channel, thread, via, added_at)
            SELECT $2, t.reporter, t.origin_platform, t.origin_channel,
                   coalesce(t.origin_thread, t.origin_message), t.id, $3
            FROM tickets t JOIN marked ON marked.ticket_id = t.id
            -- The target's own reporter hears anyway.
            WHERE t.reporter <> (SELECT reporter FROM tickets WHERE id = $2)
            ON CONFLICT DO NOTHING
         )
         INSERT INTO ticket_followers (ticket_id, user_id, platform, channel, thread, via, added_at)
         SELECT $2, f.user_id, f.platform, f.channel, f.thread, f.via, $3
         FROM ticket_followers f WHERE f.ticket_id = $1
         ON CONFLICT DO NOTHING",
    )
    .bind(duplicate)
    .bind(target)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// A `ticket_followers` row as read: user, platform, channel, thread, the
/// duplicate's number.
type FollowerRow = (String, String, String, Option<String>, Option<i64>);

/// The followers of ticket `id`, in the order they came.
pub async fn followers(conn: &mut PgConnection, id: i64) -> Result<Vec<Follower>, StoreError> {
    let rows: Vec<FollowerRow> = sqlx::query_as(
        "SELECT f.user_id, f.platform, f.channel, f.thread, v.number
         FROM ticket_followers f LEFT JOIN tickets v ON v.id = f.via
         WHERE f.ticket_id = $1 ORDER BY f.added_at, f.user_id",
    )
    .bind(id)
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|(user, platform, channel, thread, via)| {
            let corrupt =
                |what: &str| StoreError::Corrupt(format!("follower of ticket {id}: {what}"));
            Ok(Follower {
                user: user.parse().map_err(|_| corrupt("bad user"))?,
                platform: platform.parse().map_err(|_| corrupt("bad platform"))?,
                channel,
                thread,
                via,
            })
        })
        .collect()
}

/// Sets incident ticket `id`'s service (a triage suggestion accepted).
pub async fn set_service(
    conn: &mut PgConnection,
    id: i64,
    service_id: i64,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE tickets SET service_id = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(service_id)
        .bind(at)
        .execute(conn)
        .await?;
    Ok(())
}

//! The outbox: posts and edits owed to chat platforms.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::messages::PostedMessage;
use super::StoreError;
use crate::domain::Platform;

/// What an outbox row asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxKind {
    /// Post the ticket's card, or update it in place when it exists.
    TicketMessage,
    /// Ask the reporter for a satisfaction score.
    Survey,
    /// Post a notice (an SLA warning, a digest) to a channel.
    Notice,
    /// Send a message to one person directly (`channel` holds their
    /// platform id): an approver asked to approve, a requester told of a
    /// step.
    Direct,
}

impl OutboxKind {
    fn as_str(self) -> &'static str {
        match self {
            OutboxKind::TicketMessage => "ticket_message",
            OutboxKind::Survey => "survey",
            OutboxKind::Notice => "notice",
            OutboxKind::Direct => "direct",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "ticket_message" => Ok(OutboxKind::TicketMessage),
            "survey" => Ok(OutboxKind::Survey),
            "notice" => Ok(OutboxKind::Notice),
            "direct" => Ok(OutboxKind::Direct),
            other => Err(StoreError::Corrupt(format!(
                "unknown outbox kind `{other}`"
            ))),
        }
    }
}

/// One claimed outbox row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    pub id: i64,
    pub kind: OutboxKind,
    /// The ticket a card or survey is about; a notice may have none.
    pub ticket_id: Option<i64>,
    pub attempts: i32,
    /// Where a notice goes, and what it says.
    pub channel: Option<String>,
    pub thread: Option<String>,
    pub body: Option<String>,
}

/// Queues `kind` for `ticket_id` on `platform`. Every change queues its own
/// row, even when an update is already waiting: that one may be in flight
/// with an older state. The worker coalesces what it can.
pub async fn enqueue(
    conn: &mut PgConnection,
    platform: Platform,
    kind: OutboxKind,
    ticket_id: i64,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO outbox (platform, kind, ticket_id, created_at, not_before) VALUES ($1, $2, $3, $4, $4)",
    )
    .bind(platform.as_str())
    .bind(kind.as_str())
    .bind(ticket_id)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Queues an update of ticket `ticket_id`'s card on every platform of
/// `delivering` that shows it or that it came from (`origin`), in one
/// statement. True when any was queued.
pub async fn enqueue_cards(
    conn: &mut PgConnection,
    ticket_id: i64,
    origin: Platform,
    delivering: &[Platform],
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let delivering: Vec<&str> = delivering.iter().map(|p| p.as_str()).collect();
    let queued = sqlx::query(
        "INSERT INTO outbox (platform, kind, ticket_id, created_at, not_before)
         SELECT shown.platform, 'ticket_message', $1, $3, $3
         FROM (SELECT platform FROM ticket_messages WHERE ticket_id = $1
               UNION SELECT $2) AS shown
         WHERE shown.platform = ANY($4::text[])",
    )
    .bind(ticket_id)
    .bind(origin.as_str())
    .bind(at)
    .bind(&delivering)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(queued > 0)
}

/// Queues a notice: `body` posted to `channel` (in `thread` when given).
pub async fn enqueue_notice(
    conn: &mut PgConnection,
    platform: Platform,
    channel: &str,
    thread: Option<&str>,
    body: &str,
    ticket_id: Option<i64>,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    insert_message(
        conn,
        OutboxKind::Notice,
        platform,
        channel,
        thread,
        body,
        ticket_id,
        at,
    )
    .await
}

/// Queues a direct message: `body` sent to the person whose platform id
/// is `user`.
pub async fn enqueue_direct(
    conn: &mut PgConnection,
    platform: Platform,
    user: &str,
    body: &str,
    ticket_id: Option<i64>,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    insert_message(
        conn,
        OutboxKind::Direct,
        platform,
        user,
        None,
        body,
        ticket_id,
        at,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn insert_message(
    conn: &mut PgConnection,
    kind: OutboxKind,
    platform: Platform,
    channel: &str,
    thread: Option<&str>,
    body: &str,
    ticket_id: Option<i64>,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO outbox (platform, kind, ticket_id, channel, thread, body, created_at, not_before)
         VALUES ($1, $7, $2, $3, $4, $5, $6, $6)",
    )
    .bind(platform.as_str())
    .bind(ticket_id)
    .bind(channel)
    .bind(thread)
    .bind(body)
    .bind(at)
    .bind(kind.as_str())
    .execute(conn)
    .await?;
    Ok(())
}

/// Finds up to `limit` of the oldest due, unleased rows for `platform`
/// (skipping cards whose ticket another worker is sending) and locks them
/// until the transaction ends; other workers skip them. [`lease_batch`]
/// makes the claim outlast the transaction.
pub async fn claim(
    conn: &mut PgConnection,
    platform: Platform,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<OutboxItem>, StoreError> {
    type Row = (
        i64,
        String,
        Option<i64>,
        i32,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, kind, ticket_id, attempts, channel, thread, body FROM outbox o
         WHERE platform = $1 AND sent_at IS NULL AND failed_at IS NULL AND not_before <= $2
           AND (claimed_until IS NULL OR claimed_until <= $2)
           AND NOT (kind = 'ticket_message' AND EXISTS (
                SELECT 1 FROM outbox c
                WHERE c.ticket_id = o.ticket_id AND c.platform = o.platform
                  AND c.kind = 'ticket_message' AND coalesce(c.sent_at, c.failed_at) IS NULL
                  AND c.claimed_until > $2))
         ORDER BY not_before, id
         LIMIT $3
         FOR UPDATE SKIP LOCKED",
    )
    .bind(platform.as_str())
    .bind(now)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|(id, kind, ticket_id, attempts, channel, thread, body)| {
            Ok(OutboxItem {
                id,
                kind: OutboxKind::parse(&kind)?,
                ticket_id,
                attempts,
                channel,
                thread,
                body,
            })
        })
        .collect()
}

/// Takes the card lock of every ticket in `tickets` that no other worker
/// holds, until the transaction ends, and returns those tickets. One worker
/// at a time leases a ticket's card, so two replicas never both post it; a
/// ticket whose lock is taken is another worker's to send now. The lock
/// must be taken in a statement *before* [`lease_batch`]: a statement sees
/// only what was committed when it began.
pub async fn try_lock_tickets(
    conn: &mut PgConnection,
    tickets: &[i64],
) -> Result<Vec<i64>, StoreError> {
    if tickets.is_empty() {
        return Ok(Vec::new());
    }
    Ok(sqlx::query_scalar(
        "SELECT ticket FROM unnest($1::bigint[]) AS ticket WHERE pg_try_advisory_xact_lock(ticket)",
    )
    .bind(tickets)
    .fetch_all(conn)
    .await?)
}

/// Leases claimed rows until `until`, in one statement: the rows in
/// `others` (surveys, notices) as they are, and for each `(ticket, row)` in
/// `cards` the card row with every waiting update of the same card, unless
/// another worker holds a lease on that card. Returns, per leased card, its
/// ticket and the row ids it covers; a ticket missing from the answer was
/// busy and nothing of it was leased. Call it holding the tickets'
/// [`try_lock_tickets`] locks, so the check sees every lease committed
/// before.
///
/// The waiting updates are read *before* the tickets' state is read for
/// rendering: every change behind them is then in what gets rendered, so
/// they may be marked sent with it. Rows committed later stay waiting, so no
/// change is lost to coalescing.
pub async fn lease_batch(
    conn: &mut PgConnection,
    platform: Platform,
    cards: &[(i64, i64)],
    others: &[i64],
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<(i64, Vec<i64>)>, StoreError> {
    let (tickets, rows): (Vec<i64>, Vec<i64>) = cards.iter().copied().unzip();
    Ok(sqlx::query_as(
        // Each card's rows are looked up per ticket (a lateral subquery on
        // the leading column of `outbox_by_ticket`), not by a join the
        // planner may turn into a scan of every waiting row: a statement
        // prepared while the outbox was small kept such a plan (by
        // auto_explain, 18–26 ms a batch at 2,000 waiting rows instead of
        // under 1 ms). "Unsent" is written `coalesce(sent_at, failed_at) IS
        // NULL` so that the partial `outbox_due` cannot serve it: see
        // migration 0018.
        "WITH claimed AS (
            SELECT * FROM unnest($1::bigint[], $2::bigint[]) AS c(ticket_id, item_id)
         ), free AS (
            SELECT c.ticket_id, c.item_id FROM claimed c
            CROSS JOIN LATERAL (
                SELECT count(*) AS held FROM outbox o
                WHERE o.ticket_id = c.ticket_id AND o.platform = $3
                  AND o.kind = 'ticket_message' AND coalesce(o.sent_at, o.failed_at) IS NULL
                  AND o.claimed_until > $4
            ) busy
            WHERE busy.held = 0
         ), waiting AS (
            -- Rows another worker holds are its to send.
            SELECT w.id FROM free f
            CROSS JOIN LATERAL (
                SELECT o.id FROM outbox o
                WHERE o.ticket_id = f.ticket_id AND o.platform = $3
                  AND o.kind = 'ticket_message' AND coalesce(o.sent_at, o.failed_at) IS NULL
                FOR UPDATE SKIP LOCKED
            ) w
         ), leased AS (
            -- One id array, so the update looks rows up by primary key.
            UPDATE outbox SET claimed_until = $5
            WHERE id = ANY(ARRAY(SELECT id FROM waiting UNION SELECT item_id FROM free
                                 UNION SELECT unnest($6::bigint[])))
            RETURNING id, ticket_id, kind
         )
         SELECT ticket_id, array_agg(id ORDER BY id) FROM leased
         WHERE kind = 'ticket_message' AND ticket_id = ANY($1)
         GROUP BY ticket_id",
    )
    .bind(&tickets)
    .bind(&rows)
    .bind(platform.as_str())
    .bind(now)
    .bind(until)
    .bind(others)
    .fetch_all(conn)
    .await?)
}

/// Leases rows `ids` to the claiming worker until `until`.
pub async fn lease(
    conn: &mut PgConnection,
    ids: &[i64],
    until: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE outbox SET claimed_until = $2 WHERE id = ANY($1)")
        .bind(ids)
        .bind(until)
        .execute(conn)
        .await?;
    Ok(())
}

/// Marks rows `ids` sent and records where each card in `cards` (ticket
/// and message, at most one per ticket) now is on `platform`, in one
/// statement: no transaction is needed around it, it commits as a whole.
pub async fn mark_sent(
    conn: &mut PgConnection,
    ids: &[i64],
    platform: Platform,
    cards: &[(i64, &PostedMessage)],
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let tickets: Vec<i64> = cards.iter().map(|(ticket, _)| *ticket).collect();
    let channels: Vec<&str> = cards.iter().map(|(_, m)| m.channel.as_str()).collect();
    let messages: Vec<&str> = cards.iter().map(|(_, m)| m.message_id.as_str()).collect();
    let threads: Vec<&str> = cards.iter().map(|(_, m)| m.thread.as_str()).collect();
    sqlx::query(
        "WITH card AS (
            INSERT INTO ticket_messages (ticket_id, platform, channel, message_id, thread, posted_at, updated_at)
            SELECT ticket, $3, channel, message, thread, $2, $2
            FROM unnest($4::bigint[], $5::text[], $6::text[], $7::text[]) AS c(ticket, channel, message, thread)
            ON CONFLICT (ticket_id, platform) DO UPDATE
               SET channel = EXCLUDED.channel, message_id = EXCLUDED.message_id,
                   thread = EXCLUDED.thread, updated_at = EXCLUDED.updated_at
         )
         UPDATE outbox SET sent_at = $2, claimed_until = NULL WHERE id = ANY($1) AND sent_at IS NULL",
    )
    .bind(ids)
    .bind(at)
    .bind(platform.as_str())
    .bind(&tickets)
    .bind(&channels)
    .bind(&messages)
    .bind(&threads)
    .execute(conn)
    .await?;
    Ok(())
}

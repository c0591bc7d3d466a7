//! The outbox: posts and edits owed to chat platforms.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::messages::PostedMessage;
use super::StoreError;
use crate::domain::pace::Pace;
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
    /// Post a channel's summary of waiting cards, or edit it when posted.
    Summary,
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
            OutboxKind::Summary => "summary",
            OutboxKind::Direct => "direct",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "ticket_message" => Ok(OutboxKind::TicketMessage),
            "survey" => Ok(OutboxKind::Survey),
            "notice" => Ok(OutboxKind::Notice),
            "summary" => Ok(OutboxKind::Summary),
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
    /// The summary a summary row posts or edits.
    pub summary_id: Option<i64>,
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
        Option<i64>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, kind, ticket_id, attempts, channel, thread, body, summary_id FROM outbox o
         WHERE platform = $1 AND sent_at IS NULL AND failed_at IS NULL AND not_before <= $2
           AND (claimed_until IS NULL OR claimed_until <= $2)
           AND NOT (kind = 'ticket_message' AND EXISTS (
                SELECT 1 FROM outbox c
                WHERE c.ticket_id = o.ticket_id AND c.platform = o.platform
                  AND c.kind = 'ticket_message' AND coalesce(c.sent_at, c.failed_at) IS NULL
                  AND c.claimed_until > $2))
           AND NOT (kind = 'summary' AND EXISTS (
                SELECT 1 FROM outbox c
                WHERE c.summary_id = o.summary_id AND c.kind = 'summary'
                  AND c.sent_at IS NULL AND c.failed_at IS NULL AND c.claimed_until > $2))
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
        .map(
            |(id, kind, ticket_id, attempts, channel, thread, body, summary_id)| {
                Ok(OutboxItem {
                    id,
                    kind: OutboxKind::parse(&kind)?,
                    ticket_id,
                    attempts,
                    channel,
                    thread,
                    body,
                    summary_id,
                })
            },
        )
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

/// Takes sends from the pace keys in `wanted` (each pace with how many
/// sends the caller would like now) at `now`, under a row lock per key, so
/// that every worker and replica shares one budget per key. Returns, in the
/// order of `wanted`, how many may go now and when the next may go. Give
/// each key once.
pub async fn take_pace(
    conn: &mut PgConnection,
    platform: Platform,
    wanted: &[(&Pace, u32)],
    now: DateTime<Utc>,
) -> Result<Vec<(u32, DateTime<Utc>)>, StoreError> {
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let mut keys: Vec<&str> = wanted.iter().map(|(pace, _)| pace.key.as_str()).collect();
    // One lock order for every worker: no deadlock between two claims.
    keys.sort_unstable();
    keys.dedup();
    sqlx::query(
        "INSERT INTO outbox_pace (platform, key, next_at)
         SELECT $1, key, $3 FROM unnest($2::text[]) AS key ORDER BY key
         ON CONFLICT DO NOTHING",
    )
    .bind(platform.as_str())
    .bind(&keys)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    let states: Vec<(String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT key, next_at FROM outbox_pace WHERE platform = $1 AND key = ANY($2)
         ORDER BY key FOR UPDATE",
    )
    .bind(platform.as_str())
    .bind(&keys)
    .fetch_all(&mut *conn)
    .await?;
    let mut taken = Vec::with_capacity(wanted.len());
    let mut updated: Vec<(String, DateTime<Utc>)> = Vec::with_capacity(wanted.len());
    for (pace, count) in wanted {
        let state = states
            .iter()
            .find(|(key, _)| *key == pace.key)
            .map(|(_, next)| *next);
        let (granted, state, next) = pace.take(state, *count, now);
        taken.push((granted, next));
        updated.push((pace.key.clone(), state));
    }
    let (keys, states): (Vec<String>, Vec<DateTime<Utc>>) = updated.into_iter().unzip();
    sqlx::query(
        "UPDATE outbox_pace p SET next_at = u.next_at
         FROM unnest($2::text[], $3::timestamptz[]) AS u(key, next_at)
         WHERE p.platform = $1 AND p.key = u.key",
    )
    .bind(platform.as_str())
    .bind(&keys)
    .bind(&states)
    .execute(&mut *conn)
    .await?;
    Ok(taken)
}

/// Gives claimed rows `ids` back unsent until `until` (their channel's
/// next turn), noting the channel a card goes to when given: the claim
/// learns it when it renders the card, and the backlog of a channel is
/// counted by it.
pub async fn defer(
    conn: &mut PgConnection,
    ids: &[i64],
    until: DateTime<Utc>,
    channel: Option<&str>,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE outbox SET claimed_until = NULL, not_before = GREATEST(not_before, $2),
                channel = coalesce(channel, $3)
         WHERE id = ANY($1) AND sent_at IS NULL",
    )
    .bind(ids)
    .bind(until)
    .bind(channel)
    .execute(conn)
    .await?;
    Ok(())
}

/// Notes the channel each card row in `rows` goes to (`(row, channel)`),
/// where none is noted yet: the claim learns it when it renders the card,
/// and a channel's backlog is counted by it.
pub async fn note_channels(
    conn: &mut PgConnection,
    rows: &[(i64, &str)],
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let (ids, channels): (Vec<i64>, Vec<&str>) = rows.iter().copied().unzip();
    sqlx::query(
        "UPDATE outbox o SET channel = n.channel
         FROM unnest($1::bigint[], $2::text[]) AS n(id, channel)
         WHERE o.id = n.id AND o.channel IS NULL",
    )
    .bind(&ids)
    .bind(&channels)
    .execute(conn)
    .await?;
    Ok(())
}

/// How many posts wait for `channel` on `platform`: notices, and cards not
/// posted yet (counted once per ticket) whose channel is known.
pub async fn post_backlog(
    conn: &mut PgConnection,
    platform: Platform,
    channel: &str,
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT count(DISTINCT CASE WHEN o.kind = 'notice' THEN -o.id ELSE o.ticket_id END)
         FROM outbox o
         WHERE o.platform = $1 AND o.channel = $2 AND o.sent_at IS NULL AND o.failed_at IS NULL
           AND (o.kind = 'notice' OR (o.kind = 'ticket_message' AND NOT EXISTS (
                SELECT 1 FROM ticket_messages m
                WHERE m.ticket_id = o.ticket_id AND m.platform = o.platform)))",
    )
    .bind(platform.as_str())
    .bind(channel)
    .fetch_one(conn)
    .await?)
}

/// The open summary of `channel` on `platform` that a ticket joined within
/// `fresh` of `now`. One whose storm is over (nothing joined for longer) is
/// closed first: the channel's next cards are posted one by one again.
pub async fn open_summary(
    conn: &mut PgConnection,
    platform: Platform,
    channel: &str,
    now: DateTime<Utc>,
    fresh: std::time::Duration,
) -> Result<Option<i64>, StoreError> {
    let since = now - chrono::Duration::from_std(fresh).unwrap_or(chrono::Duration::seconds(10));
    sqlx::query(
        "UPDATE outbox_summaries SET closed_at = $3
         WHERE platform = $1 AND channel = $2 AND closed_at IS NULL AND updated_at < $4",
    )
    .bind(platform.as_str())
    .bind(channel)
    .bind(now)
    .bind(since)
    .execute(&mut *conn)
    .await?;
    Ok(sqlx::query_scalar(
        "SELECT id FROM outbox_summaries WHERE platform = $1 AND channel = $2 AND closed_at IS NULL",
    )
    .bind(platform.as_str())
    .bind(channel)
    .fetch_optional(conn)
    .await?)
}

/// Lists the waiting card posts of `channel` on `platform` in its open
/// summary (opened now if there is none) instead of posting them: those no
/// other worker holds, and this claim's rows `mine` (a row of a ticket
/// whose card is posted stays: its card is edited in place). The rows count
/// as delivered through the summary, and the summary is queued for a post or
/// an edit. Returns the summary and the rows that joined it.
pub async fn summarize(
    conn: &mut PgConnection,
    platform: Platform,
    channel: &str,
    mine: &[i64],
    now: DateTime<Utc>,
) -> Result<(i64, Vec<i64>), StoreError> {
    // Through a storm the channel's summary is open at nearly every claim:
    // it is touched first, and opened only when there is none (one
    // statement a claim instead of an insert that conflicts, then the
    // touch). An insert racing another claim's waits for it and does
    // nothing; the second touch then finds the one that claim opened.
    let summary = match touch_open_summary(conn, platform, channel, now).await? {
        Some(summary) => summary,
        None => {
            sqlx::query(
                "INSERT INTO outbox_summaries (platform, channel, opened_at, updated_at)
                 VALUES ($1, $2, $3, $3)
                 ON CONFLICT (platform, channel) WHERE closed_at IS NULL DO NOTHING",
            )
            .bind(platform.as_str())
            .bind(channel)
            .bind(now)
            .execute(&mut *conn)
            .await?;
            touch_open_summary(conn, platform, channel, now)
                .await?
                .ok_or(sqlx::Error::RowNotFound)?
        }
    };
    let joined: Vec<i64> = sqlx::query_scalar(
        "WITH theirs AS (
            -- The channel's cards no worker holds, read through the
            -- channel's waiting cards (`outbox_waiting_cards`). Apart from
            -- the claim's own rows: as one condition with an OR, the pair
            -- was planned as a pass over the platform's whole backlog
            -- whenever the outbox's statistics said it was small (analyzed
            -- before a burst), 4 ms a claim in a storm.
            SELECT o.id, o.ticket_id FROM outbox o
            WHERE o.platform = $1 AND o.channel = $2 AND o.kind = 'ticket_message'
              AND o.sent_at IS NULL AND o.failed_at IS NULL
              AND (o.claimed_until IS NULL OR o.claimed_until <= $4)
              AND NOT EXISTS (SELECT 1 FROM ticket_messages m
                              WHERE m.ticket_id = o.ticket_id AND m.platform = o.platform)
            FOR UPDATE SKIP LOCKED
         ), mine AS (
            -- This claim's rows (already locked by this transaction), by
            -- their ids alone: written `sent_at IS NULL AND failed_at IS
            -- NULL`, the test let the planner read them through `outbox_due`
            -- (a partial index of every waiting row) and filter the ids.
            SELECT o.id, o.ticket_id FROM outbox o
            WHERE o.id = ANY($5) AND o.platform = $1 AND o.kind = 'ticket_message'
              AND coalesce(o.sent_at, o.failed_at) IS NULL
              AND NOT EXISTS (SELECT 1 FROM ticket_messages m
                              WHERE m.ticket_id = o.ticket_id AND m.platform = o.platform)
            FOR UPDATE SKIP LOCKED
         ), posts AS (
            SELECT id, ticket_id FROM theirs UNION SELECT id, ticket_id FROM mine
         ), listed AS (
            INSERT INTO outbox_summary_tickets (summary_id, ticket_id)
            SELECT DISTINCT $3::bigint, ticket_id FROM posts
            ON CONFLICT DO NOTHING
            RETURNING ticket_id
         ), counted AS (
            -- The summary's counts follow its list (`summary_post`).
            UPDATE outbox_summaries
            SET listed = listed + (SELECT count(*) FROM listed),
                listed_incidents = listed_incidents + (
                    SELECT count(*) FROM listed JOIN tickets t ON t.id = listed.ticket_id
                    WHERE t.kind = 'incident')
            WHERE id = $3
         )
         UPDATE outbox SET sent_at = $4, claimed_until = NULL, summary_id = $3
         WHERE id IN (SELECT id FROM posts)
         RETURNING id",
    )
    .bind(platform.as_str())
    .bind(channel)
    .bind(summary)
    .bind(now)
    .bind(mine)
    .fetch_all(&mut *conn)
    .await?;
    // Nothing joined (every row was of a card posted on its own, or held
    // by another worker): the summary shows what it showed.
    if !joined.is_empty() {
        queue_summary(conn, platform, summary, channel, now).await?;
    }
    Ok((summary, joined))
}

/// Marks the open summary of `channel` on `platform` as joined `now` (so
/// it stays open) and returns it; `None` when the channel has none.
async fn touch_open_summary(
    conn: &mut PgConnection,
    platform: Platform,
    channel: &str,
    now: DateTime<Utc>,
) -> Result<Option<i64>, StoreError> {
    Ok(sqlx::query_scalar(
        "UPDATE outbox_summaries SET updated_at = $3
         WHERE platform = $1 AND channel = $2 AND closed_at IS NULL
         RETURNING id",
    )
    .bind(platform.as_str())
    .bind(channel)
    .bind(now)
    .fetch_optional(conn)
    .await?)
}

/// Queues a post or edit of summary `summary`, unless one is already
/// waiting that no worker holds (it will show the latest state).
///
/// "Holds" includes a worker that has locked the waiting row in a claim
/// not yet committed: it may be rendering the summary before this
/// transaction's tickets are visible, and its row cannot cover them. So
/// the waiting row counts only if this statement can lock it (`FOR UPDATE
/// SKIP LOCKED`, never waiting); locked, it stays with this transaction
/// until the end, so no claim renders it before these tickets show. (An
/// advisory lock here instead deadlocked against `open_summary`.)
pub async fn queue_summary(
    conn: &mut PgConnection,
    platform: Platform,
    summary: i64,
    channel: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "WITH waiting AS (
            SELECT id FROM outbox WHERE summary_id = $2 AND kind = 'summary'
              AND sent_at IS NULL AND failed_at IS NULL
              AND (claimed_until IS NULL OR claimed_until <= $4)
            FOR UPDATE SKIP LOCKED)
         INSERT INTO outbox (platform, kind, summary_id, channel, created_at, not_before)
         SELECT $1, 'summary', $2, $3, $4, $4
         WHERE NOT EXISTS (SELECT 1 FROM waiting)",
    )
    .bind(platform.as_str())
    .bind(summary)
    .bind(channel)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// The summaries on `platform` that list any of `tickets`: `(ticket,
/// summary, channel)`. A listed ticket has the summary for its card there.
pub async fn summaries_of(
    conn: &mut PgConnection,
    platform: Platform,
    tickets: &[i64],
) -> Result<Vec<(i64, i64, String)>, StoreError> {
    if tickets.is_empty() {
        return Ok(Vec::new());
    }
    // Ticket by ticket, each looked up by its own id, so no plan can read
    // a whole summary's list: a storm's summary lists thousands of
    // tickets, and the plan cached for `ticket_id = ANY(...)` (made while
    // the summaries were small) read every ticket of the summary and
    // filtered them, 2 ms a claim and growing with the storm. The array
    // is read through a subquery so the cached plan is kept (as in
    // `store::opening`).
    Ok(sqlx::query_as(
        "SELECT x.ticket_id, l.id, l.channel
         FROM unnest((SELECT $1::bigint[])) AS x(ticket_id)
         CROSS JOIN LATERAL (
            SELECT s.id, s.channel
            FROM outbox_summary_tickets t JOIN outbox_summaries s ON s.id = t.summary_id
            WHERE t.ticket_id = x.ticket_id AND s.platform = $2
            ORDER BY s.id DESC
            LIMIT 1
         ) l",
    )
    .bind(tickets)
    .bind(platform.as_str())
    .fetch_all(conn)
    .await?)
}

/// Marks card rows `ids` delivered through summary `summary` (their
/// ticket is listed there) and queues the summary's edit.
pub async fn fold_into_summary(
    conn: &mut PgConnection,
    platform: Platform,
    ids: &[i64],
    summary: i64,
    channel: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE outbox SET sent_at = $2, claimed_until = NULL, summary_id = $3
         WHERE id = ANY($1) AND sent_at IS NULL",
    )
    .bind(ids)
    .bind(now)
    .bind(summary)
    .execute(&mut *conn)
    .await?;
    queue_summary(conn, platform, summary, channel, now).await
}

/// Takes the summary lock of every summary in `summaries` that no other
/// worker holds or has leased a post of, until the transaction ends, and
/// returns those: one worker at a time sends a summary, so two replicas
/// never both post it. (The lock space is the tickets' card locks
/// negated.)
pub async fn try_lock_summaries(
    conn: &mut PgConnection,
    summaries: &[i64],
    now: DateTime<Utc>,
) -> Result<Vec<i64>, StoreError> {
    if summaries.is_empty() {
        return Ok(Vec::new());
    }
    let locked: Vec<i64> = sqlx::query_scalar(
        "SELECT s FROM unnest($1::bigint[]) AS s WHERE pg_try_advisory_xact_lock(-s)",
    )
    .bind(summaries)
    .fetch_all(&mut *conn)
    .await?;
    // A statement after the lock sees every lease committed before it.
    let busy: Vec<i64> = sqlx::query_scalar(
        "SELECT DISTINCT summary_id FROM outbox
         WHERE summary_id = ANY($1) AND kind = 'summary'
           AND sent_at IS NULL AND failed_at IS NULL AND claimed_until > $2",
    )
    .bind(&locked)
    .bind(now)
    .fetch_all(conn)
    .await?;
    Ok(locked.into_iter().filter(|s| !busy.contains(s)).collect())
}

/// What a summary post shows and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryPost {
    pub channel: String,
    /// Where it landed, once posted.
    pub posted: Option<PostedMessage>,
    /// Its first tickets, oldest first (as many as asked for): reference,
    /// title, priority (1–4) and status.
    pub tickets: Vec<(String, String, Option<i16>, String)>,
    /// How many tickets it lists in all.
    pub listed: i64,
    /// How many of them are incidents.
    pub listed_incidents: i64,
}

/// Summary `summary`, if it exists, naming its first `shown` tickets.
///
/// Reads those tickets alone (the list in ticket order, from its primary
/// key) and the counts kept with the summary: a storm's summary lists
/// thousands, and it is read at every edit.
pub async fn summary_post(
    conn: &mut PgConnection,
    summary: i64,
    shown: i64,
) -> Result<Option<SummaryPost>, StoreError> {
    type Head = (String, Option<String>, Option<String>, i32, i32);
    let Some((channel, message_id, thread, listed, listed_incidents)): Option<Head> =
        sqlx::query_as(
            "SELECT channel, message_id, thread, listed, listed_incidents
             FROM outbox_summaries WHERE id = $1",
        )
        .bind(summary)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    let tickets = sqlx::query_as(
        "SELECT CASE t.kind WHEN 'incident' THEN 'INC-' WHEN 'problem' THEN 'PRB-'
                            WHEN 'change' THEN 'CHG-' WHEN 'request' THEN 'REQ-' ELSE '' END || t.number,
                t.title, t.priority, t.status
         FROM (SELECT ticket_id FROM outbox_summary_tickets WHERE summary_id = $1
               ORDER BY ticket_id LIMIT $2) s
         JOIN tickets t ON t.id = s.ticket_id
         ORDER BY t.id",
    )
    .bind(summary)
    .bind(shown)
    .fetch_all(conn)
    .await?;
    let posted = message_id.map(|message_id| PostedMessage {
        channel: channel.clone(),
        thread: thread.unwrap_or_else(|| message_id.clone()),
        message_id,
    });
    Ok(Some(SummaryPost {
        channel,
        posted,
        tickets,
        listed: i64::from(listed),
        listed_incidents: i64::from(listed_incidents),
    }))
}

/// Records where summary `summary` landed, the first time.
pub async fn summary_posted(
    conn: &mut PgConnection,
    summary: i64,
    posted: &PostedMessage,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE outbox_summaries SET message_id = $2, thread = $3
         WHERE id = $1 AND message_id IS NULL",
    )
    .bind(summary)
    .bind(&posted.message_id)
    .bind(&posted.thread)
    .execute(conn)
    .await?;
    Ok(())
}

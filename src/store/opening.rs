//! Opening an incident in one statement: its ticket and incident rows, its
//! first timeline events, its SLA clock rows (outcome and next checkpoint),
//! the outbox rows for its cards (with the channel they go to), the claim on
//! the chat delivery that asked for it, and the known errors its title
//! matches.
//!
//! Opening is the commonest write, and PostgreSQL's cost per command is
//! mostly per statement: one data-modifying CTE does in one round trip what
//! took eight, and needs no transaction around it. [`open_all`] opens many
//! incidents (a delivery of alerts) in one statement the same way.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::problems::known_errors_matching;
use super::sla::OutcomeColumns;
use super::timeline::EventColumns;
use super::StoreError;
use crate::domain::incident::NewIncident;
use crate::domain::pace::STORM_CARD_WAIT;
use crate::domain::problem::KnownErrorMatch;
use crate::domain::sla::{Checkpoint, ClockView};
use crate::domain::timeline::NewEvent;
use crate::domain::{Platform, UserId};

/// Everything a new incident starts with.
#[derive(Debug)]
pub struct Opening<'a> {
    pub incident: &'a NewIncident,
    pub service_id: Option<i64>,
    pub at: DateTime<Utc>,
    /// Who the first events are recorded under.
    pub actor: &'a UserId,
    pub events: &'a [NewEvent],
    /// What each running clock's row stands for: its first checkpoint
    /// ([`SlaPolicy::next_checkpoints`]).
    ///
    /// [`SlaPolicy::next_checkpoints`]: crate::domain::sla::SlaPolicy::next_checkpoints
    pub checkpoints: &'a [Checkpoint],
    /// Each clock's standing, one row per clock with its checkpoint.
    pub outcomes: &'a [ClockView],
    /// Platforms to queue a card for.
    pub cards: &'a [Platform],
    /// The chat delivery asking for it: the incident is opened only if this
    /// delivery has not been handled before.
    pub delivery: Option<(Platform, &'a str)>,
    /// Search the known errors for this title (at most `limit`, sharing at
    /// least `min_shared` words).
    pub known_errors: Option<KnownErrorSearch<'a>>,
}

/// A known-error search to run with the opening.
#[derive(Debug, Clone, Copy)]
pub struct KnownErrorSearch<'a> {
    pub title: &'a str,
    pub min_shared: i64,
    pub limit: i64,
}

/// What opening did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    /// The incident is stored as ticket `id`, number `number`.
    New {
        id: i64,
        number: i64,
        known_errors: Vec<KnownErrorMatch>,
        /// Whether a card was queued that is due now (none waits for a
        /// storm's next fold): the outbox has something to send.
        cards_due: bool,
    },
    /// The delivery was handled before (or is being handled by another
    /// worker, which has now committed): nothing was written.
    AlreadyHandled,
}

// The ticket id is drawn first so the delivery's claim can name it; the
// incident number only once the claim succeeded, so a redelivery leaves
// no gap in the INC numbers.
static OPEN_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH new_ticket AS (
            -- COALESCE stops at the first argument that is not NULL: a
            -- reserved id draws nothing more from the sequence.
            SELECT coalesce($32::bigint, nextval('tickets_id_seq')) AS id
         ), claim AS (
            INSERT INTO processed_inbound (platform, event_id, processed_at, ticket_id)
            SELECT $27, $28, $10, id FROM new_ticket WHERE $28::text IS NOT NULL
            ON CONFLICT DO NOTHING
            RETURNING ticket_id
         ), ticket AS (
            INSERT INTO tickets (id, kind, number, title, description, status, priority, service_id,
                                 reporter, origin_platform, origin_channel, origin_thread,
                                 origin_message, created_at, updated_at)
            SELECT id, 'incident', nextval('incident_number_seq'), $1, $2, 'new', $3, $4,
                   $5, $6, $7, $8, $9, $10, $10
            FROM new_ticket
            WHERE $28::text IS NULL OR EXISTS (SELECT 1 FROM claim)
            RETURNING id, number
         ), details AS (
            INSERT INTO incidents (ticket_id, impact, urgency) SELECT id, $11, $12 FROM ticket
         ), events AS (
            INSERT INTO ticket_events (ticket_id, at, actor, action, from_value, to_value, body)
            SELECT ticket.id, $10, $13, e.action, e.from_value, e.to_value, e.body
            FROM ticket, UNNEST($14::text[], $15::text[], $16::text[], $17::text[])
                 WITH ORDINALITY AS e(action, from_value, to_value, body, n)
            ORDER BY e.n
         ), clocks AS (
            INSERT INTO sla_outcomes (ticket_id, clock, target_seconds, due_at, stopped_at, met, margin_seconds,
                                      next_threshold, next_due_at, priority)
            SELECT ticket.id, o.*, $3
            FROM ticket, UNNEST($18::text[], $19::bigint[], $20::timestamptz[], $21::timestamptz[],
                                $22::bool[], $23::bigint[], $24::smallint[], $25::timestamptz[]) AS o
         ), cards AS (
            -- An incident's card goes to the channel it was reported in:
            -- written here, the outbox can fold it into a storm's summary
            -- without reading the incident first; while that channel is
            -- storming, it waits for the next fold (`card_due`).
            INSERT INTO outbox (platform, kind, ticket_id, created_at, not_before, channel)
            SELECT p, 'ticket_message', ticket.id, $10,
                   {due},
                   CASE WHEN p = $6 THEN $7 END
            FROM ticket, UNNEST($26::text[]) AS p
            RETURNING not_before
         )
         SELECT ticket.id, ticket.number, k.number, k.title, k.workaround,
                (SELECT coalesce(bool_or(not_before <= $10), false) FROM cards)
         FROM ticket LEFT JOIN LATERAL ({}) k ON true
         ORDER BY k.rank",
        known_errors_matching("$29", "$30", "$31"),
        due = card_due("p", "$6", "$7", "$10", "$33::interval"),
    )
});

/// When a new card of a ticket reported on `platform` in `channel` at `at`
/// is due, as SQL: on `card_platform`, at once; but while that channel is
/// storming, the card would only join its summary, and it waits `wait`
/// (`STORM_CARD_WAIT`) for the next fold. Storming is a summary open and
/// folded into within the last three waits: through a storm folds come
/// every one or two (the outbox looks every second), and a summary is
/// closed only by the next claim after the storm. One rule for both
/// opening statements.
fn card_due(card_platform: &str, platform: &str, channel: &str, at: &str, wait: &str) -> String {
    format!(
        "CASE WHEN {card_platform} = {platform} AND EXISTS (
                 SELECT 1 FROM outbox_summaries s
                 WHERE s.platform = {platform} AND s.channel = {channel} AND s.closed_at IS NULL
                   AND s.updated_at > {at} - 3 * {wait})
              THEN {at} + {wait} ELSE {at} END"
    )
}

/// Draws the id the next ticket will be stored under, for an [`Opening`]
/// whose id must be known before it is written: reads run beside the
/// opening leave the new ticket out by this id, whether or not they
/// already see it committed. An id drawn and never used is a gap in the
/// ids, as after any failed insert; the INC numbers have none.
pub async fn reserve_ticket_id(conn: &mut PgConnection) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar("SELECT nextval('tickets_id_seq')")
        .fetch_one(conn)
        .await?)
}

/// The ticket's id and number, one known error it may be (none when those
/// three columns are NULL), and whether a card of it is due now.
type OpenedRow = (i64, i64, Option<i64>, Option<String>, Option<String>, bool);

/// How long a new card waits when its channel's storm summary is open,
/// as a bind.
fn storm_card_wait() -> chrono::Duration {
    chrono::Duration::from_std(STORM_CARD_WAIT).unwrap_or(chrono::Duration::seconds(1))
}

/// Opens the incident in one statement, as ticket `reserved_id` when one
/// was drawn beforehand ([`reserve_ticket_id`]), else under an id the
/// statement draws. Fails as a whole, writing nothing; a second report of
/// the same chat message fails with
/// `StoreError::Conflict("tickets_by_origin_message")`.
pub async fn open(
    conn: &mut PgConnection,
    opening: &Opening<'_>,
    reserved_id: Option<i64>,
) -> Result<Opened, StoreError> {
    let new = opening.incident;
    let events = EventColumns::of(opening.events);
    let clocks = OutcomeColumns::of(opening.outcomes, opening.checkpoints);
    let cards: Vec<&str> = opening.cards.iter().map(|p| p.as_str()).collect();
    let (delivery_platform, delivery_id) = match opening.delivery {
        Some((platform, id)) => (Some(platform.as_str()), Some(id)),
        None => (None, None),
    };
    let search = opening.known_errors;
    let rows: Vec<OpenedRow> = sqlx::query_as(&OPEN_SQL)
        .bind(new.title.as_str())
        .bind(&new.description)
        .bind(new.priority.as_i16())
        .bind(opening.service_id)
        .bind(new.reporter.to_string())
        .bind(new.origin.platform.as_str())
        .bind(&new.origin.channel)
        .bind(&new.origin.thread)
        .bind(&new.origin.message)
        .bind(opening.at)
        .bind(new.impact.as_str())
        .bind(new.urgency.as_str())
        .bind(opening.actor.to_string())
        .bind(&events.actions)
        .bind(&events.froms)
        .bind(&events.tos)
        .bind(&events.bodies)
        .bind(&clocks.clocks)
        .bind(&clocks.targets)
        .bind(&clocks.dues)
        .bind(&clocks.stops)
        .bind(&clocks.mets)
        .bind(&clocks.margins)
        .bind(&clocks.next_thresholds)
        .bind(&clocks.next_dues)
        .bind(&cards)
        .bind(delivery_platform)
        .bind(delivery_id)
        .bind(search.map(|s| s.title))
        .bind(search.map_or(0, |s| s.min_shared))
        .bind(search.map_or(0, |s| s.limit))
        .bind(reserved_id)
        .bind(storm_card_wait())
        .fetch_all(conn)
        .await?;
    let Some(&(id, number, .., cards_due)) = rows.first() else {
        return Ok(Opened::AlreadyHandled);
    };
    let known_errors = rows
        .into_iter()
        .filter_map(|(_, _, hint, title, workaround, _)| {
            Some(KnownErrorMatch {
                number: hint?,
                title: title?,
                workaround,
            })
        })
        .collect();
    Ok(Opened::New {
        id,
        number,
        known_errors,
        cards_due,
    })
}

// One statement for many incidents: each opening's values sit at the same
// place in the per-incident arrays (its ordinal `n`, from 1), and its
// events, clock rows and cards carry that `n` in a column of
// their own. The ids and numbers are drawn first and then paired with the
// ordinals by rank, so numbers follow the openings' order however the
// sequence calls happen to be evaluated.
//
// Every array is read through a subquery, `(SELECT $1::text[])`, so no plan
// sees how many openings a call has. A custom plan that saw them always
// looked cheaper than the generic one, and PostgreSQL planned the statement
// anew on every delivery (0.4 ms of each delivery's 5 ms in
// `itsm-bench alerts`); the generic plan it keeps now joins the same few
// rows. (The look-alike search does the same: `store::search`.)
static OPEN_ALL_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH ids AS MATERIALIZED (
        SELECT nextval('tickets_id_seq') AS id FROM generate_series(1, cardinality((SELECT $1::text[])))
     ), numbers AS MATERIALIZED (
        SELECT nextval('incident_number_seq') AS number FROM generate_series(1, cardinality((SELECT $1::text[])))
     ), new_ticket AS (
        SELECT i.n, i.id, m.number
        FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM ids) AS i
        JOIN (SELECT number, row_number() OVER (ORDER BY number) AS n FROM numbers) AS m USING (n)
     ), ticket AS (
        INSERT INTO tickets (id, kind, number, title, description, status, priority, service_id,
                             reporter, origin_platform, origin_channel, origin_thread,
                             origin_message, created_at, updated_at)
        SELECT t.id, 'incident', t.number, o.title, o.description, 'new', o.priority, o.service_id,
               o.reporter, o.platform, o.channel, o.thread, o.message, o.at, o.at
        FROM new_ticket t
        JOIN UNNEST((SELECT $1::text[]), (SELECT $2::text[]), (SELECT $3::smallint[]), (SELECT $4::bigint[]), (SELECT $5::text[]), (SELECT $6::text[]),
                    (SELECT $7::text[]), (SELECT $8::text[]), (SELECT $9::text[]), (SELECT $10::timestamptz[]))
             WITH ORDINALITY AS o(title, description, priority, service_id, reporter, platform,
                                  channel, thread, message, at, n) USING (n)
        ORDER BY t.n
        RETURNING id, number
     ), details AS (
        INSERT INTO incidents (ticket_id, impact, urgency)
        SELECT t.id, d.impact, d.urgency
        FROM new_ticket t JOIN UNNEST((SELECT $11::text[]), (SELECT $12::text[])) WITH ORDINALITY AS d(impact, urgency, n) USING (n)
     ), events AS (
        INSERT INTO ticket_events (ticket_id, at, actor, action, from_value, to_value, body)
        SELECT t.id, o.at, o.actor, e.action, e.from_value, e.to_value, e.body
        FROM UNNEST((SELECT $14::bigint[]), (SELECT $15::text[]), (SELECT $16::text[]), (SELECT $17::text[]), (SELECT $18::text[]))
             WITH ORDINALITY AS e(n, action, from_value, to_value, body, k)
        JOIN new_ticket t USING (n)
        JOIN UNNEST((SELECT $10::timestamptz[]), (SELECT $13::text[])) WITH ORDINALITY AS o(at, actor, n) USING (n)
        ORDER BY e.k
     ), clocks AS (
        INSERT INTO sla_outcomes (ticket_id, clock, target_seconds, due_at, stopped_at, met, margin_seconds,
                                  next_threshold, next_due_at, priority)
        SELECT t.id, o.clock, o.target_seconds, o.due_at, o.stopped_at, o.met, o.margin_seconds,
               o.next_threshold, o.next_due_at, p.priority
        FROM UNNEST((SELECT $19::bigint[]), (SELECT $20::text[]), (SELECT $21::bigint[]), (SELECT $22::timestamptz[]), (SELECT $23::timestamptz[]),
                    (SELECT $24::bool[]), (SELECT $25::bigint[]), (SELECT $26::smallint[]), (SELECT $27::timestamptz[]))
             AS o(n, clock, target_seconds, due_at, stopped_at, met, margin_seconds, next_threshold, next_due_at)
        JOIN new_ticket t USING (n)
        JOIN UNNEST((SELECT $3::smallint[])) WITH ORDINALITY AS p(priority, n) USING (n)
     ), cards AS (
        -- As `open`'s: waiting for the next fold while the channel storms.
        INSERT INTO outbox (platform, kind, ticket_id, created_at, not_before, channel)
        SELECT c.platform, 'ticket_message', t.id, o.at,
               {due},
               CASE WHEN c.platform = o.platform THEN o.channel END
        FROM UNNEST((SELECT $28::bigint[]), (SELECT $29::text[])) WITH ORDINALITY AS c(n, platform, k)
        JOIN new_ticket t USING (n)
        JOIN UNNEST((SELECT $10::timestamptz[]), (SELECT $6::text[]), (SELECT $7::text[]))
             WITH ORDINALITY AS o(at, platform, channel, n) USING (n)
        ORDER BY c.k
     )
     SELECT t.id, t.number FROM ticket JOIN new_ticket t USING (id) ORDER BY t.n",
        due = card_due("c.platform", "o.platform", "o.channel", "o.at", "(SELECT $30::interval)"),
    )
});

/// Opens every incident of `openings` in one statement, numbered in their
/// order, and returns each one's ticket id and number in that order. Fails
/// as a whole, writing nothing.
///
/// For openings that claim no chat delivery and search no known errors
/// (an alert's): those two are refused here rather than silently skipped.
pub async fn open_all(
    conn: &mut PgConnection,
    openings: &[Opening<'_>],
) -> Result<Vec<(i64, i64)>, StoreError> {
    if openings.is_empty() {
        return Ok(Vec::new());
    }
    if openings
        .iter()
        .any(|o| o.delivery.is_some() || o.known_errors.is_some())
    {
        return Err(StoreError::Corrupt(
            "open_all takes no delivery claim or known-error search; open such incidents one by one"
                .into(),
        ));
    }
    let incidents: Vec<&NewIncident> = openings.iter().map(|o| o.incident).collect();
    let mut events = EventColumns::default();
    let mut event_owners = Vec::new();
    let mut outcomes = OutcomeColumns::default();
    let mut outcome_owners = Vec::new();
    let mut card_owners = Vec::new();
    let mut cards = Vec::new();
    for (n, opening) in (1_i64..).zip(openings) {
        events.extend(opening.events);
        event_owners.extend(std::iter::repeat_n(n, opening.events.len()));
        outcomes.extend(opening.outcomes, opening.checkpoints);
        outcome_owners.extend(std::iter::repeat_n(n, opening.outcomes.len()));
        card_owners.extend(std::iter::repeat_n(n, opening.cards.len()));
        cards.extend(opening.cards.iter().map(|p| p.as_str()));
    }
    let column = |f: fn(&NewIncident) -> Option<&str>| -> Vec<Option<&str>> {
        incidents.iter().map(|i| f(i)).collect()
    };
    let titles: Vec<&str> = incidents.iter().map(|i| i.title.as_str()).collect();
    let descriptions: Vec<&str> = incidents.iter().map(|i| i.description.as_str()).collect();
    let priorities: Vec<i16> = incidents.iter().map(|i| i.priority.as_i16()).collect();
    let service_ids: Vec<Option<i64>> = openings.iter().map(|o| o.service_id).collect();
    let reporters: Vec<String> = incidents.iter().map(|i| i.reporter.to_string()).collect();
    let platforms: Vec<&str> = incidents
        .iter()
        .map(|i| i.origin.platform.as_str())
        .collect();
    let channels: Vec<&str> = incidents
        .iter()
        .map(|i| i.origin.channel.as_str())
        .collect();
    let threads = column(|i| i.origin.thread.as_deref());
    let messages = column(|i| i.origin.message.as_deref());
    let ats: Vec<DateTime<Utc>> = openings.iter().map(|o| o.at).collect();
    let impacts: Vec<&str> = incidents.iter().map(|i| i.impact.as_str()).collect();
    let urgencies: Vec<&str> = incidents.iter().map(|i| i.urgency.as_str()).collect();
    let actors: Vec<String> = openings.iter().map(|o| o.actor.to_string()).collect();
    let rows: Vec<(i64, i64)> = sqlx::query_as(OPEN_ALL_SQL.as_str())
        .bind(&titles)
        .bind(&descriptions)
        .bind(&priorities)
        .bind(&service_ids)
        .bind(&reporters)
        .bind(&platforms)
        .bind(&channels)
        .bind(&threads)
        .bind(&messages)
        .bind(&ats)
        .bind(&impacts)
        .bind(&urgencies)
        .bind(&actors)
        .bind(&event_owners)
        .bind(&events.actions)
        .bind(&events.froms)
        .bind(&events.tos)
        .bind(&events.bodies)
        .bind(&outcome_owners)
        .bind(&outcomes.clocks)
        .bind(&outcomes.targets)
        .bind(&outcomes.dues)
        .bind(&outcomes.stops)
        .bind(&outcomes.mets)
        .bind(&outcomes.margins)
        .bind(&outcomes.next_thresholds)
        .bind(&outcomes.next_dues)
        .bind(&card_owners)
        .bind(&cards)
        .bind(storm_card_wait())
        .fetch_all(conn)
        .await?;
    if rows.len() != openings.len() {
        return Err(StoreError::Corrupt(format!(
            "opened {} incidents of {}",
            rows.len(),
            openings.len()
        )));
    }
    Ok(rows)
}

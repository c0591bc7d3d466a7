//! The triage model's counts (`triage_terms`, `triage_classes`,
//! `triage_vocabulary`): trained from resolved incidents in batches, read
//! for a report's words.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::StoreError;
use crate::domain::triage::{ClassCount, WordCount};
use crate::domain::Priority;

/// Shortest word a misspelling is looked up for: trigrams of shorter words
/// say too little ("vpm" is as near "vpn" as "pm").
pub const FUZZY_MIN_CHARS: i32 = 4;

/// How alike (trigram similarity, 0–1) a misspelt word and a known one must
/// be to be read as it: "priner" and "printer" are 0.5 alike.
pub const FUZZY_MIN_SIMILARITY: f32 = 0.45;

/// A row of evidence as read: the word (none for a prior), its position in
/// the report, service ('' for none), priority, incidents.
type EvidenceRow = (Option<String>, Option<i32>, String, i16, i64);

/// The statement of [`evidence`]: `$1` the report's text, `$2`
/// [`FUZZY_MIN_CHARS`], `$3` [`FUZZY_MIN_SIMILARITY`]. Public so
/// `itsm-bench` can run the same text through `pgbench`.
pub const EVIDENCE_SQL: &str = "WITH q AS (
        SELECT w, min(pos) AS pos FROM (
            SELECT (u).lexeme AS w, (u).positions[1]::int AS pos
            FROM unnest(to_tsvector('english', $1)) AS u) words
        GROUP BY w
     ), known AS MATERIALIZED (
        -- Materialized: each word is looked up once, not once per
        -- count row the join below reads.
        SELECT q.pos, coalesce(
            e.lexeme,
            -- The nearest known words by trigram distance, from the
            -- GiST index (`<->` ordered, a handful of index pages);
            -- of those alike enough, the most used.
            (SELECT n.lexeme FROM (
                SELECT v.lexeme, v.incidents, v.lexeme <-> q.w AS distance
                FROM triage_vocabulary v
                WHERE char_length(q.w) >= $2
                ORDER BY v.lexeme <-> q.w
                LIMIT 4) n
             WHERE n.distance <= 1 - $3
             ORDER BY n.distance, n.incidents DESC, n.lexeme
             LIMIT 1)) AS lexeme
        -- The known words in one primary-key lookup (`= ANY` of an
        -- array; `=` word by word was planned through the trigram
        -- index, twenty times slower).
        FROM q LEFT JOIN (
            SELECT v.lexeme FROM triage_vocabulary v
            WHERE v.lexeme = ANY ((SELECT array_agg(w) FROM q)::text[])) e ON e.lexeme = q.w
     )
     SELECT k.lexeme, k.pos, t.service, t.priority, t.incidents
     FROM known k JOIN triage_terms t ON t.lexeme = k.lexeme
     UNION ALL
     SELECT NULL, NULL, c.service, c.priority, c.incidents FROM triage_classes c";

/// The model's counts for a report reading `text`: every prior, and the
/// counts of each of its words (a misspelt one read as the nearest known
/// word), in one round trip. The words come back as the model knows them,
/// in `text`'s order.
pub async fn evidence(
    conn: &mut PgConnection,
    text: &str,
) -> Result<(Vec<ClassCount>, Vec<WordCount>, Vec<String>), StoreError> {
    // Words of the report as lexemes, in order; each read as itself when
    // known, else as the most alike known word of enough similarity.
    let rows: Vec<EvidenceRow> = sqlx::query_as(EVIDENCE_SQL)
        .bind(text)
        .bind(FUZZY_MIN_CHARS)
        .bind(FUZZY_MIN_SIMILARITY)
        .fetch_all(conn)
        .await?;
    let mut classes = Vec::new();
    let mut words = Vec::new();
    let mut order: Vec<(i32, String)> = Vec::new();
    for (lexeme, pos, service, priority, incidents) in rows {
        let priority = Priority::from_i16(priority)
            .ok_or_else(|| StoreError::Corrupt(format!("triage priority {priority}")))?;
        let service = (!service.is_empty()).then_some(service);
        match lexeme {
            Some(word) => {
                let pos = pos.unwrap_or(i32::MAX);
                if !order.iter().any(|(_, w)| *w == word) {
                    order.push((pos, word.clone()));
                }
                words.push(WordCount {
                    word,
                    service,
                    priority,
                    incidents,
                });
            }
            None => classes.push(ClassCount {
                service,
                priority,
                incidents,
            }),
        }
    }
    order.sort();
    Ok((
        classes,
        words,
        order.into_iter().map(|(_, word)| word).collect(),
    ))
}

/// Where training stands: the last incident it read (by resolve time, then
/// id) and how many it has read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    pub through: DateTime<Utc>,
    pub last_ticket_id: i64,
    pub incidents: i64,
}

/// Locks the training mark for this transaction, or `None` when another
/// replica holds it (it is training now).
pub async fn lock_mark(conn: &mut PgConnection) -> Result<Option<Mark>, StoreError> {
    let row: Option<(DateTime<Utc>, i64, i64)> = sqlx::query_as(
        "SELECT trained_through, last_ticket_id, incidents FROM triage_training
         FOR UPDATE SKIP LOCKED",
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(through, last_ticket_id, incidents)| Mark {
        through,
        last_ticket_id,
        incidents,
    }))
}

/// Adds to the model the next `limit` incidents (not duplicates) resolved
/// after `mark` and before `before`, and moves the mark past them. The
/// caller holds the mark's lock. Returns how many were added.
pub async fn train_batch(
    conn: &mut PgConnection,
    mark: Mark,
    before: DateTime<Utc>,
    limit: i64,
    at: DateTime<Utc>,
) -> Result<i64, StoreError> {
    // One statement: the batch, its words counted per service and priority,
    // and where it ended.
    let (added, through, last): (i64, Option<DateTime<Utc>>, Option<i64>) = sqlx::query_as(
        "WITH batch AS (
            SELECT i.ticket_id, i.resolved_at, coalesce(s.name, '') AS service, t.priority,
                   tsvector_to_array(ticket_document(t.title, t.description)) AS lexemes
            FROM incidents i JOIN tickets t ON t.id = i.ticket_id
            LEFT JOIN services s ON s.id = t.service_id
            WHERE i.resolved_at IS NOT NULL AND i.duplicate_of IS NULL
              AND (i.resolved_at, i.ticket_id) > ($1, $2) AND i.resolved_at < $3
            ORDER BY i.resolved_at, i.ticket_id
            LIMIT $4
         ), words AS (
            SELECT w, service, priority, count(*) AS n
            FROM batch, unnest(lexemes) AS w GROUP BY w, service, priority
         ), terms AS (
            INSERT INTO triage_terms (lexeme, service, priority, incidents)
            SELECT w, service, priority, n FROM words
            ON CONFLICT (lexeme, service, priority)
            DO UPDATE SET incidents = triage_terms.incidents + excluded.incidents
         ), vocabulary AS (
            INSERT INTO triage_vocabulary (lexeme, incidents)
            SELECT w, sum(n) FROM words GROUP BY w
            ON CONFLICT (lexeme) DO UPDATE SET incidents = triage_vocabulary.incidents + excluded.incidents
         ), classes AS (
            INSERT INTO triage_classes (service, priority, incidents)
            SELECT service, priority, count(*) FROM batch GROUP BY service, priority
            ON CONFLICT (service, priority)
            DO UPDATE SET incidents = triage_classes.incidents + excluded.incidents
         )
         SELECT count(*),
                (SELECT resolved_at FROM batch ORDER BY resolved_at DESC, ticket_id DESC LIMIT 1),
                (SELECT ticket_id FROM batch ORDER BY resolved_at DESC, ticket_id DESC LIMIT 1)
         FROM batch",
    )
    .bind(mark.through)
    .bind(mark.last_ticket_id)
    .bind(before)
    .bind(limit)
    .fetch_one(&mut *conn)
    .await?;
    if let (Some(through), Some(last)) = (through, last) {
        sqlx::query(
            "UPDATE triage_training
             SET trained_through = $1, last_ticket_id = $2, incidents = incidents + $3, trained_at = $4",
        )
        .bind(through)
        .bind(last)
        .bind(added)
        .bind(at)
        .execute(conn)
        .await?;
    }
    Ok(added)
}

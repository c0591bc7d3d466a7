//! Search over every ticket kind and the knowledge base, and the
//! suggestions offered on a new report. PostgreSQL does the work:
//! full-text search over weighted `tsvector`s (titles over bodies) ranked
//! with `ts_rank_cd`, and `pg_trgm` word similarity of titles for typos.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::StoreError;
use crate::domain::problem::KnownErrorMatch;
use crate::domain::search::{SearchKind, SearchQuery, FINISHED_STATUSES};

/// One search hit.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub kind: SearchKind,
    pub number: i64,
    pub title: String,
    pub status: String,
    pub service: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A published article offered on a new report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArticleMatch {
    pub number: i64,
    pub title: String,
    pub body: String,
}

pub use crate::domain::duplicate::Alike;

/// Most open incidents matching a report's telling terms that are weighed
/// as its look-alikes, the newest: the cost of a report stays bounded
/// however many open incidents share its words.
const ALIKE_SCAN: i64 = 200;

/// How many of the newest open incidents are read first, straight from
/// the open-incidents index, before the text index is asked.
const RECENT_SCAN: i64 = 50;

/// How many of those [`RECENT_SCAN`] must match for the text index not to
/// be asked at all: as many as the look-alike search ranks in full (its
/// `candidates`), so a desk in the middle of an outage, whose newest
/// reports all say the same thing, weighs those and reads nothing else.
const RECENT_ENOUGH: i64 = 20;

/// An open look-alike as read: number, title, service, created, reporter,
/// similarity.
type AlikeRow = (i64, String, Option<String>, DateTime<Utc>, String, f64);

/// A search hit as read: kind, number, title, status, service, created.
type HitRow = (String, i64, String, String, Option<String>, DateTime<Utc>);

/// Every document a ticket is found by, one row per match, each with its
/// rank; `$1` is the tsquery text, `$2` what was typed (for trigrams). Each
/// branch can use its own GIN index.
const MATCHES: &str = "
    SELECT t.id, ts_rank_cd(ticket_document(t.title, t.description), q.q) AS rank
    FROM tickets t, q WHERE ticket_document(t.title, t.description) @@ q.q
    UNION ALL
    SELECT k.ticket_id, ts_rank_cd(k.search, q.q) FROM kb_articles k, q WHERE k.search @@ q.q
    UNION ALL
    SELECT p.ticket_id, ts_rank_cd(p.search, q.q) FROM problems p, q WHERE p.search @@ q.q
    UNION ALL
    SELECT i.ticket_id, ts_rank_cd(to_tsvector('english'::regconfig, coalesce(i.resolution, '')), q.q) / 2
    FROM incidents i, q WHERE to_tsvector('english'::regconfig, coalesce(i.resolution, '')) @@ q.q
    UNION ALL
    -- A typo finds nothing in full text; trigrams of the title still
    -- match (\"vpn dorps\" → \"VPN drops\"), ranked below real word matches.
    SELECT t.id, word_similarity($2, t.title) / 10 FROM tickets t WHERE $2 <% t.title
    UNION ALL
    -- Word by word as well, against whole words of the title (strict word
    -- similarity, at least 0.5): the whole text of \"priner jams\" is too
    -- unlike \"Printer jams on floor 3\", and so is \"priner\" under the
    -- looser word similarity (0.57 < 0.6), but \"priner\" and \"printer\"
    -- are 0.5 alike as words. Each word is its own search of the index.
    SELECT t.id, strict_word_similarity(x.w, t.title) / 10
    FROM unnest($9::text[]) AS x(w) CROSS JOIN LATERAL (
        SELECT id, title FROM tickets WHERE x.w <<% title) t";

/// Tickets of every kind (and articles) matching `query`, best first, at
/// most `limit`. Retired articles are never found; drafts only when
/// `drafts` (engineers).
pub async fn search(
    conn: &mut PgConnection,
    query: &SearchQuery,
    drafts: bool,
    limit: i64,
) -> Result<Vec<Hit>, StoreError> {
    let sql = format!(
        "WITH q AS (SELECT to_tsquery('english', $1) AS q),
              found AS ({MATCHES}),
              best AS (SELECT id, sum(rank) AS score FROM found GROUP BY id)
         SELECT t.kind, t.number, t.title, t.status, s.name AS service, t.created_at
         FROM best JOIN tickets t ON t.id = best.id
         LEFT JOIN services s ON s.id = t.service_id
         WHERE ($3::text IS NULL OR t.kind = $3)
           AND (NOT $4 OR t.status <> ALL($5))
           AND (t.kind <> 'kb' OR t.status = 'published' OR ($6 AND t.status = 'draft'))
           -- Excluded words apply to every document, trigram hits included.
           AND NOT EXISTS (SELECT 1 FROM unnest($7::text[]) AS x(e)
                           WHERE ticket_document(t.title, t.description) @@ to_tsquery('english', x.e))
         ORDER BY best.score DESC, t.created_at DESC
         LIMIT $8"
    );
    let excluded: Vec<String> = query.excluded.iter().map(|term| term.tsquery()).collect();
    let rows: Vec<HitRow> = sqlx::query_as(&sql)
        .bind(query.tsquery())
        .bind(&query.text)
        .bind(query.kind.map(SearchKind::as_str))
        .bind(query.open_only)
        .bind(&FINISHED_STATUSES[..])
        .bind(drafts)
        .bind(&excluded)
        .bind(limit)
        .bind(query.fuzzy_words())
        .fetch_all(conn)
        .await?;
    rows.into_iter()
        .map(|(kind, number, title, status, service, created_at)| {
            let kind = SearchKind::ALL
                .into_iter()
                .find(|k| k.as_str() == kind)
                .ok_or_else(|| StoreError::Corrupt(format!("ticket kind `{kind}`")))?;
            Ok(Hit {
                kind,
                number,
                title,
                status,
                service,
                created_at,
            })
        })
        .collect()
}

/// The statement of [`answers`]: `$1` the whole query as tsquery text,
/// `$2` each term's, `$3` the terms an answer must share, `$4` how many.
/// Public so `itsm-bench` can run the same text through `pgbench`.
pub const ANSWERS_SQL: &str = "WITH q AS (SELECT to_tsquery('english', $1) AS q),
          terms AS (SELECT to_tsquery('english', x) AS tq FROM unnest($2::text[]) AS x)
     SELECT kind, number, title, answer FROM (
        SELECT 'kb' AS kind, t.number, t.title, k.body AS answer,
               ts_rank_cd(k.search, q.q) AS rank,
               (SELECT count(*) FROM terms WHERE k.search @@ terms.tq) AS shared
        FROM tickets t JOIN kb_articles k ON k.ticket_id = t.id, q
        WHERE t.kind = 'kb' AND t.status = 'published' AND k.search @@ q.q
        UNION ALL
        SELECT 'problem', t.number, t.title, p.workaround,
               ts_rank_cd(p.search, q.q),
               (SELECT count(*) FROM terms WHERE p.search @@ terms.tq)
        FROM tickets t JOIN problems p ON p.ticket_id = t.id, q
        WHERE t.kind = 'problem' AND t.status = 'known_error' AND p.search @@ q.q
          AND NOT EXISTS (SELECT 1 FROM kb_articles a JOIN tickets at ON at.id = a.ticket_id
                          WHERE a.source_ticket_id = t.id AND at.status = 'published')
     ) found
     WHERE shared >= $3
     ORDER BY kind = 'kb' DESC, shared DESC, rank DESC, number DESC
     LIMIT $4";

/// Published articles and known errors sharing at least
/// [`SearchQuery::min_shared`] terms with a new report (synonyms count as
/// their word), best first: articles, then known errors, at most `limit`
/// together. A known error whose answer is already a published article
/// is left out: the article says it better.
pub async fn answers(
    conn: &mut PgConnection,
    query: &SearchQuery,
    limit: i64,
) -> Result<(Vec<ArticleMatch>, Vec<KnownErrorMatch>), StoreError> {
    let rows: Vec<(String, i64, String, Option<String>)> = sqlx::query_as(ANSWERS_SQL)
        .bind(query.tsquery())
        .bind(query.term_queries())
        .bind(query.min_shared())
        .bind(limit)
        .fetch_all(conn)
        .await?;
    let mut articles = Vec::new();
    let mut known = Vec::new();
    for (kind, number, title, answer) in rows {
        if kind == "kb" {
            articles.push(ArticleMatch {
                number,
                title,
                body: answer.unwrap_or_default(),
            });
        } else {
            known.push(KnownErrorMatch {
                number,
                title,
                workaround: answer,
            });
        }
    }
    Ok((articles, known))
}

/// The look-alike statement ([`alike_open`]), with its scan sizes written
/// in rather than bound, and the report's terms read through subqueries.
/// Both are there for PostgreSQL's plan cache: a prepared statement is
/// planned afresh for each call while those custom plans look cheaper than
/// the generic one, and a custom plan that could see `LIMIT 50` and a
/// three-term array always did (a generic plan guesses a tenth of the rows
/// for a bound `LIMIT`, and a hundred terms). Planning this statement
/// took about 1 ms, longer than running it, and in `itsm-bench chat` it
/// was planned for 84 % of reports; now every plan guesses the same, and
/// the generic one is kept after the first five calls.
///
/// Its binds: `$1` the report's terms as tsquery text, `$2` their words,
/// `$3` the least similarity, `$4` the ticket left out, `$5` how many.
/// Public so `itsm-bench` can run the same text through `pgbench`.
pub static ALIKE_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH model AS (
            -- One row (its key is `true`); LIMIT 1 tells the planner so.
            -- Read as the table's size, the estimate of every join below
            -- grew past `jit_above_cost` on a fresh database, and
            -- compiling took seconds where JIT is on (tests' pools).
            SELECT incidents::float8 AS n FROM triage_training LIMIT 1
         ),
         terms AS (
            SELECT x.ord, to_tsquery('english', x.tq) AS tq, x.words
            -- The arrays are read through subqueries, so no plan sees how many
            -- terms this report has (see ALIKE_SQL).
            FROM unnest((SELECT $1::text[]), (SELECT $2::text[])) WITH ORDINALITY AS x(tq, words, ord)
         ), weighted AS MATERIALIZED (
            -- Smoothed idf, ln((N + 1) / (df + 1)) + 1; a synonym group is
            -- as common as its commonest word. Terms of stop words only
            -- (\"the\") have no lexeme and drop out. Materialized: each
            -- term's words are looked up once, not once per window below.
            SELECT t.ord, t.tq,
                   ln((m.n + 1) / (coalesce(
                      (SELECT max(v.incidents) FROM triage_vocabulary v
                       WHERE v.lexeme = ANY (tsvector_to_array(to_tsvector('english', t.words)))),
                      0) + 1)) + 1 AS idf
            FROM terms t, model m WHERE numnode(t.tq) > 0
         ), ranked AS (
            SELECT ord, tq, idf,
                   sum(idf * idf) OVER (ORDER BY idf, ord) AS upto,
                   sum(idf * idf) OVER () AS norm2,
                   count(*) OVER () AS terms
            FROM weighted
         ), probe AS (
            -- Pairs with one telling term at least (each pair once); a
            -- report of one term looks for that term.
            SELECT string_agg(format('(%s) & (%s)', a.tq, b.tq), ' | ')::tsquery AS q
            FROM ranked a JOIN ranked b
              ON a.terms = 1
              OR b.ord > a.ord OR (b.ord < a.ord AND b.upto < $3 * $3 * b.norm2)
            WHERE a.upto >= $3 * $3 * a.norm2
         ), recent AS MATERIALIZED (
            -- The {RECENT_SCAN} newest open incidents, read newest first
            -- from the open-incidents index, and those that match. A report
            -- repeats a live outage, which is recent: in an outage most of
            -- these match, and the text index need not be asked.
            SELECT r.* FROM (
                SELECT t.id, t.number, t.title, t.service_id, t.created_at, t.reporter, t.document
                FROM tickets t
                WHERE t.kind = 'incident' AND t.status IN ('new', 'acknowledged', 'on_hold')
                  AND t.id <> $4
                ORDER BY t.created_at DESC, t.id DESC
                LIMIT {RECENT_SCAN}) r
            WHERE r.document @@ (SELECT q FROM probe)
         ), matched AS (
            -- Enough of the newest match ({RECENT_ENOUGH}): weigh those.
            -- Else ask the text index, and weigh at most {ALIKE_SCAN} of
            -- its matches, the newest. That branch reads and orders every
            -- match, so a backlog of alike reports made each new report
            -- cost more than the last; the first branch spares it that.
            -- The gates are one-time filters: the branch not taken is not
            -- run.
            SELECT * FROM recent WHERE (SELECT count(*) FROM recent) >= {RECENT_ENOUGH}
            UNION ALL
            (SELECT t.id, t.number, t.title, t.service_id, t.created_at, t.reporter, t.document
             FROM tickets t
             WHERE (SELECT count(*) FROM recent) < {RECENT_ENOUGH}
               AND t.kind = 'incident' AND t.status IN ('new', 'acknowledged', 'on_hold')
               AND t.document @@ (SELECT q FROM probe) AND t.id <> $4
             ORDER BY t.id DESC
             LIMIT {ALIKE_SCAN})
         ), candidates AS (
            -- The most shared weight first; only these few have their
            -- own length read.
            SELECT t.*, sh.weight
            FROM matched t
            CROSS JOIN LATERAL (SELECT sum(r.idf * r.idf) AS weight
                                FROM ranked r WHERE t.document @@ r.tq) sh
            ORDER BY sh.weight DESC, t.created_at
            LIMIT 20
         ), scored AS (
            SELECT c.*, least(1.0, c.weight / sqrt((SELECT max(norm2) FROM ranked) * d.norm2))
                        AS similarity
            FROM candidates c CROSS JOIN LATERAL (
                -- The words the model knows, in one primary-key lookup
                -- (`= ANY` of an array: a join was planned as a pass over
                -- the vocabulary, and a lookup word by word through the
                -- trigram index); the others weigh as never seen.
                SELECT (length(c.document) - count(v.lexeme)) * power(ln(m.n + 1) + 1, 2)
                       + coalesce(sum(power(ln((m.n + 1) / (v.incidents + 1)) + 1, 2)), 0) AS norm2
                FROM model m LEFT JOIN triage_vocabulary v
                  ON v.lexeme = ANY (tsvector_to_array(c.document))
                GROUP BY m.n) d
         )
         SELECT c.number, c.title, s.name, c.created_at, c.reporter, c.similarity
         FROM scored c
         JOIN incidents i ON i.ticket_id = c.id AND i.duplicate_of IS NULL
         LEFT JOIN services s ON s.id = c.service_id
         WHERE c.similarity >= $3
         ORDER BY c.similarity DESC, c.created_at
         LIMIT $5"
    )
});

/// Open incidents (not duplicates themselves, not `except`) that look like
/// a new report: sharing at least two of its terms (all, when it has
/// fewer) and at least `min_similarity` alike — the cosine of the two
/// documents' words, each weighted by its inverse document frequency in
/// the triage model's vocabulary (a word the model never saw is the most
/// telling; before any training every word weighs the same). Most alike
/// first, at most `limit`; the caller picks among them by service.
///
/// One statement, and an index lookup: the candidates come from the
/// partial GIN index over the open incidents' stored documents, through a
/// tsquery of pairs of the report's terms in which one term at least is
/// telling enough. The least telling terms, as many as together weigh
/// less than `min_similarity` of the report (Σ idf² < s²·‖report‖²), can
/// never make an incident alike enough on their own, so pairs of only
/// those are not looked up ("prefix filtering"): a report saying "cannot
/// use the vpn" does not read every open incident that says "cannot use".
/// The [`RECENT_SCAN`] newest open incidents are read first; when at
/// least [`RECENT_ENOUGH`] of them match, they are the ones weighed, else
/// the [`ALIKE_SCAN`] newest of the open incidents the probe finds.
pub async fn alike_open(
    conn: &mut PgConnection,
    query: &SearchQuery,
    min_similarity: f64,
    except: i64,
    limit: i64,
) -> Result<Vec<Alike>, StoreError> {
    let rows: Vec<AlikeRow> = sqlx::query_as(ALIKE_SQL.as_str())
        .bind(query.term_queries())
        .bind(query.term_words())
        .bind(min_similarity)
        .bind(except)
        .bind(limit)
        .fetch_all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(number, title, service, created_at, reporter, similarity)| Alike {
                number,
                title,
                service,
                created_at,
                reporter,
                similarity,
            },
        )
        .collect())
}

/// How many incidents reported by any of `reporters` were opened since
/// `since`, counted up to `at_most` (`tickets_by_created` bounds the read
/// to those): asked whether alerts are storming, it reads a handful of
/// rows even when a storm has opened thousands in the minute.
pub async fn opened_by_since(
    conn: &mut PgConnection,
    reporters: &[String],
    since: DateTime<Utc>,
    at_most: i64,
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT 1 FROM tickets
         WHERE created_at >= $2 AND kind = 'incident' AND reporter = ANY($1)
         LIMIT $3) recent",
    )
    .bind(reporters)
    .bind(since)
    .bind(at_most)
    .fetch_one(conn)
    .await?)
}

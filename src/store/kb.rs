//! Knowledge-base articles: a `tickets` row of kind `kb` plus its
//! `kb_articles` row (body, source, a generated weighted `tsvector`).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::StoreError;
use crate::domain::kb::{Article, ArticleStatus, NewArticle};
use crate::domain::search::SearchQuery;
use crate::domain::{TicketKind, TicketRef, UserId};

const SELECT_ARTICLE: &str = "
SELECT t.id, t.number, t.title, k.body, t.status, t.reporter, t.created_at, t.updated_at,
       s.kind AS source_kind, s.number AS source_number, k.published_at, k.retired_at
FROM tickets t
JOIN kb_articles k ON k.ticket_id = t.id
LEFT JOIN tickets s ON s.id = k.source_ticket_id";

#[derive(sqlx::FromRow)]
struct ArticleRow {
    id: i64,
    number: i64,
    title: String,
    body: String,
    status: String,
    reporter: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    source_kind: Option<String>,
    source_number: Option<i64>,
    published_at: Option<DateTime<Utc>>,
    retired_at: Option<DateTime<Utc>>,
}

impl TryFrom<ArticleRow> for Article {
    type Error = StoreError;

    fn try_from(row: ArticleRow) -> Result<Self, Self::Error> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("KB-{}: {what}", row.number));
        let source = match (row.source_kind.as_deref(), row.source_number) {
            (Some(kind), Some(number)) => Some(TicketRef {
                kind: kind_of(kind).ok_or_else(|| corrupt("unknown source kind"))?,
                number,
            }),
            _ => None,
        };
        Ok(Article {
            id: row.id,
            number: row.number,
            status: row
                .status
                .parse::<ArticleStatus>()
                .map_err(|e| corrupt(&e))?,
            author: row
                .reporter
                .parse::<UserId>()
                .map_err(|e| corrupt(&e.to_string()))?,
            title: row.title,
            body: row.body,
            source,
            created_at: row.created_at,
            updated_at: row.updated_at,
            published_at: row.published_at,
            retired_at: row.retired_at,
        })
    }
}

/// The ticket kind stored as `name`, if this build knows it.
pub(super) fn kind_of(name: &str) -> Option<TicketKind> {
    [
        TicketKind::Incident,
        TicketKind::Problem,
        TicketKind::Change,
        TicketKind::Kb,
    ]
    .into_iter()
    .find(|kind| kind.as_str() == name)
}

/// Stores a new draft article, numbered from the article sequence, in one
/// statement, and returns it. The author is the ticket's reporter; an
/// article has no service or priority.
pub async fn insert(
    conn: &mut PgConnection,
    new: &NewArticle,
    origin: (&str, &str),
    at: DateTime<Utc>,
) -> Result<Article, StoreError> {
    let (id, number): (i64, i64) = sqlx::query_as(
        "WITH ticket AS (
            INSERT INTO tickets (kind, number, title, description, status, reporter,
                                 origin_platform, origin_channel, created_at, updated_at)
            VALUES ('kb', nextval('kb_number_seq'), $1, '', 'draft', $2, $3, $4, $5, $5)
            RETURNING id, number, title
         ), details AS (
            INSERT INTO kb_articles (ticket_id, title, body, source_ticket_id)
            SELECT id, title, $6,
                   (SELECT id FROM tickets WHERE kind = $7 AND number = $8)
            FROM ticket
         )
         SELECT id, number FROM ticket",
    )
    .bind(new.title.as_str())
    .bind(new.author.to_string())
    .bind(origin.0)
    .bind(origin.1)
    .bind(at)
    .bind(&new.body)
    .bind(new.source.map(|s| s.kind.as_str()))
    .bind(new.source.map(|s| s.number))
    .fetch_one(conn)
    .await?;
    Ok(Article {
        id,
        number,
        title: new.title.to_string(),
        body: new.body.clone(),
        status: ArticleStatus::Draft,
        author: new.author.clone(),
        source: new.source,
        created_at: at,
        updated_at: at,
        published_at: None,
        retired_at: None,
    })
}

/// Reads article `number` and locks it until the transaction ends.
pub async fn lock(conn: &mut PgConnection, number: i64) -> Result<Option<Article>, StoreError> {
    let query =
        format!("{SELECT_ARTICLE} WHERE t.kind = 'kb' AND t.number = $1 FOR UPDATE OF t, k");
    let row: Option<ArticleRow> = sqlx::query_as(&query)
        .bind(number)
        .fetch_optional(conn)
        .await?;
    row.map(Article::try_from).transpose()
}

/// Reads article `number`.
pub async fn get(conn: &mut PgConnection, number: i64) -> Result<Option<Article>, StoreError> {
    let query = format!("{SELECT_ARTICLE} WHERE t.kind = 'kb' AND t.number = $1");
    let row: Option<ArticleRow> = sqlx::query_as(&query)
        .bind(number)
        .fetch_optional(conn)
        .await?;
    row.map(Article::try_from).transpose()
}

/// Writes an article's changeable fields back.
pub async fn update(conn: &mut PgConnection, article: &Article) -> Result<(), StoreError> {
    sqlx::query(
        "WITH ticket AS (
            UPDATE tickets SET status = $2, updated_at = $3 WHERE id = $1 RETURNING id
         )
         UPDATE kb_articles SET body = $4, published_at = $5, retired_at = $6
         WHERE ticket_id = (SELECT id FROM ticket)",
    )
    .bind(article.id)
    .bind(article.status.as_str())
    .bind(article.updated_at)
    .bind(&article.body)
    .bind(article.published_at)
    .bind(article.retired_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The article drafted from ticket `source`, if one was (and is not retired),
/// so `/kb from` does not draft the same answer twice.
pub async fn drafted_from(
    conn: &mut PgConnection,
    source: TicketRef,
) -> Result<Option<i64>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT t.number FROM kb_articles k
         JOIN tickets t ON t.id = k.ticket_id
         JOIN tickets s ON s.id = k.source_ticket_id
         WHERE s.kind = $1 AND s.number = $2 AND t.status <> 'retired'
         ORDER BY t.number LIMIT 1",
    )
    .bind(source.kind.as_str())
    .bind(source.number)
    .fetch_optional(conn)
    .await?)
}

/// Articles matching `query` (published ones, and drafts too when
/// `drafts`), best first, at most `limit`; every published article, newest
/// first, without a query.
pub async fn list(
    conn: &mut PgConnection,
    query: Option<&SearchQuery>,
    drafts: bool,
    limit: i64,
) -> Result<Vec<Article>, StoreError> {
    let rows: Vec<ArticleRow> = match query {
        Some(query) => {
            let sql = format!(
                "{SELECT_ARTICLE}, to_tsquery('english', $1) AS q
                 WHERE t.kind = 'kb' AND (t.status = 'published' OR ($3 AND t.status = 'draft'))
                   AND (k.search @@ q OR $2 <% t.title
                        -- Word by word too, against whole words of the
                        -- title, so one misspelt word among several still
                        -- finds (\"priner jams\"; see store::search).
                        OR EXISTS (SELECT 1 FROM unnest($5::text[]) AS x(w) WHERE x.w <<% t.title))
                 ORDER BY ts_rank_cd(k.search, q) + word_similarity($2, t.title) DESC, t.number DESC
                 LIMIT $4"
            );
            sqlx::query_as(&sql)
                .bind(query.tsquery())
                .bind(&query.text)
                .bind(drafts)
                .bind(limit)
                .bind(query.fuzzy_words())
                .fetch_all(conn)
                .await?
        }
        None => {
            let sql = format!(
                "{SELECT_ARTICLE}
                 WHERE t.kind = 'kb' AND (t.status = 'published' OR ($1 AND t.status = 'draft'))
                 ORDER BY t.number DESC LIMIT $2"
            );
            sqlx::query_as(&sql)
                .bind(drafts)
                .bind(limit)
                .fetch_all(conn)
                .await?
        }
    };
    rows.into_iter().map(Article::try_from).collect()
}

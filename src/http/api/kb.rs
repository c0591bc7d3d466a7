//! `/api/v1/kb` and `/api/v1/search`: published articles, and search over
//! every kind of ticket. A token reads what everyone reads in chat: only
//! published articles.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{caller, connection, ApiError, ErrorBody, EventDto, PageOf, WithTimeline};
use crate::domain::kb::Article;
use crate::domain::search::{SearchQuery, MAX_HITS};
use crate::domain::TicketKind;
use crate::http::export::{self, Format};
use crate::http::HttpState;
use crate::store::{self, search::Hit};

/// Most articles `GET /api/v1/kb` lists without a query.
const MAX_LISTED: i64 = 200;

/// A knowledge-base article.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ArticleDto {
    /// `KB-<n>`.
    pub reference: String,
    pub title: String,
    pub body: String,
    /// `published` (the API shows no drafts or retired articles).
    pub status: String,
    pub author: String,
    /// The `INC-<n>` or `PRB-<n>` it was drafted from.
    pub source: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub published_at: Option<String>,
}

impl From<&Article> for ArticleDto {
    fn from(article: &Article) -> Self {
        let time = |at: chrono::DateTime<chrono::Utc>| {
            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        };
        ArticleDto {
            reference: article.reference().to_string(),
            title: article.title.clone(),
            body: article.body.clone(),
            status: article.status.to_string(),
            author: article.author.to_string(),
            source: article.source.map(|s| s.to_string()),
            created_at: time(article.created_at),
            updated_at: time(article.updated_at),
            published_at: article.published_at.map(time),
        }
    }
}

/// One search hit.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HitDto {
    /// `incident`, `problem`, `change`, `request` or `kb`.
    pub kind: String,
    /// `INC-<n>`, `PRB-<n>`, `CHG-<n>`, `REQ-<n>` or `KB-<n>`.
    pub reference: String,
    pub title: String,
    pub status: String,
    pub service: Option<String>,
    pub created_at: String,
}

impl From<&Hit> for HitDto {
    fn from(hit: &Hit) -> Self {
        let prefix = match hit.kind.as_str() {
            "incident" => TicketKind::Incident.prefix(),
            "problem" => TicketKind::Problem.prefix(),
            "change" => TicketKind::Change.prefix(),
            "kb" => TicketKind::Kb.prefix(),
            _ => "REQ",
        };
        HitDto {
            kind: hit.kind.as_str().to_string(),
            reference: format!("{prefix}-{}", hit.number),
            title: hit.title.clone(),
            status: hit.status.clone(),
            service: hit.service.clone(),
            created_at: hit
                .created_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }
    }
}

/// Reads `q` (required when `required`), refusing any other key.
fn query_of(
    state: &HttpState,
    query: &[(String, String)],
    required: bool,
) -> Result<Option<SearchQuery>, ApiError> {
    let mut words = None;
    for (key, value) in query {
        match key.as_str() {
            "q" if words.is_none() => words = Some(value.as_str()),
            "q" => return Err(ApiError::bad_request("`q` is given twice")),
            other => {
                return Err(ApiError::bad_request(format!(
                    "`{other}` is not a parameter; use q (words, \"a phrase\", -left-out, kind:…, status:open) and format"
                )))
            }
        }
    }
    match words {
        Some(words) => SearchQuery::parse(words, &state.engine.config().search.synonyms())
            .map(Some)
            .map_err(|err| ApiError::bad_request(err.to_string())),
        None if required => Err(ApiError::bad_request(
            "`q` is required: the words to search for, e.g. ?q=vpn%20drops",
        )),
        None => Ok(None),
    }
}

fn page<T>(items: Vec<T>) -> PageOf<T> {
    let total = i64::try_from(items.len()).unwrap_or(i64::MAX);
    PageOf {
        items,
        page: 1,
        per_page: total.max(1),
        total,
    }
}

/// List published articles, or those matching `q`.
#[utoipa::path(
    get,
    path = "/api/v1/kb",
    params(
        ("q" = Option<String>, Query, description = "words to search for; the best 10 matches, else the latest 200 articles"),
        ("format" = Option<String>, Query, description = "json (default) or csv")
    ),
    responses(
        (status = 200, description = "Published articles", body = PageOf<ArticleDto>),
        (status = 400, description = "A bad query", body = ErrorBody),
        (status = 401, description = "No or a wrong token", body = ErrorBody)
    )
)]
pub(super) async fn list_articles(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Query(mut query): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    caller(&state, &headers)?;
    let format = Format::take(&headers, &mut query)?;
    let search = query_of(&state, &query, false)?;
    let limit = if search.is_some() {
        MAX_HITS
    } else {
        MAX_LISTED
    };
    let mut conn = connection(&state).await?;
    let articles = store::kb::list(&mut conn, search.as_ref(), false, limit).await?;
    let items: Vec<ArticleDto> = articles.iter().map(ArticleDto::from).collect();
    Ok(export::list(format, &page(items))?)
}

/// Fetch one published article with its timeline.
#[utoipa::path(
    get,
    path = "/api/v1/kb/{reference}",
    params(("reference" = String, Path, description = "KB-<n>")),
    responses(
        (status = 200, description = "The article and its timeline", body = WithTimeline<ArticleDto>),
        (status = 404, description = "No such published article", body = ErrorBody)
    )
)]
pub(super) async fn get_article(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Path(reference): Path<String>,
) -> Result<Json<WithTimeline<ArticleDto>>, ApiError> {
    caller(&state, &headers)?;
    // A reference of another kind is no article: 404, as for every other
    // kind's route; text that is no reference at all is a bad request.
    let reference = super::tickets::reference_of(&reference, TicketKind::Kb)?;
    let mut conn = connection(&state).await?;
    let article = store::kb::get(&mut conn, reference.number)
        .await?
        .filter(Article::is_public)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                format!("there is no published {reference}"),
            )
        })?;
    let timeline = store::timeline::list(&mut conn, article.id).await?;
    Ok(Json(WithTimeline {
        ticket: ArticleDto::from(&article),
        timeline: timeline.iter().map(EventDto::from).collect(),
    }))
}

/// Search every kind of ticket and the published articles.
#[utoipa::path(
    get,
    path = "/api/v1/search",
    params(
        ("q" = String, Query, description = "words, \"a phrase\", -left-out, kind:incident|problem|change|request|kb, status:open"),
        ("format" = Option<String>, Query, description = "json (default) or csv")
    ),
    responses(
        (status = 200, description = "The best 10 matches, best first", body = PageOf<HitDto>),
        (status = 400, description = "A missing or bad query", body = ErrorBody),
        (status = 401, description = "No or a wrong token", body = ErrorBody)
    )
)]
pub(super) async fn search(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Query(mut query): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    caller(&state, &headers)?;
    let format = Format::take(&headers, &mut query)?;
    let search =
        query_of(&state, &query, true)?.ok_or_else(|| ApiError::bad_request("`q` is required"))?;
    let mut conn = connection(&state).await?;
    let hits = store::search::search(&mut conn, &search, false, MAX_HITS).await?;
    let items: Vec<HitDto> = hits.iter().map(HitDto::from).collect();
    Ok(export::list(format, &page(items))?)
}

/// What a new incident may be: answers the team has and open incidents
/// that look like it, as the chat reply offers them.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SuggestionsDto {
    /// Published articles that may answer it, `KB-<n>`.
    pub articles: Vec<String>,
    /// Known errors that may match, `PRB-<n>`.
    pub known_errors: Vec<String>,
    /// Open incidents that look like the same thing, `INC-<n>`.
    pub looks_like: Vec<String>,
    /// The suggested service, if triage has one.
    pub service: Option<String>,
    /// The suggested priority, if triage has one.
    pub priority: Option<String>,
    /// Why, in one sentence.
    pub reason: Option<String>,
}

impl From<&crate::commands::execute::kb::Suggested> for SuggestionsDto {
    fn from(s: &crate::commands::execute::kb::Suggested) -> Self {
        SuggestionsDto {
            articles: s
                .articles
                .iter()
                .map(|a| format!("KB-{}", a.number))
                .collect(),
            known_errors: s
                .known_errors
                .iter()
                .map(|k| k.reference().to_string())
                .collect(),
            looks_like: s
                .alike
                .iter()
                .map(|a| format!("INC-{}", a.number))
                .collect(),
            service: s
                .triage
                .as_ref()
                .and_then(|t| t.service.as_ref().map(|p| p.value.clone())),
            priority: s
                .triage
                .as_ref()
                .and_then(|t| t.priority.as_ref().map(|p| p.value.to_string())),
            reason: s.triage.as_ref().map(|t| t.reason()),
        }
    }
}

/// A new incident with what it may be.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreatedIncidentDto {
    #[serde(flatten)]
    pub incident: super::IncidentDto,
    pub suggestions: SuggestionsDto,
}

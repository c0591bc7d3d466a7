//! Knowledge-base articles: what the team already knows, written down so a
//! reporter (or the next engineer) finds the answer before asking. An
//! article is a ticket of kind `kb`, `KB-<n>`, with the lifecycle
//! `draft → published → retired`; only published articles are shown to
//! everyone and offered on new incidents.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use super::reference::{TicketKind, TicketRef};
use super::text::FreeText;
use super::timeline::{EventAction, NewEvent};
use super::user::UserId;

/// Longest article body, in characters (the database checks it too).
pub const MAX_BODY_CHARS: usize = 20_000;

/// Where an article is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArticleStatus {
    /// Being written; only engineers see it.
    Draft,
    /// Shown to everyone and offered on new incidents.
    Published,
    /// No longer true; kept for the record, found by no search.
    Retired,
}

impl ArticleStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [ArticleStatus; 3] = [
        ArticleStatus::Draft,
        ArticleStatus::Published,
        ArticleStatus::Retired,
    ];

    /// The name stored in the database and shown to people.
    pub fn as_str(self) -> &'static str {
        match self {
            ArticleStatus::Draft => "draft",
            ArticleStatus::Published => "published",
            ArticleStatus::Retired => "retired",
        }
    }
}

impl FromStr for ArticleStatus {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
            .ok_or_else(|| format!("unknown article status `{text}`"))
    }
}

impl fmt::Display for ArticleStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A knowledge-base article as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Article {
    pub id: i64,
    pub number: i64,
    pub title: String,
    pub body: String,
    pub status: ArticleStatus,
    pub author: UserId,
    /// The incident or problem it was drafted from.
    pub source: Option<TicketRef>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
    pub retired_at: Option<DateTime<Utc>>,
}

/// What a person wants done to an article.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArticleAction {
    /// Write (or rewrite) the body.
    Body(FreeText),
    /// Show it to everyone.
    Publish,
    /// Take it out of searches and suggestions.
    Retire,
}

impl ArticleAction {
    /// The verb people type for this action.
    pub fn verb(&self) -> &'static str {
        match self {
            ArticleAction::Body(_) => "body",
            ArticleAction::Publish => "publish",
            ArticleAction::Retire => "retire",
        }
    }
}

/// Why an action on an article was refused. The text says what would work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArticleError {
    #[error("{reference} has no body yet, and an article needs one before it is published; write it with `/kb {reference} body <text>`")]
    MissingBody { reference: TicketRef },
    #[error("{reference} is {status}, so it cannot be {attempted}; {hint}")]
    IllegalTransition {
        reference: TicketRef,
        status: ArticleStatus,
        attempted: &'static str,
        hint: String,
    },
    #[error("{reference} already has this body; nothing changed")]
    Unchanged { reference: TicketRef },
    #[error("an article body is at most {MAX_BODY_CHARS} characters; this one has {given}")]
    TooLong { given: usize },
}

/// The result of a legal action: the article's new state and the events
/// that record it on its timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub article: Article,
    pub events: Vec<NewEvent>,
}

impl Article {
    /// This article's reference, `KB-<n>`.
    pub fn reference(&self) -> TicketRef {
        TicketRef {
            kind: TicketKind::Kb,
            number: self.number,
        }
    }

    /// Whether everyone may read it (engineers read drafts too).
    pub fn is_public(&self) -> bool {
        self.status == ArticleStatus::Published
    }

    /// Applies `action` at `now`, or says why it is not allowed. Pure: the
    /// caller stores the result.
    pub fn apply(
        &self,
        action: &ArticleAction,
        now: DateTime<Utc>,
    ) -> Result<Applied, ArticleError> {
        use ArticleStatus::*;
        let reference = self.reference();
        let illegal = |attempted: &'static str, hint: String| ArticleError::IllegalTransition {
            reference,
            status: self.status,
            attempted,
            hint,
        };
        let mut next = self.clone();
        next.updated_at = now;
        let status_event = |to: ArticleStatus, action: EventAction| {
            NewEvent::new(action).change(Some(self.status.to_string()), to.to_string())
        };
        let events = match action {
            ArticleAction::Body(text) => {
                if self.status == Retired {
                    return Err(illegal(
                        "edited",
                        "retired articles are kept as they were; draft a new one with `/kb <title>`"
                            .to_string(),
                    ));
                }
                let chars = text.as_str().chars().count();
                if chars > MAX_BODY_CHARS {
                    return Err(ArticleError::TooLong { given: chars });
                }
                if self.body == text.as_str() {
                    return Err(ArticleError::Unchanged { reference });
                }
                next.body = text.as_str().to_string();
                // An edit of a published article stays published: fixing a
                // typo should not take the answer away from people.
                vec![NewEvent::new(EventAction::Edited).body(text.as_str())]
            }
            ArticleAction::Publish => match self.status {
                Draft if self.body.trim().is_empty() => {
                    return Err(ArticleError::MissingBody { reference })
                }
                Draft => {
                    next.status = Published;
                    next.published_at = Some(now);
                    vec![status_event(Published, EventAction::Published)]
                }
                Published => {
                    return Err(illegal(
                        "published again",
                        format!("it is already shown to everyone; `/kb {reference} show` shows it"),
                    ))
                }
                Retired => {
                    return Err(illegal(
                        "published",
                        "retired articles stay retired; draft a new one with `/kb <title>`"
                            .to_string(),
                    ))
                }
            },
            ArticleAction::Retire => match self.status {
                Draft | Published => {
                    next.status = Retired;
                    next.retired_at = Some(now);
                    vec![status_event(Retired, EventAction::Retired)]
                }
                Retired => return Err(illegal("retired again", "nothing more to do".to_string())),
            },
        };
        Ok(Applied {
            article: next,
            events,
        })
    }
}

/// A new article as drafted, before the store numbers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewArticle {
    pub title: super::Title,
    pub body: String,
    pub author: UserId,
    pub source: Option<TicketRef>,
}

impl NewArticle {
    /// The event that opens its timeline.
    pub fn created_event(&self) -> NewEvent {
        let event =
            NewEvent::new(EventAction::Created).change(None, ArticleStatus::Draft.to_string());
        match self.source {
            Some(source) => event.body(format!("drafted from {source}")),
            None => event,
        }
    }
}

/// The body of an article drafted from a resolved incident: what was
/// wrong and how it was fixed, for the engineer to edit before publishing.
pub fn body_from_resolution(incident: TicketRef, title: &str, resolution: &str) -> String {
    format!("Symptom: {title}\n\nResolution (from {incident}): {resolution}")
}

/// The body of an article drafted from a known error's workaround.
pub fn body_from_workaround(
    problem: TicketRef,
    title: &str,
    root_cause: Option<&str>,
    workaround: &str,
) -> String {
    let cause = root_cause
        .map(|cause| format!("Cause: {cause}\n\n"))
        .unwrap_or_default();
    format!("Symptom: {title}\n\n{cause}Workaround (from {problem}): {workaround}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn article(status: ArticleStatus, body: &str) -> Article {
        let at = DateTime::UNIX_EPOCH;
        Article {
            id: 1,
            number: 7,
            title: "VPN drops".into(),
            body: body.into(),
            status,
            author: "shell:alice".parse().unwrap(),
            source: None,
            created_at: at,
            updated_at: at,
            published_at: None,
            retired_at: None,
        }
    }

    fn text(body: &str) -> FreeText {
        FreeText::parse("body", body).unwrap()
    }

    #[test]
    fn draft_then_publish_then_retire() {
        let now = Utc::now();
        let draft = article(ArticleStatus::Draft, "");
        let written = draft
            .apply(&ArticleAction::Body(text("Restart the client")), now)
            .unwrap();
        assert_eq!(written.article.body, "Restart the client");
        assert_eq!(written.events[0].action, EventAction::Edited);
        let published = written.article.apply(&ArticleAction::Publish, now).unwrap();
        assert_eq!(published.article.status, ArticleStatus::Published);
        assert_eq!(published.article.published_at, Some(now));
        assert!(published.article.is_public());
        let retired = published
            .article
            .apply(&ArticleAction::Retire, now)
            .unwrap();
        assert_eq!(retired.article.status, ArticleStatus::Retired);
        assert_eq!(retired.events[0].to.as_deref(), Some("retired"));
    }

    #[test]
    fn publishing_needs_a_body() {
        let err = article(ArticleStatus::Draft, "  ")
            .apply(&ArticleAction::Publish, Utc::now())
            .unwrap_err();
        assert!(matches!(err, ArticleError::MissingBody { .. }));
        assert!(err.to_string().contains("/kb KB-7 body <text>"), "{err}");
    }

    #[test]
    fn refuses_what_the_lifecycle_does_not_allow() {
        let now = Utc::now();
        let published = article(ArticleStatus::Published, "x");
        assert!(published.apply(&ArticleAction::Publish, now).is_err());
        let retired = article(ArticleStatus::Retired, "x");
        for action in [
            ArticleAction::Publish,
            ArticleAction::Retire,
            ArticleAction::Body(text("new")),
        ] {
            let err = retired.apply(&action, now).unwrap_err();
            assert!(err.to_string().contains("retired"), "{err}");
        }
        let same = published
            .apply(&ArticleAction::Body(text("x")), now)
            .unwrap_err();
        assert_eq!(
            same,
            ArticleError::Unchanged {
                reference: published.reference()
            }
        );
    }

    #[test]
    fn drafts_from_a_resolution_and_a_workaround() {
        let body = body_from_resolution(TicketRef::incident(3), "VPN down", "restarted");
        assert!(body.contains("Resolution (from INC-3): restarted"));
        let problem = TicketRef {
            kind: TicketKind::Problem,
            number: 2,
        };
        let body = body_from_workaround(problem, "VPN drops", Some("MTU"), "lower the MTU");
        assert!(
            body.contains("Cause: MTU") && body.contains("Workaround (from PRB-2): lower the MTU")
        );
    }
}

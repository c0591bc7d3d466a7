//! Knowledge and search in the engine: knowledge-base articles (`/kb`),
//! search over everything (`/itsm search`), the suggestions offered on a
//! new report, and duplicate incidents with their followers.

use sqlx::PgConnection;

use super::{delivers_to, no_such, Engine, ExecError, Request};
use crate::commands::buttons::{Button, ButtonAction, ButtonStyle};
use crate::commands::command::ArticleCommand;
use crate::commands::refusal::{sentence, Refusal};
use crate::commands::reply::{Block, Message, Reply};
use crate::domain::duplicate::{self, close_as_duplicate};
use crate::domain::incident::{Incident, IncidentAction};
use crate::domain::kb::{self, Article, ArticleStatus, NewArticle};
use crate::domain::search::{SearchKind, SearchQuery, MAX_HITS, MAX_SUGGESTIONS};
use crate::domain::triage::{self, Pick, TriageSuggestion};
use crate::domain::{FreeText, Role, TicketKind, TicketRef, Title, UserId};
use crate::store::{self, search::Alike, search::ArticleMatch, search::Hit, StoreError};

/// Most open incidents offered as "looks like" on a new report.
const MAX_ALIKE: usize = 2;

/// Most open look-alikes read for a report, before those on another
/// service are left out.
pub const ALIKE_CANDIDATES: i64 = 10;

/// Most incidents of one alert delivery offered suggestions.
pub const MAX_ALERT_SUGGESTIONS: usize = 3;

/// Incidents opened by alerts within a minute above which none is offered
/// suggestions: a storm.
pub const ALERT_SUGGESTIONS_QUIET: i64 = 3;

/// A report as suggestions see it.
struct Report<'a> {
    title: &'a str,
    description: &'a str,
    service: Option<&'a str>,
    priority: Option<crate::domain::Priority>,
    /// The report's own ticket id, never its own look-alike (0: none yet).
    except: i64,
}

/// What a new report may be: answers the team already has, and open
/// incidents that look like the same thing.
#[derive(Debug, Clone, Default)]
pub struct Suggested {
    pub articles: Vec<ArticleMatch>,
    pub known_errors: Vec<crate::domain::problem::KnownErrorMatch>,
    pub alike: Vec<Alike>,
    /// A service and priority from similar resolved incidents, for a
    /// report without a service.
    pub triage: Option<TriageSuggestion>,
}

impl Engine {
    /// What incident `reference` may be, as its report was offered: for the
    /// API's answer to a new incident. `None` when there is no such incident.
    pub async fn suggestions_for(
        &self,
        reference: TicketRef,
    ) -> Result<Option<Suggested>, StoreError> {
        let mut conn = self.store.acquire().await?;
        let Some(incident) = store::incidents::get(&mut conn, reference.number).await? else {
            return Ok(None);
        };
        Ok(Some(self.suggest(&mut conn, &incident).await?))
    }

    /// Whether `user` may read drafts and write articles.
    async fn is_engineer(
        &self,
        conn: &mut PgConnection,
        user: &UserId,
    ) -> Result<bool, StoreError> {
        Ok(self.roles_of(conn, user).await?.allows(Role::Engineer))
    }

    /// Checks a query typed by a person, with the configured synonyms.
    fn search_query(&self, words: &str, example: &str) -> Result<SearchQuery, Refusal> {
        SearchQuery::parse(words, &self.config.search.synonyms())
            .map_err(|err| Refusal::new(sentence(&err.to_string())).hint(example.to_string()))
    }

    /// `/kb <title>`.
    pub(super) async fn draft_article(
        &self,
        conn: &mut PgConnection,
        request: &Request,
        title: Title,
    ) -> Result<Reply, ExecError> {
        let new = NewArticle {
            title,
            body: String::new(),
            author: request.actor.clone(),
            source: None,
        };
        let article = self.insert_article(conn, request, new).await?;
        let reference = article.reference();
        Ok(Reply::done(
            Message::default()
                .with(Block::Header(format!("{reference} drafted: {}", article.title)))
                .with(Block::Context(format!(
                    "Write it with `/kb {reference} body <text>`, then `/kb {reference} publish` shows it to everyone."
                ))),
        )
        .about(reference))
    }

    async fn insert_article(
        &self,
        conn: &mut PgConnection,
        request: &Request,
        new: NewArticle,
    ) -> Result<Article, ExecError> {
        self.require(
            conn,
            &request.actor,
            Role::Engineer,
            "write knowledge-base articles",
        )
        .await?;
        let now = self.clock.now();
        let platform = request.actor.platform();
        let article =
            store::kb::insert(conn, &new, (platform.as_str(), &request.channel), now).await?;
        store::timeline::append(
            conn,
            article.id,
            &request.actor,
            now,
            &[new.created_event()],
        )
        .await?;
        Ok(article)
    }

    /// `/kb from INC-n | PRB-n`: a draft from a resolution or a workaround.
    pub(super) async fn article_from(
        &self,
        conn: &mut PgConnection,
        request: &Request,
        source: TicketRef,
    ) -> Result<Reply, ExecError> {
        self.require(
            conn,
            &request.actor,
            Role::Engineer,
            "write knowledge-base articles",
        )
        .await?;
        if let Some(number) = store::kb::drafted_from(conn, source).await? {
            return Err(Refusal::new(format!("KB-{number} was already drafted from {source}."))
                .hint(format!("Work on it with `/kb KB-{number} show`, or retire it first to draft a new one."))
                .into());
        }
        let (title, body) = match source.kind {
            TicketKind::Problem => {
                let problem = store::problems::get(conn, source.number)
                    .await?
                    .ok_or_else(|| no_such(source))?;
                let workaround = problem.workaround.as_deref().ok_or_else(|| {
                    Refusal::new(format!("{source} has no workaround to write up.")).hint(format!(
                        "Record it first with `/problem {source} workaround <text>`."
                    ))
                })?;
                let body = kb::body_from_workaround(
                    source,
                    &problem.title,
                    problem.root_cause.as_deref(),
                    workaround,
                );
                (problem.title, body)
            }
            _ => {
                let incident = store::incidents::get(conn, source.number)
                    .await?
                    .ok_or_else(|| no_such(source))?;
                let resolution = incident
                    .resolution
                    .as_deref()
                    .filter(|_| !incident.status.is_open())
                    .ok_or_else(|| {
                        Refusal::new(format!(
                            "{source} is not resolved yet, so it has no resolution to write up."
                        ))
                        .hint(format!(
                            "Resolve it with `/incident {source} resolve <what fixed it>` first."
                        ))
                    })?;
                let body = kb::body_from_resolution(source, &incident.title, resolution);
                (incident.title, body)
            }
        };
        let title = Title::parse(&title).map_err(|err| Refusal::new(sentence(&err.to_string())))?;
        let new = NewArticle {
            title,
            body,
            author: request.actor.clone(),
            source: Some(source),
        };
        let article = self.insert_article(conn, request, new).await?;
        let reference = article.reference();
        Ok(Reply::done(
            article_message(&article, self)
                .with(Block::Context(format!(
                    "Drafted from {source}. Edit it with `/kb {reference} body <text>`; `/kb {reference} publish` shows it to everyone."
                ))),
        )
        .about(reference))
    }

    /// `/kb KB-n …`.
    pub(super) async fn work_article(
        &self,
        conn: &mut PgConnection,
        request: &Request,
        reference: TicketRef,
        command: ArticleCommand,
    ) -> Result<Reply, ExecError> {
        let action = match command {
            ArticleCommand::Show => {
                let article = store::kb::get(conn, reference.number)
                    .await?
                    .ok_or_else(|| no_such_article(reference))?;
                if !article.is_public() && !self.is_engineer(conn, &request.actor).await? {
                    // Drafts and retired articles are the engineers' own
                    // business; to everyone else they do not exist.
                    return Err(no_such_article(reference).into());
                }
                let events = store::timeline::list(conn, article.id).await?;
                let mut message = article_message(&article, self);
                if !events.is_empty() {
                    message = message.with(Block::List {
                        title: Some("Timeline".into()),
                        items: events
                            .iter()
                            .map(|e| {
                                format!(
                                    "{} {} {}",
                                    self.stamp(e.at),
                                    e.actor.display_name(),
                                    e.describe()
                                )
                            })
                            .collect(),
                    });
                }
                return Ok(Reply::answer(message).about(reference));
            }
            ArticleCommand::Act(action) => action,
        };
        let doing = format!("`{}` an article", action.verb());
        self.require(conn, &request.actor, Role::Engineer, &doing)
            .await?;
        let article = store::kb::lock(conn, reference.number)
            .await?
            .ok_or_else(|| no_such_article(reference))?;
        let now = self.clock.now();
        let applied = article.apply(&action, now).map_err(Refusal::from)?;
        store::kb::update(conn, &applied.article).await?;
        store::timeline::append(conn, article.id, &request.actor, now, &applied.events).await?;
        let after = &applied.article;
        let text = match action {
            kb::ArticleAction::Body(_) => format!("{reference} body written ({}).", after.status),
            kb::ArticleAction::Publish => format!(
                "{reference} published: everyone can read it, and new reports that look like it are offered it."
            ),
            kb::ArticleAction::Retire => format!("{reference} retired: searches and suggestions leave it out."),
        };
        Ok(
            Reply::done(Message::text(text).with(Block::Context(article_line(after))))
                .about(reference),
        )
    }

    /// `/kb search <words>`, or `/kb` alone: the latest published articles.
    pub(super) async fn search_articles(
        &self,
        conn: &mut PgConnection,
        request: &Request,
        words: Option<&str>,
    ) -> Result<Reply, ExecError> {
        let drafts = self.is_engineer(conn, &request.actor).await?;
        let query = match words {
            Some(words) => Some(self.search_query(words, "For example: `/kb search vpn drops`.")?),
            None => None,
        };
        let found = store::kb::list(conn, query.as_ref(), drafts, MAX_HITS).await?;
        let title = match words {
            Some(words) => format!("Articles matching “{words}”"),
            None => "Latest articles".to_string(),
        };
        if found.is_empty() {
            let text = match words {
                Some(words) => format!("No article matches “{words}”."),
                None => "There are no published articles yet.".to_string(),
            };
            return Ok(Reply::answer(Message::text(text).with(Block::Context(
                "`/itsm search <words>` looks through incidents, problems and changes too; engineers write articles with `/kb <title>` or `/kb from INC-n`.".into(),
            ))));
        }
        Ok(Reply::answer(Message::default().with(Block::List {
            title: Some(title),
            items: found.iter().map(article_line).collect(),
        })))
    }

    /// `/itsm search <words> [kind:…] [status:open]`.
    pub(super) async fn search_everything(
        &self,
        conn: &mut PgConnection,
        request: &Request,
        words: &str,
    ) -> Result<Reply, ExecError> {
        let query = self.search_query(
            words,
            "For example: `/itsm search vpn drops kind:incident status:open`.",
        )?;
        let drafts = self.is_engineer(conn, &request.actor).await?;
        let hits = store::search::search(conn, &query, drafts, MAX_HITS).await?;
        if hits.is_empty() {
            return Ok(Reply::answer(Message::text(format!("Nothing matches “{words}”.")).with(
                Block::Context("Try fewer or other words; `kind:` and `status:open` narrow a search, they do not widen it.".into()),
            )));
        }
        let more = if hits.len() as i64 == MAX_HITS {
            " (the best 10)"
        } else {
            ""
        };
        Ok(Reply::answer(Message::default().with(Block::List {
            title: Some(format!("Matching “{words}”{more}")),
            items: hits.iter().map(|hit| self.hit_line(hit)).collect(),
        })))
    }

    /// `INC-9 [acknowledged] VPN down — vpn, opened <time>`.
    fn hit_line(&self, hit: &Hit) -> String {
        let service = hit
            .service
            .as_deref()
            .map(|s| format!(" — {s}"))
            .unwrap_or_default();
        format!(
            "{}-{} [{}] {}{service}, opened {}",
            prefix(hit.kind),
            hit.number,
            hit.status,
            hit.title,
            self.stamp(hit.created_at)
        )
    }

    /// The answers and look-alikes for a new incident, and its triage.
    pub(super) async fn suggest(
        &self,
        conn: &mut PgConnection,
        incident: &Incident,
    ) -> Result<Suggested, StoreError> {
        self.suggest_for(
            conn,
            &Report {
                title: &incident.title,
                description: &incident.description,
                service: incident.service.as_deref(),
                priority: Some(incident.priority),
                except: incident.id,
            },
        )
        .await
    }

    /// What a report reading `title` (on `service`, if given) would be
    /// offered, as if reported now: for `itsm-bench triage`, which times it.
    pub async fn suggestions_for_report(
        &self,
        title: &str,
        service: Option<&str>,
    ) -> Result<Suggested, StoreError> {
        let mut conn = self.store.acquire().await?;
        self.suggest_for(
            &mut conn,
            &Report {
                title,
                description: "",
                service,
                priority: None,
                except: 0,
            },
        )
        .await
    }

    /// The services and priorities the triage model ranks for a report
    /// reading `text`, best first (for `itsm-bench triage`'s top-3).
    pub async fn triage_ranking(
        &self,
        text: &str,
    ) -> Result<(Vec<Pick<String>>, Vec<Pick<crate::domain::Priority>>), StoreError> {
        let mut conn = self.store.acquire().await?;
        let (classes, words, order) =
            store::triage::evidence(&mut conn, &self.triage_text(text, "")).await?;
        Ok((
            triage::rank_services(&classes, &words, &order),
            triage::rank_priorities(&classes, &words, &order),
        ))
    }

    /// The text the triage model reads for a report: its words, and the
    /// team's synonyms of them (a report saying "remote access" reads as
    /// one saying "vpn" too).
    fn triage_text(&self, title: &str, description: &str) -> String {
        // A description is read as far as a paragraph goes: the title and
        // its first lines carry the telling words.
        let description: String = description.chars().take(500).collect();
        let text = format!("{title} {description}");
        match SearchQuery::from_title(&text, &self.config.search.synonyms()) {
            Some(query) => query
                .terms
                .iter()
                .flat_map(|term| term.alternatives.iter().flatten())
                .cloned()
                .collect::<Vec<_>>()
                .join(" "),
            None => String::new(),
        }
    }

    /// The triage model's suggestion for a report, `None` when it is not
    /// sure enough of anything.
    async fn triage(
        &self,
        conn: &mut PgConnection,
        title: &str,
        description: &str,
    ) -> Result<Option<TriageSuggestion>, StoreError> {
        let text = self.triage_text(title, description);
        if text.is_empty() {
            return Ok(None);
        }
        let (classes, words, order) = store::triage::evidence(conn, &text).await?;
        Ok(triage::suggest(
            &classes,
            &words,
            &order,
            self.config.triage.min_confidence,
        ))
    }

    async fn suggest_for(
        &self,
        conn: &mut PgConnection,
        report: &Report<'_>,
    ) -> Result<Suggested, StoreError> {
        let Some(query) = SearchQuery::from_title(report.title, &self.config.search.synonyms())
        else {
            return Ok(Suggested::default());
        };
        let (articles, known_errors) =
            store::search::answers(conn, &query, MAX_SUGGESTIONS).await?;
        let candidates = store::search::alike_open(
            conn,
            &query,
            duplicate::MIN_ALIKE,
            report.except,
            ALIKE_CANDIDATES,
        )
        .await?;
        let triage = if self.config.triage.suggest && report.service.is_none() {
            self.triage(conn, report.title, report.description)
                .await?
                // A priority the same as the report's adds nothing.
                .map(|mut s| {
                    if s.priority
                        .as_ref()
                        .is_some_and(|p| Some(p.value) == report.priority)
                        && s.service.is_some()
                    {
                        s.priority = None;
                    }
                    s
                })
        } else {
            None
        };
        // The same thing is on the same service: the one given, else the
        // one triage is sure of.
        let service = report.service.or_else(|| {
            triage
                .as_ref()
                .and_then(|t| t.service.as_ref())
                .map(|pick| pick.value.as_str())
        });
        let alike = duplicate::offered(candidates, service, MAX_ALIKE);
        Ok(Suggested {
            articles,
            known_errors,
            alike,
            triage,
        })
    }

    /// Offers incidents that alerts opened what a person's report is
    /// offered (articles, known errors, open look-alikes, triage), as a
    /// post under each card, for at most [`MAX_ALERT_SUGGESTIONS`] of
    /// `opened`, and for none while alerts are storming (more than
    /// [`ALERT_SUGGESTIONS_QUIET`] incidents opened by alerts within a
    /// minute): a storm is one thing, and hundreds of suggestion posts
    /// would bury the channel and hold the database. Returns how many
    /// incidents got a post.
    pub async fn suggest_for_alert_incidents(
        &self,
        opened: &[TicketRef],
    ) -> Result<usize, StoreError> {
        if opened.is_empty() {
            return Ok(0);
        }
        let mut conn = self.store.acquire().await?;
        let now = self.clock.now();
        let actors: Vec<String> = [
            crate::domain::alert::AlertSource::Alertmanager,
            crate::domain::alert::AlertSource::Grafana,
        ]
        .into_iter()
        .filter_map(|source| crate::domain::UserId::monitoring(source).ok())
        .map(|actor| actor.to_string())
        .collect();
        let recent = store::search::opened_by_since(
            &mut conn,
            &actors,
            now - chrono::Duration::minutes(1),
            ALERT_SUGGESTIONS_QUIET + 1,
        )
        .await?;
        if recent > ALERT_SUGGESTIONS_QUIET {
            tracing::debug!(recent, "alert storm: no suggestions on alert incidents");
            return Ok(0);
        }
        let mut posted = 0;
        for reference in opened.iter().take(MAX_ALERT_SUGGESTIONS) {
            let Some(incident) = store::incidents::get(&mut conn, reference.number).await? else {
                continue;
            };
            let mut suggested = self.suggest(&mut conn, &incident).await?;
            // Alerts that look alike are one storm (grouping and the
            // fingerprint handle them); what matters is a person's report
            // of the same thing.
            suggested
                .alike
                .retain(|alike| !actors.contains(&alike.reporter));
            if suggested.articles.is_empty()
                && suggested.known_errors.is_empty()
                && suggested.alike.is_empty()
                && suggested.triage.is_none()
            {
                continue;
            }
            let mut blocks = self.suggestion_blocks(*reference, &suggested);
            let rest = blocks.split_off(suggested.articles.len());
            let mut message = Message::default().with(Block::Context(format!(
                "{reference} ({}): what the desk already knows",
                incident.title
            )));
            message.blocks.extend(blocks);
            message.blocks.extend(super::problem::known_error_blocks(
                *reference,
                &suggested.known_errors,
            ));
            message.blocks.extend(rest);
            // Under the card when it is out already; else right after it
            // (the outbox sends a channel's rows in order).
            let thread = store::messages::find(&mut conn, incident.id, incident.origin.platform)
                .await?
                .map(|card| card.thread)
                .or_else(|| incident.origin.thread.clone());
            let channel = crate::domain::channel::ChannelRef {
                platform: incident.origin.platform,
                channel: incident.origin.channel.clone(),
            };
            crate::commands::notice::post(
                &mut conn,
                &channel,
                thread.as_deref(),
                &message,
                Some(incident.id),
                now,
            )
            .await?;
            posted += 1;
        }
        if posted > 0 {
            self.outbox_signal.notify_waiters();
        }
        Ok(posted)
    }

    /// The blocks a report's reply shows for `suggested`: its articles,
    /// then its look-alikes (known errors have blocks of their own).
    pub(super) fn suggestion_blocks(
        &self,
        incident: TicketRef,
        suggested: &Suggested,
    ) -> Vec<Block> {
        let mut blocks: Vec<Block> = suggested
            .articles
            .iter()
            .map(|article| {
                Block::Text(format!(
                    "Article KB-{} may answer it: {}. {}",
                    article.number,
                    article.title,
                    first_lines(&article.body)
                ))
            })
            .collect();
        if let Some(triage) = &suggested.triage {
            blocks.push(Block::Text(format!(
                "Suggested: {}. `/incident {incident} accept-suggestion` applies it.",
                triage.reason()
            )));
            blocks.push(Block::Actions(vec![Button {
                label: "Accept suggestion".into(),
                action: ButtonAction::AcceptSuggestion(incident),
                style: ButtonStyle::Primary,
            }]));
        }
        for alike in &suggested.alike {
            let service = alike
                .service
                .as_deref()
                .map(|s| format!(" on {s}"))
                .unwrap_or_default();
            blocks.push(Block::Text(format!(
                "Looks like INC-{}, open since {}{service}: {} — `/incident {incident} duplicate-of INC-{}`",
                alike.number,
                self.stamp(alike.created_at),
                alike.title,
                alike.number
            )));
        }
        if !suggested.alike.is_empty() {
            blocks.push(Block::Actions(
                suggested
                    .alike
                    .iter()
                    .map(|alike| Button {
                        label: format!("Mark duplicate of INC-{}", alike.number),
                        action: ButtonAction::MarkDuplicate(
                            incident,
                            TicketRef::incident(alike.number),
                        ),
                        style: ButtonStyle::Default,
                    })
                    .collect(),
            ));
        }
        blocks
    }

    /// `/incident INC-n duplicate-of INC-m`.
    pub(super) async fn mark_duplicate(
        &self,
        conn: &mut PgConnection,
        request: &Request,
        reference: TicketRef,
        target: TicketRef,
    ) -> Result<Reply, ExecError> {
        self.require(conn, &request.actor, Role::Engineer, "mark duplicates")
            .await?;
        if reference == target {
            // Said before any lookup, so an unknown INC-n gets the same answer.
            return Err(
                Refusal::from(crate::domain::duplicate::DuplicateError::Itself { reference })
                    .into(),
            );
        }
        // Locked in ticket order, so two people marking a pair each way
        // cannot deadlock.
        let (first, second) = if reference.number < target.number {
            (reference, target)
        } else {
            (target, reference)
        };
        let a = store::incidents::lock(conn, first.number)
            .await?
            .ok_or_else(|| no_such(first))?;
        let b = store::incidents::lock(conn, second.number)
            .await?
            .ok_or_else(|| no_such(second))?;
        let (duplicate, into) = if a.reference() == reference {
            (a, b)
        } else {
            (b, a)
        };
        let chain = store::duplicates::chain(conn, into.id).await?;
        let now = self.clock.now();
        let done = close_as_duplicate(&duplicate, &into, &chain, now).map_err(Refusal::from)?;
        store::incidents::update(conn, &done.duplicate).await?;
        store::timeline::append(
            conn,
            duplicate.id,
            &request.actor,
            now,
            &done.duplicate_events,
        )
        .await?;
        store::timeline::append(conn, into.id, &request.actor, now, &done.target_events).await?;
        store::duplicates::mark(conn, duplicate.id, into.id, now).await?;
        let resolution = FreeText::parse("resolution", &format!("Duplicate of {target}"))
            .map_err(|err| Refusal::new(sentence(&err.to_string())))?;
        // For the SLA clocks a duplicate ends like a resolve: its pause (if
        // on hold) closes and its clocks post nothing more.
        self.sync_sla(
            conn,
            &done.duplicate,
            Some((&duplicate, &IncidentAction::Resolve(resolution))),
            now,
        )
        .await?;
        self.sync_cards(conn, &done.duplicate, now).await?;
        let message = Message::text(format!(
            "{reference} closed as a duplicate of {target}. {} will hear when {target} is resolved.",
            duplicate.reporter.display_name()
        ))
        .with(Block::Context(crate::commands::view::incident::incident_line(&into, self.zone())));
        Ok(Reply::done(message).about(reference))
    }

    /// `/incident INC-n accept-suggestion`: sets the suggested service (when
    /// it has none) and priority, as triage suggests them now.
    pub(super) async fn accept_suggestion(
        &self,
        conn: &mut PgConnection,
        request: &Request,
        reference: TicketRef,
    ) -> Result<Reply, ExecError> {
        let incident = self
            .lock_incident_for(
                conn,
                &request.actor,
                Role::Engineer,
                "accept a triage suggestion",
                reference,
            )
            .await?;
        let nothing = |why: &str| -> ExecError {
            Refusal::new(format!("There is no suggestion to accept for {reference}: {why}."))
                .hint(format!("Set them yourself: `/incident {reference} priority P2`, or report again with `service:<name>`."))
                .into()
        };
        if !incident.status.is_open() {
            return Err(nothing(&format!("it is {}", incident.status)));
        }
        let suggestion = self
            .triage(conn, &incident.title, &incident.description)
            .await?
            .ok_or_else(|| {
                nothing("the resolved incidents the desk has learnt from do not point clearly at a service or priority for it")
            })?;
        let service = suggestion
            .service
            .as_ref()
            .filter(|_| incident.service.is_none());
        let priority = suggestion
            .priority
            .as_ref()
            .filter(|p| p.value != incident.priority);
        if service.is_none() && priority.is_none() {
            return Err(nothing("it already has the suggested service and priority"));
        }
        let mut done = Vec::new();
        if let Some(service) = service {
            let service_id = self.find_service(conn, &service.value).await?;
            let now = self.clock.now();
            store::duplicates::set_service(conn, incident.id, service_id, now).await?;
            let event = crate::domain::timeline::NewEvent::new(
                crate::domain::timeline::EventAction::Triaged,
            )
            .change(None, format!("service {}", service.value))
            .body(suggestion.reason());
            store::timeline::append(conn, incident.id, &request.actor, now, &[event]).await?;
            if priority.is_none() {
                // A new priority below edits the card anyway.
                let mut updated = incident.clone();
                updated.service = Some(service.value.clone());
                updated.updated_at = now;
                self.sync_cards(conn, &updated, now).await?;
            }
            done.push(format!("service {}", service.value));
        }
        if let Some(priority) = priority {
            // Through the lifecycle, so the SLA clocks, cards and paging
            // follow the new priority as they do for `priority P2`.
            self.act_on_incident(
                conn,
                request,
                reference,
                IncidentAction::SetPriority(priority.value),
            )
            .await?;
            done.push(format!("priority {}", priority.value));
        }
        Ok(Reply::done(Message::text(format!(
            "{reference}: {} set, as suggested ({}).",
            done.join(" and "),
            suggestion.reason()
        )))
        .about(reference))
    }

    /// After incident `incident` is resolved: tells its followers (the
    /// reporters of its duplicates) on their platform, where the bot
    /// delivers, and names them in `message` so the shell hears it too.
    pub(super) async fn tell_followers(
        &self,
        conn: &mut PgConnection,
        incident: &Incident,
        message: &mut Message,
    ) -> Result<(), StoreError> {
        let followers = store::duplicates::followers(conn, incident.id).await?;
        if followers.is_empty() {
            return Ok(());
        }
        let reference = incident.reference();
        let resolution = incident.resolution.as_deref().unwrap_or("resolved");
        let now = self.clock.now();
        for follower in &followers {
            let via = follower
                .via
                .map(|n| format!(" (you reported it as INC-{n})"))
                .unwrap_or_default();
            let text = format!("{reference} is resolved{via}: {resolution}");
            if delivers_to(follower.platform) {
                store::outbox::enqueue_notice(
                    conn,
                    follower.platform,
                    &follower.channel,
                    follower.thread.as_deref(),
                    &text,
                    Some(incident.id),
                    now,
                )
                .await?;
            }
            message.blocks.push(Block::Mention {
                label: format!(
                    "Told (follows {reference}{}):",
                    follower
                        .via
                        .map(|n| format!(" via INC-{n}"))
                        .unwrap_or_default()
                ),
                user: follower.user.to_string(),
            });
        }
        Ok(())
    }
}

/// The reference prefix of a search hit's kind.
fn prefix(kind: SearchKind) -> &'static str {
    match kind {
        SearchKind::Incident => TicketKind::Incident.prefix(),
        SearchKind::Problem => TicketKind::Problem.prefix(),
        SearchKind::Change => TicketKind::Change.prefix(),
        SearchKind::Kb => TicketKind::Kb.prefix(),
        // Service requests are `REQ-n` (their own branch adds the kind).
        SearchKind::Request => "REQ",
    }
}

fn no_such_article(reference: TicketRef) -> Refusal {
    Refusal::new(format!("There is no {reference}."))
        .hint("`/kb search <words>` finds published articles; `/kb` lists the latest.")
}

/// `KB-3 [published] VPN drops at home`.
fn article_line(article: &Article) -> String {
    format!(
        "{} [{}] {}",
        article.reference(),
        article.status,
        article.title
    )
}

/// The start of an article body on one line, for a suggestion.
fn first_lines(body: &str) -> String {
    let flat = body.split_whitespace().collect::<Vec<_>>().join(" ");
    let short: String = flat.chars().take(300).collect();
    if short.len() < flat.len() {
        format!("{short}…")
    } else {
        short
    }
}

fn article_message(article: &Article, engine: &Engine) -> Message {
    let reference = article.reference();
    let body = if article.body.is_empty() {
        format!("(no body yet: `/kb {reference} body <text>`)")
    } else {
        article.body.clone()
    };
    let mut facts = vec![
        ("Status".to_string(), article.status.to_string()),
        ("Author".to_string(), article.author.display_name()),
    ];
    if let Some(source) = article.source {
        facts.push(("From".to_string(), source.to_string()));
    }
    if let (ArticleStatus::Published, Some(at)) = (article.status, article.published_at) {
        facts.push(("Published".to_string(), engine.stamp(at)));
    }
    Message::default()
        .with(Block::Header(format!("{reference}: {}", article.title)))
        .with(Block::Fields(facts))
        .with(Block::Text(body))
}

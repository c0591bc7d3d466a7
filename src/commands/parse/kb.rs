//! `/kb …` → [`Command`].

use super::next_word;
use crate::commands::command::{ArticleCommand, Command};
use crate::commands::refusal::{sentence, Refusal};
use crate::domain::kb::ArticleAction;
use crate::domain::{FreeText, TicketKind, TicketRef, Title};

const USAGE: &str = "`/kb <title>` drafts an article; `/kb KB-n body <text>`, `publish`, `retire`, `show` work it; `/kb from INC-n` or `/kb from PRB-n` drafts one from a resolution or a workaround; `/kb search <words>` finds articles.";

/// The verbs of an existing article, for refusals.
const ARTICLE_ACTIONS: &str = "body <text>, publish, retire, show";

/// Parses the text after `/kb`.
pub(super) fn parse_kb(text: &str) -> Result<Command, Refusal> {
    let Some((first, rest)) = next_word(text) else {
        return Ok(Command::SearchArticles(None));
    };
    if TicketRef::looks_like(first) {
        let reference = reference(first, "For example: `/kb KB-3 show`.")?;
        if reference.kind != TicketKind::Kb {
            return Err(Refusal::new(format!("{reference} is not an article.")).hint(format!(
                "Work it with `{} {reference} …`, or draft an article from it with `/kb from {reference}`.",
                reference.kind.command()
            )));
        }
        return Ok(Command::Article(reference, parse_action(reference, rest)?));
    }
    match first.to_ascii_lowercase().as_str() {
        "search" => {
            if rest.trim().is_empty() {
                return Err(Refusal::new("`/kb search` needs words to look for.")
                    .hint("For example: `/kb search vpn drops`."));
            }
            return Ok(Command::SearchArticles(Some(rest.trim().to_string())));
        }
        "from" => {
            let mut words = rest.split_whitespace();
            let source = match (words.next(), words.next()) {
                (Some(word), None) => reference(word, FROM_USAGE)?,
                _ => {
                    return Err(
                        Refusal::new("`/kb from` takes one incident or problem.").hint(FROM_USAGE)
                    )
                }
            };
            if !matches!(source.kind, TicketKind::Incident | TicketKind::Problem) {
                return Err(Refusal::new(format!(
                    "An article is drafted from a resolved incident or a known error, not from {source}."
                ))
                .hint(FROM_USAGE));
            }
            return Ok(Command::ArticleFrom(source));
        }
        _ => {}
    }
    let title =
        Title::parse(text).map_err(|err| Refusal::new(sentence(&err.to_string())).hint(USAGE))?;
    Ok(Command::DraftArticle(title))
}

const FROM_USAGE: &str =
    "For example: `/kb from INC-12` (its resolution) or `/kb from PRB-3` (its workaround).";

fn reference(word: &str, hint: &str) -> Result<TicketRef, Refusal> {
    word.parse()
        .map_err(|err: crate::domain::reference::ReferenceError| {
            Refusal::new(sentence(&err.to_string())).hint(hint)
        })
}

fn parse_action(reference: TicketRef, text: &str) -> Result<ArticleCommand, Refusal> {
    let Some((verb, rest)) = next_word(text) else {
        return Ok(ArticleCommand::Show);
    };
    let no_text = |verb: &str| {
        if rest.is_empty() {
            Ok(())
        } else {
            Err(Refusal::new(format!("`{verb}` takes nothing after it."))
                .hint(format!("For example: `/kb {reference} {verb}`.")))
        }
    };
    let action = match verb.to_ascii_lowercase().as_str() {
        "show" => {
            no_text("show")?;
            return Ok(ArticleCommand::Show);
        }
        "body" | "text" => ArticleAction::Body(FreeText::parse("body", rest).map_err(|err| {
            Refusal::new(sentence(&err.to_string())).hint(format!(
                "For example: `/kb {reference} body Restart the VPN client, then sign in again.`"
            ))
        })?),
        "publish" => {
            no_text("publish")?;
            ArticleAction::Publish
        }
        "retire" => {
            no_text("retire")?;
            ArticleAction::Retire
        }
        other => {
            return Err(Refusal::new(format!(
                "`{other}` is not something you can do to an article."
            ))
            .hint(format!("Try one of: {ARTICLE_ACTIONS}.")))
        }
    };
    Ok(ArticleCommand::Act(action))
}

//! `/request …` → [`Command`].

use super::{next_word, ParseContext, VerbArgs};
use crate::commands::command::{Command, RequestCommand, RequestIntake, RequestList};
use crate::commands::refusal::{sentence, Refusal};
use crate::domain::request::RequestAction;
use crate::domain::{FreeText, TicketKind, TicketRef};

/// The verbs of an existing request, for refusals.
pub(super) const REQUEST_ACTIONS: &str = "approve [comment], reject <reason>, take, task <k> done, note <text>, fulfil [note], cancel <why>, hold <why>, resume, close, rate <1-5>, show";

const ASK_USAGE: &str = "Ask with `/request <item> field:value … [details]`, e.g. `/request laptop model:13-inch reason:\"new starter\"`; `/request` lists the catalog.";

/// Parses the text after `/request`.
pub(super) fn parse_request(text: &str, _ctx: ParseContext<'_>) -> Result<Command, Refusal> {
    let Some((first, rest)) = next_word(text) else {
        return Ok(Command::RequestCatalog);
    };
    if TicketRef::looks_like(first) {
        let reference: TicketRef =
            first
                .parse()
                .map_err(|err: crate::domain::reference::ReferenceError| {
                    Refusal::new(sentence(&err.to_string()))
                        .hint("For example: `/request REQ-3 show`.")
                })?;
        if reference.kind != TicketKind::Request {
            return Err(
                Refusal::new(format!("{reference} is not a service request.")).hint(format!(
                    "Work it with `{} {reference} …`.",
                    reference.kind.command()
                )),
            );
        }
        return Ok(Command::Request(reference, parse_action(reference, rest)?));
    }
    let item = first.to_ascii_lowercase();
    if !crate::domain::service::valid_name(&item) {
        return Err(Refusal::new(format!("`{first}` is not a catalog item name.")).hint(ASK_USAGE));
    }
    let (fields, words) = split_fields(rest)?;
    let details = if words.is_empty() {
        None
    } else {
        Some(
            FreeText::parse("details", &words.join(" "))
                .map_err(|err| Refusal::new(sentence(&err.to_string())).hint(ASK_USAGE))?,
        )
    };
    Ok(Command::OpenRequest(RequestIntake {
        item,
        fields,
        details,
    }))
}

/// `field:value` pairs as typed, and the other words.
type Split = (Vec<(String, String)>, Vec<String>);

/// Splits `field:value` pairs (values may be quoted: `reason:"new
/// starter"`) from the words of free text.
fn split_fields(text: &str) -> Result<Split, Refusal> {
    let mut fields = Vec::new();
    let mut words = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let token = &rest[..end];
        let field = token.split_once(':').filter(|(key, _)| {
            !key.is_empty() && crate::domain::service::valid_name(&key.to_ascii_lowercase())
        });
        match field {
            Some((key, value)) if value.starts_with('"') => {
                // The value runs to the closing quote, spaces and all.
                let start = key.len() + 2;
                let Some(close) = rest[start..].find('"') else {
                    return Err(Refusal::new(format!(
                        "The value of `{key}` opens a quote that is never closed."
                    ))
                    .hint("Close it: `reason:\"new starter\"`."));
                };
                fields.push((
                    key.to_ascii_lowercase(),
                    rest[start..start + close].to_string(),
                ));
                rest = rest[start + close + 1..].trim_start();
                continue;
            }
            Some((key, value)) => fields.push((key.to_ascii_lowercase(), value.to_string())),
            None => words.push(token.to_string()),
        }
        rest = rest[end..].trim_start();
    }
    Ok((fields, words))
}

fn parse_action(reference: TicketRef, text: &str) -> Result<RequestCommand, Refusal> {
    let Some((verb, rest)) = next_word(text) else {
        return Ok(RequestCommand::Show);
    };
    let verb = verb.to_ascii_lowercase();
    let args = VerbArgs { reference, rest };
    let no_text = |verb: &str| args.none(verb);
    let free_text = |what: &'static str, form: &str| args.text(what, form);
    let optional_text = |what: &'static str, form: &str| {
        if rest.is_empty() {
            Ok(None)
        } else {
            free_text(what, form).map(Some)
        }
    };
    let action = match verb.as_str() {
        "show" => {
            no_text("show")?;
            return Ok(RequestCommand::Show);
        }
        "approve" => RequestAction::Approve(optional_text("comment", "approve budget ok")?),
        "reject" => RequestAction::Reject(free_text("reason", "reject no budget this quarter")?),
        "take" => {
            no_text("take")?;
            RequestAction::Take
        }
        "rate" => {
            let score = rest
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|s| (1..=5).contains(s));
            return score.map(RequestCommand::Rate).ok_or_else(|| {
                Refusal::new("`rate` takes a score from 1 (poor) to 5 (excellent).")
                    .hint(args.usage("rate 5"))
            });
        }
        "task" => {
            let mut words = rest.split_whitespace();
            let task = match (words.next(), words.next(), words.next()) {
                (Some(k), Some(done), None) if done.eq_ignore_ascii_case("done") => {
                    k.parse::<u32>().ok().filter(|k| *k >= 1)
                }
                _ => None,
            };
            let task = task.ok_or_else(|| {
                Refusal::new("`task` takes a task number and `done`.")
                    .hint(args.usage("task 1 done` (`show` lists the tasks)"))
            })?;
            RequestAction::TaskDone(task)
        }
        "note" | "comment" => {
            RequestAction::Note(free_text("note", "note ordered from the usual supplier")?)
        }
        "fulfil" | "fulfill" => {
            RequestAction::Fulfil(optional_text("note", "fulfil handed over at the desk")?)
        }
        "cancel" => {
            RequestAction::Cancel(free_text("reason to cancel", "cancel no longer needed")?)
        }
        "hold" => RequestAction::Hold(free_text("hold reason", "hold waiting for the start date")?),
        "resume" => {
            no_text("resume")?;
            RequestAction::Resume
        }
        "close" => {
            no_text("close")?;
            RequestAction::Close
        }
        other => {
            return Err(Refusal::new(format!(
                "`{other}` is not something you can do to a service request."
            ))
            .hint(format!("Try one of: {REQUEST_ACTIONS}.")))
        }
    };
    Ok(RequestCommand::Act(action))
}

/// `/itsm requests [mine|queue|approvals]`.
pub(super) fn parse_listing(text: &str) -> Result<RequestList, Refusal> {
    match text.trim().to_ascii_lowercase().as_str() {
        "" | "mine" => Ok(RequestList::Mine),
        "queue" => Ok(RequestList::Queue),
        "approvals" => Ok(RequestList::Approvals),
        other => Err(Refusal::new(format!("`/itsm requests {other}` is not a list.")).hint(
            "`/itsm requests mine` (yours), `/itsm requests queue` (the team's work), `/itsm requests approvals` (awaiting approval).",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Platform, UserId};

    fn parse(text: &str) -> Result<Command, Refusal> {
        let actor: UserId = "shell:eve".parse().unwrap();
        parse_request(
            text,
            ParseContext {
                platform: Platform::Shell,
                actor: &actor,
            },
        )
    }

    #[test]
    fn fields_quoted_values_and_details() {
        let Ok(Command::OpenRequest(intake)) =
            parse("Laptop model:13-inch reason:\"new starter\" for   Eve in sales")
        else {
            panic!("not a request");
        };
        assert_eq!(intake.item, "laptop");
        assert_eq!(
            intake.fields,
            vec![
                ("model".to_string(), "13-inch".to_string()),
                ("reason".to_string(), "new starter".to_string())
            ]
        );
        assert_eq!(intake.details.unwrap().as_str(), "for Eve in sales");
        assert!(parse("laptop reason:\"open").is_err());
        // A form button carries the request as text; it reads back the same.
        let Ok(Command::OpenRequest(intake)) =
            parse("laptop model:13-inch reason:\"new starter\" for Eve")
        else {
            panic!("not a request");
        };
        assert_eq!(
            intake.to_text(),
            "laptop model:13-inch reason:\"new starter\" for Eve"
        );
        assert_eq!(parse(&intake.to_text()), Ok(Command::OpenRequest(intake)));
        assert_eq!(parse(""), Ok(Command::RequestCatalog));
    }

    #[test]
    fn verbs_of_a_request() {
        let reference: TicketRef = "REQ-4".parse().unwrap();
        assert_eq!(
            parse("req-4 task 2 done"),
            Ok(Command::Request(
                reference,
                RequestCommand::Act(RequestAction::TaskDone(2))
            ))
        );
        assert_eq!(
            parse("REQ-4"),
            Ok(Command::Request(reference, RequestCommand::Show))
        );
        assert_eq!(
            parse("REQ-4 rate 5"),
            Ok(Command::Request(reference, RequestCommand::Rate(5)))
        );
        for bad in [
            "REQ-4 task two done",
            "REQ-4 task 0 done",
            "REQ-4 reject",
            "REQ-4 dance",
            "INC-4 show",
            "REQ-4 take now",
            "REQ-4 rate 6",
            "REQ-4 rate",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}

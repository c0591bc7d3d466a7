//! `/problem …` → [`Command`].

use super::{next_word, ParseContext, VerbArgs};
use crate::commands::command::{Command, ProblemCommand, ProblemDraft};
use crate::commands::refusal::{sentence, Refusal};
use crate::domain::problem::ProblemAction;
use crate::domain::{FreeText, TicketKind, TicketRef, Title};

const RECORD_USAGE: &str = "Record a problem with `/problem <the underlying cause or pattern> [service:<name>]` (further lines become its description), e.g. `/problem VPN drops connections service:vpn`; `/problem search <words>` searches the known errors.";

/// The verbs of an existing problem, for refusals.
pub(super) const PROBLEM_ACTIONS: &str = "link INC-n…, rca <root cause>, workaround <text>, known-error, fix CHG-n, resolve [how], resolve-incidents, close, note <text>, show";

/// Parses the text after `/problem`.
pub(super) fn parse_problem(text: &str, _ctx: ParseContext<'_>) -> Result<Command, Refusal> {
    let Some((first, rest)) = next_word(text) else {
        return Err(
            Refusal::new("A problem needs a title: say what keeps causing incidents.")
                .hint(RECORD_USAGE),
        );
    };
    if TicketRef::looks_like(first) {
        let reference: TicketRef =
            first
                .parse()
                .map_err(|err: crate::domain::reference::ReferenceError| {
                    Refusal::new(sentence(&err.to_string()))
                        .hint("For example: `/problem PRB-3 show`.")
                })?;
        if reference.kind != TicketKind::Problem {
            return Err(
                Refusal::new(format!("{reference} is not a problem.")).hint(format!(
                    "Work it with `{} {reference} …`.",
                    reference.kind.command()
                )),
            );
        }
        return Ok(Command::Problem(reference, parse_action(reference, rest)?));
    }
    if first.eq_ignore_ascii_case("search") {
        let words = rest.split_whitespace().collect::<Vec<_>>().join(" ");
        if words.is_empty() {
            return Err(Refusal::new("`/problem search` needs words to look for.")
                .hint("For example: `/problem search vpn drops`."));
        }
        return Ok(Command::SearchProblems(words));
    }
    parse_draft(text).map(Command::RecordProblem)
}

fn parse_draft(text: &str) -> Result<ProblemDraft, Refusal> {
    let (first_line, more) = text.split_once('\n').unwrap_or((text, ""));
    let mut service = None;
    let mut title_words = Vec::new();
    for word in first_line.split_whitespace() {
        match word.split_once(':') {
            Some((key, value)) if key.eq_ignore_ascii_case("service") => {
                let name = value.to_ascii_lowercase();
                if !crate::domain::service::valid_name(&name) {
                    return Err(Refusal::new(format!("`{value}` is not a service name."))
                        .hint(RECORD_USAGE));
                }
                if service.replace(name).is_some() {
                    return Err(Refusal::new("The service is given twice; give it once.")
                        .hint(RECORD_USAGE));
                }
            }
            _ => title_words.push(word),
        }
    }
    if title_words.is_empty() {
        return Err(
            Refusal::new("A problem needs a title: say what keeps causing incidents.")
                .hint(RECORD_USAGE),
        );
    }
    let title = Title::parse(&title_words.join(" "))
        .map_err(|err| Refusal::new(sentence(&err.to_string())).hint(RECORD_USAGE))?;
    let description = if more.trim().is_empty() {
        None
    } else {
        Some(
            FreeText::parse("description", more)
                .map_err(|err| Refusal::new(sentence(&err.to_string())).hint(RECORD_USAGE))?,
        )
    };
    Ok(ProblemDraft {
        title,
        description,
        service,
    })
}

fn parse_action(reference: TicketRef, text: &str) -> Result<ProblemCommand, Refusal> {
    let Some((verb, rest)) = next_word(text) else {
        return Ok(ProblemCommand::Show);
    };
    let verb = verb.to_ascii_lowercase();
    let args = VerbArgs { reference, rest };
    let usage = |form: &str| args.usage(form);
    let no_text = |verb: &str| args.none(verb);
    let free_text = |what: &'static str, form: &str| args.text(what, form);
    let action = match verb.as_str() {
        "show" => {
            no_text("show")?;
            return Ok(ProblemCommand::Show);
        }
        "resolve-incidents" | "resolve_incidents" => {
            no_text("resolve-incidents")?;
            return Ok(ProblemCommand::ResolveIncidents);
        }
        "link" => {
            let mut incidents: Vec<TicketRef> = Vec::new();
            for word in rest.split(|c: char| c.is_whitespace() || c == ',') {
                if word.is_empty() {
                    continue;
                }
                let incident = word
                    .parse::<TicketRef>()
                    .ok()
                    .filter(|r| r.kind == TicketKind::Incident)
                    .ok_or_else(|| {
                        Refusal::new(format!("`{word}` is not an incident reference."))
                            .hint(usage("link INC-4 INC-7"))
                    })?;
                if !incidents.contains(&incident) {
                    incidents.push(incident);
                }
            }
            if incidents.is_empty() {
                return Err(Refusal::new("`link` needs one or more incidents.")
                    .hint(usage("link INC-4 INC-7")));
            }
            ProblemAction::Link(incidents)
        }
        "rca" | "root-cause" | "cause" => ProblemAction::RootCause(free_text(
            "root cause",
            "rca the VPN concentrator's certificate expired",
        )?),
        "workaround" => ProblemAction::Workaround(free_text(
            "workaround",
            "workaround reconnect with the backup profile",
        )?),
        "known-error" | "known_error" | "knownerror" => {
            no_text("known-error")?;
            ProblemAction::KnownError
        }
        "fix" => {
            let mut words = rest.split_whitespace();
            let change = match (words.next(), words.next()) {
                (Some(word), None) => word
                    .parse::<TicketRef>()
                    .ok()
                    .filter(|r| r.kind == TicketKind::Change),
                _ => None,
            };
            let change = change.ok_or_else(|| {
                Refusal::new("`fix` names the one change that removes the cause, e.g. CHG-4.")
                    .hint(usage("fix CHG-4"))
            })?;
            ProblemAction::Fix(change)
        }
        "resolve" => ProblemAction::Resolve(if rest.is_empty() {
            None
        } else {
            Some(free_text(
                "resolution",
                "resolve certificate renewed by CHG-4",
            )?)
        }),
        "close" => {
            no_text("close")?;
            ProblemAction::Close
        }
        "note" | "comment" => {
            ProblemAction::Note(free_text("note", "note vendor confirmed the bug")?)
        }
        other => {
            return Err(Refusal::new(format!(
                "`{other}` is not something you can do to a problem."
            ))
            .hint(format!("Try one of: {PROBLEM_ACTIONS}.")))
        }
    };
    Ok(ProblemCommand::Act(action))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::parse::parse_line;
    use crate::domain::{Platform, UserId};

    fn parse(line: &str) -> Result<Command, Refusal> {
        let me = UserId::new(Platform::Shell, "alice").unwrap();
        parse_line(
            line,
            ParseContext {
                platform: Platform::Shell,
                actor: &me,
            },
        )
    }

    fn prb(number: i64) -> TicketRef {
        TicketRef {
            kind: TicketKind::Problem,
            number,
        }
    }

    fn act(line: &str) -> ProblemAction {
        match parse(line) {
            Ok(Command::Problem(_, ProblemCommand::Act(action))) => action,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn records_take_a_service_and_a_description() {
        let Ok(Command::RecordProblem(draft)) =
            parse("/problem VPN drops service:VPN connections\nSince the upgrade.")
        else {
            panic!("not a draft");
        };
        assert_eq!(draft.title.as_str(), "VPN drops connections");
        assert_eq!(draft.service.as_deref(), Some("vpn"));
        assert_eq!(
            draft.description.map(FreeText::into_string).as_deref(),
            Some("Since the upgrade.")
        );
        assert_eq!(
            parse("/itsm problem VPN drops").unwrap(),
            parse("/problem VPN drops").unwrap()
        );
    }

    #[test]
    fn every_problem_verb_parses() {
        assert_eq!(
            parse("/problem prb-2").unwrap(),
            Command::Problem(prb(2), ProblemCommand::Show)
        );
        assert_eq!(
            parse("/problem PRB-2 resolve-incidents").unwrap(),
            Command::Problem(prb(2), ProblemCommand::ResolveIncidents)
        );
        assert_eq!(
            act("/problem PRB-2 link INC-1, inc-3 INC-1"),
            ProblemAction::Link(vec![TicketRef::incident(1), TicketRef::incident(3)])
        );
        assert!(
            matches!(act("/problem PRB-2 rca cert expired"), ProblemAction::RootCause(t) if t.as_str() == "cert expired")
        );
        assert!(matches!(
            act("/problem PRB-2 workaround reconnect"),
            ProblemAction::Workaround(_)
        ));
        assert_eq!(act("/problem PRB-2 KNOWN-ERROR"), ProblemAction::KnownError);
        assert_eq!(
            act("/problem PRB-2 fix chg-4"),
            ProblemAction::Fix("CHG-4".parse().unwrap())
        );
        assert_eq!(act("/problem PRB-2 resolve"), ProblemAction::Resolve(None));
        assert!(matches!(
            act("/problem PRB-2 resolve new certificate"),
            ProblemAction::Resolve(Some(_))
        ));
        assert_eq!(act("/problem PRB-2 close"), ProblemAction::Close);
        assert!(matches!(
            act("/problem PRB-2 note vendor called"),
            ProblemAction::Note(_)
        ));
        assert_eq!(
            parse("/problem search  vpn   drops").unwrap(),
            Command::SearchProblems("vpn drops".into())
        );
    }

    #[test]
    fn refusals_say_what_was_wrong_and_what_would_work() {
        let cases = [
            ("/problem", "needs a title"),
            ("/problem service:vpn", "needs a title"),
            ("/problem search", "needs words"),
            ("/problem INC-1 show", "not a problem"),
            ("/problem PRB-x show", "not a ticket reference"),
            (
                "/problem PRB-1 dance",
                "not something you can do to a problem",
            ),
            ("/problem PRB-1 link", "one or more incidents"),
            ("/problem PRB-1 link PRB-2", "not an incident reference"),
            ("/problem PRB-1 fix INC-2", "names the one change"),
            ("/problem PRB-1 fix", "names the one change"),
            ("/problem PRB-1 rca", "root cause is empty"),
            ("/problem PRB-1 known-error now", "takes nothing after it"),
            ("/problem VPN service:a service:b", "given twice"),
        ];
        for (line, expected) in cases {
            let message = match parse(line) {
                Err(refusal) => refusal.to_string(),
                Ok(command) => panic!("{line} should be refused, got {command:?}"),
            };
            assert!(message.contains(expected), "{line:?}: {message}");
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
            let _ = parse(&format!("/problem {text}"));
            let _ = parse(&format!("/problem PRB-1 {text}"));
            let _ = parse(&format!("/problem PRB-1 link {text}"));
            let _ = parse(&format!("/problem search {text}"));
        }
    }
}

//! `/itsm rules`, `/itsm runbooks` and `/itsm run <runbook> [INC-n] key=value…`.

use crate::domain::{TicketKind, TicketRef};

use super::super::command::QueryCommand;
use super::super::refusal::Refusal;

const RUN_USAGE: &str = "For example: `/itsm run provision-vm size=small name=web-1`, or `/itsm run restart-vpn INC-7`; `/itsm runbooks` lists them with their parameters.";

/// `/itsm rules` or `/itsm runbooks` (nothing after either).
pub(super) fn parse_listing(what: &str, rest: &str) -> Result<QueryCommand, Refusal> {
    if !rest.trim().is_empty() {
        return Err(Refusal::new(format!(
            "`/itsm {what}` takes nothing after it."
        )));
    }
    Ok(if what == "rules" {
        QueryCommand::Rules
    } else {
        QueryCommand::Runbooks
    })
}

/// `/itsm run <runbook> [INC-n] key=value…`; values may be quoted
/// (`name="web 1"`).
pub(super) fn parse_run(rest: &str) -> Result<QueryCommand, Refusal> {
    let words = split_words(rest)?;
    let mut words = words.into_iter();
    let Some(runbook) = words.next() else {
        return Err(Refusal::new("`/itsm run` needs the name of a runbook.").hint(RUN_USAGE));
    };
    let mut incident = None;
    let mut args = Vec::new();
    for word in words {
        if incident.is_none() && args.is_empty() && !word.contains('=') {
            let reference: TicketRef = word.parse().map_err(|_| {
                Refusal::new(format!(
                    "`{word}` is neither an incident (INC-n) nor a parameter (key=value)."
                ))
                .hint(RUN_USAGE)
            })?;
            if reference.kind != TicketKind::Incident {
                return Err(Refusal::new(format!(
                    "Runbooks run for incidents, and {reference} is not one."
                ))
                .hint(RUN_USAGE));
            }
            incident = Some(reference);
        } else {
            args.push(word);
        }
    }
    Ok(QueryCommand::Run {
        runbook: runbook.to_ascii_lowercase(),
        incident,
        args,
    })
}

/// Splits on spaces, keeping `"…"` together (the quotes dropped).
fn split_words(text: &str) -> Result<Vec<String>, Refusal> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut started = false;
    for c in text.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                started = true;
            }
            c if c.is_whitespace() && !quoted => {
                if started {
                    words.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            c => {
                word.push(c);
                started = true;
            }
        }
    }
    if quoted {
        return Err(Refusal::new("A quote is not closed.").hint(RUN_USAGE));
    }
    if started {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_runbook_the_incident_and_the_parameters() {
        let parsed = parse_run(r#"provision-vm INC-7 size=small name="web 1""#).unwrap();
        assert_eq!(
            parsed,
            QueryCommand::Run {
                runbook: "provision-vm".into(),
                incident: Some("INC-7".parse().unwrap()),
                args: vec!["size=small".into(), "name=web 1".into()],
            }
        );
    }

    #[test]
    fn refuses_what_is_not_a_run() {
        assert!(parse_run("").is_err());
        assert!(parse_run("provision-vm CHG-3").is_err());
        assert!(parse_run("provision-vm small").is_err());
        assert!(parse_run(r#"provision-vm name="web"#).is_err());
        assert!(parse_listing("rules", "x").is_err());
    }
}

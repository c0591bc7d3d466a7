//! `/change …` → [`Command`].

use super::{next_word, ParseContext, VerbArgs};
use crate::commands::command::{ChangeCommand, ChangeDraft, Command};
use crate::commands::refusal::{sentence, Refusal};
use crate::domain::change::{parse_start, ChangeAction, ChangeType, PlanKind, Risk};
use crate::domain::{parse_duration, Level, TicketKind, TicketRef, Title, UserId};

const DRAFT_USAGE: &str = "Draft a change with `/change <what changes> [type:standard/normal/emergency] [service:<name>] [impact:h/m/l likelihood:h/m/l] [risk:low/medium/high]`, e.g. `/change Upgrade VPN concentrator firmware service:vpn`.";

/// The verbs of an existing change, for refusals.
pub(super) const CHANGE_ACTIONS: &str = "plan <text>, test <text>, rollback <text>, window <start> <duration>, describe <text>, assess impact:h/m/l likelihood:h/m/l, risk low/medium/high, implementer @user, outage (the window takes the service down), note <text>, submit, approve [comment], reject <reason>, start [now], complete [review note], fail <what happened>, rolled-back [note], cancel [why], show";

/// Parses the text after `/change`.
pub(super) fn parse_change(text: &str, ctx: ParseContext<'_>) -> Result<Command, Refusal> {
    let Some((first, rest)) = next_word(text) else {
        return Err(
            Refusal::new("A change request needs a title: say what changes.").hint(DRAFT_USAGE),
        );
    };
    if TicketRef::looks_like(first) {
        let reference: TicketRef =
            first
                .parse()
                .map_err(|err: crate::domain::reference::ReferenceError| {
                    Refusal::new(sentence(&err.to_string()))
                        .hint("For example: `/change CHG-3 submit`.")
                })?;
        if reference.kind != TicketKind::Change {
            return Err(
                Refusal::new(format!("{reference} is not a change.")).hint(format!(
                    "Work it with `{} {reference} …`.",
                    reference.kind.command()
                )),
            );
        }
        return Ok(Command::Change(
            reference,
            parse_action(reference, rest, ctx)?,
        ));
    }
    parse_draft(text).map(Command::DraftChange)
}

fn parse_draft(text: &str) -> Result<ChangeDraft, Refusal> {
    let mut draft = DraftOptions::default();
    let mut title_words = Vec::new();
    for word in text.split_whitespace() {
        let Some((key, value)) = word.split_once(':') else {
            title_words.push(word);
            continue;
        };
        let bad = |what: String| Refusal::new(what).hint(DRAFT_USAGE);
        match key.to_ascii_lowercase().as_str() {
            "type" => {
                let kind = value.parse::<ChangeType>().map_err(|e| bad(sentence(&e)))?;
                once(&mut draft.change_type, kind, "type")?;
            }
            "standard" => {
                let name = value.to_ascii_lowercase();
                if !crate::domain::service::valid_name(&name) {
                    return Err(bad(format!("`{value}` is not a standard change name.")));
                }
                once(&mut draft.standard, name, "standard change")?;
            }
            "risk" => {
                let risk = value.parse::<Risk>().map_err(|e| bad(sentence(&e)))?;
                once(&mut draft.risk, risk, "risk")?;
            }
            "impact" | "likelihood" => {
                let level = value
                    .parse::<Level>()
                    .map_err(|err| bad(format!("{key}: {err}.")))?;
                if key.eq_ignore_ascii_case("impact") {
                    once(&mut draft.impact, level, "impact")?;
                } else {
                    once(&mut draft.likelihood, level, "likelihood")?;
                }
            }
            "service" => {
                let name = value.to_ascii_lowercase();
                if !crate::domain::service::valid_name(&name) {
                    return Err(bad(format!("`{value}` is not a service name.")));
                }
                once(&mut draft.service, name, "service")?;
            }
            _ => title_words.push(word),
        }
    }
    if draft.standard.is_some() {
        match draft.change_type {
            None | Some(ChangeType::Standard) => draft.change_type = Some(ChangeType::Standard),
            Some(other) => {
                return Err(Refusal::new(format!(
                    "A change that follows a standard change from the catalog is a standard change, not {other}."
                ))
                .hint("Drop `type:` or the `standard:` entry."))
            }
        }
    }
    if title_words.is_empty() {
        return Err(
            Refusal::new("A change request needs a title: say what changes.").hint(DRAFT_USAGE),
        );
    }
    let title = Title::parse(&title_words.join(" "))
        .map_err(|err| Refusal::new(sentence(&err.to_string())).hint(DRAFT_USAGE))?;
    Ok(ChangeDraft {
        title,
        change_type: draft.change_type,
        standard: draft.standard,
        risk: draft.risk,
        impact: draft.impact,
        likelihood: draft.likelihood,
        service: draft.service,
    })
}

/// The `key:value` options of a draft, as they are read.
#[derive(Default)]
struct DraftOptions {
    change_type: Option<ChangeType>,
    standard: Option<String>,
    risk: Option<Risk>,
    impact: Option<Level>,
    likelihood: Option<Level>,
    service: Option<String>,
}

fn once<T>(slot: &mut Option<T>, value: T, what: &str) -> Result<(), Refusal> {
    if slot.is_some() {
        return Err(
            Refusal::new(format!("The {what} is given twice; give it once.")).hint(DRAFT_USAGE),
        );
    }
    *slot = Some(value);
    Ok(())
}

fn parse_action(
    reference: TicketRef,
    text: &str,
    ctx: ParseContext<'_>,
) -> Result<ChangeCommand, Refusal> {
    let Some((verb, rest)) = next_word(text) else {
        return Ok(ChangeCommand::Show);
    };
    let verb = verb.to_ascii_lowercase();
    let args = VerbArgs { reference, rest };
    let usage = |form: &str| args.usage(form);
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
            return Ok(ChangeCommand::Show);
        }
        "describe" | "description" => ChangeAction::Describe(free_text(
            "description",
            "describe Replaces the firmware on both concentrators",
        )?),
        "plan" => ChangeAction::Plan(
            PlanKind::Implementation,
            free_text(
                "implementation plan",
                "plan drain node A, upgrade, fail over, upgrade node B",
            )?,
        ),
        "test" => ChangeAction::Plan(
            PlanKind::Test,
            free_text("test plan", "test connect from the office and from home")?,
        ),
        "rollback" => ChangeAction::Plan(
            PlanKind::Rollback,
            free_text("rollback plan", "rollback boot the previous firmware image")?,
        ),
        "window" => {
            let form = "window 2026-12-01T22:00 2h";
            let mut words = rest.split_whitespace();
            let (Some(start), Some(length), None) = (words.next(), words.next(), words.next())
            else {
                return Err(Refusal::new("`window` needs a start and a duration.").hint(format!(
                    "{} The start is `YYYY-MM-DDTHH:MM` in your time zone (`/itsm timezone`) or with an offset like `2026-12-01T22:00Z`; the duration is like `90m`, `2h`, `1h30m`.",
                    usage(form)
                )));
            };
            let start = parse_start(start)
                .map_err(|err| Refusal::new(sentence(&err.to_string())).hint(usage(form)))?;
            let length = parse_duration(length)
                .map_err(|err| Refusal::new(sentence(&err.to_string())).hint(usage(form)))?;
            ChangeAction::Schedule(start, length)
        }
        "assess" => {
            let form = "assess impact:high likelihood:low";
            let (mut impact, mut likelihood) = (None, None);
            for word in rest.split_whitespace() {
                let parsed = word.split_once(':').and_then(|(key, value)| {
                    let level = value.parse::<Level>().ok()?;
                    match key.to_ascii_lowercase().as_str() {
                        "impact" => Some((true, level)),
                        "likelihood" => Some((false, level)),
                        _ => None,
                    }
                });
                match parsed {
                    Some((true, level)) if impact.is_none() => impact = Some(level),
                    Some((false, level)) if likelihood.is_none() => likelihood = Some(level),
                    _ => {
                        return Err(Refusal::new(format!(
                            "`{word}` is not an impact or likelihood for `assess`."
                        ))
                        .hint(usage(form)))
                    }
                }
            }
            let (Some(impact), Some(likelihood)) = (impact, likelihood) else {
                return Err(
                    Refusal::new("`assess` needs both an impact and a likelihood.")
                        .hint(usage(form)),
                );
            };
            ChangeAction::Assess { impact, likelihood }
        }
        "risk" => {
            let risk = rest
                .trim()
                .parse::<Risk>()
                .map_err(|err| Refusal::new(sentence(&err)).hint(usage("risk high")))?;
            ChangeAction::SetRisk(risk)
        }
        "implementer" | "assign" => {
            let mut words = rest.split_whitespace();
            let (Some(who), None) = (words.next(), words.next()) else {
                return Err(Refusal::new(format!("`{verb}` needs exactly one person."))
                    .hint(usage("implementer @bob` or `implementer me")));
            };
            let user = UserId::from_mention(who, ctx.platform, ctx.actor).map_err(|err| {
                Refusal::new(sentence(&err.to_string())).hint(usage("implementer @bob"))
            })?;
            ChangeAction::Implementer(user)
        }
        "outage" => {
            if !rest.is_empty() {
                return Err(Refusal::new("`outage` takes nothing after it.").hint(usage("outage")));
            }
            ChangeAction::PlannedOutage
        }
        "note" | "comment" => {
            ChangeAction::Note(free_text("note", "note vendor confirmed the image")?)
        }
        "submit" => {
            no_text("submit")?;
            ChangeAction::Submit
        }
        "approve" => {
            ChangeAction::Approve(optional_text("approval comment", "approve looks good")?)
        }
        "reject" => ChangeAction::Reject(free_text(
            "reason for rejecting",
            "reject no tested rollback",
        )?),
        "start" => match rest.trim().to_ascii_lowercase().as_str() {
            "" => ChangeAction::Start { confirmed: false },
            "now" => ChangeAction::Start { confirmed: true },
            _ => {
                return Err(Refusal::new(
                    "`start` takes nothing, or `now` to start before the window opens.",
                )
                .hint(usage("start")))
            }
        },
        "complete" | "done" => ChangeAction::Complete(optional_text(
            "review note",
            "complete upgrade went as planned",
        )?),
        "fail" | "failed" => ChangeAction::Fail(free_text(
            "what happened",
            "fail node B did not boot the new image",
        )?),
        "rolled-back" | "rolled_back" | "rolledback" => ChangeAction::RolledBack(optional_text(
            "rollback note",
            "rolled-back restored the previous image",
        )?),
        "cancel" => ChangeAction::Cancel(optional_text(
            "reason for cancelling",
            "cancel superseded by CHG-9",
        )?),
        other => {
            return Err(Refusal::new(format!(
                "`{other}` is not something you can do to a change."
            ))
            .hint(format!("Try one of: {CHANGE_ACTIONS}.")))
        }
    };
    Ok(ChangeCommand::Act(action))
}

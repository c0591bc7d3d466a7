//! Text → [`Command`]. Pure: no I/O, and every input either parses or gets a
//! [`Refusal`] that says what would work.

use crate::domain::incident::IncidentAction;
use crate::domain::text::{check_text, MAX_TEXT_CHARS};
use crate::domain::{FreeText, Level, Platform, Priority, TicketKind, TicketRef, Title, UserId};

use super::command::{Command, IncidentCommand, IncidentIntake, QueryCommand};
use super::refusal::{sentence, Refusal};

/// Who is speaking, which decides what `me` and `@name` mean.
#[derive(Debug, Clone, Copy)]
pub struct ParseContext<'a> {
    pub platform: Platform,
    pub actor: &'a UserId,
}

/// Parses a whole chat line such as `/incident VPN down P2`.
pub fn parse_line(line: &str, ctx: ParseContext<'_>) -> Result<Command, Refusal> {
    check_length(line)?;
    let trimmed = line.trim();
    let Some((command, text)) = next_word(trimmed) else {
        return Err(Refusal::new("Nothing to do: the message is empty.").hint(TRY_HELP));
    };
    if !command.starts_with('/') {
        return Err(Refusal::new("That is not a command.").hint(
            "Commands start with a slash: `/incident <what is broken> [P1-P4]` reports an incident, `/itsm help` lists the rest.",
        ));
    }
    parse(command, text, ctx)
}

/// Parses the text of slash command `command` (`/incident`, `/itsm`, …), as
/// a platform that splits the two delivers it.
pub fn parse(command: &str, text: &str, ctx: ParseContext<'_>) -> Result<Command, Refusal> {
    check_length(text)?;
    match command.to_ascii_lowercase().trim_start_matches('/') {
        "incident" => parse_incident(text, ctx),
        "itsm" => parse_itsm(text, ctx),
        "problem" => problem::parse_problem(text, ctx),
        "change" => change::parse_change(text, ctx),
        "kb" => kb::parse_kb(text),
        "request" => request::parse_request(text, ctx),
        other => Err(Refusal::new(format!("`/{other}` is not a command of this bot."))
            .hint("The commands are /incident, /problem, /change, /request, /kb and /itsm; `/itsm help` explains them.")),
    }
}

const TRY_HELP: &str = "`/itsm help` lists what you can do.";

fn check_length(text: &str) -> Result<(), Refusal> {
    check_text("message", text, MAX_TEXT_CHARS).map_err(|err| {
        Refusal::new(sentence(&err.to_string())).hint(
            "Shorten it: give a short title when reporting, and add details in several notes (`/incident INC-n note <text>`).",
        )
    })
}

/// Splits off the first whitespace-separated word, keeping the rest as typed.
fn next_word(text: &str) -> Option<(&str, &str)> {
    let text = text.trim_start();
    if text.is_empty() {
        return None;
    }
    match text.find(char::is_whitespace) {
        Some(end) => Some((&text[..end], text[end..].trim_start())),
        None => Some((text, "")),
    }
}

fn parse_incident(text: &str, ctx: ParseContext<'_>) -> Result<Command, Refusal> {
    let Some((first, rest)) = next_word(text) else {
        return Ok(Command::OpenIncidentForm);
    };
    if TicketRef::looks_like(first) {
        let reference: TicketRef =
            first
                .parse()
                .map_err(|err: crate::domain::reference::ReferenceError| {
                    Refusal::new(sentence(&err.to_string()))
                        .hint("For example: `/incident INC-12 ack`.")
                })?;
        if reference.kind != TicketKind::Incident {
            return Err(
                Refusal::new(format!("{reference} is not an incident.",)).hint(format!(
                    "Work it with `{} {reference} …`.",
                    reference.kind.command()
                )),
            );
        }
        let command = parse_incident_action(reference, rest, ctx)?;
        return Ok(Command::Incident(reference, command));
    }
    parse_report(text).map(Command::OpenIncident)
}

const REPORT_USAGE: &str =
    "Report an incident with `/incident <what is broken> [P1-P4] [service:<name>] [impact:h/m/l] [urgency:h/m/l]`, e.g. `/incident VPN down in Berlin office P2`.";

fn parse_report(text: &str) -> Result<IncidentIntake, Refusal> {
    let mut priority = None;
    let mut impact = None;
    let mut urgency = None;
    let mut service = None;
    let mut title_words = Vec::new();
    for word in text.split_whitespace() {
        if let Ok(p) = word.parse::<Priority>() {
            set_once(&mut priority, p, "priority")?;
            continue;
        }
        let option = word
            .split_once(':')
            .map(|(key, value)| (key.to_ascii_lowercase(), value));
        match option {
            Some((key, value)) if key == "service" => {
                let name = value.to_ascii_lowercase();
                if !crate::domain::service::valid_name(&name) {
                    return Err(Refusal::new(format!("`{value}` is not a service name."))
                        .hint("Write `service:<name>` with a name from the catalog, e.g. `service:vpn`; `/itsm help incident` explains."));
                }
                set_once(&mut service, name, "service")?;
            }
            Some((key, value)) if key == "impact" || key == "urgency" => {
                let level = value
                    .parse::<Level>()
                    .map_err(|err| Refusal::new(format!("{key}: {err}.")).hint(REPORT_USAGE))?;
                let slot = if key == "impact" {
                    &mut impact
                } else {
                    &mut urgency
                };
                set_once(
                    slot,
                    level,
                    if key == "impact" { "impact" } else { "urgency" },
                )?;
            }
            _ => title_words.push(word),
        }
    }
    if title_words.is_empty() {
        return Err(
            Refusal::new("An incident needs a title: say what is broken.").hint(REPORT_USAGE),
        );
    }
    let title = Title::parse(&title_words.join(" "))
        .map_err(|err| Refusal::new(sentence(&err.to_string())).hint(REPORT_USAGE))?;
    Ok(IncidentIntake {
        title,
        description: None,
        priority,
        impact,
        urgency,
        service,
    })
}

fn set_once<T>(slot: &mut Option<T>, value: T, what: &str) -> Result<(), Refusal> {
    if slot.is_some() {
        return Err(
            Refusal::new(format!("The {what} is given twice; give it once.")).hint(REPORT_USAGE),
        );
    }
    *slot = Some(value);
    Ok(())
}

const ACTIONS: &str = "ack, assign @user, priority P1-P4, note <text>, hold <reason>, resume, resolve <resolution>, close, reopen <why>, rate 1-5, problem PRB-n, outage [since <time>], public <text>, postmortem, postmortem set <section> <text>, action <text> [@owner] [due:YYYY-MM-DD], duplicate-of INC-m, accept-suggestion, show";

/// The text after a ticket's verb, with the refusals every verb of every
/// ticket kind shares.
#[derive(Clone, Copy)]
struct VerbArgs<'a> {
    reference: TicketRef,
    rest: &'a str,
}

impl VerbArgs<'_> {
    /// "For example: `/change CHG-3 <form>`."
    fn usage(&self, form: &str) -> String {
        format!(
            "For example: `{} {} {form}`.",
            self.reference.kind.command(),
            self.reference
        )
    }

    /// Refuses text after a verb that takes none.
    fn none(&self, verb: &str) -> Result<(), Refusal> {
        if self.rest.is_empty() {
            return Ok(());
        }
        Err(
            Refusal::new(format!("`{verb}` takes nothing after it.")).hint(format!(
                "To add a comment, use `{} {} note <text>`.",
                self.reference.kind.command(),
                self.reference
            )),
        )
    }

    /// The rest as free text called `what`, or a refusal showing `form`.
    fn text(&self, what: &'static str, form: &str) -> Result<FreeText, Refusal> {
        FreeText::parse(what, self.rest)
            .map_err(|err| Refusal::new(sentence(&err.to_string())).hint(self.usage(form)))
    }
}

fn parse_incident_action(
    reference: TicketRef,
    text: &str,
    ctx: ParseContext<'_>,
) -> Result<IncidentCommand, Refusal> {
    let Some((verb, rest)) = next_word(text) else {
        return Ok(IncidentCommand::Show);
    };
    let verb = verb.to_ascii_lowercase();
    let args = VerbArgs { reference, rest };
    let usage = |form: &str| args.usage(form);
    let no_text = |verb: &str| args.none(verb);
    let free_text = |what: &'static str, form: &str| args.text(what, form);
    let action = match verb.as_str() {
        "show" => {
            no_text("show")?;
            return Ok(IncidentCommand::Show);
        }
        "ack" | "acknowledge" => {
            no_text("ack")?;
            IncidentAction::Acknowledge
        }
        "assign" => {
            let mut words = rest.split_whitespace();
            let (Some(who), None) = (words.next(), words.next()) else {
                return Err(Refusal::new("`assign` needs exactly one person.")
                    .hint(usage("assign @bob` or `assign me")));
            };
            let user = UserId::from_mention(who, ctx.platform, ctx.actor).map_err(|err| {
                Refusal::new(sentence(&err.to_string())).hint(usage("assign @bob"))
            })?;
            IncidentAction::Assign(user)
        }
        "priority" | "prio" => {
            let mut words = rest.split_whitespace();
            let (Some(word), None) = (words.next(), words.next()) else {
                return Err(Refusal::new("`priority` needs one priority, P1 to P4.")
                    .hint(usage("priority P1")));
            };
            let priority = word.parse::<Priority>().map_err(|err| {
                Refusal::new(sentence(&err.to_string())).hint(usage("priority P1"))
            })?;
            IncidentAction::SetPriority(priority)
        }
        "note" | "comment" => {
            IncidentAction::Note(free_text("note", "note restarted the concentrator")?)
        }
        "hold" => IncidentAction::Hold(free_text("hold reason", "hold waiting for the vendor")?),
        "resume" => {
            no_text("resume")?;
            IncidentAction::Resume
        }
        "resolve" => {
            IncidentAction::Resolve(free_text("resolution", "resolve firmware rolled back")?)
        }
        "close" => {
            no_text("close")?;
            IncidentAction::Close
        }
        "reopen" => IncidentAction::Reopen(free_text(
            "reason to reopen",
            "reopen still failing for remote staff",
        )?),
        "problem" => {
            let mut words = rest.split_whitespace();
            let problem = match (words.next(), words.next()) {
                (Some(word), None) => word
                    .parse::<TicketRef>()
                    .ok()
                    .filter(|r| r.kind == TicketKind::Problem),
                _ => None,
            };
            let problem = problem.ok_or_else(|| {
                Refusal::new("`problem` links the incident to one problem, e.g. PRB-3.")
                    .hint(usage("problem PRB-3"))
            })?;
            return Ok(IncidentCommand::LinkProblem(problem));
        }
        "outage" => return services::parse_outage(reference, rest),
        "public" => return services::parse_public(reference, rest),
        "postmortem" | "review" => return parse_postmortem(reference, rest),
        "action" => return parse_action(reference, rest, ctx),
        "accept-suggestion" | "accept_suggestion" => {
            no_text("accept-suggestion")?;
            return Ok(IncidentCommand::AcceptSuggestion);
        }
        "duplicate-of" | "duplicate_of" | "duplicate" => {
            let mut words = rest.split_whitespace();
            let target = match (words.next(), words.next()) {
                (Some(word), None) => word
                    .parse::<TicketRef>()
                    .ok()
                    .filter(|r| r.kind == TicketKind::Incident),
                _ => None,
            };
            let target = target.ok_or_else(|| {
                Refusal::new(
                    "`duplicate-of` names the one open incident this one repeats, e.g. INC-9.",
                )
                .hint(usage("duplicate-of INC-9"))
            })?;
            return Ok(IncidentCommand::DuplicateOf(target));
        }
        "rate" => {
            let score = rest
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|score| (1..=5).contains(score))
                .ok_or_else(|| {
                    Refusal::new("`rate` takes a score from 1 (poor) to 5 (excellent).")
                        .hint(usage("rate 5"))
                })?;
            return Ok(IncidentCommand::Rate(score));
        }
        other => {
            return Err(Refusal::new(format!(
                "`{other}` is not something you can do to an incident."
            ))
            .hint(format!("Try one of: {ACTIONS}.")))
        }
    };
    Ok(IncidentCommand::Act(action))
}

/// `postmortem` or `postmortem set <section> <text>`.
fn parse_postmortem(reference: TicketRef, text: &str) -> Result<IncidentCommand, Refusal> {
    use crate::domain::postmortem::Section;
    let usage = format!(
        "`/incident {reference} postmortem` starts or shows the review; `/incident {reference} postmortem set <section> <text>` edits a section ({}).",
        Section::names()
    );
    let Some((verb, rest)) = next_word(text) else {
        return Ok(IncidentCommand::Postmortem);
    };
    if !verb.eq_ignore_ascii_case("set") {
        return Err(Refusal::new(format!(
            "`postmortem {verb}` is not something a review does."
        ))
        .hint(usage));
    }
    let Some((name, body)) = next_word(rest) else {
        return Err(Refusal::new("`postmortem set` needs a section and its text.").hint(usage));
    };
    let section = name
        .parse::<Section>()
        .map_err(|err| Refusal::new(sentence(&err.to_string())).hint(usage.clone()))?;
    let body = FreeText::parse("section text", body)
        .map_err(|err| Refusal::new(sentence(&err.to_string())).hint(usage))?;
    Ok(IncidentCommand::PostmortemSet(section, body))
}

/// `action <text> [@owner] [due:YYYY-MM-DD]`: the owner and due date may
/// stand anywhere; every other word is the text.
fn parse_action(
    reference: TicketRef,
    text: &str,
    ctx: ParseContext<'_>,
) -> Result<IncidentCommand, Refusal> {
    let usage = format!(
        "For example: `/incident {reference} action Alert on VPN capacity @bob due:2026-12-04`; mark one done with `/itsm action <id> done`."
    );
    let mut words = Vec::new();
    let mut owner = None;
    let mut due = None;
    for word in text.split_whitespace() {
        if let Some(date) = word
            .get(..4)
            .filter(|p| p.eq_ignore_ascii_case("due:"))
            .and(word.get(4..))
        {
            let date = crate::domain::postmortem::parse_due(date)
                .map_err(|err| Refusal::new(sentence(&err.to_string())).hint(usage.clone()))?;
            if due.replace(date).is_some() {
                return Err(Refusal::new("The due date is given twice; give it once.").hint(usage));
            }
        } else if word.starts_with('@') || word.starts_with("<@") {
            let user = UserId::from_mention(word, ctx.platform, ctx.actor)
                .map_err(|err| Refusal::new(sentence(&err.to_string())).hint(usage.clone()))?;
            if owner.replace(user).is_some() {
                return Err(Refusal::new("An action item has one owner; name one.").hint(usage));
            }
        } else {
            words.push(word);
        }
    }
    if let [id, done] = words.as_slice() {
        if id.trim_start_matches('#').parse::<i64>().is_ok() && done.eq_ignore_ascii_case("done") {
            return Err(
                Refusal::new("Action items are marked done under `/itsm`.").hint(format!(
                    "`/itsm action {} done`.",
                    id.trim_start_matches('#')
                )),
            );
        }
    }
    if words.is_empty() {
        return Err(
            Refusal::new("An action item needs a text: say what will be done.").hint(usage),
        );
    }
    let text = FreeText::parse("action item", &words.join(" "))
        .map_err(|err| Refusal::new(sentence(&err.to_string())).hint(usage))?;
    Ok(IncidentCommand::AddAction(super::command::ActionDraft {
        text,
        owner,
        due,
    }))
}

/// `/itsm action <id> done|problem|change`.
fn parse_action_step(text: &str) -> Result<QueryCommand, Refusal> {
    use crate::domain::postmortem::RaiseAs;
    const USAGE: &str = "`/itsm action <id> done` marks an action item done; `/itsm action <id> problem` raises it as a problem, `/itsm action <id> change` as a draft change, e.g. `/itsm action 4 problem`. `/itsm actions` lists them with their ids.";
    let mut words = text.split_whitespace();
    let (Some(id), Some(step), None) = (words.next(), words.next(), words.next()) else {
        return Err(
            Refusal::new("`/itsm action` takes an action item id and what to do with it.")
                .hint(USAGE),
        );
    };
    let id = id
        .trim_start_matches('#')
        .parse::<i64>()
        .map_err(|_| Refusal::new(format!("`{id}` is not an action item id.")).hint(USAGE))?;
    Ok(match step.to_ascii_lowercase().as_str() {
        "done" => QueryCommand::ActionDone(id),
        "problem" => QueryCommand::RaiseAction(id, RaiseAs::Problem),
        "change" => QueryCommand::RaiseAction(id, RaiseAs::Change),
        other => {
            return Err(
                Refusal::new(format!("`{other}` is not something an action item can do."))
                    .hint(USAGE),
            )
        }
    })
}

fn parse_itsm(text: &str, ctx: ParseContext<'_>) -> Result<Command, Refusal> {
    let Some((sub, rest)) = next_word(text) else {
        return Ok(Command::Query(QueryCommand::Help(None)));
    };
    let sub = sub.to_ascii_lowercase();
    let no_text = |what: &str| -> Result<(), Refusal> {
        if rest.is_empty() {
            Ok(())
        } else {
            Err(Refusal::new(format!("`/itsm {what}` takes nothing after it.")).hint(TRY_HELP))
        }
    };
    let query =
        match sub.as_str() {
            "incident" => return parse_incident(rest, ctx),
            "problem" => return problem::parse_problem(rest, ctx),
            "change" => return change::parse_change(rest, ctx),
            "kb" => return kb::parse_kb(rest),
            "search" => {
                if rest.trim().is_empty() {
                    return Err(Refusal::new("`/itsm search` needs words to look for.").hint(
                        "For example: `/itsm search vpn drops kind:incident status:open`.",
                    ));
                }
                return Ok(Command::Search(rest.trim().to_string()));
            }
            "request" => return request::parse_request(rest, ctx),
            "requests" => QueryCommand::Requests(request::parse_listing(rest)?),
            "changes" => {
                use super::command::ScheduleRange;
                let range = match rest.trim().to_ascii_lowercase().as_str() {
                    "" => ScheduleRange::Upcoming,
                    "today" | "day" => ScheduleRange::Today,
                    "week" => ScheduleRange::Week,
                    other => {
                        return Err(Refusal::new(format!("`{other}` is not a schedule range."))
                            .hint("Use `/itsm changes`, `/itsm changes today` or `/itsm changes week`."))
                    }
                };
                QueryCommand::Changes(range)
            }
            "outbox" => {
                let mut words = rest.split_whitespace();
                match words.next().map(str::to_ascii_lowercase).as_deref() {
                    None => QueryCommand::Outbox,
                    Some("retry") => {
                        let ids = words
                            .map(parked_row)
                            .collect::<Option<Vec<_>>>()
                            .ok_or_else(|| {
                                Refusal::new("`/itsm outbox retry` takes the ids of parked rows (`41` for a post, `page-3` for a paging event, `call-5` for a webhook call), or nothing for all of them.")
                                    .hint("For example: `/itsm outbox retry 41 42`; `/itsm outbox` lists them.")
                            })?;
                        QueryCommand::OutboxRetry(ids)
                    }
                    Some(other) => {
                        return Err(Refusal::new(format!("`/itsm outbox {other}` is not a command."))
                            .hint("`/itsm outbox` lists parked posts; `/itsm outbox retry [id…]` queues them again."))
                    }
                }
            }
            "services" => services::parse_services(rest)?,
            "rules" | "runbooks" => automation::parse_listing(&sub, rest)?,
            "run" => automation::parse_run(rest)?,
            "service" => services::parse_service(rest)?,
            "oncall" | "on-call" => services::parse_oncall(rest, ctx)?,
            // Discord's `/itsm override` sub-command.
            "override" => services::parse_oncall(&format!("override {rest}"), ctx)?,
            "grant" | "revoke" => {
                let usage = format!("For example: `/itsm {sub} @bob cab`; roles are engineer, manager, cab, emergency_cab and admin.");
                let mut words = rest.split_whitespace();
                let (Some(who), Some(role), None) = (words.next(), words.next(), words.next()) else {
                    return Err(Refusal::new(format!("`/itsm {sub}` needs a person and a role.")).hint(usage));
                };
                let user = UserId::from_mention(who, ctx.platform, ctx.actor)
                    .map_err(|err| Refusal::new(sentence(&err.to_string())).hint(usage.clone()))?;
                let role = role
                    .to_ascii_lowercase()
                    .parse::<crate::domain::Role>()
                    .map_err(|err| Refusal::new(sentence(&err.to_string())).hint(usage.clone()))?;
                if sub == "grant" {
                    QueryCommand::Grant(user, role)
                } else {
                    QueryCommand::Revoke(user, role)
                }
            }
            "help" => {
                let topic = rest.split_whitespace().next().map(str::to_ascii_lowercase);
                if rest.split_whitespace().count() > 1 {
                    return Err(Refusal::new("`/itsm help` takes one topic.")
                        .hint(super::help::TOPICS_HINT));
                }
                QueryCommand::Help(topic)
            }
            "mine" => {
                no_text("mine")?;
                QueryCommand::Mine
            }
            "actions" => match rest.trim().to_ascii_lowercase().as_str() {
                "" | "all" => QueryCommand::Actions { mine: false },
                "mine" => QueryCommand::Actions { mine: true },
                other => {
                    return Err(Refusal::new(format!("`/itsm actions {other}` is not a command."))
                        .hint("`/itsm actions` lists every open action item; `/itsm actions mine` yours."))
                }
            },
            "action" => parse_action_step(rest)?,
            "whoami" => {
                no_text("whoami")?;
                QueryCommand::Whoami
            }
            "timezone" | "tz" => {
                use crate::commands::command::ZoneChoice;
                let hint = "Name an IANA zone: `/itsm timezone Europe/Berlin`, `/itsm timezone America/New_York`; `/itsm timezone reset` follows your profile and the team's zone again.";
                let mut words = rest.split_whitespace();
                let choice = match words.next() {
                    None => None,
                    Some(word) if word.eq_ignore_ascii_case("reset") => Some(ZoneChoice::Reset),
                    Some(word) => Some(ZoneChoice::Set(
                        word.parse::<chrono_tz::Tz>()
                            .ok()
                            // `europe/berlin` is what people type too.
                            .or_else(|| {
                                chrono_tz::TZ_VARIANTS
                                    .iter()
                                    .find(|zone| zone.name().eq_ignore_ascii_case(word))
                                    .copied()
                            })
                            .ok_or_else(|| {
                                Refusal::new(format!("`{word}` is not a time zone.")).hint(hint)
                            })?,
                    )),
                };
                if words.next().is_some() {
                    return Err(Refusal::new("`/itsm timezone` takes one zone.").hint(hint));
                }
                QueryCommand::TimeZone(choice)
            }
            "open" => {
                let mut priorities = Vec::new();
                for word in rest.split_whitespace() {
                    let priority = word.parse::<Priority>().map_err(|err| {
                        Refusal::new(sentence(&err.to_string()))
                            .hint("For example: `/itsm open P1 P2`.")
                    })?;
                    if !priorities.contains(&priority) {
                        priorities.push(priority);
                    }
                }
                priorities.sort();
                QueryCommand::Open(priorities)
            }
            "sla" => {
                no_text("sla")?;
                QueryCommand::Sla
            }
            "report" => {
                use crate::domain::report::Period;
                let mut words = rest.split_whitespace();
                let hint = "Use `/itsm report day|week|month` (the last 24 hours, 7 or 30 days, rolling) or name a calendar period: `/itsm report day 2026-11-30`, `/itsm report week 2026-W48`, `/itsm report month 2026-11`.";
                let period = match words.next() {
                    None => Period::Day,
                    Some(word) => Period::parse(word)
                        .map_err(|err| Refusal::new(format!("{err}.")).hint(hint))?,
                };
                let date = words
                    .next()
                    .map(|text| period.parse_date(text))
                    .transpose()
                    .map_err(|err| Refusal::new(format!("{err}.")).hint(hint))?;
                if let Some(extra) = words.next() {
                    return Err(Refusal::new(format!(
                        "`{extra}` is more than a report takes."
                    ))
                    .hint(hint));
                }
                QueryCommand::Report(period, date)
            }
            other => {
                return Err(Refusal::new(format!("`/itsm {other}` is not a command."))
                    .hint("`/itsm` knows: help [topic], mine, open [P1…], whoami, timezone [zone], sla, report, changes, requests [mine|queue|approvals], services, service <name>, oncall, actions [mine], action <id> done|problem|change, grant, revoke, outbox, search <words>, kb …, incident …, change …, problem …, request …"))
            }
        };
    Ok(Command::Query(query))
}

mod automation;
mod change;
mod kb;
mod problem;
mod request;
mod services;

/// A parked row as `/itsm outbox` names it: `41` (a post), `page-3` (a
/// paging event), `call-5` (an outbound call), each with an optional `#`.
fn parked_row(word: &str) -> Option<(crate::store::queue::Queue, i64)> {
    use crate::store::queue::Queue;
    let word = word.trim_start_matches('#');
    let (queue, id) = match word.split_once('-') {
        Some((name, id)) => (Queue::parse(&name.to_ascii_lowercase())?, id),
        None => (Queue::Outbox, word),
    };
    Some((queue, id.parse().ok()?))
}

#[cfg(test)]
mod tests;

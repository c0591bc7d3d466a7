//! `/itsm services`, `/itsm service <name>`, `/itsm oncall …` and the
//! incident verbs `outage` and `public`.

use crate::domain::change::parse_start;
use crate::domain::{parse_duration, FreeText, TicketRef, UserId};

use super::super::command::{IncidentCommand, OverrideRequest, QueryCommand};
use super::super::refusal::{sentence, Refusal};
use super::ParseContext;

const SERVICE_USAGE: &str = "For example: `/itsm service vpn`; `/itsm services` lists the catalog.";

const ONCALL_USAGE: &str = "Use `/itsm oncall [service|rotation]`, or `/itsm oncall override @user <start> <duration> [rotation]`, e.g. `/itsm oncall override @carol 2026-11-28T09:00 2d`.";

/// `/itsm services` (nothing after it).
pub(super) fn parse_services(rest: &str) -> Result<QueryCommand, Refusal> {
    if !rest.trim().is_empty() {
        return Err(Refusal::new("`/itsm services` takes nothing after it.")
            .hint("To see one service, use `/itsm service <name>`, e.g. `/itsm service vpn`."));
    }
    Ok(QueryCommand::Services)
}

/// `/itsm service <name>`.
pub(super) fn parse_service(rest: &str) -> Result<QueryCommand, Refusal> {
    let mut words = rest.split_whitespace();
    let (Some(name), None) = (words.next(), words.next()) else {
        return Err(Refusal::new("`/itsm service` needs one service name.").hint(SERVICE_USAGE));
    };
    let name = name.trim_start_matches("service:").to_ascii_lowercase();
    if !crate::domain::service::valid_name(&name) {
        return Err(Refusal::new(format!("`{name}` is not a service name.")).hint(SERVICE_USAGE));
    }
    Ok(QueryCommand::Service(name))
}

/// `/itsm oncall [service|rotation]` and `/itsm oncall override …`.
pub(super) fn parse_oncall(rest: &str, ctx: ParseContext<'_>) -> Result<QueryCommand, Refusal> {
    let words: Vec<&str> = rest.split_whitespace().collect();
    match words.as_slice() {
        [] => Ok(QueryCommand::Oncall(None)),
        [first, args @ ..] if first.eq_ignore_ascii_case("override") => parse_override(args, ctx),
        [name] => {
            let name = name.to_ascii_lowercase();
            if !crate::domain::service::valid_name(&name) {
                return Err(
                    Refusal::new(format!("`{name}` is not a service or rotation name."))
                        .hint(ONCALL_USAGE),
                );
            }
            Ok(QueryCommand::Oncall(Some(name)))
        }
        _ => Err(
            Refusal::new("`/itsm oncall` takes one service or rotation name.").hint(ONCALL_USAGE),
        ),
    }
}

fn parse_override(args: &[&str], ctx: ParseContext<'_>) -> Result<QueryCommand, Refusal> {
    let (who, start, duration, rotation) = match args {
        [who, start, duration] => (who, start, duration, None),
        [who, start, duration, rotation] => (who, start, duration, Some(rotation)),
        _ => {
            return Err(Refusal::new(
                "`/itsm oncall override` needs a person, a start and a duration.",
            )
            .hint(ONCALL_USAGE))
        }
    };
    let member = UserId::from_mention(who, ctx.platform, ctx.actor)
        .map_err(|err| Refusal::new(sentence(&err.to_string())).hint(ONCALL_USAGE))?;
    let start = parse_start(start)
        .map_err(|err| Refusal::new(sentence(&err.to_string())).hint(ONCALL_USAGE))?;
    let duration = parse_duration(duration)
        .map_err(|err| Refusal::new(sentence(&err.to_string())).hint(ONCALL_USAGE))?;
    if duration < chrono::Duration::minutes(1) || duration > chrono::Duration::days(90) {
        return Err(
            Refusal::new("An override lasts at least a minute and at most 90 days.")
                .hint(ONCALL_USAGE),
        );
    }
    let rotation = match rotation {
        Some(name) => {
            let name = name.to_ascii_lowercase();
            if !crate::domain::service::valid_name(&name) {
                return Err(
                    Refusal::new(format!("`{name}` is not a rotation name.")).hint(ONCALL_USAGE)
                );
            }
            Some(name)
        }
        None => None,
    };
    Ok(QueryCommand::OncallOverride(OverrideRequest {
        member,
        start,
        duration,
        rotation,
    }))
}

/// `/incident INC-n outage [since <time>]`.
pub(super) fn parse_outage(reference: TicketRef, rest: &str) -> Result<IncidentCommand, Refusal> {
    let usage = format!(
        "For example: `/incident {reference} outage` (down since it was reported) or `/incident {reference} outage since 2026-11-25T08:40`."
    );
    let words: Vec<&str> = rest.split_whitespace().collect();
    match words.as_slice() {
        [] => Ok(IncidentCommand::Outage(None)),
        // `since` may be left out (Discord's option gives the time alone).
        [since, at] if since.eq_ignore_ascii_case("since") => parse_start(at)
            .map(|start| IncidentCommand::Outage(Some(start)))
            .map_err(|err| Refusal::new(sentence(&err.to_string())).hint(usage)),
        [at] => parse_start(at)
            .map(|start| IncidentCommand::Outage(Some(start)))
            .map_err(|err| Refusal::new(sentence(&err.to_string())).hint(usage)),
        _ => Err(Refusal::new("`outage` takes nothing, or `since <time>`.").hint(usage)),
    }
}

/// `/incident INC-n public <text>`.
pub(super) fn parse_public(reference: TicketRef, rest: &str) -> Result<IncidentCommand, Refusal> {
    FreeText::parse("public update", rest)
        .map(IncidentCommand::Public)
        .map_err(|err| {
            Refusal::new(sentence(&err.to_string())).hint(format!(
                "For example: `/incident {reference} public We have found the cause and are rolling out a fix.` The text is shown on the public status page."
            ))
        })
}

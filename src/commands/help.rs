//! `/itsm help [topic]`.

use super::refusal::Refusal;
use super::reply::{Block, Message};

/// The topics `/itsm help` knows, for refusals.
pub const TOPICS_HINT: &str =
    "Topics: incident, queries, roles. For example: `/itsm help incident`.";

/// The help text for `topic`, or the overview.
pub fn help(topic: Option<&str>) -> Result<Message, Refusal> {
    let message = match topic {
        None => Message::default()
            .with(Block::Header("itsm-bot: the service desk in chat".into()))
            .with(Block::List {
                title: Some("Report and work incidents".into()),
                items: vec![
                    "/incident <what is broken> [P1-P4] [service:<name>] [impact:h/m/l] [urgency:h/m/l]".into(),
                    "/incident INC-n ack · assign @user · priority P2 · note <text> · hold <reason> · resume · resolve <resolution> · close · reopen <why> · show".into(),
                ],
            })
            .with(Block::List {
                title: Some("Ask".into()),
                items: vec![
                    "/itsm mine: your open incidents".into(),
                    "/itsm open [P1…]: every open incident, most urgent first".into(),
                    "/itsm whoami: your user id and roles".into(),
                    "/itsm sla: the response and resolution targets".into(),
                    "/itsm report [day|week|month]: volumes, MTTA/MTTR, SLA compliance, CSAT".into(),
                    "/itsm help <topic>: incident, queries, roles".into(),
                ],
            })
            .with(Block::Context(
                "Every command also works under /itsm, e.g. `/itsm incident VPN down P2`. References (INC-12) are case-insensitive.".into(),
            )),
        Some("incident" | "incidents") => Message::default()
            .with(Block::Header("Incidents".into()))
            .with(Block::Text(
                "`/incident <title> [P1-P4] [service:<name>] [impact:h/m/l] [urgency:h/m/l]` reports one. Without a priority it comes from impact × urgency (medium/medium unless given). `/incident` alone opens a form where the platform has one.".into(),
            ))
            .with(Block::List {
                title: Some("Lifecycle: new → acknowledged → resolved → closed".into()),
                items: vec![
                    "ack: you are on it".into(),
                    "assign @user (or `assign me`)".into(),
                    "priority P1-P4".into(),
                    "note <text>: add to the timeline".into(),
                    "hold <reason> / resume: waiting on someone; the SLA clock pauses".into(),
                    "resolve <resolution>".into(),
                    "close: after the reporter confirms".into(),
                    "reopen <why>: from resolved, or from closed within the grace period".into(),
                    "rate 1-5: the reporter's satisfaction, once resolved".into(),
                    "show: the ticket, its SLA clocks and its timeline".into(),
                ],
            })
            .with(Block::Context("Titles are up to 200 characters, messages up to 4,000.".into())),
        Some("queries" | "itsm") => Message::default()
            .with(Block::Header("Queries".into()))
            .with(Block::List {
                title: None,
                items: vec![
                    "/itsm mine: open incidents assigned to you or reported by you".into(),
                    "/itsm open [P1 P2 …]: open incidents, most urgent and oldest first".into(),
                    "/itsm whoami: who the bot thinks you are, and your roles".into(),
                    "/itsm sla: the SLA targets per priority".into(),
                    "/itsm report [day|week|month]: the period's figures and the trend".into(),
                ],
            }),
        Some("roles") => Message::default()
            .with(Block::Header("Roles".into()))
            .with(Block::Text(
                "Everyone is a reporter: reporters report incidents, add notes and reopen their own. Engineers work incidents (ack, assign, priority, hold, resume, resolve, close). Managers read reports; cab and emergency_cab approve changes; admins grant roles. Roles are granted in the `[roles]` section of the configuration.".into(),
            )),
        Some(other) => {
            return Err(Refusal::new(format!("There is no help on `{other}`.")).hint(TOPICS_HINT));
        }
    };
    Ok(message)
}

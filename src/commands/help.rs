//! `/itsm help [topic]`.

use super::refusal::Refusal;
use super::reply::{Block, Message};

/// The topics `/itsm help` knows, for refusals.
pub const TOPICS_HINT: &str =
    "Topics: incident, problem, queries, roles. For example: `/itsm help incident`.";

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
                title: Some("Find and remove the causes of incidents".into()),
                items: vec![
                    "/problem <cause> [service:<name>] · /problem PRB-n link INC-m · rca <text> · workaround <text> · known-error · fix CHG-n · resolve · close · show · /problem search <words>".into(),
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
                    "/itsm help <topic>: incident, problem, queries, roles".into(),
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
        Some("problem" | "problems") => Message::default()
            .with(Block::Header("Problems".into()))
            .with(Block::Text(
                "A problem is the cause behind one or more incidents. `/problem <title> [service:<name>]` records one (engineers); further lines become its description. Once it has a workaround it can be published as a known error: new incidents whose titles look like it are offered the workaround.".into(),
            ))
            .with(Block::List {
                title: Some("Lifecycle: new → investigating → known_error → resolved → closed".into()),
                items: vec![
                    "link INC-m [INC-k …]: incidents it caused (or `/incident INC-m problem PRB-n`)".into(),
                    "rca <text>: the root cause; starts the investigation".into(),
                    "workaround <text>: how to get by until it is fixed; starts the investigation".into(),
                    "known-error: publish it with its workaround".into(),
                    "fix CHG-n: the change that removes the cause".into(),
                    "resolve [how]: the cause is gone; offers to resolve its open incidents".into(),
                    "resolve-incidents: resolve every still-open linked incident".into(),
                    "close · note <text> · show".into(),
                    "/problem search <words>: titles, root causes and workarounds; known errors first".into(),
                ],
            })
            .with(Block::Context("Recording and working problems needs the engineer role; anyone can show and search.".into())),
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
                "Everyone is a reporter: reporters report incidents, add notes and reopen their own. Engineers work incidents (ack, assign, priority, hold, resume, resolve, close) and record and work problems. Managers read reports; cab and emergency_cab approve changes; admins grant roles. Roles are granted in the `[roles]` section of the configuration.".into(),
            )),
        Some(other) => {
            return Err(Refusal::new(format!("There is no help on `{other}`.")).hint(TOPICS_HINT));
        }
    };
    Ok(message)
}

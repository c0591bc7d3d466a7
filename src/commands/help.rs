//! `/itsm help [topic]`.

use super::refusal::Refusal;
use super::reply::{Block, Message};

/// The topics `/itsm help` knows, for refusals.
pub const TOPICS_HINT: &str =
    "Topics: incident, change, problem, request, kb, services, review, automation, queries, roles. For example: `/itsm help change`.";

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
                title: Some("Plan and approve changes".into()),
                items: vec![
                    "/change <what changes> [type:standard/normal/emergency] [service:<name>] [impact:h/m/l likelihood:h/m/l]".into(),
                    "/change CHG-n plan · test · rollback <text> · window <start> <duration> · submit · approve · reject <reason> · start · complete [review] · fail · rolled-back · cancel · show".into(),
                ],
            })
            .with(Block::List {
                title: Some("Ask for what you need".into()),
                items: vec![
                    "/request: the service catalog (a form on Slack and Discord) · /request <item> field:value … [details] · /request REQ-n approve · reject <reason> · take · task <k> done · fulfil [note] · cancel <why> · show".into(),
                    "/itsm requests [mine|queue|approvals]".into(),
                ],
            })
            .with(Block::List {
                title: Some("Find and remove the causes of incidents".into()),
                items: vec![
                    "/problem <cause> [service:<name>] · /problem PRB-n link INC-m · rca <text> · workaround <text> · known-error · fix CHG-n · resolve · close · show · /problem search <words>".into(),
                ],
            })
            .with(Block::List {
                title: Some("Know and find".into()),
                items: vec![
                    "/kb <title> · /kb KB-n body <text> · publish · retire · show · /kb from INC-n|PRB-n · /kb search <words>".into(),
                    "/itsm search <words> [kind:incident|problem|change|request|kb] [status:open]".into(),
                    "/incident INC-n duplicate-of INC-m: close a repeat report; its reporter follows INC-m".into(),
                    "/incident INC-n accept-suggestion: the service and priority suggested from similar resolved incidents".into(),
                ],
            })
            .with(Block::List {
                title: Some("Learn from incidents".into()),
                items: vec![
                    "/incident INC-n postmortem · postmortem set <section> <text> · action <text> [@owner] [due:YYYY-MM-DD]".into(),
                    "/itsm actions [mine] · /itsm action <id> done · /itsm action <id> problem · /itsm action <id> change".into(),
                ],
            })
            .with(Block::List {
                title: Some("Automate".into()),
                items: vec![
                    "/itsm rules: what the automation rules do and how often they fired".into(),
                    "/itsm runbooks · /itsm run <runbook> [INC-n] key=value…".into(),
                ],
            })
            .with(Block::List {
                title: Some("Ask".into()),
                items: vec![
                    "/itsm mine: your open incidents".into(),
                    "/itsm open [P1…]: every open incident, most urgent first".into(),
                    "/itsm whoami: your user id and roles".into(),
                    "/itsm timezone [zone|reset]: the zone you type times in and the shell shows them in".into(),
                    "/itsm sla: the response and resolution targets".into(),
                    "/itsm report [day|week|month]: volumes, MTTA/MTTR, SLA compliance, CSAT".into(),
                    "/itsm changes [today|week]: the change schedule".into(),
                    "/itsm services · /itsm service <name>: status, availability and error budget".into(),
                    "/itsm oncall [service|rotation]: who is on call now and next".into(),
                    "/itsm actions [mine]: open action items from reviews, overdue ones marked".into(),
                    "/itsm help <topic>: incident, change, problem, kb, services, review, automation, queries, roles".into(),
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
        Some("change" | "changes") => Message::default()
            .with(Block::Header("Changes".into()))
            .with(Block::Text(
                "`/change <title> [type:standard/normal/emergency] [service:<name>] [impact:h/m/l likelihood:h/m/l] [risk:low/medium/high]` drafts one (normal unless a type is given; risk from impact × likelihood). `standard:<name>` follows a pre-approved standard change from the catalog, with its plans filled in.".into(),
            ))
            .with(Block::List {
                title: Some("Lifecycle: draft → submitted → approved → in_progress → completed / failed / rolled_back; failed → rolled_back; rejected; cancelled".into()),
                items: vec![
                    "plan <text> · test <text> · rollback <text>: the implementation, test and rollback plans".into(),
                    "window <start> <duration>: e.g. `window 2026-12-01T22:00 2h` (start in your time zone, see `/itsm timezone`, or with an offset like `2026-12-01T22:00Z`)".into(),
                    "describe <text> · assess impact:h/m/l likelihood:h/m/l · risk low/medium/high · implementer @user".into(),
                    "submit: needs all three plans and a window; a standard change is approved at once".into(),
                    "approve [comment] · reject <reason>: cab for normal changes (the configured number of distinct members), emergency_cab for emergency ones; never the requester".into(),
                    "start (`start now` before the window opens) · complete [review note] · fail <what happened> · rolled-back [note] (also after fail) · cancel [why]".into(),
                    "note <text> · show: the whole record with approvals and timeline".into(),
                ],
            })
            .with(Block::Context("Windows in a freeze period are refused for normal changes and flagged for emergency ones; a window overlapping another approved change on the same service is flagged. The implementer is reminded a day and an hour before the window.".into())),
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
        Some("kb" | "knowledge" | "search" | "articles" | "duplicates") => Message::default()
            .with(Block::Header("Knowledge and search".into()))
            .with(Block::Text(
                "Articles (`KB-n`) write down what the team knows: engineers draft them with `/kb <title>`, or from a resolved incident (`/kb from INC-n`, its resolution) or a problem's workaround (`/kb from PRB-n`), write the body and publish them; everyone reads published articles. New reports are offered up to three matching published articles and known errors, and the open incidents they look like.".into(),
            ))
            .with(Block::List {
                title: Some("Lifecycle: draft → published → retired".into()),
                items: vec![
                    "body <text>: write or rewrite it (a published article stays published)".into(),
                    "publish: needs a body · retire: searches and suggestions leave it out · show".into(),
                    "/kb search <words> · /kb: the latest articles".into(),
                    "/itsm search <words> [kind:incident|problem|change|request|kb] [status:open]: everything, best 10 first; \"a phrase\", -left-out".into(),
                    "/incident INC-n duplicate-of INC-m: closes INC-n; its reporter hears when INC-m is resolved; figures count the pair once".into(),
                    "/incident INC-n accept-suggestion: a report without a service is offered the service and priority of the most similar resolved incidents, with the reason (`[triage]`)".into(),
                ],
            })
            .with(Block::Context("Synonyms come from `[search.synonyms]` (e.g. vpn = [\"remote access\", \"tunnel\"]) and work both ways.".into())),
        Some("request" | "requests") => Message::default()
            .with(Block::Header("Service requests".into()))
            .with(Block::Text(
                "A service request asks for something from the catalog (`[[requests.catalog]]`): a laptop, access, a virtual machine. `/request` lists the items with their fields (on Slack and Discord it opens the catalog form: pick the item, fill in its fields); `/request laptop model:13-inch reason:\"new starter\"` asks for one (values with spaces are quoted; other words become details) and answers with `REQ-<n>`. A request refused for a field (one missing, a value the item does not take) says what would work, and on Slack and Discord offers a \"Fill in the form\" button holding what you typed.".into(),
            ))
            .with(Block::List {
                title: Some("Lifecycle: awaiting_approval → approved → in_progress → fulfilled → closed; rejected; cancelled; on_hold".into()),
                items: vec![
                    "approve [comment] · reject <reason>: the item's approvers; never the requester".into(),
                    "take: the item's team; the request is then in progress".into(),
                    "task <k> done: tasks in any order; fulfil [note] once every task is done".into(),
                    "hold <why> · resume: waiting on the requester".into(),
                    "cancel <why>: the requester or the team · close: after fulfilment · note <text> · show".into(),
                    "/itsm requests [mine|queue|approvals]".into(),
                ],
            })
            .with(Block::Context("An item with a runbook runs it when approved, with the request's fields as its parameters; its answer fulfils the request, and a failure leaves it in progress for the team.".into())),
        Some("services" | "service" | "oncall" | "on-call" | "status") => Message::default()
            .with(Block::Header("Services and on-call".into()))
            .with(Block::Text(
                "Services come from `[[services]]` in the configuration: owner, channel, tier, availability target (percent over rolling 30 days, default 99.9), on-call rotation, whether the public status page shows it, and what it depends on. A service is in outage while one of its open incidents is marked as an outage, degraded while a P1 or P2 is open, operational otherwise.".into(),
            ))
            .with(Block::List {
                title: None,
                items: vec![
                    "/itsm services: every service with its status and 30-day availability".into(),
                    "/itsm service <name>: status, owner, who is on call, open incidents, changes in the next 7 days, availability against target and the error budget left".into(),
                    "/incident INC-n outage [since <time>]: count it as downtime of its service from `since` (default: when it was reported; after a reopen, now) until it is resolved (engineers)".into(),
                    "/incident INC-n public <text>: an update for the public status page (engineers); notes stay internal".into(),
                    "/itsm oncall [service|rotation]: who is on call now and who is next".into(),
                    "/itsm oncall override @user <start> <duration> [rotation]: someone else covers, e.g. `/itsm oncall override @carol 2026-11-28T09:00 2d` (start in the rotation's time zone; engineers)".into(),
                ],
            })
            .with(Block::Context(
                "A new P1/P2 incident on a service with a rotation pages the person on call in the service's channel. Unacknowledged after the rotation's `escalate_after`, it goes to the next member, then to the channel and the service owner. The service's channel is told when 50% and 100% of the error budget is spent.".into(),
            )),
        Some("review" | "postmortem" | "reviews" | "actions") => Message::default()
            .with(Block::Header("Post-incident reviews".into()))
            .with(Block::Text(
                "`/incident INC-n postmortem` starts the review of a resolved incident (engineers) and posts it to the incident's thread: summary, impact (duration, outage minutes, SLA results, people), the timeline, root cause and workaround from linked problems, the changes that fix them, and the action items. Run it again to see the review as it stands: sections you set are kept, everything else follows the records.".into(),
            ))
            .with(Block::List {
                title: None,
                items: vec![
                    format!("postmortem set <section> <text>: write a section; sections are {}", crate::domain::postmortem::Section::names()),
                    "action <text> [@owner] [due:YYYY-MM-DD]: agree a follow-up (engineers)".into(),
                    "/itsm actions [mine]: open action items, soonest due first, overdue ones marked".into(),
                    "/itsm action <id> done: by an engineer or the item's owner".into(),
                    "/itsm action <id> problem: raise it as a problem linked to its incident (engineers)".into(),
                    "/itsm action <id> change: raise it as a draft normal change on the incident's service, requested by you (engineers)".into(),
                ],
            })
            .with(Block::Context("A raised action item keeps the PRB/CHG reference and stays open until it is marked done, so its owner and due date still count; each item is raised once. The daily digest and the weekly and monthly reports count the open items and list the overdue ones. P1 and P2 incidents without a review get a reminder in their thread two working days after resolve (`postmortem.remind_after_days`). The review is also served as Markdown at GET /api/v1/incidents/INC-n/postmortem.".into())),
        Some("automation" | "rules" | "runbooks" | "run") => Message::default()
            .with(Block::Header("Automation".into()))
            .with(Block::Text(
                "Rules (`[[automation.rules]]`) act on events: incident.created, incident.priority_changed, incident.status_changed, sla.warning, sla.breach, alert.fired, alert.resolved, change.approved, change.completed. They can post to a channel, mention the on-call, assign, set the priority, add a note, link a problem, or call a webhook with a signed JSON body. A rule runs once per event, with the event; one that fails is written on the ticket's timeline and never stops the command.".into(),
            ))
            .with(Block::List {
                title: None,
                items: vec![
                    "/itsm rules: the rules, their conditions and actions, and how often each fired (engineers, managers)".into(),
                    "/itsm runbooks: what can be run, by which role, with which parameters".into(),
                    "/itsm run <runbook> [INC-n] key=value…: run one; `name=\"two words\"` for text with spaces. Runs outside an incident are recorded as standard changes; runbooks that need approval wait for one CAB approval (Approve on the change) and run then.".into(),
                ],
            })
            .with(Block::Context("`itsm-bot check-config` validates rules and runbooks and names the secrets they read that are not set.".into())),
        Some("queries" | "itsm") => Message::default()
            .with(Block::Header("Queries".into()))
            .with(Block::List {
                title: None,
                items: vec![
                    "/itsm mine: open incidents assigned to you or reported by you".into(),
                    "/itsm open [P1 P2 …]: open incidents, most urgent and oldest first".into(),
                    "/itsm whoami: who the bot thinks you are, and your roles".into(),
                    "/itsm timezone [<IANA zone>|reset]: your own time zone, for the times you type and the times the shell shows you (Slack and Discord show times in your device's zone anyway); without one, your Slack profile's zone, then the team's".into(),
                    "/itsm sla: the SLA targets per priority".into(),
                    "/itsm report [day|week|month]: the period's figures and the trend".into(),
                    "/itsm changes [today|week]: changes whose window falls in the period (all upcoming without one)".into(),
                    "/itsm actions [mine]: open action items from post-incident reviews; `/itsm action <id> done|problem|change`".into(),
                ],
            }),
        Some("roles") => Message::default()
            .with(Block::Header("Roles".into()))
            .with(Block::Text(
                "Everyone is a reporter: reporters report incidents, add notes, reopen their own, and read changes and problems. Engineers work incidents, problems and changes. Managers (and engineers) read reports. cab approves normal changes, emergency_cab emergency ones, never their own. Admins may do what engineers and managers do, and grant roles. Roles come from the `[roles]` section of the configuration and from `/itsm grant @user <role>` / `/itsm revoke @user <role>` by an admin.".into(),
            )),
        Some(other) => {
            return Err(Refusal::new(format!("There is no help on `{other}`.")).hint(TOPICS_HINT));
        }
    };
    Ok(message)
}

//! The application commands: their registration, and how their options
//! become the shared command language (there is no second grammar: the
//! options are written out as the line a person would type, and only the
//! typed fields of a report go straight into its value).

use serenity::all::{
    CommandDataOption, CommandDataOptionValue, CommandInteraction, CommandOptionType, CommandType,
    CreateCommand, CreateCommandOption,
};

/// Every command the bot registers.
pub fn definitions() -> Vec<CreateCommand> {
    let ticket = || {
        CreateCommandOption::new(
            CommandOptionType::String,
            "ticket",
            "Reference, e.g. INC-12",
        )
        .required(true)
        .max_length(20)
    };
    let text = |name: &str, what: &str, required: bool| {
        CreateCommandOption::new(CommandOptionType::String, name, what)
            .required(required)
            .max_length(4000)
    };
    let priority = |required: bool| {
        ["P1", "P2", "P3", "P4"].into_iter().fold(
            CreateCommandOption::new(
                CommandOptionType::String,
                "priority",
                "P1 (critical) to P4 (low)",
            )
            .required(required),
            |option, p| option.add_string_choice(p, p),
        )
    };
    let sub = |name: &str, what: &str| {
        CreateCommandOption::new(CommandOptionType::SubCommand, name, what)
    };
    let incident = CreateCommand::new("incident")
        .description("Report and work incidents")
        .add_option(
            sub("create", "Report an incident (without a title: a form)")
                .add_sub_option(text("title", "What is broken", false).max_length(200))
                .add_sub_option(priority(false))
                .add_sub_option(
                    CreateCommandOption::new(
                        CommandOptionType::String,
                        "service",
                        "Affected service",
                    )
                    .set_autocomplete(true),
                )
                .add_sub_option(text("description", "Details", false)),
        )
        .add_option(sub("ack", "Acknowledge: you are on it").add_sub_option(ticket()))
        .add_option(
            sub("assign", "Assign to someone")
                .add_sub_option(ticket())
                .add_sub_option(
                    CreateCommandOption::new(CommandOptionType::User, "user", "Who").required(true),
                ),
        )
        .add_option(
            sub("priority", "Change the priority")
                .add_sub_option(ticket())
                .add_sub_option(priority(true)),
        )
        .add_option(
            sub("note", "Add a note")
                .add_sub_option(ticket())
                .add_sub_option(text("text", "The note", true)),
        )
        .add_option(
            sub("hold", "Put on hold")
                .add_sub_option(ticket())
                .add_sub_option(text("reason", "Waiting for what", true)),
        )
        .add_option(sub("resume", "Take off hold").add_sub_option(ticket()))
        .add_option(
            sub("resolve", "Resolve (without a resolution: a form)")
                .add_sub_option(ticket())
                .add_sub_option(text("resolution", "What fixed it", false)),
        )
        .add_option(sub("close", "Close after resolve").add_sub_option(ticket()))
        .add_option(
            sub("reopen", "Reopen")
                .add_sub_option(ticket())
                .add_sub_option(text("why", "Why", true)),
        )
        .add_option(sub("show", "Show the ticket and its timeline").add_sub_option(ticket()))
        .add_option(
            sub(
                "outage",
                "Count it as downtime of its service until resolved",
            )
            .add_sub_option(ticket())
            .add_sub_option(text(
                "since",
                "When the outage began (default: when reported), e.g. 2026-11-25T08:40",
                false,
            )),
        )
        .add_option(
            sub("public", "Post an update on the public status page")
                .add_sub_option(ticket())
                .add_sub_option(text("text", "The update, as the public will read it", true)),
        )
        .add_option(
            sub(
                "postmortem",
                "Start or show the post-incident review; with a section, edit it",
            )
            .add_sub_option(ticket())
            .add_sub_option(crate::domain::postmortem::Section::ALL.into_iter().fold(
                CreateCommandOption::new(
                    CommandOptionType::String,
                    "section",
                    "The section to write",
                ),
                |option, s| option.add_string_choice(s.as_str(), s.as_str()),
            ))
            .add_sub_option(text("text", "The section's text", false)),
        )
        .add_option(
            sub("action", "Agree an action item")
                .add_sub_option(ticket())
                .add_sub_option(text("text", "What will be done", true))
                .add_sub_option(CreateCommandOption::new(
                    CommandOptionType::User,
                    "owner",
                    "Who does it",
                ))
                .add_sub_option(
                    CreateCommandOption::new(CommandOptionType::String, "due", "YYYY-MM-DD")
                        .max_length(10),
                ),
        )
        .add_option(
            sub("rate", "Rate how it was handled")
                .add_sub_option(ticket())
                .add_sub_option(
                    CreateCommandOption::new(
                        CommandOptionType::Integer,
                        "score",
                        "1 (poor) to 5 (excellent)",
                    )
                    .required(true)
                    .min_int_value(1)
                    .max_int_value(5),
                ),
        )
        .add_option(
            sub(
                "accept-suggestion",
                "Apply the suggested service and priority",
            )
            .add_sub_option(ticket()),
        )
        .add_option(
            sub(
                "duplicate-of",
                "Close it as a duplicate of an open incident",
            )
            .add_sub_option(ticket())
            .add_sub_option(
                text("of", "The open incident it repeats, e.g. INC-9", true).max_length(20),
            ),
        );
    let role_grant = |name: &str, what: &str| {
        sub(name, what)
            .add_sub_option(
                CreateCommandOption::new(CommandOptionType::User, "user", "Who").required(true),
            )
            .add_sub_option(
                ["engineer", "manager", "cab", "emergency_cab", "admin"]
                    .into_iter()
                    .fold(
                        CreateCommandOption::new(CommandOptionType::String, "role", "Which role")
                            .required(true),
                        |option, role| option.add_string_choice(role, role),
                    ),
            )
    };
    let itsm = CreateCommand::new("itsm")
        .description("Service desk queries and help")
        .add_option(
            sub(
                "search",
                "Search incidents, problems, changes, requests and articles",
            )
            .add_sub_option(
                text(
                    "words",
                    "Words, \"a phrase\", -left-out, kind:incident…, status:open",
                    true,
                )
                .max_length(200),
            ),
        )
        .add_option(sub("help", "Help").add_sub_option(text(
            "topic",
            "incident, change, problem, request, services, review, automation, queries, roles",
            false,
        )))
        .add_option(sub("mine", "Your open incidents"))
        .add_option(sub("open", "Open incidents").add_sub_option(priority(false)))
        .add_option(sub("whoami", "Your user id and roles"))
        .add_option(sub("sla", "The SLA targets"))
        .add_option(
            sub("report", "Figures of a period").add_sub_option(
                CreateCommandOption::new(CommandOptionType::String, "period", "day, week or month")
                    .add_string_choice("day", "day")
                    .add_string_choice("week", "week")
                    .add_string_choice("month", "month"),
            ),
        )
        .add_option(
            sub("changes", "The change schedule").add_sub_option(
                CreateCommandOption::new(CommandOptionType::String, "range", "today or week")
                    .add_string_choice("today", "today")
                    .add_string_choice("week", "week"),
            ),
        )
        .add_option(
            sub("requests", "Open service requests").add_sub_option(
                CreateCommandOption::new(
                    CommandOptionType::String,
                    "list",
                    "mine (default), queue or approvals",
                )
                .add_string_choice("mine", "mine")
                .add_string_choice("queue", "queue")
                .add_string_choice("approvals", "approvals"),
            ),
        )
        .add_option(sub(
            "services",
            "Every service with its status and availability",
        ))
        .add_option(
            sub(
                "service",
                "One service: status, on call, incidents, changes, error budget",
            )
            .add_sub_option(
                CreateCommandOption::new(CommandOptionType::String, "name", "The service")
                    .required(true)
                    .set_autocomplete(true),
            ),
        )
        .add_option(
            sub("oncall", "Who is on call now and next").add_sub_option(text(
                "target",
                "A service or rotation (default: every rotation)",
                false,
            )),
        )
        .add_option(
            sub(
                "override",
                "Someone else is on call for a while (engineers)",
            )
            .add_sub_option(
                CreateCommandOption::new(CommandOptionType::User, "user", "Who covers")
                    .required(true),
            )
            .add_sub_option(text(
                "start",
                "e.g. 2026-11-28T09:00 (rotation time zone)",
                true,
            ))
            .add_sub_option(text("duration", "e.g. 2d or 12h", true))
            .add_sub_option(text("rotation", "Which rotation, if not obvious", false)),
        )
        .add_option(
            sub("actions", "Open action items").add_sub_option(
                CreateCommandOption::new(CommandOptionType::String, "whose", "all or mine")
                    .add_string_choice("all", "all")
                    .add_string_choice("mine", "mine"),
            ),
        )
        .add_option(
            sub(
                "action",
                "Mark an action item done, or raise it as a problem or change",
            )
            .add_sub_option(
                CreateCommandOption::new(CommandOptionType::Integer, "id", "The item's id")
                    .required(true)
                    .min_int_value(1),
            )
            .add_sub_option(
                CreateCommandOption::new(
                    CommandOptionType::String,
                    "step",
                    "What to do (default: done)",
                )
                .add_string_choice("done", "done")
                .add_string_choice("raise as a problem", "problem")
                .add_string_choice("raise as a change", "change"),
            ),
        )
        .add_option(sub("rules", "Automation rules and how often they fired"))
        .add_option(sub(
            "runbooks",
            "Runbooks you can run, with their parameters",
        ))
        .add_option(
            sub("run", "Run a runbook")
                .add_sub_option(text("runbook", "Which runbook (see /itsm runbooks)", true))
                .add_sub_option(text(
                    "params",
                    "key=value … e.g. size=small name=web-1",
                    false,
                ))
                .add_sub_option(text(
                    "incident",
                    "The incident it is for, e.g. INC-7",
                    false,
                )),
        )
        .add_option(role_grant("grant", "Grant a role (admins)"))
        .add_option(role_grant(
            "revoke",
            "Revoke a role granted from chat (admins)",
        ));
    let free = |name: &str, what: &str| {
        CreateCommand::new(name)
            .description(what)
            .add_option(text("text", "What to do", false))
    };
    vec![
        incident,
        itsm,
        free("change", "Change requests"),
        free("problem", "Problem management"),
        free("kb", "Knowledge base: articles and search"),
        free(
            "request",
            "Service requests: ask from the catalog, approve, fulfil",
        ),
        CreateCommand::new("Create incident").kind(CommandType::Message),
    ]
}

/// What a slash command asks for.
pub enum Invocation {
    /// `/incident create` without a title: open the form.
    ReportForm,
    /// `/incident resolve` without a resolution: open the resolution form.
    ResolveForm(String),
    /// `/incident create` with its typed options, as given.
    Report {
        title: String,
        priority: Option<String>,
        service: Option<String>,
        description: Option<String>,
    },
    /// A command line of the shared language: (`/incident`, `INC-1 ack`).
    Line(String, String),
    /// The options cannot be a command (e.g. a `ticket` that is not one reference).
    Refused(String),
}

/// The `ticket` option as one reference: text after it must not turn into
/// another command (`INC-1 resolve done` typed into `ticket`).
fn ticket_of(value: Option<String>) -> Result<String, String> {
    let value = value.unwrap_or_default();
    let trimmed = value.trim();
    match trimmed.parse::<crate::domain::TicketRef>() {
        Ok(reference) if !trimmed.contains(char::is_whitespace) => Ok(reference.to_string()),
        _ => Err(format!(
            "`{}` is not a ticket reference; give one such as INC-12.",
            trimmed.chars().take(40).collect::<String>()
        )),
    }
}

fn value(option: &CommandDataOption) -> Option<String> {
    match &option.value {
        CommandDataOptionValue::String(s) => Some(s.clone()),
        CommandDataOptionValue::Integer(i) => Some(i.to_string()),
        CommandDataOptionValue::User(id) => Some(format!("<@{}>", id.get())),
        _ => None,
    }
}

/// The command line an application command stands for.
pub fn invocation(command: &CommandInteraction) -> Invocation {
    let name = command.data.name.as_str();
    let (sub, options): (Option<&str>, Vec<&CommandDataOption>) = match command.data.options.first()
    {
        Some(CommandDataOption {
            name,
            value: CommandDataOptionValue::SubCommand(options),
            ..
        }) => (Some(name.as_str()), options.iter().collect()),
        _ => (None, command.data.options.iter().collect()),
    };
    let get = |key: &str| {
        options
            .iter()
            .find(|o| o.name == key)
            .and_then(|o| value(o))
    };
    match (name, sub) {
        // Typed options need no parsing: "P1" inside a title stays title.
        ("incident", Some("create")) => match get("title") {
            None => Invocation::ReportForm,
            Some(title) => Invocation::Report {
                title,
                priority: get("priority"),
                service: get("service"),
                description: get("description"),
            },
        },
        ("incident", Some("resolve")) if get("resolution").is_none() => {
            match ticket_of(get("ticket")) {
                Ok(ticket) => Invocation::ResolveForm(ticket),
                Err(why) => Invocation::Refused(why),
            }
        }
        // The grammar's keywords that options cannot carry: `set` before a
        // section, `due:` before a date, `done` after an action item's id.
        ("incident", Some("postmortem")) if get("section").is_some() => {
            match ticket_of(get("ticket")) {
                Ok(ticket) => Invocation::Line(
                    "/incident".into(),
                    format!(
                        "{ticket} postmortem set {} {}",
                        get("section").unwrap_or_default(),
                        get("text").unwrap_or_default()
                    )
                    .trim()
                    .to_string(),
                ),
                Err(why) => Invocation::Refused(why),
            }
        }
        ("incident", Some("action")) => match ticket_of(get("ticket")) {
            Ok(ticket) => {
                let mut line = format!("{ticket} action {}", get("text").unwrap_or_default());
                if let Some(owner) = get("owner") {
                    line.push_str(&format!(" {owner}"));
                }
                if let Some(due) = get("due") {
                    line.push_str(&format!(" due:{}", due.trim()));
                }
                Invocation::Line("/incident".into(), line.trim().to_string())
            }
            Err(why) => Invocation::Refused(why),
        },
        // Options arrive in any order; the grammar wants runbook, incident, params.
        ("itsm", Some("run")) => {
            let parts = [get("runbook"), get("incident"), get("params")];
            let line = parts.into_iter().flatten().collect::<Vec<_>>().join(" ");
            Invocation::Line("/itsm".into(), format!("run {line}").trim().to_string())
        }
        ("itsm", Some("action")) => Invocation::Line(
            "/itsm".into(),
            format!(
                "action {} {}",
                get("id").unwrap_or_default(),
                get("step").unwrap_or_else(|| "done".into())
            ),
        ),
        ("incident", Some(verb)) => {
            let ticket = match ticket_of(get("ticket")) {
                Ok(ticket) => ticket,
                Err(why) => return Invocation::Refused(why),
            };
            let rest: Vec<String> = options
                .iter()
                .filter(|o| o.name != "ticket")
                .filter_map(|o| value(o))
                .collect();
            Invocation::Line(
                "/incident".into(),
                format!("{ticket} {verb} {}", rest.join(" "))
                    .trim()
                    .to_string(),
            )
        }
        ("itsm", Some(sub)) => {
            let rest: Vec<String> = options.iter().filter_map(|o| value(o)).collect();
            Invocation::Line(
                "/itsm".into(),
                format!("{sub} {}", rest.join(" ")).trim().to_string(),
            )
        }
        (other, _) => Invocation::Line(format!("/{other}"), get("text").unwrap_or_default()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A `/name` interaction with `options` (Discord's shape), in a DM.
    fn interaction(name: &str, options: serde_json::Value) -> CommandInteraction {
        serde_json::from_value(json!({
            "id": "1", "application_id": "2", "type": 2, "token": "t", "version": 1,
            "channel_id": "3",
            "user": {"id": "42", "username": "bob", "discriminator": "0", "global_name": null, "avatar": null},
            "app_permissions": "0", "locale": "en-US", "entitlements": [],
            "authorizing_integration_owners": {}, "attachment_size_limit": 26214400,
            "data": {"id": "5", "name": name, "type": 1, "options": options},
        }))
        .unwrap()
    }

    fn line(invocation: Invocation) -> (String, String) {
        match invocation {
            Invocation::Line(command, text) => (command, text),
            _ => panic!("not a command line"),
        }
    }

    #[test]
    fn run_options_become_the_grammar_in_order() {
        let run = interaction(
            "itsm",
            json!([{ "name": "run", "type": 1, "options": [
                { "name": "params", "type": 3, "value": "size=small name=web-1" },
                { "name": "incident", "type": 3, "value": "INC-7" },
                { "name": "runbook", "type": 3, "value": "provision-vm" },
            ] }]),
        );
        assert_eq!(
            line(invocation(&run)),
            (
                "/itsm".into(),
                "run provision-vm INC-7 size=small name=web-1".into()
            )
        );
    }

    #[test]
    fn review_options_become_the_typed_grammar() {
        let set = interaction(
            "incident",
            json!([{ "name": "postmortem", "type": 1, "options": [
                { "name": "ticket", "type": 3, "value": "inc-4" },
                { "name": "section", "type": 3, "value": "lessons" },
                { "name": "text", "type": 3, "value": "Canary first" },
            ] }]),
        );
        assert_eq!(
            line(invocation(&set)),
            (
                "/incident".into(),
                "INC-4 postmortem set lessons Canary first".into()
            )
        );
        let show = interaction(
            "incident",
            json!([{ "name": "postmortem", "type": 1, "options": [
                { "name": "ticket", "type": 3, "value": "INC-4" },
            ] }]),
        );
        assert_eq!(
            line(invocation(&show)),
            ("/incident".into(), "INC-4 postmortem".into())
        );
        let action = interaction(
            "incident",
            json!([{ "name": "action", "type": 1, "options": [
                { "name": "ticket", "type": 3, "value": "INC-4" },
                { "name": "due", "type": 3, "value": "2026-12-04" },
                { "name": "text", "type": 3, "value": "Add an alert" },
                { "name": "owner", "type": 6, "value": "80351110224678912" },
            ] }]),
        );
        assert_eq!(
            line(invocation(&action)),
            (
                "/incident".into(),
                "INC-4 action Add an alert <@80351110224678912> due:2026-12-04".into()
            )
        );
        let done = interaction(
            "itsm",
            json!([{ "name": "action", "type": 1, "options": [
                { "name": "id", "type": 4, "value": 7 },
            ] }]),
        );
        assert_eq!(
            line(invocation(&done)),
            ("/itsm".into(), "action 7 done".into())
        );
        let raise = interaction(
            "itsm",
            json!([{ "name": "action", "type": 1, "options": [
                { "name": "id", "type": 4, "value": 7 },
                { "name": "step", "type": 3, "value": "problem" },
            ] }]),
        );
        assert_eq!(
            line(invocation(&raise)),
            ("/itsm".into(), "action 7 problem".into())
        );
    }

    #[test]
    fn request_and_its_listing_reach_the_grammar() {
        assert!(definitions().len() >= 5, "/request is registered");
        let ask = interaction(
            "request",
            json!([{ "name": "text", "type": 3, "value": "laptop model:13-inch reason:\"new starter\"" }]),
        );
        assert_eq!(
            line(invocation(&ask)),
            (
                "/request".into(),
                "laptop model:13-inch reason:\"new starter\"".into()
            )
        );
        let queue = interaction(
            "itsm",
            json!([{ "name": "requests", "type": 1, "options": [
                { "name": "list", "type": 3, "value": "queue" },
            ] }]),
        );
        assert_eq!(
            line(invocation(&queue)),
            ("/itsm".into(), "requests queue".into())
        );
    }
}

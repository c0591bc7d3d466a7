//! `[automation]`: `[[automation.rules]]` and `[[automation.runbooks]]`,
//! read as written and compiled into domain rules and runbooks while
//! loading, so a bad trigger, condition, template or parameter type stops
//! the bot at start with the key that holds it.

use std::collections::{BTreeMap, BTreeSet};

use regex::RegexBuilder;
use serde::Deserialize;

use super::ConfigError;
use crate::domain::automation::runbook::{Method, ParamType, RequestSpec, Runbook};
use crate::domain::automation::template::{Escape, Template};
use crate::domain::automation::{valid_name, EventFacts, Rule, RuleAction, Trigger, When};
use crate::domain::channel::ChannelRef;
use crate::domain::{Platform, Priority, Role, TicketKind, TicketRef, UserId};

/// `[automation]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutomationConfig {
    #[serde(default)]
    pub rules: Vec<RuleConfig>,
    #[serde(default)]
    pub runbooks: Vec<RunbookConfig>,
    /// The rules, compiled.
    #[serde(skip)]
    pub compiled_rules: Vec<Rule>,
    /// The runbooks, compiled.
    #[serde(skip)]
    pub compiled_runbooks: Vec<Runbook>,
}

/// One value or a list of them (`service = "vpn"` or `["vpn", "dns"]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(one) => vec![one],
            OneOrMany::Many(many) => many,
        }
    }
}

/// `[[automation.rules]]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    pub name: String,
    pub on: String,
    #[serde(default)]
    pub when: WhenConfig,
    #[serde(rename = "do")]
    pub actions: Vec<ActionConfig>,
}

/// A rule's `when = { … }`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhenConfig {
    #[serde(default)]
    pub service: Option<OneOrMany>,
    #[serde(default)]
    pub priority: Option<OneOrMany>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// A regular expression matched (case-insensitively) against the title
    /// and description.
    #[serde(default)]
    pub text: Option<String>,
}

/// One entry of a rule's `do = [ … ]`: exactly one of the action keys, and
/// the options that go with it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionConfig {
    pub post: Option<String>,
    /// With `post`: the message (a template); default a one-line summary.
    pub text: Option<String>,
    pub mention_oncall: Option<bool>,
    pub assign: Option<String>,
    pub set_priority: Option<String>,
    pub note: Option<String>,
    pub link_problem: Option<String>,
    pub webhook: Option<String>,
    /// With `webhook`: the environment variable holding the HMAC secret.
    pub secret_env: Option<String>,
    /// With `webhook`: the JSON body (a template); default the event.
    pub body: Option<String>,
}

/// `[[automation.runbooks]]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunbookConfig {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub role: String,
    #[serde(default)]
    pub params: BTreeMap<String, ParamConfig>,
    pub request: RequestConfig,
    #[serde(default)]
    pub approval: bool,
}

/// A parameter's type: a list of allowed words, or `"string"`, `"integer"`,
/// `"boolean"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ParamConfig {
    Choice(Vec<String>),
    Named(String),
}

/// A runbook's `request = { … }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestConfig {
    #[serde(default = "default_method")]
    pub method: String,
    pub url: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub secret_env: Option<String>,
}

/// Names the body template gives every runbook, so no parameter may take them.
const RESERVED_PARAMS: [&str; 4] = ["runbook", "incident", "requested_by", "params"];

fn default_method() -> String {
    "POST".into()
}

fn invalid(key: String, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        message: message.into(),
    }
}

fn check_url(key: &str, url: &str) -> Result<(), ConfigError> {
    let parsed = url::Url::parse(url)
        .map_err(|err| invalid(key.to_string(), format!("`{url}` is not a URL: {err}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid(
            key.to_string(),
            "only http and https URLs can be called",
        ));
    }
    Ok(())
}

fn check_name(key: &str, name: &str) -> Result<(), ConfigError> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(invalid(
            format!("{key}.name"),
            format!("`{name}` is not a name: use 1–48 lower-case letters, digits, - and _"),
        ))
    }
}

fn check_env_name(key: &str, name: &str) -> Result<(), ConfigError> {
    let fine = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if fine {
        Ok(())
    } else {
        Err(invalid(
            key.to_string(),
            format!("`{name}` is not an environment variable name (A-Z, 0-9, _)"),
        ))
    }
}

fn user(key: &str, text: &str) -> Result<UserId, ConfigError> {
    let text = text.trim_start_matches('@');
    let parsed = if text.contains(':') {
        text.parse::<UserId>().map_err(|err| err.to_string())
    } else {
        UserId::new(Platform::Shell, text).map_err(|err| err.to_string())
    };
    parsed.map_err(|err| invalid(key.to_string(), err))
}

impl AutomationConfig {
    /// Compiles the rules and runbooks; the first mistake is the error.
    pub(super) fn build(&mut self, roles: &[Role]) -> Result<(), ConfigError> {
        let mut names = BTreeSet::new();
        self.compiled_rules = Vec::with_capacity(self.rules.len());
        for (index, rule) in self.rules.iter().enumerate() {
            let key = format!("automation.rules[{index}]");
            let built = rule.build(&key)?;
            if !names.insert(built.name.clone()) {
                return Err(invalid(
                    format!("{key}.name"),
                    format!("`{}` is used by two rules", built.name),
                ));
            }
            self.compiled_rules.push(built);
        }
        let mut names = BTreeSet::new();
        self.compiled_runbooks = Vec::with_capacity(self.runbooks.len());
        for (index, runbook) in self.runbooks.iter().enumerate() {
            let key = format!("automation.runbooks[{index}]");
            let built = runbook.build(&key, roles)?;
            if !names.insert(built.name.clone()) {
                return Err(invalid(
                    format!("{key}.name"),
                    format!("`{}` is used by two runbooks", built.name),
                ));
            }
            self.compiled_runbooks.push(built);
        }
        Ok(())
    }

    /// The runbook called `name`.
    pub fn runbook(&self, name: &str) -> Option<&Runbook> {
        self.compiled_runbooks.iter().find(|r| r.name == name)
    }

    /// Environment variables the rules and runbooks read when they call
    /// out, by the key that names them.
    pub fn secret_envs(&self) -> Vec<(String, String)> {
        use crate::domain::automation::runbook::env_names;
        let mut out = self.signing_envs();
        for runbook in &self.compiled_runbooks {
            for value in runbook.request.headers.values() {
                for env in env_names(value) {
                    out.push((format!("runbook {}", runbook.name), env));
                }
            }
        }
        out
    }

    /// The environment variables holding signing secrets (`secret_env`),
    /// by the rule or runbook that names them.
    pub fn signing_envs(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for rule in &self.compiled_rules {
            for action in &rule.actions {
                if let RuleAction::Webhook {
                    secret_env: Some(env),
                    ..
                } = action
                {
                    out.push((format!("rule {}", rule.name), env.clone()));
                }
            }
        }
        for runbook in &self.compiled_runbooks {
            if let Some(env) = &runbook.request.secret_env {
                out.push((format!("runbook {}", runbook.name), env.clone()));
            }
        }
        out
    }
}

impl RuleConfig {
    fn build(&self, key: &str) -> Result<Rule, ConfigError> {
        check_name(key, &self.name)?;
        let on: Trigger = self
            .on
            .parse()
            .map_err(|err: String| invalid(format!("{key}.on"), err))?;
        let when = self.when.build(&format!("{key}.when"), on)?;
        if self.actions.is_empty() {
            return Err(invalid(
                format!("{key}.do"),
                "a rule needs at least one action",
            ));
        }
        let actions = self
            .actions
            .iter()
            .enumerate()
            .map(|(i, action)| action.build(&format!("{key}.do[{i}]"), on))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Rule {
            name: self.name.clone(),
            on,
            when,
            actions,
        })
    }
}

impl WhenConfig {
    fn build(&self, key: &str, on: Trigger) -> Result<When, ConfigError> {
        let services = self
            .service
            .clone()
            .map(OneOrMany::into_vec)
            .unwrap_or_default();
        let priorities = self
            .priority
            .clone()
            .map(OneOrMany::into_vec)
            .unwrap_or_default()
            .iter()
            .map(|p| {
                p.parse::<Priority>()
                    .map_err(|err| invalid(format!("{key}.priority"), err.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if !priorities.is_empty() && on.ticket_kind() != TicketKind::Incident {
            return Err(invalid(
                format!("{key}.priority"),
                format!("{on} events are about changes, which have no priority"),
            ));
        }
        if !self.labels.is_empty() && !on.has_labels() {
            return Err(invalid(
                format!("{key}.labels"),
                format!("only alert.fired and alert.resolved events carry labels, not {on}"),
            ));
        }
        let text = match &self.text {
            Some(pattern) => Some(
                RegexBuilder::new(pattern)
                    .case_insensitive(true)
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|err| invalid(format!("{key}.text"), err.to_string()))?,
            ),
            None => None,
        };
        Ok(When {
            services,
            priorities,
            labels: self.labels.clone(),
            text,
        })
    }
}

impl ActionConfig {
    fn build(&self, key: &str, on: Trigger) -> Result<RuleAction, ConfigError> {
        let given: Vec<&str> = [
            ("post", self.post.is_some()),
            ("mention_oncall", self.mention_oncall.is_some()),
            ("assign", self.assign.is_some()),
            ("set_priority", self.set_priority.is_some()),
            ("note", self.note.is_some()),
            ("link_problem", self.link_problem.is_some()),
            ("webhook", self.webhook.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect();
        let [verb] = given.as_slice() else {
            return Err(invalid(
                key.to_string(),
                format!(
                    "an action names exactly one of post, mention_oncall, assign, set_priority, note, link_problem, webhook (found {})",
                    if given.is_empty() { "none".to_string() } else { given.join(", ") }
                ),
            ));
        };
        let stray = |option: &str, set: bool, owner: &str| {
            if set && *verb != owner {
                Err(invalid(
                    format!("{key}.{option}"),
                    format!("`{option}` goes with `{owner}`"),
                ))
            } else {
                Ok(())
            }
        };
        stray("text", self.text.is_some(), "post")?;
        stray("secret_env", self.secret_env.is_some(), "webhook")?;
        stray("body", self.body.is_some(), "webhook")?;
        let sample = EventFacts::sample(on).context("sample");
        let template = |option: &str, source: &str, escape: Escape| {
            let key = format!("{key}.{option}");
            let template = Template::parse(source, escape)
                .map_err(|err| invalid(key.clone(), err.to_string()))?;
            let rendered = if escape == Escape::JsonString {
                template.render_json(&sample)
            } else {
                template.render(&sample)
            };
            rendered.map_err(|err| invalid(key, err.to_string()))?;
            Ok::<_, ConfigError>(template)
        };
        let action = match *verb {
            "post" => {
                let channel = self.post.as_deref().unwrap_or_default();
                RuleAction::Post {
                    channel: channel
                        .parse::<ChannelRef>()
                        .map_err(|err| invalid(format!("{key}.post"), err.to_string()))?,
                    text: match &self.text {
                        Some(text) => Some(template("text", text, Escape::Plain)?),
                        None => None,
                    },
                }
            }
            "mention_oncall" => {
                if self.mention_oncall != Some(true) {
                    return Err(invalid(
                        format!("{key}.mention_oncall"),
                        "write mention_oncall = true",
                    ));
                }
                RuleAction::MentionOncall
            }
            "assign" => RuleAction::Assign(user(
                &format!("{key}.assign"),
                self.assign.as_deref().unwrap_or_default(),
            )?),
            "set_priority" => RuleAction::SetPriority(
                self.set_priority
                    .as_deref()
                    .unwrap_or_default()
                    .parse::<Priority>()
                    .map_err(|err| invalid(format!("{key}.set_priority"), err.to_string()))?,
            ),
            "note" => RuleAction::Note(template(
                "note",
                self.note.as_deref().unwrap_or_default(),
                Escape::Plain,
            )?),
            "link_problem" => {
                let text = self.link_problem.as_deref().unwrap_or_default();
                let problem: TicketRef =
                    text.parse()
                        .map_err(|err: crate::domain::reference::ReferenceError| {
                            invalid(format!("{key}.link_problem"), err.to_string())
                        })?;
                if problem.kind != TicketKind::Problem {
                    return Err(invalid(
                        format!("{key}.link_problem"),
                        format!("`{text}` is not a problem (PRB-n)"),
                    ));
                }
                RuleAction::LinkProblem(problem)
            }
            _ => {
                let url = self.webhook.clone().unwrap_or_default();
                check_url(&format!("{key}.webhook"), &url)?;
                if let Some(env) = &self.secret_env {
                    check_env_name(&format!("{key}.secret_env"), env)?;
                }
                RuleAction::Webhook {
                    url,
                    secret_env: self.secret_env.clone(),
                    body: match &self.body {
                        Some(body) => Some(template("body", body, Escape::JsonString)?),
                        None => None,
                    },
                }
            }
        };
        if !action.fits(on) {
            return Err(invalid(
                key.to_string(),
                format!("`{verb}` acts on incidents, and {on} events are about changes"),
            ));
        }
        Ok(action)
    }
}

impl RunbookConfig {
    fn build(&self, key: &str, roles: &[Role]) -> Result<Runbook, ConfigError> {
        check_name(key, &self.name)?;
        let role: Role = self
            .role
            .parse()
            .map_err(|err: crate::domain::roles::RoleError| {
                invalid(format!("{key}.role"), err.to_string())
            })?;
        if !roles.contains(&role) {
            return Err(invalid(
                format!("{key}.role"),
                format!("`{role}` is not a role"),
            ));
        }
        let mut params = BTreeMap::new();
        for (name, kind) in &self.params {
            let param_key = format!("{key}.params.{name}");
            if !valid_name(name) {
                return Err(invalid(
                    param_key,
                    "parameter names are lower-case words (a-z, 0-9, -, _)",
                ));
            }
            if RESERVED_PARAMS.contains(&name.as_str()) {
                return Err(invalid(
                    param_key,
                    format!("`{name}` is reserved: the body template already has it"),
                ));
            }
            let kind = match kind {
                ParamConfig::Choice(words) if words.is_empty() => {
                    return Err(invalid(param_key, "a list of choices needs at least one"))
                }
                ParamConfig::Choice(words) => {
                    if let Some(bad) = words.iter().find(|w| w.is_empty() || w.chars().any(|c| c.is_whitespace() || c.is_control())) {
                        return Err(invalid(param_key, format!("choice `{bad}` must be one word")));
                    }
                    ParamType::Choice(words.clone())
                }
                ParamConfig::Named(named) => match named.as_str() {
                    "string" | "text" => ParamType::Text,
                    "integer" | "int" => ParamType::Integer,
                    "boolean" | "bool" => ParamType::Boolean,
                    other => {
                        return Err(invalid(
                            param_key,
                            format!("`{other}` is not a type: use \"string\", \"integer\", \"boolean\" or a list of choices"),
                        ))
                    }
                },
            };
            params.insert(name.clone(), kind);
        }
        let request_key = format!("{key}.request");
        let method: Method = self
            .request
            .method
            .parse()
            .map_err(|err: String| invalid(format!("{request_key}.method"), err))?;
        check_url(&format!("{request_key}.url"), &self.request.url)?;
        if let Some(env) = &self.request.secret_env {
            check_env_name(&format!("{request_key}.secret_env"), env)?;
        }
        for (name, value) in &self.request.headers {
            let header_key = format!("{request_key}.headers.{name}");
            axum::http::HeaderName::try_from(name.as_str())
                .map_err(|_| invalid(header_key.clone(), "not a header name"))?;
            for env in crate::domain::automation::runbook::env_names(value) {
                check_env_name(&header_key, &env)?;
            }
            crate::domain::automation::runbook::expand_env(value, |_| Some(String::new()))
                .map_err(|err| invalid(header_key.clone(), err))?;
        }
        let mut runbook = Runbook {
            name: self.name.clone(),
            description: self.description.clone(),
            role,
            params,
            request: RequestSpec {
                method,
                url: self.request.url.clone(),
                headers: self.request.headers.clone(),
                body: None,
                secret_env: self.request.secret_env.clone(),
            },
            approval: self.approval,
        };
        if let Some(body) = &self.request.body {
            let body_key = format!("{request_key}.body");
            let template = Template::parse(body, Escape::JsonString)
                .map_err(|err| invalid(body_key.clone(), err.to_string()))?;
            template
                .render_json(&runbook_context(
                    &runbook,
                    &runbook.sample_params(),
                    Some("INC-1"),
                    "shell:sample",
                ))
                .map_err(|err| invalid(body_key, err.to_string()))?;
            runbook.request.body = Some(template);
        }
        Ok(runbook)
    }
}

/// What a runbook's body template sees: its parameters by name, and
/// `runbook`, `incident` (the ref, when run for one) and `requested_by`.
pub fn runbook_context(
    runbook: &Runbook,
    params: &BTreeMap<String, serde_json::Value>,
    incident: Option<&str>,
    requested_by: &str,
) -> serde_json::Value {
    let mut context = serde_json::Map::new();
    context.insert("runbook".into(), runbook.name.clone().into());
    context.insert("incident".into(), incident.map(String::from).into());
    context.insert("requested_by".into(), requested_by.into());
    context.insert(
        "params".into(),
        serde_json::to_value(params).unwrap_or_default(),
    );
    for (name, value) in params {
        context.insert(name.clone(), value.clone());
    }
    serde_json::Value::Object(context)
}

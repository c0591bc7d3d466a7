//! Runbooks: named, typed HTTP calls (an AWX, Rundeck or CI job) that
//! people with the right role run from chat.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use super::template::Template;
use crate::domain::Role;

/// The longest text parameter accepted from chat.
pub const MAX_TEXT_PARAM: usize = 200;

/// The type of a runbook parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamType {
    /// One of these words.
    Choice(Vec<String>),
    /// Free text on one line.
    Text,
    /// A whole number.
    Integer,
    /// true or false.
    Boolean,
}

impl fmt::Display for ParamType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamType::Choice(words) => f.write_str(&words.join("|")),
            ParamType::Text => f.write_str("string"),
            ParamType::Integer => f.write_str("integer"),
            ParamType::Boolean => f.write_str("true|false"),
        }
    }
}

impl ParamType {
    /// The value `text` gives this parameter, or why it cannot.
    fn parse(&self, name: &str, text: &str) -> Result<Value, RunbookError> {
        let bad = |expected: String| RunbookError::BadValue {
            name: name.to_string(),
            value: text.chars().take(40).collect(),
            expected,
        };
        match self {
            ParamType::Choice(words) => {
                if words.iter().any(|w| w == text) {
                    Ok(Value::String(text.to_string()))
                } else {
                    Err(bad(format!("one of {}", words.join(", "))))
                }
            }
            ParamType::Text => {
                let fine = !text.is_empty()
                    && text.chars().count() <= MAX_TEXT_PARAM
                    && !text.chars().any(char::is_control);
                if fine {
                    Ok(Value::String(text.to_string()))
                } else {
                    Err(bad(format!(
                        "text of 1 to {MAX_TEXT_PARAM} characters on one line"
                    )))
                }
            }
            ParamType::Integer => text
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| bad("a whole number".into())),
            ParamType::Boolean => match text.to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" => Ok(Value::Bool(true)),
                "false" | "no" | "off" => Ok(Value::Bool(false)),
                _ => Err(bad("true or false".into())),
            },
        }
    }
}

/// The HTTP methods a runbook may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    /// The method's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

impl std::str::FromStr for Method {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_uppercase().as_str() {
            "GET" => Ok(Method::Get),
            "POST" => Ok(Method::Post),
            "PUT" => Ok(Method::Put),
            "PATCH" => Ok(Method::Patch),
            "DELETE" => Ok(Method::Delete),
            _ => Err(format!(
                "`{text}` is not a method; use GET, POST, PUT, PATCH or DELETE"
            )),
        }
    }
}

/// The call a runbook makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestSpec {
    pub method: Method,
    pub url: String,
    /// Header values may name environment variables (`Bearer ${AWX_TOKEN}`),
    /// read when the call is sent: the secret is never in config, the
    /// database or a log.
    pub headers: BTreeMap<String, String>,
    pub body: Option<Template>,
    /// The environment variable holding the HMAC secret that signs the body.
    pub secret_env: Option<String>,
}

/// A runbook from `[[automation.runbooks]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runbook {
    pub name: String,
    pub description: String,
    /// Who may run it.
    pub role: Role,
    pub params: BTreeMap<String, ParamType>,
    pub request: RequestSpec,
    /// Whether a run waits for a CAB approval (as a change) first.
    pub approval: bool,
}

/// Why a run was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunbookError {
    #[error("`{runbook}` has no parameter `{name}`; it takes {takes}")]
    Unknown {
        runbook: String,
        name: String,
        takes: String,
    },
    #[error("`{name}` is given twice")]
    Repeated { name: String },
    #[error("`{runbook}` needs {missing}")]
    Missing { runbook: String, missing: String },
    #[error("`{name}={value}` is not allowed: {name} must be {expected}")]
    BadValue {
        name: String,
        value: String,
        expected: String,
    },
    #[error("`{0}` is not a parameter; write key=value")]
    NotKeyValue(String),
}

impl Runbook {
    /// `size=small|medium|large name=string`, for usage lines.
    pub fn usage(&self) -> String {
        if self.params.is_empty() {
            return "(no parameters)".into();
        }
        self.params
            .iter()
            .map(|(name, kind)| format!("{name}=<{kind}>"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Checks `args` (`key=value` words) against the parameters: every
    /// parameter given once with a value of its type, nothing else.
    pub fn bind(&self, args: &[String]) -> Result<BTreeMap<String, Value>, RunbookError> {
        let mut bound = BTreeMap::new();
        for arg in args {
            let (name, text) = arg
                .split_once('=')
                .filter(|(name, _)| !name.is_empty())
                .ok_or_else(|| RunbookError::NotKeyValue(arg.chars().take(40).collect()))?;
            let kind = self.params.get(name).ok_or_else(|| RunbookError::Unknown {
                runbook: self.name.clone(),
                name: name.chars().take(40).collect(),
                takes: self.usage(),
            })?;
            let value = kind.parse(name, text)?;
            if bound.insert(name.to_string(), value).is_some() {
                return Err(RunbookError::Repeated {
                    name: name.to_string(),
                });
            }
        }
        let missing: Vec<String> = self
            .params
            .iter()
            .filter(|(name, _)| !bound.contains_key(*name))
            .map(|(name, kind)| format!("{name}=<{kind}>"))
            .collect();
        if !missing.is_empty() {
            return Err(RunbookError::Missing {
                runbook: self.name.clone(),
                missing: missing.join(" "),
            });
        }
        Ok(bound)
    }

    /// Sample values of every parameter, for checking templates at load.
    pub fn sample_params(&self) -> BTreeMap<String, Value> {
        self.params
            .iter()
            .map(|(name, kind)| {
                let value = match kind {
                    ParamType::Choice(words) => {
                        Value::String(words.first().cloned().unwrap_or_default())
                    }
                    ParamType::Text => Value::String("sample".into()),
                    ParamType::Integer => Value::from(1),
                    ParamType::Boolean => Value::Bool(true),
                };
                (name.clone(), value)
            })
            .collect()
    }
}

/// Expands `${NAME}` references in `text` with `lookup`; names that
/// `lookup` does not know are returned as the error.
pub fn expand_env(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(format!("unclosed `${{` in `{text}`"));
        };
        let name = &after[..end];
        out.push_str(&lookup(name).ok_or_else(|| name.to_string())?);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The environment variables `text` refers to with `${NAME}`.
pub fn env_names(text: &str) -> Vec<String> {
    let names = std::cell::RefCell::new(Vec::new());
    let _ = expand_env(text, |name| {
        names.borrow_mut().push(name.to_string());
        Some(String::new())
    });
    names.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provision() -> Runbook {
        Runbook {
            name: "provision-vm".into(),
            description: "Provision a VM".into(),
            role: Role::Engineer,
            params: BTreeMap::from([
                (
                    "size".to_string(),
                    ParamType::Choice(vec!["small".into(), "medium".into(), "large".into()]),
                ),
                ("name".to_string(), ParamType::Text),
                ("count".to_string(), ParamType::Integer),
            ]),
            request: RequestSpec {
                method: Method::Post,
                url: "http://127.0.0.1:9/provision".into(),
                headers: BTreeMap::new(),
                body: None,
                secret_env: None,
            },
            approval: false,
        }
    }

    fn words(text: &str) -> Vec<String> {
        text.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn binds_typed_values() {
        let bound = provision()
            .bind(&words("size=small name=web-1 count=2"))
            .unwrap();
        assert_eq!(bound["size"], "small");
        assert_eq!(bound["count"], 2);
    }

    #[test]
    fn refuses_with_the_reason() {
        let runbook = provision();
        let err = runbook
            .bind(&words("size=huge name=a count=1"))
            .unwrap_err();
        assert!(err.to_string().contains("small, medium, large"), "{err}");
        let err = runbook.bind(&words("size=small")).unwrap_err();
        assert!(
            err.to_string().contains("count=<integer> name=<string>"),
            "{err}"
        );
        let err = runbook
            .bind(&words("size=small name=a count=1 colour=red"))
            .unwrap_err();
        assert!(err.to_string().contains("no parameter `colour`"), "{err}");
        let err = runbook.bind(&words("size=small size=large")).unwrap_err();
        assert!(matches!(err, RunbookError::Repeated { .. }), "{err}");
        let err = runbook.bind(&words("small")).unwrap_err();
        assert!(matches!(err, RunbookError::NotKeyValue(_)), "{err}");
        let err = runbook
            .bind(&words("size=small name=a count=two"))
            .unwrap_err();
        assert!(err.to_string().contains("whole number"), "{err}");
    }

    #[test]
    fn expands_environment_references() {
        let lookup = |name: &str| (name == "TOKEN").then(|| "s3cret".to_string());
        assert_eq!(
            expand_env("Bearer ${TOKEN}", lookup).unwrap(),
            "Bearer s3cret"
        );
        assert_eq!(expand_env("Bearer ${NOPE}", lookup), Err("NOPE".into()));
        assert_eq!(env_names("a ${X} b ${Y}"), vec!["X", "Y"]);
    }
}

//! Templated text for outbound bodies and notes (`{{ incident.ref }}`).
//!
//! Bodies are JSON written by hand in config, with values dropped inside
//! string literals (`"size": "{{ size }}"`). So a value is written as the
//! *content* of a JSON string: a quote or a newline in a chat-supplied
//! value cannot break out of its string or the document.

use minijinja::value::Value;
use minijinja::{Environment, Error, ErrorKind, Output, State, UndefinedBehavior};

/// Why a template could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TemplateError(pub String);

/// How rendered values are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    /// As the content of a JSON string (bodies).
    JsonString,
    /// As they are (chat text).
    Plain,
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    escape: Escape,
}

fn environment(escape: Escape) -> Environment<'static> {
    let mut env = Environment::new();
    // A misspelt variable is an error, not an empty string sent out.
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    if escape == Escape::JsonString {
        env.set_formatter(json_string_content);
    }
    env
}

fn json_string_content(
    out: &mut Output<'_>,
    _state: &mut State<'_, '_>,
    value: &Value,
) -> Result<(), Error> {
    let text = if value.is_none() {
        String::new()
    } else {
        value.to_string()
    };
    let quoted = serde_json::to_string(&text)
        .map_err(|err| Error::new(ErrorKind::BadSerialization, err.to_string()))?;
    let inner = quoted
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap_or(&quoted);
    out.write_str(inner)
        .map_err(|_| Error::new(ErrorKind::WriteFailure, "cannot write the rendered value"))
}

impl Template {
    /// Parses `source`, refusing bad syntax.
    pub fn parse(source: &str, escape: Escape) -> Result<Self, TemplateError> {
        let env = environment(escape);
        env.template_from_str(source)
            .map_err(|err| TemplateError(describe(&err)))?;
        Ok(Template {
            source: source.to_string(),
            escape,
        })
    }

    /// The template as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Renders with `context` (any serializable map of names to values).
    pub fn render<S: serde::Serialize>(&self, context: &S) -> Result<String, TemplateError> {
        let env = environment(self.escape);
        let template = env
            .template_from_str(&self.source)
            .map_err(|err| TemplateError(describe(&err)))?;
        template
            .render(minijinja::value::Serde(context))
            .map_err(|err| TemplateError(describe(&err)))
    }

    /// Renders a JSON body and checks that the result is a JSON document.
    pub fn render_json<S: serde::Serialize>(&self, context: &S) -> Result<String, TemplateError> {
        let body = self.render(context)?;
        serde_json::from_str::<serde_json::Value>(&body).map_err(|err| {
            TemplateError(format!("the body is not valid JSON once rendered: {err}"))
        })?;
        Ok(body)
    }
}

fn describe(err: &Error) -> String {
    match err.detail() {
        Some(detail) => format!("{} ({detail})", err.kind()),
        None => err.kind().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_cannot_break_out_of_their_json_string() {
        let body = Template::parse(r#"{"name": "{{ name }}"}"#, Escape::JsonString).unwrap();
        let rendered = body.render_json(&json!({"name": "a\"b\n}"})).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&rendered).unwrap();
        assert_eq!(parsed["name"], "a\"b\n}");
    }

    #[test]
    fn misspelt_variables_and_bad_syntax_are_refused() {
        let body = Template::parse("{{ szie }}", Escape::Plain).unwrap();
        assert!(body.render(&json!({"size": "small"})).is_err());
        assert!(Template::parse("{{ size", Escape::Plain).is_err());
    }

    #[test]
    fn nested_values_render() {
        let note = Template::parse(
            "{{ incident.ref }} on {{ incident.service }}",
            Escape::Plain,
        )
        .unwrap();
        assert_eq!(
            note.render(&json!({"incident": {"ref": "INC-7", "service": "vpn"}}))
                .unwrap(),
            "INC-7 on vpn"
        );
    }

    #[test]
    fn a_body_that_renders_to_broken_json_is_refused() {
        let body = Template::parse(r#"{"size": {{ size }}}"#, Escape::JsonString).unwrap();
        assert!(body.render_json(&json!({"size": "small"})).is_err());
    }
}

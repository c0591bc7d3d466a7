//! Refusals: what the person asked for cannot be done, and why.

use std::fmt;

/// A command that was refused: what was wrong and what would work. The
/// reply shows both; nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub reason: String,
    pub hint: Option<String>,
    /// The form field the refusal is about (a catalog item's field name),
    /// so a form can show it on that field rather than above the form.
    pub field: Option<String>,
}

impl Refusal {
    /// A refusal with a reason and no hint.
    pub fn new(reason: impl Into<String>) -> Self {
        Refusal {
            reason: reason.into(),
            hint: None,
            field: None,
        }
    }

    /// Adds what would work instead.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Names the form field the refusal is about.
    pub fn on_field(mut self, field: Option<&str>) -> Self {
        self.field = field.map(str::to_string);
        self
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n{hint}")?;
        }
        Ok(())
    }
}

impl<E: std::error::Error> From<E> for Refusal {
    fn from(err: E) -> Self {
        Refusal::new(sentence(&err.to_string()))
    }
}

/// Turns an error message (`the title is empty`) into a sentence
/// (`The title is empty.`).
pub fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

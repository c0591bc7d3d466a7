//! Text that people type: titles and free text (notes, reasons, resolutions).

use std::fmt;

/// Longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest free text or chat line, in characters.
pub const MAX_TEXT_CHARS: usize = 4_000;

/// Why a piece of text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("the {what} is empty")]
    Empty { what: &'static str },
    #[error("the {what} is {chars} characters long; the limit is {limit}")]
    TooLong {
        what: &'static str,
        chars: usize,
        limit: usize,
    },
    #[error("the {what} contains control characters; remove them and try again")]
    ControlCharacters { what: &'static str },
}

/// Characters that must never reach the database or a chat message: NUL
/// (PostgreSQL refuses it), other C0/C1 controls, bidirectional overrides
/// that make a title read differently from what it says, and the marks of
/// the bot's own time stamps.
fn is_forbidden(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
        // Only the bot writes time stamps into messages (`moment::stamp`).
        || c == super::moment::STAMP_OPEN
        || c == super::moment::STAMP_CLOSE
}

/// Checks the length and characters of any text a person sent.
pub fn check_text(what: &'static str, text: &str, limit: usize) -> Result<(), TextError> {
    let chars = text.chars().count();
    if chars > limit {
        return Err(TextError::TooLong { what, chars, limit });
    }
    if text.chars().any(is_forbidden) {
        return Err(TextError::ControlCharacters { what });
    }
    Ok(())
}

/// A ticket title: one line, 1–200 characters, whitespace collapsed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Title(String);

impl Title {
    /// Parses a title, collapsing runs of whitespace (newlines included) to one space.
    pub fn parse(text: &str) -> Result<Self, TextError> {
        check_text("title", text, MAX_TEXT_CHARS)?;
        let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if collapsed.is_empty() {
            return Err(TextError::Empty { what: "title" });
        }
        check_text("title", &collapsed, MAX_TITLE_CHARS)?;
        Ok(Title(collapsed))
    }

    /// The title as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Title {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A title for a ticket reported from a chat message: its first non-empty
/// line, shortened at a word boundary to fit the title limit.
pub fn summarize_title(text: &str) -> Result<Title, TextError> {
    let first = text
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or_default();
    let words: Vec<&str> = first.split_whitespace().collect();
    let mut title = String::new();
    for word in words {
        let extra = usize::from(!title.is_empty()) + word.chars().count();
        if title.chars().count() + extra > MAX_TITLE_CHARS - 1 {
            if title.is_empty() {
                title = word.chars().take(MAX_TITLE_CHARS - 1).collect();
            }
            title.push('…');
            break;
        }
        if !title.is_empty() {
            title.push(' ');
        }
        title.push_str(word);
    }
    Title::parse(&title)
}

/// Free text such as a note, a hold reason or a resolution: 1–4,000
/// characters, trimmed, line breaks kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FreeText(String);

impl FreeText {
    /// Parses free text; `what` names it in the error ("note", "resolution", …).
    pub fn parse(what: &'static str, text: &str) -> Result<Self, TextError> {
        check_text(what, text, MAX_TEXT_CHARS)?;
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(TextError::Empty { what });
        }
        Ok(FreeText(trimmed.to_string()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Takes the text out.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for FreeText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_collapsed_and_bounded() {
        assert_eq!(Title::parse("  VPN \n down ").unwrap().as_str(), "VPN down");
        assert_eq!(Title::parse("   "), Err(TextError::Empty { what: "title" }));
        assert!(Title::parse(&"x".repeat(200)).is_ok());
        assert!(matches!(
            Title::parse(&"x".repeat(201)),
            Err(TextError::TooLong { chars: 201, .. })
        ));
        assert!(matches!(
            Title::parse("bad\u{0}byte"),
            Err(TextError::ControlCharacters { .. })
        ));
        assert!(Title::parse("reversed \u{202E}txt.exe").is_err());
        assert_eq!(
            Title::parse("Drucker 🖨️ kaputt — ß").unwrap().as_str(),
            "Drucker 🖨️ kaputt — ß"
        );
    }

    #[test]
    fn message_titles_are_first_lines_cut_at_words() {
        assert_eq!(
            summarize_title("\n  VPN down\nsince 9am").unwrap().as_str(),
            "VPN down"
        );
        let long = "word ".repeat(100);
        let title = summarize_title(&long).unwrap();
        assert!(title.as_str().chars().count() <= MAX_TITLE_CHARS);
        assert!(title.as_str().ends_with("word…"));
        assert!(summarize_title(&"x".repeat(500))
            .unwrap()
            .as_str()
            .ends_with('…'));
        assert!(summarize_title("   ").is_err());
    }

    #[test]
    fn free_text_keeps_line_breaks() {
        let note = FreeText::parse("note", " line one\nline two ").unwrap();
        assert_eq!(note.as_str(), "line one\nline two");
        assert!(FreeText::parse("note", "").is_err());
        assert!(FreeText::parse("note", &"é".repeat(4_001)).is_err());
        assert!(FreeText::parse("note", &"é".repeat(4_000)).is_ok());
    }
}

//! `[postmortem]`: post-incident reviews.

use std::path::PathBuf;

use serde::Deserialize;

use super::ConfigError;

/// `[postmortem]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostmortemConfig {
    /// A minijinja Markdown template replacing the built-in one
    /// (`templates/postmortem.md`); read and checked when config loads.
    #[serde(default)]
    pub template_file: Option<PathBuf>,
    /// P1 and P2 incidents without a review get a reminder in their thread
    /// this many working days after resolve; 0 turns reminders off.
    #[serde(default = "default_remind_after_days")]
    pub remind_after_days: u32,
    /// The template read from `template_file`, if any.
    #[serde(skip)]
    pub template: Option<String>,
}

fn default_remind_after_days() -> u32 {
    2
}

impl Default for PostmortemConfig {
    fn default() -> Self {
        PostmortemConfig {
            template_file: None,
            remind_after_days: default_remind_after_days(),
            template: None,
        }
    }
}

impl PostmortemConfig {
    /// Reads and compiles `template_file`, so a missing file or a template
    /// syntax error stops the bot at start, naming the key.
    pub(super) fn load(&mut self) -> Result<(), ConfigError> {
        let Some(path) = &self.template_file else {
            return Ok(());
        };
        let invalid = |message: String| ConfigError::Invalid {
            key: "postmortem.template_file".into(),
            message,
        };
        let text = std::fs::read_to_string(path)
            .map_err(|err| invalid(format!("cannot read {}: {err}", path.display())))?;
        crate::domain::review_template::template_env(&text)
            .map_err(|err| invalid(format!("{} is not a valid template: {err}", path.display())))?;
        self.template = Some(text);
        Ok(())
    }
}

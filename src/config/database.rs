//! `[database]`: where the bot keeps everything, and how many connections
//! it may hold.

use serde::Deserialize;

use super::{invalid, ConfigError, DurationSetting};

/// `[database]`
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// PostgreSQL URL; may hold a password, so it is never printed whole.
    pub url: String,
    pub max_connections: u32,
    /// How long a command waits for a connection before answering that the
    /// database is unavailable.
    pub acquire_timeout: DurationSetting,
}

impl std::fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &redact_url(&self.url))
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .finish()
    }
}

/// Replaces the password in a URL (`user:pass@` or `?password=`) with `***`
/// so it can be logged.
pub fn redact_url(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return "(unparsable URL)".to_string();
    };
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some("***"));
    }
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(k, v)| {
            let hidden = matches!(k.to_ascii_lowercase().as_str(), "password" | "sslpassword");
            (
                k.into_owned(),
                if hidden {
                    "***".to_string()
                } else {
                    v.into_owned()
                },
            )
        })
        .collect();
    if !pairs.is_empty() {
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

impl DatabaseConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.max_connections == 0 {
            return Err(invalid("database.max_connections", "must be at least 1"));
        }
        Ok(())
    }
}

//! People, as `platform:id`: `shell:alice`, `slack:U024BE7LH`, `discord:80351110224678912`.

use std::fmt;
use std::str::FromStr;

/// Where a person or message comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Platform {
    Shell,
    Slack,
    Discord,
}

impl Platform {
    /// The platform's name in user ids and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Shell => "shell",
            Platform::Slack => "slack",
            Platform::Discord => "discord",
        }
    }
}

impl FromStr for Platform {
    type Err = UserIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "shell" => Ok(Platform::Shell),
            "slack" => Ok(Platform::Slack),
            "discord" => Ok(Platform::Discord),
            other => Err(UserIdError::UnknownPlatform(other.to_string())),
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a user id or mention could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserIdError {
    #[error("`{0}` is not a platform; use shell, slack or discord")]
    UnknownPlatform(String),
    #[error(
        "`{0}` is not a user; write @name, a chat mention, or platform:id such as slack:U024BE7LH"
    )]
    Malformed(String),
    #[error("`{0}` is a typed name, not a mention; type @ and pick the person from the list so the chat sends their id")]
    NotAMention(String),
}

/// A person: the platform and the platform's own id for them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct UserId {
    platform: Platform,
    id: String,
}

/// Longest platform-specific id accepted.
const MAX_ID_CHARS: usize = 64;

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.chars().count() <= MAX_ID_CHARS
        && id
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

impl UserId {
    /// Builds a user id, checking the platform-specific part.
    pub fn new(platform: Platform, id: &str) -> Result<Self, UserIdError> {
        if !valid_id(id) {
            return Err(UserIdError::Malformed(id.to_string()));
        }
        Ok(UserId {
            platform,
            id: id.to_string(),
        })
    }

    /// The platform this person is on.
    pub fn platform(&self) -> Platform {
        self.platform
    }

    /// The platform's own id for this person.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether a person acts under this id, rather than the bot on behalf of
    /// a monitoring source (`shell:alertmanager`, `shell:grafana`), an
    /// automation rule (`shell:rule.<name>`) or the on-call schedule
    /// (`shell:oncall`). Only a person's action is a response to an
    /// incident. API callers (`shell:api.<name>`) count as people: someone
    /// holds the token and chose to act.
    pub fn is_person(&self) -> bool {
        self.platform != Platform::Shell
            || !(matches!(self.id.as_str(), "alertmanager" | "grafana" | "oncall")
                || self.id.starts_with("rule."))
    }

    /// Reads a person named in a command by someone on `platform`: `me`,
    /// `@name`, a chat mention (`<@U123>`, `<@U123|name>`, `<@!123>`) or an
    /// explicit `platform:id`.
    pub fn from_mention(token: &str, platform: Platform, me: &UserId) -> Result<Self, UserIdError> {
        let malformed = || UserIdError::Malformed(token.to_string());
        if token.eq_ignore_ascii_case("me") {
            return Ok(me.clone());
        }
        if let Some(inner) = token.strip_prefix("<@").and_then(|t| t.strip_suffix('>')) {
            let inner = inner.strip_prefix('!').unwrap_or(inner);
            let id = inner.split('|').next().unwrap_or_default();
            return UserId::new(platform, id).map_err(|_| malformed());
        }
        if let Some(name) = token.strip_prefix('@') {
            if platform != Platform::Shell {
                // Chat platforms send a real mention (`<@U…>`) when the
                // person is picked from the list; a typed name is not an id.
                return Err(UserIdError::NotAMention(token.to_string()));
            }
            return UserId::new(platform, name).map_err(|_| malformed());
        }
        if token.contains(':') {
            return token.parse();
        }
        Err(malformed())
    }
}

impl FromStr for UserId {
    type Err = UserIdError;

    /// Parses `platform:id`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (platform, id) = text
            .split_once(':')
            .ok_or_else(|| UserIdError::Malformed(text.to_string()))?;
        UserId::new(platform.parse()?, id)
    }
}

impl TryFrom<String> for UserId {
    type Error = UserIdError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.platform, self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> UserId {
        UserId::new(Platform::Shell, "alice").unwrap()
    }

    #[test]
    fn parses_ids_and_mentions() {
        assert_eq!(
            "slack:U024BE7LH".parse::<UserId>().unwrap().to_string(),
            "slack:U024BE7LH"
        );
        let me = alice();
        let bob = UserId::from_mention("@bob", Platform::Shell, &me).unwrap();
        assert_eq!(bob.to_string(), "shell:bob");
        assert_eq!(
            UserId::from_mention("me", Platform::Shell, &me).unwrap(),
            me
        );
        assert_eq!(
            UserId::from_mention("<@U123|jo>", Platform::Slack, &me)
                .unwrap()
                .to_string(),
            "slack:U123"
        );
        assert_eq!(
            UserId::from_mention("<@!8035>", Platform::Discord, &me)
                .unwrap()
                .to_string(),
            "discord:8035"
        );
        assert_eq!(
            UserId::from_mention("discord:8035", Platform::Shell, &me)
                .unwrap()
                .to_string(),
            "discord:8035"
        );
    }

    #[test]
    fn refuses_what_is_not_a_person() {
        let me = alice();
        for bad in ["bob", "@", "@bo b", "<@>", "mail:bob", "shell:", "@a;drop"] {
            assert!(
                UserId::from_mention(bad, Platform::Shell, &me).is_err(),
                "{bad}"
            );
        }
    }
}

//! People, as `platform:id`: `shell:alice`, `slack:U024BE7LH`, `discord:80351110224678912`.

use std::fmt;
use std::str::FromStr;

use super::alert::AlertSource;

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

/// Who acts when it is not a person at a keyboard: the bot's own users,
/// all on the shell platform (`shell:<name>`), whose names no person's
/// shell login should take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemActor<'a> {
    /// A monitoring system that opens and resolves incidents from alerts:
    /// `shell:alertmanager`, `shell:grafana`.
    Monitoring(AlertSource),
    /// A program calling the REST API with a token: `shell:api.<token name>`.
    /// Someone wrote and runs it, so what it does counts as a person's doing.
    Api(&'a str),
    /// The bot acting on its own rules: an automation rule
    /// (`shell:rule.<name>`, `Some(name)`) or on-call paging (`shell:oncall`,
    /// `None`).
    Automation(Option<&'a str>),
}

impl SystemActor<'_> {
    /// Whether what this actor does counts as a person's action, e.g. a
    /// response to an incident: only API callers.
    pub fn is_person(self) -> bool {
        matches!(self, SystemActor::Api(_))
    }
}

impl fmt::Display for SystemActor<'_> {
    /// The name people read: `Alertmanager`, `API (writer)`,
    /// `rule escalate-db`, `on-call`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SystemActor::Monitoring(source) => f.write_str(source.product()),
            SystemActor::Api(caller) => write!(f, "API ({caller})"),
            SystemActor::Automation(Some(rule)) => write!(f, "rule {rule}"),
            SystemActor::Automation(None) => f.write_str("on-call"),
        }
    }
}

impl UserId {
    /// The user alert-made changes from `source` are recorded under:
    /// `shell:alertmanager`, `shell:grafana`. A user id needs a platform,
    /// and `shell` is the bot's own local one: no chat platform owns the
    /// name, and a `shell:` reporter is not sent a satisfaction survey,
    /// which suits a monitoring system.
    pub fn monitoring(source: AlertSource) -> Result<UserId, UserIdError> {
        UserId::new(Platform::Shell, source.as_str())
    }

    /// Which of the bot's own actors this id is, or `None` for a person.
    ///
    /// The one classification of actors: alert sources (`shell:alertmanager`,
    /// `shell:grafana`) are [`SystemActor::Monitoring`], API callers
    /// (`shell:api.<name>`) [`SystemActor::Api`], automation rules
    /// (`shell:rule.<name>`) and on-call paging (`shell:oncall`)
    /// [`SystemActor::Automation`]. Every other id, on any platform, is a
    /// person. Stored ids and the API's JSON keep the raw `platform:id`; only
    /// what people read uses [`UserId::display_name`].
    pub fn system_actor(&self) -> Option<SystemActor<'_>> {
        if self.platform != Platform::Shell {
            return None;
        }
        let id = self.id.as_str();
        if let Some(caller) = id.strip_prefix("api.").filter(|name| !name.is_empty()) {
            return Some(SystemActor::Api(caller));
        }
        if let Some(rule) = id.strip_prefix("rule.").filter(|name| !name.is_empty()) {
            return Some(SystemActor::Automation(Some(rule)));
        }
        match id {
            "oncall" => Some(SystemActor::Automation(None)),
            _ => [AlertSource::Alertmanager, AlertSource::Grafana]
                .into_iter()
                .find(|source| source.as_str() == id)
                .map(SystemActor::Monitoring),
        }
    }

    /// Whether this id acts as a person: every person, and API callers (a
    /// program someone runs). Alert sources, automation rules and on-call
    /// paging are not persons: what they do is never a response.
    pub fn is_person(&self) -> bool {
        self.system_actor().is_none_or(SystemActor::is_person)
    }

    /// The id as people read it: a system actor by its name (`Alertmanager`,
    /// `API (writer)`, `rule escalate-db`), a person as `platform:id`, which
    /// the chat adapters turn into their name or a mention.
    pub fn display_name(&self) -> String {
        match self.system_actor() {
            Some(actor) => actor.to_string(),
            None => self.to_string(),
        }
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

    fn id(text: &str) -> UserId {
        text.parse().unwrap()
    }

    #[test]
    fn system_actors_are_told_from_people() {
        let cases = [
            (
                "shell:alertmanager",
                Some(SystemActor::Monitoring(AlertSource::Alertmanager)),
                "Alertmanager",
                false,
            ),
            (
                "shell:grafana",
                Some(SystemActor::Monitoring(AlertSource::Grafana)),
                "Grafana",
                false,
            ),
            (
                "shell:api.writer",
                Some(SystemActor::Api("writer")),
                "API (writer)",
                true,
            ),
            (
                "shell:rule.escalate-db",
                Some(SystemActor::Automation(Some("escalate-db"))),
                "rule escalate-db",
                false,
            ),
            (
                "shell:oncall",
                Some(SystemActor::Automation(None)),
                "on-call",
                false,
            ),
            ("shell:alice", None, "shell:alice", true),
            ("slack:U024BE7LH", None, "slack:U024BE7LH", true),
            // Only the shell platform holds the bot's own users.
            ("slack:alertmanager", None, "slack:alertmanager", true),
            ("discord:oncall", None, "discord:oncall", true),
            // A prefix alone names nothing.
            ("shell:api.", None, "shell:api.", true),
            ("shell:rule.", None, "shell:rule.", true),
            ("shell:apiary", None, "shell:apiary", true),
            ("shell:Alertmanager", None, "shell:Alertmanager", true),
        ];
        for (text, actor, shown, person) in cases {
            let user = id(text);
            assert_eq!(user.system_actor(), actor, "{text}");
            assert_eq!(user.display_name(), shown, "{text}");
            assert_eq!(user.is_person(), person, "{text}");
            // The stored form never changes.
            assert_eq!(user.to_string(), text);
        }
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

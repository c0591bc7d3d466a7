//! Secrets in the configuration: tokens, signing secrets, integration keys.
//!
//! One rule holds for every one of them, wherever it comes from (the
//! environment, a config file, a `*_file`): it is text, taken as given, at
//! least [`MIN_SECRET_BYTES`] long, without surrounding whitespace. A value
//! that breaks the rule stops the bot at start with a message naming the
//! key, never the value — not even a wrong one, which may be a mistyped
//! real one.

use std::path::Path;

use serde::Deserialize;

use super::{Config, ConfigError};

/// The shortest secret accepted, in bytes.
///
/// 16 random bytes are beyond guessing, and every secret the platforms
/// issue is longer (a Slack signing secret is 32 hex digits, bot and app
/// tokens and Discord tokens are longer still, a PagerDuty integration key
/// is 32 characters), so the rule only refuses secrets someone chose badly:
/// an empty one, which opened the dashboard to an empty cookie, or a word.
pub const MIN_SECRET_BYTES: usize = 16;

/// A secret: shown as `***` in logs and debug output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl<'de> Deserialize<'de> for Secret {
    /// A string, and only a string. Environment variables for secret keys
    /// reach here as strings whatever they look like (see
    /// [`is_secret_key`]); a number or flag can only come from a config file
    /// (`token = 007`), where reading it as text would already have lost
    /// what was written. Every refusal leaves the value out: serde's own
    /// message would quote it ("found float `3.14…`").
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl Visitor {
            fn refuse<E: serde::de::Error>(found: &str) -> E {
                E::custom(format_args!(
                    "expected a secret string, found {found} (the value is not shown); \
                     put it in quotes, or better, set it in the environment or a file"
                ))
            }
        }
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Secret;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a secret string")
            }
            fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<Secret, E> {
                Ok(Secret(value.to_string()))
            }
            fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Secret, E> {
                Err(Self::refuse("a boolean"))
            }
            fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Secret, E> {
                Err(Self::refuse("a number"))
            }
            fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Secret, E> {
                Err(Self::refuse("a number"))
            }
            fn visit_i128<E: serde::de::Error>(self, _: i128) -> Result<Secret, E> {
                Err(Self::refuse("a number"))
            }
            fn visit_u128<E: serde::de::Error>(self, _: u128) -> Result<Secret, E> {
                Err(Self::refuse("a number"))
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Secret, E> {
                Err(Self::refuse("a number"))
            }
            fn visit_char<E: serde::de::Error>(self, value: char) -> Result<Secret, E> {
                Ok(Secret(value.to_string()))
            }
            fn visit_bytes<E: serde::de::Error>(self, _: &[u8]) -> Result<Secret, E> {
                Err(Self::refuse("bytes"))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Secret, E> {
                Err(Self::refuse("nothing"))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, _: A) -> Result<Secret, A::Error> {
                Err(Self::refuse("a list"))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, _: A) -> Result<Secret, A::Error> {
                Err(Self::refuse("a table"))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl Secret {
    /// A secret holding `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"***\"")
    }
}

/// Whether the key at `path` (`hooks.token`, `http.dashboard_token`) holds
/// a secret, so its environment variable is taken as text as given: `0070…`
/// or `3.14…` must not become a number (and lose a digit, or fail with the
/// value in the message).
pub(super) fn is_secret_key(path: &str) -> bool {
    let last = path.rsplit('.').next().unwrap_or(path);
    matches!(
        last,
        "token"
            | "dashboard_token"
            | "bot_token"
            | "app_token"
            | "signing_secret"
            | "routing_key"
            | "hmac_secret"
    )
}

/// The one rule every secret meets, checked for the secret at `key`.
pub(super) fn check(key: &str, secret: &Secret) -> Result<(), ConfigError> {
    let value = secret.expose();
    let problem = if value.is_empty() {
        "is empty"
    } else if value.trim() != value {
        // A bearer token is trimmed when it arrives, so one that starts or
        // ends with whitespace could never match.
        "starts or ends with whitespace"
    } else if value.len() < MIN_SECRET_BYTES {
        "is too short"
    } else {
        return Ok(());
    };
    Err(ConfigError::Invalid {
        key: key.to_string(),
        message: format!(
            "{problem}: a secret needs at least {MIN_SECRET_BYTES} bytes, \
             e.g. `openssl rand -hex 32` (the value is not shown)"
        ),
    })
}

/// Reads the secret in the file at `path` (named by the key `key`),
/// without its surrounding whitespace (files end with a newline), and
/// checks it.
pub(super) fn read(key: &str, path: &Path) -> Result<Secret, ConfigError> {
    let value = std::fs::read_to_string(path).map_err(|err| ConfigError::Invalid {
        key: key.to_string(),
        message: format!("cannot read {}: {err}", path.display()),
    })?;
    let secret = Secret(value.trim().to_string());
    check(key, &secret)?;
    Ok(secret)
}

impl Config {
    /// Every secret that is set, by its key.
    pub(super) fn secrets(&self) -> Vec<(String, &Secret)> {
        let mut secrets = vec![
            (
                "http.dashboard_token".to_string(),
                &self.http.dashboard_token,
            ),
            ("hooks.token".to_string(), &self.hooks.token),
            ("slack.bot_token".to_string(), &self.slack.bot_token),
            ("slack.app_token".to_string(), &self.slack.app_token),
            (
                "slack.signing_secret".to_string(),
                &self.slack.signing_secret,
            ),
            ("discord.token".to_string(), &self.discord.token),
        ];
        if let Some(paging) = &self.oncall.paging {
            secrets.push(("oncall.paging.routing_key".into(), &paging.routing_key));
            secrets.push(("oncall.paging.hmac_secret".into(), &paging.hmac_secret));
        }
        for (index, token) in self.api.tokens.iter().enumerate() {
            secrets.push((format!("api.tokens[{index}].token"), &token.token));
        }
        secrets
            .into_iter()
            .filter_map(|(key, secret)| Some((key, secret.as_ref()?)))
            .collect()
    }

    /// Checks every secret the configuration holds, and the signing
    /// secrets automation reads from the environment (`secret_env`) that
    /// `env` sets, against the one rule.
    pub(super) fn check_secrets(
        &self,
        env: &std::collections::BTreeMap<String, String>,
    ) -> Result<(), ConfigError> {
        for (key, secret) in self.secrets() {
            check(&key, secret)?;
        }
        // An unset variable is reported by `check-config` and refused per
        // call; a set one must be a secret worth the name.
        for (owner, var) in self.automation.signing_envs() {
            if let Some(value) = env.get(&var) {
                check(
                    &format!("{owner}: secret_env ${var}"),
                    &Secret(value.clone()),
                )?;
            }
        }
        Ok(())
    }
}

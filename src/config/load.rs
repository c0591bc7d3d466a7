//! Loading the layers (built-in defaults, the `--config` file, `ITSM__…`
//! variables, `DATABASE_URL`) into one [`Config`], reading secret files,
//! and building what is derived from it.

use std::path::Path;

use figment::providers::{Format, Serialized, Toml};
use figment::Figment;

use super::{secret, sla, Config, ConfigError, DEFAULT_TOML, ENV_PREFIX};
use crate::domain::roles::Role;

impl Config {
    /// Loads the layered configuration from the process environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        Self::load_with_env(file, std::env::vars())
    }

    /// Loads the layered configuration with the environment given as
    /// `vars`, so tests need not touch the process environment.
    pub fn load_with_env(
        file: Option<&Path>,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut figment = Figment::new().merge(Toml::string(DEFAULT_TOML));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError::MissingFile(path.to_path_buf()));
            }
            figment = figment.merge(Toml::file(path));
        }
        let mut database_url = None;
        // Kept for the automation signing secrets (`secret_env`), which are
        // checked once the rules naming them are read.
        let vars: std::collections::BTreeMap<String, String> = vars.into_iter().collect();
        for (key, value) in vars.clone() {
            if key == "DATABASE_URL" {
                database_url = Some(value);
            } else if let Some(rest) = key.strip_prefix(ENV_PREFIX) {
                let path = rest.to_ascii_lowercase().replace("__", ".");
                // A secret is text as given: `0123` or `true` must not
                // become a number or a flag (and fail, or lose a digit).
                let value = if secret::is_secret_key(&path) {
                    figment::value::Value::from(value)
                } else {
                    parse_env_value(&value)
                };
                figment = figment.merge(EnvVar {
                    name: key.clone(),
                    provider: Serialized::default(&path, value),
                });
            }
        }
        if let Some(url) = database_url {
            figment = figment.merge(EnvVar {
                name: "DATABASE_URL".to_string(),
                provider: Serialized::default("database.url", url),
            });
        }
        let mut config: Config = figment.extract().map_err(Box::new)?;
        config.read_secret_files()?;
        config.postmortem.load()?;
        let locale = config.locale.zone();
        config.sla_policy = sla::build_policy(&config.sla, &config.calendars, locale)?;
        config.change.build(locale)?;
        config.automation.build(&Role::ALL)?;
        config.requests.build(
            &config.automation.compiled_runbooks,
            &config.calendars,
            &config.oncall.rotations,
            locale,
        )?;
        config.check_secrets(&vars)?;
        config.validate()?;
        Ok(config)
    }

    /// The built-in defaults alone, for tests and benchmarks.
    pub fn defaults() -> Result<Config, ConfigError> {
        Self::load_with_env(None, std::iter::empty())
    }

    /// Fills secrets from the files named by `*_file` keys.
    fn read_secret_files(&mut self) -> Result<(), ConfigError> {
        let (slack, discord, hooks, http) = (
            &mut self.slack,
            &mut self.discord,
            &mut self.hooks,
            &mut self.http,
        );
        let pairs = [
            (
                "slack.bot_token_file",
                &slack.bot_token_file,
                &mut slack.bot_token,
            ),
            (
                "slack.app_token_file",
                &slack.app_token_file,
                &mut slack.app_token,
            ),
            (
                "slack.signing_secret_file",
                &slack.signing_secret_file,
                &mut slack.signing_secret,
            ),
            (
                "discord.token_file",
                &discord.token_file,
                &mut discord.token,
            ),
            ("hooks.token_file", &hooks.token_file, &mut hooks.token),
            (
                "http.dashboard_token_file",
                &http.dashboard_token_file,
                &mut http.dashboard_token,
            ),
        ];
        for (key, file, secret) in pairs {
            if let Some(path) = file {
                *secret = Some(secret::read(key, path)?);
            }
        }
        if let Some(paging) = &mut self.oncall.paging {
            if let Some(path) = &paging.routing_key_file {
                paging.routing_key = Some(secret::read("oncall.paging.routing_key_file", path)?);
            }
            if let Some(path) = &paging.hmac_secret_file {
                paging.hmac_secret = Some(secret::read("oncall.paging.hmac_secret_file", path)?);
            }
        }
        for (index, token) in self.api.tokens.iter_mut().enumerate() {
            if let Some(path) = &token.token_file {
                token.token = Some(secret::read(
                    &format!("api.tokens[{index}].token_file"),
                    path,
                )?);
            }
        }
        Ok(())
    }
}

/// One environment variable as a configuration layer, named in errors.
struct EnvVar<T> {
    name: String,
    provider: Serialized<T>,
}

impl<T: serde::Serialize> figment::Provider for EnvVar<T> {
    fn metadata(&self) -> figment::Metadata {
        figment::Metadata::named(format!("environment variable {}", self.name))
    }

    fn data(
        &self,
    ) -> Result<figment::value::Map<figment::Profile, figment::value::Dict>, figment::Error> {
        self.provider.data()
    }
}

/// Writes figment's errors as "`key`: what is wrong (in which source)",
/// one per line, without figment's internal profile name.
pub(super) fn describe_figment_error(err: &figment::Error) -> String {
    err.clone()
        .into_iter()
        .map(|err| {
            let key = err.path.join(".");
            let source = err.metadata.as_ref().map(|meta| match &meta.source {
                Some(figment::Source::File(path)) => path.display().to_string(),
                _ if meta.name.starts_with("environment variable") => meta.name.to_string(),
                _ => "config/default.toml".to_string(),
            });
            let kind = match &err.kind {
                figment::error::Kind::Message(message) => message.clone(),
                other => other.to_string(),
            };
            match (key.is_empty(), source) {
                (true, Some(source)) => format!("{kind} (in {source})"),
                (true, None) => kind,
                (false, Some(source)) => format!("`{key}`: {kind} (in {source})"),
                (false, None) => format!("`{key}`: {kind}"),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads an environment variable's value the way figment reads one (`5`,
/// `true`, `[0.75, 0.9]`), falling back to a plain string.
fn parse_env_value(raw: &str) -> figment::value::Value {
    match raw.parse::<figment::value::Value>() {
        Ok(value) => value,
        Err(never) => match never {},
    }
}

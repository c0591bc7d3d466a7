//! Channels the bot posts to, across platforms: `slack:C0123ABCD`,
//! `discord:80351110224678912`, or a bare name for the shell (`ops`).

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

use super::user::Platform;

/// A channel on a platform.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct ChannelRef {
    pub platform: Platform,
    pub channel: String,
}

/// Why a channel reference was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a channel; write slack:C0123ABCD, discord:<id>, or a shell channel name such as ops")]
pub struct ChannelError(pub String);

impl FromStr for ChannelRef {
    type Err = ChannelError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || ChannelError(text.to_string());
        let (platform, channel) = match text.split_once(':') {
            Some((platform, channel)) => {
                (platform.parse::<Platform>().map_err(|_| bad())?, channel)
            }
            None => (Platform::Shell, text),
        };
        let valid = !channel.is_empty()
            && channel.len() <= 80
            && channel
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !valid {
            return Err(bad());
        }
        Ok(ChannelRef {
            platform,
            channel: channel.to_string(),
        })
    }
}

impl TryFrom<String> for ChannelRef {
    type Error = ChannelError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl fmt::Display for ChannelRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.platform {
            Platform::Shell => f.write_str(&self.channel),
            other => write!(f, "{other}:{}", self.channel),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_platform_channels_and_shell_names() {
        let slack: ChannelRef = "slack:C0123ABCD".parse().unwrap();
        assert_eq!(
            (slack.platform, slack.channel.as_str()),
            (Platform::Slack, "C0123ABCD")
        );
        let shell: ChannelRef = "ops".parse().unwrap();
        assert_eq!(shell.platform, Platform::Shell);
        assert_eq!(shell.to_string(), "ops");
        assert_eq!(slack.to_string(), "slack:C0123ABCD");
        for bad in ["", "irc:#x", "slack:", "a b", "slack:C1/2"] {
            assert!(bad.parse::<ChannelRef>().is_err(), "{bad}");
        }
    }
}

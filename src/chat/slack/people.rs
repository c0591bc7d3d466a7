//! Slack user ids → display names, from `users.info`, cached.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use slack_morphism::prelude::*;
use tokio::sync::Mutex;

/// Most user ids looked up for one message.
const MAX_LOOKUPS: usize = 10;

/// How long a looked-up name is trusted.
const TTL: Duration = Duration::from_secs(3600);

/// A cache of display names.
#[derive(Clone)]
pub struct People {
    client: Arc<SlackHyperClient>,
    token: SlackApiToken,
    names: Arc<Mutex<HashMap<String, (String, Instant)>>>,
}

impl People {
    pub fn new(client: Arc<SlackHyperClient>, token: SlackApiToken) -> Self {
        People {
            client,
            token,
            names: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The display name of Slack user `id`, or the id when Slack cannot say.
    pub async fn name(&self, id: &str) -> String {
        if let Some((name, at)) = self.names.lock().await.get(id) {
            if at.elapsed() < TTL {
                return name.clone();
            }
        }
        let session = self.client.open_session(&self.token);
        let looked_up = session
            .users_info(&SlackApiUsersInfoRequest::new(id.into()))
            .await;
        let name = match looked_up {
            Ok(info) => {
                let user = info.user;
                let profile = user.profile.as_ref();
                [
                    profile.and_then(|p| p.display_name.clone()),
                    profile.and_then(|p| p.real_name.clone()),
                    user.real_name.clone(),
                    user.name.clone(),
                ]
                .into_iter()
                .flatten()
                .find(|name| !name.trim().is_empty())
                .unwrap_or_else(|| id.to_string())
            }
            Err(err) => {
                // Remembered too, so a made-up id is not looked up again on
                // every render.
                tracing::debug!(error = %err, user = id, "users.info failed");
                id.to_string()
            }
        };
        self.names
            .lock()
            .await
            .insert(id.to_string(), (name.clone(), Instant::now()));
        name
    }

    /// Replaces every `slack:U…` user id in `text` with the person's name.
    pub async fn humanize(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        // A message names a handful of people; text stuffed with ids does
        // not get a lookup for each.
        let mut lookups = 0;
        while let Some(start) = rest.find("slack:") {
            out.push_str(&rest[..start]);
            let after = &rest[start + "slack:".len()..];
            let len = after
                .find(|c: char| !c.is_ascii_alphanumeric())
                .unwrap_or(after.len());
            if len == 0 {
                out.push_str("slack:");
            } else if lookups >= MAX_LOOKUPS {
                out.push_str("slack:");
                out.push_str(&after[..len]);
            } else {
                lookups += 1;
                out.push_str(&self.name(&after[..len]).await);
            }
            rest = &after[len..];
        }
        out.push_str(rest);
        out
    }
}

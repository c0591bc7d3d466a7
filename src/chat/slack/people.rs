//! Slack user ids → display names and time zones, from `users.info`, cached.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use slack_morphism::prelude::*;
use tokio::sync::{Mutex, OnceCell};

/// Most user ids looked up for one message.
const MAX_LOOKUPS: usize = 10;

/// How long a looked-up name is trusted.
const TTL: Duration = Duration::from_secs(3600);

/// Names kept before the cache drops those past their time.
const KEEP: usize = 10_000;

/// What `users.info` says about a person that the bot uses.
#[derive(Debug, Clone)]
struct Profile {
    name: String,
    /// Their zone as their Slack profile has it (`tz`), if it names one
    /// this build knows.
    time_zone: Option<chrono_tz::Tz>,
}

/// A profile, looked up once however many ask for it at the same time.
type Lookup = Arc<OnceCell<Profile>>;

/// A cache of display names.
#[derive(Clone)]
pub struct People {
    client: Arc<super::SlackApiClient>,
    token: SlackApiToken,
    names: Arc<Mutex<HashMap<String, (Lookup, Instant)>>>,
}

impl People {
    pub fn new(client: Arc<super::SlackApiClient>, token: SlackApiToken) -> Self {
        People {
            client,
            token,
            names: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The display name of Slack user `id`, or the id when Slack cannot say.
    pub async fn name(&self, id: &str) -> String {
        self.profile(id).await.name
    }

    /// The time zone of Slack user `id`'s profile, when Slack says.
    pub async fn time_zone(&self, id: &str) -> Option<chrono_tz::Tz> {
        self.profile(id).await.time_zone
    }

    async fn profile(&self, id: &str) -> Profile {
        let lookup = {
            let mut names = self.names.lock().await;
            match names.get(id) {
                Some((lookup, at)) if at.elapsed() < TTL => lookup.clone(),
                _ => {
                    if names.len() >= KEEP {
                        names.retain(|_, (_, at)| at.elapsed() < TTL);
                        if names.len() >= KEEP {
                            // More people in an hour than it keeps: start
                            // over rather than pay for a scan per newcomer.
                            names.clear();
                        }
                    }
                    let lookup = Lookup::default();
                    names.insert(id.to_string(), (lookup.clone(), Instant::now()));
                    lookup
                }
            }
        };
        lookup.get_or_init(|| self.look_up(id)).await.clone()
    }

    /// Asks Slack for user `id`'s name and zone.
    async fn look_up(&self, id: &str) -> Profile {
        let session = self.client.open_session(&self.token);
        let looked_up = session
            .users_info(&SlackApiUsersInfoRequest::new(id.into()))
            .await;
        match looked_up {
            Ok(info) => {
                let user = info.user;
                let profile = user.profile.as_ref();
                let time_zone = user.tz.as_deref().and_then(|tz| tz.parse().ok());
                let name = [
                    profile.and_then(|p| p.display_name.clone()),
                    profile.and_then(|p| p.real_name.clone()),
                    user.real_name.clone(),
                    user.name.clone(),
                ]
                .into_iter()
                .flatten()
                .find(|name| !name.trim().is_empty())
                .unwrap_or_else(|| id.to_string());
                Profile { name, time_zone }
            }
            Err(err) => {
                // Remembered too, so a made-up id is not looked up again on
                // every render.
                tracing::debug!(error = %err, user = id, "users.info failed");
                Profile {
                    name: id.to_string(),
                    time_zone: None,
                }
            }
        }
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Renders side by side (a batch of cards by one reporter) ask Slack
    /// once for the person they all name.
    #[tokio::test]
    async fn renders_side_by_side_share_one_lookup() {
        let asked = Arc::new(AtomicUsize::new(0));
        let counter = asked.clone();
        let users_info = move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                // Slow enough that every render arrives while it runs.
                tokio::time::sleep(Duration::from_millis(100)).await;
                axum::Json(serde_json::json!({
                    "ok": true,
                    "user": {"id": "U0SAM", "name": "sam", "profile": {"display_name": "Sam Staff"}},
                }))
            }
        };
        let app = axum::Router::new().route("/api/users.info", axum::routing::any(users_info));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let client = super::super::client(
            &format!("http://{addr}/api"),
            crate::proxy::ProxySettings::direct(),
        )
        .unwrap();
        let people = People::new(client, SlackApiToken::new("xoxb-test".into()));

        let names = futures_util::future::join_all((0..5).map(|_| people.name("U0SAM"))).await;
        assert!(names.iter().all(|name| name == "Sam Staff"), "{names:?}");
        assert_eq!(asked.load(Ordering::SeqCst), 1);
        assert_eq!(people.name("U0SAM").await, "Sam Staff");
        assert_eq!(asked.load(Ordering::SeqCst), 1, "kept for the next render");
    }
}

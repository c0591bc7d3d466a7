//! Services in the catalog, which incidents (and later problems and changes) name.

/// Longest service name.
const MAX_NAME_CHARS: usize = 64;

/// Whether `name` can name a service: lower-case ASCII letters, digits,
/// `-`, `_` and `.`, starting with a letter or digit.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.len() <= MAX_NAME_CHARS
        && chars
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
}

/// A service as stored in the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub owner: Option<super::UserId>,
}

/// A service's entry in the catalog, as configured and stored.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogEntry {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub owner: Option<super::UserId>,
    pub channel: Option<super::channel::ChannelRef>,
    pub tier: Option<String>,
    /// Percent over rolling 30 days.
    pub availability_target: f64,
    pub rotation: Option<String>,
    pub public: bool,
    pub depends_on: Vec<String>,
}

/// How a service is doing, from its open incidents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceStatus {
    Operational,
    Degraded,
    Outage,
}

impl ServiceStatus {
    /// The status given the open incidents on the service, each as
    /// (priority, whether it is marked as an outage): an open outage means
    /// an outage, an open P1 or P2 a degraded service.
    pub fn from_open(incidents: impl IntoIterator<Item = (super::Priority, bool)>) -> Self {
        incidents
            .into_iter()
            .map(|(priority, outage)| {
                if outage {
                    ServiceStatus::Outage
                } else if priority <= super::Priority::P2 {
                    ServiceStatus::Degraded
                } else {
                    ServiceStatus::Operational
                }
            })
            .max()
            .unwrap_or(ServiceStatus::Operational)
    }

    /// The name shown to people.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceStatus::Operational => "operational",
            ServiceStatus::Degraded => "degraded",
            ServiceStatus::Outage => "outage",
        }
    }

    /// A marker for chat.
    pub fn icon(self) -> &'static str {
        match self {
            ServiceStatus::Operational => "🟢",
            ServiceStatus::Degraded => "🟠",
            ServiceStatus::Outage => "🔴",
        }
    }
}

impl std::fmt::Display for ServiceStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The catalog names closest to `wanted`, best first, for "did you mean".
pub fn nearest_names<'a>(wanted: &str, names: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let wanted = wanted.to_lowercase();
    let mut scored: Vec<(f64, &str)> = names
        .into_iter()
        .map(|name| {
            let mut score = strsim::jaro_winkler(&wanted, name)
                .max(strsim::normalized_damerau_levenshtein(&wanted, name));
            if name.contains(wanted.as_str()) || wanted.contains(name) {
                score += 0.2;
            }
            (score, name)
        })
        .filter(|(score, _)| *score >= 0.6)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    scored.into_iter().take(3).map(|(_, name)| name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_slugs() {
        assert!(valid_name("vpn"));
        assert!(valid_name("mail-eu.2"));
        assert!(!valid_name("VPN"));
        assert!(!valid_name("-vpn"));
        assert!(!valid_name(""));
        assert!(!valid_name("a b"));
    }

    #[test]
    fn status_comes_from_the_worst_open_incident() {
        use crate::domain::Priority::*;
        assert_eq!(ServiceStatus::from_open([]), ServiceStatus::Operational);
        assert_eq!(
            ServiceStatus::from_open([(P3, false), (P4, false)]),
            ServiceStatus::Operational
        );
        assert_eq!(
            ServiceStatus::from_open([(P3, false), (P2, false)]),
            ServiceStatus::Degraded
        );
        assert_eq!(
            ServiceStatus::from_open([(P1, false)]),
            ServiceStatus::Degraded
        );
        assert_eq!(
            ServiceStatus::from_open([(P4, true), (P1, false)]),
            ServiceStatus::Outage
        );
    }

    #[test]
    fn suggests_near_misses_only() {
        let names = ["vpn", "email", "wifi", "printing"];
        assert_eq!(nearest_names("vnp", names), vec!["vpn"]);
        assert_eq!(nearest_names("mail", names), vec!["email"]);
        assert!(nearest_names("database", names).is_empty());
    }
}

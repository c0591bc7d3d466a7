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
    fn suggests_near_misses_only() {
        let names = ["vpn", "email", "wifi", "printing"];
        assert_eq!(nearest_names("vnp", names), vec!["vpn"]);
        assert_eq!(nearest_names("mail", names), vec!["email"]);
        assert!(nearest_names("database", names).is_empty());
    }
}

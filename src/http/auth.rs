//! The one check for the shared secrets HTTP callers present: the API's
//! tokens, the alert webhooks' token and the dashboard's token all arrive
//! as `Authorization: Bearer <token>` (the dashboard also takes a cookie)
//! and are compared here, in constant time, so a fix to either lands once.

use axum::http::{header, HeaderMap};
use subtle::ConstantTimeEq;

use crate::config::Secret;

/// The token of an `Authorization: Bearer <token>` header, trimmed.
///
/// The scheme is matched case-insensitively, as RFC 7235 §2.1 says of every
/// authentication scheme, so `bearer` and `BEARER` work as well. `None` when
/// the header is missing, not text, of another scheme, or carries no token.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Whether `given` is the secret `expected`.
///
/// The bytes are compared without stopping at the first difference, so the
/// time taken does not tell a guesser how much of a guess was right; only
/// the length of the guess shows, which says nothing about the secret. An
/// empty secret matches nothing: configuration refuses one, and should one
/// ever get through, it must not open a door to an empty credential.
pub fn matches(given: &str, expected: &Secret) -> bool {
    let expected = expected.expose().as_bytes();
    !expected.is_empty() && bool::from(given.as_bytes().ct_eq(expected))
}

/// The first of `candidates` whose secret (`secret_of`) is `given`.
///
/// Every candidate is compared, also after a match, so the time taken does
/// not tell which one nearly matched. Candidates without a secret match
/// nothing.
pub fn find<'a, T>(
    given: &str,
    candidates: &'a [T],
    secret_of: impl Fn(&T) -> Option<&Secret>,
) -> Option<&'a T> {
    let mut found = None;
    for candidate in candidates {
        let hit = secret_of(candidate).is_some_and(|secret| matches(given, secret));
        if hit && found.is_none() {
            found = Some(candidate);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(header::AUTHORIZATION, value);
        }
        headers
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for value in [
            "Bearer s3cret",
            "bearer s3cret",
            "BEARER s3cret",
            "bEaReR  s3cret ",
        ] {
            assert_eq!(bearer(&with(value)), Some("s3cret"), "{value}");
        }
    }

    #[test]
    fn other_schemes_and_empty_tokens_are_no_bearer_token() {
        for value in [
            "Basic s3cret",
            "Bearers3cret",
            "Bearer",
            "Bearer   ",
            "s3cret",
        ] {
            assert_eq!(bearer(&with(value)), None, "{value}");
        }
        assert_eq!(bearer(&HeaderMap::new()), None);
    }

    #[test]
    fn secrets_compare_whole() {
        let secret = Secret::new("s3cret-0123456789");
        assert!(matches("s3cret-0123456789", &secret));
        assert!(!matches("s3cret-0123456788", &secret));
        assert!(!matches("s3cret-0123456789-and-more", &secret));
        assert!(!matches("s3cret", &secret));
        assert!(!matches("", &secret));
        assert!(!matches("", &Secret::new("")));
    }

    #[test]
    fn find_names_the_matching_candidate() {
        let tokens = [
            ("none", None),
            ("read", Some(Secret::new("read-0123456789abcdef"))),
            ("write", Some(Secret::new("write-0123456789abcdef"))),
        ];
        let name = |given: &str| find(given, &tokens, |t| t.1.as_ref()).map(|t| t.0);
        assert_eq!(name("write-0123456789abcdef"), Some("write"));
        assert_eq!(name("read-0123456789abcdef"), Some("read"));
        assert_eq!(name("wrong"), None);
        assert_eq!(name(""), None);
    }
}

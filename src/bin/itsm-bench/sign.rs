//! Slack's request signing (`v0=` + hex HMAC-SHA256 of `v0:<ts>:<body>`
//! under the signing secret, as Slack sends it), and the secrets the
//! bench gives its bot.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The `X-Slack-Signature` value for `body` sent at `timestamp`.
pub fn slack_signature(secret: &str, timestamp: i64, body: &str) -> String {
    // HMAC accepts a key of any length, so this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(b"v0:");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b":");
    mac.update(body.as_bytes());
    let digest = mac.finalize().into_bytes();
    let mut signature = String::with_capacity(3 + 64);
    signature.push_str("v0=");
    for byte in digest {
        signature.push_str(&format!("{byte:02x}"));
    }
    signature
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A secret for the bench's bot, `purpose` and this process's id: the id is
/// zero-padded to ten digits, so the secret is as long on a fresh machine
/// (where a process id may have three digits) as anywhere, and passes the
/// bot's 16-byte minimum.
pub fn bench_secret(purpose: &str) -> String {
    format!("{purpose}-{:010}", std::process::id())
}

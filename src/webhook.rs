//! Signed outbound HTTP, shared by the paging hook, rule webhooks and
//! runbooks: one client, one signature, one header, so a receiver verifies
//! every call from the bot one way.

use hmac::{Hmac, Mac};
use hyper_util::client::legacy::Client;
use sha2::Sha256;

use crate::proxy::{ProxyConnector, ProxySettings};
use crate::queue::SendError;

/// The header carrying `sha256=<hex HMAC-SHA256 of the body>` on signed
/// outbound calls: paging events when `hmac_secret` is set, rule webhooks
/// and runbooks when they name a `secret_env`.
pub const SIGNATURE_HEADER: &str = "x-itsm-signature";

/// `sha256=<hex HMAC-SHA256 of body>` keyed with `secret`.
pub fn signature(secret: &str, body: &[u8]) -> Result<String, SendError> {
    // HMAC takes keys of any length; the error exists only for the trait.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .map_err(|_| SendError::Permanent("unusable signing secret".into()))?;
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut out = String::with_capacity(7 + digest.len() * 2);
    out.push_str("sha256=");
    for byte in digest {
        out.push_str(&format!("{byte:02x}"));
    }
    Ok(out)
}

/// The client type of outbound calls: TLS over the shared proxy-aware
/// connector.
pub type OutboundClient = Client<hyper_rustls::HttpsConnector<ProxyConnector>, String>;

/// An HTTP(S) client for outbound calls (the paging hook, rule webhooks,
/// runbooks), through the outbound proxy `http.proxy` or the environment
/// names. Plain HTTP as well as HTTPS, so tests can point it at a local
/// fake.
pub(crate) fn https_client(proxy: ProxySettings) -> Result<OutboundClient, std::io::Error> {
    let https = crate::proxy::https_connector(proxy)?;
    Ok(Client::builder(hyper_util::rt::TokioExecutor::new()).build(https))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hex_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?").ok(),
            Some(
                "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
                    .to_string()
            )
        );
    }
}

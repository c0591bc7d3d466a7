//! The dashboard's shared secret: `Authorization: Bearer <token>`, or a
//! cookie set by opening `/?token=<token>` once. The token is compared in
//! constant time and never logged.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::http::auth::{bearer, matches};
use crate::http::HttpState;

/// The cookie that carries the token after a `?token=` login.
pub const COOKIE: &str = "itsm_dashboard";

/// Lets a request through when no token is configured or it carries the
/// right one; turns a right `?token=` into a cookie and a redirect to the
/// same page without the token in its address; answers 401 otherwise.
pub async fn require_token(
    State(state): State<HttpState>,
    request: Request,
    next: Next,
) -> Response {
    let Some(secret) = state.engine.config().http.dashboard_token.as_ref() else {
        return next.run(request).await;
    };
    let right = |given: &str| matches(given, secret);
    let headers = request.headers();
    if bearer(headers).is_some_and(right) || cookie(headers).is_some_and(|c| right(&c)) {
        return next.run(request).await;
    }
    if let Some(token) = query_token(request.uri()) {
        if right(&token) {
            let secure = state.engine.config().http.secure_cookies();
            return login(request.uri(), &token, secure);
        }
    }
    tracing::debug!(path = %request.uri().path(), "dashboard request without a valid token refused");
    (
        StatusCode::UNAUTHORIZED,
        [
            (
                header::WWW_AUTHENTICATE,
                "Bearer realm=\"itsm-bot dashboard\"",
            ),
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
        ],
        "The dashboard needs its token: send `Authorization: Bearer <token>`, \
         or open /?token=<token> once in a browser (it sets a cookie).\n",
    )
        .into_response()
}

/// The token in the dashboard cookie, percent-decoded.
fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| decode(value))
}

/// The `token` parameter of the query string.
fn query_token(uri: &Uri) -> Option<String> {
    url::form_urlencoded::parse(uri.query()?.as_bytes())
        .find(|(key, _)| key == "token")
        .map(|(_, value)| value.into_owned())
}

/// Sets the cookie and sends the browser to the same address without the
/// token, so it stays out of history, bookmarks and `Referer` headers. The
/// cookie is `Secure` (never sent over plain http) when people reach the
/// bot over https (`http.public_url`).
fn login(uri: &Uri, token: &str, secure: bool) -> Response {
    let rest: Vec<(String, String)> = uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .filter(|(key, _)| key != "token")
                .collect()
        })
        .unwrap_or_default();
    let mut location = uri.path().to_string();
    if !rest.is_empty() {
        location.push('?');
        location.push_str(
            &url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(rest)
                .finish(),
        );
    }
    let value: String = url::form_urlencoded::byte_serialize(token.as_bytes()).collect();
    let mut cookie = format!("{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict");
    if secure {
        cookie.push_str("; Secure");
    }
    match (
        HeaderValue::from_str(&location),
        HeaderValue::from_str(&cookie),
    ) {
        (Ok(location), Ok(cookie)) => (
            StatusCode::SEE_OTHER,
            [(header::LOCATION, location), (header::SET_COOKIE, cookie)],
        )
            .into_response(),
        // Both are built from percent-encoded parts, so this does not
        // happen; refuse rather than panic if it ever does.
        _ => (StatusCode::BAD_REQUEST, "malformed dashboard address\n").into_response(),
    }
}

fn decode(value: &str) -> String {
    url::form_urlencoded::parse(format!("t={value}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

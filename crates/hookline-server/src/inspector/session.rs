//! The inspector's session cookie: a value derived from the admin token, so the server keeps no session
//! state and changing the token signs everyone out.
//!
//! The value is the hex HMAC-SHA256, keyed with the admin token, of a fixed label. It proves the holder
//! once presented the token without being the token, so a cookie that leaks does not reveal it.

use axum::http::{HeaderMap, Method, header};
use hookline_meta::Secret;

/// The cookie's name.
pub(crate) const COOKIE: &str = "hookline_session";

const LABEL: &[u8] = b"hookline inspector session v1";

/// The cookie value that the admin token `token` signs in with.
pub(crate) fn value(token: &Secret) -> String {
    let signed = hookline_meta::signature::sign(token.as_bytes(), LABEL);
    // `sign` formats for Meta's header (`sha256=<hex>`); the cookie is the hex alone.
    signed.trim_start_matches("sha256=").to_owned()
}

/// Whether `headers` carry a session cookie made from `token` (compared in constant time).
pub(crate) fn is_valid(headers: &HeaderMap, token: &Secret) -> bool {
    let Some(presented) = cookie(headers, COOKIE) else {
        return false;
    };
    Secret::new(value(token)).ct_eq(presented.as_bytes())
}

/// `Set-Cookie` for a fresh session. `Secure` when the request came over HTTPS through a proxy that says so;
/// plain HTTP on loopback must still work, so it is not unconditional.
pub(crate) fn set_cookie(token: &Secret, headers: &HeaderMap) -> String {
    let secure = if forwarded_https(headers) {
        "; Secure"
    } else {
        ""
    };
    format!(
        "{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/{secure}",
        value(token)
    )
}

/// `Set-Cookie` that removes the session.
pub(crate) fn clear_cookie() -> String {
    format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")
}

fn forwarded_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

/// The value of the cookie `name` among the request's `Cookie` headers.
pub(crate) fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
}

/// Whether a request that a cookie authenticates may change state: safe methods always may; others only
/// when the browser says it came from this origin (`Sec-Fetch-Site`, else `Origin` against `Host`), so
/// another site cannot make a signed-in browser act. SameSite=Strict already withholds the cookie from
/// cross-site requests; this is the second lock.
pub(crate) fn same_origin_or_safe(method: &Method, headers: &HeaderMap) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return true;
    }
    if let Some(site) = headers.get("sec-fetch-site") {
        return matches!(site.to_str(), Ok("same-origin" | "none"));
    }
    match headers.get(header::ORIGIN).map(|o| o.to_str()) {
        // Not a browser, or a browser old enough to send neither: nothing to forge on its behalf.
        None => true,
        Some(Ok(origin)) => {
            let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
            let origin_host = origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"));
            host.is_some() && origin_host == host
        }
        Some(Err(_)) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn the_cookie_is_the_hmac_of_the_label_under_the_token() {
        // printf 'hookline inspector session v1' | openssl dgst -sha256 -hmac 'test-admin-token'
        assert_eq!(
            value(&Secret::new("test-admin-token")),
            "382c4c3a7f9d2d6c2269e0efb96b7a4989a620892e4cffe3dcd98a72c862d0ae"
        );
    }

    #[test]
    fn a_cookie_of_another_token_is_not_a_session() {
        let token = Secret::new("one");
        let cookie = format!("{COOKIE}={}", value(&Secret::new("two")));
        let mut map = HeaderMap::new();
        map.insert(header::COOKIE, cookie.parse().unwrap());
        assert!(!is_valid(&map, &token));
        let good = format!("theme=dark; {COOKIE}={}", value(&token));
        map.insert(header::COOKIE, good.parse().unwrap());
        assert!(is_valid(&map, &token));
    }

    #[test]
    fn cookies_are_found_among_several_headers() {
        let map = headers(&[("cookie", "a=1; b=2"), ("cookie", "c=3")]);
        assert_eq!(cookie(&map, "b"), Some("2"));
        assert_eq!(cookie(&map, "c"), Some("3"));
        assert_eq!(cookie(&map, "d"), None);
    }

    #[test]
    fn cross_site_posts_are_refused_and_gets_are_not() {
        let cross = headers(&[("sec-fetch-site", "cross-site")]);
        assert!(!same_origin_or_safe(&Method::POST, &cross));
        assert!(same_origin_or_safe(&Method::GET, &cross));
        let same = headers(&[("sec-fetch-site", "same-origin")]);
        assert!(same_origin_or_safe(&Method::DELETE, &same));
        let foreign = headers(&[
            ("origin", "https://evil.example"),
            ("host", "127.0.0.1:8080"),
        ]);
        assert!(!same_origin_or_safe(&Method::POST, &foreign));
        let own = headers(&[
            ("origin", "http://127.0.0.1:8080"),
            ("host", "127.0.0.1:8080"),
        ]);
        assert!(same_origin_or_safe(&Method::POST, &own));
    }
}

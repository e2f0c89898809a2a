//! Response headers every route carries, so a browser never sniffs a JSON or text answer into HTML, never
//! frames one, and never sends the URL (which may hold a handshake's verify token) on as a referrer.
//!
//! No CORS headers are ever added: the admin API is for scripts and the inspector, which is same-origin,
//! so a page on another origin cannot read any answer. HTML pages add their own Content-Security-Policy
//! (see `inspector`); a header a route already set is left alone.

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// Adds `nosniff`, `X-Frame-Options: DENY` and `Referrer-Policy: no-referrer` where a route has not.
pub(crate) async fn safe_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
    ] {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
    response
}

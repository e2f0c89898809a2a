//! The headers every answer carries: no sniffing, no framing, no referrer, a CSP on HTML, and no CORS
//! answer to a request from another origin.

use reqwest::Response;
use reqwest::header::HeaderMap;

use crate::helpers::{ADMIN_TOKEN, TOKEN, TestApp, message, with_admin};

const EVIL_ORIGIN: &str = "https://evil.example";

fn assert_safe(path: &str, headers: &HeaderMap) {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    assert_eq!(get("x-content-type-options"), Some("nosniff"), "{path}");
    assert_eq!(get("x-frame-options"), Some("DENY"), "{path}");
    assert_eq!(get("referrer-policy"), Some("no-referrer"), "{path}");
    let cors: Vec<_> = headers
        .keys()
        .filter(|name| name.as_str().starts_with("access-control-"))
        .collect();
    assert!(cors.is_empty(), "{path} answered CORS headers {cors:?}");
}

/// A GET from another origin, as a browser page there would send it.
async fn cross_origin_get(app: &TestApp, path: &str, token: Option<&str>) -> Response {
    let mut request = app.client.get(app.url(path)).header("origin", EVIL_ORIGIN);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn every_kind_of_route_answers_with_the_safe_headers_and_no_cors() {
    let app = with_admin().await;
    let handshake =
        format!("/webhook?hub.mode=subscribe&hub.verify_token={TOKEN}&hub.challenge=abc");
    for (path, token, status) in [
        (handshake.as_str(), None, 200),
        (
            "/webhook?hub.mode=subscribe&hub.verify_token=no&hub.challenge=a",
            None,
            403,
        ),
        ("/healthz", None, 200),
        ("/readyz", None, 200),
        ("/metrics", None, 200),
        ("/api/v1/events", Some(ADMIN_TOKEN), 200),
        ("/api/v1/events", Some("wrong"), 401),
        ("/api/v1/openapi.json", None, 200),
        ("/no-such-route", None, 404),
    ] {
        let response = cross_origin_get(&app, path, token).await;
        assert_eq!(response.status(), status, "{path}");
        assert_safe(path, response.headers());
    }
}

#[tokio::test]
async fn deliveries_signed_or_not_answer_with_the_safe_headers_and_no_cors() {
    let app = TestApp::spawn().await;
    let body = message("m.headers");
    let signed = app.post_signed(&body).await;
    assert_eq!(signed.status(), 200);
    assert_safe("POST /webhook (signed)", signed.headers());
    let unsigned = app
        .client
        .post(app.url("/webhook"))
        .header("origin", EVIL_ORIGIN)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);
    assert_safe("POST /webhook (unsigned)", unsigned.headers());
}

#[tokio::test]
async fn a_preflight_from_another_origin_gets_no_cors_permission() {
    let app = with_admin().await;
    let response = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/v1/events"))
        .header("origin", EVIL_ORIGIN)
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .unwrap();
    assert_ne!(response.status(), 200);
    assert_safe("OPTIONS /api/v1/events", response.headers());
}

#[tokio::test]
async fn the_inspector_page_also_has_a_content_security_policy() {
    let app = with_admin().await;
    let response = cross_origin_get(&app, "/", None).await;
    assert_eq!(response.status(), 200);
    assert_safe("/", response.headers());
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
}

//! The inspector at `/` over plain HTTP: sign-in, the session cookie, logout, and its headers.

use reqwest::redirect::Policy;
use reqwest::{Client, Response};

use crate::helpers::{ADMIN_TOKEN, TestApp};

/// `printf 'hookline inspector session v1' | openssl dgst -sha256 -hmac test-admin-token`
const SESSION: &str = "382c4c3a7f9d2d6c2269e0efb96b7a4989a620892e4cffe3dcd98a72c862d0ae";

async fn with_admin() -> TestApp {
    TestApp::spawn_with(|c| c.admin_token = Some(ADMIN_TOKEN.into())).await
}

/// A client that shows redirects instead of following them, and keeps no cookies of its own.
fn client() -> Client {
    Client::builder().redirect(Policy::none()).build().unwrap()
}

async fn get(app: &TestApp, path: &str, cookie: Option<&str>) -> Response {
    let mut request = client().get(app.url(path));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request.send().await.unwrap()
}

/// `POST /login` as the form sends it (the test tokens need no percent-encoding).
async fn login(app: &TestApp, token: &str) -> Response {
    client()
        .post(app.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={token}"))
        .send()
        .await
        .unwrap()
}

fn session_cookie() -> String {
    format!("hookline_session={SESSION}")
}

#[tokio::test]
async fn without_a_session_only_the_sign_in_page_and_its_css_are_served() {
    let app = with_admin().await;
    let page = get(&app, "/", None).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"action="/login""#) && html.contains(r#"name="token""#));
    assert!(!html.contains("app.js"), "{html}");
    assert_eq!(get(&app, "/assets/style.css", None).await.status(), 200);
    assert_eq!(get(&app, "/assets/app.js", None).await.status(), 401);
    assert_eq!(get(&app, "/api/v1/events", None).await.status(), 401);
}

#[tokio::test]
async fn the_admin_token_signs_in_with_a_strict_http_only_cookie() {
    let app = with_admin().await;
    let response = login(&app, ADMIN_TOKEN).await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/");
    let set_cookie = response.headers()["set-cookie"].to_str().unwrap();
    assert_eq!(
        set_cookie,
        format!("hookline_session={SESSION}; HttpOnly; SameSite=Strict; Path=/")
    );

    let cookie = session_cookie();
    let page = get(&app, "/", Some(&cookie)).await.text().await.unwrap();
    assert!(page.contains(r#"src="/assets/app.js""#), "{page}");
    let script = get(&app, "/assets/app.js", Some(&cookie)).await;
    assert_eq!(script.status(), 200);
    assert!(
        script.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    let events = get(&app, "/api/v1/events", Some(&cookie)).await;
    assert_eq!(events.status(), 200);
}

#[tokio::test]
async fn a_wrong_token_shows_the_form_again_with_401_and_no_cookie() {
    let app = with_admin().await;
    for wrong in ["", "test-admin-toke", "TEST-ADMIN-TOKEN"] {
        let response = login(&app, wrong).await;
        assert_eq!(response.status(), 401, "{wrong:?}");
        assert!(response.headers().get("set-cookie").is_none());
        let html = response.text().await.unwrap();
        assert!(html.contains("not the admin token") && html.contains("<form"));
    }
}

#[tokio::test]
async fn a_session_of_another_token_is_no_session() {
    // The same cookie against a server whose token changed: signed out everywhere.
    let app = TestApp::spawn_with(|c| c.admin_token = Some("rotated-token".into())).await;
    let cookie = session_cookie();
    let page = get(&app, "/", Some(&cookie)).await.text().await.unwrap();
    assert!(page.contains(r#"action="/login""#));
    assert_eq!(
        get(&app, "/assets/app.js", Some(&cookie)).await.status(),
        401
    );
    assert_eq!(
        get(&app, "/api/v1/events", Some(&cookie)).await.status(),
        401
    );
    let forged = get(&app, "/api/v1/events", Some("hookline_session=00")).await;
    assert_eq!(forged.status(), 401);
}

#[tokio::test]
async fn logout_expires_the_cookie() {
    let app = with_admin().await;
    let response = client()
        .post(app.url("/logout"))
        .header("cookie", session_cookie())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let set_cookie = response.headers()["set-cookie"].to_str().unwrap();
    assert!(
        set_cookie.starts_with("hookline_session=;") && set_cookie.contains("Max-Age=0"),
        "{set_cookie}"
    );
}

#[tokio::test]
async fn a_sign_in_posted_from_another_site_is_refused() {
    let app = with_admin().await;
    let response = client()
        .post(app.url("/login"))
        .header("sec-fetch-site", "cross-site")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={ADMIN_TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert!(response.headers().get("set-cookie").is_none());
}

#[tokio::test]
async fn the_api_refuses_a_state_changing_request_that_another_site_sent_with_the_cookie() {
    let app = with_admin().await;
    let cross_site = client()
        .post(app.url("/api/v1/events"))
        .header("cookie", session_cookie())
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403);
    let body = cross_site.text().await.unwrap();
    assert!(body.contains("another site"), "{body}");
    let foreign_origin = client()
        .post(app.url("/api/v1/events"))
        .header("cookie", session_cookie())
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(foreign_origin.status(), 403);
    // The same request from the inspector's own page passes the check (and meets the route's 405).
    let same_site = client()
        .post(app.url("/api/v1/events"))
        .header("cookie", session_cookie())
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(same_site.status(), 405);
    // Reads are fine from anywhere: the answer goes to the browser, not to the other site.
    let read = client()
        .get(app.url("/api/v1/events"))
        .header("cookie", session_cookie())
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
}

#[tokio::test]
async fn without_an_admin_token_the_page_says_how_to_set_one() {
    let app = TestApp::spawn().await;
    let html = get(&app, "/", None).await.text().await.unwrap();
    assert!(html.contains("HOOKLINE_ADMIN_TOKEN") && !html.contains("<form"));
    assert_eq!(login(&app, "anything").await.status(), 401);
}

#[tokio::test]
async fn inspector_pages_carry_a_strict_content_security_policy() {
    let app = with_admin().await;
    let cookie = session_cookie();
    for (path, cookie) in [
        ("/", None),
        ("/", Some(cookie.as_str())),
        ("/assets/style.css", None),
        ("/assets/app.js", Some(cookie.as_str())),
    ] {
        let response = get(&app, path, cookie).await;
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("default-src 'self'")
                && csp.contains("script-src 'self'")
                && csp.contains("frame-ancestors 'none'")
                && !csp.contains("unsafe-inline"),
            "{path}: {csp}"
        );
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
    }
}

#[tokio::test]
async fn the_pages_use_no_inline_script_or_style() {
    let app = with_admin().await;
    let cookie = session_cookie();
    for cookie in [None, Some(cookie.as_str())] {
        let html = get(&app, "/", cookie).await.text().await.unwrap();
        assert!(!html.contains("<style"), "{html}");
        assert!(!html.contains(" style="), "{html}");
        for script in html.split("<script").skip(1) {
            assert!(
                script.trim_start().starts_with("src="),
                "inline script: {script}"
            );
        }
        assert!(!html.contains(" onclick="), "{html}");
    }
}

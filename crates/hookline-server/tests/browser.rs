//! The inspector in a real browser: Debian's Chromium driven over WebDriver by chromedriver.
//!
//! Signs in, watches deliveries posted to `/webhook` appear without a reload, and saves screenshots to
//! `target/browser-artifacts/`. Without `/usr/bin/chromium` and `/usr/bin/chromedriver` (or the paths in
//! `HOOKLINE_CHROMIUM` / `HOOKLINE_CHROMEDRIVER`) the test says why and passes, unless
//! `HOOKLINE_REQUIRE_SERVICES=1` makes it fail. No browser is ever downloaded.

#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;
#[path = "browser/webdriver.rs"]
mod webdriver;

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use helpers::{ADMIN_TOKEN, TestApp};
use webdriver::{Browser, Tools};

const PAGE: &str = "104938475610293";
const USER: &str = "7392015648120394";

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// A Messenger delivery of one event of `USER` to `PAGE`; `event` is the JSON after the ids and timestamp.
fn delivery(event: &str) -> Vec<u8> {
    let t = now_ms();
    format!(
        r#"{{"object":"page","entry":[{{"id":"{PAGE}","time":{t},"messaging":[{{"sender":{{"id":"{USER}"}},"recipient":{{"id":"{PAGE}"}},"timestamp":{t},{event}}}]}}]}}"#
    )
    .into_bytes()
}

fn text_message(mid: &str, text: &str) -> Vec<u8> {
    delivery(&format!(r#""message":{{"mid":"{mid}","text":"{text}"}}"#))
}

/// The page's own message to `USER`, echoed back by Meta.
fn echo(mid: &str, text: &str) -> Vec<u8> {
    let t = now_ms();
    format!(
        r#"{{"object":"page","entry":[{{"id":"{PAGE}","time":{t},"messaging":[{{"sender":{{"id":"{PAGE}"}},"recipient":{{"id":"{USER}"}},"timestamp":{t},"message":{{"mid":"{mid}","is_echo":true,"app_id":263902037430900,"text":"{text}"}}}}]}}]}}"#
    )
    .into_bytes()
}

fn reaction(mid: &str) -> Vec<u8> {
    delivery(&format!(
        r#""reaction":{{"mid":"{mid}","action":"react","reaction":"love","emoji":"\u2764\ufe0f"}}"#
    ))
}

fn artifacts() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("browser-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn the_inspector_signs_in_and_shows_deliveries_live() {
    let Some(tools) = Tools::find() else {
        return;
    };
    let app = TestApp::spawn_with(|c| c.admin_token = Some(ADMIN_TOKEN.into())).await;
    let browser = Browser::start(&tools).await;

    // Signed out: the sign-in page; a wrong token is refused, the right one opens the app.
    browser.goto(&app.url("/")).await;
    browser.wait_text("h1", "hookline", WAIT).await;
    browser.type_into("#token", "not-the-token").await;
    browser.click("button[type=submit]").await;
    browser
        .wait_text(".notice.error", "not the admin token", WAIT)
        .await;
    browser.type_into("#token", ADMIN_TOKEN).await;
    browser.click("button[type=submit]").await;
    browser.wait_text("#tab-events", "Event log", WAIT).await;
    let cookies = browser.exec("return document.cookie", &[]).await;
    assert!(
        !cookies.as_str().unwrap_or("").contains("hookline_session"),
        "the session cookie must be HttpOnly: {cookies}"
    );

    // No deliveries yet: the list says so (no conversations yet, or no conversation routes on this server).
    browser
        .wait_text("#conversation-empty", "onversations", WAIT)
        .await;
    browser.screenshot(&artifacts().join("signed-in.png")).await;

    // The event log, empty, then live: a message and a reaction appear without a reload.
    browser.click("#tab-events").await;
    browser
        .wait_text("#events-empty", "No events yet", WAIT)
        .await;
    browser.wait_live().await;
    browser.exec("window.__sameDocument = true", &[]).await;
    let text = "Is the green vase still available?";
    assert_eq!(
        app.post_signed(&text_message("m.browser.1", text))
            .await
            .status(),
        200
    );
    assert_eq!(
        app.post_signed(&reaction("m.browser.1")).await.status(),
        200
    );
    browser.wait_text("#event-log", text, WAIT).await;
    browser.wait_text("#event-log", "reaction", WAIT).await;
    let rows = browser
        .exec(
            "return document.querySelectorAll('#event-log .log-row').length",
            &[],
        )
        .await;
    assert_eq!(rows, 2, "one row per stored event");
    browser.assert_same_document().await;

    // A row opens to its raw JSON.
    browser
        .click("#event-log .log-row:last-child .raw-toggle")
        .await;
    browser
        .wait_text(
            "#event-log .log-row:last-child .raw",
            "\"text\": \"Is the green vase",
            WAIT,
        )
        .await;
    browser.screenshot(&artifacts().join("event-log.png")).await;

    conversation_view(&app, &browser, text).await;

    // The pages kept to their Content-Security-Policy: nothing inline, nothing from elsewhere.
    let violations: Vec<String> = browser
        .console()
        .await
        .into_iter()
        .filter(|m| m.contains("Content Security Policy"))
        .collect();
    assert!(violations.is_empty(), "CSP violations: {violations:#?}");

    // Sign out: back to the sign-in page, and the API refuses the browser.
    browser.click(".topbar-end button[type=submit]").await;
    browser.wait_text("body", "Admin token", WAIT).await;
    browser.quit().await;
}

/// The conversation list and view, which need the conversation routes of the admin API.
async fn conversation_view(app: &TestApp, browser: &Browser, first_text: &str) {
    let status = app
        .get_as("/api/v1/conversations", ADMIN_TOKEN)
        .await
        .status();
    if status != 200 {
        println!(
            "skipped: conversation routes not present (GET /api/v1/conversations answered {status}); \
             the conversation view is not checked"
        );
        return;
    }
    browser.click("#tab-conversations").await;
    browser
        .wait_text("#conversation-list", first_text, WAIT)
        .await;
    browser.click("#conversation-list .conv-link").await;
    browser.wait_text("#thread-body", first_text, WAIT).await;
    browser
        .wait_text("#thread-body .reactions", "\u{2764}", WAIT)
        .await;

    // A new message in the open conversation appears in it, and in the list, without a reload.
    let second = "Can I pick it up on Saturday?";
    assert_eq!(
        app.post_signed(&text_message("m.browser.2", second))
            .await
            .status(),
        200
    );
    browser.wait_text("#thread-body", second, WAIT).await;
    browser.wait_text("#conversation-list", second, WAIT).await;

    // The business's answer (an echo) is an outbound bubble.
    let answer = "Yes, any time after ten.";
    assert_eq!(
        app.post_signed(&echo("m.browser.3", answer)).await.status(),
        200
    );
    browser
        .wait_text("#thread-body .msg.out", answer, WAIT)
        .await;
    // The header and the list follow: three messages, and nothing unread once the business answered.
    browser.wait_text(".thread-count", "3 messages", WAIT).await;
    browser.assert_same_document().await;
    browser
        .screenshot(&artifacts().join("conversation.png"))
        .await;
}

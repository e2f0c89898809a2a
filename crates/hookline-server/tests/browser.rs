//! The inspector in a real browser: Debian's Chromium driven over WebDriver by chromedriver.
//!
//! Signs in, watches deliveries posted to `/webhook` appear without a reload, replies through a local
//! stand-in for the Send API and follows the reply's receipts, and saves screenshots to
//! `target/browser-artifacts/`. Without `/usr/bin/chromium` and `/usr/bin/chromedriver` (or the paths in
//! `HOOKLINE_CHROMIUM` / `HOOKLINE_CHROMEDRIVER`) the test says why and passes, unless
//! `HOOKLINE_REQUIRE_SERVICES=1` makes it fail. No browser is ever downloaded.

#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;
#[path = "browser/webdriver.rs"]
mod webdriver;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use helpers::{ADMIN_TOKEN, SECRET, TestApp};
use hookline_graph::mock::{MockFailure, MockGraph, Route, SentMessage};
use hookline_meta::signature::sign;
use hookline_server::config::AccountConfig;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use webdriver::{Browser, ENTER, RELEASE, SHIFT, Tools};

const PAGE: &str = "104938475610293";
const USER: &str = "7392015648120394";
/// The Meta app of the reply test's server: echoes naming it are the server's own.
const APP_ID: &str = "263902037430900";

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
    sign_in(&browser).await;
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

    assert_no_csp_violations(&browser).await;

    // Sign out: back to the sign-in page, and the API refuses the browser.
    browser.click(".topbar-end button[type=submit]").await;
    browser.wait_text("body", "Admin token", WAIT).await;
    browser.quit().await;
}

/// Signs in on the sign-in page the browser shows.
async fn sign_in(browser: &Browser) {
    browser.type_into("#token", ADMIN_TOKEN).await;
    browser.click("button[type=submit]").await;
    browser.wait_text("#tab-events", "Event log", WAIT).await;
}

/// The pages kept to their Content-Security-Policy: nothing inline, nothing from elsewhere.
async fn assert_no_csp_violations(browser: &Browser) {
    let violations: Vec<String> = browser
        .console()
        .await
        .into_iter()
        .filter(|m| m.contains("Content Security Policy"))
        .collect();
    assert!(violations.is_empty(), "CSP violations: {violations:#?}");
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

/// Meta's echo of a message the Send API accepted: from the Page, with the send's metadata and this
/// server's app id.
fn echo_of(sent: &SentMessage) -> Vec<u8> {
    let t = now_ms();
    let app_id: u64 = APP_ID.parse().unwrap();
    json!({"object": "page", "entry": [{"id": PAGE, "time": t, "messaging": [{
        "sender": {"id": PAGE}, "recipient": {"id": USER}, "timestamp": t,
        "message": {
            "mid": sent.message_id, "is_echo": true, "app_id": app_id,
            "metadata": sent.metadata, "text": sent.text,
        },
    }]}]})
    .to_string()
    .into_bytes()
}

/// Makes the mock Send API post each accepted message's echo to `app` before it answers, the order in
/// which a send and its echo could show as two messages. The first send waits for `go` first, so the
/// test can see it pending.
fn echo_before_answering(graph: &MockGraph, app: &TestApp, go: oneshot::Receiver<()>) {
    let client = app.client.clone();
    let webhook = app.url("/webhook");
    let go = Arc::new(Mutex::new(Some(go)));
    graph.on_send(move |sent: SentMessage| {
        let (client, webhook) = (client.clone(), webhook.clone());
        let go = go.lock().unwrap().take();
        async move {
            if let Some(go) = go {
                let _ = go.await;
            }
            let body = echo_of(&sent);
            let status = client
                .post(&webhook)
                .header("content-type", "application/json")
                .header("x-hub-signature-256", sign(SECRET.as_bytes(), &body))
                .body(body)
                .send()
                .await
                .map(|r| r.status().as_u16());
            assert_eq!(
                status.ok(),
                Some(200),
                "the echo of {} was refused",
                sent.message_id
            );
        }
    });
}

/// The outbound bubbles whose text is `arguments[0]`: send id, status mark, and whether an event (the
/// echo) carries them.
const OUTBOUND: &str = "return [...document.querySelectorAll('#thread-body .msg.out')]
    .filter((m) => m.querySelector('.text')?.textContent === arguments[0])
    .map((m) => ({
        send_id: m.dataset.sendId || null,
        status: m.querySelector('.status')?.dataset.status || null,
        echo: m.querySelector('.raw-toggle') !== null,
    }))";

/// The status marks of the outbound bubbles whose text is `arguments[0]`.
const STATUSES: &str = "return [...document.querySelectorAll('#thread-body .msg.out')]
    .filter((m) => m.querySelector('.text')?.textContent === arguments[0])
    .map((m) => m.querySelector('.status')?.dataset.status || null)";

/// The mock's accepted sends, once there are `count`.
async fn sent_messages(graph: &MockGraph, count: usize) -> Vec<SentMessage> {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let sent = graph.sent_messages();
        if sent.len() >= count {
            return sent;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the Send API got {} messages, not {count}",
            sent.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const REPLY_BOX: &str = "const box = document.getElementById('reply-text');
    const send = document.getElementById('reply-send');
    return {text: box.value, sending: send.disabled}";

#[tokio::test]
async fn the_inspector_replies_and_follows_the_reply_s_receipts() {
    let Some(tools) = Tools::find() else {
        return;
    };
    let graph = MockGraph::start().await;
    let graph_url = graph.url();
    let app = TestApp::spawn_with(move |c| {
        c.admin_token = Some(ADMIN_TOKEN.into());
        c.graph_url = graph_url;
        c.accounts = vec![AccountConfig::page(PAGE, "EAAtoken")];
        c.app_id = vec![APP_ID.into()];
    })
    .await;
    let (go, wait) = oneshot::channel();
    echo_before_answering(&graph, &app, wait);
    let question = "Do you ship to Lisbon?";
    assert_eq!(
        app.post_signed(&text_message("m.reply.1", question))
            .await
            .status(),
        200
    );

    let browser = Browser::start(&tools).await;
    browser.goto(&app.url("/")).await;
    sign_in(&browser).await;
    browser.wait_live().await;
    browser.click("#conversation-list .conv-link").await;
    browser.wait_text("#thread-body", question, WAIT).await;
    browser.exec("window.__sameDocument = true", &[]).await;

    // While the Send API has not answered: shown at once with a clock, and the button waits.
    let answer = "Yes, to Lisbon in three days.";
    browser.type_into("#reply-text", answer).await;
    browser.click("#reply-send").await;
    browser
        .wait_value(
            "the reply as it goes out",
            STATUSES,
            &[json!(answer)],
            &json!(["pending"]),
        )
        .await;
    let box_state = browser.exec(REPLY_BOX, &[]).await;
    assert_eq!(box_state["sending"], true, "{box_state}");
    let sent = sent_messages(&graph, 1).await;
    let (send_id, mid) = (
        sent[0].metadata.clone().unwrap(),
        sent[0].message_id.clone(),
    );
    assert!(send_id.starts_with("hl_"), "{send_id}");
    assert_eq!(
        (sent[0].text.as_deref(), sent[0].recipient_id.as_deref()),
        (Some(answer), Some(USER))
    );
    // The person writes meanwhile: the thread, drawn again, has the recorded send, still pending.
    let meanwhile = "Is it gift-wrapped?";
    assert_eq!(
        app.post_signed(&text_message("m.reply.2", meanwhile))
            .await
            .status(),
        200
    );
    browser.wait_text("#thread-body", meanwhile, WAIT).await;
    browser
        .wait_value(
            "the reply, pending",
            OUTBOUND,
            &[json!(answer)],
            &json!([{"send_id": send_id, "status": "pending", "echo": false}]),
        )
        .await;
    browser
        .screenshot(&artifacts().join("reply-pending.png"))
        .await;
    go.send(()).unwrap();

    // Sent, its echo arrived before the answer: one message, the send's, carried by the echo; the box
    // is empty and ready again.
    browser
        .wait_value(
            "the reply box after the send",
            REPLY_BOX,
            &[],
            &json!({"text": "", "sending": false}),
        )
        .await;
    assert_eq!(graph.sent_messages().len(), 1);
    let shown = |status: &str| json!([{"send_id": send_id, "status": status, "echo": true}]);
    browser
        .wait_value(
            "the reply, sent",
            OUTBOUND,
            &[json!(answer)],
            &shown("sent"),
        )
        .await;
    let mark = "const s = document.querySelector(`#thread-body .msg[data-send-id='${arguments[0]}'] .status`);
        return [s.textContent, getComputedStyle(s).color]";
    let sent_mark = browser.exec(mark, &[json!(send_id)]).await;
    assert_eq!(sent_mark[0], "✓", "one tick once Meta took it");
    browser
        .wait_text("#conversation-list", &format!("You: {answer}"), WAIT)
        .await;

    // Receipts move it on: two ticks when delivered, two in the read colour when read.
    let delivered = delivery(&format!(
        r#""delivery":{{"mids":["{mid}"],"watermark":{}}}"#,
        now_ms()
    ));
    assert_eq!(app.post_signed(&delivered).await.status(), 200);
    browser
        .wait_value(
            "the reply, delivered",
            OUTBOUND,
            &[json!(answer)],
            &shown("delivered"),
        )
        .await;
    let delivered_mark = browser.exec(mark, &[json!(send_id)]).await;
    let read = delivery(&format!(r#""read":{{"watermark":{}}}"#, now_ms()));
    assert_eq!(app.post_signed(&read).await.status(), 200);
    browser
        .wait_value(
            "the reply, read",
            OUTBOUND,
            &[json!(answer)],
            &shown("read"),
        )
        .await;
    let read_mark = browser.exec(mark, &[json!(send_id)]).await;
    assert_eq!(
        (&delivered_mark[0], &read_mark[0]),
        (&json!("✓✓"), &json!("✓✓"))
    );
    assert_ne!(
        delivered_mark[1], read_mark[1],
        "read ticks are coloured apart from delivered ones"
    );
    browser.assert_same_document().await;
    browser
        .screenshot(&artifacts().join("reply-read.png"))
        .await;

    // The API lists the reply once: the send, joined to its echo.
    let conversations: Value = app
        .get_as("/api/v1/conversations", ADMIN_TOKEN)
        .await
        .json()
        .await
        .unwrap();
    let id = conversations["items"][0]["id"].as_str().unwrap();
    let messages: Value = app
        .get_as(&format!("/api/v1/conversations/{id}/messages"), ADMIN_TOKEN)
        .await
        .json()
        .await
        .unwrap();
    let replies: Vec<&Value> = messages["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["text"] == answer)
        .collect();
    assert_eq!(replies.len(), 1, "{messages:#}");
    let reply = replies[0];
    assert_eq!(
        (
            &reply["direction"],
            &reply["echo_source"],
            &reply["send_id"],
            &reply["mid"],
            &reply["status"]
        ),
        (
            &json!("out"),
            &json!("this_app"),
            &json!(send_id),
            &json!(mid),
            &json!("read")
        ),
        "{reply:#}"
    );

    refused_reply(&graph, &browser).await;
    assert_no_csp_violations(&browser).await;
    browser.quit().await;
}

/// A reply Meta refuses: Shift+Enter makes a new line, Enter sends, the API's reason shows, the text
/// stays, and the thread shows the send failed with its reason.
async fn refused_reply(graph: &MockGraph, browser: &Browser) {
    graph.fail_next_on(Route::Send, 1, MockFailure::outside_window());
    let late = "Still interested?\nWe can hold it until Friday.";
    browser
        .type_into(
            "#reply-text",
            &format!("Still interested?{SHIFT}{ENTER}{RELEASE}We can hold it until Friday."),
        )
        .await;
    let box_state = browser.exec(REPLY_BOX, &[]).await;
    assert_eq!(box_state, json!({"text": late, "sending": false}));
    assert_eq!(graph.requests_for(Route::Send).len(), 1, "Shift+Enter sent");

    browser.send_keys("#reply-text", ENTER).await;
    browser
        .wait_text("#reply-error", "24 hours old", WAIT)
        .await;
    browser
        .wait_value(
            "the reply box after the refusal",
            REPLY_BOX,
            &[],
            &json!({"text": late, "sending": false}),
        )
        .await;
    assert_eq!(graph.requests_for(Route::Send).len(), 2);
    assert_eq!(graph.sent_messages().len(), 1, "the refused send was taken");
    let failed = "return [...document.querySelectorAll('#thread-body .msg.out.failed')]
        .filter((m) => m.querySelector('.text')?.textContent === arguments[0])
        .map((m) => ({
            send: (m.dataset.sendId || '').startsWith('hl_'),
            status: m.querySelector('.status').dataset.status,
            mark: m.querySelector('.status').textContent,
            tooltip: m.querySelector('.status').title.includes('24 hours old'),
            line: m.querySelector('.send-error').textContent.includes('24 hours old'),
        }))";
    browser
        .wait_value(
            "the refused reply in the thread",
            failed,
            &[json!(late)],
            &json!([{"send": true, "status": "failed", "mark": "✕", "tooltip": true, "line": true}]),
        )
        .await;
    browser
        .screenshot(&artifacts().join("reply-refused.png"))
        .await;
}

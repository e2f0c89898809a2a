//! Replies through the admin API against a local Graph stand-in: the Send API call Meta documents, the
//! send recorded with its id as `metadata`, and its echo folded into the same message whether it arrives
//! after the call's answer, before it, or without metadata; each Graph error class answered with its
//! status and the send recorded `failed`; bad replies refused before anything is sent.

use hookline_graph::mock::{MockFailure, MockGraph, Route, SentMessage};
use hookline_server::config::AccountConfig;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_TOKEN, Log, TestApp, json};

const PAGE: &str = "104938475610293";
const USER: &str = "7392015648120394";
const INSTAGRAM: &str = "17841400000000042";
const IG_USER: &str = "6543210987654321";
const PAGE_TOKEN: &str = "EAAreplyPageToken123";
const INSTAGRAM_TOKEN: &str = "IGAAreplyToken456";
const APP_ID: &str = "263902037430900";

async fn replying(graph: &MockGraph) -> TestApp {
    let url = graph.url();
    TestApp::spawn_with(move |c| {
        c.admin_token = Some(ADMIN_TOKEN.into());
        c.graph_url = url;
        c.app_id = vec![APP_ID.into()];
        c.accounts = vec![
            AccountConfig::page(PAGE, PAGE_TOKEN),
            AccountConfig::instagram(INSTAGRAM, INSTAGRAM_TOKEN),
        ];
    })
    .await
}

/// `object`'s delivery of one messaging event from `sender` to `recipient` on `account`.
fn delivery(object: &str, account: &str, sender: &str, recipient: &str, event: Value) -> Vec<u8> {
    let mut messaging = json!({
        "sender": {"id": sender},
        "recipient": {"id": recipient},
        "timestamp": 1_764_000_000_000i64,
    });
    for (key, value) in event.as_object().unwrap() {
        messaging[key] = value.clone();
    }
    serde_json::to_vec(&json!({
        "object": object,
        "entry": [{"id": account, "time": 1_764_000_000_000i64, "messaging": [messaging]}],
    }))
    .unwrap()
}

/// The echo Meta delivers for a send of this app: `metadata` as the send gave it, when it did.
fn echo(sent: &SentMessage, metadata: Option<&str>) -> Vec<u8> {
    let mut message = json!({
        "mid": sent.message_id,
        "is_echo": true,
        "app_id": APP_ID.parse::<u64>().unwrap(),
        "text": sent.text,
    });
    if let Some(metadata) = metadata {
        message["metadata"] = metadata.into();
    }
    delivery(
        "page",
        PAGE,
        PAGE,
        sent.recipient_id.as_deref().unwrap(),
        json!({ "message": message }),
    )
}

/// Stores a message from `USER` to `PAGE` and answers the id of their conversation.
async fn conversation(app: &TestApp) -> String {
    conversation_of(app, "page", PAGE, USER).await
}

async fn conversation_of(app: &TestApp, object: &str, account: &str, user: &str) -> String {
    let inbound = delivery(
        object,
        account,
        user,
        account,
        json!({"message": {"mid": format!("m_in_{user}"), "text": "Is my order shipped?"}}),
    );
    assert_eq!(app.post_signed(&inbound).await.status(), 200);
    app.projected().await;
    let page = json(
        app.get_as(
            &format!("/api/v1/conversations?account={account}"),
            ADMIN_TOKEN,
        )
        .await,
    )
    .await;
    page["items"][0]["id"].as_str().unwrap().to_owned()
}

async fn reply(app: &TestApp, conversation: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/api/v1/conversations/{conversation}/messages")))
        .bearer_auth(ADMIN_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn messages(app: &TestApp, conversation: &str) -> Vec<Value> {
    app.projected().await;
    let page = json(
        app.get_as(
            &format!("/api/v1/conversations/{conversation}/messages"),
            ADMIN_TOKEN,
        )
        .await,
    )
    .await;
    page["items"].as_array().unwrap().clone()
}

fn outbound(messages: &[Value]) -> Vec<&Value> {
    messages
        .iter()
        .filter(|m| m["direction"] == "out")
        .collect()
}

#[tokio::test]
async fn a_reply_calls_the_send_api_with_its_id_as_metadata_and_is_recorded_sent() {
    let graph = MockGraph::start().await;
    let app = replying(&graph).await;
    let id = conversation(&app).await;

    let response = reply(&app, &id, json!({"text": "Yes, it left today."})).await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let send = json(response).await;
    let send_id = send["id"].as_str().unwrap();
    assert!(send_id.starts_with("hl_"), "{send}");
    assert_eq!(send["status"], "sent");
    assert_eq!(send["conversation_id"], id.as_str());
    assert_eq!(location, format!("/api/v1/sends/{send_id}"));

    // The call Meta documents: POST /{version}/{page-id}/messages with the Page token and a JSON body.
    let calls = graph.requests_for(Route::Send);
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(call.method, "POST");
    assert_eq!(call.path, format!("/v26.0/{PAGE}/messages"));
    assert_eq!(call.token(), Some(PAGE_TOKEN));
    assert_eq!(
        call.json.as_ref().unwrap(),
        &json!({
            "recipient": {"id": USER},
            "messaging_type": "RESPONSE",
            "message": {"text": "Yes, it left today.", "metadata": send_id},
        })
    );
    let sent = &graph.sent_messages()[0];
    assert_eq!(send["message_id"], sent.message_id.as_str());

    // The send can be read back, and the conversation shows it before its echo arrives.
    let read = json(app.get_as(&location, ADMIN_TOKEN).await).await;
    assert_eq!(read, send);
    let before = messages(&app, &id).await;
    let out = outbound(&before);
    assert_eq!(out.len(), 1, "{before:#?}");
    assert_eq!(out[0]["send_id"], send_id);
    assert_eq!(out[0]["echo_source"], "this_app");
    assert_eq!(out[0]["text"], "Yes, it left today.");

    // Its echo, then receipts: still one message, now the echo's, with its status.
    assert_eq!(
        app.post_signed(&echo(sent, Some(send_id))).await.status(),
        200
    );
    let receipt = delivery(
        "page",
        PAGE,
        USER,
        PAGE,
        json!({"delivery": {"mids": [sent.message_id], "watermark": 1_764_000_000_500i64}}),
    );
    assert_eq!(app.post_signed(&receipt).await.status(), 200);
    let after = messages(&app, &id).await;
    let out = outbound(&after);
    assert_eq!(out.len(), 1, "{after:#?}");
    assert_eq!(out[0]["mid"], sent.message_id.as_str());
    assert_eq!(out[0]["send_id"], send_id);
    assert_eq!(out[0]["echo_source"], "this_app");
    assert_eq!(out[0]["status"], "delivered");
    assert!(out[0]["dedup_key"].as_str().is_some(), "{after:#?}");

    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(r#"hookline_sends_total{object="page",outcome="sent"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn an_echo_that_overtakes_the_send_api_answer_is_the_same_one_message() {
    let graph = MockGraph::start().await;
    let app = replying(&graph).await;
    let id = conversation(&app).await;

    // Meta sometimes delivers the echo before the Send API call returns: the hook posts it (signed,
    // to /webhook) and waits for its 200 before the mock answers the send.
    let client = app.client.clone();
    let webhook = app.url("/webhook");
    graph.on_send(move |sent| {
        let client = client.clone();
        let webhook = webhook.clone();
        async move {
            let body = echo(&sent, sent.metadata.as_deref());
            let signature =
                hookline_meta::signature::sign(crate::helpers::SECRET.as_bytes(), &body);
            let status = client
                .post(webhook)
                .header("x-hub-signature-256", signature)
                .body(body)
                .send()
                .await
                .unwrap()
                .status();
            assert_eq!(status, 200);
        }
    });

    let send = json(reply(&app, &id, json!({"text": "On its way!"})).await).await;
    assert_eq!(send["status"], "sent", "{send}");
    let all = messages(&app, &id).await;
    let out = outbound(&all);
    assert_eq!(out.len(), 1, "{all:#?}");
    assert_eq!(out[0]["send_id"], send["id"]);
    assert_eq!(out[0]["mid"], send["message_id"]);
    assert_eq!(out[0]["echo_source"], "this_app");
    assert_eq!(out[0]["status"], "sent");
    let conversation = json(
        app.get_as(&format!("/api/v1/conversations/{id}"), ADMIN_TOKEN)
            .await,
    )
    .await;
    assert_eq!(conversation["message_count"], 2, "{conversation}");
    assert_eq!(conversation["unread"], 0, "{conversation}");
}

#[tokio::test]
async fn an_echo_without_metadata_is_joined_by_its_mid() {
    let graph = MockGraph::start().await;
    let app = replying(&graph).await;
    let id = conversation(&app).await;

    let send = json(reply(&app, &id, json!({"text": "Tracking: ZX81"})).await).await;
    let sent = graph.sent_messages().pop().unwrap();
    assert_eq!(app.post_signed(&echo(&sent, None)).await.status(), 200);
    let all = messages(&app, &id).await;
    let out = outbound(&all);
    assert_eq!(out.len(), 1, "{all:#?}");
    assert_eq!(out[0]["send_id"], send["id"]);
    assert_eq!(out[0]["echo_source"], "this_app");
}

#[tokio::test]
async fn attachments_quick_replies_and_tags_reach_the_send_api_as_meta_documents_them() {
    let graph = MockGraph::start().await;
    let app = replying(&graph).await;
    let id = conversation(&app).await;

    let body = json!({
        "attachment": {"type": "image", "url": "https://cdn.example.com/label.png"},
        "quick_replies": [
            {"title": "Track it", "payload": "TRACK"},
            {"title": "Thanks"},
            {"content_type": "user_email"},
        ],
        "tag": "HUMAN_AGENT",
    });
    let response = reply(&app, &id, body).await;
    assert_eq!(response.status(), 201);
    let send = json(response).await;
    let call = graph.requests_for(Route::Send).pop().unwrap();
    assert_eq!(
        call.json.unwrap(),
        json!({
            "recipient": {"id": USER},
            "messaging_type": "MESSAGE_TAG",
            "tag": "HUMAN_AGENT",
            "message": {
                "attachment": {"type": "image", "payload": {"url": "https://cdn.example.com/label.png", "is_reusable": false}},
                "quick_replies": [
                    {"content_type": "text", "title": "Track it", "payload": "TRACK"},
                    {"content_type": "text", "title": "Thanks", "payload": "Thanks"},
                    {"content_type": "user_email"},
                ],
                "metadata": send["id"],
            },
        })
    );
    // The recorded request is the body without its recipient.
    assert_eq!(send["request"]["tag"], "HUMAN_AGENT");
    assert!(send["request"].get("recipient").is_none(), "{send}");
    let all = messages(&app, &id).await;
    let out = outbound(&all);
    assert_eq!(out[0]["attachments"][0]["type"], "image");
    assert_eq!(
        out[0]["attachments"][0]["url"],
        "https://cdn.example.com/label.png"
    );
}

#[tokio::test]
async fn instagram_replies_go_to_the_instagram_account_with_its_token() {
    let graph = MockGraph::start().await;
    let app = replying(&graph).await;
    let id = conversation_of(&app, "instagram", INSTAGRAM, IG_USER).await;

    let response = reply(&app, &id, json!({"text": "Hi from Instagram"})).await;
    assert_eq!(response.status(), 201);
    let call = graph.requests_for(Route::Send).pop().unwrap();
    assert_eq!(call.path, format!("/v26.0/{INSTAGRAM}/messages"));
    assert_eq!(call.token(), Some(INSTAGRAM_TOKEN));
    assert_eq!(call.json.unwrap()["recipient"], json!({"id": IG_USER}));

    // Instagram's limit is 1,000 bytes: refused here, nothing sent nor recorded.
    let long = "é".repeat(600);
    let response = reply(&app, &id, json!({ "text": long })).await;
    assert_eq!(response.status(), 400);
    let error = json(response).await;
    assert!(error["error"].as_str().unwrap().contains("1000"), "{error}");
    assert_eq!(graph.requests_for(Route::Send).len(), 1);
}

#[tokio::test]
async fn graph_refusals_answer_their_status_and_record_the_send_failed() {
    let (log, _guard) = Log::capture();
    let graph = MockGraph::start().await;
    let app = replying(&graph).await;
    let id = conversation(&app).await;

    let cases: Vec<(MockFailure, u16, &str)> = vec![
        (MockFailure::outside_window(), 422, "24"),
        (MockFailure::user_unavailable(), 422, "available"),
        (MockFailure::rate_limited(613, Some(2)), 429, "rate"),
        (MockFailure::invalid_token(), 502, "token"),
        (MockFailure::server_error(500), 502, "may or may not"),
    ];
    for (failure, status, says) in cases {
        graph.fail_next_on(Route::Send, 1, failure.clone());
        let response = reply(&app, &id, json!({"text": "Hello again"})).await;
        assert_eq!(response.status(), status, "{failure:?}");
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = json(response).await;
        let error = body["error"].as_str().unwrap();
        assert!(error.to_lowercase().contains(says), "{failure:?}: {error}");
        assert!(!error.contains(PAGE_TOKEN), "{error}");
        let send_id = body["send_id"].as_str().expect("names the send");
        let send = json(
            app.get_as(&format!("/api/v1/sends/{send_id}"), ADMIN_TOKEN)
                .await,
        )
        .await;
        assert_eq!(send["status"], "failed", "{send}");
        assert!(send["error"].as_str().is_some_and(|e| !e.is_empty()));
        if status == 429 {
            assert_eq!(retry_after.as_deref(), Some("120"), "{body}");
        }
    }

    // Each failed send shows once in the conversation, failed, with its error.
    let all = messages(&app, &id).await;
    let out = outbound(&all);
    assert_eq!(out.len(), 5, "{all:#?}");
    assert!(out.iter().all(|m| m["status"] == "failed"
        && m["send_error"].as_str().is_some()
        && m["echo_source"] == "this_app"));
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(r#"hookline_sends_total{object="page",outcome="failed"} 4"#)
            && metrics.contains(r#"hookline_sends_total{object="page",outcome="unknown"} 1"#),
        "{metrics}"
    );
    // Every refusal is logged with its send id, never with the token.
    let log = log.text();
    assert!(log.contains("reply not sent"), "{log}");
    assert!(!log.contains(PAGE_TOKEN), "{log}");
}

#[tokio::test]
async fn bad_replies_are_refused_before_anything_is_recorded_or_sent() {
    let graph = MockGraph::start().await;
    let app = replying(&graph).await;
    let id = conversation(&app).await;

    let cases = [
        (json!({}), 400, "empty"),
        (json!({"txt": "hi"}), 400, "txt"),
        (json!({"text": ""}), 400, "empty"),
        (json!({"text": "x".repeat(2001)}), 400, "2000"),
        (
            json!({"text": "hi", "attachment": {"type": "image", "url": "https://x.example/a.png"}}),
            400,
            "not both",
        ),
        (
            json!({"attachment": {"type": "image", "url": "ftp://x.example/a.png"}}),
            400,
            "https://",
        ),
        (
            json!({"text": "hi", "messaging_type": "NOW"}),
            400,
            "RESPONSE",
        ),
        (
            json!({"text": "hi", "quick_replies": [{"title": "a title longer than twenty"}]}),
            400,
            "20",
        ),
    ];
    for (body, status, says) in cases {
        let response = reply(&app, &id, body.clone()).await;
        assert_eq!(response.status(), status, "{body}");
        let error = json(response).await;
        assert!(
            error["error"].as_str().unwrap().contains(says),
            "{body}: {error}"
        );
    }
    // Not JSON at all.
    let response = app
        .client
        .post(app.url(&format!("/api/v1/conversations/{id}/messages")))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);

    let response = reply(&app, "nope", json!({"text": "hi"})).await;
    assert_eq!(response.status(), 404);
    let response = app
        .client
        .post(app.url(&format!("/api/v1/conversations/{id}/messages")))
        .json(&json!({"text": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let response = app.get_as("/api/v1/sends/not-an-id", ADMIN_TOKEN).await;
    assert_eq!(response.status(), 400);
    let response = app
        .get_as("/api/v1/sends/hl_01JQ3Z8Y2N6V4W5X7A9B0C1D2E", ADMIN_TOKEN)
        .await;
    assert_eq!(response.status(), 404);

    assert!(graph.requests_for(Route::Send).is_empty());
    let all = messages(&app, &id).await;
    assert!(outbound(&all).is_empty(), "{all:#?}");
}

#[tokio::test]
async fn a_conversation_without_a_configured_account_says_how_to_add_one() {
    let graph = MockGraph::start().await;
    let app = replying(&graph).await;
    let id = conversation_of(&app, "page", "555000111", USER).await;

    let response = reply(&app, &id, json!({"text": "hi"})).await;
    assert_eq!(response.status(), 422);
    let error = json(response).await;
    let text = error["error"].as_str().unwrap();
    assert!(
        text.contains("555000111") && text.contains("[[account]]"),
        "{text}"
    );
    assert!(graph.requests_for(Route::Send).is_empty());
}

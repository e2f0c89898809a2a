//! The conversation routes: the token, what a conversation shows, pages, 404s and bad cursors, and the
//! same answers from two servers that received the same deliveries in other orders.

use serde_json::Value;

use crate::helpers::{ADMIN_TOKEN, TestApp, fixtures, walk, wire};

async fn with_admin() -> TestApp {
    TestApp::spawn_with(|c| {
        c.admin_token = Some(ADMIN_TOKEN.into());
        c.app_id = vec!["1517906555124442".into()];
    })
    .await
}

async fn get(app: &TestApp, path: &str) -> Value {
    let response = app.get_as(path, ADMIN_TOKEN).await;
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

const PAGE: &str = "104938475610293";
const T: i64 = 1_767_000_000_000;

fn messaging(ts: i64, event: &str) -> Vec<u8> {
    format!(r#"{{"object":"page","entry":[{{"id":"{PAGE}","time":{ts},"messaging":[{{"timestamp":{ts},{event}}}]}}]}}"#).into_bytes()
}

fn thread() -> Vec<Vec<u8>> {
    let user = r#""sender":{"id":"7"},"recipient":{"id":"104938475610293"}"#;
    let page = r#""sender":{"id":"104938475610293"},"recipient":{"id":"7"}"#;
    vec![
        messaging(
            T + 1_000,
            &format!(r#"{user},"message":{{"mid":"m.1","text":"Where is my order?"}}"#),
        ),
        messaging(
            T + 2_000,
            &format!(
                r#"{page},"message":{{"mid":"m.2","is_echo":true,"app_id":1517906555124442,"text":"On its way"}}"#
            ),
        ),
        messaging(
            T + 3_000,
            &format!(r#"{user},"delivery":{{"watermark":{}}}"#, T + 2_000),
        ),
        messaging(
            T + 4_000,
            &format!(
                r#"{user},"reaction":{{"mid":"m.2","action":"react","reaction":"love","emoji":"\u2764"}}"#
            ),
        ),
        messaging(
            T + 5_000,
            &format!(
                r#"{user},"message_edit":{{"mid":"m.1","text":"Where is my order #12?","num_edit":1}}"#
            ),
        ),
        messaging(
            T + 6_000,
            &format!(r#"{user},"postback":{{"title":"Track","payload":"TRACK"}}"#),
        ),
    ]
}

#[tokio::test]
async fn a_conversation_shows_messages_status_reactions_edits_and_notes() {
    let app = with_admin().await;
    for body in thread().iter().rev() {
        assert_eq!(app.post_signed(body).await.status(), 200);
    }
    app.projected().await;

    let list = get(&app, "/api/v1/conversations").await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    let conversation = &items[0];
    assert_eq!(conversation["account_id"], PAGE);
    assert_eq!(conversation["counterpart"], serde_json::json!({"id": "7"}));
    assert_eq!(conversation["last_event_ms"], T + 6_000);
    assert_eq!(conversation["message_count"], 2);
    assert_eq!(conversation["unread"], 0);
    assert_eq!(conversation["owner_app_id"], Value::Null);
    let id = conversation["id"].as_str().unwrap();
    assert_eq!(
        &get(&app, &format!("/api/v1/conversations/{id}")).await,
        conversation
    );

    let messages = get(&app, &format!("/api/v1/conversations/{id}/messages")).await;
    let messages = messages["items"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["direction"], "in");
    assert_eq!(messages[0]["text"], "Where is my order #12?");
    assert_eq!(messages[0]["edit_count"], 1);
    assert_eq!(messages[0]["status"], Value::Null);
    assert_eq!(messages[1]["direction"], "out");
    assert_eq!(messages[1]["status"], "delivered");
    assert_eq!(messages[1]["echo_source"], "this_app");
    assert_eq!(
        messages[1]["reactions"],
        serde_json::json!([{"by": "7", "reaction": "love", "emoji": "\u{2764}"}])
    );

    let timeline = get(&app, &format!("/api/v1/conversations/{id}/timeline")).await;
    let notes: Vec<_> = timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["kind"].as_str().unwrap().to_owned(),
                i["note"].as_str().map(str::to_owned),
            )
        })
        .collect();
    assert_eq!(notes.len(), 6);
    assert_eq!(
        notes[5],
        (
            "postback".to_owned(),
            Some("Tapped “Track” (payload TRACK)".to_owned())
        )
    );
}

#[tokio::test]
async fn the_routes_need_the_token() {
    let app = with_admin().await;
    for path in [
        "/api/v1/conversations",
        "/api/v1/conversations/c_00",
        "/api/v1/accounts",
    ] {
        assert_eq!(app.get(path).await.status(), 401, "{path}");
        assert_eq!(app.get_as(path, "wrong").await.status(), 401, "{path}");
    }
}

#[tokio::test]
async fn unknown_conversations_are_404_and_foreign_cursors_400() {
    let app = with_admin().await;
    let response = app
        .get_as("/api/v1/conversations/c_nothere/messages", ADMIN_TOKEN)
        .await;
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("c_nothere"));
    let response = app
        .get_as("/api/v1/conversations?cursor=abc", ADMIN_TOKEN)
        .await;
    assert_eq!(response.status(), 400);
}

/// The items of every page, in order.
fn items(pages: Vec<Value>) -> Vec<Value> {
    pages
        .iter()
        .flat_map(|page| page["items"].as_array().unwrap().iter().cloned())
        .collect()
}

#[tokio::test]
async fn pages_walk_every_conversation_and_message_once() {
    let app = with_admin().await;
    for (_, body) in fixtures() {
        assert_eq!(app.post_signed(&wire(&body)).await.status(), 200);
    }
    app.projected().await;
    let all = get(&app, "/api/v1/conversations?limit=500").await;
    let paged = items(walk(&app, "/api/v1/conversations?limit=2").await);
    assert_eq!(&paged, all["items"].as_array().unwrap());
    let busiest = paged
        .iter()
        .max_by_key(|c| c["message_count"].as_i64())
        .unwrap();
    let id = busiest["id"].as_str().unwrap();
    let messages = items(
        walk(
            &app,
            &format!("/api/v1/conversations/{id}/messages?limit=3"),
        )
        .await,
    );
    assert_eq!(
        messages.len() as i64,
        busiest["message_count"].as_i64().unwrap()
    );
    let timeline = items(
        walk(
            &app,
            &format!("/api/v1/conversations/{id}/timeline?limit=4"),
        )
        .await,
    );
    let whole_timeline = get(
        &app,
        &format!("/api/v1/conversations/{id}/timeline?limit=500"),
    )
    .await;
    assert_eq!(&timeline, whole_timeline["items"].as_array().unwrap());
    assert!(
        timeline.len() > messages.len(),
        "the timeline has the other events too"
    );
    let whole = get(
        &app,
        &format!("/api/v1/conversations/{id}/messages?limit=500"),
    )
    .await;
    assert_eq!(&messages, whole["items"].as_array().unwrap());
    let accounts = get(&app, "/api/v1/accounts").await;
    assert!(accounts["items"].as_array().unwrap().len() >= 3);
}

#[tokio::test]
async fn two_servers_given_the_same_deliveries_in_other_orders_answer_alike() {
    let one = with_admin().await;
    let other = with_admin().await;
    let bodies: Vec<Vec<u8>> = fixtures().into_iter().map(|(_, b)| wire(&b)).collect();
    for body in &bodies {
        one.post_signed(body).await;
    }
    for body in bodies.iter().rev().chain(bodies.iter().step_by(3)) {
        other.post_signed(body).await;
    }
    one.projected().await;
    other.projected().await;
    let list = get(&one, "/api/v1/conversations?limit=500").await;
    assert_eq!(list, get(&other, "/api/v1/conversations?limit=500").await);
    for conversation in list["items"].as_array().unwrap() {
        let path = format!(
            "/api/v1/conversations/{}/messages?limit=500",
            conversation["id"].as_str().unwrap()
        );
        assert_eq!(get(&one, &path).await, get(&other, &path).await, "{path}");
    }
}

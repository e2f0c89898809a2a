//! `GET /api/v1/events`: the bearer token, pages that walk every event once, filters, 400s.

use std::collections::HashSet;

use serde_json::Value;

use crate::helpers::{ADMIN_TOKEN, TestApp, ids, json, message_and_read, walk, with_admin};

async fn post_many(app: &TestApp, deliveries: u32) {
    for n in 0..deliveries {
        let sender = 7 + n % 2;
        assert_eq!(
            app.post_signed(&message_and_read(sender, n)).await.status(),
            200
        );
    }
}

#[tokio::test]
async fn a_missing_or_wrong_token_is_refused_with_401_and_a_bearer_challenge() {
    let app = with_admin().await;
    post_many(&app, 1).await;

    let missing = app.get("/api/v1/events").await;
    assert_eq!(missing.status(), 401);
    assert_eq!(
        missing.headers()["www-authenticate"],
        r#"Bearer realm="hookline""#
    );
    let body = json(missing).await;
    assert!(body["error"].as_str().unwrap().contains("Bearer"), "{body}");
    assert!(body.get("items").is_none());

    for wrong in ["not-the-token", "test-admin-toke", "test-admin-token2"] {
        let response = app.get_as("/api/v1/events", wrong).await;
        assert_eq!(response.status(), 401, "{wrong}");
        assert!(
            response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("invalid_token")
        );
        let text = response.text().await.unwrap();
        assert!(!text.contains(ADMIN_TOKEN), "the token leaks: {text}");
        assert!(text.contains("not valid"), "{text}");
    }
    let basic = app
        .client
        .get(app.url("/api/v1/events"))
        .basic_auth("admin", Some(ADMIN_TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 401);

    let right = app.get_as("/api/v1/events", ADMIN_TOKEN).await;
    assert_eq!(right.status(), 200);
    assert_eq!(ids(&json(right).await), [1, 2]);
}

#[tokio::test]
async fn without_a_configured_token_every_admin_request_is_refused_naming_the_setting() {
    let app = TestApp::spawn().await;
    for token in [None, Some(""), Some("anything")] {
        let response = match token {
            Some(token) => app.get_as("/api/v1/events", token).await,
            None => app.get("/api/v1/events").await,
        };
        assert_eq!(response.status(), 401);
        assert!(response.headers().contains_key("www-authenticate"));
        let body = json(response).await;
        let error = body["error"].as_str().unwrap();
        assert!(error.contains("HOOKLINE_ADMIN_TOKEN"), "{error}");
    }
}

#[tokio::test]
async fn pages_walk_every_event_once_in_order_and_the_last_page_has_no_cursor() {
    let app = with_admin().await;
    post_many(&app, 30).await;
    let stored: Vec<i64> = app.events().await.iter().map(|e| e.id).collect();
    assert_eq!(stored.len(), 60);

    let default = json(app.get_as("/api/v1/events", ADMIN_TOKEN).await).await;
    assert_eq!(ids(&default), stored[..50]);
    assert!(default["next_cursor"].is_string());

    for limit in [1, 7, 20, 60, 500] {
        let pages = walk(&app, &format!("/api/v1/events?limit={limit}")).await;
        let walked: Vec<i64> = pages.iter().flat_map(ids).collect();
        assert_eq!(walked, stored, "limit {limit}");
        assert_eq!(pages.len(), stored.len().div_ceil(limit), "limit {limit}");
        assert!(pages.last().unwrap()["next_cursor"].is_null());
    }
}

#[tokio::test]
async fn items_are_the_json_of_events_list_and_carry_raw_when_asked() {
    let app = with_admin().await;
    post_many(&app, 2).await;
    let stored = app.events().await;
    let page = json(app.get_as("/api/v1/events?raw=true", ADMIN_TOKEN).await).await;
    let expected: Vec<Value> = stored
        .iter()
        .map(hookline_server::api::event_json)
        .collect();
    assert_eq!(page["items"], Value::Array(expected));
    assert_eq!(page["items"][0]["raw"]["message"]["text"], "hello 0");
    let plain = json(app.get_as("/api/v1/events", ADMIN_TOKEN).await).await;
    assert!(plain["items"][0].get("raw").is_none());
    assert_eq!(plain["items"][0]["kind"], "message");
    assert_eq!(plain["items"][0]["sender"], "7");
}

#[tokio::test]
async fn kind_and_conversation_filters_narrow_every_page() {
    let app = with_admin().await;
    post_many(&app, 10).await;
    let pages = walk(&app, "/api/v1/events?kind=read&limit=3").await;
    let reads: Vec<&Value> = pages
        .iter()
        .flat_map(|p| p["items"].as_array().unwrap())
        .collect();
    assert_eq!(reads.len(), 10);
    assert!(reads.iter().all(|e| e["kind"] == "read"));

    let pages = walk(&app, "/api/v1/events?conversation=page:100:8&limit=4").await;
    let items: Vec<&Value> = pages
        .iter()
        .flat_map(|p| p["items"].as_array().unwrap())
        .collect();
    assert_eq!(items.len(), 10);
    assert!(items.iter().all(|e| e["sender"] == "8"));

    let both = json(
        app.get_as(
            "/api/v1/events?kind=message&conversation=page:100:7",
            ADMIN_TOKEN,
        )
        .await,
    )
    .await;
    let mids: Vec<&str> = both["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["mid"].as_str().unwrap())
        .collect();
    assert_eq!(mids, ["m.7.0", "m.7.2", "m.7.4", "m.7.6", "m.7.8"]);
}

#[tokio::test]
async fn a_follower_polling_after_the_last_id_sees_only_new_events() {
    let app = with_admin().await;
    post_many(&app, 2).await;
    let after = json(app.get_as("/api/v1/events?after=4", ADMIN_TOKEN).await).await;
    assert_eq!(ids(&after), Vec::<i64>::new());
    assert!(after["next_cursor"].is_null());
    assert_eq!(
        app.post_signed(&message_and_read(9, 99)).await.status(),
        200
    );
    let after = json(app.get_as("/api/v1/events?after=4", ADMIN_TOKEN).await).await;
    assert_eq!(ids(&after), [5, 6]);
    let mid_way = json(
        app.get_as("/api/v1/events?after=2&limit=2", ADMIN_TOKEN)
            .await,
    )
    .await;
    assert_eq!(ids(&mid_way), [3, 4]);
}

#[tokio::test]
async fn newest_first_pages_backwards_to_the_oldest() {
    let app = with_admin().await;
    post_many(&app, 5).await;
    let latest = json(
        app.get_as("/api/v1/events?order=desc&limit=1", ADMIN_TOKEN)
            .await,
    )
    .await;
    assert_eq!(ids(&latest), [10]);
    let pages = walk(&app, "/api/v1/events?order=desc&limit=4").await;
    let walked: Vec<i64> = pages.iter().flat_map(ids).collect();
    assert_eq!(walked, (1..=10).rev().collect::<Vec<i64>>());
}

#[tokio::test]
async fn unusable_parameters_answer_400_with_a_message_naming_them() {
    let app = with_admin().await;
    post_many(&app, 1).await;
    let cases = [
        ("limit=0", "limit"),
        ("limit=501", "1 to 500"),
        ("limit=many", "limit"),
        ("cursor=garbage", "cursor"),
        ("cursor=00&after=1", "not both"),
        ("after=last", "after"),
        ("order=random", "asc or desc"),
        ("raw=please", "true or false"),
    ];
    let mut seen = HashSet::new();
    for (query, hint) in cases {
        let response = app
            .get_as(&format!("/api/v1/events?{query}"), ADMIN_TOKEN)
            .await;
        assert_eq!(response.status(), 400, "{query}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );
        let body = json(response).await;
        let error = body["error"].as_str().unwrap().to_owned();
        assert!(error.contains(hint), "{query}: {error}");
        seen.insert(error);
    }
    assert_eq!(seen.len(), cases.len(), "each mistake has its own message");
}

#[tokio::test]
async fn one_event_reads_by_id_with_raw_on_request_and_unknown_ids_are_404() {
    let app = with_admin().await;
    post_many(&app, 2).await;
    let stored = app.events().await;

    let plain = json(app.get_as("/api/v1/events/3", ADMIN_TOKEN).await).await;
    let mut expected = hookline_server::api::event_json(&stored[2]);
    expected.as_object_mut().unwrap().remove("raw");
    assert_eq!(plain, expected);
    let raw = json(app.get_as("/api/v1/events/3?raw=true", ADMIN_TOKEN).await).await;
    assert_eq!(raw, hookline_server::api::event_json(&stored[2]));
    assert_eq!(raw["raw"]["message"]["text"], "hello 1");

    let missing = app.get_as("/api/v1/events/999", ADMIN_TOKEN).await;
    assert_eq!(missing.status(), 404);
    let error = json(missing).await["error"].as_str().unwrap().to_owned();
    assert!(error.contains("999") && error.contains("event"), "{error}");
    for (path, hint) in [
        ("/api/v1/events/three", "whole number"),
        ("/api/v1/events/3?raw=yes", "true or false"),
    ] {
        let response = app.get_as(path, ADMIN_TOKEN).await;
        assert_eq!(response.status(), 400, "{path}");
        let body = json(response).await;
        assert!(
            body["error"].as_str().unwrap().contains(hint),
            "{path}: {body}"
        );
    }
}

#[tokio::test]
async fn since_and_until_select_events_by_their_own_time() {
    let app = with_admin().await;
    post_many(&app, 3).await;
    let kinds = |page: Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap().to_owned())
            .collect()
    };
    let later = json(
        app.get_as("/api/v1/events?since=1700000000001", ADMIN_TOKEN)
            .await,
    )
    .await;
    assert_eq!(kinds(later), ["read", "read", "read"]);
    let earlier = json(
        app.get_as("/api/v1/events?until=1700000000001", ADMIN_TOKEN)
            .await,
    )
    .await;
    assert_eq!(kinds(earlier), ["message", "message", "message"]);
    let response = app
        .get_as("/api/v1/events?since=yesterday", ADMIN_TOKEN)
        .await;
    assert_eq!(response.status(), 400);
    let body = json(response).await;
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("since=\"yesterday\""),
        "{body}"
    );
}

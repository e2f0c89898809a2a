//! `GET /api/v1/deliveries`, `/deliveries/{id}`, `/deliveries/{id}/body` and `/quarantine`: the token,
//! pages, the detail with its events, the byte-exact body download, quarantine, 404s.

use hookline_meta::signature::sign;
use serde_json::Value;

use crate::helpers::{ADMIN_TOKEN, SECRET, ids, json, message, walk, wire_fixture, with_admin};

#[tokio::test]
async fn every_new_route_refuses_a_missing_or_wrong_token() {
    let app = with_admin().await;
    assert_eq!(app.post_signed(&message("m.1")).await.status(), 200);
    for path in [
        "/api/v1/deliveries",
        "/api/v1/deliveries/1",
        "/api/v1/deliveries/1/body",
        "/api/v1/quarantine",
        "/api/v1/events/1",
        "/api/v1/stream",
    ] {
        let missing = app.get(path).await;
        assert_eq!(missing.status(), 401, "{path}");
        assert_eq!(
            missing.headers()["www-authenticate"],
            r#"Bearer realm="hookline""#
        );
        let wrong = app.get_as(path, "not-the-token").await;
        assert_eq!(wrong.status(), 401, "{path}");
        let body = wrong.text().await.unwrap();
        assert!(
            body.contains("not valid") && !body.contains(ADMIN_TOKEN),
            "{path}: {body}"
        );
        let right = app.get_as(path, ADMIN_TOKEN).await;
        assert_eq!(right.status(), 200, "{path}");
    }
}

#[tokio::test]
async fn deliveries_page_with_a_cursor_both_ways_and_never_carry_bodies() {
    let app = with_admin().await;
    for n in 0..7 {
        // The fourth is a redelivery of the first: it is listed all the same.
        let mid = if n == 3 {
            "m.0".to_owned()
        } else {
            format!("m.{n}")
        };
        assert_eq!(app.post_signed(&message(&mid)).await.status(), 200);
    }
    let all: Vec<i64> = (1..=7).collect();
    for limit in [1, 3, 7, 50] {
        let pages = walk(&app, &format!("/api/v1/deliveries?limit={limit}")).await;
        assert_eq!(
            pages.iter().flat_map(ids).collect::<Vec<_>>(),
            all,
            "{limit}"
        );
        assert_eq!(pages.len(), 7usize.div_ceil(limit), "{limit}");
        let pages = walk(
            &app,
            &format!("/api/v1/deliveries?order=desc&limit={limit}"),
        )
        .await;
        let newest_first: Vec<i64> = all.iter().rev().copied().collect();
        assert_eq!(pages.iter().flat_map(ids).collect::<Vec<_>>(), newest_first);
    }

    let page = json(app.get_as("/api/v1/deliveries?limit=4", ADMIN_TOKEN).await).await;
    let stored = app.deliveries().await;
    let first = &page["items"][0];
    let keys: Vec<&str> = first
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "id",
            "received_at",
            "received_at_ms",
            "app",
            "secret_index",
            "signature",
            "api_version",
            "user_agent",
            "outcome",
            "error",
            "event_count",
            "new_event_count",
            "body_len"
        ]
    );
    assert_eq!(first["received_at_ms"], stored[0].received_at_ms);
    assert_eq!(
        first["received_at"],
        hookline_server::api::rfc3339(stored[0].received_at_ms)
    );
    assert_eq!(first["signature"], sign(SECRET.as_bytes(), &message("m.0")));
    assert_eq!(first["api_version"], "v25.0");
    assert_eq!(first["user_agent"], "facebookexternalua");
    assert_eq!(first["outcome"], "accepted");
    assert_eq!(first["body_len"], message("m.0").len());
    assert_eq!(
        (
            first["event_count"].as_i64(),
            first["new_event_count"].as_i64()
        ),
        (Some(1), Some(1))
    );
    let redelivery = &page["items"][3];
    assert_eq!(
        (
            redelivery["event_count"].as_i64(),
            redelivery["new_event_count"].as_i64()
        ),
        (Some(1), Some(0))
    );
}

#[tokio::test]
async fn one_delivery_lists_the_events_it_stored_first() {
    let app = with_admin().await;
    let fixture = wire_fixture("m01_message_text.json");
    assert_eq!(app.post_signed(&fixture).await.status(), 200);
    assert_eq!(app.post_signed(&fixture).await.status(), 200);
    let events = app.events().await;
    assert!(!events.is_empty());

    let first = json(app.get_as("/api/v1/deliveries/1", ADMIN_TOKEN).await).await;
    assert_eq!(first["id"], 1);
    assert_eq!(first["outcome"], "accepted");
    assert!(first.get("body").is_none());
    let listed: Vec<(i64, String, String)> = first["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["id"].as_i64().unwrap(),
                e["dedup_key"].as_str().unwrap().to_owned(),
                e["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(i64, String, String)> = events
        .iter()
        .map(|e| (e.id, e.dedup_key.clone(), e.kind.clone()))
        .collect();
    assert_eq!(listed, expected);

    let again = json(app.get_as("/api/v1/deliveries/2", ADMIN_TOKEN).await).await;
    assert_eq!(again["events"], Value::Array(vec![]));
    assert_eq!(again["new_event_count"], 0);
}

#[tokio::test]
async fn the_body_downloads_byte_exact_with_its_signature_and_replays_by_hand() {
    let app = with_admin().await;
    let body = wire_fixture("ig01_message_text.json");
    assert_eq!(app.post_signed(&body).await.status(), 200);

    let download = app.get_as("/api/v1/deliveries/1/body", ADMIN_TOKEN).await;
    assert_eq!(download.status(), 200);
    let headers = download.headers().clone();
    assert_eq!(headers["content-type"], "application/octet-stream");
    assert_eq!(
        headers["content-disposition"],
        r#"attachment; filename="delivery-1.json""#
    );
    let signature = headers["x-hub-signature-256"].to_str().unwrap().to_owned();
    assert_eq!(signature, sign(SECRET.as_bytes(), &body));
    let bytes = download.bytes().await.unwrap();
    assert_eq!(&bytes[..], &body[..]);

    // What a person replaying it would do: post the bytes back with the header they came with.
    let replay = app
        .post("/webhook", &bytes, &[("x-hub-signature-256", &signature)])
        .await;
    assert_eq!(replay.status(), 200);
    let second = json(app.get_as("/api/v1/deliveries/2", ADMIN_TOKEN).await).await;
    assert_eq!(second["new_event_count"], 0);
    assert_eq!(second["body_len"], body.len());
}

#[tokio::test]
async fn a_signed_body_that_is_not_json_is_listed_in_quarantine_with_its_error() {
    let app = with_admin().await;
    assert_eq!(app.post_signed(&message("m.1")).await.status(), 200);
    let broken = b"{\"object\":\"page\",\"entry\":[".to_vec();
    assert_eq!(app.post_signed(&broken).await.status(), 200);
    assert_eq!(app.post_signed(&message("m.2")).await.status(), 200);

    let quarantine = json(app.get_as("/api/v1/quarantine", ADMIN_TOKEN).await).await;
    assert_eq!(ids(&quarantine), [2]);
    let item = &quarantine["items"][0];
    assert_eq!(item["outcome"], "quarantined");
    assert!(item["error"].as_str().unwrap().contains("line 1"), "{item}");
    assert_eq!(item["event_count"], 0);
    assert!(quarantine["next_cursor"].is_null());

    let filtered = json(
        app.get_as("/api/v1/deliveries?outcome=quarantined", ADMIN_TOKEN)
            .await,
    )
    .await;
    assert_eq!(filtered["items"], quarantine["items"]);
    let accepted = json(
        app.get_as("/api/v1/deliveries?outcome=accepted", ADMIN_TOKEN)
            .await,
    )
    .await;
    assert_eq!(ids(&accepted), [1, 3]);
    assert!(accepted["items"][0]["error"].is_null());

    let body = app.get_as("/api/v1/deliveries/2/body", ADMIN_TOKEN).await;
    assert_eq!(&body.bytes().await.unwrap()[..], &broken[..]);
}

#[tokio::test]
async fn unknown_ids_answer_404_naming_the_id_and_bad_parameters_400() {
    let app = with_admin().await;
    assert_eq!(app.post_signed(&message("m.1")).await.status(), 200);
    for (path, id) in [
        ("/api/v1/deliveries/999", "999"),
        ("/api/v1/deliveries/999/body", "999"),
    ] {
        let response = app.get_as(path, ADMIN_TOKEN).await;
        assert_eq!(response.status(), 404, "{path}");
        let body = json(response).await;
        let error = body["error"].as_str().unwrap();
        assert!(
            error.contains("delivery") && error.contains(id),
            "{path}: {error}"
        );
    }
    for (query, hint) in [
        (
            "/api/v1/deliveries?outcome=maybe",
            "accepted or quarantined",
        ),
        ("/api/v1/deliveries?limit=0", "1 to 500"),
        ("/api/v1/deliveries?cursor=garbage", "cursor"),
        ("/api/v1/quarantine?order=sideways", "asc or desc"),
        ("/api/v1/deliveries/abc", "whole number"),
        ("/api/v1/deliveries/abc/body", "whole number"),
    ] {
        let response = app.get_as(query, ADMIN_TOKEN).await;
        assert_eq!(response.status(), 400, "{query}");
        let body = json(response).await;
        assert!(
            body["error"].as_str().unwrap().contains(hint),
            "{query}: {body}"
        );
    }
}

//! POST /webhook: what is stored, what is refused, and that nothing is lost or doubled.

use hookline_meta::signature::{sign, sign_sha1};
use hookline_store::Outcome;

use crate::helpers::{SECRET, TestApp, fixtures, message, wire, wire_fixture};

#[tokio::test]
async fn every_fixture_in_wire_form_is_acknowledged_and_stored_with_its_events() {
    let app = TestApp::spawn().await;
    let mut expected = Vec::new();
    for (name, body) in fixtures() {
        let body = wire(&body);
        let response = app.post_signed(&body).await;
        assert_eq!(response.status(), 200, "{name}");
        assert_eq!(response.text().await.unwrap(), "EVENT_RECEIVED");
        for event in hookline_meta::parse(&body).unwrap() {
            expected.push((
                name.clone(),
                event.kind_name(),
                event.dedup_key().to_string(),
            ));
        }
    }
    let stored = app.events().await;
    let mut stored_keys: Vec<_> = stored
        .iter()
        .map(|e| (e.kind.as_str(), e.dedup_key.as_str()))
        .collect();
    stored_keys.sort();
    let mut expected_keys: Vec<_> = expected.iter().map(|(_, k, d)| (*k, d.as_str())).collect();
    expected_keys.sort();
    expected_keys.dedup_by_key(|(_, d)| *d);
    assert_eq!(stored_keys, expected_keys);
    assert!(stored.len() > 120, "only {} events", stored.len());
    assert!(stored.iter().all(|e| {
        e.raw
            .as_deref()
            .is_some_and(|raw| serde_json::from_str::<serde_json::Value>(raw).is_ok())
    }));
    let deliveries = app.deliveries().await;
    assert_eq!(deliveries.len(), fixtures().len());
    assert!(deliveries.iter().all(|d| d.outcome == Outcome::Accepted));
    assert!(
        deliveries
            .iter()
            .all(|d| d.api_version.as_deref() == Some("v25.0"))
    );
    assert!(deliveries.iter().all(|d| {
        d.signature
            .as_deref()
            .is_some_and(|s| s.starts_with("sha256="))
    }));
}

#[tokio::test]
async fn stored_events_carry_their_typed_columns_and_exact_bytes() {
    let app = TestApp::spawn().await;
    let body = wire_fixture("m65_batch_multi_entry.json");
    assert_eq!(app.post_signed(&body).await.status(), 200);
    let events = app.events().await;
    let parsed = hookline_meta::parse(&body).unwrap();
    assert_eq!(events.len(), parsed.len());
    for (stored, event) in events.iter().zip(&parsed) {
        assert_eq!(stored.kind, event.kind_name());
        assert_eq!(
            stored.sender.as_deref(),
            event.sender.as_ref().map(|i| i.as_str())
        );
        assert_eq!(
            stored.recipient.as_deref(),
            event.recipient.as_ref().map(|i| i.as_str())
        );
        assert_eq!(stored.timestamp_ms, event.timestamp_ms());
        assert_eq!(stored.mid.as_deref(), event.mid());
        let raw: &str = event.raw.into();
        assert_eq!(stored.raw.as_deref(), Some(raw));
    }
    assert_eq!(app.deliveries().await[0].body.as_deref(), Some(&body[..]));
}

#[tokio::test]
async fn bad_signatures_are_refused_with_401_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let body = message("m.sig");
    let other = sign(b"another-secret", &body);
    let over_other_bytes = sign(SECRET.as_bytes(), &message("m.other"));
    let sha1_only = sign_sha1(SECRET.as_bytes(), &body);
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("missing", vec![]),
        ("wrong secret", vec![("x-hub-signature-256", &other)]),
        (
            "other body",
            vec![("x-hub-signature-256", &over_other_bytes)],
        ),
        ("malformed", vec![("x-hub-signature-256", "sha256=zz")]),
        ("no prefix", vec![("x-hub-signature-256", "deadbeef")]),
        ("sha1 only", vec![("x-hub-signature", &sha1_only)]),
    ];
    for (case, headers) in cases {
        let response = app.post("/webhook", &body, &headers).await;
        assert_eq!(response.status(), 401, "{case}");
        let text = response.text().await.unwrap();
        assert!(
            !text.contains(&sign(SECRET.as_bytes(), &body)[7..]),
            "{case} leaks the digest"
        );
    }
    // A body re-serialised by a JSON library no longer matches Meta's signature of the wire form.
    let fixture = wire_fixture("m01_message_text.json");
    let signature = sign(SECRET.as_bytes(), &fixture);
    let value: serde_json::Value = serde_json::from_slice(&fixture).unwrap();
    let reserialised = serde_json::to_vec_pretty(&value).unwrap();
    let response = app
        .post(
            "/webhook",
            &reserialised,
            &[("x-hub-signature-256", &signature)],
        )
        .await;
    assert_eq!(response.status(), 401);
    assert!(app.events().await.is_empty());
    assert!(app.deliveries().await.is_empty());
}

#[tokio::test]
async fn sha1_is_accepted_only_when_enabled() {
    let app = TestApp::spawn_with(|c| c.allow_sha1 = true).await;
    let body = message("m.sha1");
    let sha1 = sign_sha1(SECRET.as_bytes(), &body);
    let response = app
        .post("/webhook", &body, &[("x-hub-signature", &sha1)])
        .await;
    assert_eq!(response.status(), 200);
    let delivery = &app.deliveries().await[0];
    assert!(delivery.signature.as_deref().unwrap().starts_with("sha1="));
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_with_413() {
    let app = TestApp::spawn_with(|c| c.max_body_bytes = 64 * 1024).await;
    let mut body = message("m.big");
    let padding = format!(r#","pad":"{}"}}"#, "x".repeat(70 * 1024));
    body.truncate(body.len() - 1);
    body.extend_from_slice(padding.as_bytes());
    let response = app.post_signed(&body).await;
    assert_eq!(response.status(), 413);
    assert!(app.deliveries().await.is_empty());
    assert_eq!(app.post_signed(&message("m.small")).await.status(), 200);
}

#[tokio::test]
async fn a_signed_body_that_is_not_json_is_quarantined_and_acknowledged() {
    let app = TestApp::spawn().await;
    let body = b"{\"object\":\"page\",\"entry\":[{\"id\":\"1\"".to_vec();
    let response = app.post_signed(&body).await;
    assert_eq!(response.status(), 200);
    assert!(app.events().await.is_empty());
    let deliveries = app.deliveries().await;
    assert_eq!(deliveries[0].outcome, Outcome::Quarantined);
    assert_eq!(deliveries[0].body.as_deref(), Some(&body[..]));
    assert!(
        deliveries[0].error.as_deref().unwrap().contains("column"),
        "{:?}",
        deliveries[0].error
    );
}

#[tokio::test]
async fn unknown_objects_pages_and_kinds_are_acknowledged_and_stored() {
    let app = TestApp::spawn().await;
    let bodies = [
        r#"{"object":"whatsapp_business_account","entry":[{"id":"9","changes":[{"field":"messages","value":{"x":1}}]}]}"#,
        r#"{"object":"page","entry":[{"id":"999999","time":1,"messaging":[{"sender":{"id":"1"},"recipient":{"id":"999999"},"timestamp":1,"brand_new_kind":{"a":1}}]}]}"#,
        r#"{"object":"page","entry":[{"id":"1","time":1,"surprise":[{"a":1}]}]}"#,
        r#"{}"#,
        r#"[1,2,3]"#,
    ];
    for body in bodies {
        assert_eq!(
            app.post_signed(body.as_bytes()).await.status(),
            200,
            "{body}"
        );
    }
    let kinds: Vec<_> = app.events().await.into_iter().map(|e| e.kind).collect();
    assert!(kinds.contains(&"unknown".to_owned()), "{kinds:?}");
    assert_eq!(app.deliveries().await.len(), bodies.len());
}

#[tokio::test]
async fn the_same_delivery_five_times_is_one_set_of_events_and_five_deliveries() {
    let app = TestApp::spawn().await;
    let body = wire_fixture("m65_batch_multi_entry.json");
    let events_in_body = hookline_meta::parse(&body).unwrap().len();
    for _ in 0..5 {
        assert_eq!(app.post_signed(&body).await.status(), 200);
    }
    let events = app.events().await;
    assert_eq!(events.len(), events_in_body);
    assert!(events.iter().all(|e| e.duplicates == 4));
    let deliveries = app.deliveries().await;
    assert_eq!(deliveries.len(), 5);
    assert_eq!(
        deliveries.iter().map(|d| d.new_event_count).sum::<i64>(),
        events_in_body as i64
    );
}

#[tokio::test]
async fn the_same_delivery_five_times_concurrently_is_one_set_of_events() {
    let app = TestApp::spawn().await;
    for round in 0..10 {
        let body = message(&format!("m.concurrent.{round}"));
        let posts: Vec<_> = (0..5).map(|_| app.spawn_signed(body.clone())).collect();
        let mut statuses = Vec::new();
        for post in posts {
            statuses.push(post.await.unwrap());
        }
        assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    }
    let events = app.events().await;
    assert_eq!(events.len(), 10);
    assert!(events.iter().all(|e| e.duplicates == 4));
    assert_eq!(app.deliveries().await.len(), 50);
}

#[tokio::test]
async fn a_rotated_secret_is_accepted_and_recorded_by_its_index() {
    let app =
        TestApp::spawn_with(|c| c.app_secret = vec!["new-secret".into(), SECRET.into()]).await;
    assert_eq!(app.post_signed(&message("m.old")).await.status(), 200);
    let body = message("m.new");
    let signature = sign(b"new-secret", &body);
    assert_eq!(
        app.post("/webhook", &body, &[("x-hub-signature-256", &signature)])
            .await
            .status(),
        200
    );
    let indices: Vec<_> = app
        .deliveries()
        .await
        .iter()
        .map(|d| d.secret_index)
        .collect();
    assert_eq!(indices, [Some(1), Some(0)]);
}

#[tokio::test]
async fn graceful_shutdown_commits_deliveries_in_flight() {
    let mut app = TestApp::spawn_with(|c| c.database.push_str("?busy_timeout_ms=5000")).await;
    // Hold the write lock so that the deliveries are certainly in flight (waiting for their commit)
    // when shutdown starts.
    let lock = rusqlite::Connection::open(&app.db_path).unwrap();
    lock.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let posts: Vec<_> = (0..50)
        .map(|i| app.spawn_signed(message(&format!("m.shutdown.{i}"))))
        .collect();
    while app.store.queue_depth() == 0 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let stopping = {
        let release = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            lock.execute_batch("ROLLBACK").unwrap();
        });
        let result = app.stop().await;
        release.join().unwrap();
        result
    };
    stopping.unwrap();
    let mut statuses = Vec::new();
    for post in posts {
        statuses.push(post.await.unwrap());
    }
    // A request that had not connected before shutdown began is refused (0); every accepted one is
    // answered 200 after its commit, and nothing else is stored.
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 0),
        "{statuses:?}"
    );
    let acked = statuses.iter().filter(|s| **s == 200).count();
    assert!(acked >= 1, "{statuses:?}");
    assert_eq!(app.events().await.len(), acked);
}

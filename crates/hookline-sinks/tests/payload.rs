//! The forwarded event built from real fixture deliveries, parsed and stored the way ingest does.

use hookline_meta::ParseOptions;
use hookline_sinks::payload::{ForwardedEvent, webhook_id};
use hookline_store::StoredEvent;
use serde_json::{Value, json};

mod support;
use support::{fixture, stored_event};

/// The first event of a fixture as the store would return it with its raw JSON.
fn stored(name: &str) -> StoredEvent {
    stored_event(&fixture(name))
}

fn forwarded(fixture: &str) -> Value {
    let event = ForwardedEvent::from_stored(&stored(fixture), &ParseOptions::default());
    serde_json::from_slice(&event.to_bytes()).unwrap()
}

const MID: &str = "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDEyMzQ1Njc4OTAxOj1EEdhcmJUAzQIBtPN7jo9osz2fhaeo8Il9SuGMrqFMHe53xAmc6tYpuD8O9x";

#[test]
fn an_instagram_text_message_carries_the_contract_keys_in_order() {
    let json = forwarded("ig01_message_text");
    let keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "version",
            "object",
            "entry_id",
            "channel",
            "kind",
            "field",
            "sender",
            "sender_user_ref",
            "recipient",
            "timestamp_ms",
            "mid",
            "dedup_key",
            "id",
            "received_at",
            "conversation_key",
            "standby",
            "detail",
            "raw",
        ]
    );
    assert_eq!(json["version"], 1);
    assert_eq!(json["object"], "instagram");
    assert_eq!(json["entry_id"], "17841412345678901");
    assert_eq!(json["channel"], "messaging");
    assert_eq!(json["kind"], "message");
    assert_eq!(json["field"], Value::Null);
    assert_eq!(json["sender"], "6841123456789012");
    assert_eq!(json["recipient"], "17841412345678901");
    assert_eq!(json["timestamp_ms"], 1_767_610_100_000_i64);
    assert_eq!(json["mid"], MID);
    assert_eq!(json["id"], 42);
    assert_eq!(json["received_at"], "2026-01-05T10:48:20.512Z");
    assert_eq!(json["standby"], false);
    let dedup = json["dedup_key"].as_str().unwrap();
    assert!(dedup.starts_with("v1:") && dedup.len() == 35, "{dedup}");
    assert!(
        json["conversation_key"]
            .as_str()
            .unwrap()
            .contains("6841123456789012")
    );
}

#[test]
fn detail_is_the_typed_message_and_raw_is_the_event_as_received() {
    let json = forwarded("ig01_message_text");
    assert_eq!(json["detail"]["mid"], MID);
    assert_eq!(json["detail"]["text"], "Hi! Is the blue one in stock?");
    assert_eq!(
        json["raw"],
        json!({
            "sender": {"id": "6841123456789012"},
            "recipient": {"id": "17841412345678901"},
            "timestamp": 1767610100000_i64,
            "message": {"mid": MID, "text": "Hi! Is the blue one in stock?"}
        })
    );
}

#[test]
fn a_standby_event_says_so() {
    let json = forwarded("m48_standby_message");
    assert_eq!(json["channel"], "standby");
    assert_eq!(json["standby"], true);
    assert_eq!(json["detail"]["text"], "Are you still there?");
}

#[test]
fn an_event_read_without_raw_json_has_null_detail_and_raw() {
    let mut event = stored("ig01_message_text");
    event.raw = None;
    let json: Value = serde_json::from_slice(
        &ForwardedEvent::from_stored(&event, &ParseOptions::default()).to_bytes(),
    )
    .unwrap();
    assert_eq!(json["detail"], Value::Null);
    assert_eq!(json["raw"], Value::Null);
    assert_eq!(json["kind"], "message");
}

#[test]
fn the_webhook_id_of_a_real_event_is_its_dedup_hex() {
    let event = stored("ig01_message_text");
    let id = webhook_id(&event.dedup_key);
    assert_eq!(id, format!("evt_{}", &event.dedup_key[3..]));
    assert_eq!(id, webhook_id(&stored("ig01_message_text").dedup_key));
}

#[test]
fn the_whole_v1_body_of_an_instagram_text_message() {
    insta::assert_json_snapshot!(forwarded("ig01_message_text"));
}

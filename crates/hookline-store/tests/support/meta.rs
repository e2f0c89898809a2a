//! Meta's fixtures as deliveries to store, for the tests and the `append` bench (which includes this file
//! by path, as it cannot use the tests' `support` module).
#![allow(dead_code)]

use std::path::PathBuf;

use bytes::Bytes;
use hookline_store::{Content, NewDelivery, NewEvent};
use serde_json::Value;

/// The Meta fixtures of `hookline-meta`: one body per event kind and attachment type, in name order.
pub fn fixtures() -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../hookline-meta/tests/fixtures");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

/// A signed delivery of `body` as the server would hand it to the store: its events, or quarantined
/// when it is not JSON.
pub fn delivery(body: Vec<u8>) -> NewDelivery {
    let body = Bytes::from(body);
    let content = match hookline_meta::parse(&body) {
        Ok(events) => Content::Events(
            events
                .iter()
                .map(|e| NewEvent::from_event(e, &body))
                .collect(),
        ),
        Err(err) => Content::Quarantined {
            reason: err.to_string(),
        },
    };
    NewDelivery {
        received_at_ms: 1_700_000_000_500,
        app: None,
        secret_index: Some(0),
        signature: Some("sha256=00".into()),
        api_version: Some("v25.0".into()),
        user_agent: Some("facebookexternalua".into()),
        body,
        content,
    }
}

/// The fixture with every mid made unique for `n` and every time shifted by `n`.
pub fn unique(value: &Value, n: u64) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = match (k.as_str(), v) {
                        ("mid", Value::String(s)) => Value::String(format!("{s}.{n}")),
                        ("time" | "timestamp", Value::Number(t)) => {
                            Value::from(t.as_u64().unwrap_or(0) + n)
                        }
                        _ => unique(v, n),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| unique(v, n)).collect()),
        other => other.clone(),
    }
}

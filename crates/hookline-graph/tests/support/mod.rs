//! Shared helpers for the integration tests: a test token and the Graph error fixtures.

#![allow(dead_code)]

use std::path::PathBuf;

use hookline_graph::Token;
use hookline_graph::mock::MockFailure;
use serde_json::Value;

/// Shaped like a real Page token, so a leak would be recognisable in any output.
pub const TOKEN: &str = "EAAGm0PX4ZCpsBAhooklineTestToken0123456789";

pub const PAGE: &str = "1755847768034402";
pub const PSID: &str = "6543210987654321";
pub const IG_ACCOUNT: &str = "17841405309211844";

pub fn token() -> Token {
    Token::new(TOKEN).unwrap()
}

/// A Graph error answer from `tests/fixtures/errors/<name>.json`, as a mock failure.
pub fn fixture(name: &str) -> MockFailure {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/errors")
        .join(format!("{name}.json"));
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    let value: Value =
        serde_json::from_str(&text).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    let status = u16::try_from(value["status"].as_u64().unwrap()).unwrap();
    let headers = value
        .get("headers")
        .and_then(Value::as_object)
        .map(|h| {
            h.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                .collect()
        })
        .unwrap_or_default();
    MockFailure::Graph {
        status,
        body: value["body"].clone(),
        headers,
    }
}

/// Meta's `message` and `fbtrace_id` of a fixture, which every error built from it must keep.
pub fn fixture_message_and_trace(failure: &MockFailure) -> (String, String) {
    let MockFailure::Graph { body, .. } = failure else {
        panic!("not a Graph error fixture");
    };
    (
        body["error"]["message"].as_str().unwrap().to_owned(),
        body["error"]["fbtrace_id"].as_str().unwrap().to_owned(),
    )
}

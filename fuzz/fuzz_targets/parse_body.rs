//! `hookline_meta::parse` on arbitrary bytes.
//!
//! - never panics;
//! - valid JSON (UTF-8 that `serde_json` reads as a `Value`) is never an error;
//! - every event has a dedup key and a record (`record_with_raw`) that serialises;
//! - when a body parses, its wire form (`wire::reencode`) also parses, to the same number of events with
//!   the same kinds and the same dedup keys (dedup keys must survive re-formatting of a redelivery).

#![no_main]

use hookline_meta::{Event, parse, wire};
use libfuzzer_sys::fuzz_target;

fn summary(events: &[Event<'_>]) -> Vec<(&'static str, String)> {
    events
        .iter()
        .map(|event| (event.kind_name(), event.dedup_key().to_string()))
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let parsed = parse(data);

    let is_json = std::str::from_utf8(data).is_ok()
        && serde_json::from_slice::<serde_json::Value>(data).is_ok();
    if is_json {
        assert!(
            parsed.is_ok(),
            "valid JSON failed to parse: {:?}",
            parsed.as_ref().err()
        );
    }
    let Ok(events) = parsed else { return };

    for event in &events {
        let key = event.dedup_key();
        assert!(key.as_str().starts_with("v1:") && key.as_str().len() == 35, "{key}");
        let record = serde_json::to_string(&event.record_with_raw());
        assert!(record.is_ok(), "record did not serialise: {:?}", record.err());
    }

    let wire_form = wire::reencode(data);
    assert!(
        wire_form.is_ok(),
        "parse succeeded but wire::reencode failed: {:?}",
        wire_form.as_ref().err()
    );
    let wire_form = wire_form.unwrap();
    let reparsed = parse(&wire_form);
    assert!(
        reparsed.is_ok(),
        "the wire form failed to parse: {:?}",
        reparsed.as_ref().err()
    );
    let reparsed = reparsed.unwrap();
    assert_eq!(
        summary(&events),
        summary(&reparsed),
        "kinds/dedup keys differ between the body and its wire form {:?}",
        String::from_utf8_lossy(&wire_form)
    );
});

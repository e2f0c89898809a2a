//! Valid JSON never fails to parse, and what is not understood never takes known events down with it.

use hookline_meta::{Event, EventKind, parse};
use proptest::prelude::*;

fn kinds(body: &str) -> Vec<&'static str> {
    parse(body.as_bytes())
        .unwrap()
        .iter()
        .map(Event::kind_name)
        .collect()
}

fn message(n: usize) -> String {
    format!(
        r#"{{"sender":{{"id":"{}"}},"recipient":{{"id":"104938475610293"}},"timestamp":{},"message":{{"mid":"m_{n}","text":"hi \u00e4 https:\/\/x.example\/{n}"}}}}"#,
        7_000_000_000_000_000u64 + n as u64,
        1_767_610_000_000u64 + n as u64
    )
}

#[test]
fn a_batch_of_1000_entries_parses_completely() {
    let entries: Vec<String> = (0..1000)
        .map(|n| {
            format!(
                r#"{{"id":"104938475610293","time":1767610000000,"messaging":[{}]}}"#,
                message(n)
            )
        })
        .collect();
    let body = format!(r#"{{"object":"page","entry":[{}]}}"#, entries.join(","));
    let events = parse(body.as_bytes()).unwrap();
    assert_eq!(events.len(), 1000);
    let mut keys: Vec<_> = events.iter().map(|e| e.dedup_key()).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 1000);
    assert_eq!(events[999].mid(), Some("m_999"));
    assert_eq!(
        events[999].kind.message().unwrap().text.as_deref(),
        Some("hi ä https://x.example/999")
    );
}

#[test]
fn unknown_kinds_and_arrays_leave_known_events_intact() {
    let body = format!(
        r#"{{"object":"page","entry":[{{"id":"1","time":1,"messaging":[{},{{"sender":{{"id":"2"}},"timestamp":5,"teleport":{{"to":"mars"}}}},{}],"holograms":[{{"x":1}},{{"y":2}}],"standby":[{}]}}]}}"#,
        message(1),
        message(2),
        message(3)
    );
    assert_eq!(
        kinds(&body),
        [
            "message", "unknown", "message", "unknown", "unknown", "message"
        ]
    );
    let events = parse(body.as_bytes()).unwrap();
    assert_eq!(events[1].field(), Some("teleport"));
    assert_eq!(events[1].sender.as_ref().unwrap().as_str(), "2");
    assert_eq!(events[3].field(), Some("holograms"));
    assert_eq!(events[3].raw.get(), r#"{"x":1}"#);
    assert!(events[5].is_standby());
}

#[test]
fn malformed_envelopes_keep_every_well_formed_part() {
    let good = format!(
        r#"{{"id":"1","time":1767610000000,"messaging":[{}]}}"#,
        message(1)
    );
    let cases = [
        // An entry that is not an object, beside a good one.
        (
            format!(r#"{{"object":"page","entry":[42,{good}]}}"#),
            vec!["unknown", "message"],
        ),
        // `messaging` that is an object instead of an array.
        (
            format!(r#"{{"object":"page","entry":[{{"id":"1","messaging":{{"a":1}}}},{good}]}}"#),
            vec!["unknown", "message"],
        ),
        // An id of the wrong type: the events are kept, the id is not.
        (
            format!(
                r#"{{"object":"page","entry":[{{"id":{{"x":1}},"messaging":[{}]}}]}}"#,
                message(2)
            ),
            vec!["message"],
        ),
        // A duplicated `entry` key: both arrays are read.
        (
            format!(r#"{{"object":"page","entry":[{good}],"entry":[{good}]}}"#),
            vec!["message", "message"],
        ),
        // `object` of the wrong type.
        (
            format!(r#"{{"object":{{"x":1}},"entry":[{good}]}}"#),
            vec!["message"],
        ),
        // A messaging item that is not an object.
        (
            format!(
                r#"{{"object":"page","entry":[{{"id":"1","messaging":["hi",{}]}}]}}"#,
                message(3)
            ),
            vec!["unknown", "message"],
        ),
        // Not deliveries at all.
        ("[1,2,3]".to_owned(), vec!["unknown"]),
        ("null".to_owned(), vec!["unknown"]),
        ("{}".to_owned(), vec!["unknown"]),
        (
            r#"{"object":"page","entry":"x"}"#.to_owned(),
            vec!["unknown"],
        ),
        (r#"{"object":"page","entry":[]}"#.to_owned(), vec![]),
        (r#"{"object":"page","entry":null}"#.to_owned(), vec![]),
    ];
    for (body, expected) in cases {
        assert_eq!(kinds(&body), expected, "{body}");
    }
}

#[test]
fn ids_keep_full_precision_and_numbers_equal_strings() {
    let as_number = r#"{"object":"page","entry":[{"id":104938475610293,"messaging":[{"sender":{"id":17918195224117851},"recipient":{"id":104938475610293},"timestamp":1,"message":{"mid":"m"}}]}]}"#;
    let as_string = as_number
        .replace("104938475610293", "\"104938475610293\"")
        .replace("17918195224117851", "\"17918195224117851\"");
    let a = parse(as_number.as_bytes()).unwrap();
    let b = parse(as_string.as_bytes()).unwrap();
    assert_eq!(a[0].sender.as_ref().unwrap().as_str(), "17918195224117851");
    assert_eq!(a[0].entry_id, b[0].entry_id);
    assert_eq!(a[0].dedup_key(), b[0].dedup_key());
}

#[test]
fn timestamps_are_normalised_and_fall_back_to_the_entry_time() {
    let body = r#"{"object":"page","entry":[{"id":"1","time":1767610000,"messaging":[
        {"sender":{"id":"2"},"recipient":{"id":"1"},"timestamp":"1767610001","message":{"mid":"a"}},
        {"sender":{"id":"2"},"recipient":{"id":"1"},"timestamp":1767610002,"message":{"mid":"b"}},
        {"sender":{"id":"2"},"recipient":{"id":"1"},"timestamp":1767610003123,"message":{"mid":"c"}},
        {"sender":{"id":"2"},"recipient":{"id":"1"},"delivery":{"watermark":1767610000000}}]}]}"#;
    let times: Vec<_> = parse(body.as_bytes())
        .unwrap()
        .iter()
        .map(Event::timestamp_ms)
        .collect();
    assert_eq!(
        times,
        [
            Some(1_767_610_001_000),
            Some(1_767_610_002_000),
            Some(1_767_610_003_123),
            Some(1_767_610_000_000)
        ]
    );
}

/// Arbitrary JSON values, nested a few levels, with keys that steer into every branch of the parser.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let key = prop_oneof![
        Just("object".to_owned()),
        Just("entry".to_owned()),
        Just("id".to_owned()),
        Just("time".to_owned()),
        Just("messaging".to_owned()),
        Just("standby".to_owned()),
        Just("changes".to_owned()),
        Just("calls".to_owned()),
        Just("sender".to_owned()),
        Just("recipient".to_owned()),
        Just("timestamp".to_owned()),
        Just("message".to_owned()),
        Just("attachments".to_owned()),
        Just("type".to_owned()),
        Just("payload".to_owned()),
        Just("reaction".to_owned()),
        Just("field".to_owned()),
        Just("value".to_owned()),
        Just("mid".to_owned()),
        Just("is_echo".to_owned()),
        "[a-z_]{1,8}",
    ];
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(serde_json::Value::from),
        ".{0,12}".prop_map(serde_json::Value::from),
        prop_oneof![Just("image"), Just("template"), Just("react"), Just("page")]
            .prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(5, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            prop::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|pairs| serde_json::Value::Object(pairs.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn arbitrary_json_never_fails_or_panics(value in json_value()) {
        let body = serde_json::to_vec(&value).unwrap();
        let events = parse(&body).unwrap();
        for event in &events {
            // Every accessor and the record must work on whatever came out.
            let _ = (event.dedup_key(), event.mid(), event.field(), event.timestamp_ms());
            serde_json::to_string(&event.record_with_raw()).unwrap();
            if let EventKind::Unknown(unknown) = &event.kind {
                prop_assert!(!unknown.reason.is_empty());
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse(&bytes);
    }

    #[test]
    fn corrupted_fixtures_never_panic(index in 0usize..2000, byte in any::<u8>()) {
        let mut body = include_bytes!("fixtures/m65_batch_multi_entry.json").to_vec();
        let at = index % body.len();
        body[at] = byte;
        if let Ok(events) = parse(&body) {
            for event in &events {
                serde_json::to_string(&event.record()).unwrap();
            }
        }
    }
}

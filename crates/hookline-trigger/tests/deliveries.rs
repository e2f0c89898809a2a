//! Every catalog kind, built and rendered, checked with `hookline-meta` the way a receiver would: the body
//! is Meta's wire form, its signature verifies, it parses to the intended kind, and its events are distinct.

use std::collections::HashSet;
use std::time::{SystemTime, UNIX_EPOCH};

use hookline_meta::signature::{self, HEADER_SHA256};
use hookline_meta::{Event, Secret, SignatureHeaders, Verifier, parse, wire};
use hookline_trigger::{Kind, Params, Template, TriggerError, build, catalog, find};
use serde_json::Value;

const SECRET: &str = "trigger-test-secret";

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn params(batch: usize) -> Params {
    Params {
        batch,
        ..Params::default()
    }
}

fn with_sets(sets: &[&str]) -> Params {
    Params {
        sets: sets.iter().map(|s| s.to_string()).collect(),
        ..Params::default()
    }
}

fn built(name: &str, params: &Params) -> Vec<u8> {
    build(find(name).unwrap(), params).unwrap().body
}

fn json(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap()
}

fn event(body: &[u8]) -> Value {
    let body = json(body);
    let entry = &body["entry"][0];
    ["messaging", "standby", "changes", "calls"]
        .iter()
        .find_map(|channel| entry.get(channel))
        .map(|events| events[0].clone())
        .unwrap()
}

fn keys(body: &[u8]) -> Vec<String> {
    parse(body)
        .unwrap()
        .iter()
        .map(|e| e.dedup_key().to_string())
        .collect()
}

fn check_event(kind: &Kind, event: &Event<'_>) {
    assert_eq!(event.kind_name(), kind.kind, "{}", kind.name);
    assert_eq!(event.object.as_deref(), Some(kind.object), "{}", kind.name);
}

fn verify(body: &[u8], signature: &str, secret: &str) -> bool {
    let verifier = Verifier::new(vec![Secret::new(secret)]);
    let headers = SignatureHeaders {
        sha256: Some(signature.as_bytes()),
        sha1: None,
    };
    verifier.verify(&headers, body).is_ok()
}

// ---------------------------------------------------------------------------------------------------------
// build: every kind
// ---------------------------------------------------------------------------------------------------------

#[test]
fn every_kind_builds_a_wire_form_body_that_verifies_and_parses_to_its_kind() {
    for kind in catalog() {
        let built = build(kind, &Params::default()).unwrap();
        let body = &built.body;
        assert_eq!(built.events, 1);
        assert_eq!(
            &wire::reencode(body).unwrap(),
            body,
            "{} is not in wire form",
            kind.name
        );
        let signature = signature::sign(SECRET.as_bytes(), body);
        assert!(verify(body, &signature, SECRET), "{}", kind.name);
        assert!(!verify(body, &signature, "another-secret"), "{}", kind.name);
        let events = parse(body).unwrap();
        assert_eq!(events.len(), 1, "{}", kind.name);
        check_event(kind, &events[0]);
    }
}

#[test]
fn every_kind_is_dated_now_in_its_own_units() {
    for kind in catalog() {
        let before = now_ms();
        let body = json(&built(kind.name, &Params::default()));
        let events = parse(&serde_json::to_vec(&body).unwrap()).unwrap().len();
        assert_eq!(events, 1);
        let time = body["entry"][0]["time"].as_i64().unwrap();
        // Some templates time the entry in seconds (Instagram changes, calls), the rest in ms.
        let time_ms = if time < 1_000_000_000_000 {
            time * 1000
        } else {
            time
        };
        // Kinds keyed by time alone are dated past the previous build's time, so allow some drift.
        assert!(
            (before - 1000..before + 60_000).contains(&time_ms),
            "{}: entry.time {time} is not now ({before})",
            kind.name
        );
        let event = parse(&serde_json::to_vec(&body).unwrap()).unwrap()[0]
            .timestamp_ms()
            .unwrap();
        assert!(
            (before - 60_000..before + 60_000).contains(&event),
            "{}: event time {event} is not now ({before})",
            kind.name
        );
    }
}

#[test]
fn two_builds_of_every_kind_have_different_dedup_keys() {
    for kind in catalog() {
        let a = keys(&built(kind.name, &Params::default()));
        let b = keys(&built(kind.name, &Params::default()));
        assert_ne!(a, b, "{}", kind.name);
    }
}

#[test]
fn a_batch_of_five_is_five_entries_of_distinct_events_for_every_kind() {
    for kind in catalog() {
        let built = build(kind, &params(5)).unwrap();
        assert_eq!(built.events, 5);
        assert_eq!(json(&built.body)["entry"].as_array().unwrap().len(), 5);
        let events = parse(&built.body).unwrap();
        assert_eq!(events.len(), 5, "{}", kind.name);
        events.iter().for_each(|e| check_event(kind, e));
        let keys: HashSet<String> = events.iter().map(|e| e.dedup_key().to_string()).collect();
        assert_eq!(keys.len(), 5, "{}", kind.name);
        let signature = signature::sign(SECRET.as_bytes(), &built.body);
        assert!(verify(&built.body, &signature, SECRET));
    }
}

#[test]
fn every_template_is_one_event_of_its_catalog_object() {
    for kind in catalog() {
        let body = json(&built(kind.name, &Params::default()));
        assert_eq!(body["object"], kind.object, "{}", kind.name);
        assert!(!kind.description.is_empty() && !kind.description.contains('\n'));
    }
}

// ---------------------------------------------------------------------------------------------------------
// build: ids, text, overrides
// ---------------------------------------------------------------------------------------------------------

#[test]
fn mids_are_fresh_and_shaped_like_metas() {
    let a = event(&built("message", &Params::default()));
    let b = event(&built("message", &Params::default()));
    let (a, b) = (
        a["message"]["mid"].as_str().unwrap(),
        b["message"]["mid"].as_str().unwrap(),
    );
    assert_ne!(a, b);
    assert!(a.starts_with("m_") && a.len() == 88, "{a}");
    assert!(
        a[2..]
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    );
    let ig = event(&built("instagram.message", &Params::default()));
    let ig = ig["message"]["mid"].as_str().unwrap();
    assert!(
        ig.starts_with("aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQx"),
        "{ig}"
    );
    assert_eq!(ig.len(), 120);
    let call = event(&built("call", &Params::default()));
    assert!(call["id"].as_str().unwrap().starts_with("c_"));
}

#[test]
fn page_and_user_replace_the_ids_on_the_right_sides() {
    let ids = Params {
        page: Some("111122223333444".into()),
        user: Some("5555666677778888".into()),
        ..Params::default()
    };
    let message = json(&built("message", &ids));
    assert_eq!(message["entry"][0]["id"], "111122223333444");
    let e = &message["entry"][0]["messaging"][0];
    assert_eq!(e["sender"]["id"], "5555666677778888");
    assert_eq!(e["recipient"]["id"], "111122223333444");
    for echo in ["echo", "echo.page_inbox", "instagram.echo"] {
        let e = event(&built(echo, &ids));
        assert_eq!(e["sender"]["id"], "111122223333444", "{echo}");
        assert_eq!(e["recipient"]["id"], "5555666677778888", "{echo}");
    }
    let call = event(&built("call", &ids));
    assert_eq!(
        (&call["from"], &call["to"]),
        (&"5555666677778888".into(), &"111122223333444".into())
    );
    let comment = event(&built("instagram.comments", &ids));
    assert_eq!(comment["value"]["from"]["id"], "5555666677778888");
    // Ids embedded in other values follow too.
    let post = event(&built("message.post", &ids));
    let url = post["message"]["attachments"][0]["payload"]["url"]
        .as_str()
        .unwrap();
    assert!(url.contains("/111122223333444/posts/"), "{url}");
    // A kind without a user takes only the page.
    let policy = json(&built("policy_enforcement", &ids));
    assert_eq!(
        policy["entry"][0]["messaging"][0]["recipient"]["id"],
        "111122223333444"
    );
    // Plugin kinds name their user by user_ref.
    let plugin = Params {
        user: Some("cp_visitor_42".into()),
        ..Params::default()
    };
    let e = event(&built("referral.chat_plugin", &plugin));
    assert_eq!(e["sender"]["user_ref"], "cp_visitor_42");
    let e = event(&built("optin.checkbox", &plugin));
    assert_eq!(e["optin"]["user_ref"], "cp_visitor_42");
}

#[test]
fn instagram_mids_encode_the_given_account() {
    let ids = Params {
        page: Some("17841498765432109".into()),
        ..Params::default()
    };
    let e = event(&built("instagram.message", &ids));
    let mid = e["message"]["mid"].as_str().unwrap();
    // base64 of ":17841498765432109:" up to its last whole group.
    assert!(mid.contains("OjE3ODQxNDk4NzY1NDMyMTA5"), "{mid}");
}

#[test]
fn without_ids_every_kind_of_an_object_shares_one_conversation() {
    for name in [
        "message", "echo", "read", "delivery", "reaction", "postback",
    ] {
        let e = event(&built(name, &Params::default()));
        let user = if name == "echo" {
            &e["recipient"]["id"]
        } else {
            &e["sender"]["id"]
        };
        assert_eq!(user, "7392015648120394", "{name}");
    }
    for name in [
        "instagram.message",
        "instagram.story_mention",
        "instagram.seen",
    ] {
        let e = event(&built(name, &Params::default()));
        assert_eq!(e["sender"]["id"], "6841123456789012", "{name}");
    }
}

#[test]
fn bad_ids_are_refused_with_the_flag_named() {
    let bad = Params {
        page: Some("my-page".into()),
        ..Params::default()
    };
    let err = build(find("message").unwrap(), &bad)
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("--page `my-page`"), "{err}");
    let bad = Params {
        user: Some("12 34".into()),
        ..Params::default()
    };
    assert!(matches!(
        build(find("message").unwrap(), &bad),
        Err(TriggerError::BadId { flag: "user", .. })
    ));
}

#[test]
fn text_replaces_the_text_of_messages_echoes_edits_and_comments() {
    let text = Params {
        text: Some("Olá 😀 see https://x.example/a".into()),
        ..Params::default()
    };
    for (name, path) in [
        ("message", &["message", "text"][..]),
        ("echo", &["message", "text"]),
        ("message_edit", &["message_edit", "text"]),
        ("instagram.message", &["message", "text"]),
        ("instagram.comments", &["value", "text"]),
    ] {
        let body = built(name, &text);
        let mut at = &event(&body);
        for part in path {
            at = &at[part];
        }
        assert_eq!(at, "Olá 😀 see https://x.example/a", "{name}");
        let raw = String::from_utf8(body).unwrap();
        assert!(
            raw.contains(r"Ol\u00e1 \ud83d\ude00 see https:\/\/x.example\/a"),
            "{raw}"
        );
    }
}

#[test]
fn text_for_a_kind_without_text_is_an_error_that_says_so() {
    let text = Params {
        text: Some("hi".into()),
        ..Params::default()
    };
    for name in [
        "message.image",
        "read",
        "reaction",
        "instagram.story_mention",
    ] {
        let err = build(find(name).unwrap(), &text).unwrap_err();
        assert!(matches!(err, TriggerError::NoText { .. }), "{name}: {err}");
        assert!(err.to_string().contains("has no text"), "{err}");
    }
}

#[test]
fn sets_are_relative_to_the_event_unless_they_start_at_entry_or_object() {
    let sets = with_sets(&[
        "message.attachments.0.payload.url=https://cdn.example/cat.png",
        "message.seq=17",
        "entry.0.time=1767610000311",
        "message.quick_reply={\"payload\":\"CAT\"}",
    ]);
    let body = json(&built("message.image", &sets));
    let e = &body["entry"][0]["messaging"][0];
    assert_eq!(
        e["message"]["attachments"][0]["payload"]["url"],
        "https://cdn.example/cat.png"
    );
    assert_eq!(e["message"]["seq"], 17);
    assert_eq!(e["message"]["quick_reply"]["payload"], "CAT");
    assert_eq!(body["entry"][0]["time"], 1767610000311u64);
}

#[test]
fn a_set_on_a_fresh_field_wins_over_freshness() {
    let sets = with_sets(&["message.mid=m_fixed"]);
    let a = event(&built("message", &sets));
    assert_eq!(a["message"]["mid"], "m_fixed");
    let b = built("message", &sets);
    assert_eq!(keys(&built("message", &sets)), keys(&b));
}

#[test]
fn bad_set_paths_are_errors_naming_the_path() {
    for (kind, set, needle) in [
        ("message", "message.text.size=1", "`message.text.size`"),
        (
            "message.image",
            "message.attachments.4.payload=1",
            "past the end",
        ),
        ("message", "entry.x=1", "`entry` is an array"),
        ("message", "nonsense", "expected PATH=VALUE"),
    ] {
        let err = build(find(kind).unwrap(), &with_sets(&[set]))
            .unwrap_err()
            .to_string();
        assert!(err.contains(needle), "{set}: {err}");
    }
}

#[test]
fn the_reserved_marker_is_refused_in_user_input() {
    let text = Params {
        text: Some("~~hls0~~".into()),
        ..Params::default()
    };
    assert!(matches!(
        build(find("message").unwrap(), &text),
        Err(TriggerError::Reserved { .. })
    ));
    let set = with_sets(&["message.metadata=~~hln1~~"]);
    assert!(matches!(
        build(find("message").unwrap(), &set),
        Err(TriggerError::Reserved { .. })
    ));
}

#[test]
fn too_large_a_batch_is_refused() {
    let err = build(find("message").unwrap(), &params(1001)).unwrap_err();
    assert!(err.to_string().contains("at most 1000"), "{err}");
}

#[test]
fn seconds_stay_seconds() {
    let call = json(&built("call", &Params::default()));
    assert!(call["entry"][0]["time"].as_u64().unwrap() < 10_000_000_000);
    assert!(call["entry"][0]["calls"][0]["timestamp"].as_u64().unwrap() < 10_000_000_000);
    let booking = event(&built("message.appointment_booking", &Params::default()));
    let start = booking["message"]["attachments"][0]["payload"]["start_time"]
        .as_i64()
        .unwrap();
    // As far after the event as in the fixture (start_time 1767790800 s, entry.time 1767610014311 ms).
    let ahead = 1_767_790_800_000 - 1_767_610_014_311;
    assert!((start * 1000 - now_ms() - ahead).abs() < 60_000, "{start}");
    let permission = event(&built("call_permission_reply", &Params::default()));
    let expiry = permission["call_permission_reply"]["expiration_timestamp"]
        .as_str()
        .unwrap();
    assert_eq!(expiry.len(), 10, "{expiry}");
}

#[test]
fn watermarks_are_just_before_the_event() {
    let read = event(&built("read", &Params::default()));
    let (timestamp, watermark) = (
        read["timestamp"].as_i64().unwrap(),
        read["read"]["watermark"].as_i64().unwrap(),
    );
    assert!(
        (1..=5000).contains(&(timestamp - watermark)),
        "{timestamp} {watermark}"
    );
}

/// A vector computed outside this code: `printf '%s' "$BODY" | openssl dgst -sha256 -hmac trigger-vector-secret`
/// over the wire form of the fixture m56 (a reaction with a non-ASCII emoji), which `build` reproduces
/// exactly once its fresh values are set back to the fixture's.
#[test]
fn a_build_with_fixed_values_signs_like_openssl() {
    const BODY: &str = r#"{"object":"page","entry":[{"id":"104938475610293","time":1767610055311,"messaging":[{"sender":{"id":"7392015648120394"},"recipient":{"id":"104938475610293"},"timestamp":1767610055000,"reaction":{"reaction":"love","emoji":"\u2764\ufe0f","action":"react","mid":"m_TN3RzJBDTKA3SGLSbwngAoRMxcFJ5DZKkcCXpLZJagTe3JTEfPkjidqhB4bihYFueONDRfEPGdHgBNfU6zbBtu"}}]}]}"#;
    const OPENSSL: &str = "sha256=145e6a6b33f4b0262dc4402f9ba8a7b482de5b93a0653b88bbaf4b07b836d931";
    let sets = with_sets(&[
        "reaction.mid=m_TN3RzJBDTKA3SGLSbwngAoRMxcFJ5DZKkcCXpLZJagTe3JTEfPkjidqhB4bihYFueONDRfEPGdHgBNfU6zbBtu",
        "timestamp=1767610055000",
        "entry.0.time=1767610055311",
    ]);
    let body = built("reaction", &sets);
    assert_eq!(String::from_utf8(body.clone()).unwrap(), BODY);
    assert_eq!(signature::sign(b"trigger-vector-secret", &body), OPENSSL);
    assert!(verify(&body, OPENSSL, "trigger-vector-secret"));
    assert_eq!(HEADER_SHA256.to_ascii_lowercase(), "x-hub-signature-256");
}

// ---------------------------------------------------------------------------------------------------------
// Template::render
// ---------------------------------------------------------------------------------------------------------

const NOW: u64 = 1_767_610_000_311;

fn check_template(kind: &'static Kind, batch: usize, seqs: u64) {
    let template = Template::new(kind, &params(batch)).unwrap();
    assert_eq!(template.kind().name, kind.name);
    assert_eq!(template.events(), batch.max(1));
    let mut seen = HashSet::new();
    let mut body = Vec::new();
    for seq in 0..seqs {
        template.render(seq, NOW, &mut body);
        assert_eq!(
            body.len(),
            template.len(),
            "{}: length changed at seq {seq}",
            kind.name
        );
        let events = parse(&body).unwrap();
        assert_eq!(events.len(), batch.max(1), "{}", kind.name);
        for event in &events {
            check_event(kind, event);
            assert!(
                seen.insert(event.dedup_key().to_string()),
                "{} x{batch}: key repeated at seq {seq}",
                kind.name
            );
        }
    }
    assert_eq!(wire::reencode(&body).unwrap(), body, "{}", kind.name);
}

#[test]
fn every_template_renders_distinct_keys_over_500_requests() {
    for kind in catalog() {
        check_template(kind, 1, 500);
    }
}

#[test]
fn every_template_renders_distinct_keys_in_batches() {
    for kind in catalog() {
        check_template(kind, 3, 100);
    }
}

#[test]
fn rendered_times_come_from_now() {
    let mut body = Vec::new();
    Template::new(find("read").unwrap(), &Params::default())
        .unwrap()
        .render(7, NOW, &mut body);
    let v = json(&body);
    assert_eq!(v["entry"][0]["time"], NOW);
    let e = &v["entry"][0]["messaging"][0];
    assert_eq!(e["timestamp"], NOW - 311);
    assert_eq!(e["read"]["watermark"], NOW - 811);
    Template::new(find("instagram.comments").unwrap(), &Params::default())
        .unwrap()
        .render(7, NOW, &mut body);
    assert_eq!(json(&body)["entry"][0]["time"], NOW / 1000);
}

#[test]
fn rendering_is_a_function_of_seq_and_now() {
    let template = Template::new(find("message").unwrap(), &params(2)).unwrap();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    template.render(42, NOW, &mut a);
    template.render(42, NOW, &mut b);
    assert_eq!(a, b);
    template.render(43, NOW, &mut b);
    assert_ne!(a, b);
    // The buffer is cleared first.
    let mut dirty = b"leftover".to_vec();
    template.render(42, NOW, &mut dirty);
    assert_eq!(dirty, a);
}

#[test]
fn templates_keep_the_overrides() {
    let ids = Params {
        page: Some("111122223333444".into()),
        user: Some("5555666677778888".into()),
        text: Some("load".into()),
        ..Params::default()
    };
    let template = Template::new(find("message").unwrap(), &ids).unwrap();
    let mut body = Vec::new();
    template.render(3, NOW, &mut body);
    let e = event(&body);
    assert_eq!(e["sender"]["id"], "5555666677778888");
    assert_eq!(e["recipient"]["id"], "111122223333444");
    assert_eq!(e["message"]["text"], "load");
}

#[test]
fn templates_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync + std::fmt::Debug>() {}
    shareable::<Template>();
}

#[test]
fn a_user_population_spreads_every_kind_over_that_many_users_with_distinct_keys() {
    const USERS: u64 = 40;
    let pooled = Params {
        users: Some(USERS),
        ..Params::default()
    };
    for kind in catalog() {
        let template = Template::new(kind, &pooled).unwrap();
        let (mut keys, mut conversations) = (HashSet::new(), HashSet::new());
        let mut body = Vec::new();
        // A request a millisecond, so a user's turns (USERS requests apart) fall in different milliseconds
        // and, for kinds timed in seconds, in different seconds.
        for seq in 0..4 * USERS {
            let step = if kind_in_seconds(kind) { 1000 } else { 1 };
            template.render(seq, NOW + seq * step, &mut body);
            for event in parse(&body).unwrap() {
                check_event(kind, &event);
                assert!(
                    keys.insert(event.dedup_key().to_string()),
                    "{}: key repeated at seq {seq}",
                    kind.name
                );
                conversations.extend(event.conversation().map(|c| c.to_string()));
            }
        }
        // Kinds with a user land in exactly USERS conversations; the rest in none, or in the account's.
        assert!(
            conversations.len() as u64 == USERS || conversations.len() <= 1,
            "{}: {} conversations",
            kind.name,
            conversations.len()
        );
    }
    let message = Template::new(find("message").unwrap(), &pooled).unwrap();
    let mut senders = HashSet::new();
    let mut body = Vec::new();
    for seq in 0..3 * USERS {
        message.render(seq, NOW, &mut body);
        senders.insert(event(&body)["sender"]["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(senders.len() as u64, USERS);
    assert!(
        senders
            .iter()
            .all(|id| id.len() == 16 && id.bytes().all(|b| b.is_ascii_digit()))
    );
}

#[test]
fn a_user_population_is_refused_when_empty_and_ignored_with_a_fixed_user() {
    let none = Params {
        users: Some(0),
        ..Params::default()
    };
    let err = Template::new(find("message").unwrap(), &none).unwrap_err();
    assert!(matches!(err, TriggerError::BadUsers { users: 0 }), "{err}");
    let fixed = Params {
        users: Some(10),
        user: Some("5555666677778888".into()),
        ..Params::default()
    };
    let template = Template::new(find("message").unwrap(), &fixed).unwrap();
    let mut body = Vec::new();
    for seq in 0..20 {
        template.render(seq, NOW, &mut body);
        assert_eq!(event(&body)["sender"]["id"], "5555666677778888");
    }
}

/// Whether the kind's own time is in seconds (its key then changes once a second at most).
fn kind_in_seconds(kind: &Kind) -> bool {
    let body = json(&built(kind.name, &Params::default()));
    let entry = &body["entry"][0];
    let event = ["messaging", "standby", "changes", "calls"]
        .iter()
        .find_map(|channel| entry.get(channel))
        .map(|events| events[0].clone());
    let time = event
        .as_ref()
        .and_then(|e| e.get("timestamp"))
        .or(entry.get("time"))
        .and_then(Value::as_u64);
    time.is_some_and(|t| t < 10_000_000_000)
}

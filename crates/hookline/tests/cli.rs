//! The `hookline` binary as a user runs it: `parse`, `sign`, `events list`, `deliveries list`, and `serve`'s
//! refusal to start without a secret (CONTRACTS.md sections 1-4).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const CONTRACT_KEYS: [&str; 11] = [
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
];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../hookline-meta/tests/fixtures")
        .join(name)
}

fn vector(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../hookline-meta/tests/vectors")
        .join(name)
}

fn hookline(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hookline"))
        .args(args)
        .env_remove("HOOKLINE_APP_ID")
        .env_remove("HOOKLINE_SIGN_SECRET")
        .env_remove("HOOKLINE_APP_SECRET")
        .env_remove("HOOKLINE_DATABASE")
        .env_remove("HOOKLINE_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    // A command that fails on its arguments exits without reading its input.
    let _ = input.write_all(stdin.unwrap_or_default());
    drop(input);
    child.wait_with_output().unwrap()
}

fn lines(output: &Output) -> Vec<serde_json::Value> {
    String::from_utf8(output.stdout.clone())
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[test]
fn parse_prints_one_line_per_event_with_every_contract_key_first() {
    let path = fixture("m65_batch_multi_entry.json");
    let output = hookline(&["parse", path.to_str().unwrap()], None);
    assert!(output.status.success());
    let events = lines(&output);
    assert_eq!(events.len(), 4);
    for event in &events {
        let keys: Vec<&str> = event
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys[..11], CONTRACT_KEYS);
    }
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["message", "read", "postback", "message_echo"]);
    assert_eq!(events[1]["entry_id"], "118273645501928");
    assert_eq!(events[3]["detail"]["source"], "other_app");
}

#[test]
fn parse_reads_standard_input_and_classifies_own_echoes() {
    let body = std::fs::read(fixture("m21_echo_text.json")).unwrap();
    for args in [
        vec!["parse", "--app-id", "1517776481860111"],
        vec!["parse", "--app-id", "9,1517776481860111", "-"],
    ] {
        let output = hookline(&args, Some(&body));
        assert!(output.status.success());
        assert_eq!(lines(&output)[0]["detail"]["source"], "this_app");
    }
}

#[test]
fn parse_keeps_ids_exact_and_times_in_milliseconds() {
    let body = br#"{"object":"page","entry":[{"id":104938475610293,"time":1767610100,"calls":[{"id":"c_1","to":104938475610293,"from":17918195224117851,"event":"connect","timestamp":1767610100}]}]}"#;
    let event = &lines(&hookline(&["parse"], Some(body)))[0];
    assert_eq!(event["entry_id"], "104938475610293");
    assert_eq!(event["sender"], "17918195224117851");
    assert_eq!(event["timestamp_ms"], 1_767_610_100_000i64);
    assert_eq!(event["timestamp_raw"], 1_767_610_100i64);
}

#[test]
fn parse_reports_invalid_json_with_its_position_and_prints_the_rest() {
    let bad = b"{\"object\": \"page\",\n  \"entry\": [}";
    let dir = std::env::temp_dir().join(format!("hookline-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad_path = dir.join("bad.json");
    std::fs::write(&bad_path, bad).unwrap();
    let good = fixture("m01_message_text.json");
    let output = hookline(
        &["parse", bad_path.to_str().unwrap(), good.to_str().unwrap()],
        None,
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr.clone()).unwrap();
    assert!(
        stderr.contains("bad.json: invalid JSON at line 2, column 13"),
        "{stderr}"
    );
    assert_eq!(lines(&output).len(), 1, "the valid file is still printed");
}

#[test]
fn parse_with_raw_adds_each_events_json() {
    let path = fixture("ig12_message_deleted.json");
    let event = &lines(&hookline(&["parse", "--raw", path.to_str().unwrap()], None))[0];
    assert_eq!(event["kind"], "message_deleted");
    assert_eq!(event["raw"]["message"]["is_deleted"], true);
}

// Expected values computed with `openssl dgst -sha256 -hmac` (crates/hookline-meta/tests/vectors).
const WIRE_SHA256: &str = "sha256=c744eed5b10b6cfb8910656ba51b5037945fb18653e1263de119fc2afadb45e4";
const WIRE_SHA1: &str = "sha1=ebb71440bf27a9a69a95fa9e1a36d52d939b6f7d";
const SECRET: &str = "meta-app-secret-0123456789abcdef";

#[test]
fn sign_prints_the_signature_of_the_exact_bytes() {
    let path = vector("wire.json");
    let output = hookline(&["sign", "--secret", SECRET, path.to_str().unwrap()], None);
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        format!("{WIRE_SHA256}\n")
    );

    let body = std::fs::read(&path).unwrap();
    let output = hookline(&["sign", "--secret", SECRET, "--sha1"], Some(&body));
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        format!("{WIRE_SHA256}\n{WIRE_SHA1}\n")
    );
}

#[test]
fn sign_without_a_secret_says_how_to_give_one() {
    let output = hookline(&["sign"], Some(b"{}"));
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("--secret"), "{stderr}");
}

/// A store holding one delivery of `m65_batch_multi_entry.json` twice and one quarantined body.
fn stored(dir: &Path) -> String {
    use hookline_store::{Content, EventStore, NewDelivery, NewEvent};
    let path = dir.join("cli.db");
    let body = std::fs::read(fixture("m65_batch_multi_entry.json")).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = hookline_store::sqlite::SqliteStore::open(&path, Default::default()).unwrap();
        let events: Vec<_> = hookline_meta::parse(&body)
            .unwrap()
            .iter()
            .map(|e| NewEvent::from_event(e, &body))
            .collect();
        let delivery = |body: Vec<u8>, content: Content| NewDelivery {
            received_at_ms: 1_767_610_000_123,
            app: None,
            secret_index: Some(0),
            signature: None,
            api_version: Some("v25.0".into()),
            user_agent: None,
            body: body.into(),
            content,
        };
        for _ in 0..2 {
            let d = delivery(body.clone(), Content::Events(events.clone()));
            store.submit(d).unwrap().await.unwrap();
        }
        let broken = Content::Quarantined {
            reason: "expected value at line 1 column 2".into(),
        };
        store
            .submit(delivery(b"{x".to_vec(), broken))
            .unwrap()
            .await
            .unwrap();
        store.close().await;
    });
    format!("sqlite://{}", path.display())
}

#[test]
fn events_list_prints_each_stored_event_once_with_the_contract_keys_id_and_received_at() {
    let dir = tempfile::tempdir().unwrap();
    let database = stored(dir.path());
    let output = hookline(&["events", "list", "--database", &database, "--json"], None);
    assert!(output.status.success(), "{output:?}");
    let events = lines(&output);
    assert_eq!(events.len(), 4);
    for event in &events {
        let object = event.as_object().unwrap();
        for key in CONTRACT_KEYS.iter().chain(&["id", "received_at"]) {
            assert!(object.contains_key(*key), "{key} missing in {event}");
        }
        assert_eq!(event["duplicates"], 1);
        assert_eq!(event["received_at"], "2026-01-05T10:46:40.123Z");
    }
    let ids: Vec<_> = events.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [1, 2, 3, 4]);
    let reads = hookline(
        &[
            "events",
            "list",
            "--database",
            &database,
            "--json",
            "--kind",
            "read",
            "--raw",
        ],
        None,
    );
    let reads = lines(&reads);
    assert_eq!(reads.len(), 1);
    assert!(reads[0]["raw"]["read"]["watermark"].is_number());
    let text = hookline(
        &["events", "list", "--database", &database, "--limit", "2"],
        None,
    );
    assert_eq!(String::from_utf8(text.stdout).unwrap().lines().count(), 2);
}

#[test]
fn deliveries_list_shows_redeliveries_and_quarantined_bodies() {
    let dir = tempfile::tempdir().unwrap();
    let database = stored(dir.path());
    let output = hookline(
        &[
            "deliveries",
            "list",
            "--database",
            &database,
            "--json",
            "--body",
        ],
        None,
    );
    assert!(output.status.success(), "{output:?}");
    let deliveries = lines(&output);
    let summary: Vec<_> = deliveries
        .iter()
        .map(|d| {
            (
                d["outcome"].as_str().unwrap(),
                d["duplicate"].as_bool().unwrap(),
                d["new_event_count"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("accepted", false, 4),
            ("accepted", true, 0),
            ("quarantined", false, 0)
        ]
    );
    assert_eq!(deliveries[2]["body"], "{x");
    assert!(
        deliveries[2]["error"]
            .as_str()
            .unwrap()
            .contains("column 2")
    );
    let quarantined = hookline(
        &[
            "deliveries",
            "list",
            "--database",
            &database,
            "--outcome",
            "quarantined",
        ],
        None,
    );
    let text = String::from_utf8(quarantined.stdout).unwrap();
    assert_eq!(text.lines().count(), 1);
    assert!(text.contains("quarantined: expected value"), "{text}");
}

#[test]
fn listing_a_store_that_does_not_exist_says_how_to_make_one() {
    let output = hookline(
        &["events", "list", "--database", "sqlite:///nonexistent/h.db"],
        None,
    );
    assert!(!output.status.success());
    let err = String::from_utf8(output.stderr).unwrap();
    assert!(err.contains("hookline serve"), "{err}");
}

#[test]
fn serve_without_a_secret_refuses_to_start_and_says_how_to_set_one() {
    let output = hookline(&["serve", "--listen", "127.0.0.1:0"], None);
    assert!(!output.status.success());
    let err = String::from_utf8(output.stderr).unwrap();
    assert!(
        err.contains("HOOKLINE_APP_SECRET") && err.contains("--app-secret"),
        "{err}"
    );
}

//! `hookline replay`, run as the real binary between real servers: deliveries stored by one server and
//! replayed into another give the same events and byte-identical bodies; a receiver with another secret
//! refuses them until they are re-signed; `--kind`, `--since` and `--until` choose which are sent.
#![cfg(unix)]

mod support;

use std::collections::BTreeSet;

use serde_json::Value;
use support::{Sandbox, Server, client, fixture, hookline, hookline_json, post_signed};

const SECRET: &str = "replay-test-secret";
const OTHER_SECRET: &str = "another-apps-secret";

/// Fixtures of many kinds; with a redelivery and a quarantined body, 20 deliveries.
const FIXTURES: [&str; 18] = [
    "m01_message_text.json",
    "m04_message_attachment_image.json",
    "m21_echo_text.json",
    "m30_delivery.json",
    "m31_read.json",
    "m32_postback.json",
    "m34_optin_send_to_messenger.json",
    "m39_referral_shortlink.json",
    "m44_handover_pass_thread_control.json",
    "m56_reaction_react.json",
    "m58_message_edit.json",
    "m63_calls_connect.json",
    "m65_batch_multi_entry.json",
    "ig01_message_text.json",
    "ig12_message_deleted.json",
    "ig20_reaction_react.json",
    "ig33_comments.json",
    "extra/x05_unknown_kind_and_array_beside_known.json",
];
const DELIVERIES: usize = 20;

async fn serve(sandbox: &Sandbox, database: &str, secret: &str) -> Server {
    Server::start(sandbox, &["--app-secret", secret, "--database", database]).await
}

/// Store A: the fixtures (pretty-printed, so a re-serialised body would differ), one of them twice, and
/// a correctly signed body that is not JSON. Its server is stopped before the replays.
async fn store_a(sandbox: &Sandbox) -> String {
    let database = sandbox.store_url("a.db");
    let server = serve(sandbox, &database, SECRET).await;
    let client = client();
    let webhook = server.url("/webhook");
    let mut bodies: Vec<Vec<u8>> = FIXTURES.iter().map(|name| fixture(name)).collect();
    bodies.insert(5, fixture("m01_message_text.json"));
    bodies.push(b"{\"object\":\"page\",\"entry\":[{\"id\":".to_vec());
    assert_eq!(bodies.len(), DELIVERIES);
    for body in &bodies {
        assert_eq!(post_signed(&client, &webhook, SECRET, body).await, 200);
    }
    server.stop().await;
    database
}

fn replay(args: &[&str]) -> (Option<i32>, String) {
    let mut all = vec!["replay"];
    all.extend(args);
    let output = hookline(&all);
    (
        output.status.code(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

fn deliveries(database: &str) -> Vec<Value> {
    hookline_json(&["deliveries", "list", "--json", "--body"], database)
}

fn dedup_keys(database: &str) -> BTreeSet<String> {
    hookline_json(&["events", "list", "--json"], database)
        .iter()
        .map(|e| e["dedup_key"].as_str().unwrap().to_owned())
        .collect()
}

/// What a receiver must have received of a delivery: its exact body, outcome and Meta's headers.
fn as_received(delivery: &Value) -> (Value, Value, Value, Value, Value) {
    (
        delivery["body"].clone(),
        delivery["body_hex"].clone(),
        delivery["outcome"].clone(),
        delivery["api_version"].clone(),
        delivery["user_agent"].clone(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaying_into_a_second_server_gives_the_same_events_and_identical_bodies() {
    let sandbox = Sandbox::new();
    let a = store_a(&sandbox).await;
    let b = sandbox.store_url("b.db");
    let server_b = serve(&sandbox, &b, SECRET).await;

    let (code, stderr) = replay(&["--database", &a, "--to", &server_b.url("/webhook")]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("sent 20 deliveries") && stderr.contains("20 × 200"),
        "{stderr}"
    );

    let in_fixtures: BTreeSet<String> = FIXTURES
        .iter()
        .flat_map(|name| {
            let body = fixture(name);
            let events = hookline_meta::parse(&body).unwrap();
            events
                .iter()
                .map(|e| e.dedup_key().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(dedup_keys(&a), in_fixtures);
    assert_eq!(dedup_keys(&b), dedup_keys(&a));
    let (from_a, from_b) = (deliveries(&a), deliveries(&b));
    assert_eq!(from_b.len(), DELIVERIES);
    let received: Vec<_> = from_b.iter().map(as_received).collect();
    let sent: Vec<_> = from_a.iter().map(as_received).collect();
    assert_eq!(
        received, sent,
        "bodies, outcomes and headers in the same order"
    );
    for (a, b) in from_a.iter().zip(&from_b) {
        assert_eq!(
            a["signature"], b["signature"],
            "the original signature is sent"
        );
        assert_eq!(a["duplicate"], b["duplicate"]);
    }
    assert_eq!(from_b[19]["outcome"], "quarantined");
    assert_eq!(from_b[5]["duplicate"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_with_another_secret_refuses_the_replay_until_it_is_re_signed() {
    let sandbox = Sandbox::new();
    let a = store_a(&sandbox).await;
    let c = sandbox.store_url("c.db");
    let server_c = serve(&sandbox, &c, OTHER_SECRET).await;
    let to = server_c.url("/webhook");

    let (code, stderr) = replay(&["--database", &a, "--to", &to]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("20 × 401"), "{stderr}");
    assert!(
        stderr.contains("delivery 1: 401 Unauthorized invalid or missing signature"),
        "{stderr}"
    );
    assert!(stderr.contains("pass --secret"), "{stderr}");
    assert!(deliveries(&c).is_empty());

    let (code, stderr) = replay(&["--database", &a, "--to", &to, "--secret", OTHER_SECRET]);
    assert_eq!(code, Some(0), "{stderr}");
    let (from_a, from_c) = (deliveries(&a), deliveries(&c));
    assert_eq!(
        from_c.iter().map(as_received).collect::<Vec<_>>(),
        from_a.iter().map(as_received).collect::<Vec<_>>()
    );
    for delivery in &from_c {
        let body = match delivery["body"].as_str() {
            Some(text) => text.as_bytes().to_vec(),
            None => hex::decode(delivery["body_hex"].as_str().unwrap()).unwrap(),
        };
        let resigned = hookline_meta::signature::sign(OTHER_SECRET.as_bytes(), &body);
        assert_eq!(delivery["signature"], resigned.as_str());
    }
    assert_eq!(dedup_keys(&c), dedup_keys(&a));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kind_since_and_until_choose_the_deliveries_that_are_sent() {
    let sandbox = Sandbox::new();
    let a = store_a(&sandbox).await;
    let stored = deliveries(&a);

    // --kind: every delivery holding a reaction or an edit, and nothing else.
    let d = sandbox.store_url("d.db");
    let server_d = serve(&sandbox, &d, SECRET).await;
    let (code, stderr) = replay(&[
        "--database",
        &a,
        "--to",
        &server_d.url("/webhook"),
        "--kind",
        "reaction,message_edit",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    let holds = |delivery: &Value, kinds: &[&str]| {
        let body = delivery["body"].as_str().unwrap_or_default();
        hookline_meta::parse(body.as_bytes())
            .is_ok_and(|events| events.iter().any(|e| kinds.contains(&e.kind_name())))
    };
    let expected: Vec<&Value> = stored
        .iter()
        .filter(|d| holds(d, &["reaction", "message_edit"]))
        .map(|d| &d["body"])
        .collect();
    assert_eq!(expected.len(), 3);
    let bodies_d = deliveries(&d);
    assert_eq!(
        bodies_d.iter().map(|d| &d["body"]).collect::<Vec<_>>(),
        expected
    );
    assert!(stderr.contains("17 skipped"), "{stderr}");

    // --since (inclusive) and --until (exclusive), as RFC 3339 times taken from the store.
    let e = sandbox.store_url("e.db");
    let server_e = serve(&sandbox, &e, SECRET).await;
    let since = stored[4]["received_at"].as_str().unwrap();
    let until = stored[12]["received_at"].as_str().unwrap();
    let (code, stderr) = replay(&[
        "--database",
        &a,
        "--to",
        &server_e.url("/webhook"),
        "--since",
        since,
        "--until",
        until,
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    let in_window: Vec<&Value> = stored
        .iter()
        .filter(|d| {
            let at = d["received_at"].as_str().unwrap();
            since <= at && at < until
        })
        .map(|d| &d["body"])
        .collect();
    assert!((1..=12).contains(&in_window.len()), "{}", in_window.len());
    let bodies_e = deliveries(&e);
    assert_eq!(
        bodies_e.iter().map(|d| &d["body"]).collect::<Vec<_>>(),
        in_window
    );

    // Durations mean "ago": everything was received in the last hour, nothing before it.
    let unused = "http://127.0.0.1:9/webhook";
    let (code, stderr) = replay(&["--database", &a, "--to", unused, "--until", "1h"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("nothing was sent"), "{stderr}");
    let (code, stderr) = replay(&["--database", &a, "--to", unused, "--since", "yesterday"]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("RFC 3339") && stderr.contains("2h"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_does_not_answer_is_reported_with_the_delivery_ids() {
    let sandbox = Sandbox::new();
    let a = store_a(&sandbox).await;
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let to = format!("http://127.0.0.1:{port}/webhook");
    let (code, stderr) = replay(&["--database", &a, "--to", &to, "--skip-quarantined"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("delivery 1: ") && stderr.contains("without answer"),
        "{stderr}"
    );
    assert!(stderr.contains("stopped: 10 POSTs in a row"), "{stderr}");
}

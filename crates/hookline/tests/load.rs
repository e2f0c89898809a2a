//! `hookline load` against a real `hookline serve`: what the generator reports matches what the server
//! stored, for the built-in mix, a mix file and batches.

mod support;

use support::{Sandbox, Server, hookline, hookline_json};

const SECRET: &str = "load-secret";

/// Runs `hookline load` against `server` and returns its JSON report.
fn load(server: &Server, args: &[&str]) -> serde_json::Value {
    let url = server.url("/webhook");
    let mut all = vec!["load", "--url", &url, "--secret", SECRET, "--json"];
    all.extend_from_slice(args);
    let output = hookline(&all);
    assert!(
        output.status.success(),
        "hookline load failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

async fn server(sandbox: &Sandbox) -> Server {
    Server::start(
        sandbox,
        &["--app-secret", SECRET, "--database", &sandbox.url()],
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_builtin_mix_reports_what_the_server_stored() {
    let sandbox = Sandbox::new();
    let server = server(&sandbox).await;
    let report = load(&server, &["--requests", "600", "--connections", "8"]);
    assert_eq!(report["requests"], 600);
    assert_eq!(report["status"]["200"], 600, "{report}");
    assert_eq!(report["events"], 600);

    let events = hookline_json(&["events", "list", "--json"], &sandbox.url());
    let deliveries = hookline_json(&["deliveries", "list", "--json"], &sandbox.url());
    assert_eq!(deliveries.len(), 600);
    assert_eq!(events.len(), 600, "every request carried a distinct event");
    let kinds: std::collections::BTreeSet<&str> =
        events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    for kind in [
        "message",
        "message_echo",
        "delivery",
        "read",
        "reaction",
        "postback",
    ] {
        assert!(kinds.contains(kind), "no {kind} in the mix: {kinds:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn batches_and_a_mix_file_are_stored_event_for_event() {
    let sandbox = Sandbox::new();
    let server = server(&sandbox).await;
    let mix = sandbox.path().join("mix.toml");
    std::fs::write(&mix, "\"reaction\" = 1\n\"instagram.message\" = 1\n").unwrap();
    let report = load(
        &server,
        &[
            "--requests",
            "200",
            "--batch",
            "3",
            "--mix",
            mix.to_str().unwrap(),
        ],
    );
    assert_eq!(report["status"]["200"], 200, "{report}");
    assert_eq!(report["events"], 600);

    let events = hookline_json(&["events", "list", "--json"], &sandbox.url());
    assert_eq!(events.len(), 600);
    let kinds: std::collections::BTreeSet<&str> =
        events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["message", "reaction"].into());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_population_puts_messages_and_receipts_in_its_users_conversations() {
    let sandbox = Sandbox::new();
    let server = server(&sandbox).await;
    let report = load(
        &server,
        &["--requests", "600", "--connections", "8", "--users", "50"],
    );
    assert_eq!(report["status"]["200"], 600, "{report}");

    let events = hookline_json(&["events", "list", "--json"], &sandbox.url());
    assert_eq!(events.len(), 600, "every request carried a distinct event");
    let conversations = |object: &str| -> std::collections::BTreeSet<String> {
        events
            .iter()
            .filter(|e| e["object"] == object)
            .filter_map(|e| e["conversation_key"].as_str().map(str::to_owned))
            .collect()
    };
    // About 480 Messenger events (messages, echoes, receipts, reactions, postbacks) over 50 users: each
    // user has some, and no receipt opens a conversation of its own.
    assert_eq!(conversations("page").len(), 50);
    let instagram = conversations("instagram").len();
    assert!((1..=50).contains(&instagram), "{instagram}");
    let receipts = events
        .iter()
        .filter(|e| e["kind"] == "delivery" || e["kind"] == "read")
        .count();
    assert!(receipts > 50, "{receipts} receipts in the mix");
}

#[test]
fn an_empty_user_population_is_refused() {
    let output = hookline(&[
        "load",
        "--secret",
        SECRET,
        "--requests",
        "1",
        "--users",
        "0",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--users 0"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_secret_is_reported_as_401s_and_exits_1() {
    let sandbox = Sandbox::new();
    let server = server(&sandbox).await;
    let url = server.url("/webhook");
    let output = hookline(&[
        "load",
        "--url",
        &url,
        "--secret",
        "wrong",
        "--requests",
        "50",
        "--json",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["status"]["401"], 50, "{report}");
    assert!(hookline_json(&["events", "list", "--json"], &sandbox.url()).is_empty());
}

#[test]
fn an_unknown_kind_in_a_mix_file_is_named() {
    let sandbox = Sandbox::new();
    let mix = sandbox.path().join("mix.toml");
    std::fs::write(&mix, "\"mesage\" = 1\n").unwrap();
    let output = hookline(&[
        "load",
        "--secret",
        SECRET,
        "--requests",
        "1",
        "--mix",
        mix.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("mesage") && stderr.contains("--list"),
        "{stderr}"
    );
}

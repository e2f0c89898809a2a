//! `hookline tail`, run as the real binary against a running server: what is stored, what arrives while
//! it follows, through the store or through the admin API, and how it stops.
#![cfg(unix)]

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{
    Sandbox, Server, client, fixture, hookline, hookline_command, hookline_json, json_lines,
    post_signed, sigterm, wait_exit,
};

const SECRET: &str = "tail-test-secret";
const ADMIN_TOKEN: &str = "tail-test-admin-token";
/// Far more than a poll every 200 ms needs; only a tail that never prints reaches it.
const DEADLINE: Duration = Duration::from_secs(15);

/// A server with the admin token, holding three deliveries (six events).
async fn server_with_events(sandbox: &Sandbox) -> (Server, String) {
    let database = sandbox.url();
    let args = [
        "--app-secret",
        SECRET,
        "--admin-token",
        ADMIN_TOKEN,
        "--database",
        &database,
    ];
    let server = Server::start(sandbox, &args).await;
    for name in [
        "m01_message_text.json",
        "m56_reaction_react.json",
        "m65_batch_multi_entry.json",
    ] {
        let status = post_signed(&client(), &server.url("/webhook"), SECRET, &fixture(name)).await;
        assert_eq!(status, 200);
    }
    (server, database)
}

/// A delivery of one message with a mid of its own.
fn message(mid: &str) -> Vec<u8> {
    format!(
        r#"{{"object":"page","entry":[{{"id":"100","time":1767610000000,"messaging":[{{"sender":{{"id":"7"}},"recipient":{{"id":"100"}},"timestamp":1767610000000,"message":{{"mid":"{mid}","text":"live {mid}"}}}}]}}]}}"#
    )
    .into_bytes()
}

fn stdout_text(output: &std::process::Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// `hookline tail ARGS` in the background, with its standard output's lines arriving on a channel.
fn spawn_tail(args: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let mut child = hookline_command()
        .arg("tail")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if lines.send(line.unwrap()).is_err() {
                return;
            }
        }
    });
    (child, receiver)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_prints_every_stored_event_as_events_list_does() {
    let sandbox = Sandbox::new();
    let (_server, database) = server_with_events(&sandbox).await;
    let listed = hookline_json(&["events", "list", "--json"], &database);
    assert_eq!(listed.len(), 6);
    let tailed = json_lines(&hookline(&[
        "tail",
        "--database",
        &database,
        "--once",
        "--json",
    ]));
    assert_eq!(tailed, listed);

    let messages = json_lines(&hookline(&[
        "tail",
        "--database",
        &database,
        "--once",
        "--json",
        "--kind",
        "message",
    ]));
    let expected = hookline_json(
        &["events", "list", "--json", "--kind", "message"],
        &database,
    );
    assert_eq!(messages, expected);
    let after = json_lines(&hookline(&[
        "tail",
        "--database",
        &database,
        "--once",
        "--json",
        "--after",
        "4",
    ]));
    let ids: Vec<i64> = after.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [5, 6]);

    // Readable lines: one per event, the message's text, no colour codes into a pipe.
    let text = hookline(&["tail", "--database", &database, "--once"]);
    let text = stdout_text(&text);
    assert_eq!(text.lines().count(), 6, "{text}");
    let first = text.lines().next().unwrap();
    assert!(
        first.contains("message") && first.contains("\"Hi! Do you ship to Lisbon?\""),
        "{first}"
    );
    assert!(
        first.contains("7392015648120394 → 104938475610293"),
        "{first}"
    );
    assert!(!text.contains('\x1b'), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_tail_prints_events_stored_after_it_started_and_stops_on_sigterm() {
    let sandbox = Sandbox::new();
    let (server, database) = server_with_events(&sandbox).await;
    let (mut tail, lines) = spawn_tail(&["--database", &database, "--json"]);

    // Tail starts at the newest event, which it reads once it runs: post until one shows up, so the
    // test does not depend on when that is.
    let client = client();
    let started = Instant::now();
    let mut posted = Vec::new();
    let line = loop {
        let mid = format!("m.live.{}", posted.len());
        assert_eq!(
            post_signed(&client, &server.url("/webhook"), SECRET, &message(&mid)).await,
            200
        );
        posted.push(mid);
        if let Ok(line) = lines.recv_timeout(Duration::from_millis(500)) {
            break line;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "tail printed nothing in {DEADLINE:?}"
        );
    };
    let event: Value = serde_json::from_str(&line).unwrap();
    let mid = event["mid"].as_str().unwrap();
    assert!(
        posted.iter().any(|m| m == mid),
        "{mid} was stored before tail started"
    );
    assert!(event["id"].as_i64().unwrap() > 6);
    let stored = hookline_json(&["events", "list", "--json", "--after", "6"], &database);
    assert!(
        stored.contains(&event),
        "the line is the event's events-list JSON: {event}"
    );

    sigterm(&tail);
    let status = wait_exit(&mut tail, DEADLINE).await;
    assert!(status.success(), "tail exited with {status} after SIGTERM");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_reads_a_server_s_admin_api_with_its_token_and_names_a_wrong_one() {
    let sandbox = Sandbox::new();
    let (server, database) = server_with_events(&sandbox).await;
    let base = server.url("");
    let listed = hookline_json(&["events", "list", "--json"], &database);
    let tailed = json_lines(&hookline(&[
        "tail",
        "--url",
        &base,
        "--admin-token",
        ADMIN_TOKEN,
        "--once",
        "--json",
    ]));
    assert_eq!(tailed, listed);
    let reactions = json_lines(&hookline(&[
        "tail",
        "--url",
        &base,
        "--admin-token",
        ADMIN_TOKEN,
        "--once",
        "--json",
        "--kind",
        "reaction",
    ]));
    assert_eq!(reactions.len(), 1);
    assert_eq!(reactions[0], listed[1]);

    // Following through the API.
    let (mut tail, lines) = spawn_tail(&["--url", &base, "--admin-token", ADMIN_TOKEN]);
    let client = client();
    let started = Instant::now();
    let line = loop {
        let body = message(&format!("m.api.{}", started.elapsed().as_millis()));
        assert_eq!(
            post_signed(&client, &server.url("/webhook"), SECRET, &body).await,
            200
        );
        if let Ok(line) = lines.recv_timeout(Duration::from_millis(500)) {
            break line;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "tail --url printed nothing in {DEADLINE:?}"
        );
    };
    assert!(
        line.contains(" message ") && line.contains("\"live m.api."),
        "{line}"
    );
    sigterm(&tail);
    assert!(wait_exit(&mut tail, DEADLINE).await.success());

    let wrong = hookline(&["tail", "--url", &base, "--admin-token", "wrong", "--once"]);
    assert_eq!(wrong.status.code(), Some(1));
    let stderr = String::from_utf8(wrong.stderr).unwrap();
    assert!(
        stderr.contains("401") && stderr.contains("admin token"),
        "{stderr}"
    );
    assert!(!stderr.contains(ADMIN_TOKEN), "{stderr}");
    let missing = hookline(&["tail", "--url", &base, "--once"]);
    assert_eq!(missing.status.code(), Some(1));
    let stderr = String::from_utf8(missing.stderr).unwrap();
    assert!(stderr.contains("HOOKLINE_ADMIN_TOKEN"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_pipe_ends_tail_quietly_with_exit_0() {
    let sandbox = Sandbox::new();
    let (_server, database) = server_with_events(&sandbox).await;
    let mut tail = hookline_command()
        .args(["tail", "--database", &database, "--from-start"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // As `| head -0` would: the reader is gone before the first line.
    drop(tail.stdout.take());
    let status = wait_exit(&mut tail, DEADLINE).await;
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut tail.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "tail exited with {status}: {stderr}");
    assert_eq!(stderr, "");
}

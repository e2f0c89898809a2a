//! `hookline sinks status`, `hookline dlq list|retry|drop` and `hookline replay --to-sink`, run as the
//! real binary against a store whose events, cursors and dead letters are written through the store's
//! own API beforehand.
#![cfg(unix)]

mod support;

use std::process::Output;
use std::sync::Arc;

use hookline_store::outbox::{
    AttemptQuery, AttemptState, NewAttempt, OutboxWrite, SinkClaim, SinkStart, SinkStatus,
};
use hookline_store::{Content, EventStore, NewDelivery, NewEvent, StoreUrl, WriterOptions};
use serde_json::Value;
use support::{Sandbox, hookline, json_lines};

const SINK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn open(database: &str) -> Arc<dyn EventStore> {
    let writer = WriterOptions {
        queue_capacity: 16,
        max_batch: 16,
        observer: None,
        project: false,
        migrate: true,
    };
    hookline_store::open(&StoreUrl::parse(database).unwrap(), writer)
        .await
        .unwrap()
}

/// A delivery holding a message (mid `m.N`) and a read receipt: two events, message first.
fn delivery(n: i64) -> NewDelivery {
    let body = format!(
        r#"{{"object":"page","entry":[{{"id":"100","time":1700000000000,"messaging":[{{"sender":{{"id":"7"}},"recipient":{{"id":"100"}},"timestamp":{t},"message":{{"mid":"m.{n}","text":"hi {n}"}}}},{{"sender":{{"id":"7"}},"recipient":{{"id":"100"}},"timestamp":{t},"read":{{"watermark":{t}}}}}]}}]}}"#,
        t = 1_700_000_000_000 + n,
    )
    .into_bytes();
    let events = hookline_meta::parse(&body)
        .unwrap()
        .iter()
        .map(|e| NewEvent::from_event(e, &body))
        .collect();
    NewDelivery {
        received_at_ms: 1_700_000_000_500 + n,
        app: None,
        secret_index: Some(0),
        signature: Some("sha256=00".into()),
        api_version: Some("v25.0".into()),
        user_agent: Some("facebookexternalua".into()),
        body: body.into(),
        content: Content::Events(events),
    }
}

fn dead(event_id: i64) -> NewAttempt {
    NewAttempt {
        event_id,
        conversation_key: None,
        timestamp_ms: None,
        attempts: 5,
        state: AttemptState::Dead,
        next_attempt_at_ms: None,
        last_error: Some("HTTP 500 from http://127.0.0.1:9/x".into()),
    }
}

/// A store with `deliveries` deliveries (events 1, 3, 5... are messages, 2, 4, 6... read receipts) and,
/// when `crm_cursor` is given, a sink `crm` at that cursor with dead letters for events 1 and 3 and a
/// retry of event 2 due in the far future.
fn seed(database: &str, deliveries: i64, crm_cursor: Option<i64>) {
    runtime().block_on(async {
        let store = open(database).await;
        for n in 1..=deliveries {
            store.submit(delivery(n)).unwrap().await.unwrap();
        }
        if let Some(cursor) = crm_cursor {
            store
                .open_sink("crm".into(), SinkStart::Beginning)
                .await
                .unwrap();
            let retry = NewAttempt {
                state: AttemptState::Pending,
                next_attempt_at_ms: Some(4_000_000_000_000),
                attempts: 1,
                ..dead(2)
            };
            store
                .save_sink_progress(OutboxWrite {
                    sink: "crm".into(),
                    cursor: Some(cursor),
                    new: vec![dead(1), retry, dead(3)],
                    changes: vec![],
                    now_ms: 1_700_000_001_000,
                    owner: None,
                })
                .await
                .unwrap();
        }
        store.close().await;
    });
}

/// The attempt rows of `sink` in `state`, as (event id, attempts).
fn attempts(database: &str, sink: &str, state: AttemptState) -> Vec<(i64, u32)> {
    runtime().block_on(async {
        let store = open(database).await;
        let rows = store
            .list_attempts(AttemptQuery {
                sink: Some(sink.into()),
                state: Some(state),
                after_id: None,
                limit: 1000,
            })
            .await
            .unwrap();
        store.close().await;
        rows.iter().map(|a| (a.event_id, a.attempts)).collect()
    })
}

fn statuses(database: &str) -> Vec<SinkStatus> {
    runtime().block_on(async {
        let store = open(database).await;
        let statuses = store.sink_statuses().await.unwrap();
        store.close().await;
        statuses
    })
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

#[test]
fn sinks_status_shows_each_sinks_cursor_lag_and_dead_letters() {
    let sandbox = Sandbox::new();
    let database = sandbox.url();
    seed(&database, 2, Some(3));

    let output = hookline(&["sinks", "status", "--database", &database]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].starts_with("SINK") && lines[0].contains("LAG"),
        "{text}"
    );
    let columns: Vec<&str> = lines[1].split_whitespace().collect();
    // sink, cursor, head, lag, pending, dead, next attempt, updated, owner (no worker runs it).
    assert_eq!(columns[..6], ["crm", "3", "4", "1", "1", "2"], "{text}");
    assert!(columns[6].starts_with("2096-"), "{text}");
    assert_eq!(columns[8..], ["-"], "{text}");

    let status = &json_lines(&hookline(&[
        "sinks",
        "status",
        "--json",
        "--database",
        &database,
    ]))[0];
    let keys: Vec<&str> = status
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "sink",
            "cursor",
            "head",
            "lag",
            "pending",
            "dead",
            "next_attempt_at",
            "updated_at",
            "owner",
            "lease_until"
        ]
    );
    assert_eq!(status["sink"], "crm");
    assert_eq!(status["cursor"], 3);
    assert_eq!(status["head"], 4);
    assert_eq!(status["lag"], 1);
    assert_eq!(status["pending"], 1);
    assert_eq!(status["dead"], 2);
    assert!(
        status["next_attempt_at"]
            .as_str()
            .unwrap()
            .starts_with("2096-")
    );
    assert_eq!(status["updated_at"], "2023-11-14T22:13:21.000Z");
    assert_eq!(
        (&status["owner"], &status["lease_until"]),
        (&Value::Null, &Value::Null)
    );
}

/// Sinks `crm` and `audit`, run by instances whose leases last until 2096 and ran out in 2023. The store
/// that took them stays open (with its runtime) while the returned pair lives: a SQLite file opened by no
/// process has its leases cleared by the next one to open it.
fn seed_leases(database: &str) -> (tokio::runtime::Runtime, Arc<dyn EventStore>) {
    seed(database, 1, Some(2));
    let runtime = runtime();
    let store = runtime.block_on(async {
        let store = open(database).await;
        store
            .open_sink("audit".into(), SinkStart::Beginning)
            .await
            .unwrap();
        for (sink, owner, until_ms) in [
            ("crm", "web-1-4242-beef", 4_000_000_000_000),
            ("audit", "web-2-99-0a0a", 1_700_000_002_000),
        ] {
            let claim = SinkClaim {
                sink: sink.into(),
                owner: owner.into(),
                now_ms: 1_700_000_001_000,
                until_ms,
            };
            assert!(store.claim_sink(claim).await.unwrap().is_some());
        }
        store
    });
    (runtime, store)
}

#[test]
fn sinks_status_shows_the_instance_holding_each_sink() {
    let sandbox = Sandbox::new();
    let database = sandbox.url();
    let (runtime, store) = seed_leases(&database);

    let output = hookline(&["sinks", "status", "--database", &database]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0]
            .trim_end()
            .ends_with("UPDATED                   OWNER"),
        "{text}"
    );
    let owners: Vec<(&str, &str)> = lines[1..]
        .iter()
        .map(|line| {
            let columns: Vec<&str> = line.split_whitespace().collect();
            (columns[0], columns[columns.len() - 1])
        })
        .collect();
    // A lease that ran out is nobody's: its instance stopped renewing it.
    assert_eq!(
        owners,
        [("audit", "-"), ("crm", "web-1-4242-beef")],
        "{text}"
    );

    let statuses = json_lines(&hookline(&[
        "sinks",
        "status",
        "--json",
        "--database",
        &database,
    ]));
    let leases: Vec<(&Value, &Value)> = statuses
        .iter()
        .map(|s| (&s["owner"], &s["lease_until"]))
        .collect();
    assert_eq!(
        leases,
        [
            (
                &Value::from("web-2-99-0a0a"),
                &Value::from("2023-11-14T22:13:22.000Z")
            ),
            (
                &Value::from("web-1-4242-beef"),
                &Value::from("2096-10-02T07:06:40.000Z")
            ),
        ]
    );
    runtime.block_on(store.close());
}

#[test]
fn sinks_status_without_sinks_says_how_to_get_one_and_succeeds() {
    let sandbox = Sandbox::new();
    let database = sandbox.url();
    seed(&database, 1, None);
    let output = hookline(&["sinks", "status", "--database", &database]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "");
    let err = stderr(&output);
    assert!(
        err.contains("no sink has run")
            && err.contains("[[sink]]")
            && err.contains("hookline serve"),
        "{err}"
    );
}

#[test]
fn dlq_list_shows_the_dead_letters_by_sink_and_page() {
    let sandbox = Sandbox::new();
    let database = sandbox.url();
    seed(&database, 2, Some(3));

    let dead = json_lines(&hookline(&[
        "dlq",
        "list",
        "--json",
        "--database",
        &database,
    ]));
    let events: Vec<&Value> = dead.iter().map(|d| &d["event_id"]).collect();
    assert_eq!(events, [1, 3]);
    let first = &dead[0];
    assert_eq!(first["sink"], "crm");
    assert_eq!(first["attempts"], 5);
    assert_eq!(first["last_error"], "HTTP 500 from http://127.0.0.1:9/x");
    assert_eq!(first["created_at"], "2023-11-14T22:13:21.000Z");
    assert!(first["conversation_key"].is_null());
    assert!(first["id"].is_i64());

    let output = hookline(&["dlq", "list", "--database", &database]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.contains("crm") && text.contains("HTTP 500"), "{text}");

    let after = first["id"].as_i64().unwrap().to_string();
    let rest = json_lines(&hookline(&[
        "dlq",
        "list",
        "--json",
        "--after",
        &after,
        "--database",
        &database,
    ]));
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0]["event_id"], 3);
    let limited = json_lines(&hookline(&[
        "dlq",
        "list",
        "--json",
        "--limit",
        "1",
        "--database",
        &database,
    ]));
    assert_eq!(limited.len(), 1);
    let other = json_lines(&hookline(&[
        "dlq",
        "list",
        "--json",
        "--sink",
        "other",
        "--database",
        &database,
    ]));
    assert!(other.is_empty());
}

#[test]
fn dlq_retry_needs_ids_or_all_and_then_makes_the_dead_letters_due() {
    let sandbox = Sandbox::new();
    let database = sandbox.url();
    seed(&database, 2, Some(3));

    for action in ["retry", "drop"] {
        let output = hookline(&["dlq", action, "--database", &database]);
        assert_eq!(output.status.code(), Some(1));
        let err = stderr(&output);
        assert!(
            err.contains("pass attempt ids")
                && err.contains("hookline dlq list")
                && err.contains("--all"),
            "{err}"
        );
    }
    assert_eq!(statuses(&database)[0].dead, 2, "nothing changed");

    let output = hookline(&["dlq", "retry", "--all", "--database", &database]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "requeued 2 dead letters\n");
    assert!(attempts(&database, "crm", AttemptState::Dead).is_empty());
    assert_eq!(
        attempts(&database, "crm", AttemptState::Pending),
        [(1, 0), (2, 1), (3, 0)]
    );
    let status = &json_lines(&hookline(&[
        "sinks",
        "status",
        "--json",
        "--database",
        &database,
    ]))[0];
    assert_eq!(status["pending"], 3);
    assert_eq!(status["dead"], 0);
    assert_eq!(status["next_attempt_at"], "1970-01-01T00:00:00.000Z");
}

#[test]
fn dlq_drop_removes_the_given_dead_letters_and_fails_on_ids_that_are_not_dead() {
    let sandbox = Sandbox::new();
    let database = sandbox.url();
    seed(&database, 2, Some(3));
    let dead = json_lines(&hookline(&[
        "dlq",
        "list",
        "--json",
        "--database",
        &database,
    ]));
    let first = dead[0]["id"].as_i64().unwrap().to_string();

    let output = hookline(&["dlq", "drop", &first, "--database", &database]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "dropped 1 dead letters\n");
    assert_eq!(attempts(&database, "crm", AttemptState::Dead), [(3, 5)]);

    // The first id is gone now, and the other one belongs to no sink called "other".
    let second = dead[1]["id"].as_i64().unwrap().to_string();
    let output = hookline(&[
        "dlq",
        "retry",
        &first,
        &second,
        "--sink",
        "other",
        "--database",
        &database,
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stdout(&output), "requeued 0 dead letters\n");
    let err = stderr(&output);
    assert!(
        err.contains("2 of the 2 given ids are not dead letters"),
        "{err}"
    );
    assert_eq!(attempts(&database, "crm", AttemptState::Dead), [(3, 5)]);
}

/// A config file for `database` with one http sink `crm` that takes messages only.
fn config(sandbox: &Sandbox, database: &str) -> String {
    let path = sandbox.path().join("hookline.toml");
    let text = format!(
        r#"app_secret = "dev-secret"
database = "{database}"

[[sink]]
name = "crm"
type = "http"
url = "http://127.0.0.1:9/x"
secret = "{SINK_SECRET}"
kinds = ["message"]
"#
    );
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn replay_to_sink_queues_the_matching_events_up_to_the_sinks_cursor() {
    let sandbox = Sandbox::new();
    let database = sandbox.url();
    // Events 1-6; the cursor stands at 4, so the message 5 is still the worker's to deliver.
    seed(&database, 3, Some(4));
    let config = config(&sandbox, &database);

    // The database comes from the config file.
    let output = hookline(&["replay", "--to-sink", "crm", "--config", &config]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        "queued 2 events for sink crm (2 stored events did not match its filter)\n"
    );
    // The dead letters of messages 1 and 3 are replaced by fresh rows; the read receipt 2 keeps its retry.
    assert!(attempts(&database, "crm", AttemptState::Dead).is_empty());
    assert_eq!(
        attempts(&database, "crm", AttemptState::Pending),
        [(1, 0), (2, 1), (3, 0)]
    );
    let status = &statuses(&database)[0];
    assert_eq!((status.cursor, status.pending), (4, 3));
    assert_eq!(status.next_attempt_at_ms, Some(0));

    // --kind and the time window choose among the stored events; the filter still applies.
    let output = hookline(&[
        "replay",
        "--to-sink",
        "crm",
        "--config",
        &config,
        "--kind",
        "message,read",
        "--since",
        "2023-11-14T22:13:20.002Z",
        "--until",
        "2023-11-14T22:13:20.003Z",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    // Message 3 and read receipt 4 have that time.
    assert_eq!(
        stdout(&output),
        "queued 1 events for sink crm (1 stored events did not match its filter)\n"
    );
}

#[test]
fn replay_to_sink_backfills_a_sink_that_never_ran() {
    let sandbox = Sandbox::new();
    let database = sandbox.url();
    seed(&database, 3, None);
    let config = config(&sandbox, &database);
    let output = hookline(&[
        "replay",
        "--to-sink",
        "crm",
        "--config",
        &config,
        "--database",
        &database,
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        "queued 3 events for sink crm (3 stored events did not match its filter)\n"
    );
    assert_eq!(
        attempts(&database, "crm", AttemptState::Pending),
        [(1, 0), (3, 0), (5, 0)]
    );
    assert_eq!(statuses(&database)[0].cursor, 6);
}

#[test]
fn replay_to_sink_names_the_configured_sinks_when_the_name_is_unknown() {
    let sandbox = Sandbox::new();
    let database = sandbox.url();
    seed(&database, 1, None);
    let config = config(&sandbox, &database);
    let output = hookline(&["replay", "--to-sink", "crm2", "--config", &config]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(
        err.contains("no [[sink]] named \"crm2\"") && err.contains("its sinks are: crm"),
        "{err}"
    );
    assert!(statuses(&database).is_empty(), "no cursor was created");

    let output = hookline(&["replay", "--to-sink", "crm", "--database", &database]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--config"), "{}", stderr(&output));
    let output = hookline(&["replay", "--database", &database]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(err.contains("--to <URL>|--to-sink <NAME>"), "{err}");
}

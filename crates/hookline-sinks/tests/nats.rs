//! The NATS JetStream sink against a real nats-server with JetStream.
//!
//! Set `HOOKLINE_TEST_NATS_URL` (e.g. `nats://127.0.0.1:4222`, server started with `-js`) to run them;
//! without it they print why and pass, unless `HOOKLINE_REQUIRE_SERVICES=1`, which makes that a failure.
//! Each test uses its own stream and subject prefix and deletes its stream at the end.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, stream::StorageType};
use hookline_sinks::{
    Filter, NatsError, NatsOptions, NatsSink, Outcome, Sink, SystemClock, Worker, WorkerOptions,
};
use hookline_store::outbox::SinkStart;
use hookline_store::sqlite::{SqliteOptions, SqliteStore};
use hookline_store::{Content, EventQuery, EventStore, NewDelivery, NewEvent, StoredEvent};
use tokio::sync::watch;

const FIXTURES: [&str; 7] = [
    "m01_message_text",
    "m48_standby_message",
    "m50_standby_read_and_delivery",
    "m65_batch_multi_entry",
    "ig01_message_text",
    "ig33_comments",
    "ig39_batch_multi",
];

/// The server's URL, or `None` (after saying why) when these tests are skipped.
fn nats_url(test: &str) -> Option<String> {
    match std::env::var("HOOKLINE_TEST_NATS_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var("HOOKLINE_REQUIRE_SERVICES").as_deref() == Ok("1") => panic!(
            "HOOKLINE_REQUIRE_SERVICES=1 but HOOKLINE_TEST_NATS_URL is not set: start nats-server with \
             JetStream (nats-server -js) and set HOOKLINE_TEST_NATS_URL=nats://127.0.0.1:4222"
        ),
        _ => {
            eprintln!(
                "skipping {test}: set HOOKLINE_TEST_NATS_URL (e.g. nats://127.0.0.1:4222, nats-server -js) to run it"
            );
            None
        }
    }
}

/// A stream name and a two-token subject prefix no other test (or run) uses.
fn unique() -> (String, String) {
    let suffix = format!("{:016x}", fastrand::u64(..));
    (
        format!("hookline_test_{suffix}"),
        format!("hltest.{suffix}"),
    )
}

fn options(prefix: &str, stream: Option<&str>) -> NatsOptions {
    NatsOptions {
        subject_prefix: prefix.to_owned(),
        stream: stream.map(str::to_owned),
        timeout: Duration::from_secs(5),
        parse: hookline_meta::ParseOptions::default(),
    }
}

async fn jetstream_at(url: &str) -> jetstream::Context {
    let client = async_nats::connect(url)
        .await
        .unwrap_or_else(|err| panic!("cannot connect to NATS at {url}: {err}"));
    jetstream::new(client)
}

/// Runs `body`, then deletes `stream` whether or not `body` panicked, then passes the panic on.
async fn deleting_stream_after<F>(js: &jetstream::Context, stream: &str, body: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    let result = tokio::spawn(body).await;
    // Gone already (never created) is fine.
    let _ = js.delete_stream(stream).await;
    if let Err(err) = result {
        std::panic::resume_unwind(err.into_panic());
    }
}

/// A SQLite store holding the fixtures' events.
struct Stored {
    _dir: tempfile::TempDir,
    store: Arc<dyn EventStore>,
    events: Vec<StoredEvent>,
}

async fn stored() -> Stored {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn EventStore> = Arc::new(
        SqliteStore::open(&dir.path().join("store.db"), SqliteOptions::default()).unwrap(),
    );
    for name in FIXTURES {
        let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
        let body = std::fs::read(&path).unwrap_or_else(|err| panic!("{path}: {err}"));
        let events = hookline_meta::parse(&body).unwrap_or_else(|err| panic!("{path}: {err}"));
        let content = Content::Events(
            events
                .iter()
                .map(|e| NewEvent::from_event(e, &body))
                .collect(),
        );
        let delivery = NewDelivery {
            received_at_ms: 1_767_610_200_000,
            app: None,
            secret_index: Some(0),
            signature: Some("sha256=00".into()),
            api_version: Some("v25.0".into()),
            user_agent: Some("facebookexternalua".into()),
            body: body.into(),
            content,
        };
        store.submit(delivery).unwrap().await.unwrap();
    }
    let events = store
        .list_events(EventQuery {
            limit: 1000,
            with_raw: true,
            ..EventQuery::default()
        })
        .await
        .unwrap();
    assert!(events.len() > FIXTURES.len(), "the fixtures hold batches");
    Stored {
        _dir: dir,
        store,
        events,
    }
}

/// Runs a worker named `name` over every stored event (standby and echoes included) until its cursor
/// reaches the head with nothing pending, then stops it.
async fn run_worker(store: &Arc<dyn EventStore>, sink: NatsSink, name: &str) {
    let options = WorkerOptions {
        start: SinkStart::Beginning,
        filter: Filter {
            include_standby: true,
            include_echoes: true,
            ..Filter::default()
        },
        ..WorkerOptions::default()
    };
    let worker = Worker::new(
        name,
        Arc::new(sink),
        options,
        store.clone(),
        Arc::new(SystemClock),
    );
    let (stop_tx, stop_rx) = watch::channel(false);
    let running = tokio::spawn(worker.run(stop_rx));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let statuses = store.sink_statuses().await.unwrap();
        let status = statuses.iter().find(|s| s.sink == name);
        if let Some(status) = status {
            assert_eq!((status.pending, status.dead), (0, 0), "{status:?}");
            if status.cursor == status.head {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "worker {name} did not catch up: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop_tx.send(true).unwrap();
    running.await.unwrap();
}

/// Every message of the stream, in sequence order.
async fn messages(js: &jetstream::Context, stream: &str) -> Vec<jetstream::message::StreamMessage> {
    let mut handle = js.get_stream(stream).await.unwrap();
    let state = handle.info().await.unwrap().state.clone();
    let mut out = Vec::new();
    if state.messages > 0 {
        for seq in state.first_sequence..=state.last_sequence {
            out.push(handle.get_raw_message(seq).await.unwrap());
        }
    }
    assert_eq!(out.len() as u64, state.messages);
    out
}

fn header<'a>(message: &'a jetstream::message::StreamMessage, name: &str) -> Option<&'a str> {
    message.headers.get(name).map(|v| v.as_str())
}

#[tokio::test]
async fn every_stored_event_arrives_once_with_its_dedup_key_as_msg_id() {
    let Some(url) = nats_url("every_stored_event_arrives_once_with_its_dedup_key_as_msg_id") else {
        return;
    };
    let (stream, prefix) = unique();
    let js = jetstream_at(&url).await;
    let (js2, stream2) = (js.clone(), stream.clone());
    deleting_stream_after(&js, &stream, async move {
        let stored = stored().await;
        let sink = NatsSink::connect(&url, options(&prefix, Some(&stream2)))
            .await
            .unwrap();
        run_worker(&stored.store, sink, "bus").await;

        let by_key: HashMap<&str, &StoredEvent> = stored
            .events
            .iter()
            .map(|e| (e.dedup_key.as_str(), e))
            .collect();
        assert_eq!(
            by_key.len(),
            stored.events.len(),
            "fixtures with distinct dedup keys"
        );
        let messages = messages(&js2, &stream2).await;
        assert_eq!(messages.len(), stored.events.len());
        let mut seen = HashSet::new();
        for message in &messages {
            let key = header(message, "Nats-Msg-Id").expect("every message has a Nats-Msg-Id");
            assert!(seen.insert(key.to_owned()), "{key} arrived twice");
            let event = by_key
                .get(key)
                .unwrap_or_else(|| panic!("{key} is not the dedup key of a stored event"));
            let object = event.object.as_deref().unwrap();
            assert_eq!(
                message.subject.as_str(),
                format!("{prefix}.{object}.{}", event.kind)
            );
            assert_eq!(header(message, "Content-Type"), Some("application/json"));
            let id = event.id.to_string();
            assert_eq!(header(message, "hookline-event-id"), Some(id.as_str()));
            let body: serde_json::Value = serde_json::from_slice(&message.payload).unwrap();
            assert_eq!(body["version"], 1);
            assert_eq!(body["id"], event.id);
            assert_eq!(body["dedup_key"], key);
            assert_eq!(body["kind"], event.kind.as_str());
            assert!(
                body["raw"].is_object(),
                "the raw event is forwarded: {body}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn a_republish_after_a_crash_before_the_cursor_save_is_dropped_by_dedup() {
    let Some(url) =
        nats_url("a_republish_after_a_crash_before_the_cursor_save_is_dropped_by_dedup")
    else {
        return;
    };
    let (stream, prefix) = unique();
    let js = jetstream_at(&url).await;
    let (js2, stream2) = (js.clone(), stream.clone());
    deleting_stream_after(&js, &stream, async move {
        let stored = stored().await;
        let connect = || NatsSink::connect(&url, options(&prefix, Some(&stream2)));
        run_worker(&stored.store, connect().await.unwrap(), "bus").await;
        let before = js2
            .get_stream(&stream2)
            .await
            .unwrap()
            .info()
            .await
            .unwrap()
            .state
            .clone();
        assert_eq!(before.messages, stored.events.len() as u64);

        // The process published every event, then crashed before saving its cursor: on restart it
        // publishes them all again, one by one and through a worker starting from the beginning.
        let sink = connect().await.unwrap();
        for event in &stored.events {
            assert_eq!(
                sink.deliver(event).await,
                Outcome::Delivered,
                "event {}",
                event.id
            );
        }
        run_worker(&stored.store, connect().await.unwrap(), "bus-restarted").await;

        let after = js2
            .get_stream(&stream2)
            .await
            .unwrap()
            .info()
            .await
            .unwrap()
            .state
            .clone();
        assert_eq!(after.messages, before.messages, "duplicates were stored");
        assert_eq!(
            after.last_sequence, before.last_sequence,
            "duplicates were stored"
        );
    })
    .await;
}

#[tokio::test]
async fn a_subject_without_a_stream_is_retried_with_a_reason_naming_the_stream() {
    let Some(url) =
        nats_url("a_subject_without_a_stream_is_retried_with_a_reason_naming_the_stream")
    else {
        return;
    };
    let (_, prefix) = unique();
    let sink = NatsSink::connect(&url, options(&prefix, None))
        .await
        .unwrap();
    let event = StoredEvent {
        id: 7,
        delivery_id: 1,
        received_at_ms: 1_767_610_200_000,
        dedup_key: "v1:0123456789abcdef0123456789abcdef".into(),
        object: Some("page".into()),
        entry_id: Some("104938475610293".into()),
        channel: "messaging".into(),
        kind: "message".into(),
        field: None,
        sender: Some("7".into()),
        user_ref: None,
        recipient: Some("104938475610293".into()),
        timestamp_ms: Some(1_767_610_100_000),
        mid: Some("m.1".into()),
        conversation_key: None,
        duplicates: 0,
        raw: None,
    };
    match sink.deliver(&event).await {
        Outcome::Retry { reason, .. } => {
            assert!(
                reason.contains(&format!("{prefix}.page.message")),
                "{reason}"
            );
            assert!(
                reason.contains(&format!("stream over \"{prefix}.>\"")),
                "{reason}"
            );
            assert!(reason.contains("stream = \"NAME\""), "{reason}");
        }
        other => panic!("expected a retry, got {other:?}"),
    }
}

#[tokio::test]
async fn an_existing_stream_over_other_subjects_is_refused_at_connect() {
    let Some(url) = nats_url("an_existing_stream_over_other_subjects_is_refused_at_connect") else {
        return;
    };
    let (stream, prefix) = unique();
    let js = jetstream_at(&url).await;
    let (js2, stream2) = (js.clone(), stream.clone());
    deleting_stream_after(&js, &stream, async move {
        let other = format!("{prefix}.page.>");
        js2.create_stream(jetstream::stream::Config {
            name: stream2.clone(),
            subjects: vec![other.clone()],
            storage: StorageType::Memory,
            ..Default::default()
        })
        .await
        .unwrap();
        let err = NatsSink::connect(&url, options(&prefix, Some(&stream2)))
            .await
            .unwrap_err();
        assert!(matches!(err, NatsError::StreamSubjects { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.contains(&other) && text.contains(&format!("{prefix}.>")),
            "{text}"
        );
    })
    .await;
}

#[tokio::test]
async fn connecting_where_no_server_listens_says_to_start_nats_server_with_jetstream() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("nats://127.0.0.1:{port}");
    let err = NatsSink::connect(&url, options("hookline", None))
        .await
        .unwrap_err();
    assert!(matches!(err, NatsError::Connect { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&url) && text.contains("-js"), "{text}");
}

#[tokio::test]
async fn a_prefix_with_a_wildcard_is_refused_before_connecting() {
    let err = NatsSink::connect("nats://127.0.0.1:1", options("acme.>", None))
        .await
        .unwrap_err();
    assert!(matches!(err, NatsError::BadPrefix { .. }), "{err:?}");
}

//! The NATS JetStream sink against a real nats-server with JetStream.
//!
//! Set `HOOKLINE_TEST_NATS_URL` (e.g. `nats://127.0.0.1:4222`, server started with `-js`) to run them;
//! without it they print why and pass, unless `HOOKLINE_REQUIRE_SERVICES=1`, which makes that a failure.
//! Each test uses its own stream and subject prefix and deletes its stream at the end.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, stream::StorageType};
use hookline_sinks::{
    Filter, NatsError, NatsOptions, NatsSink, Outcome, Sink, SystemClock, Worker, WorkerOptions,
};
use hookline_store::outbox::{SinkStart, SinkStatus};
use hookline_store::{EventStore, StoredEvent};
use tokio::sync::watch;

mod support;
use support::{fixture, store_body, stored_events, wait_until};

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

/// What a test with a stream of its own works with: the server, and a stream name and subject prefix
/// no other test (or run) uses.
struct StreamTest {
    url: String,
    js: jetstream::Context,
    stream: String,
    prefix: String,
}

/// Runs `body` on a fresh stream name and prefix, then deletes the stream whether or not `body` panicked,
/// then passes the panic on. Without a server the test is skipped, as [`nats_url`] says.
async fn with_stream<F, Fut>(test: &str, body: F)
where
    F: FnOnce(StreamTest) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(url) = nats_url(test) else {
        return;
    };
    let (stream, prefix) = unique();
    let js = jetstream_at(&url).await;
    let result = tokio::spawn(body(StreamTest {
        url,
        js: js.clone(),
        stream: stream.clone(),
        prefix,
    }))
    .await;
    // Gone already (never created) is fine.
    let _ = js.delete_stream(&stream).await;
    if let Err(err) = result {
        std::panic::resume_unwind(err.into_panic());
    }
}

/// A SQLite store holding the fixtures' events.
struct Stored {
    _temp: support::Store,
    store: Arc<dyn EventStore>,
    events: Vec<StoredEvent>,
}

async fn stored() -> Stored {
    let temp = support::store();
    let store = temp.store.clone();
    for name in FIXTURES {
        store_body(&store, fixture(name)).await;
    }
    let events = stored_events(&store).await;
    assert!(events.len() > FIXTURES.len(), "the fixtures hold batches");
    Stored {
        _temp: temp,
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
    let read = || async {
        let statuses = store.sink_statuses().await.unwrap();
        let status = statuses.into_iter().find(|s| s.sink == name);
        if let Some(status) = &status {
            assert_eq!((status.pending, status.dead), (0, 0), "{status:?}");
        }
        status
    };
    let caught_up =
        |status: &Option<SinkStatus>| status.as_ref().is_some_and(|s| s.cursor == s.head);
    let status = wait_until(read, caught_up).await;
    assert!(
        caught_up(&status),
        "worker {name} did not catch up: {status:?}"
    );
    stop_tx.send(true).unwrap();
    running.await.unwrap();
}

/// The stream's message count and sequence numbers now.
async fn stream_state(js: &jetstream::Context, stream: &str) -> jetstream::stream::State {
    let mut handle = js.get_stream(stream).await.unwrap();
    handle.info().await.unwrap().state.clone()
}

/// Every message of the stream, in sequence order.
async fn messages(js: &jetstream::Context, stream: &str) -> Vec<jetstream::message::StreamMessage> {
    let state = stream_state(js, stream).await;
    let handle = js.get_stream(stream).await.unwrap();
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
    let test = "every_stored_event_arrives_once_with_its_dedup_key_as_msg_id";
    with_stream(test, |t| async move {
        let StreamTest {
            url,
            js,
            stream,
            prefix,
        } = t;
        let stored = stored().await;
        let sink = NatsSink::connect(&url, options(&prefix, Some(&stream)))
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
        let messages = messages(&js, &stream).await;
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
    let test = "a_republish_after_a_crash_before_the_cursor_save_is_dropped_by_dedup";
    with_stream(test, |t| async move {
        let StreamTest {
            url,
            js,
            stream,
            prefix,
        } = t;
        let stored = stored().await;
        let connect = || NatsSink::connect(&url, options(&prefix, Some(&stream)));
        run_worker(&stored.store, connect().await.unwrap(), "bus").await;
        let before = stream_state(&js, &stream).await;
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

        let after = stream_state(&js, &stream).await;
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
    let test = "an_existing_stream_over_other_subjects_is_refused_at_connect";
    with_stream(test, |t| async move {
        let StreamTest {
            url,
            js,
            stream,
            prefix,
        } = t;
        let other = format!("{prefix}.page.>");
        js.create_stream(jetstream::stream::Config {
            name: stream.clone(),
            subjects: vec![other.clone()],
            storage: StorageType::Memory,
            ..Default::default()
        })
        .await
        .unwrap();
        let err = NatsSink::connect(&url, options(&prefix, Some(&stream)))
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

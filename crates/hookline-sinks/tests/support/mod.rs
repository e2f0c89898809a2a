//! What the integration tests share: fixtures, stored events built without a store, a store in a
//! temporary directory filled as ingest fills it, the secret and headers of signed requests, and waiting
//! for a worker.

#![allow(dead_code)] // each test binary uses its own part

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hookline_store::outbox::{Attempt, AttemptQuery, AttemptState, SinkStatus};
use hookline_store::sqlite::{SqliteOptions, SqliteStore};
use hookline_store::{Content, EventQuery, EventStore, NewDelivery, NewEvent, StoredEvent};

pub const START_MS: i64 = 1_767_610_000_000;

/// The Standard Webhooks spec's example secret.
pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// How often [`wait_until`] reads, and how many times before it gives up (10 s of real time).
const POLL: Duration = Duration::from_millis(10);
const POLLS: u32 = 1000;

/// The body of `tests/fixtures/<name>.json`.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|err| panic!("reading {path}: {err}"))
}

/// The first event of `body` as the store would return it with its raw JSON (event 42 of delivery 7),
/// without a store.
pub fn stored_event(body: &[u8]) -> StoredEvent {
    let events = hookline_meta::parse(body).unwrap();
    let event = &events[0];
    let new = NewEvent::from_event(event, body);
    let raw: &str = event.raw.into();
    StoredEvent {
        id: 42,
        delivery_id: 7,
        received_at_ms: 1_767_610_100_512,
        dedup_key: new.dedup_key,
        object: new.object,
        entry_id: new.entry_id,
        channel: new.channel,
        kind: new.kind.to_owned(),
        field: new.field,
        sender: new.sender,
        user_ref: new.user_ref,
        recipient: new.recipient,
        timestamp_ms: new.timestamp_ms,
        mid: new.mid,
        conversation_key: new.conversation_key,
        duplicates: 0,
        raw: Some(raw.to_owned()),
    }
}

pub struct Store {
    _dir: tempfile::TempDir,
    pub store: Arc<dyn EventStore>,
}

pub fn store() -> Store {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("store.db"), SqliteOptions::default()).unwrap();
    Store {
        _dir: dir,
        store: Arc::new(store),
    }
}

/// Stores `body` as one signed delivery, its events extracted as ingest does.
pub async fn store_body(store: &Arc<dyn EventStore>, body: impl Into<Bytes>) {
    let body = body.into();
    let parsed = hookline_meta::parse(&body).unwrap();
    let content = Content::Events(
        parsed
            .iter()
            .map(|e| NewEvent::from_event(e, &body))
            .collect(),
    );
    store
        .submit(NewDelivery {
            received_at_ms: START_MS,
            app: None,
            secret_index: Some(0),
            signature: None,
            api_version: None,
            user_agent: None,
            body: body.clone(),
            content,
        })
        .unwrap()
        .await
        .unwrap();
}

/// Every stored event (up to 1000), oldest first, with its raw JSON.
pub async fn stored_events(store: &Arc<dyn EventStore>) -> Vec<StoredEvent> {
    store
        .list_events(EventQuery {
            limit: 1000,
            with_raw: true,
            ..EventQuery::default()
        })
        .await
        .unwrap()
}

/// The attempt rows of `sink` (only those in `state`, when given), oldest first.
pub async fn attempts(
    store: &Arc<dyn EventStore>,
    sink: &str,
    state: Option<AttemptState>,
) -> Vec<Attempt> {
    store
        .list_attempts(AttemptQuery {
            sink: Some(sink.to_owned()),
            state,
            limit: 100,
            ..AttemptQuery::default()
        })
        .await
        .unwrap()
}

/// The value of the header `name` of a request a wiremock consumer received.
pub fn header(request: &wiremock::Request, name: &str) -> String {
    request
        .headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
        .to_owned()
}

/// Reads with `read` every 10 ms until `done` holds for what it read or 10 s of real time have passed,
/// and returns the last reading either way: the caller asserts on it, with its own message.
pub async fn wait_until<T, F, Fut>(mut read: F, done: impl Fn(&T) -> bool) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = T>,
{
    let mut last = read().await;
    for _ in 0..POLLS {
        if done(&last) {
            break;
        }
        tokio::time::sleep(POLL).await;
        last = read().await;
    }
    last
}

/// Polls `check` until it holds, failing after 10 s of real time.
pub async fn eventually<F: Fn() -> bool>(what: &str, check: F) {
    let held = wait_until(|| std::future::ready(check()), |held| *held).await;
    assert!(held, "timed out waiting for: {what}");
}

/// Long enough for a worker that was woken to have made its attempt (used to show one was NOT made).
pub async fn settle() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}

/// The sink's status, once its worker has opened its cursor.
pub async fn status(store: &Arc<dyn EventStore>, sink: &str) -> SinkStatus {
    let find = || async {
        let statuses = store.sink_statuses().await.unwrap();
        statuses.into_iter().find(|s| s.sink == sink)
    };
    wait_until(find, Option::is_some)
        .await
        .unwrap_or_else(|| panic!("sink {sink} never opened its cursor"))
}

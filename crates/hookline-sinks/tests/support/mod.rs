//! What the integration tests share: fixtures, stored events built without a store, a store in a
//! temporary directory (or a schema of the PostgreSQL test database) filled as ingest fills it, the
//! secret and headers of signed requests, and waiting for a worker.

#![allow(dead_code)] // each test binary uses its own part

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hookline_store::outbox::{Attempt, AttemptQuery, AttemptState, SinkStatus};
use hookline_store::sqlite::{SqliteOptions, SqliteStore};
use hookline_store::{
    Content, EventQuery, EventStore, NewDelivery, NewEvent, StoreUrl, StoredEvent, WriterOptions,
};

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

/// A schema of its own in the PostgreSQL database named by `HOOKLINE_TEST_POSTGRES_URL`, dropped with
/// it: several stores opened on it are several instances sharing one database.
pub struct Postgres {
    server: String,
    schema: String,
}

impl Postgres {
    /// `None` (after saying why) when `HOOKLINE_TEST_POSTGRES_URL` is not set; a failure instead under
    /// `HOOKLINE_REQUIRE_SERVICES=1`.
    pub fn schema(test: &str) -> Option<Postgres> {
        let server = match std::env::var("HOOKLINE_TEST_POSTGRES_URL") {
            Ok(url) if !url.trim().is_empty() => url.trim().to_owned(),
            _ if std::env::var("HOOKLINE_REQUIRE_SERVICES").as_deref() == Ok("1") => panic!(
                "HOOKLINE_REQUIRE_SERVICES=1 but HOOKLINE_TEST_POSTGRES_URL is not set: start PostgreSQL \
                 and set HOOKLINE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test"
            ),
            _ => {
                eprintln!(
                    "skipping {test}: set HOOKLINE_TEST_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:5432/test) to run it"
                );
                return None;
            }
        };
        Some(Postgres {
            server,
            schema: format!("t_{:016x}", fastrand::u64(..)),
        })
    }

    /// One more instance on the schema (the first creates it).
    pub async fn open(&self) -> Arc<dyn EventStore> {
        let separator = if self.server.contains('?') { '&' } else { '?' };
        let url = format!("{}{separator}schema={}", self.server, self.schema);
        hookline_store::open(&StoreUrl::parse(&url).unwrap(), WriterOptions::default())
            .await
            .unwrap()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let (server, schema) = (self.server.clone(), self.schema.clone());
        // On a thread of its own: the test's runtime must not block.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let (client, connection) = tokio_postgres::connect(&server, tokio_postgres::NoTls)
                    .await
                    .unwrap();
                tokio::spawn(connection);
                let sql =
                    format!("SET lock_timeout = '5s'; DROP SCHEMA IF EXISTS {schema} CASCADE");
                if let Err(err) = client.batch_execute(&sql).await {
                    eprintln!("could not drop test schema {schema}: {err}");
                }
            });
        });
        let _ = dropped.join();
    }
}

/// A Messenger text message from `user` to Page 100 at `timestamp` ms.
pub fn message(user: &str, mid: &str, timestamp: i64) -> String {
    format!(
        r#"{{"sender":{{"id":"{user}"}},"recipient":{{"id":"100"}},"timestamp":{timestamp},"message":{{"mid":"{mid}","text":"hello {mid}"}}}}"#
    )
}

/// Stores one delivery holding `events` (items of a `messaging` array).
pub async fn store_events(store: &Arc<dyn EventStore>, events: &[String]) {
    let body = format!(
        r#"{{"object":"page","entry":[{{"id":"100","time":1,"messaging":[{}]}}]}}"#,
        events.join(",")
    );
    store_body(store, body).await;
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

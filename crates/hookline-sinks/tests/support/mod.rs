//! What the outbox and handler tests share: a store in a temporary directory, storing a body as ingest
//! does, and waiting for a worker.

#![allow(dead_code)] // each test binary uses its own part

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hookline_store::outbox::SinkStatus;
use hookline_store::sqlite::{SqliteOptions, SqliteStore};
use hookline_store::{Content, EventStore, NewDelivery, NewEvent};

pub const START_MS: i64 = 1_767_610_000_000;

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

/// Polls `check` until it holds, failing after 10 s of real time.
pub async fn eventually<F: Fn() -> bool>(what: &str, check: F) {
    for _ in 0..1000 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// Long enough for a worker that was woken to have made its attempt (used to show one was NOT made).
pub async fn settle() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}

/// The sink's status, once its worker has opened its cursor.
pub async fn status(store: &Arc<dyn EventStore>, sink: &str) -> SinkStatus {
    for _ in 0..1000 {
        let statuses = store.sink_statuses().await.unwrap();
        if let Some(status) = statuses.into_iter().find(|s| s.sink == sink) {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("sink {sink} never opened its cursor");
}

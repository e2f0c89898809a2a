//! The engine against a real hookline server in the same process: what the report counts is what the
//! server stored.

use std::sync::Arc;

use hookline_load::{BodySource, LoadConfig, Report};
use hookline_server::{Config, Server};
use hookline_store::{DeliveryQuery, EventQuery, EventStore};
use serde_json::json;

const SECRET: &str = "load-test-secret";

/// A Messenger delivery of `events` text messages, one entry each, with mids unique to the request.
struct Messages {
    events: u32,
}

impl BodySource for Messages {
    fn render(&self, seq: u64, now_ms: u64, out: &mut Vec<u8>) -> u32 {
        let entries: Vec<_> = (0..self.events)
            .map(|i| {
                json!({
                    "id": "1000",
                    "time": now_ms,
                    "messaging": [{
                        "sender": {"id": "2000"},
                        "recipient": {"id": "1000"},
                        "timestamp": now_ms,
                        "message": {"mid": format!("m_load.{seq}.{i}"), "text": format!("message {seq}/{i} ✓")}
                    }]
                })
            })
            .collect();
        out.extend_from_slice(&hookline_meta::wire::encode(
            &json!({"object": "page", "entry": entries}),
        ));
        self.events
    }
}

/// A hookline server on port 0 with a fresh SQLite store, serving until the test ends.
struct TestServer {
    url: String,
    store: Arc<dyn EventStore>,
    _dir: tempfile::TempDir,
}

async fn spawn_server() -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::with_secret(SECRET);
    config.database = format!("sqlite://{}", dir.path().join("hookline.db").display());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = Server::bind(&config, listener).await.unwrap();
    let url = format!("http://{}/webhook", server.local_addr().unwrap());
    let store = server.store();
    tokio::spawn(server.run(std::future::pending()));
    TestServer {
        url,
        store,
        _dir: dir,
    }
}

async fn load(server: &TestServer, requests: u64, events: u32) -> Report {
    let mut config = LoadConfig::new(server.url.as_str());
    config.secret = Some(SECRET.as_bytes().to_vec());
    (config.requests, config.duration) = (Some(requests), None);
    (config.connections, config.threads) = (8, 2);
    hookline_load::run(config, Arc::new(Messages { events }))
        .await
        .unwrap()
}

/// Every stored event, a page at a time.
async fn count_events(store: &dyn EventStore) -> usize {
    let (mut count, mut after_id) = (0, None);
    loop {
        let query = EventQuery {
            after_id,
            limit: 1_000,
            ..EventQuery::default()
        };
        let page = store.list_events(query).await.unwrap();
        let Some(last) = page.last() else {
            return count;
        };
        (count, after_id) = (count + page.len(), Some(last.id));
    }
}

async fn count_deliveries(store: &dyn EventStore) -> usize {
    let (mut count, mut after_id) = (0, None);
    loop {
        let query = DeliveryQuery {
            after_id,
            limit: 1_000,
            ..DeliveryQuery::default()
        };
        let page = store.list_deliveries(query).await.unwrap();
        let Some(last) = page.last() else {
            return count;
        };
        (count, after_id) = (count + page.len(), Some(last.id));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_acknowledged_by_hookline_is_stored_with_its_event() {
    let server = spawn_server().await;
    let report = load(&server, 2_000, 1).await;

    assert_eq!(
        report.status.get("200"),
        Some(&2_000),
        "{}",
        report.to_text()
    );
    assert_eq!(
        (report.requests, report.events, report.errors.total()),
        (2_000, 2_000, 0)
    );
    assert_eq!(count_deliveries(&*server.store).await, 2_000);
    assert_eq!(count_events(&*server.store).await, 2_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batched_deliveries_store_every_event_of_every_request() {
    let server = spawn_server().await;
    let report = load(&server, 2_000, 3).await;

    assert_eq!(
        report.status.get("200"),
        Some(&2_000),
        "{}",
        report.to_text()
    );
    assert_eq!(
        (report.requests, report.events, report.errors.total()),
        (2_000, 6_000, 0)
    );
    assert_eq!(count_deliveries(&*server.store).await, 2_000);
    assert_eq!(count_events(&*server.store).await, 6_000);
}

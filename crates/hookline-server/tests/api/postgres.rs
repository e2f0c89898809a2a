//! `hookline serve` on PostgreSQL: when the database goes away mid-load, deliveries are answered 503
//! (Meta retries them), never 200, and ingest resumes by itself when it is back.
//!
//! Needs `HOOKLINE_TEST_POSTGRES_URL`; each test works in a schema of its own, dropped afterwards.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hookline_store::EventQuery;

use crate::helpers::{TestApp, message};

#[path = "../../../hookline-store/tests/support/proxy.rs"]
mod proxy;

/// A fresh schema on the test database, dropped when this is.
struct Schema {
    base: String,
    name: String,
}

impl Schema {
    fn new(test: &str) -> Option<Schema> {
        let Some(base) = std::env::var("HOOKLINE_TEST_POSTGRES_URL")
            .ok()
            .filter(|url| !url.trim().is_empty())
        else {
            assert_ne!(
                std::env::var("HOOKLINE_REQUIRE_SERVICES").as_deref(),
                Ok("1"),
                "HOOKLINE_REQUIRE_SERVICES=1 but HOOKLINE_TEST_POSTGRES_URL is not set: start PostgreSQL and \
                 set HOOKLINE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test"
            );
            eprintln!(
                "skipping {test}: set HOOKLINE_TEST_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:5432/test) to run it"
            );
            return None;
        };
        let name = format!("t_{:016x}", fastrand::u64(..));
        Some(Schema { base, name })
    }

    /// The database URL with the schema, through `port` on 127.0.0.1 instead of the real server.
    fn url_via(&self, port: u16) -> String {
        let (_, url) = proxy::proxied(&self.base, port);
        format!("{url}?schema={}", self.name)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let (base, name) = (self.base.clone(), self.name.clone());
        // A thread of its own: Drop may run inside the test's runtime.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                if let Ok((client, connection)) =
                    tokio_postgres::connect(&base, tokio_postgres::NoTls).await
                {
                    tokio::spawn(connection);
                    let _ = client
                        .batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                        .await;
                }
            });
        })
        .join();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_down_mid_load_answers_503_never_200_and_ingest_resumes_without_a_restart() {
    let Some(schema) = Schema::new("postgres_down_mid_load") else {
        return;
    };
    let (target, _) = proxy::proxied(&schema.base, 0);
    let proxy = proxy::Proxy::start(target).await;
    let app = TestApp::spawn_with(|config| config.database = schema.url_via(proxy.port)).await;

    // Eight senders post distinct deliveries until told to stop, recording each answer.
    let stop = Arc::new(AtomicBool::new(false));
    let senders: Vec<_> = (0..8)
        .map(|sender| {
            let (stop, client, url) = (stop.clone(), app.client.clone(), app.url("/webhook"));
            tokio::spawn(async move {
                let mut answers = Vec::new();
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    let mid = format!("m.{sender}.{n}");
                    let body = message(&mid);
                    let signature =
                        hookline_meta::signature::sign(crate::helpers::SECRET.as_bytes(), &body);
                    let status = client
                        .post(&url)
                        .header("x-hub-signature-256", signature)
                        .body(body)
                        .send()
                        .await
                        .map_or(0, |r| r.status().as_u16());
                    answers.push((mid, status));
                    n += 1;
                }
                answers
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_millis(500)).await;
    proxy.cut();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    proxy.restore();
    // Long enough for the writer to reconnect and commit again under load.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    stop.store(true, Ordering::SeqCst);
    let mut answers = Vec::new();
    for sender in senders {
        answers.push(sender.await.unwrap());
    }

    let all: Vec<&(String, u16)> = answers.iter().flatten().collect();
    let unexpected: Vec<_> = all
        .iter()
        .filter(|(_, s)| ![200, 503].contains(s))
        .collect();
    assert!(
        unexpected.is_empty(),
        "only 200 and 503 are answered: {unexpected:?}"
    );
    let refused = all.iter().filter(|(_, s)| *s == 503).count();
    assert!(refused > 0, "deliveries during the outage are answered 503");
    // Each sender's last answers came after the database was back: ingest resumed by itself.
    for sender in &answers {
        let (mid, status) = sender.last().expect("every sender posted");
        assert_eq!(*status, 200, "{mid} after the database came back");
    }

    // Every delivery answered 200 is stored (acknowledged means committed).
    let stored: HashSet<String> = app
        .store
        .list_events(EventQuery {
            limit: 1_000_000,
            ..EventQuery::default()
        })
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| e.mid)
        .collect();
    let lost: Vec<_> = all
        .iter()
        .filter(|(mid, s)| *s == 200 && !stored.contains(mid))
        .collect();
    assert!(lost.is_empty(), "acknowledged but not stored: {lost:?}");
    let accepted = all.iter().filter(|(_, s)| *s == 200).count();
    eprintln!(
        "{} deliveries: {accepted} answered 200, {refused} answered 503, {} events stored",
        all.len(),
        stored.len()
    );
}

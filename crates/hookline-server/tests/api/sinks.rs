//! `[[sink]]` in the config: what is POSTed to Meta is forwarded, signed per Standard Webhooks, to
//! every configured HTTP sink its filter lets through, and counted in the metrics.

use std::time::Duration;

use hookline_server::{Config, Overrides};
use hookline_sinks::signature::{SigningSecret, verify};
use serde_json::Value;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::helpers::{SECRET, TestApp, wire_fixture};

const SINK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// The `[[sink]]` sections of a config file as CONTRACTS.md section 5 writes them.
fn sinks_from_toml(crm: &str, ops: &str) -> Vec<hookline_sinks::SinkConfig> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hookline.toml");
    std::fs::write(
        &file,
        format!(
            r#"
[[sink]]
name = "crm"
type = "http"
url = "{crm}"
secret = "{SINK_SECRET}"

[[sink]]
name = "ops"
type = "http"
url = "{ops}"
secret = "{SINK_SECRET}"
kinds = ["postback"]
objects = ["page"]
"#
        ),
    )
    .unwrap();
    let overrides = Overrides {
        app_secret: Some(SECRET.into()),
        ..Overrides::default()
    };
    Config::load(Some(&file), overrides).unwrap().sinks
}

async fn receiver() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    server
}

/// What `server` received, once it has `n` requests (10 s at most).
async fn received(server: &MockServer, n: usize) -> Vec<Request> {
    for _ in 0..1000 {
        let requests = server.received_requests().await.unwrap();
        if requests.len() >= n {
            return requests;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the receiver never got {n} requests");
}

fn header<'r>(request: &'r Request, name: &str) -> &'r str {
    request.headers.get(name).unwrap().to_str().unwrap()
}

#[tokio::test]
async fn stored_events_are_forwarded_signed_to_each_sink_its_filter_admits() {
    let crm = receiver().await;
    let ops = receiver().await;
    let sinks = sinks_from_toml(&crm.uri(), &ops.uri());
    let app = TestApp::spawn_with(|config| config.sinks = sinks).await;

    // A message, an echo (left out by default) and a postback (the only kind `ops` wants).
    for fixture in [
        "m01_message_text.json",
        "m21_echo_text.json",
        "m32_postback.json",
    ] {
        let response = app.post_signed(&wire_fixture(fixture)).await;
        assert_eq!(response.status(), 200);
    }

    let to_crm = received(&crm, 2).await;
    let to_ops = received(&ops, 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(crm.received_requests().await.unwrap().len(), 2, "no echo");
    assert_eq!(
        ops.received_requests().await.unwrap().len(),
        1,
        "postbacks only"
    );

    let secret = SigningSecret::parse(SINK_SECRET).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let stored = app.events().await;
    let mut kinds = Vec::new();
    for request in to_crm.iter().chain(&to_ops) {
        verify(
            &secret,
            header(request, "webhook-id"),
            header(request, "webhook-timestamp"),
            header(request, "webhook-signature"),
            &request.body,
            now,
            Duration::from_secs(300),
        )
        .expect("the forwarded event verifies with the sink's secret");
        let event: Value = serde_json::from_slice(&request.body).unwrap();
        let dedup_key = event["dedup_key"].as_str().unwrap();
        let original = stored
            .iter()
            .find(|e| e.dedup_key == dedup_key)
            .expect("the forwarded event is a stored one");
        assert_eq!(
            header(request, "webhook-id"),
            hookline_sinks::webhook_id(&original.dedup_key)
        );
        assert_eq!(event["kind"], original.kind.as_str());
        kinds.push(event["kind"].as_str().unwrap().to_owned());
    }
    // A sink's attempts run concurrently (unless `fifo`), so they may arrive in any order.
    kinds.sort();
    assert_eq!(kinds, ["message", "postback", "postback"]);

    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(r#"hookline_sink_attempts_total{sink="crm",outcome="delivered"} 2"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"hookline_sink_attempts_total{sink="ops",outcome="delivered"} 1"#),
        "{metrics}"
    );
}

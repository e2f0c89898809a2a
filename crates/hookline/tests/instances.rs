//! Several `hookline serve` instances on one PostgreSQL database, as behind a load balancer: a delivery
//! posted to both at once is stored once; both run the same sink and it gets each event once; killing
//! one with `kill -9` mid-run loses nothing, the other takes its sink over when its lease runs out.
//!
//! Needs `HOOKLINE_TEST_POSTGRES_URL` (each run in a schema of its own, dropped afterwards).
#![cfg(unix)]

mod support;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use support::{PostgresSchema, Sandbox, Server, at_sink, client, hookline, hookline_json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET: &str = "instances-secret";
const SINK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

async fn serve(sandbox: &Sandbox, database: &str, config: &str) -> Server {
    Server::start(
        sandbox,
        &[
            "--app-secret",
            SECRET,
            "--database",
            database,
            "--config",
            config,
        ],
    )
    .await
}

fn delivery(mid: &str) -> Vec<u8> {
    format!(
        r#"{{"object":"page","entry":[{{"id":"100","time":1767610000000,"messaging":[{{"sender":{{"id":"7"}},"recipient":{{"id":"100"}},"timestamp":1767610000000,"message":{{"mid":"{mid}","text":"hi"}}}}]}}]}}"#
    )
    .into_bytes()
}

async fn post(client: &reqwest::Client, url: &str, body: Vec<u8>) -> Option<u16> {
    let signature = hookline_meta::signature::sign(SECRET.as_bytes(), &body);
    client
        .post(url)
        .header("x-hub-signature-256", signature)
        .body(body)
        .send()
        .await
        .ok()
        .map(|r| r.status().as_u16())
}

/// Posts distinct deliveries to `url` until `stop`; the mids answered 200.
async fn load(
    client: reqwest::Client,
    url: String,
    prefix: String,
    stop: Arc<AtomicBool>,
) -> Vec<String> {
    let mut acked = Vec::new();
    let mut n = 0;
    while !stop.load(Ordering::SeqCst) {
        let mid = format!("{prefix}.{n}");
        n += 1;
        match post(&client, &url, delivery(&mid)).await {
            Some(200) => acked.push(mid),
            // The instance this client loads was killed: the rest of its load goes nowhere.
            None => break,
            Some(status) => panic!("{mid} answered {status}"),
        }
    }
    acked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_one_postgres_store_dedup_fan_out_once_and_survive_a_kill() {
    let Some(pg) = PostgresSchema::new("two_instances_share_one_postgres_store") else {
        return;
    };
    let database = pg.url();
    let sandbox = Sandbox::new();
    let migrated = hookline(&["migrate", "--database", &database]);
    assert!(migrated.status.success(), "{migrated:?}");
    let sink = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(2)))
        .mount(&sink)
        .await;
    let config = sandbox.path().join("hookline.toml");
    std::fs::write(
        &config,
        format!(
            "[[sink]]\nname = \"crm\"\ntype = \"http\"\nurl = \"{}/events\"\nsecret = \"{SINK_SECRET}\"\nlease = \"2s\"\n",
            sink.uri()
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap().to_owned();
    let mut a = serve(&sandbox, &database, &config).await;
    let b = serve(&sandbox, &database, &config).await;
    let client = client();

    // The same delivery to both instances at the same moment, twenty times: one event each.
    let (url_a, url_b) = (a.url("/webhook"), b.url("/webhook"));
    for n in 0..20 {
        let body = delivery(&format!("m.same.{n}"));
        let (at_a, at_b) = tokio::join!(
            post(&client, &url_a, body.clone()),
            post(&client, &url_b, body)
        );
        assert_eq!((at_a, at_b), (Some(200), Some(200)), "delivery {n}");
    }
    let same: Vec<serde_json::Value> = hookline_json(&["events", "list", "--json"], &database)
        .into_iter()
        .filter(|e| e["mid"].as_str().is_some_and(|m| m.starts_with("m.same.")))
        .collect();
    assert_eq!(same.len(), 20, "one event per delivery posted twice");
    assert!(
        same.iter().all(|e| e["duplicates"] == 1),
        "each stored once and counted once as a duplicate: {same:?}"
    );

    // Load on both; both run the sink.
    let stop_a = Arc::new(AtomicBool::new(false));
    let stop_b = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for c in 0..4 {
        tasks.push(tokio::spawn(load(
            client.clone(),
            a.url("/webhook"),
            format!("m.a{c}"),
            stop_a.clone(),
        )));
        tasks.push(tokio::spawn(load(
            client.clone(),
            b.url("/webhook"),
            format!("m.b{c}"),
            stop_b.clone(),
        )));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (before_kill, requests_before_kill) = at_sink(&sink).await;
    assert!(requests_before_kill > 0, "the sink is being fed");
    assert_eq!(
        before_kill.len(),
        requests_before_kill,
        "while both instances run, no event reaches the sink twice"
    );
    stop_a.store(true, Ordering::SeqCst);
    a.kill9();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    stop_b.store(true, Ordering::SeqCst);
    let mut acked = Vec::new();
    for task in tasks {
        acked.extend(task.await.unwrap());
    }

    let stored: HashMap<String, String> = hookline_json(&["events", "list", "--json"], &database)
        .iter()
        .map(|e| {
            (
                e["dedup_key"].as_str().unwrap().to_owned(),
                e["mid"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let stored_mids: HashSet<&String> = stored.values().collect();
    let missing: Vec<_> = acked.iter().filter(|m| !stored_mids.contains(m)).collect();
    assert!(
        missing.is_empty(),
        "acknowledged but not stored: {missing:?}"
    );

    // Everything reaches the sink, also what the killed instance had taken on.
    let deadline = Instant::now() + Duration::from_secs(60);
    let (ids, requests) = loop {
        let (ids, requests) = at_sink(&sink).await;
        if ids.len() >= stored.len() || Instant::now() > deadline {
            break (ids, requests);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut keys_at_sink = HashSet::new();
    for (id, keys) in &ids {
        assert_eq!(keys.len(), 1, "webhook-id {id} carried different events");
        keys_at_sink.insert(keys.iter().next().unwrap().clone());
    }
    let stored_keys: HashSet<String> = stored.keys().cloned().collect();
    let lost: Vec<_> = stored_keys.difference(&keys_at_sink).take(5).collect();
    assert!(lost.is_empty(), "stored but never at the sink: {lost:?}");
    eprintln!(
        "{} events stored ({} acknowledged under load), all at the sink in {requests} requests: \
         none twice while both ran, {} redeliveries after the kill",
        stored.len(),
        acked.len(),
        requests - ids.len()
    );
    b.stop().await;
}

//! Fan-out survives `kill -9`: `hookline serve` with an HTTP sink is killed while deliveries pour in and
//! events are being forwarded, several times; after the last restart every stored event (and so every
//! acknowledged one) reaches the sink, and every duplicate the sink saw is a redelivery of the same
//! event with the same idempotency key (`webhook-id`).
#![cfg(unix)]

mod support;

use std::collections::{HashMap, HashSet};
use std::os::unix::process::ExitStatusExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use support::{Sandbox, Server, at_sink, client, hookline_json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET: &str = "fanout-crash-secret";
const SINK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// Messages per delivery.
const BATCH: usize = 5;

async fn serve(sandbox: &Sandbox, config: &str) -> Server {
    let database = sandbox.url();
    Server::start(
        sandbox,
        &[
            "--app-secret",
            SECRET,
            "--database",
            &database,
            "--config",
            config,
        ],
    )
    .await
}

/// A delivery of `BATCH` messages with mids unique to (round, client, n).
fn delivery(round: usize, client: usize, n: usize) -> (Vec<u8>, Vec<String>) {
    let mids: Vec<String> = (0..BATCH)
        .map(|i| format!("m.{round}.{client}.{n}.{i}"))
        .collect();
    let items: Vec<String> = mids
        .iter()
        .enumerate()
        .map(|(i, mid)| {
            format!(
                r#"{{"sender":{{"id":"{}"}},"recipient":{{"id":"100"}},"timestamp":{},"message":{{"mid":"{mid}","text":"hi"}}}}"#,
                1000 + client,
                1_767_610_000_000_u64 + (n * BATCH + i) as u64
            )
        })
        .collect();
    let body = format!(
        r#"{{"object":"page","entry":[{{"id":"100","time":1767610000000,"messaging":[{}]}}]}}"#,
        items.join(",")
    );
    (body.into_bytes(), mids)
}

/// Posts deliveries until `killed`; the mids of those answered 200.
async fn post_until_killed(
    client: reqwest::Client,
    url: String,
    round: usize,
    id: usize,
    killed: Arc<AtomicBool>,
) -> Vec<String> {
    let mut acked = Vec::new();
    for n in 0.. {
        if killed.load(Ordering::SeqCst) {
            break;
        }
        let (body, mids) = delivery(round, id, n);
        let sent = client
            .post(&url)
            .header(
                "x-hub-signature-256",
                hookline_meta::signature::sign(SECRET.as_bytes(), &body),
            )
            .body(body)
            .send()
            .await;
        match sent {
            Ok(response) if response.status() == 200 => acked.extend(mids),
            Ok(response) if !killed.load(Ordering::SeqCst) => {
                panic!("answered {} before the kill", response.status())
            }
            Err(err) if !killed.load(Ordering::SeqCst) => panic!("failed before the kill: {err}"),
            _ => break,
        }
    }
    acked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_reaches_the_sink_across_kill_9_and_duplicates_share_their_key() {
    const ROUNDS: usize = 3;
    const CLIENTS: usize = 6;
    let sandbox = Sandbox::new();
    // A receiver slow enough (5 ms an event) that forwarding is still going on at each kill.
    let sink = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(5)))
        .mount(&sink)
        .await;
    let config = sandbox.path().join("hookline.toml");
    std::fs::write(
        &config,
        format!(
            "[[sink]]\nname = \"crm\"\ntype = \"http\"\nurl = \"{}/events\"\nsecret = \"{SINK_SECRET}\"\n",
            sink.uri()
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap().to_owned();
    let client = client();

    let mut acked: Vec<String> = Vec::new();
    for round in 0..ROUNDS {
        let mut server = serve(&sandbox, &config).await;
        let killed = Arc::new(AtomicBool::new(false));
        let tasks: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let (client, url, killed) =
                    (client.clone(), server.url("/webhook"), killed.clone());
                tokio::spawn(post_until_killed(client, url, round, c, killed))
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(800)).await;
        killed.store(true, Ordering::SeqCst);
        let status = server.kill9();
        assert_eq!(
            status.signal(),
            Some(9),
            "round {round}: not running at the kill"
        );
        let mut round_acked = 0;
        for task in tasks {
            let mids = task.await.unwrap();
            round_acked += mids.len();
            acked.extend(mids);
        }
        let (ids, requests) = at_sink(&sink).await;
        eprintln!(
            "round {round}: killed with {} events acknowledged in all, {} distinct at the sink ({requests} requests)",
            acked.len(),
            ids.len()
        );
        assert!(
            round_acked > 100,
            "round {round}: too little load ({round_acked} events)"
        );
    }

    let mut server = serve(&sandbox, &config).await;
    let stored: HashMap<String, String> =
        hookline_json(&["events", "list", "--json"], &sandbox.url())
            .iter()
            .map(|e| {
                (
                    e["dedup_key"].as_str().unwrap().to_owned(),
                    e["mid"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
    let stored_mids: HashSet<&String> = stored.values().collect();
    let missing = acked.iter().filter(|m| !stored_mids.contains(m)).count();
    assert_eq!(missing, 0, "acknowledged events missing from the store");

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
        assert_eq!(
            keys.len(),
            1,
            "webhook-id {id} was sent with different events: {keys:?}"
        );
        let key = keys.iter().next().unwrap();
        assert!(
            keys_at_sink.insert(key.clone()),
            "event {key} was sent under two webhook-ids"
        );
    }
    let stored_keys: HashSet<String> = stored.keys().cloned().collect();
    let lost: Vec<_> = stored_keys.difference(&keys_at_sink).take(5).collect();
    assert!(
        lost.is_empty(),
        "stored events that never reached the sink: {lost:?}"
    );
    assert_eq!(
        keys_at_sink, stored_keys,
        "the sink got events that were not stored"
    );
    eprintln!(
        "after {ROUNDS} kills: {} events stored ({} acknowledged), all at the sink; {requests} requests, \
         {} of them redeliveries of an event already received",
        stored.len(),
        acked.len(),
        requests - ids.len()
    );

    server.sigterm();
    let status = server.wait_exit(Duration::from_secs(15)).await;
    assert!(status.success(), "exited with {status} after SIGTERM");
}

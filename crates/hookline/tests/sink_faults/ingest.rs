//! The clients that post signed deliveries to `hookline serve` without pause while the receiver
//! misbehaves, and the ledger of what each posting got.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use crate::receiver::{Mode, Receiver};

/// Clients posting at once.
const CLIENTS: usize = 2;
/// Messages per delivery.
const BATCH: usize = 2;
/// Pause between a client's postings: a steady load the sink can follow, not a flood (a request held
/// until the sink's timeout occupies one of its attempts in flight for seconds).
const PAUSE: Duration = Duration::from_millis(60);

/// One posting.
#[derive(Clone, Debug)]
pub struct Posted {
    /// The receiver's mode when it was sent.
    pub mode: Mode,
    pub latency: Duration,
    /// The HTTP status, or why there was none.
    pub status: Result<u16, String>,
    /// The dedup keys of its events.
    pub keys: Vec<String>,
}

/// A delivery of [`BATCH`] messages with mids unique to (test, round, client, n), and their dedup keys.
pub fn delivery(test: &str, round: usize, n: usize) -> (Vec<u8>, Vec<String>) {
    let items: Vec<String> = (0..BATCH)
        .map(|i| {
            format!(
                r#"{{"sender":{{"id":"{}"}},"recipient":{{"id":"100"}},"timestamp":{},"message":{{"mid":"m.{test}.{round}.{n}.{i}","text":"hi"}}}}"#,
                2000 + n % 7,
                1_767_610_000_000_u64 + (n * BATCH + i) as u64
            )
        })
        .collect();
    let body = format!(
        r#"{{"object":"page","entry":[{{"id":"100","time":1767610000000,"messaging":[{}]}}]}}"#,
        items.join(",")
    )
    .into_bytes();
    let keys = hookline_meta::parse(&body)
        .unwrap()
        .iter()
        .map(|e| e.dedup_key().to_string())
        .collect();
    (body, keys)
}

/// Clients posting until stopped.
#[derive(Debug)]
pub struct Clients {
    stop: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<Vec<Posted>>>,
}

impl Clients {
    pub fn start(
        client: &reqwest::Client,
        url: &str,
        secret: &str,
        receiver: &Receiver,
        round: usize,
    ) -> Clients {
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = (0..CLIENTS)
            .map(|c| {
                let (client, url, secret) = (client.clone(), url.to_owned(), secret.to_owned());
                let (receiver, stop) = (receiver.clone(), stop.clone());
                tokio::spawn(async move {
                    let mut ledger = Vec::new();
                    for n in 0.. {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        let (body, keys) = delivery(&format!("faults.{c}"), round, n);
                        let mode = receiver.mode();
                        let started = Instant::now();
                        let status = post(&client, &url, &secret, body).await;
                        ledger.push(Posted {
                            mode,
                            latency: started.elapsed(),
                            status,
                            keys,
                        });
                        tokio::time::sleep(PAUSE).await;
                    }
                    ledger
                })
            })
            .collect();
        Clients { stop, tasks }
    }

    /// Stops the clients and returns every posting.
    pub async fn stop(self) -> Vec<Posted> {
        self.stop.store(true, Ordering::SeqCst);
        let mut ledger = Vec::new();
        for task in self.tasks {
            ledger.extend(task.await.unwrap());
        }
        ledger
    }
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    secret: &str,
    body: Vec<u8>,
) -> Result<u16, String> {
    let signature = hookline_meta::signature::sign(secret.as_bytes(), &body);
    client
        .post(url)
        .header("content-type", "application/json")
        .header("x-hub-signature-256", signature)
        .body(body)
        .send()
        .await
        .map(|response| response.status().as_u16())
        .map_err(|err| err.to_string())
}

/// The median and the 99th percentile.
pub fn percentiles(latencies: &[Duration]) -> (Duration, Duration) {
    let mut sorted = latencies.to_vec();
    sorted.sort();
    let at = |q: usize| sorted[(sorted.len() * q / 100).min(sorted.len() - 1)];
    (at(50), at(99))
}

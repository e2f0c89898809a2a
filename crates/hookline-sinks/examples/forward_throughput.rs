//! How fast the outbox forwards: fills a fresh store with N events, starts one worker from the beginning
//! of the log, and times it until the sink's cursor reaches the last event with nothing pending.
//!
//! ```text
//! cargo run --release -p hookline-sinks --example forward_throughput -- http [EVENTS]
//! cargo run --release -p hookline-sinks --example forward_throughput -- nats [EVENTS] [NATS_URL]
//! cargo run --release -p hookline-sinks --example forward_throughput -- receiver 127.0.0.1:9000
//! ```
//!
//! `http` forwards to a local receiver in the same process that answers 204 to every POST; `nats`
//! publishes to JetStream (a stream made for the run and deleted after it). `receiver ADDR` only runs
//! the 204 receiver, as the downstream of a `hookline serve` whose ingest is measured with fan-out on.
//! Figures are in BENCHMARKS.md.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use bytes::Bytes;
use hookline_sinks::nats::{NatsOptions, NatsSink};
use hookline_sinks::{
    Fanout, HttpSink, SigningSecret, Sink, SystemClock, Timeouts, Worker, WorkerOptions,
};
use hookline_store::outbox::SinkStart;
use hookline_store::sqlite::{SqliteOptions, SqliteStore};
use hookline_store::{Content, EventStore, NewDelivery, NewEvent};

/// Messages per stored delivery, as Meta batches them.
const PER_DELIVERY: usize = 10;
const SINK: &str = "bench";

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args.first().map(String::as_str).unwrap_or("http");
    if mode == "receiver" {
        let addr = args.get(1).map_or("127.0.0.1:9000", String::as_str);
        let addr: SocketAddr = addr
            .parse()
            .unwrap_or_else(|_| fail(&format!("{addr:?} is not HOST:PORT")));
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .unwrap_or_else(|err| fail(&format!("cannot listen on {addr}: {err}")));
        eprintln!("receiver answering 204 on http://{addr}/");
        serve_receiver(listener, Arc::new(AtomicU64::new(0))).await;
        return;
    }
    let events: usize = args
        .get(1)
        .map(|n| {
            n.parse()
                .unwrap_or_else(|_| fail(&format!("{n:?} is not a number of events")))
        })
        .unwrap_or(100_000);

    let dir = tempfile::tempdir().unwrap_or_else(|err| fail(&format!("no temp dir: {err}")));
    let store: Arc<dyn EventStore> = Arc::new(
        SqliteStore::open(&dir.path().join("bench.db"), SqliteOptions::default())
            .unwrap_or_else(|err| fail(&err.to_string())),
    );
    let stored = fill(&store, events).await;

    let received = Arc::new(AtomicU64::new(0));
    let (sink, cleanup): (Arc<dyn Sink>, Option<NatsCleanup>) = match mode {
        "http" => {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}/", listener.local_addr().unwrap());
            tokio::spawn(serve_receiver(listener, received.clone()));
            let secret = SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
            (
                Arc::new(HttpSink::new(&url, secret, Timeouts::default()).unwrap()),
                None,
            )
        }
        "nats" => {
            let url = args.get(2).map_or("nats://127.0.0.1:4222", String::as_str);
            let run = std::process::id();
            let stream = format!("HOOKLINE_BENCH_{run}");
            let options = NatsOptions {
                subject_prefix: format!("hlbench{run}"),
                stream: Some(stream.clone()),
                ..NatsOptions::default()
            };
            let sink = NatsSink::connect(url, options)
                .await
                .unwrap_or_else(|err| fail(&err.to_string()));
            (
                Arc::new(sink),
                Some(NatsCleanup {
                    url: url.to_owned(),
                    stream,
                }),
            )
        }
        other => fail(&format!(
            "unknown mode {other:?}; use http, nats or receiver"
        )),
    };

    let options = WorkerOptions {
        start: SinkStart::Beginning,
        ..WorkerOptions::default()
    };
    let worker = Worker::new(SINK, sink, options, store.clone(), Arc::new(SystemClock));
    worker.open_cursor().await.unwrap();
    let started = Instant::now();
    let fanout = Fanout::start(vec![worker]);
    loop {
        let status = store
            .sink_statuses()
            .await
            .unwrap()
            .into_iter()
            .find(|s| s.sink == SINK);
        if let Some(status) = status
            && status.cursor >= status.head
            && status.pending == 0
            && status.dead == 0
        {
            break;
        }
        if started.elapsed() > Duration::from_secs(600) {
            fail("the sink did not catch up within 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed();
    fanout.stop(Duration::from_secs(5)).await;
    if let Some(cleanup) = cleanup {
        cleanup.run().await;
    }
    let rate = stored as f64 / elapsed.as_secs_f64();
    println!(
        "{mode}: {stored} events forwarded in {:.2} s = {rate:.0} events/s (concurrency {}, batch {})",
        elapsed.as_secs_f64(),
        WorkerOptions::default().concurrency,
        WorkerOptions::default().batch,
    );
    if mode == "http" {
        let requests = received.load(Ordering::Relaxed);
        println!("receiver got {requests} requests");
        if requests != stored as u64 {
            fail(&format!(
                "expected {stored} requests at the receiver, got {requests}"
            ));
        }
    }
}

/// Stores `events` distinct messages, `PER_DELIVERY` to a delivery, and returns how many were stored.
async fn fill(store: &Arc<dyn EventStore>, events: usize) -> usize {
    let deliveries = events.div_ceil(PER_DELIVERY);
    let mut pending = Vec::with_capacity(256);
    for d in 0..deliveries {
        let body = Bytes::from(delivery_body(d));
        let parsed = hookline_meta::parse(&body).expect("the bench body parses");
        let content = Content::Events(
            parsed
                .iter()
                .map(|e| NewEvent::from_event(e, &body))
                .collect(),
        );
        let commit = store
            .submit(NewDelivery {
                received_at_ms: 1_767_610_000_000,
                app: None,
                secret_index: Some(0),
                signature: None,
                api_version: None,
                user_agent: None,
                body,
                content,
            })
            .unwrap_or_else(|err| fail(&err.to_string()));
        pending.push(commit);
        if pending.len() == 256 {
            for commit in pending.drain(..) {
                commit.await.unwrap();
            }
        }
    }
    for commit in pending {
        commit.await.unwrap();
    }
    deliveries * PER_DELIVERY
}

/// A Messenger delivery of `PER_DELIVERY` text messages from as many users, all distinct.
fn delivery_body(n: usize) -> String {
    let messaging: Vec<String> = (0..PER_DELIVERY)
        .map(|i| {
            let k = n * PER_DELIVERY + i;
            format!(
                r#"{{"sender":{{"id":"{}"}},"recipient":{{"id":"106"}},"timestamp":{},"message":{{"mid":"m.bench.{k}","text":"hello number {k}, is my order on its way?"}}}}"#,
                7_000_000 + k % 5_000,
                1_767_610_000_000 + k as u64,
            )
        })
        .collect();
    format!(
        r#"{{"object":"page","entry":[{{"id":"106","time":1767610000000,"messaging":[{}]}}]}}"#,
        messaging.join(",")
    )
}

async fn serve_receiver(listener: tokio::net::TcpListener, received: Arc<AtomicU64>) {
    let app = Router::new().route(
        "/",
        post(move || {
            let received = received.clone();
            async move {
                received.fetch_add(1, Ordering::Relaxed);
                StatusCode::NO_CONTENT
            }
        }),
    );
    axum::serve(listener, app).await.unwrap();
}

/// The run's JetStream stream, deleted afterwards so runs do not pile up on the server.
struct NatsCleanup {
    url: String,
    stream: String,
}

impl NatsCleanup {
    async fn run(self) {
        let Ok(client) = async_nats::connect(&self.url).await else {
            return;
        };
        let jetstream = async_nats::jetstream::new(client);
        if let Err(err) = jetstream.delete_stream(&self.stream).await {
            eprintln!("could not delete the stream {}: {err}", self.stream);
        }
    }
}

fn fail(message: &str) -> ! {
    eprintln!("forward_throughput: {message}");
    std::process::exit(1)
}

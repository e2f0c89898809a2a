//! Fan-out under downstream faults, with `hookline serve` run as the real binary and an HTTP `[[sink]]`
//! pointed at a receiver the test controls (`receiver`): it answers 500, holds requests without
//! answering, resets connections, answers slowly, or is healthy.
//!
//! - Ingest does not notice: while clients post signed deliveries through every fault, each POST is
//!   answered 200 and its events are stored. Ingest latency per receiver mode is printed, not asserted.
//! - Retries: once the receiver heals, every stored event reaches it, each request carrying the event's
//!   own `webhook-id`, and nothing is left pending or dead.
//! - Dead letters: a receiver that keeps failing gets exactly the schedule's attempts per event, the
//!   events end in the dead-letter queue, and `hookline dlq retry --all` delivers them once it is back.
//!
//! Each test prints its figures (`sink faults ...`). `HOOKLINE_FAULT_ITERATIONS` raises the number of
//! fault cycles (docs/faults.md).
#![cfg(unix)]

mod support;

#[path = "sink_faults/ingest.rs"]
mod ingest;
#[path = "sink_faults/receiver.rs"]
mod receiver;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use ingest::{Clients, Posted, delivery, percentiles};
use receiver::{Mode, Receiver};
use serde_json::Value;
use support::{Sandbox, Server, client, hookline, hookline_json};

const SECRET: &str = "sink-faults-secret";
const SINK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// Least time the receiver stays in each mode.
const PHASE: Duration = Duration::from_secs(2);
/// Least requests the receiver answers in each mode before it moves on: a held or slow request keeps
/// the sink's pass busy for seconds, so time alone could let a mode pass with a single attempt.
const PHASE_REQUESTS: usize = 20;
/// Generous: a loaded machine may take long, and no figure here is a timing.
const DEADLINE: Duration = Duration::from_secs(120);
/// The fault modes, in the order a round goes through them.
const FAULTS: [Mode; 4] = [Mode::Error500, Mode::Hang, Mode::Reset, Mode::Slow];

/// A config with one http sink `crm` to `receiver`, retrying on `schedule`.
fn config(sandbox: &Sandbox, receiver: &Receiver, schedule: &[&str]) -> String {
    let path = sandbox.path().join("hookline.toml");
    let schedule: Vec<String> = schedule.iter().map(|s| format!("\"{s}\"")).collect();
    // A timeout above the receiver's slow answer (2 s), so that a slow answer is a delivery and a held
    // request is a timeout; many attempts in flight, so that held requests do not stall the sink long.
    let text = format!(
        r#"[[sink]]
name = "crm"
type = "http"
url = "{}"
secret = "{SINK_SECRET}"
retry_schedule = [{}]
timeout = "3s"
connect_timeout = "1s"
concurrency = 128
"#,
        receiver.url(),
        schedule.join(", ")
    );
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

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

/// Runs `hookline ARGS --database URL` off the runtime's threads and parses its JSON lines.
async fn cli_json(args: &[&str], database: &str) -> Vec<Value> {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let database = database.to_owned();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        hookline_json(&args, &database)
    })
    .await
    .unwrap()
}

/// The dedup keys of every stored event.
async fn stored_keys(database: &str) -> BTreeSet<String> {
    cli_json(&["events", "list", "--json"], database)
        .await
        .iter()
        .map(|e| e["dedup_key"].as_str().unwrap().to_owned())
        .collect()
}

/// The sink's line of `hookline sinks status --json`.
async fn sink_status(database: &str) -> Value {
    let statuses = cli_json(&["sinks", "status", "--json"], database).await;
    statuses
        .into_iter()
        .find(|s| s["sink"] == "crm")
        .expect("hookline sinks status lists the sink crm")
}

/// Polls `condition` every 100 ms until it holds; panics with `what` (and the last value) after
/// [`DEADLINE`].
async fn wait_until<T: std::fmt::Debug>(
    what: &str,
    mut probe: impl AsyncFnMut() -> T,
    condition: impl Fn(&T) -> bool,
) -> T {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let value = probe().await;
        if condition(&value) {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "expected {what} within {DEADLINE:?}; last seen: {value:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Keeps the receiver in `mode` for at least [`PHASE`] and [`PHASE_REQUESTS`] requests, so that every
/// mode is really met by the sink.
async fn phase(receiver: &Receiver, mode: Mode) {
    receiver.set(mode);
    let before = receiver.count(mode);
    let started = Instant::now();
    wait_until(
        &format!(
            "{PHASE_REQUESTS} attempts while the receiver is in mode {:?}",
            mode.name()
        ),
        async || (started.elapsed(), receiver.count(mode) - before),
        |(elapsed, count)| *elapsed >= PHASE && *count >= PHASE_REQUESTS,
    )
    .await;
}

/// Asserts that every request carried its event's own `webhook-id` (`evt_` + the dedup key's hex), the
/// same on every attempt, and only events that were posted.
fn assert_ids_follow_events(receiver: &Receiver, posted: &BTreeSet<String>) {
    for request in receiver.requests() {
        let expected = format!(
            "evt_{}",
            request.dedup_key.strip_prefix("v1:").unwrap_or("?")
        );
        assert_eq!(
            request.webhook_id, expected,
            "expected each request's webhook-id to be evt_ + its event's dedup key; got {request:?}"
        );
        assert!(
            posted.contains(&request.dedup_key),
            "expected only posted events at the receiver; got {request:?}"
        );
    }
}

/// `N events took 1 attempt, M took 2, ...`: how many events took each number of requests.
fn attempts_histogram(by_event: &BTreeMap<String, BTreeMap<Mode, usize>>) -> String {
    let mut histogram: BTreeMap<usize, usize> = BTreeMap::new();
    for modes in by_event.values() {
        *histogram.entry(modes.values().sum()).or_default() += 1;
    }
    let parts: Vec<String> = histogram
        .iter()
        .enumerate()
        .map(|(i, (attempts, events))| match (i, attempts) {
            (0, 1) => format!("{events} events took 1 attempt"),
            (0, _) => format!("{events} events took {attempts} attempts"),
            _ => format!("{events} took {attempts}"),
        })
        .collect();
    parts.join(", ")
}

/// `500: N, no answer: M, ...`: requests per receiver mode.
fn requests_by_mode(receiver: &Receiver) -> String {
    Mode::ALL
        .iter()
        .map(|mode| format!("{}: {}", mode.name(), receiver.count(*mode)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Asserts that every posting was answered 200 and prints ingest latency by receiver mode.
fn check_ingest(label: &str, ledger: &[Posted]) {
    let failed: Vec<&Posted> = ledger.iter().filter(|p| p.status != Ok(200)).collect();
    assert!(
        failed.is_empty(),
        "{label}: expected every POST /webhook answered 200 whatever the sink's receiver does; {} of {} \
         were not, the first: {:?}",
        failed.len(),
        ledger.len(),
        failed.first()
    );
    let mut by_mode = Vec::new();
    for mode in Mode::ALL {
        let latencies: Vec<Duration> = ledger
            .iter()
            .filter(|p| p.mode == mode)
            .map(|p| p.latency)
            .collect();
        assert!(
            !latencies.is_empty(),
            "{label}: expected deliveries posted while the receiver was in mode {:?}; there were none",
            mode.name()
        );
        let (p50, p99) = percentiles(&latencies);
        by_mode.push(format!(
            "{} {:.1}/{:.1} (n={})",
            mode.name(),
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            latencies.len()
        ));
    }
    eprintln!(
        "{label}: ingest p50/p99 ms by receiver mode: {}",
        by_mode.join(", ")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_ignores_a_failing_receiver_and_every_event_reaches_it_once_it_heals() {
    let rounds = support::fault_iterations(1);
    let sandbox = Sandbox::new();
    let receiver = Receiver::start().await;
    // Enough attempts, two seconds apart, to outlast a whole fault cycle: nothing may be dead-lettered.
    let mut schedule = vec!["0s", "500ms", "1s"];
    schedule.extend(["2s"; 40]);
    let config = config(&sandbox, &receiver, &schedule);
    let server = serve(&sandbox, &config).await;
    let database = sandbox.url();
    let client = client();
    let mut posted: BTreeSet<String> = BTreeSet::new();

    for round in 1..=rounds {
        let label = format!("sink faults round {round}/{rounds}");
        receiver.set(Mode::Healthy);
        let clients = Clients::start(&client, &server.url("/webhook"), SECRET, &receiver, round);
        phase(&receiver, Mode::Healthy).await;
        for mode in FAULTS {
            phase(&receiver, mode).await;
        }
        phase(&receiver, Mode::Healthy).await;
        let ledger = clients.stop().await;
        check_ingest(&label, &ledger);
        let round_keys: BTreeSet<String> =
            ledger.iter().flat_map(|p| p.keys.iter().cloned()).collect();
        posted.extend(round_keys.iter().cloned());

        let stored = stored_keys(&database).await;
        let missing: Vec<&String> = posted.difference(&stored).take(5).collect();
        assert!(
            missing.is_empty(),
            "{label}: expected every event answered 200 to be stored; missing: {missing:?}"
        );
        assert_eq!(
            stored.len(),
            posted.len(),
            "{label}: expected the store to hold exactly the posted events"
        );

        let by_event = wait_until(
            "every posted event answered 200 by the healed receiver",
            async || receiver.by_event(),
            |by_event| {
                posted.iter().all(|key| {
                    by_event
                        .get(key)
                        .is_some_and(|modes| modes.iter().any(|(m, n)| m.accepts() && *n > 0))
                })
            },
        )
        .await;
        let status = wait_until(
            "the sink's cursor at the head with nothing pending or dead",
            async || sink_status(&database).await,
            |s| s["lag"] == 0 && s["pending"] == 0,
        )
        .await;
        assert_eq!(
            status["dead"], 0,
            "{label}: expected no dead letters with a schedule longer than the faults; got {status}"
        );
        assert_ids_follow_events(&receiver, &posted);

        let round_events: BTreeMap<String, BTreeMap<Mode, usize>> = by_event
            .into_iter()
            .filter(|(key, _)| round_keys.contains(key))
            .collect();
        let retried = round_events
            .values()
            .filter(|modes| modes.iter().any(|(m, _)| !m.accepts()))
            .count();
        let twice = round_events
            .values()
            .filter(|modes| {
                modes
                    .iter()
                    .filter(|(m, _)| m.accepts())
                    .map(|(_, n)| n)
                    .sum::<usize>()
                    > 1
            })
            .count();
        // A fault the sink met and that never made an event wait would mean the faults did not bite.
        assert!(
            retried > 0,
            "{label}: expected some events to need a retry after a failed attempt; none did"
        );
        eprintln!(
            "{label}: {} deliveries ({} events) posted, all answered 200 and stored; after the receiver \
             healed every event had reached it ({retried} after at least one failed attempt, {twice} \
             received twice); {}; requests so far by mode: {}; sink: lag 0, pending 0, dead 0",
            ledger.len(),
            round_keys.len(),
            attempts_histogram(&round_events),
            requests_by_mode(&receiver),
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_keeps_failing_fills_the_dead_letter_queue_and_dlq_retry_delivers_them() {
    const DELIVERIES: usize = 20;
    const MAX_ATTEMPTS: usize = 3;
    let sandbox = Sandbox::new();
    let receiver = Receiver::start().await;
    receiver.set(Mode::Error500);
    let config = config(&sandbox, &receiver, &["0s", "100ms", "100ms"]);
    let server = serve(&sandbox, &config).await;
    let database = sandbox.url();
    let client = client();

    let mut posted = BTreeSet::new();
    for n in 0..DELIVERIES {
        let (body, keys) = delivery("dead", 0, n);
        let status = support::post_signed(&client, &server.url("/webhook"), SECRET, &body).await;
        assert_eq!(status, 200, "expected delivery {n} answered 200");
        posted.extend(keys);
    }
    let events = posted.len();

    let status = wait_until(
        "every event dead-lettered after its last attempt",
        async || sink_status(&database).await,
        |s| s["lag"] == 0 && s["pending"] == 0 && s["dead"] == events,
    )
    .await;
    let dead = cli_json(&["dlq", "list", "--json", "--limit", "1000"], &database).await;
    assert_eq!(
        dead.len(),
        events,
        "expected one dead letter per event; got {dead:?}"
    );
    for letter in &dead {
        let error = letter["last_error"].as_str().unwrap_or_default();
        assert!(
            letter["sink"] == "crm"
                && letter["attempts"] == MAX_ATTEMPTS
                && error.contains("HTTP 500")
                && error.contains("the last in the schedule"),
            "expected a dead letter of crm after {MAX_ATTEMPTS} attempts ending in HTTP 500; got {letter}"
        );
    }
    let by_event = receiver.by_event();
    for key in &posted {
        let modes = by_event.get(key).cloned().unwrap_or_default();
        assert_eq!(
            modes,
            BTreeMap::from([(Mode::Error500, MAX_ATTEMPTS)]),
            "expected exactly {MAX_ATTEMPTS} requests (all answered 500) for event {key}"
        );
    }

    // The receiver is back, but a dead letter waits for an operator: no request may come by itself.
    // Two of the worker's one-second looks for work are watched.
    receiver.set(Mode::Healthy);
    let requests_before = receiver.requests().len();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        receiver.requests().len(),
        requests_before,
        "expected dead letters to stay dead until `hookline dlq retry`"
    );

    let output = tokio::task::spawn_blocking({
        let database = database.clone();
        move || hookline(&["dlq", "retry", "--all", "--database", &database])
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "expected `hookline dlq retry --all` to succeed; got {}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!("requeued {events} dead letters\n")
    );
    let by_event = wait_until(
        "every requeued dead letter answered 200 by the receiver",
        async || receiver.by_event(),
        |by_event| {
            posted.iter().all(|key| {
                by_event
                    .get(key)
                    .is_some_and(|m| m.get(&Mode::Healthy).is_some_and(|n| *n > 0))
            })
        },
    )
    .await;
    let after = wait_until(
        "the sink with nothing pending or dead",
        async || sink_status(&database).await,
        |s| s["pending"] == 0 && s["dead"] == 0,
    )
    .await;
    assert_eq!(
        after["lag"], 0,
        "expected the cursor at the head; got {after}"
    );
    let left = cli_json(&["dlq", "list", "--json"], &database).await;
    assert!(
        left.is_empty(),
        "expected an empty dead-letter queue; got {left:?}"
    );
    assert_ids_follow_events(&receiver, &posted);
    for key in &posted {
        let failures = by_event[key].get(&Mode::Error500).copied().unwrap_or(0);
        assert_eq!(
            failures, MAX_ATTEMPTS,
            "expected no attempt beyond the schedule for event {key}"
        );
    }
    eprintln!(
        "sink faults dead letters: {DELIVERIES} deliveries ({events} events) against a receiver answering \
         500: {} dead letters after {MAX_ATTEMPTS} attempts each ({}), none retried by itself while the \
         receiver was back; `hookline dlq retry --all` requeued {events}, all delivered ({}); dead-letter \
         queue empty",
        status["dead"],
        requests_by_mode(&receiver),
        attempts_histogram(&by_event),
    );
    server.stop().await;
}

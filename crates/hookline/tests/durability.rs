//! Durability of `hookline serve`, run as the real binary: a 200 is sent only once the delivery is committed,
//! so it survives `kill -9`; a store that cannot commit answers 503 with `Retry-After` and stores nothing;
//! SIGTERM lets the deliveries in flight commit and exits 0.
//!
//! Each test has its own temporary directory (database and server log). When a test fails, the server log
//! is printed and the directory is kept, so the database can be inspected.
#![cfg(unix)]

mod support;

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rusqlite::{Connection, TransactionBehavior};
use support::{Sandbox, Server, client, hookline_json};

const SECRET: &str = "durability-test-secret";
const VERIFY_TOKEN: &str = "durability-test-token";

/// `hookline serve` on `database` with this file's secret and verify token.
async fn serve(sandbox: &Sandbox, database: &str) -> Server {
    let args = [
        "--app-secret",
        SECRET,
        "--verify-token",
        VERIFY_TOKEN,
        "--database",
        database,
    ];
    Server::start(sandbox, &args).await
}

// ---------------------------------------------------------------------------------------------------------
// Test 1: kill -9 in the middle of a stream of deliveries.
// ---------------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_delivery_survives_kill_9() {
    const ROUNDS: usize = 3;
    const CLIENTS: usize = 8;
    let sandbox = Sandbox::new();
    let client = client();
    let mut acked: Vec<Delivery> = Vec::new();
    let mut unacked: Vec<Delivery> = Vec::new();
    for round in 0..ROUNDS {
        let mut server = serve(&sandbox, &sandbox.url()).await;
        // The restart recovered the previous rounds (WAL replay): check before adding to them.
        check_store(&sandbox.db(), &acked, &unacked);

        let killed = Arc::new(AtomicBool::new(false));
        let tasks: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let (client, url, killed) =
                    (client.clone(), server.url("/webhook"), killed.clone());
                tokio::spawn(post_until_killed(client, url, round, c, killed))
            })
            .collect();
        let run_for = Duration::from_millis(300 + 250 * round as u64);
        tokio::time::sleep(run_for).await;
        // Set before the signal: an error seen while it is false is a real error, not the kill.
        killed.store(true, Ordering::SeqCst);
        let status = server.kill9();
        assert_eq!(
            status.signal(),
            Some(9),
            "round {round}: the server was not running when it was killed (it exited with {status})"
        );

        let mut round_acked = 0;
        let mut round_unacked = 0;
        let mut unexpected = Vec::new();
        for task in tasks {
            let outcome = task.await.expect("a client task panicked");
            round_acked += outcome.acked.len();
            round_unacked += outcome.unacked.len();
            acked.extend(outcome.acked);
            unacked.extend(outcome.unacked);
            unexpected.extend(outcome.unexpected);
        }
        eprintln!(
            "round {round}: killed after {run_for:?}: {round_acked} deliveries acknowledged, \
             {round_unacked} cut off by the kill"
        );
        assert!(
            unexpected.is_empty(),
            "round {round}: answers other than 200 before the kill: {:?}",
            &unexpected[..unexpected.len().min(10)]
        );
        assert!(
            round_acked > 50,
            "round {round}: only {round_acked} deliveries were acknowledged in {run_for:?}; \
             too few for the kill to mean anything"
        );
    }

    let mut server = serve(&sandbox, &sandbox.url()).await;
    let stored = check_store(&sandbox.db(), &acked, &unacked);
    // The CLI reads the same store.
    let listed: HashSet<String> = hookline_json(&["events", "list", "--json"], &sandbox.url())
        .iter()
        .map(|e| {
            e["mid"]
                .as_str()
                .expect("every event here has a mid")
                .to_owned()
        })
        .collect();
    let in_db: HashSet<String> = stored.events.keys().cloned().collect();
    assert_eq!(
        listed, in_db,
        "`hookline events list` and the database disagree"
    );
    let deliveries = hookline_json(&["deliveries", "list", "--json"], &sandbox.url()).len();
    assert_eq!(deliveries, stored.bodies.len());
    eprintln!(
        "after {ROUNDS} kills: {} deliveries acknowledged, all stored; {} deliveries and {} events in the store",
        acked.len(),
        stored.bodies.len(),
        stored.events.len()
    );

    server.sigterm();
    let status = server.wait_exit(Duration::from_secs(15)).await;
    assert!(
        status.success(),
        "hookline serve exited with {status} after SIGTERM"
    );
}

#[derive(Default)]
struct ClientOutcome {
    acked: Vec<Delivery>,
    unacked: Vec<Delivery>,
    unexpected: Vec<String>,
}

/// Posts distinct deliveries back to back until the server is killed.
async fn post_until_killed(
    client: reqwest::Client,
    url: String,
    round: usize,
    c: usize,
    killed: Arc<AtomicBool>,
) -> ClientOutcome {
    let mut out = ClientOutcome::default();
    let mut seq = 0;
    while !killed.load(Ordering::SeqCst) {
        // 1 to 3 entries, so a delivery is several events that must all be there.
        let delivery = Delivery::new(&format!("r{round}.c{c}.n{seq}"), 1 + (seq + c) % 3, c + 1);
        seq += 1;
        match post(&client, &url, &delivery).await {
            // The status line is the acknowledgement; the body may be cut off by the kill.
            Ok(response) if response.status() == reqwest::StatusCode::OK => {
                if let Ok(body) = response.bytes().await
                    && body.as_ref() != b"EVENT_RECEIVED"
                {
                    out.unexpected.push(format!("200 with body {body:?}"));
                }
                out.acked.push(delivery);
            }
            Ok(response) => {
                out.unexpected
                    .push(format!("{} for {}", response.status(), delivery.mids[0]));
                out.unacked.push(delivery);
            }
            Err(err) => {
                if !killed.load(Ordering::SeqCst) {
                    out.unexpected.push(format!("error before the kill: {err}"));
                }
                out.unacked.push(delivery);
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------------------
// Test 2: another process holds the database lock.
// ---------------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_store_answers_503_with_retry_after_and_recovers() {
    let sandbox = Sandbox::new();
    let database = format!("{}?busy_timeout_ms=200", sandbox.url());
    let server = serve(&sandbox, &database).await;
    let client = client();
    let webhook = server.url("/webhook");

    let first = Delivery::new("locked.first", 2, 1);
    let response = post(&client, &webhook, &first).await.unwrap();
    assert_eq!(response.status(), 200);

    let mut conn = Connection::open(sandbox.db()).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    let lock = conn
        .transaction_with_behavior(TransactionBehavior::Exclusive)
        .unwrap();

    let second = Delivery::new("locked.second", 3, 2);
    let started = Instant::now();
    let response = post(&client, &webhook, &second).await.unwrap();
    let waited = started.elapsed();
    assert_eq!(
        response.status(),
        503,
        "a post while the database is locked"
    );
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .expect("a 503 carries Retry-After")
        .to_str()
        .unwrap()
        .parse::<u64>()
        .expect("Retry-After is a number of seconds");
    assert!(retry_after > 0);
    // busy_timeout_ms=200 is honoured (the default would wait 2 s).
    assert!(
        waited < Duration::from_millis(1500),
        "the 503 took {waited:?}; busy_timeout_ms=200 should give up after about 200 ms"
    );
    let ready = client.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503, "/readyz while the database is locked");
    assert_eq!(count_events(&lock, &second.mids), 0);
    lock.rollback().unwrap();

    // Nothing of the refused delivery is written later behind the client's back.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(count_events(&conn, &second.mids), 0);
    assert_eq!(count_rows(&conn, "deliveries"), 1);

    // Meta retries the same delivery: it is stored, once.
    let ready = client.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200, "/readyz once the lock is released");
    let response = post(&client, &webhook, &second).await.unwrap();
    assert_eq!(response.status(), 200, "the retried delivery");
    let ready = client.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    for mid in &second.mids {
        let (rows, duplicates): (i64, i64) = conn
            .query_row(
                "SELECT count(*), coalesce(sum(duplicates), 0) FROM events WHERE mid = ?1",
                [mid],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .unwrap();
        assert_eq!(
            (rows, duplicates),
            (1, 0),
            "event {mid} is stored exactly once"
        );
    }
    assert_eq!(count_rows(&conn, "deliveries"), 2);
    assert_eq!(count_rows(&conn, "events"), 5);
}

fn count_events(conn: &Connection, mids: &[String]) -> i64 {
    mids.iter()
        .map(|mid| {
            conn.query_row("SELECT count(*) FROM events WHERE mid = ?1", [mid], |row| {
                row.get::<_, i64>(0)
            })
            .unwrap()
        })
        .sum()
}

fn count_rows(conn: &Connection, table: &str) -> i64 {
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |row| {
        row.get(0)
    })
    .unwrap()
}

// ---------------------------------------------------------------------------------------------------------
// Test 3: SIGTERM while deliveries are in flight.
// ---------------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_in_flight_deliveries_and_exits_0() {
    const POSTS: usize = 200;
    let sandbox = Sandbox::new();
    let mut server = serve(&sandbox, &sandbox.url()).await;
    let client = client();

    // Two deliveries whose bodies are still arriving when SIGTERM comes: certainly in flight.
    let slow: Vec<SlowPost> = (0..2)
        .map(|i| SlowPost::begin(server.addr, Delivery::new(&format!("slow.{i}"), 2, 900 + i)))
        .collect();

    let answered = Arc::new(AtomicUsize::new(0));
    let terminating = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..POSTS)
        .map(|i| {
            let (client, url) = (client.clone(), server.url("/webhook"));
            let (answered, terminating) = (answered.clone(), terminating.clone());
            tokio::spawn(async move {
                let delivery = Delivery::new(&format!("term.{i}"), 1 + i % 3, 1 + i % 7);
                let result = post(&client, &url, &delivery).await;
                let after_term = terminating.load(Ordering::SeqCst);
                answered.fetch_add(1, Ordering::SeqCst);
                let result = result
                    .map(|r| r.status().as_u16())
                    .map_err(|e| e.to_string());
                (delivery, result, after_term)
            })
        })
        .collect();

    let deadline = Instant::now() + Duration::from_secs(10);
    while answered.load(Ordering::SeqCst) < POSTS / 20 {
        assert!(
            Instant::now() < deadline,
            "no answers to the posts within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    terminating.store(true, Ordering::SeqCst);
    server.sigterm();

    // Shutting down, but the slow deliveries hold it open until they are committed and answered.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        server.is_running(),
        "hookline serve exited while two requests were still being received"
    );
    let mut acked = Vec::new();
    for post in slow {
        let (delivery, response) = post.finish().await;
        assert!(
            response.starts_with("HTTP/1.1 200 ") && response.ends_with("EVENT_RECEIVED"),
            "a delivery in flight at SIGTERM got {response:?}"
        );
        acked.push(delivery);
    }

    let status = server.wait_exit(Duration::from_secs(15)).await;
    assert_eq!(
        status.code(),
        Some(0),
        "hookline serve exited with {status} after SIGTERM"
    );

    let mut refused = 0;
    let mut acked_after_term = 0;
    let mut unexpected = Vec::new();
    for task in tasks {
        let (delivery, result, after_term) = task.await.unwrap();
        match result {
            Ok(200) => {
                acked_after_term += usize::from(after_term);
                acked.push(delivery);
            }
            Ok(status) => unexpected.push(format!("{status} for {}", delivery.mids[0])),
            // Not yet accepted when the listener closed: never acknowledged, so Meta would retry.
            Err(_) => refused += 1,
        }
    }
    eprintln!(
        "SIGTERM after {} answers: {} of {POSTS} posts acknowledged ({acked_after_term} after the signal \
         was sent), {refused} refused by the closing server, plus 2 slow posts acknowledged",
        POSTS / 20,
        acked.len() - 2,
    );
    assert!(
        unexpected.is_empty(),
        "answers other than 200: {unexpected:?}"
    );

    // Read back with the CLI, as an operator would.
    let stored: HashMap<String, i64> = hookline_json(&["events", "list", "--json"], &sandbox.url())
        .iter()
        .map(|e| {
            (
                e["mid"].as_str().unwrap().to_owned(),
                e["delivery_id"].as_i64().unwrap(),
            )
        })
        .collect();
    let missing: Vec<&String> = acked
        .iter()
        .flat_map(|d| &d.mids)
        .filter(|mid| !stored.contains_key(*mid))
        .collect();
    assert!(
        missing.is_empty(),
        "{} events of acknowledged deliveries are not stored, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    let deliveries = hookline_json(&["deliveries", "list", "--json"], &sandbox.url()).len();
    assert!(
        deliveries >= acked.len(),
        "{deliveries} deliveries stored, {} acknowledged",
        acked.len()
    );
}

/// A POST written by hand: headers and half the body now, the rest on [`SlowPost::finish`].
struct SlowPost {
    stream: TcpStream,
    rest: Vec<u8>,
    delivery: Delivery,
}

impl SlowPost {
    fn begin(addr: SocketAddr, delivery: Delivery) -> SlowPost {
        let body = delivery.body.as_bytes();
        let (head, rest) = body.split_at(body.len() / 2);
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(15)))
            .unwrap();
        write!(
            stream,
            "POST /webhook HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nX-Hub-Signature-256: {}\r\nConnection: close\r\n\r\n",
            body.len(),
            delivery.signature()
        )
        .unwrap();
        stream.write_all(head).unwrap();
        stream.flush().unwrap();
        SlowPost {
            stream,
            rest: rest.to_vec(),
            delivery,
        }
    }

    /// Sends the rest of the body and reads the whole response.
    async fn finish(self) -> (Delivery, String) {
        let SlowPost {
            mut stream,
            rest,
            delivery,
        } = self;
        let response = tokio::task::spawn_blocking(move || {
            stream.write_all(&rest).unwrap();
            let mut response = Vec::new();
            stream.read_to_end(&mut response).unwrap();
            String::from_utf8_lossy(&response).into_owned()
        })
        .await
        .unwrap();
        (delivery, response)
    }
}

// ---------------------------------------------------------------------------------------------------------
// Deliveries.
// ---------------------------------------------------------------------------------------------------------

/// A signed Messenger delivery of one message per entry; each mid is a distinct event.
#[derive(Clone, Debug)]
struct Delivery {
    body: String,
    mids: Vec<String>,
}

impl Delivery {
    fn new(tag: &str, entries: usize, sender: usize) -> Delivery {
        let time = 1_700_000_000_000_i64;
        let mids: Vec<String> = (0..entries).map(|i| format!("m.{tag}.{i}")).collect();
        let body = support::message_delivery(&mids, &sender.to_string(), time, "hi");
        Delivery { body, mids }
    }

    fn signature(&self) -> String {
        hookline_meta::signature::sign(SECRET.as_bytes(), self.body.as_bytes())
    }
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    delivery: &Delivery,
) -> reqwest::Result<reqwest::Response> {
    client
        .post(url)
        .header("content-type", "application/json")
        .header("x-hub-signature-256", delivery.signature())
        .body(delivery.body.clone())
        .send()
        .await
}

// ---------------------------------------------------------------------------------------------------------
// What the store holds.
// ---------------------------------------------------------------------------------------------------------

struct Stored {
    /// mid -> id of the delivery that brought the event first.
    events: HashMap<String, i64>,
    /// delivery id -> raw body.
    bodies: HashMap<i64, Vec<u8>>,
}

fn read_store(db: &Path) -> Stored {
    let conn = Connection::open(db).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    let mut events = HashMap::new();
    let mut statement = conn.prepare("SELECT mid, delivery_id FROM events").unwrap();
    let rows = statement
        .query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
        })
        .unwrap();
    for row in rows {
        let (mid, delivery_id) = row.unwrap();
        assert!(
            events.insert(mid.clone(), delivery_id).is_none(),
            "event {mid} is stored twice"
        );
    }
    let mut bodies = HashMap::new();
    let mut statement = conn.prepare("SELECT id, body FROM deliveries").unwrap();
    let rows = statement
        .query_map([], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?))
        })
        .unwrap();
    for row in rows {
        let (id, body) = row.unwrap();
        bodies.insert(id, body);
    }
    Stored { events, bodies }
}

/// Every acknowledged delivery is stored whole (all its events, linked to a delivery row holding its exact
/// body); a delivery that was cut off is stored whole or not at all.
fn check_store(db: &Path, acked: &[Delivery], unacked: &[Delivery]) -> Stored {
    let stored = read_store(db);
    let mut problems = Vec::new();
    let mut missing_events = 0;
    for delivery in acked {
        let present = delivery
            .mids
            .iter()
            .filter(|m| stored.events.contains_key(*m))
            .count();
        missing_events += delivery.mids.len() - present;
        if present < delivery.mids.len() {
            problems.push(format!(
                "acknowledged {:?}: {present} of its {} events are stored",
                delivery.mids[0],
                delivery.mids.len()
            ));
        } else if let Err(problem) = stored_whole(&stored, delivery) {
            problems.push(format!("acknowledged {problem}"));
        }
    }
    for delivery in unacked {
        let present = delivery
            .mids
            .iter()
            .filter(|m| stored.events.contains_key(*m))
            .count();
        if present == delivery.mids.len() {
            if let Err(problem) = stored_whole(&stored, delivery) {
                problems.push(format!("unacknowledged {problem}"));
            }
        } else if present > 0 {
            problems.push(format!(
                "unacknowledged {:?} is half stored: {present} of {} events (a torn transaction)",
                delivery.mids[0],
                delivery.mids.len()
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems ({missing_events} events of acknowledged deliveries missing), e.g.:\n{}",
        problems.len(),
        problems[..problems.len().min(10)].join("\n")
    );
    assert!(
        stored.bodies.len() >= acked.len(),
        "{} deliveries stored, {} acknowledged",
        stored.bodies.len(),
        acked.len()
    );
    stored
}

fn stored_whole(stored: &Stored, delivery: &Delivery) -> Result<(), String> {
    let ids: HashSet<i64> = delivery.mids.iter().map(|m| stored.events[m]).collect();
    if ids.len() != 1 {
        return Err(format!(
            "{:?}: its events belong to deliveries {ids:?}",
            delivery.mids[0]
        ));
    }
    let id = *ids.iter().next().unwrap();
    match stored.bodies.get(&id) {
        Some(body) if body.as_slice() == delivery.body.as_bytes() => Ok(()),
        Some(_) => Err(format!(
            "{:?}: delivery {id} holds another body",
            delivery.mids[0]
        )),
        None => Err(format!(
            "{:?}: its delivery {id} is not stored",
            delivery.mids[0]
        )),
    }
}

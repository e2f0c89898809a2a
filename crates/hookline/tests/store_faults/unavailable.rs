//! A store that stops taking writes for a few seconds while deliveries keep coming: (a) SQLite with its
//! write lock held by another process, (b) PostgreSQL behind a proxy that first goes silent (connections
//! dead without a word, as after a failover) and then refuses connections.
//!
//! The load does not wait for answers: a post is sent every few milliseconds, as Meta's traffic would be,
//! so if the server queued without bound its memory would grow with the fault's length. Every answer must
//! be a 200 or a 503 with `Retry-After`, given within the server's request deadline; every 200 must be
//! stored; the server's resident memory, sampled throughout, must stay bounded; and once the store is back
//! the same process takes writes again.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::Semaphore;

use crate::contents::{Store, Verdict, check};
use crate::deliveries::{Answer, Delivery, Ledger, client, lock, post, post_all, thousands};
use crate::proxy::{Proxy, proxied};
use crate::rng::Rng;
use crate::serve;
use crate::support::{PostgresSchema, Sandbox, Server};

/// One post every this often: 200 a second.
const PACE: Duration = Duration::from_millis(5);
/// Posts in flight at most; past that the load waits (and says so), to protect a shared test machine.
const MAX_IN_FLIGHT: usize = 1000;
/// Load before the fault, so the figures before it are of a server at work.
const WARM_UP: Duration = Duration::from_secs(2);
/// Past the configured request deadline, for a machine busy with other tests.
const DEADLINE_MARGIN: Duration = Duration::from_secs(10);
/// How long the store refuses writes unless `HOOKLINE_FAULT_SECONDS` says otherwise.
const DEFAULT_FAULT_SECONDS: u64 = 5;
/// Resident memory the server must stay under throughout.
const RSS_BOUND_MIB: u64 = 200;
const RECOVERY_LIMIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_sqlite_store_under_load_answers_200_or_503_in_time_with_bounded_memory() {
    let sandbox = Sandbox::new();
    let db = sandbox.db();
    let server = serve(&sandbox, &sandbox.url()).await;
    let path = db.clone();
    let fault = async move {
        // Another process takes SQLite's write lock (in WAL mode EXCLUSIVE blocks writers, not readers).
        let (held, released) = tokio::task::spawn_blocking(move || {
            let mut conn = Connection::open(&path).unwrap();
            conn.busy_timeout(Duration::from_secs(30)).unwrap();
            let lock = conn
                .transaction_with_behavior(TransactionBehavior::Exclusive)
                .unwrap();
            let held = Instant::now();
            std::thread::sleep(fault_length());
            lock.rollback().unwrap();
            (held, Instant::now())
        })
        .await
        .unwrap();
        (held, released)
    };
    let run = under_fault(&server, Store::Sqlite(&db), fault).await;
    assert!(
        run.verdict.unacked_stored.is_empty(),
        "unavailable[sqlite]: expected no delivery answered 503 to be stored (a failed commit rolls back), \
         but {} are, e.g. {:?}",
        run.verdict.unacked_stored.len(),
        &run.verdict.unacked_stored[..run.verdict.unacked_stored.len().min(5)]
    );
    run.report(&format!(
        "unavailable[sqlite, write lock held {} s by another connection]",
        fault_length().as_secs()
    ));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_then_unreachable_postgres_under_load_answers_200_or_503_in_time_with_bounded_memory()
 {
    let Some(pg) = PostgresSchema::new("a_slow_then_unreachable_postgres_under_load") else {
        return;
    };
    let sandbox = Sandbox::new();
    let (target, _) = proxied(&pg.server, 0);
    let proxy = Proxy::start(target).await;
    let (_, via_proxy) = proxied(&pg.server, proxy.port);
    let database = with_schema(&via_proxy, &pg.schema);
    let server = serve(&sandbox, &database).await;
    let fault = async {
        // Slow: another session holds a lock that every insert into the events table waits for.
        let slow = Instant::now();
        let lock = format!(
            "BEGIN; LOCK TABLE {}.events IN EXCLUSIVE MODE; SELECT pg_sleep({}); COMMIT;",
            pg.schema,
            fault_length().as_secs_f64()
        );
        // The load runs on the runtime's worker threads meanwhile.
        tokio::task::block_in_place(|| pg.try_psql(&lock))
            .unwrap_or_else(|err| panic!("psql holding the lock on the events table: {err}"));
        // Unreachable: the proxy drops its connections and closes new ones at once.
        proxy.cut();
        tokio::time::sleep(fault_length()).await;
        proxy.restore();
        (slow, Instant::now())
    };
    let run = under_fault(&server, Store::Postgres(&pg), fault).await;
    run.report(&format!(
        "unavailable[postgres, events table locked by another session for {} s, then unreachable for {} s]",
        fault_length().as_secs(),
        fault_length().as_secs()
    ));
    server.stop().await;
}

/// `HOOKLINE_FAULT_SECONDS`, or the short default: how long each fault lasts.
fn fault_length() -> Duration {
    let seconds = match std::env::var("HOOKLINE_FAULT_SECONDS") {
        Ok(text) if !text.trim().is_empty() => text.trim().parse().unwrap_or_else(|err| {
            panic!("HOOKLINE_FAULT_SECONDS={text:?} is not a number of seconds: {err}")
        }),
        _ => DEFAULT_FAULT_SECONDS,
    };
    Duration::from_secs(seconds)
}

/// `url` with `schema=NAME` added to its options.
fn with_schema(url: &str, schema: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}schema={schema}")
}

/// The server's request deadline (`request_timeout_secs`), as configured by default: past it the server
/// answers 408, so any answer other than 200 or 503 shows here too.
fn request_deadline() -> Duration {
    Duration::from_secs(hookline_server::Config::with_secret("-").request_timeout_secs)
}

/// What a run under a fault measured.
struct Run {
    ledger: Arc<Mutex<Ledger>>,
    verdict: Verdict,
    seed: u64,
    rss_before_kib: u64,
    rss_max_kib: u64,
    rss_after_kib: u64,
    max_in_flight: usize,
    load_waited: usize,
    refused_during: usize,
}

/// Paces posts at the server, runs `fault` when it is warm, keeps the load on until a post sent after the
/// fault is answered 200, then checks the answers, the store and the memory figures.
async fn under_fault(
    server: &Server,
    store: Store<'_>,
    fault: impl Future<Output = (Instant, Instant)>,
) -> Run {
    let name = format!("unavailable[{}]", store.name());
    let seed = Rng::seed();
    let ledger = Ledger::shared();
    let deadline = request_deadline();
    let client = client(deadline);
    let rss = Rss::sample(server.pid());
    let pacer = Pacer::start(&client, server.url("/webhook"), &ledger, Rng::new(seed));

    tokio::time::sleep(WARM_UP).await;
    let rss_before_kib = rss.begin_fault();
    let (fault_began, fault_ended) = fault.await;
    let waiting = Instant::now();
    loop {
        let recovered = pacer.answered_200_since(fault_ended);
        if recovered {
            break;
        }
        assert!(
            waiting.elapsed() < RECOVERY_LIMIT,
            "{name}: expected a post sent after the store came back to be answered 200 within \
             {RECOVERY_LIMIT:?}, but none was"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (max_in_flight, load_waited, timeline) = pacer.stop().await;
    let rss_max_kib = rss.stop();
    let rss_after_kib = rss_kib(server.pid()).unwrap_or(0);

    let refused_during = timeline
        .iter()
        .filter(|(sent, code)| *code == 503 && *sent >= fault_began && *sent <= fault_ended)
        .count();
    {
        let ledger = lock(&ledger);
        ledger.assert_only_200_and_503(&name);
        assert!(
            ledger.slowest <= deadline + DEADLINE_MARGIN,
            "{name}: expected every answer within the request deadline ({deadline:?}) plus {DEADLINE_MARGIN:?}, \
             but the slowest took {:?}",
            ledger.slowest
        );
    }
    // Every 200 stored: checked first, as the worst failure.
    let verdict = check(&store.read(), &lock(&ledger));
    verdict.assert_clean(&name);
    assert!(
        refused_during > 0,
        "{name}: expected posts sent while the store was unavailable to be refused with 503, but none was \
         (did the fault take effect?)"
    );
    assert!(
        rss_max_kib < RSS_BOUND_MIB * 1024,
        "{name}: expected the server's resident memory to stay under {RSS_BOUND_MIB} MiB, but it reached \
         {:.1} MiB (before the fault: {:.1} MiB)",
        rss_max_kib as f64 / 1024.0,
        rss_before_kib as f64 / 1024.0
    );
    // Meta posts the refused deliveries again: now each is stored.
    let refused = lock(&ledger).unacked();
    post_all(&client, &server.url("/webhook"), refused, &ledger).await;
    check(&store.read(), &lock(&ledger)).assert_clean(&format!("{name}: after the retries"));
    Run {
        ledger,
        verdict,
        seed,
        rss_before_kib,
        rss_max_kib,
        rss_after_kib,
        max_in_flight,
        load_waited,
        refused_during,
    }
}

impl Run {
    fn report(&self, name: &str) {
        let ledger = lock(&self.ledger);
        let mib = |kib: u64| kib as f64 / 1024.0;
        eprintln!(
            "{name}: {} acked, {} lost, {} stored twice, {} refused with 503 and Retry-After ({} of them sent \
             during the fault), 0 other answers; slowest answer {:.2} s (request deadline {} s); RSS before \
             {:.1} MiB, max during {:.1} MiB, after {:.1} MiB (bound {RSS_BOUND_MIB} MiB); up to {} posts in \
             flight, {} waits for the in-flight cap of {MAX_IN_FLIGHT}; {} stored of the posts answered 503; \
             seed {}",
            thousands(self.verdict.acked),
            thousands(self.verdict.lost.len()),
            thousands(self.verdict.stored_twice.len()),
            thousands(ledger.refused),
            thousands(self.refused_during),
            ledger.slowest.as_secs_f64(),
            request_deadline().as_secs(),
            mib(self.rss_before_kib),
            mib(self.rss_max_kib),
            mib(self.rss_after_kib),
            thousands(self.max_in_flight),
            thousands(self.load_waited),
            thousands(self.verdict.unacked_stored.len()),
            self.seed,
        );
    }
}

/// Posts at a steady pace whatever the answers (up to `MAX_IN_FLIGHT` at once).
struct Pacer {
    stop: Arc<AtomicBool>,
    /// (when sent, status or 0 for no answer) of every post answered so far.
    timeline: Arc<Mutex<Vec<(Instant, u16)>>>,
    task: tokio::task::JoinHandle<(usize, usize)>,
}

impl Pacer {
    fn start(
        client: &reqwest::Client,
        url: String,
        ledger: &Arc<Mutex<Ledger>>,
        mut rng: Rng,
    ) -> Pacer {
        let stop = Arc::new(AtomicBool::new(false));
        let timeline: Arc<Mutex<Vec<(Instant, u16)>>> = Arc::default();
        let (client, ledger) = (client.clone(), ledger.clone());
        let (stopping, times) = (stop.clone(), timeline.clone());
        let task = tokio::spawn(async move {
            let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
            let mut ticks = tokio::time::interval(PACE);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let (mut max_in_flight, mut waited, mut n) = (0, 0, 0);
            while !stopping.load(Ordering::SeqCst) {
                ticks.tick().await;
                let slot = match slots.clone().try_acquire_owned() {
                    Ok(slot) => slot,
                    Err(_) => {
                        waited += 1;
                        slots.clone().acquire_owned().await.unwrap()
                    }
                };
                max_in_flight = max_in_flight.max(MAX_IN_FLIGHT - slots.available_permits());
                n += 1;
                let repost = if rng.one_in(10) {
                    lock(&ledger).pick_acked(&mut rng)
                } else {
                    None
                };
                let delivery =
                    repost.unwrap_or_else(|| Delivery::random(&format!("p.{n}"), &mut rng, 64));
                let (client, url, ledger, times) =
                    (client.clone(), url.clone(), ledger.clone(), times.clone());
                tokio::spawn(async move {
                    let sent = Instant::now();
                    let posted = post(&client, &url, &delivery).await;
                    let code = match posted.answer {
                        Answer::Status { code, .. } => code,
                        Answer::Failed(_) => 0,
                    };
                    lock(&ledger).record(&delivery, &posted, false);
                    lock(&times).push((sent, code));
                    drop(slot);
                });
            }
            // Every post answered: all the slots are free again.
            let _all = slots.acquire_many(MAX_IN_FLIGHT as u32).await.unwrap();
            (max_in_flight, waited)
        });
        Pacer {
            stop,
            timeline,
            task,
        }
    }

    fn answered_200_since(&self, since: Instant) -> bool {
        let timeline = lock(&self.timeline);
        timeline
            .iter()
            .any(|(sent, code)| *code == 200 && *sent > since)
    }

    /// Stops posting and waits for every answer; the most posts in flight, how often the cap made the
    /// load wait, and the timeline.
    async fn stop(self) -> (usize, usize, Vec<(Instant, u16)>) {
        self.stop.store(true, Ordering::SeqCst);
        let (max_in_flight, waited) = self.task.await.expect("the pacer panicked");
        let timeline = std::mem::take(&mut *lock(&self.timeline));
        (max_in_flight, waited, timeline)
    }
}

/// The server's resident memory, sampled every 50 ms until stopped.
struct Rss {
    pid: u32,
    latest: Arc<std::sync::atomic::AtomicU64>,
    max: Arc<std::sync::atomic::AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Rss {
    fn sample(pid: u32) -> Rss {
        let rss = Rss {
            pid,
            latest: Arc::default(),
            max: Arc::default(),
            stop: Arc::default(),
        };
        let (latest, max, stop) = (rss.latest.clone(), rss.max.clone(), rss.stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                if let Some(kib) = rss_kib(pid) {
                    latest.store(kib, Ordering::SeqCst);
                    max.fetch_max(kib, Ordering::SeqCst);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        rss
    }

    /// The figure now, from which the maximum is counted afresh.
    fn begin_fault(&self) -> u64 {
        let now = rss_kib(self.pid).unwrap_or_else(|| self.latest.load(Ordering::SeqCst));
        self.max.store(now, Ordering::SeqCst);
        now
    }

    /// Stops sampling; the highest sample.
    fn stop(&self) -> u64 {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(kib) = rss_kib(self.pid) {
            self.max.fetch_max(kib, Ordering::SeqCst);
        }
        self.max.load(Ordering::SeqCst)
    }
}

/// `VmRSS` of a process, in KiB, from `/proc/<pid>/status`.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

//! Several instances running one sink: two workers with different owners, on one SQLite store or on two
//! stores sharing a PostgreSQL schema (set `HOOKLINE_TEST_POSTGRES_URL` to run those), with a sink that
//! records every attempt. Each event is attempted by one worker at a time, and a worker that dies is
//! replaced by the other once its lease runs out.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hookline_sinks::{BoxFuture, Clock, ManualClock, Outcome, Sink, Worker, WorkerOptions};
use hookline_store::outbox::SinkStart;
use hookline_store::{EventStore, StoredEvent};
use tokio::sync::watch;
use tokio::task::JoinHandle;

mod support;
use support::{
    Postgres, START_MS, eventually, message, settle, status, store, store_events, wait_until,
};

const SINK: &str = "crm";
const LEASE: Duration = Duration::from_secs(30);

/// One attempt as the downstream saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    event: i64,
    worker: &'static str,
    /// What the downstream answered (false: a failure, or no answer at all).
    delivered: bool,
}

/// Every attempt the test's workers made, in order.
#[derive(Clone, Debug, Default)]
struct Log(Arc<Mutex<Vec<Seen>>>);

impl Log {
    fn all(&self) -> Vec<Seen> {
        self.0.lock().unwrap().clone()
    }

    /// The workers that attempted `event`, in order, and what each was answered.
    fn of(&self, event: i64) -> Vec<(&'static str, bool)> {
        let all = self.0.lock().unwrap();
        all.iter()
            .filter(|s| s.event == event)
            .map(|s| (s.worker, s.delivered))
            .collect()
    }

    /// The events delivered at least once.
    fn delivered(&self) -> HashSet<i64> {
        let all = self.0.lock().unwrap();
        all.iter()
            .filter(|s| s.delivered)
            .map(|s| s.event)
            .collect()
    }
}

/// One worker's downstream: records each attempt, fails the first attempt (whoever makes it) of the
/// events in `fail_first`, never answers for `hang`, and takes `delay` of real time per attempt so that
/// two workers' passes overlap.
#[derive(Debug)]
struct Recording {
    worker: &'static str,
    log: Log,
    fail_first: HashSet<i64>,
    hang: Option<i64>,
    delay: Duration,
}

impl Recording {
    fn new(worker: &'static str, log: &Log) -> Recording {
        Recording {
            worker,
            log: log.clone(),
            fail_first: HashSet::new(),
            hang: None,
            delay: Duration::ZERO,
        }
    }
}

impl Sink for Recording {
    fn deliver<'a>(&'a self, event: &'a StoredEvent) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let hang = self.hang == Some(event.id);
            let delivered = {
                let mut log = self.log.0.lock().unwrap();
                let first = !log.iter().any(|s| s.event == event.id);
                let failing = first && self.fail_first.contains(&event.id);
                let delivered = !hang && !failing;
                log.push(Seen {
                    event: event.id,
                    worker: self.worker,
                    delivered,
                });
                delivered
            };
            if hang {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(self.delay).await;
            if delivered {
                Outcome::Delivered
            } else {
                Outcome::Retry {
                    reason: "HTTP 503".into(),
                    retry_after: None,
                }
            }
        })
    }
}

/// A running worker: sending `true` on `stop` stops it (and it releases the sink), aborting `task`
/// kills it.
struct Running {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

fn spawn(
    owner: &str,
    store: &Arc<dyn EventStore>,
    sink: Recording,
    clock: &ManualClock,
) -> Running {
    let options = WorkerOptions {
        start: SinkStart::Beginning,
        batch: 3,
        concurrency: 4,
        owner: owner.into(),
        lease: LEASE,
        ..WorkerOptions::default()
    };
    let worker = Worker::new(
        SINK,
        Arc::new(sink),
        options,
        store.clone(),
        Arc::new(clock.clone()),
    );
    let (stop, stopped) = watch::channel(false);
    Running {
        stop,
        task: tokio::spawn(worker.run(stopped)),
    }
}

/// Stores messages `first..first + 3` (event ids follow, from 1) through `store`.
async fn store_three(store: &Arc<dyn EventStore>, first: i64) {
    let events: Vec<String> = (first..first + 3)
        .map(|n| message(&format!("u{n}"), &format!("m.{n}"), 1_000 + n))
        .collect();
    store_events(store, &events).await;
}

/// Workers A (on `a`) and B (on `b`) run one sink while 30 events arrive, every third failing its first
/// attempt and retried 4-6 s (of the test's clock) later: each event is attempted exactly once, or twice
/// when it failed first, and delivered exactly once. Two workers attempting the same event (a fresh one,
/// or a due row in the same round) would show as an extra attempt.
async fn two_workers_attempt_each_event_once(a: &Arc<dyn EventStore>, b: &Arc<dyn EventStore>) {
    const EVENTS: i64 = 30;
    let clock = ManualClock::new(START_MS);
    let log = Log::default();
    let fail_first: HashSet<i64> = (1..=EVENTS).filter(|id| id % 3 == 0).collect();
    let downstream = |worker| Recording {
        fail_first: fail_first.clone(),
        delay: Duration::from_millis(20),
        ..Recording::new(worker, &log)
    };
    let _a = spawn("a", a, downstream("a"), &clock);
    let _b = spawn("b", b, downstream("b"), &clock);
    for first in (1..=EVENTS).step_by(3) {
        let through = if first % 2 == 1 { a } else { b };
        store_three(through, first).await;
        // A second passes: the worker without the lease looks at it again, early retries fall due.
        clock.advance(Duration::from_secs(1));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Every event's first attempt is saved (failures as rows due 4-6 s after it)...
    let saved = wait_until(|| status(a, SINK), |s| s.cursor == EVENTS).await;
    assert_eq!(saved.cursor, EVENTS);
    // ... so once 7 s more have passed every retry is due; the lease (renewed at 10 s) still holds.
    clock.advance(Duration::from_secs(7));
    let delivered = wait_until(
        || std::future::ready(log.delivered().len()),
        |n| *n == EVENTS as usize,
    )
    .await;
    assert_eq!(delivered, EVENTS as usize, "{:?}", log.all());
    settle().await;

    for event in 1..=EVENTS {
        let attempts = log.of(event);
        let expected = if fail_first.contains(&event) { 2 } else { 1 };
        assert_eq!(
            attempts.len(),
            expected,
            "event {event} was attempted {attempts:?}"
        );
        let delivered = attempts.iter().filter(|(_, ok)| *ok).count();
        assert_eq!(delivered, 1, "event {event} was attempted {attempts:?}");
    }
    let workers: HashSet<&str> = log.all().iter().map(|s| s.worker).collect();
    assert_eq!(
        workers,
        HashSet::from(["a", "b"]),
        "both workers must have attempted events for this test to mean anything"
    );
}

/// A holds the sink; its pass hangs on event 5 (with 4 and 6 delivered but not saved), renewing the
/// lease every 10 s, so B stays out for 40 s, longer than a lease. Then A dies without releasing the
/// sink: B takes over once A's lease has run out, from A's saved cursor, and every event arrives.
async fn a_dead_worker_is_replaced_once_its_lease_runs_out(
    a: &Arc<dyn EventStore>,
    b: &Arc<dyn EventStore>,
) {
    let clock = ManualClock::new(START_MS);
    let log = Log::default();
    let mut a_worker = spawn(
        "a",
        a,
        Recording {
            hang: Some(5),
            ..Recording::new("a", &log)
        },
        &clock,
    );
    let held = wait_until(|| status(a, SINK), |s| s.owner.as_deref() == Some("a")).await;
    assert_eq!(held.owner.as_deref(), Some("a"));
    let _b = spawn("b", b, Recording::new("b", &log), &clock);
    store_three(a, 1).await;
    let saved = wait_until(|| status(b, SINK), |s| s.cursor == 3).await;
    assert_eq!(saved.cursor, 3);
    store_three(a, 4).await;
    eventually("A attempts 4, 5 and 6", || log.all().len() == 6).await;

    for _ in 0..4 {
        clock.advance(LEASE / 3);
        let until = clock.now_ms() + LEASE.as_millis() as i64;
        let renewed = wait_until(|| status(b, SINK), |s| s.lease_until_ms == Some(until)).await;
        assert_eq!(
            (renewed.owner.as_deref(), renewed.lease_until_ms),
            (Some("a"), Some(until)),
            "A renews its lease while its pass is slow"
        );
    }
    settle().await;
    assert!(
        log.all().iter().all(|s| s.worker == "a"),
        "B stayed out while A held the sink: {:?}",
        log.all()
    );

    a_worker.task.abort();
    assert!((&mut a_worker.task).await.unwrap_err().is_cancelled());
    store_three(b, 7).await;
    clock.advance(LEASE / 3);
    settle().await;
    assert_eq!(log.all().len(), 6, "B waits until A's lease has run out");
    clock.advance(LEASE / 3 * 2 + Duration::from_millis(1));
    let taken = wait_until(
        || status(b, SINK),
        |s| s.cursor == 9 && s.owner.as_deref() == Some("b"),
    )
    .await;
    assert_eq!((taken.cursor, taken.owner.as_deref()), (9, Some("b")));
    assert_eq!(log.delivered(), (1..=9).collect(), "{:?}", log.all());
    for event in [1, 2, 3] {
        assert_eq!(log.of(event), [("a", true)]);
    }
    // A delivered 4 and 6 but died before saving that: B delivers them again (at-least-once).
    for event in [4, 6] {
        assert_eq!(log.of(event), [("a", true), ("b", true)]);
    }
    assert_eq!(log.of(5), [("a", false), ("b", true)]);
    for event in [7, 8, 9] {
        assert_eq!(log.of(event), [("b", true)]);
    }
}

/// A worker that stops cleanly gives the sink up: the other takes it over at its next look (a second
/// of the clock), not a lease later.
async fn a_stopped_worker_hands_the_sink_over_at_once(
    a: &Arc<dyn EventStore>,
    b: &Arc<dyn EventStore>,
) {
    let clock = ManualClock::new(START_MS);
    let log = Log::default();
    let mut a_worker = spawn("a", a, Recording::new("a", &log), &clock);
    let held = wait_until(|| status(a, SINK), |s| s.owner.as_deref() == Some("a")).await;
    assert_eq!(held.owner.as_deref(), Some("a"));
    let _b = spawn("b", b, Recording::new("b", &log), &clock);
    store_three(a, 1).await;
    let saved = wait_until(|| status(b, SINK), |s| s.cursor == 3).await;
    assert_eq!(saved.cursor, 3);

    a_worker.stop.send_replace(true);
    (&mut a_worker.task).await.unwrap();
    let released = status(b, SINK).await;
    assert_eq!((released.owner, released.lease_until_ms), (None, None));
    store_three(b, 4).await;
    clock.advance(Duration::from_secs(1));
    let taken = wait_until(|| status(b, SINK), |s| s.cursor == 6).await;
    assert_eq!((taken.cursor, taken.owner.as_deref()), (6, Some("b")));
    let by: Vec<(i64, &str)> = log.all().iter().map(|s| (s.event, s.worker)).collect();
    assert_eq!(
        by,
        [(1, "a"), (2, "a"), (3, "a"), (4, "b"), (5, "b"), (6, "b")]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_two_workers_attempt_each_event_once() {
    let s = store();
    two_workers_attempt_each_event_once(&s.store, &s.store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_dead_worker_is_replaced_once_its_lease_runs_out() {
    let s = store();
    a_dead_worker_is_replaced_once_its_lease_runs_out(&s.store, &s.store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_workers_attempt_each_event_once() {
    let Some(pg) = Postgres::schema("postgres_two_workers_attempt_each_event_once") else {
        return;
    };
    let (a, b) = (pg.open().await, pg.open().await);
    two_workers_attempt_each_event_once(&a, &b).await;
    a.close().await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_dead_worker_is_replaced_once_its_lease_runs_out() {
    let Some(pg) = Postgres::schema("postgres_a_dead_worker_is_replaced") else {
        return;
    };
    let (a, b) = (pg.open().await, pg.open().await);
    a_dead_worker_is_replaced_once_its_lease_runs_out(&a, &b).await;
    a.close().await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_stopped_worker_hands_the_sink_over_at_once() {
    let s = store();
    a_stopped_worker_hands_the_sink_over_at_once(&s.store, &s.store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_stopped_worker_hands_the_sink_over_at_once() {
    let Some(pg) = Postgres::schema("postgres_a_stopped_worker_hands_the_sink_over") else {
        return;
    };
    let (a, b) = (pg.open().await, pg.open().await);
    a_stopped_worker_hands_the_sink_over_at_once(&a, &b).await;
    a.close().await;
    b.close().await;
}
